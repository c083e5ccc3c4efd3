//! The audit's report: `report.md` and `report.html` in the output folder, with figures
//! beside them, written by [`super::run_audit`] and by [`super::merge`].
//!
//! - a summary table per measure over the rows with a value: count, mean, median (type-7
//!   quantile, [`crate::report::plot::quantile_sorted`]), min, max; and the per-class means
//!   (class = the data set's label, named when the model has class names);
//! - `audit-hist-{column}.png`/`.svg`: a histogram of each measure present
//!   ([`crate::report::histogram`], 30 equal-width bins, one bin per integer for integer
//!   columns of small range); a measure not asked for, or empty in every row, is skipped
//!   and the report says so. `n_zero` (= layer width − `n_plus`) and `rank`
//!   (= d − `affine_dim`) carry no more information and get no figure;
//! - `audit-box-{column}.png`/`.svg`: per-class box plots of each polytope measure
//!   ([`crate::report::box_stats`]; at most [`MAX_BOX_CLASSES`] classes, the most frequent);
//! - `audit-largest.png`/`audit-smallest.png` (and `.svg`): the [`GRID_K`] examples with the
//!   largest and the smallest polytopes, ranked by `chebyshev_radius` when measured, else
//!   `mean_extent`, else `affine_dim` ([`size_column`]; ties by index, rows without a value
//!   left out), each cell labelled `index · label · predicted · value`.
//!
//! The grids need the examples' pixels, which a merge does not have: every run also writes
//! [`EXAMPLES`], the images of its own largest and smallest examples (safetensors: tensor
//! `images` `[K, C, H, W]`, metadata `fcollide.audit.examples` = JSON `{indices, shape,
//! class_names}`). The global `GRID_K` largest examples are among the union of every shard's
//! `GRID_K` largest (likewise the smallest), so [`super::merge`] picks them from the shards'
//! files and writes the same file, figures and report as a single run, byte for byte. No
//! file holds a time or a path.
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use super::error::AuditError;
use super::row::{AuditRow, COLUMNS};
use super::run::AuditRecord;
use super::Measures;
use crate::report::plot::quantile_sorted;
use crate::report::{box_stats, fmt_sig, histogram, Align, Grid, HtmlReport, Plot, Table};

/// The Markdown report.
pub const REPORT_MD: &str = "report.md";
/// The HTML report.
pub const REPORT_HTML: &str = "report.html";
/// The pixels of the examples the grids show.
pub const EXAMPLES: &str = "audit-examples.safetensors";
/// Examples per grid.
pub const GRID_K: usize = 8;
/// Most classes in one box plot.
pub const MAX_BOX_CLASSES: usize = 40;
/// Bins of a histogram.
const BINS: usize = 30;
const META_KEY: &str = "fcollide.audit.examples";

/// A measure the report summarizes.
struct Measure {
    column: &'static str,
    title: &'static str,
    get: fn(&AuditRow) -> Option<f64>,
    /// Whether it measures the polytope (box plots).
    polytope: bool,
    /// Whether the run asked for it.
    asked: fn(&Measures) -> bool,
}

fn always(_: &Measures) -> bool {
    true
}
fn dim(m: &Measures) -> bool {
    m.dim
}
fn cheb(m: &Measures) -> bool {
    m.chebyshev
}
fn ext(m: &Measures) -> bool {
    m.extents
}
fn int(v: Option<i64>) -> Option<f64> {
    v.map(|x| x as f64)
}

