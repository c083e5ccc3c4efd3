//! Patch extraction: every `s×s` window at stride `t` of every image, flattened channel-major
//! (`[C, s, s]`), as rows of one `[n_patches, C·s·s]` matrix; with each patch's source
//! (image, row, column) so a retrieved patch can be placed back.
use serde::{Deserialize, Serialize};

/// Where a patch came from. `repr(C)`: 8 bytes (`image`, `row`, `col`, no padding), the
/// layout of the sources section of a [`PatchDb`](super::db::PatchDb) file, so that section
/// is used in place on a little-endian machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[repr(C)]
pub struct PatchSource {
    /// Image index.
    pub image: u32,
    /// Top row.
    pub row: u16,
    /// Left column.
    pub col: u16,
}

/// Patches of a set of images.
#[derive(Clone, Debug)]
pub struct Patches {
    /// Side `s`.
    pub size: usize,
    /// Channels `C`.
    pub channels: usize,
    /// `[n, C·s·s]` row-major.
    pub data: Vec<f32>,
    /// Source of each row.
    pub sources: Vec<PatchSource>,
}

impl Patches {
    /// Values per patch, `C·s·s`.
    pub fn dim(&self) -> usize {
        self.channels * self.size * self.size
    }

    /// Number of patches.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Patch `i`.
    pub fn patch(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim()..(i + 1) * self.dim()]
    }
}

/// Top-left corners `(row, col)` of the `s×s` windows at stride `t` inside `h×w`.
pub fn window_corners(h: usize, w: usize, size: usize, stride: usize) -> Vec<(usize, usize)> {
    if size == 0 || stride == 0 || size > h || size > w {
        return Vec::new();
    }
    let rows = (0..=h - size).step_by(stride);
    rows.flat_map(|r| (0..=w - size).step_by(stride).map(move |c| (r, c)))
        .collect()
}

/// The window at `(row, col)` of a `[C, H, W]` image, flattened `[C, s, s]`.
pub fn window(
    image: &[f32],
    shape: [usize; 3],
    (row, col): (usize, usize),
    size: usize,
) -> Vec<f32> {
    let [c, h, w] = shape;
    let mut out = Vec::with_capacity(c * size * size);
    for ch in 0..c {
        for r in row..row + size {
            let base = ch * h * w + r * w;
            out.extend_from_slice(&image[base + col..base + col + size]);
        }
    }
    out
}

/// All `s×s` patches at stride `t` of the `n` images in `images` (`[n, C·H·W]`).
pub fn extract(images: &[f32], shape: [usize; 3], size: usize, stride: usize) -> Patches {
    let d: usize = shape.iter().product();
    let corners = window_corners(shape[1], shape[2], size, stride);
    let n = images.len().checked_div(d).unwrap_or(0);
    let mut data = Vec::with_capacity(n * corners.len() * shape[0] * size * size);
    let mut sources = Vec::with_capacity(n * corners.len());
    for i in 0..n {
        let img = &images[i * d..(i + 1) * d];
        for &(r, c) in &corners {
            data.extend(window(img, shape, (r, c), size));
            sources.push(PatchSource {
                image: i as u32,
                row: r as u16,
                col: c as u16,
            });
        }
    }
    Patches {
        size,
        channels: shape[0],
        data,
        sources,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_sources() {
        // One 1×4×5 image holding 0..20.
        let img: Vec<f32> = (0..20).map(|x| x as f32).collect();
        assert_eq!(
            window_corners(4, 5, 2, 2),
            vec![(0, 0), (0, 2), (2, 0), (2, 2)]
        );
        assert!(window_corners(4, 5, 6, 1).is_empty());
        let p = extract(&img, [1, 4, 5], 2, 1);
        assert_eq!(p.len(), 3 * 4);
        assert_eq!(p.dim(), 4);
        // The window at row 1, column 2: pixels 7, 8, 12, 13.
        let k = p
            .sources
            .iter()
            .position(|s| (s.row, s.col) == (1, 2))
            .unwrap();
        assert_eq!(p.patch(k), &[7.0, 8.0, 12.0, 13.0]);
        // Two channels: channel-major layout.
        let two: Vec<f32> = (0..2 * 2 * 2).map(|x| x as f32).collect();
        let q = extract(&two, [2, 2, 2], 2, 1);
        assert_eq!(q.patch(0), &two[..]);
    }
}
