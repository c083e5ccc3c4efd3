//! `fcollide reproduce mnist|lenet|patches|imagenet|audit`: one of the paper's experiments
//! end to end into `--out`.
use super::inputs::load_model;
use super::Ctx;
use crate::args::reproduce::{Experiment, ReproduceArgs};
use crate::error::{usage, usage_bail};
use crate::output::{print_exact, print_rows};
use crate::params;
use anyhow::{Context, Result};
use fcollide::patches::db::{self, BuildParams, PatchDb, SourceOptions};
use fcollide::patches::knn::DciIndex;
use std::path::PathBuf;

pub fn run(experiment: Experiment, args: &ReproduceArgs, ctx: &Ctx) -> Result<()> {
    let result = reproduce(experiment, args, ctx);
    match experiment {
        // The patch space's parameters are named by their --patch-* flags.
        Experiment::Patches => {
            result.map_err(|e| params::name_flag(e, params::REPRODUCE_PATCH_FLAGS))
        }
        _ => result,
    }
}

/// `reproduce audit`: label flips, training with the AUM, the audit, and the AUROC table.
pub fn run_audit(args: &ReproduceArgs, limits: &[String], ctx: &Ctx) -> Result<()> {
    if args.lp_solver == crate::args::values::LpSolverArg::Highs
        && !fcollide::exact::HIGHS_AVAILABLE
    {
        usage_bail!(
            "--lp-solver highs: HiGHS is not compiled into this build; rebuild with \
             `cargo build --release --features highs`, or use --lp-solver auto/dense"
        );
    }
    let p = params::reproduce_audit(args, params::example_limit(limits)?, ctx.device_name)?;
    if args.out.exists() && !args.out.is_dir() {
        usage_bail!("--out {}: not a folder", args.out.display());
    }
    let rec = fcollide::run::audit::reproduce_audit(&p, &args.out, &ctx.bars)?;
    crate::progress::end_phase();
    for m in &rec.models {
        outln!("model {}: {}", m.arch, m.cache.line());
        outln!(
            "model {}: test accuracy {:.2} %; audited {} training examples at {}, {} of them \
             flipped; {} computed in {:.1} s{}",
            m.arch,
            100.0 * m.test_accuracy,
            m.audited,
            m.layer,
            m.audited_flipped,
            m.audit_computed,
            m.audit_seconds,
            if m.audit_reused {
                " (reused the finished audit in the folder)".to_string()
            } else if m.audit_computed > 0 {
                format!(
                    " ({:.3} s per example)",
                    m.audit_seconds / m.audit_computed as f64
                )
            } else {
                String::new()
            }
        );
        for a in &m.measures {
            outln!(
                "  {:<17} AUROC {}{} (larger = flipped: {})",
                a.measure,
                a.auroc_suspicious.map_or("–".into(), |x| format!("{x:.3}")),
                a.auroc_se.map_or(String::new(), |x| format!(" ± {x:.3}")),
                a.auroc_larger.map_or("–".into(), |x| format!("{x:.3}"))
            );
        }
    }
    outln!(
        "wrote {}/auroc.md, auroc.json, and per model the audit folder with flips.csv",
        args.out.display()
    );
    Ok(())
}

fn reproduce(experiment: Experiment, args: &ReproduceArgs, ctx: &Ctx) -> Result<()> {
    match experiment {
        // Reached without the global flags (`cmd::run` passes them to `run_audit`).
        Experiment::Audit => return run_audit(args, &[], ctx),
        Experiment::Imagenet => return images(args, ctx, false),
        Experiment::Patches if args.target_image.is_some() => return images(args, ctx, true),
        _ => {}
    }
    let p = params::mnist(experiment, args, ctx.device_name)?;
    let rec = match experiment {
        Experiment::Patches => fcollide::run::reproduce_patches(&p, &args.out, &ctx.bars)?,
        _ => fcollide::run::reproduce_mnist(&p, &args.out, &ctx.bars)?,
    };
    if let Some(c) = &rec.model.cache {
        outln!("model {}: {}", p.arch, c.line());
    }
    outln!(
        "model {}: test accuracy {:.2} %; dataset pairwise L2 {:.3}",
        p.arch,
        100.0 * rec.model.test_accuracy.unwrap_or(f64::NAN),
        rec.dataset_pairwise_l2
    );
    print_rows(&rec, "dataset");
    print_exact(&rec);
    outln!("wrote {}", args.out.display());
    Ok(())
}

