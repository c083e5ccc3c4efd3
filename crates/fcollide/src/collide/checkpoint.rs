//! Checkpoints of a vertex search: the free parameters `z`, Adam's `m`, `v`, `t`, the step
//! reached and the loss history, as safetensors (tensors `z`, `m`, `v`; metadata
//! `fcollide.checkpoint` with the step, the search parameters and a fingerprint of target and
//! starting images). Written atomically, so an interrupted write never leaves a broken file.
//!
//! # Format version 2: a checksum over the content
//! Metadata `fcollide.checkpoint.version` is `2` and `fcollide.checkpoint.sha256` is the
//! SHA-256 (hex) of [`CHECKSUM_DOMAIN`], then the metadata JSON and the little-endian bytes
//! of `z`, `m` and `v`, each preceded by its length as a little-endian `u64`. [`load`]
//! refuses a file whose checksum does not match (a flipped bit in Adam's state, an edited
//! `step`), a file without a version (format 1, from before checksums: delete it and start
//! the search again), non-finite values in `z`, `m`, `v`, and a negative second moment `v`.
use super::CollideError;
use crate::model::io::write_atomic;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const KEY: &str = "fcollide.checkpoint";
const VERSION_KEY: &str = "fcollide.checkpoint.version";
const SUM_KEY: &str = "fcollide.checkpoint.sha256";
/// The checkpoint format version written and read.
pub const VERSION: u32 = 2;
/// The bytes the checksum starts with.
pub const CHECKSUM_DOMAIN: &[u8] = b"fcollide.checkpoint v2\0";

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

