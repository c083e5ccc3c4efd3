//! ONNX models (a hand-written protobuf wire-format reader for ModelProto → GraphProto →
//! NodeProto / TensorProto / ValueInfoProto / AttributeProto) turned into a [`HostNetwork`].
//!
//! The graph must be a chain. Supported operators: `Gemm` (any `transB`, `alpha`/`beta`
//! folded, `transA = 0`), `MatMul` (+ `Add` of a bias), `Conv` (symmetric `pads`, `strides`,
//! `group = 1`, `dilations = 1`), `Relu`, `MaxPool` (`kernel_shape`, `strides`, no padding),
//! `Flatten` (`axis = 1`), `Reshape` to `[N, -1]`, `Sub`/`Div`/`Mul`/`Add` by constants before
//! the first affine layer (folded into one `Normalize`), `Identity` and `Dropout` (skipped).
//! Constants come from initializers (`raw_data`, `float_data`, `double_data`, `int64_data`,
//! `int32_data`) or `Constant` nodes. Layers are named `norm`, `conv1`…, `fc1`…, `relu1`…,
//! `pool1`…, `flatten`….
use super::tensors::{contiguous_strides, decode_strided, f16_to_f32, DType, RawTensor};
use super::ImportError;
use crate::bytes;
use crate::model::graph::{Graph as Network, GraphBuilder, Op, Shape};

use std::collections::HashMap;
use std::path::{Path, PathBuf};

const FORMAT: &str = "ONNX";

#[derive(Clone, Copy, Debug)]
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

fn varint(b: &[u8], pos: &mut usize) -> Result<u64, String> {
    bytes::varint(b, pos).map_err(String::from)
}

/// Splits a message into (field number, value) pairs.
fn fields(b: &[u8]) -> Result<Vec<(u64, Wire<'_>)>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        let key = varint(b, &mut pos)?;
        let (field, wt) = (key >> 3, key & 7);
        let w = match wt {
            0 => Wire::Varint(varint(b, &mut pos)?),
            1 => {
                let v = bytes::le_u64(b, pos).ok_or("truncated fixed64")?;
                pos += 8;
                Wire::Fixed64(v)
            }
            2 => {
                let n = usize::try_from(varint(b, &mut pos)?).map_err(|_| "length overflows")?;
                let end = pos
                    .checked_add(n)
                    .filter(|&e| e <= b.len())
                    .ok_or_else(|| {
                        format!(
                            "field {field} claims {n} bytes, only {} left",
                            b.len() - pos
                        )
                    })?;
                let s = &b[pos..end];
                pos = end;
                Wire::Bytes(s)
            }
            5 => {
                let v = bytes::le_u32(b, pos).ok_or("truncated fixed32")?;
                pos += 4;
                Wire::Fixed32(v)
            }
            other => return Err(format!("unsupported wire type {other} (field {field})")),
        };
        out.push((field, w));
    }
    Ok(out)
}

fn string(w: Wire<'_>) -> Result<String, String> {
    match w {
        Wire::Bytes(b) => Ok(String::from_utf8_lossy(b).into_owned()),
        _ => Err("expected a string".into()),
    }
}

fn int(w: Wire<'_>) -> Result<i64, String> {
    match w {
        Wire::Varint(v) => Ok(v as i64),
        _ => Err("expected an integer".into()),
    }
}

/// Repeated int64 (packed or not).
fn ints(w: Wire<'_>, out: &mut Vec<i64>) -> Result<(), String> {
    match w {
        Wire::Varint(v) => out.push(v as i64),
        Wire::Bytes(b) => {
            let mut p = 0;
            while p < b.len() {
                out.push(varint(b, &mut p)? as i64);
            }
        }
        _ => return Err("expected integers".into()),
    }
    Ok(())
}

/// Repeated float (packed or not).
fn floats(w: Wire<'_>, out: &mut Vec<f32>) -> Result<(), String> {
    match w {
        Wire::Fixed32(v) => out.push(f32::from_bits(v)),
        Wire::Bytes(b) => {
            if b.len() % 4 != 0 {
                return Err("packed floats not a multiple of 4 bytes".into());
            }
            out.extend(bytes::le_f32s(b));
        }
        _ => return Err("expected floats".into()),
    }
    Ok(())
}

/// Repeated double (packed or not).
fn doubles(w: Wire<'_>, out: &mut Vec<f32>) -> Result<(), String> {
    match w {
        Wire::Fixed64(v) => out.push(f64::from_bits(v) as f32),
        Wire::Bytes(b) => {
            if b.len() % 8 != 0 {
                return Err("packed doubles not a multiple of 8 bytes".into());
            }
            out.extend(bytes::le_f64s(b).into_iter().map(|v| v as f32));
        }
        _ => return Err("expected doubles".into()),
    }
    Ok(())
}

/// Where a tensor's external data lies: `location` (relative to the model's folder),
/// `offset` and `length` in bytes.
#[derive(Clone, Debug, Default)]
struct ExternalRef {
    location: String,
    offset: u64,
    length: Option<u64>,
}

fn external_entry(b: &[u8], ext: &mut ExternalRef) -> Result<(), String> {
    let (mut k, mut v) = (String::new(), String::new());
    for (f, w) in fields(b)? {
        match f {
            1 => k = string(w)?,
            2 => v = string(w)?,
            _ => {}
        }
    }
    let num = |v: &str| {
        v.parse::<u64>()
            .map_err(|_| format!("external_data {k} = '{v}' is not a byte count"))
    };
    match k.as_str() {
        "location" => ext.location = v,
        "offset" => ext.offset = num(&v)?,
        "length" => ext.length = Some(num(&v)?),
        _ => {}
    }
    Ok(())
}

/// Reads the bytes of external tensor data (see [`ExternalData`]).
type Resolver<'r> = &'r dyn Fn(&str, &ExternalRef) -> Result<&'r [u8], ImportError>;

/// A decoded TensorProto; external data is read through `resolve`.
fn tensor(b: &[u8], path: &str) -> Result<(String, RawTensor), ImportError> {
    tensor_with(b, path, &|name, _| {
        Err(ImportError::corrupt(
            path,
            FORMAT,
            format!("tensor '{name}' keeps its data in an external file, which is only read from a model file on disk"),
        ))
    })
}

