//! [`Dataset`]: labelled images as `f32` in `[0, 1]`, in memory, plus loading
//! the standard MNIST-layout folder of four IDX files.
use std::fmt;
use std::path::{Path, PathBuf};

use super::idx::{self, IdxImages};
use super::DataError;

/// Base names of the four files of an MNIST-layout folder (MNIST,
/// Fashion-MNIST, KMNIST, ...), each looked for as-is and with `.gz`:
/// train images, train labels, test images, test labels.
pub const IDX_DIR_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Labelled images held in memory.
///
/// Image `i` occupies `images[i·C·H·W .. (i+1)·C·H·W]`, channel-major then
/// row-major (`[C, H, W]`, the NCHW layout). Pixels read from bytes are
/// `byte / 255`, so they lie in `[0, 1]`.
#[derive(Clone, PartialEq)]
pub struct Dataset {
    /// `len() × C×H×W` pixel values in `[0, 1]`.
    pub images: Vec<f32>,
    /// One class label per image.
    pub labels: Vec<u8>,
    /// Image shape `[C, H, W]`.
    pub shape: [usize; 3],
    /// Human-readable name, e.g. `mnist-embedded/train`.
    pub name: String,
}

impl Dataset {
    /// Builds a data set, checking that `images` holds exactly
    /// `labels.len() · C·H·W` values and that no dimension of `shape` is 0.
    pub fn new(
        images: Vec<f32>,
        labels: Vec<u8>,
        shape: [usize; 3],
        name: impl Into<String>,
    ) -> Result<Self, DataError> {
        let name = name.into();
        let image_len = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .filter(|&n| n > 0);
        let Some(image_len) = image_len else {
            return Err(DataError::BadDims {
                name,
                dims: format!("{}×{}×{}", shape[0], shape[1], shape[2]),
                reason: "image shape must be non-zero and its size must fit in usize",
            });
        };
        let expected = labels.len().checked_mul(image_len);
        if expected != Some(images.len()) {
            return Err(DataError::BadLength {
                name,
                what: "images (labels × C×H×W)",
                expected: expected.unwrap_or(usize::MAX),
                found: images.len(),
            });
        }
        Ok(Self {
            images,
            labels,
            shape,
            name,
        })
    }

    /// Builds a single-channel data set from IDX images and labels, scaling
    /// each byte to `byte / 255`.
    pub fn from_idx(
        images: &IdxImages,
        labels: Vec<u8>,
        name: impl Into<String>,
    ) -> Result<Self, DataError> {
        let name = name.into();
        Self::from_idx_named(
            images,
            labels,
            name.clone(),
            format!("{name} (images)"),
            format!("{name} (labels)"),
        )
    }

    /// Reads an IDX3 images file and an IDX1 labels file (each raw or gzip).
    pub fn from_idx_files(
        images_path: impl AsRef<Path>,
        labels_path: impl AsRef<Path>,
        name: impl Into<String>,
    ) -> Result<Self, DataError> {
        let (images_path, labels_path) = (images_path.as_ref(), labels_path.as_ref());
        let images = idx::read_images(images_path)?;
        let labels = idx::read_labels(labels_path)?;
        Self::from_idx_named(
            &images,
            labels,
            name.into(),
            images_path.display().to_string(),
            labels_path.display().to_string(),
        )
    }

