//! Projection of region-locked vertices onto the target's colliding set in its linear region.
//!
//! Inside the target `t`'s closed linear region `R = {u : G u ≤ h}` (every earlier activation
//! on `t`'s piece, every earlier max-pool keeping `t`'s argmax: [`crate::exact::linearize`])
//! the collision layer's pre-activation is affine, `ỹ(u) = A u + c`, and the inputs of `R` that
//! collide with `t` exactly form the convex polytope
//!
//! ```text
//! C = { u ∈ R ∩ B : A_P u = A_P t,  A_Z u + c_Z ≤ 0 }
//! ```
//!
//! (`P`/`Z` the units with `ỹt > 0` / `≤ 0`, `B` the pixel box; the collision system of
//! [`crate::exact::build_system`]). The soft region lock ([`super::region`]) ends each vertex
//! `v` close to `C`: a hair outside `R` and with a small feature error.
//! [`project_into_collision`] replaces `v` by its Euclidean projection onto `C_μ`, `C` with every
//! inequality `g_k·u ≤ h_k` tightened by `μ_k = min(μ, s_k/2)` (`s_k = h_k − g_k·t` its slack at
//! the target, so `t ∈ C_μ`):
//!
//! 1. **Equalities.** `C ⊂ t + ker(A_P)`. With `N` an orthonormal basis of `ker(A_P)` (pivoted
//!    QR, [`crate::exact::analyze_rows`], relative rank tolerance [`RANK_TOL`]), `u = t + N z`,
//!    and the projection of `v` onto that affine subspace is `z₀ = Nᵀ (v − t)`.
//! 2. **Inequalities in `z`.** `Ĝ z ≤ ŝ` with `Ĝ = [G; A_Z; I; −I] N` and
//!    `ŝ = [s − μ; −ỹt_Z − μ_Z; hi − t; t − lo] ≥ 0`.
//! 3. **Active set.** `min ‖z − z₀‖²` s.t. `Ĝ z ≤ ŝ`: add the violated rows to the working set
//!    `W`, take the least-norm step onto them, `z = z₀ − Ĝ_Wᵀ y` with
//!    `(Ĝ_W Ĝ_Wᵀ + εI) y = Ĝ_W z₀ − ŝ_W` (Cholesky; each bound aimed `10⁻¹⁰(1 + |ŝ_k|)` inside
//!    against rounding), drop the row of the most negative multiplier `y_k < 0` (it is not
//!    active at the projection), repeat until no row is violated. The iteration is capped
//!    ([`MAX_ROUNDS`] rounds, [`MAX_WORK`] working rows); a vertex that does not converge is
//!    reported as not projected.
//!
//! The vertex becomes `t + N z`, rounded to `f32` and clipped to the box. Every point of `C` has
//! `t`'s collision features exactly (up to the rank tolerance), so the projected vertex's
//! feature error is at the level of `f32` rounding. Rounding moves each pixel by at most
//! `2⁻²⁴·max(|lo|, |hi|)`, hence each row's value by at most that times `‖g_k‖₁`; every region
//! and zero-set row is kept twice that far inside, which matters for rows with no slack at
//! the target (a max-pool tie: two equal window entries, common where digits saturate). A row
//! still found violated after rounding gets an extra margin of twice its violation and the
//! projection is redone, at most [`REPAIRS`] times. The f64 certificate
//! ([`crate::polytope::certificate`]) checks the result like any other vertex set.
use serde::{Deserialize, Serialize};

use super::CollideError;
use crate::exact::{analyze_rows, build_system, CollisionSystem};
use crate::linalg::dot_f64 as dot;
use crate::model::{Graph, Op};

/// Relative rank tolerance of `A_P` (`|R_kk| ≤ RANK_TOL · |R_00|` counts as null space).
pub const RANK_TOL: f64 = 1e-9;

/// The largest dense map (entries of any intermediate `N × d` map) the projection builds;
/// larger networks (VGG-size inputs) skip it.
pub const MAX_ENTRIES: usize = 1 << 26;

