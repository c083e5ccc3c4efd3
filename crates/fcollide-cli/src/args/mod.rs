//! The command line as clap definitions: [`Cli`] and its [`Command`]s. The flags of each
//! command live in `commands.rs`, `reproduce.rs` and `patches.rs`; groups several commands
//! share in `common.rs`; enumerated values in `values.rs`.
pub mod audit;
pub mod commands;
pub mod common;
pub mod patches;
pub mod reproduce;
pub mod values;

use audit::AuditCmd;
use clap::{Parser, Subcommand};
use commands::{ExactCmd, InspectCmd, SweepCmd, TrainCmd, VerifyCmd, VerticesCmd};
use patches::PatchesCommand;
use reproduce::{Experiment, ReproduceArgs};
use values::DeviceArg;

/// Find, verify, measure and show feature collisions in ReLU networks.
///
/// With no command, runs `reproduce mnist --out ./fcollide-out`.
#[derive(Parser, Debug)]
#[command(name = "fcollide", version, about, long_about = None)]
pub struct Cli {
    /// No progress bars.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Compute device: cpu (burn-flex) or cuda (a build with `--features cuda`).
    #[arg(long, global = true, value_enum, default_value = "cpu")]
    pub device: DeviceArg,
    /// Raise (or lower) a resource limit on inputs, `NAME=VALUE` with an optional K/M/G/T
    /// suffix, e.g. `--limit max_tensor_bytes=16G`; repeatable. Names and defaults:
    /// `fcollide::limits` (README, "Limits on inputs"). With `fcollide audit` and
    /// `fcollide reproduce audit`, a plain number `--limit N` audits the first N examples.
    #[arg(long, global = true, value_name = "NAME=VALUE")]
    pub limit: Vec<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Reproduce one of the paper's experiments end to end.
    Reproduce {
        /// Which experiment.
        #[arg(value_enum)]
        experiment: Experiment,
        #[command(flatten)]
        run: Box<ReproduceArgs>,
    },
    /// Train a network on MNIST-like data and save it as safetensors.
    Train(TrainCmd),
    /// Find colliding vertices for a target with a given model.
    Vertices(Box<VerticesCmd>),
    /// Exact colliding polytope by linear programming: certified vertices, dimension, size.
    Exact(Box<ExactCmd>),
    /// Collisions at several layers from one target: success, feature error and vertex
    /// spread per layer (Markdown table, and a log-scale plot of spread and feature error vs depth as PNG and SVG).
    Sweep(Box<SweepCmd>),
    /// Patch databases (§4): build one from a data set, show, index and query it.
    Patches {
        #[command(subcommand)]
        command: PatchesCommand,
    },
    /// Describe a model: nodes, shapes, parameters, normalization and collision layers; with
    /// --input also its logits, top-5 classes and |P|/|Z| at every collision layer.
    Inspect(InspectCmd),
    /// Verify saved vertices: sample the polytope and measure it.
    Verify(VerifyCmd),
    /// Audit a data set: per example the classifier's figures and its exact collision
    /// polytope (|P|, affine dimension, Chebyshev radius, mean extent) as Parquet and CSV;
    /// --shard i/n, checkpoints and --resume for long runs; `audit merge` combines shards.
    /// `--limit N` audits the first N examples.
    Audit(Box<AuditCmd>),
}

impl ReproduceArgs {
    /// The flags of `reproduce mnist` with nothing given: what `fcollide` alone runs.
    pub fn defaults() -> Self {
        let cli = Cli::parse_from(["fcollide", "reproduce", "mnist"]);
        match cli.command {
            Some(Command::Reproduce { run, .. }) => *run,
            _ => unreachable!("the default command parses"),
        }
    }
}
