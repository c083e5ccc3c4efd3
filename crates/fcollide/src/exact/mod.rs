//! Exact feature collisions by linear programming (f64; a dense dual simplex and HiGHS).
//!
//! A layer with ReLU has pre-activation `ỹ = W x + b`. For a target input `t` with
//! pre-activation `ỹt` at the collision layer `L`, split its units into
//! `P = {j : ỹt_j > 0}` (`N+ = |P|`) and `Z = {j : ỹt_j ≤ 0}`. An input `u` collides with `t`
//! at `L` (same post-ReLU activation there, hence the same output) iff
//!
//! ```text
//!   w_j·u + b_j = ỹt_j   ∀ j ∈ P,      w_j·u + b_j ≤ 0   ∀ j ∈ Z,      lo ≤ u ≤ hi.
//! ```
//!
//! At the first layer (Proposition 1) this is a polytope inside an affine subspace of
//! dimension `d − rank(W+)`. At a deeper layer of a piecewise-linear net, fixing the ReLU
//! on/off and max-pool argmax patterns of every earlier layer at `t` makes the map
//! `u ↦ ỹ_L(u) = A u + c` affine on that linear region ([`mod@linearize`]); the colliding set
//! inside the region (collision constraints on the rows of `A`, region half-spaces, box) is
//! again a polytope ([`polytope`]). Everything it contains truly collides; the true colliding
//! set may be larger (other regions), so the figures here are lower bounds on its size.
//!
//! Pipeline of [`exact_polytope`]: f64 forward ([`mod@forward`]) → linearization → constraint
//! system and subspace analysis (`N+`, `rank(W+)` by pivoted QR, `d − rank`,
//! `ker(W+) ⊆ ker(W−)`) → vertex LPs (`min a_i·u`, `i ∈ Z`, one model re-solved per objective;
//! [`lp`]) → size ([`size`]: Chebyshev ball in the subspace, random-direction extents,
//! vertex spread) → certificates ([`mod@certify`]: f64 forward of each vertex). [`closest`] gives
//! the colliding input nearest (L1) to another image.
//!
//! Valid collision layers are the ReLUs on every path from the input to the output
//! ([`collision_layers`], [`Graph::collision_points`]); the LPs constrain their input.
pub mod certify;
pub mod closest;
mod conv;
pub mod error;
pub mod forward;
pub mod lazy;
pub mod linearize;
pub mod lp;
pub mod polytope;
pub mod qr;
pub mod simplex;
pub mod size;

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use certify::{certify, certify_f32, Certificate, PointCertificate};
pub use closest::{closest_l1, ClosestPoint};
pub use error::ExactError;
pub use forward::{forward, forward_f32, layer_shapes, Forward, Shape};
pub use linearize::{linearize, AffineMap, Inequalities, Linearization, RegionCounts};
pub use lp::{
    HighsValue, LpOptions, LpSolution, LpSolver, LpStats, Sense, Vertex, VertexLp, WarmStrategy,
    HIGHS_AVAILABLE,
};
pub use polytope::{
    analyze, analyze_rows, build_system, Analysis, CollisionSystem, Subspace, Violation,
};
pub use simplex::{DenseLp, DenseOptions, DenseSolution, SimplexError};
pub use size::{chebyshev, chebyshev_bisection, extents, mean_pairwise_l2, Chebyshev, Extent};

use crate::model::Graph;

/// Parameters of [`exact_polytope`]; validate with [`ExactParams::check`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExactParams {
    /// Collision layer: a `Linear`/`Conv2d` layer followed by `Relu` (e.g. `fc1`, `conv2`).
    pub layer: String,
    /// Number of vertices `K` (one LP each) when `units` is not given.
    pub vertices: usize,
    /// Units `i ∈ Z` to push (one vertex each); default: the first `vertices` units of `Z`
    /// whose row is non-zero.
    pub units: Option<Vec<usize>>,
    /// Relative rank tolerance: `|R_kk| > tol_rank · |R_00|` in pivoted QR.
    pub tol_rank: f64,
    /// `ker(W+) ⊆ ker(W−)` when `max_j ‖Nᵀw_j‖/‖w_j‖ ≤ tol_ker`.
    pub tol_ker: f64,
    /// Certificate bar on the constraint violation of each vertex.
    pub feas_tol: f64,
    /// Number of random directions for extents (two LPs each).
    pub directions: usize,
    /// Seed of the direction generator.
    pub seed: u64,
    /// Whether to compute the Chebyshev ball (one larger LP).
    pub chebyshev: bool,
    /// LP solver settings (dense simplex and HiGHS).
    pub lp: LpOptions,
    /// Memory guard: the most entries a dense affine map `N × d` may have.
    pub max_dense_entries: usize,
}