const MEASURES: [Measure; 10] = [
    Measure {
        column: "confidence",
        title: "confidence",
        get: |r| Some(r.confidence),
        polytope: false,
        asked: always,
    },
    Measure {
        column: "loss",
        title: "loss",
        get: |r| Some(r.loss),
        polytope: false,
        asked: always,
    },
    Measure {
        column: "margin",
        title: "margin",
        get: |r| Some(r.margin),
        polytope: false,
        asked: always,
    },
    Measure {
        column: "n_plus",
        title: "|P|",
        get: |r| int(r.n_plus),
        polytope: true,
        asked: dim,
    },
    Measure {
        column: "n_zero",
        title: "|Z|",
        get: |r| int(r.n_zero),
        polytope: false,
        asked: dim,
    },
    Measure {
        column: "rank",
        title: "rank W+",
        get: |r| int(r.rank),
        polytope: false,
        asked: dim,
    },
    Measure {
        column: "affine_dim",
        title: "affine dimension",
        get: |r| int(r.affine_dim),
        polytope: true,
        asked: dim,
    },
    Measure {
        column: "region_rows",
        title: "region rows",
        get: |r| int(r.region_rows),
        polytope: true,
        asked: dim,
    },
    Measure {
        column: "chebyshev_radius",
        title: "Chebyshev radius",
        get: |r| r.chebyshev_radius,
        polytope: true,
        asked: cheb,
    },
    Measure {
        column: "mean_extent",
        title: "mean extent",
        get: |r| r.mean_extent,
        polytope: true,
        asked: ext,
    },
];

/// Columns summarized but not drawn (they follow from others).
const NO_FIGURE: [&str; 2] = ["n_zero", "rank"];

/// The column that ranks polytope size: `chebyshev_radius` when measured, else
/// `mean_extent`, else `affine_dim`; `None` for `basic` runs.
pub fn size_column(m: &Measures) -> Option<&'static str> {
    if m.chebyshev {
        Some("chebyshev_radius")
    } else if m.extents {
        Some("mean_extent")
    } else if m.dim {
        Some("affine_dim")
    } else {
        None
    }
}

fn measure(column: &str) -> &'static Measure {
    MEASURES
        .iter()
        .find(|m| m.column == column)
        .expect("a known column")
}

/// The indices of the [`GRID_K`] largest and smallest examples by [`size_column`]
/// (largest first; smallest first; ties by index; rows without a value left out).
pub fn extremes(rows: &[AuditRow], m: &Measures) -> (Vec<i64>, Vec<i64>) {
    let Some(col) = size_column(m) else {
        return (Vec::new(), Vec::new());
    };
    let get = measure(col).get;
    let mut v: Vec<(f64, i64)> = rows
        .iter()
        .filter_map(|r| get(r).filter(|x| x.is_finite()).map(|x| (x, r.index)))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let smallest = v.iter().take(GRID_K).map(|p| p.1).collect();
    v.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let largest = v.iter().take(GRID_K).map(|p| p.1).collect();
    (largest, smallest)
}

/// The pixels of the examples a run's grids show, and the model's class names.
#[derive(Clone, Debug, PartialEq)]
pub struct Examples {
    /// Image shape `[C, H, W]`.
    pub shape: [usize; 3],
    /// Class names by class index (empty: the report prints indices).
    pub class_names: Vec<String>,
    /// Images by example index.
    pub images: BTreeMap<i64, Vec<f32>>,
}

#[derive(Serialize, Deserialize)]
struct ExamplesMeta {
    indices: Vec<i64>,
    shape: [usize; 3],
    class_names: Vec<String>,
}

