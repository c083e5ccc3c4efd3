//! Pixel box constraints `lo ≤ u ≤ hi`, by projection or by the sigmoid
//! `u = lo + (hi − lo)·σ(z)` (then `∂u/∂z = (u − lo)(hi − u)/(hi − lo)`).
use super::BoxMethod;

/// A search space: free parameters `z` of a batch of `K` vertices and the pixels they give.
pub trait Parameterization {
    /// Name recorded in results.
    fn name(&self) -> &'static str;
    /// Parameters for the starting images `[K, d]`.
    fn init(&self, start: &[f32]) -> Vec<f32>;
    /// Pixels `[K, d]` of parameters `z`.
    fn pixels(&self, z: &[f32], u: &mut [f32]);
    /// `∂L/∂z` from `∂L/∂u` at `z` (with `u = pixels(z)`); may add the space's own penalty.
    fn chain(&self, z: &[f32], u: &[f32], grad_u: Vec<f32>) -> Vec<f32>;
    /// After an optimizer step.
    fn project(&self, z: &mut [f32]);
    /// Whether the parameters are the pixels themselves (any pixel in the box is a point of
    /// the space), so a vertex may be moved pixel by pixel after the search.
    fn is_pixels(&self) -> bool {
        false
    }
}

impl Parameterization for PixelBox {
    fn name(&self) -> &'static str {
        match self.method {
            BoxMethod::Project => "pixels (projection)",
            BoxMethod::Sigmoid => "pixels (sigmoid)",
        }
    }
    fn init(&self, start: &[f32]) -> Vec<f32> {
        PixelBox::init(self, start)
    }
    fn pixels(&self, z: &[f32], u: &mut [f32]) {
        PixelBox::pixels(self, z, u)
    }
    fn chain(&self, _z: &[f32], u: &[f32], mut grad_u: Vec<f32>) -> Vec<f32> {
        PixelBox::chain(self, u, &mut grad_u);
        grad_u
    }
    fn project(&self, z: &mut [f32]) {
        PixelBox::project(self, z)
    }
    fn is_pixels(&self) -> bool {
        true
    }
}

/// Maps free parameters `z` to pixels `u` inside the box.
#[derive(Clone, Copy, Debug)]
pub struct PixelBox {
    /// Lower bound.
    pub lo: f32,
    /// Upper bound.
    pub hi: f32,
    /// Method.
    pub method: BoxMethod,
}

impl PixelBox {
    /// Free parameters for a starting image (pixels clipped into the box first).
    pub fn init(&self, u: &[f32]) -> Vec<f32> {
        let span = self.hi - self.lo;
        u.iter()
            .map(|&v| {
                let v = v.clamp(self.lo, self.hi);
                match self.method {
                    BoxMethod::Project => v,
                    BoxMethod::Sigmoid => {
                        let p = ((v - self.lo) / span).clamp(1e-3, 1.0 - 1e-3);
                        (p / (1.0 - p)).ln()
                    }
                }
            })
            .collect()
    }

    /// Pixels for free parameters.
    pub fn pixels(&self, z: &[f32], u: &mut [f32]) {
        match self.method {
            BoxMethod::Project => u.copy_from_slice(z),
            BoxMethod::Sigmoid => {
                let span = self.hi - self.lo;
                for (uo, &zi) in u.iter_mut().zip(z) {
                    *uo = self.lo + span / (1.0 + (-zi).exp());
                }
            }
        }
    }

    /// Turns `∂loss/∂u` into `∂loss/∂z` in place.
    pub fn chain(&self, u: &[f32], grad: &mut [f32]) {
        if self.method == BoxMethod::Sigmoid {
            let span = self.hi - self.lo;
            for (g, &ui) in grad.iter_mut().zip(u) {
                *g *= (ui - self.lo) * (self.hi - ui) / span;
            }
        }
    }

    /// After an optimizer step: projection clips `z` into the box.
    pub fn project(&self, z: &mut [f32]) {
        if self.method == BoxMethod::Project {
            for v in z {
                *v = v.clamp(self.lo, self.hi);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_chain_rule_matches_finite_differences() {
        let b = PixelBox {
            lo: 0.0,
            hi: 2.0,
            method: BoxMethod::Sigmoid,
        };
        let z = b.init(&[0.3, 1.0, 1.9, 5.0]);
        let mut u = vec![0.0; 4];
        b.pixels(&z, &mut u);
        assert!((u[0] - 0.3).abs() < 1e-5 && (u[3] - 2.0).abs() < 5e-3);
        let mut g = vec![1.0; 4];
        b.chain(&u, &mut g);
        for k in 0..4 {
            let h = 1e-2;
            let (mut a, mut c) = ([0.0f32], [0.0f32]);
            b.pixels(&[z[k] + h], &mut a);
            b.pixels(&[z[k] - h], &mut c);
            assert!(((a[0] - c[0]) / (2.0 * h) - g[k]).abs() < 1e-3);
        }
        let p = PixelBox {
            method: BoxMethod::Project,
            ..b
        };
        let mut z = vec![-1.0, 0.5, 3.0];
        p.project(&mut z);
        assert_eq!(z, vec![0.0, 0.5, 2.0]);
    }
}
