//! Bounded, deterministic property tests: valid tokens, headers and paths mutated at
//! random (bit flips, truncation, `.` `%` `\xff` insertions, huge repetitions, segment
//! shuffles…). `decide` must never panic, must answer with a status of SPEC.md §2 and
//! the reason that goes with it, must never allow a token whose header, payload or
//! signature bytes changed, must never set an identity header on a denial, and must
//! decide the same with a verified-token cache as without.
//!
//! The generator is a fixed-seed xorshift, so a failure reproduces; the case number
//! and the mutated input are printed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
/// The fuzz targets' independent oracle, shared so there is one copy of it.
#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod fuzz_common;
use audience_guard::cache::{CacheConfig, VerifyCache};
use audience_guard::{decide_cached, Decision, Policy, Request, Verdict};
use common::*;

/// xorshift64* — small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const SPECIAL: &[u8] = b".%\xff= ,\t\0\"';\\/+-_\r\n{}[]:";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// One random change to `bytes`.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    let len = bytes.len();
    match rng.below(10) {
        0 => {
            if len > 0 {
                let i = rng.below(len);
                bytes[i] ^= 1 << rng.below(8);
            }
        }
        1 => bytes.truncate(rng.below(len + 1)),
        2 => {
            let c = *rng.pick(SPECIAL);
            bytes.insert(rng.below(len + 1), c);
        }
        3 => {
            if len > 0 {
                bytes.remove(rng.below(len));
            }
        }
        4 => {
            // A slice repeated many times (up to ~100 KB).
            if len > 0 {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(16)).min(len);
                let chunk = bytes[start..end].to_vec();
                let max = if rng.chance(4) { 20_000 } else { 50 };
                let times = 1 + rng.below(max);
                let at = rng.below(len + 1);
                let repeated: Vec<u8> = chunk
                    .iter()
                    .copied()
                    .cycle()
                    .take(chunk.len() * times)
                    .collect();
                bytes.splice(at..at, repeated);
            }
        }
        5 => {
            if len > 0 {
                let i = rng.below(len);
                bytes[i] = *rng.pick(B64);
            }
        }
        6 => {
            // Shuffle or duplicate the dot-separated segments.
            let parts: Vec<Vec<u8>> = bytes.split(|b| *b == b'.').map(<[u8]>::to_vec).collect();
            let mut out = parts.clone();
            if rng.chance(2) && parts.len() > 1 {
                let (a, b) = (rng.below(parts.len()), rng.below(parts.len()));
                out.swap(a, b);
            } else {
                let i = rng.below(parts.len());
                out.insert(rng.below(out.len() + 1), parts[i].clone());
            }
            *bytes = out.join(&b'.');
        }
        7 => {
            let i = rng.below(len + 1);
            bytes.insert(i, rng.next() as u8);
        }
        8 => {
            // Overwrite a run with one special byte.
            if len > 0 {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(8)).min(len);
                let c = *rng.pick(SPECIAL);
                for b in &mut bytes[start..end] {
                    *b = c;
                }
            }
        }
        _ => {
            // Duplicate the whole value after a comma (a second credential).
            let copy = bytes.clone();
            bytes.push(b',');
            bytes.extend(copy);
        }
    }
}

fn check_contract(case: usize, d: &Decision, req: &Request) {
    let (status, reason) = outcome(d);
    assert!(
        [200, 299, 400, 401, 403, 503].contains(&status)
            && fuzz_common::status_fits(status, reason),
        "case {case}: ({status}, {reason}) for {}",
        describe(req)
    );
    if !matches!(d.verdict, Verdict::Allow) {
        assert_no_identity(d, &[]);
    }
    // Spoofed identity headers never survive.
    for (name, _) in req.headers.iter() {
        if name.starts_with("x-jwt-") {
            let removed_at = d
                .header_ops
                .iter()
                .position(|op| op == &audience_guard::HeaderOp::Remove(name.into()));
            assert!(removed_at.is_some(), "case {case}: {name} kept");
        }
    }
}

/// The three decoded segments of the bearer credential in `value`, if it has that shape.
fn credential_segments(value: &[u8]) -> Option<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let text = std::str::from_utf8(value).ok()?;
    let rest = text
        .get(..6)?
        .eq_ignore_ascii_case("bearer")
        .then(|| &text[6..])?;
    let token = rest.trim_start_matches(' ');
    let parts: Vec<&str> = token.split('.').collect();
    let [h, p, s] = parts[..] else { return None };
    Some((unb64(h)?, unb64(p)?, unb64(s)?))
}

fn authorization(req: &Request) -> Vec<&[u8]> {
    req.header_values("authorization").collect()
}

/// Decides `req` without and with the shared cache; both must agree and keep the contract.
fn decide_both(case: usize, p: &Policy, cache: &mut VerifyCache, req: &Request) -> Decision {
    let plain = run(p, req);
    check_contract(case, &plain, req);
    let cached = decide_cached(p, cache, req, NOW);
    assert_eq!(
        cached.verdict,
        plain.verdict,
        "case {case}: cache changed the decision for {}",
        describe(req)
    );
    assert_eq!(cached.header_ops, plain.header_ops, "case {case}");
    plain
}

const CASES_PER_TOKEN: usize = 1_200;

