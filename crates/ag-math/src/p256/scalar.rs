//! Arithmetic modulo the P-256 group order n (signature scalars), on eight little-endian
//! `u32` limbs in Montgomery form (R = 2^256), plus the 256-bit helpers both moduli use.
//!
//! 32-bit limbs because every limb product is then one native `u32 × u32 → u64`
//! multiply in wasm. A verification does only a handful of these operations (one
//! inversion, two products), so this stays generic Montgomery (`crate::montgomery`);
//! the coordinates, where the time goes, have their own field ([`super::field`]). All
//! inputs are public (key, message, signature): nothing here is constant-time.

pub use crate::montgomery::less_than;
use crate::montgomery::mont_mul;

/// Eight little-endian 32-bit limbs.
pub type Limbs = [u32; 8];

/// An odd 256-bit modulus with its Montgomery constants.
pub struct Modulus {
    pub m: Limbs,
    /// -m⁻¹ mod 2^32.
    m0inv: u32,
    /// R² mod m: multiplying by it moves a value into Montgomery form.
    rr: Limbs,
}

/// The group order n.
pub const N: Modulus = Modulus {
    m: [
        0xfc63_2551,
        0xf3b9_cac2,
        0xa717_9e84,
        0xbce6_faad,
        0xffff_ffff,
        0xffff_ffff,
        0,
        0xffff_ffff,
    ],
    m0inv: 0xee00_bc4f,
    rr: [
        0xbe79_eea2,
        0x8324_4c95,
        0x49bd_6fa6,
        0x4699_799c,
        0x2b6b_ec59,
        0x2845_b239,
        0xf3d9_5620,
        0x66e1_2d94,
    ],
};

/// 32 big-endian bytes → limbs (the value may be ≥ m; callers check).
pub fn from_be_bytes(bytes: &[u8; 32]) -> Limbs {
    let mut out = [0u32; 8];
    for (limb, chunk) in out.iter_mut().zip(bytes.rchunks_exact(4)) {
        *limb = chunk
            .iter()
            .fold(0u32, |acc, &byte| (acc << 8) | u32::from(byte));
    }
    out
}

pub fn is_zero(a: &Limbs) -> bool {
    a.iter().all(|&limb| limb == 0)
}

/// a + b as 256 bits, and whether it carried out.
fn add_carry(a: &Limbs, b: &Limbs) -> (Limbs, bool) {
    let mut out = [0u32; 8];
    let mut carry = 0u64;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        let v = u64::from(x) + u64::from(y) + carry;
        *o = v as u32;
        carry = v >> 32;
    }
    (out, carry != 0)
}

/// a + b, or `None` if it does not fit in 256 bits.
pub fn checked_add(a: &Limbs, b: &Limbs) -> Option<Limbs> {
    match add_carry(a, b) {
        (sum, false) => Some(sum),
        (_, true) => None,
    }
}

/// (top·2^256 + a) / 2: a shifted right by one bit, `top` coming in as the high bit.
fn shift_right(a: &Limbs, top: bool) -> Limbs {
    let mut out = [0u32; 8];
    let mut high_bit = u32::from(top);
    for (o, &limb) in out.iter_mut().zip(a).rev() {
        *o = (limb >> 1) | (high_bit << 31);
        high_bit = limb & 1;
    }
    out
}

/// a − b mod 2^256, and whether it borrowed.
pub(super) fn sub_borrow(a: &Limbs, b: &Limbs) -> (Limbs, bool) {
    let mut out = [0u32; 8];
    let mut borrow = 0u64;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        let d = u64::from(x).wrapping_sub(u64::from(y)).wrapping_sub(borrow);
        *o = d as u32;
        borrow = d >> 63;
    }
    (out, borrow != 0)
}

impl Modulus {
    /// a − b mod m, for a, b < m.
    fn sub(&self, a: &Limbs, b: &Limbs) -> Limbs {
        let (diff, borrow) = sub_borrow(a, b);
        if borrow {
            add_carry(&diff, &self.m).0
        } else {
            diff
        }
    }

    /// a·b·R⁻¹ mod m: the Montgomery product (a, b < m).
    pub fn mul(&self, a: &Limbs, b: &Limbs) -> Limbs {
        let mut out = [0u32; 8];
        mont_mul(&mut out, a, b, &self.m, self.m0inv);
        out
    }

    /// a mod m (a may be any 256-bit value), into Montgomery form.
    pub fn import(&self, a: &Limbs) -> Limbs {
        self.mul(&self.reduce_once(a), &self.rr)
    }

    /// a mod m for a < 2^256 (both moduli exceed 2^255, so one subtraction does).
    pub fn reduce_once(&self, a: &Limbs) -> Limbs {
        if less_than(a, &self.m) {
            *a
        } else {
            sub_borrow(a, &self.m).0
        }
    }

