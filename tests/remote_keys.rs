//! Keys fetched at run time, seen from the core: what a decision does before the
//! first fetch, after it, with an unknown `kid`, with stale keys, and after rotation.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;
use audience_guard::algorithm::Algorithm;
use audience_guard::cache::{CacheConfig, CacheUse, VerifyCache};
use audience_guard::decision::KeyWait;
use audience_guard::remote::parse_jwks;
use audience_guard::{decide, decide_cached, Policy, Request};
use common::*;
use serde_json::json;

fn remote_policy() -> Policy {
    let mut config = seed_config();
    config["issuers"][0] = json!({
        "issuer": ISS,
        "remote": {"cluster": "idp", "uri": "https://idp.example.com/jwks", "refresh_seconds": 600,
                   "max_stale_seconds": 3600},
        "algorithms": ["RS256", "ES256"]
    });
    policy(&config)
}

fn install(p: &Policy, keys: serde_json::Value, at: u64) {
    let issuer = &p.issuers[ISS];
    let body = json!({ "keys": keys }).to_string();
    let parsed = parse_jwks(body.as_bytes(), &[Algorithm::RS256, Algorithm::ES256]).unwrap();
    let fingerprint = audience_guard::shared_verified::fingerprint(body.as_bytes());
    issuer.remote().unwrap().install(parsed, fingerprint, at, 0);
}

#[test]
fn before_the_first_fetch_a_request_waits_then_gets_503() {
    let p = remote_policy();
    let t = rs256(&good_claims());
    let d = decide(&p, &get("/orders/1", Some(&t)), NOW);
    assert_eq!(outcome(&d), (503, "keys_unavailable"));
    assert_eq!(d.wait_for_keys, Some((ISS.to_owned(), KeyWait::FirstFetch)));
    // Cheap checks still come first: an expired token never waits for keys.
    let mut expired = claims("customer-portal", json!("orders-api"), "orders:read");
    expired["exp"] = json!(NOW - 3600);
    let d = decide(&p, &get("/orders/1", Some(&rs256(&expired))), NOW);
    assert_eq!(outcome(&d), (401, "expired"));
    assert_eq!(d.wait_for_keys, None);
}

#[test]
fn fetched_keys_verify_and_an_unknown_kid_asks_for_a_refetch() {
    let p = remote_policy();
    install(&p, json!([ec_jwk()]), NOW);
    let ec_token = es256(&claims(
        "customer-portal",
        json!("orders-api"),
        "orders:read",
    ));
    assert_eq!(
        outcome(&decide(&p, &get("/orders/1", Some(&ec_token)), NOW)),
        (200, "allowed")
    );
    let rsa_token = rs256(&good_claims());
    let d = decide(&p, &get("/orders/1", Some(&rsa_token)), NOW);
    assert_eq!(outcome(&d), (401, "invalid_token"));
    assert_eq!(d.wait_for_keys, Some((ISS.to_owned(), KeyWait::UnknownKid)));
    // The rotation arrives: the same token now passes.
    install(&p, json!([ec_jwk(), rsa_jwk()]), NOW);
    assert_eq!(
        outcome(&decide(&p, &get("/orders/1", Some(&rsa_token)), NOW)),
        (200, "allowed")
    );
}

#[test]
fn stale_keys_are_not_used() {
    let p = remote_policy();
    install(&p, json!([rsa_jwk()]), NOW);
    let mut long = claims("customer-portal", json!("orders-api"), "orders:read");
    long["exp"] = json!(NOW + 7200);
    let t = rs256(&long);
    // max_stale_seconds is 3600: keys fetched at NOW serve until NOW + 3600.
    assert_eq!(
        outcome(&decide(&p, &get("/orders/1", Some(&t)), NOW + 3600)),
        (200, "allowed")
    );
    let d = decide(&p, &get("/orders/1", Some(&t)), NOW + 3601);
    assert_eq!(outcome(&d), (503, "keys_unavailable"));
    assert_eq!(d.wait_for_keys, Some((ISS.to_owned(), KeyWait::FirstFetch)));
}

