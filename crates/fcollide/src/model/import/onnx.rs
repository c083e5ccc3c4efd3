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
use crate::model::graph::{Graph as Network, GraphBuilder, Op, Shape};

/// A layer of the chain being read: name and op.
struct HostLayer {
    name: String,
    op: Op,
}
use std::collections::HashMap;

const FORMAT: &str = "ONNX";

#[derive(Clone, Copy, Debug)]
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

fn varint(b: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..70).step_by(7) {
        let byte = *b.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        if shift == 63 && byte > 1 {
            return Err("varint overflows 64 bits".into());
        }
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint too long".into())
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
                let s = b.get(pos..pos + 8).ok_or("truncated fixed64")?;
                pos += 8;
                let mut a = [0u8; 8];
                a.copy_from_slice(s);
                Wire::Fixed64(u64::from_le_bytes(a))
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
                let s = b.get(pos..pos + 4).ok_or("truncated fixed32")?;
                pos += 4;
                Wire::Fixed32(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
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
            out.extend(
                b.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            );
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
            out.extend(b.chunks_exact(8).map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                f64::from_le_bytes(a) as f32
            }));
        }
        _ => return Err("expected doubles".into()),
    }
    Ok(())
}

/// A decoded TensorProto.
fn tensor(b: &[u8], path: &str) -> Result<(String, RawTensor), ImportError> {
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
            13 => {
                external = true;
                Ok(())
            }
            14 => int(w).map(|v| external |= v == 1),
            _ => Ok(()),
        };
        r.map_err(|m| bad(format!("tensor '{name}': {m}")))?;
    }
    if external {
        return Err(bad(format!(
            "tensor '{name}' keeps its data in an external file; re-export with the weights inside the .onnx"
        )));
    }
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

fn graph(bytes: &[u8], path: &str) -> Result<Graph, ImportError> {
    let bad = |m: String| ImportError::corrupt(path, FORMAT, m);
    let model = fields(bytes).map_err(&bad)?;
    let g = model
        .iter()
        .find_map(|(f, w)| match (f, w) {
            (7, Wire::Bytes(b)) => Some(*b),
            _ => None,
        })
        .ok_or_else(|| bad("no graph in the model (not an ONNX ModelProto?)".into()))?;
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
                let (name, t) = tensor(b, path)?;
                out.consts.insert(name, t);
            }
            11 => out.inputs.push(value_info(b).map_err(&bad)?),
            12 => out.outputs.push(value_info(b).map_err(&bad)?.0),
            _ => {}
        }
    }
    Ok(out)
}

/// Whether `bytes` plausibly start an ONNX ModelProto (field 1 `ir_version` varint).
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

fn pair(v: &[i64], what: &str) -> Result<[usize; 2], String> {
    match v {
        [a, b] if *a >= 0 && *b >= 0 => Ok([*a as usize, *b as usize]),
        _ => Err(format!("{what} {v:?} is not two non-negative numbers")),
    }
}

fn push(
    layers: &mut Vec<HostLayer>,
    cur_shape: &mut Shape,
    node_err: &dyn Fn(String) -> ImportError,
    name: String,
    op: Op,
) -> Result<(), ImportError> {
    *cur_shape = op
        .output_shape(&name, &[*cur_shape])
        .map_err(|e| node_err(e.to_string()))?;
    layers.push(HostLayer { name, op });
    Ok(())
}

/// Appends a `Flatten` layer (`flatten`, `flatten2`, …) unless the current shape is flat.
fn flatten_if_needed(
    layers: &mut Vec<HostLayer>,
    cur_shape: &mut Shape,
    node_err: &dyn Fn(String) -> ImportError,
    nflat: &mut usize,
) -> Result<(), ImportError> {
    if matches!(cur_shape, Shape::Flat(_)) {
        return Ok(());
    }
    *nflat += 1;
    let name = if *nflat == 1 {
        "flatten".into()
    } else {
        format!("flatten{nflat}")
    };
    push(layers, cur_shape, node_err, name, Op::Flatten)
}

