//! Networks: layer descriptions, burn forward passes, training and weight files.
pub mod arch;
pub mod error;
pub mod graph;
pub mod host;
pub mod import;
pub mod io;
pub mod network;
pub mod train;

pub use error::ModelError;
pub use host::{HostLayer, HostNetwork, HostOp};
pub use network::{argmax, default_device, device_by_name, Network};
