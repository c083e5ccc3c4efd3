//! `fcollide`: the command-line front end. All logic lives in the `fcollide` library.
//!
//! Layout (after ripgrep's `crates/core`):
//! - `args/`: the flags as clap definitions (`mod.rs`: the commands; `common.rs`: flag groups
//!   several commands share; `commands.rs`, `reproduce.rs`, `patches.rs`: each command's
//!   flags; `values.rs`: every enumerated flag value as a clap `ValueEnum`);
//! - `params.rs`: the one place where flags become checked library parameters;
//! - `cmd/`: one file per command; each reads its inputs, calls the library and prints;
//! - `output.rs`: what goes to stdout (a closed pipe ends the run quietly with exit 0);
//! - `progress.rs`: bars on a terminal, a plain line at most every ~10 s otherwise;
//! - `error.rs`: the error message and the exit code.

/// `print!` for what a command prints on stdout: when stdout is a closed pipe
/// (`fcollide … | head -1`) the process ends quietly with exit 0 instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!($($arg)*))
    };
}

/// `println!` through [`out!`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod args;
mod cmd;
mod error;
mod output;
mod params;
mod progress;

use clap::Parser;

/// Parses the command line, runs it, and exits with 0 (done, or stdout closed early),
/// 1 (the run failed) or 2 (usage: a bad flag, flag value or combination of flags).
fn main() {
    let cli = args::Cli::parse();
    let audit_run = matches!(
        cli.command,
        Some(args::Command::Audit(_))
            | Some(args::Command::Reproduce {
                experiment: args::reproduce::Experiment::Audit,
                ..
            })
    );
    if let Err(e) = params::apply_limits(&cli.limit, audit_run) {
        std::process::exit(error::report(&e));
    }
    progress::install_ctrlc();
    if let Err(e) = cmd::run(cli) {
        std::process::exit(error::report(&e));
    }
}
