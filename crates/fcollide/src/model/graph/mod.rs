//! The one network description: a directed acyclic graph of named nodes.
//!
//! Every engine works from a [`Graph`]: the burn forward pass and its autodiff
//! ([`crate::model::Network`]), the f64 reference forward ([`crate::exact::forward`]), the
//! region linearization behind the exact LPs ([`crate::exact::linearize`]) and the
//! closed-form affine gradient engine. Importers (safetensors, PyTorch, NumPy, ONNX, TOML
//! specs) produce it and fcollide's own safetensors files store it.
//!
//! Node 0 is the [`Op::Input`] (raw pixels `[C, H, W]` in `[lo, hi]`, usually `[0, 1]`;
//! normalization is a node). Nodes are stored in topological order: a node's inputs are
//! earlier nodes. The last node is the output (the logits). Shapes are inferred in one place,
//! [`Graph::shapes`], from [`Op::output_shape`].
//!
//! **Where a collision can be** ([`Graph::collision_points`]). A collision at a ReLU `r`
//! (`relu(ỹ(u)) = relu(ỹ(t))` for the ReLU's input `ỹ`) implies the same output only if every
//! path from the input to the output passes through `r`, i.e. `r` dominates the output node.
//! In a chain every ReLU does; in a ResNet the ReLU after each residual `Add` does, and a
//! ReLU inside a block does not (the skip path bypasses it).
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::ModelError;

pub mod build;
pub mod fold;
pub mod legacy;
pub mod op;
pub mod region;

pub use build::GraphBuilder;
pub use op::{adaptive_range, Op, Shape, Window};

/// Most values of one node's output (an activation): 2²⁸ (1 GiB of `f32`). A graph whose
/// shapes exceed it (huge paddings, wrapped-around sizes in a hostile file) is refused by
/// [`Graph::shapes`] before anything is allocated for it.
pub const MAX_ACTIVATION_VALUES: usize = 1 << 28;

/// Errors (naming `node`) when an output of shape `out` has more than
/// [`MAX_ACTIVATION_VALUES`] values (or a size that overflows).
pub fn check_activation(node: &str, out: Shape) -> Result<(), ModelError> {
    let len = out.dims().iter().try_fold(1usize, |a, &b| a.checked_mul(b));
    if len.is_none_or(|n| n > MAX_ACTIVATION_VALUES) {
        return Err(ModelError::Shape {
            layer: node.to_string(),
            msg: format!(
                "its output {out} has {} values, above the limit of {MAX_ACTIVATION_VALUES} per activation",
                len.map_or("more than 2⁶⁴".into(), |n| n.to_string())
            ),
        });
    }
    Ok(())
}

/// One node: a name, what it computes and which nodes feed it.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Unique name (`fc1`, `layer1.0.conv1`, …).
    pub name: String,
    /// What it computes.
    pub op: Op,
    /// Indices of the nodes feeding it, all smaller than its own.
    pub inputs: Vec<usize>,
}

/// A network as a DAG of [`Node`]s in topological order (node 0 the input, the last node the
/// output).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "GraphFile", into = "GraphFile")]
pub struct Graph {
    /// Architecture name (`mlp`, `lenet5`, `resnet18`, `onnx`, or a user's).
    pub arch: String,
    /// Input shape `[C, H, W]`.
    pub input_shape: [usize; 3],
    /// Pixel bounds of raw inputs, usually `(0, 1)`.
    pub pixel_bounds: (f32, f32),
    /// The nodes, in topological order.
    pub nodes: Vec<Node>,
}

/// A point at which collisions can be sought: a ReLU that dominates the output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollisionPoint {
    /// The name users give (`fc1`, `conv2`, `layer1.0`): the linear or convolution node
    /// feeding the activation when it feeds nothing else, the activation's own name otherwise.
    pub name: String,
    /// The ReLU node.
    pub relu: usize,
    /// The node whose output is the pre-activation `ỹ` (the ReLU's input).
    pub pre: usize,
}

/// A collision point or the reason a name is not one.
type PointResult = Result<CollisionPoint, ModelError>;

