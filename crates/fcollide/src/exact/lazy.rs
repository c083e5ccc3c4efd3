//! Row generation for LPs with many more rows than the dense simplex should hold.
//!
//! Deeper collision layers of conv nets bring thousands of region half-spaces (LeNet-5 at
//! `fc1`: ≈ 11,000 rows over 784 columns); the Chebyshev LP brings `2d` box rows. Few of
//! them are ever tight: an optimum of an LP over `n` columns is determined by at most `n`
//! tight rows, and the vertex LPs touch far fewer. So the LP is solved over a *working set*
//! of rows — the `core` rows always, plus the `pool` rows found violated so far:
//!
//! 1. solve `min c·x` over the core rows, the working pool rows and the column box (the
//!    dense dual simplex of [`super::simplex`]);
//! 2. evaluate every other pool row at the optimum `x`; if none is violated by more than the
//!    primal tolerance (relative to the row's norm), `x` is optimal for the whole LP (it is
//!    feasible for it, and optimal for a relaxation);
//! 3. else add the most violated rows (at most [`BATCH`] per round) and go to 1.
//!
//! Each round's optimum is at least the previous one (the feasible set shrinks), and each
//! round adds a row cut off at the current optimum, so the loop ends. Between objectives over
//! the same rows the working set keeps the rows tight at the previous optimum and drops the
//! slack ones (later vertex LPs start with the rows the earlier ones needed; at LeNet-5's
//! `fc1` ≈ 550 of ≈ 2,000, which made the later vertex LPs ≈ 30 % faster, BENCHMARKS.md).
//!
//! The first round of each objective starts from the slack basis; later rounds append the new
//! rows to the same dense LP with their logicals basic ([`DenseLp::add_rows`]): the previous
//! optimal basis stays dual feasible, so the dual simplex only repairs the rows just added
//! (a cold re-solve of a 2,000-row working set costs ≈ 20,000 iterations). A warm round that
//! runs into numerical trouble is redone cold.
use std::time::Instant;

use super::simplex::{
    finite_row_bounds, implied_range, DenseLp, DenseOptions, DenseSolution, SimplexError,
};

/// The most pool rows added per round.
pub const BATCH: usize = 128;

/// The rows `(i, violation, ‖a_i‖)` violated by more than `tol·(1 + ‖a_i‖)`, as
/// `(violation / ‖a_i‖, i)`, most violated first (ties by index): the rows a round of row
/// generation adds (here and in the Chebyshev bisection of [`super::size`]).
pub(crate) fn most_violated(
    rows: impl Iterator<Item = (usize, f64, f64)>,
    tol: f64,
) -> Vec<(f64, usize)> {
    let mut out: Vec<(f64, usize)> = rows
        .filter(|&(_, v, norm)| v > tol * (1.0 + norm))
        .map(|(i, v, norm)| (v / norm.max(1e-300), i))
        .collect();
    out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    out
}

/// Rows `rl ≤ a·x ≤ ru`, `a` row-major.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    /// Columns.
    pub n: usize,
    /// Coefficients, row-major `[len × n]`.
    pub a: Vec<f64>,
    /// Lower bounds (`−∞`: none).
    pub lo: Vec<f64>,
    /// Upper bounds (`+∞`: none).
    pub hi: Vec<f64>,
}

