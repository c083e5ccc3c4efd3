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
//! [`chebyshev`] solves this LP directly: by the dense simplex with row generation (slow: the
//! `2d` box rows join the basis), or by HiGHS with `--lp-solver highs`.
//!
//! **[`chebyshev_bisection`] (what `exact` and the audit report, unless HiGHS is asked for):
//! bisection on `r`.** For a
//! fixed `r` the LP above is a feasibility problem over `u` alone with the box shrunk to
//! `[lo_i + r‖N_i‖, hi_i − r‖N_i‖]` (column bounds) and the right-hand sides lowered to
//! `h_k − r‖Nᵀg_k‖`: the vertex LP's shape (`|P| + |Z|` dense rows, boxed columns), which the
//! dense dual simplex solves warm from the previous step's basis (changing bounds keeps a
//! basis dual feasible). With
//!
//! ```text
//!   ρ(u) = min( min_k (h_k − g_k·u)/‖Nᵀg_k‖,  min_i (hi_i − u_i)/‖N_i‖,  min_i (u_i − lo_i)/‖N_i‖ )
//! ```
//!
//! (terms with a zero norm left out) the radius of the largest ball around a point `u` of
//! the subspace, the bracket starts at `r_lo = max(0, ρ(t))` (the target is in the polytope)
//! and `r_hi = min_i (hi_i − lo_i) / (2‖N_i‖)` (the ball's extent along pixel `i`). A feasible
//! step at `r` sets `r_lo = max(r_lo, ρ(u))` with `u` the point found (so `r_lo` is always the
//! radius of an explicit centre, evaluated in f64: a certified lower bound, up to the
//! solver's `primal_tol` on the equalities); an infeasible step (the dual simplex's dual ray)
//! sets `r_hi = r`. Steps are geometric while `r_hi > 4 r_lo`, then halve the bracket, until
//! `r_hi − r_lo ≤ max(CHEBYSHEV_REL_GAP · r_hi, CHEBYSHEV_ABS_GAP)`. The reported radius is
//! `r_lo`, the centre its `u`; `r_hi` is in the solver string of the stats. If a bisection
//! step fails numerically, it falls back to [`chebyshev`].
//!
//! Region rows (deeper layers: one per earlier ReLU and max-pool comparison, ≈ 9,000 at
//! LeNet-5's `fc1`) are generated: the LP holds the equalities and `Z` rows; a step's point
//! is checked against every region row with its right-hand side shifted by `r`, the most
//! violated are appended (their logicals basic, so the basis stays dual feasible and the
//! re-solve is warm) until none is violated. The LP over a subset of the rows is a
//! relaxation, so its infeasibility proves the step's; a point that meets every row is a
//! feasible one. `ρ` is always evaluated over all rows.
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
use super::simplex::{finite_row_bounds, implied_range, DenseLp, DenseOptions, SimplexError};
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

/// [`chebyshev`] by bisection on `r` (module docs; region rows generated) unless the solver
/// is HiGHS: a certified lower bound within [`CHEBYSHEV_REL_GAP`] of the optimum (the radius
/// `exact` and the audit record). With HiGHS, or after numerical trouble in a bisection
/// step, [`chebyshev`] itself.
pub fn chebyshev_bisection(
    sys: &CollisionSystem,
    null_basis: &[Vec<f64>],
    opts: &LpOptions,
) -> Result<Chebyshev, ExactError> {
    if !null_basis.is_empty() && opts.solver != LpSolver::Highs {
        let (pnorm, nnorm) = ball_norms(sys, null_basis);
        match chebyshev_bisect(sys, &pnorm, &nnorm, opts) {
            Ok(c) => return Ok(c),
            // Numerical trouble: the direct LP.
            Err(SimplexError::Numerical(_) | SimplexError::IterationLimit(_)) => {}
            Err(e) => return Err(simplex_error("Chebyshev ball (bisection)", e)),
        }
    }
    chebyshev(sys, null_basis, opts)
}

