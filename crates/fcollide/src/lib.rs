//! fcollide: find, verify, measure and show feature collisions in ReLU networks
//! (Li, Zhang & Malik, "Approximate Feature Collisions in Neural Nets", NeurIPS 2019).
//!
//! Data flows `data` → `model` → `collide` → `polytope` → `exact` → `patches` → `report`;
//! `run` holds the experiments and `audit` measures every example of a data set.
pub mod audit;
pub mod bytes;
pub mod collide;
pub mod data;
pub mod error;
pub mod exact;
pub mod fsutil;
pub mod limits;
mod linalg;
pub mod model;
pub mod patches;
pub mod polytope;
pub mod prelude;
pub mod progress;
pub mod report;
pub mod run;
pub mod tolerance;

pub use error::{BadParam, Error, ParamError, Result};
