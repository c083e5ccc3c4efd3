//! The patch-composition search space of §4: each pixel of a vertex is a convex combination of
//! the same pixel of `k` candidate patches,
//!
//! ```text
//! u[p] = Σ_c s_c[p] · cand[p][c],      s[p] = softmax(θ[p])
//! ∂L/∂θ_c[p] = s_c[p] · (g_c[p] − Σ_j s_j[p] g_j[p]),   g_c[p] = cand[p][c] · ∂L/∂u[p]
//! ```
//!
//! so vertices stay inside the span of existing image content, and an optional total
//! variation `TV = Σ_p Σ_c |s_c[p] − s_c[right(p)]| + |s_c[p] − s_c[down(p)]|` on the
//! coefficients keeps neighbouring pixels drawing from the same candidate.
use serde::{Deserialize, Serialize};

/// Candidates per pixel: `cand[p·k + c]` for `d` pixels (all channels) and `k` candidates.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Composition {
    /// Input shape `[C, H, W]`.
    pub shape: [usize; 3],
    /// Candidates per pixel.
    pub k: usize,
    /// `[d, k]` candidate values.
    pub cand: Vec<f32>,
}

impl Composition {
    /// Pixels `d = C·H·W`.
    pub fn d(&self) -> usize {
        self.shape.iter().product()
    }

    /// Softmax coefficients `s` (`[d, k]`) of parameters `θ` (`[d, k]`).
    pub fn coefficients(&self, theta: &[f32]) -> Vec<f32> {
        let mut s = vec![0.0f32; theta.len()];
        for (tp, sp) in theta.chunks(self.k).zip(s.chunks_mut(self.k)) {
            let m = tp.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let mut z = 0.0;
            for (o, &t) in sp.iter_mut().zip(tp) {
                *o = (t - m).exp();
                z += *o;
            }
            for o in sp.iter_mut() {
                *o /= z;
            }
        }
        s
    }

    /// The image `u` (`[d]`) for parameters `θ` (`[d, k]`).
    pub fn pixels(&self, theta: &[f32]) -> Vec<f32> {
        let s = self.coefficients(theta);
        s.chunks(self.k)
            .zip(self.cand.chunks(self.k))
            .map(|(sp, cp)| sp.iter().zip(cp).map(|(a, b)| a * b).sum())
            .collect()
    }

    /// Parameters that start every pixel on candidate `c` with weight `w` (the rest shared).
    pub fn init_on(&self, c: usize, w: f32) -> Vec<f32> {
        let rest = ((1.0 - w) / (self.k.max(2) - 1) as f32).max(1e-6);
        let (hi, lo) = (w.ln(), rest.ln());
        (0..self.d() * self.k)
            .map(|i| if i % self.k == c { hi } else { lo })
            .collect()
    }

    /// `∂L/∂θ` from `∂L/∂u` (`[d]`) at parameters `θ`.
    pub fn chain(&self, theta: &[f32], grad_u: &[f32]) -> Vec<f32> {
        let s = self.coefficients(theta);
        let mut g = vec![0.0f32; theta.len()];
        for p in 0..self.d() {
            let (sp, cp) = (
                &s[p * self.k..(p + 1) * self.k],
                &self.cand[p * self.k..(p + 1) * self.k],
            );
            let gs: Vec<f32> = cp.iter().map(|c| c * grad_u[p]).collect();
            softmax_vjp(sp, &gs, &mut g[p * self.k..(p + 1) * self.k]);
        }
        g
    }

