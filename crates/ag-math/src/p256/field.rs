//! Arithmetic modulo the P-256 field prime p = 2^256 − 2^224 + 2^192 + 2^96 − 1 (point
//! coordinates), on nine signed limbs of 29 bits held in `i64`, in Montgomery form with
//! R = 2^261.
//!
//! Why this shape (the Ed25519 lesson, `crate::ed25519::field`): a limb product is one
//! native 64-bit multiply in wasm and a column of nine sums in an `i64` without carrying,
//! so a multiplication is 81 plain multiply-adds, nine reduction steps and one carry
//! pass — where 32-bit saturated limbs need a carry after every product. Montgomery
//! reduction is cheap here because p ≡ −1 mod 2^29: the factor for each step is the
//! column's own low 29 bits (no multiply), and adding that multiple of p is four shifted
//! additions (p's non-zero terms sit at fixed limb offsets).
//!
//! Bounds (all values signed): every operation returns limbs below 2^29 + 2^28 in
//! magnitude and |value| < 2^260. In [`Fe::mul`] and [`Fe::square`] a limb product is
//! then below 2^59.2 and a column of nine (with its reduction terms) below 2^62.4 — no
//! `i64` overflow; the result is (a·b + m·p)/2^261, below 2^259 + 2^256 in magnitude,
//! carried. Additions, subtractions and small multiples (below 2^263) are carried once
//! and what lies above 2^256 is folded back down (2^256 ≡ 2^224 − 2^192 − 2^96 + 1):
//! |value| < 2^257, the fold adding at most 2^28 to limbs 0, 3, 6 and 7. All inputs are
//! public (key, message, signature): nothing here is constant-time.

use super::scalar::{less_than, sub_borrow, Limbs};

const BITS: u32 = 29;
const MASK: i64 = (1 << BITS) - 1;

/// An element of GF(p) in Montgomery form (value·R mod p), not necessarily reduced.
#[derive(Clone, Copy, Debug)]
pub struct Fe([i64; 9]);

/// p as eight little-endian 32-bit limbs.
pub const P: Limbs = [
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
    0,
    0,
    0,
    1,
    0xffff_ffff,
];

/// R² mod p = 2^522 mod p, in 29-bit limbs: multiplying by it enters Montgomery form.
const R2: Fe = Fe([
    3072, 0, 536805376, 534773759, 532676607, 536870911, 536870911, 536870910, 19,
]);

/// 1 in Montgomery form (R mod p).
pub const ONE: Fe = Fe([
    32, 0, 0, 536854528, 536870911, 536870911, 528482303, 67108863, 0,
]);

pub const ZERO: Fe = Fe([0; 9]);

impl Fe {
    /// A value below p given as 32-bit limbs (callers check the bound), into Montgomery
    /// form.
    pub fn import(value: &Limbs) -> Fe {
        Fe::from_limbs(value).mul(&R2)
    }

    /// A 256-bit value as it is (not into Montgomery form), in 29-bit limbs.
    fn from_limbs(value: &Limbs) -> Fe {
        let mut limbs = [0i64; 9];
        for (i, limb) in limbs.iter_mut().enumerate() {
            *limb = bits(value, BITS * i as u32) & MASK;
        }
        Fe(limbs)
    }

    /// The value (still in Montgomery form) reduced below p, as 32-bit limbs: equal
    /// elements have equal encodings.
    fn canonical(&self) -> Limbs {
        // Two folds bring any value below 2^263 into [0, 2^256): the first leaves
        // −2^231 < v < 2^256 + 2^231, the second a multiple of 2^256 of at most ±1,
        // whose fold lands in range.
        let mut h = carry(self.0);
        for _ in 0..2 {
            h = carry(fold_top(h));
        }
        let mut packed: Limbs = [0; 8];
        for (i, &limb) in h.iter().enumerate() {
            put_bits(&mut packed, BITS * i as u32, limb as u64);
        }
        if less_than(&packed, &P) {
            packed
        } else {
            sub_borrow(&packed, &P).0
        }
    }

    pub fn is_zero(&self) -> bool {
        self.canonical() == [0; 8]
    }

    /// Whether both are the same element of GF(p).
    pub fn equals(&self, other: &Fe) -> bool {
        self.canonical() == other.canonical()
    }

