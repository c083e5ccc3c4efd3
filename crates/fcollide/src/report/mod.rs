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
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

mod draw;
pub mod error;
pub mod font;
pub mod grid;
pub mod html;
pub mod plot;
pub mod table;

pub use error::ReportError;
pub use grid::{difference_map, encode_png, image_to_rgb, save_png, DiffScale, Grid};
pub use html::{base64_encode, escape_html, HtmlReport};
pub use plot::{Plot, Series};
pub use table::{fmt_num, fmt_pct, fmt_sig, Align, Table};

/// Writes `bytes` to `path` atomically: the data goes to a temporary file in
/// the same directory (created if missing), is flushed to disk, and is then
/// renamed over `path`. Readers see either the old file or the complete new
/// one; on failure the temporary file is removed.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<(), ReportError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let path = path.as_ref();
    let name = path
        .file_name()
        .ok_or_else(|| ReportError::Invalid(format!("{}: not a file path", path.display())))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        ReportError::io(path, e)
    })
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
