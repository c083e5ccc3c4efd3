//! Format detection and loading weights into a template.
use super::keymap::{fill, to_tensor_map, Layout, MatchOptions};
use super::safetensors::{looks_like_safetensors, map_file, read_safetensors};
use super::tensors::TensorMap;
use super::zip::ZipArchive;
use super::{npz, onnx, pth, ImportError};
use crate::model::{Graph, Node, Op};
use std::path::Path;

/// A weights file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// safetensors (any key names, f32/f64/f16/bf16).
    Safetensors,
    /// PyTorch zip checkpoint (`.pth`, `.pt`).
    Pth,
    /// NumPy `.npz`.
    Npz,
    /// ONNX model.
    Onnx,
}

impl Format {
    /// The format named by a spec or a file extension.
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name.to_ascii_lowercase().as_str() {
            "safetensors" | "st" => Format::Safetensors,
            "pth" | "pt" | "torch" | "pytorch" | "ckpt" | "bin" => Format::Pth,
            "npz" | "numpy" => Format::Npz,
            "onnx" => Format::Onnx,
            _ => return None,
        })
    }
}

/// Detects the format of `bytes` by magic: safetensors (8-byte header length then `{`), zip
/// (`PK`: a PyTorch checkpoint when it has a `data.pkl`, else `.npz`), ONNX (a protobuf
/// ModelProto with a graph). `path`'s extension is only used in the error message.
pub fn detect_format(bytes: &[u8], path: &str) -> Result<Format, ImportError> {
    if looks_like_safetensors(bytes) {
        return Ok(Format::Safetensors);
    }
    if bytes.starts_with(b"PK") {
        let zip = ZipArchive::new(bytes, path, "zip")?;
        return Ok(if pth::is_pth_zip(&zip) {
            Format::Pth
        } else {
            Format::Npz
        });
    }
    if bytes.starts_with(&[0x80]) || bytes.starts_with(&[0x8a, 0x0a]) {
        return Ok(Format::Pth); // legacy pickle: read_pth explains
    }
    if onnx::looks_like_onnx(bytes) {
        return Ok(Format::Onnx);
    }
    // What the file holds is not shown (a spec may point at a file that is not the user's
    // to read, such as /etc/shadow): only whether it looks like text.
    let head = &bytes[..bytes.len().min(512)];
    let kind = if bytes.is_empty() {
        "the file is empty"
    } else if looks_like_text(head) {
        "the file holds text"
    } else {
        "the file holds binary data of another kind"
    };
    Err(ImportError::UnknownFormat {
        path: path.into(),
        msg: kind.to_string(),
    })
}

/// Whether `head` (the start of a file) is UTF-8 text without control characters; a
/// character cut at the end of `head` does not count against it.
fn looks_like_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    valid
        .chars()
        .all(|c| !c.is_control() || c.is_ascii_whitespace())
}

/// Reads every tensor of a weights file in a known format (ONNX: the initializers under
/// fcollide layer names).
pub fn read_tensors(bytes: &[u8], format: Format, path: &str) -> Result<TensorMap, ImportError> {
    match format {
        Format::Safetensors => read_safetensors(bytes, path),
        Format::Pth => pth::read_pth(bytes, path),
        Format::Npz => npz::read_npz(bytes, path),
        Format::Onnx => {
            let net = onnx::read_onnx(bytes, path, None)?;
            finite(&net, path)?;
            Ok(to_tensor_map(&net))
        }
    }
}

/// Errors unless every weight of `net` (read from `path`) is finite.
pub fn finite(net: &Graph, path: &str) -> Result<(), ImportError> {
    crate::model::check_finite(net).map_err(|msg| ImportError::Weights {
        path: path.into(),
        msg,
    })
}

/// ImageNet channel means of `vgg16_weights.npz` (RGB, pixels in 0–255).
pub const VGG_NPZ_MEAN_255: [f32; 3] = [123.68, 116.779, 103.939];

/// The normalization the `vgg16_weights.npz` model expects, for pixels in `[0, 1]`:
/// `(255·x − mean) = (x − mean/255) / (1/255)`.
pub fn vgg_npz_normalize() -> Op {
    Op::Normalize {
        mean: VGG_NPZ_MEAN_255.iter().map(|m| m / 255.0).collect(),
        std: vec![1.0 / 255.0; 3],
    }
}

/// Loads weights from bytes into `template` (format by `format` or magic); with the TF `.npz`
/// layout and 3 input channels, the network's first `Normalize` becomes [`vgg_npz_normalize`].
/// Returns the network and the layout that matched. Only the template's structure is used
/// (its weights are never copied).
pub fn load_weights_bytes(
    bytes: &[u8],
    path: &str,
    format: Option<Format>,
    template: &Graph,
    remap: &[(String, String)],
) -> Result<(Graph, Layout), ImportError> {
    let format = match format {
        Some(f) => f,
        None => detect_format(bytes, path)?,
    };
    let tensors = read_tensors(bytes, format, path)?;
    fill_tensors(tensors, path, template.without_weights(), remap)
}

/// [`load_weights_bytes`] for tensors already read: they are moved into `template` (whose
/// weights are replaced, never read), so no weight is held twice.
pub fn fill_tensors(
    tensors: TensorMap,
    path: &str,
    template: Graph,
    remap: &[(String, String)],
) -> Result<(Graph, Layout), ImportError> {
    let opts = MatchOptions {
        remap: remap.to_vec(),
        ..MatchOptions::for_arch(&template.arch)
    };
    let m = fill(template, tensors, &opts, path)?;
    let (mut net, layout) = (m.graph, m.layout);
    finite(&net, path)?;
    if layout == Layout::TfNpz && net.input_shape[0] == 3 {
        match net.nodes.get_mut(1) {
            Some(l) if matches!(l.op, Op::Normalize { .. }) => l.op = vgg_npz_normalize(),
            _ => {
                net.insert_node(
                    1,
                    Node {
                        name: "norm".into(),
                        op: vgg_npz_normalize(),
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
    }
    Ok((net, layout))
}

/// Loads a weights file (safetensors, PyTorch zip, `.npz` or ONNX, detected by magic bytes)
/// into the structure of `template`.
pub fn load_weights_auto(path: &Path, template: &Graph) -> Result<Graph, ImportError> {
    let map = map_file(path)?;
    Ok(load_weights_bytes(&map, &path.display().to_string(), None, template, &[])?.0)
}

/// Loads an ONNX file as a network (structure and weights).
pub fn load_onnx(path: &Path, input_shape: Option<[usize; 3]>) -> Result<Graph, ImportError> {
    let net = onnx::read_onnx_file(path, input_shape)?;
    finite(&net, &path.display().to_string())?;
    Ok(net)
}
