//! The flags of `audit` and `audit merge`.
use super::common::{parse_normalize, DataArgs};
use super::values::{LpSolverArg, SplitArg};
use clap::{Args, Subcommand};
use fcollide::model::graph::fold::Normalization;
use std::path::PathBuf;

/// `fcollide audit [--model …] --out DIR` or `fcollide audit merge DIR… --out DIR`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct AuditCmd {
    #[command(subcommand)]
    pub command: Option<AuditSub>,
    #[command(flatten)]
    pub run: Box<AuditRunArgs>,
}

#[derive(Subcommand, Debug)]
pub enum AuditSub {
    /// Combine the output folders of shards 0/n … n−1/n into exactly what a single run
    /// writes.
    Merge(MergeCmd),
}

#[derive(Args, Debug)]
pub struct MergeCmd {
    /// The shard folders (each written by `fcollide audit --shard i/n`).
    #[arg(required = true, num_args = 1..)]
    pub dirs: Vec<PathBuf>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

/// The flags of an audit run. `--model` and `--out` are required by the command (not by
/// clap, which would then ask for them after `audit merge` too).
#[derive(Args, Debug)]
pub struct AuditRunArgs {
    /// The model (required): any file `--model` of the other commands takes.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Architecture of a weights file that does not record it.
    #[arg(long)]
    pub arch: Option<String>,
    /// Replace the model's input normalization: none, mnist, imagenet or
    /// mean=a,b,c,std=d,e,f.
    #[arg(long, value_parser = parse_normalize)]
    pub normalize: Option<Normalization>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Which split to audit.
    #[arg(long, value_enum, default_value = "train")]
    pub split: SplitArg,
    /// Collision layer (a ReLU layer for the exact measures).
    #[arg(long, default_value = "fc1")]
    pub layer: String,
    /// Measures, comma-separated: basic (classifier columns only), dim (|P|, rank, affine
    /// dimension), chebyshev (Chebyshev radius, one LP), extents (mean extent, 2 LPs per
    /// direction), all.
    #[arg(long, default_value = "all")]
    pub measures: String,
    /// Random directions r of the mean extent.
    #[arg(long, allow_negative_numbers = true, default_value_t = 8)]
    pub directions: usize,
    /// This run's shard i/n of the examples (those at positions ≡ i mod n).
    #[arg(long, allow_hyphen_values = true, default_value = "0/1")]
    pub shard: String,
    /// Save a checkpoint after every N finished examples (and on Ctrl-C).
    #[arg(long, allow_negative_numbers = true, default_value_t = 50)]
    pub checkpoint_every: usize,
    /// Continue the unfinished audit saved in --out.
    #[arg(long)]
    pub resume: bool,
    /// Worker threads (0: one per core).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    pub threads: usize,
    /// Solver of the LPs: auto, dense or highs (a build with `--features highs`).
    #[arg(long, value_enum, default_value = "auto")]
    pub lp_solver: LpSolverArg,
    /// Output folder (audit.parquet, audit.csv, audit.json) (required).
    #[arg(long)]
    pub out: Option<PathBuf>,
}
