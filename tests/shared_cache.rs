//! The cache tier shared by an Envoy's VMs never changes a decision: two simulated VMs
//! (each its own policy, parsed from the same text, and its own cache) share one slot
//! store; every decision is compared with an uncached one, and a token another VM
//! verified is a hit only for the very same token, configuration and key set.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;
use audience_guard::algorithm::Algorithm;
use audience_guard::cache::{CacheUse, VerifyCache};
use audience_guard::remote::parse_jwks;
use audience_guard::shared_verified::{fingerprint, SharedVerified, SlotStore};
use audience_guard::{decide, decide_cached, Policy, Request};
use common::*;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Envoy's shared data for tests: clones share one map, as an Envoy's VMs share theirs.
#[derive(Clone, Default)]
struct MapStore(Rc<RefCell<HashMap<String, Vec<u8>>>>);

impl SlotStore for MapStore {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.0.borrow().get(key).cloned()
    }
    fn set(&self, key: &str, value: &[u8]) {
        self.0.borrow_mut().insert(key.to_owned(), value.to_vec());
    }
}

/// One VM: what `on_configure` builds from the configuration text.
struct Vm {
    policy: Policy,
    cache: VerifyCache,
}

/// `config` with sharing on (it is off by default), unless it sets `cache` itself.
fn shared(mut config: Value) -> Value {
    if config.get("cache").is_none() {
        config["cache"] = json!({"shared": true});
    }
    config
}

fn vm(config: &Value, store: &MapStore) -> Vm {
    let text = shared(config.clone()).to_string();
    let policy = Policy::from_json(&text).unwrap();
    let cache =
        VerifyCache::new(policy.cache).sharing(SharedVerified::new(Box::new(store.clone()), &text));
    Vm { policy, cache }
}

impl Vm {
    /// Decides with this VM's caches and without any, asserts they agree.
    fn decide(&mut self, req: &Request, now: u64) -> (u16, Option<CacheUse>) {
        let cached = decide_cached(&self.policy, &mut self.cache, req, now);
        let plain = decide(&self.policy, req, now);
        assert_eq!(cached.verdict, plain.verdict);
        assert_eq!(cached.header_ops, plain.header_ops);
        assert_eq!(cached.caller, plain.caller);
        (outcome(&cached).0, cached.cache)
    }
}

fn portal_token() -> String {
    rs256(&claims(
        "customer-portal",
        json!("orders-api"),
        "orders:read",
    ))
}

#[test]
fn a_token_one_vm_verified_is_a_hit_in_another() {
    let store = MapStore::default();
    let (mut a, mut b) = (vm(&seed_config(), &store), vm(&seed_config(), &store));
    let t = portal_token();
    let req = get("/orders/1", Some(&t));
    assert_eq!(a.decide(&req, NOW), (200, Some(CacheUse::Miss)));
    assert_eq!(b.decide(&req, NOW), (200, Some(CacheUse::Hit)));
    assert_eq!(b.decide(&req, NOW), (200, Some(CacheUse::Hit)));
    // The rest of the policy still runs in the other VM: another route, another answer.
    let write = request("POST", "/orders", Some(&t));
    assert_eq!(b.decide(&write, NOW), (403, Some(CacheUse::Hit)));
    // And times: the token expires in every VM (exp = NOW + 600, leeway 60).
    let mut c = vm(&seed_config(), &store);
    assert_eq!(c.decide(&req, NOW + 661).0, 401);
}

#[test]
fn tokens_differing_by_one_byte_are_not_vouched_for() {
    let store = MapStore::default();
    let (mut a, mut b) = (vm(&seed_config(), &store), vm(&seed_config(), &store));
    let t = portal_token();
    assert_eq!(a.decide(&get("/orders/1", Some(&t)), NOW).0, 200);
    let forged = forge(&t);
    assert_eq!(
        b.decide(&get("/orders/1", Some(&forged)), NOW),
        (401, Some(CacheUse::Miss))
    );
    // A payload byte changed (the signature no longer covers it): refused too.
    let (header, payload, signature) = segments(&t);
    let mut payload = String::from_utf8(payload).unwrap();
    payload = payload.replace("orders:read", "orders:reae");
    let tampered = assemble(&header, payload.as_bytes(), &signature);
    assert_eq!(
        b.decide(&get("/orders/1", Some(&tampered)), NOW),
        (401, Some(CacheUse::Miss))
    );
}

