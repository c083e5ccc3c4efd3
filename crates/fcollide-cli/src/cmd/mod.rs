//! One file per command. Each takes its parsed flags, gets checked parameters from
//! [`crate::params`], reads its inputs through [`inputs`], calls the library and prints what
//! it did through `outln!`.
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

/// What every command shares: the compute device and the progress display.
pub struct Ctx {
    /// The compute device's name (`--device`; checked by [`run`], opened by [`Ctx::device`]).
    pub device_name: &'static str,
    /// Progress on stderr (nothing with `--quiet`).
    pub bars: Bars,
}

/// Opens `ctx`'s compute device (checked by [`run`]).
macro_rules! device {
    ($ctx:expr) => {
        fcollide::model::device_by_name($ctx.device_name)?
    };
}
pub(crate) use device;

/// Runs the parsed command line (no command: `reproduce mnist` with its defaults).
pub fn run(cli: Cli) -> Result<()> {
    let ctx = Ctx {
        device_name: cli.device.name(),
        bars: Bars::new(cli.quiet),
    };
    // A device this build lacks fails here, before any command reads its inputs.
    fcollide::model::device_by_name(ctx.device_name)?;
    match cli.command {
        None => reproduce::run(Experiment::Mnist, &ReproduceArgs::defaults(), &ctx),
        Some(Command::Reproduce { experiment, run }) => reproduce::run(experiment, &run, &ctx),
        Some(Command::Train(a)) => train::run(&a, &ctx),
        Some(Command::Vertices(a)) => vertices::run(&a, &ctx),
        Some(Command::Exact(a)) => exact::run(&a, &ctx),
        Some(Command::Sweep(a)) => sweep::run(&a, &ctx),
        Some(Command::Patches { command }) => patches::run(command, &ctx),
        Some(Command::Inspect(a)) => inspect::run(&a, &ctx),
        Some(Command::Verify(a)) => verify::run(&a, &ctx),
    }
}
