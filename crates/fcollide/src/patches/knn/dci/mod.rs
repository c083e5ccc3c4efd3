//! Prioritized DCI (Li & Malik 2017, arXiv 1703.00440), written from the paper's
//! Algorithms 1–2.
//!
//! * **Construction.** Draw `m·L` directions `u_jl` uniformly on the unit sphere
//!   (normalised standard-normal vectors); simple index `s = l·m + j` holds the data
//!   sorted by the projection `p̄_s(x) = ⟨x, u_jl⟩`, as two arrays (projection, id).
//! * **Query.** `q̄_s = ⟨q, u_jl⟩`. For composite index `l`, a min-priority queue holds,
//!   for each of its `m` simple indices, the next not-yet-visited entry (walking
//!   outward from `q̄_s` in both directions) keyed by `|p̄_s(x) − q̄_s|`. Each step pops
//!   the globally closest entry, pushes that simple index's next one, and increments
//!   `C_l[x]`; at `C_l[x] = m` the point `x` joins the candidate set `S_l`.
//! * **Stopping rule.** Composite index `l` stops after `k1` visits or when
//!   `|S_l| = k0`, where `k0 = max(k, retrieve)` and `k1 = visit`; `k1` is extended if
//!   needed until `|S_l| ≥ k`, so that k results always exist. Then the k points of
//!   `∪_l S_l` closest to `q` (true squared distances) are returned.
//!
//! **Exact duplicates.** Bit-identical data vectors (e.g. the ~50 % blank patches of
//! MNIST) are indexed once, under their smallest id, and expanded again (ascending
//! ids, same distance) when their representative is among the k best. Without this,
//! a block of 10⁵–10⁶ equal projections sits in every simple index and the walk
//! through it, in id order from opposite sides, yields no candidates.
//!
//! The paper interleaves the composite indices round-robin; since the state (`C_l`,
//! `S_l`, queue) of each composite index evolves independently and its stopping test
//! only reads its own state, running them one after another gives the same `S_l`, and
//! lets one counter table be reused.
//!
//! # File format (version 1, all integers and floats little-endian)
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic [`INDEX_MAGIC`] = `b"FCKNNDCI"` |
//! | 8 | 4 | version `u32` = 1 |
//! | 12 | 4 | `dim` `u32` |
//! | 16 | 8 | `n` `u64` |
//! | 24 | 4 | `L` (`num_composite`) `u32` |
//! | 28 | 4 | `m` (`num_simple`) `u32` |
//! | 32 | 8 | `seed` `u64` |
//! | 40 | 1 | `retrieve` kind: 0 = `Count`, 1 = `Fraction` |
//! | 41 | 8 | `retrieve` value: `u64` count or `f64` fraction |
//! | 49 | 1 | `visit` kind |
//! | 50 | 8 | `visit` value |
//! | 58 | 1 | directions: 0 = isotropic, 1 = data differences |
//! | 59 | 5 | zero |
//! | 64 | 8 | `nu`, number of distinct vectors indexed, `u64` |
//! | 72 | 8 | `g`, number of groups of duplicates, `u64` |
//! | 80 | 8 | `nd = n − nu`, number of duplicates, `u64` |
//! | 88 | 8 | zero (header is 96 bytes) |
//! | 96 | `4·L·m·dim` | directions, `f32`, row `s = l·m + j` |
//! | … | `4·L·m·nu` | sorted projections, `f32`, row `s` |
//! | … | `4·L·m·nu` | point ids, `u32`, row `s` |
//! | … | `4·g` | representative of each group of duplicates, `u32`, ascending |
//! | … | `4·(g+1)` | offsets of each group into the next table, `u32` |
//! | … | `4·nd` | the other members of each group, `u32`, ascending per group |
//!
//! The file length must equal exactly `96 + 4·(L·m·(dim + 2·nu) + 2g + 1 + nd)`; `load`
//! also checks the parameters, the counts, that ids are `< n`, that every row of
//! projections is sorted and that the duplicate table is well formed.
//! Files are written to a temporary file in the same folder, synced, then renamed.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use super::topk::TopK;
use super::{squared_distance, KnnError, Neighbours, Vectors};

/// First 8 bytes of a saved index.
pub const INDEX_MAGIC: [u8; 8] = *b"FCKNNDCI";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 96;
/// Most simple indices per composite index (counters are `u8`).
const MAX_SIMPLE: usize = 255;
/// Most composite indices.
const MAX_COMPOSITE: usize = 1024;
/// Data points per projection block at build time (fixed: results do not depend on
/// the thread count).
const BUILD_BLOCK: usize = 4096;

/// A budget given as an absolute number or as a fraction of what exists.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// An absolute number (≥ 1).
    Count(usize),
    /// A fraction in `(0, 1]` of the maximum (see the field using it).
    Fraction(f64),
}

impl Budget {
    fn resolve(self, name: &'static str, max: usize) -> Result<usize, KnnError> {
        match self {
            Budget::Count(c) if c >= 1 => Ok(c.min(max)),
            Budget::Count(c) => Err(KnnError::bad(name, c, "a count of at least 1")),
            Budget::Fraction(f) if f > 0.0 && f <= 1.0 => {
                Ok(((f * max as f64).ceil() as usize).clamp(1, max))
            }
            Budget::Fraction(f) => Err(KnnError::bad(name, f, "a fraction in (0, 1]")),
        }
    }
}

/// Parameters of Prioritized DCI (unchecked; see [`DciParams::check`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DciParams {
    /// `L`, the number of composite indices, in `1..=1024`.
    pub num_composite: usize,
    /// `m`, the number of simple indices per composite index, in `1..=255`.
    pub num_simple: usize,
    /// `k0`, candidates per composite index before it stops: `Count(c)` or
    /// `Fraction(f)` of `n`. At query time `max(k0, k)` is used.
    pub retrieve: Budget,
    /// `k1`, visits (pops) per composite index before it stops: `Count(c)` or
    /// `Fraction(f)` of `m·n` (all entries of a composite index; `Fraction(1.0)`
    /// visits everything).
    pub visit: Budget,
    /// Seed of the `ChaCha8Rng` drawing the directions.
    pub seed: u64,
    /// How the directions `u_jl` are drawn.
    pub directions: Directions,
}

