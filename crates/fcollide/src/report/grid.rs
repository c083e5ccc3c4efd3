//! PNG image grids: rows of upscaled images with text labels, plus
//! "indicator" heat-map cells that show where images differ.
//!
//! Images are `&[f32]` in CHW layout with shape `[C, H, W]` (C = 1 grey or
//! C = 3 RGB). Values are mapped linearly from the grid's range `lo..hi`
//! (default `0..1`) to 0..255 and clamped; NaN draws as `lo`. Each cell is
//! upscaled by an integer factor with nearest-neighbour sampling (by default
//! the smallest factor that makes the longer side at least 112 px).
//!
//! Layout: an optional title on top; an optional label column on the left
//! (one label per row, vertically centred on the images); each cell's image
//! centred in a column as wide as the widest image or caption, its caption
//! (if any) underneath; cells separated by a margin and framed by a thin grey
//! border. Output is always 8-bit RGB.
use std::path::Path;

use image::{ImageEncoder, Rgb, RgbImage};

use super::draw::{fill_rect, heat_color, hex, rect_outline};
use super::font::{draw_text, draw_text_up, text_height, text_width};
use super::{write_atomic, ReportError};

const BACKGROUND: [u8; 3] = [255, 255, 255];
const TEXT: [u8; 3] = [20, 20, 20];
const BORDER: [u8; 3] = [190, 190, 190];

/// How a difference map is scaled into the colormap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DiffScale {
    /// Brightest colour = the largest difference in this map (shows *where*
    /// images differ, whatever the size of the difference).
    #[default]
    Max,
    /// Brightest colour = the full value range `hi − lo` (comparable between
    /// cells and grids).
    Range,
}

#[derive(Clone, Debug)]
enum CellKind {
    /// CHW values in the grid's range.
    Image(Vec<f32>),
    /// H×W values, shown as `value / vmax` through the colormap.
    Heat { values: Vec<f32>, vmax: f32 },
    /// Empty space, to keep columns aligned.
    Blank,
}

#[derive(Clone, Debug)]
struct Cell {
    kind: CellKind,
    label: String,
}

#[derive(Clone, Debug, Default)]
struct Row {
    label: String,
    cells: Vec<Cell>,
}

/// A grid of labelled image cells, rendered to PNG.
#[derive(Clone, Debug)]
pub struct Grid {
    shape: [usize; 3],
    lo: f32,
    hi: f32,
    scale: u32,
    margin: u32,
    font_scale: u32,
    title: String,
    rows: Vec<Row>,
    /// The colour bar's label (units); when set, every heat cell shares one scale.
    colorbar: Option<String>,
}

/// Pixel positions computed for one rendering.
struct Layout {
    width: u32,
    height: u32,
    /// x of the first column's left edge.
    left: u32,
    /// y of the first row's top edge.
    top: u32,
    col_w: u32,
    cell_w: u32,
    cell_h: u32,
    row_h: u32,
    /// x of the colour bar's left edge (when there is one).
    bar_x: u32,
}

/// Width of the colour bar per text scale unit, in pixels.
const BAR_W: u32 = 6;

/// Checks a `[C, H, W]` shape is drawable (C ∈ {1, 3}, H, W > 0).
fn check_shape(shape: [usize; 3]) -> Result<(), ReportError> {
    let bad = |reason: &str| ReportError::Shape {
        shape: shape.to_vec(),
        reason: reason.into(),
    };
    if shape[0] != 1 && shape[0] != 3 {
        return Err(bad("need 1 (grey) or 3 (RGB) channels"));
    }
    if shape[1] == 0 || shape[2] == 0 {
        return Err(bad("height and width must be positive"));
    }
    if shape[1] > 1 << 14 || shape[2] > 1 << 14 {
        return Err(bad("image too large"));
    }
    Ok(())
}

fn check_range(lo: f32, hi: f32) -> Result<(), ReportError> {
    if lo.is_finite() && hi.is_finite() && hi > lo {
        Ok(())
    } else {
        Err(ReportError::Invalid(format!(
            "bad value range {lo}..{hi}: need finite lo < hi"
        )))
    }
}

/// A colour-bar tick: three significant digits, exponent form outside `[0.01, 1000)`.
fn tick_label(v: f32) -> String {
    if v == 0.0 {
        "0".into()
    } else if (0.01..1000.0).contains(&v.abs()) {
        let digits = (2 - v.abs().log10().floor() as i32).clamp(0, 4) as usize;
        format!("{v:.digits$}")
    } else {
        format!("{v:.2e}")
    }
}

