//! Model specs: a small TOML file saying which architecture, which weights file and what
//! preprocessing, so that users always feed raw pixels in `[0, 1]` (RGB) and normalization
//! lives inside the network.
//!
//! ```toml
//! arch = "mlp"                  # mlp | lenet5 | vgg16 | custom | onnx
//! weights = "mlp.pth"           # relative to the spec file
//! format = "auto"               # auto (magic bytes) | safetensors | pth | npz | onnx
//! input_shape = [1, 28, 28]     # optional; default from the architecture / ONNX graph
//! pixel_bounds = [0.0, 1.0]
//! hidden = [16, 16]             # mlp only: hidden widths (default [256, 256])
//! classes = 10                  # mlp / custom: outputs (custom: implied by the layers)
//! remap = [["net.", ""], ["classifier.", "fc"]]   # key prefix rules, first match wins
//!
//! [[layers]]                    # arch = "custom": in-sizes are inferred
//! kind = "conv"                 # conv | linear | relu | maxpool | flatten
//! name = "conv1"                # optional (conv1…, fc1…, relu1…, pool1…, flatten)
//! out = 4
//! kernel = 3
//! stride = 1
//! padding = 1
//!
//! [preprocess]                  # what the weights expect
//! mean = [123.68, 116.779, 103.939]   # in the model's scale and channel order
//! std = [1.0, 1.0, 1.0]
//! channel_order = "bgr"         # rgb (default) | bgr
//! scale = 255                   # 1 (pixels in [0, 1], default) | 255
//! ```
//!
//! Without `[preprocess]` the network keeps its own normalization (the architecture's default,
//! the ONNX graph's `Sub`/`Div`, or the `vgg16_weights.npz` means). With it, the model input is
//! `x_m = scale · perm(x)` and the model normalizes `(x_m − mean) / std` (mean/std default to
//! the network's own first `Normalize`, else none); this is rewritten as one `Normalize` on raw
//! `[0, 1]` RGB pixels (`mean/scale`, `std/scale`, channels permuted) with the first affine
//! layer's input channels permuted for BGR.
use super::keymap::Layout;
use super::load::{load_weights_bytes, Format};
use super::{onnx, safetensors::map_file, ImportError};
use crate::model::arch;
use crate::model::graph::{Graph, GraphBuilder, Node, Op, Shape};
use rand::SeedableRng;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One layer of a `custom` architecture.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// `conv`, `linear`, `relu`, `maxpool` or `flatten`.
    pub kind: String,
    /// Layer name (default by kind and count).
    pub name: Option<String>,
    /// Output channels / features.
    pub out: Option<usize>,
    /// Square kernel (conv, maxpool).
    pub kernel: Option<usize>,
    /// Step (default 1 for conv, `kernel` for maxpool).
    pub stride: Option<usize>,
    /// Zero padding (conv).
    pub padding: Option<usize>,
}

/// Preprocessing the weights expect.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preprocess {
    /// Per-channel (or single) mean in the model's scale and channel order.
    pub mean: Option<Vec<f32>>,
    /// Per-channel (or single) standard deviation, likewise.
    pub std: Option<Vec<f32>>,
    /// `rgb` (default) or `bgr`.
    pub channel_order: Option<String>,
    /// 1 (default) or 255: the pixel range the model was trained on.
    pub scale: Option<f32>,
}

/// A model spec (see the module docs).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// `mlp`, `lenet5`, `vgg16`, `custom` or `onnx`.
    pub arch: String,
    /// Weights file (relative paths are relative to the spec file).
    pub weights: PathBuf,
    /// `auto` (default), `safetensors`, `pth`, `npz` or `onnx`.
    pub format: Option<String>,
    /// Input `[C, H, W]`.
    pub input_shape: Option<[usize; 3]>,
    /// Raw pixel bounds (default `[0, 1]`).
    pub pixel_bounds: Option<[f32; 2]>,
    /// `mlp`: hidden widths.
    pub hidden: Option<Vec<usize>>,
    /// `mlp`: number of classes.
    pub classes: Option<usize>,
    /// `custom`: the layers.
    pub layers: Option<Vec<LayerSpec>>,
    /// Key prefix rules `[from, to]`, first match wins.
    #[serde(default)]
    pub remap: Vec<(String, String)>,
    /// Preprocessing the weights expect.
    pub preprocess: Option<Preprocess>,
}

