//! Errors of the `collide` module.
use thiserror::Error;

/// What can go wrong setting up or running a vertex search.
#[derive(Debug, Error)]
pub enum CollideError {
    /// An invalid parameter, named as on the command line.
    #[error("invalid parameter {param}: {msg}")]
    Param { param: &'static str, msg: String },
    /// The network or layer cannot be used.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// The run was interrupted; its state is in the checkpoint.
    #[error("interrupted at step {step}; state saved to {path} (resume with the same settings and the `resume` parameter)")]
    Interrupted { step: usize, path: String },
    /// A checkpoint that does not belong to this run or cannot be read.
    #[error("checkpoint {path}: {msg}")]
    Checkpoint { path: String, msg: String },
    /// A NaN or infinity in an input, a loss, a vertex or a network output: the run stops
    /// instead of reporting figures that cannot be trusted.
    #[error("{what} is not finite: {detail}")]
    NonFinite { what: String, detail: String },
    /// A parameter asking for more memory than a limit allows (see [`crate::limits`]).
    #[error("invalid parameter {param}: {source}")]
    Limit {
        param: &'static str,
        #[source]
        source: crate::limits::LimitError,
    },
    /// Input data of the wrong size.
    #[error("{what} has {got} values, expected {expected}")]
    Size {
        what: &'static str,
        got: usize,
        expected: usize,
    },
}
