//! Integration tests of `fcollide::data`: the embedded MNIST set, its default
//! split, and reading an MNIST-layout folder of IDX files.
use std::path::Path;

use fcollide::data::idx::{self, IdxImages};
use fcollide::data::{embedded, DataError, Dataset, IDX_DIR_FILES};

#[test]
fn embedded_mnist_has_10000_digits_in_unit_range() {
    let d = embedded::mnist().unwrap();
    assert_eq!(d.len(), embedded::LEN);
    assert_eq!(d.len(), 10_000);
    assert_eq!(d.shape, [1, 28, 28]);
    assert_eq!(d.images.len(), 10_000 * 784);
    assert_eq!(d.num_classes(), 10);
    assert_eq!(
        d.class_counts(),
        [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    );
    assert!(d.images.iter().all(|&v| (0.0..=1.0).contains(&v)));
    // Real digits: mostly background, some ink, nothing blank.
    for i in [0, 4_321, 9_999] {
        let img = d.image(i);
        let ink = img.iter().filter(|&&v| v > 0.5).count();
        assert!((20..400).contains(&ink), "image {i}: {ink} ink pixels");
    }
    // Stored shuffled, not sorted by class.
    let changes = d.labels.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(changes > 5_000, "{changes}");
}

#[test]
fn embedded_split_is_8000_2000_stratified_disjoint() {
    let all = embedded::mnist().unwrap();
    let (train, test) = embedded::mnist_split(0).unwrap();
    assert_eq!((train.len(), test.len()), (8_000, 2_000));
    assert_eq!(train.name, "mnist-embedded/train");
    assert_eq!(test.name, "mnist-embedded/test");
    assert_eq!(train.shape, [1, 28, 28]);
    let all_counts = all.class_counts();
    let test_counts = test.class_counts();
    let train_counts = train.class_counts();
    for c in 0..10 {
        let share = 0.2 * all_counts[c] as f64;
        assert!(
            (test_counts[c] as f64 - share).abs() <= 1.0,
            "class {c}: {} of {}",
            test_counts[c],
            all_counts[c]
        );
        assert_eq!(train_counts[c] + test_counts[c], all_counts[c]);
    }
    // Disjoint: every original image appears exactly once across the halves.
    // (The images are distinct MNIST digits, so compare the pixel bytes.)
    let key = |img: &[f32]| {
        img.iter()
            .map(|v| (v * 255.0).round() as u8)
            .collect::<Vec<u8>>()
    };
    let mut seen: Vec<Vec<u8>> = (0..train.len())
        .map(|i| key(train.image(i)))
        .chain((0..test.len()).map(|i| key(test.image(i))))
        .collect();
    let mut original: Vec<Vec<u8>> = (0..all.len()).map(|i| key(all.image(i))).collect();
    seen.sort_unstable();
    original.sort_unstable();
    assert_eq!(seen, original);
}

#[test]
fn embedded_split_is_deterministic_per_seed() {
    let (train_a, test_a) = embedded::mnist_split(42).unwrap();
    let (train_b, test_b) = embedded::mnist_split(42).unwrap();
    assert_eq!(train_a, train_b);
    assert_eq!(test_a, test_b);
    let (_, test_c) = embedded::mnist_split(43).unwrap();
    assert_ne!(test_a, test_c);
}

/// `n` tiny `rows×cols` images whose pixels encode their index, labels `i % 3`.
fn fixture(n: usize, rows: usize, cols: usize) -> (IdxImages, Vec<u8>) {
    let pixels = (0..n * rows * cols)
        .map(|p| (p / (rows * cols)) as u8)
        .collect();
    let labels = (0..n).map(|i| (i % 3) as u8).collect();
    (IdxImages::new(n, rows, cols, pixels).unwrap(), labels)
}

/// Writes a complete MNIST-layout folder: gzip train files, raw test files.
fn write_dir(dir: &Path, train_n: usize, test_n: usize) {
    let (images, labels) = fixture(train_n, 4, 3);
    idx::write_images(dir.join("train-images-idx3-ubyte.gz"), &images, true).unwrap();
    idx::write_labels(dir.join("train-labels-idx1-ubyte.gz"), &labels, true).unwrap();
    let (images, labels) = fixture(test_n, 4, 3);
    idx::write_images(dir.join("t10k-images-idx3-ubyte"), &images, false).unwrap();
    idx::write_labels(dir.join("t10k-labels-idx1-ubyte"), &labels, false).unwrap();
}

#[test]
fn from_idx_dir_reads_mixed_raw_and_gzip() {
    let tmp = tempfile::tempdir().unwrap();
    write_dir(tmp.path(), 7, 5);
    let (train, test) = Dataset::from_idx_dir(tmp.path()).unwrap();
    assert_eq!((train.len(), test.len()), (7, 5));
    assert_eq!(train.shape, [1, 4, 3]);
    assert_eq!(test.shape, [1, 4, 3]);
    assert_eq!(train.labels, [0, 1, 2, 0, 1, 2, 0]);
    assert_eq!(train.image(6), &[6.0 / 255.0; 12]);
    assert_eq!(test.image(4), &[4.0 / 255.0; 12]);
    assert_eq!(train.num_classes(), 3);
    assert!(train.name.ends_with("/train") && test.name.ends_with("/test"));
}

#[test]
fn from_idx_dir_lists_missing_files() {
    let tmp = tempfile::tempdir().unwrap();
    write_dir(tmp.path(), 2, 2);
    std::fs::remove_file(tmp.path().join("t10k-labels-idx1-ubyte")).unwrap();
    let err = Dataset::from_idx_dir(tmp.path()).unwrap_err();
    assert!(matches!(err, DataError::MissingFiles { ref missing, .. } if missing.len() == 1));
    let msg = err.to_string();
    assert!(msg.contains("missing t10k-labels-idx1-ubyte[.gz]"), "{msg}");
    for base in IDX_DIR_FILES {
        assert!(msg.contains(base), "{msg}");
    }
    let empty = tempfile::tempdir().unwrap();
    let err = Dataset::from_idx_dir(empty.path()).unwrap_err();
    assert!(matches!(err, DataError::MissingFiles { ref missing, .. } if missing.len() == 4));
    let err = Dataset::from_idx_dir(empty.path().join("nope")).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err}");
}

