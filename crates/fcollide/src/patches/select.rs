//! Which patches a location of the search space may draw from.
//!
//! For each `s×s` window `w` of the grid ([`super::space::grid`]) the candidate list is, in
//! this order:
//!
//! 1. the start image's own window (if [`PatchParams::include_own`]), then the target's own
//!    window when the start is another image — as if both images were in the patch database,
//!    as the paper's start images are (its own patch is then a window's nearest neighbour);
//! 2. `k` patches retrieved for the start image's window;
//! 3. when the start is not the target, `target_k` patches retrieved for the target's window,
//!    so that the space holds content that can reproduce the target's features.
//!
//! Retrieval of `k` patches for a query `q` takes the `r·k` nearest database patches
//! (`r` = [`PatchParams::diverse`]) and keeps `k` of them by farthest-point selection:
//! the nearest first, then repeatedly the one whose smallest distance to those kept is
//! largest. `r = 1` is plain k-NN (the paper's rule). On MNIST the plain `k` nearest patches
//! of a stroke are near-copies of each other, which leaves the composition no room
//! (`BENCHMARKS.md`); `r > 1` keeps similar but mutually different patches.
use super::compose::Composition;
use super::knn::{squared_distance, KnnError};
use super::space::{grid_strided, PatchParams};
use super::view::PatchView;

/// Keeps `k` of `ids` (nearest first) by farthest-point selection over the (raw) patches of
/// `db`.
pub fn farthest_point(db: &PatchView<'_>, ids: &[u32], k: usize) -> Vec<u32> {
    if ids.len() <= k {
        return ids.to_vec();
    }
    let mut kept = vec![ids[0]];
    // Smallest squared distance of each remaining id to the kept set.
    let mut near: Vec<f32> = ids
        .iter()
        .map(|&i| squared_distance(db.patch(i as usize), db.patch(ids[0] as usize)))
        .collect();
    near[0] = f32::NEG_INFINITY;
    while kept.len() < k {
        // Ties go to the earlier (nearer) id, so the choice is deterministic.
        let (best, _) = near
            .iter()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |acc, (j, &d)| {
                    if d > acc.1 {
                        (j, d)
                    } else {
                        acc
                    }
                },
            );
        let chosen = ids[best];
        kept.push(chosen);
        near[best] = f32::NEG_INFINITY;
        for (j, &i) in ids.iter().enumerate() {
            if near[j] > f32::NEG_INFINITY {
                let d = squared_distance(db.patch(i as usize), db.patch(chosen as usize));
                near[j] = near[j].min(d);
            }
        }
    }
    kept
}

