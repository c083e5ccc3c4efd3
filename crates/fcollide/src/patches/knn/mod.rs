//! k-nearest-neighbour search over dense `f32` vectors under the Euclidean distance:
//! exact brute force ([`brute_force`]) and Prioritized DCI ([`DciIndex`]; Li & Malik,
//! "Fast k-Nearest Neighbour Search via Prioritized DCI", ICML 2017, arXiv 1703.00440),
//! used by §4 of "Approximate Feature Collisions in Neural Nets" to retrieve the
//! training-image patches nearest to a patch of a collision image.
//!
//! # Data
//!
//! Data and query vectors are row-major `&[f32]` buffers of `n · dim` values, wrapped in
//! the borrowed view [`Vectors`]. Indexes never copy or own the data: the same view is
//! passed again at query time, so a memory-mapped file of vectors
//! ([`Vectors::from_ne_bytes`] over a `memmap2::Mmap`) is searched without copying.
//!
//! # Results
//!
//! A query returns [`Neighbours`]: point ids (row numbers in the data) and **squared**
//! Euclidean distances `‖q − x‖²`, ascending, ties broken by the smaller id. Reported
//! distances are always computed directly as `Σ_i (q_i − x_i)²`.
//!
//! # Brute force
//!
//! `‖q − x‖² = ‖q‖² − 2 q·x + ‖x‖²`, with `q·x` for a block of queries × a block of data
//! points computed as one matrix product (`gemm`), then a bounded heap per query keeps
//! the k smallest. Parallel over query blocks (or over data blocks for few queries).
//!
//! # Prioritized DCI
//!
//! Construction draws `m·L` random unit directions `u_jl` (`L` composite indices of `m`
//! simple indices each) and, for each simple index, sorts the data by its projection
//! `p̄_jl(x) = ⟨x, u_jl⟩`. A query `q` is projected, `q̄_jl = ⟨q, u_jl⟩`; in composite
//! index `l` a priority queue over its `m` simple indices yields, one at a time, the
//! not-yet-visited entry with the smallest `|p̄_jl(x) − q̄_jl|` over all `j` (each simple
//! index is walked outward from `q̄_jl` in both directions). Visiting point `x` in simple
//! index `j` of composite `l` increments a counter `C_l[x]`; when `C_l[x] = m` (visited in
//! every simple index of `l`), `x` becomes a candidate of `l`. The outer loop visits one
//! entry per composite index in turn (round-robin over `l`).
//!
//! **Stopping rule**: composite index `l` stops after `k1` visits (the "number of points
//! to visit", [`DciParams::visit`]) or once it holds `k0 = max(k, retrieve)` candidates
//! (the "number of points to retrieve", [`DciParams::retrieve`]), whichever comes first.
//! The true distances of the union of all candidates are then evaluated and the `k` best
//! returned. With `k1 = m·n` and `k0 = n` every point is a candidate and the search is
//! exact.
//!
//! **Levels** ([`DciParams::num_levels`] `= λ`): nested random subsets
//! `X_{λ−1} ⊂ … ⊂ X_0` of sizes `ν_ℓ = round(ν^{(λ−ℓ)/λ})` ([`level_sizes`]); every point
//! of `X_ℓ` is a child of its (approximately) nearest point of `X_{ℓ+1}`. A query
//! searches the top level, keeps its `F` ([`DciParams::field_of_view`]; `⌈F·√(k/10)⌉` for
//! `k > 10`) nearest points, searches their children, and so on down to level 0, where
//! the `k` best are returned; each level's search is the one above over the children of
//! the points kept, with the budgets resolved against that candidate set (all of it
//! evaluated exactly when `k0` covers it — the default). Details in [`DciIndex`]'s module.

mod brute;
mod dci;
mod error;
mod topk;

pub use brute::{brute_force, brute_force_naive};
pub use dci::{
    difference_directions, field_of_view_for, level_sizes, random_directions, Budget, DciIndex,
    DciParams, Directions, QueryStats, ValidDciParams, INDEX_MAGIC,
};
pub use error::KnnError;