impl Rows {
    /// No rows over `n` columns.
    pub fn new(n: usize) -> Self {
        Rows {
            n,
            ..Rows::default()
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.lo.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.lo.is_empty()
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.a[i * self.n..(i + 1) * self.n]
    }

    /// Adds `lo ≤ a·x ≤ hi`.
    pub fn push(&mut self, a: &[f64], lo: f64, hi: f64) {
        debug_assert_eq!(a.len(), self.n);
        self.a.extend_from_slice(a);
        self.lo.push(lo);
        self.hi.push(hi);
    }
}

/// An LP `min c·x` over `core` and `pool` rows and a box, solved by row generation.
#[derive(Clone, Debug)]
pub struct LazyLp {
    core: Rows,
    pool: Rows,
    col_lo: Vec<f64>,
    col_hi: Vec<f64>,
    /// Pool rows in the working set, in the order they were added.
    working: Vec<usize>,
    in_working: Vec<bool>,
    norms: Vec<f64>,
    /// The dense LP over the core and working rows, kept between rounds and objectives.
    lp: Option<DenseLp>,
    /// The previous objective's optimum.
    last_x: Option<Vec<f64>>,
}

/// A solution with the row-generation figures.
#[derive(Clone, Debug, PartialEq)]
pub struct LazySolution {
    /// The last dense solve (its `x`, objective; iterations and seconds summed over rounds).
    pub solution: DenseSolution,
    /// Rounds (dense solves).
    pub rounds: usize,
    /// Pool rows in the working set at the end.
    pub working_rows: usize,
}

impl LazyLp {
    /// The LP; column bounds must be finite.
    pub fn new(core: Rows, pool: Rows, col_lo: Vec<f64>, col_hi: Vec<f64>) -> Self {
        let norms = (0..pool.len())
            .map(|i| pool.row(i).iter().map(|v| v * v).sum::<f64>().sqrt())
            .collect();
        LazyLp {
            in_working: vec![false; pool.len()],
            core,
            pool,
            col_lo,
            col_hi,
            working: Vec::new(),
            norms,
            lp: None,
            last_x: None,
        }
    }

    /// Rows in all.
    pub fn rows(&self) -> usize {
        self.core.len() + self.pool.len()
    }

    /// Rows of the pool.
    pub fn pool_rows(&self) -> usize {
        self.pool.len()
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.core.n
    }

    /// The dense LP over the core and working rows.
    fn dense(&self) -> Result<DenseLp, SimplexError> {
        let n = self.cols();
        let m = self.core.len() + self.working.len();
        let mut a = Vec::with_capacity(m * n);
        let mut lo = Vec::with_capacity(m);
        let mut hi = Vec::with_capacity(m);
        a.extend_from_slice(&self.core.a);
        lo.extend_from_slice(&self.core.lo);
        hi.extend_from_slice(&self.core.hi);
        for &i in &self.working {
            a.extend_from_slice(self.pool.row(i));
            lo.push(self.pool.lo[i]);
            hi.push(self.pool.hi[i]);
        }
        DenseLp::new(&a, m, n, &lo, &hi, &self.col_lo, &self.col_hi)
    }

    /// Pool rows outside the working set violated at `x` by more than `tol·(1 + ‖a‖)`, most
    /// violated first (violation relative to `‖a‖`).
    fn violated(&self, x: &[f64], tol: f64) -> Vec<(f64, usize)> {
        most_violated(
            (0..self.pool.len())
                .filter(|&i| !self.in_working[i])
                .map(|i| {
                    let ax = crate::linalg::dot_f64(self.pool.row(i), x);
                    (
                        i,
                        (self.pool.lo[i] - ax).max(ax - self.pool.hi[i]),
                        self.norms[i],
                    )
                }),
            tol,
        )
    }

    /// Drops the working rows that are slack at `x` (by more than `1e-7 (1 + ‖a‖)`) and the
    /// dense LP over them: the next objective starts over the core rows and the rows the
    /// previous optimum needed (see the module doc).
    fn keep_tight(&mut self, x: &[f64]) {
        let keep: Vec<usize> = self
            .working
            .iter()
            .copied()
            .filter(|&i| {
                let ax = crate::linalg::dot_f64(self.pool.row(i), x);
                let slack = (ax - self.pool.lo[i]).min(self.pool.hi[i] - ax);
                slack <= 1e-7 * (1.0 + self.norms[i])
            })
            .collect();
        for &i in &self.working {
            self.in_working[i] = false;
        }
        for &i in &keep {
            self.in_working[i] = true;
        }
        self.working = keep;
        self.lp = None;
    }