#[test]
fn another_configuration_is_not_vouched_for() {
    let store = MapStore::default();
    let mut a = vm(&seed_config(), &store);
    let mut other_config = seed_config();
    other_config["issuers"][0]["leeway_seconds"] = json!(30);
    let mut b = vm(&other_config, &store);
    let req = get("/orders/1", Some(&portal_token()));
    assert_eq!(a.decide(&req, NOW).1, Some(CacheUse::Miss));
    assert_eq!(b.decide(&req, NOW), (200, Some(CacheUse::Miss)));
}

#[test]
fn sharing_is_off_unless_asked_for() {
    let store = MapStore::default();
    let mut config = seed_config();
    config["cache"] = json!({});
    let (mut a, mut b) = (vm(&config, &store), vm(&config, &store));
    let req = get("/orders/1", Some(&portal_token()));
    assert_eq!(a.decide(&req, NOW).1, Some(CacheUse::Miss));
    assert_eq!(b.decide(&req, NOW), (200, Some(CacheUse::Miss)));
    assert!(store.0.borrow().is_empty());
    // With caching off, nothing is shared either.
    config["cache"] = json!({"enabled": false});
    let mut c = vm(&config, &store);
    assert_eq!(c.decide(&req, NOW), (200, None));
    assert!(store.0.borrow().is_empty());
}

fn remote_config() -> Value {
    let mut config = seed_config();
    config["issuers"][0] = json!({
        "issuer": ISS,
        "remote": {"cluster": "idp", "uri": "https://idp.example.com/jwks", "refresh_seconds": 600},
        "algorithms": ["RS256", "ES256"]
    });
    config
}

/// What `sync_published` does with a published JWKS body.
fn install(vm: &Vm, body: &str) {
    let keys = parse_jwks(body.as_bytes(), &[Algorithm::RS256, Algorithm::ES256]).unwrap();
    let remote = vm.policy.issuers[ISS].remote().unwrap();
    remote.install(keys, fingerprint(body.as_bytes()), NOW, 0);
}

#[test]
fn a_new_key_set_is_not_vouched_for_by_the_old_one() {
    let store = MapStore::default();
    let (mut a, mut b) = (vm(&remote_config(), &store), vm(&remote_config(), &store));
    let first = json!({"keys": [rsa_jwk()]}).to_string();
    install(&a, &first);
    install(&b, &first);
    let req = get("/orders/1", Some(&portal_token()));
    assert_eq!(a.decide(&req, NOW), (200, Some(CacheUse::Miss)));
    // Same published keys (each VM counts its own generations): vouched for.
    install(&b, &first);
    assert_eq!(b.decide(&req, NOW), (200, Some(CacheUse::Hit)));
    // Rotated: the token's key is gone (another key holds its kid) — verified anew, refused.
    let mut impostor = ec_jwk();
    impostor["kid"] = json!("k1");
    let rotated = json!({"keys": [impostor]}).to_string();
    let mut c = vm(&remote_config(), &store);
    install(&c, &rotated);
    assert_eq!(c.decide(&req, NOW), (401, Some(CacheUse::Miss)));
    // A new set still holding the key: verified anew, then vouched for under the new set.
    let grown = json!({"keys": [rsa_jwk(), ec_jwk()]}).to_string();
    let (mut d, mut e) = (vm(&remote_config(), &store), vm(&remote_config(), &store));
    install(&d, &grown);
    install(&e, &grown);
    assert_eq!(d.decide(&req, NOW), (200, Some(CacheUse::Miss)));
    assert_eq!(e.decide(&req, NOW), (200, Some(CacheUse::Hit)));
}
