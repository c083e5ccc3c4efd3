//! [`PatchDbError`]: building, opening and using patch database files.
//!
//! Every error about a file names it and says what was expected, e.g.
//! `digits.fcpd: file is 4096 bytes, but its header implies 1204288`.
use std::path::PathBuf;

use thiserror::Error;

/// An error of the patch database module.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PatchDbError {
    /// Opening, reading, writing or mapping a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// The file does not start with the patch database magic.
    #[error("{}: not an fcollide patch database: the first 8 bytes are {found:02x?}, expected {expected:?}", path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The bytes found (fewer than 8 if the file is shorter).
        found: Vec<u8>,
        /// The magic expected.
        expected: &'static str,
    },

    /// A format version this build cannot read.
    #[error("{}: patch database format version {found}, this build reads version {supported}", path.display())]
    Version {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version supported.
        supported: u32,
    },

    /// The file's length is not what its header implies (truncated, or trailing bytes).
    #[error("{}: file is {found} bytes, but its header implies {expected} ({what})", path.display())]
    Length {
        /// The file.
        path: PathBuf,
        /// Length the header implies.
        expected: u64,
        /// Actual length.
        found: u64,
        /// `"truncated"` or `"trailing bytes"`, or what section is cut.
        what: String,
    },

    /// A header field or a section's content is invalid.
    #[error("{}: corrupt patch database: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong, and what was expected.
        reason: String,
    },

    /// A stored value is NaN or infinite.
    #[error("{}: corrupt patch database: {section} value {index} is {value} (values must be finite)", path.display())]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// `"search vectors"`, `"raw patches"` or `"projection matrix"`.
        section: &'static str,
        /// Position of the value in its section.
        index: usize,
        /// The value.
        value: f32,
    },

    /// Build parameters that cannot work (zero size, patches larger than the images, a
    /// projection to more dimensions than a patch has, too many patches, …).
    #[error("invalid patch database parameter `{param}`: {msg}")]
    Params {
        /// The parameter's name (a field of [`super::BuildParams`], `projection`, or `side`
        /// of [`super::SourceOptions`]).
        param: &'static str,
        /// What is wrong, and what was expected.
        msg: String,
    },

    /// A database (or its index) that does not fit how it is used: another patch size or
    /// channel count, an index built over another database.
    #[error("{}: {reason}", path.display())]
    Incompatible {
        /// The database or index file.
        path: PathBuf,
        /// What does not match, and what was expected.
        reason: String,
    },

    /// The user interrupted the build; nothing was written.
    #[error("{}: building the patch database was interrupted; nothing was written", path.display())]
    Cancelled {
        /// The file that would have been written.
        path: PathBuf,
    },

    /// Reading the images the patches are cut from.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),

    /// The k-NN search or a DCI index file.
    #[error(transparent)]
    Knn(#[from] crate::patches::knn::KnnError),
}

impl PatchDbError {
    /// Shorthand for [`PatchDbError::Corrupt`].
    pub(crate) fn corrupt(path: &std::path::Path, reason: impl Into<String>) -> Self {
        PatchDbError::Corrupt {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`PatchDbError::Io`].
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        PatchDbError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
