//! `reproduce audit`: does polytope size find mislabelled data? (§5 of the paper, issue 16)
//!
//! For each architecture (default: the MLP, then LeNet-5):
//! 1. flip `flips.rate` of the training labels ([`flip_labels`]: uniformly chosen examples,
//!    each to a uniformly chosen other class; `ChaCha8Rng` seeded by `flips.seed`);
//! 2. train on the flipped labels, recording every training example's margin
//!    `z_y − max_{j≠y} z_j` after each epoch (the AUM baseline, [`Aum`]), or reuse the cached
//!    model of `out/model-{arch}.safetensors` when its [`TrainKey`] (which holds the flips)
//!    matches; the cached file's metadata also holds the AUM;
//! 3. audit the first `audit.limit` training examples **with the flipped labels** (what
//!    someone auditing a noisy data set has) with [`run_audit`] into `out/{arch}/` (its
//!    progress, checkpoints, `resume` and Ctrl-C), or reuse the finished audit there when
//!    it is of the same model, data and settings ([`finished`]);
//! 4. for each measure, the AUROC ([`auroc`]) for detecting the flipped labels among the
//!    audited examples. A low margin, low confidence, high loss and low AUM are suspicious
//!    (the baselines); for the polytope measures (`n_plus`, `affine_dim`,
//!    `chebyshev_radius`, `mean_extent`) the paper's conjecture is "larger = mislabelled",
//!    and both directions are reported: `auroc_larger` and `1 − auroc_larger`;
//! 5. for the examples with the largest polytopes (the top `top_fraction`, at least one, by
//!    each polytope measure; ties at the cut broken by index), the fraction flipped against
//!    the base rate, and their mean L2 distance to their (assigned) class mean and to their
//!    `knn` nearest training examples against the means over all audited examples
//!    ([`class_mean_distances`], [`knn_distances`]).
//!
//! Files in `out`: `model-{arch}.safetensors`; `{arch}/audit.csv`, `audit.parquet`,
//! `audit.json` and the audit's reports; `{arch}/flips.csv` (per audited example `index,
//! label, clean_label, flipped, aum, class_mean_distance, knn_distance`; join it with
//! `audit.csv` on `index`); and `auroc.json` ([`AurocRecord`]) and `auroc.md`.
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::cache::{self, CacheReport, DataFingerprint, TrainKey};
use super::record::MachineInfo;
use crate::audit::mislabel::{
    auroc, auroc_se, class_mean_distances, flip_labels, knn_distances, Aum, FlipParams,
};
use crate::audit::run::CSV;
use crate::audit::table::read_csv;
use crate::audit::{finished, run_audit, AuditError, AuditJob, AuditParams, AuditRow, Shard};
use crate::data::Dataset;
use crate::model::train::{accuracy, train_with_hook, TrainParams};
use crate::model::{arch, io as model_io, Graph, ModelError};
use crate::progress::Progress;
use crate::{Error, Result};

/// Metadata entry of the cached model that holds its training's [`Aum`].
pub const AUM_ENTRY: &str = "fcollide.aum";
/// The per-example table beside the audit's.
pub const FLIPS_CSV: &str = "flips.csv";

/// Parameters of `reproduce audit`; validate with [`AuditExperimentParams::check`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditExperimentParams {
    /// Seed of the split (embedded data), the initialization and the minibatch order.
    pub seed: u64,
    /// The architectures, one after the other (`mlp`, `lenet5`).
    pub archs: Vec<String>,
    /// A folder of MNIST-layout IDX files instead of the embedded digits.
    pub data_dir: Option<PathBuf>,
    /// Train again even when the cached model matches.
    pub retrain: bool,
    /// Training parameters.
    pub train: TrainParams,
    /// The label flips.
    pub flips: FlipParams,
    /// The audit (layer, measures, limit, …; one shard: `0/1`).
    pub audit: AuditParams,
    /// Continue the unfinished audits saved in the output folder.
    pub resume: bool,
    /// Compute device of the training: `cpu` or `cuda`.
    pub device: String,
    /// Neighbours `k` of the k-NN distance.
    pub knn: usize,
    /// Fraction of the audited examples that count as "the largest polytopes".
    pub top_fraction: f64,
}

