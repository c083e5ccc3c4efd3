//! One file per command. Each takes its parsed flags, gets checked parameters from
//! [`crate::params`], reads its inputs through [`inputs`], calls the library and prints what
//! it did through `outln!`.
mod audit;
mod exact;
mod inputs;
mod inspect;
mod patches;
mod reproduce;
mod sweep;
mod train;
mod verify;
mod vertices;

use crate::args::reproduce::{Experiment, ReproduceArgs};
use crate::args::{Cli, Command};
use crate::progress::Bars;
use anyhow::Result;
use fcollide::prelude::Device;

/// What every command shares: the compute device and the progress display.
pub struct Ctx {
    /// The compute device's name (`--device`).
    pub device_name: &'static str,
    /// The compute device.
    pub device: Device,
    /// Progress on stderr (nothing with `--quiet`).
    pub bars: Bars,
}

/// Runs the parsed command line (no command: `reproduce mnist` with its defaults).
pub fn run(cli: Cli) -> Result<()> {
    let ctx = Ctx {
        device_name: cli.device.name(),
        device: fcollide::model::device_by_name(cli.device.name())?,
        bars: Bars::new(cli.quiet),
    };
    match cli.command {
        None => reproduce::run(Experiment::Mnist, &ReproduceArgs::defaults(), &ctx),
        Some(Command::Reproduce {
            experiment: Experiment::Audit,
            run,
        }) => reproduce::run_audit(&run, &cli.limit, &ctx),
        Some(Command::Reproduce { experiment, run }) => reproduce::run(experiment, &run, &ctx),
        Some(Command::Train(a)) => train::run(&a, &ctx),
        Some(Command::Vertices(a)) => vertices::run(&a, &ctx),
        Some(Command::Exact(a)) => exact::run(&a, &ctx),
        Some(Command::Sweep(a)) => sweep::run(&a, &ctx),
        Some(Command::Patches { command }) => patches::run(command, &ctx),
        Some(Command::Inspect(a)) => inspect::run(&a, &ctx),
        Some(Command::Verify(a)) => verify::run(&a, &ctx),
        Some(Command::Audit(a)) => audit::run(&a, &cli.limit, &ctx),
    }
}
