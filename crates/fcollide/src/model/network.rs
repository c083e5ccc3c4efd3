//! The network as a burn module: forward passes to any layer, with gradients to the input.
//!
//! Shapes: inputs are `[B, C·H·W]` raw pixels (flattened `[C, H, W]`); `Linear` takes and
//! returns `[B, N]`; `Conv2d` and `MaxPool2d` work on `[B, C, H, W]`; every layer output is
//! returned flattened as `[B, numel]`.
//!
//! The backend is chosen by the [`Device`]: [`default_device`] is the pure-Rust `burn-flex`
//! CPU backend (the CUDA backend behind the `cuda` feature); wrap it with `.autodiff()` for
//! gradients.
use super::{HostLayer, HostNetwork, HostOp, ModelError};
use burn::module::{Module, Param};
use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, TensorData};

/// The device fcollide computes on unless told otherwise: burn-flex on the CPU.
pub fn default_device() -> Device {
    Device::flex()
}

/// The CUDA device (GPU 0) when built with the `cuda` feature.
#[cfg(feature = "cuda")]
pub fn cuda_device() -> Device {
    Device::cuda(0)
}

/// A device by name: `cpu` (burn-flex) or `cuda` (needs the `cuda` feature).
pub fn device_by_name(name: &str) -> Result<Device, ModelError> {
    match name {
        "cpu" | "flex" => Ok(default_device()),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(cuda_device()),
        #[cfg(not(feature = "cuda"))]
        "cuda" => Err(ModelError::Param {
            param: "device",
            msg: "this build has no CUDA backend: rebuild with `--features cuda`".into(),
        }),
        other => Err(ModelError::Param {
            param: "device",
            msg: format!("'{other}': expected cpu or cuda"),
        }),
    }
}

/// A fully connected layer's parameters: `weight` `[out, in]`, `bias` `[out]`.
#[derive(Module, Debug)]
pub struct Dense {
    /// `[out, in]`.
    pub weight: Param<Tensor<2>>,
    /// `[out]`.
    pub bias: Param<Tensor<1>>,
}

/// A convolution's parameters: `weight` `[out, in, kh, kw]`, `bias` `[out]`.
#[derive(Module, Debug)]
pub struct Conv {
    /// `[out, in, kh, kw]`.
    pub weight: Param<Tensor<4>>,
    /// `[out]`.
    pub bias: Param<Tensor<1>>,
}

/// How a layer is computed; indices point into [`Network`]'s parameter lists.
#[derive(Clone, Debug)]
enum Step {
    Normalize { scale: Vec<f32>, shift: Vec<f32> },
    Linear(usize),
    Conv(usize, [usize; 2], [usize; 2]),
    MaxPool([usize; 2], [usize; 2]),
    Relu,
    Flatten,
}

/// A feed-forward network on a burn device.
#[derive(Module, Debug)]
pub struct Network {
    dense: Vec<Dense>,
    conv: Vec<Conv>,
    #[module(skip)]
    steps: Vec<Step>,
    #[module(skip)]
    host: HostNetwork,
    #[module(skip)]
    shapes: Vec<Vec<usize>>,
}

fn tensor<const D: usize>(values: &[f32], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values.to_vec(), shape), device)
}

/// Values of a tensor as a flat `Vec<f32>`.
pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float tensor converts to f32")
}

/// A batch `[B, n]` on the device from flat rows.
pub fn batch(values: &[f32], n: usize, device: &Device) -> Tensor<2> {
    tensor(values, [values.len() / n.max(1), n], device)
}

enum Act {
    Flat(Tensor<2>),
    Map(Tensor<4>),
}

impl Act {
    fn flat(self) -> Tensor<2> {
        match self {
            Act::Flat(t) => t,
            Act::Map(t) => {
                let [b, c, h, w] = t.dims();
                t.reshape([b, c * h * w])
            }
        }
    }
    fn map(self, shape: &[usize]) -> Tensor<4> {
        match self {
            Act::Map(t) => t,
            Act::Flat(t) => {
                let b = t.dims()[0];
                t.reshape([b, shape[0], shape[1], shape[2]])
            }
        }
    }
}