impl Default for AuditExperimentParams {
    fn default() -> Self {
        AuditExperimentParams {
            seed: 0,
            archs: vec!["mlp".into(), "lenet5".into()],
            data_dir: None,
            retrain: false,
            train: TrainParams::default(),
            flips: FlipParams::default(),
            audit: AuditParams::default(),
            resume: false,
            device: "cpu".into(),
            knn: 5,
            top_fraction: 0.01,
        }
    }
}

/// Most neighbours of the k-NN distance.
pub const MAX_KNN: usize = 1000;

impl AuditExperimentParams {
    /// Validates every part; an error names the parameter (`archs`, `flip_rate`, `knn`,
    /// `top_fraction`, `shard`, the audit's and the training's fields).
    pub fn check(&self) -> Result<()> {
        let bad = |param: &str, msg: String| Err(Error::Audit(AuditError::param(param, msg)));
        if self.archs.is_empty() {
            return bad("archs", "empty: name at least one architecture".into());
        }
        for a in &self.archs {
            if !matches!(a.as_str(), "mlp" | "lenet5") {
                return bad("archs", format!("'{a}': expected mlp or lenet5"));
            }
        }
        self.flips.check()?;
        if !(1..=MAX_KNN).contains(&self.knn) {
            return bad("knn", format!("{}: must be in 1..={MAX_KNN}", self.knn));
        }
        if !(self.top_fraction.is_finite() && self.top_fraction > 0.0 && self.top_fraction <= 1.0) {
            return bad(
                "top_fraction",
                format!("{}: must be in (0, 1]", self.top_fraction),
            );
        }
        if self.audit.shard != Shard::ALL {
            return bad(
                "shard",
                format!(
                    "{}: the experiment audits every example in one run (0/1)",
                    self.audit.shard
                ),
            );
        }
        self.audit.check()?;
        self.train.clone().check()?;
        Ok(())
    }
}

/// Which way a measure is suspicious.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Suspicious {
    /// Larger values are suspicious.
    Higher,
    /// Smaller values are suspicious.
    Lower,
}

/// The measures the experiment scores: `(column, kind, suspicious direction)`; `kind` is
/// `baseline` or `polytope` (whose direction is the paper's conjecture).
pub const SCORED: [(&str, &str, Suspicious); 8] = [
    ("loss", "baseline", Suspicious::Higher),
    ("margin", "baseline", Suspicious::Lower),
    ("confidence", "baseline", Suspicious::Lower),
    ("aum", "baseline", Suspicious::Lower),
    ("n_plus", "polytope", Suspicious::Higher),
    ("affine_dim", "polytope", Suspicious::Higher),
    ("chebyshev_radius", "polytope", Suspicious::Higher),
    ("mean_extent", "polytope", Suspicious::Higher),
];

/// One measure's AUROC for detecting the flipped labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeasureAuroc {
    /// The column (`aum`: [`FLIPS_CSV`]'s, the others: `audit.csv`'s).
    pub measure: String,
    /// `baseline` or `polytope`.
    pub kind: String,
    /// The direction that counts as suspicious (for a polytope measure: the conjecture).
    pub suspicious: Suspicious,
    /// Audited examples with a value.
    pub examples: usize,
    /// Of them flipped.
    pub flipped: usize,
    /// AUROC with "larger value = flipped" (none without flipped or clean examples).
    pub auroc_larger: Option<f64>,
    /// AUROC in the suspicious direction (`auroc_larger`, or `1 − auroc_larger`).
    pub auroc_suspicious: Option<f64>,
    /// Standard error of the AUROC (Hanley–McNeil, [`auroc_se`]; the same in both
    /// directions): an AUROC within ≈ 2 SE of 0.5 is not told apart from chance.
    #[serde(default)]
    pub auroc_se: Option<f64>,
}

