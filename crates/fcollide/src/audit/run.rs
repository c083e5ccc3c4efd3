//! Running an audit: the run's identity, the loop over one shard's examples with
//! checkpoints and resume, the output files, and the merge of shard folders.
//!
//! Files in the output folder:
//! - `audit.parquet`, `audit.csv`: the rows of this run, sorted by `index` ([`super::table`]);
//! - `audit.json`: an [`AuditRecord`] (what was audited, how, which shard, how many rows);
//! - `report.md`, `report.html`, their figures and `audit-examples.safetensors` (the pixels
//!   of the grids' examples), see [`super::report`];
//! - `audit.checkpoint` while a run is unfinished: the rows finished so far (see
//!   [`Checkpoint`]); removed when the run completes.
//!
//! None of the files holds a time or a path, so the same run writes the same bytes, and
//! [`merge`] of shards `0/n … n−1/n` writes the bytes a single run writes.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::AuditError;
use super::measure::Auditor;
use super::report::{write_report, Examples};
use super::row::{AuditRow, COLUMNS};
use super::shard::Shard;
use super::table::{from_csv, read_csv, to_csv, to_parquet};
use super::{Measures, ValidAuditParams};
use crate::data::Dataset;
use crate::model::Graph;
use crate::progress::Progress;

/// The table file names.
pub const PARQUET: &str = "audit.parquet";
/// The CSV table.
pub const CSV: &str = "audit.csv";
/// The run record.
pub const RECORD: &str = "audit.json";
/// The checkpoint of an unfinished run.
pub const CHECKPOINT: &str = "audit.checkpoint";

fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a network: its architecture, structure and every parameter's name, shape and
/// values.
pub fn model_hash(net: &Graph) -> String {
    let mut h = Sha256::new();
    h.update(net.arch.as_bytes());
    h.update(serde_json::to_string(&net.structure()).unwrap_or_default());
    for (name, shape, values) in net.named_params() {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        for s in shape {
            h.update((s as u64).to_le_bytes());
        }
        for v in values {
            h.update(v.to_le_bytes());
        }
    }
    hex(h.finalize())
}

/// SHA-256 of a split's shape, images and labels.
pub fn data_hash(data: &Dataset) -> String {
    let mut h = Sha256::new();
    for &s in &data.shape {
        h.update((s as u64).to_le_bytes());
    }
    for v in &data.images {
        h.update(v.to_le_bytes());
    }
    h.update(&data.labels);
    hex(h.finalize())
}

/// Everything that determines an audit's rows. Checkpoints and shard outputs carry it;
/// resume and merge refuse anything that differs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunIdentity {
    /// fcollide's version.
    pub version: String,
    /// Architecture name.
    pub arch: String,
    /// [`model_hash`].
    pub model_sha256: String,
    /// The data set's name (e.g. `mnist-embedded/train`).
    pub data: String,
    /// `train` or `test`.
    pub split: String,
    /// Examples in the split.
    pub split_len: usize,
    /// [`data_hash`] of the split.
    pub data_sha256: String,
    /// Examples of the run (`min(limit, split_len)`), before sharding.
    pub examples: usize,
    /// Collision layer.
    pub layer: String,
    /// Whether the layer lies behind a nonlinearity (the exact measures are lower bounds).
    pub behind_nonlinearity: bool,
    /// The measures.
    pub measures: Measures,
    /// The settings that change values (the parameters less shard, threads, checkpoints).
    pub settings: serde_json::Value,
}

impl RunIdentity {
    fn new(job: &AuditJob, behind_nonlinearity: bool) -> Self {
        let p = job.params;
        let mut settings = serde_json::to_value(&**p).unwrap_or_default();
        if let Some(o) = settings.as_object_mut() {
            for k in ["shard", "threads", "checkpoint_every"] {
                o.remove(k);
            }
        }
        RunIdentity {
            version: env!("CARGO_PKG_VERSION").to_string(),
            arch: job.net.arch.clone(),
            model_sha256: model_hash(job.net),
            data: job.data.name.clone(),
            split: job.split.to_string(),
            split_len: job.data.len(),
            data_sha256: data_hash(job.data),
            examples: p.limit.map_or(job.data.len(), |l| l.min(job.data.len())),
            layer: p.layer.clone(),
            behind_nonlinearity,
            measures: p.measures,
            settings,
        }
    }

