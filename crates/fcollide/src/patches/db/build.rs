//! The streaming builder ([`build`]) and the image sources it reads ([`ImageSource`]: the
//! embedded digits, an IDX file, a folder of JPEG/PNG images, any in-memory [`Dataset`]).
use super::{Layout, PatchDbError, PatchDbHeader, ProjectionInfo};
use crate::bytes::f32s_to_le;
use crate::data::{self, idx, DataError, Dataset, IdxImages};
use crate::fsutil::AtomicFile;
use crate::patches::extract::{window, window_corners};
use crate::patches::view::project_rows;
use crate::progress::Progress;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Bytes of patches (plus decoded images) handled per parallel chunk of images.
const CHUNK_BYTES: usize = 64 << 20;

/// Images of one shape, read one at a time (so a builder never holds them all).
pub trait ImageSource: Sync {
    /// Shape `[C, H, W]` of every image.
    fn shape(&self) -> [usize; 3];
    /// Number of images.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A name that traces image `i` back to its origin.
    fn name(&self, i: usize) -> String;
    /// What the images are, in a few words.
    fn description(&self) -> String;
    /// Image `i`, `[C, H, W]` values in `[0, 1]`.
    fn image(&self, i: usize) -> Result<Vec<f32>, PatchDbError>;
}

/// Images held in memory, e.g. the embedded digits.
#[derive(Clone, Debug)]
pub struct DatasetImages {
    dataset: Dataset,
    names: Vec<String>,
    description: String,
}

impl DatasetImages {
    /// All images of `dataset`, named `{dataset.name}:{i}`.
    pub fn new(dataset: Dataset) -> Self {
        let names = (0..dataset.len())
            .map(|i| format!("{}:{i}", dataset.name))
            .collect();
        let description = format!(
            "{} ({} images of {:?})",
            dataset.name,
            dataset.len(),
            dataset.shape
        );
        DatasetImages {
            dataset,
            names,
            description,
        }
    }

    /// All 10,000 embedded MNIST digits in their stored order, named `mnist-embedded:{i}`.
    pub fn embedded_all() -> Result<Self, PatchDbError> {
        let mut d = Self::new(data::mnist()?);
        d.description = "the 10,000 embedded MNIST digits (all of them)".into();
        Ok(d)
    }

    /// The 8,000 training digits of the embedded split with `seed` (what
    /// [`data::mnist_split`] returns, in the same order, and what `reproduce patches --seed
    /// SEED` cuts its in-memory database from), named by their index in the embedded set
    /// (`mnist-embedded:{i}`).
    pub fn embedded_train(seed: u64) -> Result<Self, PatchDbError> {
        let all = data::mnist()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (train, _) =
            data::stratified_split(&all.labels, data::embedded::TEST_FRACTION, &mut rng);
        let mut dataset = all.subset(&train);
        dataset.name = format!("{}/train", data::embedded::NAME);
        let names = train
            .iter()
            .map(|i| format!("{}:{i}", data::embedded::NAME))
            .collect();
        Ok(DatasetImages {
            description: format!(
                "the embedded MNIST digits: the {}-image training split of seed {seed}",
                dataset.len()
            ),
            dataset,
            names,
        })
    }

    /// The images.
    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }
}

impl ImageSource for DatasetImages {
    fn shape(&self) -> [usize; 3] {
        self.dataset.shape
    }
    fn len(&self) -> usize {
        self.dataset.len()
    }
    fn name(&self, i: usize) -> String {
        self.names[i].clone()
    }
    fn description(&self) -> String {
        self.description.clone()
    }
    fn image(&self, i: usize) -> Result<Vec<f32>, PatchDbError> {
        Ok(self.dataset.image(i).to_vec())
    }
}

/// The images of an IDX3 file (`*-idx3-ubyte[.gz]`: MNIST, Fashion-MNIST, …), kept as bytes
/// and converted one image at a time; named `{file name}:{i}`.
#[derive(Clone, Debug)]
pub struct IdxImageFile {
    images: IdxImages,
    path: PathBuf,
    file: String,
}

