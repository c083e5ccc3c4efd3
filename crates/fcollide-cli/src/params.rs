//! The one place where flags become checked library parameters. A value the library refuses
//! comes back as a usage error (exit code 2) that names the flag.
use crate::args::audit::AuditRunArgs;
use crate::args::common::{SearchArgs, TrainArgs};
use crate::args::patches::IndexCmd;
use crate::args::reproduce::{Experiment, ReproduceArgs};
use crate::args::values::LpSolverArg;
use crate::error::{usage, usage_bail};
use anyhow::Result;
use fcollide::audit::mislabel::FlipParams;
use fcollide::audit::{AuditError, AuditParams, ValidAuditParams};
use fcollide::collide::{CollideError, ValidVertexParams, VertexParams};
use fcollide::exact::ExactError;
use fcollide::model::train::{TrainParams, ValidTrainParams};
use fcollide::model::ModelError;
use fcollide::patches::db::PatchDbError;
use fcollide::patches::knn::DciParams;
use fcollide::patches::knn::KnnError;
use fcollide::patches::space::PatchParams;
use fcollide::run::audit::AuditExperimentParams;
use fcollide::run::images::ImagesParams;
use fcollide::run::MnistParams;
use fcollide::{BadParam, ParamError};

/// `reproduce patches`: α starts here and grows to --alpha (see `VertexParams::alpha_start`).
const PATCH_ALPHA_START: f32 = 1.0;

/// The flag of a library parameter: `lr_final` → `--lr-final`.
fn flag(param: &str) -> String {
    format!("--{}", param.replace('_', "-"))
}

/// How one command spells the library's parameters: `(parameter, flag)`. A parameter not
/// listed is not a flag of that command (the size of a data set, say), and its error stays
/// as the library wrote it.
pub type Flags = &'static [(&'static str, &'static str)];

/// `patches build`: [`fcollide::patches::db::BuildParams`], the projection and the images.
pub const BUILD_FLAGS: Flags = &[
    ("size", "--size"),
    ("stride", "--stride"),
    ("projection", "--project"),
    ("side", "--side"),
    ("limit_images", "--limit-images"),
];

/// `patches index`: [`DciParams`].
pub const INDEX_FLAGS: Flags = &[
    ("num_levels", "--levels"),
    ("num_composite", "--composite"),
    ("num_simple", "--simple"),
    ("field_of_view", "--field-of-view"),
    ("construction_field_of_view", "--construction-field-of-view"),
    ("retrieve", "--retrieve"),
    ("visit", "--visit"),
];

/// `reproduce patches`: [`PatchParams`], and the database it builds with --dataset.
pub const REPRODUCE_PATCH_FLAGS: Flags = &[
    ("size", "--patch-size"),
    ("k", "--patch-k"),
    ("target_k", "--patch-target-k"),
    ("diverse", "--patch-diverse"),
    ("grid_stride", "--patch-grid-stride"),
    ("db_images", "--patch-db-images"),
    ("tv", "--tv"),
    ("stride", "--patch-stride"),
];

/// The parameter the library refused somewhere in `e`'s chain, if any.
fn refused(e: &anyhow::Error) -> Option<BadParam> {
    e.chain().find_map(|c| {
        if let Some(x) = c.downcast_ref::<fcollide::Error>() {
            x.bad_param()
        } else if let Some(x) = c.downcast_ref::<PatchDbError>() {
            x.bad_param()
        } else if let Some(x) = c.downcast_ref::<KnnError>() {
            x.bad_param()
        } else if let Some(x) = c.downcast_ref::<CollideError>() {
            x.bad_param()
        } else if let Some(x) = c.downcast_ref::<ModelError>() {
            x.bad_param()
        } else if let Some(x) = c.downcast_ref::<AuditError>() {
            x.bad_param()
        } else {
            c.downcast_ref::<ExactError>().and_then(|x| x.bad_param())
        }
    })
}

/// `e` as a usage error (exit 2) naming the flag, when the library refused one of the
/// parameters in `flags`; otherwise `e` unchanged.
pub fn name_flag(e: impl Into<anyhow::Error>, flags: Flags) -> anyhow::Error {
    named(e.into(), |param| {
        flags
            .iter()
            .find(|(p, _)| *p == param)
            .map(|(_, f)| f.to_string())
    })
}