impl Network {
    /// Builds the network on `device` from its host description (validated).
    pub fn from_host(host: &HostNetwork, device: &Device) -> Result<Self, ModelError> {
        host.check()?;
        let shapes = host.shapes()?;
        let mut dense = Vec::new();
        let mut conv = Vec::new();
        let mut steps = Vec::new();
        let mut in_shape = host.input_shape.to_vec();
        for (layer, out_shape) in host.layers.iter().zip(&shapes) {
            steps.push(match &layer.op {
                HostOp::Normalize { mean, std } => {
                    let numel: usize = in_shape.iter().product();
                    let per = numel / mean.len().max(1);
                    let scale = (0..numel).map(|k| 1.0 / std[k / per]).collect();
                    let shift = (0..numel).map(|k| -mean[k / per] / std[k / per]).collect();
                    Step::Normalize { scale, shift }
                }
                HostOp::Linear {
                    in_features,
                    out_features,
                    weight,
                    bias,
                } => {
                    dense.push(Dense {
                        weight: Param::from_tensor(tensor(
                            weight,
                            [*out_features, *in_features],
                            device,
                        )),
                        bias: Param::from_tensor(tensor(bias, [*out_features], device)),
                    });
                    Step::Linear(dense.len() - 1)
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
                    conv.push(Conv {
                        weight: Param::from_tensor(tensor(
                            weight,
                            [*out_channels, *in_channels, kernel[0], kernel[1]],
                            device,
                        )),
                        bias: Param::from_tensor(tensor(bias, [*out_channels], device)),
                    });
                    Step::Conv(conv.len() - 1, *stride, *padding)
                }
                HostOp::MaxPool2d { kernel, stride } => Step::MaxPool(*kernel, *stride),
                HostOp::Relu => Step::Relu,
                HostOp::Flatten => Step::Flatten,
            });
            in_shape = out_shape.clone();
        }
        Ok(Self {
            dense,
            conv,
            steps,
            host: host.clone(),
            shapes,
        })
    }

    /// The host description with the current weights.
    pub fn to_host(&self) -> HostNetwork {
        let mut host = self.host.clone();
        let (mut di, mut ci) = (0, 0);
        for HostLayer { op, .. } in &mut host.layers {
            match op {
                HostOp::Linear { weight, bias, .. } => {
                    *weight = to_vec(self.dense[di].weight.val());
                    *bias = to_vec(self.dense[di].bias.val());
                    di += 1;
                }
                HostOp::Conv2d { weight, bias, .. } => {
                    *weight = to_vec(self.conv[ci].weight.val());
                    *bias = to_vec(self.conv[ci].bias.val());
                    ci += 1;
                }
                _ => {}
            }
        }
        host
    }

    /// The host description this network was built from (weights as built, not as trained).
    pub fn spec(&self) -> &HostNetwork {
        &self.host
    }

    /// Output shape of each layer.
    pub fn shapes(&self) -> &[Vec<usize>] {
        &self.shapes
    }

    /// Output of layer `last` (inclusive) for a batch `[B, C·H·W]`, flattened to `[B, numel]`.
    pub fn forward_to(&self, x: Tensor<2>, last: usize) -> Tensor<2> {
        let device = x.device();
        let mut act = Act::Flat(x);
        let mut in_shape: &[usize] = &self.host.input_shape;
        for (i, step) in self.steps.iter().enumerate().take(last + 1) {
            act = match step {
                Step::Normalize { scale, shift } => {
                    let n = scale.len();
                    let flat = act.flat();
                    let s = tensor(scale, [1, n], &device);
                    let b = tensor(shift, [1, n], &device);
                    Act::Flat(flat * s + b)
                }
                Step::Linear(k) => {
                    let l = &self.dense[*k];
                    let y = act.flat().matmul(l.weight.val().transpose());
                    Act::Flat(y + l.bias.val().unsqueeze::<2>())
                }
                Step::Conv(k, stride, padding) => {
                    let c = &self.conv[*k];
                    let x = act.map(in_shape);
                    Act::Map(conv2d(
                        x,
                        c.weight.val(),
                        Some(c.bias.val()),
                        ConvOptions::new(*stride, *padding, [1, 1], 1),
                    ))
                }
                Step::MaxPool(kernel, stride) => {
                    let x = act.map(in_shape);
                    let mut opts = MaxPoolOptions::new(*kernel);
                    opts.stride = *stride;
                    Act::Map(max_pool2d(x, opts))
                }
                Step::Relu => match act {
                    Act::Flat(t) => Act::Flat(relu(t)),
                    Act::Map(t) => Act::Map(relu(t)),
                },
                Step::Flatten => Act::Flat(act.flat()),
            };
            in_shape = &self.shapes[i];
        }
        act.flat()
    }

    /// Logits `[B, classes]` for a batch `[B, C·H·W]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward_to(x, self.steps.len() - 1)
    }

    /// Class probabilities `[B, classes]` for host inputs (no gradients).
    pub fn predict(&self, x: &[f32], device: &Device) -> Vec<Vec<f32>> {
        let d = self.host.input_len();
        if x.is_empty() {
            return Vec::new();
        }
        let logits = self.forward(batch(x, d, device));
        let classes = logits.dims()[1];
        let p = to_vec(burn::tensor::activation::softmax(logits, 1));
        p.chunks(classes).map(|c| c.to_vec()).collect()
    }

    /// Output of layer `last` for host inputs, one `Vec` per example (no gradients).
    pub fn activations(&self, x: &[f32], last: usize, device: &Device) -> Vec<Vec<f32>> {
        let d = self.host.input_len();
        if x.is_empty() {
            return Vec::new();
        }
        let y = self.forward_to(batch(x, d, device), last);
        let n = y.dims()[1];
        to_vec(y).chunks(n).map(|c| c.to_vec()).collect()
    }
}

/// Index of the largest value.
pub fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| {
            if x > bv {
                (i, x)
            } else {
                (bi, bv)
            }
        })
        .0
}