/// A decoded TensorProto, reading external data through `resolve`.
fn tensor_with(
    b: &[u8],
    path: &str,
    resolve: Resolver<'_>,
) -> Result<(String, RawTensor), ImportError> {
    let bad = |m: String| ImportError::corrupt(path, FORMAT, m);
    let mut dims = Vec::new();
    let mut dtype = 0i64;
    let mut name = String::new();
    let mut raw: Option<&[u8]> = None;
    let mut fdata = Vec::new();
    let mut i64data = Vec::new();
    let mut i32data = Vec::new();
    let mut ddata = Vec::new();
    let mut external = false;
    let mut ext = ExternalRef::default();
    for (f, w) in fields(b).map_err(&bad)? {
        let r = match f {
            1 => ints(w, &mut dims),
            2 => int(w).map(|v| dtype = v),
            4 => floats(w, &mut fdata),
            5 => ints(w, &mut i32data),
            7 => ints(w, &mut i64data),
            8 => string(w).map(|s| name = s),
            9 => match w {
                Wire::Bytes(s) => {
                    raw = Some(s);
                    Ok(())
                }
                _ => Err("raw_data is not bytes".into()),
            },
            10 => doubles(w, &mut ddata),
            13 => match w {
                Wire::Bytes(e) => external_entry(e, &mut ext),
                _ => Err("external_data is not a message".into()),
            },
            14 => int(w).map(|v| external |= v == 1),
            _ => Ok(()),
        };
        r.map_err(|m| bad(format!("tensor '{name}': {m}")))?;
    }
    let external_bytes = if external {
        Some(resolve(&name, &ext)?)
    } else {
        None
    };
    let raw = external_bytes.or(raw);
    let shape: Vec<usize> = dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<_, _>>()
        .map_err(|_| bad(format!("tensor '{name}' has negative dimensions {dims:?}")))?;
    let n = super::tensors::numel(&shape)
        .ok_or_else(|| bad(format!("tensor '{name}' shape {shape:?} overflows")))?;
    let dt = match dtype {
        1 => DType::F32,
        2 => DType::U8,
        3 => DType::I8,
        5 => DType::I16,
        6 => DType::I32,
        7 => DType::I64,
        9 => DType::Bool,
        10 => DType::F16,
        11 => DType::F64,
        16 => DType::BF16,
        other => {
            return Err(ImportError::Dtype {
                path: path.into(),
                key: name,
                dtype: format!("ONNX data type {other}"),
                expected: super::tensors::CONVERTIBLE,
            })
        }
    };
    let data: Vec<f32> = if let Some(raw) = raw {
        decode_strided(
            raw,
            dt,
            &shape,
            &contiguous_strides(&shape),
            0,
            path,
            &name,
            FORMAT,
        )?
        .data
    } else {
        match dt {
            DType::F32 => fdata,
            DType::F64 => ddata,
            DType::I64 => i64data.iter().map(|&v| v as f32).collect(),
            DType::F16 => i32data.iter().map(|&v| f16_to_f32(v as u16)).collect(),
            DType::BF16 => i32data
                .iter()
                .map(|&v| f32::from_bits((v as u32 & 0xffff) << 16))
                .collect(),
            _ => i32data.iter().map(|&v| v as f32).collect(),
        }
    };
    if data.len() != n {
        return Err(bad(format!(
            "tensor '{name}' has shape {shape:?} ({n} values) but holds {} values",
            data.len()
        )));
    }
    Ok((name, RawTensor { shape, data }))
}

#[derive(Clone, Debug)]
enum Attr {
    Int(i64),
    Float(f32),
    Ints(Vec<i64>),
    Str(String),
    Tensor(RawTensor),
    Other,
}

#[derive(Debug)]
struct Node {
    name: String,
    op: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    attrs: HashMap<String, Attr>,
    /// The PyTorch module path the dynamo exporter records in the node's metadata
    /// (`pkg.torch.onnx.name_scopes`), e.g. `layer1.0.relu`.
    scope: Option<String>,
}

/// The module path from a `pkg.torch.onnx.name_scopes` value such as
/// `['', 'layer1', 'layer1.0', 'layer1.0.relu', 'relu_1']`: the last scope before the op.
fn module_scope(v: &str) -> Option<String> {
    let items: Vec<&str> = v
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|s| s.trim().trim_matches('\'').trim_matches('"'))
        .collect();
    let m = items.get(items.len().checked_sub(2)?)?;
    (!m.is_empty()).then(|| m.to_string())
}

fn attribute(b: &[u8], path: &str) -> Result<(String, Attr), ImportError> {
    let bad = |m: String| ImportError::corrupt(path, FORMAT, m);
    let mut name = String::new();
    let (mut i, mut f, mut s, mut t) = (None, None, None, None);
    let mut is = Vec::new();
    let mut fs = Vec::new();
    let mut ty = 0;
    for (field, w) in fields(b).map_err(&bad)? {
        let r = match field {
            1 => string(w).map(|v| name = v),
            2 => match w {
                Wire::Fixed32(v) => {
                    f = Some(f32::from_bits(v));
                    Ok(())
                }
                _ => Err("attribute f is not a float".into()),
            },
            3 => int(w).map(|v| i = Some(v)),
            4 => string(w).map(|v| s = Some(v)),
            5 => match w {
                Wire::Bytes(b) => {
                    t = Some(tensor(b, path)?.1);
                    Ok(())
                }
                _ => Err("attribute t is not a tensor".into()),
            },
            7 => floats(w, &mut fs),
            8 => ints(w, &mut is),
            20 => int(w).map(|v| ty = v),
            _ => Ok(()),
        };
        r.map_err(|m| bad(format!("attribute '{name}': {m}")))?;
    }
    let attr = match (ty, i, f, s, t) {
        (2, Some(v), ..) | (0, Some(v), None, None, None) => Attr::Int(v),
        (1, _, Some(v), ..) | (0, None, Some(v), None, None) => Attr::Float(v),
        (3, _, _, Some(v), _) => Attr::Str(v),
        (4, _, _, _, Some(v)) => Attr::Tensor(v),
        (7, ..) => Attr::Ints(is),
        (6, ..) => Attr::Ints(fs.iter().map(|&v| v as i64).collect()),
        (0, None, None, Some(v), None) => Attr::Str(v),
        (0, None, None, None, Some(v)) => Attr::Tensor(v),
        (0, None, None, None, None) if !is.is_empty() => Attr::Ints(is),
        (2, None, ..) => Attr::Int(0),
        _ => Attr::Other,
    };
    Ok((name, attr))
}

