//! The crate error: one variant per module error.
use thiserror::Error;

/// Any error fcollide returns.
#[derive(Debug, Error)]
pub enum Error {
    /// Reading data.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// Describing, training, saving or loading a network.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// Importing weights from other tools (boxed: the import error is large).
    #[error(transparent)]
    Import(Box<crate::model::import::ImportError>),
    /// Vertex search and verification.
    #[error(transparent)]
    Collide(#[from] crate::collide::CollideError),
    /// Exact polytopes by linear programming.
    #[error(transparent)]
    Exact(#[from] crate::exact::ExactError),
    /// k-nearest-neighbour search.
    #[error(transparent)]
    Knn(#[from] crate::patches::knn::KnnError),
    /// Patch databases on disk.
    #[error(transparent)]
    PatchDb(#[from] crate::patches::db::PatchDbError),
    /// Writing pictures and tables.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Anything else, with a message that names what was wrong.
    #[error("{0}")]
    Msg(String),
}

impl From<crate::model::import::ImportError> for Error {
    fn from(e: crate::model::import::ImportError) -> Self {
        Error::Import(Box::new(e))
    }
}

/// Result with the crate error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