    pub fn add(&self, other: &Fe) -> Fe {
        let mut h = self.0;
        for (a, b) in h.iter_mut().zip(other.0) {
            *a += b;
        }
        Fe(normalise(h))
    }

    pub fn sub(&self, other: &Fe) -> Fe {
        let mut h = self.0;
        for (a, b) in h.iter_mut().zip(other.0) {
            *a -= b;
        }
        Fe(normalise(h))
    }

    pub fn neg(&self) -> Fe {
        ZERO.sub(self)
    }

    /// k·self for 0 < k ≤ 8 (the formulas' 2·, 3·, 4·, 8·), in one pass.
    pub fn times(&self, k: i64) -> Fe {
        Fe(normalise(self.0.map(|limb| limb * k)))
    }

    /// self·other·R⁻¹: the product of two Montgomery forms in Montgomery form.
    /// Schoolbook columns written out (as loops V8 ran this kind of code 4× slower).
    pub fn mul(&self, other: &Fe) -> Fe {
        let [a0, a1, a2, a3, a4, a5, a6, a7, a8] = self.0;
        let [b0, b1, b2, b3, b4, b5, b6, b7, b8] = other.0;
        montgomery_reduce([
            a0 * b0,
            a0 * b1 + a1 * b0,
            a0 * b2 + a1 * b1 + a2 * b0,
            a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0,
            a0 * b4 + a1 * b3 + a2 * b2 + a3 * b1 + a4 * b0,
            a0 * b5 + a1 * b4 + a2 * b3 + a3 * b2 + a4 * b1 + a5 * b0,
            a0 * b6 + a1 * b5 + a2 * b4 + a3 * b3 + a4 * b2 + a5 * b1 + a6 * b0,
            a0 * b7 + a1 * b6 + a2 * b5 + a3 * b4 + a4 * b3 + a5 * b2 + a6 * b1 + a7 * b0,
            a0 * b8 + a1 * b7 + a2 * b6 + a3 * b5 + a4 * b4 + a5 * b3 + a6 * b2 + a7 * b1 + a8 * b0,
            a1 * b8 + a2 * b7 + a3 * b6 + a4 * b5 + a5 * b4 + a6 * b3 + a7 * b2 + a8 * b1,
            a2 * b8 + a3 * b7 + a4 * b6 + a5 * b5 + a6 * b4 + a7 * b3 + a8 * b2,
            a3 * b8 + a4 * b7 + a5 * b6 + a6 * b5 + a7 * b4 + a8 * b3,
            a4 * b8 + a5 * b7 + a6 * b6 + a7 * b5 + a8 * b4,
            a5 * b8 + a6 * b7 + a7 * b6 + a8 * b5,
            a6 * b8 + a7 * b7 + a8 * b6,
            a7 * b8 + a8 * b7,
            a8 * b8,
        ])
    }

    /// [`Fe::mul`] of self by itself, each cross product once and doubled: 45 limb
    /// products instead of 81 (a column holds at most four doubled products and one
    /// square: within the bound of `mul`'s nine).
    pub fn square(&self) -> Fe {
        let [a0, a1, a2, a3, a4, a5, a6, a7, a8] = self.0;
        let [d0, d1, d2, d3, d4, d5, d6, d7] = [a0, a1, a2, a3, a4, a5, a6, a7].map(|a| 2 * a);
        montgomery_reduce([
            a0 * a0,
            d0 * a1,
            d0 * a2 + a1 * a1,
            d0 * a3 + d1 * a2,
            d0 * a4 + d1 * a3 + a2 * a2,
            d0 * a5 + d1 * a4 + d2 * a3,
            d0 * a6 + d1 * a5 + d2 * a4 + a3 * a3,
            d0 * a7 + d1 * a6 + d2 * a5 + d3 * a4,
            d0 * a8 + d1 * a7 + d2 * a6 + d3 * a5 + a4 * a4,
            d1 * a8 + d2 * a7 + d3 * a6 + d4 * a5,
            d2 * a8 + d3 * a7 + d4 * a6 + a5 * a5,
            d3 * a8 + d4 * a7 + d5 * a6,
            d4 * a8 + d5 * a7 + a6 * a6,
            d5 * a8 + d6 * a7,
            d6 * a8 + a7 * a7,
            d7 * a8,
            a8 * a8,
        ])
    }

