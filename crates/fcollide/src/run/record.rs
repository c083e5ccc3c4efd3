//! The run record written as `results.json`: parameters, seed, machine, model and every row.
//! Every part is typed, so a field renamed on one side fails to compile (or, for a file
//! written by another version, fails to parse with [`RunRecord::read`] naming the file)
//! instead of reading back as missing.
use super::cache::CacheReport;
use super::params::RunParams;
use crate::exact::ExactPolytope;
use crate::model::train::TrainReport;
use crate::patches::db::PatchDbHeader;
use crate::polytope::{Verdict, Verification};
use crate::{Error, Result};

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The `k` most probable classes as `(class, name, probability)`, most probable first.
pub type TopK = Vec<(usize, String, f32)>;

/// The model a run used.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ModelFacts {
    /// Architecture name (`mlp`, `lenet5`, `vgg16`, …).
    pub arch: String,
    /// Layer names after the input.
    #[serde(default)]
    pub layers: Vec<String>,
    /// Where it came from: the weights file, or `cached: PATH` / `trained: PATH`.
    pub source: String,
    /// Accuracy on the held-out split (none when the run had no test split).
    #[serde(default)]
    pub test_accuracy: Option<f64>,
    /// The training report, when the run trained it.
    #[serde(default)]
    pub train: Option<TrainReport>,
    /// Whether the cached model was reused or retrained, and why.
    #[serde(default)]
    pub cache: Option<CacheReport>,
    /// Input shape `[C, H, W]`.
    #[serde(default)]
    pub input_shape: Option<[usize; 3]>,
}

/// The dataset name of a run on two given images (`reproduce imagenet`).
pub const GIVEN_IMAGES: &str = "given images";

/// The data a run drew from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DatasetFacts {
    /// Name (`mnist`, `fashion-mnist`, [`GIVEN_IMAGES`], a file name).
    pub name: String,
    /// Images in the training split, when there is one.
    #[serde(default)]
    pub train: Option<usize>,
    /// Images in the test split (or given).
    pub test: usize,
    /// Image shape `[C, H, W]`.
    pub shape: [usize; 3],
    /// The prebuilt patch database, when one was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_db: Option<PatchDbFacts>,
}

/// A patch database file a run used.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PatchDbFacts {
    /// The file.
    pub path: PathBuf,
    /// Its header.
    pub header: PatchDbHeader,
    /// The DCI index over it, if one was used.
    pub index: Option<PathBuf>,
}

/// The target image.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TargetFacts {
    /// The split it was taken from (`test`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// Its index in that split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The image file or reference it was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Its class (the label, or the model's prediction for a given image).
    pub class: usize,
    /// The model's top-class probability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// The model's five most probable classes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top5: Option<TopK>,
}

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
    /// Fraction of samples in the target's class (the paper's "success rate": class
    /// agreement, not a collision; see `verdict`).
    #[serde(alias = "success_rate")]
    pub class_agreement: f64,
    /// `collides`, `approximate` or `failed` ([`crate::polytope::verdict`]).
    #[serde(default)]
    pub verdict: Verdict,
    /// Whether the hull is certified ([`crate::polytope::certificate`]).
    #[serde(default)]
    pub certified: bool,
    /// The certificate's bound on the relative feature error of every point of the hull,
    /// present only where it holds (every vertex in one linear region).
    #[serde(default)]
    pub certified_error_bound: Option<f64>,
    /// Smallest slack of a vertex in the target's linear region (negative: outside).
    #[serde(default)]
    pub certificate_margin: Option<f64>,
    /// The tolerance of the verdict.
    #[serde(default = "crate::polytope::verdict::default_tol")]
    pub collision_tol: f64,
    /// Whether the search was locked to the target's linear region.
    #[serde(default)]
    pub region_locked: bool,
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
    /// For a region-locked row: the free search's (union-of-regions) figures from the same
    /// start, when asked for.
    #[serde(default)]
    pub union_of_regions: Option<UnionSpread>,
    /// For a model with named classes (`reproduce imagenet`): each vertex's five most
    /// probable classes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vertex_top5: Vec<TopK>,
}

