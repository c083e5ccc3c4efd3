//! Matching a file's tensors to the layers of a [`HostNetwork`] template.
//!
//! Tried in order, after the user's prefix rules and stripping a common `module.` prefix
//! (`nn.DataParallel`):
//! 1. fcollide names: `{layer}.weight` / `{layer}.bias` (PyTorch layouts).
//! 2. The `vgg16_weights.npz` (TensorFlow) layout: `{layer}_W` / `{layer}_b`, convolutions
//!    `[kh, kw, in, out]` (HWIO), fully connected `[in, out]`, and the first fully connected
//!    layer after a flatten taking its inputs in HWC order; all converted to PyTorch layouts.
//! 3. torchvision VGG-16: `features.{0,2,5,…,28}` → `conv1_1`…`conv5_3`, `classifier.{0,3,6}`
//!    → `fc6`, `fc7`, `fc8`.
//! 4. By position: the file's `*.weight` tensors of rank 2 or 4 in natural key order
//!    (`features` before `classifier`, numbers numerically: `0`, `2`, `10`), matched to the
//!    template's affine layers in order (`nn.Sequential` indices or named attributes).
use super::tensors::{RawTensor, TensorMap};
use super::ImportError;
use crate::model::{Graph, Op, Shape};

/// How the file's tensors were matched to layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `{layer}.weight` / `{layer}.bias`.
    Named,
    /// `{layer}_W` / `{layer}_b` in TensorFlow layouts (`vgg16_weights.npz`).
    TfNpz,
    /// torchvision VGG-16 keys.
    TorchvisionVgg16,
    /// By position.
    Positional,
}

/// torchvision VGG-16 key prefixes for fcollide's `vgg16` layer names.
pub const TORCHVISION_VGG16: [(&str, &str); 16] = [
    ("features.0", "conv1_1"),
    ("features.2", "conv1_2"),
    ("features.5", "conv2_1"),
    ("features.7", "conv2_2"),
    ("features.10", "conv3_1"),
    ("features.12", "conv3_2"),
    ("features.14", "conv3_3"),
    ("features.17", "conv4_1"),
    ("features.19", "conv4_2"),
    ("features.21", "conv4_3"),
    ("features.24", "conv5_1"),
    ("features.26", "conv5_2"),
    ("features.28", "conv5_3"),
    ("classifier.0", "fc6"),
    ("classifier.3", "fc7"),
    ("classifier.6", "fc8"),
];

/// Applies prefix rules (first match wins) to every key.
pub fn apply_remap(tensors: TensorMap, rules: &[(String, String)]) -> TensorMap {
    let mut out = TensorMap::new();
    for (k, v) in tensors {
        let k2 = rules
            .iter()
            .find(|(from, _)| k.starts_with(from.as_str()))
            .map(|(from, to)| format!("{to}{}", &k[from.len()..]))
            .unwrap_or(k);
        out.insert(k2, v);
    }
    out
}

/// Keys and shapes, for messages (at most 40).
pub fn describe(tensors: &TensorMap) -> String {
    let mut parts: Vec<String> = tensors
        .iter()
        .take(40)
        .map(|(k, t)| format!("{k} {:?}", t.shape))
        .collect();
    if tensors.len() > 40 {
        parts.push(format!("… ({} more)", tensors.len() - 40));
    }
    if parts.is_empty() {
        "(no tensors)".into()
    } else {
        parts.join(", ")
    }
}

/// Natural sort key: `features` before `classifier` (first segment), and runs of digits
/// compared as numbers (`conv2` < `conv10`, `0` < `2` < `10`).
fn natural_key(k: &str) -> Vec<(u8, u64, String)> {
    let mut out = Vec::new();
    for (i, seg) in k.split('.').enumerate() {
        if i == 0 && seg == "features" {
            out.push((0, 0, String::new()));
            continue;
        }
        if i == 0 && seg == "classifier" {
            out.push((0, 1, String::new()));
            continue;
        }
        let mut rest = seg;
        while !rest.is_empty() {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits > 0 {
                let n = rest[..digits].parse::<u64>().unwrap_or(u64::MAX);
                out.push((1, n, String::new()));
                rest = &rest[digits..];
            } else {
                let text =
                    rest.len() - rest.trim_start_matches(|c: char| !c.is_ascii_digit()).len();
                out.push((2, 0, rest[..text].to_string()));
                rest = &rest[text..];
            }
        }
        out.push((0, 0, String::new())); // a segment end sorts before any continuation
    }
    out
}

