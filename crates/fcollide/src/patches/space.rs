//! The patch search space for a start image: cut the image into `s×s` windows on a grid
//! (stride `s`, the last row/column of windows flush with the border), retrieve for each the
//! `k` nearest patches of a patch database (exact k-NN), and let every pixel be a softmax
//! combination of the `k` candidates' pixels ([`Composition`]). Vertices are searched over
//! the softmax parameters with the same objective as in pixel space, plus `λ·TV`.
use super::compose::Composition;
use super::knn::KnnError;
use super::view::PatchView;
use crate::collide::Parameterization;
use serde::{Deserialize, Serialize};

/// Parameters of the patch space.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PatchParams {
    /// Patch side `s`.
    pub size: usize,
    /// Stride of the database's patches.
    pub db_stride: usize,
    /// Images the database is cut from (the first `n` training images).
    pub db_images: usize,
    /// Candidates retrieved per location for the start image, `k`.
    pub k: usize,
    /// Candidates retrieved per location for the target when the start is another image.
    #[serde(default)]
    pub target_k: usize,
    /// Diversity factor `r`: keep `k` of the `r·k` nearest by farthest-point selection
    /// (`1`: plain k-NN). See [`super::select`].
    #[serde(default = "one")]
    pub diverse: usize,
    /// The start's (and target's) own windows are candidates too.
    #[serde(default)]
    pub include_own: bool,
    /// Stride of the grid of windows over the start image (`0`: half the patch size, so
    /// windows overlap by half and each location draws on every window that covers it, like
    /// the paper's overlapping windows; the patch size: windows side by side).
    #[serde(default)]
    pub grid_stride: usize,
    /// Weight `λ` of the total variation of the coefficients.
    pub tv: f32,
    /// Starting softmax weight of the nearest candidate.
    pub init_weight: f32,
}

impl Default for PatchParams {
    fn default() -> Self {
        Self {
            size: 14,
            db_stride: 1,
            db_images: 2000,
            k: 20,
            target_k: 10,
            diverse: 50,
            include_own: true,
            grid_stride: 0,
            tv: 0.0,
            init_weight: 0.9,
        }
    }
}

fn one() -> usize {
    1
}

/// Most candidates per location (`k`, `target_k`) and largest diversity factor.
pub const MAX_K: usize = 100_000;

impl PatchParams {
    /// Validates the parameters for start images of shape `[C, H, W]`: `size` in
    /// `1..=min(H, W)`, `db_stride ≥ 1`, `k` in `1..=`[`MAX_K`], `target_k ≤ MAX_K`,
    /// `diverse` in `1..=MAX_K`, `grid_stride ≤ size`, `tv` finite and `≥ 0`, `init_weight`
    /// in `(0, 1)`. Errors name the parameter (the field's name).
    pub fn check(&self, shape: [usize; 3]) -> Result<(), KnnError> {
        let [_, h, w] = shape;
        if self.size == 0 || self.size > h.min(w) {
            return Err(KnnError::bad(
                "size",
                self.size,
                "in 1..=the image's smaller side (patch side in pixels)",
            ));
        }
        if self.db_stride == 0 {
            return Err(KnnError::bad("db_stride", self.db_stride, "at least 1"));
        }
        if !(1..=MAX_K).contains(&self.k) {
            return Err(KnnError::bad("k", self.k, "in 1..=100000"));
        }
        if self.target_k > MAX_K {
            return Err(KnnError::bad("target_k", self.target_k, "in 0..=100000"));
        }
        if !(1..=MAX_K).contains(&self.diverse) {
            return Err(KnnError::bad("diverse", self.diverse, "in 1..=100000"));
        }
        if self.grid_stride > self.size {
            return Err(KnnError::bad(
                "grid_stride",
                self.grid_stride,
                "in 0..=size (0: half the patch size)",
            ));
        }
        if !(self.tv.is_finite() && self.tv >= 0.0) {
            return Err(KnnError::bad("tv", self.tv, "a finite number ≥ 0"));
        }
        if !(self.init_weight > 0.0 && self.init_weight < 1.0) {
            return Err(KnnError::bad("init_weight", self.init_weight, "in (0, 1)"));
        }
        Ok(())
    }

    /// The grid stride in effect (`grid_stride`, or half the patch size when it is 0).
    pub fn grid_stride(&self) -> usize {
        match self.grid_stride {
            0 => (self.size / 2).max(1),
            t => t,
        }
    }
}

/// Top-left corners of a grid of `s×s` windows covering `h×w`, side by side.
pub fn grid(h: usize, w: usize, s: usize) -> Vec<(usize, usize)> {
    grid_strided(h, w, s, s)
}

/// Top-left corners of `s×s` windows at stride `t` covering `h×w` (the last row and column
/// of windows flush with the border; they overlap when `t < s`).
pub fn grid_strided(h: usize, w: usize, s: usize, t: usize) -> Vec<(usize, usize)> {
    let axis = |n: usize| -> Vec<usize> {
        let mut v: Vec<usize> = (0..n.saturating_sub(s) + 1).step_by(t.max(1)).collect();
        if let Some(&last) = v.last() {
            if last + s < n {
                v.push(n - s);
            }
        }
        v
    };
    let (rows, cols) = (axis(h), axis(w));
    rows.iter()
        .flat_map(|&r| cols.iter().map(move |&c| (r, c)))
        .collect()
}

