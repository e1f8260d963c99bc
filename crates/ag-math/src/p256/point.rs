//! P-256 points in Jacobian coordinates (x = X/Z², y = Y/Z³; the point at infinity is
//! `None`), and u1·G + u2·Q by interleaved width-5 NAF over tables of affine odd
//! multiples. Formulas: dbl-2001-b (a = −3),
//! add-2007-bl and madd-2007-bl (Jacobian + affine, 7M + 4S instead of 11M + 5S) from the
//! Explicit-Formulas Database; the cases those formulas do not cover (an input at
//! infinity, P + P, P + (−P)) are handled before they are used, as crafted signatures
//! can reach them.

use super::field::{Fe, ONE};
use super::scalar::Limbs;

/// A point other than infinity, X/Z² and Y/Z³ (infinity is `None` where it can occur:
/// Z never becomes zero otherwise, the group having prime order).
#[derive(Clone, Copy, Debug)]
pub struct Jacobian {
    pub x: Fe,
    pub y: Fe,
    pub z: Fe,
}

/// A point other than infinity as x, y.
#[derive(Clone, Copy, Debug)]
pub struct Affine {
    pub x: Fe,
    pub y: Fe,
}

impl Affine {
    fn negate(&self) -> Affine {
        Affine {
            x: self.x,
            y: self.y.neg(),
        }
    }
}

/// Odd multiples P, 3P, …, (2N−1)P, affine so that each addition is a mixed one: the
/// table a width-w NAF needs has N = 2^(w−2) entries.
pub type Table<const N: usize> = [Affine; N];
/// A scalar below 2^256 has at most 257 NAF digits.
const DIGITS: usize = 257;

impl Jacobian {
    pub fn from_affine(point: &Affine) -> Jacobian {
        Jacobian {
            x: point.x,
            y: point.y,
            z: ONE,
        }
    }

    /// 2·self (dbl-2001-b, 3M + 5S). Never infinity: no point of odd order has y = 0.
    pub fn double(&self) -> Jacobian {
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta = self.x.mul(&gamma);
        let alpha = self.x.sub(&delta).mul(&self.x.add(&delta)).times(3);
        let x3 = alpha.square().sub(&beta.times(8));
        let z3 = self.y.add(&self.z).square().sub(&gamma).sub(&delta);
        let y3 = alpha
            .mul(&beta.times(4).sub(&x3))
            .sub(&gamma.square().times(8));
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// self + other (add-2007-bl, 11M + 5S), `None` when the sum is infinity; P + P is
    /// handed to the doubling.
    pub fn add(&self, other: &Jacobian) -> Option<Jacobian> {
        let z1z1 = self.z.square();
        let z2z2 = other.z.square();
        let u1 = self.x.mul(&z2z2);
        let u2 = other.x.mul(&z1z1);
        let s1 = self.y.mul(&other.z.mul(&z2z2));
        let s2 = other.y.mul(&self.z.mul(&z1z1));
        let h = u2.sub(&u1);
        let s_diff = s2.sub(&s1);
        if h.is_zero() {
            // Same x: the same point (double it) or its negation (the sum is infinity).
            return s_diff.is_zero().then(|| self.double());
        }
        let i = h.times(2).square();
        let j = h.mul(&i);
        let r = s_diff.times(2);
        let v = u1.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.times(2));
        let y3 = r.mul(&v.sub(&x3)).sub(&s1.mul(&j).times(2));
        let z3 = self.z.add(&other.z).square().sub(&z1z1).sub(&z2z2).mul(&h);
        Some(Jacobian {
            x: x3,
            y: y3,
            z: z3,
        })
    }

    /// self + other for an affine other (madd-2007-bl, 7M + 4S), `None` when the sum is
    /// infinity.
    pub fn add_affine(&self, other: &Affine) -> Option<Jacobian> {
        let z1z1 = self.z.square();
        let u2 = other.x.mul(&z1z1);
        let s2 = other.y.mul(&self.z.mul(&z1z1));
        let h = u2.sub(&self.x);
        let s_diff = s2.sub(&self.y);
        if h.is_zero() {
            return s_diff.is_zero().then(|| self.double());
        }
        let hh = h.square();
        let i = hh.times(4);
        let j = h.mul(&i);
        let r = s_diff.times(2);
        let v = self.x.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.times(2));
        let y3 = r.mul(&v.sub(&x3)).sub(&self.y.mul(&j).times(2));
        let z3 = self.z.add(&h).square().sub(&z1z1).sub(&hh);
        Some(Jacobian {
            x: x3,
            y: y3,
            z: z3,
        })
    }

    /// P, 3P, 5P, …, (2N−1)P as affine points (one shared inversion), or `None` if one
    /// is at infinity — impossible for a point of the prime-order group.
    pub fn odd_multiples<const N: usize>(&self) -> Option<Table<N>> {
        let twice = self.double();
        let mut points = [*self; N];
        let mut previous = *self;
        for entry in points.iter_mut().skip(1) {
            previous = previous.add(&twice)?;
            *entry = previous;
        }
        Some(to_affine(&points))
    }
}

