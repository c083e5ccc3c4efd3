//! The operations of a [`Graph`](super::Graph) node, their parameters and their shapes.
//!
//! Activations are `[C, H, W]` maps or flat `[N]` vectors, stored row-major; a batch adds a
//! leading dimension in the engines. Every operation's formula, for one example:
//!
//! - `Input`: the raw pixels `x ∈ [lo, hi]^{C×H×W}`.
//! - `Normalize`: `y[c,h,w] = (x[c,h,w] − mean[c]) / std[c]` (one entry broadcasts).
//! - `ChannelAffine`: `y[c,h,w] = x[c,h,w]·scale[c] + shift[c]` (one entry broadcasts); what
//!   ONNX `Mul`/`Add`/`Sub`/`Div` by constants become.
//! - `Linear`: `y = W x + b` on the flattened input, `W` `[out, in]`.
//! - `Conv2d`: `y[o,i,j] = b[o] + Σ_{c∈group(o), p, q} W[o, c', p, q] ·
//!   x[c, i·s₀ + p·d₀ − pad_top, j·s₁ + q·d₁ − pad_left]`, zero outside the input; `W` is
//!   `[out, in/groups, kh, kw]`, output channel `o` reads the input channels of its group
//!   `g = o / (out/groups)`, `c = g·(in/groups) + c'`. Output size
//!   `⌊(H + pad_top + pad_bottom − d₀(kh − 1) − 1) / s₀⌋ + 1` (and likewise for `W`).
//! - `BatchNorm` (inference): `y[c,…] = γ[c]·(x[c,…] − μ[c]) / √(σ²[c] + ε) + β[c]`.
//! - `Relu`: `max(x, 0)`; `Clip`: `min(max(x, lo), hi)` (ReLU6 is `Clip(0, 6)`);
//!   `LeakyRelu`: `x` if `x ≥ 0` else `α·x`; `Sigmoid`: `1/(1+e^{−x})`; `Tanh`.
//! - `MaxPool2d`: `y[c,i,j] = max_{p,q} x[c, i·s₀ + p·d₀ − pad_top, j·s₁ + q·d₁ − pad_left]`
//!   over positions inside the input (padding is `−∞`); ties go to the first maximum in
//!   row-major window order. Output size as for `Conv2d`, rounded up with `ceil_mode` (a
//!   window must then start inside the input or its left padding, as in PyTorch).
//! - `AvgPool2d`: the mean over the window; the divisor is the window's size clipped to the
//!   padded input with `count_include_pad` (PyTorch's rule), else the number of positions
//!   inside the input.
//! - `AdaptiveAvgPool2d`: output cell `(i, j)` averages rows `⌊i·H/oh⌋ … ⌈(i+1)·H/oh⌉ − 1`
//!   and the same for columns (PyTorch's rule); `[1, 1]` is global average pooling.
//! - `Add`: element-wise sum of its inputs (same shape); `Concat`: its `[C_k, H, W]` inputs
//!   stacked along channels (or flat inputs end to end).
//! - `Flatten`: `[C, H, W] → [C·H·W]`; `Reshape`: to the stated shape with the same number of
//!   entries (row-major, so the data does not move); `Identity`: `y = x`.
use serde::{Deserialize, Serialize};

use super::super::ModelError;

/// Shape of an activation (one example).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Shape {
    /// `[C, H, W]`.
    Chw([usize; 3]),
    /// A flat vector `[N]`.
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

    /// Channels (`C`, or 1 for a flat vector) and the size of one channel's plane.
    pub fn channels_and_plane(&self) -> (usize, usize) {
        match *self {
            Shape::Chw([c, h, w]) => (c, h * w),
            Shape::Flat(n) => (n, 1),
        }
    }

    /// The dimensions as a list (`[C, H, W]` or `[N]`).
    pub fn dims(&self) -> Vec<usize> {
        match *self {
            Shape::Chw(d) => d.to_vec(),
            Shape::Flat(n) => vec![n],
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Chw([c, h, w]) => write!(f, "[{c}, {h}, {w}]"),
            Shape::Flat(n) => write!(f, "[{n}]"),
        }
    }
}

