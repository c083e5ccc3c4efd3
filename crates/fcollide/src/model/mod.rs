//! Networks: the graph description, burn forward passes, training and weight files.
pub mod arch;
pub mod error;
pub mod finite;
pub mod graph;
pub mod hyperplanes;
pub mod import;
pub mod inspect;
pub mod io;
pub mod load;
pub mod network;
pub mod torchvision;
pub mod train;
pub mod zoo;

pub use crate::linalg::argmax;
pub use error::ModelError;
pub use finite::check_finite;
pub use graph::{CollisionPoint, Graph, GraphBuilder, Node, Op, Shape};
pub use load::{load, load_graph, LoadOptions, Loaded, NormalizationSource};
pub use network::{default_device, device_by_name, device_label, Network};