/// Active-set rounds per projection.
pub const MAX_ROUNDS: usize = 60;

/// Largest working set.
pub const MAX_WORK: usize = 400;

/// Projections redone with extra margins against `f32` rounding.
pub const REPAIRS: usize = 4;

/// The working rows are aimed this far (relative) inside their bound.
const AIM: f64 = 1e-10;

/// How the projection went for one vertex.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Projected {
    /// `‖v' − v‖₂`, how far the vertex moved.
    pub moved: f64,
    /// Active-set rounds taken (all repairs together).
    pub rounds: usize,
    /// Whether the iteration converged and the rounded vertex lies in the target's region
    /// (every region and zero-set row satisfied in f64).
    pub in_region: bool,
}

fn err(msg: String) -> CollideError {
    CollideError::Param {
        param: "region",
        msg,
    }
}

/// `L Lᵀ = K` for a symmetric positive definite `[n × n]` matrix (row-major; the lower
/// factor); `None` when a pivot is not positive.
fn cholesky(k: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|p| l[i * n + p] * l[j * n + p]).sum();
            let v = k[i * n + j] - s;
            if i == j {
                if v <= 0.0 || !v.is_finite() {
                    return None;
                }
                l[i * n + i] = v.sqrt();
            } else {
                l[i * n + j] = v / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves `L Lᵀ x = b` in place.
fn cholesky_solve(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let s: f64 = (0..i).map(|p| l[i * n + p] * b[p]).sum();
        b[i] = (b[i] - s) / l[i * n + i];
    }
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|p| l[p * n + i] * b[p]).sum();
        b[i] = (b[i] - s) / l[i * n + i];
    }
}

/// The constraints `Ĝ z ≤ ŝ` in the coordinates `z` of `ker(A_P)` (see the module doc).
struct Reduced {
    /// Orthonormal basis `N` of `ker(A_P)`, `q` vectors of length `d`.
    basis: Vec<Vec<f64>>,
    /// `Ĝ`, row-major `[rows × q]`.
    g: Vec<f64>,
    /// `ŝ`.
    s: Vec<f64>,
}

impl Reduced {
    fn q(&self) -> usize {
        self.basis.len()
    }

    fn rows(&self) -> usize {
        self.s.len()
    }

    fn row(&self, k: usize) -> &[f64] {
        let q = self.q();
        &self.g[k * q..(k + 1) * q]
    }

    /// The reduced system; its first `sys.ineq.len()` rows are `sys.ineq`'s, in order.
    fn new(sys: &CollisionSystem, margin: f64) -> Self {
        let d = sys.d;
        let basis = analyze_rows(&sys.eq_a, &[], d, RANK_TOL, 1e-9).null_basis;
        let q = basis.len();
        let t = &sys.target;
        let rows_ineq = sys.ineq.len();
        let mut s = Vec::with_capacity(rows_ineq + 2 * d);
        for k in 0..rows_ineq {
            let slack = sys.ineq.h[k] - dot(sys.ineq.row(k), t);
            s.push(slack - margin.min(slack.max(0.0) / 2.0));
        }
        let mut g = vec![0.0; (rows_ineq + 2 * d) * q];
        if q > 0 && rows_ineq > 0 {
            // Ĝ[..rows_ineq] = G · N, N as a [d × q] matrix (column j = basis[j]).
            let mut nmat = vec![0.0; d * q];
            for (j, b) in basis.iter().enumerate() {
                for (i, &v) in b.iter().enumerate() {
                    nmat[i * q + j] = v;
                }
            }
            crate::linalg::gemm_acc_f64(
                (rows_ineq, q, d),
                (&mut g[..rows_ineq * q], q as isize, 1),
                (&sys.ineq.g, d as isize, 1),
                (&nmat, q as isize, 1),
            );
        }
        // The box: u_i ≤ hi_i and −u_i ≤ −lo_i, whose rows in z are ±(entry i of N's columns).
        for i in 0..d {
            let (up, down) = (rows_ineq + i, rows_ineq + d + i);
            for (j, b) in basis.iter().enumerate() {
                g[up * q + j] = b[i];
                g[down * q + j] = -b[i];
            }
        }
        s.extend((0..d).map(|i| (sys.hi[i] - t[i]).max(0.0)));
        s.extend((0..d).map(|i| (t[i] - sys.lo[i]).max(0.0)));
        Reduced { basis, g, s }
    }

