//! Multiplication modulo the P-256 field prime p = 2^256 − 2^224 + 2^192 + 2^96 − 1
//! without Montgomery reduction: the 512-bit product is folded back with p's shape
//! (NIST's fast reduction, FIPS 186-4 D.2.3), a handful of 32-bit additions instead of
//! the 64 multiplications a generic reduction costs.

use super::field::Limbs;

/// a·b mod p, for a, b < p.
pub fn mul_mod_p(a: &Limbs, b: &Limbs) -> Limbs {
    reduce(&product(a, b))
}

/// a² mod p, for a < p: [`mul_mod_p`] with 36 limb products instead of 64.
pub fn square_mod_p(a: &Limbs) -> Limbs {
    reduce(&square(a))
}

/// a², as 16 little-endian limbs: each cross product aᵢ·aⱼ (i < j) once, the sum
/// doubled, then the squares aᵢ² added on the diagonal.
// Indices are loop counters bounded by the fixed array sizes (i < j < 8, i + 8 < 16,
// 2i + 1 < 16): none can be out of bounds, whatever the input.
#[allow(clippy::indexing_slicing)]
fn square(a: &Limbs) -> [u32; 16] {
    let mut c = [0u32; 16];
    for i in 0..8 {
        let ai = u64::from(a[i]);
        let mut carry = 0u64;
        for j in i + 1..8 {
            let t = u64::from(c[i + j]) + ai * u64::from(a[j]) + carry;
            c[i + j] = t as u32;
            carry = t >> 32;
        }
        c[i + 8] = carry as u32;
    }
    // Doubling: the cross sum is below 2^511, so nothing leaves the top limb.
    let mut high_bit = 0u32;
    for limb in c.iter_mut() {
        let next = *limb >> 31;
        *limb = (*limb << 1) | high_bit;
        high_bit = next;
    }
    let mut carry = 0u64;
    for i in 0..8 {
        let square = u64::from(a[i]) * u64::from(a[i]);
        let t = u64::from(c[2 * i]) + (square & 0xffff_ffff) + carry;
        c[2 * i] = t as u32;
        let t = u64::from(c[2 * i + 1]) + (square >> 32) + (t >> 32);
        c[2 * i + 1] = t as u32;
        carry = t >> 32;
    }
    c
}

/// The 512-bit product, as 16 little-endian limbs.
// Every index below is a loop counter bounded by the fixed array sizes (i, j < 8, so
// i + j + 1 < 16): none can be out of bounds, whatever the inputs.
#[allow(clippy::indexing_slicing)]
fn product(a: &Limbs, b: &Limbs) -> [u32; 16] {
    let mut c = [0u32; 16];
    for i in 0..8 {
        let ai = u64::from(a[i]);
        let mut carry = 0u64;
        for j in 0..8 {
            // ≤ (2^32−1) + (2^32−1)² + (2^32−1) = 2^64 − 1: no overflow.
            let t = u64::from(c[i + j]) + ai * u64::from(b[j]) + carry;
            c[i + j] = t as u32;
            carry = t >> 32;
        }
        c[i + 8] = carry as u32;
    }
    c
}

/// c mod p for c < 2^512. Column j of s1 + 2s2 + 2s3 + s4 + s5 − s6 − s7 − s8 − s9
/// (FIPS 186-4 D.2.3), then the carry out of 2^256 folded back with
/// 2^256 ≡ 2^224 − 2^192 − 2^96 + 1 until none is left, then one conditional subtraction.
fn reduce(c: &[u32; 16]) -> Limbs {
    let [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15] = c.map(i64::from);
    let columns = [
        c0 + c8 + c9 - c11 - c12 - c13 - c14,
        c1 + c9 + c10 - c12 - c13 - c14 - c15,
        c2 + c10 + c11 - c13 - c14 - c15,
        c3 + 2 * c11 + 2 * c12 + c13 - c15 - c8 - c9,
        c4 + 2 * c12 + 2 * c13 + c14 - c9 - c10,
        c5 + 2 * c13 + 2 * c14 + c15 - c10 - c11,
        c6 + 3 * c14 + 2 * c15 + c13 - c8 - c9,
        c7 + 3 * c15 + c8 - c10 - c11 - c12 - c13,
    ];
    let (mut limbs, mut carry) = propagate(&columns);
    // Each fold shrinks the carry: from |carry| ≤ 7 to at most ±1, then to 0.
    for _ in 0..4 {
        if carry == 0 {
            break;
        }
        let [l0, l1, l2, l3, l4, l5, l6, l7] = limbs.map(i64::from);
        (limbs, carry) = propagate(&[
            l0 + carry,
            l1,
            l2,
            l3 - carry,
            l4,
            l5,
            l6 - carry,
            l7 + carry,
        ]);
    }
    if carry == 0 && !super::field::less_than(&limbs, &super::field::P.m) {
        limbs = super::field::sub_borrow(&limbs, &super::field::P.m).0;
    }
    limbs
}

/// Signed columns (each within ±2^36) → 32-bit limbs and the signed carry out of 2^256.
fn propagate(columns: &[i64; 8]) -> (Limbs, i64) {
    let mut limbs = [0u32; 8];
    let mut carry = 0i64;
    for (limb, &column) in limbs.iter_mut().zip(columns) {
        let value = column + carry;
        *limb = value as u32; // the low 32 bits, two's complement
        carry = value >> 32; // arithmetic shift: floor division
    }
    (limbs, carry)
}

#[cfg(test)]
mod tests {
    use super::super::field::{random_below, Limbs, P};
    use super::*;

    /// a·b mod p by double-and-add with the field's addition (slow, obviously right).
    fn mul_slow(a: &Limbs, b: &Limbs) -> Limbs {
        let mut acc = [0u32; 8];
        for limb in b.iter().rev() {
            for bit in (0..32).rev() {
                acc = P.add(&acc, &acc);
                if (limb >> bit) & 1 == 1 {
                    acc = P.add(&acc, a);
                }
            }
        }
        acc
    }

    #[test]
    fn matches_double_and_add() {
        let p = P.m;
        let p_minus = |k: u32| super::super::field::sub_borrow(&p, &[k, 0, 0, 0, 0, 0, 0, 0]).0;
        let mut values = vec![
            [0; 8],
            [1, 0, 0, 0, 0, 0, 0, 0],
            p_minus(1),
            p_minus(2),
            [0, 0, 0, 0, 0, 0, 0, 0x8000_0000],
            [u32::MAX, u32::MAX, u32::MAX, 0, 0, 0, 0, 0],
            [0, 0, 0, u32::MAX, u32::MAX, u32::MAX, 0, 0],
        ];
        values.extend(random_below(&P, 0x9e37_79b9_7f4a_7c15, 200));
        for a in &values {
            for b in values.iter().take(20) {
                assert_eq!(mul_mod_p(a, b), mul_slow(a, b), "{a:x?} · {b:x?}");
            }
            assert_eq!(square_mod_p(a), mul_slow(a, a), "{a:x?}²");
        }
    }
}
