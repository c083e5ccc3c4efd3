//! Every operation family, exported by torch itself, through `fcollide::model::load`.
//!
//! The fixtures (`tests/fixtures/ops`) are made by `scripts/make_op_fixtures.py` (torch 2.15,
//! not run by CI): tiny seeded torch modules — a residual network, conv–BN–ReLU, average and
//! adaptive pooling, max pooling with padding and ceil mode, a concat (fire) module, ReLU6 /
//! LeakyReLU / Sigmoid / Tanh, grouped and dilated convolutions — exported to ONNX by the
//! default (dynamo) exporter, whose default writes the weights to `NAME.onnx.data`, and for
//! some by the legacy exporter; `expected.json` holds two inputs per file and torch's logits
//! for them (float64 arithmetic on the float32 weights). For every file:
//!
//! - (a) the f64 forward (`exact::forward`) gives torch's logits to a relative 1e-5;
//! - (b) the burn forward gives the f64 forward's logits and collision-layer
//!   pre-activations to a relative 1e-5;
//! - (c) the burn autodiff input gradient of `φ(u) = Σ g ⊙ y_L(u)` (fixed random `g`, `L` the
//!   logits and every collision point's pre-activation) equals central differences of the
//!   f64 forward at every pixel. The step (1e-6) is far below the inputs' distance to any
//!   kink (recorded by the script, ≥ 1e-4), and the test checks that both points of every
//!   difference lie in the input's linear region (same ReLU / clip pieces and max-pool
//!   argmaxes, `model::graph::region`), so the differences see one smooth piece.
//!
//! Negative tests: external data outside the model's folder (`..`, an absolute path, a link)
//! or out of bounds or missing is refused, naming the location or the file; an unsupported
//! operator names its node and operator; a ReLU inside a residual block is not a `--layer`,
//! and the error lists the valid names and says why; batch-norm tensors in a weights file whose
//! template has none fail the load, naming the tensors.
use fcollide::collide::engine::{AutodiffEngine, GradientEngine};
use fcollide::exact::forward::{forward, forward_f32, Forward};
use fcollide::model::graph::fold::Normalization;
use fcollide::model::graph::region::{region_margin, region_pieces, NodePiece};
use fcollide::model::{default_device, load, Graph, LoadOptions, Network, NormalizationSource, Op};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct Expected {
    cases: Vec<Case>,
    unsupported: Unsupported,
    min_margin: f64,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    file: String,
    exporter: String,
    external_data: Option<String>,
    input_shape: [usize; 3],
    /// Two inputs, `[C·H·W]` float32 values.
    inputs: Vec<Vec<f64>>,
    /// torch's logits for them (float64).
    logits: Vec<Vec<f64>>,
    /// Operation kinds (`Op::kind`) the loaded graph must contain.
    kinds: Vec<String>,
    /// The input normalization the graph applies (`imagenet`, `none`).
    normalization: String,
    /// ONNX operators of the file.
    onnx_ops: Vec<String>,
    /// Smallest distance of the inputs to a kink.
    margin: f64,
}

#[derive(Deserialize)]
struct Unsupported {
    file: String,
    op: String,
    node: String,
}

impl Case {
    fn input(&self, k: usize) -> Vec<f32> {
        self.inputs[k].iter().map(|&v| v as f32).collect()
    }
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ops")
}

fn expected() -> Expected {
    let text = std::fs::read_to_string(dir().join("expected.json")).expect("expected.json");
    let e: Expected = serde_json::from_str(&text).expect("json");
    assert!(e.cases.len() >= 10, "{} cases", e.cases.len());
    e
}

fn load_case(case: &Case) -> Graph {
    let path = dir().join(&case.file);
    let l = load(&path, &LoadOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    assert_eq!(l.format, "onnx");
    assert_eq!(l.normalization_source, NormalizationSource::File);
    let want = match case.normalization.as_str() {
        "imagenet" => Normalization::Imagenet,
        "none" => Normalization::None,
        other => panic!("{other}"),
    };
    assert_eq!(l.normalization, want, "{}", case.name);
    l.graph
}

/// max |got − want| / max |want|.
fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 0.0);
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
        / scale
}

fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// The nodes whose outputs the checks compare: the logits and every collision point's
/// pre-activation.
fn targets(g: &Graph) -> Vec<usize> {
    let mut t: Vec<usize> = g.collision_points().iter().map(|p| p.pre).collect();
    t.push(g.output());
    t.dedup();
    t
}

