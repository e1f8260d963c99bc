//! P-256 points in Jacobian coordinates (x = X/Z², y = Y/Z³; Z = 0 is the point at
//! infinity), coordinates reduced mod p, and u1·G + u2·Q by interleaved
//! width-5 NAF over tables of affine odd multiples. Formulas: dbl-2001-b (a = −3),
//! add-2007-bl and madd-2007-bl (Jacobian + affine, 7M + 4S instead of 11M + 5S) from the
//! Explicit-Formulas Database; the cases those formulas do not cover (an input at
//! infinity, P + P, P + (−P)) are handled before they are used, as crafted signatures
//! can reach them.

use super::field::{is_zero, Limbs, P};

#[derive(Clone, Copy, Debug)]
pub struct Jacobian {
    pub x: Limbs,
    pub y: Limbs,
    pub z: Limbs,
}

/// A point other than infinity as x, y (imported with `P.import`).
#[derive(Clone, Copy, Debug)]
pub struct Affine {
    pub x: Limbs,
    pub y: Limbs,
}

impl Affine {
    fn negate(&self) -> Affine {
        Affine {
            x: self.x,
            y: P.sub(&[0; 8], &self.y),
        }
    }
}

/// Window width of the NAF: 2^(W−2) = 8 precomputed odd multiples per point.
const W: u32 = 5;
/// Odd multiples P, 3P, …, 15P, affine so that each addition is a mixed one.
pub type Table = [Affine; 8];
/// A scalar below 2^256 has at most 257 NAF digits.
const DIGITS: usize = 257;

impl Jacobian {
    pub const INFINITY: Jacobian = Jacobian {
        x: [0; 8],
        y: [0; 8],
        z: [0; 8],
    };

    /// An affine point whose coordinates were imported with `P.import`.
    pub fn from_affine(x: Limbs, y: Limbs) -> Jacobian {
        Jacobian {
            x,
            y,
            z: P.import(&[1, 0, 0, 0, 0, 0, 0, 0]),
        }
    }

    pub fn is_infinity(&self) -> bool {
        is_zero(&self.z)
    }

