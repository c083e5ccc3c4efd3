//! Arrays across the boundary: little-endian `f32` values in Python `bytes`, row-major.
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::parameter;

/// `f32` values from little-endian bytes; `what` names the argument in the error.
pub fn from_bytes(b: &[u8], what: &str) -> PyResult<Vec<f32>> {
    if b.len() % 4 != 0 {
        return Err(parameter(format!(
            "{what}: {} bytes are not a whole number of float32 values",
            b.len()
        )));
    }
    Ok(fcollide::bytes::le_f32s(b))
}

/// `values` as little-endian bytes.
pub fn to_bytes(py: Python<'_>, values: &[f32]) -> Py<PyBytes> {
    let mut out = Vec::with_capacity(values.len() * 4);
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    PyBytes::new(py, &out).unbind()
}
