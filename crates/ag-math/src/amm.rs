//! RSA's public-key operation x^e mod n on w-bit digits (w ≤ 28): almost-Montgomery
//! multiplication by product scanning with deferred carries, the inner loop on wasm SIMD.
//!
//! Why: the signature is most of what a never-seen RS256 token costs, and the
//! 32-bit-limb CIOS multiplication ([`crate::montgomery`]) it ran on propagates a carry
//! after every limb product (~76–80 µs per verification in Node's V8). With digits of
//! at most 28 bits a whole column of products (and of the reduction's products) sums in
//! one u64 without carrying, so the column is a dot product: in wasm,
//! `i64x2.extmul_{low,high}_i32x4_u` make two 32×32→64 products per instruction. The
//! same verification takes ~40 µs (`examples/verify_bench.rs`).
//!
//! "Almost": results are < 2n, not < n. With R = 2^(w·len) > 4n, inputs below 2n give
//! outputs below 2n, so no product needs a comparison; one subtraction ends the power.

use crate::montgomery::less_than;

/// Digits per SIMD step (four u32 lanes).
const LANES: usize = 4;

/// An odd modulus prepared for [`Modulus::pow_odd`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Modulus {
    /// Digit width in bits.
    w: u32,
    /// n in w-bit digits, little-endian; `len` (a multiple of [`LANES`]) of them.
    n: Vec<u32>,
    /// n's digits in reverse between zero padding ([`reversed`]).
    n_reversed: Vec<u32>,
    /// −n⁻¹ mod 2^w.
    k0: u32,
    /// R² mod n (below 2n), R = 2^(w·len): multiplying by it enters Montgomery form.
    rr: Vec<u32>,
    /// n's 32-bit limbs, the form callers pass and receive.
    limbs: usize,
}

impl Modulus {
    /// From n's little-endian 32-bit limbs; `None` if n is even, zero, or too large for
    /// any digit width to keep a column sum below 2^64.
    pub fn new(n: &[u32]) -> Option<Modulus> {
        let bits = bit_length(n);
        if n.first()? & 1 == 0 || bits < 2 {
            return None;
        }
        let (w, len) = digit_layout(bits)?;
        let digits = to_digits(n, w, len)?;
        let mask = (1u32 << w) - 1;
        let mut modulus = Modulus {
            w,
            n_reversed: reversed(&digits),
            k0: neg_inv_u32(*digits.first()?) & mask,
            n: digits,
            rr: Vec::new(),
            limbs: n.len(),
        };
        modulus.rr = modulus.r_squared(bits)?;
        Some(modulus)
    }

    /// x^e mod n for x < n (32-bit limbs, as many as n has) and an odd e ≥ 3; the result
    /// in the same form. `None` if the inputs break those rules (or, should a bound this
    /// module relies on ever fail, rather than a wrong value).
    pub fn pow_odd(&self, x: &[u32], e: u32) -> Option<Vec<u32>> {
        if e & 1 == 0 || e < 3 || x.len() != self.limbs {
            return None;
        }
        let x = to_digits(x, self.w, self.n.len())?;
        if !less_than(&x, &self.n) {
            return None;
        }
        let mut scratch = Scratch::new(self.n.len());
        let x_mont = self.mul(&x, &self.rr, &mut scratch)?; // x·R
        let mut acc = x_mont.clone();
        // Left to right over e's bits below the top one; the last bit (set: e is odd)
        // multiplies by x itself, which also drops the R: x^e·R·R⁻¹.
        let top = 31 - e.leading_zeros();
        for bit in (1..top).rev() {
            acc = self.mul(&acc, &acc, &mut scratch)?;
            if (e >> bit) & 1 == 1 {
                acc = self.mul(&acc, &x_mont, &mut scratch)?;
            }
        }
        acc = self.mul(&acc, &acc, &mut scratch)?;
        acc = self.mul(&acc, &x, &mut scratch)?;
        self.reduce_once(&mut acc);
        from_digits(&acc, self.w, self.limbs)
    }

