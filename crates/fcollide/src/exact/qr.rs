//! Rank and null space of a row set via Householder QR with column pivoting.
//!
//! For `W ∈ R^{n×d}` (rows `w_1..w_n`) factor `Wᵀ P = Q R` with `Q ∈ R^{d×d}` orthogonal
//! (a product of Householder reflectors `H_k = I − τ_k v_k v_kᵀ`), `P` a permutation that picks
//! at step `k` the remaining column of largest norm, and `R` upper triangular with
//! `|R_00| ≥ |R_11| ≥ …`. The numerical rank is
//!
//! `rank = #{k : |R_kk| > tol · |R_00|}`,
//!
//! a relative tolerance (`|R_00|` is the largest row norm of `W`, within a factor `√n` of
//! `σ_max`). The factorization stops there. The first `rank` columns of `Q` span the row space
//! of `W`; the remaining `d − rank` columns are an orthonormal basis `N` of `ker(W)`
//! (`W N ≈ 0`, `NᵀN = I`). Norms are recomputed exactly at each step (no downdating), costing
//! `O(n²d)`, fine for `d` in the thousands.
/// Result of [`row_space`].
#[derive(Clone, Debug)]
pub struct RowSpace {
    /// Dimension of the ambient space.
    pub d: usize,
    /// Numerical rank.
    pub rank: usize,
    /// `|R_kk|` for the computed steps (length `rank`, plus the first rejected one if any).
    pub r_diag: Vec<f64>,
    /// Relative tolerance used.
    pub tol: f64,
    /// Rows of `W` in pivot order; the first `rank` are a well-conditioned independent subset.
    pub pivots: Vec<usize>,
    /// Householder vectors (length `d`, zero above the step) and their `τ`.
    reflectors: Vec<(Vec<f64>, f64)>,
}

/// Pivoted Householder QR of `Wᵀ`, `W` given row-major `[n × d]`.
pub fn row_space(w: &[f64], n: usize, d: usize, tol: f64) -> RowSpace {
    debug_assert_eq!(w.len(), n * d);
    // Columns of Wᵀ = rows of W, kept as separate vectors.
    let mut cols: Vec<Vec<f64>> = (0..n).map(|i| w[i * d..(i + 1) * d].to_vec()).collect();
    let mut pivots: Vec<usize> = (0..n).collect();
    let mut r_diag = Vec::new();
    let mut reflectors = Vec::new();
    let steps = n.min(d);
    let mut r00 = 0.0;
    for k in 0..steps {
        // Pick the remaining column with the largest norm of its trailing part.
        let (mut best, mut best_norm) = (k, -1.0);
        for (j, col) in cols.iter().enumerate().skip(k) {
            let s = col[k..].iter().map(|v| v * v).sum::<f64>().sqrt();
            if s > best_norm {
                best = j;
                best_norm = s;
            }
        }
        if k == 0 {
            r00 = best_norm;
        }
        if best_norm.is_nan() || best_norm <= tol * r00 || best_norm == 0.0 {
            r_diag.push(best_norm);
            break;
        }
        cols.swap(k, best);
        pivots.swap(k, best);
        // Householder vector for cols[k][k..]: v = x + sign(x_0)‖x‖ e_0, τ = 2 / vᵀv.
        let x = &cols[k];
        let alpha = if x[k] >= 0.0 { -best_norm } else { best_norm };
        let mut v = vec![0.0; d];
        v[k..].copy_from_slice(&x[k..]);
        v[k] -= alpha;
        let vv: f64 = v[k..].iter().map(|t| t * t).sum();
        let tau = if vv > 0.0 { 2.0 / vv } else { 0.0 };
        r_diag.push(best_norm);
        for col in cols.iter_mut().skip(k) {
            apply_reflector(&v, tau, k, col);
        }
        reflectors.push((v, tau));
    }
    let rank = reflectors.len();
    RowSpace {
        d,
        rank,
        r_diag,
        tol,
        pivots,
        reflectors,
    }
}

