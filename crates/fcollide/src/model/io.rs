//! Network weights as safetensors files (memory-mapped on load, atomic on save).
//!
//! Tensors are named `{node}.weight` / `{node}.bias` (and batch norm's `running_mean` /
//! `running_var`) in PyTorch layouts (`[out, in]`, `[out, in/groups, kh, kw]`), f32
//! little-endian. The file's metadata key `fcollide.spec` holds the network structure as JSON
//! (the [`Graph`] with empty weight vectors, inputs by name), so a file written by fcollide
//! loads on its own. Files written before the graph (a `layers` chain) still load. Every
//! tensor of the file must belong to the structure: a file with tensors the structure does not
//! use is refused, naming them. Other metadata entries (e.g. `fcollide.train_key`, the key of
//! `reproduce`'s model cache: [`crate::run::cache`]) are written by [`save_with`] and read by
//! [`read_metadata`].
use super::graph::Graph;
use super::ModelError;
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

/// Writes `bytes` to `path` atomically with [`crate::fsutil::write_atomic`] (a synced
/// temporary file renamed over the destination; only regular files are replaced, symlinks
/// are written through).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    crate::fsutil::write_atomic(path, bytes).map_err(|source| ModelError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Serializes a network to safetensors bytes.
pub fn to_safetensors(net: &Graph) -> Result<Vec<u8>, ModelError> {
    to_safetensors_with(net, HashMap::new())
}

/// Serializes a network to safetensors bytes with `extra` metadata entries beside
/// `fcollide.spec` (which an entry of that name cannot replace).
pub fn to_safetensors_with(
    net: &Graph,
    mut extra: HashMap<String, String>,
) -> Result<Vec<u8>, ModelError> {
    let owned: Vec<(String, Vec<usize>, Vec<u8>)> = net
        .named_params()
        .into_iter()
        .map(|(name, shape, values)| (name, shape, crate::bytes::f32s_to_le(values)))
        .collect();
    let views = owned
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes).map(|v| (name.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| weights_err(Path::new("(memory)"), e.to_string()))?;
    let spec = serde_json::to_string(&net.structure()).expect("structure serializes");
    extra.insert(SPEC_KEY.to_string(), spec);
    safetensors::tensor::serialize(views, Some(extra))
        .map_err(|e| weights_err(Path::new("(memory)"), e.to_string()))
}

/// Saves a network as safetensors, atomically.
pub fn save(net: &Graph, path: &Path) -> Result<(), ModelError> {
    write_atomic(path, &to_safetensors(net)?)
}

/// Saves a network as safetensors with `extra` metadata entries, atomically (the weights and
/// the entries are written together, so they always describe the same network).
pub fn save_with(
    net: &Graph,
    path: &Path,
    extra: HashMap<String, String>,
) -> Result<(), ModelError> {
    write_atomic(path, &to_safetensors_with(net, extra)?)
}