/// The examples with the largest polytopes by one measure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LargestPolytopes {
    /// The measure.
    pub measure: String,
    /// How many examples are "the largest" (`ceil(top_fraction · examples)`).
    pub top: usize,
    /// The smallest value among them.
    pub threshold: f64,
    /// Examples with a value beyond the top that equal the threshold (ties at the cut).
    pub tied_outside: usize,
    /// Fraction of them flipped.
    pub flipped_fraction: f64,
    /// Fraction of all audited examples (with a value) flipped: the base rate.
    pub base_rate: f64,
    /// Their mean L2 distance to their class's mean image (assigned labels).
    pub class_mean_distance: f64,
    /// The same over all audited examples with a value.
    pub class_mean_distance_all: f64,
    /// Their mean distance to their `k` nearest training examples.
    pub knn_distance: f64,
    /// The same over all audited examples with a value.
    pub knn_distance_all: f64,
}

/// One model's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelAuroc {
    /// Architecture.
    pub arch: String,
    /// The audit's collision layer.
    pub layer: String,
    /// Whether the layer lies behind a nonlinearity (the polytope measures are those of the
    /// example's linear region: lower bounds).
    pub behind_nonlinearity: bool,
    /// Accuracy on the (clean) test split.
    pub test_accuracy: f64,
    /// Training examples, and how many were flipped.
    pub train_examples: usize,
    /// Flipped training labels.
    pub train_flipped: usize,
    /// Epochs whose margins make up the AUM.
    pub aum_epochs: usize,
    /// Audited examples.
    pub audited: usize,
    /// Of them flipped.
    pub audited_flipped: usize,
    /// Audited flipped examples the model predicts with their flipped label (memorized).
    pub flipped_fitted: usize,
    /// Audited rows with a measure left empty.
    pub rows_with_errors: usize,
    /// Seconds of the audit's rows computed by this run (0 when all were resumed).
    pub audit_seconds: f64,
    /// Rows computed by this run.
    pub audit_computed: usize,
    /// Whether the finished audit already in the folder (same model, data and settings)
    /// was reused instead of computed again.
    pub audit_reused: bool,
    /// Whether the model was reused from the cache or trained, and why.
    pub cache: CacheReport,
    /// AUROC of every scored measure that has values.
    pub measures: Vec<MeasureAuroc>,
    /// The largest polytopes by each polytope measure that has values.
    pub largest: Vec<LargestPolytopes>,
}

/// `auroc.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AurocRecord {
    /// `fcollide reproduce audit`.
    pub experiment: String,
    /// fcollide's version.
    pub version: String,
    /// The machine.
    pub machine: MachineInfo,
    /// The parameters.
    pub params: AuditExperimentParams,
    /// Per model.
    pub models: Vec<ModelAuroc>,
}

/// Runs the experiment into `out` (see the module docs) and returns its record.
pub fn reproduce_audit(
    p: &AuditExperimentParams,
    out: &Path,
    progress: &dyn Progress,
) -> Result<AurocRecord> {
    p.check()?;
    super::steps::create_out(out)?;
    let audit = p.audit.check()?;
    let (train_set, test_set) = super::steps::load_data(p.data_dir.as_deref(), p.seed)?;
    let device = crate::model::device_by_name(&p.device)?;
    let mut models = Vec::new();
    for a in &p.archs {
        let (net, noisy, flipped, aum, cache) =
            flipped_model(p, a, (&train_set, &test_set), out, &device, progress)?;
        super::steps::check_shape(&noisy, &net)?;
        let dir = out.join(a);
        super::steps::create_out(&dir)?;
        let job = AuditJob {
            net: &net,
            data: &noisy,
            split: "train",
            params: &audit,
            out: &dir,
            resume: p.resume,
        };
        // A finished audit of the same model, data and settings is reused (resuming a
        // two-model run does not audit the first model again).
        let (summary, audit_reused) = match finished(&job)? {
            Some(s) => (s, true),
            None => (run_audit(&job, progress)?, false),
        };
        let rows = read_csv(&dir.join(CSV))?;
        let idx: Vec<usize> = rows.iter().map(|r| r.index as usize).collect();
        let aum_values = aum.values();
        let extras = Extras {
            flipped: idx
                .iter()
                .map(|i| flipped.binary_search(i).is_ok())
                .collect(),
            clean: idx.iter().map(|&i| train_set.label(i)).collect(),
            aum: idx.iter().map(|&i| aum_values[i]).collect(),
            class_mean: class_mean_distances(&noisy, &idx),
            knn: knn_distances(&noisy, &idx, p.knn),
        };
        crate::report::write_atomic(dir.join(FLIPS_CSV), extras.csv(&rows).as_bytes())?;
        let test_accuracy = accuracy(&net, &test_set, &device)?;
        models.push(ModelAuroc {
            arch: a.clone(),
            layer: audit.layer.clone(),
            behind_nonlinearity: summary.behind_nonlinearity,
            test_accuracy,
            train_examples: noisy.len(),
            train_flipped: flipped.len(),
            aum_epochs: aum.epochs,
            audited: rows.len(),
            audited_flipped: extras.flipped.iter().filter(|&&f| f).count(),
            flipped_fitted: rows
                .iter()
                .zip(&extras.flipped)
                .filter(|(r, &f)| f && r.predicted == r.label)
                .count(),
            rows_with_errors: summary.rows_with_errors,
            audit_seconds: summary.seconds,
            audit_computed: summary.computed,
            audit_reused,
            cache,
            measures: score(&rows, &extras),
            largest: largest(&rows, &extras, p.top_fraction),
        });
    }
    let record = AurocRecord {
        experiment: "fcollide reproduce audit".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        machine: MachineInfo::current(if p.device == "cuda" {
            "cuda (burn)"
        } else {
            "cpu (burn-flex)"
        }),
        params: p.clone(),
        models,
    };
    let json = serde_json::to_string_pretty(&record).expect("the record serializes");
    crate::report::write_atomic(out.join("auroc.json"), json.as_bytes())?;
    crate::report::write_atomic(out.join("auroc.md"), markdown(&record).as_bytes())?;
    Ok(record)
}

