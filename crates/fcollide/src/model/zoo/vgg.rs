//! torchvision's VGG (`vgg11` … `vgg19`, with and without batch norm) and AlexNet.
//!
//! VGG: `features` is the configuration's 3×3 convolutions (padding 1, with a bias), each
//! followed by batch norm in the `_bn` variants and a ReLU, and a 2×2 max-pool after each of
//! the five blocks; then `avgpool` (adaptive average pooling to 7×7, the identity at 224×224),
//! `flatten`, and the classifier `fc6` (25088 → 4096) → ReLU → `fc7` (4096 → 4096) → ReLU →
//! `fc8` (4096 → classes), dropout left out. Node names are fcollide's (`conv{block}_{i}`,
//! `bn{block}_{i}`, `relu{block}_{i}`, `pool{block}`, `relu6`, `relu7`); [`aliases`] maps
//! torchvision's `features.N` / `classifier.N` onto them.
//!
//! AlexNet (torchvision's, after "One weird trick"): `features.0` (11×11, stride 4, padding 2,
//! 64) → ReLU → max-pool 3/2 → `features.3` (5×5, padding 2, 192) → ReLU → max-pool 3/2 →
//! `features.6` (3×3, 384), `features.8` (3×3, 256), `features.10` (3×3, 256) with ReLUs →
//! max-pool 3/2 → `avgpool` (adaptive, 6×6) → `flatten` → `classifier.1` (9216 → 4096) →
//! ReLU → `classifier.4` → ReLU → `classifier.6`. Names are torchvision's module paths.
use super::Zb;
use crate::model::graph::Graph;

/// Convolution widths per block of each VGG configuration (A = 11, B = 13, D = 16, E = 19).
fn config(depth: &str) -> Option<[&'static [usize]; 5]> {
    Some(match depth {
        "vgg11" => [&[64], &[128], &[256, 256], &[512, 512], &[512, 512]],
        "vgg13" => [
            &[64, 64],
            &[128, 128],
            &[256, 256],
            &[512, 512],
            &[512, 512],
        ],
        "vgg16" => [
            &[64, 64],
            &[128, 128],
            &[256, 256, 256],
            &[512, 512, 512],
            &[512, 512, 512],
        ],
        "vgg19" => [
            &[64, 64],
            &[128, 128],
            &[256, 256, 256, 256],
            &[512, 512, 512, 512],
            &[512, 512, 512, 512],
        ],
        _ => return None,
    })
}

fn split(name: &str) -> Option<([&'static [usize]; 5], bool)> {
    match name.strip_suffix("_bn") {
        Some(base) => config(base).map(|c| (c, true)),
        None => config(name).map(|c| (c, false)),
    }
}

/// A VGG (`name` is `vgg11` … `vgg19`, optionally with `_bn`).
pub(super) fn vgg(name: &str, num_classes: usize, input: [usize; 3]) -> Graph {
    let (cfg, bn) = split(name).expect("a VGG name");
    let (mut z, mut x) = Zb::new(name, input);
    let mut ch = 3;
    for (b, widths) in cfg.iter().enumerate() {
        for (i, &w) in widths.iter().enumerate() {
            let id = format!("{}_{}", b + 1, i + 1);
            x = z.conv(&format!("conv{id}"), x, ch, w, 3, 1, 1, 1, true);
            if bn {
                x = z.bn(&format!("bn{id}"), x, w);
            }
            x = z.relu(&format!("relu{id}"), x);
            ch = w;
        }
        x = z.maxpool(&format!("pool{}", b + 1), x, 2, 2, 0, false);
    }
    x = z.b.adaptive_avgpool("avgpool", x, [7, 7]);
    x = z.b.flatten("flatten", x);
    x = z.linear("fc6", x, 512 * 7 * 7, 4096);
    x = z.relu("relu6", x);
    x = z.linear("fc7", x, 4096, 4096);
    x = z.relu("relu7", x);
    z.linear("fc8", x, 4096, num_classes);
    z.finish()
}

/// torchvision key prefixes (`features.N`, `classifier.N`) → fcollide's VGG node names, or
/// `None` when `name` is not a VGG.
pub(super) fn aliases(name: &str) -> Option<Vec<(String, String)>> {
    let (cfg, bn) = split(name)?;
    let mut out = Vec::new();
    let mut idx = 0;
    for (b, widths) in cfg.iter().enumerate() {
        for i in 0..widths.len() {
            let id = format!("{}_{}", b + 1, i + 1);
            out.push((format!("features.{idx}"), format!("conv{id}")));
            idx += 1;
            if bn {
                out.push((format!("features.{idx}"), format!("bn{id}")));
                idx += 1;
            }
            idx += 1; // ReLU
        }
        idx += 1; // max-pool
    }
    for (k, fc) in [(0, "fc6"), (3, "fc7"), (6, "fc8")] {
        out.push((format!("classifier.{k}"), fc.to_string()));
    }
    Some(out)
}

/// AlexNet.
pub(super) fn alexnet(num_classes: usize, input: [usize; 3]) -> Graph {
    let (mut z, mut x) = Zb::new("alexnet", input);
    x = z.conv("features.0", x, 3, 64, 11, 4, 2, 1, true);
    x = z.relu("features.1", x);
    x = z.maxpool("features.2", x, 3, 2, 0, false);
    x = z.conv("features.3", x, 64, 192, 5, 1, 2, 1, true);
    x = z.relu("features.4", x);
    x = z.maxpool("features.5", x, 3, 2, 0, false);
    x = z.conv("features.6", x, 192, 384, 3, 1, 1, 1, true);
    x = z.relu("features.7", x);
    x = z.conv("features.8", x, 384, 256, 3, 1, 1, 1, true);
    x = z.relu("features.9", x);
    x = z.conv("features.10", x, 256, 256, 3, 1, 1, 1, true);
    x = z.relu("features.11", x);
    x = z.maxpool("features.12", x, 3, 2, 0, false);
    x = z.b.adaptive_avgpool("avgpool", x, [6, 6]);
    x = z.b.flatten("flatten", x);
    x = z.linear("classifier.1", x, 256 * 6 * 6, 4096);
    x = z.relu("classifier.2", x);
    x = z.linear("classifier.4", x, 4096, 4096);
    x = z.relu("classifier.5", x);
    z.linear("classifier.6", x, 4096, num_classes);
    z.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::import::keymap::TORCHVISION_VGG16;

    #[test]
    fn vgg16_aliases_are_the_known_table() {
        let a = aliases("vgg16").unwrap();
        let want: Vec<(String, String)> = TORCHVISION_VGG16
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(a, want);
        let bn = aliases("vgg16_bn").unwrap();
        assert_eq!(bn[0], ("features.0".into(), "conv1_1".into()));
        assert_eq!(bn[1], ("features.1".into(), "bn1_1".into()));
        assert_eq!(bn[2], ("features.3".into(), "conv1_2".into()));
        assert!(aliases("resnet18").is_none());
    }
}