/// One affine layer of the template: index, name, expected weight shape, bias length, and
/// for a linear layer right after a flatten of a `[C, H, W]` map, that shape.
struct Slot {
    index: usize,
    name: String,
    weight_shape: Vec<usize>,
    bias_len: usize,
    flat_from: Option<[usize; 3]>,
}

fn slots(template: &Graph) -> Vec<Slot> {
    let shapes = template.shapes().unwrap_or_default();
    let mut out = Vec::new();
    for (i, l) in template.nodes.iter().enumerate() {
        match &l.op {
            Op::Linear {
                in_features,
                out_features,
                ..
            } => {
                let src = l.inputs[0];
                let flat_from = match (&template.nodes[src].op, template.nodes[src].inputs.first())
                {
                    (Op::Flatten, Some(&k)) => match shapes.get(k) {
                        Some(Shape::Chw(d)) => Some(*d),
                        _ => None,
                    },
                    _ => None,
                };
                out.push(Slot {
                    index: i,
                    name: l.name.clone(),
                    weight_shape: vec![*out_features, *in_features],
                    bias_len: *out_features,
                    flat_from,
                });
            }
            Op::Conv2d {
                in_channels,
                out_channels,
                kernel,
                groups,
                ..
            } => out.push(Slot {
                index: i,
                name: l.name.clone(),
                weight_shape: vec![*out_channels, in_channels / groups, kernel[0], kernel[1]],
                bias_len: *out_channels,
                flat_from: None,
            }),
            _ => {}
        }
    }
    out
}

/// Converts TF-layout weights to PyTorch layout.
fn from_tf(w: &RawTensor, slot: &Slot) -> RawTensor {
    match w.shape.len() {
        4 => w.permute(&[3, 2, 0, 1]),
        2 => {
            let t = w.transpose2(); // [out, in]
            match slot.flat_from {
                Some([c, h, wd]) if h * wd > 1 && t.shape[1] == c * h * wd => {
                    // Column j of the TF matrix is input (y, x, ch) at j = (y·W + x)·C + ch;
                    // PyTorch wants ch·H·W + y·W + x.
                    let (out, inp) = (t.shape[0], t.shape[1]);
                    let mut data = vec![0.0; out * inp];
                    for o in 0..out {
                        for y in 0..h {
                            for x in 0..wd {
                                for ch in 0..c {
                                    let tf = (y * wd + x) * c + ch;
                                    let pt = ch * h * wd + y * wd + x;
                                    data[o * inp + pt] = t.data[o * inp + tf];
                                }
                            }
                        }
                    }
                    RawTensor {
                        shape: t.shape,
                        data,
                    }
                }
                _ => t,
            }
        }
        _ => w.clone(),
    }
}

