//! The collision polytope as a linear constraint system, and its subspace analysis.
//!
//! With `ỹ(u) = A u + c` the pre-activation of the collision layer `L` inside the target's
//! linear region, `P = {j : ỹt_j > 0}` (`N+ = |P|`), `Z = {j : ỹt_j ≤ 0}`:
//!
//! ```text
//!   a_j·u = a_j·t            j ∈ P     (equalities, W+ = A[P])
//!   a_j·u ≤ −c_j             j ∈ Z     (inequalities, W− = A[Z])
//!   g_k·u ≤ h_k              region half-spaces of the layers before L (see `linearize`)
//!   lo ≤ u ≤ hi              pixel box
//! ```
//!
//! (the equality right-hand side is `A_P t`, so the target satisfies it to rounding).
//! Rows with a zero normal are constant on the input space and are dropped (and counted).
//!
//! Analysis (Proposition 1): `rank(W+)` by pivoted QR (`|R_kk| > tol_rank·|R_00|`), the
//! affine dimension `d − rank(W+)`, an orthonormal basis `N` of `ker(W+)`, and whether
//! `ker(W+) ⊆ ker(W−)`: every row of `W−` lies in the row space of `W+`, tested as
//! `max_j ‖Nᵀ w_j‖ / ‖w_j‖ ≤ tol_ker`. When it holds, the `Z` constraints are constant on
//! the subspace and the colliding set is the whole subspace (∩ box ∩ region).
use serde::{Deserialize, Serialize};

use super::error::ExactError;
use super::linearize::{linearize, AffineMap, Inequalities, RegionCounts};
use super::qr::{project, row_space};
use crate::linalg::dot_f64;
use crate::model::Graph;

/// The constraint system of the collision polytope at one layer.
#[derive(Clone, Debug)]
pub struct CollisionSystem {
    /// Collision layer name.
    pub layer: String,
    /// Its index in `net.nodes`.
    pub layer_index: usize,
    /// Input dimension `d`.
    pub d: usize,
    /// Target input.
    pub target: Vec<f64>,
    /// Pre-activation map of layer `L` (all `N` units) in the target's region.
    pub map: AffineMap,
    /// Target's pre-activation `ỹt = A t + c` (from the f64 forward).
    pub target_preact: Vec<f64>,
    /// Positive units `P`.
    pub p_units: Vec<usize>,
    /// Non-positive units `Z`.
    pub z_units: Vec<usize>,
    /// Equality rows `W+` (only the non-zero rows of `A[P]`), row-major `[n_eq × d]`.
    pub eq_a: Vec<f64>,
    /// Equality right-hand sides `A_P t`.
    pub eq_b: Vec<f64>,
    /// Unit of each equality row.
    pub eq_units: Vec<usize>,
    /// Inequalities: first the `Z` rows (`n_z_rows` of them), then the region rows.
    pub ineq: Inequalities,
    /// Unit of each `Z` inequality row.
    pub z_row_units: Vec<usize>,
    /// Rows of `A[P]` / `A[Z]` that were exactly zero, dropped.
    pub zero_rows_dropped: usize,
    /// Region half-space counts.
    pub region_counts: RegionCounts,
    /// Lower pixel bound per coordinate.
    pub lo: Vec<f64>,
    /// Upper pixel bound per coordinate.
    pub hi: Vec<f64>,
    /// `max |A t + c − forward pre-activation|`.
    pub max_map_residual: f64,
}

impl CollisionSystem {
    /// `N+ = |P|`.
    pub fn n_plus(&self) -> usize {
        self.p_units.len()
    }

    /// Number of `Z` inequality rows (the first rows of `ineq`).
    pub fn n_z_rows(&self) -> usize {
        self.z_row_units.len()
    }

    /// Number of equality rows kept.
    pub fn n_eq(&self) -> usize {
        self.eq_b.len()
    }

    /// Equality row `i`.
    pub fn eq_row(&self, i: usize) -> &[f64] {
        &self.eq_a[i * self.d..(i + 1) * self.d]
    }

    /// How far `u` is from satisfying the system.
    pub fn violation(&self, u: &[f64]) -> Violation {
        let equality = (0..self.n_eq())
            .map(|i| (dot_f64(self.eq_row(i), u) - self.eq_b[i]).abs())
            .fold(0.0, f64::max);
        let mut z_ineq: f64 = 0.0;
        let mut region: f64 = 0.0;
        for k in 0..self.ineq.len() {
            let v = (dot_f64(self.ineq.row(k), u) - self.ineq.h[k]).max(0.0);
            if k < self.n_z_rows() {
                z_ineq = z_ineq.max(v);
            } else {
                region = region.max(v);
            }
        }
        let boxv = u
            .iter()
            .zip(self.lo.iter().zip(&self.hi))
            .map(|(&x, (&l, &h))| (l - x).max(x - h).max(0.0))
            .fold(0.0, f64::max);
        Violation {
            equality,
            z_inequality: z_ineq,
            region,
            pixel_box: boxv,
        }
    }
}

