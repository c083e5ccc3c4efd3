//! Library errors as Python exceptions.
//!
//! - a file that does not exist (an `io::Error` of kind `NotFound` anywhere in the error's
//!   chain) → `FileNotFoundError`;
//! - an invalid parameter or layer name → `fcollide.ParameterError` (a subclass of both
//!   `fcollide.Error` and `ValueError`);
//! - anything else → `fcollide.Error`.
//!
//! An invalid search or exact parameter's message starts with its Python name
//! (`collision_tol: …`, `k: …`). Otherwise the message is the error and its causes joined by `: `, each cause once (library errors
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
    let model = |m: &ModelError| {
        matches!(
            m,
            ModelError::Param { .. } | ModelError::UnknownLayer { .. }
        )
    };
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

/// A parameter's name as the Python API spells it: snake case, and `k` for the number of
/// vertices (the library names parameters as the CLI's flags).
fn python_name(param: &str) -> String {
    match param {
        "vertices" | "--vertices" => "k".into(),
        p => p.trim_start_matches("--").replace('-', "_"),
    }
}

/// `name: what is wrong` for an invalid search or exact parameter, so that the message
/// starts with the argument's Python name.
fn parameter_message(e: &fcollide::Error) -> Option<String> {
    use fcollide::Error as E;
    match e {
        E::Collide(CollideError::Param { param, msg }) => {
            Some(format!("{}: {msg}", python_name(param)))
        }
        E::Exact(ExactError::InvalidParam { name, reason }) => {
            Some(format!("{}: {reason}", python_name(name)))
        }
        _ => None,
    }
}

/// The Python exception for a library error.
pub fn to_py(e: impl Into<fcollide::Error>) -> PyErr {
    let e: fcollide::Error = e.into();
    let msg = parameter_message(&e).unwrap_or_else(|| message(&e));
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