#[test]
fn every_fixture_loads_with_its_operations() {
    let e = expected();
    assert!(
        e.cases.iter().any(|c| c.exporter == "dynamo")
            && e.cases.iter().any(|c| c.exporter == "legacy")
    );
    for case in &e.cases {
        let g = load_case(case);
        assert_eq!(g.input_shape, case.input_shape, "{}", case.name);
        let kinds: Vec<&str> = g.nodes.iter().map(|n| n.op.kind()).collect();
        for want in &case.kinds {
            assert!(
                kinds.contains(&want.as_str()),
                "{}: no {want} node in {kinds:?}",
                case.name
            );
        }
        // The default exporter keeps the weights in a data file beside the model.
        match &case.external_data {
            Some(data) => {
                assert_eq!(case.exporter, "dynamo", "{}", case.name);
                assert!(dir().join(data).is_file(), "{data}");
            }
            None => assert_eq!(case.exporter, "legacy", "{}", case.name),
        }
        assert!(!g.collision_layers().is_empty(), "{}", case.name);
        eprintln!(
            "{}: ONNX {:?} → {kinds:?}; collision layers {:?}",
            case.name,
            case.onnx_ops,
            g.collision_layers()
        );
    }
    // What torch writes is what the fixtures claim to cover.
    let ops =
        |name: &str| -> &Vec<String> { &e.cases.iter().find(|c| c.name == name).unwrap().onnx_ops };
    for (name, op) in [
        ("residual", "Add"),
        ("residual", "ReduceMean"),
        ("residual", "Sub"),
        ("residual_legacy", "GlobalAveragePool"),
        ("conv_bn_relu", "BatchNormalization"),
        ("avgpool", "AveragePool"),
        ("maxpool", "MaxPool"),
        ("concat", "Concat"),
        ("activations", "Clip"),
        ("activations", "LeakyRelu"),
    ] {
        assert!(ops(name).iter().any(|o| o == op), "{name}: {op}");
    }
}

/// (a) f64 forward vs torch.
#[test]
fn exact_forward_matches_torch() {
    for case in expected().cases {
        let g = load_case(&case);
        for k in 0..2 {
            let f = forward_f32(&g, &case.input(k)).unwrap();
            let e = rel_err(f.logits(), &case.logits[k]);
            eprintln!("{} input {k}: f64 forward vs torch {e:.2e}", case.name);
            assert!(e <= 1e-5, "{} input {k}: rel. error {e:.2e}", case.name);
        }
    }
}

/// (b) burn forward vs f64 forward, at the logits and every collision point.
#[test]
fn burn_forward_matches_exact_forward() {
    let device = default_device();
    for case in expected().cases {
        let g = load_case(&case);
        let net = Network::from_graph(&g, &device).unwrap();
        let x = [case.input(0), case.input(1)].concat();
        for t in targets(&g) {
            let got = net.activations(&x, t, &device);
            assert_eq!(got.len(), 2);
            for (k, got) in got.iter().enumerate() {
                let want = &forward_f32(&g, &case.input(k)).unwrap().outputs[t];
                let e = rel_err(&widen(got), want);
                assert!(
                    e <= 1e-5,
                    "{} node {} ({}) input {k}: rel. error {e:.2e}",
                    case.name,
                    g.nodes[t].name,
                    g.nodes[t].op.kind()
                );
            }
        }
    }
}

/// The pieces of every piecewise-linear nonlinear node at a point, and whether every other
/// nonlinear node is smooth (sigmoid, tanh) and feeds no piecewise-linear one.
fn pieces(g: &Graph, f: &Forward) -> Vec<NodePiece> {
    // The last node that depends on no smooth nonlinearity.
    let smooth = |i: usize| matches!(g.nodes[i].op, Op::Sigmoid | Op::Tanh);
    let upto = (0..g.nodes.len())
        .take_while(|&i| {
            !g.ancestors(i)
                .iter()
                .enumerate()
                .any(|(k, &a)| a && smooth(k))
        })
        .last()
        .unwrap();
    let ps = region_pieces(g, &f.shapes, &f.outputs, upto).unwrap();
    // Every kink lies at or before `upto`.
    for (i, n) in g.nodes.iter().enumerate().skip(upto + 1) {
        assert!(
            n.op.is_affine() || smooth(i),
            "node {} ({}) has kinks after a smooth node: this check does not cover it",
            n.name,
            n.op.kind()
        );
    }
    ps
}

