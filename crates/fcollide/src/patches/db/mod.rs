//! Patch databases on disk (§4): every `s×s` patch at stride `t` of every image of a data set
//! (the embedded digits, an MNIST/Fashion-MNIST IDX file, or a folder of JPEG/PNG images),
//! optionally randomly projected to fewer dimensions, written once by a streaming builder
//! ([`build`]) and then memory-mapped ([`PatchDb::open`]) and searched in place.
//!
//! # File format (version 1)
//!
//! All integers and floats are **little-endian**. The file is a 128-byte header, then the
//! sections below in this order, each starting at an offset that is a multiple of 64 (the
//! writer pads the gap before it with zero bytes; readers ignore padding), so that a page-aligned memory map views the `f32` sections
//! as `&[f32]` without copying. Nothing follows the last section.
//!
//! **Header** (128 bytes):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic [`MAGIC`] = `b"FCPATCDB"` |
//! | 8 | 4 | version `u32` = 1 |
//! | 12 | 4 | flags `u32`: bit 0 = rows are projected, bit 1 = projection seed recorded; other bits 0 |
//! | 16 | 8 | `n`, number of patches, `u64` (`1 ≤ n < 2³²−1`) |
//! | 24 | 4 | `dim`, values per search row, `u32` (`= C·s·s` unless projected) |
//! | 28 | 4 | `C`, channels, `u32` |
//! | 32 | 4 | `s`, patch side, `u32` |
//! | 36 | 4 | `t`, stride, `u32` |
//! | 40 | 4 | `H`, source image height, `u32` (`s ≤ H ≤ 65535`) |
//! | 44 | 4 | `W`, source image width, `u32` (`s ≤ W ≤ 65535`) |
//! | 48 | 8 | `N`, number of source images, `u64` (`≥ 1`) |
//! | 56 | 8 | projection seed, `u64` (0 unless flag bit 1) |
//! | 64 | 8 | `Ld`, description length in bytes, `u64` |
//! | 72 | 8 | `Ln`, length of all image names in bytes, `u64` |
//! | 80 | 48 | zero |
//!
//! `n` must equal `N ×` the number of `s×s` windows at stride `t` in an `H×W` image
//! (`(⌊(H−s)/t⌋+1)·(⌊(W−s)/t⌋+1)`): every window of every image, image after image, windows
//! row-major.
//!
//! **Sections** (`r = C·s·s`, the raw values of a patch, channel-major `[C, s, s]`):
//!
//! | section | size in bytes | content |
//! |---|---|---|
//! | description | `Ld` (starts at 128) | UTF-8 text: what the patches were cut from |
//! | rows | `4·n·dim` | the search vectors, `f32`, row-major `[n, dim]` |
//! | raw patches | `4·n·r`, only if projected | the patches' pixels, `f32`, `[n, r]` |
//! | sources | `8·n` | per patch: image `u32`, top row `u16`, left column `u16` |
//! | projection | `4·dim·r`, only if projected | the matrix `P`, `f32`, row-major `[dim, r]` |
//! | name offsets | `8·(N+1)` | `u64` offsets into the names: `0 = o₀ ≤ o₁ ≤ … ≤ o_N = Ln` |
//! | names | `Ln` | UTF-8, image `i`'s name is bytes `o_i..o_{i+1}` |
//!
//! Without projection the rows **are** the raw patches (pixels in `[0, 1]`), stored once.
//! With projection to `dim < r` dimensions the rows are `P·x` for each raw patch `x`, `P`
//! drawn with i.i.d. `N(0, 1/dim)` entries (so `E‖P·x‖² = ‖x‖²`, Johnson–Lindenstrauss), and
//! both the projected rows (what k-NN searches) and the raw patches (what candidates are
//! composed from) are stored, with `P` itself (queries are projected with it). Image names
//! trace a patch back to its source: `mnist-embedded:1234` (index in the embedded set),
//! `train-images-idx3-ubyte.gz:17` (index in the IDX file), or a path relative to the image
//! folder.
//!
//! [`PatchDb::open`] checks everything before handing out a view: magic, version, flags,
//! zero reserved bytes, the header fields and their consistency (`n`, `dim`, the window
//! count), the exact file length implied by the header (a truncated file or trailing bytes
//! are errors), UTF-8 of the description and names, well-formed name offsets, every source
//! inside its image, and every stored `f32` finite. Every error names the file and says
//! what was expected; no input makes it panic. It reads the whole file once (in parallel)
//! for these checks.
//!
//! Files are written to a temporary file beside the destination, synced, then renamed over
//! it, so a reader sees the old file or the complete new one; a map of the old file stays
//! valid. Modifying a file in place while it is mapped is not supported.
//!
//! The builder streams: images are read, cut and (optionally) projected a chunk at a time
//! in parallel and appended to each section, so memory stays bounded whatever the number
//! of patches; only the image names are held in memory.
mod build;
mod error;

