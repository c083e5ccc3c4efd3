//! The native module `fcollide._native` of the Python package `fcollide`.
//!
//! The Python side (`python/fcollide/`) validates arguments, converts NumPy arrays and torch
//! tensors, exports torch modules to ONNX and builds the result objects; this module calls the
//! `fcollide` library. Arrays cross the boundary as little-endian `f32` bytes (`[N, C·H·W]`
//! row-major) and figures as JSON, so the extension needs no NumPy C API and is built once for
//! CPython's stable ABI (abi3, Python ≥ 3.9).
//!
//! Long calls run on a worker thread without the GIL and stop on Ctrl-C ([`worker`]); library
//! errors become Python exceptions ([`errors`]).
use pyo3::prelude::*;

mod convert;
mod errors;
mod model;
mod ops;
mod worker;

/// The version of the fcollide library this package was built from.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// fcollide's native core (use the `fcollide` package, not this module).
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::model::Model;
    #[pymodule_export]
    use super::ops::{
        dataset_pairwise_l2, exact, find_vertices, load_vertices, mnist, mnist_model, verify,
        VertexData,
    };
    #[pymodule_export]
    use super::version;
}
