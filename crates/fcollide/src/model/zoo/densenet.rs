//! torchvision's DenseNet-121/161/169/201 (bottleneck size 4, compression 0.5).
//!
//! Stem: `features.conv0` (7×7, stride 2, padding 3) → `features.norm0` → `features.relu0` →
//! `features.pool0` (max 3×3, stride 2, padding 1). Dense block `k` has `n_k` layers; layer
//! `l` reads the `Concat` of the block's input and the outputs of layers `1 … l−1`
//! (`features.denseblockK.denselayerL.cat`; the first layer reads the block input directly)
//! and computes `norm1` → `relu1` → `conv1` (1×1 → 4·growth) → `norm2` → `relu2` → `conv2`
//! (3×3, padding 1 → growth). The block's output is the `Concat` of its input and all its
//! layers' outputs (`features.denseblockK`). Between blocks, `features.transitionK`: `norm` →
//! `relu` → `conv` (1×1, half the channels) → `pool` (average 2×2, stride 2). Head:
//! `features.norm5` → `relu` (torchvision's functional ReLU) → `avgpool` (global average) →
//! `flatten` → `classifier`. Convolutions have no bias. Batch norms that read a `Concat` (or a
//! pooling) are not foldable and stay per-channel affine nodes.
use super::Zb;
use crate::model::graph::Graph;

/// A DenseNet with growth rate `growth`, `blocks` layers per dense block and `init` stem
/// channels.
pub(super) fn densenet(
    arch: &str,
    growth: usize,
    blocks: [usize; 4],
    init: usize,
    num_classes: usize,
    input: [usize; 3],
) -> Graph {
    const BN_SIZE: usize = 4;
    let (mut z, mut x) = Zb::new(arch, input);
    x = z.conv("features.conv0", x, 3, init, 7, 2, 3, 1, false);
    x = z.bn("features.norm0", x, init);
    x = z.relu("features.relu0", x);
    x = z.maxpool("features.pool0", x, 3, 2, 1, false);
    let mut c = init;
    for (bi, &n) in blocks.iter().enumerate() {
        let block = format!("features.denseblock{}", bi + 1);
        let mut feats = vec![x];
        for l in 1..=n {
            let p = format!("{block}.denselayer{l}");
            let cin = c + (l - 1) * growth;
            let inp = if feats.len() == 1 {
                feats[0]
            } else {
                z.b.concat(&format!("{p}.cat"), &feats)
            };
            let mut y = z.bn(&format!("{p}.norm1"), inp, cin);
            y = z.relu(&format!("{p}.relu1"), y);
            y = z.conv(
                &format!("{p}.conv1"),
                y,
                cin,
                BN_SIZE * growth,
                1,
                1,
                0,
                1,
                false,
            );
            y = z.bn(&format!("{p}.norm2"), y, BN_SIZE * growth);
            y = z.relu(&format!("{p}.relu2"), y);
            y = z.conv(
                &format!("{p}.conv2"),
                y,
                BN_SIZE * growth,
                growth,
                3,
                1,
                1,
                1,
                false,
            );
            feats.push(y);
        }
        x = z.b.concat(&block, &feats);
        c += n * growth;
        if bi + 1 < blocks.len() {
            let p = format!("features.transition{}", bi + 1);
            x = z.bn(&format!("{p}.norm"), x, c);
            x = z.relu(&format!("{p}.relu"), x);
            x = z.conv(&format!("{p}.conv"), x, c, c / 2, 1, 1, 0, 1, false);
            x = z.avgpool(&format!("{p}.pool"), x, 2, 2);
            c /= 2;
        }
    }
    x = z.bn("features.norm5", x, c);
    x = z.relu("relu", x);
    x = z.b.adaptive_avgpool("avgpool", x, [1, 1]);
    x = z.b.flatten("flatten", x);
    z.linear("classifier", x, c, num_classes);
    z.finish()
}