    /// a·b·R⁻¹ mod n, below 2n, for a, b below 2n (digits), by product scanning.
    /// Column k sums a_i·b_(k−i) and m_i·n_(k−i) — each a dot product of a run of one
    /// array with a run of a reversed one — then picks m_k so the column's low digit is
    /// zero. SIMD is enabled on the whole function so that the dot product inlines.
    /// Squares go through here too: a dedicated squaring (each cross product once,
    /// doubled; a quarter fewer products) measured slower in V8, 47 vs 39.5 µs per
    /// RS256 verification (2026-11-30, `examples/verify_bench.rs`): its shorter runs and
    /// extra loop cost more than the products it saves.
    #[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
    fn mul(&self, a: &[u32], b: &[u32], scratch: &mut Scratch) -> Option<Vec<u32>> {
        let len = self.n.len();
        let mask = (1u64 << self.w) - 1;
        fill_reversed(&mut scratch.b_reversed, b);
        scratch.m.fill(0);
        let n0 = u64::from(self.n.first().copied().unwrap_or(0));
        let mut out = vec![0u32; len];
        let mut carry = 0u64;
        for k in 0..2 * len {
            // Digit indices i with 0 ≤ i < len and 0 ≤ k − i < len, widened to whole
            // SIMD steps: the padding of the reversed arrays (and m's zeros from k on)
            // make the extra products zero. a_i's partner sits at i + offset.
            let start = (k + 1).saturating_sub(len) / LANES * LANES;
            let end = (k + 1).min(len).next_multiple_of(LANES);
            let offset = 2 * len - 1 - k;
            let (Some(x), Some(y), Some(m), Some(n_reversed)) = (
                a.get(start..end),
                scratch.b_reversed.get(start + offset..end + offset),
                scratch.m.get(start..end),
                self.n_reversed.get(start + offset..end + offset),
            ) else {
                return None;
            };
            let mut t = carry.checked_add(dot2(x, y, m, n_reversed)?)?;
            if k < len {
                let mk = (t as u32).wrapping_mul(self.k0) & mask as u32;
                t = t.checked_add(u64::from(mk) * n0)?;
                if let Some(slot) = scratch.m.get_mut(k) {
                    *slot = mk;
                }
            } else if let Some(digit) = out.get_mut(k - len) {
                *digit = (t & mask) as u32;
            }
            carry = t >> self.w;
        }
        // The product is below 2n < R: nothing may carry out of the top digit.
        (carry == 0).then_some(out)
    }

    /// R² mod n, below 2n: 2^c·R by doubling 2^(bits−1), then s almost-Montgomery
    /// squarings (2^j·R ↦ 2^(2j)·R), where c·2^s = w·len, so 2^(w·len)·R = R².
    fn r_squared(&self, bits: u32) -> Option<Vec<u32>> {
        let r_bits = self.w.checked_mul(u32::try_from(self.n.len()).ok()?)?;
        let squarings = r_bits.trailing_zeros();
        let c = r_bits >> squarings;
        let mut x = vec![0u32; self.n.len()];
        let top = bits - 1;
        *x.get_mut(usize::try_from(top / self.w).ok()?)? = 1 << (top % self.w);
        for _ in top..r_bits.checked_add(c)? {
            self.double(&mut x);
        }
        let mut scratch = Scratch::new(self.n.len());
        for _ in 0..squarings {
            x = self.mul(&x, &x, &mut scratch)?;
        }
        Some(x)
    }

    /// x = 2x mod n, for x < n (digits).
    fn double(&self, x: &mut [u32]) {
        let mut carry = 0;
        for digit in x.iter_mut() {
            let v = (*digit << 1) | carry;
            carry = v >> self.w;
            *digit = v & ((1 << self.w) - 1);
        }
        if carry != 0 || !less_than(x, &self.n) {
            self.subtract_n(x);
        }
    }

    /// x −= n if x ≥ n (x < 2n, digits).
    fn reduce_once(&self, x: &mut [u32]) {
        if !less_than(x, &self.n) {
            self.subtract_n(x);
        }
    }

    /// x −= n modulo 2^(w·len) (digits).
    fn subtract_n(&self, x: &mut [u32]) {
        let mut borrow = 0;
        for (digit, &nd) in x.iter_mut().zip(&self.n) {
            let v = digit.wrapping_sub(nd).wrapping_sub(borrow);
            borrow = v >> 31;
            *digit = v & ((1 << self.w) - 1);
        }
    }
}