/// Maps `v` from `lo..hi` to 0..255, clamping; NaN maps to 0.
fn to_u8(v: f32, lo: f32, hi: f32) -> u8 {
    let t = (v - lo) / (hi - lo);
    if t.is_nan() {
        0
    } else {
        (t.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// Converts one CHW image to RGB (grey is replicated), mapping `lo..hi` to
/// 0..255 with clamping. No upscaling.
pub fn image_to_rgb(
    chw: &[f32],
    shape: [usize; 3],
    lo: f32,
    hi: f32,
) -> Result<RgbImage, ReportError> {
    check_shape(shape)?;
    check_range(lo, hi)?;
    ReportError::check_size(|| "image".into(), chw.len(), &shape)?;
    let [c, h, w] = shape;
    let plane = h * w;
    Ok(RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let i = y as usize * w + x as usize;
        if c == 1 {
            let g = to_u8(chw[i], lo, hi);
            Rgb([g, g, g])
        } else {
            Rgb([
                to_u8(chw[i], lo, hi),
                to_u8(chw[plane + i], lo, hi),
                to_u8(chw[2 * plane + i], lo, hi),
            ])
        }
    }))
}

/// Per-pixel spread of two or more CHW images: for every pixel, the largest
/// difference between any two of the images, maximised over channels
/// (`max_i x_i − min_i x_i`). For two images this is `|a − b|`. Returns H×W
/// values in the images' own units. NaN inputs are ignored.
pub fn difference_map(images: &[&[f32]], shape: [usize; 3]) -> Result<Vec<f32>, ReportError> {
    check_shape(shape)?;
    if images.len() < 2 {
        return Err(ReportError::Invalid(format!(
            "a difference map needs at least 2 images, got {}",
            images.len()
        )));
    }
    for (k, img) in images.iter().enumerate() {
        ReportError::check_size(|| format!("image {k}"), img.len(), &shape)?;
    }
    let [c, h, w] = shape;
    let plane = h * w;
    let mut out = vec![0.0f32; plane];
    for (i, o) in out.iter_mut().enumerate() {
        for ch in 0..c {
            let (mut mn, mut mx) = (f32::INFINITY, f32::NEG_INFINITY);
            for img in images {
                let v = img[ch * plane + i];
                if !v.is_nan() {
                    mn = mn.min(v);
                    mx = mx.max(v);
                }
            }
            if mx >= mn {
                *o = o.max(mx - mn);
            }
        }
    }
    Ok(out)
}

/// Encodes an RGB image as PNG bytes.
pub fn encode_png(img: &RgbImage) -> Result<Vec<u8>, ReportError> {
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|source| ReportError::Image {
            path: "<memory>".into(),
            source,
        })?;
    Ok(bytes)
}

/// Encodes an RGB image as PNG and writes it atomically to `path`.
pub fn save_png(img: &RgbImage, path: impl AsRef<Path>) -> Result<(), ReportError> {
    let path = path.as_ref();
    let bytes = encode_png(img).map_err(|e| match e {
        ReportError::Image { source, .. } => ReportError::Image {
            path: path.to_path_buf(),
            source,
        },
        other => other,
    })?;
    write_atomic(path, &bytes)
}

/// Writes `img` as PNG to `path`, atomically, and when `path` ends in `.png` the vector
/// version `svg()` beside it (`NAME.svg`): what [`Grid::save`] and the plot's `save` do.
pub(super) fn save_png_and_svg(
    img: &RgbImage,
    svg: impl FnOnce() -> Result<String, ReportError>,
    path: &Path,
) -> Result<(), ReportError> {
    save_png(img, path)?;
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        write_atomic(path.with_extension("svg"), svg()?.as_bytes())?;
    }
    Ok(())
}

impl Grid {
    /// An empty grid for images of shape `[C, H, W]`, value range `0..1`,
    /// default upscaling (longer side ≥ 112 px), 8 px margins and 2× text.
    pub fn new(shape: [usize; 3]) -> Result<Self, ReportError> {
        check_shape(shape)?;
        let long = shape[1].max(shape[2]) as u32;
        Ok(Grid {
            shape,
            lo: 0.0,
            hi: 1.0,
            scale: 112u32.div_ceil(long).max(1),
            margin: 8,
            font_scale: 2,
            title: String::new(),
            rows: Vec::new(),
            colorbar: None,
        })
    }

    /// Sets the value range mapped to black..white (values are clamped).
    pub fn with_range(mut self, lo: f32, hi: f32) -> Result<Self, ReportError> {
        check_range(lo, hi)?;
        self.lo = lo;
        self.hi = hi;
        Ok(self)
    }

    /// Sets the integer upscaling factor (at least 1).
    pub fn with_scale(mut self, scale: u32) -> Self {
        self.scale = scale.clamp(1, 64);
        self
    }

