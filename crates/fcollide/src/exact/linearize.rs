//! The affine map from the input to a node's output inside the linear region of a point.
//!
//! A piecewise-linear network is affine on the set of inputs that share the point's
//! activation pieces (ReLU on/off, clip bottom/middle/top, leaky-ReLU sign) and max-pool
//! argmax pattern at every nonlinear node the target node depends on. On that region
//! `ỹ(u) = A u + c` with `A ∈ R^{N×d}`, `c ∈ R^N`, obtained by pushing `(A, c)` (start:
//! `A = I`, `c = 0`) through the graph in order:
//! - affine nodes (normalize, linear, conv, batch norm, average pooling, add, concat,
//!   reshapes) apply their linear part to each column of `A` and their whole map to `c`;
//! - an element-wise activation at the point's input value `v_k` keeps its piece,
//!   `y_k = s_k x_k + o_k` (ReLU on: `s = 1`; off: `s = 0, o = 0`; clip top: `s = 0,
//!   o = max`; leaky negative: `s = α`), and adds the half-spaces that keep `a_k·u + c_k` on
//!   that piece (on: `≥ 0`; off: `≤ 0`; and the clip's `≤ max` / `≥ max`);
//! - max-pooling takes the row of each window's argmax `m` at the point, with the
//!   half-spaces `a_m·u + c_m ≥ a_o·u + c_o` for every other `o` in the window.
//!
//! Sigmoid and tanh are not piecewise linear: a target depending on them is refused.
//! Region half-spaces are stored as `g·u ≤ h`. Those with `g = 0` exactly (a unit fed only by
//! switched-off units) hold at every input and are dropped, and counted.
use serde::{Deserialize, Serialize};

use super::error::ExactError;
use super::forward::{apply, forward, maxpool_argmax, Piece, Shape};
use crate::linalg::dot_f64;
use crate::model::graph::region::{interval, piece_at};
use crate::model::graph::{Graph, Op};

/// `ỹ(u) = A u + c`, `A` row-major `[rows × cols]`.
#[derive(Clone, Debug, PartialEq)]
pub struct AffineMap {
    /// Output dimension `N`.
    pub rows: usize,
    /// Input dimension `d`.
    pub cols: usize,
    /// `A`, row-major.
    pub a: Vec<f64>,
    /// `c`.
    pub c: Vec<f64>,
}

impl AffineMap {
    /// Row `i` of `A`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.a[i * self.cols..(i + 1) * self.cols]
    }

    /// `A u + c`.
    pub fn apply(&self, u: &[f64]) -> Vec<f64> {
        (0..self.rows)
            .map(|i| dot_f64(self.row(i), u) + self.c[i])
            .collect()
    }
}

/// Half-spaces `g_k·u ≤ h_k`, `g` row-major `[len × cols]`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Inequalities {
    /// Input dimension `d`.
    pub cols: usize,
    /// Normals, row-major.
    pub g: Vec<f64>,
    /// Right-hand sides.
    pub h: Vec<f64>,
}

impl Inequalities {
    /// An empty set over `cols` variables.
    pub fn new(cols: usize) -> Self {
        Inequalities {
            cols,
            g: Vec::new(),
            h: Vec::new(),
        }
    }

    /// Number of half-spaces.
    pub fn len(&self) -> usize {
        self.h.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.h.is_empty()
    }

    /// Normal of half-space `k`.
    pub fn row(&self, k: usize) -> &[f64] {
        &self.g[k * self.cols..(k + 1) * self.cols]
    }

    /// Add `g·u ≤ h`.
    pub fn push(&mut self, g: &[f64], h: f64) {
        debug_assert_eq!(g.len(), self.cols);
        self.g.extend_from_slice(g);
        self.h.push(h);
    }

    /// Append all of `other`.
    pub fn extend(&mut self, other: &Inequalities) {
        self.g.extend_from_slice(&other.g);
        self.h.extend_from_slice(&other.h);
    }

    /// `max_k max(g_k·u − h_k, 0)`.
    pub fn max_violation(&self, u: &[f64]) -> f64 {
        (0..self.len())
            .map(|k| dot_f64(self.row(k), u) - self.h[k])
            .fold(0.0, f64::max)
    }
}

/// How many region half-spaces each kind of layer contributed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionCounts {
    /// ReLU units on at the point (`a·u + c ≥ 0`).
    pub relu_on: usize,
    /// ReLU units off at the point (`a·u + c ≤ 0`).
    pub relu_off: usize,
    /// Max-pool "chosen ≥ other" half-spaces.
    pub maxpool: usize,
    /// Half-spaces with a zero normal (always true), dropped.
    pub trivial_dropped: usize,
}