/// Per-exponentiation buffers: the reversed operand b and the reduction digits m.
struct Scratch {
    b_reversed: Vec<u32>,
    m: Vec<u32>,
}

impl Scratch {
    fn new(len: usize) -> Scratch {
        Scratch {
            b_reversed: vec![0; 3 * len + LANES],
            m: vec![0; len],
        }
    }
}

/// The digit width and count for a `bits`-bit modulus: the widest w ≤ 28 whose column
/// sum — 2·len products below 2^(2w) plus a carry below 2^(64−w) — stays below 2^64,
/// with w·len ≥ bits + 2 (R > 4n) and len a multiple of [`LANES`].
fn digit_layout(bits: u32) -> Option<(u32, usize)> {
    (16..=28).rev().find_map(|w| {
        let len = usize::try_from(bits.checked_add(2)?.div_ceil(w))
            .ok()?
            .next_multiple_of(LANES);
        let digit_max = (1u128 << w) - 1;
        let column = 2 * u128::try_from(len).ok()? * digit_max * digit_max + (1u128 << (64 - w));
        (column < 1u128 << 64).then_some((w, len))
    })
}

/// An array's digits in reverse between zero padding: `out[2·len − 1 − j] = x[j]`,
/// zero elsewhere, `3·len + LANES` long. Then b_(k−i) = out[2·len − 1 − k + i] for every
/// i a column's (widened) run visits, and is zero whenever k − i is out of range.
fn reversed(x: &[u32]) -> Vec<u32> {
    let mut out = vec![0; 3 * x.len() + LANES];
    fill_reversed(&mut out, x);
    out
}

fn fill_reversed(out: &mut [u32], x: &[u32]) {
    out.fill(0);
    if let Some(target) = out.get_mut(x.len()..2 * x.len()) {
        for (slot, &digit) in target.iter_mut().rev().zip(x) {
            *slot = digit;
        }
    }
}

/// Σ x_i·y_i + u_i·v_i over whole 4-digit steps, natively (tests, CLI): the same
/// steps as the SIMD version, and `None` on an overflow the SIMD lanes could not see,
/// so a broken column bound fails the tests.
#[cfg(not(target_arch = "wasm32"))]
fn dot2(x: &[u32], y: &[u32], u: &[u32], v: &[u32]) -> Option<u64> {
    let steps = x
        .chunks_exact(LANES)
        .zip(y.chunks_exact(LANES))
        .zip(u.chunks_exact(LANES).zip(v.chunks_exact(LANES)));
    let mut sum = 0u64;
    for ((xs, ys), (us, vs)) in steps {
        for ((&a, &b), (&c, &d)) in xs.iter().zip(ys).zip(us.iter().zip(vs)) {
            sum = sum
                .checked_add(u64::from(a) * u64::from(b))?
                .checked_add(u64::from(c) * u64::from(d))?;
        }
    }
    Some(sum)
}

/// Σ x_i·y_i + u_i·v_i over whole 4-digit steps, two u64 lanes per accumulator.
#[cfg(target_arch = "wasm32")]
#[target_feature(enable = "simd128")]
#[inline]
fn dot2(x: &[u32], y: &[u32], u: &[u32], v: &[u32]) -> Option<u64> {
    use core::arch::wasm32::{
        i64x2_add, u64x2_extmul_high_u32x4, u64x2_extmul_low_u32x4, u64x2_extract_lane,
        u64x2_splat, v128_load,
    };
    let mut low = u64x2_splat(0);
    let mut high = u64x2_splat(0);
    let steps = x
        .chunks_exact(LANES)
        .zip(y.chunks_exact(LANES))
        .zip(u.chunks_exact(LANES).zip(v.chunks_exact(LANES)));
    for ((xs, ys), (us, vs)) in steps {
        // SAFETY: each chunk is exactly 4 u32 = 16 bytes, and wasm's v128.load has no
        // alignment requirement.
        let (xv, yv, uv, vv) = unsafe {
            (
                v128_load(xs.as_ptr().cast()),
                v128_load(ys.as_ptr().cast()),
                v128_load(us.as_ptr().cast()),
                v128_load(vs.as_ptr().cast()),
            )
        };
        low = i64x2_add(low, u64x2_extmul_low_u32x4(xv, yv));
        high = i64x2_add(high, u64x2_extmul_high_u32x4(xv, yv));
        low = i64x2_add(low, u64x2_extmul_low_u32x4(uv, vv));
        high = i64x2_add(high, u64x2_extmul_high_u32x4(uv, vv));
    }
    let sum = i64x2_add(low, high);
    u64x2_extract_lane::<0>(sum).checked_add(u64x2_extract_lane::<1>(sum))
}