/// The smallest distance to a kink at a point: [`region_margin`] without the max-pool ties
/// between exact zeros (entries a ReLU switched off, whose gradient is zero whichever of them
/// is the maximum).
fn kink_margin(ps: &[NodePiece], outputs: &[Vec<f64>]) -> f64 {
    ps.iter()
        .map(|p| match p {
            NodePiece::Argmax {
                input,
                argmax,
                taps,
                ..
            } => {
                let x = &outputs[*input];
                argmax
                    .iter()
                    .zip(taps)
                    .flat_map(|(&m, t)| t.iter().map(move |&o| (x[m], x[o])))
                    .filter(|&(a, b)| !(a == 0.0 && b == 0.0))
                    .map(|(a, b)| a - b)
                    .fold(f64::INFINITY, f64::min)
            }
            p => p.margin(&outputs[p.input()]),
        })
        .fold(f64::INFINITY, f64::min)
}

/// (c) burn autodiff's input gradient vs central differences of the f64 forward, at every
/// pixel, for the logits and every collision point's pre-activation.
#[test]
fn input_gradients_match_finite_differences() {
    let e = expected();
    let device = default_device();
    let h = 1e-6;
    for case in &e.cases {
        assert!(
            case.margin >= e.min_margin && e.min_margin >= 100.0 * h,
            "{}",
            case.name
        );
        let g = load_case(case);
        let d = g.input_len();
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let targets = targets(&g);
        let weights: Vec<Vec<f64>> = targets
            .iter()
            .map(|&t| {
                let n = g.shapes().unwrap()[t].len();
                (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
            })
            .collect();
        let phi = |f: &Forward, j: usize| -> f64 {
            f.outputs[targets[j]]
                .iter()
                .zip(&weights[j])
                .map(|(a, b)| a * b)
                .sum()
        };
        for k in 0..2 {
            let x32 = case.input(k);
            let x = widen(&x32);
            let f0 = forward(&g, &x).unwrap();
            let ps = pieces(&g, &f0);
            // The script's inputs keep their distance from every kink.
            let m0 = kink_margin(&ps, &f0.outputs);
            assert!(
                m0 >= 0.5 * e.min_margin,
                "{} input {k}: {m0:.2e} from a kink",
                case.name
            );
            // Central differences, all targets at once.
            let mut fd = vec![vec![0.0; d]; targets.len()];
            for i in 0..d {
                let mut xp = x.clone();
                xp[i] += h;
                let mut xm = x.clone();
                xm[i] -= h;
                let (fp, fm) = (forward(&g, &xp).unwrap(), forward(&g, &xm).unwrap());
                // Both points lie in the input's (closed) linear region, where the network
                // is one affine map (up to the smooth sigmoid and tanh).
                for f in [&fp, &fm] {
                    let m = region_margin(&ps, &f.outputs);
                    assert!(
                        m >= 0.0,
                        "{} input {k} pixel {i}: the step leaves the linear region",
                        case.name
                    );
                }
                for (j, row) in fd.iter_mut().enumerate() {
                    row[i] = (phi(&fp, j) - phi(&fm, j)) / (2.0 * h);
                }
            }
            for (j, &t) in targets.iter().enumerate() {
                let mut eng = AutodiffEngine::new(&g, t, &device).unwrap();
                let y = eng.forward(&x32);
                assert!(rel_err(&widen(&y), &f0.outputs[t]) <= 1e-5);
                let gy: Vec<f32> = weights[j].iter().map(|&v| v as f32).collect();
                let grad = widen(&eng.vjp(&gy));
                assert_eq!(grad.len(), d);
                let scale = fd[j].iter().fold(0.0f64, |m, v| m.max(v.abs()));
                assert!(scale > 1e-3, "{} {}: zero gradient", case.name, t);
                let err = rel_err(&grad, &fd[j]);
                eprintln!(
                    "{} input {k} at {}: |∇| {scale:.2e}, autodiff vs differences {err:.2e}",
                    case.name, g.nodes[t].name
                );
                assert!(
                    err <= 1e-4,
                    "{} input {k} at {} ({}): rel. error {err:.2e}",
                    case.name,
                    g.nodes[t].name,
                    g.nodes[t].op.kind()
                );
            }
        }
    }
}

/// A convolution's `(groups, kernel, stride, dilation, padding)`.
type ConvAttrs = (usize, [usize; 2], [usize; 2], [usize; 2], [usize; 4]);

/// The fixtures exercise the attributes they are made for (read back from the loaded graphs).
#[test]
fn fixtures_exercise_their_attributes() {
    let e = expected();
    let graph = |name: &str| load_case(e.cases.iter().find(|c| c.name == name).unwrap());
    let ops = |g: &Graph| -> Vec<Op> { g.nodes.iter().map(|n| n.op.clone()).collect() };
    // Grouped, depthwise dilated, and 3×2 strided convolutions with per-axis padding.
    // (groups, kernel, stride, dilation, padding) of every convolution.
    let convs: Vec<ConvAttrs> = ops(&graph("grouped"))
        .into_iter()
        .filter_map(|op| match op {
            Op::Conv2d {
                groups,
                kernel,
                stride,
                dilation,
                padding,
                ..
            } => Some((groups, kernel, stride, dilation, padding)),
            _ => None,
        })
        .collect();
    assert!(convs.contains(&(2, [3, 3], [1, 1], [1, 1], [1, 1, 1, 1])));
    assert!(convs.contains(&(8, [3, 3], [1, 1], [2, 2], [2, 2, 2, 2])));
    assert!(convs.contains(&(1, [3, 2], [2, 1], [1, 1], [1, 0, 1, 0])));
    // Max pooling with padding, and in ceil mode, from both exporters.
    for name in ["maxpool", "maxpool_legacy"] {
        let g = ops(&graph(name));
        assert!(g.iter().any(|op| matches!(
            op,
            Op::MaxPool2d {
                kernel: [3, 3],
                stride: [2, 2],
                padding: [1, 1, 1, 1],
                ..
            }
        )));
        assert!(g.iter().any(|op| matches!(
            op,
            Op::MaxPool2d {
                kernel: [2, 2],
                ceil_mode: true,
                ..
            } | Op::MaxPool2d {
                kernel: [2, 2],
                padding: [0, 0, 1, 1],
                ..
            }
        )));
    }
    // Average pooling counting the padding and not, from both exporters.
    for name in ["avgpool", "avgpool_legacy"] {
        let g = ops(&graph(name));
        assert!(g.iter().any(|op| matches!(
            op,
            Op::AvgPool2d {
                padding: [1, 1, 1, 1],
                count_include_pad: true,
                ..
            }
        )));
        assert!(g.iter().any(|op| matches!(
            op,
            Op::AvgPool2d {
                padding: [1, 1, 1, 1],
                count_include_pad: false,
                ..
            }
        )));
    }
    // A batch norm after a ReLU has nothing to fold into: it is kept, not dropped.
    assert!(ops(&graph("conv_bn_relu"))
        .iter()
        .any(|op| matches!(op, Op::BatchNorm { .. } | Op::ChannelAffine { .. })));
    // ReLU6 is a clip at 0 and 6; LeakyReLU keeps its slope.
    let g = ops(&graph("activations"));
    assert!(g.contains(&Op::Clip { min: 0.0, max: 6.0 }));
    assert!(g
        .iter()
        .any(|op| matches!(op, Op::LeakyRelu { alpha } if (alpha - 0.1).abs() < 1e-7)));
}

// ---------------------------------------------------------------------------------------
// Negative tests.

fn read_varint(b: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = b[*pos];
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
    }
    v
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A protobuf message with the length-delimited fields at `path` (field numbers, outermost
/// first) replaced by `f` of their bytes; everything else copied as it is.
fn rewrite(msg: &[u8], path: &[u64], f: &dyn Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len());
    let mut pos = 0;
    while pos < msg.len() {
        let start = pos;
        let key = read_varint(msg, &mut pos);
        match key & 7 {
            0 => {
                read_varint(msg, &mut pos);
            }
            1 => pos += 8,
            5 => pos += 4,
            2 => {
                let len = read_varint(msg, &mut pos) as usize;
                let body = &msg[pos..pos + len];
                pos += len;
                if path.first() == Some(&(key >> 3)) {
                    let new = if path.len() == 1 {
                        f(body)
                    } else {
                        rewrite(body, &path[1..], f)
                    };
                    put_varint(&mut out, key);
                    put_varint(&mut out, new.len() as u64);
                    out.extend_from_slice(&new);
                    continue;
                }
            }
            w => panic!("wire type {w}"),
        }
        out.extend_from_slice(&msg[start..pos]);
    }
    out
}

/// The ONNX model `bytes` with every external data `location` set to `location`
/// (ModelProto.graph = 7, GraphProto.initializer = 5, TensorProto.external_data = 13,
/// StringStringEntryProto key = 1, value = 2).
fn with_location(bytes: &[u8], location: &str) -> Vec<u8> {
    rewrite(bytes, &[7, 5, 13], &|entry| {
        if entry.windows(8).any(|w| w == b"location") {
            let mut out = vec![0x0a, 8];
            out.extend_from_slice(b"location");
            out.push(0x12);
            put_varint(&mut out, location.len() as u64);
            out.extend_from_slice(location.as_bytes());
            out
        } else {
            entry.to_vec()
        }
    })
}

fn load_err(path: &Path) -> String {
    load(path, &LoadOptions::default())
        .map(|_| ())
        .expect_err("must be refused")
        .to_string()
}

/// External data must lie inside the model's folder: `..`, an absolute path and a link that
/// leads out are refused, naming the location; a missing or short data file is named.
#[test]
fn external_data_outside_the_folder_is_refused() {
    let model = std::fs::read(dir().join("residual.onnx")).unwrap();
    let data = std::fs::read(dir().join("residual.onnx.data")).unwrap();
    let want = load_case(
        &expected()
            .cases
            .into_iter()
            .find(|c| c.name == "residual")
            .unwrap(),
    );
    let tmp = tempfile::tempdir().unwrap();
    let inner = tmp.path().join("model");
    std::fs::create_dir_all(inner.join("sub")).unwrap();
    // The data file outside the model's folder, where the refused locations point.
    std::fs::write(tmp.path().join("residual.onnx.data"), &data).unwrap();
    let outside_abs = tmp.path().join("residual.onnx.data");
    let path = inner.join("m.onnx");
    // Controls: the rewritten file loads where the location stays inside (also in a
    // subfolder), so the refusals below are about the location alone.
    for (loc, at) in [
        ("residual.onnx.data", inner.join("residual.onnx.data")),
        ("sub/w.data", inner.join("sub/w.data")),
    ] {
        std::fs::write(&at, &data).unwrap();
        std::fs::write(&path, with_location(&model, loc)).unwrap();
        let g = load(&path, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{loc}: {e}"))
            .graph;
        assert_eq!(g, want, "{loc}");
    }
    let abs = outside_abs.display().to_string();
    let mut cases = vec![
        (
            "../residual.onnx.data".to_string(),
            "leaves the model's folder",
        ),
        (
            "sub/../../residual.onnx.data".to_string(),
            "leaves the model's folder",
        ),
        (abs, "relative to the model's folder"),
    ];
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&outside_abs, inner.join("link.data")).unwrap();
        cases.push(("link.data".into(), "outside the model's folder"));
    }
    for (loc, why) in &cases {
        std::fs::write(&path, with_location(&model, loc)).unwrap();
        let e = load_err(&path);
        eprintln!("{e}");
        assert!(
            e.contains(&path.display().to_string())
                && e.contains(&format!("external data location '{loc}' is refused"))
                && e.contains(why),
            "{loc}: {e}"
        );
    }
    // A data file that is not there is named.
    std::fs::write(&path, with_location(&model, "gone.data")).unwrap();
    let e = load_err(&path);
    assert!(e.contains("gone.data"), "{e}");
    // A data file shorter than the tensors it should hold.
    std::fs::write(inner.join("short.data"), &data[..data.len() / 2]).unwrap();
    std::fs::write(&path, with_location(&model, "short.data")).unwrap();
    let e = load_err(&path);
    assert!(
        e.contains("short.data") && e.contains("claims bytes"),
        "{e}"
    );
    // The model without its data file beside it (copied alone).
    let alone = tmp.path().join("alone");
    std::fs::create_dir_all(&alone).unwrap();
    std::fs::write(alone.join("residual.onnx"), &model).unwrap();
    let e = load_err(&alone.join("residual.onnx"));
    assert!(e.contains("residual.onnx.data"), "{e}");
}

