use super::*;
use crate::data::{idx, Dataset, IdxImages};
use crate::patches::extract::{extract, window};
use crate::progress::Silent;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// `n` images of shape `[c, h, w]` with distinct, deterministic pixel values in `[0, 1]`.
fn images(n: usize, shape: [usize; 3]) -> Dataset {
    let d: usize = shape.iter().product();
    let pixels = (0..n * d)
        .map(|x| ((x * 7919 + 13) % 1009) as f32 / 1008.0)
        .collect();
    Dataset::new(pixels, vec![0; n], shape, "gen").unwrap()
}

fn params(size: usize, stride: usize) -> BuildParams {
    BuildParams {
        size,
        stride,
        ..BuildParams::default()
    }
}

#[test]
fn round_trip_gives_the_patches_extract_gives() {
    let dir = tempfile::tempdir().unwrap();
    for shape in [[1, 9, 8], [3, 6, 7]] {
        let ds = images(3, shape);
        let path = dir.path().join(format!("c{}.fcpd", shape[0]));
        let src = DatasetImages::new(ds.clone());
        let written = build(&src, &params(3, 2), None, &path, &Silent).unwrap();
        let db = PatchDb::open(&path).unwrap();
        assert_eq!(db.header(), &written);
        let mem = extract(&ds.images, shape, 3, 2);
        assert_eq!(db.len(), mem.len());
        assert_eq!(db.rows(), &mem.data[..]);
        assert_eq!(db.raw(), &mem.data[..]);
        assert_eq!(db.sources(), &mem.sources[..]);
        assert_eq!(db.patch(5), mem.patch(5));
        assert_eq!(db.vectors().dim(), shape[0] * 9);
        assert!(db.projection().is_none());
        let h = db.header();
        assert_eq!(
            (h.size, h.stride, h.channels, h.n_images),
            (3, 2, shape[0], 3)
        );
        assert_eq!(h.image_shape, shape);
        assert_eq!(db.image_name(2), Some("gen:2"));
        assert_eq!(db.image_name(3), None);
        assert_eq!(db.file_len(), std::fs::metadata(&path).unwrap().len());
        assert!(db.summary().contains("gen (3 images"), "{}", db.summary());
    }
    // Only the final file remains: no temporary file is left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn projection_is_seeded_and_keeps_the_raw_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let ds = images(4, [3, 8, 8]);
    let src = DatasetImages::new(ds.clone());
    let raw_dim = params(3, 1).raw_dim(&src);
    assert_eq!(raw_dim, 27);
    let mut paths = Vec::new();
    for (name, seed) in [("a", 7), ("b", 7), ("c", 8)] {
        let p = Projection::seeded(5, raw_dim, seed).unwrap();
        let path = dir.path().join(name);
        build(&src, &params(3, 1), Some(&p), &path, &Silent).unwrap();
        paths.push(path);
    }
    let bytes: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert_eq!(bytes[0], bytes[1], "same seed, same file");
    let (a, c) = (
        PatchDb::open(&paths[0]).unwrap(),
        PatchDb::open(&paths[2]).unwrap(),
    );
    assert_ne!(a.rows(), c.rows(), "another seed, other rows");
    assert_eq!(
        a.header().projection,
        Some(ProjectionInfo {
            dim: 5,
            seed: Some(7)
        })
    );
    // The raw patches are stored unchanged; the rows are P·raw with the stored P.
    let mem = extract(&ds.images, [3, 8, 8], 3, 1);
    assert_eq!(a.raw(), &mem.data[..]);
    assert_eq!(a.sources(), &mem.sources[..]);
    let p = Projection::seeded(5, raw_dim, 7).unwrap();
    assert_eq!(a.projection(), Some(p.matrix()));
    assert_eq!(a.rows(), &p.apply(&mem.data)[..]);
    assert_eq!((a.vectors().dim(), a.view().raw_dim()), (5, 27));
    // A generator passed by reference gives the same matrix as the seed.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    assert_eq!(
        Projection::gaussian(5, raw_dim, &mut rng).unwrap().matrix(),
        p.matrix()
    );
    // Entries are N(0, 1/dim): mean square near 1/5 over 135 draws.
    let ms = p.matrix().iter().map(|x| x * x).sum::<f32>() / 135.0;
    assert!((0.1..0.3).contains(&ms), "{ms}");
    assert!(Projection::seeded(0, 27, 1).is_err());
    assert!(Projection::seeded(28, 27, 1).is_err());
    // A projection built for another patch size is refused.
    let wrong = Projection::seeded(5, 12, 1).unwrap();
    let e = build(
        &src,
        &params(3, 1),
        Some(&wrong),
        &dir.path().join("x"),
        &Silent,
    );
    assert!(matches!(e, Err(PatchDbError::Params { .. })), "{e:?}");
}

