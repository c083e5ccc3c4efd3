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
use super::lazy::{LazyLp, Rows};
#[cfg(feature = "highs")]
use super::lp::{add_system_rows, LpBuilder};
use super::lp::{LpOptions, LpSolver, LpStats};
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
    let what = "closest point (L1)";
    if opts.solver == LpSolver::Highs {
        #[cfg(feature = "highs")]
        return closest_highs(sys, x_other, opts, None);
        #[cfg(not(feature = "highs"))]
        return Err(super::lp::highs_missing(what));
    }
    let first = closest_dense(sys, x_other, opts, &opts.dense_settings());
    let result = match first {
        Err(e @ (SimplexError::Numerical(_) | SimplexError::IterationLimit(_))) => {
            #[cfg(feature = "highs")]
            return closest_highs(sys, x_other, opts, Some(e));
            #[cfg(not(feature = "highs"))]
            closest_dense(sys, x_other, opts, &opts.dense_retry_settings()).map(|(p, mut st)| {
                st.solver = format!("dense retry (after: {e})");
                (p, st)
            })
        }
        r => r,
    };
    match result {
        Ok((point, stats)) => Ok(finish(sys, x_other, point, stats)),
        Err(SimplexError::Infeasible(_)) => Err(ExactError::Infeasible { what: what.into() }),
        Err(e) => Err(super::lp::simplex_error(what, e)),
    }
}

/// The L1 LP with HiGHS (`--lp-solver highs`, or after dense trouble).
#[cfg(feature = "highs")]
fn closest_highs(
    sys: &CollisionSystem,
    x_other: &[f64],
    opts: &LpOptions,
    after: Option<SimplexError>,
) -> Result<ClosestPoint, ExactError> {
    let d = sys.d;
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
    let mut sol = lp.solve_sparse(super::lp::Sense::Minimise, (d..2 * d).map(|k| (k, 1.0)))?;
    if let Some(e) = after {
        sol.stats.solver = format!("highs (after dense: {e})");
    }
    Ok(finish(sys, x_other, sol.x[..d].to_vec(), sol.stats))
}

fn closest_dense(
    sys: &CollisionSystem,
    x_other: &[f64],
    opts: &LpOptions,
    dense: &super::simplex::DenseOptions,
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
    // Rows over (p, q): the equalities and Z rows in the core, region rows in the pool.
    let mut core = Rows::new(2 * d);
    let mut pool = Rows::new(2 * d);
    let mut buf = vec![0.0; 2 * d];
    let mut split = |row: &[f64], lo: f64, hi: f64, to: &mut Rows| {
        let ac = crate::linalg::dot_f64(row, &c);
        buf[..d].copy_from_slice(row);
        for (b, v) in buf[d..].iter_mut().zip(row) {
            *b = -v;
        }
        to.push(&buf, lo - ac, hi - ac);
    };
    for i in 0..sys.n_eq() {
        split(sys.eq_row(i), sys.eq_b[i], sys.eq_b[i], &mut core);
    }
    for k in 0..sys.ineq.len() {
        let to = if k < sys.n_z_rows() {
            &mut core
        } else {
            &mut pool
        };
        split(sys.ineq.row(k), f64::NEG_INFINITY, sys.ineq.h[k], to);
    }
    let cost = vec![1.0; 2 * d];
    let (s, solver) = if opts.wants_dense(m) {
        let mut a = core.a;
        a.extend_from_slice(&pool.a);
        let rl: Vec<f64> = core.lo.iter().chain(&pool.lo).copied().collect();
        let ru: Vec<f64> = core.hi.iter().chain(&pool.hi).copied().collect();
        let mut lp = DenseLp::new(&a, m, 2 * d, &rl, &ru, &col_lo, &col_hi)?;
        (lp.solve(&cost, false, dense)?, "dense".to_string())
    } else {
        let pool_rows = pool.len();
        let mut lp = LazyLp::new(core, pool, col_lo, col_hi);
        let r = lp.solve(&cost, dense)?;
        let note = format!(
            "dense (rows generated: {} of {pool_rows} region rows in {} rounds)",
            r.working_rows, r.rounds
        );
        (r.solution, note)
    };
    let point = (0..d).map(|k| c[k] + s.x[k] - s.x[d + k]).collect();
    let mut stats = LpStats::dense(&s, s.objective);
    stats.solver = solver;
    Ok((point, stats))
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
