//! torchvision's ResNet, ResNeXt and Wide ResNet (`torchvision.models.resnet`, v1.5: the
//! stride of a bottleneck block is on its 3×3 convolution).
//!
//! Stem: `conv1` (7×7, stride 2, padding 3, no bias) → `bn1` → `relu` → `maxpool` (3×3,
//! stride 2, padding 1). Then four stages `layer1` … `layer4` of `planes` 64, 128, 256, 512
//! (stride 1, 2, 2, 2 on each stage's first block). A basic block (expansion 1) is
//! `conv1` (3×3, stride s) → `bn1` → `relu` → `conv2` (3×3) → `bn2`; a bottleneck block
//! (expansion 4) with `width = ⌊planes · width_per_group / 64⌋ · groups` is `conv1` (1×1) →
//! `bn1` → `relu` → `conv2` (3×3, stride s, `groups`) → `bn2` → `relu_1` → `conv3` (1×1, to
//! `4·planes`) → `bn3`. When the stride or the channel count changes, the skip path is
//! `downsample.0` (1×1 conv, stride s) → `downsample.1` (batch norm). The block's output is
//! `relu(branch + skip)`: the `Add` is `layerK.B.add`, the ReLU `layerK.B`. Head: `avgpool`
//! (global average) → `flatten` → `fc`.
use super::Zb;
use crate::model::graph::Graph;

/// Residual block kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Block {
    /// Two 3×3 convolutions (ResNet-18/34).
    Basic,
    /// 1×1, 3×3 (grouped), 1×1 with expansion 4 (ResNet-50 and up, ResNeXt, Wide ResNet).
    Bottleneck,
}

/// A ResNet with `layers` blocks per stage.
pub(super) fn resnet(
    arch: &str,
    block: Block,
    layers: [usize; 4],
    groups: usize,
    width_per_group: usize,
    num_classes: usize,
    input: [usize; 3],
) -> Graph {
    let (mut z, mut x) = Zb::new(arch, input);
    x = z.conv("conv1", x, 3, 64, 7, 2, 3, 1, false);
    x = z.bn("bn1", x, 64);
    x = z.relu("relu", x);
    x = z.maxpool("maxpool", x, 3, 2, 1, false);
    let mut inplanes = 64;
    for (li, (&n, planes)) in layers.iter().zip([64usize, 128, 256, 512]).enumerate() {
        for bi in 0..n {
            let s = if bi == 0 && li > 0 { 2 } else { 1 };
            let p = format!("layer{}.{bi}", li + 1);
            let input = x;
            let (mut y, out) = match block {
                Block::Basic => {
                    let mut y = z.conv(
                        &format!("{p}.conv1"),
                        input,
                        inplanes,
                        planes,
                        3,
                        s,
                        1,
                        1,
                        false,
                    );
                    y = z.bn(&format!("{p}.bn1"), y, planes);
                    y = z.relu(&format!("{p}.relu"), y);
                    y = z.conv(&format!("{p}.conv2"), y, planes, planes, 3, 1, 1, 1, false);
                    (z.bn(&format!("{p}.bn2"), y, planes), planes)
                }
                Block::Bottleneck => {
                    let width = planes * width_per_group / 64 * groups;
                    let out = planes * 4;
                    let mut y = z.conv(
                        &format!("{p}.conv1"),
                        input,
                        inplanes,
                        width,
                        1,
                        1,
                        0,
                        1,
                        false,
                    );
                    y = z.bn(&format!("{p}.bn1"), y, width);
                    y = z.relu(&format!("{p}.relu"), y);
                    y = z.conv(
                        &format!("{p}.conv2"),
                        y,
                        width,
                        width,
                        3,
                        s,
                        1,
                        groups,
                        false,
                    );
                    y = z.bn(&format!("{p}.bn2"), y, width);
                    y = z.relu(&format!("{p}.relu_1"), y);
                    y = z.conv(&format!("{p}.conv3"), y, width, out, 1, 1, 0, 1, false);
                    (z.bn(&format!("{p}.bn3"), y, out), out)
                }
            };
            // The skip path comes after the branch, as in the state dict.
            let skip = if s != 1 || inplanes != out {
                let d = z.conv(
                    &format!("{p}.downsample.0"),
                    input,
                    inplanes,
                    out,
                    1,
                    s,
                    0,
                    1,
                    false,
                );
                z.bn(&format!("{p}.downsample.1"), d, out)
            } else {
                input
            };
            y = z.b.add(&format!("{p}.add"), &[y, skip]);
            x = z.relu(&p, y);
            inplanes = out;
        }
    }
    x = z.b.adaptive_avgpool("avgpool", x, [1, 1]);
    x = z.b.flatten("flatten", x);
    z.linear("fc", x, inplanes, num_classes);
    z.finish()
}