impl Graph {
    /// A graph holding only its input node.
    pub fn new(arch: &str, input_shape: [usize; 3], pixel_bounds: (f32, f32)) -> Self {
        Graph {
            arch: arch.to_string(),
            input_shape,
            pixel_bounds,
            nodes: vec![Node {
                name: "input".into(),
                op: Op::Input,
                inputs: Vec::new(),
            }],
        }
    }

    /// Number of input values, `C·H·W`.
    pub fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// Index of the output node.
    pub fn output(&self) -> usize {
        self.nodes.len().saturating_sub(1)
    }

    /// Index of a node by name.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Checks the structure (input first, names unique, inputs earlier, arity) and infers
    /// every node's output shape (`shapes[0]` is the input's). The one place where shapes are
    /// computed.
    pub fn shapes(&self) -> Result<Vec<Shape>, ModelError> {
        let shape_err = |layer: &str, msg: String| ModelError::Shape {
            layer: layer.to_string(),
            msg,
        };
        let first = self
            .nodes
            .first()
            .ok_or_else(|| shape_err("(none)", "the graph has no nodes".into()))?;
        if first.op != Op::Input || !first.inputs.is_empty() {
            return Err(shape_err(&first.name, "node 0 must be the input".into()));
        }
        if self.input_shape.contains(&0) {
            return Err(shape_err(
                "input",
                format!("input shape {:?} has an empty dimension", self.input_shape),
            ));
        }
        self.input_shape
            .iter()
            .try_fold(1usize, |a, &b| a.checked_mul(b))
            .ok_or_else(|| shape_err("input", "input size overflows".into()))?;
        let (lo, hi) = self.pixel_bounds;
        if lo.is_nan() || hi.is_nan() || lo >= hi {
            return Err(shape_err(
                "input",
                format!("pixel bounds ({lo}, {hi}) are not an interval"),
            ));
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut shapes = Vec::with_capacity(self.nodes.len());
        shapes.push(Shape::Chw(self.input_shape));
        seen.insert(first.name.as_str(), 0);
        for (i, node) in self.nodes.iter().enumerate().skip(1) {
            if node.name.is_empty() {
                return Err(shape_err(&format!("#{i}"), "node has no name".into()));
            }
            if seen.insert(node.name.as_str(), i).is_some() {
                return Err(shape_err(&node.name, "duplicate node name".into()));
            }
            if let Some(&bad) = node.inputs.iter().find(|&&k| k >= i) {
                return Err(shape_err(
                    &node.name,
                    format!("input #{bad} is not an earlier node (the graph must be topologically ordered)"),
                ));
            }
            let ins: Vec<Shape> = node.inputs.iter().map(|&k| shapes[k]).collect();
            let out = node.op.output_shape(&node.name, &ins)?;
            check_activation(&node.name, out)?;
            shapes.push(out);
        }
        if self.nodes.len() < 2 {
            return Err(shape_err("input", "the graph has no operations".into()));
        }
        Ok(shapes)
    }

    /// Checks the graph; returns the number of classes (entries of the output).
    pub fn check(&self) -> Result<usize, ModelError> {
        let shapes = self.shapes()?;
        for (name, _, values) in self.named_params() {
            if let Some(v) = values.iter().find(|v| !v.is_finite()) {
                return Err(ModelError::Shape {
                    layer: name,
                    msg: format!("holds a non-finite value ({v})"),
                });
            }
        }
        Ok(shapes[self.output()].len())
    }

    /// For every node, the nodes that read it.
    pub fn consumers(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            for &k in &n.inputs {
                if !out[k].contains(&i) {
                    out[k].push(i);
                }
            }
        }
        out
    }

    /// Whether node `v` lies on every path from the input to the output. Nodes that do not
    /// lead to the output are ignored (they cannot change it).
    pub fn dominates_output(&self, v: usize) -> bool {
        let n = self.nodes.len();
        // Nodes from which the output is reachable.
        let mut useful = vec![false; n];
        if n == 0 {
            return false;
        }
        useful[n - 1] = true;
        for i in (0..n).rev() {
            if useful[i] {
                for &k in &self.nodes[i].inputs {
                    useful[k] = true;
                }
            }
        }
        // Reachable from the input without passing through v.
        let mut reach = vec![false; n];
        reach[0] = v != 0;
        for i in 1..n {
            if i != v && useful[i] {
                reach[i] = self.nodes[i].inputs.iter().any(|&k| reach[k]);
            }
        }
        !reach[n - 1]
    }

