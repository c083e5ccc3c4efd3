//! The layer chain fcollide wrote before the graph (`{"layers": [{"name", "op"}]}` with
//! `Normalize`, `Linear`, `Conv2d` with symmetric `padding: [ph, pw]`, `MaxPool2d` without
//! padding, `Relu`, `Flatten`), read into a [`Graph`] so that older model files and fixtures
//! still load. Weights may be present or empty (model files keep them as tensors).
use serde::Deserialize;

use super::{Graph, GraphBuilder, Op};

/// One layer of the old chain.
#[derive(Deserialize)]
pub(crate) struct ChainLayer {
    name: String,
    op: ChainOp,
}

#[derive(Deserialize)]
enum ChainOp {
    Normalize {
        mean: Vec<f32>,
        std: Vec<f32>,
    },
    Linear {
        in_features: usize,
        out_features: usize,
        #[serde(default)]
        weight: Vec<f32>,
        #[serde(default)]
        bias: Vec<f32>,
    },
    Conv2d {
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        #[serde(default)]
        weight: Vec<f32>,
        #[serde(default)]
        bias: Vec<f32>,
    },
    MaxPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
    },
    Relu,
    Flatten,
}

/// The chain as a graph, each layer reading the previous one.
pub(crate) fn from_chain(arch: &str, input_shape: [usize; 3], layers: Vec<ChainLayer>) -> Graph {
    let mut b = GraphBuilder::new(arch, input_shape);
    for l in layers {
        let x = b.last();
        let op = match l.op {
            ChainOp::Normalize { mean, std } => Op::Normalize { mean, std },
            ChainOp::Linear {
                in_features,
                out_features,
                weight,
                bias,
            } => Op::Linear {
                in_features,
                out_features,
                weight,
                bias: Some(bias),
            },
            ChainOp::Conv2d {
                in_channels,
                out_channels,
                kernel,
                stride,
                padding,
                weight,
                bias,
            } => Op::Conv2d {
                in_channels,
                out_channels,
                kernel,
                stride,
                padding: [padding[0], padding[1], padding[0], padding[1]],
                dilation: [1, 1],
                groups: 1,
                weight,
                bias: Some(bias),
            },
            ChainOp::MaxPool2d { kernel, stride } => Op::MaxPool2d {
                kernel,
                stride,
                padding: [0; 4],
                dilation: [1, 1],
                ceil_mode: false,
            },
            ChainOp::Relu => Op::Relu,
            ChainOp::Flatten => Op::Flatten,
        };
        b.push(&l.name, op, &[x]);
    }
    b.finish()
}
