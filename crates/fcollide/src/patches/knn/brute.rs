//! Exact k-NN by brute force (the ground truth for DCI).
//!
//! Squared distances by the expansion `‖q − x‖² = ‖q‖² − 2 q·x + ‖x‖²`: for a block of
//! `QB` queries × a block of `DB` data points, `G = −2 Q Xᵀ` is one `gemm` call (runtime
//! SIMD dispatch: AVX2/AVX-512 where available), then each row `r` offers
//! `‖x_c‖² + G[r, c]` (the query norm is a per-row constant, irrelevant to the ranking)
//! to a bounded heap of size k. Work is split into (query block, data chunk) tasks run
//! by rayon; per-chunk heaps are merged. The selected k are finally re-scored with the
//! direct sum `Σ (q_i − x_i)²` and sorted by `(distance, id)`.
//!
//! [`brute_force_naive`] is the plain double loop, kept as a reference for tests.

use crate::linalg::gemm_strided;
use rayon::prelude::*;

use super::topk::TopK;
use super::{squared_distance, KnnError, Neighbours, Vectors};

/// Queries per block.
const QB: usize = 64;
/// Data points per block (`QB × DB` f32 scratch = 512 KiB).
const DB: usize = 2048;

fn check(data: &Vectors<'_>, queries: &Vectors<'_>, k: usize) -> Result<(), KnnError> {
    if data.dim() != queries.dim() {
        return Err(KnnError::dim("query dimension", data.dim(), queries.dim()));
    }
    if k > data.len() {
        return Err(KnnError::KTooLarge { k, n: data.len() });
    }
    Ok(())
}

/// Re-scores the selection with the direct formula and sorts by `(distance, id)`.
fn finish(t: TopK, data: &Vectors<'_>, q: &[f32]) -> Neighbours {
    let sel = t.into_neighbours();
    let mut v: Vec<(f32, u32)> = sel
        .ids
        .iter()
        .map(|&id| (squared_distance(q, data.get(id as usize)), id))
        .collect();
    v.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    Neighbours {
        ids: v.iter().map(|e| e.1).collect(),
        dists: v.iter().map(|e| e.0).collect(),
    }
}

/// Exact k nearest neighbours of every query (blocked `gemm`, parallel).
///
/// Returns one [`Neighbours`] per query (squared distances, ascending, ties by id).
/// Errors if the dimensions differ or `k > data.len()`.
pub fn brute_force(
    data: Vectors<'_>,
    queries: Vectors<'_>,
    k: usize,
) -> Result<Vec<Neighbours>, KnnError> {
    check(&data, &queries, k)?;
    let (n, nq, dim) = (data.len(), queries.len(), data.dim());
    if nq == 0 {
        return Ok(Vec::new());
    }
    if k == 0 || n == 0 {
        return Ok(vec![Neighbours::default(); nq]);
    }
    let xs = data.as_slice();
    let qs = queries.as_slice();
    let norms: Vec<f32> = xs
        .par_chunks(dim)
        .with_min_len(4096)
        .map(|x| x.iter().map(|v| v * v).sum())
        .collect();

    let n_qblocks = nq.div_ceil(QB);
    let n_dblocks = n.div_ceil(DB);
    let threads = rayon::current_num_threads().max(1);
    // Enough tasks to keep every thread busy even for a single query block.
    let n_chunks = (4 * threads).div_ceil(n_qblocks).clamp(1, n_dblocks);
    let dblocks_per_chunk = n_dblocks.div_ceil(n_chunks);
    let n_chunks = n_dblocks.div_ceil(dblocks_per_chunk);

    let tasks: Vec<(usize, usize)> = (0..n_qblocks)
        .flat_map(|b| (0..n_chunks).map(move |c| (b, c)))
        .collect();
    let partial: Vec<Vec<TopK>> = tasks
        .par_iter()
        .map_init(
            || vec![0.0f32; QB * DB],
            |g, &(b, c)| {
                let q0 = b * QB;
                let q1 = (q0 + QB).min(nq);
                let qb = q1 - q0;
                let mut heaps = vec![TopK::new(k); qb];
                let d_begin = c * dblocks_per_chunk * DB;
                let d_end = ((c + 1) * dblocks_per_chunk * DB).min(n);
                let mut d0 = d_begin;
                while d0 < d_end {
                    let d1 = (d0 + DB).min(d_end);
                    let db = d1 - d0;
                    // g[qb × db] = −2 · Q[qb × dim] · Xᵀ, with Xᵀ read from the db × dim
                    // row-major data block (row stride 1, column stride dim).
                    gemm_strided(
                        (qb, db, dim),
                        (g, db as isize, 1),
                        (&qs[q0 * dim..], dim as isize, 1),
                        (&xs[d0 * dim..], 1, dim as isize),
                        -2.0,
                    );
                    let nb = &norms[d0..d1];
                    for (r, heap) in heaps.iter_mut().enumerate() {
                        let row = &g[r * db..(r + 1) * db];
                        for (c, (&gv, &xn)) in row.iter().zip(nb).enumerate() {
                            heap.push(xn + gv, (d0 + c) as u32);
                        }
                    }
                    d0 = d1;
                }
                heaps
            },
        )
        .collect();

    // partial is ordered (block, chunk): merge the chunks of each block.
    let mut per_block: Vec<Vec<TopK>> = Vec::with_capacity(n_qblocks);
    let mut it = partial.into_iter();
    for _ in 0..n_qblocks {
        let mut acc = it.next().unwrap_or_default();
        for _ in 1..n_chunks {
            if let Some(more) = it.next() {
                for (a, m) in acc.iter_mut().zip(more) {
                    a.merge(m);
                }
            }
        }
        per_block.push(acc);
    }
    Ok(per_block
        .into_par_iter()
        .enumerate()
        .flat_map_iter(|(b, heaps)| {
            heaps
                .into_iter()
                .enumerate()
                .map(move |(r, t)| (b * QB + r, t))
        })
        .map(|(qi, t)| finish(t, &data, queries.get(qi)))
        .collect())
}

