//! Mislabelled data (§5 of the paper, issue 16's experiment), one concept per file (each
//! states its formula), re-exported here:
//!
//! - `flips.rs`: seeded label flips ([`flip_labels`], [`FlipParams`]);
//! - `margin.rs`: the margin `z_y − max_{j≠y} z_j` ([`margin`]) and the area under the
//!   margin over training epochs ([`Aum`], the baseline of Pleiss et al. 2020);
//! - `auroc.rs`: the exact Mann–Whitney AUROC of a score for finding the flipped labels
//!   ([`auroc`]) and its Hanley–McNeil standard error ([`auroc_se`]);
//! - `outlying.rs`: distance to the class mean and to the `k` nearest training examples
//!   ([`class_mean_distances`], [`knn_distances`]).
mod auroc;
mod flips;
mod margin;
mod outlying;

pub use auroc::{auroc, auroc_se};
pub use flips::{flip_labels, FlipParams};
pub use margin::{margin, Aum};
pub use outlying::{class_mean_distances, knn_distances};