    /// Reads a folder in the standard MNIST layout (see [`IDX_DIR_FILES`];
    /// each file raw or `.gz`, the raw one preferred when both exist) and
    /// returns `(train, test)`, named `<folder>/train` and `<folder>/test`.
    ///
    /// Works for MNIST, Fashion-MNIST and any other set shipped that way.
    /// Fails with [`DataError::MissingFiles`] listing every name looked for
    /// if any file is absent, and with a [`DataError::ShapeMismatch`] if the
    /// train and test images differ in size.
    pub fn from_idx_dir(dir: impl AsRef<Path>) -> Result<(Self, Self), DataError> {
        let dir = dir.as_ref();
        let meta = std::fs::metadata(dir).map_err(|source| DataError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(DataError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::other("not a directory"),
            });
        }
        let found: Vec<Option<PathBuf>> = IDX_DIR_FILES
            .iter()
            .map(|base| {
                [base.to_string(), format!("{base}.gz")]
                    .into_iter()
                    .map(|file| dir.join(file))
                    .find(|p| p.is_file())
            })
            .collect();
        let missing: Vec<String> = IDX_DIR_FILES
            .iter()
            .zip(&found)
            .filter(|(_, p)| p.is_none())
            .map(|(base, _)| format!("{base}[.gz]"))
            .collect();
        let [Some(train_images), Some(train_labels), Some(test_images), Some(test_labels)] =
            found.as_slice()
        else {
            return Err(DataError::MissingFiles {
                dir: dir.to_path_buf(),
                missing,
                looked_for: IDX_DIR_FILES.iter().map(|b| format!("{b}[.gz]")).collect(),
            });
        };
        let folder = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "idx".into());
        let train = Self::from_idx_files(train_images, train_labels, format!("{folder}/train"))?;
        let test = Self::from_idx_files(test_images, test_labels, format!("{folder}/test"))?;
        if test.shape != train.shape {
            return Err(DataError::ShapeMismatch {
                name: test_images.display().to_string(),
                found: test.shape,
                expected: train.shape,
                context: "the training images' shape",
            });
        }
        Ok((train, test))
    }

    fn from_idx_named(
        images: &IdxImages,
        labels: Vec<u8>,
        name: String,
        images_name: String,
        labels_name: String,
    ) -> Result<Self, DataError> {
        if images.count != labels.len() {
            return Err(DataError::CountMismatch {
                images_name,
                images: images.count,
                labels_name,
                labels: labels.len(),
            });
        }
        let pixels = images
            .pixels
            .iter()
            .map(|&b| f32::from(b) / 255.0)
            .collect();
        Self::new(pixels, labels, [1, images.rows, images.cols], name)
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True if there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image, `C·H·W`.
    pub fn image_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Pixels of image `i` (`C·H·W` values). Panics if `i >= len()`.
    pub fn image(&self, i: usize) -> &[f32] {
        let n = self.image_len();
        &self.images[i * n..(i + 1) * n]
    }

    /// Label of image `i`. Panics if `i >= len()`.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// The images at `indices`, in that order (repeats allowed), with the same
    /// shape and name. Panics if an index is out of range.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let n = self.image_len();
        let mut images = Vec::with_capacity(indices.len() * n);
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Dataset {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            shape: self.shape,
            name: self.name.clone(),
        }
    }

    /// Number of classes: one more than the largest label (0 when empty).
    pub fn num_classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |&m| usize::from(m) + 1)
    }

    /// How many images each class has, indexed by label (`num_classes()` long).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes()];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }
}

impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("name", &self.name)
            .field("len", &self.len())
            .field("shape", &self.shape)
            .field("num_classes", &self.num_classes())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        let pixels: Vec<u8> = (0..4 * 2 * 3).map(|i| (i * 10) as u8).collect();
        let images = IdxImages::new(4, 2, 3, pixels).unwrap();
        Dataset::from_idx(&images, vec![2, 0, 1, 2], "tiny").unwrap()
    }

    #[test]
    fn accessors() {
        let d = tiny();
        assert_eq!(d.len(), 4);
        assert!(!d.is_empty());
        assert_eq!(d.shape, [1, 2, 3]);
        assert_eq!(d.image_len(), 6);
        assert_eq!(d.image(1)[0], 60.0 / 255.0);
        assert_eq!(d.label(3), 2);
        assert_eq!(d.num_classes(), 3);
        assert_eq!(d.class_counts(), [1, 1, 2]);
        assert!(d.images.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }

    #[test]
    fn subset_keeps_order_and_repeats() {
        let d = tiny();
        let s = d.subset(&[3, 0, 3]);
        assert_eq!(s.labels, [2, 2, 2]);
        assert_eq!(s.image(1), d.image(0));
        assert_eq!(s.image(2), d.image(3));
        assert_eq!(s.shape, d.shape);
        assert!(d.subset(&[]).is_empty());
    }

    #[test]
    fn new_checks_lengths() {
        assert!(Dataset::new(vec![0.0; 24], vec![0, 1], [3, 2, 2], "ok").is_ok());
        let err = Dataset::new(vec![0.0; 23], vec![0, 1], [3, 2, 2], "bad").unwrap_err();
        assert!(matches!(err, DataError::BadLength { expected: 24, .. }));
        let err = Dataset::new(vec![], vec![], [1, 0, 2], "zero").unwrap_err();
        assert!(matches!(err, DataError::BadDims { .. }));
    }

    #[test]
    fn count_mismatch() {
        let images = IdxImages::new(2, 1, 1, vec![0, 1]).unwrap();
        let err = Dataset::from_idx(&images, vec![0], "m").unwrap_err();
        assert_eq!(
            err.to_string(),
            "images file m (images) has 2 items but labels file m (labels) has 1"
        );
    }

    #[test]
    fn debug_is_short() {
        let text = format!("{:?}", tiny());
        assert!(text.contains("tiny") && text.len() < 100, "{text}");
    }
}