    /// `min ‖z − z₀‖²` s.t. `Ĝ z ≤ ŝ − e` by the capped active set; `None` when it did not
    /// converge. Also returns the rounds taken.
    fn project(&self, z0: &[f64], extra: &[f64]) -> (Option<Vec<f64>>, usize) {
        let q = self.q();
        let bound = |k: usize| self.s[k] - extra[k];
        let mut work: Vec<usize> = Vec::new();
        // Gram matrix of the working rows, kept in step with `work`.
        let mut gram: Vec<Vec<f64>> = Vec::new();
        let mut z = z0.to_vec();
        for round in 0..=MAX_ROUNDS {
            let mut added = false;
            for k in 0..self.rows() {
                if dot(self.row(k), &z) > bound(k) && !work.contains(&k) {
                    for (a, &j) in work.iter().enumerate() {
                        let v = dot(self.row(k), self.row(j));
                        gram[a].push(v);
                    }
                    let mut new_row: Vec<f64> = work
                        .iter()
                        .map(|&j| dot(self.row(k), self.row(j)))
                        .collect();
                    new_row.push(dot(self.row(k), self.row(k)));
                    gram.push(new_row);
                    work.push(k);
                    added = true;
                }
            }
            let violated = (0..self.rows()).any(|k| dot(self.row(k), &z) > bound(k));
            if !violated {
                return (Some(z), round);
            }
            if round == MAX_ROUNDS || work.len() > MAX_WORK || (!added && work.is_empty()) {
                break;
            }
            let w = work.len();
            let mut kmat: Vec<f64> = gram.iter().flatten().copied().collect();
            let trace: f64 = (0..w).map(|a| kmat[a * w + a]).sum::<f64>() / w as f64;
            let mut eps = 1e-12 * trace.max(1e-300);
            let l = loop {
                for a in 0..w {
                    kmat[a * w + a] = gram[a][a] + eps;
                }
                if let Some(l) = cholesky(&kmat, w) {
                    break Some(l);
                }
                eps *= 100.0;
                if eps > trace {
                    break None;
                }
            };
            let Some(l) = l else { break };
            let mut y: Vec<f64> = work
                .iter()
                .map(|&k| dot(self.row(k), z0) - (bound(k) - AIM * (1.0 + bound(k).abs())))
                .collect();
            cholesky_solve(&l, w, &mut y);
            z.copy_from_slice(z0);
            for (a, &k) in work.iter().enumerate() {
                for (zj, &gj) in z.iter_mut().zip(self.row(k)) {
                    *zj -= y[a] * gj;
                }
            }
            debug_assert_eq!(z.len(), q);
            // Drop the row of the most negative multiplier (not active at the projection).
            if let Some((a, _)) = y
                .iter()
                .enumerate()
                .filter(|(_, &v)| v < 0.0)
                .min_by(|x, y| x.1.total_cmp(y.1))
            {
                work.swap_remove(a);
                gram.swap_remove(a);
                for r in &mut gram {
                    r.swap_remove(a);
                }
            }
        }
        (None, MAX_ROUNDS)
    }
}