/// `(‖Nᵀg_k‖ per inequality, ‖N_i‖ per pixel)`: the coefficients of `r`.
fn ball_norms(sys: &CollisionSystem, null_basis: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let pnorm = (0..sys.ineq.len())
        .map(|k| {
            let p = project(null_basis, sys.ineq.row(k));
            dot_f64(&p, &p).sqrt()
        })
        .collect();
    let nnorm = (0..sys.d)
        .map(|i| null_basis.iter().map(|v| v[i] * v[i]).sum::<f64>().sqrt())
        .collect();
    (pnorm, nnorm)
}

/// Chebyshev centre and radius of the collision polytope inside `ker(W+)` shifted to `t`
/// (the LP over `(u, r)`, solved to optimality).
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
    let (pnorm, nnorm) = ball_norms(sys, null_basis);
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

/// Relative gap `(r_hi − r_lo) / r_hi` at which the bisection stops.
pub const CHEBYSHEV_REL_GAP: f64 = 1e-4;
/// Absolute gap (input units) at which the bisection stops (radii below it read as 0).
pub const CHEBYSHEV_ABS_GAP: f64 = 1e-9;
/// Most bisection steps (the gap is reached in ≈ 20 from any bracket in `[1e-9, 1e7]`).
const CHEBYSHEV_MAX_STEPS: usize = 80;

/// `ρ(u)`: the largest `r` with `g_k·u + r p_k ≤ h_k` and `lo_i + r n_i ≤ u_i ≤ hi_i − r n_i`
/// (rows or pixels with a zero norm skipped); negative when `u` violates one.
fn ball_radius(
    rows: &[f64],
    h: &[f64],
    pnorm: &[f64],
    lo: &[f64],
    hi: &[f64],
    nnorm: &[f64],
    u: &[f64],
) -> f64 {
    let d = u.len();
    let mut r = f64::INFINITY;
    for (k, (&hk, &pk)) in h.iter().zip(pnorm).enumerate() {
        if pk > 0.0 {
            r = r.min((hk - dot_f64(&rows[k * d..(k + 1) * d], u)) / pk);
        }
    }
    for i in 0..d {
        if nnorm[i] > 0.0 {
            r = r
                .min((hi[i] - u[i]) / nnorm[i])
                .min((u[i] - lo[i]) / nnorm[i]);
        }
    }
    r
}

/// What [`bisect_radius`] found.
#[derive(Clone, Debug, PartialEq)]
struct Bisection {
    /// Radius of the ball around `centre` (evaluated in f64 over every row).
    r_lo: f64,
    /// No ball of a larger radius fits (an infeasible step), or the starting bound.
    r_hi: f64,
    centre: Vec<f64>,
    steps: usize,
    iterations: usize,
    /// Pool rows brought into the LP by row generation.
    generated: usize,
}