/// [`name_flag`] for a command whose every parameter is a flag: the one in `overrides`, else
/// the parameter's own name spelled as a flag (`lr_final` → `--lr-final`).
pub fn name_flag_dashed(e: impl Into<anyhow::Error>, overrides: Flags) -> anyhow::Error {
    named(e.into(), |param| {
        Some(match overrides.iter().find(|(p, _)| *p == param) {
            Some((_, f)) => f.to_string(),
            None => flag(param),
        })
    })
}

/// `e` as "invalid value for FLAG: …" when it refuses a parameter that `flag_of` names.
fn named(e: anyhow::Error, flag_of: impl Fn(&str) -> Option<String>) -> anyhow::Error {
    match refused(&e).and_then(|b| flag_of(&b.param).map(|f| (f, b.msg))) {
        Some((f, msg)) => usage(format!("invalid value for {f}: {msg}")),
        None => e,
    }
}

/// A `--limit` value that is a plain whole number: `fcollide audit`'s example limit (the
/// global `--limit NAME=VALUE` settings all hold a `=`).
fn example_count(value: &str) -> Option<&str> {
    let v = value.trim();
    (!v.contains('=') && !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '-'))
        .then_some(v)
}

/// `fcollide audit --limit N`: the number of examples (the first N of the split), or none.
pub fn example_limit(values: &[String]) -> Result<Option<usize>> {
    let counts: Vec<&str> = values.iter().filter_map(|v| example_count(v)).collect();
    match counts.as_slice() {
        [] => Ok(None),
        [n] => match n.parse::<usize>() {
            Ok(n) => Ok(Some(n)),
            Err(_) => usage_bail!("invalid value for --limit: '{n}': expected a whole number ≥ 1"),
        },
        _ => usage_bail!("--limit N is given {} times; give it once", counts.len()),
    }
}

/// Applies `--limit NAME=VALUE` settings to the library's limits. A plain number is the
/// example limit of `audit` and `reproduce audit` (`audit_run`: the command is one of them),
/// an error elsewhere.
pub fn apply_limits(settings: &[String], audit_run: bool) -> Result<()> {
    if settings.is_empty() {
        return Ok(());
    }
    let mut l = fcollide::limits::current();
    for setting in settings {
        if example_count(setting).is_some() {
            if audit_run {
                continue;
            }
            usage_bail!(
                "--limit '{setting}': a plain number is the example limit of `fcollide audit` \
                 and `fcollide reproduce audit`; \
                 resource limits are NAME=VALUE (e.g. --limit max_tensor_bytes=16G)"
            );
        }
        let applied = match setting.split_once('=') {
            Some((name, value)) => l.set_by_name(name.trim(), value),
            None => Err(format!("'{setting}': expected NAME=VALUE")),
        };
        if let Err(e) = applied {
            usage_bail!("--limit {e}");
        }
    }
    fcollide::limits::set(l);
    Ok(())
}

/// `--collision-tol`: a tolerance in (0, 1).
pub fn collision_tol(t: f64) -> Result<f64> {
    fcollide::polytope::verdict::check_tolerance(t)
        .map_err(|m| usage(format!("--collision-tol {m}")))?;
    Ok(t)
}

