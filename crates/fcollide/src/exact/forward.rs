//! f64 forward pass of a [`HostNetwork`] for one input, keeping every layer's output.
//!
//! Per layer (PyTorch layouts, row-major `[C, H, W]`):
//! - `Normalize`: `y[c,h,w] = (x[c,h,w] − mean[c]) / std[c]` (one shared `mean`/`std` entry
//!   is broadcast over all channels, and is what a flat input needs).
//! - `Linear`: `y = W x + b` on the flattened input, `W` `[out, in]`.
//! - `Conv2d`: `y[o,i,j] = b[o] + Σ_{c,p,q} W[o,c,p,q] · x[c, i·s₀+p−pad₀, j·s₁+q−pad₁]`
//!   with zero padding; output size `(H + 2·pad − k) / s + 1` (floor).
//! - `MaxPool2d`: `y[c,i,j] = max_{p<k₀,q<k₁} x[c, i·s₀+p, j·s₁+q]`, no padding, floor mode;
//!   ties go to the first maximum in row-major window order.
//! - `Relu`: `max(x, 0)`; `Flatten`: reshape to `[C·H·W]`.
//!
//! The weights are widened from f32 to f64 and all arithmetic is f64, so this is an
//! independent reference for the burn forward and the ground truth for certificates.
use serde::{Deserialize, Serialize};

use super::error::ExactError;
use crate::model::{HostNetwork, HostOp};

/// Shape of an activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shape {
    /// `[C, H, W]`.
    Chw([usize; 3]),
    /// A flat vector.
    Flat(usize),
}

impl Shape {
    /// Number of entries.
    pub fn len(&self) -> usize {
        match *self {
            Shape::Chw([c, h, w]) => c * h * w,
            Shape::Flat(n) => n,
        }
    }

    /// Whether the shape holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Output of [`forward`]: every layer's output, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Forward {
    /// Shape of the input.
    pub input_shape: Shape,
    /// `shapes[i]` is the shape of `outputs[i]`, the output of layer `i`.
    pub shapes: Vec<Shape>,
    /// `outputs[i]` is the output of layer `i` (flattened row-major).
    pub outputs: Vec<Vec<f64>>,
}

