//! `rsa_pem::rsa_components_from_pem` accepts exactly what jwt-simple's
//! `RS256PublicKey::from_pem` (superboring + rsa + pkcs1/spki 0.7) accepted, with the
//! same n and e: SPKI `PUBLIC KEY` and PKCS#1 `RSA PUBLIC KEY` documents, well-formed
//! and hostile, PEM-level variations, and random mutations of both.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod crypto_common;
use audience_guard::rsa_pem::rsa_components_from_pem;
use crypto_common::{pem, pem_variants, read_vectors, tlv, Rng};
use jwt_simple::prelude::*;

/// What jwt-simple made of a PEM document.
fn theirs(pem: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    RS256PublicKey::from_pem(pem).ok().map(|k| {
        let c = k.to_components();
        (c.n, c.e)
    })
}

/// Both parsers agree on `pem`; returns whether it was accepted.
#[track_caller]
fn agree(pem: &str) -> bool {
    let ours = rsa_components_from_pem(pem);
    assert_eq!(ours, theirs(pem), "{pem}");
    ours.is_some()
}

/// A DER INTEGER holding the unsigned big-endian `x` (a 00 added when the top bit is set).
fn uint(x: &[u8]) -> Vec<u8> {
    let mut v = x.to_vec();
    if v.first().is_none_or(|b| *b >= 0x80) {
        v.insert(0, 0);
    }
    tlv(0x02, &v)
}

fn pkcs1(n: &[u8], e: &[u8]) -> Vec<u8> {
    tlv(0x30, &[uint(n), uint(e)].concat())
}

const RSA_OID: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
const NULL: [u8; 2] = [0x05, 0x00];

/// SubjectPublicKeyInfo around `key` with the given AlgorithmIdentifier contents and
/// BIT STRING unused-bits byte.
fn spki_with(algorithm: &[u8], unused_bits: u8, key: &[u8]) -> Vec<u8> {
    let bits = [&[unused_bits][..], key].concat();
    tlv(0x30, &[tlv(0x30, algorithm), tlv(0x03, &bits)].concat())
}

fn spki(key: &[u8]) -> Vec<u8> {
    spki_with(&[&RSA_OID[..], &NULL].concat(), 0, key)
}

/// A 2048-bit modulus (any odd number with the top bit set does for parsing).
fn modulus(bits: usize) -> Vec<u8> {
    let len = bits.div_ceil(8);
    let mut n: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(151) ^ 0x3c)
        .collect();
    n[0] = (n[0] | 0x80) >> (len * 8 - bits);
    n[len - 1] |= 1;
    n
}

const E: [u8; 3] = [1, 0, 1];

#[test]
fn keys_from_jwt_simple_and_wycheproof() {
    let key = RS256KeyPair::generate(2048).unwrap();
    let spki_pem = key.public_key().to_pem().unwrap();
    assert!(agree(&spki_pem));
    // The same key as PKCS#1 (the BIT STRING's contents), which jwt-simple also read.
    let der = key.public_key().to_der().unwrap();
    let c = key.public_key().to_components();
    assert_eq!(der, spki(&pkcs1(&c.n, &c.e)));
    assert!(agree(&pem("RSA PUBLIC KEY", &pkcs1(&c.n, &c.e))));
    // Every Wycheproof RSA key (2048–4096 bits; e = 3 ones are refused by both).
    let mut accepted = 0;
    for file in [
        "rsa_signature_2048_sha256",
        "rsa_signature_3072_sha256",
        "rsa_signature_4096_sha256",
        "rsa_pss_2048_sha256_mgf1_32",
    ] {
        let json = read_vectors(&format!("wycheproof/{file}_test.json"));
        for group in json["testGroups"].as_array().unwrap() {
            accepted += usize::from(agree(group["publicKeyPem"].as_str().unwrap()));
        }
    }
    assert_eq!(accepted, 4);
}

#[test]
fn key_policy_is_the_same() {
    for (bits, e) in [
        (2048, &E[..]),
        (2049, &E),
        (3072, &E),
        (4096, &E),
        (2047, &E),
        (1024, &E),
        (4097, &E),
        (8192, &E),
        (2048, &[3]),
        (2048, &[1, 0, 0, 1]),
        (2048, &[0x01, 0x00, 0x03]),
        (2048, &[1]),
        (2048, &[2]),
        (2048, &[0]),
    ] {
        let n = modulus(bits);
        let accepted = agree(&pem("PUBLIC KEY", &spki(&pkcs1(&n, e))));
        assert_eq!(
            agree(&pem("RSA PUBLIC KEY", &pkcs1(&n, e))),
            accepted,
            "{bits}"
        );
        assert_eq!(accepted, (2048..=4096).contains(&bits) && e == E, "{bits}");
    }
    // An even modulus.
    let mut even = modulus(2048);
    *even.last_mut().unwrap() &= 0xfe;
    assert!(!agree(&pem("PUBLIC KEY", &spki(&pkcs1(&even, &E)))));
}

