//! Matching a weights file's tensors to the nodes of a [`Graph`] template.
//!
//! A template names its tensors `{node}.{param}` with the parameter names of
//! [`Op::params`]: `weight` and `bias` of linear and convolution layers, and batch norm's
//! `weight`, `bias`, `running_mean`, `running_var` (PyTorch's state-dict names and layouts).
//!
//! **Keys.** Each key of the file is rewritten, in this order: the user's prefix rules
//! (`remap`, first match wins); a `module.` prefix common to every key is stripped
//! (`nn.DataParallel`); the template's alias table (`features.0` → `conv1_1`: a key that
//! starts with an alias's prefix followed by `.` takes the node's name). Batch norm's
//! `num_batches_tracked` buffers and the keys listed in `ignore` are accepted and not used.
//!
//! **Layouts**, tried in order; the first under which every tensor fits is used:
//! 1. **By name** ([`Layout::Named`]): the tensor of `{node}.{param}` is the key of that name.
//! 2. **`vgg16_weights.npz`** ([`Layout::TfNpz`]): `{node}_W` / `{node}_b`, convolutions
//!    `[kh, kw, in, out]` (HWIO), fully connected `[in, out]`, and the first fully connected
//!    layer after a flatten taking its inputs in HWC order; all converted to PyTorch layouts.
//! 3. **By position in the file's order** ([`Layout::Positional`]): the file's tensors are
//!    grouped by module (the key up to its last `.`), groups in the order of their first
//!    tensor, and paired with the template's nodes with parameters in graph order (the order
//!    of a PyTorch state dict); each group must hold exactly the node's parameter names with
//!    its shapes.
//! 4. **By position in natural key order** ([`Layout::PositionalNatural`]), for files that do
//!    not keep their writer's order (safetensors sorts its keys): groups sorted with
//!    `features` before `classifier` and runs of digits compared as numbers (`2` < `10`).
//!
//! **Every tensor of the file must be used.** A template tensor the file lacks, a file tensor
//! the template does not use (a bias where the template's layer has none, batch-norm
//! statistics in a file whose template has no batch norm) and a shape that differs each make
//! the load fail, naming the tensors (lists capped), their shapes in the file and the expected
//! shapes; batch-norm tensors on one side only are called out with the architecture to use
//! when there is one (`use --arch vgg16_bn`). When no layout fits, the error is the by-name
//! one when any key matched by name, else the by-position one.
//!
//! After filling, batch norm is folded into the layer before it where it can be
//! ([`Graph::fold_batchnorm`]) and the graph is checked.
use std::collections::HashMap;

use super::tensors::{RawTensor, TensorMap};
use super::ImportError;
use crate::model::{torchvision, Graph, Op, Shape};

/// How the file's tensors were matched to nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `{node}.{param}` (after the remap rules and the alias table).
    Named,
    /// `{node}_W` / `{node}_b` in TensorFlow layouts (`vgg16_weights.npz`).
    TfNpz,
    /// By position, in the file's own order.
    Positional,
    /// By position, in natural key order.
    PositionalNatural,
}

/// torchvision VGG-16 key prefixes for fcollide's `vgg16` node names (the table
/// [`crate::model::zoo::aliases`] gives for `vgg16`).
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

/// How to read a file's keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchOptions {
    /// The user's prefix rules `(from, to)`, first match wins.
    pub remap: Vec<(String, String)>,
    /// The template's alias table: file key prefix → node name.
    pub aliases: Vec<(String, String)>,
    /// Keys (as in the file, or after the rewriting) accepted and not used.
    pub ignore: Vec<String>,
}

/// The outcome of [`fill`].
#[derive(Clone, Debug)]
pub struct Matched {
    /// The filled graph, batch norm folded, checked.
    pub graph: Graph,
    /// How the tensors were matched.
    pub layout: Layout,
    /// The batch-norm nodes folded into the layer before them.
    pub folded: Vec<String>,
    /// Keys of the file accepted without use (`num_batches_tracked`, `ignore`).
    pub skipped: Vec<String>,
}