    /// Minimizes `cost·x` over all rows (see the module doc).
    pub fn solve(
        &mut self,
        cost: &[f64],
        opts: &DenseOptions,
    ) -> Result<LazySolution, SimplexError> {
        let t0 = Instant::now();
        let (mut iterations, mut flips, mut refactors, mut rounds) = (0, 0, 0, 0);
        if let Some(x) = self.last_x.take() {
            self.keep_tight(&x);
        }
        let mut lp = match self.lp.take() {
            Some(lp) => lp,
            None => self.dense()?,
        };
        loop {
            let warm = rounds > 0;
            let mut s = match lp.solve(cost, warm, opts) {
                Err(SimplexError::Numerical(_) | SimplexError::IterationLimit(_)) if warm => {
                    lp.solve(cost, false, opts)?
                }
                s => s?,
            };
            rounds += 1;
            iterations += s.iterations;
            flips += s.flips;
            refactors += s.refactors;
            let viol = self.violated(&s.x, opts.primal_tol);
            if viol.is_empty() {
                s.iterations = iterations;
                s.flips = flips;
                s.refactors = refactors;
                s.seconds = t0.elapsed().as_secs_f64();
                self.lp = Some(lp);
                self.last_x = Some(s.x.clone());
                return Ok(LazySolution {
                    solution: s,
                    rounds,
                    working_rows: self.working.len(),
                });
            }
            let (mut a, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
            for &(_, i) in viol.iter().take(BATCH) {
                self.in_working[i] = true;
                self.working.push(i);
                let row = self.pool.row(i);
                a.extend_from_slice(row);
                // As `DenseLp::new` sets them (the column box never changes here).
                let (l, u) = finite_row_bounds(
                    self.pool.lo[i],
                    self.pool.hi[i],
                    implied_range(row, &self.col_lo, &self.col_hi),
                );
                lo.push(l);
                hi.push(u);
            }
            lp.add_rows(&a, &lo, &hi)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Row generation reaches the optimum of the full dense LP.
    #[test]
    fn matches_the_full_lp() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _case in 0..10 {
            let n = 12;
            let mut core = Rows::new(n);
            let mut pool = Rows::new(n);
            let x0: Vec<f64> = (0..n).map(|_| rng.random_range(0.2..0.8)).collect();
            let mut all = Rows::new(n);
            for k in 0..300 {
                let a: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
                let ax: f64 = a.iter().zip(&x0).map(|(p, q)| p * q).sum();
                let hi = ax + rng.random_range(0.0..0.3);
                if k < 3 {
                    core.push(&a, f64::NEG_INFINITY, hi);
                } else {
                    pool.push(&a, f64::NEG_INFINITY, hi);
                }
                all.push(&a, f64::NEG_INFINITY, hi);
            }
            let (lo, hi) = (vec![0.0; n], vec![1.0; n]);
            let opts = DenseOptions::default();
            let mut lazy = LazyLp::new(core, pool, lo.clone(), hi.clone());
            let mut full = DenseLp::new(&all.a, all.len(), n, &all.lo, &all.hi, &lo, &hi).unwrap();
            for _ in 0..3 {
                let c: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
                let a = lazy.solve(&c, &opts).unwrap();
                let b = full.solve(&c, false, &opts).unwrap();
                assert!(
                    (a.solution.objective - b.objective).abs() < 1e-7,
                    "{} vs {}",
                    a.solution.objective,
                    b.objective
                );
                assert!(a.working_rows < 297, "{}", a.working_rows);
                // Feasible for every row.
                for i in 0..all.len() {
                    let ax: f64 = all
                        .row(i)
                        .iter()
                        .zip(&a.solution.x)
                        .map(|(p, q)| p * q)
                        .sum();
                    assert!(ax <= all.hi[i] + 1e-7);
                }
            }
        }
    }
}
