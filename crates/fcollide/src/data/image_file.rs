//! Reading an image file (PNG, JPEG) as a model input `[C, H, W]` with values in `[0, 1]`.
//!
//! Grey models (`C = 1`) take the luma channel, colour models (`C = 3`) RGB. An image of the
//! model's size is used as is; another size is resized (Lanczos-3) so its shorter side is
//! `max(H, W)`, then centre-cropped to `H × W` (the usual ImageNet evaluation transform when
//! the shorter side is first brought to 256 by the user, or directly to 224 here).
use super::DataError;
use image::imageops::FilterType;
use std::path::Path;

/// Reads `path` as a `[C, H, W]` input in `[0, 1]`.
pub fn read_image(path: &Path, shape: [usize; 3]) -> Result<Vec<f32>, DataError> {
    let [c, h, w] = shape;
    let bad = |msg: String| DataError::Image {
        path: path.display().to_string(),
        msg,
    };
    let img = image::open(path).map_err(|e| bad(format!("cannot decode image: {e}")))?;
    let img = if img.width() as usize == w && img.height() as usize == h {
        img
    } else {
        let side = h.max(w) as f64;
        let scale = side / img.width().min(img.height()) as f64;
        let (nw, nh) = (
            ((img.width() as f64 * scale).round() as u32).max(w as u32),
            ((img.height() as f64 * scale).round() as u32).max(h as u32),
        );
        let r = img.resize_exact(nw, nh, FilterType::Lanczos3);
        r.crop_imm((nw - w as u32) / 2, (nh - h as u32) / 2, w as u32, h as u32)
    };
    match c {
        1 => Ok(img
            .to_luma8()
            .pixels()
            .map(|p| p.0[0] as f32 / 255.0)
            .collect()),
        3 => {
            let rgb = img.to_rgb8();
            let mut out = vec![0.0f32; 3 * h * w];
            for (i, p) in rgb.pixels().enumerate() {
                for ch in 0..3 {
                    out[ch * h * w + i] = p.0[ch] as f32 / 255.0;
                }
            }
            Ok(out)
        }
        _ => Err(bad(format!(
            "models with {c} channels cannot read image files"
        ))),
    }
}
