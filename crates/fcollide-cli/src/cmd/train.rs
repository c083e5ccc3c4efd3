//! `fcollide train`: train a network on MNIST-like data and save it.
use super::inputs::{check_out, load_data};
use super::Ctx;
use crate::args::commands::TrainCmd;
use crate::params;
use anyhow::Result;
use fcollide::model::{arch, io as model_io};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub fn run(a: &TrainCmd, ctx: &Ctx) -> Result<()> {
    check_out(&a.out, "--out")?;
    let (tr, te) = load_data(&a.data)?;
    let mut rng = ChaCha8Rng::seed_from_u64(a.data.seed);
    let net = arch::by_name(&a.arch, &mut rng)?;
    let p = params::train(&a.train)?;
    let (net, report) =
        fcollide::model::train::train(&net, (&tr, &te), &p, &ctx.device, &mut rng, &ctx.bars)?;
    model_io::save(&net, &a.out)?;
    outln!(
        "test accuracy {:.2} % after {} epoch{} ({:.1} s); wrote {}",
        100.0 * report.test_accuracy,
        p.epochs,
        if p.epochs == 1 { "" } else { "s" },
        report.seconds,
        a.out.display()
    );
    Ok(())
}
