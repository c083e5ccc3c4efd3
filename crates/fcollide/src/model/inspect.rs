//! What a loaded model is: its nodes with shapes and parameter counts, its normalization and
//! its collision layers; with an input, also its logits, top-5 classes and the sizes of the
//! positive and zero sets `|P|`, `|Z|` at every collision layer.
use burn::tensor::Device;
use serde::Serialize;

use super::network::{batch, to_vec};
use super::{Graph, ModelError, Network};
use crate::collide::Activation;

/// One node.
#[derive(Clone, Debug, Serialize)]
pub struct NodeInfo {
    /// Its name.
    pub name: String,
    /// Its operation.
    pub op: String,
    /// The nodes it reads.
    pub inputs: Vec<String>,
    /// Its output shape (one example).
    pub shape: Vec<usize>,
    /// Its parameter count.
    pub params: usize,
}

/// `|P|` and `|Z|` of an input at one collision layer.
#[derive(Clone, Debug, Serialize)]
pub struct LayerSets {
    /// The collision layer.
    pub layer: String,
    /// Its activation.
    pub activation: String,
    /// Units `N`.
    pub units: usize,
    /// `|P|`: units that must keep their value.
    pub positive: usize,
    /// `|Z|`: units that may move (on a flat or saturated part of the activation).
    pub zero: usize,
}

/// One of the top classes.
#[derive(Clone, Debug, Serialize)]
pub struct TopClass {
    /// Class index.
    pub class: usize,
    /// Its name, where known.
    pub name: Option<String>,
    /// Its probability.
    pub probability: f32,
}

/// A model described.
#[derive(Clone, Debug, Serialize)]
pub struct Inspection {
    /// Architecture name.
    pub arch: String,
    /// Input shape `[C, H, W]`.
    pub input_shape: [usize; 3],
    /// Pixel bounds.
    pub pixel_bounds: (f32, f32),
    /// The input normalization, in words.
    pub normalization: String,
    /// Parameter count.
    pub params: usize,
    /// The nodes (the input first).
    pub nodes: Vec<NodeInfo>,
    /// The valid collision layers.
    pub collision_layers: Vec<String>,
    /// With an input: the logits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logits: Option<Vec<f32>>,
    /// With an input: the five most probable classes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top5: Option<Vec<TopClass>>,
    /// With an input: `|P|`, `|Z|` at every collision layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sets: Option<Vec<LayerSets>>,
}

/// Describes `net`; with `input` (`[C·H·W]` raw pixels) runs it on `device`. `labels` name
/// the classes where known (may be empty).
pub fn inspect(
    net: &Graph,
    input: Option<&[f32]>,
    labels: &[String],
    device: &Device,
) -> Result<Inspection, ModelError> {
    let shapes = net.shapes()?;
    let names: Vec<&str> = net.nodes.iter().map(|n| n.name.as_str()).collect();
    let nodes = net
        .nodes
        .iter()
        .zip(&shapes)
        .map(|(n, s)| NodeInfo {
            name: n.name.clone(),
            op: n.op.kind().to_string(),
            inputs: n.inputs.iter().map(|&k| names[k].to_string()).collect(),
            shape: s.dims(),
            params: n.op.param_count(),
        })
        .collect();
    let points = net.collision_points();
    let mut out = Inspection {
        arch: net.arch.clone(),
        input_shape: net.input_shape,
        pixel_bounds: net.pixel_bounds,
        normalization: net.normalization().0.to_string(),
        params: net.param_count(),
        nodes,
        collision_layers: points.iter().map(|p| p.name.clone()).collect(),
        logits: None,
        top5: None,
        sets: None,
    };
    let Some(x) = input else {
        return Ok(out);
    };
    let d = net.input_len();
    if x.len() != d {
        return Err(ModelError::Input {
            got: x.len(),
            expected: d,
            shape: net.input_shape,
        });
    }
    let model = Network::from_graph(net, device)?;
    let mut wanted = vec![net.output()];
    wanted.extend(points.iter().map(|p| p.pre));
    let outs = model.forward_many(batch(x, d, device), &wanted);
    let mut outs = outs.into_iter().map(to_vec);
    let logits = outs.next().unwrap_or_default();
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = logits.iter().map(|&v| f64::from(v - m).exp()).collect();
    let z: f64 = e.iter().sum();
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    out.top5 = Some(
        order
            .iter()
            .take(5)
            .map(|&c| TopClass {
                class: c,
                name: labels.get(c).cloned(),
                probability: (e[c] / z) as f32,
            })
            .collect(),
    );
    out.sets = Some(
        points
            .iter()
            .zip(outs)
            .map(|(p, y)| {
                let act = Activation::of(&net.nodes[p.relu].op).unwrap_or(Activation::Relu);
                let positive = y
                    .iter()
                    .filter(|&&v| act.role(v, 1e-3).is_positive())
                    .count();
                LayerSets {
                    layer: p.name.clone(),
                    activation: act.to_string(),
                    units: y.len(),
                    positive,
                    zero: y.len() - positive,
                }
            })
            .collect(),
    );
    out.logits = Some(logits);
    Ok(out)
}

