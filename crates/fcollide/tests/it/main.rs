//! The integration-test binary: one module per part of the library.
mod audit;
mod chain;
mod collide;
mod conv;
mod data;
mod exact;
mod fuzz;
mod import;
mod knn;
mod ops;
mod patchdb;
mod zoo;
