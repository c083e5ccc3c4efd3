//! Reading an image file (PNG, JPEG) as a model input `[C, H, W]` with values in `[0, 1]`.
//!
//! Grey models (`C = 1`) take the luma channel, colour models (`C = 3`) RGB. An image of the
//! model's size is used as is; another size is brought to it by [`super::transform`]:
//! torchvision's standard evaluation transform by default (shorter side to 256 with
//! antialiased bilinear, centre crop 224, scaled to the model's size), or the direct one.
//!
//! Only regular files are read ([`crate::fsutil::open_regular`]). The image's dimensions are
//! read from its header first: an image of more than `max_image_pixels` pixels
//! ([`crate::limits`]) is refused before it is decoded, and so is a resize whose intermediate
//! image would be larger (a 1×200,000 strip brought to a shorter side of 256).
use super::transform::{fit, resized_size, to_chw, Resize};
use super::DataError;
use image::ImageReader;
use std::io::BufReader;
use std::path::Path;

fn reader(path: &Path) -> Result<ImageReader<BufReader<std::fs::File>>, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = crate::fsutil::open_regular(path).map_err(io)?;
    ImageReader::new(BufReader::new(file))
        .with_guessed_format()
        .map_err(io)
}

/// Reads `path` as a `[C, H, W]` input in `[0, 1]` with the standard transform.
pub fn read_image(path: &Path, shape: [usize; 3]) -> Result<Vec<f32>, DataError> {
    read_image_with(path, shape, Resize::Standard)
}

/// Reads `path` as a `[C, H, W]` input in `[0, 1]`, resized as `mode` says.
pub fn read_image_with(
    path: &Path,
    shape: [usize; 3],
    mode: Resize,
) -> Result<Vec<f32>, DataError> {
    let [c, h, w] = shape;
    let bad = |msg: String| DataError::Image {
        path: path.display().to_string(),
        msg,
    };
    if c != 1 && c != 3 {
        return Err(bad(format!(
            "models with {c} channels cannot read image files"
        )));
    }
    if h == 0 || w == 0 {
        return Err(bad(format!("the model's input is {h}×{w}")));
    }
    let max = crate::limits::current().max_image_pixels;
    let limit = |what: String, px: u64| {
        crate::limits::check(&what, px, "max_image_pixels", max)
            .map(|_| ())
            .map_err(|e| DataError::Limit {
                name: path.display().to_string(),
                msg: e.to_string(),
            })
    };
    let (iw, ih) = reader(path)?
        .into_dimensions()
        .map_err(|e| bad(format!("cannot decode image: {e}")))?;
    if iw == 0 || ih == 0 {
        return Err(bad(format!("the image is {iw}×{ih} pixels")));
    }
    limit(
        format!("the image ({iw}×{ih} pixels)"),
        u64::from(iw) * u64::from(ih),
    )?;
    if let Some((nw, nh)) = resized_size(iw, ih, h, w, mode) {
        let px = nw * nh;
        let px = if px.is_finite() && px < u64::MAX as f64 {
            px as u64
        } else {
            u64::MAX
        };
        limit(
            format!("resizing {iw}×{ih} to {h}×{w} goes through {nw}×{nh} pixels, which"),
            px,
        )?;
    }
    let mut r = reader(path)?;
    let mut lim = image::Limits::default();
    lim.max_image_width = Some(iw);
    lim.max_image_height = Some(ih);
    lim.max_alloc = Some(max.saturating_mul(16));
    r.limits(lim);
    let img = r
        .decode()
        .map_err(|e| bad(format!("cannot decode image: {e}")))?;
    let img = fit(&img, h, w, mode);
    match to_chw(&img, c) {
        Some(v) => Ok(v),
        None => Err(bad(format!(
            "models with {c} channels cannot read image files"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small PNG declaring `w×h` RGB pixels: signature, IHDR, a tiny IDAT (a few zero
    /// bytes, far from the declared size) and IEND.
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        fn chunk(out: &mut Vec<u8>, kind: &[u8], body: &[u8]) {
            let mut c = kind.to_vec();
            c.extend(body);
            out.extend((body.len() as u32).to_be_bytes());
            out.extend(&c);
            let mut crc = flate2::Crc::new();
            crc.update(&c);
            out.extend(crc.sum().to_be_bytes());
        }
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([8, 2, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut z, &[0u8; 64]).unwrap();
        chunk(&mut out, b"IDAT", &z.finish().unwrap());
        chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn huge_images_and_huge_resizes_are_refused_before_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("huge.png");
        std::fs::write(&p, png_header(200_000, 200_000)).unwrap();
        let err = read_image(&p, [3, 224, 224]).unwrap_err().to_string();
        assert!(
            err.contains("huge.png") && err.contains("max_image_pixels"),
            "{err}"
        );
        // A real 1×200,000 strip: small to decode, 10 G pixels once resized.
        let strip = dir.path().join("strip.png");
        image::RgbImage::new(200_000, 1).save(&strip).unwrap();
        let err = read_image(&strip, [3, 224, 224]).unwrap_err().to_string();
        assert!(
            err.contains("strip.png") && err.contains("resizing"),
            "{err}"
        );
        // Directories are refused by name.
        let err = read_image(dir.path(), [3, 224, 224])
            .unwrap_err()
            .to_string();
        assert!(err.contains("a directory"), "{err}");
        // An ordinary image still reads.
        let ok = dir.path().join("ok.png");
        image::RgbImage::new(40, 30).save(&ok).unwrap();
        assert_eq!(read_image(&ok, [3, 28, 28]).unwrap().len(), 3 * 28 * 28);
    }
}
