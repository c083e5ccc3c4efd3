//! Architecture templates of the common torchvision ReLU classifiers.
//!
//! Each template is a [`Graph`] with zero-filled weights (batch norms as the identity: `γ = 1`,
//! `β = 0`, `μ = 0`, `σ² = 1`, `ε = 10⁻⁵`) of the sizes torchvision's constructor gives, for
//! `num_classes` outputs (default 1000) and `[3, H, W]` inputs (default `[3, 224, 224]`). The
//! weights come from a file through [`crate::model::import::keymap`].
//!
//! - **Names.** Nodes with parameters are named by torchvision's module paths, so that a
//!   `state_dict()` matches by name (`layer1.0.conv1.weight`, `features.denseblock1.
//!   denselayer1.norm1.running_mean`, …), and the nodes are in the order of the state dict.
//!   VGG keeps fcollide's names (`conv1_1` … `conv5_3`, with `bn1_1` … after each convolution
//!   in the `_bn` variants, `fc6`, `fc7`, `fc8`) and reads torchvision's `features.N` /
//!   `classifier.N` keys through an alias table ([`aliases`]). Nodes without parameters take
//!   the module's name where torchvision has a module (`relu`, `maxpool`, `features.1`, …);
//!   the node that produces a module's output where torchvision computes it in `forward`
//!   takes the module's name: the ReLU after a residual `Add` is the ResNet block
//!   (`layer1.0`, its `Add` is `layer1.0.add`), the `Concat` of a SqueezeNet fire module is
//!   `features.3`, of a dense block `features.denseblock1`, the residual `Add` of a
//!   MobileNetV2 block `features.2`. ResNet's second and third uses of a block's `relu`
//!   module are `relu_1`, `relu_2`.
//! - **Semantics.** Each template computes torchvision's `forward` in eval mode: dropout is
//!   the identity and is left out; `ReLU6` is `Clip { min: 0, max: 6 }`; SqueezeNet's
//!   max-pools round up (`ceil_mode`); DenseNet's `torch.cat` of earlier features is a
//!   `Concat` node read by each dense layer.
//! - **Preprocessing.** Every template starts with the ImageNet normalization node `norm`,
//!   `(x − [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]` on RGB pixels in `[0, 1]`: the
//!   canonical preprocessing of torchvision's classifiers (their transform: resize the shorter
//!   side to 256, centre-crop 224, scale to `[0, 1]`, normalize).
//!
//! The templates also take smaller inputs (e.g. `[3, 32, 32]` for a ResNet) as long as every
//! window fits, as torchvision's modules do; [`build`] reports where one does not.
use super::graph::fold::{IMAGENET_MEAN, IMAGENET_STD};
use super::graph::{Graph, GraphBuilder, Op};
use super::import::keymap::{self, MatchOptions, Matched};
use super::import::{ImportError, RawTensor};
use super::ModelError;

mod densenet;
mod mobilenet;
mod resnet;
mod squeezenet;
mod vgg;

/// The names [`template`] knows (defined in [`crate::model::torchvision`], which the file
/// readers use without depending on the templates).
pub use super::torchvision::NAMES;

/// The most classes a template may have (a guard against absurd shapes in files and specs).
pub const MAX_CLASSES: usize = 1 << 20;
/// The largest input side a template may take.
pub const MAX_SIDE: usize = 8192;

/// Sizes of a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZooOptions {
    /// Outputs of the classifier (torchvision's `num_classes`).
    pub num_classes: usize,
    /// Input height and width (3 channels).
    pub input_hw: [usize; 2],
}

impl Default for ZooOptions {
    fn default() -> Self {
        ZooOptions {
            num_classes: 1000,
            input_hw: [224, 224],
        }
    }
}

impl ZooOptions {
    /// Checks the sizes against [`MAX_CLASSES`] and [`MAX_SIDE`].
    pub fn check(&self) -> Result<(), String> {
        if self.num_classes == 0 || self.num_classes > MAX_CLASSES {
            return Err(format!(
                "num_classes {} is outside 1..={MAX_CLASSES}",
                self.num_classes
            ));
        }
        if self.input_hw.iter().any(|&s| s == 0 || s > MAX_SIDE) {
            return Err(format!(
                "input size {:?} is outside 1..={MAX_SIDE} per side",
                self.input_hw
            ));
        }
        Ok(())
    }
}

