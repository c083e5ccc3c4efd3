//! Reading and replacing files safely: every reader of the library opens its input through
//! this module, and every writer replaces its output through [`write_atomic`] /
//! [`AtomicFile`].
//!
//! # Reading: only regular files
//! [`open_regular`] refuses a directory, FIFO, socket or device **before** opening anything
//! that could block: it looks at the path's metadata first (following symbolic links), opens
//! with `O_NONBLOCK` (so a FIFO swapped in after that look cannot block the open), then checks
//! the opened file's own metadata again. [`read_regular`] reads a whole file, refusing one
//! longer than a limit (its metadata first, then while reading, for files whose length
//! changes or lies, such as those under `/proc`); [`map_regular`] memory-maps one.
//!
//! # Writing: only regular files are replaced
//! [`write_atomic`] writes to a temporary file beside the destination (`.NAME.tmpPID-N`),
//! flushes it to disk (`fsync`), and renames it over the destination, so a reader sees the
//! old file or the complete new one. An existing destination that is a directory, FIFO,
//! socket or device is refused before anything is written. A destination that is a
//! **symbolic link is written through**: the link stays, and its final target is replaced
//! (a dangling link creates its target). The temporary file is removed on every error path
//! (and when an [`AtomicFile`] is dropped without [`AtomicFile::commit`]). The new file gets
//! the permissions of the file it replaces.
//!
//! Errors are [`std::io::Error`]s whose message says what was wrong (`is a FIFO (named pipe),
//! not a regular file`); callers add the path.
use crate::limits::{self, LimitError};
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What a non-regular file is, in words (`a directory`, `a FIFO (named pipe)`, …).
pub fn kind_of(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    if t.is_symlink() {
        return "a symbolic link";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

fn not_regular(meta: &Metadata, verb: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "is {}, not a regular file (only regular files are {verb})",
            kind_of(meta)
        ),
    )
}

/// Errors unless `path` (after following symbolic links) is a regular file; returns its
/// metadata. Nothing is opened.
pub fn check_regular(path: &Path) -> io::Result<Metadata> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        Ok(meta)
    } else {
        Err(not_regular(&meta, "read"))
    }
}

/// Opens a regular file for reading (see the module docs); never blocks on a FIFO or device.
pub fn open_regular(path: &Path) -> io::Result<File> {
    check_regular(path)?;
    let mut opts = OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = opts.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(&meta, "read"));
    }
    Ok(file)
}

/// Reads a whole regular file of at most `limit` bytes (`name`: the limit's name, for the
/// error), e.g. `read_regular(p, limits::current().max_read_bytes, "max_read_bytes")`.
pub fn read_regular(path: &Path, limit: u64, name: &'static str) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    read_bounded(file, limit, name)
}

/// [`read_regular`] with the `max_read_bytes` limit.
pub fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    read_regular(path, limits::current().max_read_bytes, "max_read_bytes")
}

