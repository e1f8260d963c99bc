//! Ed25519 signature verification (JWS `EdDSA`, RFC 8037; RFC 8032 §5.1.7).
//!
//! Why this exists: ed25519-compact's verification was the cost of a never-seen EdDSA
//! token (≈310 µs in Node's V8, 0.37× Envoy's native rate in `make bench`), mostly its
//! 64-bit field arithmetic, which wasm has to emulate. This is the same verification on
//! 32-bit-friendly limbs ([`field`]) with the key's multiples computed once per key.
//! It gives ed25519-compact's answers exactly, checked on every Wycheproof Ed25519
//! vector and against ed25519-compact on random and mutated signatures
//! (`tests/ed25519_wycheproof.rs`): S must be below L; the key and R must decode
//! (canonical y, a square root, no "−0"); a key of small order verifies nothing; and
//! the check is cofactored, 8·(S·B − k·A − R) = 0.
//!
//! Public-key operations only (key, message and signature are public): variable-time.

mod field;
mod point;
mod scalar;

use point::{double_scalar_mul, Extended, Table};
use std::sync::OnceLock;

/// The base point's encoding (y = 4/5, x even).
const BASE: [u8; 32] = [
    0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
];

/// An Ed25519 public key, ready to verify.
#[derive(Clone, Debug)]
pub struct PublicKey {
    encoded: [u8; 32],
    /// −A's odd multiples; `None` for bytes that are no point, or a point of small
    /// order: such a key verifies no signature (as ed25519-compact refuses it then).
    /// Boxed: 2.5 KB would make every key enum that holds one as large.
    minus_a: Option<Box<Table>>,
}

impl PublicKey {
    /// From the key's 32 bytes (JWK `x`); `None` for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Option<PublicKey> {
        let encoded: [u8; 32] = bytes.try_into().ok()?;
        let minus_a = Extended::decode_negated(&encoded)
            .filter(|point| !point.has_small_order())
            .map(|point| Box::new(point.odd_multiples()));
        Some(PublicKey { encoded, minus_a })
    }

    /// Whether the bytes are a point of the curve and not of small order: the keys
    /// ed25519-compact's `validate` accepts (the others verify nothing).
    pub fn is_valid(&self) -> bool {
        self.minus_a.is_some()
    }

    /// Verifies a signature (`R ‖ S`, 32 bytes each) over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.check(message, signature).unwrap_or(false)
    }

    fn check(&self, message: &[u8], signature: &[u8]) -> Option<bool> {
        let signature: &[u8; 64] = signature.try_into().ok()?;
        let (r, s) = signature.split_at(32);
        let (r, s): (&[u8; 32], &[u8; 32]) = (r.try_into().ok()?, s.try_into().ok()?);
        if !scalar::is_canonical(s) {
            return Some(false);
        }
        let minus_a = self.minus_a.as_deref()?;
        let minus_r = Extended::decode_negated(r)?;
        let mut hash = hmac_sha512::Hash::new();
        hash.update(r);
        hash.update(self.encoded);
        hash.update(message);
        let k = scalar::reduce_wide(&hash.finalize());
        // S·B − k·A, then − R: a valid signature leaves a point of small order (0 when
        // the signer's R had no torsion component).
        let sb_minus_ka = double_scalar_mul(&k, minus_a, s, base_table()?);
        Some(sb_minus_ka.add(&minus_r).has_small_order())
    }
}

/// B's odd multiples, computed once per VM (`None` never happens: B is a valid point).
fn base_table() -> Option<&'static Table> {
    static TABLE: OnceLock<Option<Table>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            Extended::decode_negated(&BASE).map(|minus_b| minus_b.negate().odd_multiples())
        })
        .as_ref()
}
