//! A minimal line-and-point chart rendered to PNG with the built-in bitmap
//! font, e.g. "collision volume vs depth".
//!
//! The x axis is either categorical (labels such as layer names, points at
//! x = 0, 1, 2, …) or numeric. One or more named series are drawn as lines
//! with point markers in distinct colours and marker shapes; non-finite
//! points (and non-positive ones on a log axis) are skipped and break the
//! line. The chart has a title, a legend row under it, axes with "nice" ticks
//! and grid lines, and optional axis labels (the y label reads bottom-to-top).
//! Default size 640×400.
//!
//! Two statistical charts share the layout: a histogram ([`Plot::with_histogram`], bars over
//! the bins of [`histogram`]) and box plots ([`Plot::with_boxes`], one per category, from
//! [`box_stats`]: the box spans the quartiles `q1..q3` with a line at the median, whiskers
//! reach the most extreme values within `1.5·(q3 − q1)` of the box (Tukey), values beyond
//! are drawn as points).
use std::path::Path;

use image::{Rgb, RgbImage};

use super::draw::{fill_rect, hex, line, marker, rect_outline, Clip, Marker};
use super::font::{draw_text, draw_text_up, text_height, text_width};
use super::grid::{encode_png, save_png_and_svg};

use super::ReportError;

const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];
const MARKERS: [Marker; 4] = [
    Marker::Circle,
    Marker::Square,
    Marker::Triangle,
    Marker::Diamond,
];
const BACKGROUND: [u8; 3] = [255, 255, 255];
const TEXT: [u8; 3] = [20, 20, 20];
const AXIS: [u8; 3] = [70, 70, 70];
const GRID: [u8; 3] = [228, 228, 228];
/// Text scale for title, labels and ticks.
const FS: u32 = 2;
const MARGIN: i64 = 12;
const TICK: i64 = 5;

/// One named data series.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// (x, y) points, drawn in order.
    pub points: Vec<(f64, f64)>,
    /// Colour; `None` picks the next palette colour.
    pub color: Option<[u8; 3]>,
}

/// A line/point chart.
#[derive(Clone, Debug)]
pub struct Plot {
    title: String,
    x_label: String,
    y_label: String,
    categories: Vec<String>,
    series: Vec<Series>,
    width: u32,
    height: u32,
    y_range: Option<(f64, f64)>,
    log_y: bool,
    bars: Option<Histogram>,
    boxes: Vec<Option<BoxStats>>,
}

/// Equal-width bins of a sample: bin `k` is `[edges[k], edges[k+1])`, the last one closed.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// `bins + 1` increasing edges.
    pub edges: Vec<f64>,
    /// Values in each bin.
    pub counts: Vec<usize>,
}

/// The histogram of the finite values of `values` (`None` when there are none).
///
/// With `lo = min`, `hi = max`: when every value is an integer and `hi − lo + 1 ≤ bins`, one
/// bin per integer, `[v − ½, v + ½)`; when `lo = hi`, the one bin `[lo − ½, lo + ½]`;
/// otherwise `bins` bins of width `w = (hi − lo)/bins`, value `x` in bin
/// `min(⌊(x − lo)/w⌋, bins − 1)`.
pub fn histogram(values: &[f64], bins: usize) -> Option<Histogram> {
    let xs: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let bins = bins.max(1);
    let (lo, hi) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    if xs.is_empty() {
        return None;
    }
    let integer = xs.iter().all(|x| x.fract() == 0.0 && x.abs() < 1e15);
    let (edges, bin_of): (Vec<f64>, Box<dyn Fn(f64) -> usize>) = if integer && hi - lo < bins as f64
    {
        let n = (hi - lo) as usize + 1;
        (
            (0..=n).map(|k| lo - 0.5 + k as f64).collect(),
            Box::new(move |x: f64| (x - lo) as usize),
        )
    } else if lo == hi {
        (vec![lo - 0.5, lo + 0.5], Box::new(|_| 0))
    } else {
        let w = (hi - lo) / bins as f64;
        (
            (0..=bins)
                .map(|k| if k == bins { hi } else { lo + k as f64 * w })
                .collect(),
            Box::new(move |x: f64| (((x - lo) / w).floor() as usize).min(bins - 1)),
        )
    };
    let mut counts = vec![0; edges.len() - 1];
    for &x in &xs {
        counts[bin_of(x)] += 1;
    }
    Some(Histogram { edges, counts })
}

/// The five-number summary of a sample for a box plot.
#[derive(Clone, Debug, PartialEq)]
pub struct BoxStats {
    /// Finite values.
    pub n: usize,
    /// Smallest value.
    pub min: f64,
    /// First quartile.
    pub q1: f64,
    /// Median.
    pub median: f64,
    /// Third quartile.
    pub q3: f64,
    /// Largest value.
    pub max: f64,
    /// Lower whisker: the smallest value `≥ q1 − 1.5·(q3 − q1)`.
    pub whisker_lo: f64,
    /// Upper whisker: the largest value `≤ q3 + 1.5·(q3 − q1)`.
    pub whisker_hi: f64,
    /// The values beyond the whiskers, ascending.
    pub outliers: Vec<f64>,
}