/// Distribution of the projection directions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Directions {
    /// Uniform on the unit sphere, as in the paper.
    #[default]
    Isotropic,
    /// `u = (x_a − x_b) / ‖x_a − x_b‖` for two random distinct data points: random
    /// directions shaped like the data covariance (an extension, not in the paper), which
    /// favours the directions in which the data spread, and helps on data concentrated
    /// near a low-dimensional subspace such as image patches.
    DataDifferences,
}

impl Default for DciParams {
    /// `L = 2`, `m = 10`, isotropic directions, `k0 = 1000`, `k1 = 50 000`, seed 0:
    /// recall@10 ≥ 0.9 on clustered data (see `tests/it/knn.rs`). Not sufficient for
    /// ~10⁶ MNIST patches, whose low relative contrast needs far larger budgets (see
    /// `benches/knn.rs`).
    fn default() -> Self {
        DciParams {
            num_composite: 2,
            num_simple: 10,
            retrieve: Budget::Count(1000),
            visit: Budget::Count(50_000),
            seed: 0,
            directions: Directions::Isotropic,
        }
    }
}

impl DciParams {
    /// Checks the parameters against a data set of `n` points of dimension `dim`.
    pub fn check(self, dim: usize, n: usize) -> Result<ValidDciParams, KnnError> {
        if dim == 0 || dim > u32::MAX as usize {
            return Err(KnnError::bad("dim", dim, "in 1..=u32::MAX"));
        }
        if n == 0 || n >= u32::MAX as usize {
            return Err(KnnError::bad("n (number of points)", n, "in 1..u32::MAX"));
        }
        if !(1..=MAX_COMPOSITE).contains(&self.num_composite) {
            return Err(KnnError::bad(
                "num_composite",
                self.num_composite,
                "in 1..=1024",
            ));
        }
        if !(1..=MAX_SIMPLE).contains(&self.num_simple) {
            return Err(KnnError::bad("num_simple", self.num_simple, "in 1..=255"));
        }
        let k0 = self.retrieve.resolve("retrieve", n)?;
        let k1 = self.visit.resolve("visit", self.num_simple * n)?;
        Ok(ValidDciParams {
            params: self,
            dim,
            n,
            k0,
            k1,
        })
    }
}

/// Parameters checked against `(dim, n)`, with the budgets resolved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ValidDciParams {
    params: DciParams,
    dim: usize,
    n: usize,
    k0: usize,
    k1: usize,
}

impl ValidDciParams {
    /// The parameters as given.
    pub fn params(&self) -> &DciParams {
        &self.params
    }
    /// Dimension checked against.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Number of points checked against.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Resolved candidate budget `k0` (before `max(k0, k)`).
    pub fn k0(&self) -> usize {
        self.k0
    }
    /// Resolved visit budget `k1`.
    pub fn k1(&self) -> usize {
        self.k1
    }
}

/// `count` unit vectors of dimension `dim`, uniform on the sphere (row-major).
pub fn random_directions(count: usize, dim: usize, rng: &mut impl Rng) -> Vec<f32> {
    let mut out = Vec::with_capacity(count * dim);
    for _ in 0..count {
        loop {
            let v: Vec<f64> = (0..dim).map(|_| StandardNormal.sample(rng)).collect();
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 1e-12 {
                out.extend(v.iter().map(|x| (x / norm) as f32));
                break;
            }
        }
    }
    out
}

/// `count` directions `(x_a − x_b)/‖x_a − x_b‖` for uniformly drawn pairs of data
/// points; a pair of (near-)identical points is redrawn, and after 100 failures an
/// isotropic direction is used.
pub fn difference_directions(data: &Vectors<'_>, count: usize, rng: &mut impl Rng) -> Vec<f32> {
    let (n, dim) = (data.len(), data.dim());
    let mut out = Vec::with_capacity(count * dim);
    for _ in 0..count {
        let mut done = false;
        for _ in 0..100 {
            if n < 2 {
                break;
            }
            let a = data.get(rng.random_range(0..n));
            let b = data.get(rng.random_range(0..n));
            let v: Vec<f64> = a.iter().zip(b).map(|(x, y)| (x - y) as f64).collect();
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 1e-12 && norm.is_finite() {
                out.extend(v.iter().map(|x| (x / norm) as f32));
                done = true;
                break;
            }
        }
        if !done {
            out.extend(random_directions(1, dim, rng));
        }
    }
    out
}

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + s
}

/// Counters `C_l[x]` for the points visited by one composite index: a dense `u8`
/// array over all ids (one byte per point per thread, L2-friendly for ~10⁶ points)
/// plus the list of touched ids, so that clearing costs only what was visited.
struct Counters {
    counts: Vec<u8>,
    touched: Vec<u32>,
}

impl Counters {
    fn new(n: usize) -> Self {
        Counters {
            counts: vec![0; n],
            touched: Vec::new(),
        }
    }

    fn clear(&mut self) {
        for &id in &self.touched {
            self.counts[id as usize] = 0;
        }
        self.touched.clear();
    }

    /// Increments the counter of `id` (saturating) and returns the new value.
    #[inline]
    fn incr(&mut self, id: u32) -> u8 {
        let c = &mut self.counts[id as usize];
        if *c == 0 {
            self.touched.push(id);
        }
        *c = c.saturating_add(1);
        *c
    }
}

/// Heap entry: priority `|p̄ − q̄|`, simple index `j` (within the composite), and the
/// position of the entry in that simple index's sorted arrays.
#[derive(Clone, Copy)]
struct Item {
    prio: f32,
    j: u32,
    pos: u32,
}

/// Min-heap on `(prio, j)` of fixed size m; `prio = +inf` marks an exhausted index.
struct SmallHeap {
    items: Vec<Item>,
}

impl SmallHeap {
    #[inline]
    fn less(a: &Item, b: &Item) -> bool {
        a.prio < b.prio || (a.prio == b.prio && a.j < b.j)
    }

    fn heapify(&mut self) {
        for i in (0..self.items.len() / 2).rev() {
            self.sift_down(i);
        }
    }