/// A projected database (every section present) and its bytes.
fn projected_db(dir: &Path) -> (PathBuf, Vec<u8>, Layout) {
    let src = DatasetImages::new(images(3, [1, 7, 6]));
    let p = Projection::seeded(4, 9, 3).unwrap();
    let path = dir.join("orig.fcpd");
    build(&src, &params(3, 1), Some(&p), &path, &Silent).unwrap();
    let db = PatchDb::open(&path).unwrap();
    (path.clone(), std::fs::read(&path).unwrap(), db.layout)
}

fn open_bytes(dir: &Path, bytes: &[u8]) -> Result<PatchDb, PatchDbError> {
    let path = dir.join("bad.fcpd");
    std::fs::write(&path, bytes).unwrap();
    PatchDb::open(&path)
}

#[test]
fn truncation_anywhere_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes, layout) = projected_db(dir.path());
    let mut cuts = vec![0, 1, 7, 8, 12, 127, 128, bytes.len() - 1];
    for (_, start) in layout.sections(true) {
        cuts.extend([start as usize - 1, start as usize, start as usize + 1]);
    }
    for cut in cuts.into_iter().filter(|&c| c < bytes.len()) {
        let e = open_bytes(dir.path(), &bytes[..cut]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("bad.fcpd"), "cut {cut}: {msg}");
        match cut {
            0 => assert!(matches!(e, PatchDbError::BadMagic { .. }), "{msg}"),
            _ => assert!(
                matches!(&e, PatchDbError::Length { found, .. } if *found == cut as u64),
                "cut {cut}: {msg}"
            ),
        }
    }
    // The section a cut falls into is named.
    let e = open_bytes(dir.path(), &bytes[..layout.sources as usize + 3]).unwrap_err();
    assert!(e.to_string().contains("sources section"), "{e}");
    let mut long = bytes.clone();
    long.push(0);
    let e = open_bytes(dir.path(), &long).unwrap_err();
    assert!(e.to_string().contains("trailing"), "{e}");
    assert!(PatchDb::open(dir.path().join("missing.fcpd"))
        .unwrap_err()
        .to_string()
        .contains("missing.fcpd"));
}

