//! f64 forward pass of a [`Graph`], keeping every node's output.
//!
//! Each operation computes the formula stated in [`crate::model::graph::op`] (PyTorch
//! semantics, row-major `[C, H, W]`), with the f32 weights widened to f64 and all arithmetic
//! in f64, so this is an independent reference for the burn forward and the ground truth for
//! certificates. Max-pooling ties go to the first maximum in row-major window order.
//!
//! The kernels work on a batch of `B` vectors per node (`[B, numel]`), with the bias (and
//! every other constant term) added to the first `with_bias` of them. The plain forward pass
//! uses `B = 1`; the linearization ([`super::linearize`]) pushes the constant `c` and the
//! `d` columns of `A` through the affine operations as one batch of `d + 1` vectors, so both
//! run the same code.
use super::error::ExactError;
use crate::model::graph::op::per_channel;
pub use crate::model::graph::Shape;
use crate::model::graph::{adaptive_range, Graph, Op, Window};

/// Output of [`forward`]: every node's output, in graph order.
#[derive(Clone, Debug, PartialEq)]
pub struct Forward {
    /// Shape of the input.
    pub input_shape: Shape,
    /// `shapes[i]` is the shape of `outputs[i]`, the output of node `i` (node 0: the input).
    pub shapes: Vec<Shape>,
    /// `outputs[i]` is the output of node `i` (flattened row-major).
    pub outputs: Vec<Vec<f64>>,
}

