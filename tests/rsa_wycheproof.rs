//! `rsa_verify` (the 32-bit-limb Montgomery RS256/384/512 fast path) against
//! 1. every Wycheproof RSASSA-PKCS1-v1_5 vector for 2048/3072/4096-bit keys, and
//! 2. jwt-simple itself: tokens it signs verify with ours, and a flipped byte fails in both.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use audience_guard::rsa_verify::{HashAlg, RsaPublicKey};
use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};
use jwt_simple::prelude::*;
use serde_json::{json, Value};

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn b64d(s: &str) -> Vec<u8> {
    Base64UrlSafeNoPadding::decode_to_vec(s, None).unwrap()
}

fn b64e(bytes: &[u8]) -> String {
    Base64UrlSafeNoPadding::encode_to_string(bytes).unwrap()
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    valid_verified: usize,
    invalid_rejected: usize,
    acceptable_rejected: usize,
    /// Tests whose group key has e ≠ 65537: the key itself is refused (policy).
    key_refused: usize,
}

fn run_file(name: &str, hash: HashAlg, bits: usize) -> Tally {
    let path = format!(
        "{}/tests/vectors/wycheproof/{name}_test.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(json["schema"], "rsassa_pkcs1_verify_schema_v1.json");
    let mut tally = Tally::default();
    let mut seen = 0;
    for group in json["testGroups"].as_array().unwrap() {
        assert_eq!(group["keySize"].as_u64(), Some(bits as u64));
        let tests = group["tests"].as_array().unwrap();
        seen += tests.len();
        // The key both ways: JWK (base64url n, e) and hex modulus/exponent.
        let jwk = &group["keyJwk"];
        let from_jwk = RsaPublicKey::new(
            &b64d(jwk["n"].as_str().unwrap()),
            &b64d(jwk["e"].as_str().unwrap()),
        );
        let from_hex = RsaPublicKey::new(
            &hex(group["publicKey"]["modulus"].as_str().unwrap()),
            &hex(group["publicKey"]["publicExponent"].as_str().unwrap()),
        );
        assert_eq!(from_jwk, from_hex, "{name}: JWK and hex keys differ");
        let Some(key) = from_jwk else {
            // Only e = 3 groups are refused; e = 65537 is the only exponent accepted.
            assert_ne!(group["publicKey"]["publicExponent"], "010001", "{name}");
            tally.key_refused += tests.len();
            continue;
        };
        assert_eq!(key.modulus_len() * 8, bits);
        for test in tests {
            let id = &test["tcId"];
            let msg = hex(test["msg"].as_str().unwrap());
            let sig = hex(test["sig"].as_str().unwrap());
            let ok = key.verify_pkcs1v15(hash, &msg, &sig);
            match test["result"].as_str().unwrap() {
                "valid" => {
                    assert!(
                        ok,
                        "{name} tcId {id} valid but rejected: {}",
                        test["comment"]
                    );
                    tally.valid_verified += 1;
                }
                "invalid" => {
                    assert!(
                        !ok,
                        "{name} tcId {id} invalid but accepted: {}",
                        test["comment"]
                    );
                    tally.invalid_rejected += 1;
                }
                // Wycheproof's only "acceptable" RSASSA-PKCS1 case is MissingNull (DigestInfo
                // without the NULL parameters). Construct-and-compare builds the DER with NULL,
                // so it rejects it — stricter, and what RFC 8017 §9.2 produces.
                "acceptable" => {
                    assert!(
                        !ok,
                        "{name} tcId {id} acceptable accepted: {}",
                        test["flags"]
                    );
                    tally.acceptable_rejected += 1;
                }
                other => panic!("{name} tcId {id}: unknown result {other}"),
            }
        }
    }
    assert_eq!(Some(seen as u64), json["numberOfTests"].as_u64(), "{name}");
    println!("{name}: {tally:?} (of {seen})");
    tally
}

#[test]
fn wycheproof_2048_sha256() {
    let t = run_file("rsa_signature_2048_sha256", HashAlg::Sha256, 2048);
    assert_eq!(
        t,
        Tally {
            valid_verified: 7,
            invalid_rejected: 249,
            acceptable_rejected: 1,
            key_refused: 2
        }
    );
}

#[test]
fn wycheproof_2048_sha384() {
    let t = run_file("rsa_signature_2048_sha384", HashAlg::Sha384, 2048);
    assert_eq!(
        t,
        Tally {
            valid_verified: 7,
            invalid_rejected: 250,
            acceptable_rejected: 1,
            key_refused: 0
        }
    );
}

#[test]
fn wycheproof_2048_sha512() {
    let t = run_file("rsa_signature_2048_sha512", HashAlg::Sha512, 2048);
    assert_eq!(
        t,
        Tally {
            valid_verified: 7,
            invalid_rejected: 250,
            acceptable_rejected: 1,
            key_refused: 1
        }
    );
}

#[test]
fn wycheproof_3072_sha256() {
    let t = run_file("rsa_signature_3072_sha256", HashAlg::Sha256, 3072);
    assert_eq!(
        t,
        Tally {
            valid_verified: 7,
            invalid_rejected: 250,
            acceptable_rejected: 1,
            key_refused: 1
        }
    );
}

#[test]
fn wycheproof_4096_sha256() {
    let t = run_file("rsa_signature_4096_sha256", HashAlg::Sha256, 4096);
    assert_eq!(
        t,
        Tally {
            valid_verified: 7,
            invalid_rejected: 250,
            acceptable_rejected: 1,
            key_refused: 0
        }
    );
}

/// SplitMix64: deterministic test randomness without a new dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A random printable message of 0..300 characters.
    fn message(&mut self) -> String {
        let len = self.below(300);
        (0..len)
            .map(|_| char::from(b' ' + self.below(95) as u8))
            .collect()
    }
}

