//! Arithmetic modulo p = 2^255 − 19 on ten limbs of 26 and 25 bits alternately
//! (radix 2^25.5, as in the reference "ref10" code), held in `i64`.
//!
//! Why this radix: a limb product is one native 64-bit multiply in wasm and a whole
//! column of them sums in an `i64` without carrying, so a multiplication is 100 plain
//! multiply-adds and one carry pass. ed25519-compact's 64-bit limbs need an emulated
//! 128-bit product for each of theirs.
//!
//! Bounds: every operation returns limbs carried into [0, 2^26) (even positions) and
//! [0, 2^25) (odd), except that the lowest two may be off by a few units (the last
//! carry's wrap-around). Inputs to [`Fe::mul`] therefore stay below 2^26 + 2^6 in
//! magnitude: a product is below 2^52.1, times 2·19 below 2^57.4, and a column of ten
//! below 2^61 — no `i64` overflow anywhere.

/// An element of GF(2^255 − 19), not necessarily reduced below p.
#[derive(Clone, Copy, Debug)]
pub struct Fe(pub [i64; 10]);

/// Bits per limb: 26 at even positions, 25 at odd ones.
const fn width(i: usize) -> u32 {
    if i % 2 == 0 {
        26
    } else {
        25
    }
}

pub const ZERO: Fe = Fe([0; 10]);
pub const ONE: Fe = Fe([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
/// d = −121665/121666, the curve constant.
pub const D: Fe = Fe([
    56195235, 13857412, 51736253, 6949390, 114729, 24766616, 60832955, 30306712, 48412415, 21499315,
]);
/// 2·d.
pub const D2: Fe = Fe([
    45281625, 27714825, 36363642, 13898781, 229458, 15978800, 54557047, 27058993, 29715967, 9444199,
]);
/// √−1 = 2^((p−1)/4).
pub const SQRT_M1: Fe = Fe([
    34513072, 25610706, 9377949, 3500415, 12389472, 33281959, 41962654, 31548777, 326685, 11406482,
]);

impl Fe {
    /// From 32 little-endian bytes, the top bit ignored (RFC 8032 §5.1.3); the value
    /// may be ≥ p (callers that must reject that check [`is_canonical`]).
    pub fn from_bytes(bytes: &[u8; 32]) -> Fe {
        let mut value = [0u64; 4];
        for (word, chunk) in value.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *word = u64::from_le_bytes(b);
        }
        let mut limbs = [0i64; 10];
        let mut position = 0u32;
        for (i, limb) in limbs.iter_mut().enumerate() {
            *limb = bits(&value, position, width(i)) as i64;
            position += width(i);
        }
        Fe(limbs)
    }

    /// The canonical 32-byte encoding (value reduced below p).
    pub fn to_bytes(self) -> [u8; 32] {
        let h = self.reduced();
        let mut value = [0u64; 4];
        let mut position = 0u32;
        for (i, &limb) in h.iter().enumerate() {
            put_bits(&mut value, position, limb as u64);
            position += width(i);
        }
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(8).zip(value) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// Limbs of the value reduced below p, each within its width: the reference code's
    /// `fe_tobytes`. q = ⌊(h + 19)/2^255⌋ is 0 or 1 for carried h, and h − q·p is the
    /// answer; subtracting p is adding 19 and dropping 2^255.
    // Indices are loop counters over the fixed ten limbs: in bounds.
    #[allow(clippy::indexing_slicing)]
    fn reduced(&self) -> [i64; 10] {
        let mut h = carry(self.0);
        let mut q = (19 * h[9] + (1 << 24)) >> 25;
        for (i, &limb) in h.iter().enumerate() {
            q = (limb + q) >> width(i);
        }
        h[0] += 19 * q;
        for i in 0..10 {
            let c = h[i] >> width(i);
            h[i] -= c << width(i);
            if let Some(next) = h.get_mut(i + 1) {
                *next += c;
            }
        }
        h
    }

    pub fn is_zero(&self) -> bool {
        self.to_bytes() == [0; 32]
    }

    /// Whether the canonical encoding's lowest bit (x's "sign", RFC 8032) is set.
    pub fn is_negative(&self) -> bool {
        self.to_bytes()[0] & 1 == 1
    }

    pub fn add(&self, other: &Fe) -> Fe {
        let mut h = self.0;
        for (a, b) in h.iter_mut().zip(other.0) {
            *a += b;
        }
        Fe(carry(h))
    }

    pub fn sub(&self, other: &Fe) -> Fe {
        let mut h = self.0;
        for (a, b) in h.iter_mut().zip(other.0) {
            *a -= b;
        }
        Fe(carry(h))
    }

    pub fn neg(&self) -> Fe {
        ZERO.sub(self)
    }

    /// Schoolbook product (written out, as the reference code has it): limb i·j lands
    /// at position i + j, where 2^(25.5·(i+j)) needs a factor 2 when both i and j are
    /// odd (two half bits short), and positions from 10 on wrap to i + j − 10 times 19
    /// (2^255 ≡ 19).
    pub fn mul(&self, other: &Fe) -> Fe {
        let [f0, f1, f2, f3, f4, f5, f6, f7, f8, f9] = self.0;
        let [g0, g1, g2, g3, g4, g5, g6, g7, g8, g9] = other.0;
        let f1_2 = 2 * f1;
        let f3_2 = 2 * f3;
        let f5_2 = 2 * f5;
        let f7_2 = 2 * f7;
        let f9_2 = 2 * f9;
        let g1_19 = 19 * g1;
        let g2_19 = 19 * g2;
        let g3_19 = 19 * g3;
        let g4_19 = 19 * g4;
        let g5_19 = 19 * g5;
        let g6_19 = 19 * g6;
        let g7_19 = 19 * g7;
        let g8_19 = 19 * g8;
        let g9_19 = 19 * g9;
        let h0 = f0 * g0
            + f1_2 * g9_19
            + f2 * g8_19
            + f3_2 * g7_19
            + f4 * g6_19
            + f5_2 * g5_19
            + f6 * g4_19
            + f7_2 * g3_19
            + f8 * g2_19
            + f9_2 * g1_19;
        let h1 = f0 * g1
            + f1 * g0
            + f2 * g9_19
            + f3 * g8_19
            + f4 * g7_19
            + f5 * g6_19
            + f6 * g5_19
            + f7 * g4_19
            + f8 * g3_19
            + f9 * g2_19;
        let h2 = f0 * g2
            + f1_2 * g1
            + f2 * g0
            + f3_2 * g9_19
            + f4 * g8_19
            + f5_2 * g7_19
            + f6 * g6_19
            + f7_2 * g5_19
            + f8 * g4_19
            + f9_2 * g3_19;
        let h3 = f0 * g3
            + f1 * g2
            + f2 * g1
            + f3 * g0
            + f4 * g9_19
            + f5 * g8_19
            + f6 * g7_19
            + f7 * g6_19
            + f8 * g5_19
            + f9 * g4_19;
        let h4 = f0 * g4
            + f1_2 * g3
            + f2 * g2
            + f3_2 * g1
            + f4 * g0
            + f5_2 * g9_19
            + f6 * g8_19
            + f7_2 * g7_19
            + f8 * g6_19
            + f9_2 * g5_19;
        let h5 = f0 * g5
            + f1 * g4
            + f2 * g3
            + f3 * g2
            + f4 * g1
            + f5 * g0
            + f6 * g9_19
            + f7 * g8_19
            + f8 * g7_19
            + f9 * g6_19;
        let h6 = f0 * g6
            + f1_2 * g5
            + f2 * g4
            + f3_2 * g3
            + f4 * g2
            + f5_2 * g1
            + f6 * g0
            + f7_2 * g9_19
            + f8 * g8_19
            + f9_2 * g7_19;
        let h7 = f0 * g7
            + f1 * g6
            + f2 * g5
            + f3 * g4
            + f4 * g3
            + f5 * g2
            + f6 * g1
            + f7 * g0
            + f8 * g9_19
            + f9 * g8_19;
        let h8 = f0 * g8
            + f1_2 * g7
            + f2 * g6
            + f3_2 * g5
            + f4 * g4
            + f5_2 * g3
            + f6 * g2
            + f7_2 * g1
            + f8 * g0
            + f9_2 * g9_19;
        let h9 = f0 * g9
            + f1 * g8
            + f2 * g7
            + f3 * g6
            + f4 * g5
            + f5 * g4
            + f6 * g3
            + f7 * g2
            + f8 * g1
            + f9 * g0;
        Fe(carry([h0, h1, h2, h3, h4, h5, h6, h7, h8, h9]))
    }

    /// [`Fe::mul`] of self by itself with each cross product once, doubled: 55 limb
    /// products instead of 100.
    pub fn square(&self) -> Fe {
        let [f0, f1, f2, f3, f4, f5, f6, f7, f8, f9] = self.0;
        let f0_2 = 2 * f0;
        let f1_2 = 2 * f1;
        let f1_4 = 4 * f1;
        let f2_2 = 2 * f2;
        let f3_2 = 2 * f3;
        let f3_4 = 4 * f3;
        let f4_2 = 2 * f4;
        let f5_19 = 19 * f5;
        let f5_2 = 2 * f5;
        let f5_4 = 4 * f5;
        let f6_19 = 19 * f6;
        let f6_2 = 2 * f6;
        let f7_19 = 19 * f7;
        let f7_2 = 2 * f7;
        let f7_4 = 4 * f7;
        let f8_19 = 19 * f8;
        let f8_2 = 2 * f8;
        let f9_19 = 19 * f9;
        let f9_2 = 2 * f9;
        let h0 = f0 * f0 + f1_4 * f9_19 + f2_2 * f8_19 + f3_4 * f7_19 + f4_2 * f6_19 + f5_2 * f5_19;
        let h1 = f0_2 * f1 + f2_2 * f9_19 + f3_2 * f8_19 + f4_2 * f7_19 + f5_2 * f6_19;
        let h2 = f0_2 * f2 + f1_2 * f1 + f3_4 * f9_19 + f4_2 * f8_19 + f5_4 * f7_19 + f6 * f6_19;
        let h3 = f0_2 * f3 + f1_2 * f2 + f4_2 * f9_19 + f5_2 * f8_19 + f6_2 * f7_19;
        let h4 = f0_2 * f4 + f1_4 * f3 + f2 * f2 + f5_4 * f9_19 + f6_2 * f8_19 + f7_2 * f7_19;
        let h5 = f0_2 * f5 + f1_2 * f4 + f2_2 * f3 + f6_2 * f9_19 + f7_2 * f8_19;
        let h6 = f0_2 * f6 + f1_4 * f5 + f2_2 * f4 + f3_2 * f3 + f7_4 * f9_19 + f8 * f8_19;
        let h7 = f0_2 * f7 + f1_2 * f6 + f2_2 * f5 + f3_2 * f4 + f8_2 * f9_19;
        let h8 = f0_2 * f8 + f1_4 * f7 + f2_2 * f6 + f3_4 * f5 + f4 * f4 + f9_2 * f9_19;
        let h9 = f0_2 * f9 + f1_2 * f8 + f2_2 * f7 + f3_2 * f6 + f4_2 * f5;
        Fe(carry([h0, h1, h2, h3, h4, h5, h6, h7, h8, h9]))
    }

    /// self^(2^n).
    fn square_times(&self, n: u32) -> Fe {
        let mut x = *self;
        for _ in 0..n {
            x = x.square();
        }
        x
    }

    /// self^((p−5)/8) = self^(2^252 − 3), for square roots (the reference code's
    /// addition chain).
    pub fn pow_p58(&self) -> Fe {
        let z = self;
        let z2 = z.square();
        let z9 = z2.square_times(2).mul(z);
        let z11 = z9.mul(&z2);
        let z_5_0 = z11.square().mul(&z9); // z^(2^5 − 1)
        let z_10_0 = z_5_0.square_times(5).mul(&z_5_0);
        let z_20_0 = z_10_0.square_times(10).mul(&z_10_0);
        let z_40_0 = z_20_0.square_times(20).mul(&z_20_0);
        let z_50_0 = z_40_0.square_times(10).mul(&z_10_0);
        let z_100_0 = z_50_0.square_times(50).mul(&z_50_0);
        let z_200_0 = z_100_0.square_times(100).mul(&z_100_0);
        let z_250_0 = z_200_0.square_times(50).mul(&z_50_0);
        z_250_0.square_times(2).mul(z)
    }
}

/// Whether 32 bytes (top bit ignored) encode a value below p.
pub fn is_canonical(bytes: &[u8; 32]) -> bool {
    let mut y = *bytes;
    if let Some(top) = y.last_mut() {
        *top &= 0x7f;
    }
    Fe::from_bytes(&y).to_bytes() == y
}

/// One carry pass from limb 0 to 9, the top carry wrapping to limb 0 times 19, and
/// limb 0's carry once more into limb 1. Arithmetic shifts floor, so negative limbs
/// borrow correctly.
// Indices are loop counters over the fixed ten limbs: in bounds.
#[allow(clippy::indexing_slicing)]
fn carry(mut h: [i64; 10]) -> [i64; 10] {
    for i in 0..10 {
        let c = h[i] >> width(i);
        h[i] -= c << width(i);
        match h.get_mut(i + 1) {
            Some(next) => *next += c,
            None => h[0] += 19 * c,
        }
    }
    let c = h[0] >> 26;
    h[0] -= c << 26;
    h[1] += c;
    h
}

/// `len` bits of a little-endian 256-bit value from bit `at` (len ≤ 26).
fn bits(value: &[u64; 4], at: u32, len: u32) -> u64 {
    let word = (at / 64) as usize;
    let shift = at % 64;
    let low = value.get(word).copied().unwrap_or(0) >> shift;
    let high = match (shift, value.get(word + 1)) {
        (0, _) | (_, None) => 0,
        (_, Some(&next)) => next << (64 - shift),
    };
    (low | high) & ((1 << len) - 1)
}

/// ORs `v` (< 2^26) into a little-endian 256-bit value at bit `at`.
fn put_bits(value: &mut [u64; 4], at: u32, v: u64) {
    let word = (at / 64) as usize;
    let shift = at % 64;
    if let Some(w) = value.get_mut(word) {
        *w |= v << shift;
    }
    if shift > 38 {
        if let Some(w) = value.get_mut(word + 1) {
            *w |= v >> (64 - shift);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn hex32(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    /// Deterministic elements, from small to every limb at its maximum.
    fn samples() -> Vec<Fe> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut out = vec![ZERO, ONE, D, SQRT_M1, Fe(MAX_LIMBS)];
        for _ in 0..200 {
            let mut bytes = [0u8; 32];
            for byte in bytes.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *byte = state as u8;
            }
            out.push(Fe::from_bytes(&bytes));
        }
        out
    }

    /// Every limb at its width's maximum: 2^255 − 1, the largest carried value.
    const MAX_LIMBS: [i64; 10] = [
        (1 << 26) - 1,
        (1 << 25) - 1,
        (1 << 26) - 1,
        (1 << 25) - 1,
        (1 << 26) - 1,
        (1 << 25) - 1,
        (1 << 26) - 1,
        (1 << 25) - 1,
        (1 << 26) - 1,
        (1 << 25) - 1,
    ];

    #[test]
    fn the_largest_limbs_multiply_without_overflow() {
        // 2^255 − 1 ≡ 18, so its square is 324 = 0x144.
        let x = Fe(MAX_LIMBS);
        let expected = hex32("4401000000000000000000000000000000000000000000000000000000000000");
        assert_eq!(x.mul(&x).to_bytes(), expected);
        assert_eq!(x.square().to_bytes(), expected);
        // And after subtractions that leave negative limbs.
        let negative = ZERO.sub(&x);
        assert_eq!(negative.mul(&negative).to_bytes(), expected);
    }

    #[test]
    fn square_is_mul_and_fermat_holds() {
        for x in samples() {
            assert_eq!(x.square().to_bytes(), x.mul(&x).to_bytes());
            // x^(p−1) = (x^((p−5)/8))^8 · x^4 = 1 for x ≠ 0.
            let x4 = x.square().square();
            let power = x.pow_p58().square().square().square().mul(&x4);
            let expected = if x.is_zero() { ZERO } else { ONE };
            assert_eq!(power.to_bytes(), expected.to_bytes());
        }
    }

    #[test]
    fn encoding_reduces_below_p() {
        // p, p + 1 and 2^255 − 1 encode as 0, 1 and 18; values below p as themselves.
        let p = hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
        assert_eq!(Fe::from_bytes(&p).to_bytes(), [0; 32]);
        assert!(!is_canonical(&p));
        let mut p_plus_1 = p;
        p_plus_1[0] += 1;
        assert_eq!(Fe::from_bytes(&p_plus_1).to_bytes(), ONE.to_bytes());
        assert_eq!(Fe(MAX_LIMBS).to_bytes()[0], 18);
        let mut p_minus_1 = p;
        p_minus_1[0] -= 1;
        assert!(is_canonical(&p_minus_1));
        assert_eq!(Fe::from_bytes(&p_minus_1).to_bytes(), p_minus_1);
        for x in samples() {
            let bytes = x.to_bytes();
            assert!(is_canonical(&bytes));
            assert_eq!(Fe::from_bytes(&bytes).to_bytes(), bytes);
            assert_eq!(x.add(&x.neg()).to_bytes(), [0; 32]);
        }
    }
}
