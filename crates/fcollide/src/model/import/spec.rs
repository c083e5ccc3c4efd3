//! Model specs: a small TOML file saying which architecture, which weights file and what
//! preprocessing, so that users always feed raw pixels in `[0, 1]` (RGB) and normalization
//! lives inside the network.
//!
//! ```toml
//! arch = "resnet18"             # a torchvision template (model::zoo::NAMES) | mlp | lenet5
//!                               # | custom | onnx
//! weights = "resnet18.pth"      # relative to the spec file
//! format = "auto"               # auto (magic bytes) | safetensors | pth | npz | onnx
//! input_shape = [3, 224, 224]   # optional; default from the architecture / ONNX graph
//! pixel_bounds = [0.0, 1.0]
//! hidden = [16, 16]             # mlp only: hidden widths (default [256, 256])
//! classes = 10                  # mlp (default 10) and templates (default: from the file)
//! remap = [["net.", ""], ["classifier.", "fc"]]   # key prefix rules, first match wins
//! ignore = ["steps"]            # tensors of the file that are not weights (else an error)
//! normalize = "imagenet"        # replaces the model's input normalization: none | mnist |
//!                               # imagenet | mean=…,std=…
//!
//! [[node]]                      # arch = "custom"; also [[layer]] / [[layers]]
//! name = "conv1"                # optional (conv1…, fc1…, relu1…, pool1…, bn1…, add1…)
//! op = "conv"                   # or kind = "conv"
//! inputs = ["input"]            # optional: the previous node ("input" is the raw input)
//! out = 4
//! kernel = 3                    # or [kh, kw]
//! stride = 1
//! padding = 1                   # or [ph, pw] or [top, left, bottom, right]
//!
//! [preprocess]                  # what the weights expect
//! mean = [123.68, 116.779, 103.939]   # in the model's scale and channel order
//! std = [1.0, 1.0, 1.0]
//! channel_order = "bgr"         # rgb (default) | bgr
//! scale = 255                   # 1 (pixels in [0, 1], default) | 255
//! ```
//!
//! **Operations of a custom graph** (`op`, its attributes, defaults in parentheses; sizes of
//! inputs are inferred): `conv` (`out`, `kernel`, `stride` (1), `padding` (0), `dilation`
//! (1), `groups` (1), `bias` (true)); `linear` / `fc` (`out`, `bias` (true)); `batchnorm` /
//! `bn` (`eps` (1e-5); tensors `weight`, `bias`, `running_mean`, `running_var`, folded into
//! the layer before it when it can be); `relu`; `relu6`; `clip` (`min`, `max`); `leaky_relu`
//! (`alpha` (0.01)); `sigmoid`; `tanh`; `maxpool` / `pool` (`kernel`, `stride` (= kernel),
//! `padding` (0), `dilation` (1), `ceil_mode` (false)); `avgpool` (`kernel`, `stride`,
//! `padding`, `ceil_mode`, `count_include_pad` (true)); `adaptive_avgpool` (`output`);
//! `global_avgpool`; `add` and `concat` (`inputs`, two or more); `flatten`; `reshape`
//! (`shape`, `[N]` or `[C, H, W]`); `identity` / `dropout`; `normalize` (`mean`, `std`);
//! `affine` (`scale`, `shift`, per channel). An attribute the operation does not take is an
//! error. The weights of `conv`, `linear` and `batchnorm` nodes come from the weights file
//! ([`super::keymap`]: by name, else by position); every tensor of the file must be used.
//!
//! **Limits.** A spec cannot describe a model larger than [`MAX_PARAMS`] weights, a layer
//! wider than [`MAX_UNITS`], an activation larger than [`MAX_ACTIVATION`] values, more than
//! [`MAX_NODES`] nodes or an input over [`MAX_INPUT_SIDE`] per side / [`MAX_INPUT_CHANNELS`]
//! channels; sizes are computed with checked arithmetic before anything is allocated.
//!
//! Without `[preprocess]` or `normalize` the network keeps its own normalization (the
//! architecture's, the ONNX graph's `Sub`/`Div`, or the `vgg16_weights.npz` means). With
//! `[preprocess]`, the model input is `x_m = scale · perm(x)` and the model normalizes
//! `(x_m − mean) / std` (mean/std default to the network's own normalization, else none);
//! this is rewritten as one `Normalize` on raw `[0, 1]` RGB pixels (`mean/scale`,
//! `std/scale`, channels permuted) with the first layer's input channels permuted for BGR.
//!
//! Errors in the spec itself name the spec file and the entry (`[[node]] entry 3 ('conv2',
//! conv)`); errors in the weights name the weights file.
use super::keymap::{self, Layout, MatchOptions};
use super::load::{detect_format, read_tensors, Format, VGG_NPZ_MEAN_255};
use super::{onnx, safetensors::map_file, ImportError};
use crate::model::arch;
use crate::model::graph::fold::Normalization;
use crate::model::graph::{Graph, GraphBuilder, Op, Shape};
use crate::model::zoo;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Most weights a spec's model may have (2²⁸, 1 GiB as f32; VGG-19 has 1.44·10⁸).
pub const MAX_PARAMS: usize = 1 << 28;
/// Most outputs (features or channels) of one node.
pub const MAX_UNITS: usize = 1 << 20;
/// Most values of one node's output for one example.
pub const MAX_ACTIVATION: usize = 1 << 28;
/// Most nodes of a custom graph (and hidden layers of an MLP).
pub const MAX_NODES: usize = 10_000;
/// Largest input height or width, and largest kernel, stride, padding or pooled size.
pub const MAX_INPUT_SIDE: usize = 8192;
/// Most input channels.
pub const MAX_INPUT_CHANNELS: usize = 1024;

/// A kernel, stride or size: one number or `[h, w]`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Pair {
    /// The same on both axes.
    One(usize),
    /// `[h, w]`.
    Two([usize; 2]),
}

impl Pair {
    fn get(self) -> [usize; 2] {
        match self {
            Pair::One(v) => [v, v],
            Pair::Two(v) => v,
        }
    }
}