    /// Every point where a collision can be sought, in graph order: the element-wise
    /// activations (ReLU, clips such as ReLU6, LeakyReLU, sigmoid, tanh) that lie on every
    /// path from the input to the output.
    pub fn collision_points(&self) -> Vec<CollisionPoint> {
        let consumers = self.consumers();
        (1..self.nodes.len())
            .filter(|&i| self.is_relu_like(i) && self.dominates_output(i))
            .map(|i| {
                let pre = self.nodes[i].inputs[0];
                let p = &self.nodes[pre];
                let named_by_pre = pre != 0
                    && consumers[pre].len() == 1
                    && matches!(p.op, Op::Linear { .. } | Op::Conv2d { .. });
                CollisionPoint {
                    name: if named_by_pre {
                        p.name.clone()
                    } else {
                        self.nodes[i].name.clone()
                    },
                    relu: i,
                    pre,
                }
            })
            .collect()
    }

    fn is_relu_like(&self, i: usize) -> bool {
        matches!(
            self.nodes[i].op,
            Op::Relu | Op::Clip { .. } | Op::LeakyRelu { .. } | Op::Sigmoid | Op::Tanh
        )
    }

    /// Names of the collision points ([`Graph::collision_points`]).
    pub fn collision_layers(&self) -> Vec<String> {
        self.collision_points()
            .into_iter()
            .map(|p| p.name)
            .collect()
    }