/// The `p`-quantile of ascending `xs` by linear interpolation between order statistics
/// (Hyndman–Fan type 7, NumPy's default): `h = (n − 1)p`,
/// `q = x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋])`.
pub fn quantile_sorted(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let h = (xs.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let i = h.floor() as usize;
    match xs.get(i + 1) {
        Some(&next) => xs[i] + (h - i as f64) * (next - xs[i]),
        None => xs[i],
    }
}

/// The box-plot summary of the finite values of `values` (`None` when there are none):
/// quartiles by [`quantile_sorted`], Tukey's whiskers at 1.5 IQR.
pub fn box_stats(values: &[f64]) -> Option<BoxStats> {
    let mut xs: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let (q1, median, q3) = (
        quantile_sorted(&xs, 0.25),
        quantile_sorted(&xs, 0.5),
        quantile_sorted(&xs, 0.75),
    );
    let (fence_lo, fence_hi) = (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1));
    let inside = || {
        xs.iter()
            .copied()
            .filter(|&x| x >= fence_lo && x <= fence_hi)
    };
    Some(BoxStats {
        n: xs.len(),
        min: xs[0],
        q1,
        median,
        q3,
        max: xs[xs.len() - 1],
        whisker_lo: inside().fold(f64::INFINITY, f64::min),
        whisker_hi: inside().fold(f64::NEG_INFINITY, f64::max),
        outliers: xs
            .iter()
            .copied()
            .filter(|&x| x < fence_lo || x > fence_hi)
            .collect(),
    })
}

/// A "nice" tick step (1, 2 or 5 × 10^k) giving about `target` ticks.
fn nice_step(span: f64, target: f64) -> f64 {
    let raw = span / target.max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let f = if norm < 1.5 {
        1.0
    } else if norm < 3.0 {
        2.0
    } else if norm < 7.0 {
        5.0
    } else {
        10.0
    };
    f * mag
}

/// Ticks at multiples of `step` within `lo..=hi`.
fn ticks_between(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last.min(first + 1000))
        .map(|k| k as f64 * step)
        .collect()
}

/// Formats a linear tick value given the tick step.
fn fmt_tick(v: f64, step: f64) -> String {
    let a = v.abs();
    if v != 0.0 && (a >= 1e5 || step < 1e-3) {
        let s = format!("{v:.1e}");
        return s.replace(".0e", "e");
    }
    let decimals = (-step.log10() - 1e-9).ceil().max(0.0) as usize;
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// Formats a log-axis tick (a power of ten times 1, 2 or 5).
fn fmt_log_tick(v: f64) -> String {
    if (1e-3..1e5).contains(&v) {
        let decimals = (-v.log10() - 1e-9).ceil().max(0.0) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.0e}")
    }
}

/// An axis: data range, scale and ticks.
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    ticks: Vec<(f64, String)>,
}