/// The template called `name` at torchvision's default sizes (1000 classes, 224×224), or
/// `None` when `name` is not in [`NAMES`].
pub fn template(name: &str) -> Option<Graph> {
    build(name, &ZooOptions::default()).ok()
}

/// The template called `name` with the given sizes. Errors: an unknown name (listing
/// [`NAMES`]), sizes outside the limits, or an input too small for the architecture (naming
/// the node where a window no longer fits).
pub fn build(name: &str, opts: &ZooOptions) -> Result<Graph, ModelError> {
    opts.check().map_err(|msg| ModelError::Shape {
        layer: "input".into(),
        msg: format!("{name}: {msg}"),
    })?;
    let nc = opts.num_classes;
    let input = [3, opts.input_hw[0], opts.input_hw[1]];
    let g = match name {
        "resnet18" => resnet::resnet(name, resnet::Block::Basic, [2, 2, 2, 2], 1, 64, nc, input),
        "resnet34" => resnet::resnet(name, resnet::Block::Basic, [3, 4, 6, 3], 1, 64, nc, input),
        "resnet50" => resnet::resnet(
            name,
            resnet::Block::Bottleneck,
            [3, 4, 6, 3],
            1,
            64,
            nc,
            input,
        ),
        "resnet101" => resnet::resnet(
            name,
            resnet::Block::Bottleneck,
            [3, 4, 23, 3],
            1,
            64,
            nc,
            input,
        ),
        "resnet152" => resnet::resnet(
            name,
            resnet::Block::Bottleneck,
            [3, 8, 36, 3],
            1,
            64,
            nc,
            input,
        ),
        "resnext50_32x4d" => resnet::resnet(
            name,
            resnet::Block::Bottleneck,
            [3, 4, 6, 3],
            32,
            4,
            nc,
            input,
        ),
        "resnext101_32x8d" => resnet::resnet(
            name,
            resnet::Block::Bottleneck,
            [3, 4, 23, 3],
            32,
            8,
            nc,
            input,
        ),
        "wide_resnet50_2" => resnet::resnet(
            name,
            resnet::Block::Bottleneck,
            [3, 4, 6, 3],
            1,
            128,
            nc,
            input,
        ),
        "wide_resnet101_2" => resnet::resnet(
            name,
            resnet::Block::Bottleneck,
            [3, 4, 23, 3],
            1,
            128,
            nc,
            input,
        ),
        "alexnet" => vgg::alexnet(nc, input),
        "vgg11" | "vgg13" | "vgg16" | "vgg19" | "vgg11_bn" | "vgg13_bn" | "vgg16_bn"
        | "vgg19_bn" => vgg::vgg(name, nc, input),
        "mobilenet_v2" => mobilenet::mobilenet_v2(nc, input),
        "densenet121" => densenet::densenet(name, 32, [6, 12, 24, 16], 64, nc, input),
        "densenet161" => densenet::densenet(name, 48, [6, 12, 36, 24], 96, nc, input),
        "densenet169" => densenet::densenet(name, 32, [6, 12, 32, 32], 64, nc, input),
        "densenet201" => densenet::densenet(name, 32, [6, 12, 48, 32], 64, nc, input),
        "squeezenet1_0" => squeezenet::squeezenet(name, false, nc, input),
        "squeezenet1_1" => squeezenet::squeezenet(name, true, nc, input),
        other => {
            return Err(ModelError::UnknownArch {
                name: crate::model::import::pickle::short(other),
                valid: NAMES.join(", "),
            })
        }
    };
    g.shapes()?;
    Ok(g)
}

/// torchvision key prefixes → node names, for templates whose node names differ from
/// torchvision's module paths (the VGG family); empty for the others and for unknown names.
pub fn aliases(name: &str) -> Vec<(String, String)> {
    vgg::aliases(name).unwrap_or_default()
}

