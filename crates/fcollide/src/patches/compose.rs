//! The patch-composition search space of §4: each pixel location `p` of a vertex is a convex
//! combination of the same location of `k` candidate patches, one coefficient per location
//! shared by all channels (so colours are mixtures of real patches' colours),
//!
//! ```text
//! u[ch, p] = Σ_c s_c[p] · cand[p][c][ch],      s[p] = softmax(θ[p])
//! ∂L/∂θ_c[p] = s_c[p] · (g_c[p] − Σ_j s_j[p] g_j[p]),   g_c[p] = Σ_ch cand[p][c][ch] · ∂L/∂u[ch, p]
//! ```
//!
//! so vertices stay inside the span of existing image content, and an optional total
//! variation `TV = Σ_p Σ_c |s_c[p] − s_c[right(p)]| + |s_c[p] − s_c[down(p)]|` on the
//! coefficients keeps neighbouring pixels drawing from the same candidate. For one channel
//! the set of reachable pixels is the box `min_c cand[p][c] ≤ u[p] ≤ max_c cand[p][c]`.
use serde::{Deserialize, Serialize};

/// Candidates per location: `cand[(p·k + c)·C + ch]` for `H·W` locations `p`, `k` candidates
/// `c` and `C` channels `ch`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Composition {
    /// Input shape `[C, H, W]`.
    pub shape: [usize; 3],
    /// Candidates per location.
    pub k: usize,
    /// `[H·W, k, C]` candidate values.
    pub cand: Vec<f32>,
}

impl Composition {
    /// Pixel values `d = C·H·W`.
    pub fn d(&self) -> usize {
        self.shape.iter().product()
    }

    /// Locations `H·W` (one softmax each).
    pub fn locations(&self) -> usize {
        self.shape[1] * self.shape[2]
    }

    /// Parameters per image, `H·W·k`.
    pub fn n_params(&self) -> usize {
        self.locations() * self.k
    }

    /// Candidate `c`'s value at channel `ch` of location `p`.
    #[inline]
    pub fn value(&self, p: usize, c: usize, ch: usize) -> f32 {
        self.cand[(p * self.k + c) * self.shape[0] + ch]
    }

    /// Softmax coefficients `s` (`[H·W, k]`) of parameters `θ` (`[H·W, k]`).
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

    /// The image `u` (`[C, H, W]`) for parameters `θ` (`[H·W, k]`).
    pub fn pixels(&self, theta: &[f32]) -> Vec<f32> {
        let s = self.coefficients(theta);
        let (c, hw) = (self.shape[0], self.locations());
        let mut u = vec![0.0f32; self.d()];
        for (p, sp) in s.chunks(self.k).enumerate() {
            for ch in 0..c {
                u[ch * hw + p] = sp
                    .iter()
                    .enumerate()
                    .map(|(j, a)| a * self.value(p, j, ch))
                    .sum();
            }
        }
        u
    }

    /// Parameters that start every location on candidate `c` with weight `w` (the rest shared).
    pub fn init_on(&self, c: usize, w: f32) -> Vec<f32> {
        let rest = ((1.0 - w) / (self.k.max(2) - 1) as f32).max(1e-6);
        let (hi, lo) = (w.ln(), rest.ln());
        (0..self.n_params())
            .map(|i| if i % self.k == c { hi } else { lo })
            .collect()
    }

    /// `∂L/∂θ` from `∂L/∂u` (`[C, H, W]`) at parameters `θ`.
    pub fn chain(&self, theta: &[f32], grad_u: &[f32]) -> Vec<f32> {
        let s = self.coefficients(theta);
        let (c, hw, k) = (self.shape[0], self.locations(), self.k);
        let mut g = vec![0.0f32; theta.len()];
        let mut gs = vec![0.0f32; k];
        for p in 0..hw {
            for (j, o) in gs.iter_mut().enumerate() {
                *o = (0..c)
                    .map(|ch| self.value(p, j, ch) * grad_u[ch * hw + p])
                    .sum();
            }
            softmax_vjp(&s[p * k..(p + 1) * k], &gs, &mut g[p * k..(p + 1) * k]);
        }
        g
    }

    /// Total variation of the coefficients and its gradient with respect to `θ`.
    pub fn tv(&self, theta: &[f32]) -> (f64, Vec<f32>) {
        let [_, h, w] = self.shape;
        let k = self.k;
        let s = self.coefficients(theta);
        let mut gs = vec![0.0f32; s.len()];
        let mut total = 0.0f64;
        let idx = |r: usize, col: usize| (r * w + col) * k;
        for r in 0..h {
            for col in 0..w {
                let a = idx(r, col);
                for (nr, nc) in [(r, col + 1), (r + 1, col)] {
                    if nr >= h || nc >= w {
                        continue;
                    }
                    let b = idx(nr, nc);
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
        let mut g = vec![0.0f32; theta.len()];
        for p in 0..self.locations() {
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
        let theta = (0..comp.n_params())
            .map(|_| rng.random::<f32>() * 2.0 - 1.0)
            .collect();
        (comp, theta)
    }

    #[test]
    fn pixels_are_convex_combinations() {
        let (comp, theta) = random([2, 3, 4], 5, 1);
        let s = comp.coefficients(&theta);
        for sp in s.chunks(5) {
            assert!((sp.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        let u = comp.pixels(&theta);
        let hw = comp.locations();
        for (i, &v) in u.iter().enumerate() {
            let (ch, p) = (i / hw, i % hw);
            // One coefficient vector per location, shared by both channels.
            let want: f32 = (0..5).map(|j| s[p * 5 + j] * comp.value(p, j, ch)).sum();
            assert!((v - want).abs() < 1e-6);
            let (lo, hi) = (0..5)
                .map(|j| comp.value(p, j, ch))
                .fold((f32::MAX, f32::MIN), |(a, b), x| (a.min(x), b.max(x)));
            assert!(v >= lo - 1e-6 && v <= hi + 1e-6);
        }
        // Starting on one candidate reproduces it (nearly).
        let u0 = comp.pixels(&comp.init_on(2, 0.999));
        for (i, &v) in u0.iter().enumerate() {
            assert!((v - comp.value(i % hw, 2, i / hw)).abs() < 2e-3);
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