#[test]
fn mutated_bearer_tokens_are_never_allowed() {
    let p = policy(&seed_config());
    let mut cache = VerifyCache::new(CacheConfig::default());
    let originals = [
        good_token().to_owned(),
        es256(&good_claims()),
        hs256(&hmac_claims()),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut allowed = 0;
    for (t, original) in originals.iter().enumerate() {
        let expected = segments(original);
        for i in 0..CASES_PER_TOKEN {
            let case = t * CASES_PER_TOKEN + i;
            let mut value = format!("Bearer {original}").into_bytes();
            for _ in 0..1 + rng.below(3) {
                mutate(&mut rng, &mut value);
            }
            let path = *rng.pick(&[
                "/orders/1",
                "/orders/1",
                "/orders/1",
                "/hr/x",
                "/admin",
                "/healthz",
            ]);
            let mut req = with_authorization(path, &value);
            if rng.chance(4) {
                req.headers.push("x-jwt-sub", b"admin\xff");
            }
            let d = decide_both(case, &p, &mut cache, &req);
            if matches!(d.verdict, Verdict::Allow) && path != "/healthz" {
                allowed += 1;
                let seen = credential_segments(authorization(&req)[0]);
                assert_eq!(
                    seen.as_ref(),
                    Some(&expected),
                    "case {case}: allowed a changed token: {}",
                    describe(&req)
                );
            }
            // The original still passes after every hostile request.
            if i % 100 == 0 {
                let good = get("/orders/1", Some(original));
                assert_eq!(
                    outcome(&decide_both(case, &p, &mut cache, &good)),
                    (200, "allowed")
                );
            }
        }
    }
    // Harmless mutations (case of `Bearer`, extra spaces, non-canonical base64 tails)
    // may pass; most must not.
    eprintln!("{allowed} harmless mutations allowed");
    assert!(allowed < originals.len() * CASES_PER_TOKEN / 4, "{allowed}");
}

#[test]
fn signed_mutated_headers_and_payloads_are_allowed_only_when_they_deserve_it() {
    // The mutation happens before signing: every token here carries a valid HMAC, so
    // only the structure and claim checks stand between it and the upstream.
    let p = policy(&seed_config());
    let mut cache = VerifyCache::new(CacheConfig::default());
    let header = br#"{"alg":"HS256","typ":"JWT"}"#.to_vec();
    let payload = hmac_claims().to_string().into_bytes();
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut allowed = 0;
    for case in 0..3_000 {
        let (mut h, mut c) = (header.clone(), payload.clone());
        for _ in 0..1 + rng.below(2) {
            if rng.chance(4) {
                mutate(&mut rng, &mut h);
            } else {
                mutate(&mut rng, &mut c);
            }
        }
        let token = sign_hs256(&h, &c, HMAC_SECRET);
        let req = get("/orders/1", Some(&token));
        if token.len() > 8192 {
            let d = decide_both(case, &p, &mut cache, &req);
            assert_eq!(outcome(&d), (401, "invalid_token"), "case {case}");
            continue;
        }
        let d = decide_both(case, &p, &mut cache, &req);
        if matches!(d.verdict, Verdict::Allow) {
            allowed += 1;
            if let Err(why) = fuzz_common::hmac_token_deserves_allow(&h, &c) {
                panic!(
                    "case {case}: allowed ({why}): header {:?} payload {:?}",
                    String::from_utf8_lossy(&h),
                    String::from_utf8_lossy(&c)
                );
            }
        }
    }
    eprintln!("{allowed} signed mutations allowed, each checked by the oracle");
    assert!(allowed > 0, "the oracle was never exercised");
}

#[test]
fn mutated_paths_and_headers_keep_the_contract() {
    let p = policy(&seed_config());
    let mut cache = VerifyCache::new(CacheConfig::default());
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let t = good_token();
    let paths = [
        "/orders/1",
        "/healthz",
        "/hr/people",
        "/orders?x=1",
        "/admin/x",
        "/orders;a=1/1",
        "/orders/..;/hr",
        "/hr;/orders",
    ];
    for case in 0..2_000 {
        let mut path = rng.pick(&paths).as_bytes().to_vec();
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &mut path);
        }
        // Request paths are text; keep what is valid UTF-8.
        let path = String::from_utf8_lossy(&path).into_owned();
        let method = *rng.pick(&["GET", "POST", "HEAD", "get", ""]);
        let mut req = request(method, &path, None);
        let mut auth = format!("Bearer {t}").into_bytes();
        if rng.chance(3) {
            mutate(&mut rng, &mut auth);
        }
        if !rng.chance(5) {
            req.headers.push("authorization", &auth);
        }
        for _ in 0..rng.below(4) {
            let name = rng.pick(&[
                "x-jwt-sub",
                "x-jwt-client",
                "cookie",
                "x-other",
                "authorization",
            ]);
            let mut value = b"v".to_vec();
            for _ in 0..rng.below(4) {
                mutate(&mut rng, &mut value);
            }
            req.headers.push(name, &value);
        }
        decide_both(case, &p, &mut cache, &req);
    }
    assert_eq!(outcome(&run(&p, &good_request())), (200, "allowed"));
}

#[test]
fn random_bytes_as_the_whole_credential_keep_the_contract() {
    let p = policy(&seed_config());
    let mut cache = VerifyCache::new(CacheConfig::default());
    let mut rng = Rng(42);
    for case in 0..2_000 {
        let len = if rng.chance(20) {
            rng.below(70_000)
        } else {
            rng.below(200)
        };
        let mut value: Vec<u8> = (0..len)
            .map(|_| match rng.below(3) {
                0 => rng.next() as u8,
                1 => *rng.pick(SPECIAL),
                _ => *rng.pick(B64),
            })
            .collect();
        if rng.chance(2) {
            value.splice(0..0, b"Bearer ".iter().copied());
        }
        let req = with_authorization("/orders/1", &value);
        let d = decide_both(case, &p, &mut cache, &req);
        assert!(!matches!(d.verdict, Verdict::Allow), "case {case}");
    }
    assert_eq!(outcome(&run(&p, &good_request())), (200, "allowed"));
}
