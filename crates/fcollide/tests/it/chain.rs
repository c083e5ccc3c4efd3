//! Shared helpers: networks written as a chain of layers (each node reads the previous one).
use fcollide::model::{Graph, GraphBuilder, Op};

/// A named layer of a chain.
pub struct Layer {
    pub name: String,
    pub op: Op,
}

/// A layer named `name` computing `op`.
pub fn layer(name: &str, op: Op) -> Layer {
    Layer {
        name: name.into(),
        op,
    }
}

/// The graph `input → layers[0] → layers[1] → …`.
pub fn chain(arch: &str, input_shape: [usize; 3], bounds: (f32, f32), layers: Vec<Layer>) -> Graph {
    let mut b = GraphBuilder::new(arch, input_shape);
    for l in layers {
        let x = b.last();
        b.push(&l.name, l.op, &[x]);
    }
    let mut g = b.finish();
    g.pixel_bounds = bounds;
    g
}

/// A convolution with symmetric padding `[ph, pw]`, no dilation, one group.
pub fn conv(
    in_channels: usize,
    out_channels: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    weight: Vec<f32>,
    bias: Vec<f32>,
) -> Op {
    Op::Conv2d {
        in_channels,
        out_channels,
        kernel,
        stride,
        padding: [padding[0], padding[1], padding[0], padding[1]],
        dilation: [1, 1],
        groups: 1,
        weight,
        bias: Some(bias),
    }
}

/// Max pooling without padding.
pub fn maxpool(kernel: [usize; 2], stride: [usize; 2]) -> Op {
    Op::MaxPool2d {
        kernel,
        stride,
        padding: [0; 4],
        dilation: [1, 1],
        ceil_mode: false,
    }
}

/// A fully connected layer with a bias.
pub fn linear(in_features: usize, out_features: usize, weight: Vec<f32>, bias: Vec<f32>) -> Op {
    Op::Linear {
        in_features,
        out_features,
        weight,
        bias: Some(bias),
    }
}
