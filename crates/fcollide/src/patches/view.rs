//! [`PatchView`]: a borrowed patch database, in memory ([`Patches`]) or memory-mapped
//! ([`PatchDb`](super::db::PatchDb)), with the k-NN used to search it.
//!
//! A view holds three things: the **search vectors** (one row per patch: the raw pixels, or
//! their random projection to fewer dimensions), the **raw patches** (`[n, C·s·s]`, what
//! candidates are composed from) and each patch's [`PatchSource`]. Queries are always raw
//! windows; when the database is projected, they are projected with the same matrix before
//! the search. The search is exact brute force, or a Prioritized DCI index built over the
//! same search vectors ([`PatchView::with_index`]).
use super::extract::{window, PatchSource, Patches};
use super::knn::{brute_force, DciIndex, KnnError, Neighbours, Vectors};

/// A borrowed patch database and how to search it.
#[derive(Clone, Copy, Debug)]
pub struct PatchView<'a> {
    size: usize,
    channels: usize,
    rows: &'a [f32],
    dim: usize,
    raw: &'a [f32],
    projection: Option<&'a [f32]>,
    sources: &'a [PatchSource],
    index: Option<&'a DciIndex>,
}

impl<'a> From<&'a Patches> for PatchView<'a> {
    /// The in-memory patches, searched on their raw pixels by brute force.
    fn from(p: &'a Patches) -> Self {
        PatchView {
            size: p.size,
            channels: p.channels,
            rows: &p.data,
            dim: p.dim(),
            raw: &p.data,
            projection: None,
            sources: &p.sources,
            index: None,
        }
    }
}

impl<'a> PatchView<'a> {
    /// A view over `n = sources.len()` patches of side `size` with `channels` channels:
    /// `raw` holds `n·C·s·s` pixels, `rows` the `n` search vectors of `dim` values, and
    /// `projection` (`[dim, C·s·s]`, row-major) maps a raw patch to its search vector
    /// (`None`: the rows are the raw patches, `dim = C·s·s`). Errors if the lengths
    /// disagree.
    pub fn new(
        (size, channels): (usize, usize),
        (rows, dim): (&'a [f32], usize),
        raw: &'a [f32],
        projection: Option<&'a [f32]>,
        sources: &'a [PatchSource],
    ) -> Result<Self, KnnError> {
        let raw_dim = channels * size * size;
        if raw_dim == 0 {
            return Err(KnnError::bad(
                "patch size × channels",
                raw_dim,
                "at least 1",
            ));
        }
        let n = sources.len();
        if raw.len() != n * raw_dim {
            return Err(KnnError::dim("raw patch values", n * raw_dim, raw.len()));
        }
        if rows.len() != n * dim {
            return Err(KnnError::dim("search vector values", n * dim, rows.len()));
        }
        match projection {
            Some(p) if p.len() != dim * raw_dim => {
                return Err(KnnError::dim(
                    "projection matrix values",
                    dim * raw_dim,
                    p.len(),
                ))
            }
            None if dim != raw_dim => {
                return Err(KnnError::dim("search vector dimension", raw_dim, dim))
            }
            _ => {}
        }
        Ok(PatchView {
            size,
            channels,
            rows,
            dim,
            raw,
            projection,
            sources,
            index: None,
        })
    }

    /// The same view, searched with `index` (built over [`PatchView::vectors`]) instead of
    /// brute force. Errors if the index was built over another number of vectors or
    /// another dimension.
    pub fn with_index(self, index: &'a DciIndex) -> Result<Self, KnnError> {
        if index.dim() != self.dim {
            return Err(KnnError::dim("index dimension", self.dim, index.dim()));
        }
        if index.len() != self.len() {
            return Err(KnnError::dim(
                "index size (number of patches)",
                self.len(),
                index.len(),
            ));
        }
        Ok(PatchView {
            index: Some(index),
            ..self
        })
    }

    /// Patch side `s`.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Channels `C`.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Values of a raw patch, `C·s·s`.
    pub fn raw_dim(&self) -> usize {
        self.channels * self.size * self.size
    }

    /// Dimension of the search vectors (`raw_dim()` unless projected).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of patches.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The search vectors.
    pub fn vectors(&self) -> Result<Vectors<'a>, KnnError> {
        Vectors::new(self.rows, self.dim)
    }