/// The most random directions [`ExactParams::check`] accepts for the extents.
pub const MAX_DIRECTIONS: usize = 10_000;

impl Default for ExactParams {
    fn default() -> Self {
        ExactParams {
            layer: "fc1".into(),
            vertices: 5,
            units: None,
            tol_rank: 1e-10,
            tol_ker: 1e-8,
            feas_tol: 1e-7,
            directions: 8,
            seed: 0,
            chebyshev: true,
            lp: LpOptions::default(),
            max_dense_entries: 1 << 27,
        }
    }
}

impl ExactParams {
    /// Defaults for collision layer `layer`.
    pub fn new(layer: impl Into<String>) -> Self {
        ExactParams {
            layer: layer.into(),
            ..Self::default()
        }
    }

    /// Validate.
    pub fn check(&self) -> Result<ValidExactParams, ExactError> {
        let bad = |name: &str, reason: String| ExactError::InvalidParam {
            name: name.into(),
            reason,
        };
        if self.layer.trim().is_empty() {
            return Err(bad("layer", "empty layer name".into()));
        }
        for (name, v) in [
            ("tol_rank", self.tol_rank),
            ("tol_ker", self.tol_ker),
            ("feas_tol", self.feas_tol),
            ("lp.primal_tol", self.lp.primal_tol),
            ("lp.dual_tol", self.lp.dual_tol),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(bad(name, format!("must be finite and > 0, got {v}")));
            }
        }
        if self.tol_rank >= 1.0 {
            return Err(bad(
                "tol_rank",
                format!("must be < 1, got {}", self.tol_rank),
            ));
        }
        if let Some(t) = self.lp.time_limit {
            if t.is_nan() || t <= 0.0 {
                return Err(bad("lp.time_limit", format!("must be > 0, got {t}")));
            }
        }
        if let Some(u) = &self.units {
            let mut s = u.clone();
            s.sort_unstable();
            if s.windows(2).any(|w| w[0] == w[1]) {
                return Err(bad("units", "duplicate unit index".into()));
            }
        }
        if self.max_dense_entries == 0 {
            return Err(bad("max_dense_entries", "must be > 0".into()));
        }
        if self.directions > MAX_DIRECTIONS {
            return Err(bad(
                "directions",
                format!(
                    "{}: at most {MAX_DIRECTIONS} (two LPs each; the extents would run for days)",
                    self.directions
                ),
            ));
        }
        Ok(ValidExactParams(self.clone()))
    }
}

/// [`ExactParams`] that passed [`ExactParams::check`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ValidExactParams(ExactParams);

impl std::ops::Deref for ValidExactParams {
    type Target = ExactParams;
    fn deref(&self) -> &ExactParams {
        &self.0
    }
}

/// Names of the valid collision layers (see [`Graph::collision_points`]).
pub fn collision_layers(net: &Graph) -> Vec<String> {
    net.collision_layers()
}

/// Node index of the pre-activation at collision layer `name`, or
/// [`ExactError::UnknownLayer`] listing the valid ones and saying why `name` is not one.
pub fn resolve_layer(net: &Graph, name: &str) -> Result<usize, ExactError> {
    match net.collision_point(name) {
        Ok(p) => match net.nodes[p.relu].op {
            crate::model::Op::Relu => Ok(p.pre),
            crate::model::Op::Clip { min: 0.0, .. } => Ok(p.pre),
            ref op => Err(ExactError::UnknownLayer {
                name: name.to_string(),
                why: format!(
                    "its activation is {}, and the exact LPs need a ReLU (or a clip at 0)",
                    op.kind()
                ),
                valid: collision_layers(net),
            }),
        },
        Err(crate::model::ModelError::UnknownLayer { why, .. }) => Err(ExactError::UnknownLayer {
            name: name.to_string(),
            why,
            valid: collision_layers(net),
        }),
        Err(e) => Err(e.into()),
    }
}

