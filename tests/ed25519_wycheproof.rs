//! `ag_math::ed25519` (our Ed25519 verification, EdDSA) against
//! 1. every Wycheproof Ed25519 vector;
//! 2. ed25519-compact (the crate the filter verified with before, and whose answers it
//!    must keep): random keys and messages, then mutated signatures and keys — flipped
//!    bits, S + L, R and A replaced by small-order, non-canonical and undecodable
//!    encodings, random bytes — get the same answer from both, every time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod crypto_common;
use ag_math::ed25519::PublicKey;
use crypto_common::{assert_verdict, hex, read_vectors, Rng};

/// ed25519-compact's answer.
fn theirs(key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let (Ok(key), Ok(signature)) = (
        ed25519_compact::PublicKey::from_slice(key),
        ed25519_compact::Signature::from_slice(signature),
    ) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}

fn ours(key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    PublicKey::from_bytes(key).is_some_and(|key| key.verify(message, signature))
}

#[test]
fn wycheproof_ed25519() {
    let json = read_vectors("wycheproof/ed25519_test.json");
    assert_eq!(json["algorithm"], "EDDSA");
    let (mut valid, mut invalid) = (0, 0);
    for group in json["testGroups"].as_array().unwrap() {
        let key = hex(group["publicKey"]["pk"].as_str().unwrap());
        for test in group["tests"].as_array().unwrap() {
            let id = &test["tcId"];
            let (message, signature) = (
                hex(test["msg"].as_str().unwrap()),
                hex(test["sig"].as_str().unwrap()),
            );
            let ok = ours(&key, &message, &signature);
            assert_eq!(ok, theirs(&key, &message, &signature), "tcId {id}");
            if assert_verdict(test, ok) {
                valid += 1;
            } else {
                invalid += 1;
            }
        }
    }
    assert_eq!(json["numberOfTests"].as_u64(), Some(valid + invalid));
    assert!(valid > 0 && invalid > 0);
}

fn key_pair(rng: &mut Rng) -> ed25519_compact::KeyPair {
    let mut seed = [0u8; 32];
    for chunk in seed.chunks_exact_mut(8) {
        chunk.copy_from_slice(&rng.next().to_le_bytes());
    }
    ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(seed))
}

/// Encodings that are not ordinary points: small-order points (y = ±1, y = 0 and the
/// order-8 points), y ≥ p (non-canonical), "−0" and bytes with no square root.
fn odd_encodings() -> Vec<[u8; 32]> {
    let le = |s: &str| -> [u8; 32] { hex(s).try_into().unwrap() };
    let mut out = vec![
        le("0100000000000000000000000000000000000000000000000000000000000000"), // y = 1
        le("0100000000000000000000000000000000000000000000000000000000000080"), // "−0"
        le("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // y = −1
        le("0000000000000000000000000000000000000000000000000000000000000000"), // y = 0
        le("0000000000000000000000000000000000000000000000000000000000000080"),
        le("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), // order 8
        le("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
        le("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
        le("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
        le("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // y = p
        le("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // y = p + 1
        le("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
        le("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        le("0200000000000000000000000000000000000000000000000000000000000000"), // no root
    ];
    out.push(le(
        "5866666666666666666666666666666666666666666666666666666666666666",
    )); // B itself
    out
}

/// S + L (the same S modulo L, refused as non-canonical), little-endian.
fn plus_l(s: &[u8]) -> Vec<u8> {
    let l = hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
    let mut out = vec![0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let t = u16::from(s[i]) + u16::from(l[i]) + carry;
        out[i] = t as u8;
        carry = t >> 8;
    }
    out
}

#[test]
fn agrees_with_ed25519_compact_on_random_and_mutated_signatures() {
    let mut rng = Rng(25519);
    let odd = odd_encodings();
    let (mut accepted, mut compared) = (0, 0);
    for round in 0..48 {
        let pair = key_pair(&mut rng);
        let message = rng.message().into_bytes();
        let signature = pair.sk.sign(&message, None).to_vec();
        let key = pair.pk.to_vec();
        assert!(ours(&key, &message, &signature), "round {round}");

        let mut cases: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = Vec::new();
        let mut flip = |what: usize, at: usize, bit: u8| {
            let (mut k, mut m, mut s) = (key.clone(), message.clone(), signature.clone());
            match what {
                0 => k[at % 32] ^= 1 << bit,
                1 if !m.is_empty() => {
                    let len = m.len();
                    m[at % len] ^= 1 << bit
                }
                1 => m.push(0),
                _ => s[at % 64] ^= 1 << bit,
            }
            cases.push((k, m, s));
        };
        for _ in 0..12 {
            flip(rng.below(3), rng.below(64), rng.below(8) as u8);
        }
        cases.push((
            key.clone(),
            message.clone(),
            [&signature[..32], plus_l(&signature[32..]).as_slice()].concat(),
        ));
        for encoding in &odd {
            cases.push((encoding.to_vec(), message.clone(), signature.clone()));
            let r_replaced = [encoding.as_slice(), &signature[32..]].concat();
            cases.push((key.clone(), message.clone(), r_replaced));
        }
        let mut random = signature.clone();
        random[rng.below(64)] ^= 1 + rng.below(255) as u8;
        cases.push((key.clone(), message.clone(), random));
        cases.push((key.clone(), message.clone(), signature[..63].to_vec()));
        cases.push((key[..31].to_vec(), message.clone(), signature.clone()));
        cases.push((key.clone(), message.clone(), signature.clone()));
        for (k, m, s) in cases {
            let answer = ours(&k, &m, &s);
            assert_eq!(
                answer,
                theirs(&k, &m, &s),
                "round {round}: key {k:02x?} sig {s:02x?}"
            );
            accepted += usize::from(answer);
            compared += 1;
        }
    }
    // Per round only the untouched signature verifies (a flipped bit, S + L, a swapped
    // R or key never does).
    assert_eq!(accepted, 48, "of {compared}");
}

#[test]
fn random_keys_decode_as_ed25519_compact_decodes_them() {
    // Half of all 32-byte strings are no point; both sides must refuse the same ones
    // (a signature check with such a key is always false).
    let mut rng = Rng(7);
    let pair = key_pair(&mut rng);
    let message = b"m".to_vec();
    let signature = pair.sk.sign(&message, None).to_vec();
    for _ in 0..256 {
        let mut key = [0u8; 32];
        for chunk in key.chunks_exact_mut(8) {
            chunk.copy_from_slice(&rng.next().to_le_bytes());
        }
        assert_eq!(
            ours(&key, &message, &signature),
            theirs(&key, &message, &signature)
        );
        assert!(!ours(&key, &message, &signature));
    }
}