    /// The collision point called `name` (its listed name, or its ReLU's name), or an error
    /// that lists the valid names and says why this one is not valid.
    pub fn collision_point(&self, name: &str) -> PointResult {
        let points = self.collision_points();
        if let Some(p) = points
            .iter()
            .find(|p| p.name == name || self.nodes[p.relu].name == name)
        {
            return Ok(p.clone());
        }
        let valid = if points.is_empty() {
            "(none: no activation lies on every path to the output)".to_string()
        } else {
            points
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let unknown = |why: String| ModelError::UnknownLayer {
            name: name.into(),
            why,
            valid: valid.clone(),
        };
        let Some(i) = self.find(name) else {
            return Err(unknown(format!("network '{}' has no such node", self.arch)));
        };
        let consumers = self.consumers();
        let relu_after = consumers[i].iter().copied().find(|&c| self.is_relu_like(c));
        let relu = if self.is_relu_like(i) {
            Some(i)
        } else {
            relu_after
        };
        let why = match relu {
            Some(r) if !self.dominates_output(r) => format!(
                "the ReLU '{}' is not on every path to the output (a skip connection or another \
                 branch bypasses it), so a collision there need not reach the output",
                self.nodes[r].name
            ),
            Some(r) if r == self.output() => "it is the output node".into(),
            Some(_) => format!(
                "'{name}' ({}) also feeds other nodes, so the ReLU after it does not see all of it",
                self.nodes[i].op.kind()
            ),
            None => format!(
                "it is a {} node not followed by a ReLU (or another activation)",
                self.nodes[i].op.kind()
            ),
        };
        Err(unknown(why))
    }

    /// Index of the node whose output is the pre-activation at collision point `name`.
    pub fn collision_layer_index(&self, name: &str) -> Result<usize, ModelError> {
        Ok(self.collision_point(name)?.pre)
    }

    /// The nodes `upto` depends on (itself included), as a mask.
    pub fn ancestors(&self, upto: usize) -> Vec<bool> {
        let mut mask = vec![false; self.nodes.len()];
        if upto >= self.nodes.len() {
            return mask;
        }
        mask[upto] = true;
        for i in (0..=upto).rev() {
            if mask[i] {
                for &k in &self.nodes[i].inputs {
                    mask[k] = true;
                }
            }
        }
        mask
    }

    /// Whether the output of node `upto` is an affine function of the input (no activation
    /// or max-pooling among its ancestors).
    pub fn is_affine_upto(&self, upto: usize) -> bool {
        let mask = self.ancestors(upto);
        self.nodes
            .iter()
            .zip(&mask)
            .all(|(n, &m)| !m || n.op.is_affine())
    }

    /// Every parameter tensor as `({node}.{suffix}, shape, values)`.
    pub fn named_params(&self) -> Vec<(String, Vec<usize>, &[f32])> {
        self.nodes
            .iter()
            .flat_map(|n| {
                n.op.params()
                    .into_iter()
                    .map(move |(s, shape, v)| (format!("{}.{s}", n.name), shape, v))
            })
            .collect()
    }

    /// Number of parameters.
    pub fn param_count(&self) -> usize {
        self.nodes.iter().map(|n| n.op.param_count()).sum()
    }

    /// The same graph with every parameter vector emptied (the structure alone). The
    /// weights are never copied, so this costs no memory for them.
    pub fn structure(&self) -> Graph {
        self.map_ops(|op| op.structure())
    }

    /// The same graph with the weights and biases of its linear and convolution layers
    /// emptied (batch-norm statistics and the other small constants are kept): what a
    /// [`Network`](crate::model::Network) keeps beside its own copy of those weights. The
    /// weights are never copied.
    pub fn without_weights(&self) -> Graph {
        self.map_ops(|op| {
            if op.has_weights() {
                op.structure()
            } else {
                op.clone()
            }
        })
    }

    fn map_ops(&self, f: impl Fn(&Op) -> Op) -> Graph {
        Graph {
            arch: self.arch.clone(),
            input_shape: self.input_shape,
            pixel_bounds: self.pixel_bounds,
            nodes: self
                .nodes
                .iter()
                .map(|n| Node {
                    name: n.name.clone(),
                    op: f(&n.op),
                    inputs: n.inputs.clone(),
                })
                .collect(),
        }
    }

    /// For each node, the index of the last node that reads it (itself when none does): when
    /// an engine may free its value.
    pub fn last_use(&self) -> Vec<usize> {
        let mut last: Vec<usize> = (0..self.nodes.len()).collect();
        for (i, n) in self.nodes.iter().enumerate() {
            for &k in &n.inputs {
                last[k] = last[k].max(i);
            }
        }
        last
    }
}

/// The serialized form of a [`Graph`]: inputs by name. Reading also accepts the chain of
/// `layers` that fcollide wrote before the graph ([`legacy`]).
#[derive(Serialize, Deserialize)]
struct GraphFile {
    arch: String,
    input_shape: [usize; 3],
    pixel_bounds: (f32, f32),
    #[serde(default)]
    nodes: Vec<NodeFile>,
    #[serde(default, skip_serializing)]
    layers: Option<Vec<legacy::ChainLayer>>,
}

#[derive(Serialize, Deserialize)]
struct NodeFile {
    name: String,
    op: Op,
    #[serde(default)]
    inputs: Vec<String>,
}

impl From<Graph> for GraphFile {
    fn from(g: Graph) -> Self {
        let names: Vec<String> = g.nodes.iter().map(|n| n.name.clone()).collect();
        GraphFile {
            arch: g.arch,
            input_shape: g.input_shape,
            pixel_bounds: g.pixel_bounds,
            nodes: g
                .nodes
                .into_iter()
                .map(|n| NodeFile {
                    name: n.name,
                    op: n.op,
                    inputs: n.inputs.iter().map(|&k| names[k].clone()).collect(),
                })
                .collect(),
            layers: None,
        }
    }
}

impl TryFrom<GraphFile> for Graph {
    type Error = String;

