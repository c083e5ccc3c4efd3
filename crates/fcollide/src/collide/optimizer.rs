//! Adam (Kingma & Ba) on a flat parameter vector with a cosine learning-rate decay:
//!
//! ```text
//! m ← β1 m + (1 − β1) g,   v ← β2 v + (1 − β2) g²
//! z ← z − lr_t · m̂ / (√v̂ + ε),  m̂ = m/(1 − β1ᵗ), v̂ = v/(1 − β2ᵗ)
//! lr_t = lr · (f + (1 − f)·½(1 + cos(π t/T)))
//! ```
/// Adam state.
#[derive(Clone, Debug)]
pub struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator guard.
    pub eps: f32,
}

impl Adam {
    /// Fresh state for `n` parameters.
    pub fn new(n: usize) -> Self {
        Self {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// The state `(m, v, t)`, for checkpoints.
    pub fn state(&self) -> (&[f32], &[f32], i32) {
        (&self.m, &self.v, self.t)
    }

    /// Restores a state saved by [`Adam::state`] (lengths must match).
    pub fn restore(&mut self, m: &[f32], v: &[f32], t: i32) -> bool {
        if m.len() != self.m.len() || v.len() != self.v.len() {
            return false;
        }
        self.m.copy_from_slice(m);
        self.v.copy_from_slice(v);
        self.t = t;
        true
    }

    /// One step of size `lr` on `z` with gradient `g`.
    pub fn step(&mut self, z: &mut [f32], g: &[f32], lr: f32) {
        self.t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let c1 = 1.0 / (1.0 - b1.powi(self.t));
        let c2 = 1.0 / (1.0 - b2.powi(self.t));
        for (((zi, &gi), mi), vi) in z.iter_mut().zip(g).zip(&mut self.m).zip(&mut self.v) {
            *mi = b1 * *mi + (1.0 - b1) * gi;
            *vi = b2 * *vi + (1.0 - b2) * gi * gi;
            *zi -= lr * (*mi * c1) / ((*vi * c2).sqrt() + self.eps);
        }
    }
}

/// Learning rate at step `t` of `total`: cosine from `lr` down to `lr·final_frac`.
pub fn cosine_lr(lr: f32, final_frac: f32, t: usize, total: usize) -> f32 {
    let p = t as f32 / total.max(1) as f32;
    lr * (final_frac + (1.0 - final_frac) * 0.5 * (1.0 + (std::f32::consts::PI * p).cos()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimizes_a_quadratic() {
        let mut z = vec![3.0f32, -2.0];
        let mut adam = Adam::new(2);
        for t in 0..2000 {
            let g: Vec<f32> = z.iter().map(|v| 2.0 * (v - 1.0)).collect();
            adam.step(&mut z, &g, cosine_lr(0.05, 0.01, t, 2000));
        }
        assert!(z.iter().all(|v| (v - 1.0).abs() < 1e-3), "{z:?}");
        assert!((cosine_lr(1.0, 0.1, 0, 10) - 1.0).abs() < 1e-6);
        assert!((cosine_lr(1.0, 0.1, 10, 10) - 0.1).abs() < 1e-6);
    }
}