impl Axis {
    /// Position of `v` in 0..1 along the axis (NaN if not drawable).
    fn frac(&self, v: f64) -> f64 {
        if self.log {
            if v > 0.0 {
                (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
            } else {
                f64::NAN
            }
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    fn linear(lo: f64, hi: f64, target: f64, extend: bool) -> Axis {
        let (mut lo, mut hi) = (lo, hi);
        if hi - lo <= hi.abs().max(lo.abs()) * 1e-12 {
            let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            lo -= pad;
            hi += pad;
        }
        let step = nice_step(hi - lo, target);
        if extend {
            lo = (lo / step + 1e-9).floor() * step;
            hi = (hi / step - 1e-9).ceil() * step;
        }
        let ticks = ticks_between(lo, hi, step)
            .into_iter()
            .map(|t| (t, fmt_tick(t, step)))
            .collect();
        Axis {
            lo,
            hi,
            log: false,
            ticks,
        }
    }

    fn logarithmic(lo: f64, hi: f64, extend: bool, max_ticks: f64) -> Axis {
        let (mut lo, mut hi) = (lo, hi);
        if extend {
            lo = 10f64.powf(lo.log10().floor());
            hi = 10f64.powf(hi.log10().ceil());
        }
        if hi <= lo {
            hi = lo * 10.0;
        }
        let decades = (hi.log10() - lo.log10()).max(1e-9);
        let max_ticks = max_ticks.max(2.0);
        let mults: &[f64] = if decades * 3.0 <= max_ticks {
            &[1.0, 2.0, 5.0]
        } else {
            &[1.0]
        };
        let every = (decades / max_ticks).ceil().max(1.0) as i64;
        let mut ticks = Vec::new();
        let (k0, k1) = (lo.log10().floor() as i64, hi.log10().ceil() as i64);
        for k in (k0..=k1).filter(|k| k.rem_euclid(every) == 0) {
            for m in mults {
                let v = m * 10f64.powi(k as i32);
                if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                    ticks.push((v, fmt_log_tick(v)));
                }
            }
        }
        Axis {
            lo,
            hi,
            log: true,
            ticks,
        }
    }
    /// Widens the drawn range by `frac` of its span on both sides (in log
    /// space for log axes) so points on the edge are not cut; ticks stay.
    fn padded(mut self, frac: f64) -> Axis {
        if self.log {
            let (a, b) = (self.lo.log10(), self.hi.log10());
            let d = (b - a) * frac;
            self.lo = 10f64.powf(a - d);
            self.hi = 10f64.powf(b + d);
        } else {
            let d = (self.hi - self.lo) * frac;
            self.lo -= d;
            self.hi += d;
        }
        self
    }
}

impl Plot {
    /// An empty 640×400 chart with a title.
    pub fn new(title: impl Into<String>) -> Self {
        Plot {
            title: title.into(),
            x_label: String::new(),
            y_label: String::new(),
            categories: Vec::new(),
            series: Vec::new(),
            width: 640,
            height: 400,
            y_range: None,
            log_y: false,
            bars: None,
            boxes: Vec::new(),
        }
    }

    /// Draws `h` as bars on a numeric x axis (y: the counts, from 0).
    pub fn with_histogram(mut self, h: &Histogram) -> Self {
        self.bars = Some(h.clone());
        self
    }

    /// Draws one box plot per category (set the names with [`Plot::with_categories`]); `None`
    /// leaves the category empty.
    pub fn with_boxes(mut self, boxes: Vec<Option<BoxStats>>) -> Self {
        self.boxes = boxes;
        self
    }

    /// The points that the histogram and the boxes need inside the axes.
    fn shape_points(&self) -> Vec<(f64, f64)> {
        let mut pts = Vec::new();
        if let Some(h) = &self.bars {
            let top = h.counts.iter().copied().max().unwrap_or(0) as f64;
            pts.push((h.edges[0], 0.0));
            pts.push((h.edges[h.edges.len() - 1], top.max(1.0)));
        }
        for (i, b) in self.boxes.iter().enumerate() {
            if let Some(b) = b {
                pts.push((i as f64, b.min));
                pts.push((i as f64, b.max));
            }
        }
        pts
    }

    /// Sets the image size in pixels.
    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    /// Sets the x-axis label.
    pub fn with_x_label(mut self, label: impl Into<String>) -> Self {
        self.x_label = label.into();
        self
    }

    /// Sets the y-axis label (drawn vertically).
    pub fn with_y_label(mut self, label: impl Into<String>) -> Self {
        self.y_label = label.into();
        self
    }

    /// Makes the x axis categorical: point x = i is labelled `labels[i]`.
    pub fn with_categories<S: Into<String>>(mut self, labels: impl IntoIterator<Item = S>) -> Self {
        self.categories = labels.into_iter().map(Into::into).collect();
        self
    }

    /// Fixes the y range instead of fitting it to the data.
    pub fn with_y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }

    /// Uses a logarithmic y axis (only positive values are drawn).
    pub fn with_log_y(mut self, log: bool) -> Self {
        self.log_y = log;
        self
    }

    /// Adds a series with y values at x = 0, 1, 2, … (for categorical axes).
    pub fn with_series(mut self, name: impl Into<String>, ys: &[f64]) -> Self {
        let points = ys.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect();
        self.push_series(Series {
            name: name.into(),
            points,
            color: None,
        });
        self
    }

    /// Adds a series of (x, y) points.
    pub fn with_series_xy(mut self, name: impl Into<String>, points: &[(f64, f64)]) -> Self {
        self.push_series(Series {
            name: name.into(),
            points: points.to_vec(),
            color: None,
        });
        self
    }

    /// Adds a series.
    pub fn push_series(&mut self, series: Series) -> &mut Self {
        self.series.push(series);
        self
    }

    /// Image size `(width, height)`.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn y_axis(&self, target: f64) -> Result<Axis, ReportError> {
        if let Some((lo, hi)) = self.y_range {
            let ok = lo.is_finite() && hi.is_finite() && hi > lo && (!self.log_y || lo > 0.0);
            if !ok {
                return Err(ReportError::Invalid(format!(
                    "bad y range {lo}..{hi}{}",
                    if self.log_y { " for a log axis" } else { "" }
                )));
            }
            return Ok(if self.log_y {
                Axis::logarithmic(lo, hi, false, target)
            } else {
                Axis::linear(lo, hi, target, false)
            });
        }
        let extra = self.shape_points();
        let ys = self
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .chain(extra.iter())
            .filter(|p| p.0.is_finite())
            .map(|p| p.1)
            .filter(|y| y.is_finite() && (!self.log_y || *y > 0.0));
        let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
            (a.min(y), b.max(y))
        });
        Ok(match (lo <= hi, self.log_y) {
            (true, true) => Axis::logarithmic(lo, hi, true, target).padded(0.03),
            (true, false) => Axis::linear(lo, hi, target, true).padded(0.03),
            (false, true) => Axis::logarithmic(1.0, 10.0, false, target),
            (false, false) => Axis::linear(0.0, 1.0, target, false),
        })
    }

    fn x_axis(&self, target: f64) -> Axis {
        let n_points = self
            .series
            .iter()
            .map(|s| s.points.len())
            .max()
            .unwrap_or(0)
            .max(self.boxes.len());
        if !self.categories.is_empty() {
            let n = self.categories.len().max(n_points).max(1);
            let ticks = (0..n)
                .map(|i| {
                    (
                        i as f64,
                        self.categories
                            .get(i)
                            .cloned()
                            .unwrap_or_else(|| i.to_string()),
                    )
                })
                .collect();
            return Axis {
                lo: -0.5,
                hi: n as f64 - 0.5,
                log: false,
                ticks,
            };
        }
        let extra = self.shape_points();
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .chain(extra.iter())
            .map(|p| p.0)
            .filter(|x| x.is_finite());
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        if lo <= hi {
            Axis::linear(lo, hi, target, true).padded(0.03)
        } else {
            Axis::linear(0.0, 1.0, target, false)
        }
    }

    /// Draws the chart.
    pub fn render(&self) -> Result<RgbImage, ReportError> {
        let mut img = RgbImage::from_pixel(self.width, self.height, Rgb(BACKGROUND));
        self.paint(&mut img)?;
        Ok(img)
    }

    /// The chart as a standalone SVG document with the same layout as [`Plot::render`]:
    /// lines, markers and grid as vector shapes, text as SVG text stretched to the bitmap
    /// font's widths, for papers.
    pub fn to_svg(&self) -> Result<String, ReportError> {
        let mut svg = SvgCanvas::new(self.width, self.height);
        self.paint(&mut svg)?;
        Ok(svg.finish())
    }

    /// Lays the chart out and draws it on `c` (the PNG and the SVG share this one layout).
    fn paint(&self, c: &mut impl Canvas) -> Result<(), ReportError> {
        let (w, h) = (self.width as i64, self.height as i64);
        if !(160..=8192).contains(&w) || !(120..=8192).contains(&h) {
            return Err(ReportError::Invalid(format!(
                "plot size {w}×{h} out of range (160..=8192 × 120..=8192)"
            )));
        }
        let th = text_height(FS) as i64;

        // Legend entries laid out in rows under the title.
        let colors: Vec<[u8; 3]> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| s.color.unwrap_or(PALETTE[i % PALETTE.len()]))
            .collect();
        let sample_w = 28i64;
        let mut legend: Vec<(i64, i64, usize)> = Vec::new(); // (x, row, series)
        let (mut lx, mut lrow) = (0i64, 0i64);
        for (i, s) in self.series.iter().enumerate() {
            let item_w = sample_w + 6 + text_width(&s.name, FS) as i64;
            if lx > 0 && lx + item_w > w - 2 * MARGIN {
                lx = 0;
                lrow += 1;
            }
            legend.push((lx, lrow, i));
            lx += item_w + 20;
        }
        let legend_rows = if self.series.is_empty() { 0 } else { lrow + 1 };
        let row_h = th + 4;
        let title_h = if self.title.is_empty() { 0 } else { th + 8 };
        let top = MARGIN + title_h + legend_rows * row_h + 8;

        let bottom = TICK + 6 + th + if self.x_label.is_empty() { 0 } else { 8 + th } + MARGIN;
        let y_axis = self.y_axis(((h - top - bottom) as f64 / 45.0).clamp(2.0, 10.0))?;
        let x_axis = self.x_axis(((w - 120) as f64 / 90.0).max(2.0));
        let ylab_w = y_axis
            .ticks
            .iter()
            .map(|t| text_width(&t.1, FS))
            .max()
            .unwrap_or(0) as i64;
        let left = MARGIN + if self.y_label.is_empty() { 0 } else { th + 8 } + ylab_w + 6 + TICK;
        let right = if self.categories.is_empty() {
            let last = x_axis.ticks.last().map_or(0, |t| text_width(&t.1, FS)) as i64;
            MARGIN + last / 2
        } else {
            MARGIN + 4
        };
        let (x0, y0, x1, y1) = (left, top, w - right, h - bottom);
        if x1 - x0 < 40 || y1 - y0 < 40 {
            return Err(ReportError::Invalid(format!(
                "plot {w}×{h} too small for its labels and legend"
            )));
        }
        let px = |f: f64| x0 as f64 + f * (x1 - x0 - 1) as f64;
        let py = |f: f64| (y1 - 1) as f64 - f * (y1 - y0 - 1) as f64;
        let to_pix = |v: f64| v.clamp(-1e6, 1e6).round() as i64;

        // Grid lines.
        for (v, _) in &y_axis.ticks {
            let y = to_pix(py(y_axis.frac(*v)));
            c.fill_rect(x0, y, x1 - x0, 1, GRID);
        }
        if self.categories.is_empty() {
            for (v, _) in &x_axis.ticks {
                let x = to_pix(px(x_axis.frac(*v)));
                c.fill_rect(x, y0, 1, y1 - y0, GRID);
            }
        }
        c.rect_outline(x0 - 1, y0 - 1, x1 - x0 + 2, y1 - y0 + 2, AXIS);

        // Y ticks and labels.
        for (v, label) in &y_axis.ticks {
            let y = to_pix(py(y_axis.frac(*v)));
            c.fill_rect(x0 - 1 - TICK, y, TICK, 1, AXIS);
            let tw = text_width(label, FS) as i64;
            c.text(
                x0 - 1 - TICK - 6 - tw,
                y - 7 * FS as i64 / 2,
                label,
                FS,
                TEXT,
            );
        }

        // X ticks and labels; categorical labels shrink or thin out to fit.
        let n_x = x_axis.ticks.len().max(1) as i64;
        let slot = if self.categories.is_empty() {
            (x1 - x0) / n_x
        } else {
            (x1 - x0) / (x_axis.hi - x_axis.lo).round().max(1.0) as i64
        };
        let max_w = |fs: u32| {
            x_axis
                .ticks
                .iter()
                .map(|t| text_width(&t.1, fs))
                .max()
                .unwrap_or(0) as i64
        };
        let (xfs, stride) = if max_w(FS) <= slot - 6 {
            (FS, 1)
        } else if max_w(1) <= slot - 4 {
            (1, 1)
        } else {
            (
                1,
                ((max_w(1) + 8) as f64 / slot.max(1) as f64).ceil() as usize,
            )
        };
        for (i, (v, label)) in x_axis.ticks.iter().enumerate() {
            let x = to_pix(px(x_axis.frac(*v)));
            c.fill_rect(x, y1 + 1, 1, TICK, AXIS);
            if i % stride == 0 {
                let tw = text_width(label, xfs) as i64;
                c.text(x - tw / 2, y1 + 1 + TICK + 6, label, xfs, TEXT);
            }
        }

        let inner = Clip { x0, y0, x1, y1 };
        // Histogram bars.
        if let Some(hist) = &self.bars {
            let color = PALETTE[0];
            let base = to_pix(py(y_axis.frac(0.0)));
            for (k, &n) in hist.counts.iter().enumerate() {
                if n == 0 {
                    continue;
                }
                let (xa, xb) = (
                    to_pix(px(x_axis.frac(hist.edges[k]))),
                    to_pix(px(x_axis.frac(hist.edges[k + 1]))),
                );
                let top = to_pix(py(y_axis.frac(n as f64)));
                c.fill_rect(xa, top, (xb - xa).max(1), base - top + 1, color);
                c.rect_outline(xa, top, (xb - xa + 1).max(1), base - top + 1, AXIS);
            }
        }
        // Box plots.
        for (i, b) in self.boxes.iter().enumerate() {
            let Some(b) = b else { continue };
            let color = PALETTE[0];
            let x = to_pix(px(x_axis.frac(i as f64)));
            let half = (slot * 3 / 10).max(2);
            let y = |v: f64| to_pix(py(y_axis.frac(v)));
            let (yq1, yq3) = (y(b.q1), y(b.q3));
            c.line(inner, (x, y(b.whisker_lo)), (x, yq1), 1, AXIS);
            c.line(inner, (x, yq3), (x, y(b.whisker_hi)), 1, AXIS);
            for w in [b.whisker_lo, b.whisker_hi] {
                c.line(inner, (x - half / 2, y(w)), (x + half / 2, y(w)), 1, AXIS);
            }
            c.fill_rect(x - half, yq3, 2 * half + 1, (yq1 - yq3).max(1), color);
            c.rect_outline(x - half, yq3, 2 * half + 1, (yq1 - yq3 + 1).max(1), AXIS);
            c.line(
                inner,
                (x - half, y(b.median)),
                (x + half, y(b.median)),
                2,
                TEXT,
            );
            for &o in &b.outliers {
                c.marker(inner, (x, y(o)), 3, Marker::Circle, PALETTE[3]);
            }
        }

        // Series.
        for (si, s) in self.series.iter().enumerate() {
            let pts: Vec<Option<(i64, i64)>> = s
                .points
                .iter()
                .map(|&(x, y)| {
                    let (fx, fy) = (x_axis.frac(x), y_axis.frac(y));
                    (fx.is_finite() && fy.is_finite()).then(|| (to_pix(px(fx)), to_pix(py(fy))))
                })
                .collect();
            for pair in pts.windows(2) {
                if let [Some(a), Some(b)] = pair {
                    c.line(inner, *a, *b, 2, colors[si]);
                }
            }
            for p in pts.iter().flatten() {
                c.marker(inner, *p, 4, MARKERS[si % MARKERS.len()], colors[si]);
            }
        }

        // Title, legend, axis labels.
        if !self.title.is_empty() {
            let tw = text_width(&self.title, FS) as i64;
            c.text((w - tw) / 2, MARGIN, &self.title, FS, TEXT);
        }
        let legend_w = |row: i64| {
            legend
                .iter()
                .filter(|e| e.1 == row)
                .map(|e| e.0 + sample_w + 6 + text_width(&self.series[e.2].name, FS) as i64)
                .max()
                .unwrap_or(0)
        };
        let full = Clip {
            x0: 0,
            y0: 0,
            x1: w,
            y1: h,
        };
        for &(lx, row, si) in &legend {
            let x = (w - legend_w(row)) / 2 + lx;
            let y = MARGIN + title_h + row * row_h;
            let cy = y + 7 * FS as i64 / 2;
            c.line(full, (x, cy), (x + sample_w - 1, cy), 2, colors[si]);
            c.marker(
                full,
                (x + sample_w / 2, cy),
                4,
                MARKERS[si % MARKERS.len()],
                colors[si],
            );
            c.text(x + sample_w + 6, y, &self.series[si].name, FS, TEXT);
        }
        if !self.x_label.is_empty() {
            let tw = text_width(&self.x_label, FS) as i64;
            let y = h - MARGIN - th;
            c.text((x0 + x1 - tw) / 2, y, &self.x_label, FS, TEXT);
        }
        if !self.y_label.is_empty() {
            let tw = text_width(&self.y_label, FS) as i64;
            let y = ((y0 + y1 - tw) / 2).max(0);
            c.text_up(MARGIN, y, &self.y_label, FS, TEXT);
        }
        Ok(())
    }

    /// Renders and encodes the chart as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>, ReportError> {
        encode_png(&self.render()?)
    }

    /// Renders the chart and writes it as PNG to `path`, atomically; when `path` ends in
    /// `.png`, the [`Plot::to_svg`] version goes beside it (`NAME.svg`).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ReportError> {
        save_png_and_svg(&self.render()?, || self.to_svg(), path.as_ref())
    }
}