/// `x ← (I − τ v vᵀ) x`, `v` zero before `start`.
#[inline]
fn apply_reflector(v: &[f64], tau: f64, start: usize, x: &mut [f64]) {
    let s = crate::linalg::dot_f64(&v[start..], &x[start..]);
    let f = tau * s;
    for (xi, vi) in x[start..].iter_mut().zip(&v[start..]) {
        *xi -= f * vi;
    }
}

impl RowSpace {
    /// Dimension of `ker(W)`: `d − rank`.
    pub fn null_dim(&self) -> usize {
        self.d - self.rank
    }

    /// Orthonormal basis of `ker(W)` as `d − rank` vectors of length `d` (columns of `Q`
    /// after the first `rank`): `Q e_j = H_0 H_1 ⋯ H_{rank−1} e_j`.
    pub fn null_basis(&self) -> Vec<Vec<f64>> {
        (self.rank..self.d)
            .map(|j| {
                let mut e = vec![0.0; self.d];
                e[j] = 1.0;
                for (k, (v, tau)) in self.reflectors.iter().enumerate().rev() {
                    apply_reflector(v, *tau, k, &mut e);
                }
                e
            })
            .collect()
    }

    /// Orthonormal basis of the row space of `W` (first `rank` columns of `Q`).
    pub fn range_basis(&self) -> Vec<Vec<f64>> {
        (0..self.rank)
            .map(|j| {
                let mut e = vec![0.0; self.d];
                e[j] = 1.0;
                for (k, (v, tau)) in self.reflectors.iter().enumerate().rev() {
                    apply_reflector(v, *tau, k, &mut e);
                }
                e
            })
            .collect()
    }
}

/// Coordinates `Nᵀ g` of `g` in an orthonormal basis `N` (given as vectors).
pub fn project(basis: &[Vec<f64>], g: &[f64]) -> Vec<f64> {
    basis
        .iter()
        .map(|b| b.iter().zip(g).map(|(x, y)| x * y).sum())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(v: &[f64]) -> f64 {
        v.iter().map(|x| x * x).sum::<f64>().sqrt()
    }

    #[test]
    fn rank_and_null_space() {
        // Rows: a, b, a + 2b (rank 2) in R^4.
        let a = [1.0, 2.0, 0.0, -1.0];
        let b = [0.0, 1.0, 3.0, 1.0];
        let c: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x + 2.0 * y).collect();
        let w: Vec<f64> = a.iter().chain(&b).chain(&c).copied().collect();
        let rs = row_space(&w, 3, 4, 1e-10);
        assert_eq!(rs.rank, 2);
        let n = rs.null_basis();
        assert_eq!(n.len(), 2);
        for (i, x) in n.iter().enumerate() {
            assert!((norm(x) - 1.0).abs() < 1e-12);
            for row in [&a[..], &b[..], &c[..]] {
                assert!(project(std::slice::from_ref(x), row)[0].abs() < 1e-12);
            }
            for y in &n[i + 1..] {
                assert!(project(std::slice::from_ref(x), y)[0].abs() < 1e-12);
            }
        }
        let r = rs.range_basis();
        // a is reproduced by its projection on the range basis.
        let coords = project(&r, &a);
        assert!((norm(&coords) - norm(&a)).abs() < 1e-12);
    }

    #[test]
    fn full_rank_square_has_empty_kernel() {
        let w = [2.0, 1.0, 1.0, 3.0];
        let rs = row_space(&w, 2, 2, 1e-10);
        assert_eq!(rs.rank, 2);
        assert!(rs.null_basis().is_empty());
    }

    #[test]
    fn zero_matrix() {
        let rs = row_space(&[0.0; 6], 2, 3, 1e-10);
        assert_eq!(rs.rank, 0);
        assert_eq!(rs.null_basis().len(), 3);
    }
}
