//! Prioritized DCI (Li & Malik 2017, arXiv 1703.00440), written from the paper's
//! Algorithms 1–2, with the multi-level structure (levels, field of view).
//!
//! Why levels: on 10⁶ MNIST 8×8 patches the relative contrast is low (median distance
//! from an inked query to its 10th neighbour 0.82, to its 1000th 1.64), so a one-level
//! projection filter needs a large share of the data as candidates (recall@10 0.71 with
//! 24,000 candidates and 391,000 visits per query); a hierarchy of nested random subsets
//! reaches recall 0.95 with ~2,000 distance evaluations per query (BENCHMARKS.md).
//!
//! # One level (the paper's Algorithms 1–2)
//!
//! * **Construction.** Draw `m·L` directions `u_jl` uniformly on the unit sphere
//!   (normalised standard-normal vectors); simple index `s = l·m + j` holds the data
//!   sorted by the projection `p̄_s(x) = ⟨x, u_jl⟩`.
//! * **Query.** `q̄_s = ⟨q, u_jl⟩`. For composite index `l`, a min-priority queue holds,
//!   for each of its `m` simple indices, the next not-yet-visited entry (walking
//!   outward from `q̄_s` in both directions) keyed by `|p̄_s(x) − q̄_s|`. Each step pops
//!   the globally closest entry, pushes that simple index's next one, and increments
//!   `C_l[x]`; at `C_l[x] = m` the point `x` joins the candidate set `S_l`.
//! * **Stopping rule.** Composite index `l` stops after `k1` visits or when
//!   `|S_l| = k0`, where `k0 = max(keep, retrieve)` and `k1 = visit` (`keep` = `k` for
//!   the answer); `k1` is extended if needed until `|S_l| ≥ keep`, so that enough
//!   results always exist. Then the `keep` points of `∪_l S_l` closest to `q` (true
//!   squared distances) are kept.
//! * **Whole candidate set.** When `k0` covers the whole set searched (`k0 ≥ |X|`), the
//!   traversal is skipped and every point of `X` is evaluated exactly: at dimension 64
//!   one distance (≈ 5–10 ns) costs less than one visit (≈ 20–40 ns, a heap update and
//!   a counter), and a composite index needs at least `m` visits per candidate.
//! * **Implementation.** Each simple index is walked by two cursors (left and right of
//!   `q̄_s`), so a visit reads one new entry; the heap holds `u64` keys
//!   `bits(|p̄ − q̄|) << 32 | cursor` (non-negative floats order as their bits), which
//!   reproduces the order "closest entry first, the lower simple index, then the left
//!   side, on ties"; each cursor prefetches a cache line ahead in its direction;
//!   counters, cursors and candidate lists live in per-thread scratch reused across
//!   queries and cleared through the list of touched counters.
//!
//! The paper interleaves the composite indices round-robin; since the state (`C_l`,
//! `S_l`, queue) of each composite index evolves independently and its stopping test
//! only reads its own state, running them one after another gives the same `S_l`, and
//! lets one counter table be reused.
//!
//! # Several levels
//!
//! With `λ = num_levels > 1` the distinct points `X_0` (`ν = |X_0|`) are split into
//! nested random subsets `X_{λ−1} ⊂ … ⊂ X_1 ⊂ X_0` (a `ChaCha8Rng` permutation of
//! `X_0`, drawn after the directions from the same seed; `X_ℓ` is its first
//! `ν_ℓ` points) of roughly geometric sizes
//!
//! `ν_ℓ = round(ν^{(λ−ℓ)/λ})`, clamped to `[1, ν]` ([`level_sizes`]),
//!
//! e.g. `ν = 10⁶`, `λ = 3`: 10⁶, 10⁴, 100 points.
//!
//! * **Construction, top-down.** The top level `X_{λ−1}` is one group. For `ℓ = λ−2, …,
//!   0`, every point `x ∈ X_ℓ` gets a **parent** `π(x) ∈ X_{ℓ+1}`: itself if
//!   `x ∈ X_{ℓ+1}`, otherwise the nearest point of `X_{ℓ+1}` found by a query of the
//!   levels already built (field of view `F_c` = `construction_field_of_view`, the
//!   index's budgets, `keep = 1` at level `ℓ+1`). The children of each node
//!   `y ∈ X_{ℓ+1}`, `{x ∈ X_ℓ : π(x) = y}` (never empty: `y` is its own child), are
//!   stored contiguously as one **group** (ascending ids), and within each group every
//!   simple index `s` holds the group's children sorted by `p̄_s`. Total storage is that
//!   of a one-level index over `Σ_ℓ ν_ℓ ≈ ν` points, plus a copy of the vectors of the
//!   levels `ℓ ≥ 1` (`dim·Σ_{ℓ≥1} ν_ℓ` values, 3.4 % of the data at `λ = 4` on 846 k
//!   distinct patches), so that the upper levels, searched by every query and by the
//!   construction, lie in contiguous memory instead of scattered data rows. Points are processed in parallel,
//!   but each parent depends only on the levels above, so the index does not depend
//!   on the thread count.
//! * **Query, top-down.** At level `ℓ` the candidate set `X` is the union of the groups
//!   of the nodes selected at level `ℓ+1` (at the top: all of `X_{λ−1}`). The one-level
//!   search above runs over `X` (one priority queue per composite index over the
//!   `2·|groups|·m` cursors (group, simple index, side); counters `C_l[x]` for the points
//!   of `X`), with budgets resolved **per level** against `X`: `k0 = retrieve`
//!   (`Fraction(f)`: `⌈f·|X|⌉`), `k1 = visit` (`Fraction(f)`: `⌈f·m·|X|⌉`). At `ℓ ≥ 1`
//!   the `F_k` best candidates are selected, plus, in order of distance, more while the
//!   data points below the selected nodes (duplicates included) number fewer than `k`
//!   — so that level 0 always holds `k` results. At level 0 the `k` best are returned.
//! * **Field of view and k.** `F_k = F` (`field_of_view`) for `k ≤ 10` and
//!   `F_k = ⌈F·√(k/10)⌉` for more neighbours (an addition to the paper's fixed `F`): the
//!   region to explore grows with `k`, and on 10⁶ MNIST patches 20 nodes per level give
//!   recall 0.95 at `k = 10` but 0.64 at `k = 1000`, while the rule (`F = 20`) keeps
//!   ≥ 0.97 at `k = 100` and `k = 1000` (BENCHMARKS.md).
//!
//! With `λ = 1` the only level is one group holding everything: the one-level index.
//!
//! **Exact duplicates.** Bit-identical data vectors (e.g. the ~50 % blank patches of
//! MNIST) are indexed once, under their smallest id, and expanded again (ascending
//! ids, same distance) when their representative is among the k best. Without this,
//! a block of 10⁵–10⁶ equal projections sits in every simple index and the walk
//! through it, in id order from opposite sides, yields no candidates.
//!
//! # File format (version 3, all integers and floats little-endian)
//!
//! Header (128 bytes):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic [`INDEX_MAGIC`] = `b"FCKNNDCI"` |
//! | 8 | 4 | version `u32` = 3 |
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
//! | 64 | 8 | `ν`, number of distinct vectors indexed, `u64` |
//! | 72 | 8 | `g`, number of groups of duplicates, `u64` |
//! | 80 | 8 | `nd = n − ν`, number of duplicates, `u64` |
//! | 88 | 4 | `λ` (`num_levels`) `u32` |
//! | 92 | 4 | `F` (`field_of_view`) `u32` |
//! | 96 | 4 | `F_c` (`construction_field_of_view`) `u32` |
//! | 100 | 16 | fingerprint of the data the index was built over ([`Vectors::fingerprint`]) |
//! | 116 | 12 | zero |
//!
//! Body, in 4-byte words (`G_ℓ` = number of groups of level `ℓ`: `ν_{ℓ+1}` below the
//! top, 1 at the top):
//!
//! | size | field |
//! |---|---|
//! | `4·λ` | level sizes `ν_0 = ν ≥ ν_1 ≥ … ≥ ν_{λ−1} ≥ 1`, `u32` |
//! | `4·L·m·dim` | directions, `f32`, row `s = l·m + j` |
//! | | then for each level `ℓ = 0, …, λ−1`: |
//! | `4·ν_ℓ` | members: point ids, `u32`, group by group, ascending within a group |
//! | `4·(G_ℓ+1)` | group offsets into the members, `u32` (`0`, strictly increasing, `ν_ℓ`); group `g` holds the children of member `g` of level `ℓ+1` |
//! | `4·L·m·ν_ℓ` | projections, `f32`: group `g` (offset `o`, size `c`) holds rows `s = 0..L·m` of `c` values at `L·m·o + s·c`, each row ascending |
//! | `4·L·m·ν_ℓ` | same layout: the position within its group (`0..c`) of each projection's point, `u32` |
//! | `4·dim·ν_ℓ` | levels `ℓ ≥ 1` only: the members' vectors, `f32`, in member order |
//! | | then: |
//! | `4·g` | representative of each group of duplicates, `u32`, ascending |
//! | `4·(g+1)` | offsets of each group into the next table, `u32` |
//! | `4·nd` | the other members of each group, `u32`, ascending per group, above the representative |
//!
//! The file length must equal exactly
//! `128 + 4·(λ + L·m·dim + Σ_ℓ ((1 + 2·L·m)·ν_ℓ + G_ℓ + 1) + dim·Σ_{ℓ≥1} ν_ℓ + 2g + 1 + nd)`.
//! `load` also checks the parameters, the counts, that level 0's members and the duplicates are
//! exactly the ids `0..n` once each, that every node of level `ℓ+1` is a member of its
//! own group at level `ℓ`, that each row of each group is sorted and holds every
//! position of its group once, and that the duplicate table is well formed; any
//! violation is a [`KnnError::CorruptIndex`], never a panic. Files are written with
//! [`crate::fsutil::AtomicFile`] (a synced temporary file in the same folder, renamed).
//! Version-1 files (one level, before the multi-level structure) and version-2 files
//! (without the data's fingerprint) are refused with a message asking to rebuild. An index
//! is only used with the data it was built over: [`DciIndex::check_built_over`] compares the
//! fingerprint (`PatchDb::load_index` does so for a patch database).