/// What the chart is drawn on: a raster image or an SVG document. Coordinates in pixels,
/// text at the bitmap font's scale `fs` with its top-left corner at `(x, y)`.
trait Canvas {
    fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, color: [u8; 3]);
    fn rect_outline(&mut self, x: i64, y: i64, w: i64, h: i64, color: [u8; 3]);
    fn line(&mut self, clip: Clip, a: (i64, i64), b: (i64, i64), width: i64, color: [u8; 3]);
    fn marker(&mut self, clip: Clip, p: (i64, i64), r: i64, shape: Marker, color: [u8; 3]);
    fn text(&mut self, x: i64, y: i64, text: &str, fs: u32, color: [u8; 3]);
    /// Text reading bottom to top, its first glyph at the bottom-left `(x, y + width)`.
    fn text_up(&mut self, x: i64, y: i64, text: &str, fs: u32, color: [u8; 3]);
}

impl Canvas for RgbImage {
    fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, color: [u8; 3]) {
        fill_rect(self, x, y, w, h, color);
    }
    fn rect_outline(&mut self, x: i64, y: i64, w: i64, h: i64, color: [u8; 3]) {
        rect_outline(self, x, y, w, h, color);
    }
    fn line(&mut self, clip: Clip, a: (i64, i64), b: (i64, i64), width: i64, color: [u8; 3]) {
        line(self, clip, a, b, width, color);
    }
    fn marker(&mut self, clip: Clip, p: (i64, i64), r: i64, shape: Marker, color: [u8; 3]) {
        marker(self, clip, p, r, shape, color);
    }
    fn text(&mut self, x: i64, y: i64, text: &str, fs: u32, color: [u8; 3]) {
        draw_text(self, x, y, text, fs, color);
    }
    fn text_up(&mut self, x: i64, y: i64, text: &str, fs: u32, color: [u8; 3]) {
        draw_text_up(self, x, y, text, fs, color);
    }
}

