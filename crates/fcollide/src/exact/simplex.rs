//! A dense, bounded dual simplex for small dense LPs whose columns are all boxed — the
//! vertex LPs of the collision polytope (at `fc1` of the 784-256 MLP: ≈ 256 dense rows,
//! 784 columns in `[0, 1]`). HiGHS is built for large sparse LPs; on these it spends
//! ≈ 0.3 ms per simplex iteration, this solver ≈ 0.05 ms.
//!
//! # Problem
//!
//! ```text
//!   minimize c·x   subject to   rl_i ≤ a_i·x ≤ ru_i  (rows i < m),   l_j ≤ x_j ≤ u_j  (j < n)
//! ```
//!
//! with every `l_j`, `u_j` finite. Each row gets a logical variable `s_i = a_i·x`, so the
//! constraints are `A x − s = 0` over `n + m` variables, all bounded. An infinite row bound
//! is replaced by the row's *implied* bound over the box minus (plus) one,
//! `Σ_j min(a_ij l_j, a_ij u_j) − 1` (resp. `Σ_j max(…) + 1`), which no point of the box can
//! reach: the feasible set is unchanged and every variable is boxed. Then any basis can be
//! made dual feasible by putting each nonbasic variable at the bound that matches the sign
//! of its reduced cost, which is what makes the method simple and robust here.
//!
//! # Method (dual simplex, in the textbook form of Koberstein 2005)
//!
//! Basis `B` (one variable per row), nonbasic variables at a bound, `x_B = −B⁻¹ N x_N`,
//! duals `yᵀ = c_Bᵀ B⁻¹`, reduced costs `d_j = c_j − yᵀ a_j` (`a_j` the column of variable
//! `j` in `[A, −I]`). Each iteration:
//!
//! 1. **Pricing** (dual steepest edge): the leaving row `r` maximizes `δ_r² / w_r` over the
//!    primal infeasibilities `δ_r` of `x_B`, with the exact weights `w_r = ‖e_rᵀ B⁻¹‖²`.
//! 2. **Pivot row** `α_j = ρ_rᵀ a_j`, `ρ_r = e_rᵀ B⁻¹`, for the nonbasic variables.
//! 3. **Ratio test with bound flipping** (long step): with `α̃ = −α` if `x_Br` is below its
//!    lower bound and `α̃ = α` if above, the breakpoints are `t_j = d_j / α̃_j` for `j` at its
//!    lower bound with `α̃_j > 0` and at its upper bound with `α̃_j < 0`. Walking them in
//!    increasing order, the dual objective's slope starts at `|δ_r|` and drops by
//!    `|α_j| (u_j − l_j)` at each; breakpoints passed while the slope stays positive are
//!    bound flips, the one where it would turn is the entering candidate. Among the
//!    breakpoints within the Harris bound `min_j (d_j ± tol_d)/α̃_j` from there, the one with
//!    the largest `|α_j|` enters (stability).
//! 4. **Updates**: `d ← d − θ_d α` with `θ_d = d_q / α_q`; every nonbasic variable whose
//!    reduced cost now has the wrong sign is flipped to its other bound; `x_B` follows the
//!    flips and the primal step `θ_p = (x_Br − bound) / (B⁻¹ a_q)_r`; `B⁻¹` is updated by
//!    the pivot (a rank-one update) and the weights are recomputed from its rows.
//!
//! `B⁻¹` is kept explicitly, but only its `k` columns that are not unit vectors. With `S`
//! the `k` structural basic columns and `R` the `k` rows whose logical is nonbasic, and the
//! basis ordered as `(S, logicals of the other rows)`,
//!
//! ```text
//!   B = [ A[R,S]   0 ]      B⁻¹ = [ M⁻¹          0 ]      M = A[R, S]  (k × k)
//!       [ A[R̄,S]  −I ]            [ A[R̄,S] M⁻¹  −I ]
//! ```
//!
//! so the columns of `B⁻¹` for rows outside `R` are `−e_r` (`r` the position of the row's
//! basic logical) and are not stored: `B⁻¹` is an `m × k` block plus those implied unit
//! columns. Every product (`B⁻¹ v`, `ρ_rᵀ A` over the `k + 1` nonzeros of `ρ_r`, the
//! rank-one update, the weights) costs `O(m k)` or `O(k n)` instead of `O(m²)`; with row
//! generation (LeNet-5's `fc1`: `m ≈ 2,000` working rows, `k ≈ 600`) that is most of the
//! difference. A pivot whose leaving variable is a logical gives its row a stored column
//! (`−e_r` so far); an entering logical's column becomes implied again. `B⁻¹` is rebuilt
//! from the basis (inverting `M`) every [`DenseOptions::refactor_every`] iterations (or
//! `k / 2`, if larger) and before optimality is declared. A pivot that disagrees between the row and the column computation forces a
//! rebuild. Costs of the structural columns are perturbed by `≈ 1e-7` relative (fixed,
//! deterministic amounts) against dual degeneracy; at the end the true costs are restored,
//! reduced costs recomputed, wrong signs flipped, and the iterations continue if that made
//! the basis primal infeasible. The result is optimal for the true costs to `dual_tol` and
//! feasible to `primal_tol`. Everything is deterministic.
//!
//! A solve can start from the slack basis (`B = −I`: dual feasible at once since every
//! column is boxed) or from the previous solve's optimal basis (made dual feasible by flips).
use std::time::Instant;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why the dense solver stopped without an optimal point.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SimplexError {
    /// Inputs of inconsistent sizes or non-finite values.
    #[error("dense LP input: {0}")]
    Input(String),
    /// The constraints have no common point.
    #[error("the LP is infeasible ({0})")]
    Infeasible(String),
    /// The basis became singular or a pivot was numerically unusable.
    #[error("numerical trouble in the dense simplex: {0}")]
    Numerical(String),
    /// The iteration limit was reached.
    #[error("dense simplex stopped at its iteration limit ({0} iterations)")]
    IterationLimit(usize),
}

/// Settings of the dense dual simplex.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DenseOptions {
    /// Largest violation of a bound accepted as feasible.
    pub primal_tol: f64,
    /// Largest reduced cost of the wrong sign accepted as optimal.
    pub dual_tol: f64,
    /// Smallest `|α_j|` accepted in the ratio test.
    pub pivot_tol: f64,
    /// Rebuild `B⁻¹` from the basis after this many updates.
    pub refactor_every: usize,
    /// Iteration limit (`0`: `20·(m + n) + 1000`).
    pub max_iterations: usize,
    /// Perturb the costs against dual degeneracy (removed before the end).
    pub perturb: bool,
}

impl Default for DenseOptions {
    fn default() -> Self {
        DenseOptions {
            primal_tol: 1e-9,
            dual_tol: 1e-9,
            pivot_tol: 1e-9,
            refactor_every: 100,
            max_iterations: 0,
            perturb: true,
        }
    }
}

/// An optimal point of [`DenseLp::solve`].
#[derive(Clone, Debug, PartialEq)]
pub struct DenseSolution {
    /// Values of the `n` structural columns.
    pub x: Vec<f64>,
    /// `c·x` with the true costs.
    pub objective: f64,
    /// Simplex iterations (basis changes).
    pub iterations: usize,
    /// Bound flips done by the ratio test and the dual-feasibility repairs.
    pub flips: usize,
    /// Rebuilds of `B⁻¹`.
    pub refactors: usize,
    /// Largest bound violation of the basic variables at the end.
    pub primal_infeasibility: f64,
    /// Largest reduced cost of the wrong sign at the end.
    pub dual_infeasibility: f64,
    /// Whether the solve started from the previous optimal basis.
    pub warm: bool,
    /// Wall time.
    pub seconds: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Basic,
    Lower,
    Upper,
}

#[derive(Clone, Debug)]
struct Basis {
    head: Vec<usize>,
    status: Vec<Status>,
}

/// `(min, max)` of `a·x` over the box `lo ≤ x ≤ hi`: a row's implied range, which stands in
/// for its infinite bounds (widened by 1).
pub(crate) fn implied_range(a: &[f64], lo: &[f64], hi: &[f64]) -> (f64, f64) {
    a.iter()
        .zip(lo.iter().zip(hi))
        .fold((0.0, 0.0), |(l, u), (&c, (&p, &q))| {
            let (x, y) = (c * p, c * q);
            (l + x.min(y), u + x.max(y))
        })
}

/// Row bounds `[rl, ru]` with an infinite side replaced by the row's implied range over the
/// box (from [`implied_range`]) widened by 1, which no point of the box reaches: the feasible
/// set is unchanged and the row's logical is boxed.
pub(crate) fn finite_row_bounds(rl: f64, ru: f64, implied: (f64, f64)) -> (f64, f64) {
    (
        if rl.is_finite() { rl } else { implied.0 - 1.0 },
        if ru.is_finite() { ru } else { implied.1 + 1.0 },
    )
}

/// A dense LP with boxed columns, kept between solves that change only the costs.
#[derive(Clone, Debug)]
pub struct DenseLp {
    m: usize,
    n: usize,
    /// Column-major `A`: column `j` is `cols[j·m .. (j+1)·m]`.
    cols: Vec<f64>,
    /// Row-major `A` (the same entries): row `i` is `rows[i·n .. (i+1)·n]`, for the pivot
    /// row `ρᵀA` over the nonzeros of `ρ` only.
    rows: Vec<f64>,
    /// Bounds of the `n + m` variables (structural, then logical), all finite.
    lo: Vec<f64>,
    hi: Vec<f64>,
    last: Option<Basis>,
}

