//! The colliding input closest in L1 to another image (exact version of the paper's row 2).
//!
//! Over `(u, s) ∈ R^d × R^d`:
//!
//! ```text
//!   minimize   Σ_k s_k
//!   subject to −s ≤ u − x_other ≤ s,
//!              the collision system at the target (P equalities, Z and region
//!              inequalities), lo ≤ u ≤ hi.
//! ```
//!
//! At the optimum `s_k = |u_k − x_other_k|`, so the objective is `‖u − x_other‖₁`: the input
//! that looks most like `x_other` while producing exactly the target's activation at the layer.
use serde::{Deserialize, Serialize};

use super::error::ExactError;
use super::lp::{add_system_rows, LpBuilder, LpOptions, LpStats};
use super::polytope::CollisionSystem;

/// Result of [`closest_l1`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClosestPoint {
    /// The colliding point.
    pub point: Vec<f64>,
    /// `‖u − x_other‖₁`.
    pub l1: f64,
    /// `‖u − x_other‖₂`.
    pub l2: f64,
    /// `‖u − x_other‖∞`.
    pub linf: f64,
    /// `‖t − x_other‖₁`, for scale.
    pub target_l1: f64,
    /// LP figures.
    pub stats: LpStats,
}

/// Solve the closest-point LP.
pub fn closest_l1(
    sys: &CollisionSystem,
    x_other: &[f64],
    opts: &LpOptions,
) -> Result<ClosestPoint, ExactError> {
    let d = sys.d;
    if x_other.len() != d {
        return Err(ExactError::shape("closest: other image", d, x_other.len()));
    }
    let mut b = LpBuilder::new();
    for k in 0..d {
        b.col(sys.lo[k], sys.hi[k]);
    }
    for _ in 0..d {
        b.col(0.0, f64::INFINITY);
    }
    for (k, &x) in x_other.iter().enumerate() {
        b.row(f64::NEG_INFINITY, x, [(k, 1.0), (d + k, -1.0)]);
        b.row(x, f64::INFINITY, [(k, 1.0), (d + k, 1.0)]);
    }
    add_system_rows(&mut b, sys, 0);
    let mut lp = b.build("closest point (L1)", opts)?;
    let sol = lp.solve_sparse(highs::Sense::Minimise, (d..2 * d).map(|k| (k, 1.0)))?;
    let point = sol.x[..d].to_vec();
    let diff: Vec<f64> = point.iter().zip(x_other).map(|(a, b)| a - b).collect();
    Ok(ClosestPoint {
        l1: diff.iter().map(|v| v.abs()).sum(),
        l2: diff.iter().map(|v| v * v).sum::<f64>().sqrt(),
        linf: diff.iter().fold(0.0, |m, v| m.max(v.abs())),
        target_l1: sys
            .target
            .iter()
            .zip(x_other)
            .map(|(a, b)| (a - b).abs())
            .sum(),
        point,
        stats: sol.stats,
    })
}
