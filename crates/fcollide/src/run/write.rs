//! Writes a run's outputs: `results.json`, `report.md`, `report.html`, `rows.png` (the paper's
//! Table 1: target and vertices per row, with an indicator of where the vertices differ) and
//! `samples.png` (random polytope samples per row).
use super::record::{ExactRow, RunRecord};
use crate::collide::VertexSet;
use crate::model::io::write_atomic;
use crate::report::{fmt_num, fmt_pct, DiffScale, Grid, HtmlReport, Table};
use crate::Result;
use std::path::Path;

/// One row of a paper table: success, target confidence, sample confidence, mean vertex
/// pairwise L2, mean dataset pairwise L2 (the paper's pixel scale).
pub type PaperRow = (f64, f64, f64, f64, f64);

/// The paper's figures for a kind of run, shown beside ours.
#[derive(Clone, Debug, PartialEq)]
pub struct PaperTable {
    /// Our table's title (`Table 2: …`).
    pub title: &'static str,
    /// Which of the paper's tables and what it measured.
    pub source: &'static str,
    /// Per row of ours (row 1 from the target, row 2 from another image), the paper's row.
    pub rows: [Option<PaperRow>; 2],
}

/// §3.1, Table 2 (MNIST MLP at fc1; pixels in [0, 1]).
pub const PAPER_TABLE2: PaperTable = PaperTable {
    title: "Table 2: polytope verification",
    source: "paper, Table 2 (MNIST)",
    rows: [
        Some((1.0, 1.0, 1.0, 1.33, 10.21)),
        Some((1.0, 1.0, 1.0, 1.28, 10.21)),
    ],
};
/// §3.2, Table 4 (VGG-16 at fc6, from another image; pixels in 0–255).
pub const PAPER_TABLE4: PaperTable = PaperTable {
    title: "Table 4: polytope verification (image model)",
    source: "paper, Table 4 (ImageNet, 0–255 px)",
    rows: [None, Some((1.0, 0.993, 0.995, 4906.56, 37538.22))],
};
/// §4, Table 6 (VGG-16 at fc6, patch compositions; pixels in 0–255).
pub const PAPER_TABLE6: PaperTable = PaperTable {
    title: "Table 6: patch-composition polytope verification",
    source: "paper, Table 6 (ImageNet, 0–255 px)",
    rows: [
        Some((1.0, 0.952, 0.877, 8597.34, 37538.22)),
        Some((1.0, 0.999, 0.800, 9587.92, 37538.22)),
    ],
};

/// Which paper table a record's rows correspond to: patch compositions → Table 6, an image
/// model (`reproduce imagenet`) → Table 4, otherwise Table 2.
pub fn paper_table(record: &RunRecord) -> &'static PaperTable {
    if record.params["patches"].is_object() {
        &PAPER_TABLE6
    } else if record.experiment.starts_with("reproduce imagenet") {
        &PAPER_TABLE4
    } else {
        &PAPER_TABLE2
    }
}

/// How many samples per row `samples.png` shows.
const SHOWN_SAMPLES: usize = 10;