/// Constraint violations of a point (all `≥ 0`; `0` means satisfied).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// `max_j |a_j·u − a_j·t|` over `P`.
    pub equality: f64,
    /// `max_j (a_j·u + c_j)₊` over `Z`.
    pub z_inequality: f64,
    /// `max_k (g_k·u − h_k)₊` over region half-spaces.
    pub region: f64,
    /// Distance outside the pixel box (max over coordinates).
    pub pixel_box: f64,
}

impl Violation {
    /// Largest of the four.
    pub fn max(&self) -> f64 {
        self.equality
            .max(self.z_inequality)
            .max(self.region)
            .max(self.pixel_box)
    }
}

/// Build the collision system at layer index `layer_index` (an affine layer) for `target`.
pub fn build_system(
    net: &Graph,
    target: &[f64],
    layer_index: usize,
    max_entries: usize,
) -> Result<CollisionSystem, ExactError> {
    let lin = linearize(net, target, layer_index, max_entries)?;
    let d = target.len();
    let at = lin.map.apply(target);
    let mut p_units = Vec::new();
    let mut z_units = Vec::new();
    let mut eq_a = Vec::new();
    let mut eq_b = Vec::new();
    let mut eq_units = Vec::new();
    let mut z_ineq = Inequalities::new(d);
    let mut z_row_units = Vec::new();
    let mut zero_rows_dropped = 0;
    for (j, &y) in lin.point_output.iter().enumerate() {
        let row = lin.map.row(j);
        let zero = row.iter().all(|&v| v == 0.0);
        if y > 0.0 {
            p_units.push(j);
            if zero {
                zero_rows_dropped += 1;
            } else {
                eq_a.extend_from_slice(row);
                eq_b.push(at[j] - lin.map.c[j]);
                eq_units.push(j);
            }
        } else {
            z_units.push(j);
            if zero {
                zero_rows_dropped += 1;
            } else {
                z_ineq.push(row, -lin.map.c[j]);
                z_row_units.push(j);
            }
        }
    }
    let mut ineq = z_ineq;
    ineq.extend(&lin.region);
    let (lo, hi) = net.pixel_bounds;
    Ok(CollisionSystem {
        layer: net.nodes[layer_index].name.clone(),
        layer_index,
        d,
        target: target.to_vec(),
        target_preact: lin.point_output,
        map: lin.map,
        p_units,
        z_units,
        eq_a,
        eq_b,
        eq_units,
        ineq,
        z_row_units,
        zero_rows_dropped,
        region_counts: lin.counts,
        lo: vec![f64::from(lo); d],
        hi: vec![f64::from(hi); d],
        max_map_residual: lin.max_map_residual,
    })
}

/// Proposition-1 figures of a collision system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// `N+`.
    pub n_plus: usize,
    /// `|Z|`.
    pub n_zero: usize,
    /// Input dimension `d`.
    pub d: usize,
    /// Numerical `rank(W+)`.
    pub rank: usize,
    /// `d − rank(W+)`.
    pub affine_dim: usize,
    /// Relative rank tolerance on `|R_kk| / |R_00|`.
    pub tol_rank: f64,
    /// `|R_00|` (largest row norm of `W+`).
    pub r_max: f64,
    /// Smallest accepted `|R_kk|` (0 when rank is 0).
    pub r_min_accepted: f64,
    /// First rejected `|R_kk|` (0 if none).
    pub r_first_rejected: f64,
    /// Whether `ker(W+) ⊆ ker(W−)` numerically.
    pub ker_contained: bool,
    /// Tolerance on `‖Nᵀw‖/‖w‖`.
    pub tol_ker: f64,
    /// `max_j ‖Nᵀ w_j‖ / ‖w_j‖` over rows of `W−` (0 when `W−` is empty).
    pub ker_max_residual: f64,
    /// Rows of `W−` that lie in the row space of `W+` (constant on the subspace).
    pub z_rows_in_row_space: usize,
}

