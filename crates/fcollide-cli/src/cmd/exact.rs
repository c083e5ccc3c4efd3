//! `fcollide exact`: the exact colliding polytope by linear programming.
use super::inputs::{load_data, read_image};
use super::Ctx;
use crate::args::commands::ExactCmd;
use crate::args::values::LpSolverArg;
use crate::error::usage_bail;
use crate::output::print_exact;
use anyhow::Result;
use fcollide::exact::{ExactParams, LpOptions};
use fcollide::run::exact::{run_exact, ExactJob};

pub fn run(a: &ExactCmd, ctx: &Ctx) -> Result<()> {
    if a.lp_solver == LpSolverArg::Highs && !fcollide::exact::HIGHS_AVAILABLE {
        usage_bail!(
            "--lp-solver highs: HiGHS is not compiled into this build; rebuild with \
             `cargo build --release --features highs` (needs cmake, a C++ compiler and \
             libclang), or use --lp-solver auto/dense"
        );
    }
    let params = ExactParams {
        layer: a.layer.clone(),
        vertices: a.vertices,
        units: a.units.clone(),
        directions: a.directions,
        seed: a.data.seed,
        lp: LpOptions {
            solver: a.lp_solver.into(),
            ..LpOptions::default()
        },
        ..ExactParams::default()
    };
    // Parameter errors before any loading, naming the flag.
    params
        .check()
        .map_err(|e| crate::params::name_flag_dashed(e, &[]))?;
    let net = a.model.load()?;
    let (_, test) = load_data(&a.data)?;
    let t = read_image(&a.target, &test, &net, "target")?;
    let o = match &a.other {
        Some(spec) => Some(read_image(spec, &test, &net, "other")?),
        None => None,
    };
    let job = ExactJob {
        params,
        target: (&a.target, &t),
        other: a.other.as_deref().zip(o.as_deref()),
        model_source: &a.model.model.display().to_string(),
        samples: a.samples,
        dataset: (&test.name, &test.images),
        dataset_pairs: 10_000,
        seed: a.data.seed,
    };
    let rec = run_exact(&net, &job, &a.out, &ctx.bars)?;
    print_exact(&rec);
    outln!("wrote {}", a.out.display());
    Ok(())
}