impl IdxImageFile {
    /// Reads and checks the file (raw or gzip).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, PatchDbError> {
        let path = path.as_ref();
        let images = idx::read_images(path)?;
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Ok(IdxImageFile {
            images,
            path: path.to_path_buf(),
            file,
        })
    }
}

impl ImageSource for IdxImageFile {
    fn shape(&self) -> [usize; 3] {
        [1, self.images.rows, self.images.cols]
    }
    fn len(&self) -> usize {
        self.images.count
    }
    fn name(&self, i: usize) -> String {
        format!("{}:{i}", self.file)
    }
    fn description(&self) -> String {
        format!(
            "IDX images {} ({} of {}×{})",
            self.path.display(),
            self.images.count,
            self.images.rows,
            self.images.cols
        )
    }
    fn image(&self, i: usize) -> Result<Vec<f32>, PatchDbError> {
        Ok(self
            .images
            .image(i)
            .iter()
            .map(|&b| b as f32 / 255.0)
            .collect())
    }
}

/// The `.png`, `.jpg` and `.jpeg` files under a folder (recursively, sorted by path), read as
/// RGB `side×side` images: resized so the shorter side is `side`, then centre-cropped (as
/// [`read_image`](crate::data::image_file::read_image) does for image models). Named by
/// their path relative to the folder.
#[derive(Clone, Debug)]
pub struct ImageFolder {
    root: PathBuf,
    files: Vec<PathBuf>,
    side: usize,
}

impl ImageFolder {
    /// Lists the images under `root`; errors if there are none.
    pub fn open(root: impl AsRef<Path>, side: usize) -> Result<Self, PatchDbError> {
        let root = root.as_ref();
        if side == 0 {
            return Err(PatchDbError::Params {
                param: "side",
                msg: "0: the image side must be at least 1".into(),
            });
        }
        let mut files = Vec::new();
        list_images(root, Path::new(""), &mut files)?;
        if files.is_empty() {
            return Err(DataError::Image {
                path: root.display().to_string(),
                msg: "no .png, .jpg or .jpeg images in this folder or below".into(),
            }
            .into());
        }
        files.sort();
        Ok(ImageFolder {
            root: root.to_path_buf(),
            files,
            side,
        })
    }
}

fn list_images(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<(), PatchDbError> {
    let dir = root.join(rel);
    let entries = std::fs::read_dir(&dir).map_err(|e| PatchDbError::io(&dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| PatchDbError::io(&dir, e))?;
        let kind = entry
            .file_type()
            .map_err(|e| PatchDbError::io(&entry.path(), e))?;
        let name = rel.join(entry.file_name());
        if kind.is_dir() {
            list_images(root, &name, out)?;
        } else {
            let ext = name
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase());
            if matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg")) {
                out.push(name);
            }
        }
    }
    Ok(())
}

impl ImageSource for ImageFolder {
    fn shape(&self) -> [usize; 3] {
        [3, self.side, self.side]
    }
    fn len(&self) -> usize {
        self.files.len()
    }
    fn name(&self, i: usize) -> String {
        self.files[i].to_string_lossy().into_owned()
    }
    fn description(&self) -> String {
        format!(
            "{} images under {}, RGB, resized and centre-cropped to {s}×{s}",
            self.files.len(),
            self.root.display(),
            s = self.side
        )
    }
    fn image(&self, i: usize) -> Result<Vec<f32>, PatchDbError> {
        Ok(crate::data::image_file::read_image(
            &self.root.join(&self.files[i]),
            self.shape(),
        )?)
    }
}

/// How [`open_dataset`] reads a data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceOptions {
    /// Side images of a folder are resized and centre-cropped to.
    pub side: usize,
    /// Seed of the embedded train/test split (`embedded`).
    pub split_seed: u64,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            side: 224,
            split_seed: 0,
        }
    }
}