/// [`Analysis`] plus the null-space basis it computed.
#[derive(Clone, Debug)]
pub struct Subspace {
    /// The figures.
    pub analysis: Analysis,
    /// Orthonormal basis `N` of `ker(W+)`, `affine_dim` vectors of length `d`.
    pub null_basis: Vec<Vec<f64>>,
}

/// Rank of `W+`, its null space, and the containment test against `W−`.
///
/// `w_plus` is `[n_plus_rows × d]`, `w_minus` is `[n_minus_rows × d]`, both row-major.
pub fn analyze_rows(
    w_plus: &[f64],
    w_minus: &[f64],
    d: usize,
    tol_rank: f64,
    tol_ker: f64,
) -> Subspace {
    let n_p = w_plus.len().checked_div(d).unwrap_or(0);
    let n_m = w_minus.len().checked_div(d).unwrap_or(0);
    let rs = row_space(w_plus, n_p, d, tol_rank);
    let null_basis = rs.null_basis();
    let mut worst: f64 = 0.0;
    let mut inside = 0;
    for j in 0..n_m {
        let w = &w_minus[j * d..(j + 1) * d];
        let wn = dot_f64(w, w).sqrt();
        if wn == 0.0 {
            inside += 1;
            continue;
        }
        let p = project(&null_basis, w);
        let rel = dot_f64(&p, &p).sqrt() / wn;
        if rel <= tol_ker {
            inside += 1;
        }
        worst = worst.max(rel);
    }
    let r_max = rs.r_diag.first().copied().unwrap_or(0.0);
    let analysis = Analysis {
        n_plus: n_p,
        n_zero: n_m,
        d,
        rank: rs.rank,
        affine_dim: d - rs.rank,
        tol_rank,
        r_max,
        r_min_accepted: if rs.rank > 0 {
            rs.r_diag[rs.rank - 1]
        } else {
            0.0
        },
        r_first_rejected: rs.r_diag.get(rs.rank).copied().unwrap_or(0.0),
        ker_contained: worst <= tol_ker,
        tol_ker,
        ker_max_residual: worst,
        z_rows_in_row_space: inside,
    };
    Subspace {
        analysis,
        null_basis,
    }
}

/// Analyze a collision system (`W+` = kept equality rows, `W−` = kept `Z` rows).
/// `n_plus`/`n_zero` report the unit counts `|P|`, `|Z|` (including dropped zero rows).
pub fn analyze(sys: &CollisionSystem, tol_rank: f64, tol_ker: f64) -> Subspace {
    let nz = sys.n_z_rows() * sys.d;
    let mut s = analyze_rows(&sys.eq_a, &sys.ineq.g[..nz], sys.d, tol_rank, tol_ker);
    s.analysis.n_plus = sys.n_plus();
    s.analysis.n_zero = sys.z_units.len();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ker_contained_when_minus_rows_are_combinations() {
        // W+ rows e0, e1 in R^3; W− = [1, −2, 0] is in their span → contained.
        let wp = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let wm = [1.0, -2.0, 0.0];
        let s = analyze_rows(&wp, &wm, 3, 1e-10, 1e-8);
        assert_eq!(s.analysis.rank, 2);
        assert_eq!(s.analysis.affine_dim, 1);
        assert!(s.analysis.ker_contained);
        assert!(s.analysis.ker_max_residual < 1e-14);
        assert_eq!(s.analysis.z_rows_in_row_space, 1);
    }

    #[test]
    fn ker_not_contained_otherwise() {
        // W− = [0, 1, 1]: its e2 component leaves the span → not contained, residual 1/√2.
        let wp = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let wm = [1.0, -2.0, 0.0, 0.0, 1.0, 1.0];
        let s = analyze_rows(&wp, &wm, 3, 1e-10, 1e-8);
        assert!(!s.analysis.ker_contained);
        assert!((s.analysis.ker_max_residual - 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(s.analysis.z_rows_in_row_space, 1);
    }

    #[test]
    fn rank_deficient_plus_rows() {
        // Three rows of rank 2 in R^4 with a near-duplicate (1e-13 relative) → rank 2.
        let wp = [
            1.0,
            1.0,
            0.0,
            0.0, //
            0.0,
            1.0,
            1.0,
            0.0, //
            1.0,
            2.0,
            1.0 + 1e-13,
            0.0,
        ];
        let s = analyze_rows(&wp, &[], 4, 1e-10, 1e-8);
        assert_eq!(s.analysis.rank, 2);
        assert_eq!(s.analysis.affine_dim, 2);
        assert!(s.analysis.r_first_rejected < 1e-10 * s.analysis.r_max);
        assert!(s.analysis.ker_contained); // vacuous: no W− rows
    }
}
