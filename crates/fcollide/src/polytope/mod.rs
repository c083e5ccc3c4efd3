//! Polytope verification (§3): sampling convex combinations of the vertices and measuring
//! agreement, confidence, feature residuals and size; certificates and verdicts.
pub mod certificate;
pub mod metrics;
pub mod sample;
pub mod verdict;
pub mod verify;

pub use certificate::{certify_hull, HullCertificate};
pub use metrics::{dataset_pairwise_l2, l2, mean_pairwise_l2};
pub use sample::{combine, dirichlet_weights, sample_polytope};
pub use verdict::{verdict, Evidence, Verdict, DEFAULT_COLLISION_TOL};
pub use verify::{
    check_samples, verify, verify_shared, verify_with_progress, Verification, MAX_SAMPLES,
};
