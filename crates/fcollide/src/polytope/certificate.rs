//! A certificate that every point of a vertex set's convex hull collides with the target.
//!
//! Let `ỹ(u)` be the collision layer's pre-activation and `y = act(ỹ)` its activation (ReLU,
//! or a clip `[0, hi]` such as ReLU6), `t` the target. In f64:
//!
//! 1. **Same region.** Every vertex `v` is checked to lie in one closed linear region
//!    ([`crate::model::graph::region`]): every earlier activation on the reference point's
//!    piece and every earlier max-pool keeping its argmax. The reference point is the target,
//!    or the vertices' centroid when that gives the larger smallest slack (the target may sit
//!    on a boundary: a max-pool window of equal values, a unit exactly at a kink; the bound
//!    below never needs the target inside the region). The smallest slack over all vertices
//!    is the *certificate margin*; the vertices share the region iff it is `≥ 0`. The region
//!    is convex, so then the whole hull lies in it, and there `ỹ` is one affine map:
//!    `ỹ(Σ λ_v v) = Σ λ_v ỹ(v)` for convex weights `λ`.
//! 2. **Error bound.** For a unit `j` whose target value is on the middle piece of the
//!    activation (`0 < ỹt_j < hi`), `act` is 1-Lipschitz with `act(ỹt_j) = ỹt_j`, so
//!    `|y_j(u) − yt_j| ≤ |ỹ_j(u) − ỹt_j| = |Σ λ_v (ỹ_j(v) − ỹt_j)| ≤ Σ λ_v |ỹ_j(v) − ỹt_j|`
//!    (P stays within its affine error). For a unit at the bottom (`ỹt_j ≤ 0`, the set Z),
//!    `0 ≤ y_j(u) ≤ max(ỹ_j(u), 0) ≤ Σ λ_v max(ỹ_j(v), 0)` by convexity of `max(·, 0)`; at the
//!    top (`ỹt_j ≥ hi`), `0 ≤ yt_j − y_j(u) ≤ Σ λ_v max(hi − ỹ_j(v), 0)` likewise. With
//!    `ẽ_j(v)` the per-vertex quantity on the right, `|y(u) − yt| ≤ Σ λ_v ẽ(v)` entry-wise,
//!    hence `‖y(u) − yt‖ ≤ Σ λ_v ‖ẽ(v)‖ ≤ max_v ‖ẽ(v)‖` by the triangle inequality. The
//!    *certified error bound* is `max_v ‖ẽ(v)‖ / ‖yt‖`, a bound on the relative feature error
//!    of every point of the hull, measured only at the vertices.
//!
//! For an activation without flat pieces (LeakyReLU, sigmoid, tanh: all 1-Lipschitz) every
//! unit takes the middle-piece bound `|ỹ_j(v) − ỹt_j|`.
//!
//! The row is *certified* when the vertices share the region and the bound is at most the
//! tolerance. Both steps use the f64 reference forward pass ([`crate::exact::forward`]).
use serde::{Deserialize, Serialize};

use crate::collide::CollideError;
use crate::exact::forward::forward_f32;
use crate::model::graph::region::{region_margin, region_pieces};
use crate::model::{Graph, Op};

/// The outcome of [`certify_hull`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HullCertificate {
    /// Whether every vertex lies in the target's linear region.
    pub same_region: bool,
    /// The smallest region slack over all vertices (`None` when the collision layer has no
    /// nonlinearity before it, so every input is in one region).
    pub certificate_margin: Option<f64>,
    /// Vertices outside the region of reference.
    pub vertices_outside: Vec<usize>,
    /// The point whose linear region the vertices were checked against: `target`, or
    /// `centroid` (of the vertices) where that gives the larger smallest margin.
    #[serde(default)]
    pub region_reference: String,
    /// `max_v ‖ẽ(v)‖ / ‖yt‖` (see the module doc); a bound for the whole hull only when
    /// `same_region`.
    pub certified_error_bound: f64,
    /// The tolerance the bound was held against.
    pub tolerance: f64,
    /// `same_region` and `certified_error_bound ≤ tolerance`.
    pub certified: bool,
}