/// The candidates of `start` (`[C, H, W]`): the `k` database patches nearest to each grid
/// window, nearest first, placed at that window. `db` is an in-memory `&Patches` or a
/// [`PatchView`] (e.g. of a memory-mapped [`PatchDb`](super::db::PatchDb)), searched by
/// brute force or by its DCI index.
pub fn candidates<'a>(
    start: &[f32],
    shape: [usize; 3],
    db: impl Into<PatchView<'a>>,
    k: usize,
) -> Result<Composition, KnnError> {
    let db = db.into();
    let s = db.size();
    let [c, h, w] = shape;
    let corners = grid(h, w, s);
    let nn = db.nearest_windows(start, shape, &corners, k)?;
    let d = c * h * w;
    let mut cand = vec![0.0f32; d * k];
    for (&(r0, c0), hits) in corners.iter().zip(&nn) {
        for (j, &id) in hits.ids.iter().enumerate() {
            let patch = db.patch(id as usize);
            for ch in 0..c {
                for dr in 0..s {
                    for dc in 0..s {
                        let p = (r0 + dr) * w + (c0 + dc);
                        cand[(p * k + j) * c + ch] = patch[ch * s * s + dr * s + dc];
                    }
                }
            }
        }
    }
    Ok(Composition { shape, k, cand })
}

/// A batch of `K` vertices searched over one [`Composition`].
pub struct PatchSpace {
    /// The candidates.
    pub comp: Composition,
    /// `λ` of the TV penalty.
    pub tv: f32,
    /// Starting weight of the nearest candidate.
    pub init_weight: f32,
}

impl Parameterization for PatchSpace {
    fn name(&self) -> &'static str {
        "patch composition"
    }

    fn init(&self, start: &[f32]) -> Vec<f32> {
        let d = self.comp.d();
        let one = self.comp.init_on(0, self.init_weight);
        one.repeat(start.len() / d.max(1))
    }

    fn pixels(&self, z: &[f32], u: &mut [f32]) {
        let dk = self.comp.n_params();
        for (zv, uv) in z.chunks(dk).zip(u.chunks_mut(self.comp.d())) {
            uv.copy_from_slice(&self.comp.pixels(zv));
        }
    }

    fn chain(&self, z: &[f32], _u: &[f32], grad_u: Vec<f32>) -> Vec<f32> {
        let (d, dk) = (self.comp.d(), self.comp.n_params());
        let mut out = Vec::with_capacity(z.len());
        for (zv, gv) in z.chunks(dk).zip(grad_u.chunks(d)) {
            let mut g = self.comp.chain(zv, gv);
            if self.tv > 0.0 {
                for (a, b) in g.iter_mut().zip(self.comp.tv(zv).1) {
                    *a += self.tv * b;
                }
            }
            out.extend(g);
        }
        out
    }

    fn project(&self, _z: &mut [f32]) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patches::extract::extract;

    #[test]
    fn grid_covers_the_image_and_candidates_start_from_the_nearest() {
        assert_eq!(grid(28, 28, 7).len(), 16);
        let g = grid(10, 10, 4);
        assert_eq!(g.iter().map(|x| x.0).max(), Some(6));
        // A database that contains the start image: its own windows are the nearest.
        let img: Vec<f32> = (0..64).map(|x| ((x * 37) % 64) as f32 / 64.0).collect();
        let db = extract(&img, [1, 8, 8], 4, 1);
        let comp = candidates(&img, [1, 8, 8], &db, 3).unwrap();
        for (p, &v) in img.iter().enumerate() {
            assert!((comp.cand[p * 3] - v).abs() < 1e-6);
        }
        let space = PatchSpace {
            comp,
            tv: 0.1,
            init_weight: 0.999,
        };
        let z = space.init(&img.repeat(2));
        let mut u = vec![0.0; 128];
        space.pixels(&z, &mut u);
        assert!(u
            .iter()
            .zip(img.iter().cycle())
            .all(|(a, b)| (a - b).abs() < 1e-2));
        assert_eq!(space.chain(&z, &u, vec![1.0; 128]).len(), z.len());
    }

    #[test]
    fn patch_size_zero_and_absurd_k_are_refused_by_name() {
        let shape = [1, 28, 28];
        assert!(PatchParams::default().check(shape).is_ok());
        for (name, p) in [
            (
                "size",
                PatchParams {
                    size: 0,
                    ..Default::default()
                },
            ),
            (
                "size",
                PatchParams {
                    size: 29,
                    ..Default::default()
                },
            ),
            (
                "k",
                PatchParams {
                    k: 0,
                    ..Default::default()
                },
            ),
            (
                "k",
                PatchParams {
                    k: usize::MAX,
                    ..Default::default()
                },
            ),
            (
                "diverse",
                PatchParams {
                    diverse: 0,
                    ..Default::default()
                },
            ),
            (
                "tv",
                PatchParams {
                    tv: f32::NAN,
                    ..Default::default()
                },
            ),
        ] {
            match p.check(shape) {
                Err(KnnError::BadParameter { name: got, .. }) => assert_eq!(got, name),
                other => panic!("{name}: {other:?}"),
            }
        }
        // A view of size-0 patches answers with an error, not a division by zero.
        let empty = crate::patches::extract::Patches {
            size: 0,
            channels: 1,
            data: vec![],
            sources: vec![],
        };
        let v = PatchView::from(&empty);
        assert!(v.nearest(&[0.0; 4], 1).is_err());
    }
}