impl RegionCounts {
    /// Half-spaces kept.
    pub fn total(&self) -> usize {
        self.relu_on + self.relu_off + self.maxpool
    }
}

/// Result of [`linearize`].
#[derive(Clone, Debug)]
pub struct Linearization {
    /// Index of node `L` in `net.nodes`.
    pub layer_index: usize,
    /// Map from input to the output of layer `L`.
    pub map: AffineMap,
    /// Shape of that output.
    pub shape: Shape,
    /// Half-spaces of the linear region (layers before `L`).
    pub region: Inequalities,
    /// Their counts by kind.
    pub counts: RegionCounts,
    /// Output of layer `L` at the point from the f64 forward.
    pub point_output: Vec<f64>,
    /// `max |A·point + c − forward output|`, a built-in consistency check.
    pub max_map_residual: f64,
}

fn check_size(layer: &str, rows: usize, cols: usize, limit: usize) -> Result<(), ExactError> {
    if rows.saturating_mul(cols) > limit {
        Err(ExactError::TooLarge {
            layer: layer.to_string(),
            rows,
            cols,
            limit,
        })
    } else {
        Ok(())
    }
}

/// Linearize `net` at `point` up to and including node `layer_index` (the output of that
/// node as an affine map of the input on the point's linear region).
///
/// The affine part of every operation runs through the same f64 kernels as the forward pass
/// ([`super::forward`]), on a batch of `d + 1` vectors: the constant `c` (with biases) and
/// the `d` columns of `A` (without). Nonlinear operations use their piece at the point and add
/// the region's half-spaces. `max_entries` bounds the size `N·d` of every intermediate map
/// (memory guard).
pub fn linearize(
    net: &Graph,
    point: &[f64],
    layer_index: usize,
    max_entries: usize,
) -> Result<Linearization, ExactError> {
    if layer_index == 0 || layer_index >= net.nodes.len() {
        return Err(ExactError::shape(
            "linearize node index",
            format!("1..{}", net.nodes.len()),
            layer_index,
        ));
    }
    let d = point.len();
    let b = d + 1;
    let needed = net.ancestors(layer_index);
    // Refuse a map that would not fit, or a node without linear pieces, before the f64
    // forward (seconds on an ImageNet-size network).
    let shapes = net.shapes()?;
    for i in (1..=layer_index).filter(|&i| needed[i]) {
        let node = &net.nodes[i];
        check_size(&node.name, shapes[i].len(), b, max_entries)?;
        if !node.op.is_piecewise_linear() {
            return Err(ExactError::NotPiecewiseLinear {
                layer: node.name.clone(),
                op: node.op.kind().into(),
            });
        }
    }
    let fwd = forward(net, point)?;
    let shapes = &fwd.shapes;
    let last_use = net.last_use();
    let mut region = Inequalities::new(d);
    let mut counts = RegionCounts::default();
    // vals[i]: [d + 1, N_i]; vector 0 is c, vector 1 + j is column j of A.
    let mut vals: Vec<Option<Vec<f64>>> = vec![None; net.nodes.len()];
    {
        let mut v0 = vec![0.0; b * d];
        for j in 0..d {
            v0[(1 + j) * d + j] = 1.0;
        }
        vals[0] = Some(v0);
    }
    for i in 1..=layer_index {
        if !needed[i] {
            continue;
        }
        let node = &net.nodes[i];
        let name = node.name.as_str();
        let ins: Vec<(&[f64], Shape)> = node
            .inputs
            .iter()
            .map(|&k| (vals[k].as_deref().expect("input computed"), shapes[k]))
            .collect();
        let x_at = &fwd.outputs[node.inputs.first().copied().unwrap_or(0)];
        let y = match &node.op {
            Op::MaxPool2d { .. } => {
                let src = maxpool_argmax(name, &node.op, shapes[node.inputs[0]], shapes[i], x_at)?;
                let xin = ins[0].0;
                let n_in = shapes[node.inputs[0]].len();
                let mut diff = vec![0.0; d];
                let win = node.op.window(shapes[node.inputs[0]]);
                let (Some(Ok(win)), Shape::Chw([_, h, w]), Shape::Chw([_, oh, ow])) =
                    (win, shapes[node.inputs[0]], shapes[i])
                else {
                    return Err(ExactError::shape(
                        format!("node `{name}`"),
                        "[C,H,W]",
                        "flat",
                    ));
                };
                for (k, &best) in src.iter().enumerate() {
                    let ch = k / (oh * ow);
                    let (ii, jj) = ((k / ow) % oh, k % ow);
                    for p in 0..win.kernel[0] {
                        for q in 0..win.kernel[1] {
                            let Some((r, s)) = win.source(ii, jj, p, q) else {
                                continue;
                            };
                            let other = (ch * h + r) * w + s;
                            if other == best {
                                continue;
                            }
                            // a_o·u + c_o ≤ a_m·u + c_m  ⇔  (a_o − a_m)·u ≤ c_m − c_o
                            for (j, dv) in diff.iter_mut().enumerate() {
                                *dv = xin[(1 + j) * n_in + other] - xin[(1 + j) * n_in + best];
                            }
                            if diff.iter().all(|&v| v == 0.0) {
                                counts.trivial_dropped += 1;
                            } else {
                                region.push(&diff, xin[best] - xin[other]);
                                counts.maxpool += 1;
                            }
                        }
                    }
                }
                apply(
                    name,
                    &node.op,
                    &ins,
                    shapes[i],
                    b,
                    1,
                    Some(Piece::Gather(&src)),
                )?
            }
            op if !op.is_affine() => {
                let (slope, offset) =
                    activation_piece(op, x_at, ins[0].0, d, &mut region, &mut counts);
                apply(
                    name,
                    op,
                    &ins,
                    shapes[i],
                    b,
                    1,
                    Some(Piece::Slope(&slope, &offset)),
                )?
            }
            op => apply(name, op, &ins, shapes[i], b, 1, None)?,
        };
        vals[i] = Some(y);
        for &k in &node.inputs {
            if last_use[k] <= i && k != 0 {
                vals[k] = None;
            }
        }
    }
    let y = vals[layer_index].take().expect("computed");
    let n = shapes[layer_index].len();
    let mut a = vec![0.0; n * d];
    for j in 0..d {
        for r in 0..n {
            a[r * d + j] = y[(1 + j) * n + r];
        }
    }
    let map = AffineMap {
        rows: n,
        cols: d,
        a,
        c: y[..n].to_vec(),
    };
    let point_output = fwd.outputs[layer_index].clone();
    let max_map_residual = map
        .apply(point)
        .iter()
        .zip(&point_output)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    Ok(Linearization {
        layer_index,
        map,
        shape: shapes[layer_index],
        region,
        counts,
        point_output,
        max_map_residual,
    })
}

