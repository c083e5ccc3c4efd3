//! The activation at a collision point and how it splits the units.
//!
//! A collision at an activation `y = act(ỹ)` needs `act(ỹ(u)) = act(ỹt)`. Where `act` is
//! flat, `ỹ` may move: for ReLU every unit with `ỹt_j ≤ 0` may go anywhere `≤ 0` (the zero
//! set `Z`); the other units (the positive set `P`) must keep their value. In general each
//! unit gets a *role*:
//!
//! - `Positive` (in `P`): `ỹ_j = ỹt_j`;
//! - `Low(b)`: `ỹ_j ≤ b` (ReLU: `b = 0`; a clip `[lo, hi]`: `b = lo` when `ỹt_j ≤ lo`);
//! - `High(b)`: `ỹ_j ≥ b` (a clip with `ỹt_j ≥ hi`: `b = hi`, e.g. ReLU6's flat top).
//!
//! These are exact: every input meeting them collides. Sigmoid and tanh are never flat, but
//! saturate: with a saturation tolerance `τ` a unit with `ỹt_j ≤ −s` may move anywhere
//! `≤ −s` (`Low(−s)`) and one with `ỹt_j ≥ s` anywhere `≥ s` (`High(s)`), changing its
//! activation by at most `τ`; `s = atanh(1 − τ)` for tanh and `s = ln((1 − τ)/τ)` for the
//! sigmoid. Such collisions are *approximate*. LeakyReLU is injective: every unit is
//! positive.
use serde::{Deserialize, Serialize};

use crate::model::Op;

/// The element-wise activation at a collision point.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `max(ỹ, 0)`.
    Relu,
    /// `min(max(ỹ, lo), hi)`.
    Clip {
        /// Lower bound.
        lo: f32,
        /// Upper bound.
        hi: f32,
    },
    /// `ỹ` or `α·ỹ`.
    LeakyRelu {
        /// Negative slope.
        alpha: f32,
    },
    /// `tanh ỹ`.
    Tanh,
    /// `1 / (1 + e^{−ỹ})`.
    Sigmoid,
}

/// What a unit may do at a collision (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnitRole {
    /// Keep the target's value.
    Positive,
    /// Stay `≤ b`.
    Low(f32),
    /// Stay `≥ b`.
    High(f32),
}

impl UnitRole {
    /// Whether the unit is in the positive set.
    pub fn is_positive(self) -> bool {
        matches!(self, UnitRole::Positive)
    }

    /// For a unit that may move, its side `s` (`+1` for `Low`, `−1` for `High`) and bound
    /// `b`: the constraint is `s·(ỹ − b) ≤ 0`.
    pub fn side(self) -> Option<(f32, f32)> {
        match self {
            UnitRole::Positive => None,
            UnitRole::Low(b) => Some((1.0, b)),
            UnitRole::High(b) => Some((-1.0, b)),
        }
    }

    /// Whether `v` meets the role's constraint (`Positive`: always).
    pub fn satisfied(self, v: f32) -> bool {
        match self {
            UnitRole::Positive => true,
            UnitRole::Low(b) => v <= b,
            UnitRole::High(b) => v >= b,
        }
    }
}

impl Activation {
    /// The activation computed by `op`, if it is one.
    pub fn of(op: &Op) -> Option<Self> {
        Some(match op {
            Op::Relu => Activation::Relu,
            Op::Clip { min, max } => Activation::Clip { lo: *min, hi: *max },
            Op::LeakyRelu { alpha } => Activation::LeakyRelu { alpha: *alpha },
            Op::Tanh => Activation::Tanh,
            Op::Sigmoid => Activation::Sigmoid,
            _ => return None,
        })
    }

    /// `act(v)`.
    pub fn apply(self, v: f32) -> f32 {
        match self {
            Activation::Relu => v.max(0.0),
            Activation::Clip { lo, hi } => v.max(lo).min(hi),
            Activation::LeakyRelu { alpha } => {
                if v >= 0.0 {
                    v
                } else {
                    alpha * v
                }
            }
            Activation::Tanh => v.tanh(),
            Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        }
    }

