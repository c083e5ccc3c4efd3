//! A network described on the host: layer kinds, names and f32 weights in PyTorch layouts.
//!
//! This is the interchange form every other part works from: the burn network is built from it
//! ([`crate::model::Network::from_host`]), weight importers produce it, the exact (LP) module
//! linearizes it in f64, and it is what `safetensors` files store.
//!
//! Shapes (row-major, batch first where there is one):
//! - input: `[C, H, W]` raw pixels in `[lo, hi]` (usually `[0, 1]`); normalization is a layer.
//! - `Normalize`: `y[c,h,w] = (x[c,h,w] − mean[c]) / std[c]`.
//! - `Linear`: `weight` is `[out, in]`, `y = W x + b` on the flattened input.
//! - `Conv2d`: `weight` is `[out, in, kh, kw]`, zero padding, `y = W ⋆ x + b`.
//! - `MaxPool2d`: window `kernel`, step `stride`, no padding (floor mode).
//! - `Relu`: `y = max(x, 0)`; `Flatten`: `[C,H,W] → [C·H·W]`.
use serde::{Deserialize, Serialize};

/// One operation of a [`HostNetwork`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum HostOp {
    /// Per-channel `(x − mean[c]) / std[c]`.
    Normalize { mean: Vec<f32>, std: Vec<f32> },
    /// Fully connected: `weight` `[out_features, in_features]`, `bias` `[out_features]`.
    Linear {
        in_features: usize,
        out_features: usize,
        weight: Vec<f32>,
        bias: Vec<f32>,
    },
    /// 2-D convolution: `weight` `[out_channels, in_channels, kernel[0], kernel[1]]`.
    Conv2d {
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        weight: Vec<f32>,
        bias: Vec<f32>,
    },
    /// Max pooling without padding.
    MaxPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
    },
    /// `max(x, 0)`.
    Relu,
    /// `[C, H, W] → [C·H·W]`.
    Flatten,
}

/// A named layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostLayer {
    /// Unique name (`fc1`, `conv1`, `relu1`, `pool1`, …).
    pub name: String,
    /// What it computes.
    pub op: HostOp,
}

/// A feed-forward network as a list of layers applied in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostNetwork {
    /// Architecture name (`mlp`, `lenet5`, `vgg16`, or a user's).
    pub arch: String,
    /// Input shape `[C, H, W]`.
    pub input_shape: [usize; 3],
    /// Pixel bounds of raw inputs, usually `(0, 1)`.
    pub pixel_bounds: (f32, f32),
    /// Layers in order.
    pub layers: Vec<HostLayer>,
}

use super::ModelError;

impl HostOp {
    /// Whether this op is affine with parameters (a candidate collision layer when a ReLU follows).
    pub fn is_affine_layer(&self) -> bool {
        matches!(self, HostOp::Linear { .. } | HostOp::Conv2d { .. })
    }