/// `reproduce imagenet`, and `reproduce patches` with an image model (`patches_run`).
fn images(args: &ReproduceArgs, ctx: &Ctx, patches_run: bool) -> Result<()> {
    let weights = args.weights.as_ref().ok_or_else(|| {
        usage("reproduce imagenet needs --weights FILE (safetensors, .pth, .npz, .onnx or a .toml spec)")
    })?;
    let p = params::images(args, weights.display().to_string(), patches_run)?;
    let arch_name = args.arch.clone().unwrap_or_else(|| "vgg16".into());
    let net = load_model(weights, Some(&arch_name), None)?;
    let img = |p: &Option<PathBuf>, flag: &str| -> Result<(String, Vec<f32>)> {
        let Some(p) = p else {
            usage_bail!("reproduce imagenet needs --{flag} IMAGE");
        };
        let v = fcollide::data::image_file::read_image(p, net.input_shape)
            .with_context(|| format!("--{flag}"))?;
        Ok((p.display().to_string(), v))
    };
    let (tn, t) = img(&args.target_image, "target-image")?;
    let (on, o) = img(&args.init_image, "init-image")?;
    let labels: Vec<String> = match &args.labels {
        Some(p) => fcollide::data::imagenet::read_labels_file(p).context("--labels")?,
        None => Vec::new(),
    };
    let (db, index) = match patches_run {
        true => open_patch_db(args, net.input_shape, ctx)?,
        false => (None, None),
    };
    let view = match (&db, &index) {
        (Some(db), Some(ix)) => Some(db.view().with_index(ix)?),
        (Some(db), None) => Some(db.view()),
        _ => None,
    };
    let rec = fcollide::run::images::reproduce_images(
        &net,
        (&tn, &t),
        (&on, &o),
        &labels,
        &p,
        view,
        &args.out,
        &ctx.device,
        &ctx.bars,
    )?;
    outln!(
        "target: {}",
        rec.target
            .top5
            .as_ref()
            .and_then(|a| a.first())
            .map(|x| serde_json::to_string(x).unwrap_or_default())
            .unwrap_or_default()
    );
    print_rows(&rec, "the images' distance");
    outln!("wrote {}", args.out.display());
    Ok(())
}

/// The patch database of an image-model patch run: --patch-db, or --dataset built into
/// OUT/patches.fcpd (reused when its header says it was built from the same images with the
/// same patch size and stride, else built again), with its optional --patch-index.
fn open_patch_db(
    args: &ReproduceArgs,
    shape: [usize; 3],
    ctx: &Ctx,
) -> Result<(Option<PatchDb>, Option<DciIndex>)> {
    let path = match (&args.patch_db, &args.dataset) {
        (Some(p), None) => p.clone(),
        (None, Some(spec)) => {
            let path = args.out.join("patches.fcpd");
            let source = db::open_dataset(
                spec,
                &SourceOptions {
                    side: shape[1].max(shape[2]),
                    split_seed: args.data.seed,
                },
            )
            .with_context(|| format!("--dataset {spec}"))?;
            let params = BuildParams {
                size: args.patch_size,
                stride: args.patch_stride.unwrap_or((args.patch_size / 2).max(1)),
                limit_images: None,
                description: None,
            };
            // Reuse OUT/patches.fcpd only when it was built from these images with these
            // settings; otherwise build it again, and say which.
            let stale = match path.exists() {
                false => Some("none yet".to_string()),
                true => match PatchDb::open(&path) {
                    Ok(old) => db::built_from(&old, source.as_ref(), &params, None),
                    Err(e) => Some(format!("it cannot be read ({e})")),
                },
            };
            match stale {
                None => outln!(
                    "patches: reusing {} (built from the same images with the same patch size \
                     and stride)",
                    path.display()
                ),
                Some(why) => {
                    outln!("patches: building {} ({why})", path.display());
                    std::fs::create_dir_all(&args.out)
                        .with_context(|| format!("--out {}", args.out.display()))?;
                    db::build(source.as_ref(), &params, None, &path, &ctx.bars)?;
                }
            }
            path
        }
        (Some(_), Some(_)) => usage_bail!("give either --patch-db or --dataset, not both"),
        (None, None) => usage_bail!(
            "reproduce patches with --target-image needs a patch database: --patch-db FILE \
             (`fcollide patches build`) or --dataset DIR (a folder of images)"
        ),
    };
    let pdb = PatchDb::open(&path)?;
    pdb.check_compatible(args.patch_size, shape[0])
        .with_context(|| {
            format!(
                "--patch-db {} with --patch-size {}",
                path.display(),
                args.patch_size
            )
        })?;
    let index = match &args.patch_index {
        Some(ix) => Some(pdb.load_index(ix).context("--patch-index")?),
        None => None,
    };
    Ok((Some(pdb), index))
}
