//! Errors from building and writing reports: file I/O, image encoding and
//! image data whose size does not match its declared shape.
use std::path::PathBuf;

use thiserror::Error;

/// Anything that can go wrong while drawing or saving a report.
#[derive(Debug, Error)]
pub enum ReportError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file (or directory) involved.
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Encoding an image failed. `path` is `<memory>` for in-memory encoding.
    #[error("{}: encoding image: {source}", .path.display())]
    Image {
        /// Where the image was going.
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    /// An image's data has the wrong number of values for its shape,
    /// e.g. "image 3 has 700 values, expected 1×28×28 = 784".
    #[error("{what} has {got} values, expected {} = {expected}", dims(.shape))]
    Size {
        /// Which image, e.g. "image 3".
        what: String,
        /// Number of values supplied.
        got: usize,
        /// The declared shape.
        shape: Vec<usize>,
        /// Product of `shape`.
        expected: usize,
    },
    /// A shape that cannot be drawn, e.g. 2 channels or a zero side.
    #[error("bad image shape {}: {reason}", dims(.shape))]
    Shape {
        /// The offending shape.
        shape: Vec<usize>,
        /// Why it is rejected.
        reason: String,
    },
    /// Any other invalid argument (empty grid, bad value range, …).
    #[error("{0}")]
    Invalid(String),
}

/// Formats a shape as `1×28×28`.
fn dims(shape: &[usize]) -> String {
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×")
}

impl ReportError {
    /// Builds an [`ReportError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.into(),
            source,
        }
    }

    /// Checks that `values` has exactly `shape.iter().product()` entries.
    pub fn check_size(
        what: impl FnOnce() -> String,
        got: usize,
        shape: &[usize],
    ) -> Result<(), Self> {
        let expected = shape.iter().product();
        if got == expected {
            Ok(())
        } else {
            Err(ReportError::Size {
                what: what(),
                got,
                shape: shape.to_vec(),
                expected,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_message() {
        let e = ReportError::check_size(|| "image 3".into(), 700, &[1, 28, 28]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "image 3 has 700 values, expected 1×28×28 = 784"
        );
        assert!(ReportError::check_size(|| "x".into(), 784, &[1, 28, 28]).is_ok());
    }

    #[test]
    fn io_message_has_path() {
        let e = ReportError::io("/a/b.png", std::io::Error::other("boom"));
        assert_eq!(e.to_string(), "/a/b.png: boom");
    }
}