/// Jacobian → affine for N points with one field inversion (Montgomery's trick:
/// invert the product of all Z, then peel each Z⁻¹ off with two multiplications).
fn to_affine<const N: usize>(points: &[Jacobian; N]) -> Table<N> {
    // before[i] = Z0·…·Z(i−1) (1 for i = 0)
    let mut before = [ONE; N];
    let mut running = ONE;
    for (slot, point) in before.iter_mut().zip(points) {
        *slot = running;
        running = running.mul(&point.z);
    }
    let mut inverse = running.invert(); // (Z0·…·Z(N−1))⁻¹
    let mut table = [Affine { x: ONE, y: ONE }; N];
    for ((entry, point), earlier) in table.iter_mut().zip(points).zip(&before).rev() {
        // inverse = (Z0·…·Zi)⁻¹ here; times Z0·…·Z(i−1) gives Zi⁻¹.
        let z_inverse = inverse.mul(earlier);
        inverse = inverse.mul(&point.z);
        let z2 = z_inverse.square();
        *entry = Affine {
            x: point.x.mul(&z2),
            y: point.y.mul(&z2.mul(&z_inverse)),
        };
    }
    table
}

/// u1·A + u2·B from the odd-multiple tables of A and B (Straus–Shamir: the doublings
/// are shared), each scalar in the NAF width its table serves (8 entries: width 5, 32:
/// width 7). `None` when the sum is infinity (or a NAF digit fell outside its table,
/// which cannot happen): either way it verifies nothing.
pub fn double_scalar_mul(u1: &Limbs, a: &[Affine], u2: &Limbs, b: &[Affine]) -> Option<Jacobian> {
    let (digits1, digits2) = (naf(u1, width_for(a)), naf(u2, width_for(b)));
    let mut acc: Option<Jacobian> = None; // infinity
    for (&d1, &d2) in digits1.iter().zip(digits2.iter()).rev() {
        acc = acc.map(|point| point.double());
        for (digit, table) in [(d1, a), (d2, b)] {
            if digit != 0 {
                let entry = table.get(usize::from(digit.unsigned_abs() / 2))?;
                let entry = if digit > 0 { *entry } else { entry.negate() };
                acc = match acc {
                    None => Some(Jacobian::from_affine(&entry)),
                    Some(point) => point.add_affine(&entry),
                };
            }
        }
    }
    acc
}

/// The NAF width whose digits index a table of this many odd multiples (2^(w−2)).
fn width_for(table: &[Affine]) -> u32 {
    table.len().trailing_zeros() + 2
}

/// Width-w non-adjacent form of k (w ≤ 8), least significant digit first: every digit
/// is 0 or odd with |digit| < 2^(w−1), and any w consecutive digits hold at most one
/// non-zero.
fn naf(k: &Limbs, width: u32) -> [i8; DIGITS] {
    // One spare limb: subtracting a negative digit adds up to 2^(w−1).
    let mut rest = [0u32; 9];
    for (r, &limb) in rest.iter_mut().zip(k) {
        *r = limb;
    }
    let mut digits = [0i8; DIGITS];
    let window = 1u32 << width;
    for digit in digits.iter_mut() {
        if rest.iter().all(|&limb| limb == 0) {
            break;
        }
        if rest[0] & 1 == 1 {
            let low = rest[0] & (window - 1);
            if low < window / 2 {
                rest[0] -= low; // the low bits are exactly `low`: no borrow
                *digit = low as i8;
            } else {
                add_small(&mut rest, window - low);
                *digit = -((window - low) as i8);
            }
        }
        shift_right_one(&mut rest);
    }
    digits
}

fn add_small(value: &mut [u32; 9], small: u32) {
    let mut carry = u64::from(small);
    for limb in value.iter_mut() {
        let sum = u64::from(*limb) + carry;
        *limb = sum as u32;
        carry = sum >> 32;
    }
}

fn shift_right_one(value: &mut [u32; 9]) {
    let mut high_bit = 0;
    for limb in value.iter_mut().rev() {
        let next = *limb & 1;
        *limb = (*limb >> 1) | (high_bit << 31);
        high_bit = next;
    }
}