impl ModelSpec {
    /// Parses a spec; relative `weights` paths are resolved against `base` (the spec's folder).
    pub fn parse(text: &str, path: &str, base: Option<&Path>) -> Result<ModelSpec, ImportError> {
        let mut spec: ModelSpec = toml::from_str(text).map_err(|e| ImportError::Spec {
            path: path.into(),
            msg: e.to_string(),
        })?;
        if let Some(b) = base {
            if spec.weights.is_relative() {
                spec.weights = b.join(&spec.weights);
            }
        }
        Ok(spec)
    }

    /// Reads a spec file.
    pub fn from_file(path: &Path) -> Result<ModelSpec, ImportError> {
        let text = std::fs::read_to_string(path).map_err(|e| ImportError::io(path, e))?;
        ModelSpec::parse(&text, &path.display().to_string(), path.parent())
    }
}

fn spec_err(path: &str, msg: impl Into<String>) -> ImportError {
    ImportError::Spec {
        path: path.into(),
        msg: msg.into(),
    }
}

fn zero_linear(inp: usize, out: usize) -> Op {
    Op::Linear {
        in_features: inp,
        out_features: out,
        weight: vec![0.0; inp * out],
        bias: Some(vec![0.0; out]),
    }
}

/// The structure (zero weights) a spec describes; `None` for `onnx`.
pub fn template(spec: &ModelSpec, path: &str) -> Result<Option<Graph>, ImportError> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut net = match spec.arch.as_str() {
        "onnx" => return Ok(None),
        "lenet5" | "lenet" => arch::lenet5(&mut rng),
        "vgg16" => arch::vgg16(&mut rng),
        "mlp" => {
            let shape = spec.input_shape.unwrap_or([1, 28, 28]);
            let hidden = spec.hidden.clone().unwrap_or(vec![256, 256]);
            let mut b = GraphBuilder::new("mlp", shape);
            let mut x = 0;
            if shape[0] == 1 {
                x = b.normalize("norm", x, &[arch::MNIST_MEAN], &[arch::MNIST_STD]);
            }
            x = b.flatten("flatten", x);
            let mut inp = shape.iter().product();
            for (i, &h) in hidden.iter().enumerate() {
                x = b.push(&format!("fc{}", i + 1), zero_linear(inp, h), &[x]);
                x = b.relu(&format!("relu{}", i + 1), x);
                inp = h;
            }
            b.push(
                &format!("fc{}", hidden.len() + 1),
                zero_linear(inp, spec.classes.unwrap_or(10)),
                &[x],
            );
            b.finish()
        }
        "custom" => {
            let shape = spec
                .input_shape
                .ok_or_else(|| spec_err(path, "arch = \"custom\" needs input_shape = [C, H, W]"))?;
            let specs = spec
                .layers
                .as_ref()
                .filter(|l| !l.is_empty())
                .ok_or_else(|| spec_err(path, "arch = \"custom\" needs [[layers]]"))?;
            let mut b = GraphBuilder::new("custom", shape);
            let mut cur = Shape::Chw(shape);
            let (mut nc, mut nf, mut nr, mut np, mut nfl) = (0, 0, 0, 0, 0);
            for (i, l) in specs.iter().enumerate() {
                let need = |v: Option<usize>, what: &str| {
                    v.ok_or_else(|| {
                        spec_err(path, format!("layer {} ({}) needs '{what}'", i + 1, l.kind))
                    })
                };
                let (default_name, op) = match l.kind.as_str() {
                    "conv" => {
                        nc += 1;
                        let (o, k) = (need(l.out, "out")?, need(l.kernel, "kernel")?);
                        let c = match cur {
                            Shape::Chw([c, _, _]) => c,
                            Shape::Flat(_) => 0,
                        };
                        let p = l.padding.unwrap_or(0);
                        (
                            format!("conv{nc}"),
                            Op::Conv2d {
                                in_channels: c,
                                out_channels: o,
                                kernel: [k, k],
                                stride: [l.stride.unwrap_or(1); 2],
                                padding: [p; 4],
                                dilation: [1, 1],
                                groups: 1,
                                weight: vec![0.0; o * c * k * k],
                                bias: Some(vec![0.0; o]),
                            },
                        )
                    }
                    "linear" | "fc" => {
                        nf += 1;
                        let o = need(l.out, "out")?;
                        (format!("fc{nf}"), zero_linear(cur.len(), o))
                    }
                    "relu" => {
                        nr += 1;
                        (format!("relu{nr}"), Op::Relu)
                    }
                    "maxpool" | "pool" => {
                        np += 1;
                        let k = need(l.kernel, "kernel")?;
                        (
                            format!("pool{np}"),
                            Op::MaxPool2d {
                                kernel: [k, k],
                                stride: [l.stride.unwrap_or(k); 2],
                                padding: [0; 4],
                                dilation: [1, 1],
                                ceil_mode: false,
                            },
                        )
                    }
                    "flatten" => {
                        nfl += 1;
                        (
                            if nfl == 1 { "flatten".into() } else { format!("flatten{nfl}") },
                            Op::Flatten,
                        )
                    }
                    other => {
                        return Err(spec_err(
                            path,
                            format!("layer {}: unknown kind '{other}' (conv, linear, relu, maxpool, flatten)", i + 1),
                        ))
                    }
                };
                let name = l.name.clone().unwrap_or(default_name);
                cur = op
                    .output_shape(&name, &[cur])
                    .map_err(|e| spec_err(path, e.to_string()))?;
                let x = b.last();
                b.push(&name, op, &[x]);
            }
            b.finish()
        }
        other => {
            return Err(spec_err(
                path,
                format!("unknown arch '{other}' (mlp, lenet5, vgg16, custom, onnx)"),
            ))
        }
    };
    if let Some(s) = spec.input_shape {
        if spec.arch != "custom" && spec.arch != "mlp" && s != net.input_shape {
            return Err(spec_err(
                path,
                format!(
                    "arch '{}' takes input {:?}, the spec says {s:?}",
                    spec.arch, net.input_shape
                ),
            ));
        }
    }
    for n in &mut net.nodes {
        if let Op::Linear { weight, .. } | Op::Conv2d { weight, .. } = &mut n.op {
            weight.iter_mut().for_each(|w| *w = 0.0);
        }
    }
    Ok(Some(net))
}