pub use build::{
    build, built_from, open_dataset, BuildParams, DatasetImages, IdxImageFile, ImageFolder,
    ImageSource, Projection, SourceOptions,
};
pub use error::PatchDbError;

use super::extract::PatchSource;
use super::knn::{DciIndex, DciParams, Neighbours, Vectors};
use super::view::PatchView;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// First 8 bytes of a patch database file.
pub const MAGIC: [u8; 8] = *b"FCPATCDB";
/// The format version written and read.
pub const VERSION: u32 = 1;
/// Bytes of the fixed header.
pub const HEADER_LEN: usize = 128;
/// Alignment of every section after the header.
pub const ALIGN: u64 = 64;
/// Suggested file extension.
pub const EXTENSION: &str = "fcpd";

const FLAG_PROJECTED: u32 = 1;
const FLAG_SEED: u32 = 2;

/// The random projection of a database, as recorded in its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectionInfo {
    /// Dimension of the projected rows.
    pub dim: usize,
    /// The seed the builder was told it was drawn with, if any.
    pub seed: Option<u64>,
}

/// What a patch database holds (its header and description).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchDbHeader {
    /// Number of patches `n`.
    pub n: usize,
    /// Values per search row (`C·s·s`, or the projected dimension).
    pub dim: usize,
    /// Channels `C`.
    pub channels: usize,
    /// Patch side `s`.
    pub size: usize,
    /// Stride `t`.
    pub stride: usize,
    /// Shape `[C, H, W]` of the images the patches were cut from.
    pub image_shape: [usize; 3],
    /// Number of source images `N`.
    pub n_images: usize,
    /// The random projection, if the rows are projected.
    pub projection: Option<ProjectionInfo>,
    /// What the patches were cut from.
    pub description: String,
}

impl PatchDbHeader {
    /// Raw values per patch, `C·s·s`.
    pub fn raw_dim(&self) -> usize {
        self.channels * self.size * self.size
    }

    /// The 128 header bytes, with `names_len` bytes of image names.
    fn encode(&self, names_len: u64) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        let mut flags = 0u32;
        let mut seed = 0u64;
        if let Some(p) = &self.projection {
            flags |= FLAG_PROJECTED;
            if let Some(s) = p.seed {
                flags |= FLAG_SEED;
                seed = s;
            }
        }
        h[0..8].copy_from_slice(&MAGIC);
        h[8..12].copy_from_slice(&VERSION.to_le_bytes());
        h[12..16].copy_from_slice(&flags.to_le_bytes());
        h[16..24].copy_from_slice(&(self.n as u64).to_le_bytes());
        h[24..28].copy_from_slice(&(self.dim as u32).to_le_bytes());
        h[28..32].copy_from_slice(&(self.channels as u32).to_le_bytes());
        h[32..36].copy_from_slice(&(self.size as u32).to_le_bytes());
        h[36..40].copy_from_slice(&(self.stride as u32).to_le_bytes());
        h[40..44].copy_from_slice(&(self.image_shape[1] as u32).to_le_bytes());
        h[44..48].copy_from_slice(&(self.image_shape[2] as u32).to_le_bytes());
        h[48..56].copy_from_slice(&(self.n_images as u64).to_le_bytes());
        h[56..64].copy_from_slice(&seed.to_le_bytes());
        h[64..72].copy_from_slice(&(self.description.len() as u64).to_le_bytes());
        h[72..80].copy_from_slice(&names_len.to_le_bytes());
        h
    }
}