/// The candidate composition of a search that starts at `start` and collides with `target`
/// (`None` when the start is the target), over the patches of `db`. Windows are `s×s` at
/// grid stride `t` ([`PatchParams::grid_stride`]); with `t < s` they overlap and a location's
/// candidates are those of every window that covers it (the own pixels once, first).
pub fn compose_candidates<'a>(
    start: &[f32],
    target: Option<&[f32]>,
    shape: [usize; 3],
    db: impl Into<PatchView<'a>>,
    p: &PatchParams,
) -> Result<Composition, KnnError> {
    p.check(shape)?;
    let db = db.into();
    let s = db.size();
    if s != p.size {
        return Err(KnnError::bad(
            "size",
            p.size,
            "the patch size of the database searched",
        ));
    }
    let [c, h, w] = shape;
    let corners = grid_strided(h, w, s, p.grid_stride());
    let retrieve_all = |image: &[f32], k: usize| -> Result<Vec<Vec<u32>>, KnnError> {
        let pool = (k * p.diverse.max(1)).min(db.len());
        let nn = db.nearest_windows(image, shape, &corners, pool)?;
        Ok(nn
            .iter()
            .map(|hits| farthest_point(&db, &hits.ids, k))
            .collect())
    };
    let from_start = retrieve_all(start, p.k)?;
    let from_target = match target {
        Some(t) if p.target_k > 0 => Some(retrieve_all(t, p.target_k)?),
        _ => None,
    };
    // Retrieved patches of window `wi` (ids into `db`), start's first.
    let ids = |wi: usize| -> Vec<u32> {
        let mut v = from_start[wi].clone();
        if let Some(ft) = &from_target {
            v.extend_from_slice(&ft[wi]);
        }
        v
    };
    let lists: Vec<Vec<u32>> = (0..corners.len()).map(ids).collect();
    // Windows covering each location.
    let mut covering: Vec<Vec<usize>> = vec![Vec::new(); h * w];
    for (wi, &(r0, c0)) in corners.iter().enumerate() {
        for r in r0..r0 + s {
            for col in c0..c0 + s {
                covering[r * w + col].push(wi);
            }
        }
    }
    let own = if p.include_own {
        1 + usize::from(target.is_some())
    } else {
        0
    };
    let count = |px: usize| {
        own + covering[px]
            .iter()
            .map(|&wi| lists[wi].len())
            .sum::<usize>()
    };
    // Locations covered by fewer windows (borders) are padded by repeating their first
    // candidate, so the composition has one `k` for all locations.
    let kc = (0..h * w).map(count).max().unwrap_or(0).max(1);
    let mut cand = vec![0.0f32; h * w * kc * c];
    let mut vals: Vec<f32> = Vec::with_capacity(kc * c);
    for r in 0..h {
        for col in 0..w {
            let px = r * w + col;
            vals.clear();
            if p.include_own {
                vals.extend((0..c).map(|ch| start[ch * h * w + px]));
                if let Some(t) = target {
                    vals.extend((0..c).map(|ch| t[ch * h * w + px]));
                }
            }
            for &wi in &covering[px] {
                let (r0, c0) = corners[wi];
                let off = (r - r0) * s + (col - c0);
                for &id in &lists[wi] {
                    let patch = db.patch(id as usize);
                    vals.extend((0..c).map(|ch| patch[ch * s * s + off]));
                }
            }
            if vals.is_empty() {
                continue;
            }
            for j in 0..kc {
                let src = if j * c < vals.len() { j } else { 0 };
                let dst = (px * kc + j) * c;
                cand[dst..dst + c].copy_from_slice(&vals[src * c..src * c + c]);
            }
        }
    }
    Ok(Composition { shape, k: kc, cand })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patches::extract::{extract, Patches};

    #[test]
    fn farthest_point_keeps_the_nearest_then_spreads() {
        // Five 1-D "patches" of size 1: values 0, 0.1, 0.2, 5, 10 (nearest first).
        let db = Patches {
            size: 1,
            channels: 1,
            data: vec![0.0, 0.1, 0.2, 5.0, 10.0],
            sources: vec![Default::default(); 5],
        };
        let v = PatchView::from(&db);
        assert_eq!(farthest_point(&v, &[0, 1, 2, 3, 4], 3), vec![0, 4, 3]);
        assert_eq!(farthest_point(&v, &[0, 1, 2, 3, 4], 1), vec![0]);
        assert_eq!(farthest_point(&v, &[2, 1], 5), vec![2, 1]);
    }

    #[test]
    fn own_windows_come_first_and_counts_add_up() {
        let img = |seed: usize| -> Vec<f32> {
            (0..64)
                .map(|x| ((x * 37 + seed * 11) % 64) as f32 / 64.0)
                .collect()
        };
        let images: Vec<f32> = (0..4).flat_map(img).collect();
        let db = extract(&images, [1, 8, 8], 4, 2);
        let (start, target) = (img(7), img(9));
        let p = PatchParams {
            size: 4,
            grid_stride: 4,
            k: 3,
            target_k: 2,
            diverse: 2,
            include_own: true,
            ..Default::default()
        };
        let comp = compose_candidates(&start, Some(&target), [1, 8, 8], &db, &p).unwrap();
        assert_eq!(comp.k, 2 + 3 + 2);
        for px in 0..64 {
            assert_eq!(comp.cand[px * comp.k], start[px]);
            assert_eq!(comp.cand[px * comp.k + 1], target[px]);
        }
        // From the target (no second own window, no target retrieval): 1 + 3.
        let comp = compose_candidates(&target, None, [1, 8, 8], &db, &p).unwrap();
        assert_eq!(comp.k, 4);
        // Plain k-NN without own windows: the first candidate is the database's nearest.
        let plain = PatchParams {
            include_own: false,
            diverse: 1,
            grid_stride: 4,
            ..p
        };
        let comp = compose_candidates(&target, None, [1, 8, 8], &db, &plain).unwrap();
        let old = crate::patches::space::candidates(&target, [1, 8, 8], &db, 3).unwrap();
        assert_eq!(comp.cand, old.cand);
        // Overlapping windows (4×4 at stride 2: corners 0, 2, 4 on each axis): location (3, 3)
        // lies in the four windows with corners (0|2, 0|2), so it has 1 + 4·3 candidates, each
        // the right pixel of its window's patch; corner (0, 0) lies in one window only and is
        // padded with its own pixel.
        let over = PatchParams {
            grid_stride: 2,
            ..p
        };
        let comp = compose_candidates(&target, None, [1, 8, 8], &db, &over).unwrap();
        assert_eq!(comp.k, 1 + 4 * 3);
        let px = 3 * 8 + 3;
        assert_eq!(comp.value(px, 0, 0), target[px]);
        let view = PatchView::from(&db);
        let corners = [(0, 0), (0, 2), (2, 0), (2, 2)];
        let all = grid_strided(8, 8, 4, 2);
        let nn = view.nearest_windows(&target, [1, 8, 8], &all, 6).unwrap();
        let mut j = 1;
        for (r0, c0) in corners {
            let wi = all.iter().position(|&x| x == (r0, c0)).unwrap();
            for id in farthest_point(&view, &nn[wi].ids, 3) {
                let want = db.patch(id as usize)[(3 - r0) * 4 + (3 - c0)];
                assert_eq!(comp.value(px, j, 0), want);
                j += 1;
            }
        }
        assert_eq!(comp.value(0, 1 + 3, 0), target[0]);
    }
}
