//! The network as a burn module: the [`Graph`] executed on a burn device, forward passes to
//! any node, with gradients to the input (and to the weights, for training).
//!
//! Shapes: inputs are `[B, C·H·W]` raw pixels (flattened `[C, H, W]`); a node whose shape is
//! `[C, H, W]` holds a `[B, C, H, W]` tensor, a flat node a `[B, N]` tensor; every node's
//! output is returned flattened as `[B, numel]`. Each operation computes the formula of
//! [`crate::model::graph::op`] with burn's kernels (`conv2d`, `max_pool2d`, `avg_pool2d`,
//! `adaptive_avg_pool2d`); batch norm runs as its per-channel affine map. Values are freed
//! after their last reader.
//!
//! The backend is chosen by the [`Device`]: [`default_device`] is the pure-Rust `burn-flex`
//! CPU backend (the CUDA backend behind the `cuda` feature); wrap it with `.autodiff()` for
//! gradients.
use super::graph::op::per_channel;
use super::graph::{Graph, Op, Shape};
use super::ModelError;
use burn::module::{Module, Param};
use burn::tensor::activation::{leaky_relu, relu, sigmoid, tanh};
use burn::tensor::module::{adaptive_avg_pool2d, avg_pool2d, conv2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions};
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

/// How a device is named in run records and reports: `cpu (burn-flex)` or `cuda (burn)`.
pub fn device_label(device: &Device) -> String {
    if format!("{device:?}").to_ascii_lowercase().contains("cuda") {
        "cuda (burn)".into()
    } else {
        "cpu (burn-flex)".into()
    }
}

/// A device by name: `cpu` (burn-flex) or `cuda` (needs the `cuda` feature).
pub fn device_by_name(name: &str) -> Result<Device, ModelError> {
    match name {
        "cpu" | "flex" => Ok(default_device()),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(cuda_device()),
        #[cfg(not(feature = "cuda"))]
        "cuda" => Err(ModelError::Device {
            name: name.into(),
            msg: "this build has no CUDA backend: rebuild with `--features cuda`".into(),
        }),
        other => Err(ModelError::Device {
            name: crate::model::import::pickle::short(other),
            msg: "expected cpu or cuda".into(),
        }),
    }
}

/// A fully connected layer's parameters: `weight` `[out, in]`, `bias` `[out]`.
#[derive(Module, Debug)]
pub struct Dense {
    /// `[out, in]`.
    pub weight: Param<Tensor<2>>,
    /// `[out]`.
    pub bias: Option<Param<Tensor<1>>>,
}

/// A convolution's parameters: `weight` `[out, in/groups, kh, kw]`, `bias` `[out]`.
#[derive(Module, Debug)]
pub struct Conv {
    /// `[out, in/groups, kh, kw]`.
    pub weight: Param<Tensor<4>>,
    /// `[out]`.
    pub bias: Option<Param<Tensor<1>>>,
}

/// How a node is computed; indices point into [`Network`]'s parameter lists.
#[derive(Clone, Debug)]
enum Step {
    Input,
    /// `x·scale + shift` with per-entry vectors over the whole input (`[numel]`).
    Elementwise {
        scale: Vec<f32>,
        shift: Vec<f32>,
    },
    /// `x·scale[c] + shift[c]` per channel.
    Channelwise {
        scale: Vec<f32>,
        shift: Vec<f32>,
    },
    Linear(usize),
    Conv(usize, ConvOptions<2>),
    MaxPool(MaxPoolOptions<2>),
    AvgPool(AvgPoolOptions<2>),
    Adaptive([usize; 2]),
    Relu,
    Clip(f32, f32),
    Leaky(f64),
    Sigmoid,
    Tanh,
    Add,
    Concat,
    Reshape,
}

/// A network on a burn device.
#[derive(Module, Debug)]
pub struct Network {
    dense: Vec<Dense>,
    conv: Vec<Conv>,
    #[module(skip)]
    steps: Vec<Step>,
    /// The structure: the weights of linear and convolution layers live only in `dense`
    /// and `conv` ([`Graph::without_weights`]).
    #[module(skip)]
    graph: Graph,
    #[module(skip)]
    shapes: Vec<Shape>,
    #[module(skip)]
    last_use: Vec<usize>,
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

#[derive(Clone)]
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

    fn map(self, shape: Shape) -> Tensor<4> {
        match (self, shape) {
            (Act::Map(t), _) => t,
            (Act::Flat(t), Shape::Chw([c, h, w])) => {
                let b = t.dims()[0];
                t.reshape([b, c, h, w])
            }
            (Act::Flat(t), Shape::Flat(n)) => {
                let b = t.dims()[0];
                t.reshape([b, n, 1, 1])
            }
        }
    }

