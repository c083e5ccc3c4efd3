//! Region-locked vertex search: keeping every vertex in the target's linear region.
//!
//! Behind ReLU and max-pool layers the set of inputs that collide with the target is a union
//! of convex pieces, one per linear region of the earlier layers; vertices found separately
//! land in different pieces and their convex combinations leave the colliding set. Inside
//! the target's region (every earlier activation on the target's piece, every earlier
//! max-pool keeping its argmax: [`crate::model::graph::region`]) the map to the collision
//! layer is affine, the colliding set is convex, and every convex combination of colliding
//! vertices collides.
//!
//! The lock is a penalty on the inputs `x` of those nodes, added to each vertex's loss:
//!
//! ```text
//! R(u) = γ/2 · [ Σ_k (max(0, a_k − x_k)² + max(0, x_k − b_k)²)
//!              + Σ_(m,o) max(0, x_o − x_m + μ_mo)² ]
//! ```
//!
//! where `[a_k, b_k]` is unit `k`'s piece interval at the target shrunk by the margin
//! `μ_k = min(μ, d_k / 2)` (`d_k` the target's distance to that bound, so the target itself
//! satisfies every locked constraint), and `(m, o)` runs over each max-pool window's argmax
//! `m` and its other entries `o`, `μ_mo = min(μ, (x_m − x_o)/2)` at the target. A penalty
//! (rather than a projection) keeps the search a plain first-order method through any
//! engine; the f64 certificate ([`crate::polytope::certificate`]) then checks that every
//! vertex truly lies in the region.
//!
//! A penalty is soft: a vertex may end a hair outside the region (a unit whose target value
//! is within `μ` of a kink has almost no room, and a max-pool window of equal values at the
//! target has none). [`pull_into_region`] then moves such a vertex `v` back along the
//! segment from the vertices' centroid `c`: `v' = c + λ (v − c)` with the largest
//! `λ ∈ [0, 1]` whose margin in `c`'s region is `≥ 0`. In that region every node value is
//! affine in `λ`, so one f64 forward of `c` and the directions `v − c` through the region's
//! affine map ([`crate::exact::forward::forward_along`]) gives the exact boundary step
//! `λ* = min_{ds<0} s/(−ds)` over all slacks `s`
//! ([`crate::model::graph::region::NodePiece::max_step`]); `λ*` is checked on the stored f32
//! point by a true f64 forward (shrunk by up to 1 % for rounding, bisection as a last resort). The region is convex and holds `c`, so `v'` exists; inside it the
//! collision layer is one affine map, so `ỹ(v')` lies between `ỹ(c)` and the map's value at
//! `v`, which differs from `ỹ(v)` only by the vertex's small violation.
use serde::{Deserialize, Serialize};

use super::CollideError;
use crate::exact::forward::forward_along;
use crate::exact::forward::forward_f32;
use crate::model::graph::region::{region_margin, region_pieces, region_step, NodePiece};
use crate::model::Graph;

/// Whether the vertex search keeps the vertices in the target's linear region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegionMode {
    /// Locked when the collision layer lies behind a nonlinearity, free otherwise.
    Auto,
    /// Always locked.
    Locked,
    /// Never locked: vertices may land in different linear regions (the paper's search).
    Free,
}

/// Bounds that stand for "unbounded" on the device (f32, finite so no `∞ − ∞` arises).
const UNBOUNDED: f32 = 1e30;

/// One node's locked constraints on its input node's values.
#[derive(Clone, Debug, PartialEq)]
pub enum LockTerm {
    /// `lower_k ≤ x_k ≤ upper_k` for every entry `k` of node `input`.
    Interval {
        /// The node whose output is constrained.
        input: usize,
        /// Lower bounds (`−1e30`: none).
        lower: Vec<f32>,
        /// Upper bounds (`1e30`: none).
        upper: Vec<f32>,
    },
    /// `x[high_p] ≥ x[low_p] + margin_p` for every pair `p`.
    Order {
        /// The node whose output is constrained.
        input: usize,
        /// The windows' maxima (flat input index), one per pair.
        high: Vec<i64>,
        /// The other entries, one per pair.
        low: Vec<i64>,
        /// The margins.
        margin: Vec<f32>,
    },
}