/// The flipped training set, and the model trained on it with its AUM: reused from
/// `out/model-{arch}.safetensors` when its key (data, flips, seed, architecture, training
/// parameters, device) matches and it holds the AUM, else trained and cached.
#[allow(clippy::type_complexity)]
fn flipped_model(
    p: &AuditExperimentParams,
    arch_name: &str,
    (train_set, test_set): (&Dataset, &Dataset),
    out: &Path,
    device: &burn::tensor::Device,
    progress: &dyn Progress,
) -> Result<(Graph, Dataset, Vec<usize>, Aum, CacheReport)> {
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let template = arch::by_name(arch_name, &mut rng)?;
    let classes = template.check()?;
    let mut flip_rng = ChaCha8Rng::seed_from_u64(p.flips.seed);
    let (noisy, flipped) = flip_labels(train_set, &p.flips, classes, &mut flip_rng)?;
    let path = out.join(format!("model-{arch_name}.safetensors"));
    let key = TrainKey {
        arch: arch_name.to_string(),
        seed: p.seed,
        data: DataFingerprint::of(&noisy),
        train: p.train.clone(),
        device: p.device.clone(),
        flips: Some(p.flips.clone()),
    };
    let report = |status: &str, reason: String| CacheReport {
        status: status.into(),
        reason,
        path: path.display().to_string(),
        key: key.clone(),
    };
    let cached = match p.retrain {
        true => Err("retraining was asked for".to_string()),
        false => cache::lookup(&path, &key, &template).and_then(|net| {
            let aum = cached_aum(&path, noisy.len())?;
            Ok((net, aum))
        }),
    };
    Ok(match cached {
        Ok((net, aum)) => {
            let why = "same flipped training data, flips, seed, architecture, training \
                       parameters and device; AUM from the cached file";
            (net, noisy, flipped, aum, report("reused", why.into()))
        }
        Err(reason) => {
            let params = p.train.clone().check()?;
            let mut aum = Aum::default();
            let mut hook = |_: usize, g: &Graph, d: &burn::tensor::Device| aum.record(g, &noisy, d);
            let (net, _) = train_with_hook(
                &template,
                (&noisy, test_set),
                &params,
                device,
                &mut rng,
                progress,
                Some(&mut hook),
            )?;
            let json = serde_json::to_string(&aum).expect("the AUM serializes");
            cache::store_with(
                &net,
                &path,
                &key,
                HashMap::from([(AUM_ENTRY.to_string(), json)]),
            )?;
            (net, noisy, flipped, aum, report("trained", reason))
        }
    })
}

