//! The library's front door: `use fcollide::prelude::*;` brings in what the main jobs need.
//!
//! | job | items |
//! | --- | --- |
//! | data | [`mnist_split`] (the embedded 10,000 digits, split 8,000/2,000), [`Dataset`], [`read_image`] |
//! | a model | [`load`] + [`LoadOptions`] (fcollide safetensors, `.toml` spec, ONNX, weights with an architecture), [`arch`], [`train()`] + [`TrainParams`], [`save`], [`Graph`] |
//! | a device | [`default_device`], [`device_by_name`], [`Device`] |
//! | vertices | [`VertexParams`] (`.check()` gives [`ValidVertexParams`]), [`find_vertices`], [`VertexSet`] |
//! | verification | [`verify`], [`Verification`], [`Verdict`], [`DEFAULT_COLLISION_TOL`] |
//! | exact polytope | [`ExactParams`] (`.check()`), [`exact_polytope`], [`ExactPolytope`] |
//! | patches | [`open_dataset`], [`build`](build_patch_db) + [`BuildParams`], [`PatchDb`] |
//! | progress | [`Progress`], [`Silent`] |
//!
//! Every parameter struct follows one convention: fill it (or start from `Default`), then
//! `check()` returns the validated form the functions take, or an error naming the field.
//! The examples in `crates/fcollide/examples/` use only this prelude.
pub use crate::collide::{find_vertices, ValidVertexParams, VertexParams, VertexSet};
pub use crate::data::image_file::read_image;
pub use crate::data::{mnist_split, Dataset};
pub use crate::exact::{exact_polytope, ExactParams, ExactPolytope, ValidExactParams};
pub use crate::model::io::save;
pub use crate::model::train::{train, TrainParams, ValidTrainParams};
pub use crate::model::{arch, default_device, device_by_name, load, Graph, LoadOptions};
pub use crate::patches::db::{
    build as build_patch_db, open_dataset, BuildParams, PatchDb, SourceOptions,
};
pub use crate::polytope::{verify, Verdict, Verification, DEFAULT_COLLISION_TOL};
pub use crate::progress::{Progress, Silent};
pub use crate::{Error, Result};
/// The compute device every network function takes ([`default_device`]: burn-flex on the CPU).
pub use burn::tensor::Device;