/// Significant bits of little-endian limbs.
fn bit_length(limbs: &[u32]) -> u32 {
    limbs
        .iter()
        .rposition(|&limb| limb != 0)
        .and_then(|top| {
            let top_bits = 32 - limbs.get(top)?.leading_zeros();
            u32::try_from(top)
                .ok()?
                .checked_mul(32)?
                .checked_add(top_bits)
        })
        .unwrap_or(0)
}

/// Little-endian 32-bit limbs → `len` w-bit digits; `None` if the value needs more.
fn to_digits(limbs: &[u32], w: u32, len: usize) -> Option<Vec<u32>> {
    let mut digits = Vec::with_capacity(len);
    let (mut window, mut filled) = (0u64, 0u32);
    for &limb in limbs {
        window |= u64::from(limb) << filled;
        filled += 32;
        while filled >= w {
            digits.push((window & ((1 << w) - 1)) as u32);
            window >>= w;
            filled -= w;
        }
    }
    digits.push(window as u32);
    // Digits past `len` must all be zero.
    if digits.iter().skip(len).any(|&d| d != 0) {
        return None;
    }
    digits.resize(len, 0);
    Some(digits)
}

/// w-bit digits → `limbs` little-endian 32-bit limbs; `None` if the value needs more.
fn from_digits(digits: &[u32], w: u32, limbs: usize) -> Option<Vec<u32>> {
    let mut out = Vec::with_capacity(limbs);
    let (mut window, mut filled) = (0u64, 0u32);
    for &digit in digits {
        window |= u64::from(digit) << filled;
        filled += w;
        if filled >= 32 {
            out.push(window as u32);
            window >>= 32;
            filled -= 32;
        }
    }
    out.push(window as u32);
    if out.iter().skip(limbs).any(|&limb| limb != 0) {
        return None;
    }
    out.resize(limbs, 0);
    Some(out)
}

