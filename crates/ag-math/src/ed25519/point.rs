//! Points of edwards25519 (−x² + y² = 1 + d·x²·y²) in the coordinates of
//! Hisil–Wong–Carter–Dawson 2008, as the reference code names them: extended (X:Y:Z:T,
//! x = X/Z, y = Y/Z, xy = T/Z), projective (X:Y:Z), "completed" ((X:Z), (Y:T)), the
//! output of a doubling or an addition, and "cached" (Y+X, Y−X, Z, 2dT), an addend
//! prepared once. Variable-time: only public values (keys, signatures) come here.

use super::field::{Fe, D, D2, ONE, SQRT_M1, ZERO};

#[derive(Clone, Copy, Debug)]
pub struct Extended {
    x: Fe,
    y: Fe,
    z: Fe,
    t: Fe,
}

#[derive(Clone, Copy, Debug)]
struct Projective {
    x: Fe,
    y: Fe,
    z: Fe,
}

#[derive(Clone, Copy, Debug)]
struct Completed {
    x: Fe,
    y: Fe,
    z: Fe,
    t: Fe,
}

#[derive(Clone, Copy, Debug)]
pub struct Cached {
    y_plus_x: Fe,
    y_minus_x: Fe,
    z: Fe,
    t2d: Fe,
}

/// A point's odd multiples P, 3P, …, 15P, for the sliding window of
/// [`double_scalar_mul`].
pub type Table = [Cached; 8];

impl Extended {
    const NEUTRAL: Extended = Extended {
        x: ZERO,
        y: ONE,
        z: ONE,
        t: ZERO,
    };

    /// RFC 8032 §5.1.3 decoding, negated (−P is what verification adds): `None` when
    /// y ≥ p, x² = (y² − 1)/(d·y² + 1) has no root, or x = 0 comes with the sign bit set.
    pub fn decode_negated(bytes: &[u8; 32]) -> Option<Extended> {
        if !super::field::is_canonical(bytes) {
            return None;
        }
        let y = Fe::from_bytes(bytes);
        let y2 = y.square();
        let u = y2.sub(&ONE);
        let v = y2.mul(&D).add(&ONE);
        // x = u·(uv)^((p−5)/8) satisfies v·x² = ±u when u/v is a square.
        let mut x = u.mul(&v).pow_p58().mul(&u);
        let vxx = x.square().mul(&v);
        if !vxx.sub(&u).is_zero() {
            if !vxx.add(&u).is_zero() {
                return None;
            }
            x = x.mul(&SQRT_M1);
        }
        let sign = bytes.last().is_some_and(|b| b >> 7 == 1);
        if x.is_zero() && sign {
            return None;
        }
        // The encoded point has x's sign bit; its negation the other one.
        if x.is_negative() == sign {
            x = x.neg();
        }
        Some(Extended {
            x,
            y,
            z: ONE,
            t: x.mul(&y),
        })
    }

    pub fn negate(&self) -> Extended {
        Extended {
            x: self.x.neg(),
            y: self.y,
            z: self.z,
            t: self.t.neg(),
        }
    }

    fn to_projective(self) -> Projective {
        Projective {
            x: self.x,
            y: self.y,
            z: self.z,
        }
    }

    pub fn to_cached(self) -> Cached {
        Cached {
            y_plus_x: self.y.add(&self.x),
            y_minus_x: self.y.sub(&self.x),
            z: self.z,
            t2d: self.t.mul(&D2),
        }
    }

    /// self + q (`subtract`: self − q).
    fn add_cached(&self, q: &Cached, subtract: bool) -> Completed {
        let (plus, minus) = if subtract {
            (&q.y_minus_x, &q.y_plus_x)
        } else {
            (&q.y_plus_x, &q.y_minus_x)
        };
        let a = self.y.add(&self.x).mul(plus);
        let b = self.y.sub(&self.x).mul(minus);
        let c = q.t2d.mul(&self.t);
        let zz = self.z.mul(&q.z);
        let d = zz.add(&zz);
        let (z, t) = if subtract {
            (d.sub(&c), d.add(&c))
        } else {
            (d.add(&c), d.sub(&c))
        };
        Completed {
            x: a.sub(&b),
            y: a.add(&b),
            z,
            t,
        }
    }

    pub fn add(&self, q: &Extended) -> Extended {
        self.add_cached(&q.to_cached(), false).to_extended()
    }