/// Zero padding: one number, `[ph, pw]` or `[top, left, bottom, right]`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Padding {
    /// The same on every side.
    One(usize),
    /// `[ph, pw]` or `[top, left, bottom, right]`.
    Many(Vec<usize>),
}

/// One node of a `custom` architecture.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// The operation (see the module docs).
    #[serde(alias = "op")]
    pub kind: String,
    /// Node name (default by operation and count).
    pub name: Option<String>,
    /// Names of the nodes it reads (default: the previous node; `input` is the raw input).
    pub inputs: Option<Vec<String>>,
    /// Output channels / features.
    pub out: Option<usize>,
    /// Kernel size (conv, pools).
    pub kernel: Option<Pair>,
    /// Step (conv: 1; pools: the kernel).
    pub stride: Option<Pair>,
    /// Zero padding.
    pub padding: Option<Padding>,
    /// Spacing of kernel taps.
    pub dilation: Option<Pair>,
    /// Convolution groups.
    pub groups: Option<usize>,
    /// Whether a conv / linear layer has a bias (default true).
    pub bias: Option<bool>,
    /// Batch-norm epsilon.
    pub eps: Option<f32>,
    /// Clip bounds.
    pub min: Option<f32>,
    /// See `min`.
    pub max: Option<f32>,
    /// Leaky ReLU's negative slope.
    pub alpha: Option<f32>,
    /// Pools: round the output size up.
    pub ceil_mode: Option<bool>,
    /// Average pooling: count padding in the divisor.
    pub count_include_pad: Option<bool>,
    /// Adaptive pooling output size.
    pub output: Option<Pair>,
    /// Reshape target, `[N]` or `[C, H, W]`.
    pub shape: Option<Vec<usize>>,
    /// Normalize: per-channel mean.
    pub mean: Option<Vec<f32>>,
    /// Normalize: per-channel standard deviation.
    pub std: Option<Vec<f32>>,
    /// Affine: per-channel scale.
    pub scale: Option<Vec<f32>>,
    /// Affine: per-channel shift.
    pub shift: Option<Vec<f32>>,
}

impl LayerSpec {
    /// The attributes given (besides `kind`, `name`, `inputs`).
    fn given(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut f = |b: bool, n: &'static str| {
            if b {
                v.push(n)
            }
        };
        f(self.out.is_some(), "out");
        f(self.kernel.is_some(), "kernel");
        f(self.stride.is_some(), "stride");
        f(self.padding.is_some(), "padding");
        f(self.dilation.is_some(), "dilation");
        f(self.groups.is_some(), "groups");
        f(self.bias.is_some(), "bias");
        f(self.eps.is_some(), "eps");
        f(self.min.is_some(), "min");
        f(self.max.is_some(), "max");
        f(self.alpha.is_some(), "alpha");
        f(self.ceil_mode.is_some(), "ceil_mode");
        f(self.count_include_pad.is_some(), "count_include_pad");
        f(self.output.is_some(), "output");
        f(self.shape.is_some(), "shape");
        f(self.mean.is_some(), "mean");
        f(self.std.is_some(), "std");
        f(self.scale.is_some(), "scale");
        f(self.shift.is_some(), "shift");
        v
    }
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
    /// A template name ([`zoo::NAMES`]), `mlp`, `lenet5`, `custom` or `onnx`.
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
    /// `mlp` and templates: number of classes.
    pub classes: Option<usize>,
    /// `custom`: the nodes.
    #[serde(alias = "node", alias = "nodes", alias = "layer")]
    pub layers: Option<Vec<LayerSpec>>,
    /// Key prefix rules `[from, to]`, first match wins.
    #[serde(default)]
    pub remap: Vec<(String, String)>,
    /// Keys of the file that are not weights.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Replaces the model's input normalization.
    pub normalize: Option<String>,
    /// Preprocessing the weights expect.
    pub preprocess: Option<Preprocess>,
    /// The spec file, for messages (set by [`ModelSpec::parse`]).
    #[serde(skip)]
    pub source: Option<String>,
}

impl ModelSpec {
    /// Parses a spec; relative `weights` paths are resolved against `base` (the spec's folder).
    /// `path` names the spec in messages.
    /// Strings and keys longer than [`MAX_SPEC_STRING`] bytes are refused, and a syntax
    /// error quotes at most [`MAX_QUOTED_LINE`] characters of the line it is on, so that a
    /// huge field is never echoed into a message.
    pub fn parse(text: &str, path: &str, base: Option<&Path>) -> Result<ModelSpec, ImportError> {
        let syntax = |e: toml::de::Error| ImportError::Spec {
            path: path.into(),
            msg: shorten_lines(&e.to_string()),
        };
        // (A generic table cannot hold integers above i64::MAX, which the typed parse below
        // reads or explains: only a table that parses is checked here.)
        if let Ok(table) = toml::from_str::<toml::Table>(text) {
            if let Some(msg) = long_string(&table, "") {
                return Err(spec_err(path, msg));
            }
        }
        let mut spec: ModelSpec = toml::from_str(text).map_err(syntax)?;
        if let Some(b) = base {
            if spec.weights.is_relative() {
                spec.weights = b.join(&spec.weights);
            }
        }
        spec.source = Some(path.to_string());
        Ok(spec)
    }

    /// Reads a spec file (a regular UTF-8 file of at most `max_text_bytes`,
    /// [`crate::fsutil::read_text`]).
    pub fn from_file(path: &Path) -> Result<ModelSpec, ImportError> {
        let text = crate::fsutil::read_text(path).map_err(|e| ImportError::io(path, e))?;
        ModelSpec::parse(&text, &path.display().to_string(), path.parent())
    }

    /// The spec file's name for messages.
    fn name(&self) -> String {
        self.source.clone().unwrap_or_else(|| "(model spec)".into())
    }
}

/// Longest string or key a spec may hold (a name, a path, an operation), in bytes.
pub const MAX_SPEC_STRING: usize = 4096;
/// Most characters of a spec line quoted in a syntax error.
pub const MAX_QUOTED_LINE: usize = 200;