impl Examples {
    /// The images of the largest and smallest examples of `rows`, from `image(index)`.
    pub fn collect<'a>(
        rows: &[AuditRow],
        m: &Measures,
        shape: [usize; 3],
        class_names: Vec<String>,
        image: impl Fn(usize) -> &'a [f32],
    ) -> Examples {
        let (large, small) = extremes(rows, m);
        let images = large
            .iter()
            .chain(&small)
            .map(|&i| (i, image(i as usize).to_vec()))
            .collect();
        Examples {
            shape,
            class_names,
            images,
        }
    }

    /// Keeps the images of the largest and smallest examples of `rows` from the shards'
    /// `parts` (which must hold them all: [`super::merge`]).
    pub fn merge(parts: Vec<Examples>, rows: &[AuditRow], m: &Measures) -> Result<Self, String> {
        let mut it = parts.into_iter();
        let mut first = it.next().ok_or("no shard examples")?;
        for p in it {
            if p.shape != first.shape || p.class_names != first.class_names {
                return Err(
                    "the shards' example files differ in image shape or class names".into(),
                );
            }
            first.images.extend(p.images);
        }
        let (large, small) = extremes(rows, m);
        let mut images = BTreeMap::new();
        for i in large.into_iter().chain(small) {
            let img = first.images.get(&i).ok_or_else(|| {
                format!("no shard's {EXAMPLES} holds example {i}, one of the grids' examples")
            })?;
            images.insert(i, img.clone());
        }
        first.images = images;
        Ok(first)
    }

    /// Writes [`EXAMPLES`] into `dir`, atomically.
    pub fn save(&self, dir: &Path) -> Result<(), AuditError> {
        let path = dir.join(EXAMPLES);
        let bytes: Vec<u8> = self
            .images
            .values()
            .flat_map(|v| crate::bytes::f32s_to_le(v))
            .collect();
        let [c, h, w] = self.shape;
        let view = TensorView::new(Dtype::F32, vec![self.images.len(), c, h, w], &bytes)
            .map_err(|e| AuditError::file(&path, e))?;
        let meta = serde_json::to_string(&ExamplesMeta {
            indices: self.images.keys().copied().collect(),
            shape: self.shape,
            class_names: self.class_names.clone(),
        })
        .map_err(|e| AuditError::file(&path, e))?;
        let out = safetensors::tensor::serialize(
            [("images".to_string(), view)],
            Some(HashMap::from([(META_KEY.to_string(), meta)])),
        )
        .map_err(|e| AuditError::file(&path, e))?;
        crate::report::write_atomic(&path, &out)?;
        Ok(())
    }

    /// Reads [`EXAMPLES`] from `dir`, checking its shape.
    pub fn load(dir: &Path) -> Result<Self, AuditError> {
        let path = dir.join(EXAMPLES);
        let bad = |m: String| AuditError::file(&path, m);
        let data = crate::fsutil::read_file(&path).map_err(|e| bad(e.to_string()))?;
        let (_, header) = SafeTensors::read_metadata(&data)
            .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        let meta: ExamplesMeta = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(META_KEY))
            .ok_or_else(|| bad(format!("no '{META_KEY}' metadata: not an audit's examples")))
            .and_then(|s| serde_json::from_str(s).map_err(|e| bad(format!("bad metadata: {e}"))))?;
        let st = SafeTensors::deserialize(&data).map_err(|e| bad(e.to_string()))?;
        let t = st
            .tensor("images")
            .map_err(|_| bad("no tensor 'images'".into()))?;
        let [c, h, w] = meta.shape;
        let want = vec![meta.indices.len(), c, h, w];
        if t.dtype() != Dtype::F32 || t.shape() != want.as_slice() {
            return Err(bad(format!(
                "tensor 'images' is {:?} {:?}, expected F32 {want:?}",
                t.dtype(),
                t.shape()
            )));
        }
        let all = crate::bytes::le_f32s(t.data());
        let d = c * h * w;
        let images = meta
            .indices
            .iter()
            .enumerate()
            .map(|(k, &i)| (i, all[k * d..(k + 1) * d].to_vec()))
            .collect();
        Ok(Examples {
            shape: meta.shape,
            class_names: meta.class_names,
            images,
        })
    }

    fn class(&self, c: i64) -> String {
        match usize::try_from(c)
            .ok()
            .and_then(|i| self.class_names.get(i))
        {
            Some(n) => format!("{c} ({n})"),
            None => c.to_string(),
        }
    }
}

fn stats(xs: &[f64]) -> [String; 5] {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    let mean = s.iter().sum::<f64>() / s.len() as f64;
    [
        s.len().to_string(),
        fmt_sig(mean, 4),
        fmt_sig(quantile_sorted(&s, 0.5), 4),
        fmt_sig(s[0], 4),
        fmt_sig(s[s.len() - 1], 4),
    ]
}

