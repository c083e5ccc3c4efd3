//! Patch databases end to end: built from the embedded digits, memory-mapped, and searched
//! by the patch space exactly as the in-memory patches are; DCI indexes over a database.
use fcollide::data::{embedded, mnist_split};
use fcollide::patches::db::{
    build, built_from, BuildParams, DatasetImages, ImageSource, PatchDb, PatchDbError, Projection,
};
use fcollide::patches::extract::extract;
use fcollide::patches::knn::{Budget, DciParams};
use fcollide::patches::space::{candidates, grid};
use fcollide::progress::Silent;

const SHAPE: [usize; 3] = [1, 28, 28];

/// The first `n` training digits of split 0 written to a database in `dir`.
fn digits_db(dir: &std::path::Path, n: usize, projection: Option<&Projection>) -> PatchDb {
    let src = DatasetImages::embedded_train(0).unwrap();
    let params = BuildParams {
        size: 7,
        stride: 1,
        limit_images: Some(n),
        description: None,
    };
    let path = dir.join(format!("digits{}.fcpd", projection.map_or(0, |p| p.dim())));
    build(&src, &params, projection, &path, &Silent).unwrap();
    PatchDb::open(&path).unwrap()
}

#[test]
fn embedded_train_source_is_the_split_reproduce_uses() {
    let src = DatasetImages::embedded_train(0).unwrap();
    let (train, _) = mnist_split(0).unwrap();
    assert_eq!(src.dataset().images, train.images);
    assert_eq!(src.len(), 8_000);
    // Names trace each image back to the embedded set.
    let all = embedded::mnist().unwrap();
    for i in [0, 1234, 7999] {
        let name = src.name(i);
        let j: usize = name
            .strip_prefix("mnist-embedded:")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(all.image(j), train.image(i), "{name}");
    }
    // Another split seed, other images.
    let other = DatasetImages::embedded_train(1).unwrap();
    assert!((0..8_000).any(|i| other.name(i) != src.name(i)));
}

#[test]
fn mapped_database_gives_the_candidates_of_the_in_memory_patches() {
    let dir = tempfile::tempdir().unwrap();
    let db = digits_db(dir.path(), 40, None);
    let (train, test) = mnist_split(0).unwrap();
    let mem = extract(&train.images[..40 * 784], SHAPE, 7, 1);
    assert_eq!(db.len(), 40 * 484);
    assert_eq!(db.rows(), &mem.data[..]);
    assert_eq!(db.sources(), &mem.sources[..]);
    for i in [0, 17, 1999] {
        let a = candidates(test.image(i), SHAPE, &mem, 6).unwrap();
        let b = candidates(test.image(i), SHAPE, db.view(), 6).unwrap();
        assert_eq!((a.shape, a.k), (b.shape, b.k));
        assert_eq!(a.cand, b.cand, "test image {i}");
    }
    // A wrong channel count is an error, not a panic.
    let rgb = vec![0.5f32; 3 * 28 * 28];
    assert!(candidates(&rgb, [3, 28, 28], db.view(), 6).is_err());
}

#[test]
fn dci_index_over_a_database_and_projected_databases() {
    let dir = tempfile::tempdir().unwrap();
    let db = digits_db(dir.path(), 30, None);
    let (_, test) = mnist_split(0).unwrap();
    // An index whose budgets and field of view cover everything is exact: same
    // distances as brute force.
    let params = DciParams {
        retrieve: Budget::Fraction(1.0),
        visit: Budget::Fraction(1.0),
        field_of_view: 1 << 20,
        ..DciParams::default()
    };
    let index_path = dir.path().join("digits.dci");
    db.build_index(params).unwrap().save(&index_path).unwrap();
    let index = db.load_index(&index_path).unwrap();
    let corners = grid(28, 28, 7);
    let exact = db
        .view()
        .nearest_windows(test.image(3), SHAPE, &corners, 5)
        .unwrap();
    let dci = db
        .view()
        .with_index(&index)
        .unwrap()
        .nearest_windows(test.image(3), SHAPE, &corners, 5)
        .unwrap();
    for (e, a) in exact.iter().zip(&dci) {
        for (x, y) in e.dists.iter().zip(&a.dists) {
            assert!((x - y).abs() <= 1e-5 * x.max(1.0), "{e:?} vs {a:?}");
        }
    }
    let comp = candidates(
        test.image(3),
        SHAPE,
        db.view().with_index(&index).unwrap(),
        5,
    );
    assert_eq!(comp.unwrap().cand.len(), 784 * 5);

    // An index over another database is refused, naming the index file.
    let other = digits_db(
        dir.path(),
        31,
        Some(&Projection::seeded(12, 49, 1).unwrap()),
    );
    let e = other.load_index(&index_path).unwrap_err();
    assert!(matches!(e, PatchDbError::Incompatible { .. }), "{e}");
    assert!(e.to_string().contains("digits.dci"), "{e}");

    // Projected: the search runs on 12 dimensions, the candidates are raw pixels. A
    // training digit's own windows are in the database, at projected distance 0.
    let (train, _) = mnist_split(0).unwrap();
    let img = train.image(30);
    let comp = candidates(img, SHAPE, other.view(), 3).unwrap();
    for (p, &v) in img.iter().enumerate() {
        assert_eq!(comp.cand[p * 3], v, "pixel {p}");
    }
    assert_eq!(other.vectors().dim(), 12);
    assert!(other.check_compatible(7, 1).is_ok());
    assert!(other.check_compatible(7, 3).is_err());
}

/// `built_from` says a database matches only the source, patch size, stride, number of
/// images and projection it was built with, and names the first difference otherwise.
#[test]
fn built_from_names_what_differs_from_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let src = DatasetImages::embedded_train(0).unwrap();
    let params = BuildParams {
        size: 7,
        stride: 3,
        limit_images: Some(20),
        description: None,
    };
    let path = dir.path().join("d.fcpd");
    build(&src, &params, None, &path, &Silent).unwrap();
    let db = PatchDb::open(&path).unwrap();
    assert_eq!(built_from(&db, &src, &params, None), None);
    let why = |p: &BuildParams, s: &dyn ImageSource, proj: Option<&Projection>| {
        built_from(&db, s, p, proj).expect("a difference")
    };
    let size = BuildParams {
        size: 5,
        ..params.clone()
    };
    assert_eq!(why(&size, &src, None), "patch size 7 in the file, 5 now");
    let stride = BuildParams {
        stride: 1,
        ..params.clone()
    };
    assert_eq!(why(&stride, &src, None), "stride 3 in the file, 1 now");
    let more = BuildParams {
        limit_images: Some(21),
        ..params.clone()
    };
    assert_eq!(
        why(&more, &src, None),
        "number of images 20 in the file, 21 now"
    );
    // Another split seed: the same count and shape, other digits.
    let other = DatasetImages::embedded_train(3).unwrap();
    let w = why(&params, &other, None);
    assert!(w.starts_with("images \"") && w.contains("seed 3"), "{w}");
    // A projection the file was not built with.
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
    let proj = Projection::gaussian(8, 49, &mut rng).unwrap();
    assert!(why(&params, &src, Some(&proj)).starts_with("projection None in the file"));
}
