//! Patch-composition search space (§4): patch extraction, k-nearest-neighbour retrieval
//! (exact brute force and Prioritized DCI, Li & Malik 2017), and the softmax composition of
//! candidate patches that vertices are searched over; patch databases on disk, memory-mapped
//! ([`db`]), and the borrowed [`view::PatchView`] that the search space reads either kind of
//! database through.
pub mod compose;
pub mod db;
pub mod extract;
pub mod knn;
pub mod select;
pub mod space;
pub mod view;