/// An operator fcollide does not translate (torch's Hardswish): the error names the file,
/// the node and the operator, and lists the supported ones.
#[test]
fn unsupported_operator_names_the_node_and_the_operator() {
    let u = expected().unsupported;
    let path = dir().join(&u.file);
    let e = load_err(&path);
    eprintln!("{e}");
    assert!(
        e.starts_with(&path.display().to_string())
            && e.contains(&format!(
                "unsupported ONNX operator '{}' (node '{}')",
                u.op, u.node
            ))
            && e.contains("supported operators: Conv, Gemm"),
        "{e}"
    );
}

/// A ReLU inside a residual block (or a fire module's branch) is not a collision layer: the
/// error lists the valid names and says the skip path bypasses it. The same through the
/// vertex search and the exact LPs (what `--layer` reaches).
#[test]
fn a_non_cut_layer_lists_the_valid_names() {
    use fcollide::collide::{find_vertices, VertexParams};
    use fcollide::progress::Silent;
    let e = expected();
    for name in ["residual", "residual_legacy", "concat", "concat_legacy"] {
        let case = e.cases.iter().find(|c| c.name == name).unwrap();
        let g = load_case(case);
        let valid = g.collision_layers().join(", ");
        let cuts: Vec<usize> = g.collision_points().iter().map(|p| p.relu).collect();
        let inner: Vec<usize> = (1..g.nodes.len())
            .filter(|&i| g.nodes[i].op == Op::Relu && !cuts.contains(&i))
            .collect();
        // residual: one ReLU inside each block; concat: the two expand branches.
        assert_eq!(inner.len(), 2, "{name}");
        for &r in &inner {
            let relu = &g.nodes[r].name;
            let conv = &g.nodes[g.nodes[r].inputs[0]].name;
            for layer in [relu, conv] {
                let err = g.collision_point(layer).unwrap_err().to_string();
                assert!(
                    err.contains(&format!("unknown layer '{layer}'"))
                        && err.contains(&format!("the ReLU '{relu}' is not on every path"))
                        && err.contains("bypasses it")
                        && err.ends_with(&format!("valid names: {valid}")),
                    "{name} {layer}: {err}"
                );
            }
            let err = fcollide::exact::resolve_layer(&g, relu)
                .unwrap_err()
                .to_string();
            assert!(err.contains(relu) && err.contains(&valid), "{err}");
            let x = case.input(0);
            let p = VertexParams {
                layer: relu.clone(),
                steps: 1,
                ..VertexParams::default()
            }
            .check()
            .unwrap();
            let err = find_vertices(&g, &x, &x, &p, &default_device(), &Silent)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(relu.as_str()) && err.contains(&valid) && err.contains("bypasses"),
                "{err}"
            );
        }
        // Every cut is accepted by name.
        for p in g.collision_points() {
            assert_eq!(g.collision_point(&p.name).unwrap(), p);
        }
    }
}