/// `text` with every line cut to [`MAX_QUOTED_LINE`] characters.
fn shorten_lines(text: &str) -> String {
    text.lines()
        .map(|l| match l.char_indices().nth(MAX_QUOTED_LINE) {
            Some((i, _)) => format!("{}…", &l[..i]),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first string or key of `table` longer than [`MAX_SPEC_STRING`], as a message.
fn long_string(table: &toml::Table, at: &str) -> Option<String> {
    fn value(v: &toml::Value, at: &str) -> Option<String> {
        match v {
            toml::Value::String(s) if s.len() > MAX_SPEC_STRING => Some(format!(
                "'{at}' is a string of {} bytes, longer than the {MAX_SPEC_STRING} a spec allows",
                s.len()
            )),
            toml::Value::Array(a) => a
                .iter()
                .enumerate()
                .find_map(|(i, x)| value(x, &format!("{at}[{i}]"))),
            toml::Value::Table(t) => long_string(t, at),
            _ => None,
        }
    }
    table.iter().find_map(|(k, v)| {
        if k.len() > MAX_SPEC_STRING {
            return Some(format!(
                "a key of {} bytes ('{}'), longer than the {MAX_SPEC_STRING} a spec allows",
                k.len(),
                super::pickle::short(k)
            ));
        }
        let at = if at.is_empty() {
            k.clone()
        } else {
            format!("{at}.{k}")
        };
        value(v, &at)
    })
}

fn spec_err(path: &str, msg: impl Into<String>) -> ImportError {
    ImportError::Spec {
        path: path.into(),
        msg: msg.into(),
    }
}

/// Running count of a spec model's weights, checked against [`MAX_PARAMS`] before anything
/// is allocated.
struct Budget {
    params: usize,
}

impl Budget {
    /// Adds the product of `dims` (a tensor of that shape), or explains why it does not fit.
    fn take(&mut self, dims: &[usize]) -> Result<usize, String> {
        let n = dims
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&n| n <= MAX_PARAMS)
            .ok_or_else(|| {
                format!("a tensor of shape {dims:?} exceeds the limit of {MAX_PARAMS} weights")
            })?;
        self.params = self
            .params
            .checked_add(n)
            .filter(|&t| t <= MAX_PARAMS)
            .ok_or_else(|| {
                format!(
                    "the model would have more than {MAX_PARAMS} weights (the limit for a spec)"
                )
            })?;
        Ok(n)
    }
}

fn check_input_shape(shape: [usize; 3]) -> Result<(), String> {
    let [c, h, w] = shape;
    if c == 0 || h == 0 || w == 0 {
        return Err(format!("input_shape {shape:?} has an empty dimension"));
    }
    if c > MAX_INPUT_CHANNELS || h > MAX_INPUT_SIDE || w > MAX_INPUT_SIDE {
        return Err(format!(
            "input_shape {shape:?} exceeds the limits ({MAX_INPUT_CHANNELS} channels, {MAX_INPUT_SIDE} per side)"
        ));
    }
    Ok(())
}

fn zero_linear(budget: &mut Budget, inp: usize, out: usize, bias: bool) -> Result<Op, String> {
    let n = budget.take(&[out, inp])?;
    if bias {
        budget.take(&[out])?;
    }
    Ok(Op::Linear {
        in_features: inp,
        out_features: out,
        weight: vec![0.0; n],
        bias: bias.then(|| vec![0.0; out]),
    })
}

/// The MLP of a spec: `[norm,] flatten, fc1, relu1, …, fc{n+1}`.
fn mlp(spec: &ModelSpec, path: &str) -> Result<Graph, ImportError> {
    let shape = spec.input_shape.unwrap_or([1, 28, 28]);
    let hidden = spec.hidden.clone().unwrap_or(vec![256, 256]);
    let classes = spec.classes.unwrap_or(10);
    if hidden.len() > MAX_NODES {
        return Err(spec_err(
            path,
            format!("{} hidden layers (at most {MAX_NODES})", hidden.len()),
        ));
    }
    if let Some(&h) = hidden
        .iter()
        .chain([&classes])
        .find(|&&h| h == 0 || h > MAX_UNITS)
    {
        return Err(spec_err(
            path,
            format!("a layer of {h} units (hidden and classes must be in 1..={MAX_UNITS})"),
        ));
    }
    let mut budget = Budget { params: 0 };
    let mut b = GraphBuilder::new("mlp", shape);
    let mut x = 0;
    if shape[0] == 1 {
        x = b.normalize("norm", x, &[arch::MNIST_MEAN], &[arch::MNIST_STD]);
    }
    x = b.flatten("flatten", x);
    let mut inp = shape.iter().product();
    for (i, &h) in hidden.iter().enumerate() {
        let op = zero_linear(&mut budget, inp, h, true).map_err(|m| spec_err(path, m))?;
        x = b.push(&format!("fc{}", i + 1), op, &[x]);
        x = b.relu(&format!("relu{}", i + 1), x);
        inp = h;
    }
    let op = zero_linear(&mut budget, inp, classes, true).map_err(|m| spec_err(path, m))?;
    b.push(&format!("fc{}", hidden.len() + 1), op, &[x]);
    Ok(b.finish())
}

/// The operations a custom node may name.
const OPS: &str = "conv, linear, batchnorm, relu, relu6, clip, leaky_relu, sigmoid, tanh, maxpool, avgpool, adaptive_avgpool, global_avgpool, add, concat, flatten, reshape, identity, dropout, normalize, affine";

/// A custom graph from `[[node]]` entries.
fn custom(spec: &ModelSpec, path: &str) -> Result<Graph, ImportError> {
    let shape = spec
        .input_shape
        .ok_or_else(|| spec_err(path, "arch = \"custom\" needs input_shape = [C, H, W]"))?;
    let entries = spec
        .layers
        .as_ref()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| spec_err(path, "arch = \"custom\" needs [[node]] entries"))?;
    if entries.len() > MAX_NODES {
        return Err(spec_err(
            path,
            format!("{} nodes (at most {MAX_NODES})", entries.len()),
        ));
    }
    let mut b = GraphBuilder::new("custom", shape);
    let mut shapes: Vec<Shape> = vec![Shape::Chw(shape)];
    let mut names: Vec<String> = vec!["input".into()];
    let mut counts: std::collections::HashMap<&'static str, usize> = Default::default();
    let mut budget = Budget { params: 0 };
    for (i, l) in entries.iter().enumerate() {
        let kind = canonical_op(&l.kind);
        let label = match &l.name {
            Some(n) => format!("[[node]] entry {} ('{n}', {})", i + 1, l.kind),
            None => format!("[[node]] entry {} ({})", i + 1, l.kind),
        };
        let err = |msg: String| spec_err(path, format!("{label}: {msg}"));
        let kind =
            kind.ok_or_else(|| err(format!("unknown operation '{}' (one of: {OPS})", l.kind)))?;
        let allowed = allowed_attrs(kind);
        if let Some(a) = l.given().into_iter().find(|a| !allowed.contains(a)) {
            return Err(err(format!(
                "'{a}' does not apply to {kind} (it takes: {})",
                if allowed.is_empty() {
                    "no attributes".into()
                } else {
                    allowed.join(", ")
                }
            )));
        }
        let n = counts.entry(kind).or_insert(0);
        *n += 1;
        let name = match &l.name {
            Some(s) if s.is_empty() => return Err(err("an empty name".into())),
            Some(s) => s.clone(),
            None => default_name(kind, *n),
        };
        if names.contains(&name) {
            return Err(err(format!("the name '{name}' is already used")));
        }
        let inputs: Vec<usize> = match &l.inputs {
            None => vec![names.len() - 1],
            Some(v) => v
                .iter()
                .map(|s| {
                    names.iter().position(|n| n == s).ok_or_else(|| {
                        err(format!(
                            "input '{s}' is not an earlier node (known: {})",
                            names.join(", ")
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        if matches!(kind, "add" | "concat") && inputs.len() < 2 {
            return Err(err(format!(
                "{kind} needs `inputs` naming two or more nodes, has {}",
                inputs.len()
            )));
        }
        let ins: Vec<Shape> = inputs.iter().map(|&k| shapes[k]).collect();
        let op = make_op(kind, l, &ins, &mut budget).map_err(&err)?;
        let out = op
            .output_shape(&name, &ins)
            .map_err(|e| err(e.to_string()))?;
        if out.len() > MAX_ACTIVATION {
            return Err(err(format!(
                "its output {out} has more than {MAX_ACTIVATION} values"
            )));
        }
        b.push(&name, op, &inputs);
        shapes.push(out);
        names.push(name);
    }
    Ok(b.finish())
}

fn canonical_op(kind: &str) -> Option<&'static str> {
    Some(match kind.to_ascii_lowercase().as_str() {
        "conv" | "conv2d" => "conv",
        "linear" | "fc" | "gemm" | "dense" => "linear",
        "batchnorm" | "bn" | "batchnorm2d" | "batch_norm" => "batchnorm",
        "relu" => "relu",
        "relu6" => "relu6",
        "clip" | "hardtanh" => "clip",
        "leaky_relu" | "leakyrelu" => "leaky_relu",
        "sigmoid" => "sigmoid",
        "tanh" => "tanh",
        "maxpool" | "pool" | "maxpool2d" => "maxpool",
        "avgpool" | "avgpool2d" => "avgpool",
        "adaptive_avgpool" | "adaptiveavgpool" | "adaptiveavgpool2d" => "adaptive_avgpool",
        "global_avgpool" | "globalavgpool" | "gap" => "global_avgpool",
        "add" => "add",
        "concat" | "cat" => "concat",
        "flatten" => "flatten",
        "reshape" | "view" => "reshape",
        "identity" => "identity",
        "dropout" => "dropout",
        "normalize" => "normalize",
        "affine" | "channel_affine" => "affine",
        _ => return None,
    })
}

fn allowed_attrs(kind: &str) -> &'static [&'static str] {
    match kind {
        "conv" => &[
            "out", "kernel", "stride", "padding", "dilation", "groups", "bias",
        ],
        "linear" => &["out", "bias"],
        "batchnorm" => &["eps"],
        "clip" => &["min", "max"],
        "leaky_relu" => &["alpha"],
        "maxpool" => &["kernel", "stride", "padding", "dilation", "ceil_mode"],
        "avgpool" => &[
            "kernel",
            "stride",
            "padding",
            "ceil_mode",
            "count_include_pad",
        ],
        "adaptive_avgpool" => &["output"],
        "reshape" => &["shape"],
        "normalize" => &["mean", "std"],
        "affine" => &["scale", "shift"],
        _ => &[],
    }
}

fn default_name(kind: &str, n: usize) -> String {
    match kind {
        "conv" => format!("conv{n}"),
        "linear" => format!("fc{n}"),
        "batchnorm" => format!("bn{n}"),
        "maxpool" => format!("pool{n}"),
        "flatten" if n == 1 => "flatten".into(),
        k if k.ends_with(|c: char| c.is_ascii_digit()) => format!("{k}_{n}"),
        k => format!("{k}{n}"),
    }
}

/// A size attribute within [`MAX_INPUT_SIDE`] (and ≥ `min`).
fn side(
    v: Option<Pair>,
    what: &str,
    default: Option<[usize; 2]>,
    min: usize,
) -> Result<[usize; 2], String> {
    let v = match (v, default) {
        (Some(p), _) => p.get(),
        (None, Some(d)) => d,
        (None, None) => return Err(format!("needs '{what}'")),
    };
    if v.iter().any(|&x| x < min || x > MAX_INPUT_SIDE) {
        return Err(format!("{what} {v:?} must be in {min}..={MAX_INPUT_SIDE}"));
    }
    Ok(v)
}

fn padding(p: &Option<Padding>) -> Result<[usize; 4], String> {
    let v = match p {
        None => [0; 4],
        Some(Padding::One(v)) => [*v; 4],
        Some(Padding::Many(v)) => match v.as_slice() {
            [h, w] => [*h, *w, *h, *w],
            [t, l, b, r] => [*t, *l, *b, *r],
            _ => {
                return Err(format!(
                    "padding {v:?}: give one number, [ph, pw] or [top, left, bottom, right]"
                ))
            }
        },
    };
    if v.iter().any(|&x| x > MAX_INPUT_SIDE) {
        return Err(format!("padding {v:?} exceeds {MAX_INPUT_SIDE}"));
    }
    Ok(v)
}

fn units(v: Option<usize>, what: &str) -> Result<usize, String> {
    let v = v.ok_or_else(|| format!("needs '{what}'"))?;
    if v == 0 || v > MAX_UNITS {
        return Err(format!("{what} = {v} must be in 1..={MAX_UNITS}"));
    }
    Ok(v)
}

fn finite(v: Option<f32>, what: &str, default: Option<f32>) -> Result<f32, String> {
    let v = v.or(default).ok_or_else(|| format!("needs '{what}'"))?;
    if !v.is_finite() {
        return Err(format!("{what} = {v} is not finite"));
    }
    Ok(v)
}

/// The op of a custom node with zero weights, sizes inferred from its input shapes.
fn make_op(kind: &str, l: &LayerSpec, ins: &[Shape], budget: &mut Budget) -> Result<Op, String> {
    let chw = || match ins.first() {
        Some(Shape::Chw(d)) => Ok(*d),
        Some(s) => Err(format!("{kind} needs a [C, H, W] input, gets {s}")),
        None => Err(format!("{kind} needs an input")),
    };
    Ok(match kind {
        "conv" => {
            let [c, _, _] = chw()?;
            let out = units(l.out, "out")?;
            let kernel = side(l.kernel, "kernel", None, 1)?;
            let groups = l.groups.unwrap_or(1);
            if groups == 0 || c % groups != 0 || out % groups != 0 {
                return Err(format!(
                    "groups = {groups} must divide the {c} input and {out} output channels"
                ));
            }
            let n = budget.take(&[out, c / groups, kernel[0], kernel[1]])?;
            let bias = l.bias.unwrap_or(true);
            if bias {
                budget.take(&[out])?;
            }
            Op::Conv2d {
                in_channels: c,
                out_channels: out,
                kernel,
                stride: side(l.stride, "stride", Some([1, 1]), 1)?,
                padding: padding(&l.padding)?,
                dilation: side(l.dilation, "dilation", Some([1, 1]), 1)?,
                groups,
                weight: vec![0.0; n],
                bias: bias.then(|| vec![0.0; out]),
            }
        }
        "linear" => {
            let out = units(l.out, "out")?;
            let inp = ins.first().map(|s| s.len()).unwrap_or(0);
            zero_linear(budget, inp, out, l.bias.unwrap_or(true))?
        }
        "batchnorm" => {
            let (c, _) = ins
                .first()
                .map(|s| s.channels_and_plane())
                .unwrap_or((0, 0));
            budget.take(&[4, c])?;
            let eps = finite(l.eps, "eps", Some(1e-5))?;
            Op::BatchNorm {
                eps,
                weight: vec![1.0; c],
                bias: vec![0.0; c],
                mean: vec![0.0; c],
                var: vec![1.0; c],
            }
        }
        "relu" => Op::Relu,
        "relu6" => Op::Clip { min: 0.0, max: 6.0 },
        "clip" => Op::Clip {
            min: finite(l.min, "min", None)?,
            max: finite(l.max, "max", None)?,
        },
        "leaky_relu" => Op::LeakyRelu {
            alpha: finite(l.alpha, "alpha", Some(0.01))?,
        },
        "sigmoid" => Op::Sigmoid,
        "tanh" => Op::Tanh,
        "maxpool" => {
            let kernel = side(l.kernel, "kernel", None, 1)?;
            Op::MaxPool2d {
                kernel,
                stride: side(l.stride, "stride", Some(kernel), 1)?,
                padding: padding(&l.padding)?,
                dilation: side(l.dilation, "dilation", Some([1, 1]), 1)?,
                ceil_mode: l.ceil_mode.unwrap_or(false),
            }
        }
        "avgpool" => {
            let kernel = side(l.kernel, "kernel", None, 1)?;
            Op::AvgPool2d {
                kernel,
                stride: side(l.stride, "stride", Some(kernel), 1)?,
                padding: padding(&l.padding)?,
                ceil_mode: l.ceil_mode.unwrap_or(false),
                count_include_pad: l.count_include_pad.unwrap_or(true),
            }
        }
        "adaptive_avgpool" => Op::AdaptiveAvgPool2d {
            output: side(l.output, "output", None, 1)?,
        },
        "global_avgpool" => Op::AdaptiveAvgPool2d { output: [1, 1] },
        "add" => Op::Add,
        "concat" => Op::Concat,
        "flatten" => Op::Flatten,
        "reshape" => {
            let s = l.shape.as_ref().ok_or("needs 'shape'")?;
            let shape = match s.as_slice() {
                [n] if *n <= MAX_ACTIVATION => Shape::Flat(*n),
                [c, h, w] if *c <= MAX_UNITS && *h <= MAX_INPUT_SIDE && *w <= MAX_INPUT_SIDE => {
                    Shape::Chw([*c, *h, *w])
                }
                _ => {
                    return Err(format!(
                        "shape {s:?}: give [N] or [C, H, W] within the limits"
                    ))
                }
            };
            Op::Reshape { shape }
        }
        "identity" | "dropout" => Op::Identity,
        "normalize" => {
            let mean = l.mean.clone().ok_or("needs 'mean'")?;
            let std = l.std.clone().ok_or("needs 'std'")?;
            Op::Normalize { mean, std }
        }
        "affine" => Op::ChannelAffine {
            scale: l.scale.clone().unwrap_or(vec![1.0]),
            shift: l.shift.clone().unwrap_or(vec![0.0]),
        },
        other => unreachable!("canonical op {other}"),
    })
}

/// Checks the spec's own fields (everything but the weights file).
fn check_spec(spec: &ModelSpec, path: &str) -> Result<(), ImportError> {
    let err = |m: String| spec_err(path, m);
    let is_zoo = zoo::NAMES.contains(&spec.arch.as_str());
    let known = is_zoo
        || matches!(
            spec.arch.as_str(),
            "mlp" | "lenet5" | "lenet" | "custom" | "onnx"
        );
    if !known {
        return Err(err(format!(
            "unknown arch '{}' (mlp, lenet5, custom, onnx, or a torchvision template: {})",
            spec.arch,
            zoo::NAMES.join(", ")
        )));
    }
    if let Some(s) = spec.input_shape {
        check_input_shape(s).map_err(err)?;
        if is_zoo && s[0] != 3 {
            return Err(err(format!(
                "arch '{}' takes 3 input channels, input_shape says {s:?}",
                spec.arch
            )));
        }
        if matches!(spec.arch.as_str(), "lenet5" | "lenet") && s != [1, 28, 28] {
            return Err(err(format!(
                "arch 'lenet5' takes input [1, 28, 28], the spec says {s:?}"
            )));
        }
    }
    if spec.hidden.is_some() && spec.arch != "mlp" {
        return Err(err(format!(
            "'hidden' applies to arch = \"mlp\", not '{}'",
            spec.arch
        )));
    }
    if spec.classes.is_some() && !(is_zoo || spec.arch == "mlp") {
        return Err(err(format!(
            "'classes' applies to mlp and the templates, not '{}' (a custom graph's last node sets it)",
            spec.arch
        )));
    }
    if let Some(c) = spec.classes {
        if c == 0 || c > MAX_UNITS {
            return Err(err(format!("classes = {c} must be in 1..={MAX_UNITS}")));
        }
    }
    if spec.layers.is_some() && spec.arch != "custom" {
        return Err(err(format!(
            "[[node]] entries need arch = \"custom\", not '{}'",
            spec.arch
        )));
    }
    if spec.arch == "onnx" && (!spec.remap.is_empty() || !spec.ignore.is_empty()) {
        return Err(err(
            "remap and ignore do not apply to arch = \"onnx\" (the graph names its tensors)".into(),
        ));
    }
    if let Some([lo, hi]) = spec.pixel_bounds {
        if !lo.is_finite() || !hi.is_finite() || lo >= hi {
            return Err(err(format!("pixel_bounds [{lo}, {hi}] is empty")));
        }
    }
    if let Some(n) = &spec.normalize {
        Normalization::parse(n).map_err(|m| err(format!("normalize: {m}")))?;
        if spec.preprocess.is_some() {
            return Err(err("give either normalize or [preprocess], not both".into()));
        }
    }
    if let Some(f) = spec.format.as_deref() {
        if f != "auto" && Format::from_name(f).is_none() {
            return Err(err(format!(
                "unknown format '{f}' (auto, safetensors, pth, npz, onnx)"
            )));
        }
    }
    Ok(())
}

/// The structure (zero weights) a spec describes; `None` for `onnx`. A template without
/// `classes` gets 1000 classes here; [`load_model`] takes them from the file. `path` names the
/// spec in errors.
pub fn template(spec: &ModelSpec, path: &str) -> Result<Option<Graph>, ImportError> {
    check_spec(spec, path)?;
    let mut net = match spec.arch.as_str() {
        "onnx" => return Ok(None),
        "lenet5" | "lenet" => {
            let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
            arch::lenet5(&mut rng)
        }
        "mlp" => mlp(spec, path)?,
        "custom" => custom(spec, path)?,
        name => zoo::build(
            name,
            &zoo::ZooOptions {
                num_classes: spec.classes.unwrap_or(1000),
                input_hw: spec.input_shape.map(|s| [s[1], s[2]]).unwrap_or([224, 224]),
            },
        )
        .map_err(|e| spec_err(path, e.to_string()))?,
    };
    for n in &mut net.nodes {
        if let Op::Linear { weight, .. } | Op::Conv2d { weight, .. } = &mut n.op {
            weight.iter_mut().for_each(|w| *w = 0.0);
        }
    }
    net.shapes().map_err(|e| spec_err(path, e.to_string()))?;
    Ok(Some(net))
}

/// Rewrites `net` so it takes raw `[0, 1]` RGB pixels (see the module docs); `path` names
/// the spec in errors.
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
    let existing = net
        .normalization()
        .0
        .mean_std(c)
        .map_err(|m| spec_err(path, format!("[preprocess]: {m}")))?;
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
    if let Some(s) = std.iter().find(|s| !(s.is_finite() && **s != 0.0)) {
        return Err(spec_err(path, format!("preprocess.std has {s}")));
    }
    let perm = |v: &[f32]| -> Vec<f32> {
        if bgr && v.len() == 3 {
            vec![v[2], v[1], v[0]]
        } else {
            v.to_vec()
        }
    };
    let norm = Normalization::Custom {
        mean: perm(&mean).iter().map(|m| m / scale).collect(),
        std: perm(&std).iter().map(|s| s / scale).collect(),
    };
    net.set_normalization(&norm)
        .map_err(|m| spec_err(path, format!("[preprocess]: {m}")))?;
    if bgr {
        swap_first_layer_channels(net).map_err(|m| spec_err(path, m))?;
    }
    Ok(())
}

/// For BGR weights: swaps input channels 0 and 2 of the one layer that reads the (normalized)
/// input, so that it sees the user's RGB order.
fn swap_first_layer_channels(net: &mut Graph) -> Result<(), String> {
    let consumers = net.consumers();
    let (_, norm_nodes) = net.normalization();
    let mut cur = norm_nodes.last().copied().unwrap_or(0);
    let [_, h, w] = net.input_shape;
    loop {
        let next = match consumers[cur].as_slice() {
            [one] => *one,
            _ => {
                return Err(
                    "channel_order = \"bgr\" needs the input to feed one conv or linear layer"
                        .into(),
                )
            }
        };
        match &mut net.nodes[next].op {
            Op::Flatten | Op::Reshape { .. } => cur = next,
            Op::Conv2d {
                in_channels,
                out_channels,
                kernel,
                groups: 1,
                weight,
                ..
            } => {
                let k = kernel[0] * kernel[1];
                for o in 0..*out_channels {
                    let base = o * *in_channels * k;
                    for j in 0..k {
                        weight.swap(base + j, base + 2 * k + j);
                    }
                }
                return Ok(());
            }
            Op::Linear {
                in_features,
                out_features,
                weight,
                ..
            } => {
                let hw = h * w;
                for o in 0..*out_features {
                    let row = o * *in_features;
                    for j in 0..hw {
                        weight.swap(row + j, row + 2 * hw + j);
                    }
                }
                return Ok(());
            }
            op => {
                return Err(format!(
                    "channel_order = \"bgr\" needs the input to feed a conv (one group) or linear layer, not {}",
                    op.kind()
                ))
            }
        }
    }
}

/// What [`load_model`] found out besides the network.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The network, taking raw pixels in `pixel_bounds`.
    pub net: Graph,
    /// The format read.
    pub format: Format,
    /// How tensors were matched to nodes (`None` for ONNX graphs).
    pub layout: Option<Layout>,
    /// Batch-norm nodes folded into the layer before them.
    pub folded: Vec<String>,
    /// Keys of the file accepted without use (`num_batches_tracked`, `ignore`).
    pub skipped: Vec<String>,
}

/// Loads the network a spec describes.
pub fn load_model(spec: &ModelSpec) -> Result<Graph, ImportError> {
    load_model_detailed(spec).map(|l| l.net)
}

/// [`load_model`], also saying which format and key layout were used.
pub fn load_model_detailed(spec: &ModelSpec) -> Result<Loaded, ImportError> {
    let spec_path = spec.name();
    let is_zoo = zoo::NAMES.contains(&spec.arch.as_str());
    // The spec's own errors first, before the weights file is opened.
    let template = if is_zoo && spec.classes.is_none() {
        check_spec(spec, &spec_path)?;
        None
    } else {
        template(spec, &spec_path)?
    };
    let path = spec.weights.display().to_string();
    let map = map_file(&spec.weights)?;
    let format = match spec.format.as_deref().unwrap_or("auto") {
        "auto" => detect_format(&map, &path)?,
        name => Format::from_name(name).expect("checked"),
    };
    let (mut net, layout, folded, skipped) = if spec.arch == "onnx" {
        if format != Format::Onnx {
            return Err(spec_err(
                &spec_path,
                format!("arch = \"onnx\" needs an ONNX file, {path} is {format:?}"),
            ));
        }
        let g = onnx::read_onnx_file(&spec.weights, spec.input_shape)?;
        (g, None, Vec::new(), Vec::new())
    } else {
        let tensors = read_tensors(&map, format, &path)?;
        let opts = MatchOptions {
            remap: spec.remap.clone(),
            aliases: Vec::new(),
            ignore: spec.ignore.clone(),
        };
        let m = match template {
            Some(t) => {
                let opts = MatchOptions {
                    aliases: zoo::aliases(&spec.arch),
                    ..opts
                };
                keymap::fill(t, tensors, &opts, &path)?
            }
            None => zoo::fill(
                &spec.arch,
                tensors.into_iter().collect(),
                &opts,
                spec.input_shape.map(|s| [s[1], s[2]]),
                &path,
            )?,
        };
        if m.layout == Layout::TfNpz && m.graph.input_shape[0] == 3 {
            // `vgg16_weights.npz` expects 0–255 RGB pixels minus its channel means.
            let mut g = m.graph;
            let norm = Normalization::Custom {
                mean: VGG_NPZ_MEAN_255.iter().map(|v| v / 255.0).collect(),
                std: vec![1.0 / 255.0; 3],
            };
            g.set_normalization(&norm)
                .map_err(|msg| spec_err(&spec_path, msg))?;
            (g, Some(m.layout), m.folded, m.skipped)
        } else {
            (m.graph, Some(m.layout), m.folded, m.skipped)
        }
    };
    if let Some(pre) = &spec.preprocess {
        apply_preprocess(&mut net, pre, &spec_path)?;
    }
    if let Some(n) = &spec.normalize {
        let norm = Normalization::parse(n).expect("checked");
        net.set_normalization(&norm)
            .map_err(|m| spec_err(&spec_path, format!("normalize: {m}")))?;
    }
    if let Some([lo, hi]) = spec.pixel_bounds {
        net.pixel_bounds = (lo, hi);
    }
    net.check().map_err(|source| ImportError::Model {
        path: path.clone(),
        source,
    })?;
    super::load::finite(&net, &path)?;
    Ok(Loaded {
        net,
        format,
        layout,
        folded,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ModelSpec {
        ModelSpec::parse(text, "s.toml", None).unwrap()
    }

    /// Issue 18: a huge field is never echoed into a message.
    #[test]
    fn long_fields_are_refused_without_echoing_them() {
        let long = "x".repeat(1 << 20);
        for text in [
            format!("arch = \"{long}\"\nweights = \"w\"\n"),
            format!("arch = \"mlp\"\nweights = \"w\"\nremap = [[\"{long}\", \"\"]]\n"),
            format!("arch = \"mlp\"\nweights = \"w\"\n{long} = 1\n"),
            // A syntax error on a long line.
            format!("arch = \"mlp\"\nweights = \"w\"\nhidden = [1, {long}\n"),
        ] {
            let e = ModelSpec::parse(&text, "s.toml", None)
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("s.toml:") && e.len() < 1000,
                "{}",
                &e[..e.len().min(2000)]
            );
        }
        let e = ModelSpec::parse(&format!("arch = \"{long}\"\nweights = \"w\"\n"), "s", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'arch'") && e.contains("1048576 bytes"), "{e}");
    }

    #[test]
    fn a_huge_mlp_is_refused_before_allocating() {
        // 57 bytes: 784·65536 + 65536² + … weights would be 16 GiB.
        let s = parse("arch=\"mlp\"\nweights=\"w\"\nhidden=[65536,65536]\n");
        let e = template(&s, "s.toml").unwrap_err().to_string();
        assert!(e.starts_with("s.toml:") && e.contains("weights"), "{e}");
        let s = parse("arch=\"mlp\"\nweights=\"w\"\nhidden=[18446744073709551615]\n");
        let e = template(&s, "s.toml").unwrap_err().to_string();
        assert!(e.contains("units"), "{e}");
        let s = parse(
            "arch=\"custom\"\nweights=\"w\"\ninput_shape=[1024,8192,8192]\n[[node]]\nop=\"conv\"\nout=1048576\nkernel=8192\n",
        );
        let e = template(&s, "s.toml").unwrap_err().to_string();
        assert!(e.contains("entry 1") && e.contains("weights"), "{e}");
    }

    #[test]
    fn custom_graphs_with_the_new_operations() {
        let s = parse(
            r#"
arch = "custom"
weights = "w.pth"
input_shape = [3, 8, 8]
[[node]]
name = "stem"
op = "conv"
out = 4
kernel = 3
padding = 1
bias = false
[[node]]
op = "bn"
[[node]]
name = "r0"
op = "relu"
[[node]]
name = "branch"
op = "conv"
out = 4
kernel = [3, 3]
padding = [1, 1, 1, 1]
groups = 2
[[node]]
name = "sum"
op = "add"
inputs = ["r0", "branch"]
[[node]]
op = "relu6"
[[node]]
name = "cat"
op = "concat"
inputs = ["sum", "r0"]
[[node]]
op = "maxpool"
kernel = 3
stride = 2
padding = 1
ceil_mode = true
[[node]]
op = "avgpool"
kernel = 2
count_include_pad = false
[[node]]
op = "global_avgpool"
[[node]]
op = "flatten"
[[node]]
name = "fc"
op = "linear"
out = 5
"#,
        );
        let g = template(&s, "s.toml").unwrap().unwrap();
        assert_eq!(g.check().unwrap(), 5);
        let names: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "input",
                "stem",
                "bn1",
                "r0",
                "branch",
                "sum",
                "relu6_1",
                "cat",
                "pool1",
                "avgpool1",
                "global_avgpool1",
                "flatten",
                "fc"
            ]
        );
        assert_eq!(g.nodes[g.find("sum").unwrap()].inputs, vec![3, 4]);
        let Op::Conv2d { bias, .. } = &g.nodes[1].op else {
            panic!()
        };
        assert!(bias.is_none());
        // `r0` also feeds `cat`, so only the first ReLU is a cut.
        assert_eq!(g.collision_layers(), vec!["r0"]);
    }

    #[test]
    fn spec_errors_name_the_spec_and_the_entry() {
        let bad = |body: &str, want: &[&str]| {
            let s = parse(&format!(
                "arch = \"custom\"\nweights = \"w.pth\"\ninput_shape = [1, 4, 4]\n{body}"
            ));
            let e = template(&s, "s.toml").unwrap_err().to_string();
            assert!(e.starts_with("s.toml:"), "{e}");
            for w in want {
                assert!(e.contains(w), "'{e}' lacks '{w}'");
            }
        };
        bad(
            "[[node]]\nop = \"conv\"\nkernel = 3\n",
            &["entry 1 (conv)", "needs 'out'"],
        );
        bad(
            "[[node]]\nname = \"a\"\nop = \"relu\"\nkernel = 3\n",
            &["entry 1 ('a', relu)", "'kernel' does not apply to relu"],
        );
        bad(
            "[[node]]\nop = \"softmax\"\n",
            &["unknown operation 'softmax'", "conv, linear"],
        );
        bad(
            "[[node]]\nop = \"add\"\ninputs = [\"input\", \"nope\"]\n",
            &["input 'nope'"],
        );
        bad(
            "[[node]]\nop = \"add\"\n",
            &["entry 1 (add)", "two or more"],
        );
        bad(
            "[[node]]\nop = \"relu\"\n[[node]]\nop = \"relu\"\nname = \"relu1\"\n",
            &["entry 2", "already used"],
        );
        bad(
            "[[layers]]\nkind = \"conv\"\nout = 2\nkernel = 9\n",
            &["entry 1 (conv)", "kernel"],
        );
        let s = parse("arch = \"mlp\"\nweights = \"w\"\n[[node]]\nop = \"relu\"\n");
        let e = template(&s, "s.toml").unwrap_err().to_string();
        assert!(
            e.contains("arch = \\\"custom\\\"") || e.contains("custom"),
            "{e}"
        );
        let s = parse("arch = \"vgg16\"\nweights = \"w\"\nhidden = [3]\n");
        assert!(template(&s, "s.toml")
            .unwrap_err()
            .to_string()
            .contains("'hidden'"));
        let e = ModelSpec::parse("arch = \"mlp\"\nweights = \"w\"\n[[node]]\nop = \"relu\"\n[[layers]]\nkind = \"relu\"\n", "d.toml", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("d.toml"), "{e}");
    }

    #[test]
    fn templates_by_name() {
        let s = parse(
            "arch = \"resnet18\"\nweights = \"w\"\nclasses = 10\ninput_shape = [3, 32, 32]\n",
        );
        let g = template(&s, "s.toml").unwrap().unwrap();
        assert_eq!(g.check().unwrap(), 10);
        assert_eq!(g.input_shape, [3, 32, 32]);
        let s = parse("arch = \"alexnet\"\nweights = \"w\"\ninput_shape = [3, 32, 32]\n");
        let e = template(&s, "s.toml").unwrap_err().to_string();
        assert!(e.starts_with("s.toml:") && e.contains("features."), "{e}");
    }
}
