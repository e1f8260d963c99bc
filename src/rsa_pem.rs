//! RSA public keys in PEM, read without jwt-simple's RSA code.
//!
//! Why: `RS256PublicKey::from_pem` was the last use of jwt-simple's RSA (superboring, rsa,
//! num-bigint-dig) once RS* and PS* verify in `rsa_verify`/`rsa_pss`; keeping it linked
//! them all into the module. This reads the same two forms, with the same strict DER
//! decoder family (`der`/`spki` 0.8, which `curve_pem` uses too), and applies
//! the same key policy:
//!
//! - `-----BEGIN PUBLIC KEY-----`: SubjectPublicKeyInfo, algorithm rsaEncryption with
//!   NULL parameters (present and NULL, as the `rsa` crate required), a BIT STRING
//!   without unused bits holding the PKCS#1 key;
//! - `-----BEGIN RSA PUBLIC KEY-----`: the PKCS#1 `RSAPublicKey` itself
//!   (jwt-simple tried it when the SPKI form failed).
//!
//! Both: DER only (no BER), no trailing data, non-negative minimal INTEGERs, and then
//! `RsaPublicKey::new`'s policy (2048–4096 bits, odd n, e = 65537), which is
//! jwt-simple's. `tests/rsa_pem.rs` checks the acceptance against jwt-simple's parser.

use crate::rsa_verify::RsaPublicKey;
use spki::der::asn1::{AnyRef, UintRef};
use spki::der::{Decode, Document, Reader, SliceReader};
use spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

/// rsaEncryption (RFC 8017 Appendix C): the only SPKI algorithm of an RSA public key.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The modulus and exponent (big-endian, without leading zeros) of an RSA public key in
/// PEM, or `None` if it is not one of the two forms above or fails the key policy.
pub fn rsa_components_from_pem(pem: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    // jwt-simple trimmed surrounding whitespace before decoding; keep doing so.
    let (label, document) = Document::from_pem(pem.trim()).ok()?;
    let der = document.as_bytes();
    let pkcs1 = match label {
        "PUBLIC KEY" => pkcs1_from_spki(der)?,
        "RSA PUBLIC KEY" => der,
        _ => return None,
    };
    let mut reader = SliceReader::new(pkcs1).ok()?;
    let (n, e) = reader
        .sequence(|r| Ok::<_, spki::der::Error>((UintRef::decode(r)?, UintRef::decode(r)?)))
        .ok()?;
    reader.finish().ok()?;
    let (n, e) = (n.as_bytes(), e.as_bytes());
    RsaPublicKey::new(n, e)?;
    Some((n.to_vec(), e.to_vec()))
}

/// The PKCS#1 `RSAPublicKey` inside an rsaEncryption SubjectPublicKeyInfo.
fn pkcs1_from_spki(der: &[u8]) -> Option<&[u8]> {
    let spki = SubjectPublicKeyInfoRef::from_der(der).ok()?;
    let algorithm = spki.algorithm;
    if algorithm.oid != RSA_ENCRYPTION || algorithm.parameters != Some(AnyRef::NULL) {
        return None;
    }
    spki.subject_public_key.as_bytes()
}