    /// self^(p−2) = self⁻¹ (Fermat); zero stays zero. Only for the per-key tables.
    pub fn invert(&self) -> Fe {
        self.pow(&sub_borrow(&P, &[2, 0, 0, 0, 0, 0, 0, 0]).0)
    }

    /// A square root, if there is one: p ≡ 3 (mod 4), so it is self^((p+1)/4). Only for
    /// reading compressed public keys.
    pub fn sqrt(&self) -> Option<Fe> {
        const P_PLUS_1_OVER_4: Limbs = [
            0,
            0,
            0x4000_0000,
            0,
            0,
            0x4000_0000,
            0xc000_0000,
            0x3fff_ffff,
        ];
        let root = self.pow(&P_PLUS_1_OVER_4);
        root.square().equals(self).then_some(root)
    }

    /// Whether the value (out of Montgomery form, reduced below p) is odd: the y a
    /// compressed point names.
    pub fn is_odd(&self) -> bool {
        let normal = self.mul(&Fe::from_limbs(&[1, 0, 0, 0, 0, 0, 0, 0]));
        normal.canonical()[0] & 1 == 1
    }

    /// self^exponent by square-and-multiply (variable-time: public values only).
    fn pow(&self, exponent: &Limbs) -> Fe {
        let mut acc = ONE;
        for limb in exponent.iter().rev() {
            for bit in (0..32).rev() {
                acc = acc.square();
                if (limb >> bit) & 1 == 1 {
                    acc = acc.mul(self);
                }
            }
        }
        acc
    }
}

/// The 17 product columns divided by R = 2^261 modulo p, carried. Step i adds m·p·2^(29i)
/// with m the low 29 bits of column i (−p⁻¹ ≡ 1 mod 2^29), which clears that column:
/// p's −1 takes m away (the column's carry is then exactly its arithmetic shift), and
/// its 2^96, 2^192, −2^224 and 2^256 land 3, 6, 7 and 8 limbs higher, 9, 18, 21 and 24
/// bits in. After nine steps the value sits in columns 9–16.
// Indices are a loop counter i < 9 plus constants ≤ 8 into 18 columns: in bounds.
#[allow(clippy::indexing_slicing)]
#[inline(always)]
fn montgomery_reduce(columns: [i64; 17]) -> Fe {
    let mut h = [0i64; 18];
    h[..17].copy_from_slice(&columns);
    for i in 0..9 {
        let m = h[i] & MASK;
        h[i + 1] += h[i] >> BITS;
        h[i + 3] += m << 9;
        h[i + 6] += m << 18;
        h[i + 7] -= m << 21;
        h[i + 8] += m << 24;
    }
    let [.., r0, r1, r2, r3, r4, r5, r6, r7, r8] = h;
    Fe(carry([r0, r1, r2, r3, r4, r5, r6, r7, r8]))
}

/// Limbs 0–7 carried into [0, 2^29); limb 8 keeps the rest, signed.
// Indices are a loop counter i < 8 and i + 1 into nine limbs: in bounds.
#[allow(clippy::indexing_slicing)]
#[inline(always)]
fn carry(mut h: [i64; 9]) -> [i64; 9] {
    for i in 0..8 {
        h[i + 1] += h[i] >> BITS;
        h[i] &= MASK;
    }
    h
}

/// The multiple of 2^256 above bit 256 (limb 8 from bit 24 on) replaced by the same
/// multiple of 2^224 − 2^192 − 2^96 + 1, which equals it modulo p.
fn fold_top(h: [i64; 9]) -> [i64; 9] {
    let [h0, h1, h2, h3, h4, h5, h6, h7, h8] = h;
    let top = h8 >> 24;
    [
        h0 + top,
        h1,
        h2,
        h3 - (top << 9),
        h4,
        h5,
        h6 - (top << 18),
        h7 + (top << 21),
        h8 - (top << 24),
    ]
}

/// Carried, then folded (see the module's bounds); no second carry is needed.
fn normalise(h: [i64; 9]) -> [i64; 9] {
    fold_top(carry(h))
}

