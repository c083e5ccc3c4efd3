//! Tests of Prioritized DCI: exactness with covering budgets and field of view, recall,
//! the k results guarantee, determinism (seeds, thread counts), parameters, files.

use std::path::Path;

use super::super::{brute_force, brute_force_naive, mean_recall};
use super::*;

fn int_data(rng: &mut impl Rng, n: usize, dim: usize) -> Vec<f32> {
    (0..n * dim)
        .map(|_| rng.random_range(0..4) as f32)
        .collect()
}

fn gauss(rng: &mut impl Rng, n: usize, dim: usize) -> Vec<f32> {
    (0..n * dim).map(|_| StandardNormal.sample(rng)).collect()
}

/// `n` points around `c` Gaussian centres (spread 0.3 around centres spread 3).
fn clustered(rng: &mut impl Rng, n: usize, dim: usize, c: usize) -> Vec<f32> {
    let centres = gauss(rng, c, dim);
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let k = rng.random_range(0..c);
        for i in 0..dim {
            let e: f32 = StandardNormal.sample(rng);
            out.push(3.0 * centres[k * dim + i] + 0.3 * e);
        }
    }
    out
}

fn params(l: usize, m: usize, levels: usize) -> DciParams {
    DciParams {
        num_composite: l,
        num_simple: m,
        num_levels: levels,
        field_of_view: 10,
        construction_field_of_view: 3,
        retrieve: Budget::Count(1000),
        visit: Budget::Count(50_000),
        seed: 3,
        directions: Directions::Isotropic,
    }
}

#[test]
fn exact_when_budgets_and_field_of_view_cover_everything() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for &(n, dim, k, l, m, levels) in &[
        (1, 3, 1, 1, 1, 1),
        (1, 3, 1, 1, 1, 3),
        (50, 5, 50, 2, 3, 1),
        (50, 5, 50, 2, 3, 2),
        (700, 8, 10, 3, 4, 1),
        (700, 8, 10, 3, 4, 3),
        (700, 8, 10, 1, 2, 5),
    ] {
        let d = int_data(&mut rng, n, dim);
        let q = int_data(&mut rng, 20, dim);
        let dv = Vectors::new(&d, dim).unwrap();
        let qv = Vectors::new(&q, dim).unwrap();
        let p = DciParams {
            retrieve: Budget::Fraction(1.0),
            visit: Budget::Fraction(1.0),
            field_of_view: n,
            ..params(l, m, levels)
        };
        let idx = DciIndex::new(dv, p).unwrap();
        assert_eq!(idx.num_levels(), levels);
        let a = idx.search_batch(dv, qv, k).unwrap();
        let b = brute_force_naive(dv, qv, k).unwrap();
        assert_eq!(a, b, "n={n} dim={dim} k={k} levels={levels}");
    }
}

#[test]
fn traversal_with_full_visits_finds_the_retrieve_budget() {
    // k0 just below the candidate set forces the traversal: with every entry visitable,
    // each composite index yields exactly k0 candidates, and the result matches brute
    // force for k ≤ k0 whenever the exact neighbours are among them; here with one level
    // and k0 = n − 1 at most one point is missed, so recall@5 ≥ 0.8 on every query.
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let (n, dim) = (200, 6);
    let d = gauss(&mut rng, n, dim);
    let q = gauss(&mut rng, 20, dim);
    let dv = Vectors::new(&d, dim).unwrap();
    let qv = Vectors::new(&q, dim).unwrap();
    let p = DciParams {
        retrieve: Budget::Count(n - 1),
        visit: Budget::Fraction(1.0),
        ..params(2, 3, 1)
    };
    let idx = DciIndex::new(dv, p).unwrap();
    let st = idx.search_batch_with_stats(dv, qv, 5).unwrap();
    let e = brute_force_naive(dv, qv, 5).unwrap();
    for ((a, stats), e) in st.iter().zip(&e) {
        assert!(stats.visits > 0);
        assert!(stats.candidates >= (n - 1) as u64);
        assert!(super::super::recall_at_k(a, e) >= 0.8);
    }
}

