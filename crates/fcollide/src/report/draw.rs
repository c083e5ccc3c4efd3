//! Small raster drawing helpers shared by the grid and plot renderers:
//! clipped pixels, rectangles, thick lines, point markers and a colormap.
//!
//! Coordinates are signed so callers can draw partly off-image; everything is
//! clipped to the image (and, for lines and markers, to an optional clip box).
use image::{Rgb, RgbImage};

/// An axis-aligned box `[x0, x1) × [y0, y1)` in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Clip {
    pub x0: i64,
    pub y0: i64,
    pub x1: i64,
    pub y1: i64,
}

impl Clip {
    pub fn of(img: &RgbImage) -> Self {
        Clip {
            x0: 0,
            y0: 0,
            x1: img.width() as i64,
            y1: img.height() as i64,
        }
    }

    fn contains(&self, x: i64, y: i64) -> bool {
        x >= self.x0 && x < self.x1 && y >= self.y0 && y < self.y1
    }
}

/// Sets one pixel if it lies inside both the image and `clip`.
pub(super) fn put(img: &mut RgbImage, clip: Clip, x: i64, y: i64, color: [u8; 3]) {
    if clip.contains(x, y) && Clip::of(img).contains(x, y) {
        img.put_pixel(x as u32, y as u32, Rgb(color));
    }
}

/// Fills the `w × h` rectangle with top-left corner (`x`, `y`).
pub(super) fn fill_rect(img: &mut RgbImage, x: i64, y: i64, w: i64, h: i64, color: [u8; 3]) {
    let clip = Clip::of(img);
    for yy in y.max(0)..(y + h).min(clip.y1) {
        for xx in x.max(0)..(x + w).min(clip.x1) {
            img.put_pixel(xx as u32, yy as u32, Rgb(color));
        }
    }
}

/// Draws the one-pixel outline of the `w × h` rectangle at (`x`, `y`).
pub(super) fn rect_outline(img: &mut RgbImage, x: i64, y: i64, w: i64, h: i64, color: [u8; 3]) {
    fill_rect(img, x, y, w, 1, color);
    fill_rect(img, x, y + h - 1, w, 1, color);
    fill_rect(img, x, y, 1, h, color);
    fill_rect(img, x + w - 1, y, 1, h, color);
}

/// Stamps a filled square of side `thickness` centred on (`x`, `y`).
fn stamp(img: &mut RgbImage, clip: Clip, x: i64, y: i64, thickness: i64, color: [u8; 3]) {
    let lo = -(thickness - 1) / 2;
    let hi = lo + thickness.max(1);
    for dy in lo..hi {
        for dx in lo..hi {
            put(img, clip, x + dx, y + dy, color);
        }
    }
}

/// Draws a straight line (Bresenham) of the given thickness, clipped to `clip`.
pub(super) fn line(
    img: &mut RgbImage,
    clip: Clip,
    (x0, y0): (i64, i64),
    (x1, y1): (i64, i64),
    thickness: i64,
    color: [u8; 3],
) {
    let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
    let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
    let (mut x, mut y, mut err) = (x0, y0, dx + dy);
    // Guard against absurd lengths from far off-screen points.
    let mut budget = 1_000_000;
    loop {
        stamp(img, clip, x, y, thickness, color);
        if (x == x1 && y == y1) || budget == 0 {
            break;
        }
        budget -= 1;
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

/// Point marker shapes, cycled through by plot series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
}

/// Draws a filled marker of radius `r` centred on (`cx`, `cy`).
pub(super) fn marker(
    img: &mut RgbImage,
    clip: Clip,
    (cx, cy): (i64, i64),
    r: i64,
    shape: Marker,
    color: [u8; 3],
) {
    for dy in -r..=r {
        for dx in -r..=r {
            let inside = match shape {
                Marker::Circle => dx * dx + dy * dy <= r * r + r / 2,
                Marker::Square => dx.abs() < r && dy.abs() < r,
                Marker::Diamond => dx.abs() + dy.abs() <= r,
                // Apex at the top, base at the bottom.
                Marker::Triangle => 2 * dx.abs() <= dy + r,
            };
            if inside {
                put(img, clip, cx + dx, cy + dy, color);
            }
        }
    }
}

/// `c` as a CSS/SVG colour, `#rrggbb` (the SVG renderers of the grid and the plot).
pub(super) fn hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// Maps `t ∈ [0, 1]` through an "inferno"-like colormap (black → purple →
/// red → orange → pale yellow). NaN maps to black; values are clamped.
pub(super) fn heat_color(t: f32) -> [u8; 3] {
    const STOPS: [[f32; 3]; 5] = [
        [0.0, 0.0, 4.0],
        [87.0, 16.0, 110.0],
        [188.0, 55.0, 84.0],
        [249.0, 142.0, 9.0],
        [252.0, 255.0, 164.0],
    ];
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let pos = t * (STOPS.len() - 1) as f32;
    let i = (pos.floor() as usize).min(STOPS.len() - 2);
    let f = pos - i as f32;
    let mut out = [0u8; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let v = STOPS[i][k] + (STOPS[i + 1][k] - STOPS[i][k]) * f;
        *o = v.round().clamp(0.0, 255.0) as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormap_endpoints() {
        assert_eq!(heat_color(0.0), [0, 0, 4]);
        assert_eq!(heat_color(1.0), [252, 255, 164]);
        assert_eq!(heat_color(f32::NAN), [0, 0, 4]);
        assert_eq!(heat_color(7.0), [252, 255, 164]);
    }

    #[test]
    fn line_hits_both_ends_and_clips() {
        let mut img = RgbImage::new(10, 10);
        let clip = Clip::of(&img);
        line(&mut img, clip, (-5, 2), (9, 2), 1, [255, 0, 0]);
        assert_eq!(img.get_pixel(0, 2).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(9, 2).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(5, 3).0, [0, 0, 0]);
    }
}