    #[inline]
    fn sift_down(&mut self, mut i: usize) {
        let n = self.items.len();
        loop {
            let l = 2 * i + 1;
            if l >= n {
                return;
            }
            let r = l + 1;
            let c = if r < n && Self::less(&self.items[r], &self.items[l]) {
                r
            } else {
                l
            };
            if Self::less(&self.items[c], &self.items[i]) {
                self.items.swap(c, i);
                i = c;
            } else {
                return;
            }
        }
    }
}

/// Per-thread query workspace.
struct Scratch {
    qproj: Vec<f32>,
    left: Vec<usize>,
    right: Vec<usize>,
    heap: SmallHeap,
    counters: Counters,
    cands: Vec<u32>,
}

impl Scratch {
    fn new(params: &ValidDciParams) -> Self {
        let lm = params.params.num_composite * params.params.num_simple;
        Scratch {
            qproj: vec![0.0; lm],
            left: vec![0; params.params.num_simple],
            right: vec![0; params.params.num_simple],
            heap: SmallHeap {
                items: Vec::with_capacity(params.params.num_simple),
            },
            counters: Counters::new(params.n),
            cands: Vec::new(),
        }
    }
}

/// Work done by one query (for tuning).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Entries popped, summed over composite indices.
    pub visits: u64,
    /// Distinct candidates whose true distance was evaluated.
    pub candidates: u64,
}

/// A Prioritized DCI index over a data set that it does not own: pass the same
/// [`Vectors`] (same `n`, `dim`) to the search methods.
#[derive(Clone, Debug, PartialEq)]
pub struct DciIndex {
    params: ValidDciParams,
    /// `(L·m) × dim`, row `s = l·m + j` is `u_jl`.
    directions: Vec<f32>,
    /// Number of distinct vectors indexed (`nu ≤ n`).
    nu: usize,
    /// `(L·m) × nu`, each row ascending (ties by id).
    keys: Vec<f32>,
    /// `(L·m) × nu`, the point (representative id) of each key.
    ids: Vec<u32>,
    /// Representatives (smallest id) of groups of bit-identical vectors, ascending.
    dup_reps: Vec<u32>,
    /// `dup_reps.len() + 1` offsets into `dup_ids`.
    dup_offsets: Vec<u32>,
    /// The other members of each group, ascending within a group.
    dup_ids: Vec<u32>,
}

impl DciIndex {
    /// Checks `params` against `data` and builds the index (see [`DciIndex::build`]).
    pub fn new(data: Vectors<'_>, params: DciParams) -> Result<Self, KnnError> {
        let valid = params.check(data.dim(), data.len())?;
        Self::build(data, valid)
    }