/// Most names listed in one part of an error message.
const LIST_CAP: usize = 10;

/// Applies prefix rules (first match wins) to every key.
pub fn apply_remap(tensors: TensorMap, rules: &[(String, String)]) -> TensorMap {
    tensors
        .into_iter()
        .map(|(k, v)| (remap_key(&k, rules), v))
        .collect()
}

fn remap_key(k: &str, rules: &[(String, String)]) -> String {
    rules
        .iter()
        .find(|(from, _)| k.starts_with(from.as_str()))
        .map(|(from, to)| format!("{to}{}", &k[from.len()..]))
        .unwrap_or_else(|| k.to_string())
}

fn alias_key(k: String, aliases: &[(String, String)]) -> String {
    for (from, to) in aliases {
        if let Some(rest) = k.strip_prefix(from.as_str()) {
            if rest.starts_with('.') {
                return format!("{to}{rest}");
            }
        }
    }
    k
}

/// The keys as the matcher sees them: remapped, a common `module.` prefix stripped, aliases
/// applied (see the module docs).
pub fn canonical_keys<'a>(
    keys: impl IntoIterator<Item = &'a str>,
    opts: &MatchOptions,
) -> Vec<String> {
    let mut out: Vec<String> = keys
        .into_iter()
        .map(|k| remap_key(k, &opts.remap))
        .collect();
    if !out.is_empty() && out.iter().all(|k| k.starts_with("module.")) {
        for k in &mut out {
            k.drain(.."module.".len());
        }
    }
    out.into_iter()
        .map(|k| alias_key(k, &opts.aliases))
        .collect()
}

/// Keys and shapes, for messages (at most 40).
pub fn describe(tensors: &TensorMap) -> String {
    list(
        tensors.iter().map(|(k, t)| format!("{k} {:?}", t.shape)),
        tensors.len(),
        40,
    )
}

/// `items` joined with `, `, at most `cap` of them, then `… (N in all)`.
fn list(items: impl IntoIterator<Item = String>, total: usize, cap: usize) -> String {
    let mut parts: Vec<String> = items.into_iter().take(cap).collect();
    if parts.is_empty() {
        return "(none)".into();
    }
    if total > parts.len() {
        parts.push(format!("… ({total} in all)"));
    }
    parts.join(", ")
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

/// One parameter tensor of the template.
struct Param {
    node: usize,
    suffix: &'static str,
    /// `{node}.{suffix}`.
    key: String,
    shape: Vec<usize>,
    /// For the weight of a linear layer reading a flatten of a `[C, H, W]` map: that shape
    /// (the TF layout orders those inputs HWC).
    flat_from: Option<[usize; 3]>,
}

fn params(template: &Graph) -> Vec<Param> {
    let shapes = template.shapes().unwrap_or_default();
    let mut out = Vec::new();
    for (i, n) in template.nodes.iter().enumerate() {
        let flat_from = match (&n.op, n.inputs.first()) {
            (Op::Linear { .. }, Some(&src)) => {
                match (&template.nodes[src].op, template.nodes[src].inputs.first()) {
                    (Op::Flatten, Some(&k)) => match shapes.get(k) {
                        Some(Shape::Chw(d)) => Some(*d),
                        _ => None,
                    },
                    _ => None,
                }
            }
            _ => None,
        };
        for (suffix, shape, _) in n.op.params() {
            out.push(Param {
                node: i,
                suffix,
                key: format!("{}.{suffix}", n.name),
                shape,
                flat_from: if suffix == "weight" { flat_from } else { None },
            });
        }
    }
    out
}

/// A tensor of the file.
struct Entry {
    /// The key in the file.
    orig: String,
    /// The key after [`canonical_keys`].
    key: String,
    tensor: RawTensor,
}

fn last_segment(k: &str) -> &str {
    k.rsplit('.').next().unwrap_or(k)
}

/// A matching: for each template parameter, the entry that fills it.
type Assignment = Vec<usize>;

/// What went wrong under one layout.
#[derive(Default)]
struct Problems {
    /// Template params (index) the file lacks.
    missing: Vec<usize>,
    /// Entries (index) not used.
    unused: Vec<usize>,
    /// (param, entry, expected shape in the file's layout) with different shapes.
    shapes: Vec<(usize, usize, Vec<usize>)>,
    /// How many template params were found by key.
    found: usize,
}

impl Problems {
    fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unused.is_empty() && self.shapes.is_empty()
    }
}

