//! Rewrites that keep a graph's function: batch-norm folding, removing no-ops, and the
//! input normalization (reading it, replacing it).
//!
//! **Batch-norm folding.** Batch norm in inference mode is the per-channel affine map
//! `BN(x)[o] = s[o]·x[o] + t[o]` with `s = γ / √(σ² + ε)` and `t = β − μ·s`. When it reads a
//! convolution or linear layer `y = W x + b` that feeds nothing else,
//! `BN(W x + b)[o] = (s[o]·W[o,…]) x + (s[o]·b[o] + t[o])`, so the layer takes the weights
//! `W'[o,…] = s[o]·W[o,…]` and bias `b'[o] = s[o]·b[o] + t[o]` (computed in f64, stored in
//! f32) and the batch-norm node disappears. Elsewhere (after an `Add`, a `Concat`, a pooling
//! or as the first node) it stays a per-channel affine node. It is never dropped.
//!
//! **Normalization.** The leading chain of `Normalize`/`ChannelAffine` nodes after the input
//! composes to one per-channel map `x ↦ (x − mean[c]) / std[c]`; that is the model's input
//! normalization, which reports state and `--normalize` replaces.
use serde::{Deserialize, Serialize};

use super::op::per_channel;
use super::{Graph, Node, Op};

impl Graph {
    /// Inserts `node` at index `at` (≥ 1), shifting later indices.
    pub fn insert_node(&mut self, at: usize, node: Node) {
        for n in &mut self.nodes[at..] {
            for k in &mut n.inputs {
                if *k >= at {
                    *k += 1;
                }
            }
        }
        self.nodes.insert(at, node);
    }

    /// Removes node `i` (not the input, one input), sending its readers to its input.
    pub fn bypass_node(&mut self, i: usize) {
        assert!(
            i > 0 && self.nodes[i].inputs.len() == 1,
            "bypass of node {i}"
        );
        let src = self.nodes[i].inputs[0];
        self.nodes.remove(i);
        for n in &mut self.nodes[i..] {
            for k in &mut n.inputs {
                if *k == i {
                    *k = src;
                } else if *k > i {
                    *k -= 1;
                }
            }
        }
    }

    /// Removes the nodes the output does not depend on.
    pub fn prune_dead(&mut self) {
        self.prune_dead_from(self.output());
    }

    /// Keeps node `out` and the nodes it depends on, which makes `out` the output (the last
    /// node: nodes are topologically ordered, so none of its ancestors comes after it).
    pub fn prune_dead_from(&mut self, out: usize) {
        let keep = self.ancestors(out);
        let mut map = vec![usize::MAX; self.nodes.len()];
        let mut nodes = Vec::with_capacity(self.nodes.len());
        for (i, n) in std::mem::take(&mut self.nodes).into_iter().enumerate() {
            if keep[i] || i == 0 {
                map[i] = nodes.len();
                nodes.push(n);
            }
        }
        for n in &mut nodes {
            for k in &mut n.inputs {
                *k = map[*k];
            }
        }
        self.nodes = nodes;
    }

    /// Removes `Identity` nodes and reshapes to the shape they already have, rewiring their
    /// readers (the output stays the last node).
    pub fn remove_identities(&mut self) -> usize {
        let mut removed = 0;
        let mut i = 1;
        while i < self.nodes.len() {
            let noop = match &self.nodes[i].op {
                Op::Identity => true,
                Op::Reshape { shape } => self
                    .shapes()
                    .map(|s| s[self.nodes[i].inputs[0]] == *shape)
                    .unwrap_or(false),
                _ => false,
            };
            if noop && i != self.output() {
                self.bypass_node(i);
                removed += 1;
            } else {
                i += 1;
            }
        }
        removed
    }