    /// Output shape for an input shape (`[C,H,W]` maps or `[N]` vectors).
    pub fn output_shape(&self, name: &str, input: &[usize]) -> Result<Vec<usize>, ModelError> {
        let err = |msg: String| ModelError::Shape {
            layer: name.to_string(),
            msg,
        };
        let numel: usize = input.iter().product();
        match self {
            HostOp::Normalize { mean, std } => {
                let c = if input.len() == 3 { input[0] } else { 1 };
                if mean.len() != std.len() || (mean.len() != c && mean.len() != 1) {
                    return Err(err(format!(
                        "normalize has {} means and {} stds for {} channels",
                        mean.len(),
                        std.len(),
                        c
                    )));
                }
                if std.iter().any(|s| !(s.is_finite() && *s != 0.0)) {
                    return Err(err("normalize std must be finite and non-zero".into()));
                }
                Ok(input.to_vec())
            }
            HostOp::Linear {
                in_features,
                out_features,
                weight,
                bias,
            } => {
                if numel != *in_features {
                    return Err(err(format!(
                        "expects {in_features} inputs, gets {numel} (shape {input:?})"
                    )));
                }
                if weight.len() != in_features * out_features || bias.len() != *out_features {
                    return Err(err(format!(
                        "weight has {} values and bias {}, expected [{out_features}, {in_features}] and [{out_features}]",
                        weight.len(),
                        bias.len()
                    )));
                }
                Ok(vec![*out_features])
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
                if input.len() != 3 || input[0] != *in_channels {
                    return Err(err(format!(
                        "expects a [{in_channels}, H, W] input, gets {input:?}"
                    )));
                }
                if weight.len() != out_channels * in_channels * kernel[0] * kernel[1]
                    || bias.len() != *out_channels
                {
                    return Err(err(format!(
                        "weight has {} values and bias {}, expected [{out_channels}, {in_channels}, {}, {}] and [{out_channels}]",
                        weight.len(),
                        bias.len(),
                        kernel[0],
                        kernel[1]
                    )));
                }
                if stride.contains(&0) {
                    return Err(err("stride must be positive".into()));
                }
                let (h, w) = (input[1] + 2 * padding[0], input[2] + 2 * padding[1]);
                if h < kernel[0] || w < kernel[1] {
                    return Err(err(format!(
                        "kernel {kernel:?} larger than padded input {h}×{w}"
                    )));
                }
                Ok(vec![
                    *out_channels,
                    (h - kernel[0]) / stride[0] + 1,
                    (w - kernel[1]) / stride[1] + 1,
                ])
            }
            HostOp::MaxPool2d { kernel, stride } => {
                if input.len() != 3 {
                    return Err(err(format!("expects a [C, H, W] input, gets {input:?}")));
                }
                if stride.contains(&0) || kernel.contains(&0) {
                    return Err(err("kernel and stride must be positive".into()));
                }
                if input[1] < kernel[0] || input[2] < kernel[1] {
                    return Err(err(format!(
                        "window {kernel:?} larger than input {input:?}"
                    )));
                }
                Ok(vec![
                    input[0],
                    (input[1] - kernel[0]) / stride[0] + 1,
                    (input[2] - kernel[1]) / stride[1] + 1,
                ])
            }
            HostOp::Relu => Ok(input.to_vec()),
            HostOp::Flatten => Ok(vec![numel]),
        }
    }
}