/// The images named by `spec`:
///
/// * `embedded`: the 8,000 training digits of the embedded split with
///   `options.split_seed` ([`DatasetImages::embedded_train`]);
/// * `embedded-all`: all 10,000 embedded digits;
/// * an IDX3 file (`*-idx3-ubyte[.gz]`);
/// * a folder holding `train-images-idx3-ubyte[.gz]` (the MNIST layout): that file;
/// * any other folder: its JPEG/PNG images ([`ImageFolder`], `options.side`).
pub fn open_dataset(
    spec: &str,
    options: &SourceOptions,
) -> Result<Box<dyn ImageSource>, PatchDbError> {
    match spec {
        "embedded" => return Ok(Box::new(DatasetImages::embedded_train(options.split_seed)?)),
        "embedded-all" => return Ok(Box::new(DatasetImages::embedded_all()?)),
        _ => {}
    }
    let path = Path::new(spec);
    let meta = std::fs::metadata(path).map_err(|e| PatchDbError::io(path, e))?;
    if !meta.is_dir() {
        return Ok(Box::new(IdxImageFile::open(path)?));
    }
    let train = data::IDX_DIR_FILES[0];
    for name in [train.to_string(), format!("{train}.gz")] {
        if path.join(&name).is_file() {
            return Ok(Box::new(IdxImageFile::open(path.join(name))?));
        }
    }
    Ok(Box::new(ImageFolder::open(path, options.side)?))
}

/// A Gaussian random projection `P` (`[dim, raw_dim]`, i.i.d. `N(0, 1/dim)` entries) of
/// raw patches to `dim` dimensions.
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    dim: usize,
    raw_dim: usize,
    matrix: Vec<f32>,
    seed: Option<u64>,
}

impl Projection {
    /// Draws `P` from `rng`. Errors unless `1 ≤ dim ≤ raw_dim`.
    pub fn gaussian(dim: usize, raw_dim: usize, rng: &mut impl Rng) -> Result<Self, PatchDbError> {
        if dim == 0 || dim > raw_dim {
            return Err(PatchDbError::Params {
                param: "projection",
                msg: format!(
                    "a projection to {dim} dimensions: expected 1..={raw_dim} (the values of a patch)"
                ),
            });
        }
        let sd = 1.0 / (dim as f64).sqrt();
        let matrix = (0..dim * raw_dim)
            .map(|_| {
                let z: f64 = StandardNormal.sample(rng);
                (z * sd) as f32
            })
            .collect();
        Ok(Projection {
            dim,
            raw_dim,
            matrix,
            seed: None,
        })
    }

    /// [`Projection::gaussian`] from `ChaCha8Rng::seed_from_u64(seed)`, with the seed
    /// recorded in the database header.
    pub fn seeded(dim: usize, raw_dim: usize, seed: u64) -> Result<Self, PatchDbError> {
        let p = Self::gaussian(dim, raw_dim, &mut ChaCha8Rng::seed_from_u64(seed))?;
        Ok(p.with_seed(seed))
    }

    /// Records `seed` (the seed of the generator `P` was drawn from) in the header.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Projected dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Raw dimension (`C·s·s`).
    pub fn raw_dim(&self) -> usize {
        self.raw_dim
    }

    /// `P`, row-major `[dim, raw_dim]`.
    pub fn matrix(&self) -> &[f32] {
        &self.matrix
    }

    /// `P·x` for each raw row `x` of `raw` (`[m, raw_dim]` → `[m, dim]`).
    pub fn apply(&self, raw: &[f32]) -> Vec<f32> {
        project_rows(&self.matrix, self.dim, raw)
    }
}

/// How to cut patches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildParams {
    /// Patch side `s`.
    pub size: usize,
    /// Stride `t` between windows.
    pub stride: usize,
    /// Use only the first this many images.
    pub limit_images: Option<usize>,
    /// Description stored in the file (default: the source's).
    pub description: Option<String>,
}