/// An SVG document being drawn: one element per call, clip boxes as `<clipPath>`s.
struct SvgCanvas {
    out: String,
    clips: Vec<Clip>,
}

impl SvgCanvas {
    fn new(width: u32, height: u32) -> Self {
        let out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
             viewBox=\"0 0 {width} {height}\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"{}\"/>\n",
            hex(BACKGROUND)
        );
        SvgCanvas {
            out,
            clips: Vec::new(),
        }
    }

    /// The id of the clip path of `clip`, defined on first use.
    fn clip_id(&mut self, clip: Clip) -> usize {
        if let Some(i) = self.clips.iter().position(|c| *c == clip) {
            return i;
        }
        let i = self.clips.len();
        self.clips.push(clip);
        self.out.push_str(&format!(
            "<clipPath id=\"c{i}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath>\n",
            clip.x0,
            clip.y0,
            clip.x1 - clip.x0,
            clip.y1 - clip.y0
        ));
        i
    }

    /// A text element whose advance is stretched to the bitmap font's width, so that the
    /// layout computed with [`text_width`] holds.
    fn text_element(&mut self, x: i64, y: i64, text: &str, fs: u32, color: [u8; 3], rotate: bool) {
        let width = text_width(text, fs);
        if width == 0 {
            return;
        }
        let size = text_height(fs) as f64 * 1.3;
        let (attrs, tx, ty) = if rotate {
            // Baseline along the left edge, reading upwards from (x, y + width).
            let (bx, by) = (x as f64 + size * 0.8, (y + width as i64) as f64);
            (
                format!(" transform=\"rotate(-90 {bx:.1} {by:.1})\""),
                bx,
                by,
            )
        } else {
            (String::new(), x as f64, y as f64 + size * 0.8)
        };
        self.out.push_str(&format!(
            "<text x=\"{tx:.1}\" y=\"{ty:.1}\" font-size=\"{size:.1}\" textLength=\"{width}\" \
             lengthAdjust=\"spacingAndGlyphs\" fill=\"{}\"{attrs}>{}</text>\n",
            hex(color),
            super::html::escape_html(text)
        ));
    }

    fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

