//! Writes a run's outputs: `results.json`, `report.md`, `report.html`, `rows.png` (target and
//! vertices per row, with an indicator of where the vertices differ: the paper's Table 1 for
//! an MLP on MNIST, Table 3 for VGG-16, Table 5 for patch compositions) and `samples.png`
//! (random polytope samples per row).
//!
//! The paper's figures are shown beside ours only where the run's setting is the paper's
//! ([`paper_setting`]: the same architecture, collision layer, data and search space);
//! elsewhere the report says what differs instead.
use super::params::RunParams;
use super::record::{ExactRow, RunRecord, GIVEN_IMAGES};
use crate::collide::VertexSet;
use crate::model::io::write_atomic;
use crate::report::{fmt_num, fmt_pct, DiffScale, Grid, HtmlReport, Table};
use crate::Result;
use std::path::Path;

/// One row of a paper table: success, target confidence, sample confidence, mean vertex
/// pairwise L2, mean dataset pairwise L2 (the paper's pixel scale).
pub type PaperRow = (f64, f64, f64, f64, f64);

/// The paper's figures for a kind of run, shown beside ours, and the setting they hold in.
#[derive(Clone, Debug, PartialEq)]
pub struct PaperTable {
    /// Our table's title (`Table 2: …`) when the setting is the paper's.
    pub title: &'static str,
    /// The table's name in the paper (`Table 2`).
    pub name: &'static str,
    /// Which of the paper's tables and what it measured.
    pub source: &'static str,
    /// The paper's setting in words (`an MLP on MNIST at fc1`).
    pub setting: &'static str,
    /// The paper's architecture, as fcollide names it.
    pub arch: &'static str,
    /// The paper's collision layer.
    pub layer: &'static str,
    /// The paper's data where fcollide can tell (the embedded MNIST digits); `None` for runs
    /// on given images.
    pub data: Option<&'static str>,
    /// Per row of ours (row 1 from the target, row 2 from another image), the paper's row.
    pub rows: [Option<PaperRow>; 2],
}

/// §3.1, Table 2 (MNIST MLP at fc1; pixels in [0, 1]).
pub const PAPER_TABLE2: PaperTable = PaperTable {
    name: "Table 2",
    title: "Table 2: polytope verification",
    source: "paper, Table 2 (MNIST)",
    setting: "an MLP on MNIST digits at fc1",
    arch: "mlp",
    layer: "fc1",
    data: Some(crate::data::embedded::NAME),
    rows: [
        Some((1.0, 1.0, 1.0, 1.33, 10.21)),
        Some((1.0, 1.0, 1.0, 1.28, 10.21)),
    ],
};
/// §3.2, Table 4 (VGG-16 at fc6, from another image; pixels in 0–255).
pub const PAPER_TABLE4: PaperTable = PaperTable {
    name: "Table 4",
    title: "Table 4: polytope verification (image model)",
    source: "paper, Table 4 (ImageNet, 0–255 px)",
    setting: "VGG-16 at fc6 on ImageNet images",
    arch: "vgg16",
    layer: "fc6",
    data: None,
    rows: [None, Some((1.0, 0.993, 0.995, 4906.56, 37538.22))],
};
/// §4, Table 6 (VGG-16 at fc6, patch compositions; pixels in 0–255).
pub const PAPER_TABLE6: PaperTable = PaperTable {
    name: "Table 6",
    title: "Table 6: patch-composition polytope verification",
    source: "paper, Table 6 (ImageNet, 0–255 px)",
    setting: "compositions of ImageNet patches for VGG-16 at fc6",
    arch: "vgg16",
    layer: "fc6",
    data: None,
    rows: [
        Some((1.0, 0.952, 0.877, 8597.34, 37538.22)),
        Some((1.0, 0.999, 0.800, 9587.92, 37538.22)),
    ],
};

/// Which paper table a record's kind of run corresponds to: patch compositions → Table 6, an
/// image model (`reproduce imagenet`) → Table 4, otherwise Table 2. Whether the run's setting
/// is that table's is [`paper_setting`]'s to say.
pub fn paper_table(record: &RunRecord) -> &'static PaperTable {
    if record.params.patches().is_some() {
        &PAPER_TABLE6
    } else if matches!(record.params, RunParams::Images(_)) {
        &PAPER_TABLE4
    } else {
        &PAPER_TABLE2
    }
}

