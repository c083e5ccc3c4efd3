//! The flags of `train`, `vertices`, `verify`, `exact`, `sweep` and `inspect`.
use super::common::{
    count_in, parse_normalize, DataArgs, ModelArgs, SearchArgs, TrainArgs, MAX_SAMPLES,
};
use super::values::{LpSolverArg, ResizeArg};
use clap::Args;
use fcollide::collide::params::MAX_VERTICES;
use fcollide::model::graph::fold::Normalization;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TrainCmd {
    /// Architecture.
    #[arg(long, default_value = "mlp")]
    pub arch: String,
    /// Where to write the weights.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub train: TrainArgs,
}

#[derive(Args, Debug)]
pub struct VerticesCmd {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// The target: `index:N` (test split) or `file:PATH` (PNG/JPEG of the input size).
    #[arg(long)]
    pub target: String,
    /// Start: `target`, `index:N` or `file:PATH`.
    #[arg(long, default_value = "target")]
    pub init: String,
    #[command(flatten)]
    pub search: SearchArgs,
    /// Vertex file to write (safetensors).
    #[arg(long)]
    pub out: PathBuf,
    /// Checkpoint file (written atomically every --checkpoint-every steps and on Ctrl-C).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Steps between checkpoints (0: only on Ctrl-C).
    #[arg(long, allow_negative_numbers = true, default_value_t = 500)]
    pub checkpoint_every: usize,
    /// Resume from --checkpoint if it exists (same settings, target and start).
    #[arg(long, requires = "checkpoint")]
    pub resume: bool,
}

#[derive(Args, Debug)]
pub struct ExactCmd {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// The target: `index:N` (test split) or `file:PATH`.
    #[arg(long)]
    pub target: String,
    /// Also find the colliding input closest in L1 to this image (`index:N`, `file:PATH`).
    #[arg(long)]
    pub other: Option<String>,
    /// Collision layer.
    #[arg(long, default_value = "fc1")]
    pub layer: String,
    /// Number of vertices (one LP each).
    #[arg(long, default_value_t = 5, allow_hyphen_values = true, value_parser = count_in(1, MAX_VERTICES))]
    pub vertices: usize,
    /// Units of Z to push, comma-separated (default: the first K of Z).
    #[arg(long, allow_negative_numbers = true, value_delimiter = ',')]
    pub units: Option<Vec<usize>>,
    /// Random convex combinations to certify.
    #[arg(long, default_value_t = 2000, allow_hyphen_values = true, value_parser = count_in(1, MAX_SAMPLES))]
    pub samples: usize,
    /// Random directions for extents (two LPs each).
    #[arg(long, allow_negative_numbers = true, default_value_t = 8)]
    pub directions: usize,
    /// Solver of the vertex LPs: auto (the dense dual simplex up to 1,024 rows, with row
    /// generation above), dense (always over all rows) or highs (a build with
    /// `--features highs`).
    #[arg(long, value_enum, default_value = "auto")]
    pub lp_solver: LpSolverArg,
    /// Output folder.
    #[arg(long, default_value = "fcollide-exact")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct SweepCmd {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// The target: `index:N` (test split) or `file:PATH`.
    #[arg(long)]
    pub target: String,
    /// Layers, comma-separated (default: every collision layer; --layer L sweeps the one
    /// layer L).
    #[arg(long, value_delimiter = ',')]
    pub layers: Option<Vec<String>>,
    #[command(flatten)]
    pub search: SearchArgs,
    /// Samples per layer.
    #[arg(long, default_value_t = 2000, allow_hyphen_values = true, value_parser = count_in(1, MAX_SAMPLES))]
    pub samples: usize,
    /// Output folder.
    #[arg(long, default_value = "fcollide-sweep")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct InspectCmd {
    /// The model file (fcollide safetensors, .toml spec, .onnx, or weights with --arch).
    pub model: PathBuf,
    /// Architecture of a weights file that does not record it.
    #[arg(long)]
    pub arch: Option<String>,
    /// Replace the model's input normalization: none, mnist, imagenet or
    /// mean=a,b,c,std=d,e,f.
    #[arg(long, value_parser = parse_normalize)]
    pub normalize: Option<Normalization>,
    /// An input image (PNG/JPEG; resized with --resize when its size differs).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// How an image of another size is brought to the model's: standard (torchvision's
    /// Resize(256) + CenterCrop(224), scaled) or direct (shorter side straight to the
    /// crop size, Lanczos).
    #[arg(long, value_enum, default_value = "standard")]
    pub resize: ResizeArg,
    /// Class names, one per line (default: the ImageNet names for 1000 outputs).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Write one JSON object (keys include "logits" and "collision_layers"; with
    /// --hyperplanes, the per-layer summaries).
    #[arg(long)]
    pub json: bool,
    /// Summarize the cosine similarity between every pair of unit hyperplanes (rows of W,
    /// flattened conv filters) of each Linear and Conv2d layer (§5.2 of the paper).
    #[arg(long)]
    pub hyperplanes: bool,
    /// With --hyperplanes: write hyperplanes.json, hyperplanes.md and a histogram per layer
    /// (hyperplanes-LAYER.png/.svg) into this folder.
    #[arg(long, requires = "hyperplanes")]
    pub out: Option<PathBuf>,
    /// With --hyperplanes: the most rows per layer (a layer with more uses a sample of this
    /// many, seeded by --seed).
    #[arg(long, default_value_t = 512, requires = "hyperplanes", value_parser = clap::value_parser!(u64).range(2..=100_000))]
    pub max_rows: u64,
    /// With --hyperplanes: the seed of the row sample.
    #[arg(long, default_value_t = 0, requires = "hyperplanes")]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct VerifyCmd {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Vertex file written by `fcollide vertices` or `reproduce`.
    #[arg(long)]
    pub vertices: PathBuf,
    /// Number of random convex combinations.
    #[arg(long, default_value_t = 2000, allow_hyphen_values = true, value_parser = count_in(1, MAX_SAMPLES))]
    pub samples: usize,
    /// Seed of the sampling.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    pub seed: u64,
    /// Largest relative feature error at which the polytope still collides (default:
    /// the tolerance recorded in the vertex file, else 1e-3).
    #[arg(long, allow_negative_numbers = true)]
    pub collision_tol: Option<f64>,
    /// Write the figures as JSON here (stdout when absent).
    #[arg(long)]
    pub out: Option<PathBuf>,
}