/// Byte offsets of the sections (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub rows: u64,
    /// Equal to `rows` when not projected (the rows are the raw patches).
    pub raw: u64,
    pub sources: u64,
    /// Empty (`== name_offsets`) when not projected.
    pub projection: u64,
    pub name_offsets: u64,
    pub names: u64,
    pub end: u64,
}

fn align(x: u64) -> Option<u64> {
    x.checked_add(ALIGN - 1).map(|v| v / ALIGN * ALIGN)
}

impl Layout {
    /// The layout for these header values; `None` if a size overflows `u64`.
    pub(crate) fn new(
        (n, dim, raw_dim): (u64, u64, u64),
        projected: bool,
        (desc_len, n_images, names_len): (u64, u64, u64),
    ) -> Option<Layout> {
        let rows = align((HEADER_LEN as u64).checked_add(desc_len)?)?;
        let rows_end = rows.checked_add(n.checked_mul(dim)?.checked_mul(4)?)?;
        let (raw, raw_end) = if projected {
            let raw = align(rows_end)?;
            (
                raw,
                raw.checked_add(n.checked_mul(raw_dim)?.checked_mul(4)?)?,
            )
        } else {
            (rows, rows_end)
        };
        let sources = align(raw_end)?;
        let sources_end = sources.checked_add(n.checked_mul(8)?)?;
        let projection = align(sources_end)?;
        let projection_end = if projected {
            projection.checked_add(dim.checked_mul(raw_dim)?.checked_mul(4)?)?
        } else {
            projection
        };
        let name_offsets = align(projection_end)?;
        let names = name_offsets.checked_add(n_images.checked_add(1)?.checked_mul(8)?)?;
        let end = names.checked_add(names_len)?;
        Some(Layout {
            rows,
            raw,
            sources,
            projection: if projected { projection } else { name_offsets },
            name_offsets,
            names,
            end,
        })
    }

    /// `(name, start offset)` of each section present, in file order.
    pub(crate) fn sections(&self, projected: bool) -> Vec<(&'static str, u64)> {
        let mut v = vec![("description", HEADER_LEN as u64), ("rows", self.rows)];
        if projected {
            v.push(("raw patches", self.raw));
        }
        v.push(("sources", self.sources));
        if projected {
            v.push(("projection", self.projection));
        }
        v.push(("name offsets", self.name_offsets));
        v.push(("names", self.names));
        v
    }
}

/// A patch database file, memory-mapped and checked.
pub struct PatchDb {
    path: PathBuf,
    map: memmap2::Mmap,
    header: PatchDbHeader,
    layout: Layout,
}

impl std::fmt::Debug for PatchDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatchDb")
            .field("path", &self.path)
            .field("header", &self.header)
            .finish()
    }
}

/// `bytes` as `f32`s in place (little-endian machine; `None` if misaligned or ragged).
fn as_f32s(bytes: &[u8]) -> Option<&[f32]> {
    // SAFETY: every bit pattern is a valid f32; `align_to` only puts aligned, in-bounds
    // elements in the middle slice.
    let (head, mid, tail) = unsafe { bytes.align_to::<f32>() };
    (head.is_empty() && tail.is_empty()).then_some(mid)
}

/// `bytes` as [`PatchSource`]s in place (`repr(C)`: `u32`, `u16`, `u16`, no padding).
fn as_sources(bytes: &[u8]) -> Option<&[PatchSource]> {
    // SAFETY: `PatchSource` is `repr(C)` with only integer fields and no padding (8 bytes,
    // align 4), so every bit pattern is valid; `align_to` only yields aligned elements.
    let (head, mid, tail) = unsafe { bytes.align_to::<PatchSource>() };
    (head.is_empty() && tail.is_empty()).then_some(mid)
}

