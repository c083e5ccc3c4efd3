//! Polytope verification (§3): sampling convex combinations of the vertices and measuring
//! agreement, confidence, feature residuals and size.
pub mod metrics;
pub mod sample;
pub mod verify;

pub use metrics::{dataset_pairwise_l2, l2, mean_pairwise_l2};
pub use sample::{combine, dirichlet_weights, sample_polytope};
pub use verify::{verify, Verification};
