//! Weight import: every fixture of `tests/fixtures/weights` (made by
//! `scripts/make_weight_fixtures.py`) loads to the logits numpy computed; bad files give errors
//! naming the file, key and shapes; whole pickled modules and unsupported ONNX operators are
//! refused; truncations and bit flips never panic. A full-size random VGG-16 round trip through
//! every format is `#[ignore]`d (slow).
use fcollide::exact::forward::forward_f32;
use fcollide::model::import::{
    detect_format, keymap, load_model, load_weights_bytes, npz, onnx, read_tensors, spec, zip,
    Format, ImportError, Layout, ModelSpec, RawTensor, TensorMap,
};
use fcollide::model::{arch, Graph, Op};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/weights")
}

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(dir().join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("valid json")
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

fn logits(net: &Graph, x: &[f32]) -> Vec<f64> {
    let f = forward_f32(net, x).expect("forward");
    f.outputs.last().expect("layers").clone()
}

#[test]
fn fixtures_load_to_expected_logits() {
    let exp = expected();
    let cases = exp["cases"].as_array().expect("cases");
    assert!(cases.len() >= 10, "{} cases", cases.len());
    for case in cases {
        let spec_name = case["spec"].as_str().unwrap();
        let spec = ModelSpec::from_file(&dir().join(spec_name)).expect(spec_name);
        let net = load_model(&spec).unwrap_or_else(|e| panic!("{spec_name}: {e}"));
        net.check().expect("consistent");
        let inputs = exp["inputs"][case["inputs"].as_str().unwrap()]
            .as_array()
            .unwrap();
        for (x, want) in inputs.iter().zip(case["logits"].as_array().unwrap()) {
            let got = logits(&net, &floats(x));
            let want = floats(want);
            assert_eq!(got.len(), want.len(), "{spec_name}");
            for (g, w) in got.iter().zip(&want) {
                let tol = 1e-4 * (1.0 + w.abs() as f64);
                assert!(
                    (g - *w as f64).abs() < tol,
                    "{spec_name}: {got:?} vs {want:?}"
                );
            }
        }
    }
}

#[test]
fn bad_files_give_errors_naming_file_key_and_shapes() {
    let exp = expected();
    for case in exp["errors"].as_array().expect("errors") {
        let spec_name = case["spec"].as_str().unwrap();
        let spec = ModelSpec::from_file(&dir().join(spec_name)).expect(spec_name);
        let err = load_model(&spec).expect_err(spec_name).to_string();
        eprintln!("{spec_name}: {err}");
        for want in case["contains"].as_array().unwrap() {
            let want = want.as_str().unwrap();
            assert!(err.contains(want), "{spec_name}: '{err}' lacks '{want}'");
        }
    }
}

#[test]
fn whole_module_pickle_is_refused() {
    let path = dir().join("whole_module.pth");
    let bytes = std::fs::read(&path).unwrap();
    let err = read_tensors(&bytes, Format::Pth, "whole_module.pth").unwrap_err();
    assert!(
        matches!(&err, ImportError::WholeModule { class, .. } if class == "torchvision.models.vgg.VGG"),
        "{err}"
    );
    assert!(
        err.to_string().contains("save model.state_dict() instead"),
        "{err}"
    );
}

#[test]
fn unsupported_onnx_operator_is_named() {
    let bytes = std::fs::read(dir().join("softmax.onnx")).unwrap();
    let err = onnx::read_onnx(&bytes, "softmax.onnx", None).unwrap_err();
    assert!(
        matches!(&err, ImportError::OnnxOp { op, node, .. } if op == "Softmax" && node == "prob"),
        "{err}"
    );
    assert!(err
        .to_string()
        .contains("unsupported ONNX operator 'Softmax' (node 'prob')"));
}

#[test]
fn formats_are_detected_by_magic() {
    for (file, format) in [
        ("mlp.safetensors", Format::Safetensors),
        ("mlp.pth", Format::Pth),
        ("mlp_ckpt.pth", Format::Pth),
        ("vggtiny.npz", Format::Npz),
        ("vggtiny_f64.npz", Format::Npz),
        ("mlp.onnx", Format::Onnx),
        ("lenet.onnx", Format::Onnx),
    ] {
        let bytes = std::fs::read(dir().join(file)).unwrap();
        assert_eq!(detect_format(&bytes, file).unwrap(), format, "{file}");
    }
    let err = detect_format(b"hello world, not weights", "x.bin").unwrap_err();
    assert!(err.to_string().contains("x.bin"), "{err}");
    // Issue 18: what the file holds is not shown (a spec may point at /etc/shadow).
    let msg = err.to_string();
    assert!(
        msg.contains("text") && !msg.contains("hello") && !msg.contains("68 65"),
        "{msg}"
    );
    let err = detect_format(&[0xde, 0xad, 0xbe, 0xef, 0, 1], "y.bin").unwrap_err();
    assert!(
        err.to_string().contains("binary") && !err.to_string().contains("de ad"),
        "{err}"
    );
    // A legacy (pre-1.6) torch pickle is explained.
    let err = read_tensors(&[0x80, 0x02, 0x8a, 0x0a], Format::Pth, "old.pth").unwrap_err();
    assert!(err.to_string().contains("legacy"), "{err}");
}

#[test]
fn checkpoint_layouts_and_dtypes() {
    let bytes = std::fs::read(dir().join("mlp_ckpt.pth")).unwrap();
    let t = read_tensors(&bytes, Format::Pth, "mlp_ckpt.pth").unwrap();
    assert_eq!(t["module.fc1.weight"].shape, vec![16, 784]);
    assert_eq!(t["module.fc3.bias"].shape, vec![10]);
    assert_eq!(t["module.steps"].data, vec![7.0]);
    let plain = read_tensors(
        &std::fs::read(dir().join("mlp.pth")).unwrap(),
        Format::Pth,
        "p",
    )
    .unwrap();
    // The strided view with a storage offset reads back as the contiguous weight.
    assert_eq!(plain["fc1.weight"], t["module.fc1.weight"]);
    // f64 storage converts exactly to the f32 values.
    assert_eq!(plain["fc2.weight"], t["module.fc2.weight"]);
}

fn templates() -> Vec<(String, Graph)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let s = ModelSpec::from_file(&p).unwrap();
            if let Some(t) = spec::template(&s, "t").unwrap() {
                out.push((
                    s.weights
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                    t,
                ));
            }
        }
    }
    out
}

