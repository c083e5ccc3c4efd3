//! Bringing a decoded image to a model's input size.
//!
//! - [`Resize::Standard`] (the default) is torchvision's ImageNet evaluation transform,
//!   `Resize(256)` then `CenterCrop(224)`, scaled to the model's size: the shorter side
//!   goes to `S = round(256·max(H, W)/224)` with antialiased bilinear resampling (the longer
//!   side to `⌊S·long/short⌋`, as torchvision computes it), then the centre `H × W` is cut
//!   out, its offset `round((size − crop)/2)` with halves to even as Python rounds.
//! - [`Resize::Direct`] brings the shorter side straight to `max(H, W)` with Lanczos-3, then
//!   centre-crops (fcollide's transform before the standard one was the default).
//!
//! An image already of the model's size is used as is.
use image::imageops::FilterType;
use image::DynamicImage;
use serde::{Deserialize, Serialize};

/// How an image of another size is brought to the model's input size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resize {
    /// torchvision's `Resize(256)` + `CenterCrop(224)`, scaled to the model's size.
    #[default]
    Standard,
    /// The shorter side straight to the crop size (Lanczos-3), then a centre crop.
    Direct,
}

impl std::str::FromStr for Resize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "standard" => Ok(Resize::Standard),
            "direct" => Ok(Resize::Direct),
            other => Err(format!("'{other}': expected standard or direct")),
        }
    }
}

/// Python's `round` (halves to even) of a non-negative value.
fn round_half_even(v: f64) -> u32 {
    let f = v.floor();
    let d = v - f;
    let r = if d > 0.5 || (d == 0.5 && f % 2.0 != 0.0) {
        f + 1.0
    } else {
        f
    };
    r as u32
}

/// The size `(width, height)` an `iw × ih` image is resized to before the centre crop to
/// `h × w` (`None` when it already has the model's size). Computed in `f64` so that an absurd
/// aspect ratio gives a huge size to refuse rather than an overflow.
pub fn resized_size(iw: u32, ih: u32, h: usize, w: usize, mode: Resize) -> Option<(f64, f64)> {
    if iw as usize == w && ih as usize == h {
        return None;
    }
    let crop = h.max(w) as f64;
    let side = match mode {
        Resize::Standard => (crop * 256.0 / 224.0).round(),
        Resize::Direct => crop,
    };
    let (short, long) = (f64::from(iw.min(ih)).max(1.0), f64::from(iw.max(ih)));
    let new_long = (side * long / short).floor().max(side);
    let (nw, nh) = if iw <= ih {
        (side, new_long)
    } else {
        (new_long, side)
    };
    Some((nw.max(w as f64), nh.max(h as f64)))
}

/// The image resized and centre-cropped to `h × w` as `mode` says. The caller bounds the
/// intermediate size ([`resized_size`]) beforehand.
pub fn fit(img: &DynamicImage, h: usize, w: usize, mode: Resize) -> DynamicImage {
    let (iw, ih) = (img.width(), img.height());
    let Some((nw, nh)) = resized_size(iw, ih, h, w, mode) else {
        return img.clone();
    };
    let filter = match mode {
        Resize::Standard => FilterType::Triangle,
        Resize::Direct => FilterType::Lanczos3,
    };
    let (nw, nh) = (nw as u32, nh as u32);
    let r = img.resize_exact(nw, nh, filter);
    let left = round_half_even((nw - w as u32) as f64 / 2.0);
    let top = round_half_even((nh - h as u32) as f64 / 2.0);
    r.crop_imm(left, top, w as u32, h as u32)
}

/// `[C, H, W]` values in `[0, 1]` of an image already of size `H × W`: the luma channel for
/// `C = 1`, RGB for `C = 3`; `None` for another channel count.
pub fn to_chw(img: &DynamicImage, c: usize) -> Option<Vec<f32>> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    match c {
        1 => Some(
            img.to_luma8()
                .pixels()
                .map(|p| f32::from(p.0[0]) / 255.0)
                .collect(),
        ),
        3 => {
            let rgb = img.to_rgb8();
            let mut out = vec![0.0f32; 3 * h * w];
            for (i, p) in rgb.pixels().enumerate() {
                for ch in 0..3 {
                    out[ch * h * w + i] = f32::from(p.0[ch]) / 255.0;
                }
            }
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> DynamicImage {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/transform")
            .join(name);
        image::open(p).unwrap()
    }

    /// The standard transform matches torchvision's `Resize(256)` + `CenterCrop(224)` (the
    /// fixture from `scripts/make_transform_fixture.py`) to within rounding of 8-bit pixels.
    #[test]
    fn standard_matches_torchvision() {
        let input = fixture("input-320x240.png").to_rgb8();
        let want = to_chw(&fixture("torchvision-224.png"), 3).unwrap();
        let got = to_chw(
            &fit(&DynamicImage::ImageRgb8(input), 224, 224, Resize::Standard),
            3,
        )
        .unwrap();
        let diffs: Vec<f32> = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).collect();
        let max = diffs.iter().copied().fold(0.0, f32::max);
        let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
        // Measured: max 1/255, mean 0.12/255 (8-bit rounding of the two resamplers).
        assert!(max <= 1.5 / 255.0, "max |Δ| {max}");
        assert!(mean <= 0.25 / 255.0, "mean |Δ| {mean}");
        // The old direct transform is measurably different on the same image.
        let direct = to_chw(
            &fit(&fixture("input-320x240.png"), 224, 224, Resize::Direct),
            3,
        )
        .unwrap();
        let md = direct
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(md > 0.05, "{md}");
    }

    #[test]
    fn python_rounding() {
        assert_eq!(round_half_even(16.0), 16);
        assert_eq!(round_half_even(58.5), 58);
        assert_eq!(round_half_even(59.5), 60);
        assert_eq!(round_half_even(0.5), 0);
        assert_eq!("direct".parse::<Resize>(), Ok(Resize::Direct));
        assert!("lanczos".parse::<Resize>().is_err());
    }
}
