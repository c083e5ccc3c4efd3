//! End-to-end k-NN: Prioritized DCI on clustered random data (recall@10 against brute
//! force, `recall = |approx ∩ exact| / k`) and save/load giving identical results.

use fcollide::patches::knn::{
    brute_force, mean_recall, DciIndex, DciParams, KnnError, Neighbours, Vectors,
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

    let index = DciIndex::new(dv, DciParams::default())?;
    let approx = index.search_batch(dv, qv, 10)?;
    let exact = brute_force(dv, qv, 10)?;
    assert!(approx.iter().all(|a: &Neighbours| a.len() == 10));
    let recall = mean_recall(&approx, &exact, false);
    assert!(recall >= 0.9, "recall@10 = {recall}");

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