    /// Whether collisions at this activation are exact (flat pieces) rather than approximate
    /// (saturation).
    pub fn is_exact(self) -> bool {
        !matches!(self, Activation::Tanh | Activation::Sigmoid)
    }

    /// The saturation threshold `s` for tolerance `τ` (sigmoid and tanh; `None` otherwise).
    pub fn saturation(self, tol: f32) -> Option<f32> {
        let t = f64::from(tol);
        match self {
            Activation::Tanh => Some((1.0 - t).atanh() as f32),
            Activation::Sigmoid => Some(((1.0 - t) / t).ln() as f32),
            _ => None,
        }
    }

    /// The role of a unit whose target pre-activation is `t`, with saturation tolerance `tol`.
    pub fn role(self, t: f32, tol: f32) -> UnitRole {
        match self {
            Activation::Relu => {
                if t > 0.0 {
                    UnitRole::Positive
                } else {
                    UnitRole::Low(0.0)
                }
            }
            Activation::Clip { lo, hi } => {
                if t <= lo {
                    UnitRole::Low(lo)
                } else if t >= hi {
                    UnitRole::High(hi)
                } else {
                    UnitRole::Positive
                }
            }
            Activation::LeakyRelu { .. } => UnitRole::Positive,
            Activation::Tanh | Activation::Sigmoid => {
                let s = self.saturation(tol).unwrap_or(f32::INFINITY);
                if t <= -s {
                    UnitRole::Low(-s)
                } else if t >= s {
                    UnitRole::High(s)
                } else {
                    UnitRole::Positive
                }
            }
        }
    }

    /// `‖act(a) − act(b)‖ / ‖act(b)‖`: the relative feature error of pre-activations `a`
    /// against the target's `b`.
    pub fn feature_rel_err(self, a: &[f32], b: &[f32]) -> f64 {
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for (&x, &t) in a.iter().zip(b) {
            let (x, t) = (f64::from(self.apply(x)), f64::from(self.apply(t)));
            num += (x - t) * (x - t);
            den += t * t;
        }
        num.sqrt() / den.sqrt().max(1e-30)
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Activation::Relu => write!(f, "ReLU"),
            Activation::Clip { lo, hi } => write!(f, "clip [{lo}, {hi}]"),
            Activation::LeakyRelu { alpha } => write!(f, "LeakyReLU ({alpha})"),
            Activation::Tanh => write!(f, "tanh"),
            Activation::Sigmoid => write!(f, "sigmoid"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        let r = Activation::Relu;
        assert_eq!(r.role(0.5, 1e-3), UnitRole::Positive);
        assert_eq!(r.role(0.0, 1e-3), UnitRole::Low(0.0));
        let six = Activation::Clip { lo: 0.0, hi: 6.0 };
        assert_eq!(six.role(7.0, 1e-3), UnitRole::High(6.0));
        assert!(six.is_exact());
        let t = Activation::Tanh;
        let s = t.saturation(1e-3).unwrap();
        // tanh(s) = 1 − τ.
        assert!(((s.tanh()) - (1.0 - 1e-3)).abs() < 1e-6);
        assert_eq!(t.role(-5.0, 1e-3), UnitRole::Low(-s));
        assert_eq!(t.role(0.3, 1e-3), UnitRole::Positive);
        let g = Activation::Sigmoid;
        let s = g.saturation(1e-3).unwrap();
        assert!((g.apply(-s) - 1e-3).abs() < 1e-6);
        assert!(!g.is_exact());
        assert_eq!(Activation::of(&Op::Flatten), None);
        assert!(UnitRole::High(6.0).satisfied(6.5) && !UnitRole::Low(0.0).satisfied(0.1));
        assert!((Activation::Relu.feature_rel_err(&[1.0, -3.0], &[2.0, -1.0]) - 0.5).abs() < 1e-12);
    }
}