/// A `u32` inside a section whose length was checked when the file was opened (0 past its end,
/// which the checks rule out).
fn u32_at(h: &[u8], o: usize) -> u32 {
    crate::bytes::le_u32(h, o).unwrap_or(0)
}

/// A `u64` inside a section whose length was checked when the file was opened.
fn u64_at(h: &[u8], o: usize) -> u64 {
    crate::bytes::le_u64(h, o).unwrap_or(0)
}

impl PatchDb {
    /// Maps `path` and checks it completely (see the module docs); errors name the file.
    pub fn open(path: impl AsRef<Path>) -> Result<PatchDb, PatchDbError> {
        let path = path.as_ref();
        let corrupt = |reason: String| PatchDbError::corrupt(path, reason);
        if cfg!(target_endian = "big") {
            return Err(PatchDbError::Incompatible {
                path: path.to_path_buf(),
                reason: "patch databases are little-endian and mapped in place; this machine is big-endian".into(),
            });
        }
        let file = crate::fsutil::open_regular(path).map_err(|e| PatchDbError::io(path, e))?;
        let file_len = file
            .metadata()
            .map_err(|e| PatchDbError::io(path, e))?
            .len();
        if file_len < HEADER_LEN as u64 {
            let bytes = crate::fsutil::read_bounded(file, HEADER_LEN as u64, "max_read_bytes")
                .map_err(|e| PatchDbError::io(path, e))?;
            let m = bytes.len().min(MAGIC.len());
            if bytes[..m] != MAGIC[..m] || bytes.is_empty() {
                return Err(bad_magic(path, &bytes));
            }
            return Err(PatchDbError::Length {
                path: path.to_path_buf(),
                expected: HEADER_LEN as u64,
                found: file_len,
                what: format!("truncated: shorter than the {HEADER_LEN}-byte header"),
            });
        }
        // SAFETY: the map is read-only; the file is written once (atomically, by rename) and
        // never modified in place by fcollide. A file truncated by another process while
        // mapped is outside what we guard against (documented above).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| PatchDbError::io(path, e))?;
        let h = &map[..HEADER_LEN];
        if h[0..8] != MAGIC {
            return Err(bad_magic(path, h));
        }
        let version = u32_at(h, 8);
        if version != VERSION {
            return Err(PatchDbError::Version {
                path: path.to_path_buf(),
                found: version,
                supported: VERSION,
            });
        }
        let flags = u32_at(h, 12);
        if flags & !(FLAG_PROJECTED | FLAG_SEED) != 0 {
            return Err(corrupt(format!(
                "unknown flags {flags:#x} (only bits 0 and 1 are defined)"
            )));
        }
        let projected = flags & FLAG_PROJECTED != 0;
        if flags & FLAG_SEED != 0 && !projected {
            return Err(corrupt(
                "a projection seed is recorded but the rows are not projected".into(),
            ));
        }
        if let Some(i) = (80..HEADER_LEN).find(|&i| h[i] != 0) {
            return Err(corrupt(format!(
                "header byte {i} is {:#04x}, reserved bytes 80..128 must be zero",
                h[i]
            )));
        }
        let n = u64_at(h, 16);
        let dim = u32_at(h, 24) as u64;
        let (c, s, t) = (
            u32_at(h, 28) as u64,
            u32_at(h, 32) as u64,
            u32_at(h, 36) as u64,
        );
        let (ih, iw) = (u32_at(h, 40) as u64, u32_at(h, 44) as u64);
        let n_images = u64_at(h, 48);
        let seed = u64_at(h, 56);
        let desc_len = u64_at(h, 64);
        let names_len = u64_at(h, 72);
        if flags & FLAG_SEED == 0 && seed != 0 {
            return Err(corrupt(format!(
                "projection seed {seed} stored but flag bit 1 (seed recorded) is not set"
            )));
        }
        if c == 0 || s == 0 || t == 0 {
            return Err(corrupt(format!(
                "channels {c}, patch size {s}, stride {t}: each must be at least 1"
            )));
        }
        if s > ih || s > iw || ih > u16::MAX as u64 || iw > u16::MAX as u64 {
            return Err(corrupt(format!(
                "source images {ih}×{iw} with {s}×{s} patches: need patch size ≤ height, width ≤ 65535"
            )));
        }
        let raw_dim = c
            .checked_mul(s)
            .and_then(|v| v.checked_mul(s))
            .filter(|&v| v <= u32::MAX as u64)
            .ok_or_else(|| corrupt(format!("{c}×{s}×{s} values per patch overflow")))?;
        if projected && (dim == 0 || dim > raw_dim) {
            return Err(corrupt(format!(
                "projected rows of {dim} values: expected 1..={raw_dim} (C·s·s)"
            )));
        }
        if !projected && dim != raw_dim {
            return Err(corrupt(format!(
                "rows of {dim} values, expected C·s·s = {c}·{s}·{s} = {raw_dim} (not projected)"
            )));
        }
        if n_images == 0 {
            return Err(corrupt("0 source images (expected at least 1)".into()));
        }
        let per_image = ((ih - s) / t + 1) * ((iw - s) / t + 1);
        match n_images.checked_mul(per_image) {
            Some(e) if e == n => {}
            e => {
                return Err(corrupt(format!(
                    "n = {n} patches, but {n_images} images of {ih}×{iw} hold {} patches of {s}×{s} at stride {t}",
                    e.map_or("more than 2⁶⁴".to_string(), |e| e.to_string())
                )))
            }
        }
        if n >= u32::MAX as u64 {
            return Err(corrupt(format!(
                "n = {n} patches, at most {} are supported",
                u32::MAX - 1
            )));
        }
        let layout = Layout::new(
            (n, dim, raw_dim),
            projected,
            (desc_len, n_images, names_len),
        )
        .ok_or_else(|| corrupt("section sizes in the header overflow".into()))?;
        if layout.end != file_len {
            let what = if file_len > layout.end {
                "trailing bytes after the names".to_string()
            } else {
                let cut = layout
                    .sections(projected)
                    .into_iter()
                    .rev()
                    .find(|&(_, start)| start <= file_len)
                    .map_or("header", |(name, _)| name);
                format!("truncated in the {cut} section")
            };
            return Err(PatchDbError::Length {
                path: path.to_path_buf(),
                expected: layout.end,
                found: file_len,
                what,
            });
        }
        // usize conversions are safe from here: every size fits in the mapped file.
        let desc_end = HEADER_LEN + desc_len as usize;
        let description = std::str::from_utf8(&map[HEADER_LEN..desc_end])
            .map_err(|e| corrupt(format!("description is not UTF-8: {e}")))?
            .to_string();
        let header = PatchDbHeader {
            n: n as usize,
            dim: dim as usize,
            channels: c as usize,
            size: s as usize,
            stride: t as usize,
            image_shape: [c as usize, ih as usize, iw as usize],
            n_images: n_images as usize,
            projection: projected.then_some(ProjectionInfo {
                dim: dim as usize,
                seed: (flags & FLAG_SEED != 0).then_some(seed),
            }),
            description,
        };
        let db = PatchDb {
            path: path.to_path_buf(),
            map,
            header,
            layout,
        };
        db.check_sections()?;
        Ok(db)
    }