/// Every reader on `bytes`, for the no-panic checks: errors are fine, panics are not.
fn exercise(bytes: &[u8], name: &str, template: Option<&Graph>) {
    if let Ok(f) = detect_format(bytes, name) {
        let _ = read_tensors(bytes, f, name);
    }
    for f in [Format::Safetensors, Format::Pth, Format::Npz] {
        let _ = read_tensors(bytes, f, name);
    }
    let _ = onnx::read_onnx(bytes, name, None);
    if let Some(t) = template {
        let _ = load_weights_bytes(bytes, name, None, t, &[]);
    }
}

#[test]
fn truncations_and_bit_flips_never_panic() {
    let templates = templates();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut files = 0;
    for e in std::fs::read_dir(dir()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".toml") || name.ends_with(".json") {
            continue;
        }
        files += 1;
        let bytes = std::fs::read(&p).unwrap();
        let template = templates.iter().find(|(w, _)| *w == name).map(|(_, t)| t);
        let n = bytes.len();
        let mut cuts: Vec<usize> = (0..48).map(|k| k * n / 48).collect();
        cuts.extend([
            1,
            7,
            8,
            9,
            30,
            64,
            n.saturating_sub(1),
            n.saturating_sub(22),
        ]);
        for cut in cuts {
            exercise(&bytes[..cut.min(n)], &name, template);
        }
        for _ in 0..150 {
            let mut b = bytes.clone();
            // Mostly flips in the first and last KiB, where headers and directories live.
            let pos = match rng.random_range(0..3) {
                0 => rng.random_range(0..n.min(1024)),
                1 => n - 1 - rng.random_range(0..n.min(1024)),
                _ => rng.random_range(0..n),
            };
            b[pos] ^= 1 << rng.random_range(0..8);
            exercise(&b, &name, template);
        }
        for _ in 0..20 {
            let mut b = bytes.clone();
            let pos = rng.random_range(0..n);
            let len = rng.random_range(1..64).min(n - pos);
            rng.fill(&mut b[pos..pos + len]);
            exercise(&b, &name, template);
        }
    }
    assert!(files >= 15, "{files} fixtures");
}