/// −n0⁻¹ mod 2^32 for odd n0 (Newton iteration: each step doubles the correct bits).
fn neg_inv_u32(n0: u32) -> u32 {
    // n0·n0 ≡ 1 mod 8, so n0 is its own inverse to 3 bits; 3 → 6 → 12 → 24 → 48.
    let mut inv = n0;
    for _ in 0..4 {
        inv = inv.wrapping_mul(2u32.wrapping_sub(n0.wrapping_mul(inv)));
    }
    inv.wrapping_neg()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::montgomery::{mont_mul, sub_in_place};

    /// SplitMix64, for deterministic random tests.
    fn rng(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// An odd modulus of exactly `bits` bits: random, all ones, or sparse (1…0…1).
    fn modulus(state: &mut u64, bits: usize, shape: usize) -> Vec<u32> {
        let limbs = bits.div_ceil(32);
        let mut n: Vec<u32> = match shape % 3 {
            0 => (0..limbs).map(|_| rng(state) as u32).collect(),
            1 => vec![u32::MAX; limbs],
            _ => vec![0; limbs],
        };
        let top = (bits - 1) % 32;
        n[limbs - 1] &= u32::MAX >> (31 - top);
        n[limbs - 1] |= 1 << top;
        n[0] |= 1;
        n
    }

    fn below(state: &mut u64, n: &[u32]) -> Vec<u32> {
        loop {
            let mut v: Vec<u32> = n.iter().map(|_| rng(state) as u32).collect();
            let top = 32 - n[n.len() - 1].leading_zeros();
            v[n.len() - 1] &= u32::MAX >> (32 - top);
            if less_than(&v, n) {
                return v;
            }
        }
    }

    /// 2^e mod n (32-bit limbs), by doubling 1 e times.
    fn power_of_two(e: usize, n: &[u32]) -> Vec<u32> {
        let mut x = vec![0u32; n.len()];
        x[0] = 1;
        for _ in 0..e {
            let mut carry = 0u64;
            for limb in x.iter_mut() {
                let v = (u64::from(*limb) << 1) | carry;
                *limb = v as u32;
                carry = v >> 32;
            }
            if carry != 0 || !less_than(&x, n) {
                sub_in_place(&mut x, n);
            }
        }
        x
    }

    /// An independent reference: the 32-bit-limb CIOS multiplication (P-256's scalar
    /// arithmetic). audience-guard's rsa_verify tests also check `pow_odd` against
    /// schoolbook arithmetic.
    struct Reference {
        n: Vec<u32>,
        n0inv: u32,
        rr: Vec<u32>,
    }

    impl Reference {
        fn new(n: &[u32]) -> Reference {
            Reference {
                n: n.to_vec(),
                n0inv: neg_inv_u32(n[0]),
                rr: power_of_two(64 * n.len(), n),
            }
        }

        fn mul(&self, a: &[u32], b: &[u32]) -> Vec<u32> {
            let mut t = vec![0u32; self.n.len()];
            let mut u = vec![0u32; self.n.len()];
            mont_mul(&mut t, a, b, &self.n, self.n0inv);
            mont_mul(&mut u, &t, &self.rr, &self.n, self.n0inv);
            u
        }

        fn pow(&self, x: &[u32], e: u32) -> Vec<u32> {
            let mut acc = vec![0u32; self.n.len()];
            acc[0] = 1;
            for bit in (0..32).rev() {
                acc = self.mul(&acc, &acc);
                if (e >> bit) & 1 == 1 {
                    acc = self.mul(&acc, x);
                }
            }
            acc
        }
    }

    #[test]
    fn neg_inv_is_inverse() {
        for n0 in [1u32, 3, 0xffff_ffff, 0x8000_0001, 0x1234_5677, 0xdead_beef] {
            assert_eq!(n0.wrapping_mul(neg_inv_u32(n0)), u32::MAX, "{n0:#x}");
        }
    }

    #[test]
    fn digit_layouts_keep_columns_below_2_64() {
        for bits in [2, 64, 1024, 2048, 2049, 3072, 3500, 4096, 4097, 8192] {
            let (w, len) = digit_layout(bits).unwrap();
            assert!(w <= 28 && len % LANES == 0, "{bits}");
            assert!(w as usize * len >= bits as usize + 2, "{bits}: R > 4n");
            let column = 2 * len as u128 * ((1u128 << w) - 1).pow(2) + (1u128 << (64 - w));
            assert!(column < 1 << 64, "{bits}");
        }
        assert_eq!(digit_layout(2048), Some((28, 76)));
        assert_eq!(digit_layout(4096).map(|(w, _)| w), Some(27));
    }

    #[test]
    fn digits_round_trip() {
        let mut st = 3u64;
        for bits in [2048usize, 2049, 3071, 4096] {
            let n = modulus(&mut st, bits, 0);
            let (w, len) = digit_layout(bits as u32).unwrap();
            let digits = to_digits(&n, w, len).unwrap();
            assert!(digits.iter().all(|&d| d < 1 << w));
            assert_eq!(from_digits(&digits, w, n.len()).unwrap(), n);
            // Too few digits or limbs for the value: refused, not truncated.
            assert!(to_digits(&n, w, bits / w as usize - 1).is_none());
            assert!(from_digits(&digits, w, n.len() - 1).is_none());
        }
    }

    #[test]
    fn rejects_even_and_zero_moduli() {
        assert!(Modulus::new(&[]).is_none());
        assert!(Modulus::new(&[0, 0]).is_none());
        assert!(Modulus::new(&[2, 1]).is_none());
        assert!(Modulus::new(&[1]).is_none());
        let m = Modulus::new(&[3]).unwrap();
        assert!(m.pow_odd(&[2], 2).is_none(), "even exponent");
        assert!(m.pow_odd(&[2], 1).is_none());
        assert!(m.pow_odd(&[2, 0], 3).is_none(), "wrong length");
        assert_eq!(m.pow_odd(&[2], 3), Some(vec![2])); // 8 mod 3
    }

    /// R² mod n and every product a·b·R⁻¹, against the reference, for random,
    /// all-ones and sparse moduli: the sizes where the digit layout changes (len or w:
    /// 2126/2127, 3470/3471/3474, 3582/3583, 4095/4096 bits), 2048 and 3072, and random
    /// sizes; inputs random, n − 1 and 2n − 1 (products take anything below 2n).
    #[test]
    fn products_match_reference() {
        let mut st = 42u64;
        let pinned = [
            2048, 2126, 2127, 3072, 3470, 3471, 3474, 3582, 3583, 4095, 4096,
        ];
        let mut sizes: Vec<(usize, usize)> = pinned
            .iter()
            .flat_map(|&bits| (0..3).map(move |shape| (bits, shape)))
            .collect();
        for shape in 0..12 {
            sizes.push((2048 + (rng(&mut st) % 2049) as usize, shape));
        }
        for (round, (bits, shape)) in sizes.into_iter().enumerate() {
            let n = modulus(&mut st, bits, shape);
            let m = Modulus::new(&n).unwrap();
            let reference = Reference::new(&n);
            let len = m.n.len();
            let value = |digits: &[u32]| {
                let mut limbs = from_digits(digits, m.w, n.len() + 1).unwrap();
                // < 2n: reduce once (an extra limb holds values ≥ 2^(32·limbs)).
                let wide_n: Vec<u32> = n.iter().copied().chain([0]).collect();
                if !less_than(&limbs, &wide_n) {
                    sub_in_place(&mut limbs, &wide_n);
                }
                assert!(less_than(&limbs, &wide_n));
                limbs.truncate(n.len());
                limbs
            };
            // R² mod n, R = 2^(w·len).
            let r_squared = power_of_two(2 * m.w as usize * len, &n);
            assert_eq!(value(&m.rr), r_squared, "R² round {round}");
            let nm1 = {
                let mut v = n.clone();
                v[0] -= 1;
                v
            };
            let digits = |v: &[u32]| to_digits(v, m.w, len).unwrap();
            // 2n − 1 as digits (n is odd, so 2n's lowest digit is at least 2).
            let two_n_minus_1 = {
                let mut v = m.n.clone();
                let mut carry = 0;
                for d in v.iter_mut() {
                    let x = (*d << 1) | carry;
                    carry = x >> m.w;
                    *d = x & ((1 << m.w) - 1);
                }
                assert_eq!(carry, 0);
                v[0] -= 1;
                v
            };
            let (x, y) = (below(&mut st, &n), below(&mut st, &n));
            let mut scratch = Scratch::new(len);
            let cases = [
                (digits(&x), digits(&y), reference.mul(&x, &y)),
                (digits(&nm1), digits(&nm1), reference.mul(&nm1, &nm1)),
                (digits(&nm1), digits(&x), reference.mul(&nm1, &x)),
                (digits(&x), digits(&x), reference.mul(&x, &x)),
                (
                    two_n_minus_1.clone(),
                    two_n_minus_1.clone(),
                    reference.mul(&nm1, &nm1),
                ),
                (two_n_minus_1.clone(), digits(&y), reference.mul(&nm1, &y)),
            ];
            for (case, (a, b, expected)) in cases.into_iter().enumerate() {
                // a·b·R⁻¹ then ·R²·R⁻¹ = a·b mod n.
                let t = m.mul(&a, &b, &mut scratch).unwrap();
                assert!(t.iter().all(|&d| d < 1 << m.w));
                let u = m.mul(&t, &m.rr, &mut scratch).unwrap();
                assert_eq!(
                    value(&u),
                    expected,
                    "round {round}, case {case}, {bits} bits"
                );
            }
            for e in [3, 65537, 0x8000_0001] {
                assert_eq!(
                    m.pow_odd(&x, e).unwrap(),
                    reference.pow(&x, e),
                    "round {round}, e {e}"
                );
            }
            assert_eq!(m.pow_odd(&nm1, 65537).unwrap(), nm1, "(−1)^odd");
            // x ≥ n is refused, not answered with an unreduced value.
            assert!(m.pow_odd(&n, 3).is_none());
            let all_ones = vec![u32::MAX; n.len()];
            assert!(m.pow_odd(&all_ones, 65537).is_none());
        }
    }
}