    /// Sets the margin between cells and around the grid, in pixels.
    pub fn with_margin(mut self, margin: u32) -> Self {
        self.margin = margin.min(256);
        self
    }

    /// Sets the text upscaling factor (1 = 5×7 px glyphs).
    pub fn with_font_scale(mut self, font_scale: u32) -> Self {
        self.font_scale = font_scale.clamp(1, 8);
        self
    }

    /// Sets a title drawn above the grid.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// Draws every heat cell (difference map) on one shared scale, `0` to the largest
    /// scale of any of them, with a colour bar at the right labelled `label` (say what the
    /// values are and their unit, e.g. "max |difference|, pixel value 0-1").
    pub fn with_colorbar(mut self, label: impl Into<String>) -> Self {
        self.colorbar = Some(label.into());
        self
    }

    /// The shared scale of the heat cells (the largest of their `vmax`), when a colour bar
    /// is drawn.
    pub fn shared_heat_max(&self) -> Option<f32> {
        self.colorbar.as_ref()?;
        self.rows
            .iter()
            .flat_map(|r| &r.cells)
            .filter_map(|c| match c.kind {
                CellKind::Heat { vmax, .. } => Some(vmax),
                _ => None,
            })
            .reduce(f32::max)
    }

    /// The colour bar's tick labels, bottom to top: `0`, half and the shared maximum.
    fn bar_ticks(&self) -> Vec<String> {
        match self.shared_heat_max() {
            Some(m) => [0.0, 0.5 * m, m].iter().map(|&v| tick_label(v)).collect(),
            None => Vec::new(),
        }
    }