#[test]
fn corrupt_headers_and_sections_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes, layout) = projected_db(dir.path());
    let put = |b: &mut Vec<u8>, at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
    type Check = fn(&PatchDbError) -> bool;
    let corrupt: Check = |e| matches!(e, PatchDbError::Corrupt { .. });
    let length: Check = |e| matches!(e, PatchDbError::Length { .. });
    let nonfinite: Check = |e| matches!(e, PatchDbError::NonFinite { .. });
    let rows = layout.rows as usize;
    let raw = layout.raw as usize;
    let proj = layout.projection as usize;
    let src = layout.sources as usize;
    let names = layout.names as usize;
    let cases: Vec<(&str, usize, Vec<u8>, Check, &str)> = vec![
        (
            "magic",
            0,
            b"FCPATCDX".to_vec(),
            |e| matches!(e, PatchDbError::BadMagic { .. }),
            "FCPATCDB",
        ),
        (
            "version",
            8,
            2u32.to_le_bytes().to_vec(),
            |e| matches!(e, PatchDbError::Version { found: 2, .. }),
            "version 2",
        ),
        ("flags", 12, 7u32.to_le_bytes().to_vec(), corrupt, "flags"),
        ("n", 16, 61u64.to_le_bytes().to_vec(), corrupt, "n = 61"),
        (
            "dim",
            24,
            10u32.to_le_bytes().to_vec(),
            corrupt,
            "expected 1..=9",
        ),
        (
            "channels",
            28,
            0u32.to_le_bytes().to_vec(),
            corrupt,
            "at least 1",
        ),
        (
            "size",
            32,
            8u32.to_le_bytes().to_vec(),
            corrupt,
            "patch size",
        ),
        (
            "stride",
            36,
            2u32.to_le_bytes().to_vec(),
            corrupt,
            "stride 2",
        ),
        (
            "height",
            40,
            70_000u32.to_le_bytes().to_vec(),
            corrupt,
            "65535",
        ),
        (
            "images",
            48,
            0u64.to_le_bytes().to_vec(),
            corrupt,
            "0 source images",
        ),
        (
            "description length",
            64,
            1000u64.to_le_bytes().to_vec(),
            length,
            "implies",
        ),
        (
            "names length",
            72,
            3u64.to_le_bytes().to_vec(),
            length,
            "implies",
        ),
        ("reserved", 100, vec![1], corrupt, "reserved"),
        (
            "description utf-8",
            128,
            vec![0xff],
            corrupt,
            "description is not UTF-8",
        ),
        (
            "NaN row",
            rows + 8,
            f32::NAN.to_le_bytes().to_vec(),
            nonfinite,
            "search vectors value 2",
        ),
        (
            "infinite raw pixel",
            raw,
            f32::INFINITY.to_le_bytes().to_vec(),
            nonfinite,
            "raw patches value 0",
        ),
        (
            "NaN in P",
            proj + 4,
            f32::NAN.to_le_bytes().to_vec(),
            nonfinite,
            "projection matrix value 1",
        ),
        (
            "source image",
            src + 8,
            3u32.to_le_bytes().to_vec(),
            corrupt,
            "source of patch 1",
        ),
        (
            "source row",
            src + 4,
            5u16.to_le_bytes().to_vec(),
            corrupt,
            "row 5",
        ),
        (
            "name offset",
            layout.name_offsets as usize + 8,
            999u64.to_le_bytes().to_vec(),
            corrupt,
            "name offset 1",
        ),
        ("name utf-8", names, vec![0xc3], corrupt, "name of image 0"),
    ];
    for (what, at, value, check, needle) in cases {
        let mut b = bytes.clone();
        put(&mut b, at, &value);
        let e = open_bytes(dir.path(), &b).unwrap_err();
        let msg = e.to_string();
        assert!(check(&e), "{what}: {msg}");
        assert!(
            msg.contains("bad.fcpd") && msg.contains(needle),
            "{what}: {msg}"
        );
    }
    // Flipping any header byte but the seed's is detected; nothing panics.
    for i in 0..HEADER_LEN {
        let mut b = bytes.clone();
        b[i] ^= 0xff;
        let r = open_bytes(dir.path(), &b);
        assert_eq!(r.is_ok(), (56..64).contains(&i), "byte {i}: {r:?}");
    }
    // A seed stored without its flag.
    let mut b = bytes.clone();
    put(&mut b, 12, &1u32.to_le_bytes());
    assert!(open_bytes(dir.path(), &b)
        .unwrap_err()
        .to_string()
        .contains("seed"));
    // Not a database at all, and an empty file.
    assert!(matches!(
        open_bytes(dir.path(), b"hello world, this is text").unwrap_err(),
        PatchDbError::BadMagic { .. }
    ));
    assert!(matches!(
        open_bytes(dir.path(), b"").unwrap_err(),
        PatchDbError::BadMagic { .. }
    ));
}

