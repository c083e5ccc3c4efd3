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
    /// Auditing a data set.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
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

/// A parameter that a `check()` refused, in the library's terms: the field's name and what
/// was wrong with its value. Front ends map the name to their own spelling (a CLI flag, a
/// Python keyword) with [`ParamError::bad_param`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadParam {
    /// The parameter's name, as the field of its parameter struct (`num_levels`, `size`).
    pub param: String,
    /// The value and what was expected.
    pub msg: String,
}

impl BadParam {
    fn new(param: &str, msg: impl Into<String>) -> Self {
        BadParam {
            param: param.to_string(),
            msg: msg.into(),
        }
    }
}

/// An error that may be a refused parameter.
pub trait ParamError {
    /// The refused parameter, when this error is one.
    fn bad_param(&self) -> Option<BadParam>;
}

impl ParamError for Error {
    fn bad_param(&self) -> Option<BadParam> {
        match self {
            Error::Model(e) => e.bad_param(),
            Error::Collide(e) => e.bad_param(),
            Error::Exact(e) => e.bad_param(),
            Error::Knn(e) => e.bad_param(),
            Error::PatchDb(e) => e.bad_param(),
            Error::Audit(e) => e.bad_param(),
            _ => None,
        }
    }
}

impl ParamError for crate::model::ModelError {
    fn bad_param(&self) -> Option<BadParam> {
        match self {
            Self::Param { param, msg } => Some(BadParam::new(param, msg)),
            _ => None,
        }
    }
}

impl ParamError for crate::collide::CollideError {
    fn bad_param(&self) -> Option<BadParam> {
        match self {
            Self::Param { param, msg } => Some(BadParam::new(param, msg)),
            Self::Model(e) => e.bad_param(),
            _ => None,
        }
    }
}

impl ParamError for crate::exact::ExactError {
    fn bad_param(&self) -> Option<BadParam> {
        match self {
            Self::InvalidParam { name, reason } => Some(BadParam::new(name, reason)),
            _ => None,
        }
    }
}

impl ParamError for crate::patches::knn::KnnError {
    fn bad_param(&self) -> Option<BadParam> {
        match self {
            Self::BadParameter {
                name,
                value,
                allowed,
            } => Some(BadParam::new(name, format!("{value}: must be {allowed}"))),
            _ => None,
        }
    }
}

impl ParamError for crate::patches::db::PatchDbError {
    fn bad_param(&self) -> Option<BadParam> {
        match self {
            Self::Params { param, msg } => Some(BadParam::new(param, msg)),
            Self::Knn(e) => e.bad_param(),
            _ => None,
        }
    }
}

impl ParamError for crate::audit::AuditError {
    fn bad_param(&self) -> Option<BadParam> {
        match self {
            Self::Param { param, msg } => Some(BadParam::new(param, msg)),
            Self::Shard { value, reason } => Some(BadParam::new(
                "shard",
                format!("'{value}': {reason} (expected i/n with n ≥ 1 and 0 ≤ i < n, e.g. 0/4)"),
            )),
            Self::Exact(e) => e.bad_param(),
            _ => None,
        }
    }
}

/// Result with the crate error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patches::db::PatchDbError;
    use crate::patches::knn::KnnError;

    #[test]
    fn bad_param_reaches_through_wrappers() {
        let knn = KnnError::BadParameter {
            name: "num_levels",
            value: "0".into(),
            allowed: "in 1..=16",
        };
        let want = BadParam::new("num_levels", "0: must be in 1..=16");
        assert_eq!(knn.bad_param(), Some(want.clone()));
        let db = PatchDbError::Knn(knn);
        assert_eq!(db.bad_param(), Some(want.clone()));
        assert_eq!(Error::PatchDb(db).bad_param(), Some(want));
        let io = Error::Msg("not a parameter".into());
        assert_eq!(io.bad_param(), None);
    }
}