    /// Content checks after the header and length checks of [`PatchDb::open`].
    fn check_sections(&self) -> Result<(), PatchDbError> {
        let path = self.path.as_path();
        let corrupt = |reason: String| PatchDbError::corrupt(path, reason);
        let (n, dim, raw_dim) = (self.header.n, self.header.dim, self.header.raw_dim());
        let mut f32_sections = vec![("search vectors", self.layout.rows, n * dim)];
        if self.header.projection.is_some() {
            f32_sections.push(("raw patches", self.layout.raw, n * raw_dim));
            f32_sections.push(("projection matrix", self.layout.projection, dim * raw_dim));
        }
        for (section, start, len) in f32_sections {
            let start = start as usize;
            let v = as_f32s(&self.map[start..start + 4 * len])
                .ok_or_else(|| corrupt(format!("{section} are not 4-byte aligned")))?;
            if let Some(index) = first_non_finite(v) {
                return Err(PatchDbError::NonFinite {
                    path: path.to_path_buf(),
                    section,
                    index,
                    value: v[index],
                });
            }
        }
        let sources = self
            .try_sources()
            .ok_or_else(|| corrupt("sources are not 4-byte aligned".into()))?;
        let [_, h, w] = self.header.image_shape;
        let s = self.header.size;
        let (ni, hs, ws) = (self.header.n_images, h - s, w - s);
        if let Some(i) = sources.par_iter().position_first(|p| {
            p.image as usize >= ni || p.row as usize > hs || p.col as usize > ws
        }) {
            let p = sources[i];
            return Err(corrupt(format!(
                "source of patch {i} is image {}, row {}, column {}: expected image < {ni}, row ≤ {hs}, column ≤ {ws}",
                p.image, p.row, p.col
            )));
        }
        let offsets = self.name_offset_bytes();
        let names_len = self.layout.end - self.layout.names;
        let mut prev = 0u64;
        for i in 0..=self.header.n_images {
            let o = u64_at(offsets, 8 * i);
            let ok = if i == 0 {
                o == 0
            } else {
                o >= prev && o <= names_len
            };
            if !ok || (i == self.header.n_images && o != names_len) {
                return Err(corrupt(format!(
                    "name offset {i} is {o}: expected offsets from 0 rising to {names_len}"
                )));
            }
            if i > 0 {
                let (a, b) = (
                    (self.layout.names + prev) as usize,
                    (self.layout.names + o) as usize,
                );
                if std::str::from_utf8(&self.map[a..b]).is_err() {
                    return Err(corrupt(format!("name of image {} is not UTF-8", i - 1)));
                }
            }
            prev = o;
        }
        Ok(())
    }