impl Inspection {
    /// A plain-text description for a terminal.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let [c, h, w] = self.input_shape;
        s.push_str(&format!(
            "model {}: input [{c}, {h}, {w}] in [{}, {}], {} parameters\nnormalization: {}\n\n",
            self.arch, self.pixel_bounds.0, self.pixel_bounds.1, self.params, self.normalization
        ));
        let wn = self
            .nodes
            .iter()
            .map(|n| n.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let wo = self
            .nodes
            .iter()
            .map(|n| n.op.len())
            .max()
            .unwrap_or(2)
            .max(2);
        s.push_str(&format!(
            "{:<wn$}  {:<wo$}  {:<18}  {:>10}  inputs\n",
            "node", "op", "shape", "params"
        ));
        for n in &self.nodes {
            let shape = format!("{:?}", n.shape);
            s.push_str(&format!(
                "{:<wn$}  {:<wo$}  {:<18}  {:>10}  {}\n",
                n.name,
                n.op,
                shape,
                n.params,
                n.inputs.join(", ")
            ));
        }
        s.push_str(&format!(
            "\ncollision layers: {}\n",
            if self.collision_layers.is_empty() {
                "(none)".to_string()
            } else {
                self.collision_layers.join(", ")
            }
        ));
        if let Some(top) = &self.top5 {
            s.push_str("\ntop-5:\n");
            for t in top {
                s.push_str(&format!(
                    "  {:>5}  {:.4}  {}\n",
                    t.class,
                    t.probability,
                    t.name.as_deref().unwrap_or("")
                ));
            }
        }
        if let Some(sets) = &self.sets {
            s.push_str(
                "\nat the input, per collision layer: |P| (keep their value) / |Z| (may move)\n",
            );
            for l in sets {
                s.push_str(&format!(
                    "  {:<wn$}  {:>8} units  |P| {:>8}  |Z| {:>8}  ({})\n",
                    l.layer, l.units, l.positive, l.zero, l.activation
                ));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{arch, default_device};
    use rand::SeedableRng;

    #[test]
    fn describes_and_runs() {
        let net = arch::lenet5(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
        let i = inspect(&net, None, &[], &default_device()).unwrap();
        assert_eq!(i.collision_layers, vec!["conv1", "conv2", "fc1", "fc2"]);
        assert!(i.logits.is_none());
        assert_eq!(i.params, net.param_count());
        let x = vec![0.5f32; 784];
        let i = inspect(&net, Some(&x), &[], &default_device()).unwrap();
        assert_eq!(i.logits.as_ref().unwrap().len(), 10);
        let sets = i.sets.unwrap();
        assert_eq!(sets[0].units, 6 * 28 * 28);
        assert_eq!(sets[2].positive + sets[2].zero, 120);
        let json = serde_json::to_value(&i.top5).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 5);
        assert!(inspect(&net, Some(&x[..10]), &[], &default_device()).is_err());
    }
}