    /// The first field in which `other` differs, as `name: ours vs theirs`.
    pub fn difference(&self, other: &RunIdentity) -> Option<String> {
        let a = serde_json::to_value(self).unwrap_or_default();
        let b = serde_json::to_value(other).unwrap_or_default();
        first_difference("", &a, &b)
    }
}

fn first_difference(at: &str, a: &serde_json::Value, b: &serde_json::Value) -> Option<String> {
    match (a.as_object(), b.as_object()) {
        (Some(oa), Some(ob)) => {
            let keys: std::collections::BTreeSet<&String> = oa.keys().chain(ob.keys()).collect();
            keys.into_iter().find_map(|k| {
                let null = serde_json::Value::Null;
                let name = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                first_difference(
                    &name,
                    oa.get(k).unwrap_or(&null),
                    ob.get(k).unwrap_or(&null),
                )
            })
        }
        _ => (a != b).then(|| format!("{at}: {a} vs {b}")),
    }
}

/// `audit.json`: what a run (or a merge) audited, and how many rows it wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// `fcollide audit`.
    pub kind: String,
    /// What determines the rows.
    pub identity: RunIdentity,
    /// The shard (`0/1` for a whole run or a merge).
    pub shard: String,
    /// Rows in the tables.
    pub rows: usize,
    /// Rows with a measure left empty (see their `error`).
    pub rows_with_errors: usize,
    /// The columns, `name: meaning`.
    pub columns: Vec<String>,
}

impl AuditRecord {
    fn new(identity: &RunIdentity, shard: Shard, rows: &[AuditRow]) -> Self {
        AuditRecord {
            kind: "fcollide audit".into(),
            identity: identity.clone(),
            shard: shard.to_string(),
            rows: rows.len(),
            rows_with_errors: rows.iter().filter(|r| r.error.is_some()).count(),
            columns: COLUMNS
                .iter()
                .map(|c| format!("{}: {}", c.name, c.doc))
                .collect(),
        }
    }

    /// Reads `audit.json`.
    pub fn read(path: &Path) -> Result<Self, AuditError> {
        let text = crate::fsutil::read_text(path).map_err(|e| AuditError::file(path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| AuditError::file(path, format!("not an fcollide audit record ({e})")))
    }
}

/// One audit: a network, a split and the parameters.
pub struct AuditJob<'a> {
    /// The network.
    pub net: &'a Graph,
    /// The split's examples.
    pub data: &'a Dataset,
    /// Its name (`train`, `test`).
    pub split: &'a str,
    /// Checked parameters.
    pub params: &'a ValidAuditParams,
    /// Output folder.
    pub out: &'a Path,
    /// Continue from the folder's checkpoint when there is one.
    pub resume: bool,
}

/// What [`run_audit`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditSummary {
    /// Rows written (this shard).
    pub rows: usize,
    /// Rows taken from the checkpoint.
    pub resumed: usize,
    /// Rows computed by this call.
    pub computed: usize,
    /// Wall-clock seconds of the rows computed by this call.
    pub seconds: f64,
    /// Rows with a measure left empty.
    pub rows_with_errors: usize,
    /// Whether the exact measures are lower bounds (layer behind a nonlinearity).
    pub behind_nonlinearity: bool,
}

/// The checkpoint of an unfinished run: the first line `fcollide-audit-checkpoint 1 SHA`,
/// then a JSON body `{identity, shard, rows_csv}` whose SHA-256 is `SHA` (`rows_csv`: the
/// finished rows in the CSV format, which reads back bit for bit). A file whose checksum,
/// identity or shard differs is refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The run's identity.
    pub identity: RunIdentity,
    /// The shard.
    pub shard: String,
    /// Finished rows, as CSV.
    pub rows_csv: String,
}

const CHECKPOINT_MAGIC: &str = "fcollide-audit-checkpoint 1";

impl Checkpoint {
    fn save(
        path: &Path,
        identity: &RunIdentity,
        shard: Shard,
        rows: &[AuditRow],
    ) -> Result<(), AuditError> {
        let body = serde_json::to_string(&Checkpoint {
            identity: identity.clone(),
            shard: shard.to_string(),
            rows_csv: to_csv(rows),
        })
        .map_err(|e| AuditError::file(path, e))?;
        let text = format!("{CHECKPOINT_MAGIC} {}\n{body}", hex(Sha256::digest(&body)));
        crate::report::write_atomic(path, text.as_bytes())?;
        Ok(())
    }

