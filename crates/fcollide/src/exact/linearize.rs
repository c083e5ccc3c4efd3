//! The affine map from the input to a layer's output inside the linear region of a point.
//!
//! A piecewise-linear network is affine on the set of inputs that share the point's ReLU
//! on/off pattern and max-pool argmax pattern at every layer before `L`. On that region
//! `ỹ_L(u) = A u + c` with `A ∈ R^{N×d}`, `c ∈ R^N`, obtained by pushing `(A, c)` (start:
//! `A = I`, `c = 0`) through the layers:
//! - `Normalize`: rows of channel `ch` scale by `1/std[ch]`, `c ← (c − mean[ch]) / std[ch]`;
//! - `Linear`: `A ← W A`, `c ← W c + b`; `Conv2d`: the same with the convolution applied to
//!   each of the `d` columns of `A` (and to `c`, plus the bias);
//! - `Relu` at the point's input value `v_k`: on (`v_k > 0`) keeps row `k` and adds the region
//!   half-space `a_k·u + c_k ≥ 0`; off (`v_k ≤ 0`) zeroes row `k` and adds `a_k·u + c_k ≤ 0`;
//! - `MaxPool2d`: the output row is the row of the window's argmax `m` at the point, with the
//!   half-spaces `a_m·u + c_m ≥ a_o·u + c_o` for every other `o` in the window;
//! - `Flatten`: nothing.
//!
//! Region half-spaces are stored as `g·u ≤ h`. Those with `g = 0` exactly (a unit fed only by
//! switched-off units) hold at every input and are dropped, and counted.
use serde::{Deserialize, Serialize};

use super::error::ExactError;
use super::forward::{argmax_in_window, forward, next_shape, Shape, Window};
use crate::model::{HostNetwork, HostOp};

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
            .map(|i| dot(self.row(i), u) + self.c[i])
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
            .map(|k| dot(self.row(k), u) - self.h[k])
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
    /// Index of layer `L` in `net.layers`.
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

/// Dot product.
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[inline]
fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// Map being propagated: diagonal until the first layer that mixes inputs.
enum Map {
    Diag { scale: Vec<f64>, shift: Vec<f64> },
    Dense(AffineMap),
}

