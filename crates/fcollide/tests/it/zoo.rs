//! torchvision templates (`model::zoo`) and matching weights files to them
//! (`model::import::keymap`), against fixtures made by `scripts/make_zoo_fixtures.py`:
//! every template's parameter names, shapes and order equal torchvision's `state_dict()`;
//! small seeded torchvision models give torch's logits (f64 and burn forward passes); files
//! that do not fit fail naming what did not fit (batch norm on one side, unused tensors); by
//! position follows the file's order.
use fcollide::exact::forward::forward_f32;
use fcollide::model::import::keymap::{self, Layout, MatchOptions};
use fcollide::model::import::{load_model_detailed, ModelSpec, RawTensor};
use fcollide::model::network::{batch, to_vec};
use fcollide::model::{arch, default_device, zoo, Graph, Network, Op};
use rand::SeedableRng;
use std::io::Read;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/zoo")
}

/// `[key, shape]` lists per template, in the state dict's order.
fn state_dicts() -> serde_json::Map<String, serde_json::Value> {
    let gz = std::fs::read(dir().join("state_dicts.json.gz")).expect("state_dicts.json.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .expect("gzip");
    serde_json::from_str(&text).expect("json")
}

fn key_shapes(v: &serde_json::Value) -> Vec<(String, Vec<usize>)> {
    v.as_array()
        .expect("list")
        .iter()
        .map(|e| {
            let k = e[0].as_str().expect("key").to_string();
            let s = e[1]
                .as_array()
                .expect("shape")
                .iter()
                .map(|d| d.as_u64().expect("dim") as usize)
                .collect();
            (k, s)
        })
        .collect()
}

#[test]
fn templates_match_torchvision_state_dicts() {
    let sds = state_dicts();
    let mut names: Vec<&str> = sds.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut want: Vec<&str> = zoo::NAMES.to_vec();
    want.sort_unstable();
    assert_eq!(names, want, "the fixture covers every template");
    for name in zoo::NAMES {
        let g = zoo::template(name).expect(name);
        let aliases = zoo::aliases(name);
        // Our parameters under torchvision's keys, in graph order.
        let ours: Vec<(String, Vec<usize>)> = g
            .named_params()
            .into_iter()
            .map(|(k, shape, _)| {
                let (node, suffix) = k.rsplit_once('.').unwrap();
                let node = aliases
                    .iter()
                    .find(|(_, to)| to == node)
                    .map(|(from, _)| from.as_str())
                    .unwrap_or(node);
                (format!("{node}.{suffix}"), shape)
            })
            .collect();
        let tv = key_shapes(&sds[name]);
        for (i, (a, b)) in ours.iter().zip(&tv).enumerate() {
            assert_eq!(a, b, "{name}: parameter #{i}");
        }
        assert_eq!(ours.len(), tv.len(), "{name}: number of parameters");
    }
}

/// splitmix64, as in `scripts/make_zoo_fixtures.py`.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn uniform(seed: u64, t: u64, i: u64) -> f64 {
    (splitmix64((seed << 48) ^ (t << 32) ^ i) >> 11) as f64 * 2f64.powi(-53)
}

/// Tensor number `t` of a seeded state dict (see the script's docs).
fn seeded(key: &str, shape: &[usize], seed: u64, t: u64) -> RawTensor {
    let n: usize = shape.iter().product();
    let last = key.rsplit('.').next().unwrap();
    let data = (0..n as u64)
        .map(|i| {
            let u = uniform(seed, t, i);
            let v = if shape.len() >= 2 {
                let fan_in: usize = shape[1..].iter().product();
                (2.0 * u - 1.0) * (6.0 / fan_in as f64).sqrt()
            } else if last == "running_var" || last == "weight" {
                0.75 + 0.5 * u
            } else {
                0.1 * (2.0 * u - 1.0)
            };
            v as f32
        })
        .collect();
    RawTensor {
        shape: shape.to_vec(),
        data,
    }
}

fn numeric() -> serde_json::Value {
    let text = std::fs::read_to_string(dir().join("numeric.json")).expect("numeric.json");
    serde_json::from_str(&text).expect("json")
}