#[test]
fn duplicates_indexed_once_and_expanded() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let (n, dim) = (600, 4);
    // Half the rows blank, the rest small integers (more exact duplicates).
    let mut d = int_data(&mut rng, n, dim);
    for i in (0..n).filter(|i| i % 2 == 0) {
        d[i * dim..(i + 1) * dim].fill(0.0);
    }
    let mut q = int_data(&mut rng, 30, dim);
    q[..dim].fill(0.0);
    let dv = Vectors::new(&d, dim).unwrap();
    let qv = Vectors::new(&q, dim).unwrap();
    for levels in [1, 3] {
        let full = DciParams {
            retrieve: Budget::Fraction(1.0),
            visit: Budget::Fraction(1.0),
            field_of_view: n,
            ..params(2, 3, levels)
        };
        let idx = DciIndex::new(dv, full).unwrap();
        assert!(idx.num_distinct() <= 4usize.pow(4)); // 4 values per coordinate
        for k in [1, 10, 299, 600] {
            let a = idx.search_batch(dv, qv, k).unwrap();
            assert_eq!(a, brute_force_naive(dv, qv, k).unwrap(), "k={k}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dups.dci");
        idx.save(&path).unwrap();
        assert_eq!(DciIndex::load(&path).unwrap(), idx);
    }
}

#[test]
fn always_k_results_and_reasonable_recall() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (n, dim) = (4000, 6);
    let d = gauss(&mut rng, n, dim);
    let q = gauss(&mut rng, 50, dim);
    let dv = Vectors::new(&d, dim).unwrap();
    let qv = Vectors::new(&q, dim).unwrap();
    // A tiny visit budget is extended until k candidates exist.
    let p = DciParams {
        retrieve: Budget::Count(1),
        visit: Budget::Count(1),
        ..params(2, 3, 1)
    };
    let idx = DciIndex::new(dv, p).unwrap();
    let r = idx.search_batch(dv, qv, 7).unwrap();
    assert!(r.iter().all(|x| x.len() == 7));
    let mut idx = idx;
    idx.set_budget(Budget::Count(400), Budget::Fraction(0.5))
        .unwrap();
    let a = idx.search_batch(dv, qv, 10).unwrap();
    let e = brute_force(dv, qv, 10).unwrap();
    let rec = mean_recall(&a, &e, false);
    assert!(rec > 0.9, "recall {rec}");
}

#[test]
fn multi_level_gives_k_results_for_any_k() {
    // F = 1 and tiny budgets: levels above 0 keep more nodes than F whenever fewer than
    // k data points lie below them, so every k up to n is answered, and k = n returns
    // everything (hence exactly the brute-force answer).
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let (n, dim) = (900, 5);
    let mut d = int_data(&mut rng, n, dim);
    d[5 * dim..40 * dim].fill(1.0); // a block of duplicates
    let q = int_data(&mut rng, 10, dim);
    let dv = Vectors::new(&d, dim).unwrap();
    let qv = Vectors::new(&q, dim).unwrap();
    for (retrieve, visit) in [
        (Budget::Count(1), Budget::Count(1)),
        (Budget::Fraction(1.0), Budget::Fraction(1.0)),
    ] {
        let p = DciParams {
            field_of_view: 1,
            construction_field_of_view: 1,
            retrieve,
            visit,
            ..params(2, 2, 4)
        };
        let idx = DciIndex::new(dv, p).unwrap();
        for k in [1, 2, 17, 100, 500] {
            let r = idx.search_batch(dv, qv, k).unwrap();
            assert!(r.iter().all(|x| x.len() == k), "k={k}");
            for x in &r {
                assert!(x.ids.iter().all(|&id| (id as usize) < n));
                let mut ids = x.ids.clone();
                ids.sort_unstable();
                ids.dedup();
                assert_eq!(ids.len(), k, "distinct ids, k={k}");
            }
        }
        let all = idx.search_batch(dv, qv, n).unwrap();
        assert_eq!(all, brute_force_naive(dv, qv, n).unwrap());
    }
}

