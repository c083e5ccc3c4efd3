//! End-to-end jobs: the paper's experiments as one call each, with their run records.
//!
//! One module per experiment: [`mnist`] (`reproduce mnist` and `reproduce lenet`, §3.1),
//! [`patches`] (`reproduce patches` on the digits, §4), [`images`] (`reproduce imagenet`, and
//! `reproduce patches` with an image model, §3.2 and §4), [`exact`] (`fcollide exact` and the
//! exact rows) and [`sweep`]. All but the sweep are composed of the shared [`steps`];
//! [`params`] holds their parameters, [`record`] the run record they return, [`mod@write`] the
//! files they write, and [`cache`] the trained-model cache. [`mod@audit`] is `reproduce audit`
//! (issue 16: does polytope size find mislabelled data?), on the audit machinery of
//! [`crate::audit`].
pub mod audit;
pub mod cache;
pub mod exact;
pub mod images;
pub mod mnist;
pub mod params;
pub mod patches;
pub mod record;
pub mod steps;
pub mod sweep;
pub mod write;

pub use mnist::reproduce_mnist;
pub use params::{ImagesParams, MnistParams, RunParams};
pub use patches::reproduce_patches;
pub use record::{DatasetFacts, MachineInfo, ModelFacts, RowRecord, RunRecord, TargetFacts, TopK};
