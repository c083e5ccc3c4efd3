//! Integration tests of `fcollide::audit`: the measures on a hand-solved network, and on a
//! small random one: determinism, shards merged equal a single run, resume after an
//! interruption equals an uninterrupted run, and damaged checkpoints and mismatched shards
//! refused.
use crate::chain::{chain, layer, linear};
use fcollide::audit::{
    merge, run_audit, AuditError, AuditJob, AuditParams, AuditRecord, Measures, Shard,
    ValidAuditParams,
};
use fcollide::data::Dataset;
use fcollide::model::{Graph, Op};
use fcollide::progress::{Progress, Silent};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// fc1 units `u0+u1−0.5`, `u0−u1−0.75`, `−u0−0.125` on `[0,1]²`; at `t = (½,½)` only the
/// first is positive, so the colliding set is the segment `u0+u1 = 1`, `0 ≤ u0 ≤ 0.875`
/// (`exact.rs`'s toy), of length `0.875·√2`. Logits `(y1 + 0.1, −y1)` with `y1 = 0.5`.
fn toy() -> Graph {
    chain(
        "toy",
        [1, 1, 2],
        (0.0, 1.0),
        vec![
            layer("flatten", Op::Flatten),
            layer(
                "fc1",
                linear(
                    2,
                    3,
                    vec![1.0, 1.0, 1.0, -1.0, -1.0, 0.0],
                    vec![-0.5, -0.75, -0.125],
                ),
            ),
            layer("relu1", Op::Relu),
            layer(
                "fc2",
                linear(3, 2, vec![1.0, 0.5, -1.0, -1.0, 2.0, 0.3], vec![0.1, 0.0]),
            ),
        ],
    )
}

/// A random 16-10-3 ReLU network on 4×4 inputs, and 23 random examples.
fn small() -> (Graph, Dataset) {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut w =
        |n: usize, s: f32| -> Vec<f32> { (0..n).map(|_| rng.random_range(-s..s)).collect() };
    let (w1, b1, w2, b2) = (w(160, 0.5), w(10, 0.3), w(30, 0.5), w(3, 0.1));
    let net = chain(
        "small",
        [1, 4, 4],
        (0.0, 1.0),
        vec![
            layer("flatten", Op::Flatten),
            layer("fc1", linear(16, 10, w1, b1)),
            layer("relu1", Op::Relu),
            layer("fc2", linear(10, 3, w2, b2)),
        ],
    );
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let images: Vec<f32> = (0..23 * 16).map(|_| rng.random_range(0.0..1.0)).collect();
    let labels: Vec<u8> = (0..23).map(|_| rng.random_range(0..3)).collect();
    (
        net,
        Dataset::new(images, labels, [1, 4, 4], "small/train").unwrap(),
    )
}

fn params(f: impl FnOnce(&mut AuditParams)) -> ValidAuditParams {
    let mut p = AuditParams {
        directions: 3,
        limit: Some(17),
        checkpoint_every: 4,
        threads: 2,
        ..AuditParams::default()
    };
    f(&mut p);
    p.check().unwrap()
}

fn audit(
    net: &Graph,
    data: &Dataset,
    p: &ValidAuditParams,
    out: &Path,
    resume: bool,
    progress: &dyn Progress,
) -> Result<fcollide::audit::AuditSummary, AuditError> {
    let job = AuditJob {
        net,
        data,
        split: "train",
        params: p,
        out,
        resume,
    };
    run_audit(&job, progress)
}

/// Every file of an output folder, by name: the tables, the record, the report and its
/// figures.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect();
    v.sort();
    for f in [
        "audit.parquet",
        "audit.csv",
        "audit.json",
        "report.md",
        "report.html",
        "audit-examples.safetensors",
        "audit-largest.png",
        "audit-smallest.png",
        "audit-hist-chebyshev_radius.svg",
        "audit-box-mean_extent.png",
    ] {
        assert!(
            v.iter().any(|(n, _)| n == f),
            "{f} missing in {}",
            dir.display()
        );
    }
    v
}

#[test]
fn audit_measures_match_a_hand_solved_network() {
    let net = toy();
    let data = Dataset::new(vec![0.5, 0.5], vec![0], [1, 1, 2], "toy").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = params(|p| p.limit = None);
    audit(&net, &data, &p, dir.path(), false, &Silent).unwrap();
    let rows = fcollide::audit::table::read_parquet(&dir.path().join("audit.parquet")).unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    // Logits (0.6, −0.5): margin 1.1, p(0) = 1/(1+e^−1.1).
    let p0 = 1.0 / (1.0 + (-1.1f64).exp());
    assert_eq!((r.index, r.label, r.predicted), (0, 0, 0));
    assert!((r.margin - 1.1).abs() < 1e-6, "{}", r.margin);
    assert!((r.confidence - p0).abs() < 1e-6, "{}", r.confidence);
    assert!((r.loss + p0.ln()).abs() < 1e-6, "{}", r.loss);
    assert_eq!(
        (r.n_plus, r.n_zero, r.rank, r.affine_dim),
        (Some(1), Some(2), Some(1), Some(1))
    );
    assert_eq!(r.region_rows, Some(0));
    // The segment: the largest ball of the line inside it has radius half its length, and
    // every direction of the line sees its whole length.
    let len = 0.875 * 2f64.sqrt();
    let radius = r.chebyshev_radius.unwrap();
    assert!((radius - len / 2.0).abs() < 1e-6, "{radius}");
    let extent = r.mean_extent.unwrap();
    assert!((extent - len).abs() < 1e-6, "{extent}");
    assert_eq!(r.error, None);
}

