//! k-NN benchmark: Prioritized DCI vs brute force on MNIST 8×8 patches (dim 64).
//!
//! Data: the embedded MNIST digits split by `fcollide::data::embedded::mnist_split(0)`
//! (8,000 train / 2,000 test). Every 8×8 patch at stride 1 of the first `--images`
//! train images (default 2,300 → 2,300 · 21² = 1,014,300 vectors of dimension 64)
//! is a data vector. Queries: `--queries` (default 1,000) patches drawn uniformly
//! (ChaCha8Rng, seed 1) among the held-out *test* patches that contain ink
//! (max pixel ≥ 0.5), so no query is one of the ~50 % blank patches whose neighbours
//! are an arbitrary choice among hundreds of thousands of exact ties.
//!
//! Reported: build time, queries/s (all cores, `search_batch`) of brute force (`gemm`)
//! and of DCI for several `(L, m, k0, k1)`, recall@10 of DCI against brute force, by
//! ids (`recall_at_k`) and tie-aware (`recall_at_k_ties`), and the mean number of
//! candidates whose distance DCI evaluated. Printed as a Markdown table.
//!
//! Run: `cargo bench -p fcollide --bench knn` (options after `--`: `--images N`,
//! `--queries Q`, `--quick` for one setting only, `--settings "L,m,k0,k1;..."`,
//! `--isotropic` for the paper's uniform directions instead of the default
//! data-difference directions, `--naive` to also time the plain-loop reference on
//! 100 queries).

use std::time::Instant;

