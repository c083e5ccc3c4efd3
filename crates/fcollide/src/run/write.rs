//! Writes a run's outputs: `results.json`, `report.md`, `report.html`, `rows.png` (the paper's
//! Table 1: target and vertices per row, with an indicator of where the vertices differ) and
//! `samples.png` (random polytope samples per row).
use super::exact::ExactRow;
use super::record::RunRecord;
use crate::collide::VertexSet;
use crate::model::io::write_atomic;
use crate::report::{fmt_num, fmt_pct, DiffScale, Grid, HtmlReport, Table};
use crate::Result;
use std::path::Path;

/// The paper's Table 2 figures for the MNIST rows (§3.1), shown beside ours.
pub const PAPER_TABLE2: [(&str, f64, f64, f64, f64); 2] = [
    // (row, success, target confidence, sample confidence, vertex pairwise L2)
    ("row 1", 1.0, 1.0, 1.0, 1.33),
    ("row 2", 1.0, 1.0, 1.0, 1.28),
];
/// The paper's mean L2 distance between random MNIST images.
pub const PAPER_DATASET_L2: f64 = 10.21;

/// How many samples per row `samples.png` shows.
const SHOWN_SAMPLES: usize = 10;

/// Table 2 of the paper: ours and theirs.
pub fn table2(record: &RunRecord) -> Table {
    let mut t = Table::new(
        "Table 2: polytope verification",
        vec![
            "row",
            "init",
            "success",
            "target conf.",
            "sample conf. (mean)",
            "vertex pairwise L2",
            "dataset pairwise L2",
            "ratio",
            "feature err. mean",
            "feature err. max",
            "paper: success / conf. / vertex L2 / dataset L2",
        ],
    );
    for (i, r) in record.rows.iter().enumerate() {
        let paper = PAPER_TABLE2
            .get(i)
            .map(|p| {
                format!(
                    "{} / {} / {} / {}",
                    fmt_pct(p.1, 0),
                    fmt_num(p.3, 3),
                    fmt_num(p.4, 2),
                    fmt_num(PAPER_DATASET_L2, 2)
                )
            })
            .unwrap_or_default();
        t.push_row(vec![
            r.name.clone(),
            r.init.clone(),
            fmt_pct(r.success_rate, 1),
            fmt_num(r.target_confidence, 4),
            fmt_num(r.sample_confidence_mean, 4),
            fmt_num(r.vertex_pairwise_l2, 3),
            fmt_num(record.dataset_pairwise_l2, 3),
            fmt_pct(r.vertex_to_dataset_ratio, 1),
            format!("{:.2e}", r.feature_rel_err_mean),
            format!("{:.2e}", r.feature_rel_err_max),
            paper,
        ]);
    }
    t
}

/// Per-vertex figures of every row.
pub fn vertex_table(record: &RunRecord) -> Table {
    let mut t = Table::new(
        "Vertices",
        vec![
            "row",
            "vertex",
            "unit i",
            "class",
            "confidence",
            "L+",
            "feature err.",
            "Z units ≤ 0",
            "L2 from start",
        ],
    );
    for (ri, r) in record.rows.iter().enumerate() {
        for (k, v) in r.vertices.iter().enumerate() {
            t.push_row(vec![
                format!("{}", ri + 1),
                format!("{}", k + 1),
                v.unit.to_string(),
                v.class.to_string(),
                fmt_num(v.confidence as f64, 4),
                format!("{:.2e}", v.l_plus),
                format!("{:.2e}", v.feature_rel_err),
                fmt_pct(v.z_satisfied, 1),
                fmt_num(v.dist_from_init, 3),
            ]);
        }
    }
    t
}

/// A number from the record as written by a person (f32 parameters round-trip through f64).
fn num(v: &serde_json::Value) -> String {
    match v.as_f64() {
        Some(x) => format!("{}", x as f32),
        None => v.to_string(),
    }
}