    /// Reads and checks a checkpoint, returning it with its rows.
    pub fn load(path: &Path) -> Result<(Checkpoint, Vec<AuditRow>), AuditError> {
        let bad = |reason: String| AuditError::Checkpoint {
            path: path.to_path_buf(),
            reason,
        };
        let text = crate::fsutil::read_text(path).map_err(|e| bad(e.to_string()))?;
        let (head, body) = text
            .split_once('\n')
            .ok_or_else(|| bad("not an fcollide audit checkpoint (no header line)".into()))?;
        let sum = head
            .strip_prefix(CHECKPOINT_MAGIC)
            .and_then(|s| s.strip_prefix(' '))
            .ok_or_else(|| {
                bad(format!(
                    "not an fcollide audit checkpoint (the first line does not start with \
                     '{CHECKPOINT_MAGIC}')"
                ))
            })?;
        if hex(Sha256::digest(body)) != sum {
            return Err(bad(
                "damaged or edited: its SHA-256 does not match its content (delete it and run \
                 again without resume)"
                    .into(),
            ));
        }
        let c: Checkpoint =
            serde_json::from_str(body).map_err(|e| bad(format!("unreadable content ({e})")))?;
        let rows = from_csv(&c.rows_csv).map_err(|e| bad(format!("rows: {e}")))?;
        Ok((c, rows))
    }
}

