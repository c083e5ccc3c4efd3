//! Long calls: run on a worker thread while the calling thread waits without the GIL.
//!
//! The calling thread (normally Python's main thread, the only one that runs signal handlers)
//! wakes every [`POLL`] to run `PyErr_CheckSignals`. When it raises (Ctrl-C:
//! `KeyboardInterrupt`), the worker is asked to stop through [`PyProgress::cancelled`] — the
//! library polls it: the vertex search every step, training every minibatch, the exact engine
//! between LP solves — and the error is raised in Python after the worker stopped, or after
//! [`GRACE`] if it is inside a computation that cannot stop mid-way (one LP solve, one f64
//! forward of a large model): that one finishes in the background and its result is dropped.
//!
//! Progress reaches Python through an optional object with `start(label, total)`,
//! `advance(n, msg)` and `finish()` (the package passes a `tqdm` adapter), called with the GIL
//! re-acquired; once cancelled, the worker no longer calls into Python.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fcollide::progress::Progress;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// How often the waiting thread checks for signals.
const POLL: Duration = Duration::from_millis(50);
/// How long an interrupted call waits for the worker to stop before raising.
const GRACE: Duration = Duration::from_secs(2);
/// Stack of the worker thread (deep burn graphs recurse more than a 2 MiB default allows).
const STACK: usize = 64 << 20;

/// The library's [`Progress`] for a Python caller: cancellation flag and optional callbacks.
pub struct PyProgress {
    callback: Option<Py<PyAny>>,
    cancel: Arc<AtomicBool>,
}

impl PyProgress {
    /// Calls the callback object, if any and not cancelled. A failing progress display must
    /// not fail the computation: its error is dropped.
    fn call(&self, f: impl for<'py> FnOnce(Python<'py>, &Py<PyAny>) -> PyResult<Py<PyAny>>) {
        let Some(cb) = &self.callback else { return };
        if self.cancel.load(Ordering::Relaxed) {
            return;
        }
        let _ = Python::try_attach(|py| f(py, cb));
    }
}

impl Progress for PyProgress {
    fn start(&self, label: &str, total: u64) {
        self.call(|py, cb| cb.call_method1(py, "start", (label, total)));
    }

    fn advance(&self, n: u64, msg: &str) {
        self.call(|py, cb| cb.call_method1(py, "advance", (n, msg)));
    }

    fn finish(&self) {
        self.call(|py, cb| cb.call_method0(py, "finish"));
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// Runs `f` on a worker thread and waits for it without the GIL, raising `KeyboardInterrupt`
/// (or any other error a signal handler raises) when the user interrupts.
pub fn run<T, F>(py: Python<'_>, callback: Option<Py<PyAny>>, f: F) -> PyResult<T>
where
    F: FnOnce(&PyProgress) -> T + Send + 'static,
    T: Send + 'static,
{
    let cancel = Arc::new(AtomicBool::new(false));
    let progress = PyProgress {
        callback,
        cancel: cancel.clone(),
    };
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("fcollide".into())
        .stack_size(STACK)
        .spawn(move || {
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&progress)));
            let _ = tx.send(out);
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a worker thread: {e}")))?;
    let finished = |out: std::thread::Result<T>| {
        out.map_err(|panic| {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            PyRuntimeError::new_err(format!("fcollide failed unexpectedly (a bug): {msg}"))
        })
    };
    let mut rx = rx;
    loop {
        // The receiver is `Send` but not `Sync`: it moves into the GIL-free closure and back.
        let (got, back) = py.detach(move || (rx.recv_timeout(POLL), rx));
        rx = back;
        match got {
            Ok(out) => return finished(out),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err(
                    "the fcollide worker thread vanished",
                ))
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    cancel.store(true, Ordering::Relaxed);
                    let t0 = Instant::now();
                    // Let a cooperative loop return before the error reaches Python.
                    let _ = py.detach(move || rx.recv_timeout(GRACE.saturating_sub(t0.elapsed())));
                    return Err(e);
                }
            }
        }
    }
}