/// A run's nearest paper table and what of the run's setting differs from it.
#[derive(Clone, Debug, PartialEq)]
pub struct PaperSetting {
    /// The paper's table for this kind of run.
    pub table: &'static PaperTable,
    /// What differs, one phrase each (`architecture \`lenet5\` (the paper: mlp)`); empty
    /// when the run is in the paper's setting, and only then are the figures compared.
    pub differs: Vec<String>,
}

impl PaperSetting {
    /// Whether the paper's figures are comparable with the run's.
    pub fn same(&self) -> bool {
        self.differs.is_empty()
    }

    /// One sentence for a report when the setting differs, e.g. `Not compared with the
    /// paper's Table 2 (an MLP on MNIST digits at fc1): here architecture \`lenet5\`.`
    pub fn note(&self) -> Option<String> {
        (!self.same()).then(|| {
            format!(
                "Not compared with the paper's {} ({}): here {}.",
                self.table.name,
                self.table.setting,
                self.differs.join("; ")
            )
        })
    }
}

/// Compares a run's setting with its paper table's: architecture, collision layer, data (for
/// the digit runs: the embedded MNIST digits; a `--data` folder may hold other images such as
/// Fashion-MNIST, so it is not compared) and search space (patch compositions of the digits
/// are not the paper's ImageNet patches).
pub fn paper_setting(record: &RunRecord) -> PaperSetting {
    let table = paper_table(record);
    let mut differs = Vec::new();
    if matches!(record.params, RunParams::Exact(_)) {
        differs.push("exact LP vertices (the paper: gradient search)".to_string());
    }
    if table == &PAPER_TABLE6 && matches!(record.params, RunParams::Mnist(_)) {
        differs.push(format!(
            "patches of `{}` images (the paper: ImageNet patches)",
            record.dataset.name
        ));
    }
    if record.model.arch != table.arch {
        differs.push(format!(
            "architecture `{}` (the paper: {})",
            record.model.arch, table.arch
        ));
    }
    if let Some(v) = record.params.vertex() {
        if v.layer != table.layer {
            differs.push(format!(
                "collision layer `{}` (the paper: {})",
                v.layer, table.layer
            ));
        }
    }
    if let Some(data) = table.data {
        if record.dataset.name != data {
            differs.push(format!(
                "data `{}` (the paper: MNIST, here the embedded `{data}` digits)",
                record.dataset.name
            ));
        }
    }
    PaperSetting { table, differs }
}

/// The report's title: what was searched, for which model, at which layer, on which data,
/// and the paper's section where the setting is the paper's.
pub fn title(record: &RunRecord) -> String {
    let what = match (&record.params, record.params.patches()) {
        (RunParams::Exact(_), _) => "Exact colliding polytope",
        (_, Some(_)) => "Patch-composition collision polytopes",
        _ => "Feature-collision polytopes",
    };
    let layer = match (&record.params.exact(), record.params.vertex()) {
        (Some(e), _) => e.layer.clone(),
        (None, Some(v)) => v.layer.clone(),
        (None, None) => "?".into(),
    };
    let data = if record.dataset.name == GIVEN_IMAGES {
        "two given images".to_string()
    } else {
        format!("`{}`", record.dataset.name)
    };
    let setting = paper_setting(record);
    let paper = if setting.same() {
        format!(" (the paper's {} setting)", setting.table.name)
    } else {
        String::new()
    };
    format!(
        "{what}: `{}` at `{layer}` on {data}{paper}",
        record.model.arch
    )
}

/// How many samples per row `samples.png` shows.
const SHOWN_SAMPLES: usize = 10;