    fn try_sources(&self) -> Option<&[PatchSource]> {
        let a = self.layout.sources as usize;
        as_sources(&self.map[a..a + 8 * self.header.n])
    }

    fn name_offset_bytes(&self) -> &[u8] {
        &self.map[self.layout.name_offsets as usize..self.layout.names as usize]
    }

    fn f32_section(&self, start: u64, len: usize) -> &[f32] {
        let a = start as usize;
        // Checked by `open` (the map is page aligned, sections 64-byte aligned).
        as_f32s(&self.map[a..a + 4 * len]).unwrap_or(&[])
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header.
    pub fn header(&self) -> &PatchDbHeader {
        &self.header
    }

    /// Length of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.layout.end
    }

    /// Number of patches.
    pub fn len(&self) -> usize {
        self.header.n
    }

    /// Whether there are none (never true for an opened file).
    pub fn is_empty(&self) -> bool {
        self.header.n == 0
    }

    /// The search rows `[n, dim]` (raw patches, or their projections).
    pub fn rows(&self) -> &[f32] {
        self.f32_section(self.layout.rows, self.header.n * self.header.dim)
    }

    /// The search rows as k-NN vectors, without copying.
    pub fn vectors(&self) -> Vectors<'_> {
        Vectors::new(self.rows(), self.header.dim).expect("row count and dim checked by open")
    }

    /// The raw patches `[n, C·s·s]` (the rows themselves when not projected).
    pub fn raw(&self) -> &[f32] {
        self.f32_section(self.layout.raw, self.header.n * self.header.raw_dim())
    }

    /// Raw pixels `[C, s, s]` of patch `i`; panics if `i >= len()`.
    pub fn patch(&self, i: usize) -> &[f32] {
        let d = self.header.raw_dim();
        &self.raw()[i * d..(i + 1) * d]
    }

    /// Where each patch was cut from.
    pub fn sources(&self) -> &[PatchSource] {
        self.try_sources().unwrap_or(&[])
    }

    /// The projection matrix `[dim, C·s·s]`, if the rows are projected.
    pub fn projection(&self) -> Option<&[f32]> {
        self.header.projection.map(|_| {
            self.f32_section(
                self.layout.projection,
                self.header.dim * self.header.raw_dim(),
            )
        })
    }

    /// Name of source image `i` (`None` if out of range).
    pub fn image_name(&self, i: usize) -> Option<&str> {
        if i >= self.header.n_images {
            return None;
        }
        let offsets = self.name_offset_bytes();
        let (a, b) = (u64_at(offsets, 8 * i), u64_at(offsets, 8 * i + 8));
        let base = self.layout.names;
        std::str::from_utf8(&self.map[(base + a) as usize..(base + b) as usize]).ok()
    }

    /// A view for [`candidates`](super::space::candidates) and k-NN queries (brute force;
    /// add an index with [`PatchView::with_index`]).
    pub fn view(&self) -> PatchView<'_> {
        PatchView::new(
            (self.header.size, self.header.channels),
            (self.rows(), self.header.dim),
            self.raw(),
            self.projection(),
            self.sources(),
        )
        .expect("section lengths checked by open")
    }

    /// Errors unless the patches are `size×size` with `channels` channels.
    pub fn check_compatible(&self, size: usize, channels: usize) -> Result<(), PatchDbError> {
        let h = &self.header;
        if h.size != size || h.channels != channels {
            return Err(PatchDbError::Incompatible {
                path: self.path.clone(),
                reason: format!(
                    "the database holds {s}×{s} patches of {c} channel(s), but {size}×{size} patches of {channels} channel(s) are needed (use a patch size of {s}, or build a database of {size}×{size} patches from images with {channels} channel(s))",
                    s = h.size,
                    c = h.channels
                ),
            });
        }
        Ok(())
    }

    /// Builds a Prioritized DCI index over the search rows.
    pub fn build_index(&self, params: DciParams) -> Result<DciIndex, PatchDbError> {
        Ok(DciIndex::new(self.vectors(), params)?)
    }

    /// Loads a DCI index saved for this database, checking that it was built over these
    /// very rows: as many, of the same dimension, with the same fingerprint
    /// ([`Vectors::fingerprint`], recorded by the index; computing it reads the rows once).
    pub fn load_index(&self, path: impl AsRef<Path>) -> Result<DciIndex, PatchDbError> {
        let path = path.as_ref();
        let index = DciIndex::load(path)?;
        if index.len() != self.len() || index.dim() != self.header.dim {
            return Err(PatchDbError::Incompatible {
                path: path.to_path_buf(),
                reason: format!(
                    "the index covers {} vectors of dimension {}, but the patch database {} has {} rows of dimension {}",
                    index.len(),
                    index.dim(),
                    self.path.display(),
                    self.len(),
                    self.header.dim
                ),
            });
        }
        if index.fingerprint() != self.vectors().fingerprint() {
            return Err(PatchDbError::Incompatible {
                path: path.to_path_buf(),
                reason: format!(
                    "the index was built over other patches than those of {} (same count and dimension, different content): rebuild it with `fcollide patches index`",
                    self.path.display()
                ),
            });
        }
        Ok(index)
    }

    /// A few lines describing the database (what `fcollide patches info` prints).
    pub fn summary(&self) -> String {
        let h = &self.header;
        let [c, ih, iw] = h.image_shape;
        let per_image = h.n / h.n_images.max(1);
        let rows = match &h.projection {
            None => format!("{} values (the raw pixels)", h.dim),
            Some(p) => format!(
                "{} values: Gaussian random projection of the {} raw values{}; raw patches stored too",
                p.dim,
                h.raw_dim(),
                p.seed.map(|s| format!(" (seed {s})")).unwrap_or_default()
            ),
        };
        let mut out = format!(
            "file         {} ({} bytes)\nformat       fcollide patch database, version {VERSION}\ndescription  {}\npatches      {} of {c}×{s}×{s} = {} values (size {s}, stride {})\nimages       {} of {c}×{ih}×{iw}, {per_image} patches each\nsearch rows  {rows}\n",
            self.path.display(),
            self.file_len(),
            h.description,
            h.n,
            h.raw_dim(),
            h.stride,
            h.n_images,
            s = h.size,
        );
        let last = h.n_images - 1;
        for (what, i) in [("first image", 0), ("last image", last)] {
            out.push_str(&format!(
                "{what:<12} {}\n",
                self.image_name(i).unwrap_or("?")
            ));
        }
        out
    }

    /// The `k` patches nearest to the `s×s` window at `corner` (default: the centre window)
    /// of `image` (`[C, H, W]` as the database's source images), searched through `view`.
    pub fn query(
        &self,
        view: PatchView<'_>,
        image: &[f32],
        corner: Option<(usize, usize)>,
        k: usize,
    ) -> Result<QueryResult, PatchDbError> {
        let shape = self.header.image_shape;
        let s = self.header.size;
        let corner = corner.unwrap_or(((shape[1] - s) / 2, (shape[2] - s) / 2));
        let nn: Neighbours = view
            .nearest_windows(image, shape, &[corner], k)?
            .pop()
            .unwrap_or_default();
        let hits = nn
            .ids
            .iter()
            .zip(&nn.dists)
            .map(|(&id, &dist)| {
                let source = self.sources()[id as usize];
                QueryHit {
                    id,
                    dist,
                    source,
                    image_name: self
                        .image_name(source.image as usize)
                        .unwrap_or("?")
                        .to_string(),
                }
            })
            .collect();
        Ok(QueryResult {
            corner,
            window: super::extract::window(image, shape, corner, s),
            hits,
        })
    }

    /// A picture of a [`QueryResult`]: the query window, then each hit's raw patch labelled
    /// with its rank and distance.
    pub fn query_grid(
        &self,
        q: &QueryResult,
    ) -> Result<crate::report::Grid, crate::report::ReportError> {
        let s = self.header.size;
        let mut grid = crate::report::Grid::new([self.header.channels, s, s])?
            .with_scale((112 / s as u32).max(4))
            .with_font_scale(1)
            .with_title(format!(
                "nearest patches of the window at row {}, column {}",
                q.corner.0, q.corner.1
            ));
        grid.start_row("");
        grid.add_image(&q.window, "query")?;
        for (r, hit) in q.hits.iter().enumerate() {
            grid.add_image(
                self.patch(hit.id as usize),
                &format!("{} d2={:.3}", r + 1, hit.dist),
            )?;
        }
        Ok(grid)
    }
}

