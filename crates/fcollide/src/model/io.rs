//! Network weights as safetensors files (memory-mapped on load, atomic on save).
//!
//! Tensors are named `{layer}.weight` / `{layer}.bias` in PyTorch layouts (`[out, in]`,
//! `[out, in, kh, kw]`), f32 little-endian. The file's metadata key `fcollide.spec` holds the
//! network structure as JSON (the [`HostNetwork`] with empty weight vectors), so a file written
//! by fcollide loads on its own; other files load against a known architecture.
use super::{HostNetwork, HostOp, ModelError};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::path::Path;

const SPEC_KEY: &str = "fcollide.spec";

fn weights_err(path: &Path, msg: impl Into<String>) -> ModelError {
    ModelError::Weights {
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    let io = |source| ModelError::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The structure of `net` without weights.
fn structure(net: &HostNetwork) -> HostNetwork {
    let mut s = net.clone();
    for l in &mut s.layers {
        match &mut l.op {
            HostOp::Linear { weight, bias, .. } | HostOp::Conv2d { weight, bias, .. } => {
                weight.clear();
                bias.clear();
            }
            _ => {}
        }
    }
    s
}

fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Serializes a network to safetensors bytes.
pub fn to_safetensors(net: &HostNetwork) -> Result<Vec<u8>, ModelError> {
    let owned: Vec<(String, Vec<usize>, Vec<u8>)> = net
        .named_params()
        .into_iter()
        .map(|(name, shape, values)| (name, shape, le_bytes(values)))
        .collect();
    let views = owned
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes).map(|v| (name.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| weights_err(Path::new("(memory)"), e.to_string()))?;
    let spec = serde_json::to_string(&structure(net)).expect("structure serializes");
    let meta = HashMap::from([(SPEC_KEY.to_string(), spec)]);
    safetensors::tensor::serialize(views, Some(meta))
        .map_err(|e| weights_err(Path::new("(memory)"), e.to_string()))
}

/// Saves a network as safetensors, atomically.
pub fn save(net: &HostNetwork, path: &Path) -> Result<(), ModelError> {
    write_atomic(path, &to_safetensors(net)?)
}

/// Fills the weights of `template` from tensors named `{layer}.weight` / `{layer}.bias`.
pub fn fill_weights(
    template: &HostNetwork,
    st: &SafeTensors<'_>,
    path: &Path,
) -> Result<HostNetwork, ModelError> {
    let mut net = template.clone();
    let read = |key: &str, expected: &[usize]| -> Result<Vec<f32>, ModelError> {
        let t = st.tensor(key).map_err(|_| {
            let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
            names.sort();
            weights_err(
                path,
                format!(
                    "missing tensor '{key}' (expected shape {expected:?}); the file has: {}",
                    names.join(", ")
                ),
            )
        })?;
        if t.shape() != expected {
            return Err(weights_err(
                path,
                format!(
                    "tensor '{key}' has shape {:?}, expected {expected:?}",
                    t.shape()
                ),
            ));
        }
        if t.dtype() != Dtype::F32 {
            return Err(weights_err(
                path,
                format!("tensor '{key}' is {:?}, expected F32", t.dtype()),
            ));
        }
        Ok(t.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    };
    for l in &mut net.layers {
        let wk = format!("{}.weight", l.name);
        let bk = format!("{}.bias", l.name);
        match &mut l.op {
            HostOp::Linear {
                in_features,
                out_features,
                weight,
                bias,
            } => {
                *weight = read(&wk, &[*out_features, *in_features])?;
                *bias = read(&bk, &[*out_features])?;
            }
            HostOp::Conv2d {
                in_channels,
                out_channels,
                kernel,
                weight,
                bias,
                ..
            } => {
                *weight = read(&wk, &[*out_channels, *in_channels, kernel[0], kernel[1]])?;
                *bias = read(&bk, &[*out_channels])?;
            }
            _ => {}
        }
    }
    net.check()
        .map_err(|e| weights_err(path, format!("weights do not fit: {e}")))?;
    Ok(net)
}

/// Loads a network from safetensors bytes; `template` gives the structure when the file has
/// no `fcollide.spec` metadata (e.g. a PyTorch export).
pub fn from_safetensors(
    bytes: &[u8],
    path: &Path,
    template: Option<&HostNetwork>,
) -> Result<HostNetwork, ModelError> {
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| weights_err(path, format!("not a valid safetensors file: {e}")))?;
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| weights_err(path, format!("not a valid safetensors file: {e}")))?;
    let from_meta = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(SPEC_KEY))
        .map(|s| {
            serde_json::from_str::<HostNetwork>(s)
                .map_err(|e| weights_err(path, format!("bad {SPEC_KEY} metadata: {e}")))
        })
        .transpose()?;
    let template = match (&from_meta, template) {
        (_, Some(t)) => t,
        (Some(m), None) => m,
        (None, None) => {
            return Err(weights_err(
                path,
                "the file does not say its architecture (no fcollide.spec metadata): name one with --arch",
            ))
        }
    };
    fill_weights(template, &st, path)
}

/// Loads a network from a safetensors file (memory-mapped).
pub fn load(path: &Path, template: Option<&HostNetwork>) -> Result<HostNetwork, ModelError> {
    let file = std::fs::File::open(path).map_err(|source| ModelError::Io {
        path: path.display().to_string(),
        source,
    })?;
    // SAFETY: the map is read-only and lives only during this call; a file truncated by
    // another process while mapped is outside what we guard against.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|source| ModelError::Io {
        path: path.display().to_string(),
        source,
    })?;
    from_safetensors(&map, path, template)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::arch;
    use rand::SeedableRng;

    #[test]
    fn round_trip_and_errors() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let net = arch::lenet5(&mut rng);
        let bytes = to_safetensors(&net).unwrap();
        let back = from_safetensors(&bytes, Path::new("x.safetensors"), None).unwrap();
        assert_eq!(back, net);
        // Against the wrong architecture: names the missing key and shapes.
        let mlp = arch::mlp(&mut rng);
        let err = from_safetensors(&bytes, Path::new("x.safetensors"), Some(&mlp))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x.safetensors") && err.contains("fc1.weight"),
            "{err}"
        );
        assert!(
            err.contains("[120, 400]") && err.contains("[256, 784]"),
            "{err}"
        );
        // Garbage and truncation do not panic.
        assert!(from_safetensors(b"nonsense", Path::new("g"), None).is_err());
        assert!(from_safetensors(&bytes[..bytes.len() / 2], Path::new("t"), None).is_err());
    }
}
