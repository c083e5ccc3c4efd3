//! Errors of the exact (LP) collision analysis.
//!
//! Every failure mode of `exact` is a variant here; nothing in the module panics on bad input.
//! The LP variants carry the HiGHS status so a caller can tell "the collision set is empty"
//! ([`ExactError::Infeasible`]) from "the box is missing, the set is unbounded"
//! ([`ExactError::Unbounded`]) from solver trouble ([`ExactError::Solver`]).
use thiserror::Error;

/// Why an exact collision computation failed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ExactError {
    /// The requested collision layer does not exist or is not an affine layer followed by a ReLU.
    #[error("unknown collision layer `{name}`: {why}; valid layers (ReLUs on every path to the output): [{}]", valid.join(", "))]
    UnknownLayer {
        /// The requested name.
        name: String,
        /// Why it is not a collision layer.
        why: String,
        /// Names that would have been accepted.
        valid: Vec<String>,
    },
    /// The network description is invalid.
    #[error("{0}")]
    Network(String),
    /// A layer that is not piecewise linear appears before the collision layer.
    #[error("node `{layer}` ({op}) is not piecewise linear; the exact analysis needs affine operations, ReLU, Clip, LeakyReLU and max-pooling before the collision layer")]
    NotPiecewiseLinear {
        /// Layer name.
        layer: String,
        /// Operation kind.
        op: String,
    },
    /// The LP has no feasible point (e.g. the target lies outside the pixel box).
    #[error("infeasible LP ({what}): the constraint set is empty")]
    Infeasible {
        /// Which LP.
        what: String,
    },
    /// The LP objective is unbounded (e.g. no pixel box).
    #[error("unbounded LP ({what}): HiGHS status {status}")]
    Unbounded {
        /// Which LP.
        what: String,
        /// HiGHS model status (`Unbounded` or `UnboundedOrInfeasible`).
        status: String,
    },
    /// The LP solver failed or stopped without an optimal solution.
    #[error("LP solver failure ({what}): {status}")]
    Solver {
        /// Which LP.
        what: String,
        /// Solver status or model status.
        status: String,
    },
    /// More active (positive) units than input dimensions: the equalities leave no room.
    #[error("no room for a collision polytope at `{layer}`: N+ = {n_plus} positive units ≥ d = {d} input dimensions")]
    NoRoom {
        /// Collision layer.
        layer: String,
        /// Number of positive units.
        n_plus: usize,
        /// Input dimension.
        d: usize,
    },
    /// A tensor or weight has the wrong size.
    #[error("shape mismatch at {context}: expected {expected}, got {got}")]
    Shape {
        /// Where.
        context: String,
        /// What was expected.
        expected: String,
        /// What was found.
        got: String,
    },
    /// The caller asked to stop ([`crate::progress::Progress::cancelled`]), checked between
    /// LP solves; nothing was kept.
    #[error("exact polytope cancelled during {phase}; nothing was kept")]
    Cancelled {
        /// The phase that was running.
        phase: &'static str,
    },
    /// A dense affine map would be too large to hold.
    #[error("dense affine map at layer `{layer}` would have {rows}×{cols} = {} entries, over the limit {limit}", rows * cols)]
    TooLarge {
        /// Layer where the limit was hit.
        layer: String,
        /// Rows (units).
        rows: usize,
        /// Columns (input dimension).
        cols: usize,
        /// Configured limit on entries.
        limit: usize,
    },
    /// A parameter failed validation.
    #[error("invalid exact parameter `{name}`: {reason}")]
    InvalidParam {
        /// Parameter name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A chosen unit for a vertex LP is not a valid non-positive unit of the layer.
    #[error("unit {unit} cannot be pushed at layer `{layer}`: {reason}")]
    BadUnit {
        /// Layer name.
        layer: String,
        /// Unit index.
        unit: usize,
        /// Why.
        reason: String,
    },
}

impl From<crate::model::ModelError> for ExactError {
    fn from(e: crate::model::ModelError) -> Self {
        ExactError::Network(e.to_string())
    }
}

impl ExactError {
    pub(crate) fn shape(
        context: impl Into<String>,
        expected: impl ToString,
        got: impl ToString,
    ) -> Self {
        ExactError::Shape {
            context: context.into(),
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }
}