/// The AUM in a cached model's metadata, for `n` examples.
fn cached_aum(path: &Path, n: usize) -> std::result::Result<Aum, String> {
    let meta = model_io::read_metadata(path).map_err(|e: ModelError| e.to_string())?;
    let text = meta
        .get(AUM_ENTRY)
        .ok_or("the cached model records no AUM (trained without label flips)")?;
    let aum: Aum =
        serde_json::from_str(text).map_err(|e| format!("the cached AUM is unreadable: {e}"))?;
    if aum.sums.len() != n || aum.epochs == 0 {
        return Err(format!(
            "the cached AUM holds {} examples over {} epochs, the data {n}",
            aum.sums.len(),
            aum.epochs
        ));
    }
    Ok(aum)
}

/// What the experiment adds to each audited row (same order as the rows).
struct Extras {
    flipped: Vec<bool>,
    clean: Vec<u8>,
    aum: Vec<f64>,
    class_mean: Vec<f64>,
    knn: Vec<f64>,
}

impl Extras {
    /// `flips.csv`: floats in Rust's shortest round-trip form.
    fn csv(&self, rows: &[AuditRow]) -> String {
        let mut s =
            String::from("index,label,clean_label,flipped,aum,class_mean_distance,knn_distance\n");
        for (k, r) in rows.iter().enumerate() {
            let _ = writeln!(
                s,
                "{},{},{},{},{:?},{:?},{:?}",
                r.index,
                r.label,
                self.clean[k],
                self.flipped[k],
                self.aum[k],
                self.class_mean[k],
                self.knn[k]
            );
        }
        s
    }

    /// The value of `measure` for row `k`.
    fn value(&self, rows: &[AuditRow], k: usize, measure: &str) -> Option<f64> {
        match measure {
            "aum" => Some(self.aum[k]),
            m => rows[k].measure(m),
        }
        .filter(|v| !v.is_nan())
    }
}

fn score(rows: &[AuditRow], x: &Extras) -> Vec<MeasureAuroc> {
    SCORED
        .iter()
        .filter_map(|&(measure, kind, suspicious)| {
            let (s, f): (Vec<f64>, Vec<bool>) = (0..rows.len())
                .filter_map(|k| x.value(rows, k, measure).map(|v| (v, x.flipped[k])))
                .unzip();
            if s.is_empty() {
                return None;
            }
            let larger = auroc(&s, &f);
            let flipped = f.iter().filter(|&&b| b).count();
            Some(MeasureAuroc {
                measure: measure.into(),
                kind: kind.into(),
                suspicious,
                examples: s.len(),
                flipped,
                auroc_se: larger.and_then(|a| auroc_se(a, flipped, s.len() - flipped)),
                auroc_larger: larger,
                auroc_suspicious: larger.map(|a| match suspicious {
                    Suspicious::Higher => a,
                    Suspicious::Lower => 1.0 - a,
                }),
            })
        })
        .collect()
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n.max(1) as f64
}

fn largest(rows: &[AuditRow], x: &Extras, top_fraction: f64) -> Vec<LargestPolytopes> {
    SCORED
        .iter()
        .filter(|(_, kind, _)| *kind == "polytope")
        .filter_map(|&(measure, _, _)| {
            let mut ks: Vec<(usize, f64)> = (0..rows.len())
                .filter_map(|k| x.value(rows, k, measure).map(|v| (k, v)))
                .collect();
            if ks.is_empty() {
                return None;
            }
            // Largest first; ties by index (rows are sorted by index).
            ks.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let top = ((top_fraction * ks.len() as f64).ceil() as usize).clamp(1, ks.len());
            let threshold = ks[top - 1].1;
            let frac =
                |s: &[(usize, f64)]| mean(s.iter().map(|&(k, _)| f64::from(x.flipped[k] as u8)));
            Some(LargestPolytopes {
                measure: measure.into(),
                top,
                threshold,
                tied_outside: ks[top..].iter().filter(|&&(_, v)| v == threshold).count(),
                flipped_fraction: frac(&ks[..top]),
                base_rate: frac(&ks),
                class_mean_distance: mean(ks[..top].iter().map(|&(k, _)| x.class_mean[k])),
                class_mean_distance_all: mean(ks.iter().map(|&(k, _)| x.class_mean[k])),
                knn_distance: mean(ks[..top].iter().map(|&(k, _)| x.knn[k])),
                knn_distance_all: mean(ks.iter().map(|&(k, _)| x.knn[k])),
            })
        })
        .collect()
}