mod file;
#[cfg(test)]
mod tests;

use crate::linalg::gemm_strided;
use rand::seq::SliceRandom;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use super::squared_distance_avx2;
use super::topk::TopK;
use super::{squared_distance, KnnError, Neighbours, Vectors};

/// First 8 bytes of a saved index.
pub const INDEX_MAGIC: [u8; 8] = *b"FCKNNDCI";
const VERSION: u32 = 3;
const HEADER_LEN: usize = 128;
/// Most simple indices per composite index (counters are `u8`).
const MAX_SIMPLE: usize = 255;
/// Most composite indices.
const MAX_COMPOSITE: usize = 1024;
/// Most levels.
const MAX_LEVELS: usize = 16;
/// Data points per projection block at build time (fixed: results do not depend on
/// the thread count).
const BUILD_BLOCK: usize = 4096;

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A budget given as an absolute number or as a fraction of what exists.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// An absolute number (≥ 1).
    Count(usize),
    /// A fraction in `(0, 1]` of the maximum (see the field using it).
    Fraction(f64),
}

impl std::str::FromStr for Budget {
    type Err = KnnError;

    /// `all` (the whole set, `Fraction(1.0)`), a count (`1000`), or a fraction when the
    /// text contains a `.` (`0.05`). Range checks happen where the budget is used.
    fn from_str(s: &str) -> Result<Self, KnnError> {
        let bad = || KnnError::bad("budget", s, "`all`, a count or a fraction");
        if s == "all" {
            Ok(Budget::Fraction(1.0))
        } else if s.contains('.') {
            s.parse().map(Budget::Fraction).map_err(|_| bad())
        } else {
            s.parse().map(Budget::Count).map_err(|_| bad())
        }
    }
}

