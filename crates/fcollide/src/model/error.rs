//! Errors of the `model` module.
use thiserror::Error;

/// What can go wrong describing, building, training, saving or loading a network.
#[derive(Debug, Error)]
pub enum ModelError {
    /// A layer name that the network does not have, or one that cannot be used here.
    #[error("unknown layer '{name}': {why}; valid names: {valid}")]
    UnknownLayer {
        name: String,
        why: String,
        valid: String,
    },
    /// An architecture name that is not built in.
    #[error("unknown architecture '{name}'; valid names: {valid}")]
    UnknownArch { name: String, valid: String },
    /// A compute device that is unknown or not in this build.
    #[error("device '{name}': {msg}")]
    Device { name: String, msg: String },
    /// A layer whose parameters or input do not fit.
    #[error("layer '{layer}': {msg}")]
    Shape { layer: String, msg: String },
    /// An input batch of the wrong size.
    #[error("input has {got} values per example, expected {expected} (shape {shape:?})")]
    Input {
        got: usize,
        expected: usize,
        shape: [usize; 3],
    },
    /// A weights file that cannot be used.
    #[error("{path}: {msg}")]
    Weights { path: String, msg: String },
    /// A data set that cannot be used with this network.
    #[error("{name}: {msg}")]
    Data { name: String, msg: String },
    /// Training stopped because the caller asked to ([`crate::progress::Progress::cancelled`]);
    /// nothing was kept.
    #[error("training cancelled at step {step}; nothing was kept")]
    Cancelled { step: usize },
    /// Training whose loss became NaN or infinite.
    #[error("training diverged at step {step}: {msg}")]
    Diverged { step: usize, msg: String },
    /// Invalid training parameters.
    #[error("invalid training parameter {param}: {msg}")]
    Param { param: &'static str, msg: String },
    /// I/O error on a file.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
