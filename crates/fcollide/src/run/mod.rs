//! End-to-end jobs: the paper's experiments as one call each, with their run records.
pub mod cache;
pub mod exact;
pub mod images;
pub mod mnist;
pub mod params;
pub mod record;
pub mod sweep;
pub mod write;

pub use mnist::reproduce_mnist;
pub use params::{ImagesParams, MnistParams, RunParams};
pub use record::{DatasetFacts, MachineInfo, ModelFacts, RowRecord, RunRecord, TargetFacts, TopK};
