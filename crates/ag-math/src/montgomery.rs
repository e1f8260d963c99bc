//! Montgomery multiplication on little-endian 32-bit limbs, for any odd modulus: P-256
//! scalars (the RSA exponentiation has its own SIMD multiplication, `amm`).
//!
//! 32-bit limbs because every limb product is then one native `u32 × u32 → u64`
//! multiply in wasm; 64-bit limbs need an emulated 128-bit product there.

/// out = a·b·R⁻¹ mod n with R = 2^(32·len); a, b < n, n odd, all of the same length.
pub fn mont_mul(out: &mut [u32], a: &[u32], b: &[u32], n: &[u32], n0inv: u32) {
    out.fill(0);
    let (Some(&b0), Some(&n0)) = (b.first(), n.first()) else {
        return;
    };
    // The accumulator t is out (limbs 0..len) plus `hi` (limb len); t < 2n throughout.
    let mut hi: u32 = 0;
    for &ai in a {
        let ai = u64::from(ai);
        let mut t = out.iter_mut();
        let Some(mut prev) = t.next() else {
            return;
        };
        // Limb 0: t0 + ai·b0, then m chosen so that adding m·n zeroes the low limb.
        let x = u64::from(*prev) + ai * u64::from(b0);
        let mut carry_mul = x >> 32;
        let m = u64::from((x as u32).wrapping_mul(n0inv));
        let mut carry_red = (u64::from(x as u32) + m * u64::from(n0)) >> 32;
        // Limb j: (t + ai·b + m·n) / 2^32, written one limb lower. Each sum is at most
        // (2^32−1) + (2^32−1)² + (2^32−1) = 2^64 − 1, so nothing overflows.
        for ((tj, &bj), &nj) in t.zip(b.iter().skip(1)).zip(n.iter().skip(1)) {
            let x = u64::from(*tj) + ai * u64::from(bj) + carry_mul;
            carry_mul = x >> 32;
            let y = u64::from(x as u32) + m * u64::from(nj) + carry_red;
            carry_red = y >> 32;
            *prev = y as u32;
            prev = tj;
        }
        let top = u64::from(hi) + carry_mul + carry_red;
        *prev = top as u32;
        hi = (top >> 32) as u32;
    }
    if hi != 0 || !less_than(out, n) {
        sub_in_place(out, n);
    }
}

/// a < b, both of the same length, little-endian limbs.
pub fn less_than(a: &[u32], b: &[u32]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

/// a -= b (mod 2^(32·len)).
pub fn sub_in_place(a: &mut [u32], b: &[u32]) {
    let mut borrow = 0u64;
    for (x, &y) in a.iter_mut().zip(b) {
        let d = u64::from(*x)
            .wrapping_sub(u64::from(y))
            .wrapping_sub(borrow);
        *x = d as u32;
        borrow = d >> 63;
    }
}
