//! The verdict on a row: does its polytope collide with the target?
//!
//! - `collides`: the hull is certified ([`super::certificate`]), or the relative feature
//!   error at the collision layer is at most the tolerance at every vertex and every sample;
//! - `approximate`: not a collision, but every vertex and every sample keeps the target's
//!   class (what the paper's "success" counts);
//! - `failed`: anything else, including non-finite figures.
use serde::{Deserialize, Serialize};

pub use crate::tolerance::{check_tolerance, default_tol, DEFAULT_COLLISION_TOL};

/// Whether a row's polytope collides with its target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Certified, or feature error ≤ tolerance everywhere it was measured.
    Collides,
    /// The class is kept everywhere measured but the features differ.
    Approximate,
    /// Neither (also what a record without a verdict reads as).
    #[default]
    Failed,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Collides => "collides",
            Verdict::Approximate => "approximate",
            Verdict::Failed => "failed",
        })
    }
}

/// What a verdict is decided from.
#[derive(Clone, Copy, Debug)]
pub struct Evidence {
    /// Whether the hull is certified.
    pub certified: bool,
    /// Largest relative feature error over vertices and samples.
    pub feature_err_max: f64,
    /// Fraction of vertices and samples in the target's class.
    pub class_agreement: f64,
}

/// The verdict from `evidence` at tolerance `tol`.
pub fn verdict(evidence: Evidence, tol: f64) -> Verdict {
    let Evidence {
        certified,
        feature_err_max,
        class_agreement,
    } = evidence;
    if !feature_err_max.is_finite() || !class_agreement.is_finite() {
        return Verdict::Failed;
    }
    if certified || feature_err_max <= tol {
        Verdict::Collides
    } else if class_agreement >= 1.0 {
        Verdict::Approximate
    } else {
        Verdict::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_verdicts() {
        let e = |certified, feature_err_max, class_agreement| Evidence {
            certified,
            feature_err_max,
            class_agreement,
        };
        assert_eq!(verdict(e(true, 0.2, 1.0), 1e-3), Verdict::Collides);
        assert_eq!(verdict(e(false, 5e-4, 1.0), 1e-3), Verdict::Collides);
        assert_eq!(verdict(e(false, 0.14, 1.0), 1e-3), Verdict::Approximate);
        assert_eq!(verdict(e(false, 0.14, 0.97), 1e-3), Verdict::Failed);
        assert_eq!(verdict(e(true, f64::NAN, 1.0), 1e-3), Verdict::Failed);
        assert_eq!(Verdict::Approximate.to_string(), "approximate");
    }
}