/// The Chebyshev radius by bisection on `r` (module docs): the dense simplex over the
/// equalities and inequality rows, bounds shifted by `r` at each step, warm started.
/// `eq`/`ineq` rows are row-major over `d` columns. The first `n_core` inequality rows are
/// always in the LP; the others (the region rows of deeper layers, thousands of them) form
/// a pool: a step's point is checked against every pool row (right-hand side shifted by
/// `r`), the most violated ones ([`super::lazy::BATCH`] at most) are appended to the LP
/// (their logicals basic, so the basis stays dual feasible) and the step is solved again.
/// An infeasible subset means an infeasible step; a point that satisfies every row is a
/// feasible one. The rows stay for later steps.
#[allow(clippy::too_many_arguments)]
fn bisect_radius(
    eq: &[f64],
    eq_b: &[f64],
    ineq: &[f64],
    h: &[f64],
    n_core: usize,
    pnorm: &[f64],
    lo: &[f64],
    hi: &[f64],
    nnorm: &[f64],
    start: &[f64],
    opts: &DenseOptions,
) -> Result<Bisection, SimplexError> {
    let d = lo.len();
    let (me, mi) = (eq_b.len(), h.len());
    let row = |k: usize| &ineq[k * d..(k + 1) * d];
    let mut a = Vec::with_capacity((me + n_core) * d);
    a.extend_from_slice(eq);
    a.extend_from_slice(&ineq[..n_core * d]);
    let mut rl = eq_b.to_vec();
    let mut ru = eq_b.to_vec();
    rl.extend(std::iter::repeat_n(f64::NEG_INFINITY, n_core));
    ru.extend_from_slice(&h[..n_core]);
    let mut lp = DenseLp::new(&a, me + n_core, d, &rl, &ru, lo, hi)?;
    // Every inequality's lower bound: the one implied by the unshifted box, less 1 (as
    // `DenseLp::new` sets it for the core rows), kept as it is at every r (the shifted box
    // is inside the unshifted one, so the bound never cuts).
    let row_lo: Vec<f64> = (0..mi)
        .map(|k| finite_row_bounds(f64::NEG_INFINITY, h[k], implied_range(row(k), lo, hi)).0)
        .collect();
    // The LP's inequality rows, in order: ineq index of each.
    let mut in_lp: Vec<usize> = (0..n_core).collect();
    let mut in_pool = vec![true; mi];
    in_pool[..n_core].iter_mut().for_each(|b| *b = false);
    let gnorm: Vec<f64> = (0..mi).map(|k| dot_f64(row(k), row(k)).sqrt()).collect();
    let mut r_lo = ball_radius(ineq, h, pnorm, lo, hi, nnorm, start).max(0.0);
    let mut centre = start.to_vec();
    let mut r_hi = (0..d)
        .filter(|&i| nnorm[i] > 0.0)
        .map(|i| (hi[i] - lo[i]) / (2.0 * nnorm[i]))
        .fold(f64::INFINITY, f64::min);
    if !r_hi.is_finite() {
        return Err(SimplexError::Input(
            "the subspace has no direction (every ‖N_i‖ is 0)".into(),
        ));
    }
    // Any cost answers "feasible?"; a zero cost leaves every reduced cost at 0 (fully dual
    // degenerate), on which the dual simplex stalls. A fixed, generic one (a Weyl sequence
    // in [−0.5, 0.5)) avoids that and keeps the run deterministic.
    let cost: Vec<f64> = (0..d)
        .map(|j| ((j as f64 + 1.0) * 0.618_033_988_749_895).fract() - 0.5)
        .collect();
    let (mut steps, mut iterations) = (0, 0);
    'steps: while r_hi - r_lo > (CHEBYSHEV_REL_GAP * r_hi).max(CHEBYSHEV_ABS_GAP)
        && steps < CHEBYSHEV_MAX_STEPS
    {
        steps += 1;
        let floor = r_lo.max(CHEBYSHEV_ABS_GAP);
        let r = if r_hi > 4.0 * floor {
            (floor * r_hi).sqrt()
        } else {
            0.5 * (r_lo + r_hi)
        };
        let mut shifted = Ok(());
        for i in 0..d {
            shifted = shifted.and(lp.set_bounds(i, lo[i] + r * nnorm[i], hi[i] - r * nnorm[i]));
        }
        for (p, &k) in in_lp.iter().enumerate() {
            shifted = shifted.and(lp.set_bounds(d + me + p, row_lo[k], h[k] - r * pnorm[k]));
        }
        let mut point = None;
        if shifted.is_ok() {
            loop {
                let s = match lp.solve(&cost, true, opts) {
                    Err(SimplexError::Numerical(_) | SimplexError::IterationLimit(_)) => {
                        lp.solve(&cost, false, opts)
                    }
                    s => s,
                };
                let s = match s {
                    Ok(s) => s,
                    Err(SimplexError::Infeasible(_)) => break,
                    Err(e) => return Err(e),
                };
                iterations += s.iterations;
                // Pool rows the point violates at this r, most violated (relative to the
                // row's norm) first.
                let mut viol = super::lazy::most_violated(
                    (0..mi).filter(|&k| in_pool[k]).map(|k| {
                        let v = dot_f64(row(k), &s.x) - (h[k] - r * pnorm[k]);
                        (k, v, gnorm[k])
                    }),
                    opts.primal_tol,
                );
                if viol.is_empty() {
                    point = Some(s.x);
                    break;
                }
                viol.truncate(super::lazy::BATCH);
                let (mut ra, mut rlo, mut rhi) = (Vec::new(), Vec::new(), Vec::new());
                for &(_, k) in &viol {
                    let top = h[k] - r * pnorm[k];
                    if top < row_lo[k] {
                        // Not even the shifted box reaches it: this r is too large.
                        break;
                    }
                    ra.extend_from_slice(row(k));
                    rlo.push(row_lo[k]);
                    rhi.push(top);
                    in_pool[k] = false;
                    in_lp.push(k);
                }
                // The rows taken stay (their bounds are set again at each step); a row cut
                // short ends this step as infeasible.
                lp.add_rows(&ra, &rlo, &rhi)?;
                if rlo.len() < viol.len() {
                    break;
                }
            }
        }
        match point {
            Some(x) => {
                let rho = ball_radius(ineq, h, pnorm, lo, hi, nnorm, &x);
                // ρ may fall a hair below r (the point is feasible to the solver's
                // tolerance): r_lo stays the radius of an explicit centre.
                if rho > r_lo {
                    r_lo = rho;
                    centre = x;
                } else {
                    // No progress: the point found at r is no better centre than the one
                    // held, so the same r would come again. Stop with the bracket as it is
                    // (`r_lo` stays certified; the gap is in the stats).
                    break 'steps;
                }
            }
            None => r_hi = r,
        }
    }
    Ok(Bisection {
        r_lo: r_lo.min(r_hi),
        r_hi,
        centre,
        steps,
        iterations,
        generated: in_lp.len() - n_core,
    })
}