impl Forward {
    /// The final layer's output (the logits), or an empty slice for an empty network.
    pub fn logits(&self) -> &[f64] {
        self.outputs.last().map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Geometry of a 2-D window operation (convolution or pooling).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub in_hw: [usize; 2],
    pub out_hw: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
}

impl Window {
    pub(crate) fn new(
        layer: &str,
        in_hw: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<Self, ExactError> {
        let mut out_hw = [0; 2];
        for a in 0..2 {
            if stride[a] == 0 || kernel[a] == 0 {
                return Err(ExactError::shape(
                    format!("layer `{layer}` window"),
                    "positive kernel and stride",
                    format!("kernel {kernel:?}, stride {stride:?}"),
                ));
            }
            let padded = in_hw[a] + 2 * padding[a];
            if kernel[a] > padded {
                return Err(ExactError::shape(
                    format!("layer `{layer}` window"),
                    format!("kernel ≤ padded input {padded}"),
                    format!("kernel {}", kernel[a]),
                ));
            }
            out_hw[a] = (padded - kernel[a]) / stride[a] + 1;
        }
        Ok(Window {
            in_hw,
            out_hw,
            kernel,
            stride,
            padding,
        })
    }

    /// Input position `(row, col)` for output `(i, j)` and kernel offset `(p, q)`, or `None`
    /// inside the zero padding.
    #[inline]
    pub(crate) fn source(&self, i: usize, j: usize, p: usize, q: usize) -> Option<(usize, usize)> {
        let r = (i * self.stride[0] + p).checked_sub(self.padding[0])?;
        let c = (j * self.stride[1] + q).checked_sub(self.padding[1])?;
        (r < self.in_hw[0] && c < self.in_hw[1]).then_some((r, c))
    }
}

/// Input shape of a network as a [`Shape`].
pub fn input_shape(net: &HostNetwork) -> Shape {
    Shape::Chw(net.input_shape)
}

/// Output shape of every layer, validating weight sizes along the way.
pub fn layer_shapes(net: &HostNetwork) -> Result<Vec<Shape>, ExactError> {
    let mut shape = input_shape(net);
    let mut out = Vec::with_capacity(net.layers.len());
    for layer in &net.layers {
        shape = next_shape(&layer.name, &layer.op, shape)?;
        out.push(shape);
    }
    Ok(out)
}

/// Shape after applying `op` to an input of shape `shape`.
pub(crate) fn next_shape(name: &str, op: &HostOp, shape: Shape) -> Result<Shape, ExactError> {
    match op {
        HostOp::Normalize { mean, std } => {
            let channels = match shape {
                Shape::Chw([c, _, _]) => c,
                Shape::Flat(_) => 1,
            };
            if mean.len() != std.len() || (mean.len() != channels && mean.len() != 1) {
                return Err(ExactError::shape(
                    format!("layer `{name}` (Normalize) mean/std"),
                    format!("{channels} channels (or 1 shared)"),
                    format!("mean {}, std {}", mean.len(), std.len()),
                ));
            }
            if let Some(s) = std.iter().find(|s| **s == 0.0 || !s.is_finite()) {
                return Err(ExactError::shape(
                    format!("layer `{name}` (Normalize) std"),
                    "finite non-zero std",
                    s,
                ));
            }
            Ok(shape)
        }
        HostOp::Linear {
            in_features,
            out_features,
            weight,
            bias,
        } => {
            check_len(name, "input", *in_features, shape.len())?;
            check_len(name, "weight", in_features * out_features, weight.len())?;
            check_len(name, "bias", *out_features, bias.len())?;
            Ok(Shape::Flat(*out_features))
        }
        HostOp::Conv2d {
            in_channels,
            out_channels,
            kernel,
            stride,
            padding,
            weight,
            bias,
        } => {
            let Shape::Chw([c, h, w]) = shape else {
                return Err(ExactError::shape(
                    format!("layer `{name}` (Conv2d) input"),
                    "[C, H, W]",
                    format!("{shape:?}"),
                ));
            };
            check_len(name, "input channels", *in_channels, c)?;
            check_len(
                name,
                "weight",
                out_channels * in_channels * kernel[0] * kernel[1],
                weight.len(),
            )?;
            check_len(name, "bias", *out_channels, bias.len())?;
            let win = Window::new(name, [h, w], *kernel, *stride, *padding)?;
            Ok(Shape::Chw([*out_channels, win.out_hw[0], win.out_hw[1]]))
        }
        HostOp::MaxPool2d { kernel, stride } => {
            let Shape::Chw([c, h, w]) = shape else {
                return Err(ExactError::shape(
                    format!("layer `{name}` (MaxPool2d) input"),
                    "[C, H, W]",
                    format!("{shape:?}"),
                ));
            };
            let win = Window::new(name, [h, w], *kernel, *stride, [0, 0])?;
            Ok(Shape::Chw([c, win.out_hw[0], win.out_hw[1]]))
        }
        HostOp::Relu => Ok(shape),
        HostOp::Flatten => Ok(Shape::Flat(shape.len())),
    }
}

fn check_len(name: &str, what: &str, expected: usize, got: usize) -> Result<(), ExactError> {
    if expected == got {
        Ok(())
    } else {
        Err(ExactError::shape(
            format!("layer `{name}` {what}"),
            expected,
            got,
        ))
    }
}

/// Run the network on one input (`[C·H·W]`, raw pixels) in f64; returns every layer's output.
pub fn forward(net: &HostNetwork, input: &[f64]) -> Result<Forward, ExactError> {
    let in_shape = input_shape(net);
    check_len("input", "length", in_shape.len(), input.len())?;
    let mut shape = in_shape;
    let mut x = input.to_vec();
    let mut shapes = Vec::with_capacity(net.layers.len());
    let mut outputs = Vec::with_capacity(net.layers.len());
    for layer in &net.layers {
        let next = next_shape(&layer.name, &layer.op, shape)?;
        x = apply(&layer.name, &layer.op, shape, next, &x)?;
        shape = next;
        shapes.push(shape);
        outputs.push(x.clone());
    }
    Ok(Forward {
        input_shape: in_shape,
        shapes,
        outputs,
    })
}

/// Forward pass of an f32 input (widened to f64).
pub fn forward_f32(net: &HostNetwork, input: &[f32]) -> Result<Forward, ExactError> {
    let x: Vec<f64> = input.iter().map(|&v| f64::from(v)).collect();
    forward(net, &x)
}

/// Apply one layer (shapes already validated by [`next_shape`]).
fn apply(
    name: &str,
    op: &HostOp,
    shape: Shape,
    out_shape: Shape,
    x: &[f64],
) -> Result<Vec<f64>, ExactError> {
    Ok(match op {
        HostOp::Normalize { mean, std } => {
            let per = match shape {
                Shape::Chw([_, h, w]) => h * w,
                Shape::Flat(n) => n,
            };
            x.iter()
                .enumerate()
                .map(|(i, &v)| {
                    let c = if mean.len() == 1 { 0 } else { i / per.max(1) };
                    (v - f64::from(mean[c])) / f64::from(std[c])
                })
                .collect()
        }
        HostOp::Linear {
            in_features,
            out_features,
            weight,
            bias,
        } => (0..*out_features)
            .map(|o| {
                let row = &weight[o * in_features..(o + 1) * in_features];
                f64::from(bias[o])
                    + row
                        .iter()
                        .zip(x)
                        .map(|(&w, &v)| f64::from(w) * v)
                        .sum::<f64>()
            })
            .collect(),
        HostOp::Conv2d {
            in_channels,
            out_channels,
            kernel,
            stride,
            padding,
            weight,
            bias,
        } => {
            let (Shape::Chw([_, h, w]), Shape::Chw([_, oh, ow])) = (shape, out_shape) else {
                return Err(ExactError::shape(
                    format!("layer `{name}`"),
                    "[C,H,W]",
                    "flat",
                ));
            };
            let win = Window::new(name, [h, w], *kernel, *stride, *padding)?;
            let mut y = vec![0.0; out_channels * oh * ow];
            for o in 0..*out_channels {
                for i in 0..oh {
                    for j in 0..ow {
                        let mut s = f64::from(bias[o]);
                        for c in 0..*in_channels {
                            for p in 0..kernel[0] {
                                for q in 0..kernel[1] {
                                    if let Some((r, cc)) = win.source(i, j, p, q) {
                                        let wi =
                                            ((o * in_channels + c) * kernel[0] + p) * kernel[1] + q;
                                        s += f64::from(weight[wi]) * x[(c * h + r) * w + cc];
                                    }
                                }
                            }
                        }
                        y[(o * oh + i) * ow + j] = s;
                    }
                }
            }
            y
        }
        HostOp::MaxPool2d { kernel, stride } => {
            let (Shape::Chw([c, h, w]), Shape::Chw([_, oh, ow])) = (shape, out_shape) else {
                return Err(ExactError::shape(
                    format!("layer `{name}`"),
                    "[C,H,W]",
                    "flat",
                ));
            };
            let win = Window::new(name, [h, w], *kernel, *stride, [0, 0])?;
            let mut y = vec![0.0; c * oh * ow];
            for ch in 0..c {
                for i in 0..oh {
                    for j in 0..ow {
                        let src = argmax_in_window(&win, x, ch, i, j);
                        y[(ch * oh + i) * ow + j] = x[src];
                    }
                }
            }
            y
        }
        HostOp::Relu => x.iter().map(|&v| v.max(0.0)).collect(),
        HostOp::Flatten => x.to_vec(),
    })
}

/// Flat index (into a `[C,H,W]` input) of the first maximum of window `(i, j)` in channel `ch`.
pub(crate) fn argmax_in_window(win: &Window, x: &[f64], ch: usize, i: usize, j: usize) -> usize {
    let [h, w] = win.in_hw;
    let mut best = usize::MAX;
    let mut best_v = f64::NEG_INFINITY;
    for p in 0..win.kernel[0] {
        for q in 0..win.kernel[1] {
            if let Some((r, c)) = win.source(i, j, p, q) {
                let idx = (ch * h + r) * w + c;
                if best == usize::MAX || x[idx] > best_v {
                    best = idx;
                    best_v = x[idx];
                }
            }
        }
    }
    best
}

/// Numerically stable softmax.
pub fn softmax(logits: &[f64]) -> Vec<f64> {
    let m = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logits.iter().map(|&v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

/// Index of the largest entry (first on ties), `None` for an empty slice.
pub fn argmax(v: &[f64]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &x) in v.iter().enumerate() {
        if best.is_none_or(|b| x > v[b]) {
            best = Some(i);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HostLayer, HostNetwork, HostOp};

    fn layer(name: &str, op: HostOp) -> HostLayer {
        HostLayer {
            name: name.into(),
            op,
        }
    }

    #[test]
    fn conv_pool_by_hand() {
        // 1×3×3 input, one 2×2 all-ones kernel, stride 1, no padding → 2×2 sums; then 2×2 pool.
        let net = HostNetwork {
            arch: "t".into(),
            input_shape: [1, 3, 3],
            pixel_bounds: (0.0, 1.0),
            layers: vec![
                layer(
                    "conv",
                    HostOp::Conv2d {
                        in_channels: 1,
                        out_channels: 1,
                        kernel: [2, 2],
                        stride: [1, 1],
                        padding: [0, 0],
                        weight: vec![1.0; 4],
                        bias: vec![0.5],
                    },
                ),
                layer(
                    "pool",
                    HostOp::MaxPool2d {
                        kernel: [2, 2],
                        stride: [2, 2],
                    },
                ),
                layer("flat", HostOp::Flatten),
            ],
        };
        let x: Vec<f64> = (1..=9).map(f64::from).collect();
        let f = forward(&net, &x).unwrap();
        assert_eq!(f.outputs[0], vec![12.5, 16.5, 24.5, 28.5]);
        assert_eq!(f.outputs[1], vec![28.5]);
        assert_eq!(f.shapes[2], Shape::Flat(1));
    }

    #[test]
    fn padding_and_stride() {
        let net = HostNetwork {
            arch: "t".into(),
            input_shape: [1, 2, 2],
            pixel_bounds: (0.0, 1.0),
            layers: vec![layer(
                "conv",
                HostOp::Conv2d {
                    in_channels: 1,
                    out_channels: 1,
                    kernel: [3, 3],
                    stride: [2, 2],
                    padding: [1, 1],
                    weight: (0..9).map(|v| v as f32).collect(),
                    bias: vec![0.0],
                },
            )],
        };
        // Output 1×1: centre of kernel (index 4) over x[0,0], etc.
        let f = forward(&net, &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(f.shapes[0], Shape::Chw([1, 1, 1]));
        assert_eq!(f.outputs[0], vec![4.0 + 2.0 * 5.0 + 3.0 * 7.0 + 4.0 * 8.0]);
    }

    #[test]
    fn shape_errors() {
        let net = HostNetwork {
            arch: "t".into(),
            input_shape: [1, 2, 2],
            pixel_bounds: (0.0, 1.0),
            layers: vec![layer(
                "fc",
                HostOp::Linear {
                    in_features: 5,
                    out_features: 1,
                    weight: vec![0.0; 5],
                    bias: vec![0.0],
                },
            )],
        };
        assert!(matches!(
            forward(&net, &[0.0; 4]),
            Err(ExactError::Shape { .. })
        ));
        assert!(matches!(
            forward(&net, &[0.0; 3]),
            Err(ExactError::Shape { .. })
        ));
    }
}
