//! ECDSA P-256 / SHA-256 signature verification (ES256, RFC 7518 §3.4), SEC 1 §4.1.4.
//!
//! Why this exists: the `p256` crate (through jwt-simple) was the cost of a never-seen
//! ES256 token — ≈620 µs per verification in V8, 0.2× Envoy's native rate in
//! `make bench`, most of it 64-bit field arithmetic that wasm has to emulate. This is
//! the same verification with the coordinates on nine 29-bit limbs in `i64`
//! ([`field`]), cheaper (non-complete) Jacobian formulas and a per-key precomputed
//! table; checked against every Wycheproof P-256 vector and against jwt-simple on
//! random keys (`tests/es256_wycheproof.rs`).
//!
//! Scope: public-key operations only (key, message and signature are public), so it is
//! variable-time. High-s signatures are accepted, as ECDSA and jwt-simple do.

mod field;
mod point;
mod scalar;

use field::{Fe, P};
use point::{double_scalar_mul, Affine, Jacobian, Table};
use scalar::{checked_add, from_be_bytes, is_zero, less_than, Limbs, N};
use std::sync::OnceLock;

/// The curve constant b and the base point G (little-endian limbs, FIPS 186-4 D.1.2.3).
const B: Limbs = [
    0x27d2_604b,
    0x3bce_3c3e,
    0xcc53_b0f6,
    0x651d_06b0,
    0x7698_86bc,
    0xb3eb_bd55,
    0xaa3a_93e7,
    0x5ac6_35d8,
];
const GX: Limbs = [
    0xd898_c296,
    0xf4a1_3945,
    0x2deb_33a0,
    0x7703_7d81,
    0x63a4_40f2,
    0xf8bc_e6e5,
    0xe12c_4247,
    0x6b17_d1f2,
];
const GY: Limbs = [
    0x37bf_51f5,
    0xcbb6_4068,
    0x6b31_5ece,
    0x2bce_3357,
    0x7c0f_9e16,
    0x8ee7_eb4a,
    0xfe1a_7f9b,
    0x4fe3_42e2,
];

/// A P-256 public key, ready to verify: its odd multiples are computed once per key.
#[derive(Clone, Debug)]
pub struct PublicKey {
    /// Boxed: 1,152 bytes would make every key enum that holds one as large.
    table: Box<Table<KEY_TABLE>>,
}

/// Odd multiples kept per key (a width-5 NAF for u2)…
const KEY_TABLE: usize = 8;
/// …and for G, computed once per VM: 32 (width 7) spare a fifth of u1's additions.
const BASE_TABLE: usize = 32;
// The NAF width follows from a table's length (2^(w−2)).
const _: () = assert!(KEY_TABLE.is_power_of_two() && BASE_TABLE.is_power_of_two());

impl PublicKey {
    /// From a SEC 1 point, uncompressed (`04 ‖ x ‖ y`) or compressed (`02`/`03 ‖ x`, as
    /// PEM keys may hold). `None` unless the coordinates are below p and the point is on
    /// the curve (P-256 has cofactor 1: on the curve is in the group).
    pub fn from_sec1(bytes: &[u8]) -> Option<PublicKey> {
        let (&tag, coordinates) = bytes.split_first()?;
        let (x, y) = match (tag, coordinates.len()) {
            (0x04, 64) => {
                let (x, y) = coordinates.split_at(32);
                (coordinate(x)?, Some(coordinate(y)?))
            }
            (0x02 | 0x03, 32) => (coordinate(coordinates)?, None),
            _ => return None,
        };
        let y = match y {
            Some(y) => y,
            None => {
                // y² = x³ − 3x + b has a root or the point does not exist; the tag's
                // low bit names which of y and p − y.
                let root = curve_rhs(&x).sqrt()?;
                if root.is_odd() == (tag == 0x03) {
                    root
                } else {
                    root.neg()
                }
            }
        };
        let point = Affine { x, y };
        if !on_curve(&point) {
            return None;
        }
        Some(PublicKey {
            table: Box::new(Jacobian::from_affine(&point).odd_multiples()?),
        })
    }

    /// Verifies a JWS ES256 signature (`r ‖ s`, 32 bytes each) over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verify_digest(&hmac_sha256::Hash::hash(message), signature)
            .unwrap_or(false)
    }

    fn verify_digest(&self, digest: &[u8; 32], signature: &[u8]) -> Option<bool> {
        if signature.len() != 64 {
            return Some(false);
        }
        let (r, s) = signature.split_at(32);
        let r = from_be_bytes(r.try_into().ok()?);
        let s = from_be_bytes(s.try_into().ok()?);
        let in_range = |v: &Limbs| !is_zero(v) && less_than(v, &N.m);
        if !in_range(&r) || !in_range(&s) {
            return Some(false);
        }
        // The digest is exactly as long as n: it is the integer e, reduced once.
        let e = N.reduce_once(&from_be_bytes(digest));
        let s_inverse = N.import(&N.invert_vartime(&s)?); // s⁻¹·R
        let u1 = N.mul(&e, &s_inverse); // e·s⁻¹, out of Montgomery form
        let u2 = N.mul(&r, &s_inverse);
        // None: the sum is infinity, which has no x to match.
        let sum = double_scalar_mul(&u1, base_table()?, &u2, self.table.as_slice())?;
        Some(x_matches(&sum, &r))
    }
}

/// Whether the affine x of `point`, reduced mod n, equals r — without an inversion:
/// x = X/Z², and x mod n = r means x = r or x = r + n (x < p < 2n), so compare X with
/// r·Z² and, when r + n < p, with (r + n)·Z².
fn x_matches(point: &Jacobian, r: &Limbs) -> bool {
    let z2 = point.z.square();
    let matches = |candidate: &Limbs| Fe::import(candidate).mul(&z2).equals(&point.x);
    if matches(r) {
        return true;
    }
    checked_add(r, &N.m).is_some_and(|r_plus_n| less_than(&r_plus_n, &P) && matches(&r_plus_n))
}

/// A big-endian coordinate of 32 bytes, if below p, as a field element.
fn coordinate(bytes: &[u8]) -> Option<Fe> {
    let value = from_be_bytes(bytes.try_into().ok()?);
    less_than(&value, &P).then(|| Fe::import(&value))
}

/// x³ − 3x + b: y² for a point on the curve.
fn curve_rhs(x: &Fe) -> Fe {
    x.square().mul(x).sub(&x.times(3)).add(&Fe::import(&B))
}

fn on_curve(point: &Affine) -> bool {
    point.y.square().equals(&curve_rhs(&point.x))
}

/// G's odd multiples, computed once per VM (`None` never happens: G is a valid point).
fn base_table() -> Option<&'static Table<BASE_TABLE>> {
    static TABLE: OnceLock<Option<Table<BASE_TABLE>>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let g = Affine {
                x: Fe::import(&GX),
                y: Fe::import(&GY),
            };
            Jacobian::from_affine(&g).odd_multiples()
        })
        .as_ref()
}
