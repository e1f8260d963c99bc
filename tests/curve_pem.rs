//! `curve_pem::curve_key_from_pem` accepts exactly the EC (P-256, P-384) and Ed25519 PEM
//! keys jwt-simple's `ES256PublicKey`/`ES384PublicKey`/`Ed25519PublicKey::from_pem`
//! accepted (on the trimmed document, as `rsa_pem` reads RSA ones), naming the same key:
//! generated keys in both point forms, hostile DER, PEM-level variations and random
//! mutations. Two differences, on purpose: Ed25519 PEM text is read by the same strict
//! grammar as the others, which ed25519-compact's reader was not
//! (`pem_variations_agree`), and the non-standard "compact" point form (tag 05) is refused
//! (`hostile_der_is_refused_by_both`). Also: `ag_math::p256` reads compressed points as
//! jwt-simple's `p256` does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod crypto_common;
use ag_math::p256;
use audience_guard::curve_pem::{curve_key_from_pem, CurveKey};
use crypto_common::{hex, pem, pem_variants, tlv, Rng};
use ct_codecs::{Base64UrlSafeNoPadding, Decoder};
use jwt_simple::prelude::*;

/// A key as both parsers can name it: the curve and its uncompressed point (P-256,
/// P-384) or its 32 bytes (Ed25519).
#[derive(Debug, PartialEq, Eq)]
enum Named {
    P256(Vec<u8>),
    P384(Vec<u8>),
    Ed25519(Vec<u8>),
}

/// What jwt-simple made of a PEM document (trimmed, as ours reads it).
fn theirs(pem: &str) -> Option<Named> {
    let pem = pem.trim();
    if let Ok(k) = ES256PublicKey::from_pem(pem) {
        return Some(Named::P256(k.public_key().to_bytes_uncompressed()));
    }
    if let Ok(k) = ES384PublicKey::from_pem(pem) {
        return Some(Named::P384(k.public_key().to_bytes_uncompressed()));
    }
    Ed25519PublicKey::from_pem(pem)
        .ok()
        .map(|k| Named::Ed25519(k.to_bytes()))
}

/// Ours, with a point put in uncompressed form (by jwt-simple, which read it too).
fn ours(pem: &str) -> Option<Named> {
    Some(match curve_key_from_pem(pem)? {
        CurveKey::P256(point) => Named::P256(
            ES256PublicKey::from_bytes(&point)
                .unwrap()
                .public_key()
                .to_bytes_uncompressed(),
        ),
        CurveKey::P384(point) => Named::P384(
            ES384PublicKey::from_bytes(&point)
                .unwrap()
                .public_key()
                .to_bytes_uncompressed(),
        ),
        CurveKey::Ed25519(raw) => Named::Ed25519(raw),
    })
}

/// Both parsers agree on `pem`; returns whether it was accepted.
#[track_caller]
fn agree(pem: &str) -> bool {
    let ours = ours(pem);
    assert_eq!(ours, theirs(pem), "{pem}");
    ours.is_some()
}

const EC_OID: [u8; 9] = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const P256_OID: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384_OID: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const SECP256K1_OID: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
const ED25519_OID: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];
const NULL: [u8; 2] = [0x05, 0x00];
/// The P-256 field prime, big-endian hex.
const P256_P: &str = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";

/// SubjectPublicKeyInfo with the given AlgorithmIdentifier contents, unused-bits byte
/// and key.
fn spki_with(algorithm: &[u8], unused_bits: u8, key: &[u8]) -> Vec<u8> {
    let bits = [&[unused_bits][..], key].concat();
    tlv(0x30, &[tlv(0x30, algorithm), tlv(0x03, &bits)].concat())
}

fn ec_spki(curve: &[u8], point: &[u8]) -> Vec<u8> {
    spki_with(&[&EC_OID[..], curve].concat(), 0, point)
}

/// One key of each kind, its points in both forms.
struct Keys {
    p256: ES256KeyPair,
    p384: ES384KeyPair,
    ed25519: Ed25519KeyPair,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            p256: ES256KeyPair::generate(),
            p384: ES384KeyPair::generate(),
            ed25519: Ed25519KeyPair::generate(),
        }
    }

    fn p256_points(&self) -> [Vec<u8>; 2] {
        let public = self.p256.public_key();
        [
            public.public_key().to_bytes_uncompressed(),
            public.to_bytes(),
        ]
    }

    fn p384_points(&self) -> [Vec<u8>; 2] {
        let public = self.p384.public_key();
        [
            public.public_key().to_bytes_uncompressed(),
            public.to_bytes(),
        ]
    }

    fn ed25519_raw(&self) -> Vec<u8> {
        self.ed25519.public_key().to_bytes()
    }

    /// Every well-formed document: both point forms of the EC keys, and Ed25519.
    fn documents(&self) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = self
            .p256_points()
            .iter()
            .map(|p| ec_spki(&P256_OID, p))
            .collect();
        out.extend(self.p384_points().iter().map(|p| ec_spki(&P384_OID, p)));
        out.push(spki_with(&ED25519_OID, 0, &self.ed25519_raw()));
        out
    }
}