impl Default for BuildParams {
    fn default() -> Self {
        BuildParams {
            size: 7,
            stride: 1,
            limit_images: None,
            description: None,
        }
    }
}

impl BuildParams {
    /// Values of a raw patch of `source`'s images, `C·s·s` (the input dimension of a
    /// projection).
    pub fn raw_dim(&self, source: &dyn ImageSource) -> usize {
        source.shape()[0] * self.size * self.size
    }
}

/// What one image contributes to each section, as little-endian bytes.
struct Cut {
    rows: Vec<u8>,
    raw: Vec<u8>,
    sources: Vec<u8>,
}

fn cut(
    source: &dyn ImageSource,
    i: usize,
    corners: &[(usize, usize)],
    size: usize,
    projection: Option<&Projection>,
) -> Result<Cut, PatchDbError> {
    let shape = source.shape();
    let img = source.image(i)?;
    let d: usize = shape.iter().product();
    if img.len() != d {
        return Err(DataError::BadLength {
            name: source.name(i),
            what: "image pixels",
            expected: d,
            found: img.len(),
        }
        .into());
    }
    if let Some(j) = img.iter().position(|x| !x.is_finite()) {
        return Err(DataError::Image {
            path: source.name(i),
            msg: format!("pixel {j} is {} (pixels must be finite)", img[j]),
        }
        .into());
    }
    let raw: Vec<f32> = corners
        .iter()
        .flat_map(|&rc| window(&img, shape, rc, size))
        .collect();
    let mut sources = Vec::with_capacity(8 * corners.len());
    for &(r, c) in corners {
        sources.extend_from_slice(&(i as u32).to_le_bytes());
        sources.extend_from_slice(&(r as u16).to_le_bytes());
        sources.extend_from_slice(&(c as u16).to_le_bytes());
    }
    Ok(match projection {
        None => Cut {
            rows: f32s_to_le(&raw),
            raw: Vec::new(),
            sources,
        },
        Some(p) => Cut {
            rows: f32s_to_le(&p.apply(&raw)),
            raw: f32s_to_le(&raw),
            sources,
        },
    })
}

/// A writer positioned at `offset` of `file` (its own handle, so sections are appended
/// independently).
fn section_writer(file: &Path, offset: u64) -> std::io::Result<BufWriter<File>> {
    let mut f = OpenOptions::new().write(true).open(file)?;
    f.seek(SeekFrom::Start(offset))?;
    Ok(BufWriter::with_capacity(1 << 20, f))
}

fn finish_writer(w: BufWriter<File>) -> std::io::Result<File> {
    w.into_inner().map_err(|e| e.into_error())
}

/// The description [`build`] records: `params.description`, else the source's (and how many
/// of its images were used).
fn description(source: &dyn ImageSource, params: &BuildParams, n_images: usize) -> String {
    match &params.description {
        Some(d) => d.clone(),
        None if n_images < source.len() => {
            format!("{}; the first {n_images} of them", source.description())
        }
        None => source.description(),
    }
}

