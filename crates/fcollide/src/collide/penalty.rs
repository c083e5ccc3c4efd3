//! The penalty `pen` on the zero-set units `j ∈ Z, j ≠ i` in `L−_i = ỹ_i + Σ pen(ỹ_j)`.
//!
//! - `square`: `pen(y) = y²` (the paper's formula);
//! - `abs`: `pen(y) = |y|` (the authors' released code);
//! - `hinge`: `pen(y) = max(y, 0)²` — only a positive pre-activation breaks a collision, so
//!   negative values are free; this gives much larger polytopes at equal feature error.
use serde::{Deserialize, Serialize};

/// Penalty on the other zero-set units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Penalty {
    /// `y²`.
    Square,
    /// `|y|`.
    Abs,
    /// `max(y, 0)²`.
    Hinge,
}

impl Penalty {
    /// `pen(y)`.
    pub fn value(self, y: f32) -> f32 {
        match self {
            Penalty::Square => y * y,
            Penalty::Abs => y.abs(),
            Penalty::Hinge => {
                let p = y.max(0.0);
                p * p
            }
        }
    }

    /// `pen'(y)` (a subgradient at the kink of `abs`: 0).
    pub fn derivative(self, y: f32) -> f32 {
        match self {
            Penalty::Square => 2.0 * y,
            Penalty::Abs => {
                if y > 0.0 {
                    1.0
                } else if y < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            Penalty::Hinge => 2.0 * y.max(0.0),
        }
    }

    /// Parses `square`, `abs` or `hinge`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "square" => Some(Penalty::Square),
            "abs" => Some(Penalty::Abs),
            "hinge" => Some(Penalty::Hinge),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences() {
        for p in [Penalty::Square, Penalty::Abs, Penalty::Hinge] {
            for y in [-1.3f32, -0.2, 0.3, 2.0] {
                let h = 1e-3;
                let fd = (p.value(y + h) - p.value(y - h)) / (2.0 * h);
                assert!((fd - p.derivative(y)).abs() < 1e-2, "{p:?} at {y}");
            }
        }
        assert_eq!(Penalty::Hinge.value(-3.0), 0.0);
        assert_eq!(Penalty::parse("abs"), Some(Penalty::Abs));
        assert_eq!(Penalty::parse("l2"), None);
    }
}
