//! Errors of the data-set audit.
use std::path::PathBuf;
use thiserror::Error;

/// Why an audit or a merge of audit shards failed.
#[derive(Debug, Error)]
pub enum AuditError {
    /// A parameter out of range, named as the field of [`super::AuditParams`].
    #[error("invalid audit parameter `{param}`: {msg}")]
    Param {
        /// The field.
        param: String,
        /// The value and what was expected.
        msg: String,
    },
    /// A shard `i/n` that is not one.
    #[error("shard '{value}': {reason} (expected i/n with n ≥ 1 and 0 ≤ i < n, e.g. 0/4)")]
    Shard {
        /// The text given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A checkpoint that cannot be used.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// Why it is refused.
        reason: String,
    },
    /// A table or record file that cannot be read or written.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Shard folders that do not combine into one run.
    #[error("audit merge: {0}")]
    Merge(String),
    /// The caller asked to stop (Ctrl-C); every finished example is in the checkpoint.
    #[error("interrupted after {done} of {total} examples; the finished ones are saved in {checkpoint} (run again with the same settings and the `resume` parameter to continue)")]
    Interrupted {
        /// Examples finished and saved.
        done: usize,
        /// Examples of this run (its shard).
        total: usize,
        /// The checkpoint file.
        checkpoint: PathBuf,
    },
    /// An example the model cannot take (shape, label).
    #[error("{0}")]
    Input(String),
    /// Exact (LP) analysis.
    #[error(transparent)]
    Exact(#[from] crate::exact::ExactError),
    /// Models.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// Reports.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
}

impl AuditError {
    /// An [`AuditError::Param`].
    pub fn param(param: impl Into<String>, msg: impl Into<String>) -> Self {
        AuditError::Param {
            param: param.into(),
            msg: msg.into(),
        }
    }

    /// An [`AuditError::File`].
    pub fn file(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        AuditError::File {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}