#[test]
fn multi_level_recall_on_clustered_data() {
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    let (n, dim) = (20_000, 12);
    let all = clustered(&mut rng, n + 100, dim, 50);
    let (d, q) = all.split_at(n * dim);
    let dv = Vectors::new(d, dim).unwrap();
    let qv = Vectors::new(q, dim).unwrap();
    let e = brute_force(dv, qv, 10).unwrap();
    let idx = DciIndex::new(dv, DciParams::default()).unwrap();
    assert_eq!(idx.num_levels(), 4);
    assert_eq!(idx.level_sizes(), level_sizes(idx.num_distinct(), 4));
    let st = idx.search_batch_with_stats(dv, qv, 10).unwrap();
    let a: Vec<Neighbours> = st.iter().map(|x| x.0.clone()).collect();
    let rec = mean_recall(&a, &e, false);
    let cands = st.iter().map(|x| x.1.candidates).sum::<u64>() / st.len() as u64;
    assert!(rec >= 0.9, "recall {rec}");
    assert!(cands < n as u64 / 4, "{cands} candidates per query");
    // The traversal at every level (budgets below the candidate sets) also works.
    let p = DciParams {
        retrieve: Budget::Fraction(0.5),
        visit: Budget::Fraction(1.0),
        ..params(2, 5, 3)
    };
    let idx = DciIndex::new(dv, p).unwrap();
    let st = idx.search_batch_with_stats(dv, qv, 10).unwrap();
    let a: Vec<Neighbours> = st.iter().map(|x| x.0.clone()).collect();
    assert!(st.iter().all(|x| x.1.visits > 0));
    let rec = mean_recall(&a, &e, false);
    assert!(rec >= 0.85, "traversal recall {rec}");
}

#[test]
fn level_sizes_rule_and_field_of_view_rule() {
    assert_eq!(level_sizes(1_000_000, 3), vec![1_000_000, 10_000, 100]);
    assert_eq!(level_sizes(10_000, 1), vec![10_000]);
    assert_eq!(level_sizes(1, 4), vec![1, 1, 1, 1]);
    let s = level_sizes(845_955, 4);
    assert_eq!(s, vec![845_955, 27_894, 920, 30]);
    assert!(s.windows(2).all(|w| w[1] <= w[0]));
    assert_eq!(field_of_view_for(20, 1), 20);
    assert_eq!(field_of_view_for(20, 10), 20);
    assert_eq!(field_of_view_for(20, 40), 40);
    assert_eq!(field_of_view_for(20, 1000), 200);
}

#[test]
fn params_validation() {
    let ok = DciParams::default();
    assert!(ok.check(4, 10).is_ok());
    let bad = |p: DciParams, dim, n, name: &str| match p.check(dim, n) {
        Err(KnnError::BadParameter { name: got, .. }) => assert_eq!(got, name),
        other => panic!("expected bad {name}, got {other:?}"),
    };
    bad(ok, 0, 10, "dim");
    bad(ok, 4, 0, "n (number of points)");
    for (p, name) in [
        (
            DciParams {
                num_composite: 0,
                ..ok
            },
            "num_composite",
        ),
        (
            DciParams {
                num_simple: 0,
                ..ok
            },
            "num_simple",
        ),
        (
            DciParams {
                num_simple: 256,
                ..ok
            },
            "num_simple",
        ),
        (
            DciParams {
                num_levels: 0,
                ..ok
            },
            "num_levels",
        ),
        (
            DciParams {
                num_levels: 17,
                ..ok
            },
            "num_levels",
        ),
        (
            DciParams {
                field_of_view: 0,
                ..ok
            },
            "field_of_view",
        ),
        (
            DciParams {
                construction_field_of_view: 0,
                ..ok
            },
            "construction_field_of_view",
        ),
        (
            DciParams {
                retrieve: Budget::Count(0),
                ..ok
            },
            "retrieve",
        ),
        (
            DciParams {
                retrieve: Budget::Fraction(0.0),
                ..ok
            },
            "retrieve",
        ),
        (
            DciParams {
                visit: Budget::Fraction(1.5),
                ..ok
            },
            "visit",
        ),
        (
            DciParams {
                visit: Budget::Fraction(f64::NAN),
                ..ok
            },
            "visit",
        ),
    ] {
        bad(p, 4, 10, name);
    }
    let v = DciParams {
        num_simple: 4,
        retrieve: Budget::Fraction(0.25),
        visit: Budget::Fraction(0.5),
        ..ok
    }
    .check(3, 10)
    .unwrap();
    assert_eq!((v.k0(), v.k1()), (3, 20));
    let v = DciParams {
        retrieve: Budget::Count(50),
        ..ok
    }
    .check(3, 10)
    .unwrap();
    assert_eq!(v.k0(), 10);
    // Messages name the parameter and the range.
    let e = DciParams {
        num_simple: 0,
        ..ok
    }
    .check(3, 10)
    .unwrap_err();
    assert!(e.to_string().contains("num_simple") && e.to_string().contains("1..=255"));
    let e = DciParams {
        field_of_view: 0,
        ..ok
    }
    .check(3, 10)
    .unwrap_err();
    assert!(e.to_string().contains("`field_of_view`"), "{e}");
    // Setters refuse bad values and leave the index unchanged.
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let d = gauss(&mut rng, 40, 3);
    let dv = Vectors::new(&d, 3).unwrap();
    let mut idx = DciIndex::new(dv, ok).unwrap();
    let before = idx.clone();
    assert!(idx.set_field_of_view(0).is_err());
    assert!(idx.set_budget(Budget::Count(0), Budget::Count(1)).is_err());
    assert_eq!(idx, before);
    idx.set_field_of_view(3).unwrap();
    assert_eq!(idx.params().params().field_of_view, 3);
}