/// Whether `db` is what [`build`] would write for `source`, `params` and `projection`:
/// `None` when everything that shaped it matches its header (the source's description, which
/// names the data and, for the embedded digits, the split seed; the names of the images it
/// was cut from, in order; the image shape; the patch size and stride; the number of images;
/// the projection's dimension and seed), else the first difference in words. The images'
/// pixels are not compared: a folder whose files were changed in place under the same names
/// reads as the same.
pub fn built_from(
    db: &super::PatchDb,
    source: &dyn ImageSource,
    params: &BuildParams,
    projection: Option<&Projection>,
) -> Option<String> {
    let h = db.header();
    let n_images = source.len().min(params.limit_images.unwrap_or(usize::MAX));
    let want_projection = projection.map(|p| ProjectionInfo {
        dim: p.dim,
        seed: p.seed,
    });
    let want_description = description(source, params, n_images);
    let differs = |what: &str, file: String, now: String| {
        Some(format!("{what} {file} in the file, {now} now"))
    };
    if h.size != params.size {
        return differs("patch size", h.size.to_string(), params.size.to_string());
    }
    if h.stride != params.stride {
        return differs("stride", h.stride.to_string(), params.stride.to_string());
    }
    if h.image_shape != source.shape() {
        return differs(
            "image shape",
            format!("{:?}", h.image_shape),
            format!("{:?}", source.shape()),
        );
    }
    if h.n_images != n_images {
        return differs(
            "number of images",
            h.n_images.to_string(),
            n_images.to_string(),
        );
    }
    if h.projection != want_projection {
        return differs(
            "projection",
            format!("{:?}", h.projection),
            format!("{want_projection:?}"),
        );
    }
    if h.description != want_description {
        return differs(
            "images",
            format!("\"{}\"", h.description),
            format!("\"{want_description}\""),
        );
    }
    (0..n_images)
        .find(|&i| db.image_name(i) != Some(source.name(i).as_str()))
        .map(|i| {
            format!(
                "image {i} is {} in the file, {} now",
                db.image_name(i).unwrap_or("missing"),
                source.name(i)
            )
        })
}

/// Cuts every `s×s` window at stride `t` of the first `limit_images` images of `source`,
/// optionally projects them with `projection` (built for `C·s·s` values), and writes the
/// database to `out` (format in the module docs), atomically. Images are processed a chunk
/// at a time in parallel and streamed to disk; the result does not depend on the thread
/// count. Checks `progress` for cancellation between chunks. Returns the header written.
pub fn build(
    source: &dyn ImageSource,
    params: &BuildParams,
    projection: Option<&Projection>,
    out: &Path,
    progress: &dyn Progress,
) -> Result<PatchDbHeader, PatchDbError> {
    let [c, h, w] = source.shape();
    let (s, t) = (params.size, params.stride);
    let bad = |param: &'static str, msg: String| Err(PatchDbError::Params { param, msg });
    if s == 0 {
        return bad("size", "0: the patch side must be at least 1".into());
    }
    if t == 0 {
        return bad("stride", "0: the stride must be at least 1".into());
    }
    if c == 0 || s > h || s > w {
        return bad(
            "size",
            format!("{s}×{s} patches do not fit in {c}×{h}×{w} images"),
        );
    }
    if h > u16::MAX as usize || w > u16::MAX as usize {
        return bad(
            "size",
            format!("images of {h}×{w}: at most 65535×65535 are supported"),
        );
    }
    let n_images = source.len().min(params.limit_images.unwrap_or(usize::MAX));
    if n_images == 0 {
        return bad("limit_images", "no images to cut patches from".into());
    }
    let corners = window_corners(h, w, s, t);
    let Some(n) = n_images
        .checked_mul(corners.len())
        .filter(|&n| n < u32::MAX as usize)
    else {
        return bad("stride", format!(
            "{n_images} images × {} patches each is too many: at most {} patches are supported (use fewer images or a larger stride)",
            corners.len(),
            u32::MAX - 1
        ));
    };
    let raw_dim = c * s * s;
    if let Some(p) = projection {
        if p.raw_dim != raw_dim {
            return bad(
                "projection",
                format!(
                    "the projection takes {} values, but a {c}×{s}×{s} patch has {raw_dim}",
                    p.raw_dim
                ),
            );
        }
    }
    let dim = projection.map_or(raw_dim, |p| p.dim);
    let names: Vec<String> = (0..n_images).map(|i| source.name(i)).collect();
    let names_len: usize = names.iter().map(String::len).sum();
    let header = PatchDbHeader {
        n,
        dim,
        channels: c,
        size: s,
        stride: t,
        image_shape: [c, h, w],
        n_images,
        projection: projection.map(|p| ProjectionInfo {
            dim: p.dim,
            seed: p.seed,
        }),
        description: description(source, params, n_images),
    };
    let layout = Layout::new(
        (n as u64, dim as u64, raw_dim as u64),
        projection.is_some(),
        (
            header.description.len() as u64,
            n_images as u64,
            names_len as u64,
        ),
    )
    .ok_or_else(|| PatchDbError::Params {
        param: "size",
        msg: "the file would be larger than 2⁶⁴ bytes".into(),
    })?;

    let mut file = AtomicFile::create(out).map_err(|e| PatchDbError::io(out, e))?;
    let tmp = file.temp_path().to_path_buf();
    let job = Job {
        source,
        header: &header,
        layout,
        names: &names,
        corners: &corners,
        projection,
        tmp: &tmp,
        out,
    };
    progress.start("patch database", n_images as u64);
    let result = job.write(file.file(), progress);
    progress.finish();
    result?;
    // On an error above, dropping `file` removed the temporary file.
    file.commit().map_err(|e| PatchDbError::io(out, e))?;
    Ok(header)
}