    /// Folds every batch norm that reads a convolution or linear layer feeding nothing else
    /// into that layer (see the module doc); returns the names of the folded batch norms.
    pub fn fold_batchnorm(&mut self) -> Vec<String> {
        let mut folded = Vec::new();
        let mut i = 1;
        while i < self.nodes.len() {
            let is_bn = matches!(self.nodes[i].op, Op::BatchNorm { .. });
            let src = self.nodes[i].inputs.first().copied().unwrap_or(0);
            let foldable = is_bn
                && src > 0
                && self.consumers()[src].len() == 1
                && matches!(self.nodes[src].op, Op::Conv2d { .. } | Op::Linear { .. });
            if !foldable {
                i += 1;
                continue;
            }
            let (s, t) = self.nodes[i]
                .op
                .batchnorm_scale_shift()
                .expect("batch norm");
            let (weight, bias, outs) = match &mut self.nodes[src].op {
                Op::Conv2d {
                    out_channels,
                    weight,
                    bias,
                    ..
                } => (weight, bias, *out_channels),
                Op::Linear {
                    out_features,
                    weight,
                    bias,
                    ..
                } => (weight, bias, *out_features),
                _ => unreachable!(),
            };
            if s.len() != outs || weight.len() % outs.max(1) != 0 {
                i += 1; // shapes do not fit: leave it for the shape check to report
                continue;
            }
            let per = weight.len() / outs;
            for (o, row) in weight.chunks_mut(per).enumerate() {
                for w in row {
                    *w = (f64::from(*w) * s[o]) as f32;
                }
            }
            let b: Vec<f32> = (0..outs)
                .map(|o| {
                    let b0 = bias.as_ref().map_or(0.0, |b| f64::from(b[o]));
                    (b0 * s[o] + t[o]) as f32
                })
                .collect();
            *bias = Some(b);
            folded.push(self.nodes[i].name.clone());
            self.bypass_node(i);
        }
        folded
    }

    /// Folds every per-channel `ChannelAffine` (`x·s + t`, e.g. a bias added after a
    /// `MatMul`) that reads a convolution or linear layer feeding nothing else into that layer:
    /// `W'[o,…] = s[o]·W[o,…]`, `b'[o] = s[o]·b[o] + t[o]`. Returns the folded nodes' names.
    pub fn fold_channel_affine(&mut self) -> Vec<String> {
        let mut folded = Vec::new();
        let mut i = 1;
        while i < self.nodes.len() {
            let src = self.nodes[i].inputs.first().copied().unwrap_or(0);
            let foldable = matches!(self.nodes[i].op, Op::ChannelAffine { .. })
                && src > 0
                && self.consumers()[src].len() == 1
                && matches!(self.nodes[src].op, Op::Conv2d { .. } | Op::Linear { .. });
            if !foldable {
                i += 1;
                continue;
            }
            let Op::ChannelAffine { scale, shift } = self.nodes[i].op.clone() else {
                unreachable!()
            };
            let (weight, bias, outs) = match &mut self.nodes[src].op {
                Op::Conv2d {
                    out_channels,
                    weight,
                    bias,
                    ..
                } => (weight, bias, *out_channels),
                Op::Linear {
                    out_features,
                    weight,
                    bias,
                    ..
                } => (weight, bias, *out_features),
                _ => unreachable!(),
            };
            let fits = |v: &[f32]| v.len() == 1 || v.len() == outs;
            if !fits(&scale) || !fits(&shift) || outs == 0 || weight.len() % outs != 0 {
                i += 1;
                continue;
            }
            let per = weight.len() / outs;
            for (o, row) in weight.chunks_mut(per).enumerate() {
                let s = f64::from(per_channel(&scale, o));
                for w in row {
                    *w = (f64::from(*w) * s) as f32;
                }
            }
            let b: Vec<f32> = (0..outs)
                .map(|o| {
                    let b0 = bias.as_ref().map_or(0.0, |b| f64::from(b[o]));
                    (b0 * f64::from(per_channel(&scale, o)) + f64::from(per_channel(&shift, o)))
                        as f32
                })
                .collect();
            *bias = Some(b);
            folded.push(self.nodes[i].name.clone());
            self.bypass_node(i);
        }
        folded
    }