/// SHA-256 (hex) of the checkpoint's content (see the module docs).
pub fn checksum(meta_json: &str, tensors: [&[u8]; 3]) -> String {
    let mut h = Sha256::new();
    h.update(CHECKSUM_DOMAIN);
    for part in std::iter::once(meta_json.as_bytes()).chain(tensors) {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Saves a checkpoint atomically.
pub fn save(
    path: &Path,
    meta: &CheckpointMeta,
    (z, m, v): (&[f32], &[f32], &[f32]),
) -> Result<(), CollideError> {
    for (name, t) in [("z", z), ("m", m), ("v", v)] {
        if let Some(i) = t.iter().position(|x| !x.is_finite()) {
            return Err(err(
                path,
                format!("not saved: '{name}' holds {} at index {i}", t[i]),
            ));
        }
    }
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
    let sum = checksum(&json, [&bytes[0], &bytes[1], &bytes[2]]);
    let metadata = HashMap::from([
        (KEY.to_string(), json),
        (VERSION_KEY.to_string(), VERSION.to_string()),
        (SUM_KEY.to_string(), sum),
    ]);
    let out = safetensors::tensor::serialize(views, Some(metadata))
        .map_err(|e| err(path, e.to_string()))?;
    write_atomic(path, &out).map_err(CollideError::Model)
}

/// A loaded checkpoint: `(meta, z, m, v)`.
pub type Loaded = (CheckpointMeta, Vec<f32>, Vec<f32>, Vec<f32>);

/// Loads a checkpoint, checking its version, checksum and values (see the module docs).
pub fn load(path: &Path) -> Result<Loaded, CollideError> {
    let data = crate::fsutil::read_file(path).map_err(|e| err(path, e.to_string()))?;
    let (_, md) = SafeTensors::read_metadata(&data)
        .map_err(|e| err(path, format!("not a checkpoint: {e}")))?;
    let st =
        SafeTensors::deserialize(&data).map_err(|e| err(path, format!("not a checkpoint: {e}")))?;
    let md = md
        .metadata()
        .as_ref()
        .ok_or_else(|| err(path, "not a checkpoint: no fcollide.checkpoint metadata"))?;
    let json = md
        .get(KEY)
        .ok_or_else(|| err(path, "not a checkpoint: no fcollide.checkpoint metadata"))?;
    match md.get(VERSION_KEY).map(String::as_str) {
        None => {
            return Err(err(
                path,
                "format 1 (written by an older fcollide, without a checksum): delete it and start the search again",
            ))
        }
        Some(v) if v == VERSION.to_string() => {}
        Some(v) => {
            return Err(err(
                path,
                format!(
                    "format version '{}' is not supported (this fcollide reads version {VERSION}): delete it and start the search again",
                    crate::model::import::pickle::short(v)
                ),
            ))
        }
    }
    let raw = |n: &str| -> Result<&[u8], CollideError> {
        let t = st
            .tensor(n)
            .map_err(|_| err(path, format!("missing tensor '{n}'")))?;
        if t.dtype() != Dtype::F32 {
            return Err(err(
                path,
                format!("tensor '{n}' is {:?}, expected F32", t.dtype()),
            ));
        }
        Ok(t.data())
    };
    let (zb, mb, vb) = (raw("z")?, raw("m")?, raw("v")?);
    let expected = checksum(json, [zb, mb, vb]);
    if md.get(SUM_KEY) != Some(&expected) {
        return Err(err(
            path,
            "checksum mismatch: the file was modified or damaged after it was written; delete it and start the search again",
        ));
    }
    let meta: CheckpointMeta = serde_json::from_str(json).map_err(|e| err(path, e.to_string()))?;
    let read = |n: &str, b: &[u8]| -> Result<Vec<f32>, CollideError> {
        let v: Vec<f32> = crate::bytes::le_f32s(b);
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(err(
                path,
                format!("tensor '{n}' holds {} at index {i}", v[i]),
            ));
        }
        Ok(v)
    };
    let (z, m, v) = (read("z", zb)?, read("m", mb)?, read("v", vb)?);
    if let Some(i) = v.iter().position(|&x| x < 0.0) {
        return Err(err(
            path,
            format!("Adam's second moment 'v' is negative at index {i}"),
        ));
    }
    if meta.adam_t < 0 {
        return Err(err(path, format!("Adam's step count is {}", meta.adam_t)));
    }
    Ok((meta, z, m, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> CheckpointMeta {
        CheckpointMeta {
            step: 7,
            adam_t: 7,
            params: serde_json::json!({"alpha": 1.0}),
            fingerprint: 42,
            loss_history: vec![1.0, 0.5],
        }
    }

    #[test]
    fn round_trip_and_tampering_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.ckpt");
        let (z, m, v) = (vec![0.5f32; 6], vec![0.1f32; 6], vec![0.2f32; 6]);
        save(&p, &meta(), (&z, &m, &v)).unwrap();
        let (back, z2, m2, v2) = load(&p).unwrap();
        assert_eq!(
            (back, z2, m2, v2),
            (meta(), z.clone(), m.clone(), v.clone())
        );
        let good = std::fs::read(&p).unwrap();
        // A flipped bit in Adam's state.
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 3] ^= 0x10;
        std::fs::write(&p, &bad).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(
            e.contains("checksum mismatch") && e.contains("c.ckpt"),
            "{e}"
        );
        // An edited step (same length).
        let (from, to) = (b"\\\"step\\\":7", b"\\\"step\\\":8");
        let at = good.windows(from.len()).position(|w| w == from).unwrap();
        let mut edited = good.clone();
        edited[at..at + to.len()].copy_from_slice(to);
        std::fs::write(&p, &edited).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("checksum mismatch"), "{e}");
        // NaN is never saved.
        let nan = vec![f32::NAN; 6];
        let e = save(&p, &meta(), (&nan, &m, &v)).unwrap_err().to_string();
        assert!(e.contains("'z'") && e.contains("NaN"), "{e}");
        // Format 1 (no version, no checksum) asks to start again.
        let bytes = le(&z);
        let old = safetensors::tensor::serialize(
            ["z", "m", "v"].map(|n| {
                (
                    n.to_string(),
                    TensorView::new(Dtype::F32, vec![6], &bytes).unwrap(),
                )
            }),
            Some(HashMap::from([(
                KEY.to_string(),
                serde_json::to_string(&meta()).unwrap(),
            )])),
        )
        .unwrap();
        std::fs::write(&p, old).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(
            e.contains("format 1") && e.contains("start the search again"),
            "{e}"
        );
    }
}