impl Canvas for SvgCanvas {
    fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, color: [u8; 3]) {
        if w > 0 && h > 0 {
            self.out.push_str(&format!(
                "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{}\"/>\n",
                hex(color)
            ));
        }
    }
    fn rect_outline(&mut self, x: i64, y: i64, w: i64, h: i64, color: [u8; 3]) {
        self.out.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"{}\"/>\n",
            x as f64 + 0.5,
            y as f64 + 0.5,
            (w - 1).max(0),
            (h - 1).max(0),
            hex(color)
        ));
    }
    fn line(&mut self, clip: Clip, a: (i64, i64), b: (i64, i64), width: i64, color: [u8; 3]) {
        let id = self.clip_id(clip);
        self.out.push_str(&format!(
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{width}\" \
             stroke-linecap=\"round\" clip-path=\"url(#c{id})\"/>\n",
            a.0,
            a.1,
            b.0,
            b.1,
            hex(color)
        ));
    }
    fn marker(&mut self, clip: Clip, p: (i64, i64), r: i64, shape: Marker, color: [u8; 3]) {
        let id = self.clip_id(clip);
        let (x, y, r) = (p.0 as f64, p.1 as f64, r as f64);
        let fill = hex(color);
        let el = match shape {
            Marker::Circle => format!("<circle cx=\"{x}\" cy=\"{y}\" r=\"{r}\""),
            Marker::Square => format!(
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"",
                x - r + 0.5,
                y - r + 0.5,
                2.0 * r - 1.0,
                2.0 * r - 1.0
            ),
            Marker::Diamond => format!(
                "<polygon points=\"{x},{} {},{y} {x},{} {},{y}\"",
                y - r,
                x + r,
                y + r,
                x - r
            ),
            Marker::Triangle => format!(
                "<polygon points=\"{x},{} {},{} {},{}\"",
                y - r,
                x + r,
                y + r,
                x - r,
                y + r
            ),
        };
        self.out.push_str(&format!(
            "{el} fill=\"{fill}\" clip-path=\"url(#c{id})\"/>\n"
        ));
    }
    fn text(&mut self, x: i64, y: i64, text: &str, fs: u32, color: [u8; 3]) {
        self.text_element(x, y, text, fs, color, false);
    }
    fn text_up(&mut self, x: i64, y: i64, text: &str, fs: u32, color: [u8; 3]) {
        self.text_element(x, y, text, fs, color, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_plot() -> Plot {
        Plot::new("Collision volume vs depth")
            .with_categories(["conv1", "conv2", "fc1", "fc2", "logits"])
            .with_x_label("layer")
            .with_y_label("vertex / dataset spread")
            .with_series("MNIST", &[0.9, 0.7, 0.5, f64::NAN, 0.2])
            .with_series("CIFAR-10", &[0.8, 0.75, 0.6, 0.45, 0.3])
    }

    #[test]
    fn writes_decodable_png_of_stated_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plot.png");
        depth_plot().save(&p).unwrap();
        let img = image::open(&p).unwrap();
        assert_eq!((img.width(), img.height()), (640, 400));
        let small = depth_plot().with_size(320, 240);
        let img = image::load_from_memory(&small.to_png().unwrap()).unwrap();
        assert_eq!((img.width(), img.height()), (320, 240));
    }

    #[test]
    fn svg_has_the_same_chart_beside_the_png() {
        let plot = depth_plot().with_log_y(true);
        let svg = plot.to_svg().unwrap();
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains(r#"width="640" height="400""#));
        for text in [
            ">Collision volume vs depth</text>",
            ">MNIST</text>",
            ">CIFAR-10</text>",
            ">layer</text>",
            ">vertex / dataset spread</text>",
            ">conv2</text>",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        // MNIST: a NaN breaks its line (2 segments of 4 points + 1 alone), CIFAR-10 has 4
        // segments; plus one legend line each.
        assert_eq!(svg.matches("<line ").count(), 2 + 4 + 2);
        assert_eq!(svg.matches("<circle ").count(), 4 + 1);
        assert!(svg.contains(r#"transform="rotate(-90"#));
        // Text is escaped.
        let odd = Plot::new("a < b & c").with_series("s", &[1.0, 2.0]);
        assert!(odd.to_svg().unwrap().contains(">a &lt; b &amp; c</text>"));
        let dir = tempfile::tempdir().unwrap();
        plot.save(dir.path().join("sweep.png")).unwrap();
        let on_disk = std::fs::read_to_string(dir.path().join("sweep.svg")).unwrap();
        assert_eq!(on_disk, svg);
    }

    #[test]
    fn draws_series_colours() {
        let img = depth_plot().render().unwrap();
        for c in &PALETTE[..2] {
            let n = img.pixels().filter(|p| p.0 == *c).count();
            assert!(n > 200, "colour {c:?}: {n} pixels");
        }
        assert!(img.pixels().filter(|p| p.0 == TEXT).count() > 500);
    }

    #[test]
    fn numeric_log_and_degenerate_axes_render() {
        let p = Plot::new("log")
            .with_log_y(true)
            .with_series_xy("a", &[(1.0, 1e-4), (2.0, 3e-2), (5.0, 0.0), (8.0, 2.0)]);
        p.render().unwrap();
        Plot::new("").render().unwrap();
        Plot::new("flat")
            .with_series("c", &[3.0, 3.0])
            .render()
            .unwrap();
        assert!(Plot::new("x").with_size(10, 10).render().is_err());
        assert!(Plot::new("x")
            .with_log_y(true)
            .with_y_range(0.0, 1.0)
            .render()
            .is_err());
    }

    #[test]
    fn histogram_bins_by_hand() {
        // lo = 0, hi = 10, 4 bins of width 2.5: [0, 2.5) [2.5, 5) [5, 7.5) [7.5, 10].
        let h = histogram(&[0.0, 1.0, 2.5, 4.9, 5.0, 9.0, 10.0, f64::NAN, 0.5], 4).unwrap();
        assert_eq!(h.edges, [0.0, 2.5, 5.0, 7.5, 10.0]);
        assert_eq!(h.counts, [3, 2, 1, 2]);
        // Integers spanning fewer values than bins: one bin per integer.
        let h = histogram(&[3.0, 5.0, 5.0, 4.0, 5.0], 10).unwrap();
        assert_eq!(h.edges, [2.5, 3.5, 4.5, 5.5]);
        assert_eq!(h.counts, [1, 1, 3]);
        // Integers spanning more values than bins: equal widths.
        let h = histogram(&[0.0, 3.0, 6.0], 2).unwrap();
        assert_eq!((h.edges, h.counts), (vec![0.0, 3.0, 6.0], vec![1, 2]));
        // One value repeated (not an integer): one bin around it.
        let h = histogram(&[0.25, 0.25], 8).unwrap();
        assert_eq!((h.edges, h.counts), (vec![-0.25, 0.75], vec![2]));
        assert!(histogram(&[f64::NAN, f64::INFINITY], 5).is_none());
    }

    #[test]
    fn box_quartiles_by_hand() {
        // Sorted: 1 2 3 4 5 6 7 8 100; n = 9, h = 8p: q1 = x[2] = 3, median = x[4] = 5,
        // q3 = x[6] = 7; IQR 4, fences -3 and 13: 100 is an outlier, whiskers 1 and 8.
        let b = box_stats(&[5.0, 3.0, 100.0, 1.0, 2.0, 4.0, 6.0, 7.0, 8.0]).unwrap();
        assert_eq!(
            (b.n, b.min, b.q1, b.median, b.q3, b.max),
            (9, 1.0, 3.0, 5.0, 7.0, 100.0)
        );
        assert_eq!((b.whisker_lo, b.whisker_hi), (1.0, 8.0));
        assert_eq!(b.outliers, [100.0]);
        // n = 4: h = 3p: q1 at h = 0.75: 1 + 0.75·(2 − 1) = 1.75; median at 1.5: 2.5;
        // q3 at 2.25: 3 + 0.25·(4 − 3) = 3.25.
        let b = box_stats(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((b.q1, b.median, b.q3), (1.75, 2.5, 3.25));
        assert!(b.outliers.is_empty());
        let one = box_stats(&[2.0]).unwrap();
        assert_eq!(
            (one.q1, one.median, one.q3, one.whisker_hi),
            (2.0, 2.0, 2.0, 2.0)
        );
        assert!(box_stats(&[]).is_none());
    }

    #[test]
    fn histogram_and_boxes_render() {
        let h = histogram(&[0.1, 0.2, 0.2, 0.9], 5).unwrap();
        let p = Plot::new("hist").with_histogram(&h).with_x_label("value");
        let img = p.render().unwrap();
        assert!(img.pixels().filter(|q| q.0 == PALETTE[0]).count() > 500);
        assert!(p.to_svg().unwrap().matches("<rect ").count() >= 3 + 3);
        let boxes = vec![
            box_stats(&[1.0, 2.0, 3.0, 4.0, 40.0]),
            None,
            box_stats(&[2.0, 2.5]),
        ];
        let p = Plot::new("boxes")
            .with_categories(["0", "1", "2"])
            .with_boxes(boxes);
        let img = p.render().unwrap();
        assert!(
            img.pixels().filter(|q| q.0 == PALETTE[3]).count() > 10,
            "outlier drawn"
        );
        assert_eq!(p.to_svg().unwrap().matches("<circle ").count(), 1);
    }

    #[test]
    fn ticks_are_nice() {
        assert_eq!(nice_step(1.0, 5.0), 0.2);
        assert_eq!(nice_step(7.3, 6.0), 1.0);
        let a = Axis::linear(0.13, 0.87, 6.0, true);
        assert!((a.lo - 0.1).abs() < 1e-12 && (a.hi - 0.9).abs() < 1e-12);
        let labels: Vec<&str> = a.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(
            labels,
            ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"]
        );
        let l = Axis::logarithmic(2e-4, 0.5, true, 8.0);
        assert_eq!(l.ticks.first().unwrap().1, "1e-4");
        assert_eq!(l.ticks.last().unwrap().1, "1");
        assert_eq!(fmt_tick(-0.0, 0.1), "0.0");
        assert_eq!(fmt_tick(-1e-17, 0.5), "0.0");
        assert_eq!(fmt_tick(0.0, 1e-4), "0.0000");
        assert_eq!(fmt_tick(250000.0, 50000.0), "2.5e5");
    }
}
