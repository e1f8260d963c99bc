//! Micro-benchmark of `decide_cached` alone, without Envoy: one RS256 token decided
//! again and again (cache hits, as `make bench`'s `hot` mix), then 2,000 never-seen
//! tokens (`cold`), with the time and heap allocations per decision and the share of
//! the RSA signature. Not a test; run by hand, natively or in V8 (Node's WASI, see
//! `examples/verify_bench.rs` for `wasi-run.mjs`):
//!
//!     cargo run --release --example hit_path
//!     cargo build --release --example hit_path --target wasm32-wasip1
//!     node wasi-run.mjs target/wasm32-wasip1/release/examples/hit_path.wasm
//!
//! Measured 2026-11-30 in Node 20's V8: a hit 3.3 µs (22 allocations), a never-seen
//! token 116 µs of which the signature 86 µs. Later that day, the machine slower, two
//! runs each: a hit 5.0 / 5.4 µs before and 4.5 / 4.4 µs after the token's bytes were
//! checked a word at a time, once, and the cache map hashed with foldhash. With RSA on
//! wasm SIMD (`ag_math::amm`), AMD EPYC VM, two runs: a hit 3.1 / 3.0 µs, a never-seen
//! token 54 / 57 µs of which the signature 42 / 40 µs. Then on an Intel Xeon VM (slower):
//! a hit 3.85 µs before and 2.77 / 2.81 µs after this crate moved from opt-level "z" to
//! "s" and claims were looked up by scan (`json::member`). 2026-12-02, AMD EPYC VM, the
//! previous build and this one alternated five times each: a hit 2.24–2.63 µs (22
//! allocations) before and 1.87–2.47 µs (9) after scopes were borrowed from the claims
//! and the caller kept once (not copied into an `Identity`), and rule, issuer and header
//! names shared (`Rc<str>`) instead of cloned per request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use audience_guard::cache::{CacheConfig, VerifyCache};
use audience_guard::rsa_verify::{HashAlg, RsaPublicKey};
use audience_guard::{decide_cached, Policy, Request, Verdict};
use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};
use jwt_simple::prelude::*;
use serde_json::json;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

struct Counting;
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ISSUER: &str = "https://idp.bench.example/";

/// Times `decide_cached` over `requests` (each must be allowed): µs and allocations per
/// decision.
fn time_decisions(
    label: &str,
    policy: &Policy,
    cache: &mut VerifyCache,
    requests: &[&Request],
    now: u64,
) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let start = Instant::now();
    for request in requests {
        let decision = decide_cached(policy, cache, request, now);
        assert!(matches!(decision.verdict, Verdict::Allow), "{decision:?}");
        std::hint::black_box(decision);
    }
    let n = requests.len() as f64;
    let allocations = (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64;
    println!(
        "{label}: {:.2} µs and {:.0} allocations per decision ({n} decisions)",
        start.elapsed().as_secs_f64() * 1e6 / n,
        allocations / n
    );
}

fn main() {
    let key = RS256KeyPair::generate(2048).unwrap().with_key_id("k1");
    let c = key.public_key().to_components();
    let b64 = |b: &[u8]| Base64UrlSafeNoPadding::encode_to_string(b).unwrap();
    // The policy and tokens of bench/bench.py (plugin_config, tokens.mint).
    let config = json!({
        "issuers": [{"issuer": ISSUER, "algorithms": ["RS256"],
                     "jwks": {"keys": [{"kty": "RSA", "kid": "k1", "n": b64(&c.n), "e": b64(&c.e)}]},
                     "leeway_seconds": 60}],
        "audiences": ["orders-api"],
        "rules": [{"name": "orders-read", "match": {"prefix": "/orders"}, "scopes": ["orders:read"]}],
        "unmatched": "allow"
    });
    let policy = Policy::from_json(&config.to_string()).unwrap();
    let mint = |subject: String| {
        let custom = json!({"azp": "customer-portal", "client_id": "customer-portal",
                            "scope": "openid orders:read"});
        let claims = Claims::with_custom_claims(custom, Duration::from_hours(6))
            .with_issuer(ISSUER)
            .with_subject(subject)
            .with_audience("orders-api");
        key.sign(claims).unwrap()
    };
    // What Envoy hands the filter for a wrk request.
    let request_with = |token: &str| {
        let header = |n: &str, v: &str| (n.to_owned(), v.as_bytes().to_vec());
        Request {
            method: "GET".into(),
            path: "/orders/42".into(),
            authority: "127.0.0.1:10000".into(),
            route: None,
            headers: vec![
                header(":authority", "127.0.0.1:10000"),
                header(":path", "/orders/42"),
                header(":method", "GET"),
                header(":scheme", "http"),
                header("authorization", &format!("Bearer {token}")),
                header("x-forwarded-proto", "http"),
                header("x-request-id", "9c5a9f3e-5b1e-4d7c-9a53-1f0a2b3c4d5e"),
            ]
            .into_iter()
            .collect(),
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut cache = VerifyCache::new(CacheConfig::default());

    // One token again and again (`hot`): the first decision fills the cache.
    let hot = request_with(&mint("user-hot-0".into()));
    time_decisions("first sight", &policy, &mut cache, &[&hot], now);
    time_decisions("cache hit", &policy, &mut cache, &[&hot; 200_000], now);

    // Never-seen tokens (`cold`): the same decision with parsing and the signature.
    let tokens: Vec<String> = (0..2000).map(|i| mint(format!("user-cold-{i}"))).collect();
    let fresh: Vec<Request> = tokens.iter().map(|t| request_with(t)).collect();
    let fresh: Vec<&Request> = fresh.iter().collect();
    time_decisions("never seen", &policy, &mut cache, &fresh, now);

    let signed: Vec<(&str, Vec<u8>)> = tokens
        .iter()
        .map(|t| {
            let (input, signature) = t.rsplit_once('.').unwrap();
            (
                input,
                Base64UrlSafeNoPadding::decode_to_vec(signature, None).unwrap(),
            )
        })
        .collect();
    let ours = RsaPublicKey::new(&c.n, &c.e).unwrap();
    let start = Instant::now();
    for (input, signature) in &signed {
        assert!(ours.verify_pkcs1v15(HashAlg::Sha256, input.as_bytes(), signature));
    }
    println!(
        "  of which the RSA signature: {:.2} µs",
        start.elapsed().as_secs_f64() * 1e6 / signed.len() as f64
    );
}