#[test]
fn from_idx_dir_truncated_file_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    write_dir(tmp.path(), 3, 3);
    let path = tmp.path().join("t10k-images-idx3-ubyte");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
    let err = Dataset::from_idx_dir(tmp.path()).unwrap_err();
    assert!(matches!(err, DataError::Truncated { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("t10k-images-idx3-ubyte"), "{msg}");
    assert!(
        msg.ends_with("file is truncated: header says 3×4×3 = 36 bytes of pixels, found 31"),
        "{msg}"
    );
}

#[test]
fn from_idx_dir_wrong_magic_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    write_dir(tmp.path(), 3, 3);
    // Put a labels file where the training images belong.
    idx::write_labels(
        tmp.path().join("train-images-idx3-ubyte.gz"),
        &[0, 1, 2],
        true,
    )
    .unwrap();
    let err = Dataset::from_idx_dir(tmp.path()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(
            "train-images-idx3-ubyte.gz: bad magic number 0x00000801, expected 0x00000803 (IDX3 u8 images)"
        ),
        "{msg}"
    );
}

#[test]
fn from_idx_dir_count_and_shape_mismatch() {
    let tmp = tempfile::tempdir().unwrap();
    write_dir(tmp.path(), 4, 3);
    idx::write_labels(tmp.path().join("t10k-labels-idx1-ubyte"), &[0; 10], false).unwrap();
    let err = Dataset::from_idx_dir(tmp.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                images: 3,
                labels: 10,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("t10k-labels-idx1-ubyte has 10"));

    let tmp = tempfile::tempdir().unwrap();
    write_dir(tmp.path(), 4, 3);
    let (images, _) = fixture(3, 5, 5);
    idx::write_images(tmp.path().join("t10k-images-idx3-ubyte"), &images, false).unwrap();
    let err = Dataset::from_idx_dir(tmp.path()).unwrap_err();
    assert!(matches!(err, DataError::ShapeMismatch { .. }), "{err}");
}
