//! Patch-composition search space (§4): k-nearest-neighbour retrieval of image patches.
//!
//! [`knn`] holds exact brute-force search and the Prioritized DCI index (Li & Malik 2017).
pub mod knn;
