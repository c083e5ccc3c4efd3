//! The vertex objective of §2 for a batch of vertices, one chosen unit `i` per vertex:
//!
//! ```text
//! loss_i(u) = α · L+(u) + L−_i(u)
//! L+(u)     = ½ ‖ỹ(u)[P] − ỹt[P]‖²
//! L−_i(u)   = s_i·ỹ(u)_i + β · Σ_{j ∈ Z, j ≠ i} pen(s_j·(ỹ(u)_j − b_j))
//! ```
//!
//! with `ỹ` the pre-activation of the collision layer, `P` the positive set and `Z` the units
//! that may move, each on its side `s_j·(ỹ_j − b_j) ≤ 0` ([`super::activation`]). For ReLU,
//! `P = {j : ỹt_j > 0}`, `Z = {j : ỹt_j ≤ 0}`, `s = 1`, `b = 0`: the paper's objective, where
//! `β = 1`. [`Objective::eval`] returns the losses and
//! `∂loss/∂ỹ`; the chain rule to the input is the gradient engine's job.
use super::activation::UnitRole;
use super::Penalty;
use serde::Serialize;

/// The objective for one target at one layer.
#[derive(Clone, Debug)]
pub struct Objective {
    /// Target pre-activation `ỹt`, length `N`.
    pub target: Vec<f32>,
    /// Whether unit `j` is in the positive set `P`.
    pub positive: Vec<bool>,
    /// Each unit's role (`Low(0)` for the zero set of a ReLU).
    pub roles: Vec<UnitRole>,
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
        let roles = target
            .iter()
            .map(|&v| {
                if v > 0.0 {
                    UnitRole::Positive
                } else {
                    UnitRole::Low(0.0)
                }
            })
            .collect();
        Self::with_roles(target, roles, alpha, penalty, beta, units)
    }

    /// An objective whose units have the given roles (any activation).
    pub fn with_roles(
        target: Vec<f32>,
        roles: Vec<UnitRole>,
        alpha: f32,
        penalty: Penalty,
        beta: f32,
        units: Vec<usize>,
    ) -> Self {
        let positive = roles.iter().map(|r| r.is_positive()).collect();
        Self {
            target,
            positive,
            roles,
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
                    match self.roles[j].side() {
                        None => {
                            let d = v - self.target[j];
                            lp += 0.5 * (d as f64) * (d as f64);
                            gk[j] = self.alpha * d;
                        }
                        Some((s, _)) if j == unit => {
                            lm += (s * v) as f64;
                            gk[j] = s;
                        }
                        Some((s, b)) => {
                            let w = s * (v - b);
                            lm += (self.beta * self.penalty.value(w)) as f64;
                            gk[j] = s * (self.beta * self.penalty.derivative(w));
                        }
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
    fn saturated_units_move_on_their_side() {
        // A clip [0, 1]: unit 0 at the top may go up (push it: loss −ỹ), unit 1 at the bottom
        // is penalized above 0, unit 2 keeps its value.
        let roles = vec![UnitRole::High(1.0), UnitRole::Low(0.0), UnitRole::Positive];
        let obj = Objective::with_roles(
            vec![1.5, -0.5, 0.5],
            roles,
            2.0,
            Penalty::Hinge,
            1.0,
            vec![0],
        );
        let mut g = vec![0.0; 3];
        let l = obj.eval(&[2.0, 0.25, 0.75], &mut g);
        assert_eq!(g, vec![-1.0, 0.5, 0.5]);
        assert!((l[0].l_minus - (-2.0 + 0.0625)).abs() < 1e-9);
        assert!((l[0].l_plus - 0.03125).abs() < 1e-9);
    }

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
