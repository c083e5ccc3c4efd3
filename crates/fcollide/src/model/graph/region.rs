//! The linear region of a point: which piece every nonlinear node is on.
//!
//! A network of affine operations, ReLU, Clip, LeakyReLU and max-pooling is affine on the
//! closed set of inputs `u` where every nonlinear node the collision layer depends on stays on
//! the piece it has at the point `t`:
//!
//! - an element-wise activation: each entry `x_k` of its input stays in the closed interval
//!   of its piece — ReLU on `[0, ∞)`, off `(−∞, 0]`; Clip bottom `(−∞, lo]`, middle
//!   `[lo, hi]`, top `[hi, ∞)`; LeakyReLU `[0, ∞)` or `(−∞, 0]`;
//! - max-pooling: each window's maximum at `t` (entry `m`) stays a maximum:
//!   `x_m ≥ x_o` for every other entry `o` of the window.
//!
//! These are linear inequalities in `u` on the region, so the region is convex, and the
//! network is one affine map on it. The *margin* of a point `u` is the smallest slack of all
//! of them (`x_k − lower_k`, `upper_k − x_k`, `x_m − x_o`); `u` lies in `t`'s region iff
//! its margin is `≥ 0`. Sigmoid and tanh have no linear pieces; a node that depends on them
//! has no such region ([`RegionError`]).
use super::{Graph, Op, Shape};

/// The piece one nonlinear node is on at a point.
#[derive(Clone, Debug, PartialEq)]
pub enum NodePiece {
    /// Entry `k` of the input of an element-wise activation stays in `[lower_k, upper_k]`
    /// (infinite bounds where the piece is unbounded).
    Interval {
        /// The activation node.
        node: usize,
        /// Its input node.
        input: usize,
        /// Lower bounds.
        lower: Vec<f64>,
        /// Upper bounds.
        upper: Vec<f64>,
    },
    /// Every window of a max-pooling keeps its maximum: `x[argmax_w] ≥ x[o]` for every other
    /// input entry `o` of window `w` (`taps[w]`, flat input indices).
    Argmax {
        /// The max-pooling node.
        node: usize,
        /// Its input node.
        input: usize,
        /// Flat input index of each window's maximum at the point.
        argmax: Vec<usize>,
        /// Flat input indices of each window's other entries.
        taps: Vec<Vec<usize>>,
    },
}

impl NodePiece {
    /// The input node the constraints are on.
    pub fn input(&self) -> usize {
        match self {
            NodePiece::Interval { input, .. } | NodePiece::Argmax { input, .. } => *input,
        }
    }

    /// The nonlinear node.
    pub fn node(&self) -> usize {
        match self {
            NodePiece::Interval { node, .. } | NodePiece::Argmax { node, .. } => *node,
        }
    }

    /// Number of inequalities.
    pub fn len(&self) -> usize {
        match self {
            NodePiece::Interval { lower, upper, .. } => {
                lower.iter().chain(upper).filter(|v| v.is_finite()).count()
            }
            NodePiece::Argmax { taps, .. } => taps.iter().map(Vec::len).sum(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The largest step `λ ≥ 0` along input direction `dx` from input values `x` that keeps
    /// every inequality of the piece: each slack `s + λ·ds` (`s` at `x`, `ds` its change
    /// along `dx`) stays `≥ 0`, so `λ = min_{ds < 0} max(s, 0) / (−ds)` (`+∞` if no slack
    /// decreases). Exact when `dx` is the direction's image under the region's affine map.
    pub fn max_step(&self, x: &[f64], dx: &[f64]) -> f64 {
        let step = |s: f64, ds: f64| {
            if ds < 0.0 {
                s.max(0.0) / -ds
            } else {
                f64::INFINITY
            }
        };
        match self {
            NodePiece::Interval { lower, upper, .. } => x
                .iter()
                .zip(dx)
                .zip(lower.iter().zip(upper))
                .map(|((&v, &dv), (&lo, &hi))| step(v - lo, dv).min(step(hi - v, -dv)))
                .fold(f64::INFINITY, f64::min),
            NodePiece::Argmax { argmax, taps, .. } => argmax
                .iter()
                .zip(taps)
                .flat_map(|(&m, t)| t.iter().map(move |&o| step(x[m] - x[o], dx[m] - dx[o])))
                .fold(f64::INFINITY, f64::min),
        }
    }

    /// The smallest slack of the piece's inequalities at input values `x` (`+∞` if none).
    pub fn margin(&self, x: &[f64]) -> f64 {
        match self {
            NodePiece::Interval { lower, upper, .. } => x
                .iter()
                .zip(lower.iter().zip(upper))
                .map(|(&v, (&lo, &hi))| (v - lo).min(hi - v))
                .fold(f64::INFINITY, f64::min),
            NodePiece::Argmax { argmax, taps, .. } => argmax
                .iter()
                .zip(taps)
                .flat_map(|(&m, t)| t.iter().map(move |&o| x[m] - x[o]))
                .fold(f64::INFINITY, f64::min),
        }
    }
}

/// A node whose linear pieces cannot be fixed (sigmoid, tanh).
#[derive(Clone, Debug, PartialEq)]
pub struct RegionError {
    /// The node.
    pub node: String,
    /// Its operation.
    pub op: &'static str,
}

impl std::fmt::Display for RegionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "node '{}' ({}) is not piecewise linear, so the network has no linear region there",
            self.node, self.op
        )
    }
}

