//! Built-in architectures with seeded He-uniform initialization.
//!
//! - `mlp`: 784-256-256-10 (`norm`, `flatten`, `fc1`, `relu1`, `fc2`, `relu2`, `fc3`).
//! - `lenet5`: 28×28 LeNet-5 (conv 6@5×5 pad 2 → ReLU → max-pool 2 → conv 16@5×5 → ReLU →
//!   max-pool 2 → fc 120 → fc 84 → fc 10).
//! - `vgg16`: VGG-16 for 224×224 RGB (13 convolutions `conv1_1`…`conv5_3`, `fc6`, `fc7`, `fc8`).
//!
//! Weights are drawn `U(−√(6/fan_in), √(6/fan_in))`, biases zero.
use super::graph::{Graph, GraphBuilder};
use super::ModelError;
use rand::Rng;

pub use super::graph::fold::{IMAGENET_MEAN, IMAGENET_STD, MNIST_MEAN, MNIST_STD};

/// The architectures fcollide knows by name.
pub const ARCHITECTURES: [&str; 5] = ["mlp", "mlp-tanh", "mlp-sigmoid", "lenet5", "vgg16"];

fn he(n: usize, fan_in: usize, rng: &mut impl Rng) -> Vec<f32> {
    let bound = (6.0 / fan_in as f32).sqrt();
    (0..n).map(|_| rng.random_range(-bound..bound)).collect()
}

/// Appends a fully connected layer with fresh weights (zero bias) reading `x`.
pub fn linear(
    b: &mut GraphBuilder,
    name: &str,
    x: usize,
    inp: usize,
    out: usize,
    rng: &mut impl Rng,
) -> usize {
    let w = he(inp * out, inp, rng);
    b.linear(name, x, inp, out, w, Some(vec![0.0; out]))
}

/// Appends a square stride-1 convolution with fresh weights (zero bias) reading `x`.
#[allow(clippy::too_many_arguments)]
pub fn conv(
    b: &mut GraphBuilder,
    name: &str,
    x: usize,
    inp: usize,
    out: usize,
    k: usize,
    pad: usize,
    rng: &mut impl Rng,
) -> usize {
    let w = he(out * inp * k * k, inp * k * k, rng);
    b.conv(name, x, inp, out, k, 1, pad, w, Some(vec![0.0; out]))
}

/// MLP 784-256-256-10 for 28×28 grey images (`norm`, `flatten`, `fc1`, `relu1`, `fc2`,
/// `relu2`, `fc3`).
pub fn mlp(rng: &mut impl Rng) -> Graph {
    let mut b = GraphBuilder::new("mlp", [1, 28, 28]);
    let x = b.normalize("norm", 0, &[MNIST_MEAN], &[MNIST_STD]);
    let x = b.flatten("flatten", x);
    let x = linear(&mut b, "fc1", x, 784, 256, rng);
    let x = b.relu("relu1", x);
    let x = linear(&mut b, "fc2", x, 256, 256, rng);
    let x = b.relu("relu2", x);
    linear(&mut b, "fc3", x, 256, 10, rng);
    b.finish()
}

/// The MLP with a saturating activation instead of ReLU (`tanh1`/`sigmoid1`, …): the
/// paper's §5 case of approximate collisions where units saturate.
pub fn mlp_saturating(act: super::graph::Op, rng: &mut impl Rng) -> Graph {
    let (arch, prefix) = match act {
        super::graph::Op::Tanh => ("mlp-tanh", "tanh"),
        _ => ("mlp-sigmoid", "sigmoid"),
    };
    let mut b = GraphBuilder::new(arch, [1, 28, 28]);
    let x = b.normalize("norm", 0, &[MNIST_MEAN], &[MNIST_STD]);
    let x = b.flatten("flatten", x);
    let x = linear(&mut b, "fc1", x, 784, 256, rng);
    let x = b.push(&format!("{prefix}1"), act.clone(), &[x]);
    let x = linear(&mut b, "fc2", x, 256, 256, rng);
    let x = b.push(&format!("{prefix}2"), act, &[x]);
    linear(&mut b, "fc3", x, 256, 10, rng);
    b.finish()
}