#[test]
fn generated_keys_in_both_point_forms_agree() {
    for _ in 0..20 {
        let keys = Keys::new();
        // jwt-simple's own PEM export, and every form built here.
        let exported = [
            keys.p256.public_key().to_pem().unwrap(),
            keys.p384.public_key().to_pem().unwrap(),
            keys.ed25519.public_key().to_pem(),
        ];
        for document in exported {
            assert!(agree(&document));
        }
        for der in keys.documents() {
            assert!(agree(&pem("PUBLIC KEY", &der)));
        }
    }
}

#[test]
fn hostile_der_is_refused_by_both() {
    let keys = Keys::new();
    let [p256_point, p256_compressed] = keys.p256_points();
    let [p384_point, _] = keys.p384_points();
    let raw = keys.ed25519_raw();
    let mut off_curve = p256_point.clone();
    off_curve[64] ^= 1;
    let mut wrong_tag = p256_point.clone();
    wrong_tag[0] = 0x06;
    let [_, p384_compressed] = keys.p384_points();
    // The "compact" form (tag 05, x only) the RustCrypto crates also read; RFC 5480
    // allows 02, 03 and 04 only.
    let compact = |compressed: &[u8]| [&[0x05][..], &compressed[1..]].concat();
    let mut flipped_parity = p256_compressed.clone();
    flipped_parity[0] ^= 1; // the other y: still on the curve, another key — see below
    let documents: Vec<(&str, Vec<u8>)> = vec![
        // Labels: other than PUBLIC KEY.
        ("EC PUBLIC KEY", ec_spki(&P256_OID, &p256_point)),
        ("CERTIFICATE", ec_spki(&P256_OID, &p256_point)),
        ("RSA PUBLIC KEY", ec_spki(&P256_OID, &p256_point)),
        // Curve parameters absent, NULL, another curve, swapped; the point for the other
        // curve.
        ("PUBLIC KEY", spki_with(&EC_OID, 0, &p256_point)),
        ("PUBLIC KEY", ec_spki(&NULL, &p256_point)),
        ("PUBLIC KEY", ec_spki(&SECP256K1_OID, &p256_point)),
        ("PUBLIC KEY", ec_spki(&P384_OID, &p256_point)),
        ("PUBLIC KEY", ec_spki(&P256_OID, &p384_point)),
        // The point: off the curve, wrong tag, truncated, the identity, empty, hybrid.
        ("PUBLIC KEY", ec_spki(&P256_OID, &off_curve)),
        ("PUBLIC KEY", ec_spki(&P256_OID, &wrong_tag)),
        ("PUBLIC KEY", ec_spki(&P256_OID, &p256_point[..64])),
        ("PUBLIC KEY", ec_spki(&P256_OID, &p256_compressed[..32])),
        ("PUBLIC KEY", ec_spki(&P256_OID, &[0])),
        ("PUBLIC KEY", ec_spki(&P256_OID, &[])),
        (
            "PUBLIC KEY",
            ec_spki(&P256_OID, &{
                let mut hybrid = p256_point.clone();
                hybrid[0] = 0x06 | (p256_point[64] & 1);
                hybrid
            }),
        ),
        // BIT STRING with unused bits; trailing bytes inside and after.
        (
            "PUBLIC KEY",
            spki_with(&[&EC_OID[..], &P256_OID].concat(), 1, &p256_point),
        ),
        (
            "PUBLIC KEY",
            [ec_spki(&P256_OID, &p256_point), vec![0]].concat(),
        ),
        (
            "PUBLIC KEY",
            spki_with(&[&EC_OID[..], &P256_OID, &NULL].concat(), 0, &p256_point),
        ),
        // Ed25519: parameters present, wrong length, a small-order point (the identity),
        // a non-point, the OID with an EC point.
        (
            "PUBLIC KEY",
            spki_with(&[&ED25519_OID[..], &NULL].concat(), 0, &raw),
        ),
        ("PUBLIC KEY", spki_with(&ED25519_OID, 0, &raw[..31])),
        (
            "PUBLIC KEY",
            spki_with(&ED25519_OID, 0, &[raw.clone(), vec![0]].concat()),
        ),
        (
            "PUBLIC KEY",
            spki_with(&ED25519_OID, 0, &{
                let mut identity = [0u8; 32];
                identity[0] = 1;
                identity
            }),
        ),
        ("PUBLIC KEY", spki_with(&ED25519_OID, 0, &[0xff; 32])),
        ("PUBLIC KEY", spki_with(&ED25519_OID, 0, &p256_compressed)),
        // Empty and truncated documents.
        ("PUBLIC KEY", vec![]),
        ("PUBLIC KEY", ec_spki(&P256_OID, &p256_point)[..40].to_vec()),
    ];
    for (label, der) in documents {
        assert!(!agree(&pem(label, &der)), "{label} {der:02x?}");
    }
    // Compact points: jwt-simple's crates read them, we do not (for either curve).
    for der in [
        ec_spki(&P256_OID, &compact(&p256_compressed)),
        ec_spki(&P384_OID, &compact(&p384_compressed)),
    ] {
        let document = pem("PUBLIC KEY", &der);
        assert!(theirs(&document).is_some(), "{document}");
        assert_eq!(curve_key_from_pem(&document), None, "{document}");
    }
    // The other parity names a valid key, but not this one: both read it, the same way.
    assert!(agree(&pem(
        "PUBLIC KEY",
        &ec_spki(&P256_OID, &flipped_parity)
    )));
    assert_ne!(
        ours(&pem("PUBLIC KEY", &ec_spki(&P256_OID, &flipped_parity))),
        ours(&pem("PUBLIC KEY", &ec_spki(&P256_OID, &p256_compressed)))
    );
}