fn node(b: &[u8], path: &str) -> Result<Node, ImportError> {
    let bad = |m: String| ImportError::corrupt(path, FORMAT, m);
    let mut n = Node {
        name: String::new(),
        op: String::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        attrs: HashMap::new(),
        scope: None,
    };
    for (field, w) in fields(b).map_err(&bad)? {
        match field {
            1 => n.inputs.push(string(w).map_err(&bad)?),
            2 => n.outputs.push(string(w).map_err(&bad)?),
            3 => n.name = string(w).map_err(&bad)?,
            4 => n.op = string(w).map_err(&bad)?,
            5 => {
                if let Wire::Bytes(b) = w {
                    let (k, v) = attribute(b, path)?;
                    n.attrs.insert(k, v);
                }
            }
            9 => {
                if let Wire::Bytes(b) = w {
                    let (mut k, mut v) = (String::new(), String::new());
                    for (f, w2) in fields(b).map_err(&bad)? {
                        match f {
                            1 => k = string(w2).map_err(&bad)?,
                            2 => v = string(w2).map_err(&bad)?,
                            _ => {}
                        }
                    }
                    if k == "pkg.torch.onnx.name_scopes" {
                        n.scope = module_scope(&v);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(n)
}

/// (name, dims) of a ValueInfoProto; unknown dims are `None`.
fn value_info(b: &[u8]) -> Result<(String, Vec<Option<usize>>), String> {
    let mut name = String::new();
    let mut dims = Vec::new();
    for (f, w) in fields(b)? {
        match (f, w) {
            (1, w) => name = string(w)?,
            (2, Wire::Bytes(ty)) => {
                for (f2, w2) in fields(ty)? {
                    let (1, Wire::Bytes(tt)) = (f2, w2) else {
                        continue;
                    };
                    for (f3, w3) in fields(tt)? {
                        let (2, Wire::Bytes(shape)) = (f3, w3) else {
                            continue;
                        };
                        for (f4, w4) in fields(shape)? {
                            let (1, Wire::Bytes(dim)) = (f4, w4) else {
                                continue;
                            };
                            let mut d = None;
                            for (f5, w5) in fields(dim)? {
                                if f5 == 1 {
                                    d = usize::try_from(int(w5)?).ok();
                                }
                            }
                            dims.push(d);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok((name, dims))
}

/// A decoded ONNX graph.
struct Graph {
    nodes: Vec<Node>,
    consts: HashMap<String, RawTensor>,
    inputs: Vec<(String, Vec<Option<usize>>)>,
    outputs: Vec<String>,
}

fn model_graph<'a>(bytes: &'a [u8], path: &str) -> Result<&'a [u8], ImportError> {
    let bad = |m: String| ImportError::corrupt(path, FORMAT, m);
    let model = fields(bytes).map_err(&bad)?;
    model
        .iter()
        .find_map(|(f, w)| match (f, w) {
            (7, Wire::Bytes(b)) => Some(*b),
            _ => None,
        })
        .ok_or_else(|| bad("no graph in the model (not an ONNX ModelProto?)".into()))
}

fn graph(bytes: &[u8], path: &str, resolve: Resolver<'_>) -> Result<Graph, ImportError> {
    let bad = |m: String| ImportError::corrupt(path, FORMAT, m);
    let g = model_graph(bytes, path)?;
    let mut out = Graph {
        nodes: Vec::new(),
        consts: HashMap::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
    };
    for (f, w) in fields(g).map_err(&bad)? {
        let Wire::Bytes(b) = w else { continue };
        match f {
            1 => out.nodes.push(node(b, path)?),
            5 => {
                let (name, t) = tensor_with(b, path, resolve)?;
                out.consts.insert(name, t);
            }
            11 => out.inputs.push(value_info(b).map_err(&bad)?),
            12 => out.outputs.push(value_info(b).map_err(&bad)?.0),
            _ => {}
        }
    }
    Ok(out)
}

/// The external data files the initializers of a model name (`location`s), in order.
fn external_locations(bytes: &[u8], path: &str) -> Result<Vec<String>, ImportError> {
    let bad = |m: String| ImportError::corrupt(path, FORMAT, m);
    let g = model_graph(bytes, path)?;
    let mut out: Vec<String> = Vec::new();
    for (f, w) in fields(g).map_err(&bad)? {
        let (5, Wire::Bytes(t)) = (f, w) else {
            continue;
        };
        for (tf, tw) in fields(t).map_err(&bad)? {
            if let (13, Wire::Bytes(e)) = (tf, tw) {
                let mut ext = ExternalRef::default();
                external_entry(e, &mut ext).map_err(&bad)?;
                if !ext.location.is_empty() && !out.contains(&ext.location) {
                    out.push(ext.location);
                }
            }
        }
    }
    Ok(out)
}

/// Resolves an external data `location` inside the model's folder `dir`: it must be a
/// relative path of plain components that, with symlinks resolved, stays inside `dir`.
fn external_path(dir: &Path, location: &str, path: &str) -> Result<PathBuf, ImportError> {
    let refuse = |why: &str| {
        ImportError::corrupt(
            path,
            FORMAT,
            format!("external data location '{location}' is refused: {why}"),
        )
    };
    let rel = Path::new(location);
    if location.is_empty() || rel.is_absolute() {
        return Err(refuse("it must be a path relative to the model's folder"));
    }
    if !rel.components().all(|c| {
        matches!(
            c,
            std::path::Component::Normal(_) | std::path::Component::CurDir
        )
    }) {
        return Err(refuse("it leaves the model's folder ('..' or a root)"));
    }
    let joined = dir.join(rel);
    let canon_dir = dir.canonicalize().map_err(|e| ImportError::io(dir, e))?;
    let canon = joined
        .canonicalize()
        .map_err(|e| ImportError::io(&joined, e))?;
    if !canon.starts_with(&canon_dir) {
        return Err(refuse(
            "it resolves (through a link) outside the model's folder",
        ));
    }
    let meta = std::fs::metadata(&canon).map_err(|e| ImportError::io(&joined, e))?;
    if !meta.is_file() {
        return Err(refuse("it is not a regular file"));
    }
    Ok(canon)
}

/// Whether a file's first bytes (possibly cut short) plausibly start an ONNX ModelProto:
/// an `ir_version` varint, then well-formed top-level fields up to a `graph` (field 7).
pub fn looks_like_onnx_prefix(head: &[u8]) -> bool {
    if head.first() != Some(&0x08) {
        return false;
    }
    let mut pos = 0;
    while pos < head.len() {
        let Ok(key) = varint(head, &mut pos) else {
            return false;
        };
        let (field, wt) = (key >> 3, key & 7);
        if field == 7 && wt == 2 {
            return true;
        }
        let ok = match wt {
            0 => varint(head, &mut pos).is_ok(),
            2 => match varint(head, &mut pos) {
                Ok(n) => {
                    pos = pos.saturating_add(n as usize);
                    true
                }
                Err(_) => false,
            },
            _ => false,
        };
        if !ok || field == 0 || field > 20 {
            return false;
        }
    }
    false
}

/// Whether `bytes` plausibly start an ONNX ModelProto (field 1 `ir_version` varint, a graph).
pub fn looks_like_onnx(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x08)
        && fields(bytes)
            .map(|f| {
                f.iter()
                    .any(|(n, w)| *n == 7 && matches!(w, Wire::Bytes(_)))
            })
            .unwrap_or(false)
}

fn ints_attr(n: &Node, key: &str) -> Option<Vec<i64>> {
    match n.attrs.get(key) {
        Some(Attr::Ints(v)) => Some(v.clone()),
        Some(Attr::Int(v)) => Some(vec![*v]),
        _ => None,
    }
}

fn int_attr(n: &Node, key: &str, default: i64) -> i64 {
    match n.attrs.get(key) {
        Some(Attr::Int(v)) => *v,
        _ => default,
    }
}

fn float_attr(n: &Node, key: &str, default: f32) -> f32 {
    match n.attrs.get(key) {
        Some(Attr::Float(v)) => *v,
        Some(Attr::Int(v)) => *v as f32,
        _ => default,
    }
}

fn str_attr<'a>(n: &'a Node, key: &str) -> Option<&'a str> {
    match n.attrs.get(key) {
        Some(Attr::Str(v)) => Some(v.as_str()),
        _ => None,
    }
}

/// The operators [`read_onnx`] translates.
pub const SUPPORTED_OPS: &str = "Conv, Gemm, MatMul, BatchNormalization, Relu, Clip, LeakyRelu, \
Sigmoid, Tanh, MaxPool, AveragePool, GlobalAveragePool, ReduceMean (spatial), Add, Sub, Mul, \
Div, Concat, Flatten, Reshape, Squeeze, Unsqueeze, Identity, Dropout, Constant, Shape, Gather, \
Cast, Slice (on constants)";

/// A value of the ONNX graph while it is translated.
#[derive(Clone, Debug)]
enum Val {
    /// The output of a node of the graph being built, with its shape (batch dimension 1).
    Node(usize, Shape),
    /// A constant.
    Const(RawTensor),
}

/// The translation state: the graph being built and the ONNX values.
struct Builder<'p> {
    b: GraphBuilder,
    /// Shapes of the built nodes (node 0: the input).
    shapes: Vec<Shape>,
    vals: HashMap<String, Val>,
    used_names: std::collections::HashSet<String>,
    path: &'p str,
}

/// `a·b` of shape dims with a checked product.
fn numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b))
}

/// A shape without its batch dimension as a [`Shape`] (`[N, C, H, W]` → CHW, `[N, F]` → flat).
fn shape_from_dims(dims: &[usize]) -> Option<Shape> {
    match dims {
        [_, c, h, w] => Some(Shape::Chw([*c, *h, *w])),
        [_, f] => Some(Shape::Flat(*f)),
        _ => None,
    }
}

/// The full dims `[1, …]` of a shape.
fn batched_dims(s: Shape) -> Vec<usize> {
    let mut d = vec![1];
    d.extend(s.dims());
    d
}

/// A name for a node of the translated graph: the module path of its weight initializer
/// (`features.0.weight` → `features.0`), else the module path the dynamo exporter records
/// (`layer1.0.relu`), else the path in a legacy ONNX node name
/// (`/layer1/layer1.0/relu/Relu` → `layer1.0.relu`), else the node name without the
/// exporter's `node_` prefix.
fn node_name(n: &Node, weight: Option<&str>) -> String {
    if let Some(stem) = weight.and_then(|w| w.strip_suffix(".weight")) {
        if !stem.is_empty() && !stem.contains("::") {
            return stem.to_string();
        }
    }
    if let Some(s) = &n.scope {
        return s.clone();
    }
    let parts: Vec<&str> = n.name.split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() >= 2 {
        // Each segment is a child's name, prefixed by its parent's when the parent is a
        // container (`layer1` / `layer1.0`): join them into the dotted module path.
        let mut path = String::new();
        let mut last = "";
        for seg in &parts[..parts.len() - 1] {
            if !last.is_empty() && seg.starts_with(&format!("{last}.")) {
                path.push_str(&seg[last.len()..]);
            } else {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(seg);
            }
            last = seg;
        }
        return path;
    }
    let trimmed = n.name.trim_matches('/');
    let base = trimmed.strip_prefix("node_").unwrap_or(trimmed);
    if base.is_empty() || base == n.op {
        n.op.to_ascii_lowercase()
    } else {
        base.replace("::", "_")
    }
}

impl Builder<'_> {
    fn err(&self, n: &Node, msg: impl Into<String>) -> ImportError {
        ImportError::OnnxNode {
            path: self.path.into(),
            node: n.name.clone(),
            op: n.op.clone(),
            msg: msg.into(),
        }
    }

    fn unique(&mut self, base: String) -> String {
        let mut name = base.clone();
        let mut k = 2;
        while self.used_names.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.used_names.insert(name.clone());
        name
    }

    fn get(&self, n: &Node, i: usize) -> Result<&Val, ImportError> {
        let name = n
            .inputs
            .get(i)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.err(n, format!("input {i} is missing")))?;
        self.vals.get(name).ok_or_else(|| {
            self.err(
                n,
                format!("input '{name}' is not produced by any earlier node"),
            )
        })
    }

    fn node_in(&self, n: &Node, i: usize) -> Result<(usize, Shape), ImportError> {
        match self.get(n, i)? {
            Val::Node(k, s) => Ok((*k, *s)),
            Val::Const(_) => Err(self.err(
                n,
                format!("input {i} must be computed from the model input, not a constant"),
            )),
        }
    }

    fn const_in(&self, n: &Node, i: usize) -> Result<RawTensor, ImportError> {
        match self.get(n, i)? {
            Val::Const(t) => Ok(t.clone()),
            Val::Node(..) => Err(self.err(
                n,
                format!("input {i} ('{}') must be a constant (an initializer), not computed from the input", n.inputs[i]),
            )),
        }
    }

    fn opt_const(&self, n: &Node, i: usize) -> Result<Option<RawTensor>, ImportError> {
        match n.inputs.get(i).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(_) => self.const_in(n, i).map(Some),
        }
    }

    /// Appends `op` reading `inputs`, checks its shape, binds output 0.
    fn emit(
        &mut self,
        n: &Node,
        name: String,
        op: Op,
        inputs: &[usize],
    ) -> Result<usize, ImportError> {
        let shapes = self.b_graph_shapes(inputs);
        let out = op
            .output_shape(&name, &shapes)
            .and_then(|out| crate::model::graph::check_activation(&name, out).map(|()| out))
            .map_err(|e| self.err(n, e.to_string()))?;
        let name = self.unique(name);
        let idx = self.b.push(&name, op, inputs);
        self.shapes.push(out);
        self.bind(n, Val::Node(idx, out));
        Ok(idx)
    }

    fn b_graph_shapes(&self, inputs: &[usize]) -> Vec<Shape> {
        inputs.iter().map(|&k| self.shapes[k]).collect()
    }

    fn bind(&mut self, n: &Node, v: Val) {
        if let Some(o) = n.outputs.first() {
            self.vals.insert(o.clone(), v);
        }
    }

    /// A node output flattened to `[F]`.
    fn flat(&mut self, n: &Node, k: usize, s: Shape) -> Result<(usize, Shape), ImportError> {
        match s {
            Shape::Flat(_) => Ok((k, s)),
            Shape::Chw(_) => {
                let name = self.unique(format!("{}_flatten", node_name(n, None)));
                let idx = self.b.push(&name, Op::Flatten, &[k]);
                let out = Shape::Flat(s.len());
                self.shapes.push(out);
                Ok((idx, out))
            }
        }
    }
}