/// The vertex search's parameters: the defaults (or `--paper`'s) with every flag given
/// applied, validated.
pub fn search(args: &SearchArgs) -> Result<VertexParams> {
    let mut p = if args.paper {
        VertexParams::paper()
    } else {
        VertexParams::default()
    };
    if let Some(l) = &args.layer {
        p.layer = l.clone();
    }
    p.vertices = args.vertices;
    p.units = args.units.clone();
    if let Some(c) = args.unit_choice {
        p.unit_choice = c.into();
    }
    if let Some(a) = args.alpha {
        p.alpha = a;
    }
    if args.alpha_start.is_some() {
        p.alpha_start = args.alpha_start;
    }
    if let Some(b) = args.beta {
        p.beta = b;
    }
    if let Some(s) = args.penalty {
        p.penalty = s.into();
    }
    if let Some(s) = args.steps {
        p.steps = s;
    }
    if let Some(l) = args.lr {
        p.lr = l;
    }
    if let Some(l) = args.lr_final {
        p.lr_final = l;
    }
    if let Some(b) = args.r#box {
        p.box_method = b.into();
    }
    if let Some(e) = args.engine {
        p.engine = e.into();
    }
    if let Some(r) = args.region {
        p.region = r.into();
    }
    if let Some(m) = args.lock_margin {
        p.lock_margin = m;
    }
    if let Some(w) = args.lock_weight {
        p.lock_weight = w;
    }
    if let Some(t) = args.saturation_tol {
        p.saturation_tol = t;
    }
    if let Some(t) = args.collision_tol {
        p.collision_tol = collision_tol(t)?;
    }
    check_search(p.clone())?;
    Ok(p)
}

/// [`VertexParams::check`], a refused value as a usage error naming its flag.
pub fn check_search(p: VertexParams) -> Result<ValidVertexParams> {
    p.check().map_err(|e| name_flag_dashed(e, &[]))
}

/// The training parameters, validated.
pub fn train(args: &TrainArgs) -> Result<ValidTrainParams> {
    TrainParams {
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.train_lr,
        hyperplane_penalty: args.hyperplane_penalty,
        hyperplane_layers: args.hyperplane_layers.clone(),
    }
    .check()
    .map_err(|e| name_flag_dashed(e, &[("lr", "--train-lr")]))
}

/// The patch-space parameters of `reproduce patches`.
pub fn patches(args: &ReproduceArgs) -> PatchParams {
    PatchParams {
        size: args.patch_size,
        k: args.patch_k,
        target_k: args.patch_target_k,
        diverse: args.patch_diverse,
        include_own: !args.patch_no_own,
        grid_stride: args.patch_grid_stride,
        db_images: args.patch_db_images,
        tv: args.tv,
        ..Default::default()
    }
}

/// The parameters of `reproduce mnist|lenet|patches` on MNIST-like data.
pub fn mnist(experiment: Experiment, args: &ReproduceArgs, device: &str) -> Result<MnistParams> {
    let (arch, extra_layer) = match experiment {
        Experiment::Lenet => (
            args.arch.clone().unwrap_or_else(|| "lenet5".into()),
            Some(args.conv_layer.clone()),
        ),
        _ => (args.arch.clone().unwrap_or_else(|| "mlp".into()), None),
    };
    let patches_run = experiment == Experiment::Patches;
    let mut vertex = search(&args.search)?;
    if patches_run && vertex.alpha_start.is_none() {
        vertex.alpha_start = Some(PATCH_ALPHA_START);
    }
    if args.patch_index.is_some() && args.patch_db.is_none() {
        usage_bail!("--patch-index needs the patch database it indexes: --patch-db FILE");
    }
    Ok(MnistParams {
        seed: args.data.seed,
        arch,
        extra_layer,
        data_dir: args.data.data.clone(),
        weights: args.weights.clone(),
        retrain: args.retrain,
        train: (*train(&args.train)?).clone(),
        vertex,
        target_class: args.target_class,
        target_index: args.target_index,
        init_index: args.init_index,
        samples: args.samples,
        exact: args.exact,
        union_spread: args.union_spread.unwrap_or(experiment == Experiment::Lenet),
        device: device.to_string(),
        patches: patches_run.then(|| patches(args)),
        patch_db: args.patch_db.clone(),
        patch_index: args.patch_index.clone(),
        ..MnistParams::default()
    })
}

/// The parameters of `reproduce imagenet` (and of `reproduce patches` with an image model
/// when `patches`): the collision layer defaults to fc6.
pub fn images(args: &ReproduceArgs, weights: String, patches_run: bool) -> Result<ImagesParams> {
    let mut vertex = search(&args.search)?;
    if args.search.layer.is_none() {
        vertex.layer = "fc6".into();
    }
    if patches_run && vertex.alpha_start.is_none() {
        vertex.alpha_start = Some(PATCH_ALPHA_START);
    }
    Ok(ImagesParams {
        vertex,
        samples: args.samples,
        seed: args.data.seed,
        checkpoint_every: args.checkpoint_every,
        resume: args.resume,
        patches: patches_run.then(|| patches(args)),
        weights,
    })
}