/// Squared Euclidean distance `Σ_i (a_i − b_i)²` (slices of equal length).
///
/// Eight independent accumulators (lane `i` sums the coordinates `≡ i mod 8` of the
/// first `8·⌊d/8⌋`), then the fixed reduction `((a₀+a₄)+(a₁+a₅))+((a₂+a₆)+(a₃+a₇))` plus
/// the remaining coordinates in order. On x86-64 the lanes are one AVX2 register when the
/// CPU has AVX2 (detected at run time) and two SSE registers otherwise; no fused
/// multiply-add, so every path gives bit-identical results.
#[inline]
pub fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is available on this CPU (checked just above).
            return unsafe { squared_distance_avx2(a, b) };
        }
        squared_distance_sse(a, b)
    }
    #[cfg(not(target_arch = "x86_64"))]
    squared_distance_lanes(a, b)
}

/// The reduction shared by every path: lanes, then the tail `Σ_{i ≥ 8⌊d/8⌋}`.
#[inline(always)]
fn reduce_lanes(acc: &[f32; 8], a: &[f32], b: &[f32], from: usize) -> f32 {
    let mut s = 0.0;
    for (x, y) in a[from..].iter().zip(&b[from..]) {
        let d = x - y;
        s += d * d;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + s
}

/// [`squared_distance`] on AVX2 (call only where AVX2 is available; inlined into callers
/// compiled for AVX2).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn squared_distance_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let n8 = n / 8 * 8;
    let mut acc = _mm256_setzero_ps();
    let mut i = 0;
    while i < n8 {
        // SAFETY: i + 8 ≤ n8 ≤ both lengths; unaligned loads.
        let d = unsafe {
            _mm256_sub_ps(
                _mm256_loadu_ps(a.as_ptr().add(i)),
                _mm256_loadu_ps(b.as_ptr().add(i)),
            )
        };
        acc = _mm256_add_ps(acc, _mm256_mul_ps(d, d));
        i += 8;
    }
    let mut lanes = [0.0f32; 8];
    // SAFETY: `lanes` holds 8 f32; unaligned store.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
    reduce_lanes(&lanes, &a[..n], &b[..n], n8)
}

/// [`squared_distance`] on SSE (part of the x86-64 baseline).
#[cfg(target_arch = "x86_64")]
#[inline]
fn squared_distance_sse(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let n8 = n / 8 * 8;
    let mut lanes = [0.0f32; 8];
    // SAFETY: SSE is part of the x86-64 baseline; i + 8 ≤ n8 ≤ both lengths for the
    // unaligned loads, and `lanes` holds the 8 f32 stored.
    unsafe {
        let (mut lo, mut hi) = (_mm_setzero_ps(), _mm_setzero_ps());
        let mut i = 0;
        while i < n8 {
            let d0 = _mm_sub_ps(
                _mm_loadu_ps(a.as_ptr().add(i)),
                _mm_loadu_ps(b.as_ptr().add(i)),
            );
            let d1 = _mm_sub_ps(
                _mm_loadu_ps(a.as_ptr().add(i + 4)),
                _mm_loadu_ps(b.as_ptr().add(i + 4)),
            );
            lo = _mm_add_ps(lo, _mm_mul_ps(d0, d0));
            hi = _mm_add_ps(hi, _mm_mul_ps(d1, d1));
            i += 8;
        }
        _mm_storeu_ps(lanes.as_mut_ptr(), lo);
        _mm_storeu_ps(lanes.as_mut_ptr().add(4), hi);
    }
    reduce_lanes(&lanes, &a[..n], &b[..n], n8)
}