/// Per-channel (or scalar) values of a constant broadcast against a node of shape `s`:
/// `[C, 1, 1]`, `[1, C, 1, 1]`, `[C]` for a flat `[C]` node, `[1, C]`, or one value.
fn per_channel_const(t: &RawTensor, s: Shape) -> Option<Vec<f32>> {
    let (c, _) = s.channels_and_plane();
    if t.data.len() == 1 {
        return Some(t.data.clone());
    }
    let dims: Vec<usize> = t.shape.iter().copied().skip_while(|&d| d == 1).collect();
    let ok = match s {
        Shape::Chw(_) => {
            // Trailing spatial dims of 1 (or none when the constant is [C] broadcast on W? no).
            let mut d = t.shape.clone();
            while d.first() == Some(&1) && d.len() > 3 {
                d.remove(0);
            }
            matches!(d.as_slice(), [cc, 1, 1] if *cc == c)
        }
        Shape::Flat(_) => dims == [c],
    };
    ok.then(|| t.data.clone())
}

/// Resolves a Reshape target (`0` copies the input dim, one `-1` is inferred) against the
/// batched input dims.
fn reshape_dims(target: &[f32], input: &[usize]) -> Result<Vec<usize>, String> {
    let total = numel(input).ok_or("input size overflows")?;
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &v) in target.iter().enumerate() {
        let v = v as i64;
        match v {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 => out.push(*input.get(i).ok_or("0 copies a dimension the input lacks")?),
            v if v > 0 => out.push(v as usize),
            _ => return Err(format!("invalid target {target:?}")),
        }
    }
    let known = numel(&out).ok_or("target size overflows")?;
    if let Some(i) = infer {
        if known == 0 || total % known != 0 {
            return Err(format!("cannot infer -1 in {target:?} for {total} values"));
        }
        out[i] = total / known;
    }
    if numel(&out) != Some(total) {
        return Err(format!(
            "target {target:?} does not hold the input's {total} values"
        ));
    }
    Ok(out)
}