/// Everything [`build`] writes, once checked.
struct Job<'a> {
    source: &'a dyn ImageSource,
    header: &'a PatchDbHeader,
    layout: Layout,
    names: &'a [String],
    corners: &'a [(usize, usize)],
    projection: Option<&'a Projection>,
    tmp: &'a Path,
    out: &'a Path,
}

impl Job<'_> {
    fn write(&self, file: &mut File, progress: &dyn Progress) -> Result<(), PatchDbError> {
        let io = |e| PatchDbError::io(self.out, e);
        let (tmp, layout, header) = (self.tmp, self.layout, self.header);
        let mut head = BufWriter::new(file);
        let names_len = layout.end - layout.names;
        head.write_all(&header.encode(names_len)).map_err(io)?;
        head.write_all(header.description.as_bytes()).map_err(io)?;
        let mut rows = section_writer(tmp, layout.rows).map_err(io)?;
        let mut raw = match self.projection {
            Some(_) => Some(section_writer(tmp, layout.raw).map_err(io)?),
            None => None,
        };
        let mut sources = section_writer(tmp, layout.sources).map_err(io)?;

        let [c, h, w] = header.image_shape;
        let per_image = 4 * (c * h * w + self.corners.len() * (header.dim + header.raw_dim()));
        let chunk = (CHUNK_BYTES / per_image.max(1))
            .max(rayon::current_num_threads())
            .clamp(1, 4096);
        for start in (0..header.n_images).step_by(chunk) {
            if progress.cancelled() {
                return Err(PatchDbError::Cancelled {
                    path: self.out.to_path_buf(),
                });
            }
            let end = (start + chunk).min(header.n_images);
            let cuts: Vec<Cut> = (start..end)
                .into_par_iter()
                .map(|i| cut(self.source, i, self.corners, header.size, self.projection))
                .collect::<Result<_, _>>()?;
            for cut in &cuts {
                rows.write_all(&cut.rows).map_err(io)?;
                if let Some(r) = raw.as_mut() {
                    r.write_all(&cut.raw).map_err(io)?;
                }
                sources.write_all(&cut.sources).map_err(io)?;
            }
            progress.advance((end - start) as u64, "");
        }
        let mut tail = Vec::new();
        if let Some(p) = self.projection {
            let mut pw = section_writer(tmp, layout.projection).map_err(io)?;
            pw.write_all(&f32s_to_le(&p.matrix)).map_err(io)?;
            tail.push(pw);
        }
        let mut nw = section_writer(tmp, layout.name_offsets).map_err(io)?;
        let mut offset = 0u64;
        nw.write_all(&offset.to_le_bytes()).map_err(io)?;
        for name in self.names {
            offset += name.len() as u64;
            nw.write_all(&offset.to_le_bytes()).map_err(io)?;
        }
        for name in self.names {
            nw.write_all(name.as_bytes()).map_err(io)?;
        }
        tail.push(nw);
        for wr in [rows, sources].into_iter().chain(raw).chain(tail) {
            finish_writer(wr).map_err(io)?;
        }
        let file = head.into_inner().map_err(|e| io(e.into_error()))?;
        file.set_len(layout.end).map_err(io)
    }
}