#[test]
fn audit_is_deterministic_and_shards_merge_into_the_single_run() {
    let (net, data) = small();
    let root = tempfile::tempdir().unwrap();
    let single = root.path().join("single");
    let s = audit(&net, &data, &params(|_| {}), &single, false, &Silent).unwrap();
    assert_eq!((s.rows, s.computed, s.resumed), (17, 17, 0));
    assert!(!single.join("audit.checkpoint").exists());
    let rows = fcollide::audit::table::read_csv(&single.join("audit.csv")).unwrap();
    let idx: Vec<i64> = rows.iter().map(|r| r.index).collect();
    assert_eq!(idx, (0..17).collect::<Vec<_>>());
    assert!(rows
        .iter()
        .all(|r| r.chebyshev_radius.unwrap() > 0.0 && r.error.is_none()));
    assert!(rows
        .iter()
        .all(|r| r.affine_dim.unwrap() == 16 - r.rank.unwrap()));
    // Parquet and CSV hold the same rows.
    let pq = fcollide::audit::table::read_parquet(&single.join("audit.parquet")).unwrap();
    assert_eq!(pq, rows);
    // Same seed, other thread count: the same bytes.
    let again = root.path().join("again");
    audit(
        &net,
        &data,
        &params(|p| p.threads = 1),
        &again,
        false,
        &Silent,
    )
    .unwrap();
    assert_eq!(files(&again), files(&single));
    // Another seed moves the extents only.
    let other = root.path().join("other");
    audit(&net, &data, &params(|p| p.seed = 9), &other, false, &Silent).unwrap();
    let o = fcollide::audit::table::read_csv(&other.join("audit.csv")).unwrap();
    assert!(o
        .iter()
        .zip(&rows)
        .any(|(a, b)| a.mean_extent != b.mean_extent));
    assert!(o
        .iter()
        .zip(&rows)
        .all(|(a, b)| a.chebyshev_radius == b.chebyshev_radius));

    let shards: Vec<_> = (0..4)
        .map(|i| {
            let d = root.path().join(format!("shard{i}"));
            let p = params(|p| p.shard = Shard::new(i, 4).unwrap());
            let s = audit(&net, &data, &p, &d, false, &Silent).unwrap();
            assert_eq!(s.rows, Shard::new(i, 4).unwrap().positions(17).len());
            d
        })
        .collect();
    // Each shard's report covers its own rows.
    let md = std::fs::read_to_string(shards[1].join("report.md")).unwrap();
    assert!(
        md.contains("1/4: the examples at positions ≡ 1 mod 4"),
        "{md}"
    );
    let merged = root.path().join("merged");
    let m = merge(&shards, &merged).unwrap();
    assert_eq!(m.rows, 17);
    assert_eq!(files(&merged), files(&single));
    // The report: every measure, the grids ranked by the Chebyshev radius, no shard.
    let md = std::fs::read_to_string(merged.join("report.md")).unwrap();
    for col in [
        "confidence",
        "loss",
        "margin",
        "n_plus",
        "affine_dim",
        "chebyshev_radius",
        "mean_extent",
    ] {
        assert!(
            md.contains(&format!("| `{col}` |")),
            "{col} not in the summary: {md}"
        );
    }
    assert!(md.contains("Ranked by `chebyshev_radius`"), "{md}");
    assert!(md.contains("![The examples with the largest `chebyshev_radius`](audit-largest.png)"));
    assert!(md.contains("all examples (a single run, or the merge of its shards"));
    // A grid cell per example of each grid: the 8 largest radii of the table, by hand.
    let mut by_r: Vec<(f64, i64)> = rows
        .iter()
        .map(|r| (r.chebyshev_radius.unwrap(), r.index))
        .collect();
    by_r.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let svg = std::fs::read_to_string(merged.join("audit-largest.svg")).unwrap();
    for (v, i) in &by_r[..8] {
        let r = &rows[*i as usize];
        let cell = format!(
            ">{i} · {} · {} · {}<",
            r.label,
            r.predicted,
            fcollide::report::fmt_sig(*v, 3)
        );
        assert!(svg.contains(&cell), "{cell} not in the grid");
    }
    let (_, i9) = by_r[8];
    assert!(
        !svg.contains(&format!(">{i9} · ")),
        "the 9th largest is not shown"
    );
    // Any order of the folders.
    let rev: Vec<_> = shards.iter().rev().cloned().collect();
    let merged2 = root.path().join("merged2");
    merge(&rev, &merged2).unwrap();
    assert_eq!(files(&merged2), files(&single));

    // Refused: a missing shard, a repeated one, shards of another audit.
    let e = merge(&shards[..3], &root.path().join("x"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing shard(s) 3/4"), "{e}");
    let twice = vec![shards[0].clone(), shards[0].clone()];
    let e = merge(&twice, &root.path().join("x"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("shard 0/4 is given twice"), "{e}");
    let odd = root.path().join("odd");
    let p = params(|p| {
        p.shard = Shard::new(3, 4).unwrap();
        p.directions = 2;
    });
    audit(&net, &data, &p, &odd, false, &Silent).unwrap();
    let mixed = vec![shards[0].clone(), shards[1].clone(), shards[2].clone(), odd];
    let e = merge(&mixed, &root.path().join("x"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("different audits") && e.contains("directions"),
        "{e}"
    );
    let rec = AuditRecord::read(&merged.join("audit.json")).unwrap();
    assert_eq!((rec.shard.as_str(), rec.rows), ("0/1", 17));
}

/// Asks to stop once `after` examples have finished.
struct StopAfter {
    done: AtomicU64,
    after: u64,
}

impl Progress for StopAfter {
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, n: u64, _: &str) {
        self.done.fetch_add(n, Ordering::SeqCst);
    }
    fn finish(&self) {}
    fn cancelled(&self) -> bool {
        self.done.load(Ordering::SeqCst) >= self.after
    }
}

#[test]
fn resume_after_an_interruption_gives_the_uninterrupted_files() {
    let (net, data) = small();
    let root = tempfile::tempdir().unwrap();
    let whole = root.path().join("whole");
    let p = params(|_| {});
    audit(&net, &data, &p, &whole, false, &Silent).unwrap();

    let cut = root.path().join("cut");
    let stop = StopAfter {
        done: AtomicU64::new(0),
        after: 6,
    };
    let e = audit(&net, &data, &p, &cut, false, &stop).unwrap_err();
    let AuditError::Interrupted { done, total, .. } = e else {
        panic!("{e}")
    };
    assert!((6..17).contains(&done), "{done}");
    assert_eq!(total, 17);
    let ckpt = cut.join("audit.checkpoint");
    assert!(ckpt.exists() && !cut.join("audit.csv").exists());
    // Without resume the saved work is not overwritten.
    let e = audit(&net, &data, &p, &cut, false, &Silent)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("audit.checkpoint") && e.contains("resume"),
        "{e}"
    );
    // Another audit's checkpoint is refused, naming what differs.
    let p3 = params(|p| p.directions = 2);
    let e = audit(&net, &data, &p3, &cut, true, &Silent)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("another audit") && e.contains("directions"),
        "{e}"
    );
    let s = audit(&net, &data, &p, &cut, true, &Silent).unwrap();
    assert_eq!((s.resumed, s.resumed + s.computed, s.rows), (done, 17, 17));
    assert_eq!(files(&cut), files(&whole));
    assert!(!ckpt.exists());
}

#[test]
fn a_damaged_checkpoint_is_refused() {
    let (net, data) = small();
    let dir = tempfile::tempdir().unwrap();
    let p = params(|_| {});
    let stop = StopAfter {
        done: AtomicU64::new(0),
        after: 2,
    };
    audit(&net, &data, &p, dir.path(), false, &stop).unwrap_err();
    let ckpt = dir.path().join("audit.checkpoint");
    let good = std::fs::read_to_string(&ckpt).unwrap();
    // One digit of a row changed: the checksum no longer matches. (Which examples finished
    // first depends on the threads: take the first row, whatever its index.)
    let pos = good
        .match_indices("\\n")
        .map(|(i, _)| i + 2)
        .find(|&i| good.as_bytes().get(i).is_some_and(u8::is_ascii_digit))
        .expect("a row in the CSV");
    let mut bad = good.clone().into_bytes();
    bad[pos] = if bad[pos] == b'1' { b'2' } else { b'1' };
    std::fs::write(&ckpt, &bad).unwrap();
    let e = audit(&net, &data, &p, dir.path(), true, &Silent)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("audit.checkpoint") && e.contains("SHA-256 does not match"),
        "{e}"
    );
    std::fs::write(&ckpt, "something else").unwrap();
    let e = audit(&net, &data, &p, dir.path(), true, &Silent)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not an fcollide audit checkpoint"), "{e}");
    // Basic measures need no LP and no ReLU layer check beyond the name.
    std::fs::remove_file(&ckpt).unwrap();
    let basic = params(|p| p.measures = Measures::BASIC);
    audit(&net, &data, &basic, dir.path(), false, &Silent).unwrap();
    let rows = fcollide::audit::table::read_csv(&dir.path().join("audit.csv")).unwrap();
    assert!(rows
        .iter()
        .all(|r| r.n_plus.is_none() && r.chebyshev_radius.is_none()));
}
