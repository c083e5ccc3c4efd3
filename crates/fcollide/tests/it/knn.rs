//! End-to-end k-NN: Prioritized DCI (multi-level by default, one level, traversal at every
//! level) on clustered random data (recall@k against brute force,
//! `recall = |approx ∩ exact| / k`) and save/load giving identical results.

use fcollide::patches::knn::{
    brute_force, mean_recall, Budget, DciIndex, DciParams, KnnError, Neighbours, Vectors,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// `n` points around `clusters` Gaussian centres (spread 1.0 per coordinate; centres
/// spread 5.0) in dimension `dim`.
fn clustered(rng: &mut impl Rng, n: usize, dim: usize, clusters: usize) -> Vec<f32> {
    let wide = Normal::new(0.0f32, 5.0).expect("valid sigma");
    let narrow = Normal::new(0.0f32, 1.0).expect("valid sigma");
    let centres: Vec<f32> = (0..clusters * dim).map(|_| wide.sample(rng)).collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = rng.random_range(0..clusters);
        out.extend((0..dim).map(|i| centres[c * dim + i] + narrow.sample(rng)));
    }
    out
}

#[test]
fn dci_recall_and_persistence() -> Result<(), KnnError> {
    let mut rng = ChaCha8Rng::seed_from_u64(2019);
    let dim = 16;
    let all = clustered(&mut rng, 20_200, dim, 40);
    let (data, queries) = all.split_at(20_000 * dim);
    let dv = Vectors::new(data, dim)?;
    let qv = Vectors::new(queries, dim)?;

    // The default: four levels, every level's candidates evaluated exactly.
    let index = DciIndex::new(dv, DciParams::default())?;
    assert_eq!(index.num_levels(), 4);
    let approx = index.search_batch(dv, qv, 10)?;
    let exact = brute_force(dv, qv, 10)?;
    assert!(approx.iter().all(|a: &Neighbours| a.len() == 10));
    let recall = mean_recall(&approx, &exact, false);
    assert!(recall >= 0.9, "recall@10 = {recall}");
    // More neighbours (the field of view grows with k).
    let approx100 = index.search_batch(dv, qv, 100)?;
    let recall100 = mean_recall(&approx100, &brute_force(dv, qv, 100)?, false);
    assert!(recall100 >= 0.9, "recall@100 = {recall100}");

    // One level, the paper's Algorithms 1–2 with its budgets (k0 = 1000, k1 = 50 000).
    let one = DciIndex::new(
        dv,
        DciParams {
            num_composite: 2,
            num_simple: 10,
            num_levels: 1,
            retrieve: Budget::Count(1000),
            visit: Budget::Count(50_000),
            ..DciParams::default()
        },
    )?;
    let r1 = mean_recall(&one.search_batch(dv, qv, 10)?, &exact, false);
    assert!(r1 >= 0.9, "one-level recall@10 = {r1}");
    // Multi-level with the traversal at every level (budgets below the candidate sets).
    let dci = DciIndex::new(
        dv,
        DciParams {
            num_composite: 2,
            num_simple: 5,
            num_levels: 3,
            retrieve: Budget::Fraction(0.5),
            visit: Budget::Fraction(1.0),
            ..DciParams::default()
        },
    )?;
    let r3 = mean_recall(&dci.search_batch(dv, qv, 10)?, &exact, false);
    assert!(r3 >= 0.85, "three-level traversal recall@10 = {r3}");

    let dir = tempfile::tempdir().map_err(|source| KnnError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let path = dir.path().join("index.dci");
    index.save(&path)?;
    let loaded = DciIndex::load(&path)?;
    assert_eq!(loaded, index);
    assert_eq!(loaded.search_batch(dv, qv, 10)?, approx);
    Ok(())
}