fn opt(v: Option<f64>) -> String {
    v.map_or("–".into(), |a| format!("{a:.3}"))
}

/// `auroc.md`.
pub fn markdown(r: &AurocRecord) -> String {
    let p = &r.params;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Does polytope size find mislabelled data? (`fcollide reproduce audit`)\n\n\
         {:.2} % of the training labels flipped (flip seed {}), each to a uniformly chosen \
         other class; seed {}; {} epochs; collision layer `{}`; measures {}; the first {} \
         training examples audited with their flipped labels. fcollide {}, {} thread(s), {}.\n\n\
         AUROC: the probability that a flipped example scores more suspicious than a clean \
         one (ties count ½); 0.5 is chance. Suspicious: high loss, low margin, low \
         confidence, low AUM (area under the margin over the training epochs, Pleiss et al. \
         2020); for the polytope measures the paper's conjecture, larger = mislabelled, whose \
         opposite direction scores 1 − AUROC. Both directions are in the table. SE: the \
         AUROC's standard error (Hanley and McNeil 1982, an approximation); an AUROC within \
         about 2 SE of 0.5 is not told apart from chance.",
        100.0 * p.flips.rate,
        p.flips.seed,
        p.seed,
        p.train.epochs,
        p.audit.layer,
        p.audit.measures,
        p.audit.limit.map_or("(all)".to_string(), |l| l.to_string()),
        r.version,
        r.machine.threads,
        r.machine.device
    );
    for m in &r.models {
        let _ = writeln!(
            s,
            "\n## {} at `{}`\n\nTest accuracy {:.2} %. {} of {} training labels flipped; {} \
             examples audited, {} of them flipped (base rate {:.2} %); the model predicts the \
             flipped label for {} of those. Model: {}. Audit: {}.{}{}\n",
            m.arch,
            m.layer,
            100.0 * m.test_accuracy,
            m.train_flipped,
            m.train_examples,
            m.audited,
            m.audited_flipped,
            100.0 * m.audited_flipped as f64 / m.audited.max(1) as f64,
            m.flipped_fitted,
            m.cache.status,
            if m.audit_reused {
                "reused the finished audit in the folder".to_string()
            } else {
                format!(
                    "{} example(s) computed in {:.1} s",
                    m.audit_computed, m.audit_seconds
                )
            },
            if m.behind_nonlinearity {
                " The layer lies behind a nonlinearity: the polytope measures are those of \
                 each example's linear region (lower bounds)."
            } else {
                ""
            },
            if m.rows_with_errors > 0 {
                format!(
                    " {} row(s) have a measure left empty (see `error` in audit.csv); they \
                     are left out of that measure.",
                    m.rows_with_errors
                )
            } else {
                String::new()
            }
        );
        s.push_str(
            "| measure | kind | suspicious when | AUROC (suspicious direction) | AUROC (larger = \
             flipped) | AUROC (smaller = flipped) | SE | examples | flipped |\n\
             |---|---|---|---:|---:|---:|---:|---:|---:|\n",
        );
        for a in &m.measures {
            let when = match (a.kind.as_str(), a.suspicious) {
                ("polytope", _) => "larger (conjecture)",
                (_, Suspicious::Higher) => "higher",
                (_, Suspicious::Lower) => "lower",
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                a.measure,
                a.kind,
                when,
                opt(a.auroc_suspicious),
                opt(a.auroc_larger),
                opt(a.auroc_larger.map(|x| 1.0 - x)),
                opt(a.auroc_se),
                a.examples,
                a.flipped
            );
        }
        if !m.largest.is_empty() {
            let _ = writeln!(
                s,
                "\nThe largest polytopes: the top {:.1} % of the audited examples by each \
                 measure (ties at the cut broken by index), against all audited examples. \
                 Class-mean distance: L2 to the mean image of the example's (assigned) class; \
                 {}-NN distance: mean L2 to its {} nearest training examples (rare, \
                 low-density examples score high).\n\n\
                 | measure | top | threshold | tied beyond | flipped (top) | flipped (all) | \
                 class-mean dist. (top) | (all) | {}-NN dist. (top) | (all) |\n\
                 |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
                100.0 * p.top_fraction,
                p.knn,
                p.knn,
                p.knn
            );
            for l in &m.largest {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.4} | {} | {:.1} % | {:.1} % | {:.3} | {:.3} | {:.3} | {:.3} |",
                    l.measure,
                    l.top,
                    l.threshold,
                    l.tied_outside,
                    100.0 * l.flipped_fraction,
                    100.0 * l.base_rate,
                    l.class_mean_distance,
                    l.class_mean_distance_all,
                    l.knn_distance,
                    l.knn_distance_all
                );
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(index: i64, loss: f64, radius: Option<f64>) -> AuditRow {
        AuditRow {
            index,
            loss,
            margin: -loss,
            confidence: 1.0 / (1.0 + loss),
            chebyshev_radius: radius,
            ..Default::default()
        }
    }

    #[test]
    fn scores_both_directions_and_the_largest() {
        // Flipped: 0 and 1. Loss separates them perfectly; the radius is reversed for one.
        let rows = vec![
            row(0, 5.0, Some(1.0)),
            row(1, 4.0, Some(0.1)),
            row(2, 1.0, Some(0.5)),
            row(3, 0.5, None),
        ];
        let x = Extras {
            flipped: vec![true, true, false, false],
            clean: vec![0; 4],
            aum: vec![-2.0, -1.0, 3.0, 3.0],
            class_mean: vec![4.0, 2.0, 1.0, 1.0],
            knn: vec![8.0, 2.0, 2.0, 4.0],
        };
        let m = score(&rows, &x);
        let get = |n: &str| m.iter().find(|a| a.measure == n).unwrap().clone();
        assert_eq!(get("loss").auroc_suspicious, Some(1.0));
        assert_eq!(get("margin").auroc_larger, Some(0.0));
        assert_eq!(get("margin").auroc_suspicious, Some(1.0));
        assert_eq!(get("aum").auroc_suspicious, Some(1.0));
        let r = get("chebyshev_radius");
        assert_eq!((r.examples, r.flipped), (3, 2));
        assert_eq!(r.auroc_larger, Some(0.5));
        assert!(m.iter().all(|a| a.measure != "mean_extent"));
        let l = largest(&rows, &x, 0.5);
        assert_eq!(l.len(), 1);
        let l = &l[0];
        assert_eq!((l.top, l.threshold, l.tied_outside), (2, 0.5, 0));
        assert_eq!(l.flipped_fraction, 0.5);
        assert!((l.base_rate - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(l.class_mean_distance, 2.5);
        assert_eq!(l.knn_distance, 5.0);
        assert_eq!(l.knn_distance_all, 4.0);
        let csv = x.csv(&rows);
        assert!(csv.starts_with("index,label,clean_label,flipped,aum,"));
        assert!(csv.contains("\n0,0,0,true,-2.0,4.0,8.0\n"), "{csv}");
    }

    #[test]
    fn bad_params_are_named() {
        let name = |p: AuditExperimentParams| match p.check().unwrap_err() {
            Error::Audit(AuditError::Param { param, .. }) => param,
            e => panic!("{e}"),
        };
        let d = AuditExperimentParams::default;
        let mut p = d();
        p.archs = vec!["vgg16".into()];
        assert_eq!(name(p), "archs");
        let mut p = d();
        p.flips.rate = 0.0;
        assert_eq!(name(p), "flip_rate");
        let mut p = d();
        p.knn = 0;
        assert_eq!(name(p), "knn");
        let mut p = d();
        p.top_fraction = 0.0;
        assert_eq!(name(p), "top_fraction");
        let mut p = d();
        p.audit.shard = Shard::new(1, 2).unwrap();
        assert_eq!(name(p), "shard");
        let mut p = d();
        p.audit.limit = Some(0);
        assert_eq!(name(p), "limit");
        d().check().unwrap();
    }
}