/// The linear piece of an element-wise activation at the point's input values `x_at`
/// (`y_k = slope_k·x_k + offset_k`), adding the half-spaces that keep each entry on its
/// piece. `xin` is the input's `[d + 1, N]` batch (vector 0 the constant, then `A`'s
/// columns), from which the half-space rows are read.
fn activation_piece(
    op: &Op,
    x_at: &[f64],
    xin: &[f64],
    d: usize,
    region: &mut Inequalities,
    counts: &mut RegionCounts,
) -> (Vec<f64>, Vec<f64>) {
    let n = x_at.len();
    let mut slope = vec![1.0; n];
    let mut offset = vec![0.0; n];
    let mut row = vec![0.0; d];
    // Adds `sign·(a_k·u + c_k) ≤ sign·bound`, i.e. `a_k·u + c_k ≤ bound` (sign 1) or `≥`.
    let mut push = |k: usize, sign: f64, bound: f64, counts: &mut RegionCounts, on: bool| {
        for (j, r) in row.iter_mut().enumerate() {
            *r = sign * xin[(1 + j) * n + k];
        }
        if row.iter().all(|&v| v == 0.0) {
            counts.trivial_dropped += 1;
        } else {
            region.push(&row, sign * (bound - xin[k]));
            if on {
                counts.relu_on += 1;
            } else {
                counts.relu_off += 1;
            }
        }
    };
    if !matches!(op, Op::Relu | Op::Clip { .. } | Op::LeakyRelu { .. }) {
        unreachable!("activation_piece of {}", op.kind());
    }
    for (k, &v) in x_at.iter().enumerate() {
        // The same piece as the region's own bookkeeping (`region::interval`/`piece_at`), so
        // the LPs and the region pull-back agree at ties (an entry exactly at a kink).
        let (lower, upper) = interval(op, v);
        (slope[k], offset[k]) = piece_at(op, v);
        let on = slope[k] == 1.0 && offset[k] == 0.0;
        if lower.is_finite() {
            push(k, -1.0, lower, counts, on);
        }
        if upper.is_finite() {
            push(k, 1.0, upper, counts, on);
        }
    }
    (slope, offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::graph::GraphBuilder;

    fn two_layer() -> Graph {
        // fc1: y = [u0 − u1, u0 + u1 − 1]; relu; fc2: z = y0 + 2 y1.
        let mut b = GraphBuilder::new("t", [1, 1, 2]);
        let f = b.flatten("flat", 0);
        let fc1 = b.linear(
            "fc1",
            f,
            2,
            2,
            vec![1.0, -1.0, 1.0, 1.0],
            Some(vec![0.0, -1.0]),
        );
        let r = b.relu("relu1", fc1);
        b.linear("fc2", r, 2, 1, vec![1.0, 2.0], Some(vec![0.0]));
        b.finish()
    }

    #[test]
    fn relu_region_by_hand() {
        let net = two_layer();
        // At (0.8, 0.1): y = [0.7, −0.1] → unit 0 on, unit 1 off → z = u0 − u1.
        let lin = linearize(&net, &[0.8, 0.1], 4, usize::MAX).unwrap();
        assert_eq!(lin.map.a, vec![1.0, -1.0]);
        assert_eq!(lin.map.c, vec![0.0]);
        assert_eq!(lin.counts.relu_on, 1);
        assert_eq!(lin.counts.relu_off, 1);
        // on: −(u0 − u1) ≤ 0; off: u0 + u1 ≤ 1.
        assert_eq!(lin.region.row(0), &[-1.0, 1.0]);
        assert_eq!(lin.region.h[0], 0.0);
        assert_eq!(lin.region.row(1), &[1.0, 1.0]);
        assert_eq!(lin.region.h[1], 1.0);
        assert!(lin.max_map_residual < 1e-15);
    }

    #[test]
    fn residual_add_and_clip() {
        // y = clip(u0 + u1, 0, 1) + u0, at u = (0.7, 0.6): the clip saturates at 1 → y = 1 + u0.
        let mut b = GraphBuilder::new("t", [1, 1, 2]);
        let f = b.flatten("flat", 0);
        let s = b.linear("sum", f, 2, 1, vec![1.0, 1.0], None);
        let c = b.push("clip", Op::Clip { min: 0.0, max: 1.0 }, &[s]);
        let u0 = b.linear("pick", f, 2, 1, vec![1.0, 0.0], None);
        b.add("add", &[c, u0]);
        let net = b.finish();
        let lin = linearize(&net, &[0.7, 0.6], 5, usize::MAX).unwrap();
        assert_eq!(lin.map.a, vec![1.0, 0.0]);
        assert_eq!(lin.map.c, vec![1.0]);
        // Saturated: u0 + u1 ≥ 1  ⇔  −u0 − u1 ≤ −1.
        assert_eq!(lin.region.row(0), &[-1.0, -1.0]);
        assert_eq!(lin.region.h[0], -1.0);
    }

    #[test]
    fn leaky_relu_at_its_kink_takes_the_regions_piece() {
        // y = leaky(u0 − u1) at u = (0.5, 0.5): the input is exactly 0, a tie. The LP's
        // linearization must take the piece the region pull-back takes (`region::piece_at`):
        // the negative one, y = α·(u0 − u1), on u0 − u1 ≤ 0.
        let alpha = 0.25f32;
        let mut b = GraphBuilder::new("t", [1, 1, 2]);
        let f = b.flatten("flat", 0);
        let s = b.linear("diff", f, 2, 1, vec![1.0, -1.0], None);
        b.push("leaky", Op::LeakyRelu { alpha }, &[s]);
        let net = b.finish();
        let lin = linearize(&net, &[0.5, 0.5], 3, usize::MAX).unwrap();
        let op = Op::LeakyRelu { alpha };
        assert_eq!(piece_at(&op, 0.0), (f64::from(alpha), 0.0));
        assert_eq!(interval(&op, 0.0), (f64::NEG_INFINITY, 0.0));
        assert_eq!(lin.map.a, vec![f64::from(alpha), -f64::from(alpha)]);
        assert_eq!(lin.region.row(0), &[1.0, -1.0]);
        assert_eq!(lin.region.h[0], 0.0);
    }

    #[test]
    fn too_large_is_an_error() {
        let mut b = GraphBuilder::new("t", [1, 1, 4]);
        let f = b.flatten("f", 0);
        b.linear("fc", f, 4, 3, vec![1.0; 12], None);
        let net = b.finish();
        assert!(matches!(
            linearize(&net, &[0.0; 4], 2, 11),
            Err(ExactError::TooLarge { .. })
        ));
    }
}