    /// The same data with the layout of `shape`.
    fn shaped(self, shape: Shape) -> Act {
        match shape {
            Shape::Chw(_) => Act::Map(self.map(shape)),
            Shape::Flat(_) => Act::Flat(self.flat()),
        }
    }

    fn unary(self, f: impl Fn(Tensor<2>) -> Tensor<2>, g: impl Fn(Tensor<4>) -> Tensor<4>) -> Act {
        match self {
            Act::Flat(t) => Act::Flat(f(t)),
            Act::Map(t) => Act::Map(g(t)),
        }
    }
}

fn pairs(p: [usize; 4]) -> [(usize, usize); 2] {
    [(p[0], p[2]), (p[1], p[3])]
}

impl Network {
    /// Builds the network on `device` from its graph (validated).
    pub fn from_graph(graph: &Graph, device: &Device) -> Result<Self, ModelError> {
        graph.check()?;
        let shapes = graph.shapes()?;
        let mut dense = Vec::new();
        let mut conv = Vec::new();
        let mut steps = Vec::with_capacity(graph.nodes.len());
        for (i, node) in graph.nodes.iter().enumerate() {
            let in_shape = node.inputs.first().map(|&k| shapes[k]).unwrap_or(shapes[0]);
            let (channels, plane) = in_shape.channels_and_plane();
            let full = |scale: &[f32], shift: &[f32]| -> Step {
                let n = channels * plane;
                Step::Elementwise {
                    scale: (0..n).map(|k| per_channel(scale, k / plane)).collect(),
                    shift: (0..n).map(|k| per_channel(shift, k / plane)).collect(),
                }
            };
            let bias = |b: &Option<Vec<f32>>, n: usize| {
                b.as_ref()
                    .map(|b| Param::from_tensor(tensor(b, [n], device)))
            };
            steps.push(match &node.op {
                Op::Input => Step::Input,
                Op::Normalize { mean, std } => {
                    let scale: Vec<f32> =
                        (0..channels).map(|c| 1.0 / per_channel(std, c)).collect();
                    let shift: Vec<f32> = (0..channels)
                        .map(|c| -per_channel(mean, c) / per_channel(std, c))
                        .collect();
                    full(&scale, &shift)
                }
                Op::ChannelAffine { scale, shift } => {
                    let sc: Vec<f32> = (0..channels).map(|c| per_channel(scale, c)).collect();
                    let sh: Vec<f32> = (0..channels).map(|c| per_channel(shift, c)).collect();
                    Step::Channelwise {
                        scale: sc,
                        shift: sh,
                    }
                }
                Op::BatchNorm { .. } => {
                    let (s, t) = node.op.batchnorm_scale_shift().expect("batch norm");
                    Step::Channelwise {
                        scale: s.iter().map(|&v| v as f32).collect(),
                        shift: t.iter().map(|&v| v as f32).collect(),
                    }
                }
                Op::Linear {
                    in_features,
                    out_features,
                    weight,
                    bias: b,
                } => {
                    dense.push(Dense {
                        weight: Param::from_tensor(tensor(
                            weight,
                            [*out_features, *in_features],
                            device,
                        )),
                        bias: bias(b, *out_features),
                    });
                    Step::Linear(dense.len() - 1)
                }
                Op::Conv2d {
                    in_channels,
                    out_channels,
                    kernel,
                    stride,
                    padding,
                    dilation,
                    groups,
                    weight,
                    bias: b,
                } => {
                    conv.push(Conv {
                        weight: Param::from_tensor(tensor(
                            weight,
                            [*out_channels, in_channels / groups, kernel[0], kernel[1]],
                            device,
                        )),
                        bias: bias(b, *out_channels),
                    });
                    let mut opts = ConvOptions::new(*stride, [0, 0], *dilation, *groups);
                    opts.padding = pairs(*padding);
                    Step::Conv(conv.len() - 1, opts)
                }
                Op::MaxPool2d {
                    kernel,
                    stride,
                    padding,
                    dilation,
                    ceil_mode,
                } => {
                    let mut opts = MaxPoolOptions::new(*kernel);
                    opts.stride = *stride;
                    opts.padding = pairs(*padding);
                    opts.dilation = *dilation;
                    opts.ceil_mode = *ceil_mode;
                    Step::MaxPool(opts)
                }
                Op::AvgPool2d {
                    kernel,
                    stride,
                    padding,
                    ceil_mode,
                    count_include_pad,
                } => {
                    let mut opts = AvgPoolOptions::new(*kernel);
                    opts.stride = *stride;
                    opts.padding = pairs(*padding);
                    opts.ceil_mode = *ceil_mode;
                    opts.count_include_pad = *count_include_pad;
                    Step::AvgPool(opts)
                }
                Op::AdaptiveAvgPool2d { output } => Step::Adaptive(*output),
                Op::Relu => Step::Relu,
                Op::Clip { min, max } => Step::Clip(*min, *max),
                Op::LeakyRelu { alpha } => Step::Leaky(f64::from(*alpha)),
                Op::Sigmoid => Step::Sigmoid,
                Op::Tanh => Step::Tanh,
                Op::Add => Step::Add,
                Op::Concat => Step::Concat,
                Op::Flatten | Op::Reshape { .. } | Op::Identity => Step::Reshape,
            });
            let _ = i;
        }
        Ok(Self {
            dense,
            conv,
            steps,
            last_use: graph.last_use(),
            graph: graph.without_weights(),
            shapes,
        })
    }

