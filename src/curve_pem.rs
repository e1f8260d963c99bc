//! EC (P-256, P-384) and Ed25519 public keys in PEM, read without jwt-simple.
//!
//! Why: jwt-simple's `ES256PublicKey`/`ES384PublicKey`/`Ed25519PublicKey::from_pem` were
//! its last uses in the module, and they linked in the `p256` crate's field arithmetic
//! (at `opt-level = 3`, for point decompression) and ed25519-compact, which nothing else
//! runs: 77 KB of the module's 735 KB, and V8 compiles every byte at Envoy's start
//! (bench/README.md, "Memory"). This reads the same documents with the DER decoder
//! `rsa_pem` uses (`spki` 0.8, as those crates did) and the same checks:
//!
//! - label `PUBLIC KEY`, a SubjectPublicKeyInfo in DER with no trailing data, a BIT STRING
//!   without unused bits;
//! - EC: algorithm id-ecPublicKey whose parameters are the named curve prime256v1 or
//!   secp384r1; the key a SEC 1 point, uncompressed or compressed (tags 04, 02, 03: what
//!   RFC 5480 §2.2 allows; the RustCrypto crates also took the non-standard "compact"
//!   tag 05, refused here for both curves), on the curve;
//! - Ed25519: algorithm id-Ed25519 without parameters (RFC 8410 §3); 32 bytes that
//!   decode to a point not of small order (ed25519-compact's `validate`).
//!
//! Surrounding whitespace is trimmed first, as `rsa_pem` does. The PEM text follows RFC
//! 7468's strict grammar, as jwt-simple's EC parsers did; ed25519-compact's own reader
//! was laxer (other line widths, blank lines, text after `END`), so an Ed25519 key in
//! such a document is now refused. `tests/curve_pem.rs` checks the acceptance against
//! jwt-simple's parsers, with those two differences.

use ag_math::{ed25519, p256};
use spki::der::asn1::ObjectIdentifier;
use spki::der::{Decode, Document};
use spki::SubjectPublicKeyInfoRef;

/// id-ecPublicKey (RFC 5480 §2.1.1) and its two named curves we verify with.
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// id-Ed25519 (RFC 8410 §3).
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// A curve public key as the verifiers take it.
#[derive(Debug, PartialEq, Eq)]
pub enum CurveKey {
    /// A SEC 1 point (as in the document: uncompressed or compressed).
    P256(Vec<u8>),
    P384(Vec<u8>),
    Ed25519(Vec<u8>),
}

/// The key in `pem`, or `None` if it is not one of the forms above.
pub fn curve_key_from_pem(pem: &str) -> Option<CurveKey> {
    let (label, document) = Document::from_pem(pem.trim()).ok()?;
    if label != "PUBLIC KEY" {
        return None;
    }
    let spki = SubjectPublicKeyInfoRef::from_der(document.as_bytes()).ok()?;
    let key = spki.subject_public_key.as_bytes()?.to_vec();
    let algorithm = spki.algorithm;
    if algorithm.oid == ED25519 {
        let valid = algorithm.parameters.is_none()
            && ed25519::PublicKey::from_bytes(&key).is_some_and(|k| k.is_valid());
        return valid.then_some(CurveKey::Ed25519(key));
    }
    if algorithm.oid != EC_PUBLIC_KEY {
        return None;
    }
    let curve = algorithm.parameters_oid().ok()?;
    // SEC 1 compressed (02, 03) or uncompressed (04) only; see the module doc.
    if !matches!(key.first(), Some(0x02..=0x04)) {
        return None;
    }
    if curve == PRIME256V1 {
        p256::PublicKey::from_sec1(&key)?;
        Some(CurveKey::P256(key))
    } else if curve == SECP384R1 {
        p384::ecdsa::VerifyingKey::from_sec1_bytes(&key).ok()?;
        Some(CurveKey::P384(key))
    } else {
        None
    }
}