/// Rewrites `net` so it takes raw `[0, 1]` RGB pixels (see the module docs).
pub fn apply_preprocess(net: &mut Graph, pre: &Preprocess, path: &str) -> Result<(), ImportError> {
    let scale = pre.scale.unwrap_or(1.0);
    if !(scale.is_finite() && scale > 0.0) {
        return Err(spec_err(
            path,
            format!("preprocess.scale must be positive, is {scale}"),
        ));
    }
    let bgr = match pre.channel_order.as_deref().unwrap_or("rgb") {
        "rgb" | "RGB" => false,
        "bgr" | "BGR" => true,
        other => {
            return Err(spec_err(
                path,
                format!("channel_order '{other}' is not rgb or bgr"),
            ))
        }
    };
    let c = net.input_shape[0];
    if bgr && c != 3 {
        return Err(spec_err(
            path,
            format!("channel_order = \"bgr\" needs 3 input channels, the network has {c}"),
        ));
    }
    let existing = match net.nodes.get(1).map(|n| &n.op) {
        Some(Op::Normalize { mean, std }) => Some((mean.clone(), std.clone())),
        _ => None,
    };
    let (mean, std) = match (&pre.mean, &pre.std, existing) {
        (Some(m), s, _) => (m.clone(), s.clone().unwrap_or(vec![1.0; m.len()])),
        (None, Some(s), _) => (vec![0.0; s.len()], s.clone()),
        (None, None, Some(e)) => e,
        (None, None, None) => (vec![0.0], vec![1.0]),
    };
    if mean.len() != std.len() || (mean.len() != c && mean.len() != 1) {
        return Err(spec_err(
            path,
            format!(
                "preprocess has {} means and {} stds for {c} channels",
                mean.len(),
                std.len()
            ),
        ));
    }
    let perm = |v: &[f32]| -> Vec<f32> {
        if bgr && v.len() == 3 {
            vec![v[2], v[1], v[0]]
        } else {
            v.to_vec()
        }
    };
    let op = Op::Normalize {
        mean: perm(&mean).iter().map(|m| m / scale).collect(),
        std: perm(&std).iter().map(|s| s / scale).collect(),
    };
    match net.nodes.get_mut(1) {
        Some(l) if matches!(l.op, Op::Normalize { .. }) => l.op = op,
        _ => {
            net.insert_node(
                1,
                Node {
                    name: "norm".into(),
                    op,
                    inputs: vec![0],
                },
            );
            for n in &mut net.nodes[2..] {
                for k in &mut n.inputs {
                    if *k == 0 {
                        *k = 1;
                    }
                }
            }
        }
    }
    if bgr {
        // The first affine layer sees channels in the user's RGB order: swap channels 0 and 2.
        let hw = net.input_shape[1] * net.input_shape[2];
        let first = net.nodes.iter_mut().find(|l| l.op.has_weights());
        match first.map(|l| &mut l.op) {
            Some(Op::Conv2d {
                in_channels,
                out_channels,
                kernel,
                weight,
                ..
            }) => {
                let k = kernel[0] * kernel[1];
                for o in 0..*out_channels {
                    let base = o * *in_channels * k;
                    for j in 0..k {
                        weight.swap(base + j, base + 2 * k + j);
                    }
                }
            }
            Some(Op::Linear {
                in_features,
                out_features,
                weight,
                ..
            }) => {
                for o in 0..*out_features {
                    let row = o * *in_features;
                    for j in 0..hw {
                        weight.swap(row + j, row + 2 * hw + j);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// What [`load_model`] found out besides the network.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The network, taking raw pixels in `pixel_bounds`.
    pub net: Graph,
    /// The format read.
    pub format: Format,
    /// How tensors were matched to layers (`None` for ONNX graphs).
    pub layout: Option<Layout>,
}

/// Loads the network a spec describes.
pub fn load_model(spec: &ModelSpec) -> Result<Graph, ImportError> {
    load_model_detailed(spec).map(|l| l.net)
}

/// [`load_model`], also saying which format and key layout were used.
pub fn load_model_detailed(spec: &ModelSpec) -> Result<Loaded, ImportError> {
    let path = spec.weights.display().to_string();
    let map = map_file(&spec.weights)?;
    let format = match spec.format.as_deref().unwrap_or("auto") {
        "auto" => super::load::detect_format(&map, &path)?,
        name => Format::from_name(name).ok_or_else(|| {
            spec_err(
                &path,
                format!("unknown format '{name}' (auto, safetensors, pth, npz, onnx)"),
            )
        })?,
    };
    let (mut net, layout) = if spec.arch == "onnx" {
        if format != Format::Onnx {
            return Err(spec_err(
                &path,
                format!("arch = \"onnx\" needs an ONNX file, this is {format:?}"),
            ));
        }
        (onnx::read_onnx_file(&spec.weights, spec.input_shape)?, None)
    } else {
        let t = template(spec, &path)?.expect("not onnx");
        let (net, layout) = load_weights_bytes(&map, &path, Some(format), &t, &spec.remap)?;
        (net, Some(layout))
    };
    if let Some(pre) = &spec.preprocess {
        apply_preprocess(&mut net, pre, &path)?;
    }
    if let Some([lo, hi]) = spec.pixel_bounds {
        if !lo.is_finite() || !hi.is_finite() || lo >= hi {
            return Err(spec_err(
                &path,
                format!("pixel_bounds [{lo}, {hi}] is empty"),
            ));
        }
        net.pixel_bounds = (lo, hi);
    }
    net.check().map_err(|source| ImportError::Model {
        path: path.clone(),
        source,
    })?;
    Ok(Loaded {
        net,
        format,
        layout,
    })
}