#[test]
fn folders_and_idx_files_stream_into_databases() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("imgs");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    // Two RGB images of other sizes and a grey one, plus a file that is not an image.
    for (name, w, h) in [
        ("b.png", 12u32, 10u32),
        ("sub/a.PNG", 8, 8),
        ("c.jpg", 9, 16),
    ] {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 20) as u8, (y * 15) as u8, ((x + y) * 7) as u8])
        });
        img.save(root.join(name)).unwrap();
    }
    std::fs::write(root.join("notes.txt"), "not an image").unwrap();
    let folder = ImageFolder::open(&root, 8).unwrap();
    assert_eq!(folder.len(), 3);
    assert_eq!(folder.shape(), [3, 8, 8]);
    let names: Vec<String> = (0..3).map(|i| folder.name(i)).collect();
    assert_eq!(names, ["b.png", "c.jpg", "sub/a.PNG"]);
    let out = dir.path().join("folder.fcpd");
    let h = build(&folder, &params(4, 4), None, &out, &Silent).unwrap();
    assert_eq!((h.n, h.n_images, h.channels), (12, 3, 3));
    let db = PatchDb::open(&out).unwrap();
    let img = crate::data::image_file::read_image(&root.join("c.jpg"), [3, 8, 8]).unwrap();
    let k = db
        .sources()
        .iter()
        .position(|s| (s.image, s.row, s.col) == (1, 4, 0))
        .unwrap();
    assert_eq!(db.patch(k), &window(&img, [3, 8, 8], (4, 0), 4)[..]);
    assert_eq!(db.image_name(2), Some("sub/a.PNG"));
    // --limit-images.
    let lim = BuildParams {
        limit_images: Some(2),
        description: Some("two".into()),
        ..params(4, 4)
    };
    let h = build(&folder, &lim, None, &out, &Silent).unwrap();
    assert_eq!((h.n, h.description.as_str()), (8, "two"));
    // An empty folder, and one with an image that does not decode.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(ImageFolder::open(&empty, 8)
        .unwrap_err()
        .to_string()
        .contains("empty"));
    std::fs::write(root.join("d.png"), b"not a png").unwrap();
    let folder = ImageFolder::open(&root, 8).unwrap();
    let e = build(
        &folder,
        &params(4, 4),
        None,
        &dir.path().join("x.fcpd"),
        &Silent,
    );
    assert!(e.unwrap_err().to_string().contains("d.png"));
    assert!(!dir.path().join("x.fcpd").exists());

    // An IDX file (gzip), directly and as an MNIST-layout folder.
    let pixels: Vec<u8> = (0..2 * 6 * 5).map(|x| (x * 4) as u8).collect();
    let idx_dir = dir.path().join("mnist");
    std::fs::create_dir(&idx_dir).unwrap();
    let file = idx_dir.join("train-images-idx3-ubyte.gz");
    idx::write_images(
        &file,
        &IdxImages::new(2, 6, 5, pixels.clone()).unwrap(),
        true,
    )
    .unwrap();
    for spec in [&file, &idx_dir] {
        let src = open_dataset(spec.to_str().unwrap(), &SourceOptions::default()).unwrap();
        assert_eq!((src.len(), src.shape()), (2, [1, 6, 5]));
        let out = dir.path().join("idx.fcpd");
        build(src.as_ref(), &params(5, 1), None, &out, &Silent).unwrap();
        let db = PatchDb::open(&out).unwrap();
        let f: Vec<f32> = pixels.iter().map(|&b| b as f32 / 255.0).collect();
        assert_eq!(db.rows(), &extract(&f, [1, 6, 5], 5, 1).data[..]);
        assert_eq!(db.image_name(1), Some("train-images-idx3-ubyte.gz:1"));
    }
    assert!(open_dataset("/nonexistent/x", &SourceOptions::default())
        .err()
        .unwrap()
        .to_string()
        .contains("/nonexistent/x"));
}

#[test]
fn bad_parameters_and_cancellation_write_nothing() {
    struct Stop;
    impl crate::progress::Progress for Stop {
        fn start(&self, _: &str, _: u64) {}
        fn advance(&self, _: u64, _: &str) {}
        fn finish(&self) {}
        fn cancelled(&self) -> bool {
            true
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("db.fcpd");
    let src = DatasetImages::new(images(2, [1, 5, 5]));
    for p in [params(0, 1), params(3, 0), params(6, 1)] {
        assert!(matches!(
            build(&src, &p, None, &out, &Silent),
            Err(PatchDbError::Params { .. })
        ));
    }
    let none = BuildParams {
        limit_images: Some(0),
        ..params(3, 1)
    };
    assert!(build(&src, &none, None, &out, &Silent).is_err());
    let e = build(&src, &params(3, 1), None, &out, &Stop).unwrap_err();
    assert!(matches!(e, PatchDbError::Cancelled { .. }), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn queries_find_their_own_window_and_draw_a_grid() {
    let dir = tempfile::tempdir().unwrap();
    let ds = images(2, [1, 8, 8]);
    let out = dir.path().join("q.fcpd");
    build(
        &DatasetImages::new(ds.clone()),
        &params(4, 2),
        None,
        &out,
        &Silent,
    )
    .unwrap();
    let db = PatchDb::open(&out).unwrap();
    let q = db.query(db.view(), ds.image(1), Some((2, 4)), 3).unwrap();
    assert_eq!(q.hits.len(), 3);
    assert_eq!(q.hits[0].dist, 0.0);
    assert_eq!(
        q.hits[0].source,
        PatchSource {
            image: 1,
            row: 2,
            col: 4
        }
    );
    assert_eq!(q.hits[0].image_name, "gen:1");
    assert!(q.hits[1].dist > 0.0);
    // Default: the centre window.
    assert_eq!(
        db.query(db.view(), ds.image(0), None, 1).unwrap().corner,
        (2, 2)
    );
    let grid = db.query_grid(&q).unwrap();
    assert_eq!(grid.n_rows(), 1);
    assert!(db.check_compatible(4, 1).is_ok());
    let e = db.check_compatible(7, 1).unwrap_err().to_string();
    assert!(e.contains("q.fcpd") && e.contains("4×4"), "{e}");
}
