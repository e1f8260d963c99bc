//! The verified-token cache never changes a decision: every case is decided with and
//! without a cache, and the two must agree, while the cache is seen to be used.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;
use audience_guard::cache::{CacheConfig, CacheUse, VerifyCache};
use audience_guard::{decide, decide_cached, Policy, Request};
use common::*;
use serde_json::json;

fn cache() -> VerifyCache {
    VerifyCache::new(CacheConfig::default())
}

/// Decides with the cache and without, asserts they agree, returns (status, cache use).
fn both(p: &Policy, c: &mut VerifyCache, req: &Request, now: u64) -> (u16, Option<CacheUse>) {
    let cached = decide_cached(p, c, req, now);
    let plain = decide(p, req, now);
    assert_eq!(cached.verdict, plain.verdict);
    assert_eq!(cached.header_ops, plain.header_ops);
    assert_eq!(cached.caller, plain.caller);
    (outcome(&cached).0, cached.cache)
}

#[test]
fn second_use_of_a_token_is_a_hit_with_the_same_decision() {
    let p = policy(&seed_config());
    let mut c = cache();
    let t = rs256(&claims(
        "customer-portal",
        json!("orders-api"),
        "orders:read",
    ));
    assert_eq!(
        both(&p, &mut c, &get("/orders/1", Some(&t)), NOW),
        (200, Some(CacheUse::Miss))
    );
    assert_eq!(
        both(&p, &mut c, &get("/orders/1", Some(&t)), NOW),
        (200, Some(CacheUse::Hit))
    );
}

#[test]
fn a_cached_token_still_expires() {
    let p = policy(&seed_config());
    let mut c = cache();
    let t = rs256(&claims(
        "customer-portal",
        json!("orders-api"),
        "orders:read",
    ));
    both(&p, &mut c, &get("/orders/1", Some(&t)), NOW);
    // exp = NOW + 600, leeway 60.
    assert_eq!(
        both(&p, &mut c, &get("/orders/1", Some(&t)), NOW + 660).0,
        200
    );
    assert_eq!(
        both(&p, &mut c, &get("/orders/1", Some(&t)), NOW + 661).0,
        401
    );
}

#[test]
fn rules_with_different_scopes_are_decided_per_request() {
    let p = policy(&seed_config());
    let mut c = cache();
    let t = rs256(&claims(
        "customer-portal",
        json!("orders-api"),
        "orders:read orders:write",
    ));
    assert_eq!(both(&p, &mut c, &get("/orders/1", Some(&t)), NOW).0, 200);
    assert_eq!(
        both(&p, &mut c, &request("POST", "/orders", Some(&t)), NOW),
        (403, Some(CacheUse::Hit))
    );
    assert_eq!(both(&p, &mut c, &get("/hr/x", Some(&t)), NOW).0, 299); // dry-run deny
}

#[test]
fn tokens_differing_by_one_byte_are_not_confused() {
    let p = policy(&seed_config());
    let mut c = cache();
    let t = rs256(&claims(
        "customer-portal",
        json!("orders-api"),
        "orders:read",
    ));
    assert_eq!(both(&p, &mut c, &get("/orders/1", Some(&t)), NOW).0, 200);
    let forged = forge(&t);
    assert_eq!(
        both(&p, &mut c, &get("/orders/1", Some(&forged)), NOW),
        (401, Some(CacheUse::Miss))
    );
    // The forgery is now remembered: same answer, no second verification.
    assert_eq!(
        both(&p, &mut c, &get("/orders/1", Some(&forged)), NOW),
        (401, Some(CacheUse::Hit))
    );
    assert_eq!(
        both(&p, &mut c, &get("/orders/1", Some(&t)), NOW),
        (200, Some(CacheUse::Hit))
    );
}

