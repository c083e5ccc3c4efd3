//! torchvision's SqueezeNet 1.0 and 1.1.
//!
//! A fire module `features.N` is `squeeze` (1×1) → `squeeze_activation` (ReLU), then
//! `expand1x1` (1×1) → `expand1x1_activation` and `expand3x3` (3×3, padding 1) →
//! `expand3x3_activation` side by side, concatenated along channels (the `Concat` is named
//! `features.N`). Max-pools are 3×3, stride 2, rounding up (`ceil_mode`).
//!
//! - 1.0: `features.0` (7×7, stride 2, 96) → ReLU → pool → fire 3, 4, 5 → pool `features.6`
//!   → fire 7, 8, 9, 10 → pool `features.11` → fire 12.
//! - 1.1: `features.0` (3×3, stride 2, 64) → ReLU → pool → fire 3, 4 → pool `features.5` →
//!   fire 6, 7 → pool `features.8` → fire 9, 10, 11, 12.
//!
//! Head: `classifier.1` (1×1 conv, 512 → classes; dropout left out) → `classifier.2` (ReLU)
//! → `classifier.3` (global average pooling) → `flatten`. All convolutions have a bias.
use super::Zb;
use crate::model::graph::Graph;

/// SqueezeNet 1.0 (`v1_1 = false`) or 1.1.
pub(super) fn squeezenet(arch: &str, v1_1: bool, num_classes: usize, input: [usize; 3]) -> Graph {
    let (mut z, mut x) = Zb::new(arch, input);
    // (index, squeeze, expand) per fire module; pools at the other indices.
    let (stem, fires, pools): (_, &[(usize, usize, usize)], &[usize]) = if v1_1 {
        (
            (64, 3),
            &[
                (3, 16, 64),
                (4, 16, 64),
                (6, 32, 128),
                (7, 32, 128),
                (9, 48, 192),
                (10, 48, 192),
                (11, 64, 256),
                (12, 64, 256),
            ],
            &[2, 5, 8],
        )
    } else {
        (
            (96, 7),
            &[
                (3, 16, 64),
                (4, 16, 64),
                (5, 32, 128),
                (7, 32, 128),
                (8, 48, 192),
                (9, 48, 192),
                (10, 64, 256),
                (12, 64, 256),
            ],
            &[2, 6, 11],
        )
    };
    x = z.conv("features.0", x, 3, stem.0, stem.1, 2, 0, 1, true);
    x = z.relu("features.1", x);
    let mut c = stem.0;
    for idx in 2..=12 {
        if pools.contains(&idx) {
            x = z.maxpool(&format!("features.{idx}"), x, 3, 2, 0, true);
            continue;
        }
        let &(_, sq, e) = fires.iter().find(|f| f.0 == idx).expect("fire index");
        let p = format!("features.{idx}");
        let s = z.conv(&format!("{p}.squeeze"), x, c, sq, 1, 1, 0, 1, true);
        let s = z.relu(&format!("{p}.squeeze_activation"), s);
        let a = z.conv(&format!("{p}.expand1x1"), s, sq, e, 1, 1, 0, 1, true);
        let a = z.relu(&format!("{p}.expand1x1_activation"), a);
        let b = z.conv(&format!("{p}.expand3x3"), s, sq, e, 3, 1, 1, 1, true);
        let b = z.relu(&format!("{p}.expand3x3_activation"), b);
        x = z.b.concat(&p, &[a, b]);
        c = 2 * e;
    }
    x = z.conv("classifier.1", x, c, num_classes, 1, 1, 0, 1, true);
    x = z.relu("classifier.2", x);
    x = z.b.adaptive_avgpool("classifier.3", x, [1, 1]);
    z.b.flatten("flatten", x);
    z.finish()
}