/// The element-wise piece interval of `op` for an input value `v`.
pub fn interval(op: &Op, v: f64) -> (f64, f64) {
    let inf = f64::INFINITY;
    match op {
        Op::Relu | Op::LeakyRelu { .. } => {
            if v > 0.0 {
                (0.0, inf)
            } else {
                (-inf, 0.0)
            }
        }
        Op::Clip { min, max } => {
            let (lo, hi) = (f64::from(*min), f64::from(*max));
            if v <= lo {
                (-inf, lo)
            } else if v >= hi {
                (hi, inf)
            } else {
                (lo, hi)
            }
        }
        _ => (-inf, inf),
    }
}

/// The linear piece `y = slope·v + offset` of an element-wise activation at input value `v`
/// (the piece whose interval [`interval`] gives; identity for affine ops).
pub fn piece_at(op: &Op, v: f64) -> (f64, f64) {
    match op {
        Op::Relu => (if v > 0.0 { 1.0 } else { 0.0 }, 0.0),
        Op::LeakyRelu { alpha } => (if v > 0.0 { 1.0 } else { f64::from(*alpha) }, 0.0),
        Op::Clip { min, max } => {
            let (lo, hi) = (f64::from(*min), f64::from(*max));
            if v <= lo {
                (0.0, lo)
            } else if v >= hi {
                (0.0, hi)
            } else {
                (1.0, 0.0)
            }
        }
        _ => (1.0, 0.0),
    }
}

/// The pieces, at a point, of every nonlinear node that node `upto` depends on. `outputs`
/// are the f64 outputs of every node at the point (`exact::forward`), `shapes` their shapes.
pub fn region_pieces(
    graph: &Graph,
    shapes: &[Shape],
    outputs: &[Vec<f64>],
    upto: usize,
) -> Result<Vec<NodePiece>, RegionError> {
    let needed = graph.ancestors(upto);
    let mut out = Vec::new();
    for (i, node) in graph.nodes.iter().enumerate().take(upto + 1) {
        if !needed[i] || node.op.is_affine() {
            continue;
        }
        if !node.op.is_piecewise_linear() {
            return Err(RegionError {
                node: node.name.clone(),
                op: node.op.kind(),
            });
        }
        let input = node.inputs[0];
        let x = &outputs[input];
        match &node.op {
            Op::MaxPool2d { .. } => {
                let (Shape::Chw([c, h, w]), Shape::Chw([_, oh, ow])) = (shapes[input], shapes[i])
                else {
                    continue;
                };
                let Some(Ok(win)) = node.op.window(shapes[input]) else {
                    continue;
                };
                let mut argmax = Vec::with_capacity(c * oh * ow);
                let mut taps = Vec::with_capacity(c * oh * ow);
                for ch in 0..c {
                    for r in 0..oh {
                        for s in 0..ow {
                            let mut entries = Vec::new();
                            for p in 0..win.kernel[0] {
                                for q in 0..win.kernel[1] {
                                    if let Some((a, b)) = win.source(r, s, p, q) {
                                        entries.push((ch * h + a) * w + b);
                                    }
                                }
                            }
                            // The first maximum, as in the forward passes.
                            let mut best = entries[0];
                            for &e in &entries[1..] {
                                if x[e] > x[best] {
                                    best = e;
                                }
                            }
                            argmax.push(best);
                            taps.push(entries.into_iter().filter(|&e| e != best).collect());
                        }
                    }
                }
                out.push(NodePiece::Argmax {
                    node: i,
                    input,
                    argmax,
                    taps,
                });
            }
            op => {
                let (lower, upper) = x.iter().map(|&v| interval(op, v)).unzip();
                out.push(NodePiece::Interval {
                    node: i,
                    input,
                    lower,
                    upper,
                });
            }
        }
    }
    Ok(out)
}

