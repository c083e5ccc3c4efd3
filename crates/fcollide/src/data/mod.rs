//! Image data: reading and writing IDX files, the in-memory [`Dataset`], the
//! embedded MNIST default, and seeded stratified splits.
//!
//! # The IDX format
//!
//! MNIST and its look-alikes (Fashion-MNIST, KMNIST, ...) ship as IDX files,
//! usually gzip-compressed. An IDX file is a big-endian header followed by
//! the raw array:
//!
//! * a 4-byte magic number `00 00 TT DD`: `TT` is the element type (`08` =
//!   unsigned byte, the only one handled here) and `DD` the number of
//!   dimensions; hence `0x00000803` for images (`*-idx3-ubyte`) and
//!   `0x00000801` for labels (`*-idx1-ubyte`);
//! * `DD` dimension sizes, each a big-endian `u32` (images: count, rows,
//!   columns; labels: count);
//! * the elements, the last dimension varying fastest (so each image is
//!   row-major), nothing after them.
//!
//! Readers ([`idx`]) accept raw or gzip data (recognised by the bytes
//! `1f 8b`), check magic, dimensions and exact length, and return a
//! [`DataError`] naming the file on any mismatch; they never panic.
//!
//! # Layout
//!
//! * [`error`] — [`DataError`].
//! * [`idx`] — IDX3/IDX1 `u8` reader and writer.
//! * [`dataset`] — [`Dataset`] (pixels as `f32` in `[0, 1]`, NCHW) and
//!   [`Dataset::from_idx_dir`] for an MNIST-layout folder.
//! * [`embedded`] — the 10,000 embedded MNIST digits: [`embedded::mnist`]
//!   and the default 8,000/2,000 split [`embedded::mnist_split`].
//! * [`imagenet`] — the 1000 ImageNet class names, embedded.
//! * [`split`] — [`stratified_split`].
pub mod dataset;
pub mod embedded;
pub mod error;
pub mod idx;
pub mod image_file;
pub mod imagenet;
pub mod split;
pub mod transform;

pub use dataset::{Dataset, IDX_DIR_FILES};
pub use embedded::{mnist, mnist_split};
pub use error::DataError;
pub use idx::{IdxImages, IDX1_U8_MAGIC, IDX3_U8_MAGIC};
pub use split::stratified_split;
