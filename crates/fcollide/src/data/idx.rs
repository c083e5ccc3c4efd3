//! Reading and writing IDX files of `u8` images (IDX3) and `u8` labels (IDX1),
//! raw or gzip-compressed.
//!
//! The IDX layout (big-endian throughout):
//!
//! | bytes   | IDX3 images (`*-idx3-ubyte`)  | IDX1 labels (`*-idx1-ubyte`) |
//! |---------|-------------------------------|------------------------------|
//! | 0..4    | magic `0x00000803`            | magic `0x00000801`           |
//! | 4..8    | item count `n` (u32)          | item count `n` (u32)         |
//! | 8..12   | rows `h` (u32)                | labels, `n` bytes            |
//! | 12..16  | columns `w` (u32)             |                              |
//! | 16..    | pixels, `n·h·w` bytes, row-major per image | |
//!
//! In the magic, byte 2 is the element type (`0x08` = unsigned byte) and byte 3
//! the number of dimensions. Readers check the magic, the dimensions and the
//! exact length: a short file and a file with trailing bytes are both errors.
//! Gzip input is recognised by its magic bytes `1f 8b`, never by the file name,
//! and decompressed on the fly; memory use is bounded by the data actually
//! present, whatever the header claims, and decompression stops at
//! `max_inflated_bytes` / `max_inflate_ratio` ([`crate::limits`]). Files are
//! opened with [`crate::fsutil::read_file`] (regular files only, at most
//! `max_read_bytes`) and written with [`crate::fsutil::write_atomic`]. No input
//! makes a reader panic.
use std::io::{self, Read, Write};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use flate2::{Compression, GzBuilder};

use super::DataError;
use crate::bytes::be_u32;

/// Magic number of an IDX3 file of unsigned bytes (images).
pub const IDX3_U8_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX1 file of unsigned bytes (labels).
pub const IDX1_U8_MAGIC: u32 = 0x0000_0801;
/// The two bytes every gzip stream starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A stack of `count` single-channel `rows × cols` images, one byte per pixel.
#[derive(Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image (height).
    pub rows: usize,
    /// Columns per image (width).
    pub cols: usize,
    /// `count · rows · cols` pixels, image after image, each row-major.
    pub pixels: Vec<u8>,
}

impl IdxImages {
    /// Checks that `pixels` holds exactly `count · rows · cols` bytes.
    pub fn new(count: usize, rows: usize, cols: usize, pixels: Vec<u8>) -> Result<Self, DataError> {
        let expected = count
            .checked_mul(rows)
            .and_then(|v| v.checked_mul(cols))
            .ok_or_else(|| DataError::BadDims {
                name: "IdxImages::new".into(),
                dims: format!("{count}×{rows}×{cols}"),
                reason: "total size overflows usize",
            })?;
        if pixels.len() != expected {
            return Err(DataError::BadLength {
                name: "IdxImages::new".into(),
                what: "pixels",
                expected,
                found: pixels.len(),
            });
        }
        Ok(Self {
            count,
            rows,
            cols,
            pixels,
        })
    }

    /// Pixels of image `i`. Panics if `i >= self.count`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.rows * self.cols;
        &self.pixels[i * n..(i + 1) * n]
    }
}

impl std::fmt::Debug for IdxImages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdxImages")
            .field("count", &self.count)
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("pixels", &format_args!("[{} bytes]", self.pixels.len()))
            .finish()
    }
}

/// What distinguishes the two IDX kinds this module handles.
struct Kind {
    magic: u32,
    format: &'static str,
    ndims: usize,
    what: &'static str,
}

const IMAGES: Kind = Kind {
    magic: IDX3_U8_MAGIC,
    format: "IDX3 u8 images",
    ndims: 3,
    what: "pixels",
};

const LABELS: Kind = Kind {
    magic: IDX1_U8_MAGIC,
    format: "IDX1 u8 labels",
    ndims: 1,
    what: "labels",
};