impl Map {
    fn dense(self) -> AffineMap {
        match self {
            Map::Dense(m) => m,
            Map::Diag { scale, shift } => {
                let d = scale.len();
                let mut a = vec![0.0; d * d];
                for (i, s) in scale.iter().enumerate() {
                    a[i * d + i] = *s;
                }
                AffineMap {
                    rows: d,
                    cols: d,
                    a,
                    c: shift,
                }
            }
        }
    }
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

/// Linearize `net` at `point` up to and including layer `layer_index`.
///
/// `max_entries` bounds the size `N·d` of every dense intermediate map (memory guard).
pub fn linearize(
    net: &HostNetwork,
    point: &[f64],
    layer_index: usize,
    max_entries: usize,
) -> Result<Linearization, ExactError> {
    if layer_index >= net.layers.len() {
        return Err(ExactError::shape(
            "linearize layer index",
            format!("< {}", net.layers.len()),
            layer_index,
        ));
    }
    let fwd = forward(net, point)?;
    let d = point.len();
    let mut shape = fwd.input_shape;
    let mut map = Map::Diag {
        scale: vec![1.0; d],
        shift: vec![0.0; d],
    };
    let mut region = Inequalities::new(d);
    let mut counts = RegionCounts::default();
    for (li, layer) in net.layers.iter().enumerate().take(layer_index + 1) {
        let name = layer.name.as_str();
        let out_shape = next_shape(name, &layer.op, shape)?;
        let input_val: &[f64] = if li == 0 { point } else { &fwd.outputs[li - 1] };
        map = match (&layer.op, map) {
            (HostOp::Flatten, m) => m,
            (HostOp::Normalize { mean, std }, m) => {
                let per = match shape {
                    Shape::Chw([_, h, w]) => h * w,
                    Shape::Flat(n) => n,
                }
                .max(1);
                match m {
                    Map::Diag {
                        mut scale,
                        mut shift,
                    } => {
                        for i in 0..scale.len() {
                            let ch = if mean.len() == 1 { 0 } else { i / per };
                            let s = f64::from(std[ch]);
                            scale[i] /= s;
                            shift[i] = (shift[i] - f64::from(mean[ch])) / s;
                        }
                        Map::Diag { scale, shift }
                    }
                    Map::Dense(mut a) => {
                        for i in 0..a.rows {
                            let ch = if mean.len() == 1 { 0 } else { i / per };
                            let s = f64::from(std[ch]);
                            for v in &mut a.a[i * a.cols..(i + 1) * a.cols] {
                                *v /= s;
                            }
                            a.c[i] = (a.c[i] - f64::from(mean[ch])) / s;
                        }
                        Map::Dense(a)
                    }
                }
            }
            (
                HostOp::Linear {
                    in_features,
                    out_features,
                    weight,
                    bias,
                },
                m,
            ) => {
                check_size(name, *out_features, d, max_entries)?;
                let mut a = vec![0.0; out_features * d];
                let mut c: Vec<f64> = bias.iter().map(|&b| f64::from(b)).collect();
                match m {
                    Map::Diag { scale, shift } => {
                        for o in 0..*out_features {
                            let wrow = &weight[o * in_features..(o + 1) * in_features];
                            let arow = &mut a[o * d..(o + 1) * d];
                            for k in 0..d {
                                let w = f64::from(wrow[k]);
                                arow[k] = w * scale[k];
                                c[o] += w * shift[k];
                            }
                        }
                    }
                    Map::Dense(prev) => {
                        let live = nonzero_rows(&prev);
                        for o in 0..*out_features {
                            let wrow = &weight[o * in_features..(o + 1) * in_features];
                            let arow = &mut a[o * d..(o + 1) * d];
                            for k in 0..*in_features {
                                let w = f64::from(wrow[k]);
                                if w == 0.0 {
                                    continue;
                                }
                                c[o] += w * prev.c[k];
                                if live[k] {
                                    axpy(w, prev.row(k), arow);
                                }
                            }
                        }
                    }
                }
                Map::Dense(AffineMap {
                    rows: *out_features,
                    cols: d,
                    a,
                    c,
                })
            }
            (
                HostOp::Conv2d {
                    in_channels,
                    out_channels,
                    kernel,
                    stride,
                    padding,
                    weight,
                    bias,
                },
                m,
            ) => {
                let (Shape::Chw([_, h, w]), Shape::Chw([_, oh, ow])) = (shape, out_shape) else {
                    return Err(ExactError::shape(
                        format!("layer `{name}`"),
                        "[C,H,W]",
                        "flat",
                    ));
                };
                let rows = out_channels * oh * ow;
                check_size(name, rows, d, max_entries)?;
                check_size(name, shape.len(), d, max_entries)?;
                let prev = m.dense();
                let live = nonzero_rows(&prev);
                let win = Window::new(name, [h, w], *kernel, *stride, *padding)?;
                let mut a = vec![0.0; rows * d];
                let mut c = vec![0.0; rows];
                for (o, &bias_o) in bias.iter().enumerate().take(*out_channels) {
                    for i in 0..oh {
                        for j in 0..ow {
                            let r_out = (o * oh + i) * ow + j;
                            let arow = &mut a[r_out * d..(r_out + 1) * d];
                            let mut cc = f64::from(bias_o);
                            for ch in 0..*in_channels {
                                for p in 0..kernel[0] {
                                    for q in 0..kernel[1] {
                                        let Some((r, s)) = win.source(i, j, p, q) else {
                                            continue;
                                        };
                                        let wi = ((o * in_channels + ch) * kernel[0] + p)
                                            * kernel[1]
                                            + q;
                                        let wv = f64::from(weight[wi]);
                                        if wv == 0.0 {
                                            continue;
                                        }
                                        let k = (ch * h + r) * w + s;
                                        cc += wv * prev.c[k];
                                        if live[k] {
                                            axpy(wv, prev.row(k), arow);
                                        }
                                    }
                                }
                            }
                            c[r_out] = cc;
                        }
                    }
                }
                Map::Dense(AffineMap {
                    rows,
                    cols: d,
                    a,
                    c,
                })
            }
            (HostOp::Relu, m) => {
                check_size(name, shape.len(), d, max_entries)?;
                let mut m = m.dense();
                let last = li == layer_index;
                for (k, &v) in input_val.iter().enumerate().take(m.rows) {
                    let on = v > 0.0;
                    if !last {
                        let row = &m.a[k * d..(k + 1) * d];
                        if row.iter().all(|&v| v == 0.0) {
                            counts.trivial_dropped += 1;
                        } else if on {
                            let neg: Vec<f64> = row.iter().map(|v| -v).collect();
                            region.push(&neg, m.c[k]);
                            counts.relu_on += 1;
                        } else {
                            region.push(row, -m.c[k]);
                            counts.relu_off += 1;
                        }
                    }
                    if !on {
                        m.a[k * d..(k + 1) * d].fill(0.0);
                        m.c[k] = 0.0;
                    }
                }
                Map::Dense(m)
            }
            (HostOp::MaxPool2d { kernel, stride }, m) => {
                let (Shape::Chw([ch_n, h, w]), Shape::Chw([_, oh, ow])) = (shape, out_shape) else {
                    return Err(ExactError::shape(
                        format!("layer `{name}`"),
                        "[C,H,W]",
                        "flat",
                    ));
                };
                check_size(name, shape.len(), d, max_entries)?;
                let prev = m.dense();
                let win = Window::new(name, [h, w], *kernel, *stride, [0, 0])?;
                let rows = ch_n * oh * ow;
                let mut a = vec![0.0; rows * d];
                let mut c = vec![0.0; rows];
                let last = li == layer_index;
                let mut diff = vec![0.0; d];
                for ch in 0..ch_n {
                    for i in 0..oh {
                        for j in 0..ow {
                            let best = argmax_in_window(&win, input_val, ch, i, j);
                            let r_out = (ch * oh + i) * ow + j;
                            a[r_out * d..(r_out + 1) * d].copy_from_slice(prev.row(best));
                            c[r_out] = prev.c[best];
                            if last {
                                continue;
                            }
                            for p in 0..kernel[0] {
                                for q in 0..kernel[1] {
                                    let Some((r, s)) = win.source(i, j, p, q) else {
                                        continue;
                                    };
                                    let other = (ch * h + r) * w + s;
                                    if other == best {
                                        continue;
                                    }
                                    // a_o·u + c_o ≤ a_m·u + c_m  ⇔  (a_o − a_m)·u ≤ c_m − c_o
                                    for ((dv, ao), am) in
                                        diff.iter_mut().zip(prev.row(other)).zip(prev.row(best))
                                    {
                                        *dv = ao - am;
                                    }
                                    if diff.iter().all(|&v| v == 0.0) {
                                        counts.trivial_dropped += 1;
                                    } else {
                                        region.push(&diff, prev.c[best] - prev.c[other]);
                                        counts.maxpool += 1;
                                    }
                                }
                            }
                        }
                    }
                }
                Map::Dense(AffineMap {
                    rows,
                    cols: d,
                    a,
                    c,
                })
            }
        };
        shape = out_shape;
    }
    let map = map.dense();
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
        shape,
        region,
        counts,
        point_output,
        max_map_residual,
    })
}

