//! Reading an image file (PNG, JPEG) as a model input `[C, H, W]` with values in `[0, 1]`.
//!
//! Grey models (`C = 1`) take the luma channel, colour models (`C = 3`) RGB. An image of the
//! model's size is used as is; another size is brought to it by [`super::transform`]:
//! torchvision's standard evaluation transform by default (shorter side to 256 with
//! antialiased bilinear, centre crop 224, scaled to the model's size), or the direct one.
use super::transform::{fit, to_chw, Resize};
use super::DataError;
use std::path::Path;

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
    let img = image::open(path).map_err(|e| bad(format!("cannot decode image: {e}")))?;
    let img = fit(&img, h, w, mode);
    match to_chw(&img, c) {
        Some(v) => Ok(v),
        None => Err(bad(format!(
            "models with {c} channels cannot read image files"
        ))),
    }
}