/// The PEM grammar is RFC 7468's strict one (pem-rfc7468, as for RSA keys, and behind
/// jwt-simple's EC parsers). ed25519-compact's own reader was laxer — other line widths,
/// blank lines, spaces, text after END — so for Ed25519 ours accepts a subset: every
/// document it accepts, it reads as ed25519-compact did.
#[test]
fn pem_variations_agree() {
    let keys = Keys::new();
    let documents = keys.documents();
    let (ed25519, ec) = documents.split_last().unwrap();
    let mut accepted = 0;
    for der in ec {
        for variant in pem_variants("PUBLIC KEY", der) {
            accepted += usize::from(agree(&variant));
        }
    }
    // Per document, as for RSA keys: LF or CRLF, with or without the final newline or
    // surrounding whitespace, and with text before BEGIN.
    assert_eq!(accepted, 4 * 5);
    let mut accepted = 0;
    for variant in pem_variants("PUBLIC KEY", ed25519) {
        if let Some(key) = ours(&variant) {
            assert_eq!(Some(key), theirs(&variant), "{variant}");
            accepted += 1;
        }
    }
    // The same five, and two more that are the same document: its 60 base64 characters
    // fit one line, so the 76- and 10,000-character widths change nothing.
    assert_eq!(accepted, 7);
}

/// Random DER mutations (aimed at the headers half the time) of every form: the parsers
/// agree on all.
#[test]
fn random_mutations_agree() {
    let keys = Keys::new();
    let documents = keys.documents();
    let mut rng = Rng(7);
    let mut accepted = 0;
    for round in 0..3000 {
        let der = rng.mutate(&documents[round % documents.len()], 25);
        accepted += usize::from(agree(&pem("PUBLIC KEY", &der)));
    }
    // Some mutations leave another valid key (an Ed25519 byte, a compressed x).
    assert!(accepted > 0);
}

/// `ag_math::p256` decompresses as the `p256` crate does: random x with either tag,
/// accepted for the same x, and a decompressed key verifies what its signer signed.
#[test]
fn compressed_p256_points_match_the_p256_crate() {
    let mut rng = Rng(11);
    let mut on_curve = 0;
    for round in 0..400 {
        let mut point = vec![0x02 | (round & 1) as u8];
        point.extend((0..32).map(|_| rng.next() as u8));
        let theirs = ES256PublicKey::from_bytes(&point).ok();
        assert_eq!(
            p256::PublicKey::from_sec1(&point).is_some(),
            theirs.is_some()
        );
        on_curve += usize::from(theirs.is_some());
    }
    // About half of all x are on the curve.
    assert!((120..280).contains(&on_curve), "{on_curve}");
    // x = p: reduced, it would be 0, whose y² = b has a root, so only the bound refuses it.
    let mut unreduced = vec![0x02];
    unreduced.extend(hex(P256_P));
    assert!(p256::PublicKey::from_sec1(&unreduced).is_none());
    let mut zero = vec![0x02];
    zero.extend([0; 32]);
    assert!(p256::PublicKey::from_sec1(&zero).is_some());

    for _ in 0..10 {
        let pair = ES256KeyPair::generate();
        let token = pair.sign(Claims::create(Duration::from_hours(1))).unwrap();
        let (input, signature) = token.rsplit_once('.').unwrap();
        let signature = Base64UrlSafeNoPadding::decode_to_vec(signature, None).unwrap();
        let compressed = pair.public_key().to_bytes();
        let key = p256::PublicKey::from_sec1(&compressed).unwrap();
        assert!(key.verify(input.as_bytes(), &signature));
        let mut other = compressed.clone();
        other[0] ^= 1;
        let other = p256::PublicKey::from_sec1(&other).unwrap();
        assert!(!other.verify(input.as_bytes(), &signature));
    }
}