    /// Whether 8·self is the neutral point: 4·self is then (0, ±1), x = 0.
    pub fn has_small_order(&self) -> bool {
        self.to_projective()
            .double()
            .to_projective()
            .double()
            .to_projective()
            .x
            .is_zero()
    }

    /// P, 3P, …, 15P.
    pub fn odd_multiples(&self) -> Table {
        let twice = self.to_projective().double().to_extended().to_cached();
        let mut table = [self.to_cached(); 8];
        let mut current = *self;
        for entry in table.iter_mut().skip(1) {
            current = current.add_cached(&twice, false).to_extended();
            *entry = current.to_cached();
        }
        table
    }
}

impl Projective {
    const NEUTRAL: Projective = Projective {
        x: ZERO,
        y: ONE,
        z: ONE,
    };

    /// 2·self (dbl-2008-hwcd with a = −1).
    fn double(&self) -> Completed {
        let xx = self.x.square();
        let yy = self.y.square();
        let zz = self.z.square();
        let zz2 = zz.add(&zz);
        let sum = self.x.add(&self.y).square();
        let y = yy.add(&xx);
        let z = yy.sub(&xx);
        Completed {
            x: sum.sub(&y),
            y,
            z,
            t: zz2.sub(&z),
        }
    }
}

impl Completed {
    fn to_projective(self) -> Projective {
        Projective {
            x: self.x.mul(&self.t),
            y: self.y.mul(&self.z),
            z: self.z.mul(&self.t),
        }
    }

    fn to_extended(self) -> Extended {
        Extended {
            x: self.x.mul(&self.t),
            y: self.y.mul(&self.z),
            z: self.z.mul(&self.t),
            t: self.x.mul(&self.y),
        }
    }
}

/// a·A + b·B for 256-bit little-endian scalars, by one left-to-right pass of doublings
/// with signed sliding windows of width 5 over both (Straus–Shamir).
pub fn double_scalar_mul(a: &[u8; 32], a_table: &Table, b: &[u8; 32], b_table: &Table) -> Extended {
    let (a_digits, b_digits) = (slide(a), slide(b));
    let mut r = Projective::NEUTRAL;
    let mut last = None;
    let top = a_digits
        .iter()
        .zip(&b_digits)
        .rposition(|(x, y)| *x != 0 || *y != 0);
    for i in (0..=top.unwrap_or(0)).rev() {
        let mut t = r.double();
        for (digits, table) in [(&a_digits, a_table), (&b_digits, b_table)] {
            let digit = digits.get(i).copied().unwrap_or(0);
            let entry = table.get(usize::from(digit.unsigned_abs() / 2));
            if let (true, Some(entry)) = (digit != 0, entry) {
                t = t.to_extended().add_cached(entry, digit < 0);
            }
        }
        r = t.to_projective();
        last = Some(t);
    }
    last.map_or(Extended::NEUTRAL, Completed::to_extended)
}

/// The scalar's signed digits, each 0 or odd in −15..=15, with Σ dᵢ·2^i = the scalar:
/// the reference code's `slide`.
fn slide(scalar: &[u8; 32]) -> [i8; 256] {
    let mut r = [0i8; 256];
    for (i, digit) in r.iter_mut().enumerate() {
        let byte = scalar.get(i / 8).copied().unwrap_or(0);
        *digit = ((byte >> (i % 8)) & 1) as i8;
    }
    for i in 0..256 {
        if r.get(i).copied().unwrap_or(0) == 0 {
            continue;
        }
        for b in 1..=6 {
            let Some(&next) = r.get(i + b) else {
                break;
            };
            if next == 0 {
                continue;
            }
            let (Some(&ri), shifted) = (r.get(i), i32::from(next) << b) else {
                break;
            };
            let ri = i32::from(ri);
            if ri + shifted <= 15 {
                set(&mut r, i, ri + shifted);
                set(&mut r, i + b, 0);
            } else if ri - shifted >= -15 {
                set(&mut r, i, ri - shifted);
                // Add 2^(i+b): carry up through the run of ones.
                for k in i + b..256 {
                    if r.get(k).copied().unwrap_or(0) == 0 {
                        set(&mut r, k, 1);
                        break;
                    }
                    set(&mut r, k, 0);
                }
            } else {
                break;
            }
        }
    }
    r
}

fn set(r: &mut [i8; 256], i: usize, value: i32) {
    if let Some(slot) = r.get_mut(i) {
        *slot = value as i8;
    }
}