    /// Total variation of the coefficients and its gradient with respect to `θ`.
    pub fn tv(&self, theta: &[f32]) -> (f64, Vec<f32>) {
        let [c, h, w] = self.shape;
        let k = self.k;
        let s = self.coefficients(theta);
        let mut gs = vec![0.0f32; s.len()];
        let mut total = 0.0f64;
        let idx = |ch: usize, r: usize, col: usize| (ch * h * w + r * w + col) * k;
        for ch in 0..c {
            for r in 0..h {
                for col in 0..w {
                    let a = idx(ch, r, col);
                    for (nr, nc) in [(r, col + 1), (r + 1, col)] {
                        if nr >= h || nc >= w {
                            continue;
                        }
                        let b = idx(ch, nr, nc);
                        for j in 0..k {
                            let diff = s[a + j] - s[b + j];
                            total += diff.abs() as f64;
                            let sg = diff.signum() * (diff != 0.0) as i32 as f32;
                            gs[a + j] += sg;
                            gs[b + j] -= sg;
                        }
                    }
                }
            }
        }
        let mut g = vec![0.0f32; theta.len()];
        for p in 0..self.d() {
            let r = p * k..(p + 1) * k;
            softmax_vjp(&s[r.clone()], &gs[r.clone()], &mut g[r]);
        }
        (total, g)
    }
}

/// `out = s ⊙ (g − ⟨s, g⟩)`: the softmax's vector–Jacobian product.
fn softmax_vjp(s: &[f32], g: &[f32], out: &mut [f32]) {
    let dot: f32 = s.iter().zip(g).map(|(a, b)| a * b).sum();
    for ((o, &si), &gi) in out.iter_mut().zip(s).zip(g) {
        *o = si * (gi - dot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random(shape: [usize; 3], k: usize, seed: u64) -> (Composition, Vec<f32>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let d: usize = shape.iter().product();
        let comp = Composition {
            shape,
            k,
            cand: (0..d * k).map(|_| rng.random::<f32>()).collect(),
        };
        let theta = (0..d * k)
            .map(|_| rng.random::<f32>() * 2.0 - 1.0)
            .collect();
        (comp, theta)
    }

    #[test]
    fn pixels_are_convex_combinations() {
        let (comp, theta) = random([1, 3, 4], 5, 1);
        let s = comp.coefficients(&theta);
        for sp in s.chunks(5) {
            assert!((sp.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        let u = comp.pixels(&theta);
        for (p, &v) in u.iter().enumerate() {
            let cp = &comp.cand[p * 5..(p + 1) * 5];
            let (lo, hi) = cp
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            assert!(v >= lo - 1e-6 && v <= hi + 1e-6);
        }
        // Starting on one candidate reproduces it (nearly).
        let u0 = comp.pixels(&comp.init_on(2, 0.999));
        for (p, &v) in u0.iter().enumerate() {
            assert!((v - comp.cand[p * 5 + 2]).abs() < 2e-3);
        }
    }

    /// `∂(w·u)/∂θ` and `∂TV/∂θ` against central differences in f64-accumulated f32.
    #[test]
    fn gradients_match_finite_differences() {
        let (comp, theta) = random([2, 3, 3], 4, 7);
        let d = comp.d();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let w: Vec<f32> = (0..d).map(|_| rng.random::<f32>() - 0.5).collect();
        let loss = |t: &[f32]| -> f64 {
            comp.pixels(t)
                .iter()
                .zip(&w)
                .map(|(a, b)| (*a as f64) * (*b as f64))
                .sum()
        };
        let g = comp.chain(&theta, &w);
        let (_, gtv) = comp.tv(&theta);
        let h = 1e-2f32;
        for i in (0..theta.len()).step_by(5) {
            let mut tp = theta.clone();
            tp[i] += h;
            let mut tm = theta.clone();
            tm[i] -= h;
            let fd = (loss(&tp) - loss(&tm)) / (2.0 * h as f64);
            assert!(
                (fd - g[i] as f64).abs() < 1e-3,
                "θ[{i}]: fd {fd} vs {}",
                g[i]
            );
            // TV is piecewise linear: a small step so that no |difference| changes sign.
            let ht = 1e-4f32;
            let mut tp = theta.clone();
            tp[i] += ht;
            let mut tm = theta.clone();
            tm[i] -= ht;
            let fd_tv = (comp.tv(&tp).0 - comp.tv(&tm).0) / (2.0 * ht as f64);
            assert!(
                (fd_tv - gtv[i] as f64).abs() < 2e-2,
                "TV θ[{i}]: fd {fd_tv} vs {}",
                gtv[i]
            );
        }
    }
}