#[test]
fn a_new_key_set_invalidates_cached_verifications() {
    let p = remote_policy();
    let mut c = VerifyCache::new(CacheConfig::default());
    install(&p, json!([rsa_jwk()]), NOW);
    let t = rs256(&good_claims());
    let req = get("/orders/1", Some(&t));
    miss_then_hit(&p, &mut c, &req);
    // The RSA key is rotated out: the cached verification must not outlive it.
    install(&p, json!([ec_jwk()]), NOW);
    let d = decide_cached(&p, &mut c, &req, NOW);
    assert_eq!(outcome(&d), (401, "invalid_token"));
    assert_eq!(d.cache, Some(CacheUse::Miss));
}

#[test]
fn remote_configuration_is_checked() {
    let mut config = seed_config();
    config["issuers"][0] =
        json!({"issuer": ISS, "remote": {"cluster": "idp", "uri": "https://idp/jwks"}});
    let err = Policy::from_json(&config.to_string()).err().unwrap();
    assert!(
        err.to_string().starts_with("issuers[0].algorithms:"),
        "{err}"
    );
    config["issuers"][0]["algorithms"] = json!(["RS256"]);
    config["issuers"][0]["remote"]["uri"] = json!("idp/jwks");
    let err = Policy::from_json(&config.to_string()).err().unwrap();
    assert!(
        err.to_string().starts_with("issuers[0].remote.uri:"),
        "{err}"
    );
    config["issuers"][0]["remote"] =
        json!({"cluster": "idp", "uri": "https://idp/jwks", "refresh_secs": 5});
    let err = Policy::from_json(&config.to_string()).err().unwrap();
    assert!(err.to_string().starts_with("issuers[0].remote"), "{err}");
    config["issuers"][0]["remote"] = json!({"cluster": "idp", "uri": "https://idp/jwks"});
    config["issuers"][0]["jwks"] = json!({"keys": [rsa_jwk()]});
    assert!(Policy::from_json(&config.to_string()).is_err());
}

#[test]
fn keys_arriving_after_a_503_are_used_at_once_even_with_a_cache() {
    let p = remote_policy();
    let mut c = VerifyCache::new(CacheConfig::default());
    let t = rs256(&good_claims());
    let req = get("/orders/1", Some(&t));
    assert_eq!(
        outcome(&decide_cached(&p, &mut c, &req, NOW)),
        (503, "keys_unavailable")
    );
    install(&p, json!([ec_jwk()]), NOW);
    // Unknown kid now; must not be remembered as a forgery, a refetch may bring it.
    assert_eq!(
        outcome(&decide_cached(&p, &mut c, &req, NOW)),
        (401, "invalid_token")
    );
    install(&p, json!([rsa_jwk()]), NOW);
    assert_eq!(
        outcome(&decide_cached(&p, &mut c, &req, NOW)),
        (200, "allowed")
    );
}

#[test]
fn a_remembered_forgery_is_checked_again_under_new_keys() {
    let p = remote_policy();
    let mut c = VerifyCache::new(CacheConfig::default());
    install(&p, json!([rsa_jwk()]), NOW);
    let t = rs256(&good_claims());
    let forged = forge(&t);
    let req = get("/orders/1", Some(&forged));
    miss_then_hit(&p, &mut c, &req);
    install(&p, json!([rsa_jwk()]), NOW);
    let d = decide_cached(&p, &mut c, &req, NOW);
    assert_eq!(outcome(&d), (401, "invalid_token"));
    assert_eq!(d.cache, Some(CacheUse::Hit)); // looked up, but verified again
}

/// The first decision verifies (a miss), the second is served from the cache.
fn miss_then_hit(p: &Policy, c: &mut VerifyCache, req: &Request) {
    assert_eq!(decide_cached(p, c, req, NOW).cache, Some(CacheUse::Miss));
    assert_eq!(decide_cached(p, c, req, NOW).cache, Some(CacheUse::Hit));
}
