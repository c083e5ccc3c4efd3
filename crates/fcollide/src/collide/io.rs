//! Vertex files: safetensors with tensors `vertices` `[K, C, H, W]`, `init` `[K, C, H, W]`
//! and `target` `[C, H, W]` (f32, raw pixels), and metadata `fcollide.vertices` holding the
//! layer, units, per-vertex figures and search parameters as JSON.
use super::{CollideError, VertexSet};
use crate::bytes::f32s_to_le;
use crate::model::io::write_atomic;
use crate::model::ModelError;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

const META_KEY: &str = "fcollide.vertices";

/// Everything a vertex file holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VertexFile {
    /// The vertices and their figures.
    pub set: VertexSet,
    /// The target image `[C·H·W]`.
    pub target: Vec<f32>,
    /// Starting images `[K, C·H·W]`.
    pub init: Vec<f32>,
    /// Search parameters, as JSON.
    pub params: serde_json::Value,
}

fn err(path: &Path, msg: impl Into<String>) -> CollideError {
    CollideError::Model(ModelError::Weights {
        path: path.display().to_string(),
        msg: msg.into(),
    })
}

/// Saves a vertex file atomically.
pub fn save_vertices(file: &VertexFile, path: &Path) -> Result<(), CollideError> {
    let [c, h, w] = file.set.shape;
    let k = file.set.len();
    let (vb, ib, tb) = (
        f32s_to_le(&file.set.vertices),
        f32s_to_le(&file.init),
        f32s_to_le(&file.target),
    );
    let views = [
        ("vertices", vec![k, c, h, w], &vb),
        ("init", vec![k, c, h, w], &ib),
        ("target", vec![c, h, w], &tb),
    ]
    .into_iter()
    .map(|(name, shape, data)| {
        TensorView::new(Dtype::F32, shape, data)
            .map(|v| (name.to_string(), v))
            .map_err(|e| err(path, e.to_string()))
    })
    .collect::<Result<Vec<_>, _>>()?;
    let mut meta_set = file.set.clone();
    meta_set.vertices.clear();
    let meta = serde_json::json!({ "set": meta_set, "params": file.params });
    let metadata = HashMap::from([(META_KEY.to_string(), meta.to_string())]);
    let out = safetensors::tensor::serialize(views, Some(metadata))
        .map_err(|e| err(path, e.to_string()))?;
    write_atomic(path, &out).map_err(CollideError::Model)
}

/// Loads a vertex file written by [`save_vertices`].
pub fn load_vertices(path: &Path) -> Result<VertexFile, CollideError> {
    let data = crate::fsutil::read_file(path).map_err(|source| {
        CollideError::Model(ModelError::Io {
            path: path.display().to_string(),
            source,
        })
    })?;
    let (_, meta) = SafeTensors::read_metadata(&data)
        .map_err(|e| err(path, format!("not a safetensors vertex file: {e}")))?;
    let st = SafeTensors::deserialize(&data)
        .map_err(|e| err(path, format!("not a safetensors vertex file: {e}")))?;
    let json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| {
            err(
                path,
                format!("no '{META_KEY}' metadata: not written by fcollide"),
            )
        })?;
    let meta: serde_json::Value =
        serde_json::from_str(json).map_err(|e| err(path, format!("bad metadata: {e}")))?;
    let mut set: VertexSet = serde_json::from_value(meta["set"].clone())
        .map_err(|e| err(path, format!("bad metadata: {e}")))?;
    let read = |name: &str, numel: usize| -> Result<Vec<f32>, CollideError> {
        let t = st
            .tensor(name)
            .map_err(|_| err(path, format!("missing tensor '{name}'")))?;
        if t.dtype() != Dtype::F32 || Some(t.data().len()) != numel.checked_mul(4) {
            return Err(err(
                path,
                format!(
                    "tensor '{name}' is {:?} {:?}, expected F32 with {numel} values",
                    t.dtype(),
                    t.shape()
                ),
            ));
        }
        let v: Vec<f32> = crate::bytes::le_f32s(t.data());
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(err(
                path,
                format!(
                    "tensor '{name}' holds {} at flat index {i}; vertex files must be finite",
                    v[i]
                ),
            ));
        }
        Ok(v)
    };
    let d = set
        .shape
        .iter()
        .try_fold(1usize, |a, &x| a.checked_mul(x))
        .and_then(|d| d.checked_mul(set.len()).map(|_| d))
        .filter(|&d| d > 0)
        .ok_or_else(|| {
            err(
                path,
                format!(
                    "bad metadata: shape {:?} with {} vertices",
                    set.shape,
                    set.len()
                ),
            )
        })?;
    set.vertices = read("vertices", set.len() * d)?;
    Ok(VertexFile {
        init: read("init", set.len() * d)?,
        target: read("target", d)?,
        params: meta["params"].clone(),
        set,
    })
}