/// Fills `template`'s affine layers from `tensors` (see the module docs for the matching
/// order); returns the network and the layout that matched.
pub fn fill_template(
    template: &Graph,
    tensors: &TensorMap,
    rules: &[(String, String)],
    path: &str,
) -> Result<(Graph, Layout), ImportError> {
    let mut tensors = apply_remap(tensors.clone(), rules);
    if !tensors.is_empty() && tensors.keys().all(|k| k.starts_with("module.")) {
        tensors = tensors
            .into_iter()
            .map(|(k, v)| (k["module.".len()..].to_string(), v))
            .collect();
    }
    let slots = slots(template);
    let has = |k: &str| tensors.contains_key(k);
    // (weight key, bias key) per slot.
    let (layout, keys): (Layout, Vec<(String, String)>) = if slots
        .iter()
        .all(|s| has(&format!("{}.weight", s.name)))
    {
        let k = slots
            .iter()
            .map(|s| (format!("{}.weight", s.name), format!("{}.bias", s.name)))
            .collect();
        (Layout::Named, k)
    } else if !slots.is_empty() && slots.iter().all(|s| has(&format!("{}_W", s.name))) {
        let k = slots
            .iter()
            .map(|s| (format!("{}_W", s.name), format!("{}_b", s.name)))
            .collect();
        (Layout::TfNpz, k)
    } else if slots.len() == 16
        && TORCHVISION_VGG16
            .iter()
            .zip(&slots)
            .all(|((_, ours), s)| *ours == s.name)
        && has("features.0.weight")
    {
        let k = TORCHVISION_VGG16
            .iter()
            .map(|(tv, _)| (format!("{tv}.weight"), format!("{tv}.bias")))
            .collect();
        (Layout::TorchvisionVgg16, k)
    } else {
        if let Some(k) = tensors
            .keys()
            .find(|k| k.ends_with("running_mean") || k.ends_with("running_var"))
        {
            return Err(ImportError::Spec {
                path: path.into(),
                msg: format!(
                    "the file has batch-norm statistics ('{k}'); fcollide networks have no batch norm: fold it into the preceding layer before export"
                ),
            });
        }
        let mut weights: Vec<&String> = tensors
            .iter()
            .filter(|(k, t)| {
                (k.ends_with(".weight") || k.as_str() == "weight") && matches!(t.shape.len(), 2 | 4)
            })
            .map(|(k, _)| k)
            .collect();
        weights.sort_by_key(|k| natural_key(k));
        if weights.len() != slots.len() {
            let names: Vec<&str> = slots.iter().map(|s| s.name.as_str()).collect();
            let first = slots.first().map(|s| s.name.as_str()).unwrap_or("(none)");
            return Err(ImportError::MissingTensor {
                path: path.into(),
                key: format!("{first}.weight"),
                layer: first.into(),
                expected: slots.first().map(|s| s.weight_shape.clone()).unwrap_or_default(),
                available: format!(
                    "{} (matching by position failed too: the model has {} affine layers [{}] but the file has {} weight tensors of rank 2 or 4)",
                    describe(&tensors),
                    slots.len(),
                    names.join(", "),
                    weights.len()
                ),
            });
        }
        let k = weights
            .iter()
            .map(|w| {
                let stem = &w[..w.len() - "weight".len()];
                (w.to_string(), format!("{stem}bias"))
            })
            .collect();
        (Layout::Positional, k)
    };

    let mut net = template.clone();
    let missing = |key: &str, slot: &Slot, expected: Vec<usize>| ImportError::MissingTensor {
        path: path.into(),
        key: key.into(),
        layer: slot.name.clone(),
        expected,
        available: describe(&tensors),
    };
    for (slot, (wk, bk)) in slots.iter().zip(&keys) {
        let w = tensors
            .get(wk)
            .ok_or_else(|| missing(wk, slot, slot.weight_shape.clone()))?;
        let b = tensors
            .get(bk)
            .ok_or_else(|| missing(bk, slot, vec![slot.bias_len]))?;
        let w = if layout == Layout::TfNpz {
            let expected_tf: Vec<usize> = match slot.weight_shape.as_slice() {
                [o, i, kh, kw] => vec![*kh, *kw, *i, *o],
                [o, i] => vec![*i, *o],
                s => s.to_vec(),
            };
            if w.shape != expected_tf {
                return Err(ImportError::Shape {
                    path: path.into(),
                    key: wk.clone(),
                    layer: slot.name.clone(),
                    got: w.shape.clone(),
                    expected: expected_tf,
                });
            }
            from_tf(w, slot)
        } else {
            w.clone()
        };
        if w.shape != slot.weight_shape {
            return Err(ImportError::Shape {
                path: path.into(),
                key: wk.clone(),
                layer: slot.name.clone(),
                got: w.shape.clone(),
                expected: slot.weight_shape.clone(),
            });
        }
        if b.shape != [slot.bias_len] {
            return Err(ImportError::Shape {
                path: path.into(),
                key: bk.clone(),
                layer: slot.name.clone(),
                got: b.shape.clone(),
                expected: vec![slot.bias_len],
            });
        }
        match &mut net.nodes[slot.index].op {
            Op::Linear { weight, bias, .. } | Op::Conv2d { weight, bias, .. } => {
                *weight = w.data;
                *bias = Some(b.data.clone());
            }
            _ => unreachable!("slots are affine layers"),
        }
    }
    net.check().map_err(|source| ImportError::Model {
        path: path.into(),
        source,
    })?;
    Ok((net, layout))
}

/// The tensors of `net` under fcollide names (`{layer}.weight` / `.bias`), PyTorch layouts.
pub fn to_tensor_map(net: &Graph) -> TensorMap {
    net.named_params()
        .into_iter()
        .map(|(name, shape, values)| {
            (
                name,
                RawTensor {
                    shape,
                    data: values.to_vec(),
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::natural_key;

    #[test]
    fn natural_order() {
        let mut keys = vec![
            "classifier.0.weight",
            "features.10.weight",
            "features.2.weight",
            "conv10.weight",
            "conv2.weight",
            "fc1.weight",
        ];
        keys.sort_by_key(|k| natural_key(k));
        assert_eq!(
            keys,
            [
                "features.2.weight",
                "features.10.weight",
                "classifier.0.weight",
                "conv2.weight",
                "conv10.weight",
                "fc1.weight"
            ]
        );
    }
}