/// Audits one shard of `job.data`: computes the rows not yet in the checkpoint (with
/// `resume`), in parallel, saving the checkpoint every `checkpoint_every` rows and when
/// `progress` says to stop ([`AuditError::Interrupted`]), then writes the tables and the
/// record and removes the checkpoint. Without `resume`, a folder holding a checkpoint is
/// refused (it would be overwritten).
pub fn run_audit(job: &AuditJob, progress: &dyn Progress) -> Result<AuditSummary, AuditError> {
    let p = job.params;
    let auditor = Auditor::new(job.net, p)?;
    let behind = auditor.behind_nonlinearity()?;
    if job.data.image_len() != job.net.input_len() {
        return Err(AuditError::Input(format!(
            "the data's images have {:?} = {} values, the model takes {:?}",
            job.data.shape,
            job.data.image_len(),
            job.net.input_shape
        )));
    }
    let identity = RunIdentity::new(job, behind);
    let positions = p.shard.positions(identity.examples);
    let ckpt = job.out.join(CHECKPOINT);
    let mut done: BTreeMap<i64, AuditRow> = BTreeMap::new();
    if ckpt.exists() {
        if !job.resume {
            return Err(AuditError::Checkpoint {
                path: ckpt,
                reason: "an unfinished audit is saved here; continue it with the `resume` \
                         parameter, or delete the file to start again"
                    .into(),
            });
        }
        let (c, rows) = Checkpoint::load(&ckpt)?;
        if let Some(d) = identity.difference(&c.identity) {
            return Err(AuditError::Checkpoint {
                path: ckpt,
                reason: format!("it belongs to another audit ({d}; this run vs the checkpoint)"),
            });
        }
        if c.shard != p.shard.to_string() {
            return Err(AuditError::Checkpoint {
                path: ckpt,
                reason: format!("it is of shard {}, this run is shard {}", c.shard, p.shard),
            });
        }
        for r in rows {
            let ok = usize::try_from(r.index).is_ok_and(|i| positions.binary_search(&i).is_ok());
            if !ok {
                return Err(AuditError::Checkpoint {
                    path: ckpt,
                    reason: format!("row index {} is not an example of this shard", r.index),
                });
            }
            done.insert(r.index, r);
        }
    }
    let resumed = done.len();
    let todo: Vec<usize> = positions
        .iter()
        .copied()
        .filter(|&i| !done.contains_key(&(i as i64)))
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(p.threads)
        .build()
        .map_err(|e| AuditError::param("threads", e.to_string()))?;
    let label = if resumed > 0 {
        format!("audit {} ({resumed} resumed)", p.layer)
    } else {
        format!("audit {}", p.layer)
    };
    progress.start(&label, todo.len() as u64);
    let t0 = Instant::now();
    let mut computed = 0;
    let stopped = AtomicBool::new(false);
    for chunk in todo.chunks(p.checkpoint_every) {
        let results: Vec<Result<Option<AuditRow>, AuditError>> = pool.install(|| {
            chunk
                .par_iter()
                .map(|&i| {
                    if stopped.load(Ordering::SeqCst) || progress.cancelled() {
                        stopped.store(true, Ordering::SeqCst);
                        return Ok(None);
                    }
                    let t = Instant::now();
                    let row = auditor.measure(i, job.data.image(i), job.data.label(i), progress)?;
                    if row.is_some() {
                        progress.advance(
                            1,
                            &format!("last example {:.2} s", t.elapsed().as_secs_f64()),
                        );
                    }
                    Ok(row)
                })
                .collect()
        });
        let mut failure = None;
        for r in results {
            match r {
                Ok(Some(row)) => {
                    computed += 1;
                    done.insert(row.index, row);
                }
                Ok(None) => stopped.store(true, Ordering::SeqCst),
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        let rows: Vec<AuditRow> = done.values().cloned().collect();
        if let Some(e) = failure {
            progress.finish();
            Checkpoint::save(&ckpt, &identity, p.shard, &rows)?;
            return Err(e);
        }
        if stopped.load(Ordering::SeqCst) || progress.cancelled() {
            progress.finish();
            Checkpoint::save(&ckpt, &identity, p.shard, &rows)?;
            return Err(AuditError::Interrupted {
                done: rows.len(),
                total: positions.len(),
                checkpoint: ckpt,
            });
        }
        if rows.len() < positions.len() {
            Checkpoint::save(&ckpt, &identity, p.shard, &rows)?;
        }
    }
    progress.finish();
    let seconds = t0.elapsed().as_secs_f64();
    let rows: Vec<AuditRow> = done.into_values().collect();
    let outputs = job.net.shapes()?[job.net.output()].len();
    let examples = Examples::collect(
        &rows,
        &p.measures,
        job.data.shape,
        crate::data::imagenet::labels_for(outputs),
        |i| job.data.image(i),
    );
    write_outputs(job.out, &identity, p.shard, &rows, &examples)?;
    if ckpt.exists() {
        std::fs::remove_file(&ckpt).map_err(|e| AuditError::file(&ckpt, e))?;
    }
    Ok(AuditSummary {
        rows: rows.len(),
        resumed,
        computed,
        seconds,
        rows_with_errors: rows.iter().filter(|r| r.error.is_some()).count(),
        behind_nonlinearity: behind,
    })
}

/// The summary of a finished audit of `job` already in `job.out`, or `None`: its
/// `audit.json` records the same [`RunIdentity`] and shard, no checkpoint is pending, and
/// `audit.csv` holds exactly the shard's rows. A caller can then skip [`run_audit`], which
/// would write the same bytes again (every value depends only on the identity).
pub fn finished(job: &AuditJob) -> Result<Option<AuditSummary>, AuditError> {
    let p = job.params;
    let behind = Auditor::new(job.net, p)?.behind_nonlinearity()?;
    if job.out.join(CHECKPOINT).exists() || job.data.image_len() != job.net.input_len() {
        return Ok(None);
    }
    let Ok(rec) = AuditRecord::read(&job.out.join(RECORD)) else {
        return Ok(None);
    };
    let identity = RunIdentity::new(job, behind);
    if identity.difference(&rec.identity).is_some() || rec.shard != p.shard.to_string() {
        return Ok(None);
    }
    let Ok(rows) = read_csv(&job.out.join(CSV)) else {
        return Ok(None);
    };
    let want = p.shard.positions(identity.examples);
    if rows.len() != rec.rows || !rows.iter().map(|r| r.index as usize).eq(want) {
        return Ok(None);
    }
    Ok(Some(AuditSummary {
        rows: rows.len(),
        resumed: rows.len(),
        computed: 0,
        seconds: 0.0,
        rows_with_errors: rows.iter().filter(|r| r.error.is_some()).count(),
        behind_nonlinearity: behind,
    }))
}

/// Writes `audit.parquet`, `audit.csv`, `audit.json`, the examples and the report
/// (atomically, file by file).
fn write_outputs(
    out: &Path,
    identity: &RunIdentity,
    shard: Shard,
    rows: &[AuditRow],
    examples: &Examples,
) -> Result<(), AuditError> {
    let pq = out.join(PARQUET);
    let bytes = to_parquet(rows).map_err(|e| AuditError::file(&pq, e))?;
    crate::report::write_atomic(&pq, &bytes)?;
    crate::report::write_atomic(out.join(CSV), to_csv(rows).as_bytes())?;
    let record = AuditRecord::new(identity, shard, rows);
    let json = serde_json::to_string_pretty(&record).map_err(|e| AuditError::file(out, e))?;
    crate::report::write_atomic(out.join(RECORD), format!("{json}\n").as_bytes())?;
    examples.save(out)?;
    write_report(out, &record, rows, examples)?;
    Ok(())
}

/// Combines the folders of shards `0/n … n−1/n` of one audit into `out`, writing exactly the
/// files a single run writes. Refused: folders of different audits (the first difference is
/// named), a missing, repeated or unfinished shard, and tables whose rows are not their
/// shard's examples.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<AuditSummary, AuditError> {
    let err = |m: String| AuditError::Merge(m);
    if dirs.is_empty() {
        return Err(err("no shard folders given".into()));
    }
    let mut first: Option<(PathBuf, AuditRecord)> = None;
    let mut seen: BTreeMap<usize, PathBuf> = BTreeMap::new();
    let mut all: Vec<AuditRow> = Vec::new();
    let mut parts: Vec<Examples> = Vec::new();
    for dir in dirs {
        let ck = dir.join(CHECKPOINT);
        if ck.exists() {
            return Err(err(format!(
                "{} holds an unfinished shard ({} exists): finish it with resume first",
                dir.display(),
                ck.display()
            )));
        }
        let rec = AuditRecord::read(&dir.join(RECORD))?;
        let shard: Shard = rec
            .shard
            .parse()
            .map_err(|e| err(format!("{}: {e}", dir.join(RECORD).display())))?;
        if let Some((d0, r0)) = &first {
            if let Some(d) = r0.identity.difference(&rec.identity) {
                return Err(err(format!(
                    "{} and {} are shards of different audits ({d})",
                    d0.display(),
                    dir.display()
                )));
            }
            let n0: Shard = r0.shard.parse()?;
            if n0.count != shard.count {
                return Err(err(format!(
                    "{} is shard {} of {} but {} is shard {}",
                    d0.display(),
                    r0.shard,
                    n0.count,
                    dir.display(),
                    rec.shard
                )));
            }
        }
        if let Some(prev) = seen.insert(shard.index, dir.clone()) {
            return Err(err(format!(
                "shard {shard} is given twice: {} and {}",
                prev.display(),
                dir.display()
            )));
        }
        let rows = read_csv(&dir.join(CSV))?;
        let want = shard.positions(rec.identity.examples);
        let got: Vec<usize> = rows.iter().map(|r| r.index as usize).collect();
        if got != want || rows.len() != rec.rows {
            return Err(err(format!(
                "{}: its {} rows are not the {} examples of shard {shard}",
                dir.join(CSV).display(),
                rows.len(),
                want.len()
            )));
        }
        all.extend(rows);
        parts.push(Examples::load(dir)?);
        if first.is_none() {
            first = Some((dir.clone(), rec));
        }
    }
    let (_, rec) = first.expect("at least one folder");
    let count: Shard = rec.shard.parse()?;
    let missing: Vec<String> = (0..count.count)
        .filter(|i| !seen.contains_key(i))
        .map(|i| format!("{i}/{}", count.count))
        .collect();
    if !missing.is_empty() {
        return Err(err(format!("missing shard(s) {}", missing.join(", "))));
    }
    all.sort_by_key(|r| r.index);
    let examples = Examples::merge(parts, &all, &rec.identity.measures).map_err(err)?;
    write_outputs(out, &rec.identity, Shard::ALL, &all, &examples)?;
    Ok(AuditSummary {
        rows: all.len(),
        resumed: 0,
        computed: 0,
        seconds: 0.0,
        rows_with_errors: all.iter().filter(|r| r.error.is_some()).count(),
        behind_nonlinearity: rec.identity.behind_nonlinearity,
    })
}
