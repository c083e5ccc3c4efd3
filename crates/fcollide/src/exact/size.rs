//! How big the collision polytope is: inscribed ball, directional extents, vertex spread.
//!
//! (a) Chebyshev ball **within the affine subspace** `{u : W+ u = W+ t}`. With `N` an
//! orthonormal basis of `ker(W+)`, the ball `{u + N ζ : ‖ζ‖ ≤ r}` lies in `{g·u ≤ h}` iff
//! `g·u + r ‖Nᵀg‖ ≤ h`. So, over `(u, r)`:
//!
//! ```text
//!   maximize r  s.t.  W+ u = W+ t,   g_k·u + r‖Nᵀg_k‖ ≤ h_k   (Z rows and region rows),
//!                     u_i + r‖N_i‖ ≤ hi_i,   u_i − r‖N_i‖ ≥ lo_i   (box; N_i = row i of N),
//!                     r ≥ 0.
//! ```
//!
//! (equivalent to the `u = u0 + N z` parameterization, without the dense `N` in the LP).
//! `r = 0` means the polytope is lower-dimensional than the subspace (some inequality is
//! tight on all of it, e.g. pixels pinned at the box).
//!
//! (b) Extents: for `K` random unit directions `v = Nξ/‖Nξ‖` (`ξ ~ N(0, I)`) inside the
//! subspace, `max v·u` and `min v·u` over the polytope (two warm-started LPs each); the width
//! is their difference.
//!
//! (c) Mean pairwise L2 distance of the vertices, `2/(K(K−1)) Σ_{a<b} ‖v_a − v_b‖`.
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use super::error::ExactError;
use super::lazy::{LazyLp, Rows};
#[cfg(feature = "highs")]
use super::lp::LpBuilder;
use super::lp::{finite_box, simplex_error, LpOptions, LpSolver, LpStats, VertexLp};
use super::polytope::CollisionSystem;
use super::qr::project;
use crate::linalg::dot_f64;

/// Largest ball inside the polytope within the affine subspace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chebyshev {
    /// Radius (L2, input units).
    pub radius: f64,
    /// Centre.
    pub centre: Vec<f64>,
    /// LP figures (`None` when the subspace is a point and no LP ran).
    pub stats: Option<LpStats>,
}

/// Chebyshev centre and radius of the collision polytope inside `ker(W+)` shifted to `t`.
pub fn chebyshev(
    sys: &CollisionSystem,
    null_basis: &[Vec<f64>],
    opts: &LpOptions,
) -> Result<Chebyshev, ExactError> {
    let d = sys.d;
    if null_basis.is_empty() {
        return Ok(Chebyshev {
            radius: 0.0,
            centre: sys.target.clone(),
            stats: None,
        });
    }
    // Row coefficients of r: ‖Nᵀg‖ for the inequalities, ‖N_i‖ for the box.
    let pnorm: Vec<f64> = (0..sys.ineq.len())
        .map(|k| {
            let p = project(null_basis, sys.ineq.row(k));
            dot_f64(&p, &p).sqrt()
        })
        .collect();
    let nnorm: Vec<f64> = (0..d)
        .map(|i| null_basis.iter().map(|v| v[i] * v[i]).sum::<f64>().sqrt())
        .collect();
    if opts.solver == LpSolver::Highs {
        #[cfg(feature = "highs")]
        return chebyshev_highs(sys, &pnorm, &nnorm, opts);
        #[cfg(not(feature = "highs"))]
        return Err(super::lp::highs_missing("Chebyshev ball"));
    }
    // Over (u, r): the dense simplex with row generation (the 2d box rows and the region
    // rows in the pool; the equalities and Z rows in the core). r is boxed by the box's
    // diameter, which no ball inside the box exceeds.
    let (lo, hi, artificial) = finite_box(&sys.lo, &sys.hi);
    let n = d + 1;
    let mut core = Rows::new(n);
    let mut pool = Rows::new(n);
    let mut row = vec![0.0; n];
    for i in 0..sys.n_eq() {
        row[..d].copy_from_slice(sys.eq_row(i));
        row[d] = 0.0;
        core.push(&row, sys.eq_b[i], sys.eq_b[i]);
    }
    for (k, &norm) in pnorm.iter().enumerate().take(sys.ineq.len()) {
        row[..d].copy_from_slice(sys.ineq.row(k));
        row[d] = norm;
        let to = if k < sys.n_z_rows() {
            &mut core
        } else {
            &mut pool
        };
        to.push(&row, f64::NEG_INFINITY, sys.ineq.h[k]);
    }
    row.fill(0.0);
    for i in 0..d {
        row[i] = 1.0;
        row[d] = nnorm[i];
        pool.push(&row, f64::NEG_INFINITY, hi[i]);
        row[d] = -nnorm[i];
        pool.push(&row, lo[i], f64::INFINITY);
        row[i] = 0.0;
    }
    let diameter = lo
        .iter()
        .zip(&hi)
        .map(|(l, h)| (h - l) * (h - l))
        .sum::<f64>()
        .sqrt();
    let mut col_lo = lo.clone();
    let mut col_hi = hi.clone();
    col_lo.push(0.0);
    col_hi.push(diameter.max(1e-12));
    let mut lp = LazyLp::new(core, pool, col_lo, col_hi);
    let mut cost = vec![0.0; n];
    cost[d] = -1.0;
    let r = match lp.solve(&cost, &opts.dense_settings()) {
        Err(
            super::simplex::SimplexError::Numerical(_)
            | super::simplex::SimplexError::IterationLimit(_),
        ) => lp.solve(&cost, &opts.dense_retry_settings()),
        r => r,
    }
    .map_err(|e| simplex_error("Chebyshev ball", e))?;
    let s = r.solution;
    if artificial
        && s.x[..d]
            .iter()
            .any(|v| v.abs() >= super::lp::ARTIFICIAL_BOUND * (1.0 - 1e-9))
    {
        return Err(ExactError::Unbounded {
            what: "Chebyshev ball".into(),
            status: "the ball reaches the stand-in for an infinite pixel bound".into(),
        });
    }
    let mut stats = LpStats::dense(&s, -s.objective);
    stats.solver = format!(
        "dense (rows generated: {} of {} box and region rows in {} rounds)",
        r.working_rows,
        lp.pool_rows(),
        r.rounds
    );
    Ok(Chebyshev {
        radius: s.x[d],
        centre: s.x[..d].to_vec(),
        stats: Some(stats),
    })
}

