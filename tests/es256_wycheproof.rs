//! `ag_math::p256` (our P-256 ECDSA verification, ES256) against
//! 1. every Wycheproof ECDSA P-256/SHA-256 P1363 vector (the JWS signature format);
//! 2. jwt-simple itself: tokens it signs with random keys verify with ours, and a
//!    changed byte in the signature or the signed part fails in both;
//! 3. jwt-simple's `p256` on mutated signatures (edge values for r and s, high-s twins,
//!    random bytes): the same answer every time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod crypto_common;
use ag_math::p256::PublicKey;
use crypto_common::{assert_verdict, hex, read_vectors};
use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};
use jwt_simple::prelude::*;

#[test]
fn wycheproof_p256_sha256_p1363() {
    let json = read_vectors("wycheproof/ecdsa_secp256r1_sha256_p1363_test.json");
    assert_eq!(json["schema"], "ecdsa_p1363_verify_schema_v1.json");
    let (mut valid, mut invalid) = (0, 0);
    for group in json["testGroups"].as_array().unwrap() {
        let point = hex(group["publicKey"]["uncompressed"].as_str().unwrap());
        let key = PublicKey::from_sec1(&point).expect("every Wycheproof key is on the curve");
        for test in group["tests"].as_array().unwrap() {
            let ok = key.verify(
                &hex(test["msg"].as_str().unwrap()),
                &hex(test["sig"].as_str().unwrap()),
            );
            if assert_verdict(test, ok) {
                valid += 1;
            } else {
                invalid += 1;
            }
        }
    }
    assert_eq!((valid, invalid), (173, 89), "every vector counted");
    assert_eq!(json["numberOfTests"].as_u64(), Some(173 + 89));
}

/// The signing input and raw signature of a compact JWS.
fn split(token: &str) -> (&str, Vec<u8>) {
    let (input, signature) = token.rsplit_once('.').unwrap();
    (
        input,
        Base64UrlSafeNoPadding::decode_to_vec(signature, None).unwrap(),
    )
}

#[test]
fn agrees_with_jwt_simple_on_random_keys() {
    for round in 0..64u8 {
        let pair = ES256KeyPair::generate();
        let public = pair.public_key();
        let key = PublicKey::from_sec1(&public.public_key().to_bytes_uncompressed()).unwrap();
        let claims = Claims::create(Duration::from_hours(1)).with_subject(format!("user-{round}"));
        let token = pair.sign(claims).unwrap();
        let (input, signature) = split(&token);
        assert!(key.verify(input.as_bytes(), &signature), "round {round}");
        assert!(public.verify_token::<NoCustomClaims>(&token, None).is_ok());

        let mut bad_signature = signature.clone();
        bad_signature[usize::from(round) % 64] ^= 1 << (round % 8);
        assert!(
            !key.verify(input.as_bytes(), &bad_signature),
            "round {round}"
        );
        let mut bad_input = input.as_bytes().to_vec();
        let at = usize::from(round) % bad_input.len();
        bad_input[at] ^= 0x20;
        assert!(!key.verify(&bad_input, &signature), "round {round}");
        // Another key never verifies it.
        let other = ES256KeyPair::generate().public_key();
        let other = PublicKey::from_sec1(&other.public_key().to_bytes_uncompressed()).unwrap();
        assert!(!other.verify(input.as_bytes(), &signature), "round {round}");
    }
}