fn what_was_used(record: &RunRecord) -> String {
    let p = &record.params;
    let v = &p["vertex"];
    format!(
        "Model `{}` ({}), test accuracy {} on {} held-out images of `{}`. Target: test image {} \
         (class {}). Collision layer `{}`, K = {} vertices as one batch, α = {}, penalty `{}` \
         (β = {}), {} Adam steps (lr {} → ×{} cosine), box by `{}`. {} samples per row \
         (Dirichlet(1,…,1) weights); dataset distance over {} random pairs. Seed {}. \
         fcollide {} on {} threads ({}/{}).",
        record.model["arch"].as_str().unwrap_or("?"),
        record.model["source"].as_str().unwrap_or("?"),
        fmt_pct(
            record.model["test_accuracy"].as_f64().unwrap_or(f64::NAN),
            2
        ),
        record.dataset["test"],
        record.dataset["name"].as_str().unwrap_or("?"),
        record.target["index"],
        record.target["class"],
        v["layer"].as_str().unwrap_or("?"),
        v["vertices"],
        num(&v["alpha"]),
        v["penalty"].as_str().unwrap_or("?"),
        num(&v["beta"]),
        v["steps"],
        num(&v["lr"]),
        num(&v["lr_final"]),
        v["box_method"].as_str().unwrap_or("?"),
        p["samples"],
        record.dataset_pairs,
        record.seed,
        record.version,
        record.machine.threads,
        record.machine.os,
        record.machine.arch,
    )
}

/// `rows.png`: per row the start, the target, the vertices and an indicator of where the
/// vertices differ most.
fn rows_grid(
    shape: [usize; 3],
    target: &[f32],
    rows: &[(VertexSet, Vec<f32>)],
    inits: &[Vec<f32>],
    exact: &[ExactRow],
) -> Result<Grid> {
    let mut g = Grid::new(shape)?.with_title("Target and vertices (the paper's Table 1)");
    for (r, ((set, _), init)) in rows.iter().zip(inits).enumerate() {
        g.start_row(&format!("row {}", r + 1));
        g.add_image(target, "target")?;
        g.add_image(init, "start")?;
        for (k, s) in set.stats.iter().enumerate() {
            g.add_image(
                set.vertex(k),
                &format!("v{} {} {:.2}", k + 1, s.class, s.confidence),
            )?;
        }
        let vs: Vec<&[f32]> = (0..set.len()).map(|k| set.vertex(k)).collect();
        g.add_difference(&vs, "differ", DiffScale::Max)?;
    }
    for (r, row) in exact.iter().enumerate() {
        g.start_row(&format!("exact {}", r + 1));
        g.add_image(target, "target")?;
        for (k, v) in row.vertices.iter().enumerate() {
            let c = row.record.vertex_class.get(k).copied().unwrap_or(0);
            let p = row
                .record
                .vertex_confidence
                .get(k)
                .copied()
                .unwrap_or(f64::NAN);
            g.add_image(v, &format!("x{} {} {:.2}", k + 1, c, p))?;
        }
        let vs: Vec<&[f32]> = row.vertices.iter().map(|v| v.as_slice()).collect();
        g.add_difference(&vs, "differ", DiffScale::Max)?;
        if let (Some(c), Some(rec)) = (&row.closest, &row.record.closest) {
            g.add_image(c, &format!("closest {}", rec.class))?;
        }
    }
    Ok(g)
}