    /// The input normalization: the leading `Normalize`/`ChannelAffine` chain composed to
    /// per-channel `(x − mean) / std`, with the indices of its nodes.
    pub fn normalization(&self) -> (Normalization, Vec<usize>) {
        let consumers = self.consumers();
        let channels = self.input_shape[0];
        let mut scale = vec![1.0f64; channels];
        let mut shift = vec![0.0f64; channels];
        let mut nodes = Vec::new();
        let mut cur = 0;
        loop {
            if consumers[cur].len() != 1 {
                break;
            }
            let next = consumers[cur][0];
            let (s, t): (Vec<f64>, Vec<f64>) = match &self.nodes[next].op {
                Op::Normalize { mean, std } => (0..channels)
                    .map(|c| {
                        let sd = f64::from(per_channel(std, c));
                        (1.0 / sd, -f64::from(per_channel(mean, c)) / sd)
                    })
                    .unzip(),
                Op::ChannelAffine { scale, shift } => (0..channels)
                    .map(|c| {
                        (
                            f64::from(per_channel(scale, c)),
                            f64::from(per_channel(shift, c)),
                        )
                    })
                    .unzip(),
                _ => break,
            };
            if self.nodes[next].inputs.len() != 1 {
                break;
            }
            for c in 0..channels {
                scale[c] *= s[c];
                shift[c] = shift[c] * s[c] + t[c];
            }
            nodes.push(next);
            cur = next;
        }
        if nodes.is_empty() {
            return (Normalization::None, nodes);
        }
        // x·scale + shift = (x − mean) / std with std = 1/scale, mean = −shift/scale.
        if scale.iter().any(|&s| s == 0.0 || !s.is_finite()) {
            return (Normalization::Other, nodes);
        }
        let std: Vec<f32> = scale.iter().map(|s| (1.0 / s) as f32).collect();
        let mean: Vec<f32> = shift
            .iter()
            .zip(&scale)
            .map(|(t, s)| (-t / s) as f32)
            .collect();
        (Normalization::from_mean_std(mean, std), nodes)
    }

