//! Errors of weight import. Every message names the file and, where there is one, the tensor
//! or key and what was expected.
use thiserror::Error;

/// What can go wrong importing a model or its weights.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is damaged, truncated or not of the format it claims to be.
    #[error("{path}: corrupt or truncated {format} file: {msg}")]
    Corrupt {
        path: String,
        format: &'static str,
        msg: String,
    },
    /// The file's format is not one fcollide reads.
    #[error("{path}: unrecognized weights format ({msg}); expected safetensors, a PyTorch .pth/.pt zip, .npz or .onnx")]
    UnknownFormat { path: String, msg: String },
    /// A pickle that is not a plain state dict: a whole module, or any class other than tensors.
    #[error("{path}: holds a whole pickled module (class {class}), not a state dict: save model.state_dict() instead, or convert to safetensors")]
    WholeModule { path: String, class: String },
    /// A pickle that is damaged or uses something the safe reader refuses.
    #[error("{path}: cannot read the pickled state dict: {msg}")]
    Pickle { path: String, msg: String },
    /// A value that is NaN or infinite in a tensor (weights must be finite).
    #[error("{path}: tensor '{key}' holds {value} at flat index {index}; weights must be finite")]
    NonFinite {
        path: String,
        key: String,
        index: usize,
        value: f32,
    },
    /// Weights that cannot be used (e.g. not finite), with what was wrong.
    #[error("{path}: {msg}")]
    Weights { path: String, msg: String },
    /// An input above a resource limit (see [`crate::limits`]).
    #[error("{path}: {source}")]
    Limit {
        path: String,
        #[source]
        source: crate::limits::LimitError,
    },
    /// A tensor of a dtype that cannot be converted to f32.
    #[error("{path}: tensor '{key}' has dtype {dtype}, expected one of {expected}")]
    Dtype {
        path: String,
        key: String,
        dtype: String,
        expected: &'static str,
    },
    /// A tensor the model needs that the file lacks.
    #[error("{path}: missing tensor '{key}' (expected shape {expected:?}, for layer '{layer}'); the file has: {available}")]
    MissingTensor {
        path: String,
        key: String,
        layer: String,
        expected: Vec<usize>,
        available: String,
    },
    /// A tensor of the wrong shape.
    #[error("{path}: tensor '{key}' has shape {got:?}, expected {expected:?} (layer '{layer}')")]
    Shape {
        path: String,
        key: String,
        layer: String,
        got: Vec<usize>,
        expected: Vec<usize>,
    },
    /// A file whose tensors do not fit the model: tensors the model needs that the file
    /// lacks, tensors of the file the model does not use, shapes that differ, with a hint
    /// (e.g. batch norm in the file but not in the model).
    #[error("{path}: the file's tensors do not fit the model '{arch}': {msg}")]
    Mismatch {
        path: String,
        arch: String,
        msg: String,
    },
    /// An ONNX operator fcollide does not translate.
    #[error("{path}: unsupported ONNX operator '{op}' (node '{node}'){hint}")]
    OnnxOp {
        path: String,
        op: String,
        node: String,
        hint: String,
    },
    /// An ONNX graph that uses a supported operator in an unsupported way.
    #[error("{path}: ONNX node '{node}' ({op}): {msg}")]
    OnnxNode {
        path: String,
        node: String,
        op: String,
        msg: String,
    },
    /// A model spec (TOML) that is invalid.
    #[error("{path}: invalid model spec: {msg}")]
    Spec { path: String, msg: String },
    /// The imported network does not fit together.
    #[error("{path}: the imported network is inconsistent: {source}")]
    Model {
        path: String,
        #[source]
        source: crate::model::ModelError,
    },
}

impl ImportError {
    pub(crate) fn corrupt(path: &str, format: &'static str, msg: impl Into<String>) -> Self {
        ImportError::Corrupt {
            path: path.to_string(),
            format,
            msg: msg.into(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        ImportError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
