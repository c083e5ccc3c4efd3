//! The f64 2-D convolution of the exact engine.
//!
//! ```text
//!   y[o, i, j] = b_o + Σ_{cc < C/G} Σ_{p, q} w[o, cc, p, q] · x[g·C/G + cc, i·s₀ + p·d₀ − pad₀, j·s₁ + q·d₁ − pad₁]
//! ```
//!
//! with `g = o / (O/G)` the group of output channel `o` and taps in the padding left out.
//! Shapes: `x` is `[b, C, H, W]`, `w` is `[O, C/G, kH, kW]`, `y` is `[b, O, oH, oW]`
//! (row-major, flat).
//!
//! Two kernels, chosen by size:
//! - **By taps** (small layers): tap by tap over whole output rows
//!   (`y[o, i, ·] += w · x[c, r, ·]`), a contiguous, vectorizable multiply–add for stride 1,
//!   output channels in parallel. Every output entry receives its terms in the order
//!   `(cc, p, q)` from the bias, exactly as the direct sum, so it is bit-identical to it.
//! - **By matrix products** (large layers such as VGG's): with the input zero-padded once,
//!   output row `i` of every channel is `Y_i = b + Σ_{p,q} W_{pq} · X_{i,p,q}`, where
//!   `W_{pq}` is the `[O/G, C/G]` slice of tap `(p, q)` and `X_{i,p,q}` the `[C/G, oW]`
//!   strided view of padded row `i·s₀ + p·d₀` from column `q·d₁` in steps of `s₁`: one
//!   single-threaded f64 `gemm` per tap, rows in parallel. No im2col copy is made. The sum
//!   order differs from the direct one (within f64 rounding), not between runs or thread
//!   counts.
use rayon::prelude::*;

use crate::model::graph::Window;

/// Work per output row and tap (`C/G · O/G · oW` multiply–adds) from which the
/// matrix-product kernel is used; below it the per-call cost of `gemm` dominates.
const GEMM_MIN_WORK: usize = 4096;

/// The convolution's fixed parts.
pub(crate) struct Conv<'a> {
    /// Input channels `C`.
    pub in_channels: usize,
    /// Output channels `O`.
    pub out_channels: usize,
    /// Groups `G`.
    pub groups: usize,
    /// Weights `[O, C/G, kH, kW]`.
    pub weight: &'a [f32],
    /// Bias `[O]`.
    pub bias: Option<&'a [f32]>,
    /// Geometry (kernel, stride, padding, dilation, input and output size).
    pub win: &'a Window,
}