/// The exact rows' figures.
pub fn exact_table(exact: &[ExactRow]) -> Table {
    let mut t = Table::new(
        "Exact polytopes (LP vertices, certified in f64)",
        vec![
            "row",
            "layer",
            "N+",
            "rank W+",
            "affine dim",
            "success",
            "sample conf. (mean)",
            "vertex pairwise L2",
            "ratio",
            "collision dev. vertices / samples",
            "max violation",
            "Chebyshev radius",
            "first LP s",
            "later LP s (mean)",
            "closest to start: L2, class",
        ],
    );
    for r in exact.iter().map(|e| &e.record) {
        t.push_row(vec![
            r.name.clone(),
            r.layer.clone(),
            r.n_plus.to_string(),
            r.rank.to_string(),
            r.affine_dim.to_string(),
            fmt_pct(r.success_rate, 1),
            fmt_num(r.sample_confidence_mean, 4),
            fmt_num(r.vertex_pairwise_l2, 3),
            fmt_pct(r.vertex_to_dataset_ratio, 1),
            format!(
                "{:.1e} / {:.1e}",
                r.vertex_collision_dev, r.sample_collision_dev
            ),
            format!("{:.1e}", r.vertex_max_violation),
            r.chebyshev_radius
                .map(|x| fmt_num(x, 4))
                .unwrap_or_else(|| "-".into()),
            fmt_num(r.first_lp_s, 3),
            fmt_num(r.warm_lp_mean_s, 3),
            r.closest
                .as_ref()
                .map(|c| format!("{} ({}), class {}", fmt_num(c.l2, 3), c.other, c.class))
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    t
}

/// Writes every output file into `out`.
pub fn write_outputs(
    out: &Path,
    record: &RunRecord,
    target: &[f32],
    rows: &[(VertexSet, Vec<f32>)],
    inits: &[Vec<f32>],
    exact: &[ExactRow],
) -> Result<()> {
    let json = serde_json::to_string_pretty(record).expect("record serializes");
    write_atomic(&out.join("results.json"), json.as_bytes())?;

    let shape: [usize; 3] = serde_json::from_value(record.dataset["shape"].clone())
        .unwrap_or_else(|_| rows.first().map(|r| r.0.shape).unwrap_or([1, 28, 28]));
    let rows_png = rows_grid(shape, target, rows, inits, exact)?.to_png()?;
    crate::report::write_atomic(out.join("rows.png"), &rows_png)?;

    let d: usize = shape.iter().product();
    let mut g = Grid::new(shape)?.with_title("Random points of each polytope");
    for (r, (_, samples)) in rows.iter().enumerate() {
        g.start_row(&format!("row {}", r + 1));
        for s in samples.chunks(d).take(SHOWN_SAMPLES) {
            g.add_image(s, "")?;
        }
    }
    for (r, row) in exact.iter().enumerate() {
        g.start_row(&format!("exact {}", r + 1));
        for s in row.samples.chunks(d).take(SHOWN_SAMPLES) {
            g.add_image(s, "")?;
        }
    }
    let samples_png = g.to_png()?;
    crate::report::write_atomic(out.join("samples.png"), &samples_png)?;

    let t2 = table2(record);
    let tv = vertex_table(record);
    let te = exact_table(exact);
    let exact_md = if exact.is_empty() {
        String::new()
    } else {
        format!(
            "{}\n\nExact rows: one LP per unit (minimize its pre-activation) over \
             `W+ u + b+ = ỹt+`, `W− u + b− ≤ 0`, `0 ≤ u ≤ 1` (and the linear region's \
             constraints at deeper layers); collision deviation = max |post-ReLU activation − \
             target's| in an f64 forward pass. \"closest\": the colliding input nearest in L1 \
             to row 2's start.\n\n",
            te.to_markdown()
        )
    };
    let used = what_was_used(record);
    let md = format!(
        "# {}\n\n{}\n\n{}\n\n{}![target and vertices](rows.png)\n\n![samples](samples.png)\n\n{}\n\n\
         Success: share of samples classified as the target's class. Feature error: \
         ‖y(s) − y(t)‖ / ‖y(t)‖ of the post-ReLU activation at the collision layer. Ratio: \
         vertex pairwise L2 / dataset pairwise L2 (the paper: 12–13 %). Full figures: \
         `results.json`.\n",
        record.experiment,
        used,
        t2.to_markdown(),
        exact_md,
        tv.to_markdown()
    );
    write_atomic(&out.join("report.md"), md.as_bytes())?;

    let mut html = HtmlReport::new(&record.experiment);
    html.paragraph(&used).table(&t2);
    if !exact.is_empty() {
        html.table(&te);
    }
    html.image_png(
        &rows_png,
        "target and vertices",
        "Target and vertices per row",
    )
    .image_png(&samples_png, "samples", "Random polytope samples per row")
    .table(&tv);
    html.save(out.join("report.html"))?;
    Ok(())
}
