//! The flags of `reproduce`.
use super::common::{
    count_in, DataArgs, SearchArgs, TrainArgs, MAX_K, MAX_PATCH_SIDE, MAX_SAMPLES,
};
use super::values::LpSolverArg;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Which of the paper's experiments `reproduce` runs.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Experiment {
    /// §3.1: MLP on MNIST, rows 1–2, Table 2.
    Mnist,
    /// The same on LeNet-5 at fc1, plus a row at a conv layer (--conv-layer).
    Lenet,
    /// §4: vertices as compositions of dataset patches (MLP, or --arch lenet5).
    Patches,
    /// §3.2: an image model (default VGG-16 at fc6) with --weights, --target-image and
    /// --init-image.
    Imagenet,
    /// §5: does polytope size find mislabelled data? Flips --flip-rate of the training
    /// labels, trains (--arch mlp, lenet5, or both), audits the training examples
    /// (--limit N, --measures) and writes the AUROC of every measure and baseline
    /// (auroc.md).
    Audit,
}

#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// Output folder.
    #[arg(long, default_value = "fcollide-out")]
    pub out: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub train: TrainArgs,
    #[command(flatten)]
    pub search: SearchArgs,
    /// Architecture (default: mlp for `mnist`, lenet5 for `lenet`; for `audit` mlp or
    /// lenet5, default both one after the other).
    #[arg(long)]
    pub arch: Option<String>,
    /// `lenet`: the conv layer of the extra row.
    #[arg(long, default_value = "conv2")]
    pub conv_layer: String,
    /// Use these weights instead of training.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Train again even if the output folder has a cached model trained with the same data,
    /// seed, architecture and training parameters (one trained otherwise is never reused).
    #[arg(long)]
    pub retrain: bool,
    /// Class of the target.
    #[arg(long, allow_negative_numbers = true, default_value_t = 7)]
    pub target_class: u8,
    /// Test-split index of the target (overrides --target-class).
    #[arg(long, allow_negative_numbers = true)]
    pub target_index: Option<usize>,
    /// Test-split index of row 2's starting image.
    #[arg(long, allow_negative_numbers = true)]
    pub init_index: Option<usize>,
    /// Polytope samples per row.
    #[arg(long, default_value_t = 2000, allow_hyphen_values = true, value_parser = count_in(1, MAX_SAMPLES))]
    pub samples: usize,
    /// Add exact (LP) rows beside the gradient rows.
    #[arg(long)]
    pub exact: bool,
    /// For every region-locked row, also run the free (union-of-regions) search and report
    /// both spreads side by side (default: true for `lenet`, false otherwise).
    #[arg(long)]
    pub union_spread: Option<bool>,
    /// `imagenet`: the target image (PNG/JPEG; resized and centre-cropped).
    #[arg(long)]
    pub target_image: Option<PathBuf>,
    /// `imagenet`: row 2's starting image.
    #[arg(long)]
    pub init_image: Option<PathBuf>,
    /// `imagenet`: class names, one per line (for top-5 in the report; default: the embedded
    /// ImageNet-1k names when the model has 1000 classes).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// `imagenet`: steps between checkpoints; `audit`: examples between checkpoints (both
    /// also written on Ctrl-C).
    #[arg(long, allow_negative_numbers = true, default_value_t = 500)]
    pub checkpoint_every: usize,
    /// `imagenet`, `audit`: continue from the checkpoints in --out.
    #[arg(long)]
    pub resume: bool,
    /// `audit`: fraction of the training labels flipped, each to a uniformly chosen other
    /// class.
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    pub flip_rate: f64,
    /// `audit`: seed of the label flips.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    pub flip_seed: u64,
    /// `audit`: measures, comma-separated: basic (classifier columns only), dim (|P|, rank,
    /// affine dimension), chebyshev (Chebyshev radius, one LP), extents (mean extent, 2 LPs
    /// per direction), all.
    #[arg(long, default_value = "all")]
    pub measures: String,
    /// `audit`: random directions r of the mean extent.
    #[arg(long, allow_negative_numbers = true, default_value_t = 8)]
    pub directions: usize,
    /// `audit`: worker threads of the audit (0: one per core).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    pub threads: usize,
    /// `audit`: solver of the LPs: auto, dense or highs (a build with `--features highs`).
    #[arg(long, value_enum, default_value = "auto")]
    pub lp_solver: LpSolverArg,
    /// `audit`: neighbours k of the k-NN distance of the largest polytopes.
    #[arg(long, allow_negative_numbers = true, default_value_t = 5)]
    pub knn: usize,
    /// `audit`: the fraction of audited examples that count as the largest polytopes.
    #[arg(long, default_value_t = 0.01, allow_negative_numbers = true)]
    pub top_fraction: f64,
    /// `patches`: patch side.
    #[arg(long, default_value_t = 14, allow_hyphen_values = true, value_parser = count_in(1, MAX_PATCH_SIDE))]
    pub patch_size: usize,
    /// `patches`: candidate patches per location.
    #[arg(long, default_value_t = 20, allow_hyphen_values = true, value_parser = count_in(1, MAX_K))]
    pub patch_k: usize,
    /// `patches`: candidates retrieved per location for the target when a row starts from
    /// another image.
    #[arg(long, default_value_t = 10, allow_hyphen_values = true, value_parser = count_in(0, MAX_K))]
    pub patch_target_k: usize,
    /// `patches`: keep --patch-k of the r·k nearest patches by farthest-point selection
    /// (1: plain k-NN).
    #[arg(long, default_value_t = 50, allow_hyphen_values = true, value_parser = count_in(1, MAX_K))]
    pub patch_diverse: usize,
    /// `patches`: stride of the grid of windows over the start image (0: half the patch
    /// size, windows overlapping by half, each pixel drawing on every window that covers
    /// it; the patch size: windows side by side).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    pub patch_grid_stride: usize,
    /// `patches`: leave the start's and target's own windows out of the candidates.
    #[arg(long)]
    pub patch_no_own: bool,
    /// `patches`: training images the patch database is cut from (stride 1).
    #[arg(long, allow_negative_numbers = true, default_value_t = 2000)]
    pub patch_db_images: usize,
    /// `patches`: weight of the total variation of the coefficients.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub tv: f32,
    /// `patches`: a prebuilt patch database (`fcollide patches build`) instead of cutting
    /// --patch-db-images digits in memory; its patch size must be --patch-size.
    #[arg(long)]
    pub patch_db: Option<PathBuf>,
    /// `patches`: a DCI index over --patch-db (`fcollide patches index`) instead of exact
    /// k-NN.
    #[arg(long)]
    pub patch_index: Option<PathBuf>,
    /// `patches` with --target-image: build the patch database from this data set (as
    /// `patches build --dataset`, e.g. a folder of images) into OUT/patches.fcpd, reused by
    /// later runs into the same folder.
    #[arg(long)]
    pub dataset: Option<String>,
    /// `patches` with --dataset: stride between database patches (default: half the patch
    /// size).
    #[arg(long, allow_negative_numbers = true)]
    pub patch_stride: Option<usize>,
}
