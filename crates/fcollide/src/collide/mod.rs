//! Vertex search (§2 of the paper): the objective `α·L+ + L−_i`, its parameterization in the
//! pixel box, the optimizer, gradient engines and the batched search.
pub mod activation;
pub mod checkpoint;
pub mod engine;
pub mod error;
pub mod io;
pub mod objective;
pub mod optimizer;
pub mod parameterization;
pub mod params;
pub mod penalty;
pub mod project;
pub mod region;
pub mod search;

pub use activation::{Activation, UnitRole};
pub use checkpoint::Checkpointing;
pub use error::CollideError;
pub use objective::{LossTerms, Objective};
pub use parameterization::{Parameterization, PixelBox};
pub use params::{BoxMethod, Engine, UnitChoice, ValidVertexParams, VertexParams};
pub use penalty::Penalty;
pub use region::{RegionLock, RegionMode};
pub use search::{
    feature_rel_err, find_vertices, find_vertices_checkpointed, find_vertices_in,
    find_vertices_pixels, find_vertices_shared, VertexSet, VertexStats,
};