fn shape_err(e: impl std::fmt::Display) -> CollideError {
    CollideError::Param {
        param: "vertices",
        msg: e.to_string(),
    }
}

/// Certifies the hull of `vertices` (`[K, d]`) against `target` at collision point `layer`
/// of `net` with tolerance `tol` on the relative feature error.
pub fn certify_hull(
    net: &Graph,
    target: &[f32],
    vertices: &[f32],
    layer: &str,
    tol: f64,
) -> Result<HullCertificate, CollideError> {
    let point = net.collision_point(layer)?;
    let d = net.input_len();
    if d == 0 || vertices.len() % d != 0 || vertices.is_empty() {
        return Err(shape_err(format!(
            "{} vertex values are not a whole number of {d}-value inputs",
            vertices.len()
        )));
    }
    let ft = forward_f32(net, target).map_err(shape_err)?;
    let pieces = region_pieces(net, &ft.shapes, &ft.outputs, point.pre).ok();
    // Flat pieces of the activation (`(+∞, −∞)`: none, every unit uses the Lipschitz bound
    // `|act(a) − act(t)| ≤ |a − t|`, valid for tanh, LeakyReLU and the sigmoid).
    let (lo, hi) = match net.nodes[point.relu].op {
        Op::Relu => (0.0, f64::INFINITY),
        Op::Clip { min, max } => (f64::from(min), f64::from(max)),
        _ => (f64::NEG_INFINITY, f64::INFINITY),
    };
    let op = net.nodes[point.relu].op.clone();
    let act = |v: f64| crate::exact::forward::activation(&op, v);
    let yt = &ft.outputs[point.pre];
    let norm_t = yt
        .iter()
        .map(|&v| act(v).powi(2))
        .sum::<f64>()
        .sqrt()
        .max(1e-30);
    let outs: Vec<Vec<Vec<f64>>> = vertices
        .chunks(d)
        .map(|v| forward_f32(net, v).map(|f| f.outputs).map_err(shape_err))
        .collect::<Result<_, _>>()?;
    // The region of reference: the target's, or the one at the vertices' centroid (which
    // differs where the target sits on a boundary, e.g. a max-pool tie); the better one.
    let centroid = crate::collide::region::centroid(vertices, d);
    let pieces_c = forward_f32(net, &centroid)
        .ok()
        .and_then(|fc| region_pieces(net, &fc.shapes, &fc.outputs, point.pre).ok());
    let margins = |p: &Option<Vec<crate::model::graph::region::NodePiece>>| -> Option<Vec<f64>> {
        p.as_ref()
            .map(|p| outs.iter().map(|o| region_margin(p, o)).collect())
    };
    let (m_t, m_c) = (margins(&pieces), margins(&pieces_c));
    let worst = |m: &Option<Vec<f64>>| {
        m.as_ref().map_or(f64::NEG_INFINITY, |m| {
            m.iter().copied().fold(f64::INFINITY, f64::min)
        })
    };
    let (chosen, empty, reference) = if worst(&m_c) > worst(&m_t) {
        (
            m_c,
            pieces_c.as_ref().is_some_and(|p| p.is_empty()),
            "centroid",
        )
    } else {
        (m_t, pieces.as_ref().is_some_and(|p| p.is_empty()), "target")
    };
    let mut margin: Option<f64> = None;
    let mut outside = Vec::new();
    let mut bound: f64 = 0.0;
    for (k, fv) in outs.iter().enumerate() {
        match &chosen {
            Some(_) if empty => {}
            Some(ms) => {
                let m = ms[k];
                if m < 0.0 {
                    outside.push(k);
                }
                margin = Some(margin.map_or(m, |x: f64| x.min(m)));
            }
            None => outside.push(k), // not piecewise linear: no region to share
        }
        let yv = &fv[point.pre];
        let e2: f64 = yv
            .iter()
            .zip(yt)
            .map(|(&a, &t)| {
                let e = if t <= lo {
                    (a - lo).max(0.0)
                } else if t >= hi {
                    (hi - a).max(0.0)
                } else {
                    (a - t).abs()
                };
                e * e
            })
            .sum();
        bound = bound.max(e2.sqrt() / norm_t);
    }
    let same_region = outside.is_empty();
    Ok(HullCertificate {
        same_region,
        certificate_margin: margin,
        vertices_outside: outside,
        region_reference: reference.to_string(),
        certified_error_bound: bound,
        tolerance: tol,
        certified: same_region && bound.is_finite() && bound <= tol,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::graph::GraphBuilder;

    /// input [1,1,2] → fc1 (2 units) → relu → fc2 (1 unit) → relu(out) → fc3.
    fn net() -> Graph {
        let mut b = GraphBuilder::new("t", [1, 1, 2]);
        let f = b.flatten("flat", 0);
        // fc1 = [u0 − 0.5, u1 − 0.5]
        let a = b.linear(
            "fc1",
            f,
            2,
            2,
            vec![1.0, 0.0, 0.0, 1.0],
            Some(vec![-0.5, -0.5]),
        );
        let r = b.relu("relu1", a);
        // fc2 = h0 + h1 − 0.1
        let c = b.linear("fc2", r, 2, 1, vec![1.0, 1.0], Some(vec![-0.1]));
        let r2 = b.relu("relu2", c);
        b.linear("fc3", r2, 1, 1, vec![1.0], None);
        b.finish()
    }

    #[test]
    fn vertices_in_one_region_are_certified() {
        let g = net();
        // Target (0.7, 0.7): fc1 = (0.2, 0.2) both on; fc2 = 0.3.
        let t = [0.7f32, 0.7];
        // Same region, same fc2 value (h0 + h1 = 0.4): (0.6, 0.8) and (0.8, 0.6).
        let v = [0.6f32, 0.8, 0.8, 0.6];
        let c = certify_hull(&g, &t, &v, "fc2", 1e-6).unwrap();
        assert!(c.same_region && c.certified, "{c:?}");
        assert!((c.certificate_margin.unwrap() - 0.1).abs() < 1e-6);
        assert!(c.certified_error_bound < 1e-6);
    }

    #[test]
    fn vertices_in_different_regions_are_not() {
        let g = net();
        let t = [0.7f32, 0.7];
        // Both collide at fc2 (fc2 = 0.3 at each) but unit 1 of fc1 is off at the first
        // vertex (h = (0.4, 0)) and unit 0 at the second: different regions; their midpoint
        // (0.7, 0.45)... has h = (0.2, 0) → fc2 = 0.1, not 0.3.
        let v = [0.9f32, 0.2, 0.2, 0.9];
        let c = certify_hull(&g, &t, &v, "fc2", 1e-6).unwrap();
        assert!(!c.same_region && !c.certified, "{c:?}");
        assert_eq!(c.vertices_outside, vec![0, 1]);
        assert!(c.certificate_margin.unwrap() < 0.0);
        // The vertices themselves collide: the bound at them is small, but not a certificate.
        assert!(c.certified_error_bound < 1e-6);
    }

    #[test]
    fn an_affine_prefix_needs_no_region() {
        let g = net();
        let t = [0.7f32, 0.7];
        // At fc1 the Z set is empty; a vertex with a P error of 0.1 gives a bound of 0.1/‖yt‖.
        let v = [0.8f32, 0.7];
        let c = certify_hull(&g, &t, &v, "fc1", 1e-3).unwrap();
        assert!(c.same_region && c.certificate_margin.is_none());
        let want = 0.1 / (0.2f64 * 0.2 * 2.0).sqrt();
        assert!((c.certified_error_bound - want).abs() < 1e-6, "{c:?}");
        assert!(!c.certified);
    }
}