/// True if `bytes` starts with the gzip magic bytes `1f 8b`.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Reads an IDX3 `u8` images file (raw or gzip).
pub fn read_images(path: impl AsRef<Path>) -> Result<IdxImages, DataError> {
    let path = path.as_ref();
    parse_images(&read_file(path)?, &path.display().to_string())
}

/// Reads an IDX1 `u8` labels file (raw or gzip).
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<u8>, DataError> {
    let path = path.as_ref();
    parse_labels(&read_file(path)?, &path.display().to_string())
}

/// Parses IDX3 `u8` images from memory (raw or gzip); `name` labels errors.
pub fn parse_images(bytes: &[u8], name: &str) -> Result<IdxImages, DataError> {
    let (dims, pixels) = parse(bytes, name, &IMAGES)?;
    Ok(IdxImages {
        count: dims[0],
        rows: dims[1],
        cols: dims[2],
        pixels,
    })
}

/// Parses IDX1 `u8` labels from memory (raw or gzip); `name` labels errors.
pub fn parse_labels(bytes: &[u8], name: &str) -> Result<Vec<u8>, DataError> {
    parse(bytes, name, &LABELS).map(|(_, labels)| labels)
}

/// Encodes images as a raw (uncompressed) IDX3 file.
pub fn encode_images(images: &IdxImages) -> Result<Vec<u8>, DataError> {
    let name = "encode_images";
    let dims = [images.count, images.rows, images.cols];
    let expected = images
        .count
        .checked_mul(images.rows)
        .and_then(|v| v.checked_mul(images.cols))
        .ok_or_else(|| DataError::BadDims {
            name: name.into(),
            dims: dims_string(&dims),
            reason: "total size overflows usize",
        })?;
    if images.pixels.len() != expected {
        return Err(DataError::BadLength {
            name: name.into(),
            what: "pixels",
            expected,
            found: images.pixels.len(),
        });
    }
    let mut out = Vec::with_capacity(16 + expected);
    out.extend_from_slice(&IDX3_U8_MAGIC.to_be_bytes());
    for d in dims {
        out.extend_from_slice(&dim_u32(d, name, &dims)?);
    }
    out.extend_from_slice(&images.pixels);
    Ok(out)
}

/// Encodes labels as a raw (uncompressed) IDX1 file.
pub fn encode_labels(labels: &[u8]) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&IDX1_U8_MAGIC.to_be_bytes());
    out.extend_from_slice(&dim_u32(labels.len(), "encode_labels", &[labels.len()])?);
    out.extend_from_slice(labels);
    Ok(out)
}