impl Forward {
    /// The output node's value (the logits).
    pub fn logits(&self) -> &[f64] {
        self.outputs.last().map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Input shape of a network as a [`Shape`].
pub fn input_shape(net: &Graph) -> Shape {
    Shape::Chw(net.input_shape)
}

/// Output shape of every node (node 0: the input), validating the graph.
pub fn layer_shapes(net: &Graph) -> Result<Vec<Shape>, ExactError> {
    Ok(net.shapes()?)
}

/// Run the network on one input (`[C·H·W]`, raw pixels) in f64; returns every node's output.
pub fn forward(net: &Graph, input: &[f64]) -> Result<Forward, ExactError> {
    let shapes = net.shapes()?;
    if input.len() != shapes[0].len() {
        return Err(ExactError::shape(
            "input length",
            shapes[0].len(),
            input.len(),
        ));
    }
    let mut outputs: Vec<Vec<f64>> = Vec::with_capacity(net.nodes.len());
    outputs.push(input.to_vec());
    for (i, node) in net.nodes.iter().enumerate().skip(1) {
        let ins: Vec<(&[f64], Shape)> = node
            .inputs
            .iter()
            .map(|&k| (outputs[k].as_slice(), shapes[k]))
            .collect();
        let y = apply(&node.name, &node.op, &ins, shapes[i], 1, 1, None)?;
        outputs.push(y);
    }
    Ok(Forward {
        input_shape: shapes[0],
        shapes,
        outputs,
    })
}

/// Forward pass of an f32 input (widened to f64).
pub fn forward_f32(net: &Graph, input: &[f32]) -> Result<Forward, ExactError> {
    let x: Vec<f64> = input.iter().map(|&v| f64::from(v)).collect();
    forward(net, &x)
}

/// Every node's value at `point` and its change along each of `k` input directions `dirs`
/// (`[k, d]`) under the affine map of the point's linear region, up to node `upto`:
/// entry `i` is `[1 + k, N_i]`, vector 0 the value at the point, vector `1 + j` the image of
/// direction `j` (every activation on its piece at the point, every max-pool on its argmax;
/// see [`crate::model::graph::region`]). Inside the region, the value at `point + λ·dir_j`
/// is exactly `v₀ + λ·v_{1+j}`. Nodes that `upto` does not need are left empty.
pub fn forward_along(
    net: &Graph,
    point: &[f64],
    dirs: &[f64],
    upto: usize,
) -> Result<Vec<Vec<f64>>, ExactError> {
    let shapes = net.shapes()?;
    let d = shapes[0].len();
    if point.len() != d || dirs.len() % d.max(1) != 0 || upto >= net.nodes.len() {
        return Err(ExactError::shape(
            "point and directions",
            format!("[{d}] and [k, {d}], node < {}", net.nodes.len()),
            format!("[{}] and {} values, node {upto}", point.len(), dirs.len()),
        ));
    }
    let b = 1 + dirs.len() / d.max(1);
    let needed = net.ancestors(upto);
    let mut vals: Vec<Vec<f64>> = vec![Vec::new(); net.nodes.len()];
    vals[0] = [point, dirs].concat();
    for i in 1..=upto {
        if !needed[i] {
            continue;
        }
        let node = &net.nodes[i];
        let ins: Vec<(&[f64], Shape)> = node
            .inputs
            .iter()
            .map(|&k| (vals[k].as_slice(), shapes[k]))
            .collect();
        // The point's values at the node's first input (vector 0 of the batch).
        let x0 = match ins.first() {
            Some((x, shape)) => &x[..shape.len()],
            None => &[][..],
        };
        let y = match &node.op {
            Op::MaxPool2d { .. } => {
                let src = maxpool_argmax(&node.name, &node.op, ins[0].1, shapes[i], x0)?;
                apply(
                    &node.name,
                    &node.op,
                    &ins,
                    shapes[i],
                    b,
                    1,
                    Some(Piece::Gather(&src)),
                )?
            }
            op if !op.is_affine() => {
                if !op.is_piecewise_linear() {
                    return Err(ExactError::NotPiecewiseLinear {
                        layer: node.name.clone(),
                        op: op.kind().into(),
                    });
                }
                let (slope, offset): (Vec<f64>, Vec<f64>) = x0
                    .iter()
                    .map(|&v| crate::model::graph::region::piece_at(op, v))
                    .unzip();
                apply(
                    &node.name,
                    op,
                    &ins,
                    shapes[i],
                    b,
                    1,
                    Some(Piece::Slope(&slope, &offset)),
                )?
            }
            op => apply(&node.name, op, &ins, shapes[i], b, 1, None)?,
        };
        vals[i] = y;
    }
    Ok(vals)
}

/// The values of the nonlinear operations at one point, which fix their linear piece: for
/// element-wise activations the per-entry slope and offset, for max-pooling the argmax of
/// every window.
pub(crate) enum Piece<'a> {
    /// `y_k = slope_k·x_k + offset_k` (ReLU, Clip, LeakyReLU at the point).
    Slope(&'a [f64], &'a [f64]),
    /// `y_k = x_{src_k}` (max-pooling at the point).
    Gather(&'a [usize]),
}

/// Applies `op` to a batch of `b` vectors per input (`inputs[i].0` is `[b, len_i]`),
/// adding constant terms (biases, shifts) to the first `with_bias` vectors only. Nonlinear
/// ops need `piece` (their linear piece at a point) when `b > 1` is a linearization batch;
/// with `piece = None` they are evaluated directly.
pub(crate) fn apply(
    name: &str,
    op: &Op,
    inputs: &[(&[f64], Shape)],
    out_shape: Shape,
    b: usize,
    with_bias: usize,
    piece: Option<Piece<'_>>,
) -> Result<Vec<f64>, ExactError> {
    let (x, in_shape) = inputs[0];
    let n_in = in_shape.len();
    let n_out = out_shape.len();
    let shape_err = || ExactError::shape(format!("node `{name}` input"), "[C, H, W]", "flat");
    let mut y = vec![0.0; b * n_out];
    match op {
        Op::Input => {
            return Err(ExactError::shape(
                format!("node `{name}`"),
                "not Input",
                "Input",
            ))
        }
        Op::Identity | Op::Flatten | Op::Reshape { .. } => y.copy_from_slice(x),
        Op::Normalize { mean, std } => {
            let (_, plane) = in_shape.channels_and_plane();
            for v in 0..b {
                for k in 0..n_in {
                    let c = k / plane;
                    let s = f64::from(per_channel(std, c));
                    let m = if v < with_bias {
                        f64::from(per_channel(mean, c))
                    } else {
                        0.0
                    };
                    y[v * n_out + k] = (x[v * n_in + k] - m) / s;
                }
            }
        }
        Op::ChannelAffine { scale, shift } => {
            let (_, plane) = in_shape.channels_and_plane();
            for v in 0..b {
                for k in 0..n_in {
                    let c = k / plane;
                    let t = if v < with_bias {
                        f64::from(per_channel(shift, c))
                    } else {
                        0.0
                    };
                    y[v * n_out + k] = x[v * n_in + k] * f64::from(per_channel(scale, c)) + t;
                }
            }
        }
        Op::BatchNorm { .. } => {
            let (s, t) = op.batchnorm_scale_shift().expect("batch norm");
            let (_, plane) = in_shape.channels_and_plane();
            for v in 0..b {
                for k in 0..n_in {
                    let c = k / plane;
                    let tt = if v < with_bias { t[c] } else { 0.0 };
                    y[v * n_out + k] = x[v * n_in + k] * s[c] + tt;
                }
            }
        }
        Op::Linear {
            in_features,
            out_features,
            weight,
            bias,
        } => {
            for v in 0..b {
                let xv = &x[v * n_in..(v + 1) * n_in];
                for o in 0..*out_features {
                    let row = &weight[o * in_features..(o + 1) * in_features];
                    let mut s = if v < with_bias {
                        bias.as_ref().map_or(0.0, |bb| f64::from(bb[o]))
                    } else {
                        0.0
                    };
                    for (&w, &xx) in row.iter().zip(xv) {
                        s += f64::from(w) * xx;
                    }
                    y[v * n_out + o] = s;
                }
            }
        }
        Op::Conv2d {
            in_channels,
            out_channels,
            groups,
            weight,
            bias,
            ..
        } => {
            let win = window(name, op, in_shape)?;
            let conv = super::conv::Conv {
                in_channels: *in_channels,
                out_channels: *out_channels,
                groups: *groups,
                weight,
                bias: bias.as_deref(),
                win: &win,
            };
            if x.len() != b * n_in || n_out != out_channels * win.out_hw[0] * win.out_hw[1] {
                return Err(shape_err());
            }
            y = conv.apply(x, b, with_bias);
        }
        Op::AvgPool2d {
            kernel,
            count_include_pad,
            ..
        } => {
            let (Shape::Chw([c, h, w]), Shape::Chw([_, oh, ow])) = (in_shape, out_shape) else {
                return Err(shape_err());
            };
            let win = window(name, op, in_shape)?;
            for v in 0..b {
                let xv = &x[v * n_in..(v + 1) * n_in];
                for ch in 0..c {
                    for i in 0..oh {
                        for j in 0..ow {
                            let mut s = 0.0;
                            for p in 0..kernel[0] {
                                for q in 0..kernel[1] {
                                    if let Some((r, col)) = win.source(i, j, p, q) {
                                        s += xv[(ch * h + r) * w + col];
                                    }
                                }
                            }
                            let n = if *count_include_pad {
                                win.padded_count(i, j)
                            } else {
                                win.inside_count(i, j)
                            };
                            y[v * n_out + (ch * oh + i) * ow + j] = s / n.max(1) as f64;
                        }
                    }
                }
            }
        }
        Op::AdaptiveAvgPool2d { output } => {
            let (Shape::Chw([c, h, w]), [oh, ow]) = (in_shape, *output) else {
                return Err(shape_err());
            };
            for v in 0..b {
                let xv = &x[v * n_in..(v + 1) * n_in];
                for ch in 0..c {
                    for i in 0..oh {
                        let (r0, r1) = adaptive_range(i, oh, h);
                        for j in 0..ow {
                            let (c0, c1) = adaptive_range(j, ow, w);
                            let mut s = 0.0;
                            for r in r0..r1 {
                                for col in c0..c1 {
                                    s += xv[(ch * h + r) * w + col];
                                }
                            }
                            y[v * n_out + (ch * oh + i) * ow + j] =
                                s / ((r1 - r0) * (c1 - c0)) as f64;
                        }
                    }
                }
            }
        }
        Op::Add => {
            for (xi, _) in inputs {
                for (a, &bv) in y.iter_mut().zip(xi.iter()) {
                    *a += bv;
                }
            }
        }
        Op::Concat => {
            // Per vector: the inputs' entries end to end (channel-major, so planes stack).
            for v in 0..b {
                let mut off = v * n_out;
                for (xi, si) in inputs {
                    let n = si.len();
                    y[off..off + n].copy_from_slice(&xi[v * n..(v + 1) * n]);
                    off += n;
                }
            }
        }
        Op::Relu | Op::Clip { .. } | Op::LeakyRelu { .. } | Op::Sigmoid | Op::Tanh => match piece {
            Some(Piece::Slope(slope, offset)) => {
                for v in 0..b {
                    for k in 0..n_in {
                        let off = if v < with_bias { offset[k] } else { 0.0 };
                        y[v * n_out + k] = slope[k] * x[v * n_in + k] + off;
                    }
                }
            }
            Some(Piece::Gather(_)) => {
                return Err(ExactError::shape(
                    format!("node `{name}`"),
                    "slopes",
                    "gather",
                ))
            }
            None => {
                for (yy, &xx) in y.iter_mut().zip(x) {
                    *yy = activation(op, xx);
                }
            }
        },
        Op::MaxPool2d { .. } => match piece {
            Some(Piece::Gather(src)) => {
                for v in 0..b {
                    for (k, &s) in src.iter().enumerate() {
                        y[v * n_out + k] = x[v * n_in + s];
                    }
                }
            }
            Some(Piece::Slope(..)) => {
                return Err(ExactError::shape(
                    format!("node `{name}`"),
                    "gather",
                    "slopes",
                ))
            }
            None => {
                let src = maxpool_argmax(name, op, in_shape, out_shape, &x[..n_in])?;
                for v in 0..b {
                    for (k, &s) in src.iter().enumerate() {
                        y[v * n_out + k] = x[v * n_in + s];
                    }
                }
            }
        },
    }
    Ok(y)
}

/// An element-wise activation of one value.
pub(crate) fn activation(op: &Op, x: f64) -> f64 {
    match op {
        Op::Relu => x.max(0.0),
        Op::Clip { min, max } => x.max(f64::from(*min)).min(f64::from(*max)),
        Op::LeakyRelu { alpha } => {
            if x >= 0.0 {
                x
            } else {
                f64::from(*alpha) * x
            }
        }
        Op::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Op::Tanh => x.tanh(),
        _ => x,
    }
}

fn window(name: &str, op: &Op, shape: Shape) -> Result<Window, ExactError> {
    match op.window(shape) {
        Some(Ok(w)) => Ok(w),
        Some(Err(msg)) => Err(ExactError::shape(
            format!("node `{name}` window"),
            "a fitting window",
            msg,
        )),
        None => Err(ExactError::shape(
            format!("node `{name}` input"),
            "[C, H, W]",
            "flat",
        )),
    }
}

/// For a max-pooling node at input `x` (`[C, H, W]`), the flat input index of each output's
/// maximum (the first one in row-major window order; padding never wins).
pub(crate) fn maxpool_argmax(
    name: &str,
    op: &Op,
    in_shape: Shape,
    out_shape: Shape,
    x: &[f64],
) -> Result<Vec<usize>, ExactError> {
    let (Shape::Chw([c, h, w]), Shape::Chw([_, oh, ow])) = (in_shape, out_shape) else {
        return Err(ExactError::shape(
            format!("node `{name}` input"),
            "[C, H, W]",
            "flat",
        ));
    };
    let win = window(name, op, in_shape)?;
    let mut src = Vec::with_capacity(c * oh * ow);
    for ch in 0..c {
        for i in 0..oh {
            for j in 0..ow {
                let mut best = usize::MAX;
                let mut best_v = f64::NEG_INFINITY;
                for p in 0..win.kernel[0] {
                    for q in 0..win.kernel[1] {
                        if let Some((r, col)) = win.source(i, j, p, q) {
                            let idx = (ch * h + r) * w + col;
                            if best == usize::MAX || x[idx] > best_v {
                                best = idx;
                                best_v = x[idx];
                            }
                        }
                    }
                }
                if best == usize::MAX {
                    return Err(ExactError::shape(
                        format!("node `{name}` window ({i}, {j})"),
                        "at least one input position",
                        "only padding",
                    ));
                }
                src.push(best);
            }
        }
    }
    Ok(src)
}

/// Numerically stable softmax.
pub fn softmax(logits: &[f64]) -> Vec<f64> {
    let m = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logits.iter().map(|&v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::graph::{GraphBuilder, Op};

    #[test]
    fn conv_pool_by_hand() {
        // 1×3×3 input, one 2×2 all-ones kernel, stride 1, no padding → 2×2 sums; then 2×2 pool.
        let mut b = GraphBuilder::new("t", [1, 3, 3]);
        let c = b.push(
            "conv",
            Op::Conv2d {
                in_channels: 1,
                out_channels: 1,
                kernel: [2, 2],
                stride: [1, 1],
                padding: [0; 4],
                dilation: [1, 1],
                groups: 1,
                weight: vec![1.0; 4],
                bias: Some(vec![0.5]),
            },
            &[0],
        );
        let p = b.maxpool("pool", c, 2, 2, 0);
        b.flatten("flat", p);
        let net = b.finish();
        let x: Vec<f64> = (1..=9).map(f64::from).collect();
        let f = forward(&net, &x).unwrap();
        assert_eq!(f.outputs[1], vec![12.5, 16.5, 24.5, 28.5]);
        assert_eq!(f.outputs[2], vec![28.5]);
        assert_eq!(f.shapes[3], Shape::Flat(1));
    }

    #[test]
    fn padding_stride_groups_and_dilation() {
        let mut b = GraphBuilder::new("t", [1, 2, 2]);
        b.conv(
            "conv",
            0,
            1,
            1,
            3,
            2,
            1,
            (0..9).map(|v| v as f32).collect(),
            None,
        );
        let net = b.finish();
        // Output 1×1: centre of the kernel (tap 4) over x[0,0], etc.
        let f = forward(&net, &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(f.shapes[1], Shape::Chw([1, 1, 1]));
        assert_eq!(f.outputs[1], vec![4.0 + 2.0 * 5.0 + 3.0 * 7.0 + 4.0 * 8.0]);

        // Depthwise (groups = 2) 1×1 conv scales each channel by its own weight.
        let mut b = GraphBuilder::new("t", [2, 1, 2]);
        b.push(
            "dw",
            Op::Conv2d {
                in_channels: 2,
                out_channels: 2,
                kernel: [1, 1],
                stride: [1, 1],
                padding: [0; 4],
                dilation: [1, 1],
                groups: 2,
                weight: vec![2.0, -1.0],
                bias: None,
            },
            &[0],
        );
        let f = forward(&b.finish(), &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(f.outputs[1], vec![2.0, 4.0, -3.0, -4.0]);

        // Dilation 2 on a 1×5 row with a 1×2 kernel [1, 10]: y_j = x_j + 10·x_{j+2}.
        let mut b = GraphBuilder::new("t", [1, 1, 5]);
        b.push(
            "dil",
            Op::Conv2d {
                in_channels: 1,
                out_channels: 1,
                kernel: [1, 2],
                stride: [1, 1],
                padding: [0; 4],
                dilation: [1, 2],
                groups: 1,
                weight: vec![1.0, 10.0],
                bias: None,
            },
            &[0],
        );
        let f = forward(&b.finish(), &[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(f.outputs[1], vec![31.0, 42.0, 53.0]);
    }

    #[test]
    fn pools_add_concat() {
        let mut b = GraphBuilder::new("t", [1, 2, 2]);
        let mp = b.maxpool("mp", 0, 3, 1, 1); // padded max over 3×3 around each pixel
        let ap = b.push(
            "ap",
            Op::AvgPool2d {
                kernel: [2, 2],
                stride: [1, 1],
                padding: [1, 1, 1, 1],
                ceil_mode: false,
                count_include_pad: true,
            },
            &[0],
        );
        let ap2 = b.push(
            "ap2",
            Op::AvgPool2d {
                kernel: [2, 2],
                stride: [1, 1],
                padding: [1, 1, 1, 1],
                ceil_mode: false,
                count_include_pad: false,
            },
            &[0],
        );
        let g = b.adaptive_avgpool("gap", 0, [1, 1]);
        let a = b.add("add", &[mp, 0]);
        b.concat("cat", &[a, 0]);
        let net = b.finish();
        let f = forward(&net, &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(f.outputs[mp], vec![4.0; 4]);
        // Corner window of the count_include_pad average: one input (1) over 4 taps.
        assert_eq!(f.outputs[ap][0], 0.25);
        assert_eq!(f.outputs[ap2][0], 1.0);
        assert_eq!(f.outputs[ap].len(), 9);
        assert_eq!(f.outputs[g], vec![2.5]);
        assert_eq!(f.outputs[a], vec![5.0, 6.0, 7.0, 8.0]);
        assert_eq!(
            f.outputs[a + 1],
            vec![5.0, 6.0, 7.0, 8.0, 1.0, 2.0, 3.0, 4.0]
        );
    }

    #[test]
    fn shape_errors() {
        let mut b = GraphBuilder::new("t", [1, 2, 2]);
        b.linear("fc", 0, 5, 1, vec![0.0; 5], None);
        let net = b.finish();
        assert!(forward(&net, &[0.0; 4]).is_err());
        assert!(forward(&net, &[0.0; 3]).is_err());
    }
}
