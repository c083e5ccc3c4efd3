//! `fcollide audit`: the collision polytope of every example of a split, as a table; and
//! `fcollide audit merge`: shard folders into one.
use super::inputs::{load_data, load_model};
use super::Ctx;
use crate::args::audit::{AuditCmd, AuditSub, MergeCmd};
use crate::args::values::LpSolverArg;
use crate::error::usage_bail;
use anyhow::{Context, Result};
use fcollide::audit::{merge, run_audit, AuditJob};
use std::path::Path;

/// `--out DIR` must be a folder (created when missing).
fn out_dir(out: &Path) -> Result<()> {
    if out.exists() && !out.is_dir() {
        usage_bail!("--out {}: not a folder", out.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("--out {}", out.display()))
}

pub fn run(a: &AuditCmd, limits: &[String], ctx: &Ctx) -> Result<()> {
    if let Some(AuditSub::Merge(m)) = &a.command {
        return run_merge(m);
    }
    let r = &a.run;
    let (Some(model), Some(out)) = (&r.model, &r.out) else {
        usage_bail!(
            "fcollide audit needs --model MODEL and --out DIR (or: fcollide audit merge DIR... \
             --out DIR)"
        );
    };
    if r.lp_solver == LpSolverArg::Highs && !fcollide::exact::HIGHS_AVAILABLE {
        usage_bail!(
            "--lp-solver highs: HiGHS is not compiled into this build; rebuild with \
             `cargo build --release --features highs`, or use --lp-solver auto/dense"
        );
    }
    // Parameter errors before any loading, naming the flag.
    let params = crate::params::audit(r, crate::params::example_limit(limits)?)?;
    out_dir(out)?;
    let net = load_model(model, r.arch.as_deref(), r.normalize.clone())?;
    let (train, test) = load_data(&r.data)?;
    let data = match r.split.name() {
        "train" => &train,
        _ => &test,
    };
    let job = AuditJob {
        net: &net,
        data,
        split: r.split.name(),
        params: &params,
        out,
        resume: r.resume,
    };
    let s = run_audit(&job, &ctx.bars)?;
    crate::progress::end_phase();
    outln!(
        "audited {} example(s) of {} at {} (shard {}): {} resumed, {} computed in {:.1} s{}",
        s.rows,
        data.name,
        params.layer,
        params.shard,
        s.resumed,
        s.computed,
        s.seconds,
        if s.computed > 0 {
            format!(
                " ({:.3} s per example, {} thread(s))",
                s.seconds / s.computed as f64,
                if params.threads == 0 {
                    rayon_threads()
                } else {
                    params.threads
                }
            )
        } else {
            String::new()
        }
    );
    if s.rows_with_errors > 0 {
        outln!(
            "{} row(s) have a measure left empty; their `error` column says why",
            s.rows_with_errors
        );
    }
    if s.behind_nonlinearity {
        outln!(
            "{} lies behind a nonlinearity: the exact measures are those of each example's \
             linear region (lower bounds)",
            params.layer
        );
    }
    outln!(
        "wrote {}/audit.parquet, audit.csv, audit.json, report.md, report.html",
        out.display()
    );
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn run_merge(m: &MergeCmd) -> Result<()> {
    out_dir(&m.out)?;
    let s = merge(&m.dirs, &m.out)?;
    outln!(
        "merged {} shard folder(s): {} rows; wrote {}/audit.parquet, audit.csv, audit.json, \
         report.md, report.html",
        m.dirs.len(),
        s.rows,
        m.out.display()
    );
    Ok(())
}