/// Translates one ONNX node.
fn translate(bld: &mut Builder<'_>, n: &Node) -> Result<(), ImportError> {
    let op = n.op.as_str();
    match op {
        "Identity" | "Dropout" => {
            let v = bld.get(n, 0)?.clone();
            bld.bind(n, v);
        }
        "Constant" => {
            let t = match (
                n.attrs.get("value"),
                n.attrs.get("value_float"),
                n.attrs.get("value_int"),
                n.attrs.get("value_ints"),
            ) {
                (Some(Attr::Tensor(t)), ..) => t.clone(),
                (_, Some(Attr::Float(f)), ..) => RawTensor {
                    shape: vec![],
                    data: vec![*f],
                },
                (_, _, Some(Attr::Int(i)), _) => RawTensor {
                    shape: vec![],
                    data: vec![*i as f32],
                },
                (_, _, _, Some(Attr::Ints(v))) => RawTensor {
                    shape: vec![v.len()],
                    data: v.iter().map(|&x| x as f32).collect(),
                },
                _ => return Err(bld.err(n, "a Constant without a tensor, float or int value")),
            };
            bld.bind(n, Val::Const(t));
        }
        "Shape" => {
            let dims: Vec<f32> = match bld.get(n, 0)? {
                Val::Node(_, s) => batched_dims(*s).iter().map(|&d| d as f32).collect(),
                Val::Const(t) => t.shape.iter().map(|&d| d as f32).collect(),
            };
            let len = dims.len();
            bld.bind(
                n,
                Val::Const(RawTensor {
                    shape: vec![len],
                    data: dims,
                }),
            );
        }
        "Cast" => {
            let v = bld.get(n, 0)?.clone();
            bld.bind(n, v);
        }
        "Gather" | "Slice" | "Unsqueeze" | "Squeeze" | "Concat"
            if matches!(bld.get(n, 0)?, Val::Const(_)) =>
        {
            // Constant folding of shape arithmetic (1-D tensors).
            let t = bld.const_in(n, 0)?;
            let out = match op {
                "Gather" => {
                    let idx = bld.const_in(n, 1)?;
                    let len = t.data.len() as i64;
                    let data = idx
                        .data
                        .iter()
                        .map(|&i| {
                            let i = i as i64;
                            let j = if i < 0 { i + len } else { i };
                            t.data
                                .get(j as usize)
                                .copied()
                                .ok_or_else(|| bld.err(n, format!("index {i} out of range")))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    RawTensor {
                        shape: idx.shape.clone(),
                        data,
                    }
                }
                "Slice" => {
                    let start = bld.const_in(n, 1)?.data.first().copied().unwrap_or(0.0) as i64;
                    let end = bld.const_in(n, 2)?.data.first().copied().unwrap_or(0.0) as i64;
                    let len = t.data.len() as i64;
                    let clamp = |v: i64| if v < 0 { (v + len).max(0) } else { v.min(len) } as usize;
                    let (a, b) = (clamp(start), clamp(end));
                    let data = t.data[a.min(b)..b].to_vec();
                    RawTensor {
                        shape: vec![data.len()],
                        data,
                    }
                }
                "Unsqueeze" | "Squeeze" => RawTensor {
                    shape: vec![t.data.len()],
                    data: t.data.clone(),
                },
                _ => {
                    let mut data = Vec::new();
                    for i in 0..n.inputs.len() {
                        data.extend(bld.const_in(n, i)?.data);
                    }
                    RawTensor {
                        shape: vec![data.len()],
                        data,
                    }
                }
            };
            bld.bind(n, Val::Const(out));
        }
        "Relu" | "Sigmoid" | "Tanh" | "LeakyRelu" | "Clip" => {
            let (x, _) = bld.node_in(n, 0)?;
            let o = match op {
                "Relu" => Op::Relu,
                "Sigmoid" => Op::Sigmoid,
                "Tanh" => Op::Tanh,
                "LeakyRelu" => Op::LeakyRelu {
                    alpha: float_attr(n, "alpha", 0.01),
                },
                _ => {
                    let lo = match bld.opt_const(n, 1)? {
                        Some(t) => t.data.first().copied().unwrap_or(f32::NEG_INFINITY),
                        None => float_attr(n, "min", f32::MIN),
                    };
                    let hi = match bld.opt_const(n, 2)? {
                        Some(t) => t.data.first().copied().unwrap_or(f32::INFINITY),
                        None => float_attr(n, "max", f32::MAX),
                    };
                    if lo <= 0.0 && lo > -1e-30 && hi >= f32::MAX {
                        Op::Relu
                    } else {
                        Op::Clip { min: lo, max: hi }
                    }
                }
            };
            let name = node_name(n, None);
            bld.emit(n, name, o, &[x])?;
        }
        "Conv" => {
            let (x, _) = bld.node_in(n, 0)?;
            let w = bld.const_in(n, 1)?;
            let [oc, icg, kh, kw] = w.shape[..] else {
                return Err(bld.err(
                    n,
                    format!(
                        "weight has shape {:?}, expected 4-D (2-D convolutions only)",
                        w.shape
                    ),
                ));
            };
            let groups = int_attr(n, "group", 1);
            let groups = usize::try_from(groups)
                .ok()
                .filter(|&g| g > 0)
                .ok_or_else(|| bld.err(n, format!("group {groups} is not positive")))?;
            let pair = |key: &str, d: i64| -> Result<[usize; 2], ImportError> {
                match ints_attr(n, key).as_deref() {
                    None => Ok([d as usize; 2]),
                    Some([a, b]) if *a >= 0 && *b >= 0 => Ok([*a as usize, *b as usize]),
                    Some(v) => {
                        Err(bld.err(n, format!("{key} {v:?} is not two non-negative numbers")))
                    }
                }
            };
            let stride = pair("strides", 1)?;
            let dilation = pair("dilations", 1)?;
            let (_, in_shape) = bld.node_in(n, 0)?;
            let padding = pads_of(bld, n, in_shape, [kh, kw], stride, dilation)?;
            let bias = bld.opt_const(n, 2)?.map(|b| b.data);
            let in_channels = icg
                .checked_mul(groups)
                .ok_or_else(|| bld.err(n, "channel count overflows"))?;
            let name = node_name(n, n.inputs.get(1).map(String::as_str));
            bld.emit(
                n,
                name,
                Op::Conv2d {
                    in_channels,
                    out_channels: oc,
                    kernel: [kh, kw],
                    stride,
                    padding,
                    dilation,
                    groups,
                    weight: w.data,
                    bias,
                },
                &[x],
            )?;
        }
        "Gemm" | "MatMul" => {
            let (x, s) = bld.node_in(n, 0)?;
            let (x, s) = bld.flat(n, x, s)?;
            let w = bld.const_in(n, 1)?;
            if w.shape.len() != 2 {
                return Err(bld.err(n, format!("weight has shape {:?}, expected 2-D", w.shape)));
            }
            if op == "Gemm" && int_attr(n, "transA", 0) != 0 {
                return Err(bld.err(n, "transA = 1 is not supported"));
            }
            let trans_b = op == "Gemm" && int_attr(n, "transB", 0) != 0;
            let w = if trans_b { w } else { w.transpose2() }; // [out, in]
            let (out_f, in_f) = (w.shape[0], w.shape[1]);
            if s.len() != in_f {
                return Err(bld.err(
                    n,
                    format!("weight takes {in_f} inputs, the data has {}", s.len()),
                ));
            }
            let (alpha, beta) = if op == "Gemm" {
                (float_attr(n, "alpha", 1.0), float_attr(n, "beta", 1.0))
            } else {
                (1.0, 1.0)
            };
            let bias = match if op == "Gemm" {
                bld.opt_const(n, 2)?
            } else {
                None
            } {
                Some(c) if c.data.len() == out_f => Some(c.data.iter().map(|v| v * beta).collect()),
                Some(c) if c.data.len() == 1 => Some(vec![c.data[0] * beta; out_f]),
                Some(c) => {
                    return Err(bld.err(
                        n,
                        format!("bias has shape {:?}, expected [{out_f}]", c.shape),
                    ))
                }
                None => None,
            };
            let weight = if alpha == 1.0 {
                w.data
            } else {
                w.data.iter().map(|v| v * alpha).collect()
            };
            let name = node_name(n, n.inputs.get(1).map(String::as_str));
            bld.emit(
                n,
                name,
                Op::Linear {
                    in_features: in_f,
                    out_features: out_f,
                    weight,
                    bias,
                },
                &[x],
            )?;
        }
        "BatchNormalization" => {
            let (x, _) = bld.node_in(n, 0)?;
            if n.outputs.iter().skip(1).any(|o| !o.is_empty()) {
                return Err(bld.err(n, "training-mode outputs (running mean/var) are not supported: export the model in eval() mode"));
            }
            let [g, b, m, v] = [1, 2, 3, 4].map(|i| bld.const_in(n, i));
            let name = node_name(n, n.inputs.get(1).map(String::as_str));
            bld.emit(
                n,
                name,
                Op::BatchNorm {
                    eps: float_attr(n, "epsilon", 1e-5),
                    weight: g?.data,
                    bias: b?.data,
                    mean: m?.data,
                    var: v?.data,
                },
                &[x],
            )?;
        }
        "MaxPool" | "AveragePool" => {
            let (x, in_shape) = bld.node_in(n, 0)?;
            let k = ints_attr(n, "kernel_shape").unwrap_or_default();
            let [kh, kw] = k[..] else {
                return Err(bld.err(n, format!("kernel_shape {k:?} is not 2-D")));
            };
            if kh <= 0 || kw <= 0 {
                return Err(bld.err(n, format!("kernel_shape {k:?} is not positive")));
            }
            let kernel = [kh as usize, kw as usize];
            let pair = |key: &str| -> Result<[usize; 2], ImportError> {
                match ints_attr(n, key).as_deref() {
                    None => Ok([1, 1]),
                    Some([a, b]) if *a > 0 && *b > 0 => Ok([*a as usize, *b as usize]),
                    Some(v) => Err(bld.err(n, format!("{key} {v:?} is not two positive numbers"))),
                }
            };
            let stride = pair("strides")?;
            let dilation = pair("dilations")?;
            let padding = pads_of(bld, n, in_shape, kernel, stride, dilation)?;
            let ceil_mode = int_attr(n, "ceil_mode", 0) != 0;
            if n.outputs.len() > 1 && !n.outputs[1].is_empty() {
                return Err(bld.err(n, "the Indices output is not supported"));
            }
            let o = if op == "MaxPool" {
                Op::MaxPool2d {
                    kernel,
                    stride,
                    padding,
                    dilation,
                    ceil_mode,
                }
            } else {
                if dilation != [1, 1] {
                    return Err(bld.err(n, "dilated average pooling is not supported"));
                }
                Op::AvgPool2d {
                    kernel,
                    stride,
                    padding,
                    ceil_mode,
                    count_include_pad: int_attr(n, "count_include_pad", 0) != 0,
                }
            };
            let name = node_name(n, None);
            bld.emit(n, name, o, &[x])?;
        }
        "GlobalAveragePool" => {
            let (x, _) = bld.node_in(n, 0)?;
            let name = node_name(n, None);
            bld.emit(n, name, Op::AdaptiveAvgPool2d { output: [1, 1] }, &[x])?;
        }
        "ReduceMean" => {
            let (x, s) = bld.node_in(n, 0)?;
            let axes: Vec<i64> = match ints_attr(n, "axes") {
                Some(a) => a,
                None => bld
                    .opt_const(n, 1)?
                    .map(|t| t.data.iter().map(|&v| v as i64).collect())
                    .unwrap_or_default(),
            };
            let mut axes: Vec<i64> = axes
                .iter()
                .map(|&a| if a < 0 { a + 4 } else { a })
                .collect();
            axes.sort_unstable();
            if !matches!(s, Shape::Chw(_)) || axes != [2, 3] {
                return Err(bld.err(n, format!("only the mean over the spatial axes [2, 3] of a [N, C, H, W] tensor is supported (axes {axes:?}, input {s})")));
            }
            let name = node_name(n, None);
            let pooled = bld.emit(
                n,
                name.clone(),
                Op::AdaptiveAvgPool2d { output: [1, 1] },
                &[x],
            )?;
            if int_attr(n, "keepdims", 1) == 0 {
                let fname = format!("{name}_flatten");
                bld.emit(n, fname, Op::Flatten, &[pooled])?;
            }
        }
        "Add" | "Sub" | "Mul" | "Div" => {
            let (a, b) = (bld.get(n, 0)?.clone(), bld.get(n, 1)?.clone());
            let name = node_name(n, None);
            match (a, b) {
                (Val::Node(x, sx), Val::Node(y, sy)) => {
                    if op != "Add" {
                        return Err(bld.err(n, format!("{op} of two computed tensors is not supported (only Add, for residual connections)")));
                    }
                    if sx != sy {
                        return Err(bld.err(n, format!("Add of shapes {sx} and {sy} (broadcasting between computed tensors is not supported)")));
                    }
                    bld.emit(n, name, Op::Add, &[x, y])?;
                }
                (Val::Const(ca), Val::Const(cb)) => {
                    // Constant arithmetic (e.g. a folded normalization constant).
                    if ca.data.len() != cb.data.len() && ca.data.len() != 1 && cb.data.len() != 1 {
                        return Err(bld.err(
                            n,
                            "broadcasting between constants of different shapes is not supported",
                        ));
                    }
                    let len = ca.data.len().max(cb.data.len());
                    let shape = if ca.data.len() >= cb.data.len() {
                        ca.shape.clone()
                    } else {
                        cb.shape.clone()
                    };
                    let at = |t: &RawTensor, i: usize| {
                        if t.data.len() == 1 {
                            t.data[0]
                        } else {
                            t.data[i]
                        }
                    };
                    let data = (0..len)
                        .map(|i| {
                            let (p, q) = (at(&ca, i), at(&cb, i));
                            match op {
                                "Add" => p + q,
                                "Sub" => p - q,
                                "Mul" => p * q,
                                _ => p / q,
                            }
                        })
                        .collect();
                    bld.bind(n, Val::Const(RawTensor { shape, data }));
                }
                (va, vb) => {
                    let const_first = matches!(va, Val::Const(_));
                    let (Val::Node(x, s), Val::Const(c)) =
                        (if const_first { (vb, va) } else { (va, vb) })
                    else {
                        unreachable!()
                    };
                    let v = per_channel_const(&c, s).ok_or_else(|| {
                        bld.err(n, format!("constant of shape {:?} is neither one value nor one per channel of the {s} input", c.shape))
                    })?;
                    let (scale, shift): (Vec<f32>, Vec<f32>) = match (op, const_first) {
                        ("Add", _) => (vec![1.0], v),
                        ("Sub", false) => (vec![1.0], v.iter().map(|c| -c).collect()),
                        ("Sub", true) => (vec![-1.0], v),
                        ("Mul", _) => (v, vec![0.0]),
                        ("Div", false) => {
                            if v.contains(&0.0) {
                                return Err(bld.err(n, "division by a constant 0"));
                            }
                            (v.iter().map(|c| 1.0 / c).collect(), vec![0.0])
                        }
                        _ => {
                            return Err(bld.err(
                                n,
                                "a constant divided by a computed tensor is not supported",
                            ))
                        }
                    };
                    bld.emit(n, name, Op::ChannelAffine { scale, shift }, &[x])?;
                }
            }
        }
        "Concat" => {
            let axis = int_attr(n, "axis", 1);
            let mut ins = Vec::new();
            let mut flat = false;
            for i in 0..n.inputs.len() {
                let (k, s) = bld.node_in(n, i)?;
                flat |= matches!(s, Shape::Flat(_));
                ins.push(k);
            }
            let ok = if flat {
                axis == 1 || axis == -1
            } else {
                axis == 1 || axis == -3
            };
            if !ok {
                return Err(bld.err(
                    n,
                    format!(
                        "only concatenation along channels (axis 1) is supported, not axis {axis}"
                    ),
                ));
            }
            let name = node_name(n, None);
            bld.emit(n, name, Op::Concat, &ins)?;
        }
        "Flatten" => {
            let (x, s) = bld.node_in(n, 0)?;
            if int_attr(n, "axis", 1) != 1 {
                return Err(bld.err(n, "only axis = 1 is supported"));
            }
            let name = node_name(n, None);
            match s {
                Shape::Flat(_) => bld.bind(n, Val::Node(x, s)),
                Shape::Chw(_) => {
                    bld.emit(n, name, Op::Flatten, &[x])?;
                }
            }
        }
        "Reshape" | "Squeeze" | "Unsqueeze" => {
            let (x, s) = bld.node_in(n, 0)?;
            let dims = batched_dims(s);
            let target: Vec<usize> = match op {
                "Reshape" => {
                    let t = bld.const_in(n, 1)?;
                    reshape_dims(&t.data, &dims).map_err(|m| bld.err(n, m))?
                }
                _ => {
                    let axes: Vec<i64> = match ints_attr(n, "axes") {
                        Some(a) => a,
                        None => bld
                            .opt_const(n, 1)?
                            .map(|t| t.data.iter().map(|&v| v as i64).collect())
                            .unwrap_or_default(),
                    };
                    if op == "Squeeze" {
                        let rank = dims.len() as i64;
                        let axes: Vec<usize> = axes
                            .iter()
                            .map(|&a| {
                                if a < 0 {
                                    (a + rank) as usize
                                } else {
                                    a as usize
                                }
                            })
                            .collect();
                        dims.iter()
                            .enumerate()
                            .filter(|(i, &d)| {
                                !(if axes.is_empty() {
                                    d == 1 && *i > 0
                                } else {
                                    axes.contains(i)
                                })
                            })
                            .map(|(_, &d)| d)
                            .collect()
                    } else {
                        let rank = (dims.len() + axes.len()) as i64;
                        let mut axes: Vec<usize> = axes
                            .iter()
                            .map(|&a| {
                                if a < 0 {
                                    (a + rank) as usize
                                } else {
                                    a as usize
                                }
                            })
                            .collect();
                        axes.sort_unstable();
                        let mut out = dims.clone();
                        for a in axes {
                            if a > out.len() {
                                return Err(bld.err(n, "axes out of range"));
                            }
                            out.insert(a, 1);
                        }
                        out
                    }
                }
            };
            if target.first() != Some(&1) {
                return Err(bld.err(
                    n,
                    format!("the result {target:?} does not keep the batch dimension first"),
                ));
            }
            let to = shape_from_dims(&target).ok_or_else(|| {
                bld.err(
                    n,
                    format!("the result {target:?} is neither [N, C, H, W] nor [N, F]"),
                )
            })?;
            if to == s {
                bld.bind(n, Val::Node(x, s));
            } else {
                let name = node_name(n, None);
                let o = if matches!(to, Shape::Flat(_)) {
                    Op::Flatten
                } else {
                    Op::Reshape { shape: to }
                };
                bld.emit(n, name, o, &[x])?;
            }
        }
        other => {
            let hint = match other {
                "Softmax" | "LogSoftmax" => {
                    "; fcollide works on logits: export the model without the final softmax"
                        .to_string()
                }
                _ => format!("; supported operators: {SUPPORTED_OPS}"),
            };
            return Err(ImportError::OnnxOp {
                path: bld.path.into(),
                op: other.into(),
                node: n.name.clone(),
                hint,
            });
        }
    }
    Ok(())
}

/// The `[top, left, bottom, right]` padding of a Conv or pooling node: `pads` (ONNX order
/// `[top, left, bottom, right]`), or `auto_pad` (`SAME_UPPER`/`SAME_LOWER` computed for the
/// input size, `VALID` none).
fn pads_of(
    bld: &Builder<'_>,
    n: &Node,
    input: Shape,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
) -> Result<[usize; 4], ImportError> {
    match str_attr(n, "auto_pad").unwrap_or("NOTSET") {
        "NOTSET" => {
            let p = ints_attr(n, "pads").unwrap_or(vec![0; 4]);
            match p[..] {
                [t, l, b, r] if t >= 0 && l >= 0 && b >= 0 && r >= 0 => {
                    Ok([t as usize, l as usize, b as usize, r as usize])
                }
                _ => Err(bld.err(n, format!("pads {p:?} are not four non-negative numbers"))),
            }
        }
        "VALID" => Ok([0; 4]),
        mode @ ("SAME_UPPER" | "SAME_LOWER") => {
            let Shape::Chw([_, h, w]) = input else {
                return Err(bld.err(n, "auto_pad needs a [N, C, H, W] input"));
            };
            let mut out = [0usize; 4];
            for (a, len) in [(0usize, h), (1, w)] {
                let o = len.div_ceil(stride[a]);
                let span = dilation[a] * (kernel[a] - 1) + 1;
                let total = ((o - 1) * stride[a] + span).saturating_sub(len);
                let (small, big) = (total / 2, total - total / 2);
                let (begin, end) = if mode == "SAME_UPPER" {
                    (small, big)
                } else {
                    (big, small)
                };
                out[a] = begin;
                out[a + 2] = end;
            }
            Ok(out)
        }
        other => Err(bld.err(n, format!("auto_pad = {other} is not supported"))),
    }
}

/// Reads an ONNX model held in memory (external data refused: use [`read_onnx_file`]).
/// `input_shape` overrides the graph input's `[C, H, W]` (needed when the graph declares a
/// flat `[N, D]` input or symbolic dimensions).
pub fn read_onnx(
    bytes: &[u8],
    path: &str,
    input_shape: Option<[usize; 3]>,
) -> Result<Network, ImportError> {
    let resolve: Resolver<'_> = &|name, _| {
        Err(ImportError::corrupt(
            path,
            FORMAT,
            format!("tensor '{name}' keeps its data in an external file, which is read only when the model is loaded from its file"),
        ))
    };
    let g = graph(bytes, path, resolve)?;
    convert(g, path, input_shape)
}

/// Reads an ONNX model file, with its external data files (torch's default
/// `model.onnx.data`) resolved inside the model's folder and bounds-checked.
pub fn read_onnx_file(
    path: &Path,
    input_shape: Option<[usize; 3]>,
) -> Result<Network, ImportError> {
    let shown = path.display().to_string();
    let bytes = super::safetensors::map_file(path)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut maps: HashMap<String, (PathBuf, memmap2::Mmap)> = HashMap::new();
    for loc in external_locations(&bytes, &shown)? {
        let p = external_path(dir, &loc, &shown)?;
        let m = super::safetensors::map_file(&p)?;
        maps.insert(loc, (p, m));
    }
    let resolve: Resolver<'_> = &|name, ext| {
        let (p, m) = maps.get(&ext.location).ok_or_else(|| {
            ImportError::corrupt(
                &shown,
                FORMAT,
                format!("tensor '{name}' names no external data location"),
            )
        })?;
        let len = m.len() as u64;
        let end = match ext.length {
            Some(l) => ext.offset.checked_add(l),
            None => Some(len),
        };
        match end {
            Some(end) if ext.offset <= end && end <= len => {
                Ok(&m[ext.offset as usize..end as usize])
            }
            _ => Err(ImportError::corrupt(
                &p.display().to_string(),
                FORMAT,
                format!(
                    "tensor '{name}' claims bytes {}..{} of a {len}-byte external data file",
                    ext.offset,
                    end.map_or("overflow".into(), |e| e.to_string())
                ),
            )),
        }
    };
    let g = graph(&bytes, &shown, resolve)?;
    convert(g, &shown, input_shape)
}