impl DenseLp {
    /// The LP `rl ≤ A x ≤ ru`, `l ≤ x ≤ u` with `A` given row-major (`m × n`). Column bounds
    /// must be finite with `l ≤ u`; row bounds may be infinite (replaced by implied bounds).
    pub fn new(
        rows: &[f64],
        m: usize,
        n: usize,
        row_lo: &[f64],
        row_hi: &[f64],
        col_lo: &[f64],
        col_hi: &[f64],
    ) -> Result<Self, SimplexError> {
        let bad = |s: String| Err(SimplexError::Input(s));
        if rows.len() != m * n {
            return bad(format!("A has {} entries, expected {m}×{n}", rows.len()));
        }
        if row_lo.len() != m || row_hi.len() != m || col_lo.len() != n || col_hi.len() != n {
            return bad("bound vectors of the wrong length".into());
        }
        if let Some(v) = rows.iter().find(|v| !v.is_finite()) {
            return bad(format!("non-finite coefficient {v}"));
        }
        for j in 0..n {
            let (l, u) = (col_lo[j], col_hi[j]);
            if !(l.is_finite() && u.is_finite()) {
                return bad(format!("column {j} bounds [{l}, {u}] are not finite"));
            }
            if l > u {
                return Err(SimplexError::Infeasible(format!(
                    "column {j} has bounds [{l}, {u}]"
                )));
            }
        }
        let mut cols = vec![0.0; m * n];
        let mut lo = col_lo.to_vec();
        let mut hi = col_hi.to_vec();
        for i in 0..m {
            let row = &rows[i * n..(i + 1) * n];
            for (j, &a) in row.iter().enumerate() {
                cols[j * m + i] = a;
            }
            let (imp_lo, imp_hi) = implied_range(row, col_lo, col_hi);
            let (rl, ru) = (row_lo[i], row_hi[i]);
            if rl.is_nan() || ru.is_nan() || rl > ru || rl == f64::INFINITY {
                return bad(format!("row {i} bounds [{rl}, {ru}]"));
            }
            if ru == f64::NEG_INFINITY {
                return bad(format!("row {i} bounds [{rl}, {ru}]"));
            }
            let slack = 1e-9 * (1.0 + imp_lo.abs().max(imp_hi.abs()));
            if rl > imp_hi + slack || ru < imp_lo - slack {
                return Err(SimplexError::Infeasible(format!(
                    "row {i} needs [{rl}, {ru}] but ranges over [{imp_lo}, {imp_hi}] on the box"
                )));
            }
            let (l, u) = finite_row_bounds(rl, ru, (imp_lo, imp_hi));
            lo.push(l);
            hi.push(u);
        }
        Ok(DenseLp {
            m,
            n,
            cols,
            rows: rows.to_vec(),
            lo,
            hi,
            last: None,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.m
    }

    /// Number of structural columns.
    pub fn cols(&self) -> usize {
        self.n
    }

    /// Bounds of variable `j`: structural column `j < n`, or the activity of row `j − n`
    /// (infinite row bounds replaced by the implied ones).
    pub fn bounds(&self, j: usize) -> (f64, f64) {
        (self.lo[j], self.hi[j])
    }

    /// Replaces the bounds of variable `j` (structural column `j < n`, or the activity of
    /// row `j − n`). The last optimal basis is kept: the costs are unchanged, so it is still
    /// dual feasible and a warm [`DenseLp::solve`] repairs only the primal side (the dual
    /// simplex's natural use). Bounds must be finite; `lo > hi` is reported as infeasible.
    pub fn set_bounds(&mut self, j: usize, lo: f64, hi: f64) -> Result<(), SimplexError> {
        if j >= self.n + self.m || !lo.is_finite() || !hi.is_finite() {
            return Err(SimplexError::Input(format!(
                "bounds [{lo}, {hi}] for variable {j} of {}",
                self.n + self.m
            )));
        }
        if lo > hi {
            return Err(SimplexError::Infeasible(format!(
                "variable {j} has bounds [{lo}, {hi}]"
            )));
        }
        self.lo[j] = lo;
        self.hi[j] = hi;
        Ok(())
    }

    /// Appends the rows `rl ≤ a·x ≤ ru` (`rows` row-major over the `n` columns; row bounds
    /// must be finite, so that an implied bound from the current, possibly shifted, column
    /// box is never frozen in). The previous basis is kept with the new rows' logicals basic:
    /// the reduced costs are unchanged, so it stays dual feasible and a warm
    /// [`DenseLp::solve`] only repairs the new rows' violations (a cutting-plane warm start).
    pub fn add_rows(
        &mut self,
        rows: &[f64],
        row_lo: &[f64],
        row_hi: &[f64],
    ) -> Result<(), SimplexError> {
        let (m, n, k) = (self.m, self.n, row_lo.len());
        if rows.len() != k * n || row_hi.len() != k {
            return Err(SimplexError::Input(format!(
                "{} coefficients and {} upper bounds for {k} new rows over {n} columns",
                rows.len(),
                row_hi.len()
            )));
        }
        if let Some(v) = rows.iter().find(|v| !v.is_finite()) {
            return Err(SimplexError::Input(format!("non-finite coefficient {v}")));
        }
        for (i, (&l, &u)) in row_lo.iter().zip(row_hi).enumerate() {
            if !(l.is_finite() && u.is_finite()) || l > u {
                return Err(SimplexError::Input(format!(
                    "new row {i} bounds [{l}, {u}] (finite, lo ≤ hi expected)"
                )));
            }
        }
        let m2 = m + k;
        let mut cols = vec![0.0; m2 * n];
        for j in 0..n {
            cols[j * m2..j * m2 + m].copy_from_slice(&self.cols[j * m..(j + 1) * m]);
            for i in 0..k {
                cols[j * m2 + m + i] = rows[i * n + j];
            }
        }
        self.cols = cols;
        self.rows.extend_from_slice(rows);
        self.lo.extend_from_slice(row_lo);
        self.hi.extend_from_slice(row_hi);
        if let Some(b) = self.last.as_mut() {
            b.head.extend(n + m..n + m2);
            b.status.extend(std::iter::repeat_n(Status::Basic, k));
        }
        self.m = m2;
        Ok(())
    }

    /// Coefficient `A[i, j]`.
    pub fn coeff(&self, i: usize, j: usize) -> f64 {
        self.cols[j * self.m + i]
    }

    /// Minimizes `cost·x` (length `n`), from the slack basis or (`warm` and a previous
    /// optimal basis exists) from the previous optimal basis.
    pub fn solve(
        &mut self,
        cost: &[f64],
        warm: bool,
        opts: &DenseOptions,
    ) -> Result<DenseSolution, SimplexError> {
        if cost.len() != self.n {
            return Err(SimplexError::Input(format!(
                "cost has {} entries, expected {}",
                cost.len(),
                self.n
            )));
        }
        if let Some(c) = cost.iter().find(|c| !c.is_finite()) {
            return Err(SimplexError::Input(format!("non-finite cost {c}")));
        }
        let t0 = Instant::now();
        let start = if warm { self.last.clone() } else { None };
        let warm = start.is_some();
        let mut run = Run::new(self, cost, start, opts)?;
        let result = run.optimize();
        let basis = Basis {
            head: run.head.clone(),
            status: run.status.clone(),
        };
        let mut sol = result.map(|_| run.solution(cost, warm))?;
        self.last = Some(basis);
        sol.seconds = t0.elapsed().as_secs_f64();
        Ok(sol)
    }
}

use kernels::{axpy, axpy_sqnorm, dot};

/// The three vector kernels of the solver, with an AVX2+FMA version chosen at run time on
/// x86-64 (the portable versions compile to SSE2 there). Results are deterministic on a
/// given machine; the two versions round differently, so machines with and without AVX2
/// may differ in the last bits.
mod kernels {
    /// `Σ a_k b_k`.
    #[inline]
    pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len().min(b.len());
        #[cfg(target_arch = "x86_64")]
        if n >= 16 && std::arch::is_x86_feature_detected!("fma") && avx2() {
            // SAFETY: the CPU supports AVX2 and FMA (checked above).
            return unsafe { x86::dot(&a[..n], &b[..n]) };
        }
        dot_portable(&a[..n], &b[..n])
    }

    /// `y += s·x`.
    #[inline]
    pub(super) fn axpy(s: f64, x: &[f64], y: &mut [f64]) {
        let n = x.len().min(y.len());
        #[cfg(target_arch = "x86_64")]
        if n >= 16 && std::arch::is_x86_feature_detected!("fma") && avx2() {
            // SAFETY: as in `dot`.
            unsafe { x86::axpy(s, &x[..n], &mut y[..n]) };
            return;
        }
        for (yi, xi) in y[..n].iter_mut().zip(&x[..n]) {
            *yi += s * xi;
        }
    }

    /// `y += s·x`, returning `‖y‖²` of the result.
    #[inline]
    pub(super) fn axpy_sqnorm(s: f64, x: &[f64], y: &mut [f64]) -> f64 {
        let n = x.len().min(y.len());
        #[cfg(target_arch = "x86_64")]
        if n >= 16 && std::arch::is_x86_feature_detected!("fma") && avx2() {
            // SAFETY: as in `dot`.
            return unsafe { x86::axpy_sqnorm(s, &x[..n], &mut y[..n]) };
        }
        axpy(s, x, y);
        dot_portable(&y[..n], &y[..n])
    }

    #[cfg(target_arch = "x86_64")]
    #[inline]
    fn avx2() -> bool {
        std::arch::is_x86_feature_detected!("avx2")
    }

    fn dot_portable(a: &[f64], b: &[f64]) -> f64 {
        let mut acc = [0.0f64; 4];
        let ca = a.chunks_exact(4);
        let cb = b.chunks_exact(4);
        let tail: f64 = ca
            .remainder()
            .iter()
            .zip(cb.remainder())
            .map(|(x, y)| x * y)
            .sum();
        for (x, y) in ca.zip(cb) {
            for k in 0..4 {
                acc[k] += x[k] * y[k];
            }
        }
        (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
    }

    #[cfg(target_arch = "x86_64")]
    mod x86 {
        use std::arch::x86_64::*;

        #[target_feature(enable = "avx2,fma")]
        unsafe fn hsum(v: __m256d) -> f64 {
            let lo = _mm256_castpd256_pd128(v);
            let hi = _mm256_extractf128_pd(v, 1);
            let s = _mm_add_pd(lo, hi);
            let h = _mm_unpackhi_pd(s, s);
            _mm_cvtsd_f64(_mm_add_sd(s, h))
        }

        /// Callers pass slices of equal length.
        #[target_feature(enable = "avx2,fma")]
        pub(super) unsafe fn dot(a: &[f64], b: &[f64]) -> f64 {
            let n = a.len();
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let mut acc = [_mm256_setzero_pd(); 4];
            let mut i = 0;
            while i + 16 <= n {
                for (k, acc) in acc.iter_mut().enumerate() {
                    let x = _mm256_loadu_pd(pa.add(i + 4 * k));
                    let y = _mm256_loadu_pd(pb.add(i + 4 * k));
                    *acc = _mm256_fmadd_pd(x, y, *acc);
                }
                i += 16;
            }
            while i + 4 <= n {
                let x = _mm256_loadu_pd(pa.add(i));
                let y = _mm256_loadu_pd(pb.add(i));
                acc[0] = _mm256_fmadd_pd(x, y, acc[0]);
                i += 4;
            }
            let v = _mm256_add_pd(_mm256_add_pd(acc[0], acc[1]), _mm256_add_pd(acc[2], acc[3]));
            let mut s = hsum(v);
            while i < n {
                s += *pa.add(i) * *pb.add(i);
                i += 1;
            }
            s
        }

        /// Callers pass slices of equal length.
        #[target_feature(enable = "avx2,fma")]
        pub(super) unsafe fn axpy(s: f64, x: &[f64], y: &mut [f64]) {
            let n = x.len();
            let (px, py) = (x.as_ptr(), y.as_mut_ptr());
            let sv = _mm256_set1_pd(s);
            let mut i = 0;
            while i + 4 <= n {
                let v = _mm256_fmadd_pd(sv, _mm256_loadu_pd(px.add(i)), _mm256_loadu_pd(py.add(i)));
                _mm256_storeu_pd(py.add(i), v);
                i += 4;
            }
            while i < n {
                *py.add(i) += s * *px.add(i);
                i += 1;
            }
        }

        /// Callers pass slices of equal length.
        #[target_feature(enable = "avx2,fma")]
        pub(super) unsafe fn axpy_sqnorm(s: f64, x: &[f64], y: &mut [f64]) -> f64 {
            let n = x.len();
            let (px, py) = (x.as_ptr(), y.as_mut_ptr());
            let sv = _mm256_set1_pd(s);
            let mut acc = [_mm256_setzero_pd(); 2];
            let mut i = 0;
            while i + 8 <= n {
                for (k, acc) in acc.iter_mut().enumerate() {
                    let o = i + 4 * k;
                    let v =
                        _mm256_fmadd_pd(sv, _mm256_loadu_pd(px.add(o)), _mm256_loadu_pd(py.add(o)));
                    _mm256_storeu_pd(py.add(o), v);
                    *acc = _mm256_fmadd_pd(v, v, *acc);
                }
                i += 8;
            }
            let mut q = hsum(_mm256_add_pd(acc[0], acc[1]));
            while i < n {
                let v = *py.add(i) + s * *px.add(i);
                *py.add(i) = v;
                q += v * v;
                i += 1;
            }
            q
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn kernels_match_plain_loops() {
            for n in [0usize, 3, 4, 15, 16, 17, 37, 256] {
                let a: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
                let b: Vec<f64> = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
                let want: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
                assert!((super::dot(&a, &b) - want).abs() < 1e-12);
                let mut y = b.clone();
                let q = super::axpy_sqnorm(-0.5, &a, &mut y);
                let mut y2 = b.clone();
                super::axpy(-0.5, &a, &mut y2);
                for i in 0..n {
                    assert!((y[i] - (b[i] - 0.5 * a[i])).abs() < 1e-15);
                    assert!((y2[i] - y[i]).abs() < 1e-15);
                }
                let qq: f64 = y.iter().map(|v| v * v).sum();
                assert!((q - qq).abs() < 1e-12);
            }
        }
    }
}

/// A fixed pseudo-random value in `[0, 1)` for index `j` (cost perturbation).
fn unit_hash(j: usize) -> f64 {
    let h = (j as u64 ^ 0x5851_f42d_4c95_7f2d).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let h = (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// `1` if the basic variable at position `r` is a logical (its implied unit column of
/// `B⁻¹` adds `(−1)²` to the norm of row `r`), else `0`.
fn implied_weight(head: &[usize], n: usize, r: usize) -> f64 {
    if head[r] >= n {
        1.0
    } else {
        0.0
    }
}

/// Working state of one solve.
struct Run<'a> {
    lp: &'a DenseLp,
    opts: &'a DenseOptions,
    /// Working costs of the `n + m` variables (perturbed while `perturbed`).
    cost: Vec<f64>,
    true_cost: Vec<f64>,
    perturbed: bool,
    head: Vec<usize>,
    status: Vec<Status>,
    x: Vec<f64>,
    d: Vec<f64>,
    /// The columns of `B⁻¹` that are not unit vectors, row-major `m × stride` with the first
    /// `k` slots in use; row `r` belongs to basis position `r`. With `R` the rows whose
    /// logical is nonbasic (`|R| = k`, the number of structural basic columns), column `i` of
    /// `B⁻¹` is slot `row_slot[i]` for `i ∈ R`, and `−e_r` for a row `i ∉ R` whose logical is
    /// basic at position `r` (not stored). See [`Run::refactor`].
    binv: Vec<f64>,
    /// Row length of `binv`: `min(m, n + 1)`, since `k ≤ min(m, n)` between iterations and
    /// `k ≤ n + 1` inside one (a logical leaves before another enters).
    stride: usize,
    /// Slots of `binv` in use.
    k: usize,
    /// Row of `A` whose column of `B⁻¹` each slot holds.
    slot_row: Vec<usize>,
    /// Slot of each row's column of `B⁻¹`, or `usize::MAX` when its logical is basic.
    row_slot: Vec<usize>,
    /// DSE weights `‖row r of B⁻¹‖²`.
    w: Vec<f64>,
    alpha: Vec<f64>,
    cand: Vec<(usize, f64)>,
    work: Vec<f64>,
    column: Vec<f64>,
    iterations: usize,
    flips: usize,
    refactors: usize,
    since_refactor: usize,
}

impl<'a> Run<'a> {
    fn new(
        lp: &'a DenseLp,
        cost: &[f64],
        start: Option<Basis>,
        opts: &'a DenseOptions,
    ) -> Result<Self, SimplexError> {
        let (m, n) = (lp.m, lp.n);
        let mut true_cost = cost.to_vec();
        true_cost.resize(n + m, 0.0);
        let warm = start.is_some();
        let (head, status) = match start {
            Some(b) => (b.head, b.status),
            None => {
                let mut status = vec![Status::Lower; n + m];
                for (j, s) in status.iter_mut().enumerate().take(n) {
                    if cost[j] < 0.0 {
                        *s = Status::Upper;
                    }
                }
                for s in &mut status[n..] {
                    *s = Status::Basic;
                }
                ((n..n + m).collect(), status)
            }
        };
        let mut run = Run {
            lp,
            opts,
            cost: true_cost.clone(),
            true_cost,
            perturbed: false,
            head,
            status,
            x: vec![0.0; n + m],
            d: vec![0.0; n + m],
            binv: vec![0.0; m * m.min(n + 1)],
            stride: m.min(n + 1),
            k: 0,
            slot_row: vec![usize::MAX; m.min(n + 1)],
            row_slot: vec![usize::MAX; m],
            w: vec![1.0; m],
            alpha: vec![0.0; n + m],
            cand: Vec::new(),
            work: vec![0.0; m],
            column: vec![0.0; m],
            iterations: 0,
            flips: 0,
            refactors: 0,
            since_refactor: 0,
        };
        for j in 0..n + m {
            run.x[j] = match run.status[j] {
                Status::Upper => lp.hi[j],
                _ => lp.lo[j],
            };
        }
        if warm {
            run.refactor()?;
        }
        // Cold: the slack basis `B = −I`, every column of `B⁻¹` implied (`k = 0`).
        run.compute_dual();
        run.make_dual_feasible();
        if opts.perturb {
            run.perturb();
        }
        run.compute_primal();
        run.compute_weights();
        Ok(run)
    }

    fn is_fixed(&self, j: usize) -> bool {
        self.lp.lo[j] == self.lp.hi[j]
    }

    /// Column `j` of `[A, −I]` added to `out` times `s`.
    fn add_column(&self, j: usize, s: f64, out: &mut [f64]) {
        let m = self.lp.m;
        if j < self.lp.n {
            axpy(s, &self.lp.cols[j * m..(j + 1) * m], out);
        } else {
            out[j - self.lp.n] -= s;
        }
    }

    /// Row `r` of `B⁻¹` on the slots in use.
    fn binv_row(&self, r: usize) -> &[f64] {
        &self.binv[r * self.stride..r * self.stride + self.k]
    }

    /// `out = B⁻¹ v`: the stored slots, plus `−v_i` at the position of each basic logical.
    fn ftran(&self, v: &[f64], out: &mut [f64]) {
        let n = self.lp.n;
        let vs: Vec<f64> = self.slot_row[..self.k].iter().map(|&i| v[i]).collect();
        for (r, o) in out.iter_mut().enumerate() {
            let mut s = dot(self.binv_row(r), &vs);
            if self.head[r] >= n {
                s -= v[self.head[r] - n];
            }
            *o = s;
        }
    }

    /// Perturbs the structural costs towards dual feasibility (fixed amounts).
    fn perturb(&mut self) {
        let n = self.lp.n;
        let cmax = self.true_cost[..n]
            .iter()
            .fold(0.0f64, |a, c| a.max(c.abs()));
        if cmax == 0.0 {
            return;
        }
        for j in 0..n {
            if self.is_fixed(j) {
                continue;
            }
            let xi = 1e-7 * (self.true_cost[j].abs() + 0.1 * cmax) * (1.0 + unit_hash(j));
            let delta = match self.status[j] {
                Status::Upper => -xi,
                Status::Lower => xi,
                Status::Basic => continue,
            };
            self.cost[j] += delta;
            self.d[j] += delta;
        }
        self.perturbed = true;
    }

    /// Rebuilds `B⁻¹` from the basis: with `S` the structural basic columns and `R` the rows
    /// whose logical is nonbasic (`|R| = |S| = k`), `M = A[R, S]` is inverted; the row of
    /// `B⁻¹` for structural position `t` is `M⁻¹[t, :]` on the columns `R`, and for the basic
    /// logical of row `i` it is `A[i, S] M⁻¹` on `R` and `−1` at column `i`.
    fn refactor(&mut self) -> Result<(), SimplexError> {
        let (m, n) = (self.lp.m, self.lp.n);
        let mut structural = Vec::new();
        let mut logical_pos = vec![usize::MAX; m];
        for (r, &v) in self.head.iter().enumerate() {
            if v < n {
                structural.push((r, v));
            } else {
                logical_pos[v - n] = r;
            }
        }
        let rows_r: Vec<usize> = (0..m).filter(|&i| logical_pos[i] == usize::MAX).collect();
        let k = structural.len();
        if rows_r.len() != k {
            return Err(SimplexError::Numerical(
                "basis is not a set of m variables".into(),
            ));
        }
        // M, row-major k × k: M[a][t] = A[R_a, S_t].
        let mut mat = vec![0.0; k * k];
        for (t, &(_, j)) in structural.iter().enumerate() {
            let col = &self.lp.cols[j * m..(j + 1) * m];
            for (a, &i) in rows_r.iter().enumerate() {
                mat[a * k + t] = col[i];
            }
        }
        let minv =
            invert(&mut mat, k).ok_or_else(|| SimplexError::Numerical("singular basis".into()))?;
        let st = self.stride;
        self.k = k;
        self.row_slot.iter_mut().for_each(|v| *v = usize::MAX);
        for (a, &i) in rows_r.iter().enumerate() {
            self.slot_row[a] = i;
            self.row_slot[i] = a;
        }
        for (t, &(r, _)) in structural.iter().enumerate() {
            self.binv[r * st..r * st + k].copy_from_slice(&minv[t * k..(t + 1) * k]);
        }
        let mut g = vec![0.0; k];
        for (i, &r) in logical_pos.iter().enumerate() {
            if r == usize::MAX {
                continue;
            }
            g.iter_mut().for_each(|v| *v = 0.0);
            for (t, &(_, j)) in structural.iter().enumerate() {
                let a = self.lp.cols[j * m + i];
                if a != 0.0 {
                    axpy(a, &minv[t * k..(t + 1) * k], &mut g);
                }
            }
            self.binv[r * st..r * st + k].copy_from_slice(&g);
        }
        self.refactors += 1;
        self.since_refactor = 0;
        Ok(())
    }

    /// `x_B = −B⁻¹ N x_N`.
    fn compute_primal(&mut self) {
        let (m, n) = (self.lp.m, self.lp.n);
        let mut v = std::mem::take(&mut self.work);
        v.iter_mut().for_each(|x| *x = 0.0);
        for j in 0..n + m {
            if self.status[j] != Status::Basic && self.x[j] != 0.0 {
                self.add_column(j, -self.x[j], &mut v);
            }
        }
        let mut xb = std::mem::take(&mut self.column);
        self.ftran(&v, &mut xb);
        for (r, &j) in self.head.iter().enumerate() {
            self.x[j] = xb[r];
        }
        self.work = v;
        self.column = xb;
    }

    /// `yᵀ = c_Bᵀ B⁻¹`, `d_j = c_j − yᵀ a_j`.
    fn compute_dual(&mut self) {
        let (m, n) = (self.lp.m, self.lp.n);
        let mut ys = vec![0.0; self.k];
        let mut y = vec![0.0; m];
        for (r, &j) in self.head.iter().enumerate() {
            let c = self.cost[j];
            if c != 0.0 {
                axpy(c, self.binv_row(r), &mut ys);
                if j >= n {
                    y[j - n] -= c;
                }
            }
        }
        for (s, &v) in ys.iter().enumerate() {
            y[self.slot_row[s]] += v;
        }
        for j in 0..n + m {
            self.d[j] = match self.status[j] {
                Status::Basic => 0.0,
                _ if j < n => self.cost[j] - dot(&y, &self.lp.cols[j * m..(j + 1) * m]),
                _ => self.cost[j] + y[j - n],
            };
        }
    }

    /// Moves every nonbasic variable whose reduced cost has the wrong sign by more than
    /// `dual_tol` to its other bound (every variable is boxed). Returns the number moved;
    /// `x_B` is not updated.
    fn make_dual_feasible(&mut self) -> usize {
        let tol = self.opts.dual_tol;
        let mut moved = 0;
        for j in 0..self.x.len() {
            if self.is_fixed(j) {
                continue;
            }
            match self.status[j] {
                Status::Lower if self.d[j] < -tol => {
                    self.status[j] = Status::Upper;
                    self.x[j] = self.lp.hi[j];
                    moved += 1;
                }
                Status::Upper if self.d[j] > tol => {
                    self.status[j] = Status::Lower;
                    self.x[j] = self.lp.lo[j];
                    moved += 1;
                }
                _ => {}
            }
        }
        self.flips += moved;
        moved
    }

    fn compute_weights(&mut self) {
        for r in 0..self.lp.m {
            let row = self.binv_row(r);
            self.w[r] = dot(row, row) + implied_weight(&self.head, self.lp.n, r);
        }
    }

    /// Rebuilds `B⁻¹` and recomputes `x_B`, the duals and the weights from scratch.
    fn rebuild(&mut self) -> Result<(), SimplexError> {
        self.refactor()?;
        self.compute_dual();
        self.make_dual_feasible();
        self.compute_primal();
        self.compute_weights();
        Ok(())
    }

    /// Largest bound violation of a basic variable, with its row.
    fn worst_row(&self) -> Option<usize> {
        let tol = self.opts.primal_tol;
        let mut best = None;
        let mut best_score = 0.0;
        for (r, &j) in self.head.iter().enumerate() {
            let x = self.x[j];
            let inf = if x < self.lp.lo[j] - tol {
                self.lp.lo[j] - x
            } else if x > self.lp.hi[j] + tol {
                x - self.lp.hi[j]
            } else {
                continue;
            };
            let score = inf * inf / self.w[r].max(1e-300);
            if score > best_score {
                best_score = score;
                best = Some(r);
            }
        }
        best
    }

    /// Iterations between rebuilds of `B⁻¹`: [`DenseOptions::refactor_every`], or `k / 2` when
    /// that is larger. A rebuild inverts the `k × k` block (`≈ k³` flops) and an iteration
    /// costs `≈ (2m + n) k`, so with many structural basic columns (LeNet-5's `fc1`: `k ≈ 600`,
    /// `m ≈ 2,000`) rebuilding every 100 iterations took a third of the time. Drift between
    /// rebuilds is still caught: a pivot on which the row and column computations disagree
    /// forces a rebuild, and so does declaring optimality.
    fn refactor_interval(&self) -> usize {
        self.opts.refactor_every.max(1).max(self.k / 2)
    }

    fn optimize(&mut self) -> Result<(), SimplexError> {
        let (m, n) = (self.lp.m, self.lp.n);
        let limit = match self.opts.max_iterations {
            0 => 20 * (m + n) + 1000,
            l => l,
        };
        loop {
            if self.since_refactor >= self.refactor_interval() {
                self.rebuild()?;
            }
            match self.worst_row() {
                Some(r) => {
                    if self.iterations >= limit {
                        return Err(SimplexError::IterationLimit(self.iterations));
                    }
                    self.iterate(r)?;
                }
                None if self.since_refactor > 0 => self.rebuild()?,
                None if self.perturbed => {
                    self.cost.copy_from_slice(&self.true_cost);
                    self.perturbed = false;
                    self.compute_dual();
                    if self.make_dual_feasible() > 0 {
                        self.compute_primal();
                    }
                }
                None => return Ok(()),
            }
        }
    }

    /// One dual simplex iteration with leaving row `r`.
    fn iterate(&mut self, r: usize) -> Result<(), SimplexError> {
        let (m, n) = (self.lp.m, self.lp.n);
        let p = self.head[r];
        let to_lower = self.x[p] < self.lp.lo[p];
        let bound = if to_lower {
            self.lp.lo[p]
        } else {
            self.lp.hi[p]
        };
        let delta = self.x[p] - bound;
        let sign = if to_lower { -1.0 } else { 1.0 };
        let (ptol, dtol) = (self.opts.pivot_tol, self.opts.dual_tol);

        // Pivot row and breakpoints.
        let mut cand = std::mem::take(&mut self.cand);
        cand.clear();
        {
            // `ρ = e_rᵀ B⁻¹` is the stored slots plus `−1` at the row of a basic logical at
            // `r`; `α = ρᵀA` row-wise over its nonzeros (`k + 1` rows of `A` at most).
            let st = self.stride;
            let rho = &self.binv[r * st..r * st + self.k];
            self.alpha[..n].fill(0.0);
            for (s, &v) in rho.iter().enumerate() {
                if v != 0.0 {
                    let i = self.slot_row[s];
                    axpy(v, &self.lp.rows[i * n..(i + 1) * n], &mut self.alpha[..n]);
                }
            }
            if p >= n {
                let i = p - n;
                axpy(
                    -1.0,
                    &self.lp.rows[i * n..(i + 1) * n],
                    &mut self.alpha[..n],
                );
            }
            for j in 0..n + m {
                if self.status[j] == Status::Basic || self.is_fixed(j) {
                    continue;
                }
                // A nonbasic logical's row is in `R`, so it has a slot.
                let a = if j >= n {
                    -rho[self.row_slot[j - n]]
                } else {
                    self.alpha[j]
                };
                self.alpha[j] = a;
                let at = sign * a;
                match self.status[j] {
                    Status::Lower if at > ptol => cand.push((j, self.d[j].max(0.0) / at)),
                    Status::Upper if at < -ptol => cand.push((j, self.d[j].min(0.0) / at)),
                    _ => {}
                }
            }
        }
        if cand.is_empty() {
            self.cand = cand;
            if self.since_refactor > 0 {
                return self.rebuild();
            }
            return Err(SimplexError::Infeasible(format!(
                "row {r} of the basis cannot reach its bounds (dual ray)"
            )));
        }
        cand.sort_unstable_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        // Bound flipping: pass breakpoints while the slope stays positive.
        let mut slope = delta.abs();
        let mut first = 0;
        while first + 1 < cand.len() {
            let j = cand[first].0;
            let drop = self.alpha[j].abs() * (self.lp.hi[j] - self.lp.lo[j]);
            if slope - drop <= 0.0 {
                break;
            }
            slope -= drop;
            first += 1;
        }
        // Harris: among the rest, the largest |α| within the relaxed bound.
        let mut tmax = f64::INFINITY;
        for &(j, t) in &cand[first..] {
            if t > tmax {
                break;
            }
            let at = sign * self.alpha[j];
            let relaxed = match self.status[j] {
                Status::Lower => (self.d[j].max(0.0) + dtol) / at,
                _ => (self.d[j].min(0.0) - dtol) / at,
            };
            tmax = tmax.min(relaxed);
        }
        let mut q = cand[first].0;
        let mut best = 0.0;
        for &(j, t) in &cand[first..] {
            if t > tmax {
                break;
            }
            if self.alpha[j].abs() > best {
                best = self.alpha[j].abs();
                q = j;
            }
        }
        self.cand = cand;

        // Entering column through B⁻¹, checked against the pivot row.
        let mut aq = std::mem::take(&mut self.column);
        {
            let mut v = std::mem::take(&mut self.work);
            v.iter_mut().for_each(|x| *x = 0.0);
            self.add_column(q, 1.0, &mut v);
            self.ftran(&v, &mut aq);
            self.work = v;
        }
        let piv = aq[r];
        let arq = self.alpha[q];
        let disagree = (piv - arq).abs() > 1e-7 * (1.0 + arq.abs());
        if piv.abs() < ptol || disagree {
            self.column = aq;
            if self.since_refactor > 0 {
                return self.rebuild();
            }
            return Err(SimplexError::Numerical(format!(
                "pivot {piv:.3e} (row computation {arq:.3e}) right after a rebuild"
            )));
        }

        // Dual update, then flips of the reduced costs that changed sign.
        let dq = match self.status[q] {
            Status::Lower => self.d[q].max(0.0),
            _ => self.d[q].min(0.0),
        };
        let theta_d = dq / arq;
        let mut flip = std::mem::take(&mut self.work);
        flip.iter_mut().for_each(|x| *x = 0.0);
        let mut any_flip = false;
        for j in 0..n + m {
            if self.status[j] == Status::Basic || self.is_fixed(j) || j == q {
                continue;
            }
            self.d[j] -= theta_d * self.alpha[j];
            let to = match self.status[j] {
                Status::Lower if self.d[j] < -dtol => Status::Upper,
                Status::Upper if self.d[j] > dtol => Status::Lower,
                _ => continue,
            };
            let new_x = if to == Status::Upper {
                self.lp.hi[j]
            } else {
                self.lp.lo[j]
            };
            let dx = new_x - self.x[j];
            self.x[j] = new_x;
            self.status[j] = to;
            // x_B changes by −B⁻¹ a_j dx.
            self.add_column(j, dx, &mut flip);
            any_flip = true;
            self.flips += 1;
        }
        self.d[q] = 0.0;
        self.d[p] = -theta_d;
        if any_flip {
            let mut dxb = vec![0.0; m];
            self.ftran(&flip, &mut dxb);
            for (i, &j) in self.head.iter().enumerate() {
                self.x[j] -= dxb[i];
            }
        }
        self.work = flip;

        // Primal step and basis change.
        let theta_p = (self.x[p] - bound) / piv;
        for (i, &j) in self.head.iter().enumerate() {
            self.x[j] -= theta_p * aq[i];
        }
        self.x[q] += theta_p;
        self.x[p] = bound;
        self.head[r] = q;
        self.status[q] = Status::Basic;
        self.status[p] = if to_lower {
            Status::Lower
        } else {
            Status::Upper
        };

        // B⁻¹ ← E B⁻¹ and the weights. A leaving logical's row joins `R`: its column of
        // `B⁻¹`, `−e_r` so far, gets a slot first.
        let st = self.stride;
        if p >= n {
            let (i0, s0) = (p - n, self.k);
            self.slot_row[s0] = i0;
            self.row_slot[i0] = s0;
            for rr in 0..m {
                self.binv[rr * st + s0] = if rr == r { -1.0 } else { 0.0 };
            }
            self.k += 1;
        }
        {
            let k = self.k;
            let (before, rest) = self.binv.split_at_mut(r * st);
            let (row_r, after) = rest.split_at_mut(st);
            let row_r = &mut row_r[..k];
            row_r.iter_mut().for_each(|v| *v /= piv);
            for (i, row) in before.chunks_exact_mut(st).enumerate().chain(
                after
                    .chunks_exact_mut(st)
                    .enumerate()
                    .map(|(k, c)| (r + 1 + k, c)),
            ) {
                let f = aq[i];
                if f != 0.0 {
                    self.w[i] =
                        axpy_sqnorm(-f, row_r, &mut row[..k]) + implied_weight(&self.head, n, i);
                }
            }
        }
        // An entering logical's row leaves `R`: its column is now `−e_r` (implied); the
        // last slot moves into its place.
        if q >= n {
            let i1 = q - n;
            let (s1, last) = (self.row_slot[i1], self.k - 1);
            if s1 != last {
                for rr in 0..m {
                    self.binv.swap(rr * st + s1, rr * st + last);
                }
                let moved = self.slot_row[last];
                self.slot_row[s1] = moved;
                self.row_slot[moved] = s1;
            }
            self.row_slot[i1] = usize::MAX;
            self.k -= 1;
        }
        {
            let row_r = self.binv_row(r);
            self.w[r] = dot(row_r, row_r) + implied_weight(&self.head, self.lp.n, r);
        }
        self.column = aq;
        self.iterations += 1;
        self.since_refactor += 1;
        Ok(())
    }

    fn solution(&self, cost: &[f64], warm: bool) -> DenseSolution {
        let n = self.lp.n;
        let x = self.x[..n].to_vec();
        let objective = dot(cost, &x);
        let primal_infeasibility = self
            .head
            .iter()
            .map(|&j| {
                (self.lp.lo[j] - self.x[j])
                    .max(self.x[j] - self.lp.hi[j])
                    .max(0.0)
            })
            .fold(0.0, f64::max);
        let dual_infeasibility = (0..self.x.len())
            .filter(|&j| !self.is_fixed(j))
            .map(|j| match self.status[j] {
                Status::Lower => (-self.d[j]).max(0.0),
                Status::Upper => self.d[j].max(0.0),
                Status::Basic => 0.0,
            })
            .fold(0.0, f64::max);
        DenseSolution {
            x,
            objective,
            iterations: self.iterations,
            flips: self.flips,
            refactors: self.refactors,
            primal_infeasibility,
            dual_infeasibility,
            warm,
            seconds: 0.0,
        }
    }
}

/// Inverse of the row-major `k × k` matrix `a` (destroyed) by Gauss–Jordan elimination with
/// partial pivoting; `None` when a pivot is below `1e-12` times the largest entry.
fn invert(a: &mut [f64], k: usize) -> Option<Vec<f64>> {
    let scale = a.iter().fold(0.0f64, |s, v| s.max(v.abs()));
    if k == 0 {
        return Some(Vec::new());
    }
    if scale == 0.0 {
        return None;
    }
    // Gauss–Jordan with partial pivoting on `[a | inv]`. `inv`'s columns are kept in a
    // permuted layout (`col[t]`: the true column at layout position `t`) in which the
    // columns touched by the first `c` pivots are the first `c`: every other column is
    // still a unit column, so each elimination runs over `0..=c` instead of all `k`.
    let mut inv = vec![0.0; k * k];
    for i in 0..k {
        inv[i * k + i] = 1.0;
    }
    let mut col: Vec<usize> = (0..k).collect();
    for c in 0..k {
        let (p, pv) = (c..k)
            .map(|i| (i, a[i * k + c].abs()))
            .fold((c, -1.0), |b, x| if x.1 > b.1 { x } else { b });
        if pv <= 1e-12 * scale {
            return None;
        }
        if p != c {
            for t in 0..k {
                a.swap(p * k + t, c * k + t);
                inv.swap(p * k + t, c * k + t);
            }
        }
        // Row `c`'s own unit column (untouched so far) moves to layout position `c`.
        if let Some(u) = (c..k).find(|&t| inv[c * k + t] != 0.0) {
            if u != c {
                for i in 0..k {
                    inv.swap(i * k + u, i * k + c);
                }
                col.swap(u, c);
            }
        }
        let d = 1.0 / a[c * k + c];
        a[c * k..(c + 1) * k].iter_mut().for_each(|v| *v *= d);
        inv[c * k..c * k + c + 1].iter_mut().for_each(|v| *v *= d);
        let prow: Vec<f64> = a[c * k..(c + 1) * k].to_vec();
        let pinv: Vec<f64> = inv[c * k..c * k + c + 1].to_vec();
        for i in 0..k {
            if i == c {
                continue;
            }
            let f = a[i * k + c];
            if f != 0.0 {
                axpy(-f, &prow[c..], &mut a[i * k + c..(i + 1) * k]);
                axpy(-f, &pinv, &mut inv[i * k..i * k + c + 1]);
            }
        }
    }
    let mut out = vec![0.0; k * k];
    for i in 0..k {
        for (t, &j) in col.iter().enumerate() {
            out[i * k + j] = inv[i * k + t];
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lp(rows: &[&[f64]], rl: &[f64], ru: &[f64], l: &[f64], u: &[f64]) -> DenseLp {
        let m = rows.len();
        let n = l.len();
        let a: Vec<f64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        DenseLp::new(&a, m, n, rl, ru, l, u).unwrap()
    }

    #[test]
    fn invert_matches_identity() {
        let mut a = vec![2.0, 1.0, 0.0, 1.0, 3.0, 1.0, 0.0, 1.0, 4.0];
        let orig = a.clone();
        let inv = invert(&mut a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|t| orig[i * 3 + t] * inv[t * 3 + j]).sum();
                assert!((s - f64::from(u8::from(i == j))).abs() < 1e-14);
            }
        }
        let mut sing = vec![1.0, 2.0, 2.0, 4.0];
        assert!(invert(&mut sing, 2).is_none());
    }

    /// max x + y s.t. x + 2y ≤ 4, 3x + y ≤ 6, 0 ≤ x, y ≤ 10: optimum (1.6, 1.2), value 2.8
    /// (by hand: the two rows are tight, x = (2·6 − 4)/5, y = (3·4 − 6)/5).
    #[test]
    fn textbook_lp() {
        let mut p = lp(
            &[&[1.0, 2.0], &[3.0, 1.0]],
            &[f64::NEG_INFINITY; 2],
            &[4.0, 6.0],
            &[0.0, 0.0],
            &[10.0, 10.0],
        );
        let s = p
            .solve(&[-1.0, -1.0], false, &DenseOptions::default())
            .unwrap();
        assert!(
            (s.x[0] - 1.6).abs() < 1e-12 && (s.x[1] - 1.2).abs() < 1e-12,
            "{s:?}"
        );
        assert!((s.objective + 2.8).abs() < 1e-12);
        // Same LP, other objective, warm from the previous basis: min x − y → (0, 2).
        let s = p
            .solve(&[1.0, -1.0], true, &DenseOptions::default())
            .unwrap();
        assert!(s.warm);
        assert!(
            s.x[0].abs() < 1e-12 && (s.x[1] - 2.0).abs() < 1e-12,
            "{s:?}"
        );
    }

    /// An equality row and bound flips: min −Σx s.t. Σx = 2.5, 0 ≤ x ≤ 1 (4 columns) has
    /// value −2.5; with costs (−4, −3, −2, −1) the optimum is (1, 1, 0.5, 0).
    #[test]
    fn equality_and_flips() {
        let mut p = lp(&[&[1.0; 4]], &[2.5], &[2.5], &[0.0; 4], &[1.0; 4]);
        let s = p
            .solve(&[-4.0, -3.0, -2.0, -1.0], false, &DenseOptions::default())
            .unwrap();
        let want = [1.0, 1.0, 0.5, 0.0];
        for (a, b) in s.x.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{s:?}");
        }
        assert!((s.objective + 4.0 + 3.0 + 1.0).abs() < 1e-12);
    }

    /// Rows added after a solve (a cut through the optimum) give, warm, the optimum of the
    /// LP built with them from the start: max x + y over `x + 2y ≤ 4, 3x + y ≤ 6` is at
    /// (1.6, 1.2); adding `x + y ≤ 2.5` moves it onto that row (value 2.5), and `x ≤ 0.5`
    /// then to (0.5, 1.75).
    #[test]
    fn added_rows_warm_start() {
        let opts = DenseOptions::default();
        let mut p = lp(
            &[&[1.0, 2.0], &[3.0, 1.0]],
            &[-100.0; 2],
            &[4.0, 6.0],
            &[0.0, 0.0],
            &[10.0, 10.0],
        );
        p.solve(&[-1.0, -1.0], false, &opts).unwrap();
        p.add_rows(&[1.0, 1.0], &[-100.0], &[2.5]).unwrap();
        let s = p.solve(&[-1.0, -1.0], true, &opts).unwrap();
        assert!(s.warm && (s.objective + 2.5).abs() < 1e-12, "{s:?}");
        p.add_rows(&[1.0, 0.0], &[-100.0], &[0.5]).unwrap();
        let s = p.solve(&[-1.0, -1.0], true, &opts).unwrap();
        assert!(
            (s.x[0] - 0.5).abs() < 1e-12 && (s.x[1] - 1.75).abs() < 1e-12,
            "{s:?}"
        );
        assert_eq!(p.rows(), 4);
        let full = lp(
            &[&[1.0, 2.0], &[3.0, 1.0], &[1.0, 1.0], &[1.0, 0.0]],
            &[-100.0; 4],
            &[4.0, 6.0, 2.5, 0.5],
            &[0.0, 0.0],
            &[10.0, 10.0],
        )
        .solve(&[-1.0, -1.0], false, &opts)
        .unwrap();
        assert!((full.objective - s.objective).abs() < 1e-12);
        assert!(matches!(
            p.add_rows(&[1.0, 0.0], &[f64::NEG_INFINITY], &[1.0]),
            Err(SimplexError::Input(_))
        ));
    }

    #[test]
    fn infeasible_and_bad_input() {
        // x + y ≥ 3 with x, y ∈ [0, 1]: the implied range [0, 2] misses it.
        let e = DenseLp::new(
            &[1.0, 1.0],
            1,
            2,
            &[3.0],
            &[f64::INFINITY],
            &[0.0; 2],
            &[1.0; 2],
        );
        assert!(matches!(e, Err(SimplexError::Infeasible(_))));
        // x − y ≥ 0.5 and y − x ≥ 0.5: each reachable, together empty.
        let mut p = lp(
            &[&[1.0, -1.0], &[-1.0, 1.0]],
            &[0.5, 0.5],
            &[f64::INFINITY; 2],
            &[0.0; 2],
            &[1.0; 2],
        );
        let e = p.solve(&[1.0, 1.0], false, &DenseOptions::default());
        assert!(matches!(e, Err(SimplexError::Infeasible(_))), "{e:?}");
        let e = DenseLp::new(&[1.0], 1, 1, &[0.0], &[1.0], &[0.0], &[f64::INFINITY]);
        assert!(matches!(e, Err(SimplexError::Input(_))));
        let e = DenseLp::new(&[1.0, 2.0], 1, 1, &[0.0], &[1.0], &[0.0], &[1.0]);
        assert!(matches!(e, Err(SimplexError::Input(_))));
        let mut p = lp(&[&[1.0]], &[0.0], &[1.0], &[0.0], &[1.0]);
        assert!(matches!(
            p.solve(&[f64::NAN], false, &DenseOptions::default()),
            Err(SimplexError::Input(_))
        ));
    }

    /// Random feasible dense LPs (equalities and inequalities through a point of the box,
    /// some rows loose), many objectives, cold and warm: the optimum matches HiGHS, which
    /// is an independent implementation (`exact::lp`, the dual simplex of HiGHS 1.x).
    #[test]
    #[cfg(feature = "highs")]
    fn matches_highs_on_random_lps() {
        use crate::exact::lp::{LpBuilder, LpOptions, Sense};
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for case in 0..12 {
            let n = rng.random_range(5..60);
            let m = rng.random_range(1..n);
            let n_eq = rng.random_range(0..=m / 2);
            let x0: Vec<f64> = (0..n).map(|_| rng.random_range(0.1..0.9)).collect();
            let mut a = Vec::with_capacity(m * n);
            let (mut rl, mut ru) = (Vec::new(), Vec::new());
            for i in 0..m {
                let row: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
                let v: f64 = row.iter().zip(&x0).map(|(a, b)| a * b).sum();
                if i < n_eq {
                    rl.push(v);
                    ru.push(v);
                } else if i % 3 == 0 {
                    rl.push(v - rng.random_range(0.0..0.5));
                    ru.push(v + rng.random_range(0.0..0.5));
                } else {
                    rl.push(f64::NEG_INFINITY);
                    ru.push(v + rng.random_range(0.0..0.3));
                }
                a.extend(row);
            }
            let (l, u) = (vec![0.0; n], vec![1.0; n]);
            let mut dense = DenseLp::new(&a, m, n, &rl, &ru, &l, &u).unwrap();
            let opts = LpOptions::default();
            let mut b = LpBuilder::new();
            for _ in 0..n {
                b.col(0.0, 1.0);
            }
            for i in 0..m {
                b.dense_row(rl[i], ru[i], 0, &a[i * n..(i + 1) * n]);
            }
            let mut highs = b.build("random", &opts).unwrap();
            for k in 0..4 {
                let c: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
                let want = highs.solve(Sense::Minimise, &c).unwrap().stats.objective;
                let got = dense
                    .solve(&c, k % 2 == 1, &DenseOptions::default())
                    .unwrap();
                assert!(
                    (got.objective - want).abs() < 1e-8 * (1.0 + want.abs()),
                    "case {case} objective {k}: dense {} vs HiGHS {want}",
                    got.objective
                );
                assert!(got.primal_infeasibility <= 1e-9 && got.dual_infeasibility <= 1e-9);
                // The point itself satisfies every constraint.
                for i in 0..m {
                    let v: f64 = a[i * n..(i + 1) * n]
                        .iter()
                        .zip(&got.x)
                        .map(|(a, b)| a * b)
                        .sum();
                    assert!(v >= rl[i] - 1e-8 && v <= ru[i] + 1e-8, "row {i}: {v}");
                }
                assert!(got.x.iter().all(|&x| (-1e-12..=1.0 + 1e-12).contains(&x)));
            }
        }
    }

    /// A degenerate LP (many ties: every cost equal, every row through the same vertex)
    /// terminates with the right value.
    #[test]
    #[cfg(feature = "highs")]
    fn degenerate_ties() {
        let n = 12;
        let m = 8;
        let mut a = Vec::new();
        for i in 0..m {
            for j in 0..n {
                a.push(if (i + j) % 3 == 0 { 1.0 } else { 0.5 });
            }
        }
        let rl = vec![f64::NEG_INFINITY; m];
        let ru: Vec<f64> = (0..m)
            .map(|i| a[i * n..(i + 1) * n].iter().sum::<f64>() * 0.5)
            .collect();
        let mut p = DenseLp::new(&a, m, n, &rl, &ru, &vec![0.0; n], &vec![1.0; n]).unwrap();
        let s = p
            .solve(&vec![-1.0; n], false, &DenseOptions::default())
            .unwrap();
        // x = 1/2 everywhere makes every row tight (a degenerate vertex); the optimum is
        // checked against HiGHS.
        use crate::exact::lp::{LpBuilder, LpOptions, Sense};
        let mut b = LpBuilder::new();
        for _ in 0..n {
            b.col(0.0, 1.0);
        }
        for i in 0..m {
            b.dense_row(rl[i], ru[i], 0, &a[i * n..(i + 1) * n]);
        }
        let mut h = b.build("ties", &LpOptions::default()).unwrap();
        let want = h
            .solve(Sense::Minimise, &vec![-1.0; n])
            .unwrap()
            .stats
            .objective;
        assert!(
            (s.objective - want).abs() < 1e-9,
            "{} vs {want}",
            s.objective
        );
    }

    /// Many random LPs of mixed structure (integer and real coefficients, duplicated rows,
    /// zero costs, fixed columns), against HiGHS. Run on purpose:
    /// `cargo test --release -p fcollide --lib stress -- --ignored`.
    #[cfg(feature = "highs")]
    #[test]
    #[ignore]
    fn stress_against_highs() {
        use crate::exact::lp::{LpBuilder, LpOptions, Sense};
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut worst_it = 0;
        for case in 0..400 {
            let n = rng.random_range(2..120);
            let m = rng.random_range(1..(n + 40));
            let integer = case % 2 == 0;
            let x0: Vec<f64> = (0..n)
                .map(|_| {
                    if integer {
                        rng.random_range(0..3) as f64 * 0.5
                    } else {
                        rng.random_range(0.0..1.0)
                    }
                })
                .collect();
            let mut a = Vec::with_capacity(m * n);
            let (mut rl, mut ru) = (Vec::new(), Vec::new());
            for i in 0..m {
                let row: Vec<f64> = if i > 0 && rng.random_bool(0.1) {
                    a[(i - 1) * n..i * n].to_vec()
                } else {
                    (0..n)
                        .map(|_| {
                            if rng.random_bool(0.3) {
                                0.0
                            } else if integer {
                                rng.random_range(-2..3) as f64
                            } else {
                                rng.random_range(-1.0..1.0)
                            }
                        })
                        .collect()
                };
                let v: f64 = row.iter().zip(&x0).map(|(a, b)| a * b).sum();
                match rng.random_range(0..4) {
                    0 => {
                        rl.push(v);
                        ru.push(v);
                    }
                    1 => {
                        rl.push(v - 0.5);
                        ru.push(f64::INFINITY);
                    }
                    _ => {
                        rl.push(f64::NEG_INFINITY);
                        ru.push(if integer {
                            v
                        } else {
                            v + rng.random_range(0.0..0.2)
                        });
                    }
                }
                a.extend(row);
            }
            let l = vec![0.0; n];
            let u: Vec<f64> = (0..n)
                .map(|j| if j % 17 == 5 { 0.0 } else { 1.0 })
                .collect();
            let x0: Vec<f64> = x0.iter().zip(&u).map(|(x, u)| x.min(*u)).collect();
            // Recompute the rows' right-hand sides for the clipped point.
            for i in 0..m {
                let v: f64 = a[i * n..(i + 1) * n]
                    .iter()
                    .zip(&x0)
                    .map(|(a, b)| a * b)
                    .sum();
                if rl[i] == ru[i] {
                    rl[i] = v;
                    ru[i] = v;
                } else if rl[i].is_finite() {
                    rl[i] = v - 0.5;
                } else {
                    ru[i] = ru[i].max(v);
                }
            }
            let mut dense = DenseLp::new(&a, m, n, &rl, &ru, &l, &u).unwrap();
            let mut b = LpBuilder::new();
            for j in 0..n {
                b.col(l[j], u[j]);
            }
            for i in 0..m {
                b.dense_row(rl[i], ru[i], 0, &a[i * n..(i + 1) * n]);
            }
            let mut highs = b.build("stress", &LpOptions::default()).unwrap();
            for k in 0..3 {
                let c: Vec<f64> = (0..n)
                    .map(|_| {
                        if k == 2 && rng.random_bool(0.5) {
                            0.0
                        } else if integer {
                            rng.random_range(-2..3) as f64
                        } else {
                            rng.random_range(-1.0..1.0)
                        }
                    })
                    .collect();
                let want = highs.solve(Sense::Minimise, &c).unwrap().stats.objective;
                let got = dense
                    .solve(&c, k == 1, &DenseOptions::default())
                    .unwrap_or_else(|e| panic!("case {case} (m {m}, n {n}) objective {k}: {e}"));
                worst_it = worst_it.max(got.iterations);
                assert!(
                    (got.objective - want).abs() < 1e-7 * (1.0 + want.abs()),
                    "case {case} objective {k}: dense {} vs HiGHS {want}",
                    got.objective
                );
            }
        }
        println!("worst iterations {worst_it}");
    }

    /// The optimum of `min c·x` over `rl ≤ A x ≤ ru`, `l ≤ x ≤ u` by enumerating every
    /// vertex: each choice of `n` tight constraints (a row at one of its finite bounds or a
    /// column at one of its bounds) whose system is regular, kept if feasible. An independent
    /// reference for small LPs; `None` if no vertex is feasible.
    fn brute_force(
        a: &[f64],
        (m, n): (usize, usize),
        (rl, ru): (&[f64], &[f64]),
        (l, u): (&[f64], &[f64]),
        c: &[f64],
    ) -> Option<f64> {
        // Faces: (coefficients, value).
        let mut faces: Vec<(Vec<f64>, f64)> = Vec::new();
        for i in 0..m {
            for b in [rl[i], ru[i]] {
                if b.is_finite() {
                    faces.push((a[i * n..(i + 1) * n].to_vec(), b));
                }
            }
        }
        for j in 0..n {
            for b in [l[j], u[j]] {
                let mut e = vec![0.0; n];
                e[j] = 1.0;
                faces.push((e, b));
            }
        }
        let mut best: Option<f64> = None;
        let mut pick = vec![0usize; n];
        fn next(pick: &mut [usize], total: usize) -> bool {
            let n = pick.len();
            let mut i = n;
            while i > 0 {
                i -= 1;
                if pick[i] < total - (n - i) {
                    pick[i] += 1;
                    for k in i + 1..n {
                        pick[k] = pick[k - 1] + 1;
                    }
                    return true;
                }
            }
            false
        }
        for (i, p) in pick.iter_mut().enumerate() {
            *p = i;
        }
        loop {
            // Solve the n×n system by Gaussian elimination with partial pivoting.
            let mut mtx: Vec<Vec<f64>> = pick
                .iter()
                .map(|&f| {
                    let mut r = faces[f].0.clone();
                    r.push(faces[f].1);
                    r
                })
                .collect();
            let mut ok = true;
            for col in 0..n {
                let piv = (col..n)
                    .max_by(|&x, &y| mtx[x][col].abs().total_cmp(&mtx[y][col].abs()))
                    .unwrap();
                if mtx[piv][col].abs() < 1e-9 {
                    ok = false;
                    break;
                }
                mtx.swap(col, piv);
                let pivot_row = mtx[col].clone();
                for (r, row) in mtx.iter_mut().enumerate() {
                    if r != col {
                        let f = row[col] / pivot_row[col];
                        for (v, p) in row[col..=n].iter_mut().zip(&pivot_row[col..=n]) {
                            *v -= f * p;
                        }
                    }
                }
            }
            if ok {
                let x: Vec<f64> = (0..n).map(|i| mtx[i][n] / mtx[i][i]).collect();
                let feasible = (0..n).all(|j| x[j] >= l[j] - 1e-9 && x[j] <= u[j] + 1e-9)
                    && (0..m).all(|i| {
                        let v: f64 = a[i * n..(i + 1) * n]
                            .iter()
                            .zip(&x)
                            .map(|(p, q)| p * q)
                            .sum();
                        v >= rl[i] - 1e-9 && v <= ru[i] + 1e-9
                    });
                if feasible {
                    let obj: f64 = c.iter().zip(&x).map(|(p, q)| p * q).sum();
                    best = Some(best.map_or(obj, |b: f64| b.min(obj)));
                }
            }
            if !next(&mut pick, faces.len()) {
                return best;
            }
        }
    }

    /// Small random LPs, including degenerate ones (integer coefficients, rows through one
    /// vertex, equalities): the dense simplex (cold and warm) and row generation reach the
    /// optimum found by enumerating every vertex.
    /// The compact `B⁻¹` (stored slots plus implied unit columns) stays the inverse of the
    /// basis through every pivot, with logicals entering and leaving (`m > n + 1`, so rows
    /// keep joining and leaving `R`) and with equality rows.
    #[test]
    fn compact_inverse_tracks_the_basis() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut pivots = 0;
        for case in 0..20 {
            let (m, n) = (rng.random_range(8..=24), rng.random_range(3..=7));
            let x0: Vec<f64> = (0..n).map(|_| rng.random_range(0.2..0.8)).collect();
            let mut a = Vec::new();
            let (mut rl, mut ru) = (Vec::new(), Vec::new());
            for i in 0..m {
                let row: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
                let v: f64 = row.iter().zip(&x0).map(|(p, q)| p * q).sum();
                if i < case % 3 {
                    rl.push(v);
                    ru.push(v);
                } else {
                    rl.push(f64::NEG_INFINITY);
                    ru.push(v + rng.random_range(0.0..0.3));
                }
                a.extend(row);
            }
            let lp = DenseLp::new(&a, m, n, &rl, &ru, &vec![0.0; n], &vec![1.0; n]).unwrap();
            let opts = DenseOptions::default();
            let cost: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let mut run = Run::new(&lp, &cost, None, &opts).unwrap();
            let mut col = vec![0.0; m];
            let mut out = vec![0.0; m];
            loop {
                // B⁻¹ b_r = e_r for every basic column b_r.
                for r in 0..m {
                    col.iter_mut().for_each(|v| *v = 0.0);
                    run.add_column(run.head[r], 1.0, &mut col);
                    run.ftran(&col, &mut out);
                    for (t, &o) in out.iter().enumerate() {
                        let want = if t == r { 1.0 } else { 0.0 };
                        assert!(
                            (o - want).abs() < 1e-8,
                            "case {case}: (B⁻¹B)[{t},{r}] = {o}"
                        );
                    }
                }
                let structural = run.head.iter().filter(|&&j| j < n).count();
                assert_eq!(run.k, structural, "case {case}: slots in use");
                match run.worst_row() {
                    Some(r) if run.iterations < 200 => match run.iterate(r) {
                        Ok(()) => pivots += 1,
                        Err(SimplexError::Infeasible(_)) => break,
                        Err(e) => panic!("case {case}: {e}"),
                    },
                    _ => break,
                }
            }
        }
        assert!(pivots > 100, "only {pivots} pivots checked");
    }

    #[test]
    fn matches_vertex_enumeration_on_small_lps() {
        use crate::exact::lazy::{LazyLp, Rows};
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut checked = 0;
        for case in 0..60 {
            let n = rng.random_range(2..=4);
            let m = rng.random_range(1..=5);
            let integer = case % 3 == 0;
            let x0: Vec<f64> = (0..n)
                .map(|_| {
                    if integer {
                        0.5
                    } else {
                        rng.random_range(0.1..0.9)
                    }
                })
                .collect();
            let mut a = Vec::with_capacity(m * n);
            let (mut rl, mut ru) = (Vec::new(), Vec::new());
            for i in 0..m {
                let row: Vec<f64> = (0..n)
                    .map(|_| {
                        if integer {
                            rng.random_range(-2..=2) as f64
                        } else {
                            rng.random_range(-1.0..1.0)
                        }
                    })
                    .collect();
                let v: f64 = row.iter().zip(&x0).map(|(p, q)| p * q).sum();
                if i == 0 && case % 4 == 1 {
                    rl.push(v);
                    ru.push(v);
                } else if case % 5 == 2 {
                    rl.push(f64::NEG_INFINITY);
                    ru.push(v); // every row through x0: degenerate
                } else {
                    rl.push(f64::NEG_INFINITY);
                    ru.push(v + rng.random_range(0.0..0.4));
                }
                a.extend(row);
            }
            let (l, u) = (vec![0.0; n], vec![1.0; n]);
            let mut dense = DenseLp::new(&a, m, n, &rl, &ru, &l, &u).unwrap();
            let mut core = Rows::new(n);
            let mut pool = Rows::new(n);
            for i in 0..m {
                let to = if i == 0 { &mut core } else { &mut pool };
                to.push(&a[i * n..(i + 1) * n], rl[i], ru[i]);
            }
            let mut lazy = LazyLp::new(core, pool, l.clone(), u.clone());
            for k in 0..3 {
                let c: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
                let want = brute_force(&a, (m, n), (&rl, &ru), (&l, &u), &c).expect("feasible");
                let got = dense.solve(&c, k == 1, &DenseOptions::default()).unwrap();
                assert!(
                    (got.objective - want).abs() < 1e-8,
                    "case {case}/{k}: dense {} vs enumeration {want}",
                    got.objective
                );
                let lz = lazy.solve(&c, &DenseOptions::default()).unwrap();
                assert!(
                    (lz.solution.objective - want).abs() < 1e-8,
                    "case {case}/{k}: row generation {} vs enumeration {want}",
                    lz.solution.objective
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 180);
    }
}