/// What one node computes. Weights are f32 in PyTorch layouts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// The graph's input (raw pixels); always node 0.
    Input,
    /// `(x − mean[c]) / std[c]`.
    Normalize { mean: Vec<f32>, std: Vec<f32> },
    /// `x·scale[c] + shift[c]`.
    ChannelAffine { scale: Vec<f32>, shift: Vec<f32> },
    /// `y = W x + b`, `weight` `[out_features, in_features]`.
    Linear {
        in_features: usize,
        out_features: usize,
        weight: Vec<f32>,
        bias: Option<Vec<f32>>,
    },
    /// 2-D convolution, `weight` `[out_channels, in_channels / groups, kernel[0], kernel[1]]`.
    Conv2d {
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        /// `[top, left, bottom, right]`.
        padding: [usize; 4],
        dilation: [usize; 2],
        groups: usize,
        weight: Vec<f32>,
        bias: Option<Vec<f32>>,
    },
    /// Batch normalization in inference mode, per channel.
    BatchNorm {
        eps: f32,
        /// `γ`.
        weight: Vec<f32>,
        /// `β`.
        bias: Vec<f32>,
        /// `μ` (running mean).
        mean: Vec<f32>,
        /// `σ²` (running variance).
        var: Vec<f32>,
    },
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, min), max)`.
    Clip { min: f32, max: f32 },
    /// `x` for `x ≥ 0`, `alpha·x` otherwise.
    LeakyRelu { alpha: f32 },
    /// `1 / (1 + e^{−x})`.
    Sigmoid,
    /// `tanh x`.
    Tanh,
    /// Max pooling.
    MaxPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
        /// `[top, left, bottom, right]`.
        padding: [usize; 4],
        dilation: [usize; 2],
        ceil_mode: bool,
    },
    /// Average pooling.
    AvgPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
        /// `[top, left, bottom, right]`.
        padding: [usize; 4],
        ceil_mode: bool,
        count_include_pad: bool,
    },
    /// Adaptive average pooling to `[oh, ow]` (`[1, 1]`: global).
    AdaptiveAvgPool2d { output: [usize; 2] },
    /// Element-wise sum of the inputs.
    Add,
    /// Channel concatenation of the inputs.
    Concat,
    /// `[C, H, W] → [C·H·W]`.
    Flatten,
    /// Reinterpret the data with another shape of the same size.
    Reshape { shape: Shape },
    /// `y = x`.
    Identity,
}

/// The geometry of a 2-D window (convolution or pooling) over an `[H, W]` input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Input size `[H, W]`.
    pub in_hw: [usize; 2],
    /// Output size.
    pub out_hw: [usize; 2],
    /// Kernel size.
    pub kernel: [usize; 2],
    /// Steps.
    pub stride: [usize; 2],
    /// `[top, left, bottom, right]`.
    pub padding: [usize; 4],
    /// Spacing of kernel taps.
    pub dilation: [usize; 2],
}

impl Window {
    /// The window of an operation on an `[H, W]` input, or why it does not fit.
    pub fn new(
        in_hw: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 4],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Result<Self, String> {
        let mut out_hw = [0; 2];
        for a in 0..2 {
            if stride[a] == 0 || kernel[a] == 0 || dilation[a] == 0 {
                return Err(format!(
                    "kernel {kernel:?}, stride {stride:?} and dilation {dilation:?} must be positive"
                ));
            }
            let (pb, pe) = (padding[a], padding[a + 2]);
            let padded = in_hw[a]
                .checked_add(pb)
                .and_then(|v| v.checked_add(pe))
                .ok_or("padding overflows")?;
            let span = dilation[a]
                .checked_mul(kernel[a] - 1)
                .and_then(|v| v.checked_add(1))
                .ok_or("kernel span overflows")?;
            if span > padded {
                return Err(format!(
                    "kernel {kernel:?} (dilation {dilation:?}) is larger than the padded input {}×{}",
                    in_hw[0] + padding[0] + padding[2],
                    in_hw[1] + padding[1] + padding[3]
                ));
            }
            let room = padded - span;
            let mut n = room / stride[a] + 1;
            if ceil_mode && room % stride[a] != 0 {
                n += 1;
                // PyTorch: the last window must start inside the input or the begin padding.
                if (n - 1) * stride[a] >= in_hw[a] + pb {
                    n -= 1;
                }
            }
            out_hw[a] = n;
        }
        Ok(Window {
            in_hw,
            out_hw,
            kernel,
            stride,
            padding,
            dilation,
        })
    }

    /// Input position `(row, col)` for output `(i, j)` and kernel tap `(p, q)`, or `None` in
    /// the padding (or past the input's end in ceil mode).
    #[inline]
    pub fn source(&self, i: usize, j: usize, p: usize, q: usize) -> Option<(usize, usize)> {
        let r = (i * self.stride[0] + p * self.dilation[0]).checked_sub(self.padding[0])?;
        let c = (j * self.stride[1] + q * self.dilation[1]).checked_sub(self.padding[1])?;
        (r < self.in_hw[0] && c < self.in_hw[1]).then_some((r, c))
    }

    /// Number of taps of window `(i, j)` inside the padded input (`count_include_pad`'s
    /// divisor: the window clipped to `[−pad_begin, in + pad_end)`).
    pub fn padded_count(&self, i: usize, j: usize) -> usize {
        let mut n = 1;
        for (a, o) in [(0usize, i), (1, j)] {
            let start = o * self.stride[a];
            let end =
                (start + self.kernel[a]).min(self.in_hw[a] + self.padding[a] + self.padding[a + 2]);
            n *= end - start;
        }
        n
    }

    /// Number of taps of window `(i, j)` inside the input.
    pub fn inside_count(&self, i: usize, j: usize) -> usize {
        let mut n = 0;
        for p in 0..self.kernel[0] {
            for q in 0..self.kernel[1] {
                n += usize::from(self.source(i, j, p, q).is_some());
            }
        }
        n
    }
}

/// Rows `[start, end)` that adaptive pooling averages for output index `i` of `out` over an
/// input of size `len` (PyTorch's rule).
pub fn adaptive_range(i: usize, out: usize, len: usize) -> (usize, usize) {
    let start = (i * len) / out;
    let end = ((i + 1) * len).div_ceil(out);
    (start, end)
}

/// Where an element-wise op's vector parameter is indexed: by channel or one broadcast entry.
pub(crate) fn per_channel(v: &[f32], channel: usize) -> f32 {
    if v.len() == 1 {
        v[0]
    } else {
        v[channel]
    }
}

impl Op {
    /// A short name for messages and tables (`Conv2d`, `Relu`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Input => "Input",
            Op::Normalize { .. } => "Normalize",
            Op::ChannelAffine { .. } => "ChannelAffine",
            Op::Linear { .. } => "Linear",
            Op::Conv2d { .. } => "Conv2d",
            Op::BatchNorm { .. } => "BatchNorm",
            Op::Relu => "Relu",
            Op::Clip { .. } => "Clip",
            Op::LeakyRelu { .. } => "LeakyRelu",
            Op::Sigmoid => "Sigmoid",
            Op::Tanh => "Tanh",
            Op::MaxPool2d { .. } => "MaxPool2d",
            Op::AvgPool2d { .. } => "AvgPool2d",
            Op::AdaptiveAvgPool2d { .. } => "AdaptiveAvgPool2d",
            Op::Add => "Add",
            Op::Concat => "Concat",
            Op::Flatten => "Flatten",
            Op::Reshape { .. } => "Reshape",
            Op::Identity => "Identity",
        }
    }

    /// Whether the op is affine in its inputs (every op but the activations and max-pooling).
    pub fn is_affine(&self) -> bool {
        !matches!(
            self,
            Op::Relu
                | Op::Clip { .. }
                | Op::LeakyRelu { .. }
                | Op::Sigmoid
                | Op::Tanh
                | Op::MaxPool2d { .. }
        )
    }

    /// Whether the op is piecewise linear (affine ops, ReLU, Clip, LeakyReLU, max-pooling), so
    /// that the network is affine on the region where its pieces are fixed.
    pub fn is_piecewise_linear(&self) -> bool {
        !matches!(self, Op::Sigmoid | Op::Tanh)
    }

    /// Whether the op has trainable weights (`Linear`, `Conv2d`).
    pub fn has_weights(&self) -> bool {
        matches!(self, Op::Linear { .. } | Op::Conv2d { .. })
    }

    /// How many inputs the op takes: `Some(n)` exactly, `None` for one or more.
    pub fn arity(&self) -> Option<usize> {
        match self {
            Op::Input => Some(0),
            Op::Add | Op::Concat => None,
            _ => Some(1),
        }
    }

    /// Number of parameters (weights, biases, statistics).
    pub fn param_count(&self) -> usize {
        self.params().iter().map(|(_, _, v)| v.len()).sum()
    }

    /// The op's weight tensors as `(suffix, shape in PyTorch layout, values)`: `weight` and
    /// `bias` of linear and convolution layers; `weight`, `bias`, `running_mean` and
    /// `running_var` of batch norm (PyTorch's state-dict names). The small constants of
    /// `Normalize`/`ChannelAffine` are part of the structure, not tensors.
    pub fn params(&self) -> Vec<(&'static str, Vec<usize>, &[f32])> {
        match self {
            Op::Linear {
                in_features,
                out_features,
                weight,
                bias,
            } => {
                let mut v = vec![(
                    "weight",
                    vec![*out_features, *in_features],
                    weight.as_slice(),
                )];
                if let Some(b) = bias {
                    v.push(("bias", vec![*out_features], b.as_slice()));
                }
                v
            }
            Op::Conv2d {
                in_channels,
                out_channels,
                kernel,
                groups,
                weight,
                bias,
                ..
            } => {
                let per = in_channels / (*groups).max(1);
                let mut v = vec![(
                    "weight",
                    vec![*out_channels, per, kernel[0], kernel[1]],
                    weight.as_slice(),
                )];
                if let Some(b) = bias {
                    v.push(("bias", vec![*out_channels], b.as_slice()));
                }
                v
            }
            Op::BatchNorm {
                weight,
                bias,
                mean,
                var,
                ..
            } => vec![
                ("weight", vec![weight.len()], weight.as_slice()),
                ("bias", vec![bias.len()], bias.as_slice()),
                ("running_mean", vec![mean.len()], mean.as_slice()),
                ("running_var", vec![var.len()], var.as_slice()),
            ],
            _ => Vec::new(),
        }
    }

    /// Mutable access to the weight tensors, in the order of [`Op::params`].
    pub fn params_mut(&mut self) -> Vec<(&'static str, &mut Vec<f32>)> {
        match self {
            Op::Linear { weight, bias, .. } | Op::Conv2d { weight, bias, .. } => {
                let mut v = vec![("weight", weight)];
                if let Some(b) = bias {
                    v.push(("bias", b));
                }
                v
            }
            Op::BatchNorm {
                weight,
                bias,
                mean,
                var,
                ..
            } => vec![
                ("weight", weight),
                ("bias", bias),
                ("running_mean", mean),
                ("running_var", var),
            ],
            _ => Vec::new(),
        }
    }

    /// The op with every parameter vector ([`Op::params_mut`]) empty; the rest is cloned
    /// (the parameters are never copied).
    pub fn structure(&self) -> Op {
        let empty = |b: &Option<Vec<f32>>| b.as_ref().map(|_| Vec::new());
        match self {
            Op::Linear {
                in_features,
                out_features,
                bias,
                ..
            } => Op::Linear {
                in_features: *in_features,
                out_features: *out_features,
                weight: Vec::new(),
                bias: empty(bias),
            },
            Op::Conv2d {
                in_channels,
                out_channels,
                kernel,
                stride,
                padding,
                dilation,
                groups,
                bias,
                ..
            } => Op::Conv2d {
                in_channels: *in_channels,
                out_channels: *out_channels,
                kernel: *kernel,
                stride: *stride,
                padding: *padding,
                dilation: *dilation,
                groups: *groups,
                weight: Vec::new(),
                bias: empty(bias),
            },
            Op::BatchNorm { eps, .. } => Op::BatchNorm {
                eps: *eps,
                weight: Vec::new(),
                bias: Vec::new(),
                mean: Vec::new(),
                var: Vec::new(),
            },
            other => other.clone(),
        }
    }

    /// Batch norm as a per-channel `x·scale + shift`: `scale = γ/√(σ² + ε)`,
    /// `shift = β − μ·scale`, in f64.
    pub fn batchnorm_scale_shift(&self) -> Option<(Vec<f64>, Vec<f64>)> {
        let Op::BatchNorm {
            eps,
            weight,
            bias,
            mean,
            var,
        } = self
        else {
            return None;
        };
        let scale: Vec<f64> = weight
            .iter()
            .zip(var)
            .map(|(&g, &v)| f64::from(g) / (f64::from(v) + f64::from(*eps)).sqrt())
            .collect();
        let shift = bias
            .iter()
            .zip(mean)
            .zip(&scale)
            .map(|((&b, &m), s)| f64::from(b) - f64::from(m) * s)
            .collect();
        Some((scale, shift))
    }

    /// The window of a convolution or pooling op on an input of shape `[C, H, W]`.
    pub fn window(&self, input: Shape) -> Option<Result<Window, String>> {
        let Shape::Chw([_, h, w]) = input else {
            return None;
        };
        Some(match self {
            Op::Conv2d {
                kernel,
                stride,
                padding,
                dilation,
                ..
            } => Window::new([h, w], *kernel, *stride, *padding, *dilation, false),
            Op::MaxPool2d {
                kernel,
                stride,
                padding,
                dilation,
                ceil_mode,
            } => Window::new([h, w], *kernel, *stride, *padding, *dilation, *ceil_mode),
            Op::AvgPool2d {
                kernel,
                stride,
                padding,
                ceil_mode,
                ..
            } => Window::new([h, w], *kernel, *stride, *padding, [1, 1], *ceil_mode),
            _ => return None,
        })
    }

    /// Output shape for the given input shapes, checking that parameters fit. This is the one
    /// place where shapes are inferred; every engine uses it through [`super::Graph::shapes`].
    pub fn output_shape(&self, node: &str, inputs: &[Shape]) -> Result<Shape, ModelError> {
        let err = |msg: String| ModelError::Shape {
            layer: node.to_string(),
            msg,
        };
        match self.arity() {
            Some(n) if inputs.len() != n => {
                return Err(err(format!(
                    "{} takes {n} input(s), has {}",
                    self.kind(),
                    inputs.len()
                )))
            }
            None if inputs.is_empty() => {
                return Err(err(format!(
                    "{} takes one or more inputs, has none",
                    self.kind()
                )))
            }
            _ => {}
        }
        let check_channel_vec = |what: &str, v: &[f32], shape: Shape| -> Result<(), ModelError> {
            let (c, _) = shape.channels_and_plane();
            if v.len() == c || v.len() == 1 {
                Ok(())
            } else {
                Err(err(format!(
                    "{what} has {} values for an input of shape {shape} ({c} channels)",
                    v.len()
                )))
            }
        };
        let chw = |what: &str| -> Result<[usize; 3], ModelError> {
            match inputs[0] {
                Shape::Chw(d) => Ok(d),
                s => Err(err(format!("{what} needs a [C, H, W] input, gets {s}"))),
            }
        };
        let bias_len = |bias: &Option<Vec<f32>>, n: usize| -> Result<(), ModelError> {
            match bias {
                Some(b) if b.len() != n => {
                    Err(err(format!("bias has {} values, expected {n}", b.len())))
                }
                _ => Ok(()),
            }
        };
        match self {
            Op::Input => Err(err("an Input node cannot appear inside the graph".into())),
            Op::Normalize { mean, std } => {
                check_channel_vec("mean", mean, inputs[0])?;
                check_channel_vec("std", std, inputs[0])?;
                if let Some(s) = std.iter().find(|s| !(s.is_finite() && **s != 0.0)) {
                    return Err(err(format!("std must be finite and non-zero, has {s}")));
                }
                if let Some(m) = mean.iter().find(|m| !m.is_finite()) {
                    return Err(err(format!("mean must be finite, has {m}")));
                }
                Ok(inputs[0])
            }
            Op::ChannelAffine { scale, shift } => {
                check_channel_vec("scale", scale, inputs[0])?;
                check_channel_vec("shift", shift, inputs[0])?;
                if let Some(v) = scale.iter().chain(shift).find(|v| !v.is_finite()) {
                    return Err(err(format!("scale and shift must be finite, have {v}")));
                }
                Ok(inputs[0])
            }
            Op::Linear {
                in_features,
                out_features,
                weight,
                bias,
            } => {
                let n = inputs[0].len();
                if n != *in_features {
                    return Err(err(format!(
                        "expects {in_features} inputs, gets {n} (shape {})",
                        inputs[0]
                    )));
                }
                if Some(weight.len()) != in_features.checked_mul(*out_features) {
                    return Err(err(format!(
                        "weight has {} values, expected [{out_features}, {in_features}]",
                        weight.len()
                    )));
                }
                bias_len(bias, *out_features)?;
                Ok(Shape::Flat(*out_features))
            }
            Op::Conv2d {
                in_channels,
                out_channels,
                kernel,
                groups,
                weight,
                bias,
                ..
            } => {
                let [c, _, _] = chw("Conv2d")?;
                if c != *in_channels {
                    return Err(err(format!(
                        "expects {in_channels} input channels, gets {}",
                        inputs[0]
                    )));
                }
                if *groups == 0 || in_channels % groups != 0 || out_channels % groups != 0 {
                    return Err(err(format!(
                        "groups {groups} must divide the {in_channels} input and {out_channels} output channels"
                    )));
                }
                let want = [*out_channels, in_channels / groups, kernel[0], kernel[1]]
                    .iter()
                    .try_fold(1usize, |a, &b| a.checked_mul(b));
                if want != Some(weight.len()) {
                    return Err(err(format!(
                        "weight has {} values, expected [{out_channels}, {}, {}, {}]",
                        weight.len(),
                        in_channels / groups,
                        kernel[0],
                        kernel[1]
                    )));
                }
                bias_len(bias, *out_channels)?;
                let win = self
                    .window(inputs[0])
                    .expect("conv on a map")
                    .map_err(err)?;
                Ok(Shape::Chw([*out_channels, win.out_hw[0], win.out_hw[1]]))
            }
            Op::BatchNorm {
                eps,
                weight,
                bias,
                mean,
                var,
            } => {
                let (c, _) = inputs[0].channels_and_plane();
                for (what, v) in [
                    ("weight", weight),
                    ("bias", bias),
                    ("running_mean", mean),
                    ("running_var", var),
                ] {
                    if v.len() != c {
                        return Err(err(format!(
                            "{what} has {} values for {c} channels (input {})",
                            v.len(),
                            inputs[0]
                        )));
                    }
                }
                if !(eps.is_finite() && *eps >= 0.0) {
                    return Err(err(format!("eps must be finite and ≥ 0, is {eps}")));
                }
                if let Some(v) = var
                    .iter()
                    .find(|&&v| f64::from(v) + f64::from(*eps) <= 0.0 || v.is_nan())
                {
                    return Err(err(format!(
                        "running_var + eps must be positive, has running_var {v}"
                    )));
                }
                Ok(inputs[0])
            }
            Op::Relu | Op::Sigmoid | Op::Tanh | Op::Identity => Ok(inputs[0]),
            Op::Clip { min, max } => {
                if min.is_nan() || max.is_nan() || min > max {
                    return Err(err(format!(
                        "clip bounds [{min}, {max}] are not an interval"
                    )));
                }
                Ok(inputs[0])
            }
            Op::LeakyRelu { alpha } => {
                if !alpha.is_finite() {
                    return Err(err(format!("negative slope {alpha} is not finite")));
                }
                Ok(inputs[0])
            }
            Op::MaxPool2d { .. } | Op::AvgPool2d { .. } => {
                let [c, _, _] = chw(self.kind())?;
                let win = self
                    .window(inputs[0])
                    .expect("pool on a map")
                    .map_err(err)?;
                if let Op::AvgPool2d {
                    padding, kernel, ..
                }
                | Op::MaxPool2d {
                    padding, kernel, ..
                } = self
                {
                    for a in 0..2 {
                        if padding[a] > kernel[a] / 2 || padding[a + 2] > kernel[a] / 2 {
                            return Err(err(format!(
                                "padding {padding:?} exceeds half the kernel {kernel:?}"
                            )));
                        }
                    }
                }
                Ok(Shape::Chw([c, win.out_hw[0], win.out_hw[1]]))
            }
            Op::AdaptiveAvgPool2d { output } => {
                let [c, h, w] = chw("AdaptiveAvgPool2d")?;
                if output.contains(&0) || h == 0 || w == 0 {
                    return Err(err(format!(
                        "output {output:?} and input {} must be non-empty",
                        inputs[0]
                    )));
                }
                Ok(Shape::Chw([c, output[0], output[1]]))
            }
            Op::Add => {
                if let Some(s) = inputs.iter().find(|s| **s != inputs[0]) {
                    return Err(err(format!(
                        "Add needs inputs of one shape, gets {} and {s}",
                        inputs[0]
                    )));
                }
                Ok(inputs[0])
            }
            Op::Concat => match inputs[0] {
                Shape::Chw([_, h, w]) => {
                    let mut c = 0;
                    for s in inputs {
                        match s {
                            Shape::Chw([ck, hk, wk]) if *hk == h && *wk == w => c += ck,
                            s => {
                                return Err(err(format!(
                                    "Concat needs [C, {h}, {w}] inputs, gets {s}"
                                )))
                            }
                        }
                    }
                    Ok(Shape::Chw([c, h, w]))
                }
                Shape::Flat(_) => {
                    let mut n = 0;
                    for s in inputs {
                        match s {
                            Shape::Flat(k) => n += k,
                            s => {
                                return Err(err(format!("Concat of flat vectors gets a {s} input")))
                            }
                        }
                    }
                    Ok(Shape::Flat(n))
                }
            },
            Op::Flatten => Ok(Shape::Flat(inputs[0].len())),
            Op::Reshape { shape } => {
                if shape.len() != inputs[0].len() {
                    return Err(err(format!(
                        "cannot reshape {} ({} values) to {shape}",
                        inputs[0],
                        inputs[0].len()
                    )));
                }
                Ok(*shape)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_sizes_match_pytorch() {
        // torch: MaxPool2d(3, 2, padding=1) on 112 → 56; ceil_mode on 5 with k2 s2 → 3.
        let w = Window::new([112, 112], [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], false).unwrap();
        assert_eq!(w.out_hw, [56, 56]);
        let w = Window::new([5, 5], [2, 2], [2, 2], [0; 4], [1, 1], true).unwrap();
        assert_eq!(w.out_hw, [3, 3]);
        // SqueezeNet: MaxPool2d(3, 2, ceil_mode=True) on 109 → 54; on 54 → 27; on 27 → 13.
        for (i, o) in [(109, 54), (54, 27), (27, 13)] {
            let w = Window::new([i, i], [3, 3], [2, 2], [0; 4], [1, 1], true).unwrap();
            assert_eq!(w.out_hw, [o, o], "{i}");
        }
        // Dilated conv: k3 d2 p2 keeps the size.
        let w = Window::new([10, 10], [3, 3], [1, 1], [2, 2, 2, 2], [2, 2], false).unwrap();
        assert_eq!(w.out_hw, [10, 10]);
        assert!(Window::new([2, 2], [3, 3], [1, 1], [0; 4], [1, 1], false).is_err());
        assert!(Window::new([2, 2], [1, 1], [0, 1], [0; 4], [1, 1], false).is_err());
    }

    #[test]
    fn adaptive_ranges_cover_the_input() {
        // torch AdaptiveAvgPool2d(3) on 7: [0,3) [2,5) [4,7).
        let r: Vec<_> = (0..3).map(|i| adaptive_range(i, 3, 7)).collect();
        assert_eq!(r, vec![(0, 3), (2, 5), (4, 7)]);
        assert_eq!(adaptive_range(0, 1, 13), (0, 13));
    }

    #[test]
    fn avg_divisors() {
        // k3 s2 p1 on 4: window 0 covers rows −1..2 → 2 inside, 3 in the padded input.
        let w = Window::new([4, 4], [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], false).unwrap();
        assert_eq!(w.inside_count(0, 0), 4);
        assert_eq!(w.padded_count(0, 0), 9);
    }

    #[test]
    fn shape_errors_name_the_node() {
        let op = Op::Linear {
            in_features: 3,
            out_features: 2,
            weight: vec![0.0; 6],
            bias: None,
        };
        let e = op
            .output_shape("fc", &[Shape::Flat(4)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("'fc'") && e.contains("expects 3"), "{e}");
        let e = Op::Add
            .output_shape("add", &[Shape::Flat(4), Shape::Flat(3)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("one shape"), "{e}");
        let conv = Op::Conv2d {
            in_channels: 4,
            out_channels: 6,
            kernel: [3, 3],
            stride: [1, 1],
            padding: [1; 4],
            dilation: [1, 1],
            groups: 2,
            weight: vec![0.0; 6 * 2 * 9],
            bias: None,
        };
        assert_eq!(
            conv.output_shape("c", &[Shape::Chw([4, 5, 5])]).unwrap(),
            Shape::Chw([6, 5, 5])
        );
    }
}
