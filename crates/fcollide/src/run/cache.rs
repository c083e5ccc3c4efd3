//! The trained-model cache of `reproduce` (`model-{arch}.safetensors` in the output folder).
//!
//! A cached model is reused only when everything that shaped it is the same: the training
//! data (a 64-bit FNV-1a hash of the training images' `f32` little-endian bytes, their labels
//! and shape), the seed (split, initialization and minibatch order), the architecture, the
//! training parameters and the device. That [`TrainKey`] is stored as JSON in the model file's
//! safetensors metadata (`fcollide.train_key`), written in one atomic write with the weights;
//! a model whose key is missing or differs is trained again, and the [`CacheReport`] says
//! which fields differed.
use crate::data::Dataset;
use crate::model::train::TrainParams;
use crate::model::{io as model_io, Graph, ModelError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Metadata entry of the model file that holds the [`TrainKey`].
pub const KEY_ENTRY: &str = "fcollide.train_key";

/// The training data as the cache sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataFingerprint {
    /// Number of training images.
    pub images: usize,
    /// Image shape `[C, H, W]`.
    pub shape: [usize; 3],
    /// FNV-1a 64 of the images' `f32` LE bytes, then the labels, as 16 hex digits.
    pub hash: String,
}

impl DataFingerprint {
    /// Fingerprint of a data set's images and labels.
    pub fn of(data: &Dataset) -> Self {
        let mut h = Fnv64::new();
        for &s in &data.shape {
            h.write(&(s as u64).to_le_bytes());
        }
        h.write(&(data.len() as u64).to_le_bytes());
        for x in &data.images {
            h.write(&x.to_le_bytes());
        }
        h.write(&data.labels);
        Self {
            images: data.len(),
            shape: data.shape,
            hash: format!("{:016x}", h.0),
        }
    }
}

/// 64-bit FNV-1a.
struct Fnv64(u64);

impl Fnv64 {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Everything that shaped a trained model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainKey {
    /// Architecture name.
    pub arch: String,
    /// Seed of the split, initialization and minibatch order.
    pub seed: u64,
    /// The training data.
    pub data: DataFingerprint,
    /// Training parameters.
    pub train: TrainParams,
    /// Compute device of the training.
    pub device: String,
    /// The training labels flipped before training (`reproduce audit`); none: the labels as
    /// the data set gives them. Not written when none, so older keys read as "no flips".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flips: Option<crate::audit::mislabel::FlipParams>,
}

/// What happened to the cached model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CacheReport {
    /// `reused` (the cached model matched) or `trained` (trained here and cached).
    pub status: String,
    /// Why: the fields that matched, or what was missing or differed.
    pub reason: String,
    /// The cache file.
    pub path: String,
    /// The key of this run.
    pub key: TrainKey,
}

impl CacheReport {
    /// Whether the cached model was reused.
    pub fn reused(&self) -> bool {
        self.status == "reused"
    }

    /// One line for the console.
    pub fn line(&self) -> String {
        if self.reused() {
            format!("reused the cached model {} ({})", self.path, self.reason)
        } else {
            format!("trained a new model into {} ({})", self.path, self.reason)
        }
    }
}

/// `Ok(net)` when `path` holds a model trained under `key`, else `Err(reason)`: no file, an
/// unreadable file, a file without a key, or the fields whose values differ (`seed: 0 → 3`).
pub fn lookup(path: &Path, key: &TrainKey, template: &Graph) -> Result<Graph, String> {
    if !path.exists() {
        return Err("no cached model".into());
    }
    let meta =
        model_io::read_metadata(path).map_err(|e| format!("cached model unreadable: {e}"))?;
    let Some(stored) = meta.get(KEY_ENTRY) else {
        return Err("the cached model records no training key (an older fcollide wrote it)".into());
    };
    let stored: serde_json::Value = serde_json::from_str(stored)
        .map_err(|e| format!("the cached model's training key is unreadable: {e}"))?;
    let now = serde_json::to_value(key).expect("the key serializes");
    let diffs = differences(&stored, &now);
    if !diffs.is_empty() {
        return Err(format!(
            "the cached model was trained with other settings: {}",
            diffs.join(", ")
        ));
    }
    model_io::load(path, Some(template)).map_err(|e| format!("cached model unreadable: {e}"))
}

/// Saves `net` with its key, atomically.
pub fn store(net: &Graph, path: &Path, key: &TrainKey) -> Result<(), ModelError> {
    store_with(net, path, key, HashMap::new())
}

/// Saves `net` with its key and more metadata entries (e.g. what training recorded), in one
/// atomic write.
pub fn store_with(
    net: &Graph,
    path: &Path,
    key: &TrainKey,
    mut extra: HashMap<String, String>,
) -> Result<(), ModelError> {
    let json = serde_json::to_string(key).expect("the key serializes");
    extra.insert(KEY_ENTRY.to_string(), json);
    model_io::save_with(net, path, extra)
}