/// The verification table (the paper's Table 2, 4 or 6): ours and theirs.
pub fn table2(record: &RunRecord) -> Table {
    let paper = paper_table(record);
    let paper_col = format!(
        "{}: success / target conf. / sample conf. / vertex L2 of dataset L2",
        paper.source
    );
    let mut t = Table::new(
        paper.title,
        vec![
            "row",
            "init",
            "verdict",
            "class agreement",
            "target conf.",
            "sample conf. (mean)",
            "vertex pairwise L2",
            "dataset pairwise L2",
            "ratio",
            "feature err. mean",
            "feature err. max",
            "union of regions: ratio, feature err. max, verdict",
            paper_col.as_str(),
        ],
    );
    for (i, r) in record.rows.iter().enumerate() {
        let theirs = paper
            .rows
            .get(i)
            .copied()
            .flatten()
            .map(|p| {
                format!(
                    "{} / {} / {} / {} of {} ({})",
                    fmt_pct(p.0, 0),
                    fmt_num(p.1, 3),
                    fmt_num(p.2, 3),
                    fmt_num(p.3, 2),
                    fmt_num(p.4, 2),
                    fmt_pct(p.3 / p.4, 1)
                )
            })
            .unwrap_or_else(|| "-".into());
        t.push_row(vec![
            r.name.clone(),
            r.init.clone(),
            match (r.verdict, r.certified) {
                (crate::polytope::Verdict::Collides, true) => format!(
                    "collides (certified ≤ {:.1e})",
                    r.certified_error_bound.unwrap_or(0.0)
                ),
                (v, _) => v.to_string(),
            },
            fmt_pct(r.class_agreement, 1),
            fmt_num(r.target_confidence, 4),
            fmt_num(r.sample_confidence_mean, 4),
            fmt_num(r.vertex_pairwise_l2, 3),
            fmt_num(record.dataset_pairwise_l2, 3),
            fmt_pct(r.vertex_to_dataset_ratio, 1),
            format!("{:.2e}", r.feature_rel_err_mean),
            format!("{:.2e}", r.feature_rel_err_max),
            r.union_of_regions
                .as_ref()
                .map(|u| {
                    format!(
                        "{}, {:.2e}, {}",
                        fmt_pct(u.vertex_to_dataset_ratio, 1),
                        u.feature_rel_err_max,
                        u.verdict
                    )
                })
                .unwrap_or_else(|| "-".into()),
            theirs,
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

/// A tolerance from the record, in scientific notation (`1e-9`).
fn tol(v: &serde_json::Value) -> String {
    match v.as_f64() {
        Some(x) => format!("{:e}", x as f32),
        None => v.to_string(),
    }
}

/// "What the run used" for a record with exact rows only (`fcollide exact`).
fn what_exact_used(record: &RunRecord) -> String {
    let e = &record.params["exact"];
    let lp = &e["lp"];
    format!(
        "Model `{}` ({}). Target: {} (class {}, confidence {}). Collision layer `{}`, {} \
         vertex LPs (units {}), LP solver `{}` (dense simplex up to {} rows, else row generation; \
         tolerances primal {}, dual {}), feasibility tolerance {}, rank tolerance {}, kernel \
         tolerance {}. {} samples (Dirichlet(1,…,1) weights of the vertices), {} random \
         directions for extents; dataset distance over {} random pairs of `{}`. Seed {}. \
         fcollide {} on {} threads ({}/{}).",
        record.model["arch"].as_str().unwrap_or("?"),
        record.model["source"].as_str().unwrap_or("?"),
        record.target["image"].as_str().unwrap_or("?"),
        record.target["class"],
        record.target["confidence"]
            .as_f64()
            .map(|x| fmt_num(x, 4))
            .unwrap_or_else(|| "?".into()),
        e["layer"].as_str().unwrap_or("?"),
        e["vertices"],
        if e["units"].is_null() {
            "chosen from Z".to_string()
        } else {
            e["units"].to_string()
        },
        lp["solver"].as_str().unwrap_or("?").to_lowercase(),
        lp["dense_max_rows"],
        tol(&lp["primal_tol"]),
        tol(&lp["dual_tol"]),
        tol(&e["feas_tol"]),
        tol(&e["tol_rank"]),
        tol(&e["tol_ker"]),
        record.params["samples"],
        e["directions"],
        record.dataset_pairs,
        record.dataset["name"].as_str().unwrap_or("?"),
        record.seed,
        record.version,
        record.machine.threads,
        record.machine.os,
        record.machine.arch,
    )
}

/// The polytope's structure and size, in words, per exact row.
fn exact_summary(exact: &[ExactRow]) -> String {
    let mut out = String::new();
    for r in exact.iter().map(|e| &e.record) {
        let d = &r.detail;
        let a = &d["analysis"];
        let region = &d["region"];
        let n_region = ["relu_on", "relu_off", "maxpool"]
            .iter()
            .map(|k| region[*k].as_u64().unwrap_or(0))
            .sum::<u64>();
        out.push_str(&format!(
            "- **{}** at `{}`: input dimension {}, |P| = N+ = {}, |Z| = {}, rank W+ = {}, so the \
             colliding inputs span an affine subspace of dimension {} (d − rank W+). \
             ker W+ ⊆ ker W− {} (largest residual {} against tolerance {}).",
            r.name,
            r.layer,
            d["d"],
            r.n_plus,
            a["n_zero"],
            r.rank,
            r.affine_dim,
            if r.ker_contained {
                "holds: the set is the subspace ∩ box"
            } else {
                "does not hold: Z's inequalities cut the subspace"
            },
            a["ker_max_residual"]
                .as_f64()
                .map(|x| format!("{x:.2e}"))
                .unwrap_or_else(|| "?".into()),
            tol(&a["tol_ker"]),
        ));
        if n_region > 0 {
            out.push_str(&format!(
                " Linear region of the target fixed by {} constraints ({} ReLUs on, {} off, {} \
                 max-pool argmax comparisons; {} trivial ones dropped): the polytope is the part \
                 of the colliding set inside that region, a lower bound on its size.",
                n_region,
                region["relu_on"],
                region["relu_off"],
                region["maxpool"],
                region["trivial_dropped"],
            ));
        }
        out.push_str(&format!(
            " Size: Chebyshev radius {} (largest ball inside the polytope within its subspace \
             and the box), mean width {} along {} random directions, mean pairwise vertex L2 {} \
             ({} of the dataset's).",
            r.chebyshev_radius
                .map(|x| fmt_num(x, 4))
                .unwrap_or_else(|| "not computed".into()),
            fmt_num(r.mean_extent, 3),
            d["extents"].as_array().map(|a| a.len()).unwrap_or(0),
            fmt_num(r.vertex_pairwise_l2, 3),
            fmt_pct(r.vertex_to_dataset_ratio, 1),
        ));
        if let Some(c) = &r.closest {
            out.push_str(&format!(
                " Closest colliding input to {}: L1 {}, L2 {}, L∞ {}, class {} ({}), collision \
                 deviation {:.1e}.",
                c.other,
                fmt_num(c.l1, 3),
                fmt_num(c.l2, 3),
                fmt_num(c.linf, 3),
                c.class,
                fmt_num(c.confidence, 4),
                c.collision_dev,
            ));
        }
        for n in &r.notes {
            out.push_str(&format!(" Note: {n}."));
        }
        out.push('\n');
    }
    out
}

/// Per-vertex figures of the exact rows.
pub fn exact_vertex_table(exact: &[ExactRow], target: &[f32]) -> Table {
    let mut t = Table::new(
        "Exact vertices",
        vec![
            "row",
            "vertex",
            "unit i",
            "pre-activation: target → vertex",
            "class",
            "confidence",
            "L2 from target",
            "LP solver",
            "LP iterations",
            "LP s",
        ],
    );
    for (ri, row) in exact.iter().enumerate() {
        let lps = row.record.detail["vertex_lps"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (k, v) in row.vertices.iter().enumerate() {
            let lp = lps.get(k).cloned().unwrap_or_default();
            let dist = crate::polytope::l2(target, v);
            t.push_row(vec![
                format!("exact {}", ri + 1),
                format!("{}", k + 1),
                row.record
                    .units
                    .get(k)
                    .map(|u| u.to_string())
                    .unwrap_or_default(),
                format!(
                    "{} → {}",
                    lp["target_preact"]
                        .as_f64()
                        .map(|x| fmt_num(x, 3))
                        .unwrap_or_default(),
                    lp["preact"]
                        .as_f64()
                        .map(|x| fmt_num(x, 3))
                        .unwrap_or_default()
                ),
                row.record
                    .vertex_class
                    .get(k)
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                row.record
                    .vertex_confidence
                    .get(k)
                    .map(|&c| fmt_num(c, 4))
                    .unwrap_or_default(),
                fmt_num(dist, 3),
                lp["lp"]["solver"].as_str().unwrap_or("?").to_string(),
                lp["lp"]["iterations"].to_string(),
                lp["lp"]["seconds"]
                    .as_f64()
                    .map(|x| fmt_num(x, 3))
                    .unwrap_or_default(),
            ]);
        }
    }
    t
}

fn what_was_used(record: &RunRecord) -> String {
    if record.rows.is_empty() && !record.exact_rows.is_empty() {
        return what_exact_used(record);
    }
    let p = &record.params;
    let v = &p["vertex"];
    let accuracy = match record.model["test_accuracy"].as_f64() {
        Some(a) => format!(
            ", test accuracy {} on {} held-out images of `{}`",
            fmt_pct(a, 2),
            record.dataset["test"],
            record.dataset["name"].as_str().unwrap_or("?"),
        ),
        None => String::new(),
    };
    let t = &record.target;
    let class = match t["top5"][0][1].as_str() {
        Some(name) => format!("class {} \"{}\"", t["class"], name),
        None => format!("class {}", t["class"]),
    };
    let target = match (t["index"].as_u64(), t["image"].as_str()) {
        (Some(i), _) => format!("test image {i} ({class})"),
        (None, Some(img)) => format!("`{img}` ({class})"),
        (None, None) => format!("({class})"),
    };
    let space = match p["patches"].as_object() {
        Some(pp) => format!(
            " Search space: per-pixel softmax compositions of {}×{} database patches on a grid \
             of windows (stride {}), {} candidates per window{}{}.",
            pp["size"],
            pp["size"],
            match pp["grid_stride"].as_u64() {
                Some(0) | None => "half the patch size".to_string(),
                Some(g) => g.to_string(),
            },
            pp["k"],
            match pp["diverse"].as_u64() {
                Some(r) if r > 1 => format!(
                    " (kept by farthest-point selection from the {} nearest)",
                    r * pp["k"].as_u64().unwrap_or(0)
                ),
                _ => String::new(),
            },
            match pp["tv"].as_f64() {
                Some(tv) if tv > 0.0 => format!(", total-variation weight {}", tv as f32),
                _ => String::new(),
            }
        ),
        None => String::new(),
    };
    let dataset = if record.dataset["name"] == "given images" {
        "dataset distance: the L2 distance between the target and the other image".to_string()
    } else {
        format!(
            "dataset distance over {} random pairs",
            record.dataset_pairs
        )
    };
    format!(
        "Model `{}` ({}){accuracy}. Target: {target}. Collision layer `{}`, K = {} vertices as \
         one batch, α = {}, penalty `{}` (β = {}), {} Adam steps (lr {} → ×{} cosine), box by \
         `{}`.{space} {} samples per row (Dirichlet(1,…,1) weights); {dataset}. Seed {}. \
         fcollide {} on {} threads ({}/{}, {}).",
        record.model["arch"].as_str().unwrap_or("?"),
        record.model["source"].as_str().unwrap_or("?"),
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
        record.seed,
        record.version,
        record.machine.threads,
        record.machine.os,
        record.machine.arch,
        record.machine.device,
    )
}

/// The indicator cell of where a row's vertices differ; left out for a single vertex (nothing
/// to compare it with).
fn add_differ(g: &mut Grid, vertices: &[&[f32]]) -> Result<()> {
    if vertices.len() >= 2 {
        g.add_difference(vertices, "differ", DiffScale::Max)?;
    }
    Ok(())
}

/// `rows.png`: per row the start, the target, the vertices and an indicator of where the
/// vertices differ most (when there are two or more).
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
        add_differ(&mut g, &vs)?;
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
        add_differ(&mut g, &vs)?;
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
            "verdict",
            "class agreement",
            "sample conf. (mean)",
            "vertex pairwise L2",
            "ratio",
            "collision dev. vertices / samples",
            "max violation",
            "Chebyshev radius",
            "first LP s",
            "later LP s (mean)",
            "closest colliding input: L2 (to), class",
        ],
    );
    for r in exact.iter().map(|e| &e.record) {
        t.push_row(vec![
            r.name.clone(),
            r.layer.clone(),
            r.n_plus.to_string(),
            r.rank.to_string(),
            r.affine_dim.to_string(),
            if r.certified {
                format!("{} (certified)", r.verdict)
            } else {
                r.verdict.to_string()
            },
            fmt_pct(r.class_agreement, 1),
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

/// One line per row: its verdict, with the feature error when it does not collide.
pub fn verdict_lines(record: &RunRecord) -> Vec<String> {
    let mut out: Vec<String> = record
        .rows
        .iter()
        .map(|r| {
            let region = if r.region_locked {
                match r.certificate_margin {
                    Some(m) if m < 0.0 => format!(
                        "; region-locked search, but some vertex left the target's linear region (margin {m:.1e})"
                    ),
                    _ => "; region-locked search".to_string(),
                }
            } else {
                String::new()
            };
            format!("{} (`{}`): {}{region}", r.name, r.layer, r.verdict_line())
        })
        .collect();
    out.extend(record.exact_rows.iter().map(|r| {
        format!(
            "{} (`{}`, exact): {}{}",
            r.name,
            r.layer,
            r.verdict,
            if r.certified {
                " (certified: every vertex satisfies the collision system and the region to 1e-6)"
            } else {
                ""
            }
        )
    }));
    out
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
    let tev = exact_vertex_table(exact, target);
    let gradient = !record.rows.is_empty();
    let summary = exact_summary(exact);
    let exact_note = "Exact rows: one LP per unit i ∈ Z (minimize its pre-activation) over \
         `W+ u + b+ = ỹt+`, `W− u + b− ≤ 0` and the pixel box (and the linear region's \
         constraints at deeper layers); collision deviation = max |post-ReLU activation − \
         target's| in an f64 forward pass, over the vertices and over the samples; max \
         violation = the largest constraint violation at a vertex. \"closest\": the colliding \
         input nearest in L1 to the other image.";
    let used = what_was_used(record);
    let verdicts = verdict_lines(record);
    let mut md = format!("# {}\n\n{used}\n\n", record.experiment);
    if !verdicts.is_empty() {
        md.push_str("**Verdicts**\n\n");
        for l in &verdicts {
            md.push_str(&format!("- {l}\n"));
        }
        md.push('\n');
    }
    if gradient {
        md.push_str(&format!("{}\n\n", t2.to_markdown()));
    }
    if !exact.is_empty() {
        md.push_str(&format!(
            "{}\n\n{exact_note}\n\n{summary}\n",
            te.to_markdown()
        ));
    }
    md.push_str("![target and vertices](rows.png)\n\n![samples](samples.png)\n\n");
    if gradient {
        md.push_str(&format!("{}\n\n", tv.to_markdown()));
    }
    if !exact.is_empty() {
        md.push_str(&format!("{}\n\n", tev.to_markdown()));
    }
    md.push_str(
        "Verdict: `collides` when the hull is certified (every vertex in the target's linear \
         region and the derived bound on the feature error of every point of the hull ≤ the \
         tolerance) or the feature error at every vertex and sample ≤ the tolerance; \
         `approximate` when only the class is kept; `failed` otherwise. Class agreement (the \
         paper's \"success\"): share of samples classified as the target's class. Feature error: \
         ‖y(s) − y(t)‖ / ‖y(t)‖ of the activation at the collision layer. Ratio: \
         vertex pairwise L2 / dataset pairwise L2 (the paper's, in its own pixel scale, in the last \
         column). Full figures: `results.json`.\n",
    );
    write_atomic(&out.join("report.md"), md.as_bytes())?;

    let mut html = HtmlReport::new(&record.experiment);
    html.paragraph(used);
    for l in &verdicts {
        html.paragraph(l.clone());
    }
    if gradient {
        html.table(&t2);
    }
    if !exact.is_empty() {
        html.table(&te).paragraph(exact_note);
        for line in summary.lines() {
            html.paragraph(line.trim_start_matches("- "));
        }
    }
    html.image_png(
        &rows_png,
        "target and vertices",
        "Target and vertices per row",
    )
    .image_png(&samples_png, "samples", "Random polytope samples per row");
    if gradient {
        html.table(&tv);
    }
    if !exact.is_empty() {
        html.table(&tev);
    }
    html.save(out.join("report.html"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(experiment: &str, params: serde_json::Value) -> RunRecord {
        RunRecord {
            tool: "fcollide".into(),
            version: "0".into(),
            experiment: experiment.into(),
            seed: 0,
            machine: super::super::MachineInfo::current("cpu"),
            params,
            model: serde_json::json!({ "arch": "mlp" }),
            dataset: serde_json::json!({ "name": "given images" }),
            dataset_pairwise_l2: 1.0,
            dataset_pairs: 1,
            target: serde_json::json!({ "image": "a.png", "class": 3 }),
            rows: Vec::new(),
            exact_rows: Vec::new(),
            seconds: 0.0,
        }
    }

    #[test]
    fn each_kind_of_run_is_compared_with_its_paper_table() {
        let none = serde_json::json!({ "patches": null });
        let patches = serde_json::json!({ "patches": { "k": 4 } });
        assert_eq!(
            paper_table(&record("reproduce mnist (mlp)", none.clone())),
            &PAPER_TABLE2
        );
        assert_eq!(
            paper_table(&record("reproduce lenet (lenet5)", serde_json::json!({}))),
            &PAPER_TABLE2
        );
        assert_eq!(
            paper_table(&record("reproduce imagenet (vgg16)", none)),
            &PAPER_TABLE4
        );
        assert_eq!(
            paper_table(&record("reproduce patches (mlp)", patches.clone())),
            &PAPER_TABLE6
        );
        assert_eq!(
            paper_table(&record("reproduce patches (vgg16)", patches)),
            &PAPER_TABLE6
        );
        // The paper's ratios: Table 2 ≈ 13 %, Table 4 ≈ 13 %, Table 6 ≈ 23–26 %.
        let ratio = |t: &PaperTable, i: usize| t.rows[i].map(|r| r.3 / r.4).unwrap();
        assert!((ratio(&PAPER_TABLE2, 0) - 0.130).abs() < 1e-3);
        assert!((ratio(&PAPER_TABLE4, 1) - 0.1307).abs() < 1e-3);
        assert!((ratio(&PAPER_TABLE6, 0) - 0.229).abs() < 1e-3);
        assert!(PAPER_TABLE4.rows[0].is_none());
    }

    #[test]
    fn what_was_used_names_an_image_target_without_accuracy() {
        let vertex = crate::collide::VertexParams {
            layer: "fc6".into(),
            ..Default::default()
        };
        let mut r = record(
            "reproduce imagenet (vgg16)",
            serde_json::json!({ "vertex": vertex, "samples": 10 }),
        );
        r.model["source"] = "vgg16.safetensors".into();
        r.target["top5"] = serde_json::json!([[3, "tiger", 0.9]]);
        let s = what_was_used(&r);
        assert!(s.contains("Target: `a.png` (class 3 \"tiger\")"), "{s}");
        assert!(s.contains("Model `mlp` (vgg16.safetensors). Target"), "{s}");
        assert!(s.contains("between the target and the other image"), "{s}");
        assert!(!s.contains("NaN") && !s.contains("null"), "{s}");
    }
}
