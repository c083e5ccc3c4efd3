//! Progress reporting for long runs; the CLI draws bars, the library only calls this trait.

/// Receives progress of a long computation.
pub trait Progress: Sync {
    /// A phase named `label` with `total` steps starts.
    fn start(&self, label: &str, total: u64);
    /// `n` more steps are done; `msg` is a short status (loss, accuracy).
    fn advance(&self, n: u64, msg: &str);
    /// The phase is over.
    fn finish(&self);
    /// Whether the user asked to stop (e.g. Ctrl-C); long loops then save a checkpoint and
    /// return an error.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64, _: &str) {}
    fn finish(&self) {}
}