#[test]
fn query_input_errors() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let d = gauss(&mut rng, 30, 4);
    let dv = Vectors::new(&d, 4).unwrap();
    let idx = DciIndex::new(dv, DciParams::default()).unwrap();
    assert!(matches!(
        idx.search(dv, &[0.0; 3], 1),
        Err(KnnError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        idx.search(dv, &[0.0; 4], 31),
        Err(KnnError::KTooLarge { .. })
    ));
    let short = Vectors::new(&d[..40], 4).unwrap();
    assert!(matches!(
        idx.search(short, &[0.0; 4], 1),
        Err(KnnError::DimensionMismatch { .. })
    ));
    assert!(idx.search(dv, &[0.0; 4], 0).unwrap().is_empty());
    assert!(matches!(
        idx.search(dv, &[f32::NAN; 4], 2),
        Err(KnnError::BadParameter { .. })
    ));
    let valid = DciParams::default().check(4, 29).unwrap();
    assert!(DciIndex::build(dv, valid).is_err());
}

#[test]
fn deterministic_per_seed_and_across_thread_counts() {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let d = clustered(&mut rng, 6000, 5, 20);
    let q = gauss(&mut rng, 40, 5);
    let dv = Vectors::new(&d, 5).unwrap();
    let qv = Vectors::new(&q, 5).unwrap();
    for p in [
        DciParams {
            seed: 42,
            ..DciParams::default()
        },
        DciParams {
            seed: 42,
            retrieve: Budget::Fraction(0.3),
            visit: Budget::Fraction(0.5),
            ..params(2, 4, 3)
        },
    ] {
        let in_pool = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let idx = DciIndex::new(dv, p).unwrap();
                let r = idx.search_batch_with_stats(dv, qv, 7).unwrap();
                (idx, r)
            })
        };
        let (a, ra) = in_pool(1);
        let (b, rb) = in_pool(2);
        assert_eq!(a, b, "index depends on the thread count");
        assert_eq!(ra, rb, "results depend on the thread count");
        let (c, _) = in_pool(3);
        assert_eq!(a, c);
        let other = DciIndex::new(dv, DciParams { seed: 43, ..p }).unwrap();
        assert_ne!(a.directions, other.directions);
        assert_ne!(a.levels[1].members, other.levels[1].members);
    }
    let mut r1 = ChaCha8Rng::seed_from_u64(5);
    let mut r2 = ChaCha8Rng::seed_from_u64(5);
    assert_eq!(
        random_directions(3, 7, &mut r1),
        random_directions(3, 7, &mut r2)
    );
}

/// Writes `bytes` to `bad.dci` in `dir` and loads it.
fn load_bytes(dir: &Path, bytes: &[u8]) -> Result<DciIndex, KnnError> {
    let p = dir.join("bad.dci");
    std::fs::write(&p, bytes).unwrap();
    DciIndex::load(&p)
}

