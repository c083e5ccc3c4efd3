//! The run record written as `results.json`: parameters, seed, machine, model and every row.
use crate::polytope::Verification;
use serde::{Deserialize, Serialize};

/// The machine a run used.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MachineInfo {
    /// Threads available to the process.
    pub threads: usize,
    /// Operating system.
    pub os: String,
    /// CPU architecture.
    pub arch: String,
    /// Compute device.
    pub device: String,
}

impl MachineInfo {
    /// This machine.
    pub fn current(device: &str) -> Self {
        Self {
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            device: device.into(),
        }
    }
}

/// One row of the experiment (one vertex set and its verification).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RowRecord {
    /// Row name.
    pub name: String,
    /// How the vertices were initialized (`target`, `index:N`).
    pub init: String,
    /// Class of the starting image.
    pub init_class: usize,
    /// Collision layer.
    pub layer: String,
    /// Units pushed down, one per vertex.
    pub units: Vec<usize>,
    /// Units at the layer and `|P|`.
    pub n_units: usize,
    /// `|P|`.
    pub n_plus: usize,
    /// Fraction of samples in the target's class.
    pub success_rate: f64,
    /// Top-class probability of the target.
    pub target_confidence: f64,
    /// Mean top-class probability of the samples.
    pub sample_confidence_mean: f64,
    /// Mean pairwise L2 distance between vertices.
    pub vertex_pairwise_l2: f64,
    /// `vertex_pairwise_l2 / dataset_pairwise_l2`.
    pub vertex_to_dataset_ratio: f64,
    /// Feature error over samples: mean.
    pub feature_rel_err_mean: f64,
    /// Feature error over samples: max.
    pub feature_rel_err_max: f64,
    /// Feature error over vertices: max.
    pub vertex_feature_rel_err_max: f64,
    /// Smallest fraction of zero-set units ≤ 0 over vertices.
    pub z_satisfied_min: f64,
    /// Seconds of vertex optimization.
    pub vertex_seconds: f64,
    /// Gradient engine used.
    pub engine: String,
    /// Per-vertex figures.
    pub vertices: Vec<crate::collide::VertexStats>,
    /// Full verification figures.
    pub verification: Verification,
    /// File holding the vertices (relative to the output folder).
    pub vertices_file: String,
}

impl RowRecord {
    /// A row from its vertex set and verification; `dataset_l2` scales the spread.
    pub fn new(
        (name, init, init_class): (&str, &str, usize),
        set: &crate::collide::VertexSet,
        v: Verification,
        dataset_l2: f64,
        vertices_file: String,
    ) -> Self {
        Self {
            name: name.to_string(),
            init: init.to_string(),
            init_class,
            layer: set.layer.clone(),
            units: set.stats.iter().map(|s| s.unit).collect(),
            n_units: set.n_units,
            n_plus: set.n_plus,
            success_rate: v.success_rate,
            target_confidence: v.target_confidence,
            sample_confidence_mean: v.sample_confidence_mean,
            vertex_pairwise_l2: v.vertex_pairwise_l2,
            vertex_to_dataset_ratio: v.vertex_pairwise_l2 / dataset_l2.max(1e-12),
            feature_rel_err_mean: v.feature_rel_err_mean,
            feature_rel_err_max: v.feature_rel_err_max,
            vertex_feature_rel_err_max: v.vertex_feature_rel_err_max,
            z_satisfied_min: v.z_satisfied_min,
            vertex_seconds: set.seconds,
            engine: set.engine.clone(),
            vertices: set.stats.clone(),
            verification: v,
            vertices_file,
        }
    }
}

/// Everything a run did and measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    /// `fcollide`.
    pub tool: String,
    /// Crate version.
    pub version: String,
    /// Experiment name.
    pub experiment: String,
    /// Seed of every random choice.
    pub seed: u64,
    /// The machine.
    pub machine: MachineInfo,
    /// All parameters.
    pub params: serde_json::Value,
    /// Model facts (`arch`, `test_accuracy`, `source`, …).
    pub model: serde_json::Value,
    /// Dataset facts (`name`, sizes).
    pub dataset: serde_json::Value,
    /// Mean L2 distance between random pairs of dataset images.
    pub dataset_pairwise_l2: f64,
    /// How many pairs were drawn for it.
    pub dataset_pairs: usize,
    /// The target.
    pub target: serde_json::Value,
    /// Rows.
    pub rows: Vec<RowRecord>,
    /// Exact (LP) rows, when asked for.
    #[serde(default)]
    pub exact_rows: Vec<super::exact::ExactRowRecord>,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
}