/// The verification table (the paper's Table 2, 4 or 6): ours and theirs.
pub fn table2(record: &RunRecord) -> Table {
    let setting = paper_setting(record);
    let paper = setting.table;
    let paper_col = format!(
        "{}: success / target conf. / sample conf. / vertex L2 of dataset L2",
        paper.source
    );
    let title = match (setting.same(), record.params.patches()) {
        (true, _) => paper.title,
        (false, Some(_)) => "Patch-composition polytope verification",
        (false, None) => "Polytope verification",
    };
    let mut header = vec![
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
    ];
    if setting.same() {
        header.push(paper_col.as_str());
    }
    let mut t = Table::new(title, header);
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
        let mut cells = vec![
            r.name.clone(),
            r.init.clone(),
            super::record::verdict_cell(r.verdict, r.certified, r.certified_error_bound),
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
        ];
        if setting.same() {
            cells.push(theirs);
        }
        t.push_row(cells);
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

/// A tolerance in scientific notation as a person writes it (`1e-9`).
fn tol(x: f64) -> String {
    format!("{:e}", x as f32)
}

/// The name a parameter enum is written with in `results.json` (`hinge`, `clamp`).
fn serde_name(v: &impl serde::Serialize) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

/// `[a, b]` as JSON writes a list of units.
fn unit_list(units: &[usize]) -> String {
    format!(
        "[{}]",
        units
            .iter()
            .map(|u| u.to_string())
            .collect::<Vec<_>>()
            .join(",")
    )
}

/// "What the run used" for a record with exact rows only (`fcollide exact`).
fn what_exact_used(record: &RunRecord) -> String {
    let default = crate::exact::ExactParams::default();
    let e = record.params.exact().unwrap_or(&default);
    let lp = &e.lp;
    let t = &record.target;
    format!(
        "Model `{}` ({}). Target: {} (class {}, confidence {}). Collision layer `{}`, {} \
         vertex LPs (units {}), LP solver `{}` (dense simplex up to {} rows, else row generation; \
         tolerances primal {}, dual {}), feasibility tolerance {}, rank tolerance {}, kernel \
         tolerance {}. {} samples (Dirichlet(1,…,1) weights of the vertices), {} random \
         directions for extents; dataset distance over {} random pairs of `{}`. Seed {}. \
         fcollide {} on {} threads ({}/{}).",
        record.model.arch,
        record.model.source,
        t.image.as_deref().unwrap_or("?"),
        t.class,
        t.confidence
            .map(|x| fmt_num(x, 4))
            .unwrap_or_else(|| "?".into()),
        e.layer,
        e.vertices,
        match &e.units {
            None => "chosen from Z".to_string(),
            Some(u) => unit_list(u),
        },
        serde_name(&lp.solver).to_lowercase(),
        lp.dense_max_rows,
        tol(lp.primal_tol),
        tol(lp.dual_tol),
        tol(e.feas_tol),
        tol(e.tol_rank),
        tol(e.tol_ker),
        record.params.samples(),
        e.directions,
        record.dataset_pairs,
        record.dataset.name,
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
        let a = &d.analysis;
        let region = &d.region;
        let n_region = region.total();
        out.push_str(&format!(
            "- **{}** at `{}`: input dimension {}, |P| = N+ = {}, |Z| = {}, rank W+ = {}, so the \
             colliding inputs span an affine subspace of dimension {} (d − rank W+). \
             ker W+ ⊆ ker W− {} (largest residual {:.2e} against tolerance {}).",
            r.name,
            r.layer,
            d.d,
            r.n_plus,
            a.n_zero,
            r.rank,
            r.affine_dim,
            if r.ker_contained {
                "holds: the set is the subspace ∩ box"
            } else {
                "does not hold: Z's inequalities cut the subspace"
            },
            a.ker_max_residual,
            tol(a.tol_ker),
        ));
        if n_region > 0 {
            out.push_str(&format!(
                " Linear region of the target fixed by {} constraints ({} ReLUs on, {} off, {} \
                 max-pool argmax comparisons; {} trivial ones dropped): the polytope is the part \
                 of the colliding set inside that region, a lower bound on its size.",
                n_region, region.relu_on, region.relu_off, region.maxpool, region.trivial_dropped,
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
            d.extents.len(),
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
        let lps = &row.record.detail.vertex_lps;
        for (k, v) in row.vertices.iter().enumerate() {
            let lp = lps.get(k);
            let dist = crate::polytope::l2(target, v);
            t.push_row(vec![
                format!("exact {}", ri + 1),
                format!("{}", k + 1),
                row.record
                    .units
                    .get(k)
                    .map(|u| u.to_string())
                    .unwrap_or_default(),
                lp.map(|lp| {
                    format!(
                        "{} → {}",
                        fmt_num(lp.target_preact, 3),
                        fmt_num(lp.preact, 3)
                    )
                })
                .unwrap_or_else(|| " → ".into()),
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
                lp.map(|lp| lp.lp.solver.clone())
                    .unwrap_or_else(|| "?".into()),
                lp.map(|lp| lp.lp.iterations.to_string())
                    .unwrap_or_else(|| "null".into()),
                lp.map(|lp| fmt_num(lp.lp.seconds, 3)).unwrap_or_default(),
            ]);
        }
    }
    t
}

fn what_was_used(record: &RunRecord) -> String {
    if record.rows.is_empty() && !record.exact_rows.is_empty() {
        return what_exact_used(record);
    }
    let default = crate::collide::VertexParams::default();
    let v = record.params.vertex().unwrap_or(&default);
    let accuracy = match record.model.test_accuracy {
        Some(a) => format!(
            ", test accuracy {} on {} held-out images of `{}`",
            fmt_pct(a, 2),
            record.dataset.test,
            record.dataset.name,
        ),
        None => String::new(),
    };
    let t = &record.target;
    let class = match t.top5.as_ref().and_then(|top| top.first()) {
        Some((_, name, _)) => format!("class {} \"{}\"", t.class, name),
        None => format!("class {}", t.class),
    };
    let target = match (t.index, &t.image) {
        (Some(i), _) => format!("test image {i} ({class})"),
        (None, Some(img)) => format!("`{img}` ({class})"),
        (None, None) => format!("({class})"),
    };
    let space = match record.params.patches() {
        Some(pp) => format!(
            " Search space: per-pixel softmax compositions of {}×{} database patches on a grid \
             of windows (stride {}), {} candidates per window{}{}.",
            pp.size,
            pp.size,
            match pp.grid_stride {
                0 => "half the patch size".to_string(),
                g => g.to_string(),
            },
            pp.k,
            if pp.diverse > 1 {
                format!(
                    " (kept by farthest-point selection from the {} nearest)",
                    pp.diverse * pp.k
                )
            } else {
                String::new()
            },
            if pp.tv > 0.0 {
                format!(", total-variation weight {}", pp.tv)
            } else {
                String::new()
            }
        ),
        None => String::new(),
    };
    let dataset = if record.dataset.name == GIVEN_IMAGES {
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
        record.model.arch,
        record.model.source,
        v.layer,
        v.vertices,
        v.alpha,
        serde_name(&v.penalty),
        v.beta,
        v.steps,
        v.lr,
        v.lr_final,
        serde_name(&v.box_method),
        record.params.samples(),
        record.seed,
        record.version,
        record.machine.threads,
        record.machine.os,
        record.machine.arch,
        record.machine.device,
    )
}

/// A class name short enough for a grid cell's caption: the first of ImageNet's comma-separated
/// synonyms, cut to 18 characters.
fn short_name(name: &str) -> String {
    let first = name.split(',').next().unwrap_or(name).trim();
    if first.chars().count() > 18 {
        format!("{}…", first.chars().take(17).collect::<String>())
    } else {
        first.to_string()
    }
}

/// The indicator cell of where a row's vertices differ; left out for a single vertex (nothing
/// to compare it with).
fn add_differ(g: &mut Grid, vertices: &[&[f32]]) -> Result<()> {
    if vertices.len() >= 2 {
        g.add_difference(vertices, "spread", DiffScale::Max)?;
    }
    Ok(())
}

/// `rows.png`: per row the start, the target, the vertices and an indicator of where the
/// vertices differ most (when there are two or more).
fn rows_grid(
    record: &RunRecord,
    target: &[f32],
    rows: &[(VertexSet, Vec<f32>)],
    inits: &[Vec<f32>],
    exact: &[ExactRow],
) -> Result<Grid> {
    let shape = record.dataset.shape;
    let target_label = match record.target.top5.as_ref().and_then(|t| t.first()) {
        Some((_, name, _)) => format!("target · {}", short_name(name)),
        None => "target".to_string(),
    };
    let mut g = Grid::new(shape)?
        .with_title(
            "Target and vertices (v: vertex · class · probability; spread: where the vertices \
             differ, pixel values 0-1)",
        )
        .with_colorbar("spread: max |difference|");
    for (r, ((set, _), init)) in rows.iter().zip(inits).enumerate() {
        g.start_row(&format!("row {}", r + 1));
        g.add_image(target, &target_label)?;
        g.add_image(init, "start")?;
        let top = record
            .rows
            .get(r)
            .map(|row| &row.vertex_top5[..])
            .unwrap_or(&[]);
        for (k, s) in set.stats.iter().enumerate() {
            // The class's name where the model has named classes (ImageNet, --labels).
            let class = match top.get(k).and_then(|t| t.first()) {
                Some((c, name, _)) if *c == s.class => short_name(name),
                _ => s.class.to_string(),
            };
            g.add_image(
                set.vertex(k),
                &format!("v{} · {} · p {:.2}", k + 1, class, s.confidence),
            )?;
        }
        let vs: Vec<&[f32]> = (0..set.len()).map(|k| set.vertex(k)).collect();
        add_differ(&mut g, &vs)?;
    }
    for (r, row) in exact.iter().enumerate() {
        g.start_row(&format!("exact {}", r + 1));
        g.add_image(target, &target_label)?;
        for (k, v) in row.vertices.iter().enumerate() {
            let c = row.record.vertex_class.get(k).copied().unwrap_or(0);
            let p = row
                .record
                .vertex_confidence
                .get(k)
                .copied()
                .unwrap_or(f64::NAN);
            g.add_image(v, &format!("x{} · {} · p {:.2}", k + 1, c, p))?;
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

    let shape = record.dataset.shape;
    // PNG for the reports, SVG beside it for papers.
    let rg = rows_grid(record, target, rows, inits, exact)?;
    rg.save(out.join("rows.png"))?;
    let rows_png = rg.to_png()?;

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
    g.save(out.join("samples.png"))?;
    let samples_png = g.to_png()?;

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
    let setting = paper_setting(record);
    let title = title(record);
    let mut md = format!("# {title}\n\n{used}\n\n");
    if !verdicts.is_empty() {
        md.push_str("**Verdicts**\n\n");
        for l in &verdicts {
            md.push_str(&format!("- {l}\n"));
        }
        md.push('\n');
    }
    if gradient {
        md.push_str(&format!("{}\n\n", t2.to_markdown()));
        if let Some(note) = setting.note() {
            md.push_str(&format!("{note}\n\n"));
        }
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
    let definitions = format!(
        "Verdict: `collides` when the hull is certified (every vertex in the target's linear \
         region and the derived bound on the feature error of every point of the hull ≤ the \
         tolerance) or the feature error at every vertex and sample ≤ the tolerance; \
         `approximate` when only the class is kept; `failed` otherwise. Class agreement (the \
         paper's \"success\"): share of samples classified as the target's class. Feature error: \
         ‖y(s) − y(t)‖ / ‖y(t)‖ of the activation at the collision layer. Ratio: \
         vertex pairwise L2 / dataset pairwise L2{}. Full figures: `results.json`.",
        if gradient && setting.same() {
            " (the paper's, in its own pixel scale, in the last column)"
        } else {
            ""
        }
    );
    md.push_str(&definitions);
    md.push('\n');
    write_atomic(&out.join("report.md"), md.as_bytes())?;

    let mut html = HtmlReport::new(&title);
    html.paragraph(used);
    for l in &verdicts {
        html.paragraph(l.clone());
    }
    if gradient {
        html.table(&t2);
        if let Some(note) = setting.note() {
            html.paragraph(note);
        }
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
    html.paragraph(definitions);
    html.save(out.join("report.html"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::params::{ExactRunParams, ImagesParams, MnistParams};
    use super::super::record::{DatasetFacts, ModelFacts, TargetFacts};
    use super::*;

    #[test]
    fn short_names_fit_a_cell() {
        assert_eq!(short_name("tench, Tinca tinca"), "tench");
        assert_eq!(short_name("7"), "7");
        let long = short_name("German short-haired pointer");
        assert_eq!(long.chars().count(), 18);
        assert!(long.ends_with('…'), "{long}");
    }

    fn record(arch: &str, params: RunParams, data: &str) -> RunRecord {
        RunRecord {
            tool: "fcollide".into(),
            version: "0".into(),
            experiment: "test".into(),
            seed: 0,
            machine: super::super::MachineInfo::current("cpu"),
            params,
            model: ModelFacts {
                arch: arch.into(),
                ..Default::default()
            },
            dataset: DatasetFacts {
                name: data.into(),
                train: None,
                test: 2,
                shape: [1, 28, 28],
                patch_db: None,
            },
            dataset_pairwise_l2: 1.0,
            dataset_pairs: 1,
            target: TargetFacts {
                image: Some("a.png".into()),
                class: 3,
                ..Default::default()
            },
            rows: Vec::new(),
            exact_rows: Vec::new(),
            seconds: 0.0,
        }
    }

    fn mnist(layer: &str, patches: bool) -> RunParams {
        RunParams::Mnist(MnistParams {
            vertex: crate::collide::VertexParams {
                layer: layer.into(),
                ..Default::default()
            },
            patches: patches.then(Default::default),
            ..Default::default()
        })
    }

    fn images(layer: &str, patches: bool) -> RunParams {
        RunParams::Images(ImagesParams {
            vertex: crate::collide::VertexParams {
                layer: layer.into(),
                ..Default::default()
            },
            samples: 10,
            seed: 0,
            checkpoint_every: 0,
            resume: false,
            patches: patches.then(Default::default),
            weights: String::new(),
        })
    }

    const DIGITS: &str = crate::data::embedded::NAME;

    #[test]
    fn each_kind_of_run_is_compared_with_its_paper_table() {
        let mlp = record("mlp", mnist("fc1", false), DIGITS);
        assert_eq!(paper_table(&mlp), &PAPER_TABLE2);
        assert!(paper_setting(&mlp).same());
        let vgg = record("vgg16", images("fc6", false), GIVEN_IMAGES);
        assert_eq!(paper_table(&vgg), &PAPER_TABLE4);
        assert!(paper_setting(&vgg).same());
        let vgg_patches = record("vgg16", images("fc6", true), GIVEN_IMAGES);
        assert_eq!(paper_table(&vgg_patches), &PAPER_TABLE6);
        assert!(paper_setting(&vgg_patches).same());
        // The paper's ratios: Table 2 ≈ 13 %, Table 4 ≈ 13 %, Table 6 ≈ 23–26 %.
        let ratio = |t: &PaperTable, i: usize| t.rows[i].map(|r| r.3 / r.4).unwrap();
        assert!((ratio(&PAPER_TABLE2, 0) - 0.130).abs() < 1e-3);
        assert!((ratio(&PAPER_TABLE4, 1) - 0.1307).abs() < 1e-3);
        assert!((ratio(&PAPER_TABLE6, 0) - 0.229).abs() < 1e-3);
        assert!(PAPER_TABLE4.rows[0].is_none());
    }

    #[test]
    fn runs_outside_the_papers_setting_are_not_compared_and_say_why() {
        let cases = [
            (
                record("lenet5", mnist("fc1", false), DIGITS),
                "architecture `lenet5`",
            ),
            (
                record("mlp", mnist("fc2", false), DIGITS),
                "collision layer `fc2`",
            ),
            (
                record("mlp", mnist("fc1", false), "/data/fashion"),
                "data `/data/fashion`",
            ),
            (
                record("mlp", mnist("fc1", true), DIGITS),
                "patches of `mnist-embedded`",
            ),
            (
                record("resnet18", images("fc6", false), GIVEN_IMAGES),
                "architecture `resnet18`",
            ),
            (
                record("vgg16", images("fc7", true), GIVEN_IMAGES),
                "layer `fc7`",
            ),
        ];
        for (r, why) in cases {
            let s = paper_setting(&r);
            let note = s.note().unwrap_or_default();
            assert!(!s.same() && note.contains(why), "{why}: {note}");
            let t = table2(&r).to_markdown();
            assert!(!t.contains("paper, Table"), "{why}: {t}");
            assert!(!t.contains("Table 2") && !t.contains("Table 6"), "{t}");
            assert!(!title(&r).contains("paper"), "{}", title(&r));
        }
        let same = record("mlp", mnist("fc1", false), DIGITS);
        assert!(table2(&same)
            .to_markdown()
            .contains("paper, Table 2 (MNIST)"));
        assert_eq!(paper_setting(&same).note(), None);
    }

    #[test]
    fn titles_name_the_model_layer_data_and_search_space() {
        let t = title(&record("lenet5", mnist("conv2", false), DIGITS));
        assert_eq!(
            t,
            "Feature-collision polytopes: `lenet5` at `conv2` on `mnist-embedded`"
        );
        let t = title(&record("mlp", mnist("fc1", true), DIGITS));
        assert!(
            t.starts_with("Patch-composition collision polytopes: `mlp`"),
            "{t}"
        );
        assert!(!t.contains("Table"), "{t}");
        let t = title(&record("mlp", mnist("fc1", false), DIGITS));
        assert!(t.ends_with("(the paper's Table 2 setting)"), "{t}");
        let exact = RunParams::Exact(ExactRunParams {
            exact: crate::exact::ExactParams {
                layer: "fc2".into(),
                ..Default::default()
            },
            samples: 5,
        });
        let t = title(&record("mlp", exact, DIGITS));
        assert_eq!(
            t,
            "Exact colliding polytope: `mlp` at `fc2` on `mnist-embedded`"
        );
    }

    #[test]
    fn a_record_reads_back_typed_and_a_bad_one_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        let r = record("lenet5", mnist("conv2", true), DIGITS);
        let json = serde_json::to_string_pretty(&r).unwrap();
        std::fs::write(&path, &json).unwrap();
        let back = RunRecord::read(&path).unwrap();
        assert_eq!(back.model.arch, "lenet5");
        assert_eq!(back.params.vertex().unwrap().layer, "conv2");
        assert!(back.params.patches().is_some());
        assert_eq!(back.target.class, 3);
        assert_eq!(back.dataset.shape, [1, 28, 28]);
        assert_eq!(serde_json::to_string_pretty(&back).unwrap(), json);
        // A renamed field is an error naming the file and the field, not a "?" in a report.
        std::fs::write(&path, json.replacen("\"model\"", "\"modle\"", 1)).unwrap();
        let e = RunRecord::read(&path).unwrap_err().to_string();
        assert!(e.starts_with(&path.display().to_string()), "{e}");
        assert!(
            e.contains("not a run record") && e.contains("`model`"),
            "{e}"
        );
        std::fs::write(
            &path,
            json.replacen("\"kind\": \"mnist\"", "\"kind\": \"nope\"", 1),
        )
        .unwrap();
        let e = RunRecord::read(&path).unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
        let e = RunRecord::read(&dir.path().join("none.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("none.json"), "{e}");
    }

    #[test]
    fn what_was_used_names_an_image_target_without_accuracy() {
        let mut r = record("mlp", images("fc6", false), GIVEN_IMAGES);
        r.model.source = "vgg16.safetensors".into();
        r.target.top5 = Some(vec![(3, "tiger".into(), 0.9)]);
        let s = what_was_used(&r);
        assert!(s.contains("Target: `a.png` (class 3 \"tiger\")"), "{s}");
        assert!(s.contains("Model `mlp` (vgg16.safetensors). Target"), "{s}");
        assert!(s.contains("between the target and the other image"), "{s}");
        assert!(
            s.contains("penalty `hinge`") && s.contains("box by `project`"),
            "{s}"
        );
        assert!(
            !s.contains("NaN") && !s.contains("null") && !s.contains('?'),
            "{s}"
        );
    }
}