    fn try_from(f: GraphFile) -> Result<Self, String> {
        if let Some(layers) = f.layers {
            if !f.nodes.is_empty() {
                return Err(
                    "a graph has either `nodes` or (older files) `layers`, not both".into(),
                );
            }
            let mut g = legacy::from_chain(&f.arch, f.input_shape, layers);
            g.pixel_bounds = f.pixel_bounds;
            return Ok(g);
        }
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut nodes = Vec::with_capacity(f.nodes.len());
        for (i, n) in f.nodes.into_iter().enumerate() {
            let inputs = n
                .inputs
                .iter()
                .map(|name| {
                    index.get(name).copied().ok_or_else(|| {
                        format!(
                            "node '{}' reads '{name}', which is not an earlier node",
                            n.name
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            if index.insert(n.name.clone(), i).is_some() {
                return Err(format!("duplicate node name '{}'", n.name));
            }
            nodes.push(Node {
                name: n.name,
                op: n.op,
                inputs,
            });
        }
        Ok(Graph {
            arch: f.arch,
            input_shape: f.input_shape,
            pixel_bounds: f.pixel_bounds,
            nodes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// input → conv → relu(a) → conv → add(relu a) → relu(b) → flatten → fc.
    fn residual() -> Graph {
        let mut b = GraphBuilder::new("res", [1, 4, 4]);
        let x = b.input();
        let c1 = b.conv("c1", x, 1, 1, 3, 1, 1, vec![0.1; 9], None);
        let r1 = b.relu("r1", c1);
        let c2 = b.conv("c2", r1, 1, 1, 3, 1, 1, vec![0.1; 9], None);
        let add = b.add("add", &[c2, r1]);
        let r2 = b.relu("block", add);
        let f = b.flatten("flat", r2);
        b.linear("fc", f, 16, 2, vec![0.0; 32], Some(vec![0.0; 2]));
        b.finish()
    }

    #[test]
    fn cut_points_in_a_residual_block() {
        let g = residual();
        g.check().unwrap();
        // r1 is a cut (both branches leave from it); `block` is a cut; nothing inside.
        assert_eq!(g.collision_layers(), vec!["c1", "block"]);
        assert_eq!(
            g.collision_layer_index("block").unwrap(),
            g.find("add").unwrap()
        );
        assert_eq!(
            g.collision_layer_index("r1").unwrap(),
            g.find("c1").unwrap()
        );
        let e = g.collision_point("c2").unwrap_err().to_string();
        assert!(
            e.contains("not followed by a ReLU") && e.contains("c1, block"),
            "{e}"
        );
        assert!(g
            .collision_point("nope")
            .unwrap_err()
            .to_string()
            .contains("no such node"));
    }

    #[test]
    fn a_bypassed_relu_is_not_a_cut() {
        // input → conv a → relu r → conv b → add(a) → relu out-block → flatten → fc: the skip
        // goes from `a` (before r) to the add, so r is bypassed.
        let mut b = GraphBuilder::new("res", [1, 4, 4]);
        let x = b.input();
        let a = b.conv("a", x, 1, 1, 3, 1, 1, vec![0.1; 9], None);
        let r = b.relu("r", a);
        let c = b.conv("c", r, 1, 1, 3, 1, 1, vec![0.1; 9], None);
        let add = b.add("add", &[c, a]);
        let r2 = b.relu("r2", add);
        let f = b.flatten("flat", r2);
        b.linear("fc", f, 16, 2, vec![0.0; 32], None);
        let g = b.finish();
        assert_eq!(g.collision_layers(), vec!["r2"]);
        let e = g.collision_point("r").unwrap_err().to_string();
        assert!(e.contains("bypasses"), "{e}");
    }

    #[test]
    fn serde_round_trip_by_names() {
        let g = residual();
        let json = serde_json::to_string(&g).unwrap();
        assert!(json.contains("\"inputs\":[\"c2\",\"r1\"]"), "{json}");
        let back: Graph = serde_json::from_str(&json).unwrap();
        assert_eq!(back, g);
        let bad = json.replace("[\"c2\",\"r1\"]", "[\"c2\",\"zz\"]");
        let e = serde_json::from_str::<Graph>(&bad).unwrap_err().to_string();
        assert!(e.contains("zz"), "{e}");
    }

    #[test]
    fn structural_errors() {
        let mut g = residual();
        g.nodes[3].inputs = vec![5];
        assert!(g.shapes().unwrap_err().to_string().contains("earlier node"));
        let mut g = residual();
        g.nodes[2].name = "c1".into();
        assert!(g.shapes().unwrap_err().to_string().contains("duplicate"));
        let mut g = residual();
        if let Op::Linear { weight, .. } = &mut g.nodes.last_mut().unwrap().op {
            weight[3] = f32::NAN;
        }
        let e = g.check().unwrap_err().to_string();
        assert!(e.contains("fc.weight") && e.contains("non-finite"), "{e}");
    }

    #[test]
    fn affine_prefix() {
        let g = residual();
        assert!(g.is_affine_upto(g.find("c1").unwrap()));
        assert!(!g.is_affine_upto(g.find("c2").unwrap()));
    }
}