/// The metadata entries of a safetensors file (empty when it has none).
pub fn read_metadata(path: &Path) -> Result<HashMap<String, String>, ModelError> {
    let map = map_file(path)?;
    let (_, meta) = SafeTensors::read_metadata(&map)
        .map_err(|e| weights_err(path, format!("not a valid safetensors file: {e}")))?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

/// Fills the weights of `template` from tensors named `{node}.{param}`; every tensor of the
/// file must be used.
pub fn fill_weights(
    template: &Graph,
    st: &SafeTensors<'_>,
    path: &Path,
) -> Result<Graph, ModelError> {
    let mut net = template.clone();
    let mut used = std::collections::HashSet::new();
    let read =
        |key: &str, expected: &[usize]| -> Result<Vec<f32>, ModelError> {
            let t =
                st.tensor(key).map_err(|_| {
                    let mut names: Vec<String> =
                        st.names().into_iter().map(str::to_string).collect();
                    names.sort();
                    let more = names.len().saturating_sub(40);
                    names.truncate(40);
                    weights_err(
                        path,
                        format!(
                    "missing tensor '{key}' (expected shape {expected:?}); the file has: {}{}",
                    names.join(", "),
                    if more > 0 { format!(" … ({more} more)") } else { String::new() }
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
            crate::limits::check_alloc(&format!("tensor '{key}'"), t.data().len() as u64 / 4, 4)
                .map_err(|e| weights_err(path, e.to_string()))?;
            Ok(crate::bytes::le_f32s(t.data()))
        };
    let shapes: Vec<Vec<(String, Vec<usize>)>> = template
        .nodes
        .iter()
        .map(|n| {
            n.op.params()
                .into_iter()
                .map(|(s, shape, _)| (format!("{}.{s}", n.name), shape))
                .collect()
        })
        .collect();
    for (node, wanted) in net.nodes.iter_mut().zip(shapes) {
        for ((_, dst), (key, shape)) in node.op.params_mut().into_iter().zip(wanted) {
            *dst = read(&key, &shape)?;
            used.insert(key);
        }
    }
    let mut unused: Vec<String> = st
        .names()
        .into_iter()
        .filter(|n| !used.contains(*n))
        .map(str::to_string)
        .collect();
    if !unused.is_empty() {
        unused.sort();
        let n = unused.len();
        unused.truncate(20);
        return Err(weights_err(
            path,
            format!(
                "{n} tensor(s) of the file are not used by the network '{}': {}{}",
                template.arch,
                unused.join(", "),
                if n > 20 { " …" } else { "" }
            ),
        ));
    }
    net.check()
        .map_err(|e| weights_err(path, format!("weights do not fit: {e}")))?;
    super::check_finite(&net).map_err(|msg| weights_err(path, msg))?;
    Ok(net)
}

/// A network structure from `fcollide.spec` metadata (the graph, or the layer chain of older
/// files: [`super::graph::legacy`]).
fn parse_structure(json: &str) -> Result<Graph, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}

/// Loads a network from safetensors bytes; `template` gives the structure when the file has
/// no `fcollide.spec` metadata (e.g. a PyTorch export).
pub fn from_safetensors(
    bytes: &[u8],
    path: &Path,
    template: Option<&Graph>,
) -> Result<Graph, ModelError> {
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| weights_err(path, format!("not a valid safetensors file: {e}")))?;
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| weights_err(path, format!("not a valid safetensors file: {e}")))?;
    let from_meta = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(SPEC_KEY))
        .map(|s| {
            parse_structure(s)
                .map_err(|e| weights_err(path, format!("bad {SPEC_KEY} metadata: {e}")))
        })
        .transpose()?;
    let template = match (&from_meta, template) {
        (_, Some(t)) => t,
        (Some(m), None) => m,
        (None, None) => {
            return Err(weights_err(
                path,
                "the file does not say its architecture (no fcollide.spec metadata): name one (the `arch` parameter)",
            ))
        }
    };
    fill_weights(template, &st, path)
}

/// Loads a network from a safetensors file (memory-mapped; only regular files are read).
pub fn load(path: &Path, template: Option<&Graph>) -> Result<Graph, ModelError> {
    from_safetensors(&map_file(path)?, path, template)
}

/// The file memory-mapped, read-only (regular files only: [`crate::fsutil::map_regular`]).
fn map_file(path: &Path) -> Result<memmap2::Mmap, ModelError> {
    crate::fsutil::map_regular(path).map_err(|source| ModelError::Io {
        path: path.display().to_string(),
        source,
    })
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

    #[test]
    fn unused_tensors_are_refused() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let net = arch::mlp(&mut rng);
        let mut with_bn = net.clone();
        let fc1 = with_bn.find("fc1").unwrap();
        with_bn.insert_node(
            fc1 + 1,
            crate::model::graph::Node {
                name: "bn1".into(),
                op: crate::model::Op::BatchNorm {
                    eps: 1e-5,
                    weight: vec![1.0; 256],
                    bias: vec![0.0; 256],
                    mean: vec![0.0; 256],
                    var: vec![1.0; 256],
                },
                inputs: vec![fc1],
            },
        );
        with_bn.nodes[fc1 + 2].inputs = vec![fc1 + 1];
        let bytes = to_safetensors(&with_bn).unwrap();
        let err = from_safetensors(&bytes, Path::new("bn.safetensors"), Some(&net))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bn1.running_mean") && err.contains("not used"),
            "{err}"
        );
    }

    #[test]
    fn files_from_before_the_graph_load() {
        let json = r#"{"arch":"t","input_shape":[1,2,2],"pixel_bounds":[0.0,1.0],"layers":[
            {"name":"norm","op":{"Normalize":{"mean":[0.5],"std":[0.25]}}},
            {"name":"c","op":{"Conv2d":{"in_channels":1,"out_channels":1,"kernel":[1,1],
              "stride":[1,1],"padding":[0,0],"weight":[],"bias":[]}}},
            {"name":"r","op":"Relu"},{"name":"f","op":"Flatten"},
            {"name":"fc","op":{"Linear":{"in_features":4,"out_features":2,"weight":[],"bias":[]}}}]}"#;
        let g = parse_structure(json).unwrap();
        assert_eq!(g.nodes.len(), 6);
        assert_eq!(g.collision_layers(), vec!["c"]);
    }

    #[test]
    fn nan_weights_are_refused_naming_the_tensor() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let mut net = arch::mlp(&mut rng);
        let fc2 = net.find("fc2").unwrap();
        if let crate::model::Op::Linear { weight, .. } = &mut net.nodes[fc2].op {
            weight[5] = f32::NAN;
        }
        let name = "fc2";
        let bytes = to_safetensors(&net).unwrap();
        let err = from_safetensors(&bytes, Path::new("nan.safetensors"), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nan.safetensors")
                && err.contains(&format!("{name}.weight"))
                && err.contains("NaN"),
            "{err}"
        );
    }
}
