//! The vertex objective of §2 for a batch of vertices, one chosen unit `i` per vertex:
//!
//! ```text
//! loss_i(u) = α · L+(u) + L−_i(u)
//! L+(u)     = ½ ‖ỹ(u)[P] − ỹt[P]‖²
//! L−_i(u)   = ỹ(u)_i + β · Σ_{j ∈ Z, j ≠ i} pen(ỹ(u)_j)
//! ```
//!
//! with `ỹ` the pre-activation of the collision layer, `P = {j : ỹt_j > 0}` (the positive set)
//! and `Z = {j : ỹt_j ≤ 0}` (the zero set); the paper has `β = 1`. [`Objective::eval`] returns the losses and
//! `∂loss/∂ỹ`; the chain rule to the input is the gradient engine's job.
use super::Penalty;
use serde::Serialize;

/// The objective for one target at one layer.
#[derive(Clone, Debug)]
pub struct Objective {
    /// Target pre-activation `ỹt`, length `N`.
    pub target: Vec<f32>,
    /// Whether unit `j` is in the positive set `P`.
    pub positive: Vec<bool>,
    /// Weight `α` of `L+`.
    pub alpha: f32,
    /// Penalty on the other zero-set units.
    pub penalty: Penalty,
    /// Weight `β` of the penalty.
    pub beta: f32,
    /// The unit `i ∈ Z` pushed down by each vertex.
    pub units: Vec<usize>,
}

/// Loss terms of one vertex.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct LossTerms {
    /// `L+`.
    pub l_plus: f64,
    /// `L−_i`.
    pub l_minus: f64,
    /// `α·L+ + L−_i`.
    pub total: f64,
}

impl Objective {
    /// A new objective; `P`/`Z` come from the target's pre-activation.
    pub fn new(
        target: Vec<f32>,
        alpha: f32,
        penalty: Penalty,
        beta: f32,
        units: Vec<usize>,
    ) -> Self {
        let positive = target.iter().map(|&v| v > 0.0).collect();
        Self {
            target,
            positive,
            alpha,
            penalty,
            beta,
            units,
        }
    }

    /// Number of units `N` of the layer.
    pub fn n_units(&self) -> usize {
        self.target.len()
    }

    /// Indices of the zero set `Z`.
    pub fn zero_set(&self) -> Vec<usize> {
        (0..self.n_units()).filter(|&j| !self.positive[j]).collect()
    }

    /// `N+ = |P|`.
    pub fn n_plus(&self) -> usize {
        self.positive.iter().filter(|&&p| p).count()
    }

    /// Losses of the `K` vertices whose pre-activations are the rows of `y` (`[K, N]`), and
    /// `∂loss_k/∂ỹ_k` written into `grad` (`[K, N]`).
    pub fn eval(&self, y: &[f32], grad: &mut [f32]) -> Vec<LossTerms> {
        let n = self.n_units();
        y.chunks(n)
            .zip(grad.chunks_mut(n))
            .zip(&self.units)
            .map(|((yk, gk), &unit)| {
                let (mut lp, mut lm) = (0.0f64, 0.0f64);
                for j in 0..n {
                    let v = yk[j];
                    if self.positive[j] {
                        let d = v - self.target[j];
                        lp += 0.5 * (d as f64) * (d as f64);
                        gk[j] = self.alpha * d;
                    } else if j == unit {
                        lm += v as f64;
                        gk[j] = 1.0;
                    } else {
                        lm += (self.beta * self.penalty.value(v)) as f64;
                        gk[j] = self.beta * self.penalty.derivative(v);
                    }
                }
                LossTerms {
                    l_plus: lp,
                    l_minus: lm,
                    total: self.alpha as f64 * lp + lm,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let target = vec![1.0, -0.5, 0.7, -2.0, 0.0];
        for pen in [Penalty::Square, Penalty::Hinge, Penalty::Abs] {
            let obj = Objective::new(target.clone(), 3.0, pen, 0.5, vec![1, 3]);
            assert_eq!(obj.zero_set(), vec![1, 3, 4]);
            let y = vec![0.8, 0.3, 0.9, -1.0, 0.2, 1.1, -0.4, 0.5, 0.6, 0.4];
            let mut g = vec![0.0; 10];
            let l = obj.eval(&y, &mut g);
            assert!((l[0].total - (3.0 * l[0].l_plus + l[0].l_minus)).abs() < 1e-9);
            for k in 0..10 {
                let h = 1e-3;
                let mut yp = y.clone();
                yp[k] += h;
                let mut ym = y.clone();
                ym[k] -= h;
                let mut scratch = vec![0.0; 10];
                let lp = obj.eval(&yp, &mut scratch)[k / 5].total;
                let lm = obj.eval(&ym, &mut scratch)[k / 5].total;
                let fd = (lp - lm) / (2.0 * h as f64);
                assert!(
                    (fd - g[k] as f64).abs() < 1e-2,
                    "{pen:?} k={k}: {fd} vs {}",
                    g[k]
                );
            }
        }
    }
}