impl Conv<'_> {
    /// `y = conv(x)` for `b` inputs (`x`: `[b, C, H, W]`), adding the bias to the first
    /// `with_bias` of them only (a linearization batch carries directions after the point).
    pub(crate) fn apply(&self, x: &[f64], b: usize, with_bias: usize) -> Vec<f64> {
        let (cin_g, cout_g) = (
            self.in_channels / self.groups,
            self.out_channels / self.groups,
        );
        if cin_g * cout_g * self.win.out_hw[1] >= GEMM_MIN_WORK {
            self.by_products(x, b, with_bias)
        } else {
            self.by_taps(x, b, with_bias)
        }
    }

    /// The matrix-product kernel (see the module doc).
    fn by_products(&self, x: &[f64], b: usize, with_bias: usize) -> Vec<f64> {
        let [h, w] = self.win.in_hw;
        let [oh, ow] = self.win.out_hw;
        let [kh, kw] = self.win.kernel;
        let [pt, pl, pb, pr] = self.win.padding;
        let (hp, wp) = (h + pt + pb, w + pl + pr);
        let (cin_g, cout_g) = (
            self.in_channels / self.groups,
            self.out_channels / self.groups,
        );
        let n_in = self.in_channels * h * w;
        let o_all = self.out_channels;
        let weight: Vec<f64> = self.weight.iter().map(|&v| f64::from(v)).collect();
        let mut y = vec![0.0; b * o_all * oh * ow];
        let mut padded = vec![0.0; self.in_channels * hp * wp];
        // Rows laid out `[oH, O, oW]` so that each output row is one contiguous chunk.
        let mut rows = vec![0.0; o_all * oh * ow];
        for v in 0..b {
            let xv = &x[v * n_in..(v + 1) * n_in];
            for c in 0..self.in_channels {
                for r in 0..h {
                    let dst = (c * hp + r + pt) * wp + pl;
                    padded[dst..dst + w].copy_from_slice(&xv[(c * h + r) * w..(c * h + r + 1) * w]);
                }
            }
            rows.par_chunks_mut(o_all * ow)
                .enumerate()
                .for_each(|(i, yi)| {
                    for o in 0..o_all {
                        let b0 = match self.bias {
                            Some(bb) if v < with_bias => f64::from(bb[o]),
                            _ => 0.0,
                        };
                        yi[o * ow..(o + 1) * ow].fill(b0);
                    }
                    for g in 0..self.groups {
                        let dst = &mut yi[g * cout_g * ow..(g + 1) * cout_g * ow];
                        for p in 0..kh {
                            let rp = i * self.win.stride[0] + p * self.win.dilation[0];
                            for q in 0..kw {
                                let lhs = &weight[((g * cout_g * cin_g) * kh + p) * kw + q..];
                                let rhs = &padded
                                    [(g * cin_g * hp + rp) * wp + q * self.win.dilation[1]..];
                                crate::linalg::gemm_acc_f64(
                                    (cout_g, ow, cin_g),
                                    (dst, ow as isize, 1),
                                    (lhs, (cin_g * kh * kw) as isize, (kh * kw) as isize),
                                    (rhs, (hp * wp) as isize, self.win.stride[1] as isize),
                                );
                            }
                        }
                    }
                });
            let yv = &mut y[v * o_all * oh * ow..(v + 1) * o_all * oh * ow];
            for i in 0..oh {
                for o in 0..o_all {
                    yv[(o * oh + i) * ow..(o * oh + i + 1) * ow]
                        .copy_from_slice(&rows[(i * o_all + o) * ow..(i * o_all + o + 1) * ow]);
                }
            }
        }
        y
    }

    /// The tap-by-tap kernel (see the module doc).
    fn by_taps(&self, x: &[f64], b: usize, with_bias: usize) -> Vec<f64> {
        let [h, w] = self.win.in_hw;
        let [oh, ow] = self.win.out_hw;
        let [kh, kw] = self.win.kernel;
        let (cin_g, cout_g) = (
            self.in_channels / self.groups,
            self.out_channels / self.groups,
        );
        let n_in = self.in_channels * h * w;
        let plane = oh * ow;
        let weight: Vec<f64> = self.weight.iter().map(|&v| f64::from(v)).collect();
        // Per kernel column q: the output columns j whose source column is inside the input,
        // and that source column for the first of them.
        let cols: Vec<(usize, usize, usize)> = (0..kw)
            .map(|q| {
                let valid: Vec<usize> = (0..ow)
                    .filter(|&j| self.col_source(j, q).is_some())
                    .collect();
                match (valid.first(), valid.last()) {
                    (Some(&lo), Some(&hi)) => {
                        (lo, hi + 1, self.col_source(lo, q).expect("valid column"))
                    }
                    _ => (0, 0, 0),
                }
            })
            .collect();
        let s1 = self.win.stride[1];
        let mut y = vec![0.0; b * self.out_channels * plane];
        y.par_chunks_mut(plane).enumerate().for_each(|(chunk, yo)| {
            let (v, o) = (chunk / self.out_channels, chunk % self.out_channels);
            let xv = &x[v * n_in..(v + 1) * n_in];
            let b0 = match self.bias {
                Some(bb) if v < with_bias => f64::from(bb[o]),
                _ => 0.0,
            };
            yo.fill(b0);
            let g = o / cout_g;
            for cc in 0..cin_g {
                let xc = &xv[(g * cin_g + cc) * h * w..(g * cin_g + cc + 1) * h * w];
                for p in 0..kh {
                    for q in 0..kw {
                        let wv = weight[((o * cin_g + cc) * kh + p) * kw + q];
                        let (j0, j1, c0) = cols[q];
                        if j0 >= j1 {
                            continue;
                        }
                        for i in 0..oh {
                            let Some(r) = self.row_source(i, p) else {
                                continue;
                            };
                            let xr = &xc[r * w..(r + 1) * w];
                            let yr = &mut yo[i * ow + j0..i * ow + j1];
                            if s1 == 1 {
                                let xs = &xr[c0..c0 + (j1 - j0)];
                                for (a, &xx) in yr.iter_mut().zip(xs) {
                                    *a += wv * xx;
                                }
                            } else {
                                for (t, a) in yr.iter_mut().enumerate() {
                                    *a += wv * xr[c0 + t * s1];
                                }
                            }
                        }
                    }
                }
            }
        });
        y
    }

    /// Input row of output row `i` and kernel row `p`, or `None` in the padding.
    #[inline]
    fn row_source(&self, i: usize, p: usize) -> Option<usize> {
        let r =
            (i * self.win.stride[0] + p * self.win.dilation[0]).checked_sub(self.win.padding[0])?;
        (r < self.win.in_hw[0]).then_some(r)
    }

    /// Input column of output column `j` and kernel column `q`, or `None` in the padding.
    #[inline]
    fn col_source(&self, j: usize, q: usize) -> Option<usize> {
        let c =
            (j * self.win.stride[1] + q * self.win.dilation[1]).checked_sub(self.win.padding[1])?;
        (c < self.win.in_hw[1]).then_some(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The textbook sum of the module doc, one output entry at a time.
    fn direct(c: &Conv<'_>, x: &[f64], b: usize, with_bias: usize) -> Vec<f64> {
        let [h, w] = c.win.in_hw;
        let [oh, ow] = c.win.out_hw;
        let [kh, kw] = c.win.kernel;
        let (cin_g, cout_g) = (c.in_channels / c.groups, c.out_channels / c.groups);
        let mut y = vec![0.0; b * c.out_channels * oh * ow];
        for v in 0..b {
            for o in 0..c.out_channels {
                for i in 0..oh {
                    for j in 0..ow {
                        let mut s = match c.bias {
                            Some(bb) if v < with_bias => f64::from(bb[o]),
                            _ => 0.0,
                        };
                        for cc in 0..cin_g {
                            let ch = (o / cout_g) * cin_g + cc;
                            for p in 0..kh {
                                for q in 0..kw {
                                    if let Some((r, col)) = c.win.source(i, j, p, q) {
                                        let wi = ((o * cin_g + cc) * kh + p) * kw + q;
                                        s += f64::from(c.weight[wi])
                                            * x[((v * c.in_channels + ch) * h + r) * w + col];
                                    }
                                }
                            }
                        }
                        y[((v * c.out_channels + o) * oh + i) * ow + j] = s;
                    }
                }
            }
        }
        y
    }

    /// (C, O, G, [H, W], kernel, stride, padding, dilation)
    type Case = (
        usize,
        usize,
        usize,
        [usize; 2],
        [usize; 2],
        [usize; 2],
        [usize; 4],
        [usize; 2],
    );

    #[test]
    fn both_kernels_match_the_direct_sum() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // (C, O, G, [H, W], kernel, stride, padding, dilation)
        let cases: [Case; 6] = [
            (3, 4, 1, [9, 11], [3, 3], [1, 1], [1, 1, 1, 1], [1, 1]),
            (2, 3, 1, [8, 8], [5, 5], [1, 1], [0, 0, 0, 0], [1, 1]),
            (4, 6, 2, [10, 7], [3, 2], [2, 2], [1, 0, 2, 1], [1, 1]),
            (4, 4, 4, [7, 7], [3, 3], [1, 2], [1, 1, 1, 1], [2, 1]),
            (1, 2, 1, [5, 6], [1, 1], [1, 1], [0, 0, 0, 0], [1, 1]),
            (2, 2, 1, [3, 3], [3, 3], [1, 1], [2, 2, 2, 2], [1, 1]),
        ];
        for (ci, co, g, hw, k, s, pad, d) in cases {
            let win = Window::new(hw, k, s, pad, d, false).unwrap();
            let weight: Vec<f32> = (0..co * ci / g * k[0] * k[1])
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            let bias: Vec<f32> = (0..co).map(|_| rng.random_range(-1.0..1.0)).collect();
            let conv = Conv {
                in_channels: ci,
                out_channels: co,
                groups: g,
                weight: &weight,
                bias: Some(&bias),
                win: &win,
            };
            let b = 3;
            let x: Vec<f64> = (0..b * ci * hw[0] * hw[1])
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            let fast = conv.apply(&x, b, 1);
            let slow = direct(&conv, &x, b, 1);
            assert_eq!(fast.len(), slow.len());
            for (a, e) in fast.iter().zip(&slow) {
                assert_eq!(
                    a.to_bits(),
                    e.to_bits(),
                    "case {ci} {co} {g} {hw:?} {k:?} {s:?} {pad:?} {d:?}"
                );
            }
        }
    }
}
