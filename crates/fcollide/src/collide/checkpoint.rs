//! Checkpoints of a vertex search: the free parameters `z`, Adam's `m`, `v`, `t`, the step
//! reached and the loss history, as safetensors (tensors `z`, `m`, `v`; metadata
//! `fcollide.checkpoint` with the step, the search parameters and a fingerprint of target and
//! starting images). Written atomically, so an interrupted write never leaves a broken file.
use super::CollideError;
use crate::model::io::write_atomic;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const KEY: &str = "fcollide.checkpoint";

/// Where and how often to checkpoint, and whether to resume.
#[derive(Clone, Debug)]
pub struct Checkpointing {
    /// The checkpoint file.
    pub path: PathBuf,
    /// Save every this many steps (0: only when interrupted).
    pub every: usize,
    /// Start from the checkpoint if it exists.
    pub resume: bool,
}

/// What a checkpoint holds besides the tensors.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CheckpointMeta {
    /// Steps done.
    pub step: usize,
    /// Adam's step counter.
    pub adam_t: i32,
    /// Search parameters as JSON (must match on resume).
    pub params: serde_json::Value,
    /// FNV-1a fingerprint of the target and starting images (must match on resume).
    pub fingerprint: u64,
    /// Loss history so far.
    pub loss_history: Vec<f64>,
}

/// FNV-1a over the bytes of the given slices.
pub fn fingerprint(parts: &[&[f32]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for x in *p {
            for b in x.to_le_bytes() {
                h ^= b as u64;
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    h
}

fn err(path: &Path, msg: impl Into<String>) -> CollideError {
    CollideError::Checkpoint {
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

fn le(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Saves a checkpoint atomically.
pub fn save(
    path: &Path,
    meta: &CheckpointMeta,
    (z, m, v): (&[f32], &[f32], &[f32]),
) -> Result<(), CollideError> {
    let bytes = [le(z), le(m), le(v)];
    let views = ["z", "m", "v"]
        .iter()
        .zip(&bytes)
        .map(|(n, b)| {
            TensorView::new(Dtype::F32, vec![b.len() / 4], b)
                .map(|t| (n.to_string(), t))
                .map_err(|e| err(path, e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let json = serde_json::to_string(meta).map_err(|e| err(path, e.to_string()))?;
    let out = safetensors::tensor::serialize(views, Some(HashMap::from([(KEY.to_string(), json)])))
        .map_err(|e| err(path, e.to_string()))?;
    write_atomic(path, &out).map_err(CollideError::Model)
}

/// A loaded checkpoint: `(meta, z, m, v)`.
pub type Loaded = (CheckpointMeta, Vec<f32>, Vec<f32>, Vec<f32>);

/// Loads a checkpoint.
pub fn load(path: &Path) -> Result<Loaded, CollideError> {
    let data = std::fs::read(path).map_err(|e| err(path, e.to_string()))?;
    let (_, md) = SafeTensors::read_metadata(&data)
        .map_err(|e| err(path, format!("not a checkpoint: {e}")))?;
    let st =
        SafeTensors::deserialize(&data).map_err(|e| err(path, format!("not a checkpoint: {e}")))?;
    let meta: CheckpointMeta = md
        .metadata()
        .as_ref()
        .and_then(|m| m.get(KEY))
        .ok_or_else(|| err(path, "no checkpoint metadata"))
        .and_then(|s| serde_json::from_str(s).map_err(|e| err(path, e.to_string())))?;
    let read = |n: &str| -> Result<Vec<f32>, CollideError> {
        let t = st
            .tensor(n)
            .map_err(|_| err(path, format!("missing tensor '{n}'")))?;
        Ok(t.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    };
    Ok((meta, read("z")?, read("m")?, read("v")?))
}