fn target_f64(net: &Graph, target: &[f32]) -> Result<Vec<f64>, ExactError> {
    let d = net.input_shape.iter().product::<usize>();
    if target.len() != d {
        return Err(ExactError::shape("target input", d, target.len()));
    }
    if let Some(i) = target.iter().position(|v| !v.is_finite()) {
        return Err(ExactError::shape(
            "target input values",
            "finite",
            format!("{} at {i}", target[i]),
        ));
    }
    Ok(target.iter().map(|&v| f64::from(v)).collect())
}

/// The collision system of `target` at `params.layer` (for samplers and custom LPs).
pub fn collision_system(
    net: &Graph,
    target: &[f32],
    params: &ValidExactParams,
) -> Result<CollisionSystem, ExactError> {
    let t = target_f64(net, target)?;
    let li = resolve_layer(net, &params.layer)?;
    build_system(net, &t, li, params.max_dense_entries)
}

/// The colliding input closest in L1 to `other`, with its certificate.
pub fn exact_closest(
    net: &Graph,
    target: &[f32],
    other: &[f32],
    params: &ValidExactParams,
) -> Result<(ClosestPoint, Certificate), ExactError> {
    let sys = collision_system(net, target, params)?;
    let o = target_f64(net, other)?;
    let cp = closest_l1(&sys, &o, &params.lp)?;
    let cert = certify(net, &sys, std::slice::from_ref(&cp.point))?;
    Ok((cp, cert))
}

/// One vertex LP's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VertexRecord {
    /// Pushed unit.
    pub unit: usize,
    /// Its pre-activation at the vertex (`≤ 0`).
    pub preact: f64,
    /// Its pre-activation at the target.
    pub target_preact: f64,
    /// LP figures (objective `a_i·u`, seconds, iterations, warm).
    pub lp: LpStats,
}

/// Wall-clock times (seconds).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Forward + linearization + constraint system.
    pub system_s: f64,
    /// Rank, null space, containment.
    pub analysis_s: f64,
    /// Building the vertex model.
    pub build_lp_s: f64,
    /// First (cold) vertex LP.
    pub first_lp_s: f64,
    /// Mean of the warm-started vertex LPs (0 if none).
    pub warm_lp_mean_s: f64,
    /// Largest warm-started vertex LP (0 if none).
    pub warm_lp_max_s: f64,
    /// Chebyshev LP (build + solve).
    pub chebyshev_s: f64,
    /// All extent LPs.
    pub extents_s: f64,
    /// Certificates.
    pub certify_s: f64,
    /// Everything.
    pub total_s: f64,
}

/// Everything [`exact_polytope`] found, serializable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExactPolytope {
    /// Parameters used.
    pub params: ExactParams,
    /// Collision layer.
    pub layer: String,
    /// Its index in `net.nodes`.
    pub layer_index: usize,
    /// Input dimension `d`.
    pub d: usize,
    /// Units of the layer `N`.
    pub n_units: usize,
    /// `N+ = |P|`.
    pub n_plus: usize,
    /// `|Z|`.
    pub n_zero: usize,
    /// `rank(W+)`.
    pub rank: usize,
    /// `d − rank(W+)`.
    pub affine_dim: usize,
    /// `ker(W+) ⊆ ker(W−)` numerically.
    pub ker_contained: bool,
    /// Its tolerance.
    pub ker_tol: f64,
    /// `max_j ‖Nᵀw_j‖/‖w_j‖` over `W−`.
    pub ker_max_residual: f64,
    /// Full analysis figures.
    pub analysis: Analysis,
    /// Region half-space counts (layers before `L`).
    pub region: RegionCounts,
    /// Equality rows in the LP.
    pub n_equalities: usize,
    /// Inequality rows in the LP (`Z` + region; box is column bounds).
    pub n_inequalities: usize,
    /// Exactly-zero rows of `A` dropped.
    pub zero_rows_dropped: usize,
    /// `max |A t + c − forward|` of the linearization.
    pub linearization_residual: f64,
    /// Vertices as f32 images.
    pub vertices: Vec<Vec<f32>>,
    /// Vertices in f64.
    pub vertices_f64: Vec<Vec<f64>>,
    /// Per-vertex LP records.
    pub vertex_lps: Vec<VertexRecord>,
    /// Chebyshev ball in the subspace (if requested).
    pub chebyshev: Option<Chebyshev>,
    /// Extents along random directions in the subspace.
    pub extents: Vec<Extent>,
    /// Mean width over `extents` (0 if none).
    pub mean_extent: f64,
    /// Mean pairwise L2 distance between vertices.
    pub vertex_pairwise_l2: f64,
    /// Certificate of the f64 vertices.
    pub certificate: Certificate,
    /// Certificate of the f32-rounded vertices (what an image file holds).
    pub certificate_f32: Certificate,
    /// Whether every f64 vertex violates the system by at most `feas_tol`.
    pub feasible_within_tol: bool,
    /// Plain-language notes on degenerate situations (empty when none).
    pub notes: Vec<String>,
    /// Times.
    pub timings: Timings,
}