/// A whole UTF-8 text file, with the `max_text_bytes` limit.
pub fn read_text(path: &Path) -> io::Result<String> {
    let bytes = read_regular(path, limits::current().max_text_bytes, "max_text_bytes")?;
    String::from_utf8(bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Reads an opened file whole, refusing more than `limit` bytes.
pub fn read_bounded(file: File, limit: u64, name: &'static str) -> io::Result<Vec<u8>> {
    let len = file.metadata()?.len();
    limits::check("the file", len, name, limit)?;
    let mut out = Vec::with_capacity(len as usize);
    file.take(limit.saturating_add(1)).read_to_end(&mut out)?;
    limits::check("the file", out.len() as u64, name, limit)?;
    Ok(out)
}

/// Memory-maps a regular file read-only.
pub fn map_regular(path: &Path) -> io::Result<memmap2::Mmap> {
    let file = open_regular(path)?;
    // SAFETY: a read-only map of a regular file; a file truncated by another process while
    // mapped is outside what fcollide guards against (documented where maps are kept).
    unsafe { memmap2::Mmap::map(&file) }
}

/// Follows symbolic links from `path` to the file a write must replace, and errors if that
/// exists and is not a regular file.
pub fn output_target(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(e),
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            Ok(m) if m.is_file() => return Ok(p),
            Ok(m) => {
                let mut e = not_regular(&m, "replaced");
                if p != path {
                    e = io::Error::new(e.kind(), format!("links to {}, which {e}", p.display()));
                }
                return Err(e);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "too many levels of symbolic links",
    ))
}

/// A file being written atomically: created as a temporary file beside its destination,
/// renamed over it by [`AtomicFile::commit`], removed if dropped before.
pub struct AtomicFile {
    target: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    /// Starts writing `path` (its symlinks followed; see the module docs). Creates the
    /// destination's folder if needed.
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let target = output_target(path)?;
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "is not a file path"))?;
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!(
            ".{}.tmp{}-{}",
            name.to_string_lossy(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let out = AtomicFile {
            target,
            tmp,
            file: Some(file),
        };
        if let Ok(meta) = std::fs::metadata(&out.target) {
            std::fs::set_permissions(&out.tmp, meta.permissions())?;
        }
        Ok(out)
    }

    /// The temporary file (for writers that open it again, e.g. to fill sections).
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// The file that [`AtomicFile::commit`] replaces (symlinks followed).
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("AtomicFile used after commit")
    }

    /// Flushes the temporary file to disk and renames it over the destination (checked
    /// again to be absent or a regular file).
    pub fn commit(mut self) -> io::Result<()> {
        let file = self.file.take().expect("AtomicFile committed twice");
        file.sync_all()?;
        drop(file);
        output_target(&self.target)?;
        std::fs::rename(&self.tmp, &self.target)?;
        // The rename is durable once the folder is synced; not every platform allows it.
        if let Some(dir) = self.target.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file().flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        self.file.take();
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` atomically (see the module docs): the library's one way of
/// replacing a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)?;
    f.commit()
}

/// A reader that fails once more than `limit` bytes came out of it (`name`: the limit's
/// name), or more than `ratio` times `compressed` bytes after the first
/// [`RATIO_FREE_BYTES`](limits::RATIO_FREE_BYTES): wraps a decompressor so that a bomb
/// stops at the limit instead of exhausting memory.
pub struct InflateLimit<R> {
    inner: R,
    out: u64,
    limit: u64,
    compressed: u64,
    ratio: u64,
}

impl<R: Read> InflateLimit<R> {
    /// Wraps `inner`, a decompressor of `compressed` input bytes, with the current
    /// `max_inflated_bytes` and `max_inflate_ratio`.
    pub fn new(inner: R, compressed: u64) -> Self {
        let l = limits::current();
        InflateLimit {
            inner,
            out: 0,
            limit: l.max_inflated_bytes,
            compressed,
            ratio: l.max_inflate_ratio,
        }
    }

    /// Checks a declared output size before inflating anything.
    pub fn check_declared(what: &str, size: u64, compressed: u64) -> Result<(), LimitError> {
        let l = limits::current();
        limits::check(what, size, "max_inflated_bytes", l.max_inflated_bytes)?;
        check_ratio(what, size, compressed, l.max_inflate_ratio)
    }
}

fn check_ratio(what: &str, out: u64, compressed: u64, ratio: u64) -> Result<(), LimitError> {
    if out > limits::RATIO_FREE_BYTES {
        let r = out / compressed.max(1);
        if r > ratio {
            return Err(LimitError::new(
                format!("{what}: inflating {out} bytes from {compressed}: the compression ratio"),
                r,
                "max_inflate_ratio",
                ratio,
            ));
        }
    }
    Ok(())
}

impl<R: Read> Read for InflateLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        limits::check(
            "the decompressed data",
            self.out,
            "max_inflated_bytes",
            self.limit,
        )?;
        check_ratio(
            "the decompressed data",
            self.out,
            self.compressed,
            self.ratio,
        )?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_follows_links_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub").join("out.txt");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let names = |d: &Path| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(p.parent().unwrap()), ["out.txt"]);
        // A directory is refused and nothing is left behind.
        let taken = dir.path().join("taken");
        std::fs::create_dir(&taken).unwrap();
        let err = write_atomic(&taken, b"x").unwrap_err().to_string();
        assert!(
            err.contains("a directory") && err.contains("replaced"),
            "{err}"
        );
        // An AtomicFile dropped without commit removes its temporary file.
        let mut f = AtomicFile::create(&dir.path().join("never")).unwrap();
        f.write_all(b"abc").unwrap();
        drop(f);
        assert_eq!(names(dir.path()), ["sub", "taken"]);
        #[cfg(unix)]
        {
            // Written through a symlink (relative, two levels): the link stays.
            let real = dir.path().join("sub").join("out.txt");
            std::os::unix::fs::symlink("sub/out.txt", dir.path().join("l1")).unwrap();
            std::os::unix::fs::symlink("l1", dir.path().join("l2")).unwrap();
            write_atomic(&dir.path().join("l2"), b"third").unwrap();
            assert_eq!(std::fs::read(&real).unwrap(), b"third");
            assert!(std::fs::symlink_metadata(dir.path().join("l2"))
                .unwrap()
                .file_type()
                .is_symlink());
            // A FIFO and a device are neither replaced nor read.
            let fifo = dir.path().join("fifo");
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            // SAFETY: plain libc call on a NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            let err = write_atomic(&fifo, b"x").unwrap_err().to_string();
            assert!(err.contains("FIFO"), "{err}");
            let err = read_file(&fifo).unwrap_err().to_string();
            assert!(err.contains("FIFO") && err.contains("read"), "{err}");
            let err = write_atomic(Path::new("/dev/null"), b"x")
                .unwrap_err()
                .to_string();
            assert!(err.contains("character device"), "{err}");
            let err = read_file(Path::new("/dev/zero")).unwrap_err().to_string();
            assert!(err.contains("character device"), "{err}");
            std::os::unix::fs::symlink("/dev/null", dir.path().join("tonull")).unwrap();
            let err = write_atomic(&dir.path().join("tonull"), b"x")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("/dev/null") && err.contains("character device"),
                "{err}"
            );
        }
        let err = read_file(dir.path()).unwrap_err().to_string();
        assert!(err.contains("a directory"), "{err}");
        // Length limits.
        let big = dir.path().join("sub").join("out.txt");
        let err = read_regular(&big, 3, "max_read_bytes")
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_read_bytes"), "{err}");
    }

    #[test]
    fn inflate_limit_stops_a_bomb() {
        use flate2::{write::DeflateEncoder, Compression};
        let mut enc = DeflateEncoder::new(Vec::new(), Compression::best());
        enc.write_all(&vec![0u8; 40 << 20]).unwrap();
        let packed = enc.finish().unwrap();
        let mut r = InflateLimit::new(
            flate2::read::DeflateDecoder::new(&packed[..]),
            packed.len() as u64,
        );
        let err = io::copy(&mut r, &mut io::sink()).unwrap_err().to_string();
        assert!(err.contains("max_inflate_ratio"), "{err}");
        assert!(InflateLimit::<&[u8]>::check_declared("m", 5 << 30, 1 << 30).is_err());
        assert!(InflateLimit::<&[u8]>::check_declared("m", 1 << 20, 10).is_ok());
    }
}