/// The free (union-of-regions) search beside a region-locked row: its vertices spread over
/// many linear regions, so they lie farther apart, but their hull need not collide.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnionSpread {
    /// Mean pairwise L2 distance between its vertices.
    pub vertex_pairwise_l2: f64,
    /// Over the dataset distance.
    pub vertex_to_dataset_ratio: f64,
    /// Feature error over its samples: max.
    pub feature_rel_err_max: f64,
    /// Feature error over its vertices: max.
    pub vertex_feature_rel_err_max: f64,
    /// Fraction of its samples in the target's class.
    pub class_agreement: f64,
    /// Its verdict.
    pub verdict: Verdict,
    /// Seconds of its search.
    pub vertex_seconds: f64,
}

impl UnionSpread {
    /// From the free search's vertex set and verification.
    pub fn new(set: &crate::collide::VertexSet, v: &Verification, dataset_l2: f64) -> Self {
        Self {
            vertex_pairwise_l2: v.vertex_pairwise_l2,
            vertex_to_dataset_ratio: v.vertex_pairwise_l2 / dataset_l2.max(1e-12),
            feature_rel_err_max: v.feature_rel_err_max,
            vertex_feature_rel_err_max: v.vertex_feature_rel_err_max,
            class_agreement: v.class_agreement,
            verdict: v.verdict,
            vertex_seconds: set.seconds,
        }
    }
}

impl RowRecord {
    /// A one-line account of the row's verdict for consoles and reports, e.g.
    /// `collides (certified, bound 3.1e-5)` or `APPROXIMATE: feature error 1.3e-1 > 1e-3`.
    pub fn verdict_line(&self) -> String {
        verdict_line(
            self.verdict,
            self.certified,
            self.certified_error_bound,
            self.feature_rel_err_max
                .max(self.vertex_feature_rel_err_max),
            self.collision_tol,
        )
    }

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
            class_agreement: v.class_agreement,
            verdict: v.verdict,
            certified: v.certified,
            certified_error_bound: v.certified_error_bound,
            certificate_margin: v.certificate_margin,
            collision_tol: v.collision_tol,
            region_locked: set.region_locked,
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
            union_of_regions: None,
            vertex_top5: Vec::new(),
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
    pub params: RunParams,
    /// The model.
    pub model: ModelFacts,
    /// The data.
    pub dataset: DatasetFacts,
    /// Mean L2 distance between random pairs of dataset images.
    pub dataset_pairwise_l2: f64,
    /// How many pairs were drawn for it.
    pub dataset_pairs: usize,
    /// The target.
    pub target: TargetFacts,
    /// Rows.
    pub rows: Vec<RowRecord>,
    /// Exact (LP) rows, when asked for.
    #[serde(default)]
    pub exact_rows: Vec<ExactRowRecord>,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
}

impl RunRecord {
    /// Reads a `results.json`; one that does not parse as a record of this version is an
    /// error naming the file and what did not match.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| {
            Error::Msg(format!(
                "{}: not a run record of fcollide {}: {e}",
                path.display(),
                env!("CARGO_PKG_VERSION")
            ))
        })
    }
}

/// See [`RowRecord::verdict_line`].
pub fn verdict_line(
    verdict: Verdict,
    certified: bool,
    bound: Option<f64>,
    feature_err_max: f64,
    tol: f64,
) -> String {
    match verdict {
        Verdict::Collides if certified => format!(
            "collides (certified: every point of the hull within {:.1e} relative feature error)",
            bound.unwrap_or(0.0)
        ),
        Verdict::Collides => {
            format!("collides (sampled: feature error ≤ {feature_err_max:.1e} ≤ {tol:.0e}; not certified)")
        }
        Verdict::Approximate => format!(
            "APPROXIMATE: the class is kept but the features differ (feature error up to {feature_err_max:.1e} > {tol:.0e})"
        ),
        Verdict::Failed => format!(
            "FAILED: not a collision (feature error up to {feature_err_max:.1e}, tolerance {tol:.0e})"
        ),
    }
}