    /// The graph with the current weights.
    pub fn to_graph(&self) -> Graph {
        let mut graph = self.graph.clone();
        let (mut di, mut ci) = (0, 0);
        for node in &mut graph.nodes {
            let (params, bias_dst, weight_dst) = match &mut node.op {
                Op::Linear { weight, bias, .. } => {
                    let d = &self.dense[di];
                    di += 1;
                    (
                        (
                            to_vec(d.weight.val()),
                            d.bias.as_ref().map(|b| to_vec(b.val())),
                        ),
                        bias,
                        weight,
                    )
                }
                Op::Conv2d { weight, bias, .. } => {
                    let c = &self.conv[ci];
                    ci += 1;
                    (
                        (
                            to_vec(c.weight.val()),
                            c.bias.as_ref().map(|b| to_vec(b.val())),
                        ),
                        bias,
                        weight,
                    )
                }
                _ => continue,
            };
            *weight_dst = params.0;
            *bias_dst = params.1;
        }
        graph
    }

    /// The structure of the graph this network was built from: without the weights and
    /// biases of its linear and convolution layers ([`Graph::without_weights`]; those are
    /// in [`Network::to_graph`]).
    pub fn structure(&self) -> &Graph {
        &self.graph
    }

    /// Output shape of each node (node 0: the input).
    pub fn shapes(&self) -> &[Shape] {
        &self.shapes
    }

    /// Output of node `last` for a batch `[B, C·H·W]`, flattened to `[B, numel]`. Only the
    /// nodes `last` depends on are computed.
    pub fn forward_to(&self, x: Tensor<2>, last: usize) -> Tensor<2> {
        self.forward_many(x, &[last]).remove(0)
    }

