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
//! `λ ∈ [0, 1]` (bisection in f64, on the f32 point that is stored) whose margin in `c`'s
//! region is `≥ 0`. The region is convex and holds `c`, so `v'` exists; inside it the
//! collision layer is one affine map, so `ỹ(v')` lies between `ỹ(c)` and the map's value at
//! `v`, which differs from `ỹ(v)` only by the vertex's small violation.
use serde::{Deserialize, Serialize};

use super::CollideError;
use crate::exact::forward::forward_f32;
use crate::model::graph::region::{region_margin, region_pieces, NodePiece};
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
    let mut lambdas = Vec::new();
    for v in u.chunks_mut(d) {
        if margin(v)? >= 0.0 {
            lambdas.push(1.0);
            continue;
        }
        let orig = v.to_vec();
        let at = |l: f64| -> Vec<f32> {
            orig.iter()
                .zip(&centre)
                .map(|(&a, &c)| (f64::from(c) + l * (f64::from(a) - f64::from(c))) as f32)
                .collect()
        };
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..PULL_STEPS {
            let mid = 0.5 * (lo + hi);
            if margin(&at(mid))? >= 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        v.copy_from_slice(&at(lo));
        lambdas.push(lo);
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
}