/// Bits [position, position + 29) of a 256-bit value (zeros past its end).
fn bits(value: &Limbs, position: u32) -> i64 {
    let word = |i: u32| value.get(i as usize).map_or(0, |&limb| u64::from(limb));
    let (index, shift) = (position / 32, position % 32);
    let two_words = word(index) | (word(index + 1) << 32);
    (two_words >> shift) as i64
}

/// Ors `value` (below 2^29) in at bit `position` of a 256-bit value; bits past its end
/// are dropped (callers pass values below 2^256).
fn put_bits(out: &mut Limbs, position: u32, value: u64) {
    let (index, shift) = ((position / 32) as usize, position % 32);
    let shifted = value << shift;
    if let Some(low) = out.get_mut(index) {
        *low |= shifted as u32;
    }
    if let Some(high) = out.get_mut(index + 1) {
        *high |= (shifted >> 32) as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::super::scalar::random_below;
    use super::*;

    /// The plain value of an element (out of Montgomery form), reduced below p.
    fn value(a: &Fe) -> Limbs {
        let mut plain = [0i64; 9];
        plain[0] = 1;
        a.mul(&Fe(plain)).canonical()
    }

    /// Square roots: a square's root squares back to it and its parity is the plain
    /// value's; a non-residue (−1, as p ≡ 3 mod 4) has none.
    #[test]
    fn sqrt_and_parity() {
        let minus_one = Fe::import(&sub_borrow(&P, &[1, 0, 0, 0, 0, 0, 0, 0]).0);
        assert!(minus_one.sqrt().is_none());
        assert!(ZERO.sqrt().is_some_and(|r| r.is_zero()));
        for sample in samples() {
            let a = Fe::import(&sample);
            assert_eq!(a.is_odd(), value(&a)[0] & 1 == 1);
            let square = a.square();
            let root = square.sqrt().expect("a square has a root");
            assert!(root.square().equals(&square));
            assert!(root.equals(&a) || root.equals(&a.neg()));
            // −a is the other root, of the other parity (a ≠ 0).
            if !a.is_zero() {
                assert_ne!(a.is_odd(), a.neg().is_odd());
            }
            assert!(square.mul(&minus_one).sqrt().is_none() || square.is_zero());
        }
    }

    /// a + b mod p on 32-bit limbs (slow, obviously right).
    fn add_slow(a: &Limbs, b: &Limbs) -> Limbs {
        let mut sum = [0u32; 8];
        let mut carry = 0u64;
        for ((s, &x), &y) in sum.iter_mut().zip(a).zip(b) {
            let v = u64::from(x) + u64::from(y) + carry;
            *s = v as u32;
            carry = v >> 32;
        }
        if carry != 0 || !less_than(&sum, &P) {
            sum = sub_borrow(&sum, &P).0;
        }
        sum
    }

    /// a·b mod p by double-and-add (slow, obviously right).
    fn mul_slow(a: &Limbs, b: &Limbs) -> Limbs {
        let mut acc = [0u32; 8];
        for limb in b.iter().rev() {
            for bit in (0..32).rev() {
                acc = add_slow(&acc, &acc);
                if (limb >> bit) & 1 == 1 {
                    acc = add_slow(&acc, a);
                }
            }
        }
        acc
    }

    fn sub_slow(a: &Limbs, b: &Limbs) -> Limbs {
        let (diff, borrow) = sub_borrow(a, b);
        if borrow {
            // diff + p wraps past 2^256 back into [0, p).
            let minus_p = sub_borrow(&[0; 8], &P).0;
            sub_borrow(&diff, &minus_p).0
        } else {
            diff
        }
    }

    /// Edge values (0, 1, p−1, p−2, lone high bits, runs of ones) and random ones.
    fn samples() -> Vec<Limbs> {
        let p_minus = |k: u32| sub_borrow(&P, &[k, 0, 0, 0, 0, 0, 0, 0]).0;
        let mut values = vec![
            [0; 8],
            [1, 0, 0, 0, 0, 0, 0, 0],
            p_minus(1),
            p_minus(2),
            [0, 0, 0, 0, 0, 0, 0, 0x8000_0000],
            [u32::MAX, u32::MAX, u32::MAX, 0, 0, 0, 0, 0],
            [0, 0, 0, u32::MAX, u32::MAX, u32::MAX, 0, 0],
        ];
        values.extend(random_below(&P, 0x9e37_79b9_7f4a_7c15, 120));
        values
    }

    #[test]
    fn constants_are_right() {
        // R mod p doubled 261 more times is R² mod p; 1 doubled 261 times is R mod p.
        let mut r = [1u32, 0, 0, 0, 0, 0, 0, 0];
        for _ in 0..261 {
            r = add_slow(&r, &r);
        }
        assert_eq!(ONE.canonical(), r);
        let mut rr = r;
        for _ in 0..261 {
            rr = add_slow(&rr, &rr);
        }
        assert_eq!(R2.canonical(), rr);
        assert_eq!(value(&ONE), [1, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn operations_match_the_slow_ones() {
        let values = samples();
        for a in &values {
            let fa = Fe::import(a);
            assert_eq!(value(&fa), *a);
            assert_eq!(value(&fa.square()), mul_slow(a, a), "{a:x?}²");
            assert_eq!(value(&fa.times(8)), mul_slow(a, &[8, 0, 0, 0, 0, 0, 0, 0]));
            assert_eq!(value(&fa.neg()), sub_slow(&[0; 8], a));
            for b in values.iter().take(24) {
                let fb = Fe::import(b);
                assert_eq!(value(&fa.mul(&fb)), mul_slow(a, b), "{a:x?} · {b:x?}");
                assert_eq!(value(&fa.add(&fb)), add_slow(a, b));
                assert_eq!(value(&fa.sub(&fb)), sub_slow(a, b));
                assert_eq!(fa.equals(&fb), a == b);
            }
        }
    }

    /// The largest magnitudes the bounds allow, chained: sums of sums and negated
    /// products fed back into products stay right (overflow checks are on in tests).
    #[test]
    fn chained_extremes_stay_right() {
        let p_minus_1 = Fe::import(&sub_borrow(&P, &[1, 0, 0, 0, 0, 0, 0, 0]).0);
        let small = |k: u32| [k, 0, 0, 0, 0, 0, 0, 0];
        let mut x = p_minus_1;
        for round in 0..200 {
            let plain = value(&x);
            let y = x.times(8).sub(&x.square()).add(&x.neg().times(3));
            let expected = sub_slow(
                &sub_slow(&mul_slow(&plain, &small(8)), &mul_slow(&plain, &plain)),
                &mul_slow(&plain, &small(3)),
            );
            assert_eq!(value(&y), expected, "round {round}");
            x = y.mul(&p_minus_1);
            assert_eq!(value(&x), sub_slow(&[0; 8], &expected));
        }
    }

    /// Limbs at the edges of the bounds (the module's doc), both signs: products and
    /// squares neither overflow (overflow checks are on in tests) nor go wrong.
    #[test]
    fn extreme_limbs_multiply_right() {
        let big = 3 * (1 << 28) - 1;
        let extremes = [
            Fe([big, big, big, big, big, big, big, big, 1 << 27]),
            Fe([-big, -big, -big, -big, -big, -big, -big, -big, -(1 << 27)]),
            Fe([big, -big, big, -big, big, -big, big, -big, 1 << 27]),
            Fe([0, 0, 0, 0, 0, 0, 0, big, -(1 << 27)]),
        ];
        // The same element, fully reduced: the reference for each result.
        let tame = |a: &Fe| Fe::from_limbs(&a.canonical());
        for a in &extremes {
            assert!(a.square().equals(&tame(a).square()));
            for b in &extremes {
                assert!(a.mul(b).equals(&tame(a).mul(&tame(b))));
            }
            assert!(a.times(8).equals(&tame(a).times(8)));
            assert!(a
                .sub(&extremes[1])
                .equals(&tame(a).sub(&tame(&extremes[1]))));
        }
    }

    #[test]
    fn inverse_times_value_is_one() {
        for a in samples().iter().filter(|a| **a != [0; 8]) {
            let fa = Fe::import(a);
            assert!(fa.mul(&fa.invert()).equals(&ONE), "{a:x?}");
        }
        assert!(ZERO.invert().is_zero());
    }
}