/// A verdict as a table cell: `collides (certified ≤ bound)` for a certified hull,
/// `collides (sampled)` when only the samples say so, else the verdict (the short form of
/// [`verdict_line`], shared by every table).
pub fn verdict_cell(verdict: Verdict, certified: bool, bound: Option<f64>) -> String {
    match (verdict, bound.filter(|_| certified)) {
        (Verdict::Collides, Some(b)) => format!("collides (certified ≤ {b:.1e})"),
        (Verdict::Collides, None) => "collides (sampled)".into(),
        (v, _) => v.to_string(),
    }
}

/// The exact counterpart of a row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExactRowRecord {
    /// Row name.
    pub name: String,
    /// Collision layer.
    pub layer: String,
    /// `N+`, `rank(W+)`, affine dimension `d − rank`.
    pub n_plus: usize,
    /// `rank(W+)`.
    pub rank: usize,
    /// `d − rank(W+)`.
    pub affine_dim: usize,
    /// Whether `ker(W+) ⊆ ker(W−)` numerically (then the set is the whole subspace ∩ box).
    pub ker_contained: bool,
    /// Units pushed by the vertex LPs.
    pub units: Vec<usize>,
    /// Predicted class of each vertex (f64 forward).
    pub vertex_class: Vec<usize>,
    /// Top-class probability of each vertex.
    pub vertex_confidence: Vec<f64>,
    /// Fraction of samples (and vertices) classified as the target's class.
    #[serde(alias = "success_rate")]
    pub class_agreement: f64,
    /// Certified: every vertex satisfies the collision system (equalities, `Z` rows and the
    /// region's rows) to 1e-6, so every point of the hull does (each constraint's violation
    /// is convex), and the f64 activation deviation at the vertices is ≤ 1e-6.
    #[serde(default)]
    pub certified: bool,
    /// `collides`, `approximate` or `failed`.
    #[serde(default)]
    pub verdict: crate::polytope::Verdict,
    /// Top-class probability of the target.
    pub target_confidence: f64,
    /// Mean top-class probability over samples.
    pub sample_confidence_mean: f64,
    /// Mean pairwise L2 distance between vertices.
    pub vertex_pairwise_l2: f64,
    /// `vertex_pairwise_l2 / dataset_pairwise_l2`.
    pub vertex_to_dataset_ratio: f64,
    /// Max |post-ReLU activation − target's| over vertices (f64 forward).
    pub vertex_collision_dev: f64,
    /// The same over samples.
    pub sample_collision_dev: f64,
    /// Max constraint violation over vertices.
    pub vertex_max_violation: f64,
    /// Number of samples.
    pub samples: usize,
    /// Radius of the largest ball inside the polytope within its affine subspace.
    pub chebyshev_radius: Option<f64>,
    /// Mean width along random directions in the subspace.
    pub mean_extent: f64,
    /// Seconds of the first (cold) vertex LP.
    pub first_lp_s: f64,
    /// Mean seconds of each later vertex LP.
    pub warm_lp_mean_s: f64,
    /// Notes on degenerate cases.
    pub notes: Vec<String>,
    /// The closest colliding point to another image, if asked.
    pub closest: Option<ClosestRecord>,
    /// Everything the exact engine reported, without the vertex images (`vertices`,
    /// `vertices_f64`, the Chebyshev centre and the certificates' per-point figures are
    /// left empty).
    pub detail: ExactPolytope,
}

/// The colliding point closest in L1 to another image.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClosestRecord {
    /// What the other image was (`index:N`).
    pub other: String,
    /// `‖u − x_other‖₁`.
    pub l1: f64,
    /// `‖u − x_other‖₂`.
    pub l2: f64,
    /// `‖u − x_other‖∞`.
    pub linf: f64,
    /// Predicted class of the point.
    pub class: usize,
    /// Its top-class probability.
    pub confidence: f64,
    /// Max |post-ReLU activation − target's|.
    pub collision_dev: f64,
}

/// An exact row with its images: vertices `[K][d]`, samples `[n·d]`, closest point.
pub struct ExactRow {
    /// Figures.
    pub record: ExactRowRecord,
    /// Vertices as f32 images.
    pub vertices: Vec<Vec<f32>>,
    /// Samples, `[n, d]`.
    pub samples: Vec<f32>,
    /// The closest point to the other image, if asked.
    pub closest: Option<Vec<f32>>,
}