/// Markdown and HTML built side by side.
struct Doc {
    md: String,
    html: HtmlReport,
}

impl Doc {
    fn heading(&mut self, text: &str) {
        self.md.push_str(&format!("\n## {text}\n\n"));
        self.html.heading(2, text);
    }
    fn para(&mut self, text: &str) {
        self.md.push_str(&format!("{text}\n\n"));
        self.html.paragraph(text);
    }
    fn table(&mut self, t: &Table) {
        self.md.push_str(&t.to_markdown());
        self.md.push('\n');
        self.html.table(t);
    }
    fn figure(&mut self, file: &str, caption: &str) {
        self.md
            .push_str(&format!("![{caption}]({file})\n\n*{caption}*\n\n"));
        self.html.image_link(file, caption, caption);
    }
}

/// Writes `report.md`, `report.html` and the figures into `out` for the rows of `record`.
pub fn write_report(
    out: &Path,
    record: &AuditRecord,
    rows: &[AuditRow],
    ex: &Examples,
) -> Result<(), AuditError> {
    let id = &record.identity;
    let m = &id.measures;
    let title = format!(
        "Audit of {} ({}) at {} of {}",
        id.data, id.split, id.layer, id.arch
    );
    let mut d = Doc {
        md: format!("# {title}\n"),
        html: HtmlReport::new(&title),
    };

    d.heading("What was audited");
    let mut t = Table::new("", ["", "value"]);
    let examples = if id.examples < id.split_len {
        format!("the first {} of {} (limit)", id.examples, id.split_len)
    } else {
        format!("all {}", id.split_len)
    };
    let shard = if record.shard == "0/1" {
        "all examples (a single run, or the merge of its shards: the same rows)".to_string()
    } else {
        format!(
            "{}: the examples at positions ≡ {} mod {} ({} rows; `fcollide audit merge` combines the shards)",
            record.shard,
            record.shard.split('/').next().unwrap_or(""),
            record.shard.split('/').nth(1).unwrap_or(""),
            record.rows
        )
    };
    let setting = |k: &str| {
        id.settings.get(k).map_or_else(
            || "?".into(),
            |v| v.to_string().trim_matches('"').to_string(),
        )
    };
    for (k, v) in [
        (
            "model",
            format!("{} (SHA-256 {})", id.arch, id.model_sha256),
        ),
        ("data", format!("{} (SHA-256 {})", id.data, id.data_sha256)),
        ("split", id.split.clone()),
        ("examples", examples),
        ("shard", shard),
        ("collision layer", id.layer.clone()),
        ("measures", m.to_string()),
        (
            "directions (mean extent)",
            match m.extents {
                true => setting("directions"),
                false => "— (mean extent not measured)".into(),
            },
        ),
        ("seed", setting("seed")),
        ("rows", record.rows.to_string()),
        (
            "rows with a measure left empty",
            record.rows_with_errors.to_string(),
        ),
        ("fcollide", id.version.clone()),
    ] {
        t.push_row([k.to_string(), v]);
    }
    d.table(&t);
    if id.behind_nonlinearity {
        d.para(&format!(
            "{} lies behind a nonlinearity: every polytope measure is that of the example's \
             linear region, a lower bound on the colliding set.",
            id.layer
        ));
    }
    if record.rows_with_errors > 0 {
        d.para(&format!(
            "{} row(s) have a measure left empty (an LP failed); the `error` column of \
             audit.csv says why. The figures below use the rows with a value.",
            record.rows_with_errors
        ));
    }

    // Which measures have values.
    let mut present: Vec<(&Measure, Vec<f64>)> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    for me in &MEASURES {
        if !(me.asked)(m) {
            skipped.push(format!("`{}` (not measured: --measures {m})", me.column));
            continue;
        }
        let xs: Vec<f64> = rows
            .iter()
            .filter_map(|r| (me.get)(r))
            .filter(|x| x.is_finite())
            .collect();
        if xs.is_empty() {
            skipped.push(format!("`{}` (no row has a value)", me.column));
        } else {
            present.push((me, xs));
        }
    }

    d.heading("Summary");
    if present.is_empty() {
        d.para("No rows: nothing to summarize.");
    } else {
        let mut t = Table::new("", ["measure", "count", "mean", "median", "min", "max"]);
        for c in 1..6 {
            t.set_align(c, Align::Right);
        }
        for (me, xs) in &present {
            let [n, mean, med, lo, hi] = stats(xs);
            t.push_row([format!("`{}`", me.column), n, mean, med, lo, hi]);
        }
        d.table(&t);
    }
    if !skipped.is_empty() {
        d.para(&format!("Skipped: {}.", skipped.join(", ")));
    }

    // Per-class means.
    let mut by_class: BTreeMap<i64, Vec<&AuditRow>> = BTreeMap::new();
    for r in rows {
        by_class.entry(r.label).or_default().push(r);
    }
    if !present.is_empty() {
        d.heading("Per-class means");
        d.para(
            "Classes are the data set's labels; each mean is over the class's rows with a value.",
        );
        let mut head = vec!["class".to_string(), "rows".to_string()];
        head.extend(present.iter().map(|(me, _)| format!("`{}`", me.column)));
        let mut t = Table::new("", head);
        for c in 1..present.len() + 2 {
            t.set_align(c, Align::Right);
        }
        for (c, rs) in &by_class {
            let mut row = vec![ex.class(*c), rs.len().to_string()];
            for (me, _) in &present {
                let xs: Vec<f64> = rs
                    .iter()
                    .filter_map(|r| (me.get)(r))
                    .filter(|x| x.is_finite())
                    .collect();
                row.push(if xs.is_empty() {
                    "–".into()
                } else {
                    fmt_sig(xs.iter().sum::<f64>() / xs.len() as f64, 4)
                });
            }
            t.push_row(row);
        }
        d.table(&t);
    }

    // Histograms.
    let drawn: Vec<&(&Measure, Vec<f64>)> = present
        .iter()
        .filter(|(me, _)| !NO_FIGURE.contains(&me.column))
        .collect();
    if !drawn.is_empty() {
        d.heading("Histograms");
        d.para("`n_zero` (= layer width − `n_plus`) and `rank` (= d − `affine_dim`) follow from the columns drawn here and get no figure.");
    }
    for (me, xs) in &drawn {
        let Some(h) = histogram(xs, BINS) else {
            continue;
        };
        let file = format!("audit-hist-{}.png", me.column);
        Plot::new(format!("{} ({} rows)", me.title, xs.len()))
            .with_histogram(&h)
            .with_x_label(me.column)
            .with_y_label("examples")
            .save(out.join(&file))?;
        d.figure(
            &file,
            &format!("Histogram of `{}` ({})", me.column, me.title),
        );
    }

    // Per-class box plots.
    let boxed: Vec<&(&Measure, Vec<f64>)> = drawn
        .iter()
        .copied()
        .filter(|(me, _)| me.polytope)
        .collect();
    if !boxed.is_empty() {
        d.heading("Polytope measures per class");
        let mut classes: Vec<(i64, usize)> =
            by_class.iter().map(|(c, rs)| (*c, rs.len())).collect();
        if classes.len() > MAX_BOX_CLASSES {
            classes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            classes.truncate(MAX_BOX_CLASSES);
            classes.sort();
            d.para(&format!(
                "{} classes: the box plots show the {MAX_BOX_CLASSES} with the most rows.",
                by_class.len()
            ));
        }
        d.para("Boxes span the quartiles with a line at the median; whiskers reach the most extreme values within 1.5 × the interquartile range; points beyond are drawn alone.");
        for (me, _) in &boxed {
            let boxes = classes
                .iter()
                .map(|(c, _)| {
                    let xs: Vec<f64> = by_class[c].iter().filter_map(|r| (me.get)(r)).collect();
                    box_stats(&xs)
                })
                .collect();
            let names = classes.iter().map(|(c, _)| {
                match usize::try_from(*c).ok().and_then(|i| ex.class_names.get(i)) {
                    Some(n) if classes.len() <= 12 => n.clone(),
                    _ => c.to_string(),
                }
            });
            let file = format!("audit-box-{}.png", me.column);
            Plot::new(format!("{} per class", me.title))
                .with_size(if classes.len() > 12 { 960 } else { 640 }, 400)
                .with_categories(names)
                .with_boxes(boxes)
                .with_x_label("class (label)")
                .with_y_label(me.column)
                .save(out.join(&file))?;
            d.figure(&file, &format!("`{}` per class", me.column));
        }
    }

    // Grids of the largest and smallest polytopes.
    d.heading("The largest and the smallest polytopes");
    match size_column(m) {
        None => d.para("No polytope measure was asked for (--measures basic): no grids."),
        Some(col) => {
            let (large, small) = extremes(rows, m);
            if large.is_empty() {
                d.para(&format!("No row has a `{col}` value: no grids."));
            } else {
                d.para(&format!(
                    "Ranked by `{col}` ({}; ties by index). Each cell: index · label · predicted · {col}.",
                    match col {
                        "chebyshev_radius" => "the Chebyshev radius is measured",
                        "mean_extent" => "the Chebyshev radius was not measured",
                        _ => "neither the Chebyshev radius nor the mean extent was measured",
                    }
                ));
                let get = measure(col).get;
                let by_index: BTreeMap<i64, &AuditRow> =
                    rows.iter().map(|r| (r.index, r)).collect();
                for (name, ids) in [("largest", &large), ("smallest", &small)] {
                    let mut g = Grid::new(ex.shape)?
                        .with_font_scale(1)
                        .with_title(format!("the {} {name} by {col}", ids.len()));
                    for (k, i) in ids.iter().enumerate() {
                        if k % 4 == 0 {
                            g.start_row("");
                        }
                        let r = by_index[i];
                        let img = ex.images.get(i).ok_or_else(|| {
                            AuditError::file(out.join(EXAMPLES), format!("no image of example {i}"))
                        })?;
                        let v = get(r).map_or("–".into(), |v| fmt_sig(v, 3));
                        g.add_image(img, &format!("{i} · {} · {} · {v}", r.label, r.predicted))?;
                    }
                    let file = format!("audit-{name}.png");
                    g.save(out.join(&file))?;
                    d.figure(&file, &format!("The examples with the {name} `{col}`"));
                }
            }
        }
    }

    d.heading("Columns");
    d.para(
        "As in audit.json and the docs of `fcollide::audit`: with `ỹ(u) = A u + c` the \
         pre-activation of the collision layer on the example's linear region, \
         `P = {j : ỹ(t)_j > 0}`, `Z = {j : ỹ(t)_j ≤ 0}`, `W+ = A[P]`, the polytope is \
         `{u : W+ u = W+ t, A[Z] u + c[Z] ≤ 0, region half-spaces, lo ≤ u ≤ hi}`.",
    );
    let mut t = Table::new("", ["column", "meaning"]);
    for c in COLUMNS.iter() {
        t.push_row([format!("`{}`", c.name), c.doc.to_string()]);
    }
    d.table(&t);
    d.para(
        "`chebyshev_radius`: with `N` an orthonormal basis of `ker W+`, the largest `r` such \
         that the ball `{u + N ζ : ‖ζ‖ ≤ r}` lies in the polytope (one LP; 0 when the subspace \
         is a point). `mean_extent = (1/r) Σ_k (max v_k·u − min v_k·u)` over the polytope, for \
         `r` unit directions `v_k = Nξ_k/‖Nξ_k‖`, `ξ_k ~ N(0, I)` seeded by the seed and the \
         example's index.",
    );

    crate::report::write_atomic(out.join(REPORT_MD), d.md.as_bytes())?;
    d.html.save(out.join(REPORT_HTML))?;
    Ok(())
}