/// The Chebyshev LP with HiGHS (for comparison; `--lp-solver highs`).
#[cfg(feature = "highs")]
fn chebyshev_highs(
    sys: &CollisionSystem,
    pnorm: &[f64],
    nnorm: &[f64],
    opts: &LpOptions,
) -> Result<Chebyshev, ExactError> {
    let d = sys.d;
    let mut b = LpBuilder::new();
    for k in 0..d {
        b.col(sys.lo[k], sys.hi[k]);
    }
    let r = b.col(0.0, f64::INFINITY);
    for i in 0..sys.n_eq() {
        b.dense_row(sys.eq_b[i], sys.eq_b[i], 0, sys.eq_row(i));
    }
    for (k, &norm) in pnorm.iter().enumerate().take(sys.ineq.len()) {
        let g = sys.ineq.row(k);
        b.row(
            f64::NEG_INFINITY,
            sys.ineq.h[k],
            g.iter()
                .copied()
                .enumerate()
                .chain(std::iter::once((r, norm))),
        );
    }
    for (i, &ni) in nnorm.iter().enumerate().take(d) {
        if sys.hi[i].is_finite() {
            b.row(f64::NEG_INFINITY, sys.hi[i], [(i, 1.0), (r, ni)]);
        }
        if sys.lo[i].is_finite() {
            b.row(sys.lo[i], f64::INFINITY, [(i, 1.0), (r, -ni)]);
        }
    }
    let mut lp = b.build("Chebyshev ball", opts)?;
    let sol = lp.solve_sparse(super::lp::Sense::Maximise, [(r, 1.0)])?;
    Ok(Chebyshev {
        radius: sol.x[r],
        centre: sol.x[..d].to_vec(),
        stats: Some(sol.stats),
    })
}

/// Width of the polytope along one direction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Extent {
    /// `max v·u`.
    pub max: f64,
    /// `min v·u`.
    pub min: f64,
    /// `max − min`.
    pub width: f64,
    /// `v·t` (the target's position along `v`).
    pub target: f64,
    /// Seconds for both LPs.
    pub seconds: f64,
    /// Simplex iterations for both LPs.
    pub iterations: i64,
}

/// A random unit vector in the span of `null_basis` (`None` if the span is `{0}`).
pub fn random_direction(null_basis: &[Vec<f64>], rng: &mut impl Rng) -> Option<Vec<f64>> {
    let d = null_basis.first()?.len();
    let mut v = vec![0.0; d];
    for b in null_basis {
        let xi: f64 = rng.sample(StandardNormal);
        for (vi, bi) in v.iter_mut().zip(b) {
            *vi += xi * bi;
        }
    }
    let n = dot_f64(&v, &v).sqrt();
    (n > 0.0).then(|| v.into_iter().map(|x| x / n).collect())
}

/// Extents along `k` random unit directions inside the subspace (reusing the vertex model).
pub fn extents(
    lp: &mut VertexLp,
    sys: &CollisionSystem,
    null_basis: &[Vec<f64>],
    k: usize,
    rng: &mut impl Rng,
    progress: &dyn crate::progress::Progress,
) -> Result<Vec<Extent>, ExactError> {
    let mut out = Vec::with_capacity(k);
    for _ in 0..k {
        if progress.cancelled() {
            return Err(ExactError::Cancelled {
                phase: "the random-direction extents",
            });
        }
        let Some(v) = random_direction(null_basis, rng) else {
            break;
        };
        let hi = lp.maximize(&v)?;
        let lo = lp.minimize(&v)?;
        out.push(Extent {
            max: hi.stats.objective,
            min: lo.stats.objective,
            width: hi.stats.objective - lo.stats.objective,
            target: dot_f64(&v, &sys.target),
            seconds: hi.stats.seconds + lo.stats.seconds,
            iterations: hi.stats.iterations + lo.stats.iterations,
        });
    }
    Ok(out)
}

/// Mean pairwise L2 distance (0 for fewer than two points).
pub fn mean_pairwise_l2(points: &[Vec<f64>]) -> f64 {
    let n = points.len();
    if n < 2 {
        return 0.0;
    }
    let mut s = 0.0;
    for a in 0..n {
        for b in a + 1..n {
            s += points[a]
                .iter()
                .zip(&points[b])
                .map(|(x, y)| (x - y) * (x - y))
                .sum::<f64>()
                .sqrt();
        }
    }
    s / (n * (n - 1) / 2) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise() {
        let p = vec![vec![0.0, 0.0], vec![3.0, 4.0], vec![0.0, 4.0]];
        assert!((mean_pairwise_l2(&p) - (5.0 + 4.0 + 3.0) / 3.0).abs() < 1e-15);
        assert_eq!(mean_pairwise_l2(&p[..1]), 0.0);
    }
}