/// The portable form of [`squared_distance`] (the reference the SIMD paths match).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
pub(crate) fn squared_distance_lanes(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let n8 = n / 8 * 8;
    let mut acc = [0.0f32; 8];
    for (x, y) in a[..n8].chunks_exact(8).zip(b[..n8].chunks_exact(8)) {
        for i in 0..8 {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    reduce_lanes(&acc, &a[..n], &b[..n], n8)
}

/// A borrowed, row-major set of `n` vectors of dimension `dim` (`data.len() = n · dim`).
#[derive(Clone, Copy, Debug)]
pub struct Vectors<'a> {
    data: &'a [f32],
    dim: usize,
}

impl<'a> Vectors<'a> {
    /// Wraps `data` as rows of `dim` values. Errors if `dim == 0` or `dim` does not
    /// divide `data.len()`, or if there are `u32::MAX` rows or more (ids are `u32`).
    pub fn new(data: &'a [f32], dim: usize) -> Result<Self, KnnError> {
        if dim == 0 {
            return Err(KnnError::bad("dim", dim, "at least 1"));
        }
        let whole = data.len() / dim * dim;
        if whole != data.len() {
            return Err(KnnError::dim(
                "data length (must be a multiple of dim)",
                whole,
                data.len(),
            ));
        }
        if data.len() / dim >= u32::MAX as usize {
            return Err(KnnError::bad(
                "number of vectors",
                data.len() / dim,
                "less than u32::MAX",
            ));
        }
        Ok(Vectors { data, dim })
    }

    /// Views native-endian `f32` bytes (e.g. a `memmap2::Mmap` of a raw little-endian
    /// `f32` file on a little-endian machine) without copying. Errors if the bytes are
    /// not 4-byte aligned (mmaps are page aligned) or not a whole number of vectors.
    pub fn from_ne_bytes(bytes: &'a [u8], dim: usize) -> Result<Self, KnnError> {
        // SAFETY: every bit pattern is a valid f32, and `align_to` only puts correctly
        // aligned, in-bounds elements in the middle slice.
        let (head, mid, tail) = unsafe { bytes.align_to::<f32>() };
        if !head.is_empty() {
            return Err(KnnError::bad(
                "bytes (address)",
                format!("{:p}", bytes.as_ptr()),
                "4-byte aligned",
            ));
        }
        if !tail.is_empty() {
            return Err(KnnError::dim(
                "byte length (must be a multiple of 4)",
                bytes.len() / 4 * 4,
                bytes.len(),
            ));
        }
        Vectors::new(mid, dim)
    }

    /// Number of vectors.
    #[inline]
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    /// True if there are no vectors.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Dimension of each vector.
    #[inline]
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Vector `i` (panics if `i >= len()`; ids from this module are always in range).
    #[inline]
    pub fn get(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// The whole row-major buffer.
    #[inline]
    pub fn as_slice(&self) -> &'a [f32] {
        self.data
    }

    /// A fingerprint of the vectors: the first 16 bytes of the SHA-256 of
    /// `b"fcollide.vectors\0"`, `n` and `dim` (little-endian `u64`s), then the SHA-256 of
    /// each block of 2¹⁸ values (little-endian `f32` bytes) in order. The blocks are hashed
    /// in parallel; the result does not depend on the thread count. A DCI index records it
    /// to recognise the data it was built over.
    pub fn fingerprint(&self) -> [u8; 16] {
        use rayon::prelude::*;
        use sha2::{Digest, Sha256};
        const BLOCK: usize = 1 << 18;
        let blocks: Vec<[u8; 32]> = self
            .data
            .par_chunks(BLOCK)
            .map(|b| {
                let mut h = Sha256::new();
                let mut buf = Vec::with_capacity(4 * b.len());
                for x in b {
                    buf.extend_from_slice(&x.to_le_bytes());
                }
                h.update(&buf);
                h.finalize().into()
            })
            .collect();
        let mut h = Sha256::new();
        h.update(b"fcollide.vectors\0");
        h.update((self.len() as u64).to_le_bytes());
        h.update((self.dim as u64).to_le_bytes());
        for b in &blocks {
            h.update(b);
        }
        let full: [u8; 32] = h.finalize().into();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }
}

/// The neighbours of one query: `ids[i]` is a row of the data, `dists[i]` its
/// **squared** Euclidean distance to the query; ascending by `(dist, id)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Neighbours {
    /// Row numbers in the data set, nearest first.
    pub ids: Vec<u32>,
    /// Squared Euclidean distances, same order as `ids`.
    pub dists: Vec<f32>,
}