impl MatchOptions {
    /// Options for a template of architecture `arch`: its alias table ([`aliases`]), no
    /// rules. (Defined here, beside the templates and their tables, so that the key matching
    /// in [`keymap`] does not depend on the templates.)
    pub fn for_arch(arch: &str) -> Self {
        MatchOptions {
            aliases: aliases(arch),
            ..Default::default()
        }
    }
}

/// The node of the final classifier layer (whose weight's first dimension is the number of
/// classes).
pub fn classifier(name: &str) -> Option<&'static str> {
    Some(match name {
        n if n.starts_with("resnet") || n.starts_with("resnext") || n.starts_with("wide_") => "fc",
        "alexnet" => "classifier.6",
        n if n.starts_with("vgg") => "fc8",
        "mobilenet_v2" => "classifier.1",
        n if n.starts_with("densenet") => "classifier",
        n if n.starts_with("squeezenet") => "classifier.1",
        _ => return None,
    })
    .filter(|_| NAMES.contains(&name))
}

/// The number of classes a file's tensors give template `name`: the first dimension of its
/// classifier's weight, found by name through `opts` (remap rules, a `module.` prefix,
/// [`aliases`]); `None` when the file has no such tensor or it is not a matrix/kernel.
pub fn num_classes<'a>(
    name: &str,
    entries: impl IntoIterator<Item = (&'a String, &'a RawTensor)>,
    opts: &MatchOptions,
) -> Option<usize> {
    let node = classifier(name)?;
    let mut opts = opts.clone();
    opts.aliases.extend(aliases(name));
    let want = format!("{node}.weight");
    let entries: Vec<(&String, &RawTensor)> = entries.into_iter().collect();
    let keys = keymap::canonical_keys(entries.iter().map(|(k, _)| k.as_str()), &opts);
    keys.iter()
        .zip(&entries)
        .find(|(k, _)| **k == want)
        .and_then(|(_, (_, t))| match t.shape.as_slice() {
            [n, _] | [n, _, 1, 1] => Some(*n),
            _ => None,
        })
}

/// Loads a file's tensors into template `name`: the number of classes from the file (see
/// [`num_classes`]; 1000 when the file has no classifier weight, which then fails as a
/// missing tensor), the template built at `input_hw` (default 224×224), the tensors matched
/// by [`keymap::fill`] with the template's [`aliases`] added to `opts`, and batch norm folded.
pub fn fill(
    name: &str,
    tensors: Vec<(String, RawTensor)>,
    opts: &MatchOptions,
    input_hw: Option<[usize; 2]>,
    path: &str,
) -> Result<Matched, ImportError> {
    let num_classes = num_classes(name, tensors.iter().map(|(k, t)| (k, t)), opts).unwrap_or(1000);
    let zo = ZooOptions {
        num_classes,
        input_hw: input_hw.unwrap_or([224, 224]),
    };
    let template = build(name, &zo).map_err(|source| ImportError::Model {
        path: path.into(),
        source,
    })?;
    let mut opts = opts.clone();
    opts.aliases.extend(aliases(name));
    keymap::fill(template, tensors, &opts, path)
}

/// A graph builder for templates: zero-filled weights, identity batch norms, and the
/// ImageNet normalization node.
pub(crate) struct Zb {
    pub b: GraphBuilder,
}

/// Batch-norm epsilon of torchvision's models.
const BN_EPS: f32 = 1e-5;

impl Zb {
    /// A builder whose first node is `norm` (ImageNet normalization); returns it and `norm`.
    pub fn new(arch: &str, input: [usize; 3]) -> (Self, usize) {
        let mut b = GraphBuilder::new(arch, input);
        let x = b.normalize("norm", 0, &IMAGENET_MEAN, &IMAGENET_STD);
        (Zb { b }, x)
    }

