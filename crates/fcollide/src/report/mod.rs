//! Reports a person reads: image grids, plots, tables and HTML pages.
//!
//! Everything here is self-contained (only the `image` crate for PNG encoding,
//! a built-in 5×7 bitmap [`font`] for text):
//!
//! * [`Grid`] — rows of upscaled images (target, vertices, samples) with text
//!   labels and "indicator" heat-map cells showing where images differ
//!   ([`difference_map`]), saved as PNG.
//! * [`Plot`] — a small line/point chart (e.g. collision volume vs depth) with
//!   axes, ticks, title and legend, saved as PNG.
//! * [`Table`] — a table rendered to GitHub Markdown or HTML, with number
//!   formatting helpers ([`fmt_num`], [`fmt_sig`], [`fmt_pct`]).
//! * [`HtmlReport`] — a single self-contained HTML page of headings,
//!   paragraphs, tables and images (inline base64 PNG or relative paths).
//!
//! All files are written atomically with [`write_atomic`]: to a temporary
//! file in the same directory, then renamed over the destination.
//!
//! ```no_run
//! # use fcollide::report::*;
//! # fn main() -> Result<(), ReportError> {
//! # let (target, v1, v2) = (vec![0.0; 784], vec![0.0; 784], vec![0.0; 784]);
//! let mut grid = Grid::new([1, 28, 28])?.with_title("collision for digit 7");
//! grid.start_row("");
//! grid.add_image(&target, "target")?;
//! grid.add_image(&v1, "vertex 1")?;
//! grid.add_image(&v2, "vertex 2")?;
//! grid.add_difference(&[&v1, &v2], "indicator", DiffScale::Max)?;
//! grid.save("grid.png")?;
//! # Ok(()) }
//! ```
use std::path::Path;

mod draw;
pub mod error;
pub mod escape;
pub mod font;
pub mod grid;
pub mod html;
pub mod plot;
pub mod table;

pub use error::ReportError;
pub use escape::escape_html;
pub use grid::{difference_map, encode_png, image_to_rgb, save_png, DiffScale, Grid};
pub use html::{base64_encode, HtmlReport};
pub use plot::{box_stats, histogram, BoxStats, Histogram, Plot, Series};
pub use table::{fmt_num, fmt_pct, fmt_sig, Align, Table};

/// Writes `bytes` to `path` atomically with the library's one writer,
/// [`crate::fsutil::write_atomic`]: a synced temporary file in the same directory
/// (created if missing), renamed over `path`; only regular files are replaced,
/// symlinks are written through, and on failure the temporary file is removed.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<(), ReportError> {
    let path = path.as_ref();
    crate::fsutil::write_atomic(path, bytes).map_err(|e| ReportError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub").join("out.txt");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.txt")]);
    }

    #[test]
    fn atomic_write_failure_reports_path_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        // The destination is an existing non-empty directory: rename fails.
        let p = dir.path().join("taken");
        std::fs::create_dir(&p).unwrap();
        std::fs::write(p.join("x"), b"x").unwrap();
        let err = write_atomic(&p, b"data").unwrap_err();
        assert!(err.to_string().contains("taken"), "{err}");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }
}
