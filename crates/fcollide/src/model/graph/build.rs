//! Building a [`Graph`] node by node (architectures, templates, importers).
use super::{Graph, Node, Op, Shape};

/// Appends nodes to a graph; each method returns the new node's index.
pub struct GraphBuilder {
    graph: Graph,
}

impl GraphBuilder {
    /// A graph for `[C, H, W]` inputs in `[0, 1]`.
    pub fn new(arch: &str, input_shape: [usize; 3]) -> Self {
        GraphBuilder {
            graph: Graph::new(arch, input_shape, (0.0, 1.0)),
        }
    }

    /// The input node (index 0).
    pub fn input(&self) -> usize {
        0
    }

    /// The index the next node will get.
    pub fn next_index(&self) -> usize {
        self.graph.nodes.len()
    }

    /// Index of the last node added.
    pub fn last(&self) -> usize {
        self.graph.nodes.len() - 1
    }

    /// Appends `op` named `name` reading `inputs`.
    pub fn push(&mut self, name: &str, op: Op, inputs: &[usize]) -> usize {
        self.graph.nodes.push(Node {
            name: name.to_string(),
            op,
            inputs: inputs.to_vec(),
        });
        self.last()
    }

    /// `(x − mean) / std`.
    pub fn normalize(&mut self, name: &str, x: usize, mean: &[f32], std: &[f32]) -> usize {
        self.push(
            name,
            Op::Normalize {
                mean: mean.to_vec(),
                std: std.to_vec(),
            },
            &[x],
        )
    }

    /// A fully connected layer, `weight` `[out, in]`.
    pub fn linear(
        &mut self,
        name: &str,
        x: usize,
        in_features: usize,
        out_features: usize,
        weight: Vec<f32>,
        bias: Option<Vec<f32>>,
    ) -> usize {
        self.push(
            name,
            Op::Linear {
                in_features,
                out_features,
                weight,
                bias,
            },
            &[x],
        )
    }

    /// A square convolution with symmetric padding, no dilation, one group.
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        &mut self,
        name: &str,
        x: usize,
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
        weight: Vec<f32>,
        bias: Option<Vec<f32>>,
    ) -> usize {
        self.push(
            name,
            Op::Conv2d {
                in_channels,
                out_channels,
                kernel: [kernel, kernel],
                stride: [stride, stride],
                padding: [pad; 4],
                dilation: [1, 1],
                groups: 1,
                weight,
                bias,
            },
            &[x],
        )
    }

    /// Batch normalization over `channels` with the given statistics.
    pub fn batchnorm(&mut self, name: &str, x: usize, channels: usize, eps: f32) -> usize {
        self.push(
            name,
            Op::BatchNorm {
                eps,
                weight: vec![1.0; channels],
                bias: vec![0.0; channels],
                mean: vec![0.0; channels],
                var: vec![1.0; channels],
            },
            &[x],
        )
    }

    /// `max(x, 0)`.
    pub fn relu(&mut self, name: &str, x: usize) -> usize {
        self.push(name, Op::Relu, &[x])
    }

    /// Square max pooling, symmetric padding.
    pub fn maxpool(
        &mut self,
        name: &str,
        x: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
    ) -> usize {
        self.push(
            name,
            Op::MaxPool2d {
                kernel: [kernel, kernel],
                stride: [stride, stride],
                padding: [pad; 4],
                dilation: [1, 1],
                ceil_mode: false,
            },
            &[x],
        )
    }

    /// Adaptive average pooling to `[oh, ow]`.
    pub fn adaptive_avgpool(&mut self, name: &str, x: usize, output: [usize; 2]) -> usize {
        self.push(name, Op::AdaptiveAvgPool2d { output }, &[x])
    }

    /// Element-wise sum.
    pub fn add(&mut self, name: &str, xs: &[usize]) -> usize {
        self.push(name, Op::Add, xs)
    }

    /// Channel concatenation.
    pub fn concat(&mut self, name: &str, xs: &[usize]) -> usize {
        self.push(name, Op::Concat, xs)
    }

    /// `[C, H, W] → [C·H·W]`.
    pub fn flatten(&mut self, name: &str, x: usize) -> usize {
        self.push(name, Op::Flatten, &[x])
    }

    /// Reshape to `shape`.
    pub fn reshape(&mut self, name: &str, x: usize, shape: Shape) -> usize {
        self.push(name, Op::Reshape { shape }, &[x])
    }

    /// The graph (unchecked: call [`Graph::check`]).
    pub fn finish(self) -> Graph {
        self.graph
    }
}