/// The smallest margin of a point's node outputs `outputs` over all `pieces` (`+∞` if none).
pub fn region_margin(pieces: &[NodePiece], outputs: &[Vec<f64>]) -> f64 {
    pieces
        .iter()
        .map(|p| p.margin(&outputs[p.input()]))
        .fold(f64::INFINITY, f64::min)
}

/// The largest step along directions whose node values are `directions` (per node, the
/// image of one input direction under the region's affine map) from a point whose node
/// values are `outputs`, keeping every piece (`+∞` if nothing bounds it).
pub fn region_step(pieces: &[NodePiece], outputs: &[Vec<f64>], directions: &[&[f64]]) -> f64 {
    pieces
        .iter()
        .map(|p| p.max_step(&outputs[p.input()], directions[p.input()]))
        .fold(f64::INFINITY, f64::min)
}

#[cfg(test)]
mod tests {
    use super::super::GraphBuilder;
    use super::*;

    #[test]
    fn pieces_and_margins_by_hand() {
        // input [1, 2, 2] → relu → maxpool 2 → flatten → fc.
        let mut b = GraphBuilder::new("t", [1, 2, 2]);
        let r = b.relu("r", 0);
        let p = b.maxpool("p", r, 2, 2, 0);
        let f = b.flatten("f", p);
        let fc = b.linear("fc", f, 1, 1, vec![1.0], None);
        let g = b.finish();
        let shapes = g.shapes().unwrap();
        let x = vec![0.5, -0.25, 0.75, 0.0];
        let relu_out: Vec<f64> = x.iter().map(|v: &f64| v.max(0.0)).collect();
        let outputs = vec![
            x.clone(),
            relu_out.clone(),
            vec![0.75],
            vec![0.75],
            vec![0.75],
        ];
        let pieces = region_pieces(&g, &shapes, &outputs, fc).unwrap();
        assert_eq!(pieces.len(), 2);
        // ReLU: on, off, on, off(0) → margins 0.5, 0.25, 0.75, 0 → 0.
        assert_eq!(pieces[0].margin(&x), 0.0);
        // Max-pool: max 0.75 at entry 2, others 0.5, 0, 0 → margin 0.25.
        match &pieces[1] {
            NodePiece::Argmax { argmax, taps, .. } => {
                assert_eq!(argmax, &vec![2]);
                assert_eq!(taps, &vec![vec![0, 1, 3]]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(pieces[1].margin(&relu_out), 0.25);
        assert_eq!(region_margin(&pieces, &outputs), 0.0);
        // Another point where unit 1 turned on leaves the region.
        let y = vec![0.5, 0.1, 0.75, 0.0];
        assert!((pieces[0].margin(&y) + 0.1).abs() < 1e-15);
    }

    #[test]
    fn sigmoid_has_no_region() {
        let mut b = GraphBuilder::new("t", [1, 1, 2]);
        let s = b.push("s", Op::Sigmoid, &[0]);
        let f = b.flatten("f", s);
        let fc = b.linear("fc", f, 2, 1, vec![1.0, 1.0], None);
        let g = b.finish();
        let shapes = g.shapes().unwrap();
        let outputs = vec![vec![0.0; 2], vec![0.5; 2], vec![0.5; 2], vec![1.0]];
        let e = region_pieces(&g, &shapes, &outputs, fc).unwrap_err();
        assert!(e.to_string().contains("'s' (Sigmoid)"), "{e}");
    }
}
