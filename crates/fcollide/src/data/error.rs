//! [`DataError`]: everything that can go wrong while reading, checking or
//! writing image data sets.
//!
//! Every message names the file (or embedded blob) it is about and says what
//! was expected, e.g.
//! `train-images-idx3-ubyte.gz: bad magic number 0x00000802, expected 0x00000803 (IDX3 u8 images)`.
use std::path::PathBuf;

use thiserror::Error;

/// An error from the `data` module.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DataError {
    /// Opening, reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder the operation was about.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// The data starts with the gzip magic bytes `1f 8b` but could not be
    /// decompressed.
    #[error("{name}: corrupt or truncated gzip stream: {source}")]
    Gzip {
        /// The file (or embedded blob) being read.
        name: String,
        /// What the decompressor said.
        #[source]
        source: std::io::Error,
    },

    /// The file is shorter than the fixed-size IDX header.
    #[error("{name}: file is truncated: an {format} header needs {expected} bytes, found {found}")]
    TruncatedHeader {
        /// The file (or embedded blob) being read.
        name: String,
        /// `"IDX3 u8 images"` or `"IDX1 u8 labels"`.
        format: &'static str,
        /// Header length in bytes.
        expected: usize,
        /// Bytes actually present.
        found: usize,
    },

    /// The first four bytes are not the magic number of the expected IDX kind.
    #[error("{name}: bad magic number {found:#010x}, expected {expected:#010x} ({format})")]
    BadMagic {
        /// The file (or embedded blob) being read.
        name: String,
        /// The magic number found.
        found: u32,
        /// The magic number expected.
        expected: u32,
        /// `"IDX3 u8 images"` or `"IDX1 u8 labels"`.
        format: &'static str,
    },

    /// The dimensions in the header are unusable (zero image size, or a total
    /// size that overflows).
    #[error("{name}: bad dimensions {dims}: {reason}")]
    BadDims {
        /// The file (or embedded blob) being read.
        name: String,
        /// The dimensions as written in the header, e.g. `60000×0×28`.
        dims: String,
        /// Why they are unusable.
        reason: &'static str,
    },

    /// The payload is shorter than the header says.
    #[error(
        "{name}: file is truncated: header says {dims} = {expected} bytes of {what}, found {found}"
    )]
    Truncated {
        /// The file (or embedded blob) being read.
        name: String,
        /// The dimensions from the header, e.g. `60000×28×28`.
        dims: String,
        /// `"pixels"` or `"labels"`.
        what: &'static str,
        /// Payload length the header implies.
        expected: usize,
        /// Payload bytes actually present.
        found: usize,
    },

    /// The payload is longer than the header says.
    #[error(
        "{name}: {extra} trailing byte(s) after the {expected} bytes of {what} the header ({dims}) describes"
    )]
    TrailingBytes {
        /// The file (or embedded blob) being read.
        name: String,
        /// The dimensions from the header, e.g. `60000×28×28`.
        dims: String,
        /// `"pixels"` or `"labels"`.
        what: &'static str,
        /// Payload length the header implies.
        expected: usize,
        /// Number of bytes beyond that.
        extra: usize,
    },

    /// An images file and its labels file disagree on the number of items.
    #[error(
        "images file {images_name} has {images} items but labels file {labels_name} has {labels}"
    )]
    CountMismatch {
        /// The images file.
        images_name: String,
        /// Number of images.
        images: usize,
        /// The labels file.
        labels_name: String,
        /// Number of labels.
        labels: usize,
    },

    /// Two parts that must share an image shape do not (e.g. train and test).
    #[error("{name}: image shape {found:?} does not match {expected:?} ({context})")]
    ShapeMismatch {
        /// What is being built or read.
        name: String,
        /// The shape found, `[C, H, W]`.
        found: [usize; 3],
        /// The shape expected, `[C, H, W]`.
        expected: [usize; 3],
        /// Where the expected shape comes from.
        context: &'static str,
    },

    /// Buffers handed to a constructor or writer have inconsistent lengths.
    #[error("{name}: {what}: expected {expected} values, found {found}")]
    BadLength {
        /// What is being built or written.
        name: String,
        /// Which buffer.
        what: &'static str,
        /// Length implied by the other arguments.
        expected: usize,
        /// Length found.
        found: usize,
    },

    /// An input above a resource limit (see [`crate::limits`]).
    #[error("{name}: {msg}")]
    Limit {
        /// The file (or embedded blob) being read.
        name: String,
        /// The limit's message.
        msg: String,
    },

    /// An image file that cannot be used as a model input.
    #[error("{path}: {msg}")]
    Image {
        /// The file.
        path: String,
        /// What was wrong.
        msg: String,
    },

    /// A folder lacks some of the standard MNIST-layout files.
    #[error(
        "{}: missing {}; looked for {}",
        dir.display(),
        missing.join(", "),
        looked_for.join(", ")
    )]
    MissingFiles {
        /// The folder searched.
        dir: PathBuf,
        /// Base names with neither the raw nor the `.gz` file present.
        missing: Vec<String>,
        /// Every name searched for (`name[.gz]`).
        looked_for: Vec<String>,
    },
}