/// [`bisect_radius`] on the collision system.
fn chebyshev_bisect(
    sys: &CollisionSystem,
    pnorm: &[f64],
    nnorm: &[f64],
    opts: &LpOptions,
) -> Result<Chebyshev, SimplexError> {
    let t0 = std::time::Instant::now();
    let (lo, hi, artificial) = finite_box(&sys.lo, &sys.hi);
    let Bisection {
        r_lo,
        r_hi,
        centre,
        steps,
        iterations,
        generated,
    } = bisect_radius(
        &sys.eq_a,
        &sys.eq_b,
        &sys.ineq.g,
        &sys.ineq.h,
        sys.n_z_rows(),
        pnorm,
        &lo,
        &hi,
        nnorm,
        &sys.target,
        &opts.dense_settings(),
    )?;
    if artificial
        && centre
            .iter()
            .any(|v| v.abs() >= super::lp::ARTIFICIAL_BOUND * (1.0 - 1e-9))
    {
        return Err(SimplexError::Numerical(
            "the ball reaches the stand-in for an infinite pixel bound".into(),
        ));
    }
    Ok(Chebyshev {
        radius: r_lo,
        centre,
        stats: Some(LpStats {
            objective: r_lo,
            seconds: t0.elapsed().as_secs_f64(),
            iterations: iterations as i64,
            warm: true,
            solver: if sys.ineq.len() > sys.n_z_rows() {
                format!(
                    "dense bisection on r ({steps} steps; {generated} of {} region rows \
                     generated): radius in [{r_lo:.6e}, {r_hi:.6e}]",
                    sys.ineq.len() - sys.n_z_rows()
                )
            } else {
                format!("dense bisection on r ({steps} steps): radius in [{r_lo:.6e}, {r_hi:.6e}]")
            },
        }),
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

    /// The triangle `u1, u2 ≥ 0`, `u1 + u2 ≤ 1` (box `[0, 1]²`, no equalities, `N = I`): its
    /// inscribed circle has radius `1/(2 + √2)` (the centre `(r, r)` is at distance `r` from
    /// both axes and `(1 − 2r)/√2 = r` from the hypotenuse).
    #[test]
    fn bisection_radius_of_a_triangle() {
        let s2 = 2f64.sqrt();
        let Bisection {
            r_lo,
            r_hi,
            centre: c,
            steps,
            ..
        } = bisect_radius(
            &[],
            &[],
            &[1.0, 1.0],
            &[1.0],
            1,
            &[s2],
            &[0.0, 0.0],
            &[1.0, 1.0],
            &[1.0, 1.0],
            &[0.1, 0.1],
            &DenseOptions::default(),
        )
        .unwrap();
        let r = 1.0 / (2.0 + s2);
        assert!(r_lo <= r + 1e-12 && r <= r_hi + 1e-12, "{r_lo} {r} {r_hi}");
        assert!(r_hi - r_lo <= CHEBYSHEV_REL_GAP * r_hi, "{r_lo} {r_hi}");
        assert!(steps > 0);
        // The centre is a certificate: its ball fits.
        let rho = ball_radius(
            &[1.0, 1.0],
            &[1.0],
            &[s2],
            &[0.0; 2],
            &[1.0; 2],
            &[1.0; 2],
            &c,
        );
        assert!(rho >= r_lo - 1e-15, "{rho} {r_lo}");
    }

    /// In the plane `u1 = u2` of the unit square (`N = (1, 1)/√2`, so `‖N_i‖ = 1/√2`), with
    /// `u1 ≤ 0.8` from a `Z` row (`‖Nᵀg‖ = 1/√2`): the segment from `(0, 0)` to `(0.8, 0.8)`
    /// has half-length `0.4·√2`.
    #[test]
    fn bisection_radius_in_a_subspace() {
        let h = 1.0 / 2f64.sqrt();
        let Bisection { r_lo, r_hi, .. } = bisect_radius(
            &[1.0, -1.0],
            &[0.0],
            &[1.0, 0.0],
            &[0.8],
            1,
            &[h],
            &[0.0, 0.0],
            &[1.0, 1.0],
            &[h, h],
            &[0.5, 0.5],
            &DenseOptions::default(),
        )
        .unwrap();
        let r = 0.4 * 2f64.sqrt();
        assert!(r_lo <= r + 1e-12 && r <= r_hi + 1e-12, "{r_lo} {r} {r_hi}");
        assert!(r_hi - r_lo <= CHEBYSHEV_REL_GAP * r_hi);
    }

    /// Rows in the pool (generated when violated) give the radius of the LP that holds them
    /// all: the triangle above, its hypotenuse and 200 rows no point of the box violates
    /// (tangent to a circle of radius 1.1 around the incentre) in the pool, a loose core row.
    /// Only the hypotenuse is ever violated, so only it is generated.
    #[test]
    fn bisection_generates_pool_rows() {
        let s2 = 2f64.sqrt();
        let r = 1.0 / (2.0 + s2);
        let (mut g, mut h, mut p) = (vec![1.0, 0.0], vec![2.0], vec![1.0]);
        g.extend([1.0, 1.0]);
        h.push(1.0);
        p.push(s2);
        for k in 0..200 {
            let a = k as f64 * 0.0314;
            let (c, s) = (a.cos(), a.sin());
            g.extend([c, s]);
            h.push(c * r + s * r + 1.1);
            p.push(1.0);
        }
        let b = bisect_radius(
            &[],
            &[],
            &g,
            &h,
            1,
            &p,
            &[0.0, 0.0],
            &[1.0, 1.0],
            &[1.0, 1.0],
            &[0.1, 0.1],
            &DenseOptions::default(),
        )
        .unwrap();
        assert!(b.r_lo <= r + 1e-12 && r <= b.r_hi + 1e-12, "{b:?}");
        assert!(b.r_hi - b.r_lo <= CHEBYSHEV_REL_GAP * b.r_hi, "{b:?}");
        assert_eq!(b.generated, 1, "{b:?}");
        let rho = ball_radius(&g, &h, &p, &[0.0; 2], &[1.0; 2], &[1.0; 2], &b.centre);
        assert!(rho >= b.r_lo - 1e-15, "{rho} {b:?}");
    }

    #[test]
    fn pairwise() {
        let p = vec![vec![0.0, 0.0], vec![3.0, 4.0], vec![0.0, 4.0]];
        assert!((mean_pairwise_l2(&p) - (5.0 + 4.0 + 3.0) / 3.0).abs() < 1e-15);
        assert_eq!(mean_pairwise_l2(&p[..1]), 0.0);
    }
}
