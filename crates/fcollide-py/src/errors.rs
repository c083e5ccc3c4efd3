//! Library errors as Python exceptions.
//!
//! - a file that does not exist (an `io::Error` of kind `NotFound` anywhere in the error's
//!   chain) → `FileNotFoundError`;
//! - an invalid parameter or layer name → `fcollide.ParameterError` (a subclass of both
//!   `fcollide.Error` and `ValueError`);
//! - anything else → `fcollide.Error`.
//!
//! The message is the error and its causes joined by `: `, each cause once (library errors
//! name their source in their own text), as the CLI prints it. The exception classes are
//! defined in Python (`fcollide/_errors.py`) so that they can have two bases.
use fcollide::collide::CollideError;
use fcollide::exact::ExactError;
use fcollide::model::ModelError;
use pyo3::exceptions::{PyFileNotFoundError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyType;

/// The error and its causes joined by `: `, leaving out a cause the message already holds.
pub fn message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = String::new();
    let mut cur = Some(e);
    while let Some(c) = cur {
        let s = c.to_string();
        if !msg.contains(&s) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&s);
        }
        cur = c.source();
    }
    msg
}

fn not_found(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::NotFound {
                return true;
            }
        }
        cur = c.source();
    }
    false
}

fn is_parameter(e: &fcollide::Error) -> bool {
    use fcollide::Error as E;
    let model = |m: &ModelError| matches!(m, ModelError::Param { .. } | ModelError::UnknownLayer { .. });
    match e {
        E::Model(m) => model(m),
        E::Collide(CollideError::Param { .. } | CollideError::Size { .. }) => true,
        E::Collide(CollideError::Model(m)) => model(m),
        E::Exact(ExactError::InvalidParam { .. }) => true,
        _ => false,
    }
}

/// A Python exception class of `fcollide._errors` by name.
fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    Ok(py
        .import("fcollide._errors")?
        .getattr(name)?
        .cast_into::<PyType>()?)
}

/// The Python exception for a library error.
pub fn to_py(e: impl Into<fcollide::Error>) -> PyErr {
    let e: fcollide::Error = e.into();
    let msg = message(&e);
    if not_found(&e) {
        return PyFileNotFoundError::new_err(msg);
    }
    let name = if is_parameter(&e) {
        "ParameterError"
    } else {
        "Error"
    };
    Python::attach(|py| match class(py, name) {
        Ok(cls) => PyErr::from_type(cls, msg),
        Err(_) => PyRuntimeError::new_err(msg),
    })
}

/// `fcollide.ParameterError` with `msg` (an invalid argument found on the Rust side).
pub fn parameter(msg: impl Into<String>) -> PyErr {
    let msg = msg.into();
    Python::attach(|py| match class(py, "ParameterError") {
        Ok(cls) => PyErr::from_type(cls, msg),
        Err(_) => pyo3::exceptions::PyValueError::new_err(msg),
    })
}
