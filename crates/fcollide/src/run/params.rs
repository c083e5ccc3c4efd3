//! The parameters of each experiment, as the run functions take them and as the run record
//! ([`super::record::RunRecord::params`]) keeps them. A leaf module: the record and the
//! experiments both use it without importing each other.
use crate::collide::VertexParams;
use crate::exact::ExactParams;
use crate::model::train::TrainParams;
use crate::patches::space::PatchParams;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Parameters of `reproduce mnist`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MnistParams {
    /// Seed of the split, training, target choice, sampling and distances.
    pub seed: u64,
    /// Architecture (`mlp` or `lenet5`).
    pub arch: String,
    /// A folder of MNIST-layout IDX files instead of the embedded digits.
    pub data_dir: Option<PathBuf>,
    /// Weights to use instead of training (safetensors).
    pub weights: Option<PathBuf>,
    /// Train again even if the output folder has a cached model trained with the same data,
    /// seed, architecture and training parameters (one trained otherwise is never reused).
    pub retrain: bool,
    /// Training parameters.
    pub train: TrainParams,
    /// Vertex search parameters.
    pub vertex: VertexParams,
    /// Class of the target (the paper: 7).
    pub target_class: u8,
    /// Test-split index of the target (overrides `target_class`).
    pub target_index: Option<usize>,
    /// Test-split index of row 2's starting image (default: the first test example of
    /// another class after the target).
    pub init_index: Option<usize>,
    /// A third row from the target at this layer (e.g. a conv layer), units spread over Z.
    pub extra_layer: Option<String>,
    /// Polytope samples per row.
    pub samples: usize,
    /// Compute device: `cpu` or `cuda`.
    pub device: String,
    /// Search over compositions of dataset patches (§4) instead of pixels.
    pub patches: Option<crate::patches::space::PatchParams>,
    /// With `patches`: a prebuilt patch database file (`fcollide patches build`) instead of
    /// the patches of the first `db_images` training images cut in memory. Its patch size and
    /// channels must match `patches.size` and the data.
    pub patch_db: Option<PathBuf>,
    /// With `patch_db`: a DCI index over it (`fcollide patches index`) instead of exact k-NN.
    pub patch_index: Option<PathBuf>,
    /// Random dataset pairs for the dataset distance.
    pub dataset_pairs: usize,
    /// Also compute exact (LP) rows: vertices, certificates and the closest colliding
    /// point to row 2's start.
    pub exact: bool,
    /// For every region-locked row, also run the free (union-of-regions) search from the
    /// same start and report its spread and verdict beside the locked one.
    #[serde(default)]
    pub union_spread: bool,
}

impl Default for MnistParams {
    fn default() -> Self {
        Self {
            seed: 0,
            arch: "mlp".into(),
            data_dir: None,
            weights: None,
            retrain: false,
            train: TrainParams::default(),
            vertex: VertexParams::default(),
            target_class: 7,
            target_index: None,
            init_index: None,
            extra_layer: None,
            samples: 2000,
            device: "cpu".into(),
            patches: None,
            patch_db: None,
            patch_index: None,
            dataset_pairs: 10_000,
            exact: false,
            union_spread: false,
        }
    }
}

/// Parameters of an image-model reproduction.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImagesParams {
    /// Vertex search.
    pub vertex: VertexParams,
    /// Samples per row.
    pub samples: usize,
    /// Seed of sampling.
    pub seed: u64,
    /// Steps between checkpoints (0: only on Ctrl-C).
    pub checkpoint_every: usize,
    /// Continue from checkpoints in the output folder.
    pub resume: bool,
    /// Search over compositions of database patches (§4) instead of pixels; the database
    /// is passed to [`reproduce_images`](super::images::reproduce_images).
    #[serde(default)]
    pub patches: Option<PatchParams>,
    /// Where the model came from (the weights file or spec), for the record.
    #[serde(default)]
    pub weights: String,
}

/// Parameters of `fcollide exact` ([`super::exact::run_exact`]) as the record keeps them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExactRunParams {
    /// The exact engine's parameters (layer, vertices, units, tolerances, LP options).
    pub exact: ExactParams,
    /// Samples to certify.
    pub samples: usize,
}

/// The parameters of a run, one variant per kind of run; written under `params` in
/// `results.json` with a `kind` key (`mnist`, `images` or `exact`) beside the variant's fields.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
// One per run, written once into the record: the variants' size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum RunParams {
    /// `reproduce mnist`, `reproduce lenet`, `reproduce patches` on the digits.
    Mnist(MnistParams),
    /// `reproduce imagenet`, `reproduce patches` with an image model.
    Images(ImagesParams),
    /// `fcollide exact`.
    Exact(ExactRunParams),
}

impl RunParams {
    /// Polytope samples per row.
    pub fn samples(&self) -> usize {
        match self {
            RunParams::Mnist(p) => p.samples,
            RunParams::Images(p) => p.samples,
            RunParams::Exact(p) => p.samples,
        }
    }

    /// The vertex search of the gradient rows (none for an exact-only run).
    pub fn vertex(&self) -> Option<&VertexParams> {
        match self {
            RunParams::Mnist(p) => Some(&p.vertex),
            RunParams::Images(p) => Some(&p.vertex),
            RunParams::Exact(_) => None,
        }
    }

    /// The patch space, for a patch-composition run.
    pub fn patches(&self) -> Option<&PatchParams> {
        match self {
            RunParams::Mnist(p) => p.patches.as_ref(),
            RunParams::Images(p) => p.patches.as_ref(),
            RunParams::Exact(_) => None,
        }
    }

    /// The exact engine's parameters of an exact-only run.
    pub fn exact(&self) -> Option<&ExactParams> {
        match self {
            RunParams::Exact(p) => Some(&p.exact),
            _ => None,
        }
    }
}