fn by_name(ps: &[Param], entries: &[Entry], active: &[usize]) -> (Assignment, Problems) {
    let index: HashMap<&str, usize> = active
        .iter()
        .map(|&e| (entries[e].key.as_str(), e))
        .collect();
    let mut used = vec![false; entries.len()];
    let mut assign = Vec::with_capacity(ps.len());
    let mut pr = Problems::default();
    for (pi, p) in ps.iter().enumerate() {
        match index.get(p.key.as_str()) {
            Some(&e) => {
                used[e] = true;
                pr.found += 1;
                if entries[e].tensor.shape != p.shape {
                    pr.shapes.push((pi, e, p.shape.clone()));
                }
                assign.push(e);
            }
            None => {
                pr.missing.push(pi);
                assign.push(usize::MAX);
            }
        }
    }
    pr.unused = active.iter().copied().filter(|&e| !used[e]).collect();
    (assign, pr)
}

/// The TF name and expected (TF-layout) shape of a parameter, or `None` for parameters the TF
/// layout does not have (batch norm).
fn tf_key(p: &Param, template: &Graph) -> Option<(String, Vec<usize>)> {
    let name = &template.nodes[p.node].name;
    if !template.nodes[p.node].op.has_weights() {
        return None;
    }
    match p.suffix {
        "weight" => Some((
            format!("{name}_W"),
            match p.shape.as_slice() {
                [o, i, kh, kw] => vec![*kh, *kw, *i, *o],
                [o, i] => vec![*i, *o],
                s => s.to_vec(),
            },
        )),
        "bias" => Some((format!("{name}_b"), p.shape.clone())),
        _ => None,
    }
}

fn by_tf(
    ps: &[Param],
    template: &Graph,
    entries: &[Entry],
    active: &[usize],
) -> (Assignment, Problems) {
    let index: HashMap<&str, usize> = active
        .iter()
        .map(|&e| (entries[e].key.as_str(), e))
        .collect();
    let mut used = vec![false; entries.len()];
    let mut assign = Vec::with_capacity(ps.len());
    let mut pr = Problems::default();
    for (pi, p) in ps.iter().enumerate() {
        let Some((key, shape)) = tf_key(p, template) else {
            pr.missing.push(pi);
            assign.push(usize::MAX);
            continue;
        };
        match index.get(key.as_str()) {
            Some(&e) => {
                used[e] = true;
                pr.found += 1;
                if entries[e].tensor.shape != shape {
                    pr.shapes.push((pi, e, shape));
                }
                assign.push(e);
            }
            None => {
                pr.missing.push(pi);
                assign.push(usize::MAX);
            }
        }
    }
    pr.unused = active.iter().copied().filter(|&e| !used[e]).collect();
    (assign, pr)
}

/// Splits `k` into its module and parameter name.
fn stem_suffix(k: &str) -> (&str, &str) {
    k.rsplit_once('.').unwrap_or(("", k))
}