    /// 2·self (dbl-2001-b, 3M + 5S). At infinity Z3 = (Y+0)² − Y² − 0 = 0: stays there.
    pub fn double(&self) -> Jacobian {
        let f = &P;
        let delta = f.square(&self.z);
        let gamma = f.square(&self.y);
        let beta = f.mul(&self.x, &gamma);
        let t = f.mul(&f.sub(&self.x, &delta), &f.add(&self.x, &delta));
        let alpha = f.add(&f.add(&t, &t), &t);
        let beta2 = f.add(&beta, &beta);
        let beta4 = f.add(&beta2, &beta2);
        let beta8 = f.add(&beta4, &beta4);
        let x3 = f.sub(&f.square(&alpha), &beta8);
        let y_plus_z = f.add(&self.y, &self.z);
        let z3 = f.sub(&f.sub(&f.square(&y_plus_z), &gamma), &delta);
        let gamma_sq = f.square(&gamma);
        let gamma_sq2 = f.add(&gamma_sq, &gamma_sq);
        let gamma_sq4 = f.add(&gamma_sq2, &gamma_sq2);
        let gamma_sq8 = f.add(&gamma_sq4, &gamma_sq4);
        let y3 = f.sub(&f.mul(&alpha, &f.sub(&beta4, &x3)), &gamma_sq8);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// self + other (add-2007-bl, 11M + 5S), with the exceptional cases first.
    pub fn add(&self, other: &Jacobian) -> Jacobian {
        if self.is_infinity() {
            return *other;
        }
        if other.is_infinity() {
            return *self;
        }
        let f = &P;
        let z1z1 = f.square(&self.z);
        let z2z2 = f.square(&other.z);
        let u1 = f.mul(&self.x, &z2z2);
        let u2 = f.mul(&other.x, &z1z1);
        let s1 = f.mul(&self.y, &f.mul(&other.z, &z2z2));
        let s2 = f.mul(&other.y, &f.mul(&self.z, &z1z1));
        let h = f.sub(&u2, &u1);
        let s_diff = f.sub(&s2, &s1);
        if is_zero(&h) {
            // Same x: the same point (double it) or its negation (the sum is infinity).
            return if is_zero(&s_diff) {
                self.double()
            } else {
                Jacobian::INFINITY
            };
        }
        let h2 = f.add(&h, &h);
        let i = f.square(&h2);
        let j = f.mul(&h, &i);
        let r = f.add(&s_diff, &s_diff);
        let v = f.mul(&u1, &i);
        let x3 = f.sub(&f.sub(&f.square(&r), &j), &f.add(&v, &v));
        let s1j = f.mul(&s1, &j);
        let y3 = f.sub(&f.mul(&r, &f.sub(&v, &x3)), &f.add(&s1j, &s1j));
        let z_sum = f.add(&self.z, &other.z);
        let z3 = f.mul(&f.sub(&f.sub(&f.square(&z_sum), &z1z1), &z2z2), &h);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// self + other for an affine other (madd-2007-bl), exceptional cases first.
    pub fn add_affine(&self, other: &Affine) -> Jacobian {
        if self.is_infinity() {
            return Jacobian::from_affine(other.x, other.y);
        }
        let f = &P;
        let z1z1 = f.square(&self.z);
        let u2 = f.mul(&other.x, &z1z1);
        let s2 = f.mul(&other.y, &f.mul(&self.z, &z1z1));
        let h = f.sub(&u2, &self.x);
        let s_diff = f.sub(&s2, &self.y);
        if is_zero(&h) {
            return if is_zero(&s_diff) {
                self.double()
            } else {
                Jacobian::INFINITY
            };
        }
        let hh = f.square(&h);
        let hh2 = f.add(&hh, &hh);
        let i = f.add(&hh2, &hh2);
        let j = f.mul(&h, &i);
        let r = f.add(&s_diff, &s_diff);
        let v = f.mul(&self.x, &i);
        let x3 = f.sub(&f.sub(&f.square(&r), &j), &f.add(&v, &v));
        let y1j = f.mul(&self.y, &j);
        let y3 = f.sub(&f.mul(&r, &f.sub(&v, &x3)), &f.add(&y1j, &y1j));
        let z_plus_h = f.add(&self.z, &h);
        let z3 = f.sub(&f.sub(&f.square(&z_plus_h), &z1z1), &hh);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// P, 3P, 5P, …, 15P as affine points (one shared inversion), or `None` if one is
    /// at infinity — impossible for a point of the prime-order group other than infinity.
    pub fn odd_multiples(&self) -> Option<Table> {
        let twice = self.double();
        let mut points = [*self; 8];
        let mut previous = *self;
        for entry in points.iter_mut().skip(1) {
            previous = previous.add(&twice);
            *entry = previous;
        }
        to_affine(&points)
    }
}

/// Jacobian → affine for eight points with one field inversion (Montgomery's trick:
/// invert the product of all Z, then peel each Z⁻¹ off with two multiplications).
fn to_affine(points: &[Jacobian; 8]) -> Option<Table> {
    let f = &P;
    if points.iter().any(Jacobian::is_infinity) {
        return None;
    }
    // before[i] = Z0·…·Z(i−1) (1 for i = 0)
    let one = f.import(&[1, 0, 0, 0, 0, 0, 0, 0]);
    let mut before = [one; 8];
    let mut running = one;
    for (slot, point) in before.iter_mut().zip(points) {
        *slot = running;
        running = f.mul(&running, &point.z);
    }
    let mut inverse = f.invert(&running); // (Z0·…·Z7)⁻¹
    let mut table = [Affine {
        x: [0; 8],
        y: [0; 8],
    }; 8];
    for ((entry, point), earlier) in table.iter_mut().zip(points).zip(&before).rev() {
        // inverse = (Z0·…·Zi)⁻¹ here; times Z0·…·Z(i−1) gives Zi⁻¹.
        let z_inverse = f.mul(&inverse, earlier);
        inverse = f.mul(&inverse, &point.z);
        let z2 = f.square(&z_inverse);
        *entry = Affine {
            x: f.mul(&point.x, &z2),
            y: f.mul(&point.y, &f.mul(&z2, &z_inverse)),
        };
    }
    Some(table)
}

/// u1·A + u2·B from the odd-multiple tables of A and B (Straus–Shamir: the doublings
/// are shared). `None` only if a NAF digit fell outside its table, which cannot happen.
pub fn double_scalar_mul(u1: &Limbs, a: &Table, u2: &Limbs, b: &Table) -> Option<Jacobian> {
    let (digits1, digits2) = (naf(u1), naf(u2));
    let mut acc = Jacobian::INFINITY;
    for (&d1, &d2) in digits1.iter().zip(digits2.iter()).rev() {
        if !acc.is_infinity() {
            acc = acc.double();
        }
        for (digit, table) in [(d1, a), (d2, b)] {
            if digit != 0 {
                let entry = table.get(usize::from(digit.unsigned_abs() / 2))?;
                acc = acc.add_affine(&if digit > 0 { *entry } else { entry.negate() });
            }
        }
    }
    Some(acc)
}

/// Width-W non-adjacent form of k, least significant digit first: every digit is 0 or
/// odd with |digit| < 2^(W−1), and any W consecutive digits hold at most one non-zero.
fn naf(k: &Limbs) -> [i8; DIGITS] {
    // One spare limb: subtracting a negative digit adds up to 2^(W−1).
    let mut rest = [0u32; 9];
    for (r, &limb) in rest.iter_mut().zip(k) {
        *r = limb;
    }
    let mut digits = [0i8; DIGITS];
    let window = 1u32 << W;
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