use fcollide::patches::knn::{
    brute_force, brute_force_naive, mean_recall, Budget, DciIndex, DciParams, Directions,
    Neighbours, Vectors,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// `(L, m, [(k0, k1)])`: one index build, several query budgets.
type Setting = (usize, usize, Vec<(usize, usize)>);

const P: usize = 8;
const K: usize = 10;

/// All `P×P` patches at stride 1 of each `[C, H, W]` image, flattened channel-major
/// then row-major (dimension `C·P·P`), appended to `out`.
fn extract_patches(img: &[f32], shape: [usize; 3], out: &mut Vec<f32>) {
    let [c, h, w] = shape;
    for y in 0..=h.saturating_sub(P) {
        for x in 0..=w.saturating_sub(P) {
            for ch in 0..c {
                for dy in 0..P {
                    let row = ch * h * w + (y + dy) * w + x;
                    out.extend_from_slice(&img[row..row + P]);
                }
            }
        }
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn mean_candidates(r: &[(Neighbours, fcollide::patches::knn::QueryStats)]) -> f64 {
    r.iter().map(|x| x.1.candidates as f64).sum::<f64>() / r.len().max(1) as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n_images = arg("--images", 2300);
    let n_queries = arg("--queries", 1000);
    let (train, test) = fcollide::data::embedded::mnist_split(0)?;
    let shape = train.shape;
    let dim = shape[0] * P * P;

    let t = Instant::now();
    let n_images = n_images.min(train.labels.len());
    let mut data = Vec::new();
    for i in 0..n_images {
        extract_patches(train.image(i), shape, &mut data);
    }
    let mut pool = Vec::new();
    for i in 0..test.labels.len() {
        extract_patches(test.image(i), shape, &mut pool);
    }
    let inked: Vec<usize> = (0..pool.len() / dim)
        .filter(|&i| pool[i * dim..(i + 1) * dim].iter().any(|&v| v >= 0.5))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut queries = Vec::with_capacity(n_queries * dim);
    for _ in 0..n_queries {
        let i = inked[rng.random_range(0..inked.len())];
        queries.extend_from_slice(&pool[i * dim..(i + 1) * dim]);
    }
    let dv = Vectors::new(&data, dim)?;
    let qv = Vectors::new(&queries, dim)?;
    println!(
        "data: {} patches ({}×{} stride 1, dim {dim}) from {n_images} MNIST train images; \
         {} queries from inked test patches; {} threads; prepared in {:.2?}",
        dv.len(),
        P,
        P,
        qv.len(),
        rayon::current_num_threads(),
        t.elapsed()
    );

    let t = Instant::now();
    let exact = brute_force(dv, qv, K)?;
    let brute_s = t.elapsed().as_secs_f64();
    println!(
        "brute force (gemm): {brute_s:.2} s, {:.1} q/s",
        qv.len() as f64 / brute_s
    );
    if flag("--naive") {
        let nq = 100.min(qv.len());
        let sub = Vectors::new(&queries[..nq * dim], dim)?;
        let t = Instant::now();
        let naive: Vec<Neighbours> = (0..nq)
            .into_par_iter()
            .map(|i| {
                let one = Vectors::new(sub.get(i), dim)?;
                Ok(brute_force_naive(dv, one, K)?.remove(0))
            })
            .collect::<Result<_, fcollide::patches::knn::KnnError>>()?;
        let s = t.elapsed().as_secs_f64();
        println!(
            "brute force (plain loop, 8-lane accumulators, {nq} queries): {:.1} q/s; \
             recall vs gemm {:.3}",
            nq as f64 / s,
            mean_recall(&naive, &exact[..nq], false)
        );
    }

    // (L, m, [(k0, k1)]); `--settings "L,m,k0,k1;L,m,k0,k1;..."` overrides.
    let mut settings: Vec<Setting> = if flag("--quick") {
        vec![(2, 10, vec![(1000, 50_000)])]
    } else {
        vec![
            (2, 10, vec![(1000, 50_000)]),
            (2, 2, vec![(5000, 50_000), (20_000, 200_000)]),
            (3, 2, vec![(10_000, 100_000)]),
        ]
    };
    let args: Vec<String> = std::env::args().collect();
    if let Some(spec) = args
        .iter()
        .position(|a| a == "--settings")
        .and_then(|i| args.get(i + 1))
    {
        settings.clear();
        for item in spec.split(';').filter(|x| !x.trim().is_empty()) {
            let v: Vec<usize> = item
                .split(',')
                .map(|x| x.trim().parse())
                .collect::<Result<_, _>>()?;
            let [l, m, k0, k1] = v[..] else {
                return Err(format!("bad --settings item {item:?}: want L,m,k0,k1").into());
            };
            match settings.last_mut() {
                Some(last) if last.0 == l && last.1 == m => last.2.push((k0, k1)),
                _ => settings.push((l, m, vec![(k0, k1)])),
            }
        }
    }

    let mut rows = Vec::new();
    for (l, m, budgets) in settings {
        let params = DciParams {
            num_composite: l,
            num_simple: m,
            retrieve: Budget::Count(budgets[0].0),
            visit: Budget::Count(budgets[0].1),
            seed: 0,
            directions: if flag("--isotropic") {
                Directions::Isotropic
            } else {
                Directions::DataDifferences
            },
        };
        let t = Instant::now();
        let mut index = DciIndex::new(dv, params)?;
        let build_s = t.elapsed().as_secs_f64();
        for (k0, k1) in budgets {
            index.set_budget(Budget::Count(k0), Budget::Count(k1))?;
            let t = Instant::now();
            let res = index.search_batch_with_stats(dv, qv, K)?;
            let s = t.elapsed().as_secs_f64();
            let approx: Vec<Neighbours> = res.iter().map(|r| r.0.clone()).collect();
            let visits =
                res.iter().map(|r| r.1.visits as f64).sum::<f64>() / res.len().max(1) as f64;
            let row = format!(
                "| {l} | {m} | {k0} | {k1} | {build_s:.1} | {:.0} | {:.0} | {:.1}× | {:.3} | {:.3} | {:.0} | {visits:.0} |",
                qv.len() as f64 / s,
                qv.len() as f64 / brute_s,
                brute_s / s,
                mean_recall(&approx, &exact, false),
                mean_recall(&approx, &exact, true),
                mean_candidates(&res),
            );
            println!("{row}");
            rows.push(row);
        }
    }
    println!();
    println!(
        "n = {}, dim = {dim}, {} queries, k = {K}, {} threads",
        dv.len(),
        qv.len(),
        rayon::current_num_threads()
    );
    println!();
    println!(
        "| L | m | k0 | k1 | build s | DCI q/s | brute q/s | speed-up | recall@10 | \
         recall@10 (ties) | candidates | visits |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}