/// The DCI index parameters of `patches index` (checked against the data when it is built).
pub fn index(args: &IndexCmd) -> DciParams {
    DciParams {
        num_composite: args.composite,
        num_simple: args.simple,
        num_levels: args.levels,
        field_of_view: args.field_of_view,
        construction_field_of_view: args.construction_field_of_view,
        retrieve: args.retrieve,
        visit: args.visit,
        seed: args.index_seed,
        directions: args.directions.into(),
    }
}

/// `fcollide audit`: the parameters its flags name.
pub const AUDIT_FLAGS: Flags = &[
    ("layer", "--layer"),
    ("measures", "--measures"),
    ("directions", "--directions"),
    ("limit", "--limit"),
    ("shard", "--shard"),
    ("checkpoint_every", "--checkpoint-every"),
    ("threads", "--threads"),
];

/// `reproduce audit`: the parameters its flags name.
pub const REPRODUCE_AUDIT_FLAGS: Flags = &[
    ("archs", "--arch"),
    ("flip_rate", "--flip-rate"),
    ("knn", "--knn"),
    ("top_fraction", "--top-fraction"),
    ("layer", "--layer"),
    ("measures", "--measures"),
    ("directions", "--directions"),
    ("limit", "--limit"),
    ("checkpoint_every", "--checkpoint-every"),
    ("threads", "--threads"),
];

/// The parameters of `reproduce audit`, validated (a refused value names its flag).
pub fn reproduce_audit(
    args: &ReproduceArgs,
    limit: Option<usize>,
    device: &str,
) -> Result<AuditExperimentParams> {
    let train = (*train(&args.train)?).clone();
    let check = || -> fcollide::Result<AuditExperimentParams> {
        let p = AuditExperimentParams {
            seed: args.data.seed,
            archs: match &args.arch {
                Some(a) => vec![a.clone()],
                None => vec!["mlp".into(), "lenet5".into()],
            },
            data_dir: args.data.data.clone(),
            retrain: args.retrain,
            train,
            flips: FlipParams {
                rate: args.flip_rate,
                seed: args.flip_seed,
            },
            audit: audit_flags(
                args.search.layer.clone().unwrap_or_else(|| "fc1".into()),
                &args.measures,
                args.directions,
                args.data.seed,
                limit,
                args.checkpoint_every,
                args.threads,
                args.lp_solver,
            )?,
            resume: args.resume,
            device: device.to_string(),
            knn: args.knn,
            top_fraction: args.top_fraction,
        };
        p.check()?;
        Ok(p)
    };
    check().map_err(|e| name_flag(e, REPRODUCE_AUDIT_FLAGS))
}

/// The parameters of `fcollide audit`, validated (a refused value names its flag).
pub fn audit(args: &AuditRunArgs, limit: Option<usize>) -> Result<ValidAuditParams> {
    let check = || -> std::result::Result<ValidAuditParams, AuditError> {
        AuditParams {
            shard: args.shard.parse()?,
            ..audit_flags(
                args.layer.clone(),
                &args.measures,
                args.directions,
                args.data.seed,
                limit,
                args.checkpoint_every,
                args.threads,
                args.lp_solver,
            )?
        }
        .check()
    };
    check().map_err(|e| name_flag(e, AUDIT_FLAGS))
}

/// The audit parameters that `audit` and `reproduce audit` both take from flags (not yet
/// validated; the rest at their defaults).
#[allow(clippy::too_many_arguments)]
fn audit_flags(
    layer: String,
    measures: &str,
    directions: usize,
    seed: u64,
    limit: Option<usize>,
    checkpoint_every: usize,
    threads: usize,
    lp_solver: LpSolverArg,
) -> std::result::Result<AuditParams, AuditError> {
    Ok(AuditParams {
        layer,
        measures: measures.parse()?,
        directions,
        seed,
        limit,
        checkpoint_every,
        threads,
        lp: fcollide::exact::LpOptions {
            solver: lp_solver.into(),
            ..Default::default()
        },
        ..AuditParams::default()
    })
}