    /// Raw pixels of patch `i` (`[C, s, s]`); panics if `i >= len()`.
    pub fn patch(&self, i: usize) -> &'a [f32] {
        let d = self.raw_dim();
        &self.raw[i * d..(i + 1) * d]
    }

    /// Where each patch came from.
    pub fn sources(&self) -> &'a [PatchSource] {
        self.sources
    }

    /// The projection matrix `[dim, C·s·s]`, if the search vectors are projected.
    pub fn projection(&self) -> Option<&'a [f32]> {
        self.projection
    }

    /// The DCI index searched, if any.
    pub fn index(&self) -> Option<&'a DciIndex> {
        self.index
    }

    /// Search vectors of raw `[m, C·s·s]` queries: projected, or the queries themselves.
    pub fn project(&self, raw_queries: &[f32]) -> Vec<f32> {
        match self.projection {
            None => raw_queries.to_vec(),
            Some(p) => project_rows(p, self.dim, raw_queries),
        }
    }

    /// The `k` nearest patches of each raw query (`[m, C·s·s]`), nearest first, by
    /// Euclidean distance between search vectors (squared distances reported).
    pub fn nearest(&self, raw_queries: &[f32], k: usize) -> Result<Vec<Neighbours>, KnnError> {
        let raw_dim = self.raw_dim();
        if raw_dim == 0 {
            return Err(KnnError::bad(
                "patch size × channels",
                raw_dim,
                "at least 1",
            ));
        }
        if raw_queries.len() % raw_dim != 0 {
            return Err(KnnError::dim(
                "query values (a multiple of C·s·s)",
                raw_queries.len() / raw_dim * raw_dim,
                raw_queries.len(),
            ));
        }
        let q = self.project(raw_queries);
        let queries = Vectors::new(&q, self.dim)?;
        let data = self.vectors()?;
        match self.index {
            Some(ix) => ix.search_batch(data, queries, k),
            None => brute_force(data, queries, k),
        }
    }

    /// The `k` nearest patches of the `s×s` windows of `image` (`[C, H, W]`) at `corners`
    /// (top-left `(row, col)`). Errors if the image's channels differ from the database's
    /// or a window does not fit.
    pub fn nearest_windows(
        &self,
        image: &[f32],
        shape: [usize; 3],
        corners: &[(usize, usize)],
        k: usize,
    ) -> Result<Vec<Neighbours>, KnnError> {
        let [c, h, w] = shape;
        if c != self.channels {
            return Err(KnnError::dim("image channels", self.channels, c));
        }
        if image.len() != c * h * w {
            return Err(KnnError::dim(
                "image values (C·H·W)",
                c * h * w,
                image.len(),
            ));
        }
        if let Some(&(r, col)) = corners
            .iter()
            .find(|&&(r, col)| r + self.size > h || col + self.size > w)
        {
            return Err(KnnError::bad(
                "window corner",
                format!(
                    "({r}, {col}) in a {h}×{w} image with {s}×{s} patches",
                    s = self.size
                ),
                "such that the window lies inside the image",
            ));
        }
        let queries: Vec<f32> = corners
            .iter()
            .flat_map(|&rc| window(image, shape, rc, self.size))
            .collect();
        self.nearest(&queries, k)
    }
}

/// `out[i] = P · x_i` for each row `x_i` of `raw` (`P` is `[dim, raw_dim]` row-major).
pub(crate) fn project_rows(p: &[f32], dim: usize, raw: &[f32]) -> Vec<f32> {
    let raw_dim = p.len() / dim.max(1);
    let m = raw.len() / raw_dim.max(1);
    let mut out = vec![0.0f32; m * dim];
    for (x, o) in raw.chunks_exact(raw_dim).zip(out.chunks_exact_mut(dim)) {
        for (oj, pj) in o.iter_mut().zip(p.chunks_exact(raw_dim)) {
            *oj = dot(pj, x);
        }
    }
    out
}

use crate::linalg::dot;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patches::extract::extract;

    #[test]
    fn views_check_lengths_and_search() {
        let img: Vec<f32> = (0..36).map(|x| ((x * 7) % 36) as f32 / 36.0).collect();
        let p = extract(&img, [1, 6, 6], 3, 1);
        let v = PatchView::from(&p);
        assert_eq!((v.len(), v.dim(), v.raw_dim()), (16, 9, 9));
        // Each window's nearest patch is itself (distance 0).
        let nn = v
            .nearest_windows(&img, [1, 6, 6], &[(1, 2), (3, 3)], 2)
            .unwrap();
        assert_eq!(
            p.sources[nn[0].ids[0] as usize],
            PatchSource {
                image: 0,
                row: 1,
                col: 2
            }
        );
        assert_eq!(nn[1].dists[0], 0.0);
        // Wrong channels, a window outside the image, ragged queries: errors.
        assert!(v.nearest_windows(&img, [2, 3, 6], &[(0, 0)], 1).is_err());
        assert!(v.nearest_windows(&img, [1, 6, 6], &[(4, 0)], 1).is_err());
        assert!(v.nearest(&img[..10], 1).is_err());
        // A projection to 2 dimensions: the rows must be 2 wide and P 2×9.
        let proj: Vec<f32> = (0..18).map(|x| x as f32 / 18.0).collect();
        let rows = project_rows(&proj, 2, &p.data);
        let pv = PatchView::new((3, 1), (&rows, 2), &p.data, Some(&proj), &p.sources).unwrap();
        assert_eq!(pv.project(p.patch(5)), rows[10..12].to_vec());
        assert_eq!(pv.nearest(p.patch(5), 1).unwrap()[0].dists[0], 0.0);
        assert!(PatchView::new((3, 1), (&rows, 2), &p.data, None, &p.sources).is_err());
        assert!(PatchView::new((3, 1), (&rows, 2), &p.data, Some(&proj[1..]), &p.sources).is_err());
        assert!(PatchView::new((3, 1), (&rows[1..], 2), &p.data, Some(&proj), &p.sources).is_err());
    }
}