#[test]
fn malformed_keys_and_signatures_are_refused() {
    let pair = ES256KeyPair::generate();
    let point = pair.public_key().public_key().to_bytes_uncompressed();
    assert!(PublicKey::from_sec1(&point).is_some());
    // Compressed is read (tests/curve_pem.rs checks it against the p256 crate); truncated
    // and a wrong tag are not.
    assert!(PublicKey::from_sec1(&pair.public_key().to_bytes()).is_some());
    assert!(PublicKey::from_sec1(&point[..64]).is_none());
    let mut tagged = point.clone();
    tagged[0] = 0x06;
    assert!(PublicKey::from_sec1(&tagged).is_none());
    // Off the curve: y changed.
    let mut off = point.clone();
    off[64] ^= 1;
    assert!(PublicKey::from_sec1(&off).is_none());
    // x = p (not reduced) with y = √b: reduced, (0, √b) is on the curve, so only the
    // bound refuses it; the point at "infinity" encoded as zeros.
    let mut unreduced = vec![0x04];
    unreduced.extend(hex(
        "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
    ));
    let root_b = hex("66485c780e2f83d72433bd5d84a06bb6541c2af31dae871728bf856a174f93f4");
    unreduced.extend(&root_b);
    assert!(PublicKey::from_sec1(&unreduced).is_none());
    let mut reduced = vec![0x04];
    reduced.extend([0; 32]);
    reduced.extend(&root_b);
    assert!(PublicKey::from_sec1(&reduced).is_some());
    let mut zeros = vec![0x04];
    zeros.extend([0u8; 64]);
    assert!(PublicKey::from_sec1(&zeros).is_none());

    let key = PublicKey::from_sec1(&point).unwrap();
    let token = pair.sign(Claims::create(Duration::from_hours(1))).unwrap();
    let (input, signature) = split(&token);
    for bad in [
        Vec::new(),
        signature[..63].to_vec(),
        [signature.as_slice(), &[0]].concat(),
        [[0u8; 32].as_slice(), &signature[32..]].concat(), // r = 0
        [&signature[..32], [0u8; 32].as_slice()].concat(), // s = 0
    ] {
        assert!(!key.verify(input.as_bytes(), &bad));
    }
}

/// Differential: mutated signatures — random bytes, r or s replaced by edge values
/// (0, 1, n − 1, n, n + 1, p, all ones), s negated (the high-s twin) — get the same
/// answer from ours and from jwt-simple's `p256`.
#[test]
fn mutated_signatures_get_the_same_answer_as_jwt_simple() {
    use crypto_common::Rng;
    let n = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    let p = hex("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
    let plus = |v: &[u8], k: u8| {
        let mut out = v.to_vec();
        let mut carry = k;
        for byte in out.iter_mut().rev() {
            let (sum, overflow) = byte.overflowing_add(carry);
            *byte = sum;
            carry = u8::from(overflow);
        }
        out
    };
    let negate = |s: &[u8]| {
        // n − s, big-endian, s < n
        let mut out = vec![0u8; 32];
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let d = i16::from(n[i]) - i16::from(s[i]) - borrow;
            out[i] = d.rem_euclid(256) as u8;
            borrow = i16::from(d < 0);
        }
        out
    };
    let edges: Vec<Vec<u8>> = vec![
        vec![0; 32],
        plus(&[0; 32], 1),
        negate(&plus(&[0; 32], 1)),
        n.clone(),
        plus(&n, 1),
        p.clone(),
        vec![0xff; 32],
    ];
    let pair = ES256KeyPair::generate();
    let public = pair.public_key();
    let key = PublicKey::from_sec1(&public.public_key().to_bytes_uncompressed()).unwrap();
    let mut rng = Rng(7);
    let (mut accepted, mut rounds) = (0, 0);
    for round in 0..40 {
        let claims = Claims::create(Duration::from_hours(1)).with_subject(format!("m{round}"));
        let token = pair.sign(claims).unwrap();
        let (input, signature) = split(&token);
        let (r, s) = signature.split_at(32);
        let mut variants = vec![[r, negate(s).as_slice()].concat()];
        for edge in &edges {
            variants.push([edge.as_slice(), s].concat());
            variants.push([r, edge.as_slice()].concat());
        }
        // XOR with a non-zero byte: the mutation always changes the signature
        // (an assignment could write back the byte already there, 1 in 256).
        let mut random = signature.clone();
        random[rng.below(64)] ^= 1 + rng.below(255) as u8;
        variants.push(random);
        for variant in variants {
            let ours = key.verify(input.as_bytes(), &variant);
            let encoded = Base64UrlSafeNoPadding::encode_to_string(&variant).unwrap();
            let forged = format!("{input}.{encoded}");
            let theirs = public.verify_token::<NoCustomClaims>(&forged, None).is_ok();
            assert_eq!(ours, theirs, "round {round}: {variant:02x?}");
            accepted += usize::from(ours);
            rounds += 1;
        }
    }
    // Only the high-s twins verify (one per round); every edge value is refused.
    assert_eq!(accepted, 40, "of {rounds}");
}