#[test]
fn negative_entries_expire() {
    let p = policy(&seed_config());
    let mut c = cache();
    let t = rs256(&claims(
        "customer-portal",
        json!("orders-api"),
        "orders:read",
    ));
    let forged = forge(&t);
    assert_eq!(
        both(&p, &mut c, &get("/orders/1", Some(&forged)), NOW).1,
        Some(CacheUse::Miss)
    );
    assert_eq!(
        both(&p, &mut c, &get("/orders/1", Some(&forged)), NOW + 60).1,
        Some(CacheUse::Hit)
    );
    assert_eq!(
        both(&p, &mut c, &get("/orders/1", Some(&forged)), NOW + 61).1,
        Some(CacheUse::Miss)
    );
}

#[test]
fn a_new_key_set_starts_a_new_cache() {
    // Key rotation with inline keys is a new configuration, hence a new policy and
    // cache; a token signed by a key that is gone is then refused.
    let p = policy(&seed_config());
    let mut c = cache();
    let t = rs256(&claims(
        "customer-portal",
        json!("orders-api"),
        "orders:read",
    ));
    assert_eq!(both(&p, &mut c, &get("/orders/1", Some(&t)), NOW).0, 200);
    let mut rotated = seed_config();
    rotated["issuers"][0]["jwks"]["keys"] = json!([ec_jwk()]);
    let p2 = policy(&rotated);
    let mut c2 = VerifyCache::new(p2.cache);
    assert_eq!(both(&p2, &mut c2, &get("/orders/1", Some(&t)), NOW).0, 401);
}

#[test]
fn cache_can_be_switched_off() {
    let mut config = seed_config();
    config["cache"] = json!({"enabled": false});
    let p = policy(&config);
    let mut c = VerifyCache::new(p.cache);
    let t = rs256(&claims(
        "customer-portal",
        json!("orders-api"),
        "orders:read",
    ));
    assert_eq!(
        both(&p, &mut c, &get("/orders/1", Some(&t)), NOW),
        (200, None)
    );
    assert_eq!(
        both(&p, &mut c, &get("/orders/1", Some(&t)), NOW),
        (200, None)
    );
    let refused = forge(&t);
    assert_eq!(
        both(&p, &mut c, &get("/orders/1", Some(&refused)), NOW),
        (401, None)
    );
    assert!(c.is_empty());
    assert_eq!(c.remembered_parses(), 0);
}

/// A refused token's parse is kept, and a replay is decided exactly as the first time:
/// every check but the decoding runs again — the signature too, once the others pass.
#[test]
fn refused_tokens_are_decided_again_without_decoding() {
    let p = policy(&seed_config());
    let mut c = cache();
    let good = claims("customer-portal", json!("orders-api"), "orders:read");
    let mut expired = good.clone();
    expired["iat"] = json!(NOW - 1000);
    expired["exp"] = json!(NOW - 100);
    let foreign = claims("customer-portal", json!("payroll-api"), "orders:read");
    let mut early = good.clone();
    early["nbf"] = json!(NOW + 300);
    let (early_token, early_forged) = (rs256(&early), forge(&rs256(&early)));
    let refused = [
        (rs256(&expired), "expired"),
        (rs256(&foreign), "audience_not_allowed"),
        (forge(&rs256(&good)), "invalid_token"),
        (early_token.clone(), "not_yet_valid"),
        (early_forged.clone(), "not_yet_valid"),
    ];
    for round in 0..2 {
        for (token, reason) in &refused {
            let d = decide_cached(&p, &mut c, &get("/orders/1", Some(token)), NOW);
            assert_eq!(outcome(&d).1, *reason, "round {round}");
            assert_eq!(both(&p, &mut c, &get("/orders/1", Some(token)), NOW).0, 401);
        }
        assert_eq!(c.remembered_parses(), refused.len());
    }
    // Once `nbf` has passed, the kept parse goes on to the signature: the forgery fails
    // it, the genuine token passes and is cached as verified.
    let later = NOW + 400;
    let forged = decide_cached(&p, &mut c, &get("/orders/1", Some(&early_forged)), later);
    assert_eq!(outcome(&forged), (401, "invalid_token"));
    assert_eq!(
        both(&p, &mut c, &get("/orders/1", Some(&early_token)), later),
        (200, Some(CacheUse::Miss))
    );
    assert_eq!(
        both(&p, &mut c, &get("/orders/1", Some(&early_token)), later),
        (200, Some(CacheUse::Hit))
    );
}