/// LeNet-5 for 28×28 grey images.
pub fn lenet5(rng: &mut impl Rng) -> Graph {
    let mut b = GraphBuilder::new("lenet5", [1, 28, 28]);
    let x = b.normalize("norm", 0, &[MNIST_MEAN], &[MNIST_STD]);
    let x = conv(&mut b, "conv1", x, 1, 6, 5, 2, rng);
    let x = b.relu("relu1", x);
    let x = b.maxpool("pool1", x, 2, 2, 0);
    let x = conv(&mut b, "conv2", x, 6, 16, 5, 0, rng);
    let x = b.relu("relu2", x);
    let x = b.maxpool("pool2", x, 2, 2, 0);
    let x = b.flatten("flatten", x);
    let x = linear(&mut b, "fc1", x, 400, 120, rng);
    let x = b.relu("relu3", x);
    let x = linear(&mut b, "fc2", x, 120, 84, rng);
    let x = b.relu("relu4", x);
    linear(&mut b, "fc3", x, 84, 10, rng);
    b.finish()
}

/// VGG-16 (configuration D) for 224×224 RGB images with ImageNet normalization inside.
pub fn vgg16(rng: &mut impl Rng) -> Graph {
    let mut b = GraphBuilder::new("vgg16", [3, 224, 224]);
    let mut x = b.normalize("norm", 0, &IMAGENET_MEAN, &IMAGENET_STD);
    let blocks: [(usize, usize); 5] = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)];
    let mut ch = 3;
    for (k, (width, n)) in blocks.iter().enumerate() {
        for i in 0..*n {
            x = conv(
                &mut b,
                &format!("conv{}_{}", k + 1, i + 1),
                x,
                ch,
                *width,
                3,
                1,
                rng,
            );
            x = b.relu(&format!("relu{}_{}", k + 1, i + 1), x);
            ch = *width;
        }
        x = b.maxpool(&format!("pool{}", k + 1), x, 2, 2, 0);
    }
    x = b.flatten("flatten", x);
    x = linear(&mut b, "fc6", x, 512 * 7 * 7, 4096, rng);
    x = b.relu("relu6", x);
    x = linear(&mut b, "fc7", x, 4096, 4096, rng);
    x = b.relu("relu7", x);
    linear(&mut b, "fc8", x, 4096, 1000, rng);
    b.finish()
}

/// A built-in architecture by name with fresh weights.
pub fn by_name(name: &str, rng: &mut impl Rng) -> Result<Graph, ModelError> {
    match name {
        "mlp" => Ok(mlp(rng)),
        "mlp-tanh" => Ok(mlp_saturating(super::graph::Op::Tanh, rng)),
        "mlp-sigmoid" => Ok(mlp_saturating(super::graph::Op::Sigmoid, rng)),
        "lenet5" | "lenet" => Ok(lenet5(rng)),
        "vgg16" => Ok(vgg16(rng)),
        other => Err(ModelError::UnknownArch {
            name: crate::model::import::pickle::short(other),
            valid: format!(
                "{}, or a torchvision template: {}",
                ARCHITECTURES.join(", "),
                super::zoo::NAMES.join(", ")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn shapes_and_collision_layers() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let m = mlp(&mut rng);
        assert_eq!(m.check().unwrap(), 10);
        assert_eq!(m.collision_layers(), vec!["fc1", "fc2"]);
        let l = lenet5(&mut rng);
        assert_eq!(l.check().unwrap(), 10);
        assert_eq!(
            l.shapes().unwrap()[l.find("pool2").unwrap()],
            crate::model::graph::Shape::Chw([16, 5, 5])
        );
        assert_eq!(l.collision_layers(), vec!["conv1", "conv2", "fc1", "fc2"]);
        let err = l.collision_layer_index("fc3").unwrap_err().to_string();
        assert!(err.contains("conv1, conv2, fc1, fc2"), "{err}");
        assert!(l.collision_layer_index("nope").is_err());
    }
}