impl HostNetwork {
    /// Number of input values, `C·H·W`.
    pub fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// Output shape of every layer, checking that parameters fit.
    pub fn shapes(&self) -> Result<Vec<Vec<usize>>, ModelError> {
        let mut shape = self.input_shape.to_vec();
        let mut out = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            shape = layer.op.output_shape(&layer.name, &shape)?;
            out.push(shape.clone());
        }
        Ok(out)
    }

    /// Checks layer names are unique and shapes fit; returns the number of classes.
    pub fn check(&self) -> Result<usize, ModelError> {
        let mut seen = std::collections::HashSet::new();
        for l in &self.layers {
            if !seen.insert(l.name.as_str()) {
                return Err(ModelError::Shape {
                    layer: l.name.clone(),
                    msg: "duplicate layer name".into(),
                });
            }
        }
        let shapes = self.shapes()?;
        let last = shapes.last().ok_or_else(|| ModelError::Shape {
            layer: "(none)".into(),
            msg: "network has no layers".into(),
        })?;
        Ok(last.iter().product())
    }

    /// Every parameter tensor as `({layer}.weight|bias, shape in PyTorch layout, values)`.
    pub fn named_params(&self) -> Vec<(String, Vec<usize>, &[f32])> {
        let mut out = Vec::new();
        for l in &self.layers {
            let (wshape, weight, bias) = match &l.op {
                HostOp::Linear {
                    in_features,
                    out_features,
                    weight,
                    bias,
                } => (vec![*out_features, *in_features], weight, bias),
                HostOp::Conv2d {
                    in_channels,
                    out_channels,
                    kernel,
                    weight,
                    bias,
                    ..
                } => (
                    vec![*out_channels, *in_channels, kernel[0], kernel[1]],
                    weight,
                    bias,
                ),
                _ => continue,
            };
            out.push((format!("{}.weight", l.name), wshape, weight.as_slice()));
            out.push((
                format!("{}.bias", l.name),
                vec![bias.len()],
                bias.as_slice(),
            ));
        }
        out
    }

    /// Names of the layers at which collisions can be sought: affine layers followed by a ReLU.
    pub fn collision_layers(&self) -> Vec<String> {
        self.layers
            .windows(2)
            .filter(|w| w[0].op.is_affine_layer() && w[1].op == HostOp::Relu)
            .map(|w| w[0].name.clone())
            .collect()
    }

    /// Index of a collision layer by name, or an error listing the valid names.
    pub fn collision_layer_index(&self, name: &str) -> Result<usize, ModelError> {
        let valid = self.collision_layers();
        match self.layers.iter().position(|l| l.name == name) {
            Some(i) if valid.iter().any(|v| v == name) => Ok(i),
            Some(_) => Err(ModelError::UnknownLayer {
                name: name.into(),
                why: "it is not an affine layer followed by a ReLU".into(),
                valid: valid.join(", "),
            }),
            None => Err(ModelError::UnknownLayer {
                name: name.into(),
                why: format!("network '{}' has no such layer", self.arch),
                valid: valid.join(", "),
            }),
        }
    }

    /// When every layer up to and including `upto` is affine (normalize, linear, flatten),
    /// the composed map `ỹ = A u + c` as (`A` row-major `[N, d]`, `c`, `N`), in f64.
    pub fn composed_affine(&self, upto: usize) -> Option<(Vec<f64>, Vec<f64>, usize)> {
        let d = self.input_len();
        let hw = self.input_shape[1] * self.input_shape[2];
        // The map so far: diagonal `diag ⊙ u + c` until the first linear layer, dense after.
        let mut diag: Option<Vec<f64>> = Some(vec![1.0; d]);
        let mut a: Vec<f64> = Vec::new();
        let mut c = vec![0.0f64; d];
        let mut n = d;
        for layer in &self.layers[..=upto] {
            match &layer.op {
                HostOp::Flatten => {}
                HostOp::Normalize { mean, std } => {
                    let dg = diag.as_mut()?;
                    for r in 0..n {
                        let ch = if mean.len() == 1 { 0 } else { r / hw };
                        let (m, s) = (mean[ch] as f64, std[ch] as f64);
                        dg[r] /= s;
                        c[r] = (c[r] - m) / s;
                    }
                }
                HostOp::Linear {
                    in_features,
                    out_features,
                    weight,
                    bias,
                } => {
                    let (o, i) = (*out_features, *in_features);
                    if i != n {
                        return None;
                    }
                    let mut a2 = vec![0.0f64; o * d];
                    let mut c2 = vec![0.0f64; o];
                    for r in 0..o {
                        let row = &mut a2[r * d..(r + 1) * d];
                        let wrow = &weight[r * i..(r + 1) * i];
                        let mut cr = bias[r] as f64;
                        match &diag {
                            Some(dg) => {
                                for k in 0..i {
                                    row[k] = wrow[k] as f64 * dg[k];
                                    cr += wrow[k] as f64 * c[k];
                                }
                            }
                            None => {
                                for k in 0..i {
                                    let w = wrow[k] as f64;
                                    for (dst, src) in row.iter_mut().zip(&a[k * d..(k + 1) * d]) {
                                        *dst += w * src;
                                    }
                                    cr += w * c[k];
                                }
                            }
                        }
                        c2[r] = cr;
                    }
                    diag = None;
                    a = a2;
                    c = c2;
                    n = o;
                }
                _ => return None,
            }
        }
        if let Some(dg) = diag {
            // No linear layer: the map is diagonal.
            a = vec![0.0; d * d];
            for (k, v) in dg.iter().enumerate() {
                a[k * d + k] = *v;
            }
        }
        Some((a, c, n))
    }
}