/// A LeNet-5 state dict with batch norm, loaded as `--arch lenet5` (which has none) through
/// `model::load`: the load fails, naming the file and the unused batch-norm tensors.
#[test]
fn batch_norm_tensors_without_batch_norm_are_named() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let lenet = fcollide::model::arch::lenet5(&mut rng);
    let mut keys: Vec<(String, Vec<usize>)> = Vec::new();
    for (k, shape, _) in lenet.named_params() {
        let node = k.rsplit_once('.').unwrap().0.to_string();
        let after_conv = k.ends_with(".bias") && node.starts_with("conv");
        keys.push((k, shape.clone()));
        if after_conv {
            let bn = node.replace("conv", "bn");
            for p in ["weight", "bias", "running_mean", "running_var"] {
                keys.push((format!("{bn}.{p}"), vec![shape[0]]));
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lenet_bn.safetensors");
    crate::zoo::write_safetensors(&path, &crate::zoo::zero_file(&keys));
    let opts = LoadOptions {
        arch: Some("lenet5".into()),
        ..LoadOptions::default()
    };
    let e = load(&path, &opts).map(|_| ()).unwrap_err().to_string();
    eprintln!("{e}");
    assert!(
        e.contains(&path.display().to_string())
            && e.contains("has batch-norm tensors (bn1.running_mean, bn2.running_mean)")
            && e.contains("has no batch norm")
            && e.contains("8 tensor(s) of the file not used by the model")
            && e.contains("'bn1.running_mean' [6]")
            && e.contains("'bn2.bias' [16]"),
        "{e}"
    );
    // Without the batch-norm tensors the same file loads.
    let plain: Vec<(String, Vec<usize>)> = keys
        .into_iter()
        .filter(|(k, _)| !k.starts_with("bn"))
        .collect();
    crate::zoo::write_safetensors(&path, &crate::zoo::zero_file(&plain));
    load(&path, &opts).unwrap();
}