impl Neighbours {
    /// Number of neighbours held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True if none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Recall@k by ids: `|approx.ids ∩ exact.ids| / |exact.ids|` (1 if `exact` is empty),
/// where k is `exact.len()`.
pub fn recall_at_k(approx: &Neighbours, exact: &Neighbours) -> f64 {
    if exact.is_empty() {
        return 1.0;
    }
    let hit = approx
        .ids
        .iter()
        .filter(|id| exact.ids.contains(id))
        .count()
        .min(exact.len());
    hit as f64 / exact.len() as f64
}

/// Tie-aware recall@k: the fraction of `exact.len()` slots filled by an approximate
/// neighbour at distance ≤ the exact k-th distance (relative tolerance `1e-5`). Equals
/// [`recall_at_k`] without ties; with many equidistant points (e.g. the blank patches of
/// MNIST) it does not penalise returning a different one of the tied points.
pub fn recall_at_k_ties(approx: &Neighbours, exact: &Neighbours) -> f64 {
    let Some(&kth) = exact.dists.last() else {
        return 1.0;
    };
    let tol = kth.abs() * 1e-5 + 1e-12;
    let hit = approx
        .dists
        .iter()
        .filter(|&&d| d <= kth + tol)
        .count()
        .min(exact.len());
    hit as f64 / exact.len() as f64
}

/// Mean of [`recall_at_k`] (or, with `ties`, [`recall_at_k_ties`]) over paired queries.
pub fn mean_recall(approx: &[Neighbours], exact: &[Neighbours], ties: bool) -> f64 {
    if exact.is_empty() {
        return 1.0;
    }
    let s: f64 = approx
        .iter()
        .zip(exact)
        .map(|(a, e)| {
            if ties {
                recall_at_k_ties(a, e)
            } else {
                recall_at_k(a, e)
            }
        })
        .sum();
    s / exact.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_validation() {
        let d = [0.0f32; 12];
        assert_eq!(Vectors::new(&d, 4).map(|v| v.len()).ok(), Some(3));
        assert!(matches!(
            Vectors::new(&d, 5),
            Err(KnnError::DimensionMismatch { .. })
        ));
        assert!(matches!(
            Vectors::new(&d, 0),
            Err(KnnError::BadParameter { name: "dim", .. })
        ));
        let bytes: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0]
            .iter()
            .flat_map(|x| x.to_ne_bytes())
            .collect();
        // Vec<u8> is not guaranteed 4-aligned; either outcome must be an Ok view or an
        // alignment error, never a panic.
        if let Ok(v) = Vectors::from_ne_bytes(&bytes, 2) {
            assert_eq!(v.get(1), &[3.0, 4.0]);
        }
        let aligned = [1.0f32, 2.0, 3.0, 4.0];
        // SAFETY: viewing initialised f32 memory as bytes.
        let b: &[u8] = unsafe { std::slice::from_raw_parts(aligned.as_ptr().cast(), 16) };
        let v = Vectors::from_ne_bytes(b, 2).expect("aligned");
        assert_eq!(v.get(1), &[3.0, 4.0]);
        assert!(Vectors::from_ne_bytes(&b[..15], 2).is_err());
    }

    #[test]
    fn recall_helpers() {
        let e = Neighbours {
            ids: vec![1, 2, 3, 4],
            dists: vec![0.0, 1.0, 1.0, 2.0],
        };
        let a = Neighbours {
            ids: vec![1, 9, 3, 8],
            dists: vec![0.0, 1.0, 1.0, 2.0],
        };
        assert_eq!(recall_at_k(&a, &e), 0.5);
        assert_eq!(recall_at_k_ties(&a, &e), 1.0);
        assert_eq!(
            mean_recall(&[a.clone(), e.clone()], &[e.clone(), e], false),
            0.75
        );
    }

    #[test]
    fn squared_distance_paths_agree_bitwise() {
        let mut x = 0.37f32;
        let mut next = || {
            x = (x * 3.7 + 0.11).fract();
            x - 0.5
        };
        for dim in [0, 1, 7, 8, 9, 16, 63, 64, 65, 200] {
            let a: Vec<f32> = (0..dim).map(|_| next()).collect();
            let b: Vec<f32> = (0..dim).map(|_| next() * 10.0).collect();
            let r = squared_distance_lanes(&a, &b);
            assert_eq!(squared_distance(&a, &b).to_bits(), r.to_bits(), "dim {dim}");
            #[cfg(target_arch = "x86_64")]
            {
                assert_eq!(squared_distance_sse(&a, &b).to_bits(), r.to_bits());
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: AVX2 checked just above.
                    let v = unsafe { squared_distance_avx2(&a, &b) };
                    assert_eq!(v.to_bits(), r.to_bits(), "dim {dim}");
                }
            }
        }
    }

    #[test]
    fn squared_distance_matches_loop() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..19).map(|i| (i * i) as f32 * 0.1).collect();
        let r: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert!((squared_distance(&a, &b) - r).abs() <= 1e-4 * r);
    }
}