/// Analyze the collision polytope of `target` at `params.layer` and find its vertices.
pub fn exact_polytope(
    net: &Graph,
    target: &[f32],
    params: &ValidExactParams,
) -> Result<ExactPolytope, ExactError> {
    exact_polytope_with_progress(net, target, params, &crate::progress::Silent)
}

/// [`exact_polytope`], reporting each phase (constraint system, vertex LPs, Chebyshev LP,
/// extents, certificate) to `progress`.
pub fn exact_polytope_with_progress(
    net: &Graph,
    target: &[f32],
    params: &ValidExactParams,
    progress: &dyn crate::progress::Progress,
) -> Result<ExactPolytope, ExactError> {
    exact_polytope_and_system(net, target, params, progress).map(|(poly, _)| poly)
}

/// [`exact_polytope_with_progress`], also returning the constraint system it was built on
/// (for callers that certify more points against it without linearizing again).
pub fn exact_polytope_and_system(
    net: &Graph,
    target: &[f32],
    params: &ValidExactParams,
    progress: &dyn crate::progress::Progress,
) -> Result<(ExactPolytope, CollisionSystem), ExactError> {
    // One phase: a label, a total, and the work.
    fn phase<T>(
        progress: &dyn crate::progress::Progress,
        label: &str,
        work: impl FnOnce() -> T,
    ) -> T {
        progress.start(label, 1);
        let out = work();
        progress.advance(1, "");
        progress.finish();
        out
    }
    let t_all = Instant::now();
    let t0 = Instant::now();
    let sys = phase(
        progress,
        "exact: f64 linearization and constraint system",
        || collision_system(net, target, params),
    )?;
    let system_s = t0.elapsed().as_secs_f64();
    if sys.n_plus() >= sys.d {
        return Err(ExactError::NoRoom {
            layer: sys.layer.clone(),
            n_plus: sys.n_plus(),
            d: sys.d,
        });
    }

    let t0 = Instant::now();
    let sub = analyze(&sys, params.tol_rank, params.tol_ker);
    let analysis_s = t0.elapsed().as_secs_f64();

    let units: Vec<usize> = match &params.units {
        Some(u) => u.clone(),
        None => sys
            .z_row_units
            .iter()
            .copied()
            .take(params.vertices)
            .collect(),
    };
    let t0 = Instant::now();
    let mut vlp = VertexLp::new(&sys, &params.lp)?;
    let build_lp_s = t0.elapsed().as_secs_f64();
    let mut verts = Vec::with_capacity(units.len());
    progress.start("exact: vertex LPs", units.len() as u64);
    for &u in &units {
        if progress.cancelled() {
            progress.finish();
            return Err(ExactError::Cancelled {
                phase: "the vertex LPs",
            });
        }
        let v = vlp.push_unit(&sys, u);
        progress.advance(1, "");
        verts.push(v.inspect_err(|_| progress.finish())?);
    }
    progress.finish();
    let first_lp_s = verts.first().map_or(0.0, |v| v.stats.seconds);
    let warm: Vec<f64> = verts.iter().skip(1).map(|v| v.stats.seconds).collect();
    let warm_lp_mean_s = if warm.is_empty() {
        0.0
    } else {
        warm.iter().sum::<f64>() / warm.len() as f64
    };
    let warm_lp_max_s = warm.iter().copied().fold(0.0, f64::max);

    if progress.cancelled() {
        return Err(ExactError::Cancelled {
            phase: "the Chebyshev LP",
        });
    }
    let t0 = Instant::now();
    let cheb = if params.chebyshev {
        Some(phase(progress, "exact: Chebyshev LP", || {
            chebyshev_bisection(&sys, &sub.null_basis, &params.lp)
        })?)
    } else {
        None
    };
    let chebyshev_s = t0.elapsed().as_secs_f64();

    let t0 = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let ext = phase(progress, "exact: random-direction extents", || {
        extents(
            &mut vlp,
            &sys,
            &sub.null_basis,
            params.directions,
            &mut rng,
            progress,
        )
    })?;
    let extents_s = t0.elapsed().as_secs_f64();
    let mean_extent = if ext.is_empty() {
        0.0
    } else {
        ext.iter().map(|e| e.width).sum::<f64>() / ext.len() as f64
    };

    let vertices_f64: Vec<Vec<f64>> = verts.iter().map(|v| v.point.clone()).collect();
    let vertices: Vec<Vec<f32>> = vertices_f64
        .iter()
        .map(|v| v.iter().map(|&x| x as f32).collect())
        .collect();
    let t0 = Instant::now();
    let (certificate, certificate_f32) = phase(progress, "exact: certificate", || {
        Ok::<_, ExactError>((
            certify(net, &sys, &vertices_f64)?,
            certify_f32(net, &sys, &vertices)?,
        ))
    })?;
    let certify_s = t0.elapsed().as_secs_f64();

    let a = &sub.analysis;
    let mut notes = Vec::new();
    if a.ker_contained && a.n_zero > 0 {
        notes.push(format!(
            "ker(W+) ⊆ ker(W−) (residual {:.1e} ≤ {:.0e}): every Z unit is constant on the \
             subspace, so no vertex LP can push one; the vertices are arbitrary vertices of the \
             polytope",
            a.ker_max_residual, a.tol_ker
        ));
    } else if a.z_rows_in_row_space > 0 {
        notes.push(format!(
            "{} Z unit(s) are constant on the subspace and cannot be pushed",
            a.z_rows_in_row_space
        ));
    }
    if let Some(c) = &cheb {
        if c.radius <= params.feas_tol && a.affine_dim > 0 {
            notes.push(format!(
                "Chebyshev radius {:.1e}: the polytope is lower-dimensional than its \
                 {}-dimensional affine subspace (inequalities or the box pin it)",
                c.radius, a.affine_dim
            ));
        }
    }
    if certificate.max_violation > params.feas_tol {
        notes.push(format!(
            "largest vertex constraint violation {:.1e} exceeds feas_tol {:.0e}",
            certificate.max_violation, params.feas_tol
        ));
    }
    let poly = ExactPolytope {
        params: (**params).clone(),
        layer: sys.layer.clone(),
        layer_index: sys.layer_index,
        d: sys.d,
        n_units: sys.map.rows,
        n_plus: a.n_plus,
        n_zero: a.n_zero,
        rank: a.rank,
        affine_dim: a.affine_dim,
        ker_contained: a.ker_contained,
        ker_tol: a.tol_ker,
        ker_max_residual: a.ker_max_residual,
        analysis: a.clone(),
        region: sys.region_counts,
        n_equalities: sys.n_eq(),
        n_inequalities: sys.ineq.len(),
        zero_rows_dropped: sys.zero_rows_dropped,
        linearization_residual: sys.max_map_residual,
        vertex_pairwise_l2: mean_pairwise_l2(&vertices_f64),
        vertex_lps: verts
            .iter()
            .map(|v| VertexRecord {
                unit: v.unit,
                preact: v.preact,
                target_preact: sys.target_preact[v.unit],
                lp: v.stats.clone(),
            })
            .collect(),
        vertices,
        vertices_f64,
        chebyshev: cheb,
        extents: ext,
        mean_extent,
        feasible_within_tol: certificate.max_violation <= params.feas_tol,
        notes,
        certificate,
        certificate_f32,
        timings: Timings {
            system_s,
            analysis_s,
            build_lp_s,
            first_lp_s,
            warm_lp_mean_s,
            warm_lp_max_s,
            chebyshev_s,
            extents_s,
            certify_s,
            total_s: t_all.elapsed().as_secs_f64(),
        },
    };
    Ok((poly, sys))
}