/// Reads an ONNX model into a network. `input_shape` overrides the graph input's `[C, H, W]`
/// (needed when the graph declares a flat `[N, D]` input or symbolic dimensions).
pub fn read_onnx(
    bytes: &[u8],
    path: &str,
    input_shape: Option<[usize; 3]>,
) -> Result<Network, ImportError> {
    let mut g = graph(bytes, path)?;
    for n in &g.nodes {
        if n.op == "Constant" {
            if let (Some(Attr::Tensor(t)), Some(o)) = (n.attrs.get("value"), n.outputs.first()) {
                g.consts.insert(o.clone(), t.clone());
            }
        }
    }
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
                [c, h, w] if c * h * w > 0 => [*c, *h, *w],
                [d] if *d > 0 => [1, 1, *d],
                _ => {
                    return Err(ImportError::Spec {
                        path: path.into(),
                        msg: format!(
                            "graph input '{in_name}' has dimensions {in_dims:?}; give input_shape = [C, H, W] in the model spec"
                        ),
                    })
                }
            }
        }
    };
    let mut layers: Vec<HostLayer> = Vec::new();
    let mut cur = in_name.clone();
    let mut cur_shape = Shape::Chw(shape);
    // Normalization folded so far: x → (x − mean) / std, per channel (or one value).
    let mut norm: Option<(Vec<f32>, Vec<f32>)> = None;
    let (mut nconv, mut nfc, mut nrelu, mut npool, mut nflat) = (0, 0, 0, 0, 0);
    let mut last_linear_out: Option<String> = None;
    for n in &g.nodes {
        if n.op == "Constant" {
            continue;
        }
        let node_err = |msg: String| ImportError::OnnxNode {
            path: path.into(),
            node: n.name.clone(),
            op: n.op.clone(),
            msg,
        };
        // The data input is the current tensor; the rest are constants.
        let data_pos = n.inputs.iter().position(|i| *i == cur).ok_or_else(|| {
            node_err(format!(
                "its inputs {:?} do not include '{cur}', the output of the previous layer (only chain graphs are supported)",
                n.inputs
            ))
        })?;
        let konst = |i: usize| -> Result<&RawTensor, ImportError> {
            let name = n
                .inputs
                .get(i)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| node_err(format!("input {i} is missing")))?;
            g.consts.get(name).ok_or_else(|| {
                node_err(format!("input '{name}' must be a constant or initializer"))
            })
        };
        let only_affine_so_far = layers.iter().all(|l| matches!(l.op, Op::Normalize { .. }));
        match n.op.as_str() {
            "Identity" | "Dropout" => {}
            "Relu" => {
                nrelu += 1;
                push(
                    &mut layers,
                    &mut cur_shape,
                    &node_err,
                    format!("relu{nrelu}"),
                    Op::Relu,
                )?;
            }
            "Flatten" | "Reshape" => {
                if n.op == "Flatten" && int_attr(n, "axis", 1) != 1 {
                    return Err(node_err("only axis = 1 is supported".into()));
                }
                if n.op == "Reshape" {
                    let target = konst(1)?;
                    let numel: usize = cur_shape.len();
                    let ok = target.shape.len() == 1
                        && target.data.len() == 2
                        && (target.data[1] == -1.0 || target.data[1] as usize == numel)
                        && matches!(target.data[0], v if v == -1.0 || v == 0.0 || v == 1.0);
                    if !ok {
                        return Err(node_err(format!(
                            "only reshapes to [N, -1] are supported, target is {:?}",
                            target.data
                        )));
                    }
                }
                flatten_if_needed(&mut layers, &mut cur_shape, &node_err, &mut nflat)?;
            }
            "Gemm" | "MatMul" => {
                if data_pos != 0 {
                    return Err(node_err("the data must be the first input".into()));
                }
                if int_attr(n, "transA", 0) != 0 {
                    return Err(node_err("transA = 1 is not supported".into()));
                }
                let w = konst(1)?;
                if w.shape.len() != 2 {
                    return Err(node_err(format!(
                        "weight has shape {:?}, expected 2-D",
                        w.shape
                    )));
                }
                let trans_b = n.op == "Gemm" && int_attr(n, "transB", 0) != 0;
                let w = if trans_b { w.clone() } else { w.transpose2() }; // [out, in]
                let (out_f, in_f) = (w.shape[0], w.shape[1]);
                let alpha = if n.op == "Gemm" {
                    float_attr(n, "alpha", 1.0)
                } else {
                    1.0
                };
                let beta = if n.op == "Gemm" {
                    float_attr(n, "beta", 1.0)
                } else {
                    1.0
                };
                let bias = if n.op == "Gemm" && n.inputs.len() > 2 && !n.inputs[2].is_empty() {
                    let c = konst(2)?;
                    if c.data.len() == out_f {
                        c.data.iter().map(|v| v * beta).collect()
                    } else if c.data.len() == 1 {
                        vec![c.data[0] * beta; out_f]
                    } else {
                        return Err(node_err(format!(
                            "bias has shape {:?}, expected [{out_f}]",
                            c.shape
                        )));
                    }
                } else {
                    vec![0.0; out_f]
                };
                let bias = Some(bias);
                flatten_if_needed(&mut layers, &mut cur_shape, &node_err, &mut nflat)?;
                nfc += 1;
                push(
                    &mut layers,
                    &mut cur_shape,
                    &node_err,
                    format!("fc{nfc}"),
                    Op::Linear {
                        in_features: in_f,
                        out_features: out_f,
                        weight: w.data.iter().map(|v| v * alpha).collect(),
                        bias,
                    },
                )?;
                last_linear_out = n.outputs.first().cloned();
            }
            "Add" | "Sub" | "Mul" | "Div" => {
                let other = konst(1 - data_pos.min(1))?;
                let after_linear = n.op == "Add"
                    && last_linear_out.as_deref() == Some(cur.as_str())
                    && matches!(layers.last().map(|l| &l.op), Some(Op::Linear { .. }));
                if after_linear {
                    let Some(Op::Linear {
                        bias, out_features, ..
                    }) = layers.last_mut().map(|l| &mut l.op)
                    else {
                        unreachable!()
                    };
                    if other.data.len() != *out_features {
                        return Err(node_err(format!(
                            "bias has shape {:?}, expected [{out_features}]",
                            other.shape
                        )));
                    }
                    let bias = bias.get_or_insert_with(|| vec![0.0; other.data.len()]);
                    for (b, v) in bias.iter_mut().zip(&other.data) {
                        *b += v;
                    }
                } else if only_affine_so_far {
                    if data_pos != 0 && matches!(n.op.as_str(), "Sub" | "Div") {
                        return Err(node_err("the constant must be the second operand".into()));
                    }
                    let channels = match cur_shape {
                        Shape::Chw([c, _, _]) => c,
                        Shape::Flat(_) => 1,
                    };
                    let c: Vec<f32> = if other.data.len() == 1 {
                        vec![other.data[0]; channels]
                    } else if other.data.len() == channels {
                        other.data.clone()
                    } else {
                        return Err(node_err(format!(
                            "constant of shape {:?} is not per channel ({channels} channels)",
                            other.shape
                        )));
                    };
                    let (mean, std) =
                        norm.get_or_insert_with(|| (vec![0.0; channels], vec![1.0; channels]));
                    for k in 0..channels {
                        match n.op.as_str() {
                            "Sub" => mean[k] += c[k] * std[k],
                            "Add" => mean[k] -= c[k] * std[k],
                            "Div" => std[k] *= c[k],
                            _ => std[k] /= c[k],
                        }
                    }
                    let (mean, std) = (mean.clone(), std.clone());
                    let op = Op::Normalize { mean, std };
                    op.output_shape("norm", &[cur_shape])
                        .map_err(|e| node_err(e.to_string()))?;
                    match layers.first_mut() {
                        Some(l) if l.name == "norm" => l.op = op,
                        _ => layers.insert(
                            0,
                            HostLayer {
                                name: "norm".into(),
                                op,
                            },
                        ),
                    }
                } else {
                    return Err(node_err(
                        "arithmetic with constants is only supported as input normalization (before any layer) or as a bias right after MatMul".into(),
                    ));
                }
            }
            "Conv" => {
                if data_pos != 0 {
                    return Err(node_err("the data must be the first input".into()));
                }
                let w = konst(1)?;
                if w.shape.len() != 4 {
                    return Err(node_err(format!(
                        "weight has shape {:?}, expected 4-D",
                        w.shape
                    )));
                }
                if int_attr(n, "group", 1) != 1 {
                    return Err(node_err("only group = 1 is supported".into()));
                }
                if ints_attr(n, "dilations").is_some_and(|d| d.iter().any(|&v| v != 1)) {
                    return Err(node_err("only dilations = 1 are supported".into()));
                }
                if let Some(Attr::Str(p)) = n.attrs.get("auto_pad") {
                    if p != "NOTSET" && p != "VALID" {
                        return Err(node_err(format!(
                            "auto_pad = {p} is not supported; export with explicit pads"
                        )));
                    }
                }
                let stride = pair(&ints_attr(n, "strides").unwrap_or(vec![1, 1]), "strides")
                    .map_err(node_err)?;
                let pads = ints_attr(n, "pads").unwrap_or(vec![0, 0, 0, 0]);
                let padding = match pads.as_slice() {
                    [t, l, b, r] if t == b && l == r && *t >= 0 && *l >= 0 => {
                        [*t as usize, *l as usize, *t as usize, *l as usize]
                    }
                    _ => return Err(node_err(format!("pads {pads:?} are not symmetric"))),
                };
                let out_c = w.shape[0];
                let bias = if n.inputs.len() > 2 && !n.inputs[2].is_empty() {
                    let b = konst(2)?;
                    if b.data.len() != out_c {
                        return Err(node_err(format!(
                            "bias has shape {:?}, expected [{out_c}]",
                            b.shape
                        )));
                    }
                    b.data.clone()
                } else {
                    vec![0.0; out_c]
                };
                nconv += 1;
                push(
                    &mut layers,
                    &mut cur_shape,
                    &node_err,
                    format!("conv{nconv}"),
                    Op::Conv2d {
                        in_channels: w.shape[1],
                        out_channels: out_c,
                        kernel: [w.shape[2], w.shape[3]],
                        stride,
                        padding,
                        dilation: [1, 1],
                        groups: 1,
                        weight: w.data.clone(),
                        bias: Some(bias),
                    },
                )?;
            }
            "MaxPool" => {
                let kernel = pair(
                    &ints_attr(n, "kernel_shape").unwrap_or_default(),
                    "kernel_shape",
                )
                .map_err(node_err)?;
                let stride = pair(&ints_attr(n, "strides").unwrap_or(vec![1, 1]), "strides")
                    .map_err(node_err)?;
                if ints_attr(n, "pads").is_some_and(|p| p.iter().any(|&v| v != 0)) {
                    return Err(node_err("padding is not supported".into()));
                }
                if int_attr(n, "ceil_mode", 0) != 0 {
                    return Err(node_err("ceil_mode = 1 is not supported".into()));
                }
                if ints_attr(n, "dilations").is_some_and(|d| d.iter().any(|&v| v != 1)) {
                    return Err(node_err("only dilations = 1 are supported".into()));
                }
                if n.outputs.len() > 1 && !n.outputs[1].is_empty() {
                    return Err(node_err("the Indices output is not supported".into()));
                }
                npool += 1;
                push(
                    &mut layers,
                    &mut cur_shape,
                    &node_err,
                    format!("pool{npool}"),
                    Op::MaxPool2d {
                        kernel,
                        stride,
                        padding: [0; 4],
                        dilation: [1, 1],
                        ceil_mode: false,
                    },
                )?;
            }
            other => {
                let hint = match other {
                    "Softmax" | "LogSoftmax" => {
                        "; fcollide works on logits: export the model without the final softmax"
                    }
                    "BatchNormalization" => {
                        "; fold batch norm into the preceding layer before export"
                    }
                    _ => "",
                };
                return Err(ImportError::OnnxOp {
                    path: path.into(),
                    op: other.into(),
                    node: n.name.clone(),
                    hint: hint.into(),
                });
            }
        }
        if let Some(o) = n.outputs.first() {
            cur = o.clone();
        }
    }
    if let Some(out) = g.outputs.first() {
        if *out != cur {
            return Err(ImportError::corrupt(
                path,
                FORMAT,
                format!("the graph output '{out}' is not the end of the layer chain ('{cur}')"),
            ));
        }
    }
    let mut b = GraphBuilder::new("onnx", shape);
    for l in layers {
        let x = b.last();
        b.push(&l.name, l.op, &[x]);
    }
    let net = b.finish();
    net.check().map_err(|source| ImportError::Model {
        path: path.into(),
        source,
    })?;
    Ok(net)
}
