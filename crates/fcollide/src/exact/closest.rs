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
//!
//! With the dense simplex (when [`LpOptions`] allows it for the number of rows, see
//! [`super::lp`]) the same LP is solved in the split form `u = c + p − q` over
//! `p ∈ [0, hi − c]`, `q ∈ [0, c − lo]`, `c = clip(x_other, lo, hi)`:
//!
//! ```text
//!   minimize Σ_k (p_k + q_k)   subject to   rl ≤ a·c + [a, −a]·(p, q) ≤ ru  for every row a
//! ```
//!
//! Every column is boxed and the rows are only the collision system's (no `2d` rows for the
//! absolute values). For `u` in the box, `|u_k − x_k| = |u_k − c_k| + |c_k − x_k|`, so the
//! minimizer is the same; `l1` is always measured against `x_other` itself.
use serde::{Deserialize, Serialize};

use super::error::ExactError;
use super::lp::{add_system_rows, LpBuilder, LpOptions, LpStats};
use super::polytope::CollisionSystem;
use super::simplex::{DenseLp, SimplexError};

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
    if let Some(bad) = x_other.iter().find(|v| !v.is_finite()) {
        return Err(ExactError::InvalidParam {
            name: "closest: other image".into(),
            reason: format!("pixels must be finite, found {bad}"),
        });
    }
    let mut fell_back = None;
    if opts.wants_dense(sys.n_eq() + sys.ineq.len()) {
        match closest_dense(sys, x_other, opts) {
            Ok(r) => return Ok(finish(sys, x_other, r.0, r.1)),
            Err(SimplexError::Infeasible(_)) => {
                return Err(ExactError::Infeasible {
                    what: "closest point (L1)".into(),
                })
            }
            Err(e) => fell_back = Some(e),
        }
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
    let mut sol = lp.solve_sparse(highs::Sense::Minimise, (d..2 * d).map(|k| (k, 1.0)))?;
    if let Some(e) = fell_back {
        sol.stats.solver = format!("highs (after dense: {e})");
    }
    Ok(finish(sys, x_other, sol.x[..d].to_vec(), sol.stats))
}

/// The split form with the dense simplex: returns the point and the LP figures.
fn closest_dense(
    sys: &CollisionSystem,
    x_other: &[f64],
    opts: &LpOptions,
) -> Result<(Vec<f64>, LpStats), SimplexError> {
    let d = sys.d;
    let c: Vec<f64> = x_other
        .iter()
        .zip(sys.lo.iter().zip(&sys.hi))
        .map(|(&x, (&l, &h))| x.clamp(l, h))
        .collect();
    let col_lo = vec![0.0; 2 * d];
    let mut col_hi = vec![0.0; 2 * d];
    for k in 0..d {
        col_hi[k] = (sys.hi[k] - c[k]).max(0.0);
        col_hi[d + k] = (c[k] - sys.lo[k]).max(0.0);
    }
    let m = sys.n_eq() + sys.ineq.len();
    let mut a = Vec::with_capacity(m * 2 * d);
    let mut rl = Vec::with_capacity(m);
    let mut ru = Vec::with_capacity(m);
    let mut push = |row: &[f64], lo: f64, hi: f64| {
        let ac: f64 = row.iter().zip(&c).map(|(x, y)| x * y).sum();
        a.extend_from_slice(row);
        a.extend(row.iter().map(|v| -v));
        rl.push(lo - ac);
        ru.push(hi - ac);
    };
    for i in 0..sys.n_eq() {
        push(sys.eq_row(i), sys.eq_b[i], sys.eq_b[i]);
    }
    for k in 0..sys.ineq.len() {
        push(sys.ineq.row(k), f64::NEG_INFINITY, sys.ineq.h[k]);
    }
    let mut lp = DenseLp::new(&a, m, 2 * d, &rl, &ru, &col_lo, &col_hi)?;
    let s = lp.solve(&vec![1.0; 2 * d], false, &opts.dense_settings())?;
    let point = (0..d).map(|k| c[k] + s.x[k] - s.x[d + k]).collect();
    Ok((point, LpStats::dense(&s, s.objective)))
}

fn finish(sys: &CollisionSystem, x_other: &[f64], point: Vec<f64>, stats: LpStats) -> ClosestPoint {
    let diff: Vec<f64> = point.iter().zip(x_other).map(|(a, b)| a - b).collect();
    ClosestPoint {
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
        stats,
    }
}