impl LockTerm {
    /// The node whose values the term constrains.
    pub fn input(&self) -> usize {
        match self {
            LockTerm::Interval { input, .. } | LockTerm::Order { input, .. } => *input,
        }
    }
}

/// The penalty that keeps vertices in the target's linear region.
#[derive(Clone, Debug, PartialEq)]
pub struct RegionLock {
    /// The locked constraints, one term per nonlinear node.
    pub terms: Vec<LockTerm>,
    /// Weight `γ`.
    pub weight: f32,
}

impl RegionLock {
    /// The lock of `target`'s region for the collision pre-activation node `pre`, with margin
    /// `μ` and weight `γ`.
    pub fn at_target(
        net: &Graph,
        target: &[f32],
        pre: usize,
        margin: f32,
        weight: f32,
    ) -> Result<Self, CollideError> {
        let fwd = forward_f32(net, target).map_err(|e| CollideError::Param {
            param: "target",
            msg: e.to_string(),
        })?;
        let pieces = region_pieces(net, &fwd.shapes, &fwd.outputs, pre).map_err(|e| {
            CollideError::Param {
                param: "region",
                msg: format!("{e}: the vertex search cannot be locked to the target's region"),
            }
        })?;
        let mu = f64::from(margin);
        let terms = pieces
            .into_iter()
            .map(|p| {
                let x = &fwd.outputs[p.input()];
                match p {
                    NodePiece::Interval {
                        input,
                        lower,
                        upper,
                        ..
                    } => {
                        let shrink_lo = |(k, &a): (usize, &f64)| {
                            if a.is_finite() {
                                (a + mu.min((x[k] - a) / 2.0)) as f32
                            } else {
                                -UNBOUNDED
                            }
                        };
                        let shrink_hi = |(k, &b): (usize, &f64)| {
                            if b.is_finite() {
                                (b - mu.min((b - x[k]) / 2.0)) as f32
                            } else {
                                UNBOUNDED
                            }
                        };
                        LockTerm::Interval {
                            input,
                            lower: lower.iter().enumerate().map(shrink_lo).collect(),
                            upper: upper.iter().enumerate().map(shrink_hi).collect(),
                        }
                    }
                    NodePiece::Argmax {
                        input,
                        argmax,
                        taps,
                        ..
                    } => {
                        let (mut high, mut low, mut margin) = (Vec::new(), Vec::new(), Vec::new());
                        for (&m, t) in argmax.iter().zip(&taps) {
                            for &o in t {
                                high.push(m as i64);
                                low.push(o as i64);
                                margin.push(mu.min((x[m] - x[o]) / 2.0) as f32);
                            }
                        }
                        LockTerm::Order {
                            input,
                            high,
                            low,
                            margin,
                        }
                    }
                }
            })
            .filter(|t| !matches!(t, LockTerm::Order { high, .. } if high.is_empty()))
            .collect();
        Ok(RegionLock { terms, weight })
    }

    /// Whether there is nothing to lock (every node before the collision layer is affine).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// `R(u)` (see the module doc) from the constrained nodes' values of one vertex
    /// (`values[t]` for `terms[t]`), on the host.
    pub fn penalty(&self, values: &[&[f32]]) -> f64 {
        let mut s = 0.0f64;
        for (term, x) in self.terms.iter().zip(values) {
            match term {
                LockTerm::Interval { lower, upper, .. } => {
                    for ((&v, &a), &b) in x.iter().zip(lower).zip(upper) {
                        let lo = f64::from((a - v).max(0.0));
                        let hi = f64::from((v - b).max(0.0));
                        s += lo * lo + hi * hi;
                    }
                }
                LockTerm::Order {
                    high, low, margin, ..
                } => {
                    for ((&m, &o), &mu) in high.iter().zip(low).zip(margin) {
                        let v = f64::from((x[o as usize] - x[m as usize] + mu).max(0.0));
                        s += v * v;
                    }
                }
            }
        }
        0.5 * f64::from(self.weight) * s
    }
}

