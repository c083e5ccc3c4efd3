//! Audit a data set: the collision polytope of every example (§5 of the paper), as a table.
//!
//! For each example `t` with label `y` of a split, from the f64 forward pass
//! ([`crate::exact::forward`]) with logits `z`:
//!
//! - `predicted = argmax z`, `confidence = max_j softmax(z)_j`,
//!   `loss = logsumexp(z) − z_y` (cross-entropy), `margin = z_y − max_{j≠y} z_j`.
//!
//! At the collision layer `L`, with pre-activation `ỹ(u) = A u + c` on the example's linear
//! region ([`crate::exact::linearize`]; `A`, `c` the same for every example when all layers
//! before `L` are affine, e.g. `fc1` of an MLP), `P = {j : ỹ(t)_j > 0}`,
//! `Z = {j : ỹ(t)_j ≤ 0}` and `W+ = A[P]`, the collision polytope is
//! `{u : W+ u = W+ t, A[Z] u + c[Z] ≤ 0, region half-spaces, lo ≤ u ≤ hi}`
//! ([`crate::exact::polytope`]), and:
//!
//! - `n_plus = |P|`, `n_zero = |Z|`, `rank = rank W+` (pivoted QR, `|R_kk| > tol_rank·|R_00|`),
//!   `affine_dim = d − rank W+` (Proposition 1: the dimension of the affine subspace
//!   `t + ker W+` that holds the polytope), `region_rows` = the half-spaces of the linear
//!   region (0 when the layers before `L` are affine);
//! - `chebyshev_radius`: with `N` an orthonormal basis of `ker W+`, the largest `r` such that
//!   the ball `{u + N ζ : ‖ζ‖ ≤ r}` of the subspace lies in the polytope — one LP over
//!   `(u, r)`: maximize `r` s.t. `W+ u = W+ t`, `g·u + r‖Nᵀg‖ ≤ h` for every inequality
//!   `g·u ≤ h` (`Z` rows, region rows), `lo_i + r‖N_i‖ ≤ u_i ≤ hi_i − r‖N_i‖`, `r ≥ 0`
//!   ([`crate::exact::chebyshev_bisection`]: solved by bisection on `r`, region rows
//!   generated as needed, and the value is then a certified lower bound within
//!   `CHEBYSHEV_REL_GAP` = 1e-4 relative of the optimum; the direct LP with HiGHS or after
//!   numerical trouble); 0 when the subspace is a point;
//! - `mean_extent = (1/r) Σ_k (max_{u∈polytope} v_k·u − min_{u∈polytope} v_k·u)` over `r`
//!   (`directions`) unit directions `v_k = Nξ_k/‖Nξ_k‖`, `ξ_k ~ N(0, I)` drawn from a ChaCha8
//!   stream seeded by [`measure::example_seed`]`(seed, index)` (two LPs per direction on one
//!   model, [`crate::exact::extents`]); 0 when the subspace is a point.
//!
//! The LPs run on the library's own dense dual simplex (HiGHS with `LpSolver::Highs` in a
//! build with the `highs` feature). A measure whose LP fails is left empty (null) and the
//! reason goes into the row's `error` column: no value is made up. When `L` lies behind a
//! ReLU or max-pool, the polytope is the colliding set inside the example's linear region:
//! everything in it collides, and the true colliding set may be larger (lower bounds).
//!
//! [`run_audit`] computes the rows of one shard ([`Shard`]: positions `j ≡ i mod n` of the
//! first `limit` examples), in parallel, saves a checkpoint every `checkpoint_every`
//! examples and when the caller asks to stop ([`crate::progress::Progress::cancelled`]),
//! resumes from it, and writes `audit.parquet`, `audit.csv` and `audit.json` ([`run`]), and
//! `report.md`/`report.html` with histograms, per-class box plots and grids of the examples
//! with the largest and smallest polytopes ([`report`]).
//! [`merge`] combines shard folders into exactly the files a single run writes. Every value
//! depends only on the model, the example, the settings and the seed, so shards, threads
//! and interruptions do not change it.
pub mod error;
pub mod measure;
pub mod mislabel;
pub mod report;
pub mod row;
pub mod run;
pub mod shard;
pub mod table;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use error::AuditError;
pub use measure::Auditor;
pub use row::{AuditRow, COLUMNS};
pub use run::{finished, merge, run_audit, AuditJob, AuditRecord, AuditSummary, RunIdentity};
pub use shard::Shard;

use crate::exact::LpOptions;

/// Which per-example measures a run computes (index, label, prediction, confidence, loss
/// and margin always).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measures {
    /// `|P|`, `|Z|`, `rank W+`, the affine dimension and the region rows.
    pub dim: bool,
    /// The Chebyshev radius of the exact polytope in its subspace (one LP).
    pub chebyshev: bool,
    /// The mean extent along `directions` random directions (two LPs each).
    pub extents: bool,
}

impl Measures {
    /// Every measure (the default).
    pub const ALL: Measures = Measures {
        dim: true,
        chebyshev: true,
        extents: true,
    };
    /// Only the classifier's columns.
    pub const BASIC: Measures = Measures {
        dim: false,
        chebyshev: false,
        extents: false,
    };

    /// Whether the collision system is built (every measure but the basic ones needs it).
    pub fn exact(&self) -> bool {
        self.dim || self.chebyshev || self.extents
    }
}

impl Default for Measures {
    fn default() -> Self {
        Measures::ALL
    }
}

