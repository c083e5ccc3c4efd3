//! Errors of the k-nearest-neighbour module.
//!
//! Every fallible entry point of [`super`] returns `Result<_, KnnError>`; bad
//! parameters, mismatched dimensions (`data.len() != n · dim`, `query.len() != dim`),
//! `k > n`, and short or corrupt index files are reported here instead of panicking.

use std::path::PathBuf;

/// Error of the k-NN search code (brute force and Prioritized DCI).
#[derive(Debug, thiserror::Error)]
pub enum KnnError {
    /// A parameter lies outside its allowed range.
    #[error("invalid parameter `{name}` = {value}: must be {allowed}")]
    BadParameter {
        /// Parameter name (as spelled in the API).
        name: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// The allowed range, in words (e.g. "in 1..=255").
        allowed: &'static str,
    },

    /// Two things that must have the same dimension/length do not.
    #[error("dimension mismatch in {what}: expected {expected}, got {got}")]
    DimensionMismatch {
        /// What was being compared (e.g. "query length", "data length").
        what: &'static str,
        /// The expected value.
        expected: usize,
        /// The value found.
        got: usize,
    },

    /// More neighbours requested than there are data points.
    #[error("k = {k} is larger than the number of data points n = {n}")]
    KTooLarge {
        /// Requested number of neighbours.
        k: usize,
        /// Number of data points.
        n: usize,
    },

    /// An index file is short, has a bad header, or holds inconsistent values.
    #[error("corrupt index file {}: {reason}", path.display())]
    CorruptIndex {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },

    /// An index used with data other than the data it was built over.
    #[error("the index was built over other data (fingerprint {index}, the data given has {data}): rebuild the index for this data")]
    OtherData {
        /// The fingerprint recorded in the index.
        index: String,
        /// The fingerprint of the data given.
        data: String,
    },

    /// An I/O error, with the path involved.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl KnnError {
    /// Shorthand for [`KnnError::BadParameter`].
    pub(crate) fn bad(name: &'static str, value: impl ToString, allowed: &'static str) -> Self {
        KnnError::BadParameter {
            name,
            value: value.to_string(),
            allowed,
        }
    }

    /// Shorthand for [`KnnError::DimensionMismatch`].
    pub(crate) fn dim(what: &'static str, expected: usize, got: usize) -> Self {
        KnnError::DimensionMismatch {
            what,
            expected,
            got,
        }
    }
}