fn shape_list<'a>(items: impl IntoIterator<Item = (&'a str, &'a [usize])>) -> String {
    items
        .into_iter()
        .map(|(s, sh)| format!("{s} {sh:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Matching by position: `active` entries grouped by module in the given order, paired with the
/// template's nodes with parameters.
fn by_position(
    ps: &[Param],
    template: &Graph,
    entries: &[Entry],
    active: &[usize],
    natural: bool,
) -> Result<Assignment, String> {
    let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
    for &e in active {
        let (stem, _) = stem_suffix(&entries[e].key);
        match groups.iter_mut().find(|(s, _)| *s == stem) {
            Some((_, v)) => v.push(e),
            None => groups.push((stem, vec![e])),
        }
    }
    if natural {
        groups.sort_by_key(|(s, _)| natural_key(s));
    }
    let mut nodes: Vec<(usize, Vec<usize>)> = Vec::new();
    for (pi, p) in ps.iter().enumerate() {
        match nodes.last_mut() {
            Some((n, v)) if *n == p.node => v.push(pi),
            _ => nodes.push((p.node, vec![pi])),
        }
    }
    let order = if natural {
        "natural key order"
    } else {
        "the file's order"
    };
    let name = |s: &str| {
        if s.is_empty() {
            "(top level)".to_string()
        } else {
            format!("'{s}'")
        }
    };
    if groups.len() != nodes.len() {
        return Err(format!(
            "by position ({order}): the file has {} parameter group(s) [{}], the model has {} layer(s) with parameters [{}]",
            groups.len(),
            list(groups.iter().map(|(s, _)| s.to_string()), groups.len(), 2 * LIST_CAP),
            nodes.len(),
            list(nodes.iter().map(|(n, _)| template.nodes[*n].name.clone()), nodes.len(), 2 * LIST_CAP),
        ));
    }
    let mut assign = vec![usize::MAX; ps.len()];
    for (k, ((stem, es), (node, pis))) in groups.iter().zip(&nodes).enumerate() {
        let fits = es.len() == pis.len()
            && pis.iter().all(|&pi| {
                es.iter().any(|&e| {
                    stem_suffix(&entries[e].key).1 == ps[pi].suffix
                        && entries[e].tensor.shape == ps[pi].shape
                })
            });
        if !fits {
            return Err(format!(
                "by position ({order}): group {} {} ({}) does not fit node '{}' ({}: {})",
                k + 1,
                name(stem),
                shape_list(es.iter().map(|&e| (
                    stem_suffix(&entries[e].key).1,
                    entries[e].tensor.shape.as_slice()
                ))),
                template.nodes[*node].name,
                template.nodes[*node].op.kind(),
                shape_list(
                    pis.iter()
                        .map(|&pi| (ps[pi].suffix, ps[pi].shape.as_slice()))
                ),
            ));
        }
        for &pi in pis {
            assign[pi] = *es
                .iter()
                .find(|&&e| stem_suffix(&entries[e].key).1 == ps[pi].suffix)
                .expect("checked");
        }
    }
    Ok(assign)
}

/// Converts TF-layout weights to PyTorch layout.
fn from_tf(w: &RawTensor, p: &Param) -> RawTensor {
    match w.shape.len() {
        4 => w.permute(&[3, 2, 0, 1]),
        2 => {
            let t = w.transpose2(); // [out, in]
            match p.flat_from {
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

/// The hint when batch norm is on one side only.
fn batchnorm_hint(template: &Graph, entries: &[Entry], active: &[usize]) -> Option<String> {
    let file_bn: Vec<&str> = active
        .iter()
        .map(|&e| entries[e].orig.as_str())
        .filter(|k| last_segment(k) == "running_mean")
        .collect();
    let model_bn: Vec<&str> = template
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::BatchNorm { .. }))
        .map(|n| n.name.as_str())
        .collect();
    let arch = &template.arch;
    if !file_bn.is_empty() && model_bn.is_empty() {
        let with_bn = format!("{arch}_bn");
        let fix = if torchvision::NAMES.contains(&with_bn.as_str()) {
            format!("use the architecture `{with_bn}` (the `arch` parameter)")
        } else {
            "use an architecture with batch norm (in a spec: batchnorm nodes), or fold the batch norm into the layers before it when exporting".into()
        };
        Some(format!(
            "the file has batch-norm tensors ({}) but the model '{arch}' has no batch norm: {fix}",
            list(file_bn.iter().map(|s| s.to_string()), file_bn.len(), 3)
        ))
    } else if file_bn.is_empty() && !model_bn.is_empty() && !active.is_empty() {
        let fix = match arch.strip_suffix("_bn") {
            Some(base) if torchvision::NAMES.contains(&base) => {
                format!(": use the architecture `{base}` (the `arch` parameter)")
            }
            _ => String::new(),
        };
        Some(format!(
            "the model '{arch}' has batch norm ({}) but the file has no batch-norm tensors{fix}",
            list(model_bn.iter().map(|s| s.to_string()), model_bn.len(), 3)
        ))
    } else {
        None
    }
}

/// The message for a failed by-name (or TF) match.
fn named_report(
    ps: &[Param],
    pr: &Problems,
    template: &Graph,
    entries: &[Entry],
    opts: &MatchOptions,
    tf: bool,
    brief: bool,
) -> String {
    // After a headline (batch norm on one side), the rest are its consequences: list fewer.
    let (shape_cap, cap) = if brief { (1, 5) } else { (3, LIST_CAP) };
    // Show a missing parameter under the key the file would have: the alias when the file
    // used aliases, the TF name for the TF layout.
    let aliased = entries.iter().any(|e| {
        opts.aliases
            .iter()
            .any(|(from, _)| e.orig.starts_with(from.as_str()))
    });
    let file_key = |p: &Param| -> String {
        if tf {
            if let Some((k, _)) = tf_key(p, template) {
                return format!("'{k}'");
            }
        }
        let node = &template.nodes[p.node].name;
        if aliased {
            if let Some((from, _)) = opts.aliases.iter().find(|(_, to)| to == node) {
                return format!("'{from}.{}' (node '{node}')", p.suffix);
            }
        }
        format!("'{}'", p.key)
    };
    let mut parts = Vec::new();
    for &(pi, e, ref want) in pr.shapes.iter().take(shape_cap) {
        parts.push(format!(
            "tensor '{}' has shape {:?}, expected {want:?} (node '{}')",
            entries[e].orig, entries[e].tensor.shape, template.nodes[ps[pi].node].name
        ));
    }
    if pr.shapes.len() > shape_cap {
        parts.push(format!("{} shape differences in all", pr.shapes.len()));
    }
    if !pr.missing.is_empty() {
        parts.push(format!(
            "{} tensor(s) missing from the file: {}",
            pr.missing.len(),
            list(
                pr.missing.iter().map(|&pi| {
                    let shape = if tf {
                        tf_key(&ps[pi], template)
                            .map(|(_, s)| s)
                            .unwrap_or_default()
                    } else {
                        ps[pi].shape.clone()
                    };
                    format!("{} {shape:?}", file_key(&ps[pi]))
                }),
                pr.missing.len(),
                cap
            )
        ));
    }
    if !pr.unused.is_empty() {
        parts.push(format!(
            "{} tensor(s) of the file not used by the model: {}",
            pr.unused.len(),
            list(
                pr.unused.iter().map(|&e| {
                    let ent = &entries[e];
                    let mut s = format!("'{}' {:?}", ent.orig, ent.tensor.shape);
                    let (stem, suffix) = stem_suffix(&ent.key);
                    if suffix == "bias" {
                        if let Some(i) = template.find(stem) {
                            if template.nodes[i].op.has_weights() {
                                s.push_str(&format!(" (node '{stem}' has no bias)"));
                            }
                        }
                    }
                    s
                }),
                pr.unused.len(),
                cap
            )
        ));
    }
    if !pr.missing.is_empty() && pr.found == 0 {
        parts.push(format!(
            "the file has: {}",
            list(
                entries
                    .iter()
                    .map(|e| format!("{} {:?}", e.orig, e.tensor.shape)),
                entries.len(),
                2 * LIST_CAP
            )
        ));
    }
    parts.join("; ")
}

/// Fills `template` (consumed) with the file's tensors `tensors` (in the file's order; see
/// the module docs for the matching), folds batch norm and checks the result. `path` names
/// the file in errors.
pub fn fill(
    mut template: Graph,
    tensors: impl IntoIterator<Item = (String, RawTensor)>,
    opts: &MatchOptions,
    path: &str,
) -> Result<Matched, ImportError> {
    let raw: Vec<(String, RawTensor)> = tensors.into_iter().collect();
    let keys = canonical_keys(raw.iter().map(|(k, _)| k.as_str()), opts);
    let mut entries: Vec<Entry> = raw
        .into_iter()
        .zip(keys)
        .map(|((orig, tensor), key)| Entry { orig, key, tensor })
        .collect();
    let mut skipped = Vec::new();
    let mut active = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if last_segment(&e.key) == "num_batches_tracked"
            || opts.ignore.iter().any(|k| *k == e.orig || *k == e.key)
        {
            skipped.push(e.orig.clone());
        } else {
            active.push(i);
        }
    }
    // Two keys of the file that become one.
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for &e in &active {
        if let Some(&first) = seen.get(entries[e].key.as_str()) {
            return Err(ImportError::Mismatch {
                path: path.into(),
                arch: template.arch.clone(),
                msg: format!(
                    "the keys '{}' and '{}' both read as '{}' after the remap rules, the `module.` prefix and the aliases",
                    entries[first].orig, entries[e].orig, entries[e].key
                ),
            });
        }
        seen.insert(&entries[e].key, e);
    }
    let ps = params(&template);
    let arch = template.arch.clone();

    let (named_assign, named) = by_name(&ps, &entries, &active);
    let tf_usable = ps.iter().all(|p| template.nodes[p.node].op.has_weights());
    let (tf_assign, tf) = if tf_usable {
        by_tf(&ps, &template, &entries, &active)
    } else {
        (Vec::new(), Problems::default())
    };
    let (assign, layout) = if named.is_empty() {
        (named_assign, Layout::Named)
    } else if tf_usable && tf.is_empty() {
        (tf_assign, Layout::TfNpz)
    } else {
        match by_position(&ps, &template, &entries, &active, false) {
            Ok(a) => (a, Layout::Positional),
            Err(file_order) => match by_position(&ps, &template, &entries, &active, true) {
                Ok(a) => (a, Layout::PositionalNatural),
                Err(natural) => {
                    let hint = batchnorm_hint(&template, &entries, &active);
                    let brief = hint.is_some();
                    let mut parts: Vec<String> = hint.into_iter().collect();
                    if named.found > 0 {
                        // Only shape differences: the plain shape error.
                        if parts.is_empty() && named.missing.is_empty() && named.unused.is_empty() {
                            let (pi, e, want) = &named.shapes[0];
                            return Err(ImportError::Shape {
                                path: path.into(),
                                key: entries[*e].orig.clone(),
                                layer: template.nodes[ps[*pi].node].name.clone(),
                                got: entries[*e].tensor.shape.clone(),
                                expected: want.clone(),
                            });
                        }
                        parts.push(named_report(
                            &ps, &named, &template, &entries, opts, false, brief,
                        ));
                    } else if tf.found > 0 {
                        parts.push(named_report(
                            &ps, &tf, &template, &entries, opts, true, brief,
                        ));
                    } else {
                        parts.push(format!("no key matches a node by name; {file_order}"));
                        if natural != file_order {
                            parts.push(natural);
                        }
                        parts.push(format!(
                            "the file has: {}",
                            list(
                                active.iter().map(|&e| format!(
                                    "{} {:?}",
                                    entries[e].orig, entries[e].tensor.shape
                                )),
                                active.len(),
                                2 * LIST_CAP
                            )
                        ));
                    }
                    return Err(ImportError::Mismatch {
                        path: path.into(),
                        arch,
                        msg: parts.join("; "),
                    });
                }
            },
        }
    };

    // Move the tensors into the template.
    for (pi, p) in ps.iter().enumerate() {
        let e = &mut entries[assign[pi]];
        let data = if layout == Layout::TfNpz {
            let d = from_tf(&e.tensor, p).data;
            e.tensor.data = Vec::new(); // the file's layout is not needed any more
            d
        } else {
            std::mem::take(&mut e.tensor.data)
        };
        let mut dsts = template.nodes[p.node].op.params_mut();
        let (_, dst) = dsts
            .iter_mut()
            .find(|(s, _)| *s == p.suffix)
            .expect("the template's own parameter");
        **dst = data;
    }
    template.check().map_err(|source| ImportError::Model {
        path: path.into(),
        source,
    })?;
    let folded = template.fold_batchnorm();
    template.check().map_err(|source| ImportError::Model {
        path: path.into(),
        source,
    })?;
    Ok(Matched {
        graph: template,
        layout,
        folded,
        skipped,
    })
}

/// [`fill`] for a borrowed template and map, with the template's aliases
/// ([`MatchOptions::for_arch`]) and the prefix `rules`; returns the graph and the layout.
/// The map is copied: [`super::fill_tensors`] moves an owned one instead.
pub fn fill_template(
    template: &Graph,
    tensors: &TensorMap,
    rules: &[(String, String)],
    path: &str,
) -> Result<(Graph, Layout), ImportError> {
    let opts = MatchOptions {
        remap: rules.to_vec(),
        ..MatchOptions::for_arch(&template.arch)
    };
    let m = fill(template.without_weights(), tensors.clone(), &opts, path)?;
    Ok((m.graph, m.layout))
}

/// The tensors of `net` under its node names (`{node}.{param}`), PyTorch layouts.
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
    use super::*;
    use crate::model::GraphBuilder;

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

    #[test]
    fn keys_are_remapped_stripped_and_aliased() {
        let opts = MatchOptions {
            remap: vec![("net.".into(), "".into())],
            aliases: vec![("features.1".into(), "conv".into())],
            ignore: vec![],
        };
        let k = canonical_keys(
            ["module.features.1.weight", "module.features.10.bias"],
            &opts,
        );
        assert_eq!(k, ["conv.weight", "features.10.bias"]);
        let k = canonical_keys(["net.features.1.weight", "x"], &opts);
        assert_eq!(k, ["conv.weight", "x"]);
    }

    fn t(shape: &[usize], v: f32) -> RawTensor {
        RawTensor {
            shape: shape.to_vec(),
            data: vec![v; shape.iter().product()],
        }
    }

    /// conv (2→3, 1×1, no bias) → bn → relu → flatten → fc (3·2·2 → 2).
    fn tiny(bn: bool) -> Graph {
        let mut b = GraphBuilder::new("tiny", [2, 2, 2]);
        let mut x = b.conv("conv", 0, 2, 3, 1, 1, 0, vec![0.0; 6], None);
        if bn {
            x = b.batchnorm("bn", x, 3, 1e-5);
        }
        x = b.relu("relu", x);
        x = b.flatten("flatten", x);
        b.linear("fc", x, 12, 2, vec![0.0; 24], Some(vec![0.0; 2]));
        b.finish()
    }

    fn bn_tensors(prefix: &str) -> Vec<(String, RawTensor)> {
        vec![
            (format!("{prefix}.weight"), t(&[3], 2.0)),
            (format!("{prefix}.bias"), t(&[3], 0.5)),
            (format!("{prefix}.running_mean"), t(&[3], 0.1)),
            (format!("{prefix}.running_var"), t(&[3], 4.0)),
            (format!("{prefix}.num_batches_tracked"), t(&[], 7.0)),
        ]
    }

    #[test]
    fn batchnorm_is_filled_and_folded() {
        let mut file = vec![("conv.weight".to_string(), t(&[3, 2, 1, 1], 1.0))];
        file.extend(bn_tensors("bn"));
        file.push(("fc.weight".into(), t(&[2, 12], 0.5)));
        file.push(("fc.bias".into(), t(&[2], 0.0)));
        let m = fill(tiny(true), file, &MatchOptions::default(), "f.pth").unwrap();
        assert_eq!(m.layout, Layout::Named);
        assert_eq!(m.folded, ["bn"]);
        assert_eq!(m.skipped, ["bn.num_batches_tracked"]);
        let Op::Conv2d { weight, bias, .. } = &m.graph.nodes[1].op else {
            panic!()
        };
        let s = 2.0 / (4.0f64 + 1e-5).sqrt();
        assert!((f64::from(weight[0]) - s).abs() < 1e-6);
        assert!((f64::from(bias.as_ref().unwrap()[0]) - (0.5 - 0.1 * s)).abs() < 1e-6);
    }

    #[test]
    fn unused_batchnorm_tensors_are_named() {
        let mut file = vec![("conv.weight".to_string(), t(&[3, 2, 1, 1], 1.0))];
        file.extend(bn_tensors("bn"));
        file.push(("fc.weight".into(), t(&[2, 12], 0.5)));
        file.push(("fc.bias".into(), t(&[2], 0.0)));
        let e = fill(tiny(false), file, &MatchOptions::default(), "f.pth")
            .unwrap_err()
            .to_string();
        assert!(e.contains("f.pth") && e.contains("batch-norm"), "{e}");
        assert!(
            e.contains("'bn.running_mean' [3]") && e.contains("'bn.weight' [3]"),
            "{e}"
        );
        assert!(!e.contains("num_batches_tracked' ["), "{e}");
    }

    #[test]
    fn a_bias_the_template_lacks_is_not_dropped() {
        let file = vec![
            ("conv.weight".to_string(), t(&[3, 2, 1, 1], 1.0)),
            ("conv.bias".to_string(), t(&[3], 1.0)),
            ("fc.weight".into(), t(&[2, 12], 0.5)),
            ("fc.bias".into(), t(&[2], 0.0)),
        ];
        let e = fill(tiny(false), file, &MatchOptions::default(), "f.pth")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'conv.bias' [3] (node 'conv' has no bias)"),
            "{e}"
        );
    }

    #[test]
    fn position_follows_the_file_order() {
        // Keys that sort differently from the model's order: matched in the file's order.
        let file = vec![
            ("b_first.weight".to_string(), t(&[3, 2, 1, 1], 1.0)),
            ("a_second.weight".into(), t(&[2, 12], 0.5)),
            ("a_second.bias".into(), t(&[2], 0.25)),
        ];
        let m = fill(tiny(false), file.clone(), &MatchOptions::default(), "f").unwrap();
        assert_eq!(m.layout, Layout::Positional);
        let Op::Linear { bias, .. } = &m.graph.nodes[m.graph.find("fc").unwrap()].op else {
            panic!()
        };
        assert_eq!(bias.as_deref(), Some(&[0.25, 0.25][..]));
        // Reversed, neither the file's order nor the natural order fits: the error says so.
        let mut rev = file;
        rev.reverse();
        let e = fill(tiny(false), rev, &MatchOptions::default(), "f")
            .unwrap_err()
            .to_string();
        assert!(e.contains("by position (the file's order)"), "{e}");
        assert!(e.contains("does not fit node 'conv'"), "{e}");
    }

    #[test]
    fn ignore_and_duplicates() {
        let file = vec![
            ("conv.weight".to_string(), t(&[3, 2, 1, 1], 1.0)),
            ("fc.weight".into(), t(&[2, 12], 0.5)),
            ("fc.bias".into(), t(&[2], 0.0)),
            ("step".into(), t(&[1], 3.0)),
        ];
        let e = fill(tiny(false), file.clone(), &MatchOptions::default(), "f")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'step' [1]"), "{e}");
        let opts = MatchOptions {
            ignore: vec!["step".into()],
            ..Default::default()
        };
        let m = fill(tiny(false), file.clone(), &opts, "f").unwrap();
        assert_eq!(m.skipped, ["step"]);
        let opts = MatchOptions {
            remap: vec![("step".into(), "fc.bias".into())],
            ..Default::default()
        };
        let e = fill(tiny(false), file, &opts, "f").unwrap_err().to_string();
        assert!(e.contains("both read as 'fc.bias'"), "{e}");
    }
}