impl fmt::Display for Measures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (self.dim, "dim"),
            (self.chebyshev, "chebyshev"),
            (self.extents, "extents"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
        if names.is_empty() {
            f.write_str("basic")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

impl FromStr for Measures {
    type Err = AuditError;

    /// A comma list of `basic`, `dim`, `chebyshev`, `extents` and `all`; `chebyshev` and
    /// `extents` bring `dim` with them (it costs nothing beside them).
    fn from_str(s: &str) -> Result<Self, AuditError> {
        let mut m = Measures::BASIC;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "basic" => {}
                "dim" => m.dim = true,
                "chebyshev" => m.chebyshev = true,
                "extents" => m.extents = true,
                "all" => m = Measures::ALL,
                other => {
                    return Err(AuditError::param(
                        "measures",
                        format!(
                            "unknown measure '{other}': expected a comma list of basic, dim, \
                             chebyshev, extents, all"
                        ),
                    ))
                }
            }
        }
        if m.chebyshev || m.extents {
            m.dim = true;
        }
        Ok(m)
    }
}

/// Parameters of an audit run; validate with [`AuditParams::check`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditParams {
    /// Collision layer (e.g. `fc1`).
    pub layer: String,
    /// Which measures.
    pub measures: Measures,
    /// Random directions `r` of the mean extent.
    pub directions: usize,
    /// Seed of the random directions (each example draws from its own stream).
    pub seed: u64,
    /// Only the first `limit` examples of the split.
    pub limit: Option<usize>,
    /// Which shard of the examples this run computes.
    pub shard: Shard,
    /// Save the checkpoint after this many more finished examples (and when stopped).
    pub checkpoint_every: usize,
    /// Threads (0: one per core).
    pub threads: usize,
    /// Relative rank tolerance of the pivoted QR.
    pub tol_rank: f64,
    /// Tolerance of the `ker(W+) ⊆ ker(W−)` test.
    pub tol_ker: f64,
    /// LP solver settings.
    pub lp: LpOptions,
    /// Memory guard of the linearization (entries of one dense map).
    pub max_dense_entries: usize,
}

impl Default for AuditParams {
    fn default() -> Self {
        let e = crate::exact::ExactParams::default();
        AuditParams {
            layer: "fc1".into(),
            measures: Measures::ALL,
            directions: e.directions,
            seed: 0,
            limit: None,
            shard: Shard::ALL,
            checkpoint_every: 50,
            threads: 0,
            tol_rank: e.tol_rank,
            tol_ker: e.tol_ker,
            lp: e.lp,
            max_dense_entries: e.max_dense_entries,
        }
    }
}

/// The most threads [`AuditParams::check`] accepts.
pub const MAX_THREADS: usize = 4096;

impl AuditParams {
    /// Validate; an error names the field.
    pub fn check(&self) -> Result<ValidAuditParams, AuditError> {
        if self.measures.extents && self.directions == 0 {
            return Err(AuditError::param(
                "directions",
                "0: the extents measure needs at least one direction",
            ));
        }
        if self.limit == Some(0) {
            return Err(AuditError::param("limit", "0: must be at least 1"));
        }
        Shard::new(self.shard.index, self.shard.count)?;
        if self.checkpoint_every == 0 {
            return Err(AuditError::param(
                "checkpoint_every",
                "0: must be at least 1",
            ));
        }
        if self.threads > MAX_THREADS {
            return Err(AuditError::param(
                "threads",
                format!("{}: at most {MAX_THREADS}", self.threads),
            ));
        }
        crate::exact::ExactParams {
            layer: self.layer.clone(),
            tol_rank: self.tol_rank,
            tol_ker: self.tol_ker,
            directions: self.directions,
            lp: self.lp.clone(),
            max_dense_entries: self.max_dense_entries,
            ..Default::default()
        }
        .check()
        .map_err(|e| match e {
            crate::exact::ExactError::InvalidParam { name, reason } => {
                AuditError::param(name, reason)
            }
            e => e.into(),
        })?;
        Ok(ValidAuditParams(self.clone()))
    }
}

/// [`AuditParams`] that passed [`AuditParams::check`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ValidAuditParams(AuditParams);

impl std::ops::Deref for ValidAuditParams {
    type Target = AuditParams;
    fn deref(&self) -> &AuditParams {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_parse_and_print() {
        assert_eq!("all".parse::<Measures>().unwrap(), Measures::ALL);
        let m: Measures = "chebyshev".parse().unwrap();
        assert!(m.dim && m.chebyshev && !m.extents);
        assert_eq!(m.to_string(), "dim,chebyshev");
        assert_eq!("basic".parse::<Measures>().unwrap().to_string(), "basic");
        assert_eq!(Measures::ALL.to_string(), "dim,chebyshev,extents");
        let e = "size".parse::<Measures>().unwrap_err().to_string();
        assert!(e.contains("unknown measure 'size'"), "{e}");
    }

    #[test]
    fn bad_params_are_named() {
        let name = |p: AuditParams| match p.check().unwrap_err() {
            AuditError::Param { param, .. } => param,
            e => panic!("{e}"),
        };
        let d = AuditParams::default;
        assert_eq!(
            name(AuditParams {
                directions: 0,
                ..d()
            }),
            "directions"
        );
        assert_eq!(
            name(AuditParams {
                limit: Some(0),
                ..d()
            }),
            "limit"
        );
        let every = AuditParams {
            checkpoint_every: 0,
            ..d()
        };
        assert_eq!(name(every), "checkpoint_every");
        assert_eq!(
            name(AuditParams {
                tol_rank: 2.0,
                ..d()
            }),
            "tol_rank"
        );
        assert_eq!(
            name(AuditParams {
                layer: " ".into(),
                ..d()
            }),
            "layer"
        );
        let basic = AuditParams {
            directions: 0,
            measures: Measures::BASIC,
            ..d()
        };
        basic.check().unwrap();
        d().check().unwrap();
    }
}