/// The seeded state dict of a numeric case, in torch's order (`num_batches_tracked`
/// included).
fn case_tensors(case: &serde_json::Value) -> Vec<(String, RawTensor)> {
    let seed = case["seed"].as_u64().unwrap();
    key_shapes(&case["keys"])
        .into_iter()
        .enumerate()
        .map(|(t, (k, shape))| {
            let v = seeded(&k, &shape, seed, t as u64);
            (k, v)
        })
        .collect()
}

fn image(k: u64, side: usize) -> Vec<f32> {
    (0..(3 * side * side) as u64)
        .map(|i| uniform(777, k, i) as f32)
        .collect()
}

/// max |Δ| / max |want|.
fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let d = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    d / want.iter().map(|v| v.abs()).fold(0.0, f64::max)
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn burn_logits(g: &Graph, x: &[f32]) -> Vec<f64> {
    let device = default_device();
    let net = Network::from_graph(g, &device).expect("network");
    let y = net.forward(batch(x, g.input_len(), &device));
    to_vec(y).into_iter().map(f64::from).collect()
}

/// Loads a numeric case through its template and compares the logits with torch's.
fn check_case(case: &serde_json::Value) {
    let name = case["name"].as_str().unwrap();
    let side = case["side"].as_u64().unwrap() as usize;
    let tensors = case_tensors(case);
    let bn_count = tensors
        .iter()
        .filter(|(k, _)| k.ends_with("running_var"))
        .count();
    let m = zoo::fill(
        name,
        tensors,
        &MatchOptions::default(),
        Some([side, side]),
        "fixture",
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(m.layout, Layout::Named, "{name}");
    assert_eq!(
        m.graph.check().unwrap(),
        case["classes"].as_u64().unwrap() as usize
    );
    assert_eq!(m.skipped.len(), bn_count, "{name}: num_batches_tracked");
    let left = m
        .graph
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::BatchNorm { .. }))
        .count();
    assert_eq!(m.folded.len() + left, bn_count, "{name}: batch norms");
    if !name.starts_with("densenet") {
        assert_eq!(left, 0, "{name}: every batch norm follows a conv");
    }
    for (k, want) in case["images"]
        .as_array()
        .unwrap()
        .iter()
        .zip(case["logits"].as_array().unwrap())
    {
        let x = image(k.as_u64().unwrap(), side);
        let want = floats(want);
        let exact = forward_f32(&m.graph, &x).unwrap().logits().to_vec();
        let e = rel_err(&exact, &want);
        eprintln!("{name}: f64 forward rel. error {e:.2e}");
        assert!(e <= 1e-4, "{name}: f64 forward {e:.2e}");
        if matches!(
            name,
            "resnet18" | "mobilenet_v2" | "squeezenet1_1" | "vgg11_bn"
        ) {
            let e = rel_err(&burn_logits(&m.graph, &x), &want);
            eprintln!("{name}: burn forward rel. error {e:.2e}");
            assert!(e <= 1e-4, "{name}: burn forward {e:.2e}");
        }
    }
}