fn nonzero_rows(m: &AffineMap) -> Vec<bool> {
    (0..m.rows)
        .map(|k| m.row(k).iter().any(|&v| v != 0.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HostLayer, HostNetwork, HostOp};

    #[test]
    fn relu_region_by_hand() {
        // fc1: y = [u0 − u1, u0 + u1 − 1]; relu; fc2: z = y0 + 2 y1.
        let net = HostNetwork {
            arch: "t".into(),
            input_shape: [1, 1, 2],
            pixel_bounds: (0.0, 1.0),
            layers: vec![
                HostLayer {
                    name: "fc1".into(),
                    op: HostOp::Linear {
                        in_features: 2,
                        out_features: 2,
                        weight: vec![1.0, -1.0, 1.0, 1.0],
                        bias: vec![0.0, -1.0],
                    },
                },
                HostLayer {
                    name: "relu1".into(),
                    op: HostOp::Relu,
                },
                HostLayer {
                    name: "fc2".into(),
                    op: HostOp::Linear {
                        in_features: 2,
                        out_features: 1,
                        weight: vec![1.0, 2.0],
                        bias: vec![0.0],
                    },
                },
            ],
        };
        // At (0.8, 0.1): y = [0.7, −0.1] → unit 0 on, unit 1 off → z = u0 − u1.
        let lin = linearize(&net, &[0.8, 0.1], 2, usize::MAX).unwrap();
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
    fn too_large_is_an_error() {
        let net = HostNetwork {
            arch: "t".into(),
            input_shape: [1, 1, 4],
            pixel_bounds: (0.0, 1.0),
            layers: vec![HostLayer {
                name: "fc".into(),
                op: HostOp::Linear {
                    in_features: 4,
                    out_features: 3,
                    weight: vec![1.0; 12],
                    bias: vec![0.0; 3],
                },
            }],
        };
        assert!(matches!(
            linearize(&net, &[0.0; 4], 0, 11),
            Err(ExactError::TooLarge { .. })
        ));
    }
}
