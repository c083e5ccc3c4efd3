//! `fcollide sweep`: collisions at several layers from one target.
use super::inputs::{load_data, read_image};
use super::Ctx;
use crate::args::commands::SweepCmd;
use crate::error::usage_bail;
use crate::params;
use anyhow::Result;

pub fn run(a: &SweepCmd, ctx: &Ctx) -> Result<()> {
    let p = params::search(&a.search)?;
    let layers = match (&a.layers, &a.search.layer) {
        (Some(_), Some(l)) => {
            usage_bail!(
                "sweep: give --layers (several layers) or --layer {l} (one layer), not both"
            )
        }
        (Some(ls), None) => Some(ls.clone()),
        (None, Some(l)) => Some(vec![l.clone()]),
        (None, None) => None,
    };
    let net = a.model.load()?;
    let (_, test) = load_data(&a.data)?;
    let t = read_image(&a.target, &test, &net, "target")?;
    let layers = layers.unwrap_or_else(|| net.collision_layers());
    let rec = fcollide::run::sweep::sweep(
        &net,
        &t,
        &layers,
        &p,
        a.samples,
        &test.images,
        a.data.seed,
        (&a.out, &ctx.device),
        &ctx.bars,
    )?;
    outln!("{}", fcollide::run::sweep::sweep_table(&rec).to_markdown());
    outln!("wrote {}", a.out.display());
    Ok(())
}
