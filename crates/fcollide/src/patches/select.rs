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
use super::extract::window;
use super::knn::{squared_distance, KnnError};
use super::space::{grid, PatchParams};
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

/// Retrieved patches for every grid window of `image`: `k` per window (fewer only if the
/// database is smaller), chosen as described in the module docs.
fn retrieve(
    image: &[f32],
    shape: [usize; 3],
    db: &PatchView<'_>,
    k: usize,
    diverse: usize,
) -> Result<Vec<Vec<u32>>, KnnError> {
    let corners = grid(shape[1], shape[2], db.size());
    let pool = (k * diverse.max(1)).min(db.len());
    let nn = db.nearest_windows(image, shape, &corners, pool)?;
    Ok(nn
        .iter()
        .map(|hits| farthest_point(db, &hits.ids, k))
        .collect())
}

/// The candidate composition of a search that starts at `start` and collides with `target`
/// (`None` when the start is the target), over the patches of `db`.
pub fn compose_candidates<'a>(
    start: &[f32],
    target: Option<&[f32]>,
    shape: [usize; 3],
    db: impl Into<PatchView<'a>>,
    p: &PatchParams,
) -> Result<Composition, KnnError> {
    let db = db.into();
    let s = db.size();
    let [c, h, w] = shape;
    let corners = grid(h, w, s);
    let from_start = retrieve(start, shape, &db, p.k, p.diverse)?;
    let from_target = match target {
        Some(t) if p.target_k > 0 => Some(retrieve(t, shape, &db, p.target_k, p.diverse)?),
        _ => None,
    };
    // Candidate patches of window `wi`, each as pixel values `[C, s, s]`.
    let list = |wi: usize| -> Vec<Vec<f32>> {
        let mut v = Vec::new();
        if p.include_own {
            v.push(window(start, shape, corners[wi], s));
            if let Some(t) = target {
                v.push(window(t, shape, corners[wi], s));
            }
        }
        v.extend(
            from_start[wi]
                .iter()
                .map(|&i| db.patch(i as usize).to_vec()),
        );
        if let Some(ft) = &from_target {
            v.extend(ft[wi].iter().map(|&i| db.patch(i as usize).to_vec()));
        }
        v
    };
    let lists: Vec<Vec<Vec<f32>>> = (0..corners.len()).map(list).collect();
    // Every window has the same count unless the database is tiny; pad by repeating the
    // first candidate so the composition has one `k` for all pixels.
    let kc = lists.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let d = c * h * w;
    let mut cand = vec![0.0f32; d * kc];
    for (&(r0, c0), l) in corners.iter().zip(&lists) {
        for j in 0..kc {
            let patch = l.get(j).or_else(|| l.first());
            let Some(patch) = patch else { continue };
            for ch in 0..c {
                for dr in 0..s {
                    for dc in 0..s {
                        let px = (r0 + dr) * w + (c0 + dc);
                        cand[(px * kc + j) * c + ch] = patch[ch * s * s + dr * s + dc];
                    }
                }
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
            ..p
        };
        let comp = compose_candidates(&target, None, [1, 8, 8], &db, &plain).unwrap();
        let old = crate::patches::space::candidates(&target, [1, 8, 8], &db, 3).unwrap();
        assert_eq!(comp.cand, old.cand);
    }
}