#[test]
fn spec_errors_are_explained() {
    let err = ModelSpec::parse("arch = \"mlp\"\nweights = 3\n", "bad.toml", None).unwrap_err();
    assert!(err.to_string().contains("bad.toml"), "{err}");
    let s = ModelSpec::parse("arch = \"resnet\"\nweights = \"x\"\n", "s.toml", None).unwrap();
    let err = spec::template(&s, "s.toml").unwrap_err().to_string();
    assert!(err.contains("resnet") && err.contains("vgg16"), "{err}");
    let s = ModelSpec::parse(
        "arch = \"mlp\"\nweights = \"/nonexistent/w.pth\"\n",
        "s",
        None,
    )
    .unwrap();
    let err = load_model(&s).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/w.pth"), "{err}");
}

// ------------------------------------------------------------------ full-size VGG-16 round trip

/// A minimal protocol-2 pickle of an `OrderedDict` of f32 tensors, torch's zip layout.
fn to_pth(tensors: &[(String, RawTensor)]) -> Vec<u8> {
    fn unicode(p: &mut Vec<u8>, s: &str) {
        p.push(b'X');
        p.extend((s.len() as u32).to_le_bytes());
        p.extend(s.as_bytes());
    }
    fn int(p: &mut Vec<u8>, v: usize) {
        p.push(b'J');
        p.extend((v as i32).to_le_bytes());
    }
    let mut p = vec![0x80, 2];
    p.extend(b"ccollections\nOrderedDict\n)R(");
    let mut members = Vec::new();
    for (i, (key, t)) in tensors.iter().enumerate() {
        unicode(&mut p, key);
        p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n(");
        p.push(b'(');
        unicode(&mut p, "storage");
        p.extend(b"ctorch\nFloatStorage\n");
        unicode(&mut p, &i.to_string());
        unicode(&mut p, "cpu");
        int(&mut p, t.data.len());
        p.extend(b"tQ"); // TUPLE, BINPERSID
        int(&mut p, 0);
        p.push(b'(');
        for d in &t.shape {
            int(&mut p, *d);
        }
        p.push(b't');
        p.push(b'(');
        let strides = fcollide::model::import::tensors::contiguous_strides(&t.shape);
        for s in strides {
            int(&mut p, s);
        }
        p.push(b't');
        p.push(0x89); // requires_grad = False
        p.extend(b"ccollections\nOrderedDict\n)R"); // backward hooks
        p.extend(b"tR"); // args tuple, REDUCE
        members.push((
            format!("archive/data/{i}"),
            t.data
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>(),
        ));
    }
    p.extend(b"u.");
    members.insert(0, ("archive/data.pkl".to_string(), p));
    members.push(("archive/version".into(), b"3\n".to_vec()));
    zip::write_stored(&members)
}

fn to_safetensors(tensors: &[(String, RawTensor)]) -> Vec<u8> {
    use safetensors::tensor::{Dtype, TensorView};
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, t)| t.data.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((k, t), b)| {
            (
                k.clone(),
                TensorView::new(Dtype::F32, t.shape.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::tensor::serialize(views, None).unwrap()
}

/// The `vgg16_weights.npz` layout of a network with fcollide VGG names.
fn to_vgg_npz(net: &Graph) -> Vec<u8> {
    let mut members = Vec::new();
    let mut first_fc = true;
    for (k, t) in keymap::to_tensor_map(net) {
        let (layer, what) = k.split_once('.').unwrap();
        let (name, tf) = if what == "bias" {
            (format!("{layer}_b"), t)
        } else if t.shape.len() == 4 {
            (format!("{layer}_W"), t.permute(&[2, 3, 1, 0]))
        } else {
            let mut t = t;
            if layer == "fc6" && first_fc {
                // [out, C·H·W] → [out, H, W, C] (HWC inputs).
                first_fc = false;
                let out = t.shape[0];
                t = RawTensor {
                    shape: vec![out, 512, 7, 7],
                    data: t.data,
                }
                .permute(&[0, 2, 3, 1]);
                t.shape = vec![out, 512 * 49];
            }
            (format!("{layer}_W"), t.transpose2())
        };
        members.push((
            format!("{name}.npy"),
            npz::write_npy_f32(&tf.shape, &tf.data),
        ));
    }
    zip::write_stored(&members)
}

/// A minimal protobuf writer for the ONNX export below.
#[derive(Default)]
struct Pb(Vec<u8>);

impl Pb {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn int(mut self, field: u64, v: i64) -> Self {
        self.varint(field << 3);
        self.varint(v as u64);
        self
    }
    fn bytes(mut self, field: u64, b: &[u8]) -> Self {
        self.varint((field << 3) | 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    fn msg(self, field: u64, m: Pb) -> Self {
        self.bytes(field, &m.0)
    }
}

fn onnx_tensor(name: &str, shape: &[usize], data: &[f32]) -> Pb {
    let mut t = Pb::default();
    for d in shape {
        t = t.int(1, *d as i64);
    }
    let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    t.int(2, 1).bytes(8, name.as_bytes()).bytes(9, &raw)
}

fn onnx_node(op: &str, inputs: &[&str], output: &str, attrs: Vec<Pb>) -> Pb {
    let mut n = Pb::default();
    for i in inputs {
        n = n.bytes(1, i.as_bytes());
    }
    n = n
        .bytes(2, output.as_bytes())
        .bytes(3, output.as_bytes())
        .bytes(4, op.as_bytes());
    for a in attrs {
        n = n.msg(5, a);
    }
    n
}

fn ints_attr(name: &str, v: &[i64]) -> Pb {
    let mut a = Pb::default().bytes(1, name.as_bytes()).int(20, 7);
    for x in v {
        a = a.int(8, *x);
    }
    a
}

fn value_info(name: &str, dims: &[usize]) -> Pb {
    let mut shape = Pb::default();
    for d in dims {
        shape = shape.msg(1, Pb::default().int(1, *d as i64));
    }
    let tensor_type = Pb::default().int(1, 1).msg(2, shape);
    Pb::default()
        .bytes(1, name.as_bytes())
        .msg(2, Pb::default().msg(1, tensor_type))
}

/// An ONNX model of a network (Sub/Div normalization, Conv, Relu, MaxPool, Flatten, Gemm).
fn to_onnx(net: &Graph) -> Vec<u8> {
    let mut g = Pb::default().bytes(2, b"g");
    let [c, h, w] = net.input_shape;
    g = g.msg(11, value_info("input", &[1, c, h, w]));
    let mut cur = "input".to_string();
    let mut out_len = 0;
    for (i, l) in net.nodes.iter().enumerate().skip(1) {
        let o = format!("t{i}");
        let node = match &l.op {
            Op::Normalize { mean, std } => {
                g = g.msg(5, onnx_tensor("mean", &[1, mean.len(), 1, 1], mean));
                g = g.msg(5, onnx_tensor("std", &[1, std.len(), 1, 1], std));
                g = g.msg(
                    1,
                    onnx_node("Sub", &[&cur, "mean"], &format!("{o}s"), vec![]),
                );
                onnx_node("Div", &[&format!("{o}s"), "std"], &o, vec![])
            }
            Op::Conv2d {
                in_channels,
                out_channels,
                kernel,
                stride,
                padding,
                weight,
                bias,
                ..
            } => {
                let bias = bias.as_ref().expect("bias");
                let (wn, bn) = (format!("{}.w", l.name), format!("{}.b", l.name));
                g = g.msg(
                    5,
                    onnx_tensor(
                        &wn,
                        &[*out_channels, *in_channels, kernel[0], kernel[1]],
                        weight,
                    ),
                );
                g = g.msg(5, onnx_tensor(&bn, &[*out_channels], bias));
                let p = [
                    padding[0] as i64,
                    padding[1] as i64,
                    padding[0] as i64,
                    padding[1] as i64,
                ];
                onnx_node(
                    "Conv",
                    &[&cur, &wn, &bn],
                    &o,
                    vec![
                        ints_attr("pads", &p),
                        ints_attr("strides", &[stride[0] as i64, stride[1] as i64]),
                        ints_attr("kernel_shape", &[kernel[0] as i64, kernel[1] as i64]),
                    ],
                )
            }
            Op::Linear {
                in_features,
                out_features,
                weight,
                bias,
            } => {
                let bias = bias.as_ref().expect("bias");
                let (wn, bn) = (format!("{}.w", l.name), format!("{}.b", l.name));
                g = g.msg(5, onnx_tensor(&wn, &[*out_features, *in_features], weight));
                g = g.msg(5, onnx_tensor(&bn, &[*out_features], bias));
                out_len = *out_features;
                let trans_b = Pb::default().bytes(1, b"transB").int(3, 1).int(20, 2);
                onnx_node("Gemm", &[&cur, &wn, &bn], &o, vec![trans_b])
            }
            Op::MaxPool2d { kernel, stride, .. } => onnx_node(
                "MaxPool",
                &[&cur],
                &o,
                vec![
                    ints_attr("kernel_shape", &[kernel[0] as i64, kernel[1] as i64]),
                    ints_attr("strides", &[stride[0] as i64, stride[1] as i64]),
                ],
            ),
            Op::Relu => onnx_node("Relu", &[&cur], &o, vec![]),
            Op::Flatten => onnx_node("Flatten", &[&cur], &o, vec![]),
            op => panic!("to_onnx: {}", op.kind()),
        };
        g = g.msg(1, node);
        cur = o;
    }
    g = g.msg(12, value_info(&cur, &[1, out_len]));
    Pb::default()
        .int(1, 8)
        .msg(7, g)
        .msg(8, Pb::default().bytes(1, b"").int(2, 13))
        .0
}

#[test]
#[ignore = "slow: a full-size random VGG-16 (138M parameters) in every format"]
fn vgg16_full_size_round_trips_through_every_format() {
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let mut net = arch::vgg16(&mut rng);
    for l in &mut net.nodes {
        if let Op::Linear {
            bias: Some(bias), ..
        }
        | Op::Conv2d {
            bias: Some(bias), ..
        } = &mut l.op
        {
            bias.iter_mut()
                .for_each(|b| *b = rng.random_range(-0.1..0.1));
        }
    }
    let template = arch::vgg16(&mut ChaCha8Rng::seed_from_u64(0));
    let x: Vec<f32> = (0..3 * 224 * 224)
        .map(|_| rng.random_range(0.0..1.0))
        .collect();
    let want = logits(&net, &x);
    let ours: TensorMap = keymap::to_tensor_map(&net);
    // torchvision names.
    let tv: Vec<(String, RawTensor)> = keymap::TORCHVISION_VGG16
        .iter()
        .flat_map(|(tv, name)| {
            ["weight", "bias"].map(|w| (format!("{tv}.{w}"), ours[&format!("{name}.{w}")].clone()))
        })
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    for (file, bytes, layout) in [
        ("vgg16.safetensors", to_safetensors(&tv), Layout::Named),
        ("vgg16.pth", to_pth(&tv), Layout::Named),
        (
            "vgg16_ours.pth",
            to_pth(&ours.clone().into_iter().collect::<Vec<_>>()),
            Layout::Named,
        ),
        ("vgg16_weights.npz", to_vgg_npz(&net), Layout::TfNpz),
    ] {
        let path = tmp.path().join(file);
        std::fs::write(&path, &bytes).unwrap();
        let map = std::fs::read(&path).unwrap();
        let (back, got_layout) =
            load_weights_bytes(&map, file, None, &template, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got_layout, layout, "{file}");
        let mut expect_net = net.clone();
        if layout == Layout::TfNpz {
            expect_net.nodes[1].op = fcollide::model::import::load::vgg_npz_normalize();
        }
        for (a, b) in back.nodes.iter().zip(&expect_net.nodes) {
            assert_eq!(a, b, "{file}: layer {}", a.name);
        }
        if layout != Layout::TfNpz {
            let got = logits(&back, &x);
            assert_eq!(got, want, "{file}");
        }
    }
    // ONNX: the same operations (layers renamed conv1…conv13, fc1…fc3), identical logits,
    // and weights that load into the template by position.
    let bytes = to_onnx(&net);
    let from_onnx = onnx::read_onnx(&bytes, "vgg16.onnx", None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(from_onnx.nodes.len(), net.nodes.len());
    for (a, b) in from_onnx.nodes.iter().zip(&net.nodes) {
        assert_eq!(a.op, b.op, "{} vs {}", a.name, b.name);
    }
    assert_eq!(logits(&from_onnx, &x), want);
    let (back, layout) = load_weights_bytes(&bytes, "vgg16.onnx", None, &template, &[]).unwrap();
    // By position: in the file's order once the map keeps it, else in natural key order.
    assert!(
        matches!(layout, Layout::Positional | Layout::PositionalNatural),
        "{layout:?}"
    );
    assert_eq!(back, net);
    // A wrong-shaped torchvision file names the key and both shapes.
    let mut bad = tv.clone();
    bad[0].1 = RawTensor {
        shape: vec![64, 3, 5, 5],
        data: vec![0.0; 64 * 75],
    };
    let bytes = to_safetensors(&bad);
    let err = load_weights_bytes(&bytes, "vgg16.pth", None, &template, &[]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("vgg16.pth")
            && msg.contains("features.0.weight")
            && msg.contains("[64, 3, 5, 5]")
            && msg.contains("[64, 3, 3, 3]"),
        "{msg}"
    );
}

/// One ONNX model: input `[1, dims…]` named "input", `nodes`, `inits` and output "y".
fn onnx_model(input: &[usize], inits: Vec<Pb>, nodes: Vec<Pb>) -> Vec<u8> {
    let mut g = Pb::default().bytes(2, b"g");
    g = g.msg(11, value_info("input", input));
    for t in inits {
        g = g.msg(5, t);
    }
    for n in nodes {
        g = g.msg(1, n);
    }
    g = g.msg(12, value_info("y", &[1, 1]));
    Pb::default()
        .int(1, 8)
        .msg(7, g)
        .msg(8, Pb::default().bytes(1, b"").int(2, 13))
        .0
}

/// Issue 18: hostile ONNX shapes are errors naming the file, never allocations: an input
/// whose `C·H·W` wraps around, a convolution padded to a huge output, a tensor declaring
/// far more values than it holds, and NaN weights.
#[test]
fn onnx_hostile_shapes_and_values_are_refused() {
    let relu = || vec![onnx_node("Relu", &["input"], "y", vec![])];
    // 2²¹ · 2²² · 2²¹ = 2⁶⁴: wraps to 0 in unchecked usize arithmetic.
    let bytes = onnx_model(&[1, 1 << 21, 1 << 22, 1 << 21], vec![], relu());
    let err = onnx::read_onnx(&bytes, "wrap.onnx", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("wrap.onnx") && err.contains("input"), "{err}");
    let bytes = onnx_model(&[1, 3, 4096, 8192], vec![], relu());
    let err = onnx::read_onnx(&bytes, "big.onnx", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("big.onnx"), "{err}");
    // A 1×1 convolution of a 4×4 input padded by 10⁶ on every side.
    let conv = |pad: i64| {
        onnx_model(
            &[1, 1, 4, 4],
            vec![
                onnx_tensor("w", &[1, 1, 1, 1], &[1.0]),
                onnx_tensor("b", &[1], &[0.0]),
            ],
            vec![onnx_node(
                "Conv",
                &["input", "w", "b"],
                "y",
                vec![
                    ints_attr("pads", &[pad; 4]),
                    ints_attr("kernel_shape", &[1, 1]),
                ],
            )],
        )
    };
    assert!(onnx::read_onnx(&conv(1), "ok.onnx", None).is_ok());
    let err = onnx::read_onnx(&conv(1_000_000), "pad.onnx", None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pad.onnx") && err.contains("per activation"),
        "{err}"
    );
    // A weight declaring 2⁴⁰ values with 4 bytes of data.
    let bytes = onnx_model(
        &[1, 1, 4, 4],
        vec![
            onnx_tensor("w", &[1 << 20, 1 << 20], &[1.0]),
            onnx_tensor("b", &[1], &[0.0]),
        ],
        vec![onnx_node("Conv", &["input", "w", "b"], "y", vec![])],
    );
    let err = onnx::read_onnx(&bytes, "claims.onnx", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("claims.onnx") && err.contains("'w'"), "{err}");
    // NaN and infinite weights.
    for bad in [f32::NAN, f32::INFINITY] {
        let bytes = onnx_model(
            &[1, 1, 4, 4],
            vec![
                onnx_tensor("w", &[1, 1, 1, 1], &[bad]),
                onnx_tensor("b", &[1], &[0.0]),
            ],
            vec![onnx_node("Conv", &["input", "w", "b"], "y", vec![])],
        );
        let err = read_tensors(&bytes, Format::Onnx, "nan.onnx")
            .unwrap_err()
            .to_string();
        assert!(err.contains("nan.onnx"), "{err}");
    }
}
