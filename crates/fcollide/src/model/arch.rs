//! Built-in architectures with seeded He-uniform initialization.
//!
//! - `mlp`: 784-256-256-10 (`norm`, `flatten`, `fc1`, `relu1`, `fc2`, `relu2`, `fc3`).
//! - `lenet5`: 28×28 LeNet-5 (conv 6@5×5 pad 2 → ReLU → max-pool 2 → conv 16@5×5 → ReLU →
//!   max-pool 2 → fc 120 → fc 84 → fc 10).
//! - `vgg16`: VGG-16 for 224×224 RGB (13 convolutions `conv1_1`…`conv5_3`, `fc6`, `fc7`, `fc8`).
//!
//! Weights are drawn `U(−√(6/fan_in), √(6/fan_in))`, biases zero.
use super::{HostLayer, HostNetwork, HostOp, ModelError};
use rand::Rng;

/// MNIST mean and standard deviation of a pixel in `[0, 1]`.
pub const MNIST_MEAN: f32 = 0.1307;
/// See [`MNIST_MEAN`].
pub const MNIST_STD: f32 = 0.3081;
/// ImageNet per-channel mean (RGB, pixels in `[0, 1]`).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet per-channel standard deviation.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The architectures fcollide knows by name.
pub const ARCHITECTURES: [&str; 3] = ["mlp", "lenet5", "vgg16"];

fn he(n: usize, fan_in: usize, rng: &mut impl Rng) -> Vec<f32> {
    let bound = (6.0 / fan_in as f32).sqrt();
    (0..n).map(|_| rng.random_range(-bound..bound)).collect()
}

fn layer(name: &str, op: HostOp) -> HostLayer {
    HostLayer {
        name: name.to_string(),
        op,
    }
}

/// A fully connected layer with fresh weights.
pub fn linear(name: &str, inp: usize, out: usize, rng: &mut impl Rng) -> HostLayer {
    layer(
        name,
        HostOp::Linear {
            in_features: inp,
            out_features: out,
            weight: he(inp * out, inp, rng),
            bias: vec![0.0; out],
        },
    )
}

/// A convolution with fresh weights.
pub fn conv(
    name: &str,
    inp: usize,
    out: usize,
    k: usize,
    pad: usize,
    rng: &mut impl Rng,
) -> HostLayer {
    layer(
        name,
        HostOp::Conv2d {
            in_channels: inp,
            out_channels: out,
            kernel: [k, k],
            stride: [1, 1],
            padding: [pad, pad],
            weight: he(out * inp * k * k, inp * k * k, rng),
            bias: vec![0.0; out],
        },
    )
}

fn relu(name: &str) -> HostLayer {
    layer(name, HostOp::Relu)
}

fn pool(name: &str) -> HostLayer {
    layer(
        name,
        HostOp::MaxPool2d {
            kernel: [2, 2],
            stride: [2, 2],
        },
    )
}

fn mnist_norm() -> HostLayer {
    layer(
        "norm",
        HostOp::Normalize {
            mean: vec![MNIST_MEAN],
            std: vec![MNIST_STD],
        },
    )
}

/// MLP 784-256-256-10 for 28×28 grey images.
pub fn mlp(rng: &mut impl Rng) -> HostNetwork {
    HostNetwork {
        arch: "mlp".into(),
        input_shape: [1, 28, 28],
        pixel_bounds: (0.0, 1.0),
        layers: vec![
            mnist_norm(),
            layer("flatten", HostOp::Flatten),
            linear("fc1", 784, 256, rng),
            relu("relu1"),
            linear("fc2", 256, 256, rng),
            relu("relu2"),
            linear("fc3", 256, 10, rng),
        ],
    }
}