    /// a⁻¹ mod m for a plain 0 < a < m (not in Montgomery form), by the binary extended
    /// Euclidean algorithm: a few hundred shifts and subtractions instead of Fermat's
    /// ~380 multiplications. Variable-time (the inputs are public). `None` for a = 0 or
    /// a not invertible — never for a prime m and 0 < a < m.
    pub fn invert_vartime(&self, a: &Limbs) -> Option<Limbs> {
        let one: Limbs = [1, 0, 0, 0, 0, 0, 0, 0];
        if is_zero(a) || !less_than(a, &self.m) {
            return None;
        }
        // Invariants: x1·a ≡ u and x2·a ≡ v (mod m); gcd(u, v) = gcd(a, m).
        let (mut u, mut v) = (*a, self.m);
        let (mut x1, mut x2) = (one, [0u32; 8]);
        // Each round removes at least one bit from u or v: 2·256 rounds suffice.
        for _ in 0..2 * 256 + 2 {
            if u == one {
                return Some(x1);
            }
            if v == one {
                return Some(x2);
            }
            if is_zero(&u) || is_zero(&v) {
                return None; // gcd > 1
            }
            while u[0] & 1 == 0 {
                u = shift_right(&u, false);
                x1 = self.half(&x1);
            }
            while v[0] & 1 == 0 {
                v = shift_right(&v, false);
                x2 = self.half(&x2);
            }
            if less_than(&u, &v) {
                v = sub_borrow(&v, &u).0;
                x2 = self.sub(&x2, &x1);
            } else {
                u = sub_borrow(&u, &v).0;
                x1 = self.sub(&x1, &x2);
            }
        }
        None
    }

    /// x/2 mod m for x < m (m odd): x/2 when x is even, (x + m)/2 otherwise.
    fn half(&self, x: &Limbs) -> Limbs {
        if x[0] & 1 == 0 {
            shift_right(x, false)
        } else {
            let (sum, carry) = add_carry(x, &self.m);
            shift_right(&sum, carry)
        }
    }
}

/// `count` reproducible pseudo-random values below `bound` (any 256-bit bound above
/// 2^255; xorshift: every limb covered), for the arithmetic tests.
#[cfg(test)]
pub(super) fn random_below(bound: &Limbs, seed: u64, count: usize) -> Vec<Limbs> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            let mut v = [0u32; 8];
            for limb in v.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *limb = state as u32;
            }
            if less_than(&v, bound) {
                v
            } else {
                sub_borrow(&v, bound).0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// a + b mod n, for a, b < n.
    fn add(a: &Limbs, b: &Limbs) -> Limbs {
        match add_carry(a, b) {
            (sum, false) if less_than(&sum, &N.m) => sum,
            (sum, _) => sub_borrow(&sum, &N.m).0,
        }
    }

    /// a⁻¹·R for a in Montgomery form, by Fermat: a^(n−2).
    fn invert_fermat(a: &Limbs) -> Limbs {
        let exponent = sub_borrow(&N.m, &[2, 0, 0, 0, 0, 0, 0, 0]).0;
        let mut acc = N.import(&[1, 0, 0, 0, 0, 0, 0, 0]);
        for limb in exponent.iter().rev() {
            for bit in (0..32).rev() {
                acc = N.mul(&acc, &acc);
                if (limb >> bit) & 1 == 1 {
                    acc = N.mul(&acc, a);
                }
            }
        }
        acc
    }

    /// n's hard-coded Montgomery constants, recomputed: n·m0inv ≡ −1 mod 2^32, and
    /// R² mod n from 1 doubled 512 times.
    #[test]
    fn constants_are_right() {
        assert_eq!(N.m[0].wrapping_mul(N.m0inv), u32::MAX);
        let mut x = [1, 0, 0, 0, 0, 0, 0, 0];
        for _ in 0..512 {
            x = add(&x, &x);
        }
        assert_eq!(x, N.rr);
    }

    #[test]
    fn binary_inverse_matches_fermat() {
        let one = [1, 0, 0, 0, 0, 0, 0, 0];
        let n_minus = |k: u32| sub_borrow(&N.m, &[k, 0, 0, 0, 0, 0, 0, 0]).0;
        let mut values = vec![one, [2, 0, 0, 0, 0, 0, 0, 0], n_minus(1), n_minus(2)];
        values.extend(random_below(&N.m, 0x2545_f491_4f6c_dd1d, 200));
        for a in values.iter().filter(|a| !is_zero(a)) {
            let fermat = invert_fermat(&N.import(a)); // a⁻¹·R
            let binary = N.import(&N.invert_vartime(a).unwrap()); // a⁻¹·R
            assert_eq!(binary, fermat, "{a:x?}");
            assert_eq!(N.mul(&N.import(a), &fermat), N.import(&one));
        }
        assert_eq!(N.invert_vartime(&[0; 8]), None);
        assert_eq!(N.invert_vartime(&N.m), None);
    }
}