/// Exact k nearest neighbours by the plain double loop (reference for tests).
pub fn brute_force_naive(
    data: Vectors<'_>,
    queries: Vectors<'_>,
    k: usize,
) -> Result<Vec<Neighbours>, KnnError> {
    check(&data, &queries, k)?;
    Ok((0..queries.len())
        .map(|qi| {
            let q = queries.get(qi);
            let mut t = TopK::new(k);
            for i in 0..data.len() {
                t.push(squared_distance(q, data.get(i)), i as u32);
            }
            t.into_neighbours()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Small integers: every distance is exact in f32, so both methods must agree
    /// exactly, ties (many, with values in 0..3) included.
    fn int_data(rng: &mut impl Rng, n: usize, dim: usize) -> Vec<f32> {
        (0..n * dim)
            .map(|_| rng.random_range(0..3) as f32)
            .collect()
    }

    #[test]
    fn blocked_equals_naive_on_integer_data() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for &(n, nq, dim, k) in &[
            (1, 1, 1, 1),
            (5, 3, 7, 5),         // k = n, n < block
            (100, 70, 3, 10),     // > one query block
            (2049, 5, 9, 17),     // one past a data block
            (5000, 130, 16, 100), // several blocks of both
            (300, 1, 64, 300),    // single query, k = n
        ] {
            let d = int_data(&mut rng, n, dim);
            let q = int_data(&mut rng, nq, dim);
            let dv = Vectors::new(&d, dim).unwrap();
            let qv = Vectors::new(&q, dim).unwrap();
            let a = brute_force(dv, qv, k).unwrap();
            let b = brute_force_naive(dv, qv, k).unwrap();
            assert_eq!(a, b, "n={n} nq={nq} dim={dim} k={k}");
            assert!(a.iter().all(|x| x.len() == k));
        }
    }

    #[test]
    fn blocked_matches_naive_on_float_data() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let (n, nq, dim, k) = (3000, 50, 24, 10);
        let d: Vec<f32> = (0..n * dim).map(|_| rng.random::<f32>()).collect();
        let q: Vec<f32> = (0..nq * dim).map(|_| rng.random::<f32>()).collect();
        let dv = Vectors::new(&d, dim).unwrap();
        let qv = Vectors::new(&q, dim).unwrap();
        let a = brute_force(dv, qv, k).unwrap();
        let b = brute_force_naive(dv, qv, k).unwrap();
        for (x, y) in a.iter().zip(&b) {
            for (u, v) in x.dists.iter().zip(&y.dists) {
                assert!((u - v).abs() <= 1e-4 * v.max(1.0), "{u} vs {v}");
            }
            assert!(super::super::recall_at_k(x, y) >= 0.9);
        }
    }

    #[test]
    fn duplicates_break_ties_by_id() {
        let d = vec![1.0f32; 6 * 2]; // six identical points
        let q = [1.0f32, 1.0];
        let r = brute_force(
            Vectors::new(&d, 2).unwrap(),
            Vectors::new(&q, 2).unwrap(),
            4,
        )
        .unwrap();
        assert_eq!(r[0].ids, vec![0, 1, 2, 3]);
        assert_eq!(r[0].dists, vec![0.0; 4]);
    }

    #[test]
    fn errors_and_empty_inputs() {
        let d = [0.0f32; 8];
        let dv = Vectors::new(&d, 4).unwrap();
        let q3 = [0.0f32; 3];
        let qv3 = Vectors::new(&q3, 3).unwrap();
        assert!(matches!(
            brute_force(dv, qv3, 1),
            Err(KnnError::DimensionMismatch { .. })
        ));
        let q = [0.0f32; 4];
        let qv = Vectors::new(&q, 4).unwrap();
        assert!(matches!(
            brute_force(dv, qv, 3),
            Err(KnnError::KTooLarge { k: 3, n: 2 })
        ));
        assert_eq!(brute_force(dv, qv, 0).unwrap(), vec![Neighbours::default()]);
        let e: [f32; 0] = [];
        let ev = Vectors::new(&e, 4).unwrap();
        assert!(brute_force(dv, ev, 1).unwrap().is_empty());
        assert_eq!(brute_force(ev, qv, 0).unwrap().len(), 1);
    }
}