/// LeNet-5 for 28×28 grey images.
pub fn lenet5(rng: &mut impl Rng) -> HostNetwork {
    HostNetwork {
        arch: "lenet5".into(),
        input_shape: [1, 28, 28],
        pixel_bounds: (0.0, 1.0),
        layers: vec![
            mnist_norm(),
            conv("conv1", 1, 6, 5, 2, rng),
            relu("relu1"),
            pool("pool1"),
            conv("conv2", 6, 16, 5, 0, rng),
            relu("relu2"),
            pool("pool2"),
            layer("flatten", HostOp::Flatten),
            linear("fc1", 400, 120, rng),
            relu("relu3"),
            linear("fc2", 120, 84, rng),
            relu("relu4"),
            linear("fc3", 84, 10, rng),
        ],
    }
}

/// VGG-16 (configuration D) for 224×224 RGB images with ImageNet normalization inside.
pub fn vgg16(rng: &mut impl Rng) -> HostNetwork {
    let mut layers = vec![layer(
        "norm",
        HostOp::Normalize {
            mean: IMAGENET_MEAN.to_vec(),
            std: IMAGENET_STD.to_vec(),
        },
    )];
    let blocks: [(usize, usize); 5] = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)];
    let mut ch = 3;
    for (b, (width, n)) in blocks.iter().enumerate() {
        for i in 0..*n {
            layers.push(conv(
                &format!("conv{}_{}", b + 1, i + 1),
                ch,
                *width,
                3,
                1,
                rng,
            ));
            layers.push(relu(&format!("relu{}_{}", b + 1, i + 1)));
            ch = *width;
        }
        layers.push(pool(&format!("pool{}", b + 1)));
    }
    layers.push(layer("flatten", HostOp::Flatten));
    layers.push(linear("fc6", 512 * 7 * 7, 4096, rng));
    layers.push(relu("relu6"));
    layers.push(linear("fc7", 4096, 4096, rng));
    layers.push(relu("relu7"));
    layers.push(linear("fc8", 4096, 1000, rng));
    HostNetwork {
        arch: "vgg16".into(),
        input_shape: [3, 224, 224],
        pixel_bounds: (0.0, 1.0),
        layers,
    }
}

/// A built-in architecture by name with fresh weights.
pub fn by_name(name: &str, rng: &mut impl Rng) -> Result<HostNetwork, ModelError> {
    match name {
        "mlp" => Ok(mlp(rng)),
        "lenet5" | "lenet" => Ok(lenet5(rng)),
        "vgg16" => Ok(vgg16(rng)),
        other => Err(ModelError::UnknownLayer {
            name: other.into(),
            why: "no such architecture".into(),
            valid: ARCHITECTURES.join(", "),
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
        assert_eq!(l.shapes().unwrap()[6], vec![16, 5, 5]);
        assert_eq!(l.collision_layers(), vec!["conv1", "conv2", "fc1", "fc2"]);
        let err = l.collision_layer_index("fc3").unwrap_err().to_string();
        assert!(err.contains("conv1, conv2, fc1, fc2"), "{err}");
        assert!(l.collision_layer_index("nope").is_err());
    }

    #[test]
    fn composed_affine_matches_direct_evaluation() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let m = mlp(&mut rng);
        let (a, c, n) = m.composed_affine(2).unwrap();
        assert_eq!(n, 256);
        let u: Vec<f64> = (0..784).map(|k| (k % 17) as f64 / 17.0).collect();
        let HostOp::Linear { weight, bias, .. } = &m.layers[2].op else {
            panic!()
        };
        for r in [0usize, 100, 255] {
            let direct: f64 = bias[r] as f64
                + (0..784)
                    .map(|k| {
                        weight[r * 784 + k] as f64 * (u[k] - MNIST_MEAN as f64) / MNIST_STD as f64
                    })
                    .sum::<f64>();
            let composed: f64 = c[r] + (0..784).map(|k| a[r * 784 + k] * u[k]).sum::<f64>();
            assert!((direct - composed).abs() < 1e-9, "{direct} {composed}");
        }
        assert!(lenet5(&mut rng).composed_affine(1).is_none());
    }
}
