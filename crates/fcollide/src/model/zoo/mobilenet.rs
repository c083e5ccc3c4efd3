//! torchvision's MobileNetV2 (width multiplier 1).
//!
//! `features.0` is a `Conv2dNormActivation` (3×3, stride 2, 32 channels: `features.0.0` conv,
//! `.1` batch norm, `.2` ReLU6). `features.1` … `features.17` are inverted residual blocks
//! for the settings `(t, c, n, s)` = (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2),
//! (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1): with `hidden = t · inp`, an
//! expansion `conv.0` (1×1 → hidden, BN, ReLU6) when `t ≠ 1`, a depthwise `conv.{j}` (3×3,
//! stride s, `groups = hidden`, BN, ReLU6), a linear projection `conv.{j+1}` (1×1 → c) and
//! its batch norm `conv.{j+2}`; when the stride is 1 and `inp = c` the block adds its input
//! (`Add` named after the block, `features.N`). `features.18` is 1×1 → 1280 with BN and
//! ReLU6. Head: `avgpool` (global average) → `flatten` → `classifier.1` (dropout left out).
//! ReLU6 is `Clip { min: 0, max: 6 }`. All convolutions are without bias.
use super::Zb;
use crate::model::graph::Graph;

/// MobileNetV2.
pub(super) fn mobilenet_v2(num_classes: usize, input: [usize; 3]) -> Graph {
    let (mut z, mut x) = Zb::new("mobilenet_v2", input);
    x = z.conv("features.0.0", x, 3, 32, 3, 2, 1, 1, false);
    x = z.bn("features.0.1", x, 32);
    x = z.relu6("features.0.2", x);
    let settings: [(usize, usize, usize, usize); 7] = [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ];
    let mut inp = 32;
    let mut idx = 1;
    for (t, c, n, s) in settings {
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            let p = format!("features.{idx}.conv");
            let hidden = inp * t;
            let mut y = x;
            let mut j = 0;
            if t != 1 {
                y = z.conv(&format!("{p}.0.0"), y, inp, hidden, 1, 1, 0, 1, false);
                y = z.bn(&format!("{p}.0.1"), y, hidden);
                y = z.relu6(&format!("{p}.0.2"), y);
                j = 1;
            }
            y = z.conv(
                &format!("{p}.{j}.0"),
                y,
                hidden,
                hidden,
                3,
                stride,
                1,
                hidden,
                false,
            );
            y = z.bn(&format!("{p}.{j}.1"), y, hidden);
            y = z.relu6(&format!("{p}.{j}.2"), y);
            y = z.conv(&format!("{p}.{}", j + 1), y, hidden, c, 1, 1, 0, 1, false);
            y = z.bn(&format!("{p}.{}", j + 2), y, c);
            if stride == 1 && inp == c {
                y = z.b.add(&format!("features.{idx}"), &[x, y]);
            }
            x = y;
            inp = c;
            idx += 1;
        }
    }
    x = z.conv("features.18.0", x, inp, 1280, 1, 1, 0, 1, false);
    x = z.bn("features.18.1", x, 1280);
    x = z.relu6("features.18.2", x);
    x = z.b.adaptive_avgpool("avgpool", x, [1, 1]);
    x = z.b.flatten("flatten", x);
    z.linear("classifier.1", x, 1280, num_classes);
    z.finish()
}