/// The mean of the `[K, d]` points `u` (accumulated in f64).
pub fn centroid(u: &[f32], d: usize) -> Vec<f32> {
    let k = (u.len() / d.max(1)).max(1);
    (0..d)
        .map(|i| (u.chunks(d).map(|v| f64::from(v[i])).sum::<f64>() / k as f64) as f32)
        .collect()
}

/// Bisection steps of [`pull_into_region`] (λ to within 2⁻¹⁶ ≈ 1.5e-5).
const PULL_STEPS: usize = 16;

/// Relative shrinks of the exact boundary step tried before bisecting.
const PULL_SHRINKS: [f64; 4] = [0.0, 1e-6, 1e-4, 1e-2];

/// Moves every vertex of `u` (`[K, d]`) that lies outside the closed linear region of the
/// vertices' centroid `c` (for collision point `layer`) back onto the segment from `c`:
/// `v' = c + λ (v − c)` (see the module doc; the centroid rather than the target, which may
/// sit on a region boundary such as a max-pool tie). Returns `λ` per vertex (`1` for a
/// vertex already inside).
pub fn pull_into_region(
    net: &Graph,
    _target: &[f32],
    u: &mut [f32],
    layer: &str,
) -> Result<Vec<f64>, CollideError> {
    let point = net.collision_point(layer)?;
    let d = net.input_len();
    let k = u.len() / d.max(1);
    let bad = |e: String| CollideError::Param {
        param: "region",
        msg: e,
    };
    let centre = centroid(u, d);
    let fc = forward_f32(net, &centre).map_err(|e| bad(e.to_string()))?;
    let pieces =
        region_pieces(net, &fc.shapes, &fc.outputs, point.pre).map_err(|e| bad(e.to_string()))?;
    if pieces.is_empty() {
        return Ok(vec![1.0; k]);
    }
    let margin = |x: &[f32]| -> Result<f64, CollideError> {
        let f = forward_f32(net, x).map_err(|e| bad(e.to_string()))?;
        Ok(region_margin(&pieces, &f.outputs))
    };
    // The vertices outside c's region, and the exact step to its boundary along each
    // segment: in the region every node value is affine in λ (`exact::forward_along`).
    let mut lambdas = vec![1.0; k];
    let outside: Vec<usize> = (0..k)
        .filter_map(|j| match margin(&u[j * d..(j + 1) * d]) {
            Ok(m) if m >= 0.0 => None,
            Ok(_) => Some(Ok(j)),
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_, _>>()?;
    if outside.is_empty() {
        return Ok(lambdas);
    }
    let c64: Vec<f64> = centre.iter().map(|&v| f64::from(v)).collect();
    let dirs: Vec<f64> = outside
        .iter()
        .flat_map(|&j| {
            u[j * d..(j + 1) * d]
                .iter()
                .zip(&c64)
                .map(|(&a, &c)| f64::from(a) - c)
        })
        .collect();
    let along = forward_along(net, &c64, &dirs, point.pre).map_err(|e| bad(e.to_string()))?;
    let b = outside.len() + 1;
    let at_point: Vec<Vec<f64>> = along.iter().map(|v| v[..v.len() / b].to_vec()).collect();
    for (t, &j) in outside.iter().enumerate() {
        let dir_values: Vec<&[f64]> = along
            .iter()
            .map(|v| &v[(1 + t) * (v.len() / b)..(2 + t) * (v.len() / b)])
            .collect();
        let step = region_step(&pieces, &at_point, &dir_values).min(1.0);
        let v = &mut u[j * d..(j + 1) * d];
        let orig = v.to_vec();
        let at = |l: f64| -> Vec<f32> {
            orig.iter()
                .zip(&centre)
                .map(|(&a, &c)| (f64::from(c) + l * (f64::from(a) - f64::from(c))) as f32)
                .collect()
        };
        // The boundary step, shrunk until the stored f32 point passes the f64 margin test
        // (rounding may leave it a hair outside); bisection below it if that fails.
        let mut lambda = None;
        for shrink in PULL_SHRINKS {
            let l = step * (1.0 - shrink);
            if margin(&at(l))? >= 0.0 {
                lambda = Some(l);
                break;
            }
        }
        let lambda = match lambda {
            Some(l) => l,
            None => {
                let (mut lo, mut hi) = (0.0f64, step);
                for _ in 0..PULL_STEPS {
                    let mid = 0.5 * (lo + hi);
                    if margin(&at(mid))? >= 0.0 {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                lo
            }
        };
        v.copy_from_slice(&at(lambda));
        lambdas[j] = lambda;
    }
    Ok(lambdas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::graph::GraphBuilder;

    #[test]
    fn margins_leave_the_target_inside() {
        // input [1,2,2] → relu → maxpool → flatten → fc.
        let mut b = GraphBuilder::new("t", [1, 2, 2]);
        let r = b.relu("r", 0);
        let p = b.maxpool("p", r, 2, 2, 0);
        let f = b.flatten("f", p);
        let fc = b.linear("fc", f, 1, 1, vec![1.0], None);
        let g = b.finish();
        let t = [0.5f32, 0.0, 0.75, 0.002];
        let lock = RegionLock::at_target(&g, &t, fc, 0.01, 1.0).unwrap();
        assert_eq!(lock.terms.len(), 2);
        match &lock.terms[0] {
            LockTerm::Interval { lower, upper, .. } => {
                // On units: lower = min(μ, x/2): 0.01, 0.01, 0.001 (x = 0.002); off unit 1 (x = 0):
                // upper = −min(μ, 0) = 0.
                assert_eq!(lower[0], 0.01);
                assert!((lower[3] - 0.001).abs() < 1e-9);
                assert_eq!(upper[1], 0.0);
                assert_eq!(lower[1], -UNBOUNDED);
            }
            other => panic!("{other:?}"),
        }
        // The target has zero penalty; a point that turns unit 1 on has a positive one.
        let relu_t: Vec<f32> = t.iter().map(|v| v.max(0.0)).collect();
        assert_eq!(lock.penalty(&[&t, &relu_t]), 0.0);
        let u = [0.5f32, 0.1, 0.75, 0.002];
        let relu_u: Vec<f32> = u.iter().map(|v| v.max(0.0)).collect();
        assert!((lock.penalty(&[&u, &relu_u]) - 0.5 * 0.01).abs() < 1e-6);
    }

    /// input [1,6,6] → conv 3×3 (2 ch, pad 1) → relu → maxpool 2 → flatten → fc1 (18→4)
    /// → relu → fc2 (4→3), seeded random weights.
    fn small_net(seed: u64) -> Graph {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut r =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-1.0..1.0)).collect() };
        let mut b = GraphBuilder::new("t", [1, 6, 6]);
        let c = b.conv("conv1", 0, 1, 2, 3, 1, 1, r(18), Some(r(2)));
        let x = b.relu("relu1", c);
        let x = b.maxpool("pool1", x, 2, 2, 0);
        let x = b.flatten("flatten", x);
        let x = b.linear("fc1", x, 18, 4, r(72), Some(r(4)));
        let x = b.relu("relu2", x);
        b.linear("fc2", x, 4, 3, r(12), Some(r(3)));
        b.finish()
    }

    fn margin_at(g: &Graph, pieces: &[NodePiece], x: &[f32]) -> f64 {
        region_margin(pieces, &forward_f32(g, x).unwrap().outputs)
    }

    #[test]
    fn forward_along_is_the_region_affine_map() {
        use rand::{Rng, SeedableRng};
        let g = small_net(1);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let c: Vec<f64> = (0..36).map(|_| rng.random_range(0.0..1.0)).collect();
        let dirs: Vec<f64> = (0..72).map(|_| rng.random_range(-1.0..1.0)).collect();
        let upto = g.collision_point("fc1").unwrap().pre;
        let along = forward_along(&g, &c, &dirs, upto).unwrap();
        let fc = crate::exact::forward::forward(&g, &c).unwrap();
        let pieces = region_pieces(&g, &fc.shapes, &fc.outputs, upto).unwrap();
        for t in 0..2 {
            let dir = &dirs[t * 36..(t + 1) * 36];
            let at: Vec<Vec<f64>> = along.iter().map(|v| v[..v.len() / 3].to_vec()).collect();
            let dv: Vec<&[f64]> = along
                .iter()
                .map(|v| &v[(1 + t) * (v.len() / 3)..(2 + t) * (v.len() / 3)])
                .collect();
            let step = region_step(&pieces, &at, &dv);
            assert!(step.is_finite() && step > 0.0, "step {step}");
            // Inside the region (half the boundary step) the true forward is v0 + λ·v1.
            let l = 0.5 * step;
            let x: Vec<f64> = c.iter().zip(dir).map(|(a, d)| a + l * d).collect();
            let f = crate::exact::forward::forward(&g, &x).unwrap();
            for i in 0..=upto {
                for (k, &y) in f.outputs[i].iter().enumerate() {
                    let lin = at[i][k] + l * dv[i][k];
                    assert!((y - lin).abs() < 1e-9, "node {i} entry {k}: {y} vs {lin}");
                }
            }
            // Just past the boundary step the point leaves the region.
            let x: Vec<f64> = c
                .iter()
                .zip(dir)
                .map(|(a, d)| a + step * 1.001 * d)
                .collect();
            let f = crate::exact::forward::forward(&g, &x).unwrap();
            assert!(region_margin(&pieces, &f.outputs) < 0.0);
        }
    }

    #[test]
    fn pull_back_stops_at_the_region_boundary() {
        use rand::{Rng, SeedableRng};
        let g = small_net(3);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let base: Vec<f32> = (0..36).map(|_| rng.random_range(0.2..0.8)).collect();
        // Four vertices: two close to the base, two far off (outside its region).
        let mut u = Vec::new();
        for scale in [0.001f32, 0.002, 0.5, 0.7] {
            u.extend(
                base.iter()
                    .map(|&b| b + scale * rng.random_range(-1.0f32..1.0)),
            );
        }
        let orig = u.clone();
        let centre = centroid(&u, 36);
        let fc = forward_f32(&g, &centre).unwrap();
        let upto = g.collision_point("fc1").unwrap().pre;
        let pieces = region_pieces(&g, &fc.shapes, &fc.outputs, upto).unwrap();
        let lambdas = pull_into_region(&g, &base, &mut u, "fc1").unwrap();
        assert!(
            lambdas.iter().any(|&l| l < 1.0),
            "some vertex was outside: {lambdas:?}"
        );
        for (j, &l) in lambdas.iter().enumerate() {
            let v = &u[j * 36..(j + 1) * 36];
            assert!(
                margin_at(&g, &pieces, v) >= 0.0,
                "vertex {j} inside after the pull"
            );
            if l < 1.0 {
                // The largest such λ: a little further out leaves the region.
                let further: Vec<f32> = orig[j * 36..(j + 1) * 36]
                    .iter()
                    .zip(&centre)
                    .map(|(&a, &c)| {
                        (f64::from(c) + (l * 1.02) * (f64::from(a) - f64::from(c))) as f32
                    })
                    .collect();
                assert!(
                    margin_at(&g, &pieces, &further) < 0.0,
                    "vertex {j}: λ {l} is not the largest"
                );
            } else {
                assert_eq!(v, &orig[j * 36..(j + 1) * 36]);
            }
        }
    }
}