#[test]
fn hostile_der_is_refused_by_both() {
    let n = modulus(2048);
    let good = pkcs1(&n, &E);
    let rsa_alg = [&RSA_OID[..], &NULL].concat();
    let mut documents: Vec<(&str, Vec<u8>)> = vec![
        // Labels swapped: each body under the other's label.
        ("RSA PUBLIC KEY", spki(&good)),
        ("PUBLIC KEY", good.clone()),
        ("RSA PRIVATE KEY", good.clone()),
        ("CERTIFICATE", spki(&good)),
        // Algorithm parameters absent, not NULL, NULL with content; other algorithms.
        ("PUBLIC KEY", spki_with(&RSA_OID, 0, &good)),
        (
            "PUBLIC KEY",
            spki_with(&[&RSA_OID[..], &[0x04, 0x00]].concat(), 0, &good),
        ),
        (
            "PUBLIC KEY",
            spki_with(&[&RSA_OID[..], &[0x05, 0x01, 0x00]].concat(), 0, &good),
        ),
        ("PUBLIC KEY", {
            let mut pss = rsa_alg.clone();
            pss[10] = 0x0a; // 1.2.840.113549.1.1.10 (RSASSA-PSS)
            spki_with(&pss, 0, &good)
        }),
        (
            "PUBLIC KEY",
            spki_with(
                &[
                    0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x05, 0x00,
                ],
                0,
                &good,
            ),
        ),
        // BIT STRING with unused bits.
        ("PUBLIC KEY", spki_with(&rsa_alg, 1, &good)),
        // Negative modulus, non-minimal exponent, a third INTEGER, trailing bytes.
        (
            "RSA PUBLIC KEY",
            tlv(0x30, &[tlv(0x02, &n), uint(&E)].concat()),
        ),
        (
            "RSA PUBLIC KEY",
            tlv(0x30, &[uint(&n), tlv(0x02, &[0, 1, 0, 1])].concat()),
        ),
        (
            "RSA PUBLIC KEY",
            tlv(0x30, &[uint(&n), uint(&E), uint(&E)].concat()),
        ),
        ("RSA PUBLIC KEY", tlv(0x30, &[uint(&n)].concat())),
        ("RSA PUBLIC KEY", [good.clone(), vec![0]].concat()),
        ("PUBLIC KEY", spki(&[good.clone(), vec![0]].concat())),
        ("PUBLIC KEY", [spki(&good), vec![0, 0]].concat()),
        // Modulus and exponent swapped; an empty SEQUENCE; an empty document.
        ("RSA PUBLIC KEY", pkcs1(&E, &n)),
        ("RSA PUBLIC KEY", tlv(0x30, &[])),
        ("PUBLIC KEY", vec![]),
    ];
    // Non-minimal long-form length on the exponent; indefinite length on the outer
    // SEQUENCE (BER, with an end-of-contents marker).
    let mut long_len = good.clone();
    let at = long_len.len() - 5;
    long_len.splice(at.., [0x02, 0x81, 0x03, 1, 0, 1]);
    documents.push(("RSA PUBLIC KEY", tlv(0x30, &long_len[4..])));
    let mut indefinite = vec![0x30, 0x80];
    indefinite.extend_from_slice(&good[4..]);
    indefinite.extend([0, 0]);
    documents.push(("RSA PUBLIC KEY", indefinite));
    for (label, der) in documents {
        assert!(!agree(&pem(label, &der)), "{label} {der:02x?}");
    }
}

/// PEM-level variations of both forms (pem-rfc7468's strict grammar, the same 0.7 and
/// 1.0 decoder, behind both parsers).
#[test]
fn pem_variations_agree() {
    let key = RS256KeyPair::generate(2048).unwrap();
    let der = key.public_key().to_der().unwrap();
    let c = key.public_key().to_components();
    let bodies = [("PUBLIC KEY", der), ("RSA PUBLIC KEY", pkcs1(&c.n, &c.e))];
    let mut accepted = 0;
    for (label, der) in &bodies {
        let variants = pem_variants(label, der);
        for v in variants {
            accepted += usize::from(agree(&v));
        }
    }
    // Per form: LF or CRLF, with or without the final newline or surrounding whitespace,
    // and with text before BEGIN. Not: other line widths, headers, blank lines, text
    // after END, a broken label or base64.
    assert_eq!(accepted, 10);
}

/// Random DER mutations (byte changes, insertions, deletions, truncation; aimed at the
/// headers half the time) of both forms, under both labels: the parsers agree on all.
#[test]
fn random_mutations_agree() {
    let n = modulus(2048);
    let good = pkcs1(&n, &E);
    let forms = [("PUBLIC KEY", spki(&good)), ("RSA PUBLIC KEY", good)];
    let mut rng = Rng(99);
    let mut accepted = 0;
    for round in 0..3000 {
        let (label, der) = &forms[round % 2];
        let der = rng.mutate(der, 30);
        let label = if rng.below(10) == 0 {
            forms[(round + 1) % 2].0
        } else {
            label
        };
        accepted += usize::from(agree(&pem(label, &der)));
    }
    // Some mutations only change the modulus' value and stay valid.
    assert!(accepted > 0);
}