fn cases(heavy: bool) -> Vec<serde_json::Value> {
    let fx = numeric();
    fx["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["heavy"].as_bool() == Some(heavy))
        .cloned()
        .collect()
}

#[test]
fn seeded_torchvision_models_give_torchs_logits() {
    let cases = cases(false);
    assert!(cases.len() >= 5);
    for case in &cases {
        check_case(case);
    }
}

#[test]
#[ignore = "heavy: VGG-11-BN and AlexNet keep 10⁸ classifier weights (≈1 GB while loading)"]
fn seeded_vgg_and_alexnet_give_torchs_logits() {
    let cases = cases(true);
    assert!(cases.len() >= 2);
    for case in &cases {
        check_case(case);
    }
}

/// Writes `tensors` as a safetensors file.
pub fn write_safetensors(path: &std::path::Path, tensors: &[(String, RawTensor)]) {
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
    std::fs::write(path, safetensors::tensor::serialize(views, None).unwrap()).unwrap();
}

#[test]
fn a_spec_loads_a_template_from_a_file() {
    let fx = numeric();
    let case = fx["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "resnet18")
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // A DataParallel checkpoint with a step counter: stripped and ignored by the spec.
    let mut tensors: Vec<(String, RawTensor)> = case_tensors(case)
        .into_iter()
        .map(|(k, t)| (format!("module.{k}"), t))
        .collect();
    tensors.push((
        "module.step".into(),
        RawTensor {
            shape: vec![1],
            data: vec![3.0],
        },
    ));
    write_safetensors(&tmp.path().join("r18.safetensors"), &tensors);
    let spec_path = tmp.path().join("r18.toml");
    std::fs::write(
        &spec_path,
        "arch = \"resnet18\"\nweights = \"r18.safetensors\"\ninput_shape = [3, 32, 32]\nignore = [\"module.step\"]\n",
    )
    .unwrap();
    let loaded = load_model_detailed(&ModelSpec::from_file(&spec_path).unwrap()).unwrap();
    assert_eq!(loaded.layout, Some(Layout::Named));
    assert_eq!(loaded.folded.len(), 20);
    assert!(loaded.skipped.contains(&"module.step".to_string()));
    let x = image(0, 32);
    let got = forward_f32(&loaded.net, &x).unwrap().logits().to_vec();
    assert!(rel_err(&got, &floats(&case["logits"][0])) <= 1e-4);
    // Without `ignore`, the step counter is an unused tensor, named.
    std::fs::write(
        &spec_path,
        "arch = \"resnet18\"\nweights = \"r18.safetensors\"\ninput_shape = [3, 32, 32]\n",
    )
    .unwrap();
    let e = load_model_detailed(&ModelSpec::from_file(&spec_path).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("r18.safetensors") && e.contains("'module.step' [1]"),
        "{e}"
    );
}

/// Zero-valued tensors of the given keys and shapes (plus `num_batches_tracked` after each
/// batch norm's `running_var`, as torch writes them).
pub fn zero_file(keys: &[(String, Vec<usize>)]) -> Vec<(String, RawTensor)> {
    let mut out = Vec::new();
    for (k, shape) in keys {
        out.push((
            k.clone(),
            RawTensor {
                shape: shape.clone(),
                data: vec![0.0; shape.iter().product()],
            },
        ));
        if let Some(stem) = k.strip_suffix(".running_var") {
            out.push((
                format!("{stem}.num_batches_tracked"),
                RawTensor {
                    shape: vec![],
                    data: vec![0.0],
                },
            ));
        }
    }
    out
}

#[test]
fn batch_norm_on_one_side_is_named() {
    let sds = state_dicts();
    // A vgg16_bn file read as vgg16.
    let file = zero_file(&key_shapes(&sds["vgg16_bn"]));
    let e = zoo::fill(
        "vgg16",
        file,
        &MatchOptions::default(),
        None,
        "vgg16_bn.pth",
    )
    .unwrap_err()
    .to_string();
    eprintln!("{e}");
    assert!(e.starts_with("vgg16_bn.pth: "), "{e}");
    assert!(
        e.contains("the file has batch-norm tensors (features.1.running_mean")
            && e.contains("use the architecture `vgg16_bn`"),
        "{e}"
    );
    assert!(e.contains("not used by the model"), "{e}");
    // The library names the architecture, not a command-line flag.
    assert!(!e.contains("--arch"), "{e}");
    // A vgg16 file read as vgg16_bn.
    let file = zero_file(&key_shapes(&sds["vgg16"]));
    let e = zoo::fill(
        "vgg16_bn",
        file,
        &MatchOptions::default(),
        None,
        "vgg16.pth",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("has batch norm (bn1_1") && e.contains("use the architecture `vgg16`"),
        "{e}"
    );
    // A LeNet-5 with batch norm (the silent case) against lenet5: the unused tensors
    // are named.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let lenet = arch::lenet5(&mut rng);
    let mut keys: Vec<(String, Vec<usize>)> = Vec::new();
    for (k, shape, _) in lenet.named_params() {
        let node = k.rsplit_once('.').unwrap().0.to_string();
        let conv_bias = k.ends_with(".bias") && node.starts_with("conv");
        keys.push((k, shape.clone()));
        if conv_bias {
            let bn = node.replace("conv", "bn");
            for p in ["weight", "bias", "running_mean", "running_var"] {
                keys.push((format!("{bn}.{p}"), vec![shape[0]]));
            }
        }
    }
    let e = keymap::fill(
        lenet,
        zero_file(&keys),
        &MatchOptions::default(),
        "lenet_bn.pth",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("8 tensor(s) of the file not used by the model")
            && e.contains("'bn1.running_mean' [6]")
            && e.contains("'bn2.weight' [16]")
            && e.contains("has no batch norm"),
        "{e}"
    );
}

#[test]
fn by_position_in_the_files_order() {
    // An MLP whose modules are named input/hidden/output: not in alphabetical order.
    let spec = ModelSpec::parse(
        "arch = \"mlp\"\nhidden = [16, 16]\nweights = \"w\"\n",
        "s.toml",
        None,
    )
    .unwrap();
    let template = fcollide::model::import::spec::template(&spec, "s.toml")
        .unwrap()
        .unwrap();
    let t = |shape: &[usize], v: f32| RawTensor {
        shape: shape.to_vec(),
        data: (0..shape.iter().product::<usize>())
            .map(|i| v + i as f32 * 1e-3)
            .collect(),
    };
    let file = vec![
        ("input.weight".to_string(), t(&[16, 784], 1.0)),
        ("input.bias".into(), t(&[16], 2.0)),
        ("hidden.weight".into(), t(&[16, 16], 3.0)),
        ("hidden.bias".into(), t(&[16], 4.0)),
        ("output.weight".into(), t(&[10, 16], 5.0)),
        ("output.bias".into(), t(&[10], 6.0)),
    ];
    let m = keymap::fill(
        template.clone(),
        file.clone(),
        &MatchOptions::default(),
        "w",
    )
    .unwrap();
    assert_eq!(m.layout, Layout::Positional);
    for (node, v) in [("fc1", 2.0), ("fc2", 4.0), ("fc3", 6.0)] {
        let Op::Linear { bias, .. } = &m.graph.nodes[m.graph.find(node).unwrap()].op else {
            panic!()
        };
        assert_eq!(bias.as_ref().unwrap()[0], v, "{node}");
    }
    // The same tensors in alphabetical order (hidden, input, output) do not fit: the error
    // says what was tried.
    let mut sorted = file;
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let e = keymap::fill(template, sorted, &MatchOptions::default(), "w")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("by position (the file's order): group 1 'hidden'")
            && e.contains("does not fit node 'fc1'"),
        "{e}"
    );
}

/// `model::load` with `--arch resnet18` reads a state dict into the torchvision template with
/// the file's number of classes, the same parameters as `zoo::fill`, batch norm folded; the
/// error for an unknown architecture lists the torchvision templates.
#[test]
fn load_with_a_torchvision_arch_name() {
    use fcollide::model::{load, LoadOptions};
    let fx = numeric();
    let case = fx["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "resnet18")
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("r18.safetensors");
    write_safetensors(&path, &case_tensors(case));
    let opts = LoadOptions {
        arch: Some("resnet18".into()),
        ..LoadOptions::default()
    };
    let l = load(&path, &opts).unwrap();
    assert_eq!(
        l.graph.check().unwrap(),
        case["classes"].as_u64().unwrap() as usize
    );
    assert_eq!(l.graph.input_shape, [3, 224, 224]);
    assert!(!l
        .graph
        .nodes
        .iter()
        .any(|n| matches!(n.op, Op::BatchNorm { .. })));
    let side = case["side"].as_u64().unwrap() as usize;
    let m = zoo::fill(
        "resnet18",
        case_tensors(case),
        &MatchOptions::default(),
        Some([side, side]),
        "fixture",
    )
    .unwrap();
    let params = |g: &Graph| -> Vec<(String, Vec<f32>)> {
        g.named_params()
            .into_iter()
            .map(|(k, _, v)| (k, v.to_vec()))
            .collect()
    };
    assert_eq!(params(&l.graph), params(&m.graph));
    let e = load(
        &path,
        &LoadOptions {
            arch: Some("resnet19".into()),
            ..LoadOptions::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("resnet19") && e.contains("resnet18"), "{e}");
}