    /// The image shape `[C, H, W]`.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// The upscaling factor.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.rows.len()
    }

    /// Starts a new row, with `label` drawn at its left ("" for none).
    /// Cells added afterwards go into this row.
    pub fn start_row(&mut self, label: &str) -> &mut Self {
        self.rows.push(Row {
            label: label.to_string(),
            cells: Vec::new(),
        });
        self
    }

    fn push(&mut self, kind: CellKind, label: &str) {
        if self.rows.is_empty() {
            self.rows.push(Row::default());
        }
        let row = self.rows.last_mut().expect("a row exists");
        row.cells.push(Cell {
            kind,
            label: label.to_string(),
        });
    }

    /// Appends an image (CHW, the grid's shape) to the current row, with
    /// `label` drawn underneath ("" for none).
    pub fn add_image(&mut self, chw: &[f32], label: &str) -> Result<&mut Self, ReportError> {
        let what = || {
            let r = self.rows.len().max(1) - 1;
            let c = self.rows.last().map_or(0, |row| row.cells.len());
            format!("image at row {r}, column {c}")
        };
        ReportError::check_size(what, chw.len(), &self.shape)?;
        self.push(CellKind::Image(chw.to_vec()), label);
        Ok(self)
    }

    /// Appends an empty cell to the current row (keeps columns aligned).
    pub fn add_blank(&mut self) -> &mut Self {
        self.push(CellKind::Blank, "");
        self
    }

    /// Appends a heat map of H×W non-negative values; `vmax` maps to the
    /// brightest colour (values are clamped; `vmax ≤ 0` draws all dark).
    pub fn add_heat(
        &mut self,
        values: &[f32],
        vmax: f32,
        label: &str,
    ) -> Result<&mut Self, ReportError> {
        let hw = [self.shape[1], self.shape[2]];
        ReportError::check_size(|| "heat map".into(), values.len(), &hw)?;
        self.push(
            CellKind::Heat {
                values: values.to_vec(),
                vmax,
            },
            label,
        );
        Ok(self)
    }

    /// Appends an "indicator" cell showing where two or more images differ:
    /// the [`difference_map`] of `images` through the colormap, scaled per
    /// `scale`. Returns the largest difference found (in value units), e.g.
    /// to put in a label.
    pub fn add_difference(
        &mut self,
        images: &[&[f32]],
        label: &str,
        scale: DiffScale,
    ) -> Result<f32, ReportError> {
        let map = difference_map(images, self.shape)?;
        let max = map.iter().copied().fold(0.0f32, f32::max);
        let vmax = match scale {
            DiffScale::Max => max,
            DiffScale::Range => self.hi - self.lo,
        };
        self.add_heat(&map, vmax, label)?;
        Ok(max)
    }

    fn layout(&self) -> Result<Layout, ReportError> {
        if self.rows.iter().all(|r| r.cells.is_empty()) {
            return Err(ReportError::Invalid("the grid has no cells".into()));
        }
        let fs = self.font_scale;
        let m = self.margin;
        let th = text_height(fs);
        let title_h = if self.title.is_empty() { 0 } else { th + m };
        let label_w = self
            .rows
            .iter()
            .map(|r| text_width(&r.label, fs))
            .max()
            .unwrap_or(0);
        let label_col = if label_w > 0 { label_w + m } else { 0 };
        let cell_w = self.shape[2] as u32 * self.scale;
        let cell_h = self.shape[1] as u32 * self.scale;
        let cells = || self.rows.iter().flat_map(|r| r.cells.iter());
        let cap_w = cells().map(|c| text_width(&c.label, fs)).max().unwrap_or(0);
        let has_caps = cells().any(|c| !c.label.is_empty());
        // Captions wider than the image keep a margin between them.
        let col_w = if cap_w > cell_w { cap_w + m } else { cell_w };
        let row_h = cell_h + if has_caps { th + 2 * fs } else { 0 };
        let ncols = self
            .rows
            .iter()
            .map(|r| r.cells.len())
            .max()
            .unwrap_or(1)
            .max(1) as u32;
        let nrows = self.rows.len() as u32;
        let grid_w = ncols * col_w + (ncols - 1) * m;
        let bar_x = m + label_col + grid_w + m;
        let bar_extra = match &self.colorbar {
            Some(label) if self.shared_heat_max().is_some() => {
                let ticks = self.bar_ticks();
                let tick_w = ticks.iter().map(|t| text_width(t, fs)).max().unwrap_or(0);
                let label_w = if label.is_empty() { 0 } else { th + m };
                BAR_W * fs + 2 * fs + tick_w + m + label_w
            }
            _ => 0,
        };
        let width =
            (m + label_col + grid_w + m + bar_extra).max(2 * m + text_width(&self.title, fs));
        let mut height = m + title_h + nrows * row_h + (nrows - 1) * m + m;
        if let Some(label) = self.colorbar.as_ref().filter(|_| bar_extra > 0) {
            // The bar's rotated label may be taller than the rows.
            height = height.max(m + title_h + text_width(label, fs) + m);
        }
        if width as u64 * height as u64 > 400_000_000 {
            return Err(ReportError::Invalid(format!(
                "grid too large: {width}×{height} px"
            )));
        }
        Ok(Layout {
            width,
            height,
            left: m + label_col,
            top: m + title_h,
            col_w,
            cell_w,
            cell_h,
            row_h,
            bar_x,
        })
    }

    /// The pixel rectangle `(x, y, width, height)` of the image in cell
    /// (`row`, `col`) of the rendered grid, or `None` if there is no such cell.
    pub fn cell_rect(&self, row: usize, col: usize) -> Option<(u32, u32, u32, u32)> {
        self.rows.get(row)?.cells.get(col)?;
        let l = self.layout().ok()?;
        Some(self.rect_in(&l, row, col))
    }

    fn rect_in(&self, l: &Layout, row: usize, col: usize) -> (u32, u32, u32, u32) {
        let x = l.left + col as u32 * (l.col_w + self.margin) + (l.col_w - l.cell_w) / 2;
        let y = l.top + row as u32 * (l.row_h + self.margin);
        (x, y, l.cell_w, l.cell_h)
    }

    /// Draws the grid.
    pub fn render(&self) -> Result<RgbImage, ReportError> {
        self.render_in(&self.layout()?)
    }

    /// Draws the grid in layout `l` (from [`Grid::layout`]).
    fn render_in(&self, l: &Layout) -> Result<RgbImage, ReportError> {
        let fs = self.font_scale;
        let th = text_height(fs);
        let mut img = RgbImage::from_pixel(l.width, l.height, Rgb(BACKGROUND));
        if !self.title.is_empty() {
            let x = (l.width - text_width(&self.title, fs)) / 2;
            draw_text(
                &mut img,
                x as i64,
                self.margin as i64,
                &self.title,
                fs,
                TEXT,
            );
        }
        let s = self.scale;
        let shared = self.shared_heat_max();
        for (r, row) in self.rows.iter().enumerate() {
            let row_y = l.top + r as u32 * (l.row_h + self.margin);
            if !row.label.is_empty() {
                let y = row_y as i64 + (l.cell_h as i64 - th as i64) / 2;
                draw_text(&mut img, self.margin as i64, y, &row.label, fs, TEXT);
            }
            for (c, cell) in row.cells.iter().enumerate() {
                let (x0, y0, cw, ch) = self.rect_in(l, r, c);
                let small = self.cell_pixels(cell, shared)?;
                if let Some(small) = small {
                    if self.margin >= 2 {
                        rect_outline(
                            &mut img,
                            x0 as i64 - 1,
                            y0 as i64 - 1,
                            cw as i64 + 2,
                            ch as i64 + 2,
                            BORDER,
                        );
                    }
                    for (x, y, p) in small.enumerate_pixels() {
                        fill_rect(
                            &mut img,
                            (x0 + x * s) as i64,
                            (y0 + y * s) as i64,
                            s as i64,
                            s as i64,
                            p.0,
                        );
                    }
                }
                if !cell.label.is_empty() {
                    let col_x = l.left + c as u32 * (l.col_w + self.margin);
                    let x = col_x + (l.col_w - text_width(&cell.label, fs)) / 2;
                    let y = y0 + ch + 2 * fs;
                    draw_text(&mut img, x as i64, y as i64, &cell.label, fs, TEXT);
                }
            }
        }
        if let (Some(label), Some(_)) = (&self.colorbar, shared) {
            let (y0, bar_h) = self.bar_span(l);
            let bw = BAR_W * fs;
            for yy in 0..bar_h {
                let t = 1.0 - yy as f32 / (bar_h.max(2) - 1) as f32;
                fill_rect(
                    &mut img,
                    l.bar_x as i64,
                    (y0 + yy) as i64,
                    bw as i64,
                    1,
                    heat_color(t),
                );
            }
            rect_outline(
                &mut img,
                l.bar_x as i64 - 1,
                y0 as i64 - 1,
                bw as i64 + 2,
                bar_h as i64 + 2,
                BORDER,
            );
            let ticks = self.bar_tick_positions(l);
            let tx = l.bar_x + bw + 2 * fs;
            for (t, yc) in &ticks {
                let y = (yc - th as f32 / 2.0).clamp(0.0, (l.height - th) as f32);
                draw_text(&mut img, tx as i64, y as i64, t, fs, TEXT);
            }
            if !label.is_empty() {
                let tick_w = ticks
                    .iter()
                    .map(|(t, _)| text_width(t, fs))
                    .max()
                    .unwrap_or(0);
                let x = tx + tick_w + self.margin;
                let y = y0 + bar_h.saturating_sub(text_width(label, fs)) / 2;
                draw_text_up(&mut img, x as i64, y as i64, label, fs, TEXT);
            }
        }
        Ok(img)
    }

    /// One cell at its own resolution (no upscaling): the image through the grid's range, or
    /// the heat map through the colormap (on the `shared` scale when there is one).
    fn cell_pixels(
        &self,
        cell: &Cell,
        shared: Option<f32>,
    ) -> Result<Option<RgbImage>, ReportError> {
        let [_, h, w] = self.shape;
        Ok(match &cell.kind {
            CellKind::Blank => None,
            CellKind::Image(v) => Some(image_to_rgb(v, self.shape, self.lo, self.hi)?),
            CellKind::Heat { values, vmax } => {
                let vmax = shared.unwrap_or(*vmax);
                Some(RgbImage::from_fn(w as u32, h as u32, |x, y| {
                    let v = values[y as usize * w + x as usize];
                    Rgb(heat_color(if vmax > 0.0 { v / vmax } else { 0.0 }))
                }))
            }
        })
    }

    /// The colour bar's tick labels with the y of each one's centre, bottom to top.
    fn bar_tick_positions(&self, l: &Layout) -> Vec<(String, f32)> {
        let (y0, bar_h) = self.bar_span(l);
        let ticks = self.bar_ticks();
        let n = ticks.len();
        ticks
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let frac = i as f32 / (n.max(2) - 1) as f32;
                (t, y0 as f32 + (1.0 - frac) * (bar_h as f32 - 1.0))
            })
            .collect()
    }

    /// Top and height of the colour bar: the rows' full height.
    fn bar_span(&self, l: &Layout) -> (u32, u32) {
        let n = self.rows.len().max(1) as u32;
        (l.top, n * l.row_h + (n - 1) * self.margin)
    }

    /// The grid as a standalone SVG document of the same layout as [`Grid::render`]: each
    /// cell an embedded PNG at its own resolution (drawn pixelated), and the title, labels,
    /// captions and colour bar as vector text and shapes, for papers.
    pub fn to_svg(&self) -> Result<String, ReportError> {
        self.svg_in(&self.layout()?)
    }

    /// [`Grid::to_svg`] in layout `l` (from [`Grid::layout`]).
    fn svg_in(&self, l: &Layout) -> Result<String, ReportError> {
        use super::html::{base64_encode, escape_html};
        use std::fmt::Write as _;
        let fs = self.font_scale;
        let th = text_height(fs);
        let font = th as f32 * 1.15;
        let shared = self.shared_heat_max();
        let mut o = String::new();
        let _ = writeln!(
            o,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="{font:.1}">"#,
            l.width, l.height
        );
        let _ = writeln!(
            o,
            r#"<rect width="100%" height="100%" fill="{}"/>"#,
            hex(BACKGROUND)
        );
        let text = |o: &mut String, x: f32, y: u32, anchor: &str, t: &str| {
            let _ = writeln!(
                o,
                r#"<text x="{x:.1}" y="{y}" text-anchor="{anchor}" dominant-baseline="hanging" fill="{}">{}</text>"#,
                hex(TEXT),
                escape_html(t)
            );
        };
        if !self.title.is_empty() {
            text(
                &mut o,
                l.width as f32 / 2.0,
                self.margin,
                "middle",
                &self.title,
            );
        }
        for (r, row) in self.rows.iter().enumerate() {
            let row_y = l.top + r as u32 * (l.row_h + self.margin);
            if !row.label.is_empty() {
                let y = row_y + l.cell_h.saturating_sub(th) / 2;
                text(&mut o, self.margin as f32, y, "start", &row.label);
            }
            for (c, cell) in row.cells.iter().enumerate() {
                let (x0, y0, cw, ch) = self.rect_in(l, r, c);
                let small = self.cell_pixels(cell, shared)?;
                if let Some(small) = small {
                    let _ = writeln!(
                        o,
                        r#"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="{}"/>"#,
                        x0 as f32 - 0.5,
                        y0 as f32 - 0.5,
                        cw + 1,
                        ch + 1,
                        hex(BORDER)
                    );
                    let _ = writeln!(
                        o,
                        r#"<image x="{x0}" y="{y0}" width="{cw}" height="{ch}" preserveAspectRatio="none" style="image-rendering:pixelated" href="data:image/png;base64,{}"/>"#,
                        base64_encode(&encode_png(&small)?)
                    );
                }
                if !cell.label.is_empty() {
                    let col_x = l.left + c as u32 * (l.col_w + self.margin);
                    let x = col_x as f32 + l.col_w as f32 / 2.0;
                    text(&mut o, x, y0 + ch + 2 * fs, "middle", &cell.label);
                }
            }
        }
        if let (Some(label), Some(_)) = (&self.colorbar, shared) {
            let (y0, bar_h) = self.bar_span(l);
            let bw = BAR_W * fs;
            let _ = writeln!(
                o,
                r#"<defs><linearGradient id="heat" x1="0" y1="1" x2="0" y2="0">"#
            );
            for i in 0..=16 {
                let t = i as f32 / 16.0;
                let _ = writeln!(
                    o,
                    r#"<stop offset="{t:.4}" stop-color="{}"/>"#,
                    hex(heat_color(t))
                );
            }
            let _ = writeln!(o, "</linearGradient></defs>");
            let _ = writeln!(
                o,
                r#"<rect x="{}" y="{y0}" width="{bw}" height="{bar_h}" fill="url(#heat)" stroke="{}"/>"#,
                l.bar_x,
                hex(BORDER)
            );
            let ticks = self.bar_tick_positions(l);
            let tx = l.bar_x + bw + 2 * fs;
            for (t, yc) in &ticks {
                let _ = writeln!(
                    o,
                    r#"<text x="{tx}" y="{yc:.1}" dominant-baseline="middle" fill="{}">{}</text>"#,
                    hex(TEXT),
                    escape_html(t)
                );
            }
            if !label.is_empty() {
                let tick_w = ticks
                    .iter()
                    .map(|(t, _)| text_width(t, fs))
                    .max()
                    .unwrap_or(0);
                let x = (tx + tick_w + self.margin) as f32 + th as f32 / 2.0;
                let y = y0 as f32 + bar_h as f32 / 2.0;
                let _ = writeln!(
                    o,
                    r#"<text x="{x:.1}" y="{y:.1}" text-anchor="middle" dominant-baseline="middle" transform="rotate(-90 {x:.1} {y:.1})" fill="{}">{}</text>"#,
                    hex(TEXT),
                    escape_html(label)
                );
            }
        }
        o.push_str("</svg>\n");
        Ok(o)
    }

    /// Renders and encodes the grid as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>, ReportError> {
        encode_png(&self.render()?)
    }

    /// Renders the grid and writes it as PNG to `path`, atomically; when `path` ends in
    /// `.png`, the [`Grid::to_svg`] version goes beside it (`NAME.svg`).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ReportError> {
        let l = self.layout()?;
        save_png_and_svg(&self.render_in(&l)?, || self.svg_in(&l), path.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> RgbImage {
        image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
            .unwrap()
            .to_rgb8()
    }

    #[test]
    fn default_scale_makes_mnist_at_least_112() {
        let g = Grid::new([1, 28, 28]).unwrap();
        assert_eq!(g.scale(), 4);
        assert_eq!(Grid::new([3, 32, 32]).unwrap().scale(), 4);
        assert_eq!(Grid::new([3, 224, 224]).unwrap().scale(), 1);
    }

    #[test]
    fn rejects_bad_shapes_and_sizes() {
        assert!(matches!(
            Grid::new([2, 4, 4]),
            Err(ReportError::Shape { .. })
        ));
        assert!(matches!(
            Grid::new([1, 0, 4]),
            Err(ReportError::Shape { .. })
        ));
        let mut g = Grid::new([1, 28, 28]).unwrap();
        let err = g.add_image(&[0.0; 700], "").unwrap_err();
        assert_eq!(
            err.to_string(),
            "image at row 0, column 0 has 700 values, expected 1×28×28 = 784"
        );
        assert!(Grid::new([1, 2, 2]).unwrap().with_range(1.0, 1.0).is_err());
        assert!(Grid::new([1, 2, 2]).unwrap().render().is_err());
        assert!(g
            .add_difference(&[&[0.0; 784]], "", DiffScale::Max)
            .is_err());
    }

    #[test]
    fn png_round_trip_has_expected_size_and_pixels() {
        // 1×2×3 grey images, values in -1..1.
        let a = [-1.0, 0.0, 1.0, 2.0, f32::NAN, -5.0];
        let b = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let mut g = Grid::new([1, 2, 3])
            .unwrap()
            .with_range(-1.0, 1.0)
            .unwrap()
            .with_scale(5);
        g.start_row("");
        g.add_image(&a, "").unwrap();
        g.add_image(&b, "").unwrap();
        g.start_row("");
        g.add_blank();
        let max = g.add_difference(&[&a, &b], "", DiffScale::Range).unwrap();
        assert_eq!(max, 6.0);
        // No labels: width = 8 + 2·15 + 8 + 8, height = 8 + 2·10 + 8 + 8.
        let png = decode(&g.to_png().unwrap());
        assert_eq!(png.dimensions(), (54, 44));
        let at = |row, col, px: u32, py: u32| {
            let (x, y, w, h) = g.cell_rect(row, col).unwrap();
            assert_eq!((w, h), (15, 10));
            // Centre of upscaled pixel (px, py).
            png.get_pixel(x + px * 5 + 2, y + py * 5 + 2).0
        };
        assert_eq!(at(0, 0, 0, 0), [0, 0, 0]);
        assert_eq!(at(0, 0, 1, 0), [128, 128, 128]);
        assert_eq!(at(0, 0, 2, 0), [255, 255, 255]);
        assert_eq!(at(0, 0, 0, 1), [255, 255, 255]); // clamped
        assert_eq!(at(0, 0, 1, 1), [0, 0, 0]); // NaN
        assert_eq!(at(0, 1, 2, 1), [255, 255, 255]);
        // Difference cell: |−5 − 1| = 6 ≥ range 2 → brightest colour;
        // |1 − 1| = 0 → darkest; the NaN pixel is ignored (0).
        assert_eq!(at(1, 1, 2, 1), heat_color(1.0));
        assert_eq!(at(1, 1, 2, 0), heat_color(0.0));
        assert_eq!(at(1, 1, 1, 1), heat_color(0.0));
        assert_eq!(at(1, 1, 0, 0), heat_color(1.0));
        // The blank cell and margins stay background.
        let (x, y, _, _) = g.cell_rect(1, 0).unwrap();
        assert_eq!(png.get_pixel(x + 7, y + 5).0, BACKGROUND);
        assert_eq!(png.get_pixel(1, 1).0, BACKGROUND);
    }

    #[test]
    fn rgb_channels_land_in_the_right_place() {
        // 3×1×2: pixel 0 red, pixel 1 blue.
        let v = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0];
        let rgb = image_to_rgb(&v, [3, 1, 2], 0.0, 1.0).unwrap();
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 0, 0]);
        assert_eq!(rgb.get_pixel(1, 0).0, [0, 0, 255]);
    }

    #[test]
    fn difference_map_is_max_pairwise_spread() {
        let a = [0.0, 0.5];
        let b = [1.0, 0.5];
        let c = [0.25, 0.0];
        let d = difference_map(&[&a, &b, &c], [1, 1, 2]).unwrap();
        assert_eq!(d, vec![1.0, 0.5]);
    }

    #[test]
    fn labels_draw_ink() {
        let img = [0.0f32; 16];
        let mut plain = Grid::new([1, 4, 4]).unwrap().with_scale(30);
        plain.add_image(&img, "").unwrap();
        let mut labelled = Grid::new([1, 4, 4])
            .unwrap()
            .with_scale(30)
            .with_title("Title");
        labelled.start_row("target");
        labelled.add_image(&img, "7 (1.00)").unwrap();
        let a = plain.render().unwrap();
        let b = labelled.render().unwrap();
        assert!(b.width() > a.width() && b.height() > a.height());
        // Count dark pixels outside the (black) image cell.
        let (x, y, w, h) = labelled.cell_rect(0, 0).unwrap();
        let ink = b
            .enumerate_pixels()
            .filter(|(px, py, p)| {
                let inside = *px >= x && *px < x + w && *py >= y && *py < y + h;
                !inside && p.0 == TEXT
            })
            .count();
        assert!(ink > 100, "only {ink} text pixels");
    }

    #[test]
    fn save_writes_decodable_png() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.png");
        let mut g = Grid::new([3, 8, 8]).unwrap();
        g.add_image(&[0.5; 192], "x").unwrap();
        g.save(&p).unwrap();
        let img = image::open(&p).unwrap();
        let (x, y, w, h) = g.cell_rect(0, 0).unwrap();
        assert!(img.width() >= x + w && img.height() >= y + h);
        assert_eq!(w, 8 * 14);
    }

    /// Two heat rows with maxima 0.2 and 0.8; the same value must get the same colour in
    /// both when the grid has a colour bar, and different colours without one.
    fn two_heat_rows(colorbar: bool) -> (Grid, RgbImage) {
        let mut g = Grid::new([1, 4, 4]).unwrap().with_scale(4).with_margin(4);
        if colorbar {
            g = g.with_colorbar("max |difference|");
        }
        for max in [0.2f32, 0.8] {
            g.start_row("r");
            let mut v = vec![0.0; 16];
            v[0] = 0.2;
            v[1] = max;
            g.add_heat(&v, max, "").unwrap();
        }
        let img = g.render().unwrap();
        (g, img)
    }

    #[test]
    fn a_colorbar_shares_one_scale_and_widens_the_figure() {
        let (g, img) = two_heat_rows(true);
        assert_eq!(g.shared_heat_max(), Some(0.8));
        let (x0, y0, ..) = g.cell_rect(0, 0).unwrap();
        let (x1, y1, ..) = g.cell_rect(1, 0).unwrap();
        // Pixel (0, 0) of each heat cell holds the value 0.2.
        assert_eq!(img.get_pixel(x0, y0), img.get_pixel(x1, y1));
        assert_eq!(img.get_pixel(x0, y0).0, heat_color(0.25));
        let (g2, plain) = two_heat_rows(false);
        assert_eq!(g2.shared_heat_max(), None);
        let (p0, q0, ..) = g2.cell_rect(0, 0).unwrap();
        let (p1, q1, ..) = g2.cell_rect(1, 0).unwrap();
        assert_ne!(plain.get_pixel(p0, q0), plain.get_pixel(p1, q1));
        assert!(
            img.width() > plain.width(),
            "room for the bar and its ticks"
        );
        // The bar's top is the brightest colour.
        let l = g.layout().unwrap();
        let (top, _) = g.bar_span(&l);
        assert_eq!(img.get_pixel(l.bar_x + 1, top).0, heat_color(1.0));
        assert_eq!(g.bar_ticks(), vec!["0", "0.400", "0.800"]);
    }

    #[test]
    fn svg_has_every_cell_label_and_the_colorbar() {
        let (g, img) = two_heat_rows(true);
        let svg = g.to_svg().unwrap();
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains(&format!(
            r#"width="{}" height="{}""#,
            img.width(),
            img.height()
        )));
        assert_eq!(svg.matches("<image ").count(), 2);
        assert_eq!(svg.matches(">r</text>").count(), 2);
        assert!(svg.contains("max |difference|</text>") && svg.contains(">0.800</text>"));
        assert!(svg.contains(r#"fill="url(#heat)""#));
        // Text is escaped.
        let mut g = Grid::new([1, 2, 2]).unwrap().with_title("a < b & c");
        g.add_image(&[0.0; 4], "").unwrap();
        assert!(g.to_svg().unwrap().contains("a &lt; b &amp; c"));
    }

    #[test]
    fn save_writes_an_svg_beside_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let (g, _) = two_heat_rows(true);
        g.save(dir.path().join("rows.png")).unwrap();
        assert!(dir.path().join("rows.png").is_file());
        let svg = std::fs::read_to_string(dir.path().join("rows.svg")).unwrap();
        assert_eq!(svg, g.to_svg().unwrap());
    }

    #[test]
    fn tick_labels_keep_three_significant_digits() {
        assert_eq!(tick_label(0.0), "0");
        assert_eq!(tick_label(0.5), "0.500");
        assert_eq!(tick_label(12.5), "12.5");
        assert_eq!(tick_label(0.001234), "1.23e-3");
    }
}