/// Gzip-compresses `bytes` reproducibly: mtime 0, no file name, best compression.
pub fn gzip(bytes: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// Writes images as an IDX3 file, gzip-compressed if `compress`.
pub fn write_images(
    path: impl AsRef<Path>,
    images: &IdxImages,
    compress: bool,
) -> Result<(), DataError> {
    write_file(path.as_ref(), encode_images(images)?, compress)
}

/// Writes labels as an IDX1 file, gzip-compressed if `compress`.
pub fn write_labels(
    path: impl AsRef<Path>,
    labels: &[u8],
    compress: bool,
) -> Result<(), DataError> {
    write_file(path.as_ref(), encode_labels(labels)?, compress)
}

fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    crate::fsutil::read_file(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write_file(path: &Path, raw: Vec<u8>, compress: bool) -> Result<(), DataError> {
    let io_err = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bytes = if compress {
        gzip(&raw).map_err(io_err)?
    } else {
        raw
    };
    crate::fsutil::write_atomic(path, &bytes).map_err(io_err)
}

fn dim_u32(d: usize, name: &str, dims: &[usize]) -> Result<[u8; 4], DataError> {
    u32::try_from(d)
        .map(u32::to_be_bytes)
        .map_err(|_| DataError::BadDims {
            name: name.into(),
            dims: dims_string(dims),
            reason: "IDX dimensions must fit in a u32",
        })
}

fn dims_string(dims: &[usize]) -> String {
    dims.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("×")
}

/// Parses one IDX file of kind `kind` from raw or gzip bytes.
fn parse(bytes: &[u8], name: &str, kind: &Kind) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    if is_gzip(bytes) {
        let gz = crate::fsutil::InflateLimit::new(MultiGzDecoder::new(bytes), bytes.len() as u64);
        parse_reader(gz, name, kind)
    } else {
        parse_reader(bytes, name, kind)
    }
}

/// Streaming parser: reads the header, then at most one byte more than the
/// header announces, so a lying header cannot make it allocate much.
fn parse_reader<R: Read>(
    mut reader: R,
    name: &str,
    kind: &Kind,
) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    // Only the gzip decoder can fail (or stop at a limit); reading from a slice never does.
    let gz_err = |source: io::Error| {
        if source.kind() == io::ErrorKind::FileTooLarge {
            DataError::Limit {
                name: name.into(),
                msg: source.to_string(),
            }
        } else {
            DataError::Gzip {
                name: name.into(),
                source,
            }
        }
    };
    let header_len = 4 + 4 * kind.ndims;
    let mut header = Vec::with_capacity(header_len);
    reader
        .by_ref()
        .take(header_len as u64)
        .read_to_end(&mut header)
        .map_err(gz_err)?;
    let truncated_header = || DataError::TruncatedHeader {
        name: name.into(),
        format: kind.format,
        expected: header_len,
        found: header.len(),
    };
    if header.len() < 4 {
        return Err(truncated_header());
    }
    let magic = be_u32(&header, 0).ok_or_else(&truncated_header)?;
    if magic != kind.magic {
        return Err(DataError::BadMagic {
            name: name.into(),
            found: magic,
            expected: kind.magic,
            format: kind.format,
        });
    }
    if header.len() < header_len {
        return Err(truncated_header());
    }
    let dims: Vec<usize> = header[4..]
        .chunks_exact(4)
        .filter_map(|c| be_u32(c, 0))
        .map(|v| v as usize)
        .collect();
    let dims_text = dims_string(&dims);
    if dims[1..].contains(&0) {
        return Err(DataError::BadDims {
            name: name.into(),
            dims: dims_text,
            reason: "image rows and columns must be non-zero",
        });
    }
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n < usize::MAX)
        .ok_or_else(|| DataError::BadDims {
            name: name.into(),
            dims: dims_text.clone(),
            reason: "total size overflows usize",
        })?;

    let mut payload = Vec::new();
    reader
        .by_ref()
        .take(expected as u64 + 1)
        .read_to_end(&mut payload)
        .map_err(gz_err)?;
    if payload.len() < expected {
        return Err(DataError::Truncated {
            name: name.into(),
            dims: dims_text,
            what: kind.what,
            expected,
            found: payload.len(),
        });
    }
    if payload.len() > expected {
        let rest = io::copy(&mut reader, &mut io::sink()).map_err(gz_err)?;
        return Err(DataError::TrailingBytes {
            name: name.into(),
            dims: dims_text,
            what: kind.what,
            expected,
            extra: (payload.len() - expected).saturating_add(rest as usize),
        });
    }
    Ok((dims, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_images() -> IdxImages {
        let pixels: Vec<u8> = (0..3 * 4 * 5).map(|i| (i * 7 % 256) as u8).collect();
        IdxImages::new(3, 4, 5, pixels).unwrap()
    }

    #[test]
    fn images_round_trip_raw_and_gzip() {
        let images = sample_images();
        let raw = encode_images(&images).unwrap();
        assert_eq!(&raw[..4], &[0, 0, 8, 3]);
        assert_eq!(raw.len(), 16 + 60);
        assert_eq!(parse_images(&raw, "raw").unwrap(), images);
        let gz = gzip(&raw).unwrap();
        assert!(is_gzip(&gz));
        assert_eq!(parse_images(&gz, "gz").unwrap(), images);
        assert_eq!(images.image(2), &images.pixels[40..60]);
    }

    #[test]
    fn labels_round_trip_raw_and_gzip() {
        let labels = vec![0u8, 9, 3, 3, 255];
        let raw = encode_labels(&labels).unwrap();
        assert_eq!(&raw[..8], &[0, 0, 8, 1, 0, 0, 0, 5]);
        assert_eq!(parse_labels(&raw, "raw").unwrap(), labels);
        assert_eq!(parse_labels(&gzip(&raw).unwrap(), "gz").unwrap(), labels);
        // Zero items is a valid (empty) file.
        assert_eq!(
            parse_labels(&encode_labels(&[]).unwrap(), "e").unwrap(),
            Vec::<u8>::new()
        );
    }

    #[test]
    fn gzip_bomb_stops_at_the_ratio_limit() {
        // A header claiming 2³² − 1 labels followed by 64 MiB of zeros, gzipped (~65 KB).
        let mut raw = vec![0u8, 0, 8, 1, 0xff, 0xff, 0xff, 0xff];
        raw.extend(std::iter::repeat_n(0u8, 64 << 20));
        let gz = gzip(&raw).unwrap();
        let err = parse_labels(&gz, "bomb-idx1-ubyte.gz")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bomb-idx1-ubyte.gz") && err.contains("max_inflate_ratio"),
            "{err}"
        );
    }

    #[test]
    fn gzip_is_reproducible() {
        let raw = encode_labels(&[1, 2, 3]).unwrap();
        let gz = gzip(&raw).unwrap();
        assert_eq!(gz, gzip(&raw).unwrap());
        assert_eq!(&gz[4..8], &[0, 0, 0, 0], "mtime must be 0");
    }

    #[test]
    fn files_round_trip_and_gzip_detected_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let images = sample_images();
        // A gzip file without `.gz` and a raw file named `.gz` both read fine.
        let gz_path = dir.path().join("imgs-idx3-ubyte");
        let raw_path = dir.path().join("labels-idx1-ubyte.gz");
        write_images(&gz_path, &images, true).unwrap();
        write_labels(&raw_path, &[1, 2, 3], false).unwrap();
        assert!(is_gzip(&std::fs::read(&gz_path).unwrap()));
        assert!(!is_gzip(&std::fs::read(&raw_path).unwrap()));
        assert_eq!(read_images(&gz_path).unwrap(), images);
        assert_eq!(read_labels(&raw_path).unwrap(), [1, 2, 3]);
    }

    #[test]
    fn missing_file_is_io_error_naming_path() {
        let err = read_labels("/nonexistent/dir/t10k-labels-idx1-ubyte").unwrap_err();
        assert!(matches!(err, DataError::Io { .. }));
        assert!(err.to_string().contains("t10k-labels-idx1-ubyte"), "{err}");
    }

    #[test]
    fn wrong_magic() {
        let labels = encode_labels(&[1, 2]).unwrap();
        let err = parse_images(&labels, "train-images-idx3-ubyte.gz").unwrap_err();
        assert_eq!(
            err.to_string(),
            "train-images-idx3-ubyte.gz: bad magic number 0x00000801, expected 0x00000803 (IDX3 u8 images)"
        );
        let images = encode_images(&sample_images()).unwrap();
        let err = parse_labels(&gzip(&images).unwrap(), "l").unwrap_err();
        assert!(matches!(
            err,
            DataError::BadMagic {
                found: IDX3_U8_MAGIC,
                expected: IDX1_U8_MAGIC,
                ..
            }
        ));
    }

    #[test]
    fn truncated_header() {
        for len in [0, 3] {
            let err = parse_images(&[0, 0, 8, 3][..len], "x").unwrap_err();
            assert!(matches!(err, DataError::TruncatedHeader { .. }), "{err}");
        }
        let err = parse_images(&[0, 0, 8, 3, 0, 0, 0, 1, 0], "x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x: file is truncated: an IDX3 u8 images header needs 16 bytes, found 9"
        );
    }

    #[test]
    fn truncated_payload() {
        let raw = encode_images(&sample_images()).unwrap();
        let cut = &raw[..raw.len() - 7];
        let err = parse_images(cut, "imgs").unwrap_err();
        assert_eq!(
            err.to_string(),
            "imgs: file is truncated: header says 3×4×5 = 60 bytes of pixels, found 53"
        );
        // Same through gzip.
        let err = parse_images(&gzip(cut).unwrap(), "imgs.gz").unwrap_err();
        assert!(matches!(err, DataError::Truncated { found: 53, .. }));
        // A header promising far more than is present must not allocate it.
        let mut huge = IDX3_U8_MAGIC.to_be_bytes().to_vec();
        for d in [u32::MAX, 1000, 2] {
            huge.extend_from_slice(&d.to_be_bytes());
        }
        huge.extend_from_slice(&[1, 2, 3]);
        let err = parse_images(&huge, "huge").unwrap_err();
        assert!(
            matches!(err, DataError::Truncated { found: 3, .. }),
            "{err}"
        );
        // A size beyond usize is a dimension error, not an allocation.
        huge[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        let err = parse_images(&huge, "huger").unwrap_err();
        assert!(matches!(err, DataError::BadDims { .. }), "{err}");
    }

    #[test]
    fn truncated_gzip_stream() {
        let gz = gzip(&encode_images(&sample_images()).unwrap()).unwrap();
        let err = parse_images(&gz[..gz.len() - 10], "cut.gz").unwrap_err();
        assert!(
            matches!(err, DataError::Gzip { .. } | DataError::Truncated { .. }),
            "{err}"
        );
        assert!(err.to_string().starts_with("cut.gz: "));
        let err = parse_images(&[0x1f, 0x8b, 0, 1, 2, 3], "junk.gz").unwrap_err();
        assert!(matches!(err, DataError::Gzip { .. }), "{err}");
    }

    #[test]
    fn trailing_bytes() {
        let mut raw = encode_labels(&[1, 2, 3]).unwrap();
        raw.extend_from_slice(&[0; 5]);
        let err = parse_labels(&raw, "labels").unwrap_err();
        assert!(
            matches!(
                err,
                DataError::TrailingBytes {
                    extra: 5,
                    expected: 3,
                    ..
                }
            ),
            "{err}"
        );
        let err = parse_labels(&gzip(&raw).unwrap(), "labels.gz").unwrap_err();
        assert!(matches!(err, DataError::TrailingBytes { extra: 5, .. }));
        assert!(err.to_string().contains("labels.gz: 5 trailing byte(s)"));
    }

    #[test]
    fn bad_dims() {
        let mut raw = encode_images(&IdxImages::new(0, 4, 5, vec![]).unwrap()).unwrap();
        assert_eq!(parse_images(&raw, "empty").unwrap().count, 0);
        raw[11] = 0; // rows = 0
        let err = parse_images(&raw, "zero").unwrap_err();
        assert!(matches!(err, DataError::BadDims { .. }), "{err}");
        assert!(err.to_string().contains("0×0×5"), "{err}");
    }

    #[test]
    fn writer_rejects_inconsistent_images() {
        let bad = IdxImages {
            count: 2,
            rows: 2,
            cols: 2,
            pixels: vec![0; 7],
        };
        assert!(matches!(
            encode_images(&bad),
            Err(DataError::BadLength {
                expected: 8,
                found: 7,
                ..
            })
        ));
        assert!(IdxImages::new(2, 2, 2, vec![0; 9]).is_err());
        let overflow = IdxImages {
            count: usize::MAX,
            rows: 2,
            cols: 2,
            pixels: vec![],
        };
        assert!(matches!(
            encode_images(&overflow),
            Err(DataError::BadDims { .. })
        ));
    }

    #[test]
    fn corrupted_inputs_never_panic() {
        let raw = encode_images(&sample_images()).unwrap();
        let gz = gzip(&raw).unwrap();
        for base in [&raw, &gz] {
            for i in 0..base.len() {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut b = base.clone();
                    b[i] ^= flip;
                    let _ = parse_images(&b, "fuzz");
                    let _ = parse_labels(&b, "fuzz");
                }
                let _ = parse_images(&base[..i], "cut");
            }
        }
    }
}