/// Index of the first NaN or infinity in `v` (blocks in parallel; a block is checked with
/// a branch-free fold that vectorises).
fn first_non_finite(v: &[f32]) -> Option<usize> {
    const BLOCK: usize = 1 << 16;
    let bad_block = v
        .par_chunks(BLOCK)
        .position_first(|b| !b.iter().fold(true, |ok, x| ok & x.is_finite()))?;
    let start = bad_block * BLOCK;
    v[start..]
        .iter()
        .position(|x| !x.is_finite())
        .map(|i| start + i)
}

fn bad_magic(path: &Path, bytes: &[u8]) -> PatchDbError {
    PatchDbError::BadMagic {
        path: path.to_path_buf(),
        found: bytes[..bytes.len().min(8)].to_vec(),
        expected: "FCPATCDB",
    }
}

/// The answer to [`PatchDb::query`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueryResult {
    /// Top-left `(row, col)` of the query window.
    pub corner: (usize, usize),
    /// The query window's pixels `[C, s, s]`.
    pub window: Vec<f32>,
    /// The nearest patches, nearest first.
    pub hits: Vec<QueryHit>,
}

/// One patch found by [`PatchDb::query`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueryHit {
    /// Patch number (row of the database).
    pub id: u32,
    /// Squared Euclidean distance between search vectors.
    pub dist: f32,
    /// Where the patch was cut from.
    pub source: PatchSource,
    /// Name of its source image.
    pub image_name: String,
}

#[cfg(test)]
mod tests;