/// Projects every vertex of `u` (`[K, d]`) onto the target's colliding set in its linear
/// region, shrunk by `margin` (see the module doc). `Ok(None)` (and `u` untouched) where the
/// projection does not apply: a collision activation other than ReLU, a network whose dense
/// region map would exceed [`MAX_ENTRIES`], or a colliding set that is a single point. A
/// vertex whose projection did not converge is left as it was, with `in_region: false`.
pub fn project_into_collision(
    net: &Graph,
    target: &[f32],
    u: &mut [f32],
    layer: &str,
    margin: f64,
) -> Result<Option<Vec<Projected>>, CollideError> {
    let point = net.collision_point(layer)?;
    if !matches!(net.nodes[point.relu].op, Op::Relu) {
        return Ok(None);
    }
    let d = net.input_len();
    if d == 0 || u.len() % d != 0 {
        return Err(err(format!(
            "{} vertex values are not a whole number of {d}-value inputs",
            u.len()
        )));
    }
    let t: Vec<f64> = target.iter().map(|&v| f64::from(v)).collect();
    let sys = match build_system(net, &t, point.pre, MAX_ENTRIES) {
        Ok(s) => s,
        Err(crate::exact::ExactError::TooLarge { .. }) => return Ok(None),
        Err(e) => return Err(err(e.to_string())),
    };
    let red = Reduced::new(&sys, margin);
    if red.q() == 0 {
        return Ok(None);
    }
    let (lo, hi) = net.pixel_bounds;
    let ineq = &sys.ineq;
    // Rounding u to f32 moves each entry by at most 2⁻²⁴·max(|lo|, |hi|), so a row's value
    // `g·u` by at most that times `‖g‖₁`: every region and zero-set row keeps twice that much
    // slack (the box rows need none: the rounded vertex is clipped).
    let unit = f64::from(lo.abs().max(hi.abs())) * f64::from(f32::EPSILON) / 2.0;
    let mut guard = vec![0.0; red.rows()];
    for (k, e) in guard.iter_mut().enumerate().take(ineq.len()) {
        *e = 2.0 * unit * ineq.row(k).iter().map(|x| x.abs()).sum::<f64>();
    }
    let mut out = Vec::new();
    for v in u.chunks_mut(d) {
        let diff: Vec<f64> = v.iter().zip(&t).map(|(&a, &b)| f64::from(a) - b).collect();
        let z0 = crate::exact::qr::project(&red.basis, &diff);
        let mut extra = guard.clone();
        let (mut rounds, mut found) = (0, None);
        for _ in 0..=REPAIRS {
            let (z, r) = red.project(&z0, &extra);
            rounds += r;
            let Some(z) = z else { break };
            let rounded: Vec<f32> = (0..d)
                .map(|i| {
                    let x = t[i]
                        + red
                            .basis
                            .iter()
                            .zip(&z)
                            .map(|(b, &c)| b[i] * c)
                            .sum::<f64>();
                    (x as f32).clamp(lo, hi)
                })
                .collect();
            let r64: Vec<f64> = rounded.iter().map(|&x| f64::from(x)).collect();
            let mut clean = true;
            for (k, e) in extra.iter_mut().enumerate().take(ineq.len()) {
                let over = dot(ineq.row(k), &r64) - ineq.h[k];
                if over > 0.0 {
                    *e += 2.0 * over + 1e-12 * (1.0 + ineq.h[k].abs());
                    clean = false;
                }
            }
            if clean {
                found = Some(rounded);
                break;
            }
        }
        let in_region = found.is_some();
        let moved = match found {
            Some(p) => {
                let m = v
                    .iter()
                    .zip(&p)
                    .map(|(&a, &b)| (f64::from(b) - f64::from(a)).powi(2))
                    .sum::<f64>()
                    .sqrt();
                v.copy_from_slice(&p);
                m
            }
            None => 0.0,
        };
        out.push(Projected {
            moved,
            rounds,
            in_region,
        });
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::graph::GraphBuilder;

    /// input [1,1,3] → fc1 (3 units) → relu → fc2 (2 units) → relu → fc3.
    fn net() -> Graph {
        let mut b = GraphBuilder::new("t", [1, 1, 3]);
        let f = b.flatten("flat", 0);
        let a = b.linear(
            "fc1",
            f,
            3,
            3,
            vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            Some(vec![-0.2, -0.2, -0.2]),
        );
        let r = b.relu("relu1", a);
        let c = b.linear(
            "fc2",
            r,
            3,
            2,
            vec![1.0, 1.0, 0.0, 0.0, 1.0, -1.0],
            Some(vec![0.0, -0.5]),
        );
        let r2 = b.relu("relu2", c);
        b.linear("fc3", r2, 2, 1, vec![1.0, 1.0], None);
        b.finish()
    }

    #[test]
    fn projection_lands_in_the_region_with_the_targets_features() {
        let g = net();
        // Target: all of fc1 on (0.3, 0.4, 0.5 > 0.2); fc2 = [0.1 + 0.2, 0.2 − 0.3 − 0.5 < 0].
        let target = [0.3f32, 0.4, 0.5];
        // A vertex slightly off: unit 0 of fc1 just below its kink (outside the region) and
        // fc2's P unit off by 0.01.
        let mut u = vec![0.19f32, 0.52, 0.6];
        let before = crate::exact::forward_f32(&g, &u).unwrap();
        let ft = crate::exact::forward_f32(&g, &target).unwrap();
        let fc2 = g.collision_point("fc2").unwrap().pre;
        assert!(before.outputs[fc2][0] != ft.outputs[fc2][0]);
        let p = project_into_collision(&g, &target, &mut u, "fc2", 1e-3)
            .unwrap()
            .expect("applies");
        assert_eq!(p.len(), 1);
        assert!(p[0].in_region, "{p:?}");
        let after = crate::exact::forward_f32(&g, &u).unwrap();
        // P unit equal (to f32 rounding), Z unit ≤ 0.
        assert!(
            (after.outputs[fc2][0] - ft.outputs[fc2][0]).abs() < 1e-6,
            "{u:?}"
        );
        assert!(after.outputs[fc2][1] <= 0.0);
        // In the target's region: every fc1 unit on, with the margin.
        let fc1 = g.collision_point("fc1").unwrap().pre;
        assert!(
            after.outputs[fc1].iter().all(|&x| x >= 1e-3 - 1e-7),
            "{u:?}"
        );
        // The closest such point: (u0, u1) on u0 + u1 = 0.7 with u0 ≥ 0.201 (u2 stays, as
        // u1 − u2 − 0.5 ≤ −0.001 holds): the line's closest point (0.185, 0.515) has
        // u0 < 0.201, so the projection is the end (0.201, 0.499).
        assert!(
            (u[0] - 0.201).abs() < 1e-5 && (u[1] - 0.499).abs() < 1e-5,
            "{u:?}"
        );
        assert!((u[2] - 0.6).abs() < 1e-6, "{u:?}");
        assert!((p[0].moved - 0.011f64.hypot(0.021)).abs() < 1e-5, "{p:?}");
    }

    #[test]
    fn cholesky_solves_a_small_system() {
        // K = [[4, 2], [2, 3]], b = K·[1, −1] = [2, −1].
        let l = cholesky(&[4.0, 2.0, 2.0, 3.0], 2).unwrap();
        let mut b = vec![2.0, -1.0];
        cholesky_solve(&l, 2, &mut b);
        assert!(
            (b[0] - 1.0).abs() < 1e-12 && (b[1] + 1.0).abs() < 1e-12,
            "{b:?}"
        );
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }

    #[test]
    fn projection_skips_an_activation_without_flat_pieces() {
        let mut b = GraphBuilder::new("t", [1, 1, 2]);
        let f = b.flatten("flat", 0);
        let a = b.linear("fc1", f, 2, 2, vec![1.0, 0.0, 0.0, 1.0], None);
        let r = b.push("tanh1", Op::Tanh, &[a]);
        b.linear("fc2", r, 2, 1, vec![1.0, 1.0], None);
        let g = b.finish();
        let mut u = vec![0.5f32, 0.5];
        let p = project_into_collision(&g, &[0.3, 0.3], &mut u, "fc1", 1e-3).unwrap();
        assert!(p.is_none());
        assert_eq!(u, vec![0.5, 0.5]);
    }
}