/// The graph input's `[C, H, W]`.
fn input_dims(
    g: &Graph,
    path: &str,
    input_shape: Option<[usize; 3]>,
) -> Result<(String, [usize; 3]), ImportError> {
    let (in_name, in_dims) = g
        .inputs
        .iter()
        .find(|(n, _)| !g.consts.contains_key(n))
        .cloned()
        .ok_or_else(|| {
            ImportError::corrupt(path, FORMAT, "the graph has no (non-constant) input")
        })?;
    let shape = match input_shape {
        Some(s) => s,
        None => {
            let dims: Vec<usize> = in_dims.iter().skip(1).map(|d| d.unwrap_or(0)).collect();
            match dims.as_slice() {
                [c, h, w] if numel(&[*c, *h, *w]).is_some_and(|n| n > 0) => [*c, *h, *w],
                [d] if *d > 0 => [1, 1, *d],
                _ => {
                    return Err(ImportError::Spec {
                        path: path.into(),
                        msg: format!(
                            "graph input '{in_name}' has dimensions {in_dims:?}; give input_shape = [C, H, W] in a model spec"
                        ),
                    })
                }
            }
        }
    };
    if numel(&shape).is_none_or(|n| n > MAX_INPUT) {
        return Err(ImportError::Spec {
            path: path.into(),
            msg: format!("input shape {shape:?} is larger than {MAX_INPUT} values"),
        });
    }
    Ok((in_name, shape))
}

