//! Scalars modulo the group order L = 2^252 + 27742317777372353535851937790883648493,
//! as 32 little-endian bytes at the edges and eight 32-bit limbs inside.

use crate::montgomery::{less_than, mont_mul, sub_in_place};

type Limbs = [u32; 8];

const L: Limbs = [
    0x5cf5_d3ed,
    0x5812_631a,
    0xa2f7_9cd6,
    0x14de_f9de,
    0,
    0,
    0,
    0x1000_0000,
];
/// R² mod L, R = 2^256.
const RR: Limbs = [
    0x449c_0f01,
    0xa406_11e3,
    0x6885_9347,
    0xd00e_1ba7,
    0x17f5_be65,
    0xceec_73d2,
    0x7c30_9a3d,
    0x0399_411b,
];
/// −L⁻¹ mod 2^32.
const L0_INV: u32 = 0x1254_7e1b;

/// Whether s < L (RFC 8032 §5.1.7 rejects other signatures' S).
pub fn is_canonical(s: &[u8; 32]) -> bool {
    less_than(&limbs_of(s), &L)
}

/// A 64-byte little-endian integer (SHA-512's output) modulo L: hi·2^256 + lo is
/// hi·R, which one Montgomery multiplication by R² gives, plus lo.
pub fn reduce_wide(bytes: &[u8; 64]) -> [u8; 32] {
    let (lo, hi) = bytes.split_at(32);
    let (mut lo, mut hi) = (limbs_of(lo), limbs_of(hi));
    reduce_small(&mut lo);
    reduce_small(&mut hi);
    let mut hi_r = [0u32; 8];
    mont_mul(&mut hi_r, &hi, &RR, &L, L0_INV);
    // Both below L < 2^253: the sum fits, and one subtraction reduces it.
    let mut sum = [0u32; 8];
    let mut carry = 0u64;
    for ((out, a), b) in sum.iter_mut().zip(hi_r).zip(lo) {
        let t = u64::from(a) + u64::from(b) + carry;
        *out = t as u32;
        carry = t >> 32;
    }
    reduce_small(&mut sum);
    let mut out = [0u8; 32];
    for (chunk, limb) in out.chunks_exact_mut(4).zip(sum) {
        chunk.copy_from_slice(&limb.to_le_bytes());
    }
    out
}

/// x mod L for x < 2^256 < 16·L: at most 15 subtractions.
fn reduce_small(x: &mut Limbs) {
    while !less_than(x, &L) {
        sub_in_place(x, &L);
    }
}

fn limbs_of(bytes: &[u8]) -> Limbs {
    let mut out = [0u32; 8];
    for (limb, chunk) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        let mut b = [0u8; 4];
        b.copy_from_slice(chunk);
        *limb = u32::from_le_bytes(b);
    }
    out
}