/// The corruption reason of loading `bytes` (panics unless `CorruptIndex`).
fn corrupt(dir: &Path, bytes: &[u8]) -> String {
    match load_bytes(dir, bytes) {
        Err(KnnError::CorruptIndex { path, reason }) => {
            assert_eq!(path, dir.join("bad.dci"));
            reason
        }
        other => panic!("expected corrupt, got {other:?}"),
    }
}

#[test]
fn save_load_round_trip_and_corruption() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (n, dim) = (300, 6);
    let mut d = gauss(&mut rng, n, dim);
    d.copy_within(..dim, dim); // one duplicate: 1 ≡ 0
    let q = gauss(&mut rng, 10, dim);
    let dv = Vectors::new(&d, dim).unwrap();
    let qv = Vectors::new(&q, dim).unwrap();
    let p = DciParams {
        retrieve: Budget::Fraction(0.3),
        visit: Budget::Count(500),
        ..params(3, 4, 3)
    };
    let idx = DciIndex::new(dv, p).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.dci");
    idx.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let (lm, nu) = (12, n - 1);
    let sizes = idx.level_sizes();
    assert_eq!(sizes, level_sizes(nu, 3));
    let groups = [sizes[1], sizes[2], 1];
    let levels_words: usize = (0..3)
        .map(|l| (1 + 2 * lm) * sizes[l] + groups[l] + 1 + if l > 0 { dim * sizes[l] } else { 0 })
        .sum();
    let expected = 128 + 4 * (3 + lm * dim + levels_words + 2 + 1 + 1);
    assert_eq!(bytes.len(), expected);
    assert_eq!(&bytes[..8], b"FCKNNDCI");
    // No temporary file left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let back = DciIndex::load(&path).unwrap();
    assert_eq!(back, idx);
    assert_eq!(
        back.search_batch(dv, qv, 5).unwrap(),
        idx.search_batch(dv, qv, 5).unwrap()
    );

    let dir = dir.path();
    corrupt(dir, &bytes[..10]);
    corrupt(dir, &bytes[..100]);
    corrupt(dir, &bytes[..bytes.len() - 1]);
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(corrupt(dir, &longer).contains("length"));
    let mut b = bytes.clone();
    b[0] = b'X';
    assert!(corrupt(dir, &b).contains("magic"));
    let mut b = bytes.clone();
    b[8] = 9;
    assert!(corrupt(dir, &b).contains("version"));
    for old in [1, 2] {
        let mut b = bytes.clone();
        b[8] = old;
        assert!(corrupt(dir, &b).contains("rebuild"));
    }
    let mut b = bytes.clone();
    b[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    corrupt(dir, &b);
    let mut b = bytes.clone();
    b[28..32].copy_from_slice(&0u32.to_le_bytes()); // m = 0
    assert!(corrupt(dir, &b).contains("num_simple"));
    let mut b = bytes.clone();
    b[40] = 7;
    assert!(corrupt(dir, &b).contains("budget"));
    let mut b = bytes.clone();
    b[88..92].copy_from_slice(&0u32.to_le_bytes());
    assert!(corrupt(dir, &b).contains("num_levels"));
    let mut b = bytes.clone();
    b[88..92].copy_from_slice(&2u32.to_le_bytes());
    corrupt(dir, &b);
    let mut b = bytes.clone();
    b[92..96].copy_from_slice(&0u32.to_le_bytes());
    assert!(corrupt(dir, &b).contains("field_of_view"));
    let mut b = bytes.clone();
    b[120] = 1;
    assert!(corrupt(dir, &b).contains("reserved"));
    // The fingerprint names the data: the index checks out against its own data only.
    assert_eq!(back.fingerprint(), dv.fingerprint());
    back.check_built_over(&dv).unwrap();
    let mut other = d.clone();
    other[7] += 1.0;
    let ov = Vectors::new(&other, dim).unwrap();
    assert!(matches!(
        back.check_built_over(&ov),
        Err(KnnError::OtherData { .. })
    ));
    // Level sizes: level 1 larger than level 0.
    let mut b = bytes.clone();
    b[132..136].copy_from_slice(&(nu as u32 + 1).to_le_bytes());
    assert!(corrupt(dir, &b).contains("level sizes"));
    // Offsets inside level 0's tables.
    let l0 = 128 + 4 * (3 + lm * dim);
    let l0_offsets = l0 + 4 * nu;
    let l0_keys = l0_offsets + 4 * (groups[0] + 1);
    let l0_local = l0_keys + 4 * lm * nu;
    let mut b = bytes.clone();
    b[l0..l0 + 4].copy_from_slice(&(n as u32).to_le_bytes());
    assert!(corrupt(dir, &b).contains("out of range"));
    let mut b = bytes.clone();
    b[l0_offsets + 4..l0_offsets + 8].copy_from_slice(&0u32.to_le_bytes()); // empty group
    assert!(corrupt(dir, &b).contains("offsets"));
    let mut b = bytes.clone();
    b[l0_keys..l0_keys + 4].copy_from_slice(&1e30f32.to_le_bytes());
    assert!(corrupt(dir, &b).contains("sorted"));
    let mut b = bytes.clone();
    b[l0_local..l0_local + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(corrupt(dir, &b).contains("positions"));
    // The duplicate of 0 listed as 0 itself.
    let last = bytes.len() - 4;
    let mut b = bytes.clone();
    b[last..].copy_from_slice(&0u32.to_le_bytes()); // duplicate of 0 listed as 0
    corrupt(dir, &b);
    assert!(matches!(
        DciIndex::load(dir.join("missing.dci")),
        Err(KnnError::Io { .. })
    ));
    assert!(matches!(
        idx.save(dir.join("a.dci").join("x.dci")), // a folder that is a file
        Err(KnnError::Io { .. })
    ));
}

#[test]
fn random_corruptions_never_panic() {
    // Fuzz-style: every truncation length on a grid, and many random byte changes, must
    // give `CorruptIndex` or an index that answers queries (a change that keeps every
    // table consistent, e.g. in a projection value) — never a panic.
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let (n, dim) = (120, 3);
    let mut d = int_data(&mut rng, n, dim);
    d[..3 * dim].fill(0.0); // duplicates
    let q = gauss(&mut rng, 4, dim);
    let dv = Vectors::new(&d, dim).unwrap();
    let qv = Vectors::new(&q, dim).unwrap();
    let idx = DciIndex::new(
        dv,
        DciParams {
            retrieve: Budget::Count(5),
            ..params(2, 2, 3)
        },
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.dci");
    idx.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let check = |b: &[u8]| match load_bytes(dir.path(), b) {
        Ok(ix) => {
            assert_eq!(ix.search_batch(dv, qv, 4).unwrap().len(), 4);
        }
        Err(KnnError::CorruptIndex { .. }) => {}
        Err(e) => panic!("unexpected error {e}"),
    };
    for len in (0..bytes.len()).step_by(7) {
        check(&bytes[..len]);
    }
    for _ in 0..600 {
        let mut b = bytes.clone();
        for _ in 0..rng.random_range(1..4) {
            let i = rng.random_range(0..b.len());
            b[i] = match rng.random_range(0..3) {
                0 => rng.random(),
                1 => b[i] ^ (1 << rng.random_range(0..8)),
                _ => 0xff,
            };
        }
        check(&b);
    }
}

#[test]
fn budgets_parse_and_print() {
    assert_eq!("all".parse::<Budget>().unwrap(), Budget::Fraction(1.0));
    assert_eq!("1000".parse::<Budget>().unwrap(), Budget::Count(1000));
    assert_eq!("0.05".parse::<Budget>().unwrap(), Budget::Fraction(0.05));
    for bad in ["", "ALL", "-3", "1e-3", "0.5.1", "x"] {
        let err = bad.parse::<Budget>().unwrap_err().to_string();
        assert!(
            err.contains("budget") && err.contains("a count or a fraction"),
            "{bad}: {err}"
        );
    }
    for text in ["all", "1000", "0.05"] {
        assert_eq!(text.parse::<Budget>().unwrap().to_string(), text);
    }
    assert_eq!(Budget::Fraction(1.5).to_string(), "all");
}