/// `field: old → new` for every leaf (dotted path) whose value differs.
fn differences(old: &serde_json::Value, new: &serde_json::Value) -> Vec<String> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    flatten("", old, &mut a);
    flatten("", new, &mut b);
    let a: HashMap<_, _> = a.into_iter().collect();
    let mut out = Vec::new();
    for (k, v) in &b {
        match a.get(k) {
            Some(o) if o == v => {}
            Some(o) => out.push(format!("{k}: {o} → {v}")),
            None => out.push(format!("{k}: (none) → {v}")),
        }
    }
    let new_keys: std::collections::HashSet<_> = b.iter().map(|(k, _)| k.clone()).collect();
    let mut gone: Vec<_> = a.keys().filter(|k| !new_keys.contains(*k)).collect();
    gone.sort();
    out.extend(gone.into_iter().map(|k| format!("{k}: {} → (none)", a[k])));
    out
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, v, out);
            }
        }
        leaf => out.push((prefix.to_string(), leaf.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::arch;
    use rand::SeedableRng;

    fn data(labels: Vec<u8>, pixel: f32) -> Dataset {
        let n = labels.len();
        Dataset::new(vec![pixel; n * 4], labels, [1, 2, 2], "t").unwrap()
    }

    fn key(seed: u64, d: &Dataset) -> TrainKey {
        TrainKey {
            arch: "mlp".into(),
            seed,
            data: DataFingerprint::of(d),
            train: TrainParams::default(),
            device: "cpu".into(),
            flips: None,
        }
    }

    #[test]
    fn fingerprint_follows_images_and_labels() {
        let d = data(vec![1, 2, 3], 0.5);
        assert_eq!(DataFingerprint::of(&d), DataFingerprint::of(&d.clone()));
        assert_ne!(
            DataFingerprint::of(&d).hash,
            DataFingerprint::of(&data(vec![1, 2, 4], 0.5)).hash
        );
        assert_ne!(
            DataFingerprint::of(&d).hash,
            DataFingerprint::of(&data(vec![1, 2, 3], 0.25)).hash
        );
        // FNV-1a 64 of the empty input is its offset basis.
        assert_eq!(Fnv64::new().0, 0xcbf29ce484222325);
        let mut h = Fnv64::new();
        h.write(b"a");
        assert_eq!(h.0, 0xaf63dc4c8601ec8c);
    }

    #[test]
    fn lookup_reuses_only_a_model_with_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model-mlp.safetensors");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let net = arch::by_name("mlp", &mut rng).unwrap();
        let d = data(vec![1, 2, 3], 0.5);
        let k0 = key(0, &d);
        assert_eq!(
            lookup(&path, &k0, &net).unwrap_err(),
            "no cached model".to_string()
        );
        model_io::save(&net, &path).unwrap();
        assert!(lookup(&path, &k0, &net)
            .unwrap_err()
            .contains("no training key"));
        store(&net, &path, &k0).unwrap();
        let back = lookup(&path, &k0, &net).unwrap();
        assert_eq!(back.named_params().len(), net.named_params().len());
        let k3 = key(3, &d);
        let why = lookup(&path, &k3, &net).unwrap_err();
        assert!(why.contains("seed: 0 → 3"), "{why}");
        let mut k = key(0, &data(vec![1, 2, 4], 0.5));
        k.train.epochs = 1;
        let why = lookup(&path, &k, &net).unwrap_err();
        assert!(
            why.contains("data.hash") && why.contains("train.epochs: 12 → 1"),
            "{why}"
        );
        assert!(!why.contains("seed"), "{why}");
        // Flips are part of the key: a clean model is not reused for a flipped run, nor
        // the other way round; a key written before flips existed means "no flips".
        store(&net, &path, &k0).unwrap();
        let mut kf = k0.clone();
        kf.flips = Some(crate::audit::mislabel::FlipParams::default());
        let why = lookup(&path, &kf, &net).unwrap_err();
        assert!(why.contains("flips.rate: (none) → 0.05"), "{why}");
        store(&net, &path, &kf).unwrap();
        lookup(&path, &kf, &net).unwrap();
        let why = lookup(&path, &k0, &net).unwrap_err();
        assert!(why.contains("flips.seed: 0 → (none)"), "{why}");
        let mut other_seed = kf.clone();
        other_seed.flips.as_mut().unwrap().seed = 9;
        assert!(lookup(&path, &other_seed, &net)
            .unwrap_err()
            .contains("flips.seed: 0 → 9"));
        let old = r#"{"arch":"mlp","seed":0,"data":{"images":3,"shape":[1,2,2],"hash":"00"},"train":{"epochs":12,"batch_size":64,"lr":0.001},"device":"cpu"}"#;
        let back: TrainKey = serde_json::from_str(old).unwrap();
        assert_eq!(back.flips, None);
        assert!(!serde_json::to_string(&k0).unwrap().contains("flips"));
    }
}