    /// Replaces the input normalization (see [`Graph::normalization`]) by `norm`.
    pub fn set_normalization(&mut self, norm: &Normalization) -> Result<(), String> {
        let (_, nodes) = self.normalization();
        for &i in nodes.iter().rev() {
            self.bypass_node(i);
        }
        if let Some((mean, std)) = norm.mean_std(self.input_shape[0])? {
            let mut name = "normalize".to_string();
            while self.find(&name).is_some() {
                name.push('_');
            }
            self.insert_node(
                1,
                Node {
                    name,
                    op: Op::Normalize { mean, std },
                    inputs: vec![0],
                },
            );
            for n in &mut self.nodes[2..] {
                for k in &mut n.inputs {
                    if *k == 0 {
                        *k = 1;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Per-channel means and standard deviations.
pub type MeanStd = (Vec<f32>, Vec<f32>);

/// A model's input normalization `(x − mean[c]) / std[c]` on raw pixels in `[0, 1]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalization {
    /// None: the model reads raw pixels.
    None,
    /// MNIST's mean 0.1307 and std 0.3081.
    Mnist,
    /// ImageNet's per-channel mean `[0.485, 0.456, 0.406]` and std `[0.229, 0.224, 0.225]`.
    Imagenet,
    /// Any other per-channel mean and std.
    Custom { mean: Vec<f32>, std: Vec<f32> },
    /// A leading element-wise map that is not a normalization (a zero scale).
    Other,
}

/// MNIST mean and standard deviation of a pixel in `[0, 1]`.
pub const MNIST_MEAN: f32 = 0.1307;
/// See [`MNIST_MEAN`].
pub const MNIST_STD: f32 = 0.3081;
/// ImageNet per-channel mean (RGB, pixels in `[0, 1]`).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet per-channel standard deviation.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-4 * y.abs().max(1e-3))
}

impl Normalization {
    /// Names a mean/std pair: MNIST and ImageNet by their values, anything else as custom.
    pub fn from_mean_std(mean: Vec<f32>, std: Vec<f32>) -> Self {
        let all = |v: &[f32], x: f32| v.iter().all(|&m| (m - x).abs() <= 1e-6);
        if all(&mean, 0.0) && all(&std, 1.0) {
            Normalization::None
        } else if close(&mean, &IMAGENET_MEAN) && close(&std, &IMAGENET_STD) {
            Normalization::Imagenet
        } else if !mean.is_empty()
            && all(&mean, mean[0])
            && all(&std, std[0])
            && close(&mean[..1], &[MNIST_MEAN])
            && close(&std[..1], &[MNIST_STD])
        {
            Normalization::Mnist
        } else {
            Normalization::Custom { mean, std }
        }
    }

    /// Parses `none`, `mnist`, `imagenet` or `mean=a,b,c,std=d,e,f` (one value broadcasts).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => return Ok(Normalization::None),
            "mnist" => return Ok(Normalization::Mnist),
            "imagenet" => return Ok(Normalization::Imagenet),
            _ => {}
        }
        let t = text.trim();
        let rest = t.strip_prefix("mean=").ok_or_else(|| {
            format!(
                "'{}': expected none, mnist, imagenet or mean=…,std=…",
                short(t)
            )
        })?;
        let (m, s) = rest
            .split_once(",std=")
            .or_else(|| rest.split_once(";std="))
            .ok_or_else(|| format!("'{}': expected mean=…,std=…", short(t)))?;
        let nums = |v: &str, what: &str| -> Result<Vec<f32>, String> {
            v.split(',')
                .map(|x| {
                    x.trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| {
                            format!("{what} value '{}' is not a finite number", short(x))
                        })
                })
                .collect()
        };
        let (mean, std) = (nums(m, "mean")?, nums(s, "std")?);
        if mean.len() != std.len() {
            return Err(format!(
                "{} means and {} stds: give one per channel (or one of each)",
                mean.len(),
                std.len()
            ));
        }
        if std.contains(&0.0) {
            return Err("a std of 0".into());
        }
        Ok(Normalization::Custom { mean, std })
    }

    /// Per-channel mean and std for `channels` input channels, `None` for no normalization.
    pub fn mean_std(&self, channels: usize) -> Result<Option<MeanStd>, String> {
        let (mean, std) = match self {
            Normalization::None => return Ok(None),
            Normalization::Mnist => (vec![MNIST_MEAN], vec![MNIST_STD]),
            Normalization::Imagenet => (IMAGENET_MEAN.to_vec(), IMAGENET_STD.to_vec()),
            Normalization::Custom { mean, std } => (mean.clone(), std.clone()),
            Normalization::Other => {
                return Err("the model's leading element-wise map is not a normalization".into())
            }
        };
        if mean.len() != 1 && mean.len() != channels {
            return Err(format!(
                "{} has {} channel values, the model has {channels} input channels",
                self,
                mean.len()
            ));
        }
        Ok(Some((mean, std)))
    }
}

fn short(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

impl std::fmt::Display for Normalization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[f32]| {
            v.iter()
                .map(|x| format!("{x:.4}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Normalization::None => write!(f, "none (raw pixels in [0, 1])"),
            Normalization::Mnist => write!(f, "mnist (mean {MNIST_MEAN}, std {MNIST_STD})"),
            Normalization::Imagenet => write!(
                f,
                "imagenet (mean [{}], std [{}])",
                list(&IMAGENET_MEAN),
                list(&IMAGENET_STD)
            ),
            Normalization::Custom { mean, std } => {
                write!(f, "mean [{}], std [{}]", list(mean), list(std))
            }
            Normalization::Other => write!(f, "a leading element-wise map (not a normalization)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::GraphBuilder;
    use super::*;

    #[test]
    fn batchnorm_folds_into_conv_exactly() {
        let mut b = GraphBuilder::new("t", [2, 3, 3]);
        let x = b.input();
        let w: Vec<f32> = (0..2 * 2 * 9).map(|k| (k as f32 * 0.37).sin()).collect();
        let c = b.conv("conv", x, 2, 2, 3, 1, 1, w.clone(), None);
        let bn = b.push(
            "bn",
            Op::BatchNorm {
                eps: 1e-5,
                weight: vec![2.0, -0.5],
                bias: vec![0.25, 1.0],
                mean: vec![0.1, -0.3],
                var: vec![4.0, 0.09],
            },
            &[c],
        );
        b.relu("relu", bn);
        let mut g = b.finish();
        let folded = g.fold_batchnorm();
        assert_eq!(folded, vec!["bn"]);
        assert_eq!(g.nodes.len(), 3);
        let Op::Conv2d { weight, bias, .. } = &g.nodes[1].op else {
            panic!()
        };
        let s0 = 2.0 / (4.0f64 + 1e-5).sqrt();
        assert!((f64::from(weight[0]) - f64::from(w[0]) * s0).abs() < 1e-6);
        let b0 = 0.25 - 0.1 * s0;
        assert!((f64::from(bias.as_ref().unwrap()[0]) - b0).abs() < 1e-6);
        assert_eq!(g.nodes[2].inputs, vec![1]);
    }

    #[test]
    fn batchnorm_after_add_stays() {
        let mut b = GraphBuilder::new("t", [1, 2, 2]);
        let x = b.input();
        let a = b.add("add", &[x, x]);
        let bn = b.batchnorm("bn", a, 1, 1e-5);
        b.relu("r", bn);
        let mut g = b.finish();
        assert!(g.fold_batchnorm().is_empty());
        assert!(matches!(g.nodes[2].op, Op::BatchNorm { .. }));
    }

    #[test]
    fn normalization_is_read_and_replaced() {
        let mut b = GraphBuilder::new("t", [3, 2, 2]);
        let x = b.input();
        // Sub mean then Div std as two element-wise nodes, as torch's exporter writes them.
        let s = b.push(
            "sub",
            Op::ChannelAffine {
                scale: vec![1.0],
                shift: IMAGENET_MEAN.iter().map(|m| -m).collect(),
            },
            &[x],
        );
        let d = b.push(
            "div",
            Op::ChannelAffine {
                scale: IMAGENET_STD.iter().map(|s| 1.0 / s).collect(),
                shift: vec![0.0],
            },
            &[s],
        );
        b.relu("r", d);
        let mut g = b.finish();
        assert_eq!(g.normalization().0, Normalization::Imagenet);
        g.set_normalization(&Normalization::None).unwrap();
        assert_eq!(g.nodes.len(), 2);
        assert_eq!(g.normalization().0, Normalization::None);
        g.set_normalization(&Normalization::parse("mean=0.5,std=0.25").unwrap())
            .unwrap();
        assert_eq!(
            g.normalization().0,
            Normalization::Custom {
                mean: vec![0.5; 3],
                std: vec![0.25; 3]
            }
        );
        g.shapes().unwrap();
        assert!(Normalization::parse("mean=1,2,std=3").is_err());
        assert!(Normalization::parse("bogus").is_err());
        assert_eq!(Normalization::parse("MNIST").unwrap(), Normalization::Mnist);
    }

    #[test]
    fn identities_are_removed() {
        let mut b = GraphBuilder::new("t", [1, 2, 2]);
        let x = b.input();
        let i = b.push("id", Op::Identity, &[x]);
        let f = b.flatten("f", i);
        b.push("drop", Op::Identity, &[f]);
        let r = b.relu("r", b.last());
        let _ = r;
        let mut g = b.finish();
        assert_eq!(g.remove_identities(), 2);
        assert_eq!(g.nodes.len(), 3);
        assert_eq!(g.nodes[2].inputs, vec![1]);
        g.shapes().unwrap();
    }
}