/// The largest input (`C·H·W` values) an ONNX model may declare.
pub const MAX_INPUT: usize = 1 << 26;

fn convert(g: Graph, path: &str, input_shape: Option<[usize; 3]>) -> Result<Network, ImportError> {
    let (in_name, shape) = input_dims(&g, path, input_shape)?;
    let mut bld = Builder {
        b: GraphBuilder::new("onnx", shape),
        shapes: vec![Shape::Chw(shape)],
        vals: HashMap::new(),
        used_names: ["input".to_string()].into_iter().collect(),
        path,
    };
    for (k, t) in &g.consts {
        bld.vals.insert(k.clone(), Val::Const(t.clone()));
    }
    // A flat declared input `[N, D]` is read as the `[1, 1, D]` image (layers flatten it).
    bld.vals
        .insert(in_name.clone(), Val::Node(0, Shape::Chw(shape)));
    for n in &g.nodes {
        translate(&mut bld, n)?;
    }
    let out = g
        .outputs
        .first()
        .ok_or_else(|| ImportError::corrupt(path, FORMAT, "the graph has no output"))?;
    let out_idx = match bld.vals.get(out) {
        Some(Val::Node(k, _)) => *k,
        Some(Val::Const(_)) => {
            return Err(ImportError::corrupt(
                path,
                FORMAT,
                format!("the graph output '{out}' is a constant"),
            ))
        }
        None => {
            return Err(ImportError::corrupt(
                path,
                FORMAT,
                format!("the graph output '{out}' is not computed by any node"),
            ))
        }
    };
    let mut net = bld.b.finish();
    net.prune_dead_from(out_idx);
    net.remove_identities();
    net.fold_batchnorm();
    net.fold_channel_affine();
    net.check().map_err(|source| ImportError::Model {
        path: path.into(),
        source,
    })?;
    Ok(net)
}