impl std::fmt::Display for Budget {
    /// The inverse of [`Budget::from_str`]: `all` for fractions ≥ 1.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Budget::Count(c) => write!(f, "{c}"),
            Budget::Fraction(x) if x >= 1.0 => f.write_str("all"),
            Budget::Fraction(x) => write!(f, "{x}"),
        }
    }
}

impl Budget {
    fn resolve(self, name: &'static str, max: usize) -> Result<usize, KnnError> {
        match self {
            Budget::Count(c) if c >= 1 => Ok(c.min(max)),
            Budget::Count(c) => Err(KnnError::bad(name, c, "a count of at least 1")),
            Budget::Fraction(f) if f > 0.0 && f <= 1.0 => Ok(self.of(max)),
            Budget::Fraction(f) => Err(KnnError::bad(name, f, "a fraction in (0, 1]")),
        }
    }

    /// The budget for a set of `max` things (`min(c, max)` or `⌈f·max⌉`, at least 1);
    /// the budget is assumed valid.
    #[inline]
    fn of(self, max: usize) -> usize {
        match self {
            Budget::Count(c) => c.min(max),
            Budget::Fraction(f) => ((f * max as f64).ceil() as usize).max(1).min(max),
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
    /// `λ`, the number of levels, in `1..=16` (1: the one-level index of the paper's
    /// Algorithms 1–2). Level sizes follow [`level_sizes`].
    pub num_levels: usize,
    /// `F`, the nodes kept per level above level 0 at query time for up to 10
    /// neighbours; `k > 10` neighbours keep `⌈F·√(k/10)⌉` ([`field_of_view_for`]). ≥ 1;
    /// unused with one level. Can be changed after construction
    /// ([`DciIndex::set_field_of_view`]).
    pub field_of_view: usize,
    /// `F_c`, the field of view of the queries that assign parents at construction
    /// (≥ 1; unused with one or two levels, where the parent search covers the whole top
    /// level).
    pub construction_field_of_view: usize,
    /// `k0`, candidates per composite index and level before it stops: `Count(c)` or
    /// `Fraction(f)` of the level's candidate set. At query time `max(k0, keep)` is used;
    /// a `k0` covering the whole candidate set evaluates all of it exactly.
    pub retrieve: Budget,
    /// `k1`, visits (pops) per composite index and level before it stops: `Count(c)` or
    /// `Fraction(f)` of `m·|X|` (all entries of a composite index over the level's
    /// candidate set `X`; `Fraction(1.0)` visits everything).
    pub visit: Budget,
    /// Seed of the `ChaCha8Rng` drawing the directions and the level subsets.
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
    /// The setting measured best on 1,014,300 MNIST 8×8 patches (`benches/knn.rs`,
    /// BENCHMARKS.md): `λ = 4` levels, `F = 20`, `F_c = 5`, and budgets covering every
    /// candidate set (`retrieve = visit = Fraction(1.0)`: each level's candidates are
    /// evaluated exactly, which at dimension 64 beats the projection traversal at every
    /// recall measured). With those budgets the simple indices are not used, so the
    /// default keeps one (`L = m = 1`, 8 bytes per point per level); for budgets below
    /// the candidate sets build with more (e.g. `L = 2`, `m = 10`, the paper's scale).
    /// Isotropic directions, seed 0.
    fn default() -> Self {
        DciParams {
            num_composite: 1,
            num_simple: 1,
            num_levels: 4,
            field_of_view: 20,
            construction_field_of_view: 5,
            retrieve: Budget::Fraction(1.0),
            visit: Budget::Fraction(1.0),
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
        if !(1..=MAX_LEVELS).contains(&self.num_levels) {
            return Err(KnnError::bad("num_levels", self.num_levels, "in 1..=16"));
        }
        if !(1..=u32::MAX as usize).contains(&self.field_of_view) {
            return Err(KnnError::bad(
                "field_of_view",
                self.field_of_view,
                "in 1..=u32::MAX",
            ));
        }
        if !(1..=u32::MAX as usize).contains(&self.construction_field_of_view) {
            return Err(KnnError::bad(
                "construction_field_of_view",
                self.construction_field_of_view,
                "in 1..=u32::MAX",
            ));
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
    /// Candidate budget `k0` resolved for a candidate set of all `n` points (before
    /// `max(k0, k)`; queries resolve it per level against the level's candidate set).
    pub fn k0(&self) -> usize {
        self.k0
    }
    /// Visit budget `k1` resolved for a candidate set of all `n` points.
    pub fn k1(&self) -> usize {
        self.k1
    }
}

/// Sizes `ν_ℓ = round(ν^{(λ−ℓ)/λ})` (clamped to `[1, ν]`) of the `levels` nested levels
/// over `nu` distinct points, level 0 (all points) first; non-increasing.
pub fn level_sizes(nu: usize, levels: usize) -> Vec<usize> {
    (0..levels)
        .map(|l| {
            if l == 0 {
                return nu;
            }
            let e = (levels - l) as f64 / levels as f64;
            ((nu as f64).powf(e).round() as usize).clamp(1, nu.max(1))
        })
        .collect()
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

use crate::linalg::dot;

/// One level of the index: its points grouped by parent, and per group the `L·m`
/// simple indices over the group (layout in the module docs).
#[derive(Clone, Debug, PartialEq)]
struct Level {
    /// Point ids, group by group, ascending within a group.
    members: Vec<u32>,
    /// `groups + 1` offsets into `members`, strictly increasing from 0 to `members.len()`.
    offsets: Vec<u32>,
    /// Group `g` (offset `o`, size `c`): rows `s = 0..L·m` of `c` projections at
    /// `L·m·o + s·c`, each ascending (ties by position).
    keys: Vec<f32>,
    /// Same layout: position within the group (`0..c`) of each key's point.
    local: Vec<u32>,
    /// Levels ≥ 1: the members' vectors, `len × dim` in level order (a compact copy,
    /// ~`ν^{(λ−1)/λ}` rows, so the upper levels are searched in contiguous memory);
    /// empty at level 0, whose rows are read from the data.
    vectors: Vec<f32>,
    /// Levels ≥ 1: the number of data points (duplicates included) below each member;
    /// empty at level 0. Derived from the rest, not saved.
    weights: Vec<u32>,
}

impl Level {
    /// `(offset, size)` of group `g`.
    #[inline]
    fn group(&self, g: usize) -> (usize, usize) {
        let o = self.offsets[g] as usize;
        (o, self.offsets[g + 1] as usize - o)
    }

    fn len(&self) -> usize {
        self.members.len()
    }

    fn groups(&self) -> usize {
        self.offsets.len() - 1
    }
}

/// A cursor of the traversal: one side (left or right of the query's projection) of one
/// simple index of one group, walked outward.
#[derive(Clone, Copy)]
struct Cursor {
    /// Start of the row in the level's `keys`/`local`.
    row: usize,
    /// Position (in the row) of the entry the cursor's heap key stands for.
    pos: u32,
    /// `+1` (right side) or `u32::MAX` (`−1`, left side), added to `pos` to advance.
    step: u32,
    /// The position past the end of the walk: the row length (right) or `u32::MAX`
    /// (left).
    end: u32,
    /// `+1` (right: `p̄ − q̄`) or `−1` (left: `q̄ − p̄`).
    sign: f32,
    /// The query's projection on this simple index.
    qp: f32,
    /// Offset of the group in the level (position = `off + local`).
    off: u32,
    /// Offset of the group in the counters of the candidate set.
    cbase: u32,
}

/// Heap key of an exhausted cursor (priority `+∞`).
const EXHAUSTED: u32 = 0x7f80_0000;

/// The heap key of cursor `c` for an entry at distance `prio ≥ 0` (or NaN, treated as
/// `+∞`): `bits(prio) << 32 | c`. For non-negative floats the bit patterns order as
/// the values, so keys order as `(prio, c)`.
#[inline(always)]
fn heap_key(prio: f32, c: usize) -> u64 {
    let bits = if prio.is_nan() {
        EXHAUSTED
    } else {
        (prio + 0.0).to_bits() // −0 → +0
    };
    (u64::from(bits) << 32) | c as u64
}

/// The heap key of cursor `c` at position `pos` of its row (`EXHAUSTED` at `end`).
#[inline(always)]
fn cursor_key(cur: &Cursor, keys: &[f32], c: usize) -> u64 {
    if cur.pos == cur.end {
        return (u64::from(EXHAUSTED) << 32) | c as u64;
    }
    heap_key(cur.sign * (keys[cur.row + cur.pos as usize] - cur.qp), c)
}

/// Min-heap of `u64` keys.
fn heapify(items: &mut [u64]) {
    for i in (0..items.len() / 2).rev() {
        sift_down(items, i);
    }
}

#[inline(always)]
fn sift_down(items: &mut [u64], mut i: usize) {
    let n = items.len();
    let x = items[i];
    loop {
        let l = 2 * i + 1;
        if l >= n {
            break;
        }
        let c = if l + 1 < n {
            l + usize::from(items[l + 1] < items[l])
        } else {
            l
        };
        if items[c] < x {
            items[i] = items[c];
            i = c;
        } else {
            break;
        }
    }
    items[i] = x;
}

/// A scored candidate: squared distance, point id, position in its level.
#[derive(Clone, Copy, Debug)]
struct Scored {
    d: f32,
    id: u32,
    p: u32,
}

#[inline]
fn scored_cmp(a: &Scored, b: &Scored) -> std::cmp::Ordering {
    a.d.total_cmp(&b.d).then(a.id.cmp(&b.id))
}

/// Per-thread query workspace; every buffer grows to the largest size needed and is
/// reused (no per-query allocation of level-sized arrays).
#[derive(Default)]
struct Scratch {
    qproj: Vec<f32>,
    cursors: Vec<Cursor>,
    heap: Vec<u64>,
    /// Counters `C_l[x]`, indexed by position in the candidate set.
    counts: Vec<u8>,
    /// Counters to reset.
    touched: Vec<u32>,
    /// Positions (in the level) of the points to evaluate.
    cands: Vec<u32>,
    scored: Vec<Scored>,
    /// Selected nodes of the level above (group numbers of the current level).
    sel: Vec<u32>,
    /// Nodes selected at the current level.
    next: Vec<u32>,
}

/// What one query searches with: the query, the data, the budgets.
struct Ctx<'a> {
    data: Vectors<'a>,
    q: &'a [f32],
    l: usize,
    m: usize,
    retrieve: Budget,
    visit: Budget,
}

/// Work done by one query (for tuning).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Entries popped, summed over composite indices and levels.
    pub visits: u64,
    /// Distinct candidates whose true distance was evaluated, summed over levels.
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
    /// Level 0 (all distinct points) first, the top level (one group) last.
    levels: Vec<Level>,
    /// Representatives (smallest id) of groups of bit-identical vectors, ascending.
    dup_reps: Vec<u32>,
    /// `dup_reps.len() + 1` offsets into `dup_ids`.
    dup_offsets: Vec<u32>,
    /// The other members of each group, ascending within a group.
    dup_ids: Vec<u32>,
    /// [`Vectors::fingerprint`] of the data the index was built over.
    fingerprint: [u8; 16],
}

impl DciIndex {
    /// Checks `params` against `data` and builds the index (see [`DciIndex::build`]).
    pub fn new(data: Vectors<'_>, params: DciParams) -> Result<Self, KnnError> {
        let valid = params.check(data.dim(), data.len())?;
        Self::build(data, valid)
    }

    /// Builds the index: directions and level subsets from
    /// `ChaCha8Rng::seed_from_u64(seed)`, projections (`gemm`, fixed-size data blocks),
    /// then the levels top-down (parents found in parallel, groups sorted in
    /// parallel). The result depends only on the data and the parameters, not on the
    /// thread count.
    pub fn build(data: Vectors<'_>, params: ValidDciParams) -> Result<Self, KnnError> {
        if data.dim() != params.dim {
            return Err(KnnError::dim("data dimension", params.dim, data.dim()));
        }
        if data.len() != params.n {
            return Err(KnnError::dim("number of data points", params.n, data.len()));
        }
        let p = params.params;
        let (n, dim) = (params.n, params.dim);
        let lm = p.num_composite * p.num_simple;
        let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
        let directions = match p.directions {
            Directions::Isotropic => random_directions(lm, dim, &mut rng),
            Directions::DataDifferences => difference_directions(&data, lm, &mut rng),
        };
        let (reps, dup_reps, dup_offsets, dup_ids) = group_duplicates(&data);
        let nu = reps.len();
        let proj = project(&data, &reps, &directions, lm);
        // rank[id] = row of `proj` (u32::MAX for non-representatives).
        let mut rank = vec![u32::MAX; n];
        for (r, &id) in reps.iter().enumerate() {
            rank[id as usize] = r as u32;
        }

        let nl = p.num_levels;
        let sizes = level_sizes(nu, nl);
        let mut order = reps.clone();
        if nl > 1 {
            order.shuffle(&mut rng);
        }
        // Built top-down: `built[0]` is the top level.
        let mut built: Vec<Level> = Vec::with_capacity(nl);
        let mut top = order[..sizes[nl - 1]].to_vec();
        top.sort_unstable();
        let top_len = top.len() as u32;
        let upper_data = (nl > 1).then_some(&data);
        built.push(make_level(
            top,
            vec![0, top_len],
            (&proj, &rank, lm),
            upper_data,
        ));
        // pos_above[id] = position of `id` in the level above (u32::MAX if absent).
        let mut pos_above = vec![u32::MAX; n];
        for lvl in (0..nl - 1).rev() {
            let above = built.last().expect("the top level is built first");
            for (i, &id) in above.members.iter().enumerate() {
                pos_above[id as usize] = i as u32;
            }
            let mut points = order[..sizes[lvl]].to_vec();
            points.sort_unstable();
            let parents: Vec<u32> = points
                .par_iter()
                .with_min_len(256)
                .map_init(Scratch::default, |s, &id| {
                    let own = pos_above[id as usize];
                    if own != u32::MAX {
                        return own;
                    }
                    let r = rank[id as usize] as usize;
                    s.qproj.clear();
                    s.qproj.extend_from_slice(&proj[r * lm..(r + 1) * lm]);
                    let ctx = Ctx {
                        data,
                        q: data.get(id as usize),
                        l: p.num_composite,
                        m: p.num_simple,
                        retrieve: p.retrieve,
                        visit: p.visit,
                    };
                    find_parent(&ctx, &built, p.construction_field_of_view, s)
                })
                .collect();
            for &id in &above.members {
                pos_above[id as usize] = u32::MAX;
            }
            // Counting sort by parent (stable: ids stay ascending within a group).
            let groups = above.len();
            let mut offsets = vec![0u32; groups + 1];
            for &par in &parents {
                offsets[par as usize + 1] += 1;
            }
            for g in 0..groups {
                offsets[g + 1] += offsets[g];
            }
            let mut fill = offsets.clone();
            let mut members = vec![0u32; points.len()];
            for (&id, &par) in points.iter().zip(&parents) {
                members[fill[par as usize] as usize] = id;
                fill[par as usize] += 1;
            }
            let own = (lvl > 0).then_some(&data);
            built.push(make_level(members, offsets, (&proj, &rank, lm), own));
        }
        built.reverse();
        let mut index = DciIndex {
            params,
            directions,
            nu,
            levels: built,
            dup_reps,
            dup_offsets,
            dup_ids,
            fingerprint: data.fingerprint(),
        };
        index.compute_weights();
        Ok(index)
    }

    /// Fills `weights` of the levels ≥ 1 (data points below each node).
    fn compute_weights(&mut self) {
        let mut below: Vec<u32> = self.levels[0]
            .members
            .iter()
            .map(|&id| 1 + self.duplicates(id).len() as u32)
            .collect();
        for l in 1..self.levels.len() {
            let prev = &self.levels[l - 1];
            let w: Vec<u32> = (0..prev.groups())
                .map(|g| {
                    let (o, c) = prev.group(g);
                    below[o..o + c].iter().sum()
                })
                .collect();
            self.levels[l].weights = w.clone();
            below = w;
        }
        self.levels[0].weights = Vec::new();
    }

    /// [`Vectors::fingerprint`] of the data the index was built over.
    pub fn fingerprint(&self) -> [u8; 16] {
        self.fingerprint
    }

    /// Errors unless `data` is the data the index was built over (same number of vectors,
    /// dimension and [`Vectors::fingerprint`]); hashes all of `data`.
    pub fn check_built_over(&self, data: &Vectors<'_>) -> Result<(), KnnError> {
        if data.dim() != self.dim() {
            return Err(KnnError::dim("index dimension", data.dim(), self.dim()));
        }
        if data.len() != self.len() {
            return Err(KnnError::dim(
                "index size (number of vectors)",
                data.len(),
                self.len(),
            ));
        }
        if data.fingerprint() != self.fingerprint {
            return Err(KnnError::OtherData {
                index: hex(&self.fingerprint),
                data: hex(&data.fingerprint()),
            });
        }
        Ok(())
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

    /// Number of levels `λ`.
    pub fn num_levels(&self) -> usize {
        self.levels.len()
    }

    /// Points per level, level 0 (all distinct points) first.
    pub fn level_sizes(&self) -> Vec<usize> {
        self.levels.iter().map(Level::len).collect()
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

    /// Changes the query-time field of view `F` without rebuilding; errors (and leaves
    /// the index unchanged) if it is invalid.
    pub fn set_field_of_view(&mut self, field_of_view: usize) -> Result<(), KnnError> {
        let p = DciParams {
            field_of_view,
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
        let mut scratch = Scratch::default();
        Ok(self.query_one(data, query, k, &mut scratch))
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
            .map_init(Scratch::default, |s, qi| {
                self.query_one(data, queries.get(qi), k, s)
            })
            .collect())
    }

    /// One query (inputs already checked): levels top-down, then the k best of level 0.
    fn query_one(
        &self,
        data: Vectors<'_>,
        q: &[f32],
        k: usize,
        s: &mut Scratch,
    ) -> (Neighbours, QueryStats) {
        let p = &self.params.params;
        let dim = self.params.dim;
        let lm = p.num_composite * p.num_simple;
        let mut stats = QueryStats::default();
        if k == 0 {
            return (Neighbours::default(), stats);
        }
        s.qproj.clear();
        s.qproj.extend(
            self.directions
                .chunks_exact(dim)
                .take(lm)
                .map(|u| dot(q, u)),
        );
        let ctx = Ctx {
            data,
            q,
            l: p.num_composite,
            m: p.num_simple,
            retrieve: p.retrieve,
            visit: p.visit,
        };
        let fov = field_of_view_for(p.field_of_view, k);
        s.sel.clear();
        s.sel.push(0);
        for lvl in self.levels[1..].iter().rev() {
            select(&ctx, lvl, fov, k, s, &mut stats);
            std::mem::swap(&mut s.sel, &mut s.next);
        }
        (self.bottom(&ctx, k, s, &mut stats), stats)
    }

    /// Level 0: the k best of the groups `s.sel`, duplicates expanded.
    fn bottom(
        &self,
        ctx: &Ctx<'_>,
        k: usize,
        s: &mut Scratch,
        stats: &mut QueryStats,
    ) -> Neighbours {
        let lvl = &self.levels[0];
        let groups = std::mem::take(&mut s.sel);
        let whole = gather(ctx, lvl, &groups, k, s, stats);
        let mut top = TopK::new(k);
        let offer = |top: &mut TopK, d: f32, id: u32| {
            if top.push(d, id) {
                // Duplicates share the distance and have larger ids: offer them in
                // ascending id order until one is rejected (all later ones would be).
                for &dup in self.duplicates(id) {
                    if !top.push(d, dup) {
                        break;
                    }
                }
            }
        };
        score(ctx, lvl, &s.cands, |d, id, _| offer(&mut top, d, id));
        // Unreachable by construction (level 0's candidate set holds ≥ k data points and
        // the traversal retrieves ≥ k of them), kept as a safety net.
        if top.len() < k && !whole {
            for &g in &groups {
                let (o, c) = lvl.group(g as usize);
                for pos in o as u32..(o + c) as u32 {
                    if s.cands.binary_search(&pos).is_err() {
                        let id = lvl.members[pos as usize];
                        offer(
                            &mut top,
                            squared_distance(ctx.q, ctx.data.get(id as usize)),
                            id,
                        );
                        stats.candidates += 1;
                    }
                }
            }
        }
        s.sel = groups;
        top.into_neighbours()
    }
}

/// `k` of the reference field of view: `F` holds for up to this many neighbours.
const FOV_REFERENCE_K: usize = 10;

/// The nodes kept per level for `k` neighbours: `F` for `k ≤ 10`, `⌈F·√(k/10)⌉` above.
pub fn field_of_view_for(field_of_view: usize, k: usize) -> usize {
    if k <= FOV_REFERENCE_K {
        return field_of_view;
    }
    let f = field_of_view as f64 * (k as f64 / FOV_REFERENCE_K as f64).sqrt();
    (f.ceil() as usize).max(field_of_view)
}

/// The approximate nearest node of the lowest level of `built` (levels top first) to
/// `ctx.q`, as a position in that level: the construction query.
fn find_parent(ctx: &Ctx<'_>, built: &[Level], fov: usize, s: &mut Scratch) -> u32 {
    let mut stats = QueryStats::default();
    s.sel.clear();
    s.sel.push(0);
    let (last, upper) = built.split_last().expect("at least the top level");
    for lvl in upper {
        select(ctx, lvl, fov, 0, s, &mut stats);
        std::mem::swap(&mut s.sel, &mut s.next);
    }
    select(ctx, last, 1, 0, s, &mut stats);
    s.next[0]
}

/// Fills `s.cands` with the positions of `lvl` to evaluate among the groups `groups`
/// (the one-level search with the level's budgets, at least `keep` candidates) and
/// returns whether that is the whole candidate set. Without the whole set, `s.cands`
/// is sorted and distinct.
fn gather(
    ctx: &Ctx<'_>,
    lvl: &Level,
    groups: &[u32],
    keep: usize,
    s: &mut Scratch,
    stats: &mut QueryStats,
) -> bool {
    let total: usize = groups.iter().map(|&g| lvl.group(g as usize).1).sum();
    let k0 = ctx.retrieve.of(total).max(keep);
    s.cands.clear();
    if k0 >= total {
        for &g in groups {
            let (o, c) = lvl.group(g as usize);
            s.cands.extend(o as u32..(o + c) as u32);
        }
        stats.candidates += total as u64;
        return true;
    }
    let (nc, m) = (ctx.l, ctx.m);
    let lm = nc * m;
    let k1 = ctx.visit.of(m * total);
    if s.counts.len() < total {
        s.counts.resize(total, 0);
    }
    for l in 0..nc {
        for &i in &s.touched {
            s.counts[i as usize] = 0;
        }
        s.touched.clear();
        s.cursors.clear();
        s.heap.clear();
        let mut cbase = 0u32;
        for &g in groups {
            let (o, c) = lvl.group(g as usize);
            for j in 0..m {
                let sidx = l * m + j;
                let row = lm * o + sidx * c;
                let qp = s.qproj[sidx];
                let pos = lvl.keys[row..row + c].partition_point(|&x| x.total_cmp(&qp).is_lt());
                // Left side (walks pos−1, pos−2, …, 0), then right side (pos, …, c−1):
                // cursor numbers 2·r and 2·r+1 reproduce the order "closest of the
                // two sides, left first on ties, lower simple index first on ties".
                let left = Cursor {
                    row,
                    pos: (pos as u32).wrapping_sub(1),
                    step: u32::MAX,
                    end: u32::MAX,
                    sign: -1.0,
                    qp,
                    off: o as u32,
                    cbase,
                };
                let right = Cursor {
                    pos: pos as u32,
                    step: 1,
                    end: c as u32,
                    sign: 1.0,
                    ..left
                };
                for cur in [left, right] {
                    let ci = s.cursors.len();
                    s.heap.push(cursor_key(&cur, &lvl.keys, ci));
                    s.cursors.push(cur);
                }
            }
            cbase += c as u32;
        }
        heapify(&mut s.heap);
        let (mut visits, mut found) = (0usize, 0usize);
        while visits < k1 || found < keep {
            let top = s.heap[0];
            if (top >> 32) as u32 == EXHAUSTED || found >= k0 {
                break;
            }
            let ci = top as u32 as usize;
            let cur = &mut s.cursors[ci];
            let at = cur.row + cur.pos as usize;
            let local = lvl.local[at];
            // Each cursor is a sequential stream, but there are more streams than the
            // hardware prefetcher follows: fetch a cache line ahead in its direction.
            let ahead = at.wrapping_add((cur.step as i32 as isize * 16) as usize);
            prefetch_at(lvl.keys.as_ptr().wrapping_add(ahead));
            prefetch_at(lvl.local.as_ptr().wrapping_add(ahead));
            let (cbase, off) = (cur.cbase, cur.off);
            cur.pos = cur.pos.wrapping_add(cur.step);
            s.heap[0] = cursor_key(cur, &lvl.keys, ci);
            sift_down(&mut s.heap, 0);
            visits += 1;
            let idx = (cbase + local) as usize;
            let cnt = &mut s.counts[idx];
            if *cnt == 0 {
                s.touched.push(idx as u32);
            }
            *cnt = cnt.saturating_add(1);
            if *cnt as usize == m {
                s.cands.push(off + local);
                found += 1;
            }
        }
        stats.visits += visits as u64;
    }
    s.cands.sort_unstable();
    s.cands.dedup();
    stats.candidates += s.cands.len() as u64;
    false
}

/// Calls `f(d, id, position)` for every position of `cands`, `d = ‖q − x_id‖²`, with
/// the rows (the level's own copy above level 0, the data at level 0) prefetched a few
/// candidates ahead. The loop is compiled for AVX2 when the CPU has it (same results).
#[inline]
fn score(ctx: &Ctx<'_>, lvl: &Level, cands: &[u32], f: impl FnMut(f32, u32, u32)) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is available on this CPU (checked just above).
            return unsafe { score_avx2(ctx, lvl, cands, f) };
        }
    }
    score_impl(ctx, lvl, cands, f, squared_distance)
}

/// [`score`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn score_avx2(ctx: &Ctx<'_>, lvl: &Level, cands: &[u32], f: impl FnMut(f32, u32, u32)) {
    score_impl(ctx, lvl, cands, f, |a, b| squared_distance_avx2(a, b))
}

#[inline(always)]
fn score_impl(
    ctx: &Ctx<'_>,
    lvl: &Level,
    cands: &[u32],
    mut f: impl FnMut(f32, u32, u32),
    dist: impl Fn(&[f32], &[f32]) -> f32,
) {
    const AHEAD: usize = 8;
    let dim = ctx.data.dim();
    let row = |p: u32| -> &[f32] {
        if lvl.vectors.is_empty() {
            ctx.data.get(lvl.members[p as usize] as usize)
        } else {
            &lvl.vectors[p as usize * dim..(p as usize + 1) * dim]
        }
    };
    for &p in cands.iter().take(AHEAD) {
        prefetch(row(p));
    }
    for (i, &p) in cands.iter().enumerate() {
        if let Some(&next) = cands.get(i + AHEAD) {
            prefetch(row(next));
        }
        f(dist(ctx.q, row(p)), lvl.members[p as usize], p);
    }
}

/// A level above 0: among the groups `s.sel`, selects into `s.next` (best first) the
/// `keep` nodes nearest to the query, plus more in order of distance while the data
/// points below them number fewer than `need`.
fn select(
    ctx: &Ctx<'_>,
    lvl: &Level,
    keep: usize,
    need: usize,
    s: &mut Scratch,
    stats: &mut QueryStats,
) {
    let groups = std::mem::take(&mut s.sel);
    let whole = gather(ctx, lvl, &groups, keep, s, stats);
    s.scored.clear();
    {
        let (cands, scored) = (&s.cands, &mut s.scored);
        score(ctx, lvl, cands, |d, id, p| scored.push(Scored { d, id, p }));
    }
    let mut taken = keep.min(s.scored.len());
    if taken == 1 && need <= 1 {
        // The nearest one (e.g. a parent at construction): a scan.
        let best = s.scored.iter().copied().min_by(scored_cmp);
        s.next.clear();
        s.next.extend(best.map(|x| x.p));
        s.sel = groups;
        return;
    }
    if s.scored.len() > taken && taken > 0 {
        s.scored.select_nth_unstable_by(taken - 1, scored_cmp);
    }
    s.scored[..taken].sort_unstable_by(scored_cmp);
    if need > 1 {
        let weight = |x: &Scored| lvl.weights[x.p as usize] as usize;
        let mut w: usize = s.scored[..taken].iter().map(weight).sum();
        if w < need {
            s.scored[taken..].sort_unstable_by(scored_cmp);
            while taken < s.scored.len() && w < need {
                w += weight(&s.scored[taken]);
                taken += 1;
            }
        }
        if w < need && !whole {
            // Not enough below the candidates retrieved: evaluate the rest of the set.
            let start = s.scored.len();
            for &g in &groups {
                let (o, c) = lvl.group(g as usize);
                for p in o as u32..(o + c) as u32 {
                    if s.cands.binary_search(&p).is_err() {
                        let id = lvl.members[p as usize];
                        let x = &lvl.vectors[p as usize * ctx.data.dim()..][..ctx.data.dim()];
                        let d = squared_distance(ctx.q, x);
                        s.scored.push(Scored { d, id, p });
                    }
                }
            }
            stats.candidates += (s.scored.len() - start) as u64;
            s.scored[start..].sort_unstable_by(scored_cmp);
            while taken < s.scored.len() && w < need {
                w += weight(&s.scored[taken]);
                taken += 1;
            }
        }
    }
    s.next.clear();
    s.next.extend(s.scored[..taken].iter().map(|x| x.p));
    s.sel = groups;
}

/// Builds one level from its members (grouped) and group offsets: every (group,
/// simple index) row sorted by projection, ties by position, in parallel.
/// `data`: copy the members' vectors (levels ≥ 1).
fn make_level(
    members: Vec<u32>,
    offsets: Vec<u32>,
    (proj, rank, lm): (&[f32], &[u32], usize),
    data: Option<&Vectors<'_>>,
) -> Level {
    let len = members.len();
    let mut keys = vec![0.0f32; lm * len];
    let mut local = vec![0u32; lm * len];
    {
        let mut rows: Vec<(usize, &mut [f32], &mut [u32])> =
            Vec::with_capacity(lm * (offsets.len() - 1));
        let (mut kr, mut lr) = (keys.as_mut_slice(), local.as_mut_slice());
        for w in offsets.windows(2) {
            let (o, c) = (w[0] as usize, (w[1] - w[0]) as usize);
            for _ in 0..lm {
                let (k, kt) = std::mem::take(&mut kr).split_at_mut(c);
                let (l, lt) = std::mem::take(&mut lr).split_at_mut(c);
                rows.push((o, k, l));
                kr = kt;
                lr = lt;
            }
        }
        rows.into_par_iter()
            .enumerate()
            .for_each_init(Vec::new, |pairs, (i, (o, krow, lrow))| {
                let s = i % lm;
                pairs.clear();
                pairs.extend(
                    members[o..o + krow.len()]
                        .iter()
                        .enumerate()
                        .map(|(j, &id)| (proj[rank[id as usize] as usize * lm + s], j as u32)),
                );
                pairs.sort_unstable_by(|a: &(f32, u32), b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                for ((k, l), &(p, j)) in krow.iter_mut().zip(lrow.iter_mut()).zip(pairs.iter()) {
                    *k = p;
                    *l = j;
                }
            });
    }
    let vectors = match data {
        Some(d) => {
            let mut v = Vec::with_capacity(len * d.dim());
            for &id in &members {
                v.extend_from_slice(d.get(id as usize));
            }
            v
        }
        None => Vec::new(),
    };
    Level {
        members,
        offsets,
        keys,
        local,
        vectors,
        weights: Vec::new(),
    }
}

/// Projections `⟨x, u_s⟩` of the representatives, point-major (`reps.len() × lm`),
/// computed by `gemm` over fixed-size blocks.
fn project(data: &Vectors<'_>, reps: &[u32], directions: &[f32], lm: usize) -> Vec<f32> {
    let dim = data.dim();
    let blocks: Vec<Vec<f32>> = reps
        .par_chunks(BUILD_BLOCK)
        .map(|ids| {
            let nb = ids.len();
            let mut chunk = Vec::with_capacity(nb * dim);
            for &id in ids {
                chunk.extend_from_slice(data.get(id as usize));
            }
            let mut out = vec![0.0f32; lm * nb];
            // out[lm × nb] = directions[lm × dim] · chunkᵀ (the nb × dim chunk viewed as
            // dim × nb: row stride 1, column stride dim).
            gemm_strided(
                (lm, nb, dim),
                (&mut out, nb as isize, 1),
                (directions, dim as isize, 1),
                (&chunk, 1, dim as isize),
                1.0,
            );
            // Transpose to nb × lm.
            let mut t = vec![0.0f32; nb * lm];
            for s in 0..lm {
                for i in 0..nb {
                    t[i * lm + s] = out[s * nb + i];
                }
            }
            t
        })
        .collect();
    blocks.concat()
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

/// Hints the CPU to load the cache line at `p` (no-op off x86-64). `p` may lie outside
/// any allocation: a prefetch never faults and is never dereferenced.
#[inline(always)]
fn prefetch_at<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: prefetching is a hint with no memory effects (it does not fault on
        // any address); SSE is part of the x86-64 baseline.
        #[allow(unused_unsafe)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(p.cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Queries must be finite (a NaN projection has no position in a sorted index).
fn check_finite(q: &[f32]) -> Result<(), KnnError> {
    match q.iter().find(|x| !x.is_finite()) {
        Some(x) => Err(KnnError::bad("query value", x, "finite")),
        None => Ok(()),
    }
}