    /// Builds the index: directions from `ChaCha8Rng::seed_from_u64(seed)`, then
    /// projections (`gemm`, fixed-size data blocks) and sorts, in parallel. The result
    /// depends only on the data and the parameters, not on the thread count.
    pub fn build(data: Vectors<'_>, params: ValidDciParams) -> Result<Self, KnnError> {
        if data.dim() != params.dim {
            return Err(KnnError::dim("data dimension", params.dim, data.dim()));
        }
        if data.len() != params.n {
            return Err(KnnError::dim("number of data points", params.n, data.len()));
        }
        let dim = params.dim;
        let lm = params.params.num_composite * params.params.num_simple;
        let mut rng = ChaCha8Rng::seed_from_u64(params.params.seed);
        let directions = match params.params.directions {
            Directions::Isotropic => random_directions(lm, dim, &mut rng),
            Directions::DataDifferences => difference_directions(&data, lm, &mut rng),
        };
        let (reps, dup_reps, dup_offsets, dup_ids) = group_duplicates(&data);
        let nu = reps.len();

        // Projections of the representatives, block-major: block b holds lm × len_b
        // values (row s), for reps[b·BUILD_BLOCK ..].
        let blocks: Vec<Vec<f32>> = reps
            .par_chunks(BUILD_BLOCK)
            .map(|ids| {
                let nb = ids.len();
                let mut chunk = Vec::with_capacity(nb * dim);
                for &id in ids {
                    chunk.extend_from_slice(data.get(id as usize));
                }
                let mut out = vec![0.0f32; lm * nb];
                // SAFETY: dst is lm × nb row-major in `out`; lhs = directions, lm × dim
                // row-major; rhs = chunkᵀ (dim × nb) from the nb × dim row-major chunk
                // (row stride 1, column stride dim). All within their slices.
                unsafe {
                    gemm::gemm(
                        lm,
                        nb,
                        dim,
                        out.as_mut_ptr(),
                        1,
                        nb as isize,
                        false,
                        directions.as_ptr(),
                        1,
                        dim as isize,
                        chunk.as_ptr(),
                        dim as isize,
                        1,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
                out
            })
            .collect();

        let mut keys = vec![0.0f32; lm * nu];
        let mut ids = vec![0u32; lm * nu];
        keys.par_chunks_mut(nu)
            .zip(ids.par_chunks_mut(nu))
            .enumerate()
            .for_each(|(s, (krow, irow))| {
                let mut pairs: Vec<(f32, u32)> = Vec::with_capacity(nu);
                for (b, blk) in blocks.iter().enumerate() {
                    let nb = blk.len() / lm;
                    let base = b * BUILD_BLOCK;
                    pairs.extend(
                        blk[s * nb..(s + 1) * nb]
                            .iter()
                            .enumerate()
                            .map(|(i, &p)| (p, reps[base + i])),
                    );
                }
                pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                for (i, (p, id)) in pairs.into_iter().enumerate() {
                    krow[i] = p;
                    irow[i] = id;
                }
            });
        Ok(DciIndex {
            params,
            directions,
            nu,
            keys,
            ids,
            dup_reps,
            dup_offsets,
            dup_ids,
        })
    }

    /// The (checked) parameters.
    pub fn params(&self) -> &ValidDciParams {
        &self.params
    }

    /// Number of indexed points.
    pub fn len(&self) -> usize {
        self.params.n
    }

    /// Always false (an index holds at least one point).
    pub fn is_empty(&self) -> bool {
        self.params.n == 0
    }

    /// Number of distinct vectors actually indexed: bit-identical vectors are
    /// indexed once (by their smallest id) and expanded again in the results.
    pub fn num_distinct(&self) -> usize {
        self.nu
    }

    /// The other ids of the vectors bit-identical to representative `rep`.
    fn duplicates(&self, rep: u32) -> &[u32] {
        match self.dup_reps.binary_search(&rep) {
            Ok(g) => &self.dup_ids[self.dup_offsets[g] as usize..self.dup_offsets[g + 1] as usize],
            Err(_) => &[],
        }
    }

    /// Dimension of the indexed points.
    pub fn dim(&self) -> usize {
        self.params.dim
    }

    /// Changes the query budgets `k0` (`retrieve`) and `k1` (`visit`) without
    /// rebuilding; errors (and leaves the index unchanged) if they are invalid.
    pub fn set_budget(&mut self, retrieve: Budget, visit: Budget) -> Result<(), KnnError> {
        let p = DciParams {
            retrieve,
            visit,
            ..self.params.params
        };
        self.params = p.check(self.params.dim, self.params.n)?;
        Ok(())
    }

    fn check_data(&self, data: &Vectors<'_>, qdim: usize, k: usize) -> Result<(), KnnError> {
        if data.dim() != self.params.dim {
            return Err(KnnError::dim("data dimension", self.params.dim, data.dim()));
        }
        if data.len() != self.params.n {
            return Err(KnnError::dim(
                "number of data points",
                self.params.n,
                data.len(),
            ));
        }
        if qdim != self.params.dim {
            return Err(KnnError::dim("query dimension", self.params.dim, qdim));
        }
        if k > self.params.n {
            return Err(KnnError::KTooLarge {
                k,
                n: self.params.n,
            });
        }
        Ok(())
    }

    /// The approximate k nearest neighbours of `query` among `data` (the data the
    /// index was built on), with squared distances.
    pub fn search(
        &self,
        data: Vectors<'_>,
        query: &[f32],
        k: usize,
    ) -> Result<Neighbours, KnnError> {
        self.search_with_stats(data, query, k).map(|r| r.0)
    }

    /// [`DciIndex::search`], also returning the work done.
    pub fn search_with_stats(
        &self,
        data: Vectors<'_>,
        query: &[f32],
        k: usize,
    ) -> Result<(Neighbours, QueryStats), KnnError> {
        self.check_data(&data, query.len(), k)?;
        check_finite(query)?;
        let mut scratch = Scratch::new(&self.params);
        Ok(self.query_one(&data, query, k, &mut scratch))
    }

    /// [`DciIndex::search`] for every query, in parallel.
    pub fn search_batch(
        &self,
        data: Vectors<'_>,
        queries: Vectors<'_>,
        k: usize,
    ) -> Result<Vec<Neighbours>, KnnError> {
        Ok(self
            .search_batch_with_stats(data, queries, k)?
            .into_iter()
            .map(|r| r.0)
            .collect())
    }

    /// [`DciIndex::search_batch`], also returning the work done per query.
    pub fn search_batch_with_stats(
        &self,
        data: Vectors<'_>,
        queries: Vectors<'_>,
        k: usize,
    ) -> Result<Vec<(Neighbours, QueryStats)>, KnnError> {
        self.check_data(&data, queries.dim(), k)?;
        check_finite(queries.as_slice())?;
        Ok((0..queries.len())
            .into_par_iter()
            .map_init(
                || Scratch::new(&self.params),
                |s, qi| self.query_one(&data, queries.get(qi), k, s),
            )
            .collect())
    }

    /// Algorithm 2 of the paper for one query (inputs already checked).
    fn query_one(
        &self,
        data: &Vectors<'_>,
        q: &[f32],
        k: usize,
        s: &mut Scratch,
    ) -> (Neighbours, QueryStats) {
        let p = &self.params.params;
        let (n, dim, m) = (self.nu, self.params.dim, p.num_simple);
        let k0 = self.params.k0.max(k);
        let k1 = self.params.k1;
        for (sidx, qp) in s.qproj.iter_mut().enumerate() {
            *qp = dot(q, &self.directions[sidx * dim..(sidx + 1) * dim]);
        }
        let mut stats = QueryStats::default();
        s.cands.clear();
        if k == 0 {
            return (Neighbours::default(), stats);
        }
        for l in 0..p.num_composite {
            s.counters.clear();
            s.heap.items.clear();
            let mut found = 0usize;
            for j in 0..m {
                let sidx = l * m + j;
                let keys = &self.keys[sidx * n..(sidx + 1) * n];
                let qp = s.qproj[sidx];
                let pos = keys.partition_point(|&x| x.total_cmp(&qp).is_lt());
                s.left[j] = pos;
                s.right[j] = pos;
                s.heap.items.push(next_item(keys, qp, pos, pos, j));
            }
            s.heap.heapify();
            let mut visits = 0usize;
            while visits < k1 || found < k {
                let top = s.heap.items[0];
                if top.prio == f32::INFINITY || found >= k0 {
                    break;
                }
                let j = top.j as usize;
                let sidx = l * m + j;
                let pos = top.pos as usize;
                if pos == s.right[j] {
                    s.right[j] += 1;
                } else {
                    s.left[j] -= 1;
                }
                let keys = &self.keys[sidx * n..(sidx + 1) * n];
                s.heap.items[0] = next_item(keys, s.qproj[sidx], s.left[j], s.right[j], j);
                s.heap.sift_down(0);
                let id = self.ids[sidx * n + pos];
                visits += 1;
                if s.counters.incr(id) as usize == m {
                    s.cands.push(id);
                    found += 1;
                }
            }
            stats.visits += visits as u64;
        }
        s.cands.sort_unstable();
        s.cands.dedup();
        stats.candidates = s.cands.len() as u64;
        let mut top = TopK::new(k);
        const AHEAD: usize = 8;
        for &id in s.cands.iter().take(AHEAD) {
            prefetch(data.get(id as usize));
        }
        for (i, &id) in s.cands.iter().enumerate() {
            if let Some(&next) = s.cands.get(i + AHEAD) {
                prefetch(data.get(next as usize));
            }
            let d = squared_distance(q, data.get(id as usize));
            if top.push(d, id) {
                // Duplicates share the distance and have larger ids: offer them in
                // ascending id order until one is rejected (all later ones would be).
                for &dup in self.duplicates(id) {
                    if !top.push(d, dup) {
                        break;
                    }
                }
            }
        }
        (top.into_neighbours(), stats)
    }

    /// Saves the index (format in the module docs), atomically: a temporary file in
    /// the same folder is written, synced and renamed over `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), KnnError> {
        let path = path.as_ref();
        let io = |source| KnnError::Io {
            path: path.to_path_buf(),
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| KnnError::bad("path", path.display(), "a file path"))?;
        let tmp = dir.join(format!(
            ".{}.tmp{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let result = (|| -> Result<(), KnnError> {
            let file = File::create(&tmp).map_err(|source| KnnError::Io {
                path: tmp.clone(),
                source,
            })?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            self.write_to(&mut w).map_err(|source| KnnError::Io {
                path: tmp.clone(),
                source,
            })?;
            let file = w.into_inner().map_err(|e| KnnError::Io {
                path: tmp.clone(),
                source: e.into_error(),
            })?;
            file.sync_all().map_err(|source| KnnError::Io {
                path: tmp.clone(),
                source,
            })?;
            std::fs::rename(&tmp, path).map_err(io)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn write_to(&self, w: &mut impl Write) -> std::io::Result<()> {
        let p = &self.params.params;
        let mut h = [0u8; HEADER_LEN];
        h[0..8].copy_from_slice(&INDEX_MAGIC);
        h[8..12].copy_from_slice(&VERSION.to_le_bytes());
        h[12..16].copy_from_slice(&(self.params.dim as u32).to_le_bytes());
        h[16..24].copy_from_slice(&(self.params.n as u64).to_le_bytes());
        h[24..28].copy_from_slice(&(p.num_composite as u32).to_le_bytes());
        h[28..32].copy_from_slice(&(p.num_simple as u32).to_le_bytes());
        h[32..40].copy_from_slice(&p.seed.to_le_bytes());
        let budget = |b: Budget| -> (u8, [u8; 8]) {
            match b {
                Budget::Count(c) => (0, (c as u64).to_le_bytes()),
                Budget::Fraction(f) => (1, f.to_le_bytes()),
            }
        };
        let (t, v) = budget(p.retrieve);
        h[40] = t;
        h[41..49].copy_from_slice(&v);
        let (t, v) = budget(p.visit);
        h[49] = t;
        h[50..58].copy_from_slice(&v);
        h[58] = match p.directions {
            Directions::Isotropic => 0,
            Directions::DataDifferences => 1,
        };
        h[64..72].copy_from_slice(&(self.nu as u64).to_le_bytes());
        h[72..80].copy_from_slice(&(self.dup_reps.len() as u64).to_le_bytes());
        h[80..88].copy_from_slice(&(self.dup_ids.len() as u64).to_le_bytes());
        w.write_all(&h)?;
        let mut buf = Vec::with_capacity(1 << 16);
        let mut words =
            |w: &mut dyn Write, v: &mut dyn Iterator<Item = [u8; 4]>| -> std::io::Result<()> {
                loop {
                    buf.clear();
                    buf.extend(v.take(1 << 14).flatten());
                    if buf.is_empty() {
                        return Ok(());
                    }
                    w.write_all(&buf)?;
                }
            };
        words(w, &mut self.directions.iter().map(|x| x.to_le_bytes()))?;
        words(w, &mut self.keys.iter().map(|x| x.to_le_bytes()))?;
        words(w, &mut self.ids.iter().map(|x| x.to_le_bytes()))?;
        words(w, &mut self.dup_reps.iter().map(|x| x.to_le_bytes()))?;
        words(w, &mut self.dup_offsets.iter().map(|x| x.to_le_bytes()))?;
        words(w, &mut self.dup_ids.iter().map(|x| x.to_le_bytes()))?;
        w.flush()
    }

    /// Loads an index saved by [`DciIndex::save`], checking the header, the exact file
    /// length, the parameters, that ids are `< n` and that projections are sorted.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, KnnError> {
        let path = path.as_ref();
        let io = |source| KnnError::Io {
            path: path.to_path_buf(),
            source,
        };
        let corrupt = |reason: String| KnnError::CorruptIndex {
            path: path.to_path_buf(),
            reason,
        };
        let file = File::open(path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut h = [0u8; HEADER_LEN];
        if file_len < HEADER_LEN as u64 {
            return Err(corrupt(format!(
                "{file_len} bytes, shorter than the {HEADER_LEN}-byte header"
            )));
        }
        r.read_exact(&mut h).map_err(io)?;
        if h[0..8] != INDEX_MAGIC {
            return Err(corrupt("bad magic (not an fcollide DCI index)".into()));
        }
        let u32_at = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
        let u64_at = |o: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&h[o..o + 8]);
            u64::from_le_bytes(b)
        };
        let version = u32_at(8);
        if version != VERSION {
            return Err(corrupt(format!(
                "unsupported version {version} (expected {VERSION})"
            )));
        }
        let dim = u32_at(12) as u64;
        let n = u64_at(16);
        let lc = u32_at(24) as u64;
        let ms = u32_at(28) as u64;
        let seed = u64_at(32);
        let budget = |tag: u8, o: usize| -> Result<Budget, KnnError> {
            match tag {
                0 => Ok(Budget::Count(
                    usize::try_from(u64_at(o)).unwrap_or(usize::MAX),
                )),
                1 => Ok(Budget::Fraction(f64::from_bits(u64_at(o)))),
                t => Err(corrupt(format!("unknown budget kind {t}"))),
            }
        };
        let retrieve = budget(h[40], 41)?;
        let visit = budget(h[49], 50)?;
        let directions_kind = match h[58] {
            0 => Directions::Isotropic,
            1 => Directions::DataDifferences,
            t => return Err(corrupt(format!("unknown directions kind {t}"))),
        };
        let nu = u64_at(64);
        let ng = u64_at(72);
        let nd = u64_at(80);
        if nu == 0 || nu > n || nd != n - nu {
            return Err(corrupt(format!(
                "inconsistent counts: n = {n}, distinct = {nu}, duplicates = {nd}"
            )));
        }
        if ng > nd {
            return Err(corrupt(format!(
                "{ng} duplicate groups for {nd} duplicates"
            )));
        }
        // Exact expected length, with overflow checks on the (untrusted) header.
        let expected = lc
            .checked_mul(ms)
            .and_then(|lm| {
                let per = dim.checked_add(nu.checked_mul(2)?)?;
                lm.checked_mul(per)
            })
            .and_then(|w| w.checked_add(ng.checked_mul(2)?.checked_add(1)?.checked_add(nd)?))
            .and_then(|w| w.checked_mul(4)?.checked_add(HEADER_LEN as u64));
        match expected {
            Some(e) if e == file_len => {}
            Some(e) => {
                return Err(corrupt(format!(
                    "length {file_len} bytes, header implies {e}"
                )))
            }
            None => return Err(corrupt("header sizes overflow".into())),
        }
        let to_usize = |v: u64, what: &str| {
            usize::try_from(v).map_err(|_| corrupt(format!("{what} = {v} too large")))
        };
        let params = DciParams {
            num_composite: to_usize(lc, "num_composite")?,
            num_simple: to_usize(ms, "num_simple")?,
            retrieve,
            visit,
            seed,
            directions: directions_kind,
        }
        .check(to_usize(dim, "dim")?, to_usize(n, "n")?)
        .map_err(|e| corrupt(format!("bad parameters: {e}")))?;
        let (n, dim) = (params.n, params.dim);
        let lm = params.params.num_composite * params.params.num_simple;
        // All counts are ≤ n < u32::MAX here, and the file length matched.
        let (nu, ng, nd) = (nu as usize, ng as usize, nd as usize);

        let mut directions = vec![0.0f32; lm * dim];
        let mut keys = vec![0.0f32; lm * nu];
        let mut ids = vec![0u32; lm * nu];
        let mut dup_reps = vec![0u32; ng];
        let mut dup_offsets = vec![0u32; ng + 1];
        let mut dup_ids = vec![0u32; nd];
        let mut buf = vec![0u8; 1 << 16];
        read_words(&mut r, &mut buf, &mut directions, f32::from_le_bytes).map_err(io)?;
        read_words(&mut r, &mut buf, &mut keys, f32::from_le_bytes).map_err(io)?;
        read_words(&mut r, &mut buf, &mut ids, u32::from_le_bytes).map_err(io)?;
        read_words(&mut r, &mut buf, &mut dup_reps, u32::from_le_bytes).map_err(io)?;
        read_words(&mut r, &mut buf, &mut dup_offsets, u32::from_le_bytes).map_err(io)?;
        read_words(&mut r, &mut buf, &mut dup_ids, u32::from_le_bytes).map_err(io)?;
        let all_ids = ids.iter().chain(&dup_reps).chain(&dup_ids);
        if let Some(bad) = all_ids.into_iter().find(|&&id| id as usize >= n) {
            return Err(corrupt(format!("point id {bad} out of range (n = {n})")));
        }
        for (s, row) in keys.chunks(nu).enumerate() {
            if row.windows(2).any(|w| w[0].total_cmp(&w[1]).is_gt()) {
                return Err(corrupt(format!(
                    "projections of simple index {s} not sorted"
                )));
            }
        }
        if dup_reps.windows(2).any(|w| w[0] >= w[1])
            || dup_offsets.first() != Some(&0)
            || dup_offsets.last().map(|&o| o as usize) != Some(nd)
            || dup_offsets.windows(2).any(|w| w[0] > w[1])
        {
            return Err(corrupt("malformed duplicate table".into()));
        }
        Ok(DciIndex {
            params,
            directions,
            nu,
            keys,
            ids,
            dup_reps,
            dup_offsets,
            dup_ids,
        })
    }
}

/// Groups bit-identical vectors. Returns `(reps, dup_reps, dup_offsets, dup_ids)`:
/// the smallest id of every group (ascending), and for the groups of size > 1 their
/// representative (ascending), offsets and the other members (ascending).
#[allow(clippy::type_complexity)]
fn group_duplicates(data: &Vectors<'_>) -> (Vec<u32>, Vec<u32>, Vec<u32>, Vec<u32>) {
    let n = data.len();
    let hash = |v: &[f32]| {
        v.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
            (h ^ x.to_bits() as u64).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let mut order: Vec<(u64, u32)> = (0..n)
        .into_par_iter()
        .map(|i| (hash(data.get(i)), i as u32))
        .collect();
    order.par_sort_unstable();
    let bits_eq = |a: u32, b: u32| {
        let (x, y) = (data.get(a as usize), data.get(b as usize));
        x.iter().zip(y).all(|(u, v)| u.to_bits() == v.to_bits())
    };
    let mut reps = Vec::with_capacity(n);
    let mut groups: Vec<(u32, Vec<u32>)> = Vec::new();
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && order[j].0 == order[i].0 {
            j += 1;
        }
        // One hash run, ids ascending: split it into groups of equal vectors (almost
        // always a single group).
        let mut run: Vec<(u32, Vec<u32>)> = Vec::new();
        for &(_, id) in &order[i..j] {
            match run.iter_mut().find(|g| bits_eq(g.0, id)) {
                Some(g) => g.1.push(id),
                None => run.push((id, Vec::new())),
            }
        }
        for (rep, others) in run {
            reps.push(rep);
            if !others.is_empty() {
                groups.push((rep, others));
            }
        }
        i = j;
    }
    reps.sort_unstable();
    groups.sort_unstable_by_key(|g| g.0);
    let mut dup_reps = Vec::with_capacity(groups.len());
    let mut dup_offsets = Vec::with_capacity(groups.len() + 1);
    let mut dup_ids = Vec::new();
    dup_offsets.push(0u32);
    for (rep, others) in groups {
        dup_reps.push(rep);
        dup_ids.extend(others);
        dup_offsets.push(dup_ids.len() as u32);
    }
    (reps, dup_reps, dup_offsets, dup_ids)
}

/// Hints the CPU to load `v` into cache (no-op off x86-64): candidate rows are
/// scattered over the whole data set, so their loads are overlapped.
#[inline(always)]
fn prefetch(v: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        for line in v.chunks(16) {
            // SAFETY: prefetching is a hint with no memory effects; SSE is part of the
            // x86-64 baseline and the address is in bounds.
            #[allow(unused_unsafe)]
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast());
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

/// Queries must be finite (a NaN projection has no position in a sorted index).
fn check_finite(q: &[f32]) -> Result<(), KnnError> {
    match q.iter().find(|x| !x.is_finite()) {
        Some(x) => Err(KnnError::bad("query value", x, "finite")),
        None => Ok(()),
    }
}

/// Fills `out` with 4-byte little-endian words read from `r`.
fn read_words<T>(
    r: &mut impl Read,
    buf: &mut [u8],
    out: &mut [T],
    conv: impl Fn([u8; 4]) -> T,
) -> std::io::Result<()> {
    let per = buf.len() / 4;
    for chunk in out.chunks_mut(per) {
        let bytes = &mut buf[..chunk.len() * 4];
        r.read_exact(bytes)?;
        for (o, b) in chunk.iter_mut().zip(bytes.chunks_exact(4)) {
            *o = conv([b[0], b[1], b[2], b[3]]);
        }
    }
    Ok(())
}

/// The closer of the next entries left (`left − 1`) and right (`right`) of `qp` in a
/// sorted simple index, as a heap item (`prio = +inf` when both sides are exhausted).
#[inline]
fn next_item(keys: &[f32], qp: f32, left: usize, right: usize, j: usize) -> Item {
    let dl = if left > 0 {
        qp - keys[left - 1]
    } else {
        f32::INFINITY
    };
    let dr = if right < keys.len() {
        keys[right] - qp
    } else {
        f32::INFINITY
    };
    let (prio, pos) = if dl <= dr {
        (dl, left.wrapping_sub(1))
    } else {
        (dr, right)
    };
    let prio = if prio.is_nan() { f32::INFINITY } else { prio };
    Item {
        prio,
        j: j as u32,
        pos: pos as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{brute_force, brute_force_naive, mean_recall};
    use super::*;

    fn int_data(rng: &mut impl Rng, n: usize, dim: usize) -> Vec<f32> {
        (0..n * dim)
            .map(|_| rng.random_range(0..4) as f32)
            .collect()
    }

    fn gauss(rng: &mut impl Rng, n: usize, dim: usize) -> Vec<f32> {
        (0..n * dim).map(|_| StandardNormal.sample(rng)).collect()
    }

    #[test]
    fn exact_when_budget_covers_everything() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for &(n, dim, k, l, m) in &[(1, 3, 1, 1, 1), (50, 5, 50, 2, 3), (700, 8, 10, 3, 4)] {
            let d = int_data(&mut rng, n, dim);
            let q = int_data(&mut rng, 20, dim);
            let dv = Vectors::new(&d, dim).unwrap();
            let qv = Vectors::new(&q, dim).unwrap();
            let params = DciParams {
                num_composite: l,
                num_simple: m,
                retrieve: Budget::Fraction(1.0),
                visit: Budget::Fraction(1.0),
                seed: 3,
                directions: Directions::Isotropic,
            };
            let idx = DciIndex::new(dv, params).unwrap();
            let a = idx.search_batch(dv, qv, k).unwrap();
            let b = brute_force_naive(dv, qv, k).unwrap();
            assert_eq!(a, b, "n={n} dim={dim} k={k}");
        }
    }

    #[test]
    fn duplicates_indexed_once_and_expanded() {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let (n, dim) = (600, 4);
        // Half the rows blank, the rest small integers (more exact duplicates).
        let mut d = int_data(&mut rng, n, dim);
        for i in (0..n).filter(|i| i % 2 == 0) {
            d[i * dim..(i + 1) * dim].fill(0.0);
        }
        let mut q = int_data(&mut rng, 30, dim);
        q[..dim].fill(0.0);
        let dv = Vectors::new(&d, dim).unwrap();
        let qv = Vectors::new(&q, dim).unwrap();
        let full = DciParams {
            num_composite: 2,
            num_simple: 3,
            retrieve: Budget::Fraction(1.0),
            visit: Budget::Fraction(1.0),
            seed: 1,
            directions: Directions::Isotropic,
        };
        let idx = DciIndex::new(dv, full).unwrap();
        assert!(idx.num_distinct() <= 4usize.pow(4)); // 4 values per coordinate
        for k in [1, 10, 299, 600] {
            let a = idx.search_batch(dv, qv, k).unwrap();
            assert_eq!(a, brute_force_naive(dv, qv, k).unwrap(), "k={k}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dups.dci");
        idx.save(&path).unwrap();
        assert_eq!(DciIndex::load(&path).unwrap(), idx);
    }

    #[test]
    fn always_k_results_and_reasonable_recall() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let (n, dim) = (4000, 6);
        let d = gauss(&mut rng, n, dim);
        let q = gauss(&mut rng, 50, dim);
        let dv = Vectors::new(&d, dim).unwrap();
        let qv = Vectors::new(&q, dim).unwrap();
        // A tiny visit budget is extended until k candidates exist.
        let params = DciParams {
            num_composite: 2,
            num_simple: 3,
            retrieve: Budget::Count(1),
            visit: Budget::Count(1),
            seed: 1,
            directions: Directions::Isotropic,
        };
        let idx = DciIndex::new(dv, params).unwrap();
        let r = idx.search_batch(dv, qv, 7).unwrap();
        assert!(r.iter().all(|x| x.len() == 7));
        let mut idx = idx;
        idx.set_budget(Budget::Count(400), Budget::Fraction(0.5))
            .unwrap();
        let a = idx.search_batch(dv, qv, 10).unwrap();
        let e = brute_force(dv, qv, 10).unwrap();
        let st = idx.search_batch_with_stats(dv, qv, 10).unwrap();
        let rec = mean_recall(&a, &e, false);
        assert!(
            rec > 0.9,
            "recall {rec} stats {:?}",
            &st[..3].iter().map(|x| x.1).collect::<Vec<_>>()
        );
    }

    #[test]
    fn params_validation() {
        let ok = DciParams::default();
        assert!(ok.check(4, 10).is_ok());
        let bad = |p: DciParams, dim, n, name: &str| match p.check(dim, n) {
            Err(KnnError::BadParameter { name: got, .. }) => assert_eq!(got, name),
            other => panic!("expected bad {name}, got {other:?}"),
        };
        bad(ok, 0, 10, "dim");
        bad(ok, 4, 0, "n (number of points)");
        bad(
            DciParams {
                num_composite: 0,
                ..ok
            },
            4,
            10,
            "num_composite",
        );
        bad(
            DciParams {
                num_simple: 0,
                ..ok
            },
            4,
            10,
            "num_simple",
        );
        bad(
            DciParams {
                num_simple: 256,
                ..ok
            },
            4,
            10,
            "num_simple",
        );
        bad(
            DciParams {
                retrieve: Budget::Count(0),
                ..ok
            },
            4,
            10,
            "retrieve",
        );
        bad(
            DciParams {
                retrieve: Budget::Fraction(0.0),
                ..ok
            },
            4,
            10,
            "retrieve",
        );
        bad(
            DciParams {
                visit: Budget::Fraction(1.5),
                ..ok
            },
            4,
            10,
            "visit",
        );
        bad(
            DciParams {
                visit: Budget::Fraction(f64::NAN),
                ..ok
            },
            4,
            10,
            "visit",
        );
        let v = DciParams {
            num_simple: 4,
            retrieve: Budget::Fraction(0.25),
            visit: Budget::Fraction(0.5),
            ..ok
        }
        .check(3, 10)
        .unwrap();
        assert_eq!((v.k0(), v.k1()), (3, 20));
        let v = DciParams {
            retrieve: Budget::Count(50),
            ..ok
        }
        .check(3, 10)
        .unwrap();
        assert_eq!(v.k0(), 10);
        // Message names parameter and range.
        let e = DciParams {
            num_simple: 0,
            ..ok
        }
        .check(3, 10)
        .unwrap_err();
        assert!(e.to_string().contains("num_simple") && e.to_string().contains("1..=255"));
    }

    #[test]
    fn query_input_errors() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let d = gauss(&mut rng, 30, 4);
        let dv = Vectors::new(&d, 4).unwrap();
        let idx = DciIndex::new(dv, DciParams::default()).unwrap();
        assert!(matches!(
            idx.search(dv, &[0.0; 3], 1),
            Err(KnnError::DimensionMismatch { .. })
        ));
        assert!(matches!(
            idx.search(dv, &[0.0; 4], 31),
            Err(KnnError::KTooLarge { .. })
        ));
        let short = Vectors::new(&d[..40], 4).unwrap();
        assert!(matches!(
            idx.search(short, &[0.0; 4], 1),
            Err(KnnError::DimensionMismatch { .. })
        ));
        assert!(idx.search(dv, &[0.0; 4], 0).unwrap().is_empty());
        assert!(matches!(
            idx.search(dv, &[f32::NAN; 4], 2),
            Err(KnnError::BadParameter { .. })
        ));
        let valid = DciParams::default().check(4, 29).unwrap();
        assert!(DciIndex::build(dv, valid).is_err());
    }

    #[test]
    fn deterministic_per_seed() {
        let mut rng = ChaCha8Rng::seed_from_u64(10);
        let d = gauss(&mut rng, 5000, 5);
        let dv = Vectors::new(&d, 5).unwrap();
        let p = DciParams {
            seed: 42,
            ..DciParams::default()
        };
        let a = DciIndex::new(dv, p).unwrap();
        let b = DciIndex::new(dv, p).unwrap();
        assert_eq!(a, b);
        let c = DciIndex::new(dv, DciParams { seed: 43, ..p }).unwrap();
        assert_ne!(a.directions, c.directions);
        let mut r1 = ChaCha8Rng::seed_from_u64(5);
        let mut r2 = ChaCha8Rng::seed_from_u64(5);
        assert_eq!(
            random_directions(3, 7, &mut r1),
            random_directions(3, 7, &mut r2)
        );
    }

    #[test]
    fn save_load_round_trip_and_corruption() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let (n, dim) = (300, 6);
        let d = gauss(&mut rng, n, dim);
        let q = gauss(&mut rng, 10, dim);
        let dv = Vectors::new(&d, dim).unwrap();
        let qv = Vectors::new(&q, dim).unwrap();
        let p = DciParams {
            num_composite: 3,
            num_simple: 4,
            retrieve: Budget::Fraction(0.3),
            visit: Budget::Count(500),
            seed: 5,
            directions: Directions::Isotropic,
        };
        let idx = DciIndex::new(dv, p).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.dci");
        idx.save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 96 + 4 * (12 * (dim + 2 * n) + 1));
        assert_eq!(&bytes[..8], b"FCKNNDCI");
        // No temporary file left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let back = DciIndex::load(&path).unwrap();
        assert_eq!(back, idx);
        assert_eq!(
            back.search_batch(dv, qv, 5).unwrap(),
            idx.search_batch(dv, qv, 5).unwrap()
        );

        let corrupt = |bytes: &[u8]| {
            let p2 = dir.path().join("bad.dci");
            std::fs::write(&p2, bytes).unwrap();
            match DciIndex::load(&p2) {
                Err(KnnError::CorruptIndex { path, reason }) => {
                    assert_eq!(path, p2);
                    reason
                }
                other => panic!("expected corrupt, got {other:?}"),
            }
        };
        corrupt(&bytes[..10]);
        corrupt(&bytes[..bytes.len() - 1]);
        let mut b = bytes.clone();
        b[0] = b'X';
        assert!(corrupt(&b).contains("magic"));
        let mut b = bytes.clone();
        b[8] = 9;
        assert!(corrupt(&b).contains("version"));
        let mut b = bytes.clone();
        b[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        corrupt(&b);
        let mut b = bytes.clone();
        b[28..32].copy_from_slice(&0u32.to_le_bytes()); // m = 0
        corrupt(&b);
        let mut b = bytes.clone();
        b[40] = 7;
        assert!(corrupt(&b).contains("budget"));
        let mut b = bytes.clone();
        let last = b.len() - 8; // last id of the last simple index
        b[last..last + 4].copy_from_slice(&(n as u32).to_le_bytes());
        assert!(corrupt(&b).contains("out of range"));
        let mut b = bytes.clone();
        let k0 = 96 + 4 * 12 * dim;
        b[k0..k0 + 4].copy_from_slice(&1e30f32.to_le_bytes());
        assert!(corrupt(&b).contains("sorted"));
        assert!(matches!(
            DciIndex::load(dir.path().join("missing.dci")),
            Err(KnnError::Io { .. })
        ));
        assert!(matches!(
            idx.save(dir.path().join("no/such/dir/x.dci")),
            Err(KnnError::Io { .. })
        ));
    }
}