    /// Outputs of the nodes `wanted` for a batch `[B, C·H·W]`, each flattened to
    /// `[B, numel]`, from one pass that computes only the nodes they depend on.
    pub fn forward_many(&self, x: Tensor<2>, wanted: &[usize]) -> Vec<Tensor<2>> {
        let device = x.device();
        let last = wanted.iter().copied().max().unwrap_or(0);
        let mut needed = vec![false; self.steps.len()];
        for &w in wanted {
            for (n, a) in needed.iter_mut().zip(self.graph.ancestors(w)) {
                *n |= a;
            }
        }
        let keep: Vec<bool> = (0..self.steps.len()).map(|i| wanted.contains(&i)).collect();
        let mut vals: Vec<Option<Act>> = vec![None; self.steps.len()];
        vals[0] = Some(Act::Flat(x));
        for i in 1..=last {
            if !needed[i] {
                continue;
            }
            let node = &self.graph.nodes[i];
            let in_shape = self.shapes[node.inputs[0]];
            let out_shape = self.shapes[i];
            // Take an input out of `vals` when this is its last reader, else clone it.
            let take = |k: usize, vals: &mut Vec<Option<Act>>| -> Act {
                if self.last_use[k] <= i && !keep[k] {
                    vals[k].take().expect("input computed")
                } else {
                    vals[k].clone().expect("input computed")
                }
            };
            let y = match &self.steps[i] {
                Step::Input => unreachable!("input inside the graph"),
                Step::Elementwise { scale, shift } => {
                    let n = scale.len();
                    let flat = take(node.inputs[0], &mut vals).flat();
                    let s = tensor(scale, [1, n], &device);
                    let b = tensor(shift, [1, n], &device);
                    Act::Flat(flat * s + b).shaped(out_shape)
                }
                Step::Channelwise { scale, shift } => {
                    let c = scale.len();
                    match take(node.inputs[0], &mut vals).shaped(in_shape) {
                        Act::Map(t) => {
                            let s = tensor(scale, [1, c, 1, 1], &device);
                            let b = tensor(shift, [1, c, 1, 1], &device);
                            Act::Map(t * s + b)
                        }
                        Act::Flat(t) => {
                            let s = tensor(scale, [1, c], &device);
                            let b = tensor(shift, [1, c], &device);
                            Act::Flat(t * s + b)
                        }
                    }
                }
                Step::Linear(k) => {
                    let l = &self.dense[*k];
                    let y = take(node.inputs[0], &mut vals)
                        .flat()
                        .matmul(l.weight.val().transpose());
                    Act::Flat(match &l.bias {
                        Some(b) => y + b.val().unsqueeze::<2>(),
                        None => y,
                    })
                }
                Step::Conv(k, opts) => {
                    let c = &self.conv[*k];
                    let x = take(node.inputs[0], &mut vals).map(in_shape);
                    Act::Map(conv2d(
                        x,
                        c.weight.val(),
                        c.bias.as_ref().map(|b| b.val()),
                        opts.clone(),
                    ))
                }
                Step::MaxPool(opts) => {
                    let x = take(node.inputs[0], &mut vals).map(in_shape);
                    Act::Map(max_pool2d(x, opts.clone()))
                }
                Step::AvgPool(opts) => {
                    let x = take(node.inputs[0], &mut vals).map(in_shape);
                    Act::Map(avg_pool2d(x, opts.clone()))
                }
                Step::Adaptive(out) => {
                    let x = take(node.inputs[0], &mut vals).map(in_shape);
                    Act::Map(adaptive_avg_pool2d(x, *out))
                }
                Step::Relu => take(node.inputs[0], &mut vals).unary(relu, relu),
                Step::Clip(lo, hi) => {
                    let (lo, hi) = (*lo, *hi);
                    take(node.inputs[0], &mut vals).unary(|t| t.clamp(lo, hi), |t| t.clamp(lo, hi))
                }
                Step::Leaky(a) => {
                    let a = *a;
                    take(node.inputs[0], &mut vals)
                        .unary(|t| leaky_relu(t, a), |t| leaky_relu(t, a))
                }
                Step::Sigmoid => take(node.inputs[0], &mut vals).unary(sigmoid, sigmoid),
                Step::Tanh => take(node.inputs[0], &mut vals).unary(tanh, tanh),
                Step::Add => {
                    let mut acc = take(node.inputs[0], &mut vals).flat();
                    for &k in &node.inputs[1..] {
                        acc = acc + take(k, &mut vals).flat();
                    }
                    Act::Flat(acc).shaped(out_shape)
                }
                Step::Concat => {
                    let parts: Vec<Tensor<2>> = node
                        .inputs
                        .iter()
                        .map(|&k| take(k, &mut vals).flat())
                        .collect();
                    Act::Flat(Tensor::cat(parts, 1)).shaped(out_shape)
                }
                Step::Reshape => take(node.inputs[0], &mut vals).shaped(out_shape),
            };
            vals[i] = Some(y);
        }
        wanted
            .iter()
            .map(|&w| vals[w].clone().expect("computed").flat())
            .collect()
    }

    /// The rows of `W` of node `name` as `[units, dim]` (a `Linear`'s weight; a `Conv2d`'s
    /// filters flattened over `[in/groups, kh, kw]`), tracked by autodiff like the weights
    /// themselves; `None` for another node or an unknown name.
    pub fn weight_rows(&self, name: &str) -> Option<Tensor<2>> {
        let i = self.graph.find(name)?;
        match &self.steps[i] {
            Step::Linear(k) => Some(self.dense[*k].weight.val()),
            Step::Conv(k, _) => {
                let w = self.conv[*k].weight.val();
                let [o, c, kh, kw] = w.dims();
                Some(w.reshape([o, c * kh * kw]))
            }
            _ => None,
        }
    }

    /// Logits `[B, classes]` for a batch `[B, C·H·W]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward_to(x, self.steps.len() - 1)
    }

    /// Class probabilities `[B, classes]` for host inputs (no gradients).
    pub fn predict(&self, x: &[f32], device: &Device) -> Vec<Vec<f32>> {
        let d = self.graph.input_len();
        if x.is_empty() {
            return Vec::new();
        }
        let logits = self.forward(batch(x, d, device));
        let classes = logits.dims()[1];
        let p = to_vec(burn::tensor::activation::softmax(logits, 1));
        p.chunks(classes).map(|c| c.to_vec()).collect()
    }

    /// Output of node `last` for host inputs, one `Vec` per example (no gradients).
    pub fn activations(&self, x: &[f32], last: usize, device: &Device) -> Vec<Vec<f32>> {
        let d = self.graph.input_len();
        if x.is_empty() {
            return Vec::new();
        }
        let y = self.forward_to(batch(x, d, device), last);
        let n = y.dims()[1];
        to_vec(y).chunks(n).map(|c| c.to_vec()).collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cpu_device_is_labelled_by_its_backend() {
        assert_eq!(
            super::device_label(&super::default_device()),
            "cpu (burn-flex)"
        );
    }
}
