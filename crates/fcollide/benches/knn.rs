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
//! Reported: build time, queries/s (all cores, `search_batch`) of brute force (`gemm`,
//! timed in the same run) and of DCI for several settings `(L, m, levels, F_c; F, k0,
//! k1)`, the speed-up, recall@k of DCI against brute force by ids (`recall_at_k`) and
//! tie-aware (`recall_at_k_ties`), and the mean numbers of candidates whose distance DCI
//! evaluated and of entries it visited (summed over levels). Also the median distance
//! to the 10th and the k-th exact neighbour (relative contrast). Printed as a Markdown
//! table.
//!
//! Run: `cargo bench -p fcollide --bench knn` (options after `--`: `--images N`,
//! `--queries Q`, `--k K` (default 10), `--index-seed S`, `--quick` for the default
//! setting only, `--settings "L,m,levels,Fc,F,k0,k1;..."` (consecutive items with the
//! same `L,m,levels,Fc` share one build; `k0`, `k1`: `all`, a count, or a fraction with a
//! `.`), `--data-directions` for data-difference directions instead of the paper's
//! isotropic ones, `--naive` to also time the plain-loop reference on 100 queries).

use std::time::Instant;

use fcollide::patches::knn::{
    brute_force, brute_force_naive, field_of_view_for, mean_recall, Budget, DciIndex, DciParams,
    Directions, Neighbours, Vectors,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// `((L, m, levels, F_c), [(F, k0, k1)])`: one index build, several query settings.
type Setting = ((usize, usize, usize, usize), Vec<(usize, Budget, Budget)>);

/// The default settings (see `--settings`): the one-level index of the paper with two
/// budgets, multi-level with every level evaluated exactly (`DciParams::default()` is
/// `1,1,4,5,20,all,all`), and multi-level with the traversal at every level.
const DEFAULT_SETTINGS: &str = "2,2,1,5,20,5000,50000;2,2,1,5,20,20000,200000;\
    1,1,3,5,10,all,all;1,1,3,5,20,all,all;\
    1,1,4,5,10,all,all;1,1,4,5,20,all,all;1,1,4,5,30,all,all;1,1,4,5,40,all,all;\
    1,5,4,5,20,0.5,all;2,3,4,5,30,0.4,all;2,3,4,5,40,0.4,all";

const P: usize = 8;

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
    let k = arg("--k", 10);
    let index_seed = arg("--index-seed", 0) as u64;
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
    let exact = brute_force(dv, qv, k)?;
    let brute_s = t.elapsed().as_secs_f64();
    println!(
        "brute force (gemm): {brute_s:.2} s, {:.1} q/s",
        qv.len() as f64 / brute_s
    );
    let median_dist = |i: usize| {
        let mut v: Vec<f32> = exact
            .iter()
            .filter_map(|e| e.dists.get(i).map(|d| d.sqrt()))
            .collect();
        v.sort_unstable_by(f32::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f32::NAN)
    };
    if k > 10 {
        println!(
            "median distance to the 10th neighbour {:.3}, to the {k}th {:.3}",
            median_dist(9),
            median_dist(k - 1)
        );
    } else if k == 10 {
        println!(
            "median distance to the 10th neighbour {:.3}",
            median_dist(9)
        );
    }
    if flag("--naive") {
        let nq = 100.min(qv.len());
        let sub = Vectors::new(&queries[..nq * dim], dim)?;
        let t = Instant::now();
        let naive: Vec<Neighbours> = (0..nq)
            .into_par_iter()
            .map(|i| {
                let one = Vectors::new(sub.get(i), dim)?;
                Ok(brute_force_naive(dv, one, k)?.remove(0))
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

    // Settings "L,m,levels,Fc,F,k0,k1;...": consecutive items with the same
    // (L, m, levels, Fc) share one build. k0, k1: a count, or a fraction with a '.'.
    let default_settings = if flag("--quick") {
        "1,1,4,5,20,all,all"
    } else {
        DEFAULT_SETTINGS
    };
    let args: Vec<String> = std::env::args().collect();
    let spec = args
        .iter()
        .position(|a| a == "--settings")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
        .unwrap_or(default_settings);
    let mut settings: Vec<Setting> = Vec::new();
    for item in spec.split(';').filter(|x| !x.trim().is_empty()) {
        let v: Vec<&str> = item.split(',').map(str::trim).collect();
        let [l, m, levels, fc, f, k0, k1] = v[..] else {
            return Err(format!("bad --settings item {item:?}: want L,m,levels,Fc,F,k0,k1").into());
        };
        let build = (l.parse()?, m.parse()?, levels.parse()?, fc.parse()?);
        let query = (f.parse()?, k0.parse::<Budget>()?, k1.parse::<Budget>()?);
        match settings.last_mut() {
            Some(last) if last.0 == build => last.1.push(query),
            _ => settings.push((build, vec![query])),
        }
    }
    let directions = if flag("--data-directions") {
        Directions::DataDifferences
    } else {
        Directions::Isotropic
    };

    let mut rows = Vec::new();
    for ((l, m, levels, fc), queries_) in settings {
        let (f0, k0, k1) = queries_[0];
        let params = DciParams {
            num_composite: l,
            num_simple: m,
            num_levels: levels,
            field_of_view: f0,
            construction_field_of_view: fc,
            retrieve: k0,
            visit: k1,
            seed: index_seed,
            directions,
        };
        let t = Instant::now();
        let mut index = DciIndex::new(dv, params)?;
        let build_s = t.elapsed().as_secs_f64();
        let sizes = index
            .level_sizes()
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" / ");
        for (f, k0, k1) in queries_ {
            index.set_budget(k0, k1)?;
            index.set_field_of_view(f)?;
            let t = Instant::now();
            let res = index.search_batch_with_stats(dv, qv, k)?;
            let s = t.elapsed().as_secs_f64();
            let approx: Vec<Neighbours> = res.iter().map(|r| r.0.clone()).collect();
            let visits =
                res.iter().map(|r| r.1.visits as f64).sum::<f64>() / res.len().max(1) as f64;
            let row = format!(
                "| {l} | {m} | {levels} | {sizes} | {fc} | {f} | {} | {} | {} | {build_s:.1} | {:.0} | {:.0} | {:.1}× | {:.3} | {:.3} | {:.0} | {visits:.0} |",
                if levels > 1 { field_of_view_for(f, k).to_string() } else { "–".into() },
                k0,
                k1,
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
        "n = {}, dim = {dim}, {} queries, k = {k}, {} threads, {} directions",
        dv.len(),
        qv.len(),
        rayon::current_num_threads(),
        if directions == Directions::Isotropic {
            "isotropic"
        } else {
            "data-difference"
        }
    );
    println!();
    println!(
        "| L | m | levels | level sizes | F_c | F | F_k | k0 | k1 | build s | DCI q/s | brute q/s | \
         speed-up | recall@k | recall@k (ties) | candidates | visits |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}