/// Signs `count` random claim sets with jwt-simple, then checks, for each token:
/// jwt-simple and ours both accept it; with one signature bit flipped, or one character of
/// the signing input changed, both reject it.
macro_rules! cross_check {
    ($pair:ty, $hash:expr, $bits:expr, $count:expr, $seed:expr) => {{
        let key_pair = <$pair>::generate($bits).unwrap();
        let public = key_pair.public_key();
        let c = public.to_components();
        let ours = RsaPublicKey::new(&c.n, &c.e).expect("jwt-simple key accepted");
        assert_eq!(ours.modulus_len() * 8, $bits);
        let mut rng = Rng($seed);
        for i in 0..$count {
            let claims = Claims::with_custom_claims(
                json!({"m": rng.message(), "i": i}),
                Duration::from_hours(1),
            );
            let token = key_pair.sign(claims).unwrap();
            let (input, sig_b64) = token.rsplit_once('.').unwrap();
            let sig = b64d(sig_b64);
            assert_eq!(sig.len(), ours.modulus_len());

            assert!(public.verify_token::<Value>(&token, None).is_ok());
            assert!(ours.verify_pkcs1v15($hash, input.as_bytes(), &sig), "token {i}");

            // One flipped signature bit.
            let mut bad_sig = sig.clone();
            let at = rng.below(bad_sig.len());
            bad_sig[at] ^= 1 << rng.below(8);
            let bad_token = format!("{input}.{}", b64e(&bad_sig));
            assert!(public.verify_token::<Value>(&bad_token, None).is_err());
            assert!(!ours.verify_pkcs1v15($hash, input.as_bytes(), &bad_sig), "token {i}");

            // One changed character of the signing input (base64url stays well-formed: the
            // payload's interior characters each carry 6 full bits).
            let mut bad_input = input.as_bytes().to_vec();
            let payload_start = input.find('.').unwrap() + 1;
            let at = payload_start + rng.below(input.len() - payload_start - 1);
            bad_input[at] = if bad_input[at] == b'A' { b'B' } else { b'A' };
            let bad_input = String::from_utf8(bad_input).unwrap();
            let bad_token = format!("{bad_input}.{sig_b64}");
            assert!(public.verify_token::<Value>(&bad_token, None).is_err());
            assert!(!ours.verify_pkcs1v15($hash, bad_input.as_bytes(), &sig), "token {i}");

            // The right signature under the wrong hash.
            for other in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
                if other != $hash {
                    assert!(!ours.verify_pkcs1v15(other, input.as_bytes(), &sig));
                }
            }
        }
    }};
}

#[test]
fn agrees_with_jwt_simple_rs256_2048() {
    cross_check!(RS256KeyPair, HashAlg::Sha256, 2048, 150, 1);
    cross_check!(RS256KeyPair, HashAlg::Sha256, 2048, 150, 2);
}

#[test]
fn agrees_with_jwt_simple_rs384_3072() {
    cross_check!(RS384KeyPair, HashAlg::Sha384, 3072, 100, 3);
}

#[test]
fn agrees_with_jwt_simple_rs512_4096() {
    cross_check!(RS512KeyPair, HashAlg::Sha512, 4096, 60, 4);
}

#[test]
fn agrees_with_jwt_simple_rs256_4096_and_rs512_2048() {
    cross_check!(RS256KeyPair, HashAlg::Sha256, 4096, 30, 5);
    cross_check!(RS512KeyPair, HashAlg::Sha512, 2048, 60, 6);
}

/// Another key never verifies: same token, a different modulus.
#[test]
fn other_key_rejects() {
    let a = RS256KeyPair::generate(2048).unwrap();
    let b = RS256KeyPair::generate(2048).unwrap();
    let token = a.sign(Claims::create(Duration::from_hours(1))).unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let cb = b.public_key().to_components();
    let ours_b = RsaPublicKey::new(&cb.n, &cb.e).unwrap();
    assert!(!ours_b.verify_pkcs1v15(HashAlg::Sha256, input.as_bytes(), &b64d(sig)));
    assert!(b.public_key().verify_token::<Value>(&token, None).is_err());
}