    /// A convolution `cin → cout`, square kernel `k`, stride `s`, symmetric padding `p`.
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        &mut self,
        name: &str,
        x: usize,
        cin: usize,
        cout: usize,
        k: usize,
        s: usize,
        p: usize,
        groups: usize,
        bias: bool,
    ) -> usize {
        self.b.push(
            name,
            Op::Conv2d {
                in_channels: cin,
                out_channels: cout,
                kernel: [k, k],
                stride: [s, s],
                padding: [p; 4],
                dilation: [1, 1],
                groups,
                weight: vec![0.0; cout * (cin / groups) * k * k],
                bias: bias.then(|| vec![0.0; cout]),
            },
            &[x],
        )
    }

    /// A fully connected layer with a bias.
    pub fn linear(&mut self, name: &str, x: usize, inp: usize, out: usize) -> usize {
        self.b.linear(
            name,
            x,
            inp,
            out,
            vec![0.0; inp * out],
            Some(vec![0.0; out]),
        )
    }

    /// Batch norm over `c` channels (identity statistics, torchvision's epsilon).
    pub fn bn(&mut self, name: &str, x: usize, c: usize) -> usize {
        self.b.batchnorm(name, x, c, BN_EPS)
    }

    /// `max(x, 0)`.
    pub fn relu(&mut self, name: &str, x: usize) -> usize {
        self.b.relu(name, x)
    }

    /// `min(max(x, 0), 6)`.
    pub fn relu6(&mut self, name: &str, x: usize) -> usize {
        self.b.push(name, Op::Clip { min: 0.0, max: 6.0 }, &[x])
    }

    /// Square max pooling.
    pub fn maxpool(
        &mut self,
        name: &str,
        x: usize,
        k: usize,
        s: usize,
        p: usize,
        ceil: bool,
    ) -> usize {
        self.b.push(
            name,
            Op::MaxPool2d {
                kernel: [k, k],
                stride: [s, s],
                padding: [p; 4],
                dilation: [1, 1],
                ceil_mode: ceil,
            },
            &[x],
        )
    }

    /// Square average pooling without padding.
    pub fn avgpool(&mut self, name: &str, x: usize, k: usize, s: usize) -> usize {
        self.b.push(
            name,
            Op::AvgPool2d {
                kernel: [k, k],
                stride: [s, s],
                padding: [0; 4],
                ceil_mode: false,
                count_include_pad: true,
            },
            &[x],
        )
    }

    /// The graph.
    pub fn finish(self) -> Graph {
        self.b.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_builds_and_checks() {
        for name in NAMES {
            let g = template(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(g.check().unwrap(), 1000, "{name}");
            assert_eq!(g.arch, name);
            assert_eq!(g.input_shape, [3, 224, 224]);
            assert_eq!(g.nodes[1].name, "norm");
            assert_eq!(
                g.normalization().0,
                crate::model::graph::fold::Normalization::Imagenet,
                "{name}"
            );
            assert!(classifier(name).and_then(|c| g.find(c)).is_some(), "{name}");
        }
        assert!(template("resnet").is_none());
        let e = build("resnet", &ZooOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("resnet18") && e.contains("squeezenet1_1"), "{e}");
    }

    #[test]
    fn resnet_cut_points_are_the_blocks() {
        let g = template("resnet18").unwrap();
        let layers = g.collision_layers();
        // The stem's ReLU, then one cut per residual block.
        assert_eq!(
            layers,
            vec![
                "relu", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1",
                "layer4.0", "layer4.1"
            ]
        );
        let e = g.collision_point("layer1.0.relu").unwrap_err().to_string();
        assert!(e.contains("not on every path"), "{e}");
        assert!(g.collision_point("relu").is_ok());
    }

    #[test]
    fn sizes_and_small_inputs() {
        let g = build(
            "resnet18",
            &ZooOptions {
                num_classes: 10,
                input_hw: [32, 32],
            },
        )
        .unwrap();
        assert_eq!(g.check().unwrap(), 10);
        // AlexNet's last max-pool does not fit a 32×32 input (as in torch).
        let e = build(
            "alexnet",
            &ZooOptions {
                num_classes: 10,
                input_hw: [32, 32],
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("features."), "{e}");
        let e = build(
            "vgg16",
            &ZooOptions {
                num_classes: 0,
                input_hw: [224, 224],
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("num_classes 0"), "{e}");
    }
}
