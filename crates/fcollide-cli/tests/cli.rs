//! The binary end to end: clear errors with a non-zero exit on bad input, and a small run.
use std::path::Path;
use std::process::{Command, Output};

#[path = "cli/hostile.rs"]
mod hostile;

fn fcollide(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fcollide"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A failure that is an error message, not a panic.
fn assert_clean_failure(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected failure, got success: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    for n in needles {
        assert!(err.contains(n), "missing '{n}' in: {err}");
    }
}

#[test]
fn bad_inputs_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A data folder without MNIST files.
    let o = fcollide(&[
        "train",
        "--out",
        "m.safetensors",
        "--data",
        d.to_str().unwrap(),
    ]);
    assert_clean_failure(&o, &["train-images-idx3-ubyte"]);
    // A truncated IDX file.
    std::fs::write(d.join("train-images-idx3-ubyte"), [0u8, 0, 8, 3, 0, 0]).unwrap();
    for f in [
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ] {
        std::fs::write(d.join(f), [0u8, 0, 8, 1, 0, 0, 0, 0]).unwrap();
    }
    let o = fcollide(&[
        "train",
        "--out",
        "m.safetensors",
        "--data",
        d.to_str().unwrap(),
    ]);
    assert_clean_failure(&o, &["train-images-idx3-ubyte", "truncated"]);
    // A model file that is not safetensors.
    let bogus = d.join("bogus.safetensors");
    std::fs::write(&bogus, b"definitely not a model").unwrap();
    let o = fcollide(&[
        "verify",
        "--model",
        bogus.to_str().unwrap(),
        "--vertices",
        "v.safetensors",
    ]);
    assert_clean_failure(&o, &["bogus.safetensors", "safetensors"]);
    // Missing model file.
    let o = fcollide(&[
        "vertices",
        "--model",
        "/nonexistent/m.safetensors",
        "--target",
        "index:0",
        "--out",
        "v",
    ]);
    assert_clean_failure(&o, &["/nonexistent/m.safetensors"]);
    // A device this build does not have.
    let o = fcollide(&["--device", "tpu", "train", "--out", "m.safetensors"]);
    assert_clean_failure(&o, &["--device", "possible values: cpu, cuda"]);
    // Bad flag values name the flag.
    let o = fcollide(&[
        "reproduce",
        "mnist",
        "--penalty",
        "l3",
        "--out",
        d.to_str().unwrap(),
    ]);
    assert_clean_failure(&o, &["--penalty", "possible values: square, abs, hinge"]);
    let o = fcollide(&[
        "reproduce",
        "mnist",
        "--alpha=-3",
        "--out",
        d.to_str().unwrap(),
    ]);
    assert_clean_failure(&o, &["alpha"]);
    // A missing file is named once with its cause, not once per link of the error chain.
    let missing = d.join("nonexistent.fcpd");
    let o = fcollide(&["patches", "info", missing.to_str().unwrap()]);
    assert_clean_failure(&o, &["nonexistent.fcpd"]);
    assert_eq!(
        stderr(&o).matches("os error 2").count(),
        1,
        "{}",
        stderr(&o)
    );
}

/// Exit codes: 2 for usage (a bad flag, value or combination of flags, from clap or from
/// the CLI's own checks), 1 for a run that fails on its inputs.
#[test]
fn exit_codes_tell_usage_from_failure() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for args in [
        vec!["reproduce", "mnist", "--engine", "magic", "--out", d],
        vec!["reproduce", "mnist", "--unit-choice", "last", "--out", d],
        vec!["reproduce", "mnist", "--box", "tanh", "--out", d],
        vec!["reproduce", "mnist", "--lr=-1", "--out", d],
        vec!["reproduce", "mnist", "--collision-tol", "2", "--out", d],
        vec!["reproduce", "mnist", "--saturation-tol", "0.7", "--out", d],
        vec![
            "patches",
            "index",
            "x.fcpd",
            "--out",
            "x.dci",
            "--directions",
            "up",
        ],
        vec![
            "patches", "index", "x.fcpd", "--out", "x.dci", "--visit", "lots",
        ],
        vec!["inspect", "m.safetensors", "--resize", "stretch"],
        vec!["--limit", "nonsense", "inspect", "m.safetensors"],
        vec![
            "vertices", "--model", "m", "--target", "index:0", "--out", "v", "--resume",
        ],
    ] {
        let o = fcollide(&args);
        assert_clean_failure(&o, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    let o = fcollide(&["patches", "info", &format!("{d}/missing.fcpd")]);
    assert_clean_failure(&o, &["missing.fcpd"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

#[test]
fn train_vertices_verify_exact_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = d.join("m.safetensors");
    let m = model.to_str().unwrap();
    let o = fcollide(&["-q", "train", "--out", m, "--epochs", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A layer the MLP does not have: the valid names are listed.
    let v = d.join("v.safetensors");
    let vs = v.to_str().unwrap();
    let o = fcollide(&[
        "-q", "vertices", "--model", m, "--target", "index:0", "--layer", "conv1", "--out", vs,
    ]);
    assert_clean_failure(&o, &["conv1", "fc1, fc2"]);
    let o = fcollide(&[
        "-q",
        "vertices",
        "--model",
        m,
        "--target",
        "index:99999",
        "--out",
        vs,
    ]);
    assert_clean_failure(&o, &["index:99999", "2000"]);
    let o = fcollide(&[
        "-q",
        "vertices",
        "--model",
        m,
        "--target",
        "index:0",
        "--init",
        "index:1",
        "--steps",
        "300",
        "--vertices",
        "3",
        "--out",
        vs,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(Path::new(vs).exists());
    // Resuming from a checkpoint written at step 200 ends with the same vertices.
    let ck = d.join("run.ckpt");
    let v2 = d.join("v2.safetensors");
    let o = fcollide(&[
        "-q",
        "vertices",
        "--model",
        m,
        "--target",
        "index:0",
        "--init",
        "index:1",
        "--steps",
        "300",
        "--vertices",
        "3",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--checkpoint-every",
        "200",
        "--out",
        v2.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(ck.exists());
    let v3 = d.join("v3.safetensors");
    let o = fcollide(&[
        "-q",
        "vertices",
        "--model",
        m,
        "--target",
        "index:0",
        "--init",
        "index:1",
        "--steps",
        "300",
        "--vertices",
        "3",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--resume",
        "--out",
        v3.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let verts = |p: &Path| {
        fcollide::collide::io::load_vertices(p)
            .unwrap()
            .set
            .vertices
    };
    assert_eq!(verts(&v3), verts(&v2));
    assert_eq!(verts(&v2), verts(Path::new(vs)));
    let figures = d.join("f.json");
    let o = fcollide(&[
        "-q",
        "verify",
        "--model",
        m,
        "--vertices",
        vs,
        "--samples",
        "200",
        "--out",
        figures.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let f: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&figures).unwrap()).unwrap();
    assert_eq!(f["samples"], 200);
    assert!(f["class_agreement"].as_f64().unwrap() > 0.99, "{f}");
    // The MLP at fc1 is affine, so every vertex shares the target's region, but these few
    // steps leave a feature error above the default 1e-3: the class is kept, the features
    // are not, and the verdict says so; the certified bound covers the vertices' error.
    let bound = f["certified_error_bound"].as_f64().unwrap();
    let vertex_err = f["vertex_feature_rel_err_max"].as_f64().unwrap();
    assert!(bound >= vertex_err * (1.0 - 1e-3), "{f}");
    assert_eq!(f["certificate"]["same_region"], true, "{f}");
    let want = if bound <= 1e-3 {
        "collides"
    } else {
        "approximate"
    };
    assert_eq!(f["verdict"], want, "{f}");
    assert!(stderr(&o).contains(want.to_uppercase().as_str()) || stderr(&o).contains(want));
    // With a tolerance above the bound, the same vertices are certified.
    let tol = format!("{:e}", (bound * 2.0).min(0.5));
    let o = fcollide(&[
        "verify",
        "--model",
        m,
        "--vertices",
        vs,
        "--samples",
        "50",
        "--collision-tol",
        &tol,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let g: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        (&g["verdict"], &g["certified"]),
        (&"collides".into(), &true.into()),
        "{g}"
    );
    assert!(stderr(&o).contains("collides (certified"), "{}", stderr(&o));
    // A tolerance that is not a relative error is refused, naming the flag.
    for bad in ["0", "1.5", "nan"] {
        let o = fcollide(&[
            "verify",
            "--model",
            m,
            "--vertices",
            vs,
            "--collision-tol",
            bad,
        ]);
        assert_clean_failure(&o, &["--collision-tol"]);
    }
    // Without the `highs` feature, `--lp-solver highs` is refused before any work.
    #[cfg(not(feature = "highs"))]
    {
        let o = fcollide(&[
            "exact",
            "--model",
            m,
            "--target",
            "index:0",
            "--lp-solver",
            "highs",
            "--out",
            d.join("exact-highs").to_str().unwrap(),
        ]);
        assert_clean_failure(&o, &["--lp-solver highs", "--features highs"]);
    }
    // Exact vertices with certificates.
    let out = d.join("exact");
    let o = fcollide(&[
        "-q",
        "exact",
        "--model",
        m,
        "--target",
        "index:0",
        "--other",
        "index:1",
        "--vertices",
        "2",
        "--samples",
        "100",
        "--directions",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let row = &r["exact_rows"][0];
    assert_eq!(row["class_agreement"], 1.0, "{row}");
    assert!(
        row["sample_collision_dev"].as_f64().unwrap() < 1e-6,
        "{row}"
    );
    assert!(out.join("rows.png").exists() && out.join("report.md").exists());
    // The report of an exact-only run names the model, target and tolerances, describes the
    // polytope, lists every vertex LP, and has no empty gradient-search tables.
    assert_eq!(r["target"]["image"], "index:0");
    assert!(r["model"]["source"]
        .as_str()
        .unwrap()
        .ends_with(".safetensors"));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for needle in [
        "Target: index:0 (class ",
        "kernel tolerance 1e-8",
        "affine subspace of dimension",
        "Closest colliding input to index:1",
        "**Exact vertices**",
    ] {
        assert!(md.contains(needle), "{needle:?} missing from:\n{md}");
    }
    for absent in ["null", "NaN", "Table 2", "**Vertices**"] {
        assert!(!md.contains(absent), "{absent:?} in:\n{md}");
    }
    let vertex_rows = md.lines().filter(|l| l.starts_with("| exact 1 |")).count();
    assert_eq!(vertex_rows, 2, "{md}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<strong>exact: LP vertices</strong>"),
        "{html}"
    );
}

fn results(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap()
}

#[test]
fn cached_model_is_reused_only_when_trained_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = |seed: &str| {
        let o = fcollide(&[
            "-q",
            "reproduce",
            "mnist",
            "--epochs",
            "1",
            "--steps",
            "30",
            "--samples",
            "50",
            "--seed",
            seed,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let r = results(&out);
        (stdout(&o), r["model"].clone())
    };
    let (text, m0) = run("0");
    assert!(text.contains("trained a new model"), "{text}");
    assert!(text.contains("no cached model"), "{text}");
    assert_eq!(m0["cache"]["status"], "trained", "{m0}");
    // Another seed: another split, so the seed-0 model (trained on some of seed 3's test
    // digits) must not be reused.
    let (text, m3) = run("3");
    assert!(text.contains("trained a new model"), "{text}");
    assert!(text.contains("seed: 0 → 3"), "{text}");
    assert!(text.contains("data.hash"), "{text}");
    assert_eq!(m3["cache"]["status"], "trained", "{m3}");
    assert_ne!(m3["test_accuracy"], m0["test_accuracy"], "{m0} {m3}");
    // The same settings again: reused, same accuracy.
    let (text, again) = run("3");
    assert!(text.contains("reused the cached model"), "{text}");
    assert_eq!(again["cache"]["status"], "reused", "{again}");
    assert!(again["source"].as_str().unwrap().starts_with("cached: "));
    assert_eq!(again["test_accuracy"], m3["test_accuracy"]);
}

#[test]
fn one_vertex_runs_through_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k1");
    let o = fcollide(&[
        "-q",
        "reproduce",
        "mnist",
        "--epochs",
        "1",
        "--steps",
        "30",
        "--samples",
        "50",
        "--vertices",
        "1",
        "--exact",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = results(&out);
    for row in r["rows"].as_array().unwrap() {
        assert_eq!(row["vertices"].as_array().unwrap().len(), 1, "{row}");
    }
    let exact_units = r["exact_rows"][0]["units"].as_array().unwrap();
    assert_eq!(exact_units.len(), 1, "{}", r["exact_rows"]);
    for f in ["rows.png", "samples.png", "report.md", "report.html"] {
        assert!(out.join(f).exists(), "{f}");
    }
}

#[test]
fn sweep_layer_sweeps_that_one_layer() {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fcollide/tests/fixtures/weights");
    let model = fx.join("mlp_safetensors.toml");
    let dir = tempfile::tempdir().unwrap();
    let sw = dir.path().join("sweep");
    let sweep = |extra: &[&str]| {
        let mut a = vec![
            "-q",
            "sweep",
            "--model",
            model.to_str().unwrap(),
            "--target",
            "index:0",
            "--steps",
            "30",
            "--samples",
            "20",
            "--vertices",
            "1",
            "--out",
            sw.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        fcollide(&a)
    };
    // The model has two collision layers, fc1 and fc2: `--layer fc2` sweeps only fc2.
    let o = sweep(&["--layer", "fc2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sw.join("sweep.json")).unwrap()).unwrap();
    let layers: Vec<&str> = s["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["layer"].as_str().unwrap())
        .collect();
    assert_eq!(layers, ["fc2"]);
    // With --layers too it is refused.
    let o = sweep(&["--layer", "fc2", "--layers", "fc1,fc2"]);
    assert_clean_failure(&o, &["--layers", "--layer fc2", "not both"]);
}

/// Runs the binary with stdout a pipe that is read for `lines` lines and then closed.
fn with_stdout_closed_after(args: &[&str], lines: usize) -> Output {
    use std::io::BufRead;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_fcollide"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    for _ in 0..lines {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "stdout ended early");
    }
    drop(reader);
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_stdout_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("digits.fcpd");
    let db = db.to_str().unwrap();
    // stdout closed before anything is written: the build's "wrote …" line hits the closed
    // pipe.
    let o = with_stdout_closed_after(
        &[
            "-q",
            "patches",
            "build",
            "--dataset",
            "embedded",
            "--limit-images",
            "30",
            "--size",
            "5",
            "--stride",
            "2",
            "--out",
            db,
        ],
        0,
    );
    assert!(o.status.success(), "{:?}: {}", o.status, stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    assert!(Path::new(db).exists());
    // `… | head -1` on 3,000 lines (far more than a pipe buffers).
    let png = dir.path().join("img.png");
    image::GrayImage::from_fn(28, 28, |x, _| image::Luma([(x * 9) as u8]))
        .save(&png)
        .unwrap();
    let o = with_stdout_closed_after(
        &[
            "patches",
            "query",
            db,
            "--image",
            png.to_str().unwrap(),
            "--k",
            "3000",
        ],
        1,
    );
    assert!(o.status.success(), "{:?}: {}", o.status, stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

#[test]
fn lenet_reproduction_and_sweep_write_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lenet");
    let o = fcollide(&[
        "-q",
        "reproduce",
        "lenet",
        "--epochs",
        "1",
        "--steps",
        "150",
        "--samples",
        "100",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(r["model"]["arch"], "lenet5");
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["layer"], "fc1");
    assert_eq!(rows[2]["layer"], "conv2");
    for f in [
        "rows.png",
        "samples.png",
        "report.md",
        "report.html",
        "model-lenet5.safetensors",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    // Sweep over two layers of the model just trained.
    let model = out.join("model-lenet5.safetensors");
    let sw = dir.path().join("sweep");
    let o = fcollide(&[
        "-q",
        "sweep",
        "--model",
        model.to_str().unwrap(),
        "--target",
        "index:4",
        "--layers",
        "conv2,fc1",
        "--steps",
        "100",
        "--samples",
        "50",
        "--out",
        sw.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sw.join("sweep.json")).unwrap()).unwrap();
    let layers: Vec<&str> = s["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["layer"].as_str().unwrap())
        .collect();
    assert_eq!(layers, ["conv2", "fc1"]);
    assert!(sw.join("sweep.png").exists() && sw.join("sweep.md").exists());
    let o = fcollide(&[
        "-q",
        "sweep",
        "--model",
        model.to_str().unwrap(),
        "--target",
        "index:4",
        "--layers",
        "pool1",
        "--out",
        sw.to_str().unwrap(),
    ]);
    assert_clean_failure(&o, &["pool1", "conv1, conv2, fc1, fc2"]);
}

#[test]
fn models_from_other_tools_load_through_model() {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fcollide/tests/fixtures/weights");
    let dir = tempfile::tempdir().unwrap();
    // A PyTorch state dict through a model spec, an ONNX graph directly: both run a search.
    for model in [fx.join("mlp_pth.toml"), fx.join("mlp.onnx")] {
        let v = dir.path().join("v.safetensors");
        let o = fcollide(&[
            "-q",
            "vertices",
            "--model",
            model.to_str().unwrap(),
            "--target",
            "index:0",
            "--steps",
            "50",
            "--vertices",
            "2",
            "--out",
            v.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}: {}", model.display(), stderr(&o));
    }
    // A whole pickled module is refused with advice, not executed.
    let o = fcollide(&[
        "-q",
        "vertices",
        "--model",
        fx.join("whole_module.toml").to_str().unwrap(),
        "--target",
        "index:0",
        "--out",
        "v.safetensors",
    ]);
    assert_clean_failure(&o, &["state_dict"]);
    // An ONNX operator fcollide cannot differentiate through is named.
    let o = fcollide(&[
        "-q",
        "vertices",
        "--model",
        fx.join("softmax.onnx").to_str().unwrap(),
        "--target",
        "index:0",
        "--out",
        "v.safetensors",
    ]);
    assert_clean_failure(&o, &["Softmax"]);
}

#[test]
fn patch_composition_rows_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("patches");
    let o = fcollide(&[
        "-q",
        "reproduce",
        "patches",
        "--epochs",
        "1",
        "--steps",
        "100",
        "--samples",
        "50",
        "--patch-db-images",
        "100",
        "--patch-k",
        "4",
        "--tv",
        "0.01",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(r["experiment"], "reproduce patches (mlp)");
    assert_eq!(r["params"]["patches"]["k"], 4);
    assert_eq!(r["rows"].as_array().unwrap().len(), 2);
    // Every vertex pixel is a convex combination of candidate pixels, so it stays in [0, 1].
    let v = fcollide::collide::io::load_vertices(&out.join("vertices-row1.safetensors")).unwrap();
    assert!(v.set.vertices.iter().all(|&x| (0.0..=1.0).contains(&x)));
    assert!(out.join("rows.png").exists());
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    // Patches of the digits are not the paper's ImageNet patches: no Table 6 columns, and
    // the report says what differs.
    assert!(
        md.contains("**Patch-composition polytope verification**")
            && !md.contains("paper, Table 6")
            && md.contains("Not compared with the paper's Table 6")
            && md.contains("patches of `mnist-embedded` images")
            && md.contains("4 candidates per window")
            && md.contains("total-variation weight 0.01"),
        "{md}"
    );

    // The same 100 digits as a database on disk: the same candidates, so the same vertices
    // (the model, trained with the same settings, is reused from the output folder).
    let db = dir.path().join("digits.fcpd");
    let o = fcollide(&[
        "-q",
        "patches",
        "build",
        "--dataset",
        "embedded",
        "--limit-images",
        "100",
        "--out",
        db.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = |extra: &[&str]| {
        let mut a = vec![
            "-q",
            "reproduce",
            "patches",
            "--epochs",
            "1",
            "--steps",
            "100",
            "--samples",
            "50",
            "--patch-k",
            "4",
            "--tv",
            "0.01",
            "--patch-db",
            db.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        fcollide(&a)
    };
    let o = run(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let w = fcollide::collide::io::load_vertices(&out.join("vertices-row1.safetensors")).unwrap();
    assert_eq!(w.set.vertices, v.set.vertices);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    // 14×14 patches (the default size) at stride 1: 15×15 per digit.
    assert_eq!(r["dataset"]["patch_db"]["header"]["n"], 100 * 15 * 15);
    // A database of another patch size is refused before anything runs.
    let o = run(&["--patch-size", "5"]);
    assert_clean_failure(&o, &["digits.fcpd", "14×14 patches"]);
}

#[test]
fn patch_database_build_info_index_query() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = |name: &str| d.join(name).to_str().unwrap().to_string();
    let db = path("digits.fcpd");
    let build = |extra: &[&str]| {
        let mut a = vec![
            "-q",
            "patches",
            "build",
            "--dataset",
            "embedded",
            "--limit-images",
            "30",
            "--size",
            "5",
            "--stride",
            "2",
        ];
        a.extend_from_slice(extra);
        fcollide(&a)
    };
    // 30 digits × 12 × 12 windows.
    let o = build(&["--out", &db]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("4320 patches of 1×5×5"),
        "{}",
        stdout(&o)
    );
    let o = fcollide(&["patches", "info", &db]);
    assert!(o.status.success(), "{}", stderr(&o));
    let info = stdout(&o);
    for needle in [
        "4320 of 1×5×5 = 25 values (size 5, stride 2)",
        "30 of 1×28×28, 144 patches each",
        "25 values (the raw pixels)",
        "first image  mnist-embedded:",
    ] {
        assert!(info.contains(needle), "missing '{needle}' in {info}");
    }
    // A projected database records its projection.
    let proj = path("proj.fcpd");
    let o = build(&["--project", "8", "--seed", "4", "--out", &proj]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = fcollide(&["patches", "info", &proj]);
    assert!(
        stdout(&o).contains("8 values: Gaussian random projection of the 25 raw values (seed 4)")
    );

    // Query the centre window of a digit-like picture, exactly and through a full-budget
    // DCI index (same distances).
    let img = image::GrayImage::from_fn(28, 28, |x, y| {
        image::Luma([if (8..20).contains(&x) && (11..15).contains(&y) {
            255
        } else {
            0
        }])
    });
    let png = path("bar.png");
    img.save(&png).unwrap();
    let grid = path("grid.png");
    let o = fcollide(&[
        "patches", "query", &db, "--image", &png, "--k", "3", "--grid", &grid,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let exact = stdout(&o);
    assert!(
        exact.contains("window at row 11, column 11: 3 nearest patches"),
        "{exact}"
    );
    let dists = |s: &str| -> Vec<String> {
        s.lines()
            .filter_map(|l| l.split("d2 ").nth(1))
            .map(|t| t.split_whitespace().next().unwrap().to_string())
            .collect()
    };
    assert_eq!(dists(&exact).len(), 3, "{exact}");
    let g = image::open(&grid).unwrap();
    assert!(g.width() > g.height());
    let index = path("digits.dci");
    let o = fcollide(&[
        "-q",
        "patches",
        "index",
        &db,
        "--out",
        &index,
        "--levels",
        "1",
        "--retrieve",
        "all",
        "--visit",
        "1.0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = fcollide(&[
        "patches", "query", &db, "--image", &png, "--k", "3", "--index", &index,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("(DCI index)"));
    assert_eq!(dists(&stdout(&o)), dists(&exact));
    // Multi-level (the default is 4 levels), with the traversal at every level.
    let multi = path("multi.dci");
    let o = fcollide(&[
        "patches",
        "index",
        &db,
        "--out",
        &multi,
        "--levels",
        "3",
        "--field-of-view",
        "5",
        "--construction-field-of-view",
        "2",
        "--composite",
        "2",
        "--simple",
        "4",
        "--retrieve",
        "0.5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("levels of"), "{}", stdout(&o));
    let o = fcollide(&[
        "patches", "query", &db, "--image", &png, "--k", "3", "--index", &multi,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(dists(&stdout(&o)).len(), 3);
    let o = fcollide(&[
        "patches",
        "index",
        &db,
        "--out",
        &path("bad.dci"),
        "--levels",
        "0",
    ]);
    assert_clean_failure(&o, &["--levels"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a refused flag value is a usage error"
    );
    let o = fcollide(&[
        "patches",
        "index",
        &db,
        "--out",
        &path("bad.dci"),
        "--field-of-view",
        "0",
    ]);
    assert_clean_failure(&o, &["--field-of-view"]);
    // A window given by its corner.
    let o = fcollide(&[
        "patches", "query", &db, "--image", &png, "--k", "1", "--row", "0", "--col", "4",
    ]);
    assert!(
        stdout(&o).contains("window at row 0, column 4"),
        "{}",
        stdout(&o)
    );

    // Bad files: errors that name the file, never a panic.
    let bogus = path("bogus.fcpd");
    std::fs::write(&bogus, b"this is not a patch database at all").unwrap();
    let o = fcollide(&["patches", "info", &bogus]);
    assert_clean_failure(&o, &["bogus.fcpd", "not an fcollide patch database"]);
    let cut = path("cut.fcpd");
    let bytes = std::fs::read(&db).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let o = fcollide(&["patches", "query", &cut, "--image", &png]);
    assert_clean_failure(&o, &["cut.fcpd", "truncated"]);
    let o = fcollide(&[
        "patches", "query", &proj, "--image", &png, "--index", &index,
    ]);
    assert_clean_failure(&o, &["digits.dci", "proj.fcpd"]);
    let o = build(&["--out", &path("x.fcpd"), "--project", "26"]);
    assert_clean_failure(&o, &["projection to 26 dimensions"]);
    let o = fcollide(&[
        "patches",
        "build",
        "--dataset",
        &path("nothing"),
        "--out",
        &db,
    ]);
    assert_clean_failure(&o, &["nothing"]);
}

#[test]
fn image_model_reproduction_from_image_files() {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fcollide/tests/fixtures/weights");
    let dir = tempfile::tempdir().unwrap();
    // Two RGB images of other sizes than the model's 16×16 input: resized and cropped.
    for (name, w, h, seed) in [("a.png", 20u32, 24u32, 3u32), ("b.png", 16, 16, 7)] {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            let v = (x * 37 + y * 91 + seed * 53) % 256;
            image::Rgb([v as u8, (v * 3 % 256) as u8, (255 - v) as u8])
        });
        img.save(dir.path().join(name)).unwrap();
    }
    let out = dir.path().join("run");
    let weights = fx.join("vggtiny_npz.toml");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "-q",
            "reproduce",
            "imagenet",
            "--weights",
            weights.to_str().unwrap(),
            "--steps",
            "200",
            "--samples",
            "100",
            "--out",
            out.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let a = dir.path().join("a.png");
    let b = dir.path().join("b.png");
    let full = args(&[
        "--target-image",
        a.to_str().unwrap(),
        "--init-image",
        b.to_str().unwrap(),
    ]);
    let o = fcollide(&full.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(r["rows"][0]["layer"], "fc6");
    assert_eq!(r["target"]["top5"].as_array().unwrap().len(), 5);
    // A 10-class model gets no ImageNet names: classes are printed by index.
    let first = r["target"]["top5"][0][1].as_str().unwrap();
    assert!(first.starts_with("class "), "{first}");
    assert_eq!(r["rows"][0]["class_agreement"], 1.0, "{}", r["rows"][0]);
    assert!(out.join("rows.png").exists());
    // A model other than VGG-16 is not compared with the paper's ImageNet table: the report
    // says so, and names the images and weights.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(!md.contains("paper, Table 4"), "{md}");
    for needle in [
        "**Polytope verification**",
        "Not compared with the paper's Table 4",
        "architecture `custom`",
        "a.png",
        "vggtiny_npz.toml",
        "the L2 distance between the target and the other image",
    ] {
        assert!(md.contains(needle), "{needle:?} missing from:\n{md}");
    }
    assert!(!md.contains("NaN") && !md.contains("null"), "{md}");
    // Finished rows leave no checkpoint behind; a missing image is named.
    assert!(!out.join("checkpoint-row1.safetensors").exists());
    let missing = args(&["--target-image", a.to_str().unwrap()]);
    let o = fcollide(&missing.iter().map(String::as_str).collect::<Vec<_>>());
    assert_clean_failure(&o, &["--init-image"]);
}

#[test]
fn image_model_patch_composition_from_an_image_folder() {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fcollide/tests/fixtures/weights");
    let dir = tempfile::tempdir().unwrap();
    let imgs = dir.path().join("images");
    std::fs::create_dir_all(&imgs).unwrap();
    for i in 0..6u32 {
        let img = image::RgbImage::from_fn(20, 18, |x, y| {
            let v = (x * (7 + i) + y * 13 + i * 29) % 256;
            image::Rgb([v as u8, (v * 5 % 256) as u8, (x * 11 % 256) as u8])
        });
        img.save(imgs.join(format!("i{i}.png"))).unwrap();
    }
    let out = dir.path().join("run");
    let weights = fx.join("vggtiny_npz.toml");
    let (a, b) = (imgs.join("i0.png"), imgs.join("i1.png"));
    let args = |extra: &[&str]| {
        let mut v = vec![
            "-q",
            "reproduce",
            "patches",
            "--weights",
            weights.to_str().unwrap(),
            "--target-image",
            a.to_str().unwrap(),
            "--init-image",
            b.to_str().unwrap(),
            "--patch-size",
            "4",
            "--steps",
            "200",
            "--samples",
            "100",
            "--out",
            out.to_str().unwrap(),
        ];
        v.extend_from_slice(extra);
        v.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    // No database: a clear error naming both ways to give one.
    let o = fcollide(&args(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    assert_clean_failure(&o, &["--patch-db", "--dataset"]);
    let full = args(&["--dataset", imgs.to_str().unwrap()]);
    let o = fcollide(&full.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(r["experiment"], "reproduce patches (custom)");
    assert_eq!(r["params"]["patches"]["size"], 4);
    assert_eq!(r["rows"].as_array().unwrap().len(), 2);
    // The database was built into the output folder from the 6 images (16×16 after the
    // resize and crop; stride 2 = half the patch size: 7×7 windows each).
    let db = fcollide::patches::db::PatchDb::open(out.join("patches.fcpd")).unwrap();
    assert_eq!(db.len(), 6 * 7 * 7);
    assert!(
        stdout(&o).contains("patches: building") && stdout(&o).contains("(none yet)"),
        "{}",
        stdout(&o)
    );
    drop(db);
    // The same run again reuses it; another stride or another set of images rebuilds it
    // and says why.
    let o = fcollide(&full.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("patches: reusing"), "{}", stdout(&o));
    let mut stride1 = full.clone();
    stride1.extend(["--patch-stride".to_string(), "1".to_string()]);
    let o = fcollide(&stride1.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("patches: building")
            && stdout(&o).contains("stride 2 in the file, 1 now"),
        "{}",
        stdout(&o)
    );
    let db = fcollide::patches::db::PatchDb::open(out.join("patches.fcpd")).unwrap();
    assert_eq!(db.len(), 6 * 13 * 13);
    drop(db);
    image::RgbImage::from_fn(20, 18, |x, y| image::Rgb([(x * 9) as u8, (y * 3) as u8, 7]))
        .save(imgs.join("i6.png"))
        .unwrap();
    let o = fcollide(&stride1.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("number of images 6 in the file, 7 now"),
        "{}",
        stdout(&o)
    );
    let db = fcollide::patches::db::PatchDb::open(out.join("patches.fcpd")).unwrap();
    assert_eq!(db.len(), 7 * 13 * 13);
    // Vertices are convex combinations of real pixels, so they stay in [0, 1].
    let v = fcollide::collide::io::load_vertices(&out.join("vertices-row2.safetensors")).unwrap();
    assert!(v.set.vertices.iter().all(|&x| (0.0..=1.0).contains(&x)));
    assert!(out.join("rows.png").exists());
}

/// torch's ResNet-style export (`tests/fixtures/ops/residual.onnx`, external data beside it):
/// a ReLU inside a residual block is refused as `--layer`, the error saying why and listing
/// the valid names, while a cut runs; the model copied without its data file names the
/// missing file.
#[test]
fn torch_exports_non_cut_layer_and_external_data() {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fcollide/tests/fixtures/ops");
    let model = fx.join("residual.onnx");
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("t.png");
    image::RgbImage::from_fn(8, 8, |x, y| {
        image::Rgb([(x * 30) as u8, (y * 30) as u8, 128])
    })
    .save(&png)
    .unwrap();
    let target = format!("file:{}", png.display());
    let v = dir.path().join("v.safetensors");
    // relu_1 is the ReLU inside the first block (relu_2, after the Add, is a cut).
    let o = fcollide(&[
        "-q",
        "vertices",
        "--model",
        model.to_str().unwrap(),
        "--target",
        &target,
        "--layer",
        "relu_1",
        "--steps",
        "5",
        "--out",
        v.to_str().unwrap(),
    ]);
    assert_clean_failure(
        &o,
        &["relu_1", "bypasses", "valid names: conv1, relu_2, relu_4"],
    );
    // A cut runs.
    let o = fcollide(&[
        "-q",
        "vertices",
        "--model",
        model.to_str().unwrap(),
        "--target",
        &target,
        "--layer",
        "relu_2",
        "--steps",
        "5",
        "--vertices",
        "2",
        "--out",
        v.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The model alone in a folder (its data file one level up, which it may not reach).
    let inner = dir.path().join("inner");
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::copy(
        fx.join("residual.onnx.data"),
        dir.path().join("residual.onnx.data"),
    )
    .unwrap();
    std::fs::copy(&model, inner.join("residual.onnx")).unwrap();
    let o = fcollide(&[
        "-q",
        "inspect",
        inner.join("residual.onnx").to_str().unwrap(),
    ]);
    assert_clean_failure(&o, &["residual.onnx", "residual.onnx.data"]);
}

/// Runs the binary and kills it after `secs` seconds (a blocked read must not hang the
/// test); `None` when it had to be killed.
fn fcollide_within(args: &[&str], secs: u64) -> Option<Output> {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_fcollide"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn write_idx(dir: &Path, prefix: &str, labels: &[u8]) {
    let n = labels.len() as u32;
    let mut images = vec![0u8, 0, 8, 3];
    for v in [n, 28, 28] {
        images.extend(v.to_be_bytes());
    }
    images.extend(vec![0u8; labels.len() * 784]);
    std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
    let mut l = vec![0u8, 0, 8, 1];
    l.extend(n.to_be_bytes());
    l.extend(labels);
    std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), l).unwrap();
}

/// Issue 18: the panics of hostile or careless input are clear errors naming the file or
/// flag; special files are neither read nor replaced; non-finite weights are refused.
#[test]
fn hostile_input_gives_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    // Labels ≥ 10 in IDX, and an empty test split.
    let bad = d.join("bad");
    std::fs::create_dir(&bad).unwrap();
    write_idx(&bad, "train", &[1, 12, 3]);
    write_idx(&bad, "t10k", &[1, 2]);
    let out = s(&d.join("m.safetensors"));
    let o = fcollide(&["-q", "train", "--out", &out, "--data", &s(&bad)]);
    assert_clean_failure(&o, &["training set", "label 12", "10 classes"]);
    let empty = d.join("empty");
    std::fs::create_dir(&empty).unwrap();
    write_idx(&empty, "train", &[1, 2, 3]);
    write_idx(&empty, "t10k", &[]);
    let o = fcollide(&["-q", "train", "--out", &out, "--data", &s(&empty)]);
    assert_clean_failure(&o, &["test set", "empty"]);
    // Absurd counts name their flag, before anything runs.
    for (args, flag) in [
        (
            vec!["reproduce", "patches", "--patch-size", "0"],
            "--patch-size",
        ),
        (
            vec![
                "verify",
                "--model",
                "m",
                "--vertices",
                "v",
                "--samples",
                "18446744073709551615",
            ],
            "--samples",
        ),
        (
            vec![
                "verify",
                "--model",
                "m",
                "--vertices",
                "v",
                "--samples",
                "0",
            ],
            "--samples",
        ),
        (
            vec![
                "verify",
                "--model",
                "m",
                "--vertices",
                "v",
                "--samples",
                "-1",
            ],
            "--samples",
        ),
        (
            vec!["train", "--out", "m", "--batch-size", "100000000"],
            "--batch-size",
        ),
        (
            vec![
                "vertices", "--model", "m", "--target", "index:0", "--out", "v", "--alpha", "3e38",
            ],
            "--alpha",
        ),
        (
            vec![
                "vertices", "--model", "m", "--target", "index:0", "--out", "v", "--lr", "-1",
            ],
            "--lr",
        ),
    ] {
        let o = fcollide(&args);
        assert_clean_failure(&o, &[flag]);
    }
    // NaN weights are refused at load, naming the file and the tensor.
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
    let mut net = fcollide::model::arch::mlp(&mut rng);
    let fc2 = net.find("fc2").unwrap();
    if let fcollide::model::Op::Linear { weight, .. } = &mut net.nodes[fc2].op {
        weight[7] = f32::NAN;
    }
    let nan = d.join("nan.safetensors");
    std::fs::write(&nan, fcollide::model::io::to_safetensors(&net).unwrap()).unwrap();
    let o = fcollide(&["-q", "verify", "--model", &s(&nan), "--vertices", "v"]);
    assert_clean_failure(&o, &["nan.safetensors", "fc2.weight"]);
    #[cfg(unix)]
    {
        // FIFOs, devices and directories are refused as inputs without blocking.
        let fifo = d.join("fifo");
        assert!(Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        for model in [s(&fifo), "/dev/zero".into(), s(d)] {
            let o = fcollide_within(&["-q", "verify", "--model", &model, "--vertices", "v"], 60)
                .unwrap_or_else(|| panic!("--model {model} blocked"));
            assert_clean_failure(&o, &[&model, "not a regular file"]);
        }
        // Outputs that are devices, or symlinks to one, are refused and left alone.
        let link = d.join("tonull");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        for target in ["/dev/full".to_string(), s(&link)] {
            let o = fcollide(&["-q", "train", "--out", &target, "--epochs", "1"]);
            assert_clean_failure(&o, &["--out", "character device"]);
        }
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        let leftovers: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

/// Issue 18: a closed standard output (`fcollide patches query … | head -1`) ends the
/// program quietly with exit status 0.
#[test]
fn closed_stdout_ends_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("db.fcpd");
    let o = fcollide(&[
        "-q",
        "patches",
        "build",
        "--dataset",
        "embedded",
        "--limit-images",
        "50",
        "--out",
        db.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let img = d.join("img.png");
    image::GrayImage::from_fn(28, 28, |x, y| image::Luma([(x * 9 + y * 5) as u8]))
        .save(&img)
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fcollide"))
        .args([
            "-q",
            "patches",
            "query",
            db.to_str().unwrap(),
            "--image",
            img.to_str().unwrap(),
            "--k",
            "3000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The pipe is closed here, with ~100 KB of output still to come.
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "status {:?}: {}", o.status, stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

/// Issue 13 §3: with stderr not a terminal, progress comes as plain lines (what, how far,
/// ETA) at most every `FCOLLIDE_PROGRESS_SECS` (10 s by default; 0 here: every step), each
/// on a line of its own.
#[test]
fn progress_without_a_terminal_is_plain_lines() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("digits.fcpd");
    let o = Command::new(env!("CARGO_BIN_EXE_fcollide"))
        .args([
            "patches",
            "build",
            "--dataset",
            "embedded",
            "--limit-images",
            "40",
        ])
        .args([
            "--size",
            "5",
            "--stride",
            "2",
            "--out",
            db.to_str().unwrap(),
        ])
        .env("FCOLLIDE_PROGRESS_SECS", "0")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert!(!lines.is_empty(), "no progress lines");
    for l in &lines {
        assert!(
            !l.contains('\r') && !l.contains('\u{1b}'),
            "terminal codes: {l:?}"
        );
        assert_eq!(
            l.matches(" elapsed").count(),
            1,
            "not one phase a line: {l:?}"
        );
        let (_, rest) = l
            .split_once(": ")
            .unwrap_or_else(|| panic!("no label: {l:?}"));
        let (pos, total) = rest.split(' ').next().unwrap().split_once('/').unwrap();
        assert!(
            pos.parse::<u64>().unwrap() <= total.parse::<u64>().unwrap(),
            "{l}"
        );
        assert!(rest.contains(" %)"), "{l}");
    }
    // The default interval is 10 s: a run this short prints no progress line at all.
    let o = fcollide(&[
        "patches",
        "build",
        "--dataset",
        "embedded",
        "--limit-images",
        "40",
        "--size",
        "5",
        "--stride",
        "2",
        "--out",
        db.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

/// A 4×4 data set in IDX files (train and test, 12 examples each, labels < 3) and a random
/// 16-10-3 ReLU model for it: small enough that `audit` runs its LPs in milliseconds.
fn tiny_audit_inputs(dir: &Path) -> std::path::PathBuf {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    for prefix in ["train", "t10k"] {
        let n = 12u32;
        let mut images = vec![0u8, 0, 8, 3];
        for v in [n, 4, 4] {
            images.extend(v.to_be_bytes());
        }
        images.extend((0..n * 16).map(|_| rng.random_range(0..=255u8)));
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        let mut l = vec![0u8, 0, 8, 1];
        l.extend(n.to_be_bytes());
        l.extend((0..n).map(|_| rng.random_range(0..3u8)));
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), l).unwrap();
    }
    let mut w = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-0.5..0.5)).collect() };
    let mut b = fcollide::model::GraphBuilder::new("tiny", [1, 4, 4]);
    let x = b.flatten("flatten", 0);
    let x = b.linear("fc1", x, 16, 10, w(160), Some(w(10)));
    let x = b.relu("relu1", x);
    b.linear("fc2", x, 10, 3, w(30), Some(w(3)));
    let model = dir.join("tiny.safetensors");
    std::fs::write(
        &model,
        fcollide::model::io::to_safetensors(&b.finish()).unwrap(),
    )
    .unwrap();
    model
}

/// Issue 16: the audit's report names each measured column (summary, histogram), says
/// which were not measured, and ranks the grids by what was measured.
#[test]
fn audit_report_names_the_measured_columns() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = tiny_audit_inputs(d);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let out = d.join("out");
    let o = fcollide(&[
        "-q",
        "audit",
        "--model",
        &s(&model),
        "--data",
        &s(d),
        "--limit",
        "9",
        "--measures",
        "chebyshev",
        "--out",
        &s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("report.md, report.html"),
        "{}",
        stdout(&o)
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for col in [
        "confidence",
        "loss",
        "margin",
        "n_plus",
        "affine_dim",
        "region_rows",
        "chebyshev_radius",
    ] {
        assert!(md.contains(&format!("| `{col}` |")), "{col}: {md}");
        assert!(html.contains(&format!("audit-hist-{col}.png")), "{col}");
        assert!(out.join(format!("audit-hist-{col}.svg")).exists(), "{col}");
    }
    assert!(
        md.contains("`mean_extent` (not measured: --measures dim,chebyshev)"),
        "{md}"
    );
    assert!(!out.join("audit-hist-mean_extent.png").exists());
    assert!(md.contains("Ranked by `chebyshev_radius`"), "{md}");
    assert!(
        md.lines()
            .any(|l| l.starts_with("| split ") && l.contains("| train ")),
        "{md}"
    );
    assert!(md.contains("the first 9 of 12 (limit)"), "{md}");
    assert!(out.join("audit-box-chebyshev_radius.png").exists());
    // Basic: no polytope measures, no grids, said so.
    let basic = d.join("basic");
    let o = fcollide(&[
        "-q",
        "audit",
        "--model",
        &s(&model),
        "--data",
        &s(d),
        "--limit",
        "5",
        "--measures",
        "basic",
        "--out",
        &s(&basic),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(basic.join("report.md")).unwrap();
    assert!(md.contains("--measures basic): no grids"), "{md}");
    assert!(
        md.contains("| `margin` |") && !md.contains("| `n_plus` |"),
        "{md}"
    );
}

/// Issue 16: `audit --shard i/4` for i = 0..3 merged by `audit merge` writes the files a
/// single run writes; malformed shards and limits are usage errors naming the flag.
#[test]
fn audit_shards_merge_into_the_single_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = tiny_audit_inputs(d);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "-q".to_string(),
            "audit".into(),
            "--model".into(),
            s(&model),
            "--data".into(),
            s(d),
            "--split".into(),
            "test".into(),
            "--limit".into(),
            "10".into(),
            "--directions".into(),
            "3".into(),
            "--out".into(),
            s(out),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        fcollide(&a)
    };
    let single = d.join("single");
    let o = run(&single, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("audited 10 example(s)"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("s per example"), "{}", stdout(&o));
    let mut shards = Vec::new();
    for i in 0..4 {
        let out = d.join(format!("shard{i}"));
        let o = run(&out, &["--shard", &format!("{i}/4"), "--threads", "1"]);
        assert!(o.status.success(), "{}", stderr(&o));
        shards.push(s(&out));
    }
    let merged = d.join("merged");
    let mut args = vec!["audit", "merge"];
    args.extend(shards.iter().map(String::as_str));
    let m = s(&merged);
    args.extend(["--out", m.as_str()]);
    let o = fcollide(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "audit.parquet",
        "audit.csv",
        "audit.json",
        "report.md",
        "report.html",
        "audit-examples.safetensors",
        "audit-largest.png",
        "audit-smallest.svg",
        "audit-hist-chebyshev_radius.png",
        "audit-box-affine_dim.svg",
    ] {
        let a = std::fs::read(single.join(f)).unwrap();
        assert_eq!(a, std::fs::read(merged.join(f)).unwrap(), "{f} differs");
    }
    let csv = std::fs::read_to_string(single.join("audit.csv")).unwrap();
    assert!(csv.starts_with(
        "index,label,predicted,confidence,loss,margin,n_plus,n_zero,rank,affine_dim,\
         region_rows,chebyshev_radius,mean_extent,error\n"
    ));
    assert_eq!(csv.lines().count(), 11);
    // A merge with a shard missing fails, naming it.
    let mut args = vec!["audit", "merge"];
    args.extend(shards[..3].iter().map(String::as_str));
    let x = s(&d.join("x"));
    args.extend(["--out", x.as_str()]);
    let o = fcollide(&args);
    assert_clean_failure(&o, &["missing shard(s) 3/4"]);
    assert_eq!(o.status.code(), Some(1));
    // Malformed values are usage errors naming the flag.
    for (extra, needle) in [
        (vec!["--shard", "4/4"], "--shard"),
        (vec!["--shard", "0/0"], "--shard"),
        (vec!["--shard", "a/b"], "--shard"),
        (vec!["--measures", "size"], "--measures"),
        (vec!["--checkpoint-every", "0"], "--checkpoint-every"),
        (vec!["--layer", "fc2"], "fc2"),
    ] {
        let o = run(&d.join("bad"), &extra);
        assert_clean_failure(&o, &[needle]);
        if needle.starts_with("--") {
            assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        }
    }
    let o = fcollide(&["audit", "--model", &s(&model), "--limit", "0", "--out", &x]);
    assert_clean_failure(&o, &["--limit"]);
    assert_eq!(o.status.code(), Some(2));
    // A plain --limit N belongs to audit only.
    let o = fcollide(&["--limit", "5", "inspect", &s(&model)]);
    assert_clean_failure(&o, &["--limit '5'", "fcollide audit"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Issue 16 (§5.2): `inspect --hyperplanes` summarizes every weighted layer's pairwise
/// cosines on stdout and, with `--out`, writes the JSON, the table and one histogram per
/// layer; the figures match a cosine computed here from the model's own weights.
#[test]
fn inspect_hyperplanes_summarizes_every_weighted_layer() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_audit_inputs(dir.path());
    let out = dir.path().join("hp");
    let o = fcollide(&[
        "-q",
        "inspect",
        model.to_str().unwrap(),
        "--hyperplanes",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("| fc1") && text.contains("| fc2"), "{text}");
    for f in [
        "hyperplanes.json",
        "hyperplanes.md",
        "hyperplanes-fc1.png",
        "hyperplanes-fc1.svg",
        "hyperplanes-fc2.png",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let layers: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("hyperplanes.json")).unwrap())
            .unwrap();
    // fc2: 3 rows of 10, so 3 pairs; its max cosine, from the file's weights.
    let bytes = std::fs::read(&model).unwrap();
    let net = fcollide::model::io::from_safetensors(&bytes, &model, None).unwrap();
    let w = match &net.nodes[net.find("fc2").unwrap()].op {
        fcollide::model::Op::Linear { weight, .. } => weight.clone(),
        _ => unreachable!(),
    };
    let row = |i: usize| &w[i * 10..(i + 1) * 10];
    let cos = |a: &[f32], b: &[f32]| {
        let d = |x: &[f32], y: &[f32]| {
            x.iter()
                .zip(y)
                .map(|(p, q)| *p as f64 * *q as f64)
                .sum::<f64>()
        };
        d(a, b) / (d(a, a) * d(b, b)).sqrt()
    };
    let max = [(0, 1), (0, 2), (1, 2)]
        .map(|(i, j)| cos(row(i), row(j)))
        .into_iter()
        .fold(f64::NEG_INFINITY, f64::max);
    let fc2 = &layers[1];
    assert_eq!(fc2["layer"], "fc2");
    assert_eq!(fc2["pairs"], 3);
    assert!((fc2["max"].as_f64().unwrap() - max).abs() < 1e-9, "{fc2}");
    // --out without --hyperplanes is a usage error.
    let o = fcollide(&["inspect", model.to_str().unwrap(), "--out", "x"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// Rows of a CSV file without quoted fields, as maps from the header's names.
fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .map(|l| {
            assert!(!l.contains('"'), "{}: a quoted field: {l}", path.display());
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

/// Issue 16: `reproduce audit` flips labels, trains (recording the AUM), audits the first
/// examples with the flipped labels, and writes an AUROC table that the written rows
/// reproduce by counting pairs; a second run reuses the cached model and its AUM; bad flags
/// are usage errors naming the flag.
#[test]
fn reproduce_audit_writes_aurocs_the_rows_reproduce() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = [
        "-q",
        "reproduce",
        "audit",
        "--arch",
        "mlp",
        "--epochs",
        "1",
        "--limit",
        "40",
        "--measures",
        "dim",
        "--flip-rate",
        "0.25",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = fcollide(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("trained a new model"), "{}", stdout(&o));
    for f in [
        "auroc.md",
        "auroc.json",
        "model-mlp.safetensors",
        "mlp/audit.csv",
        "mlp/audit.parquet",
        "mlp/flips.csv",
        "mlp/report.md",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    assert!(!out.join("lenet5").exists());
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("auroc.json")).unwrap()).unwrap();
    let model = &rec["models"][0];
    assert_eq!(model["arch"], "mlp");
    assert_eq!(model["audited"], 40);
    assert_eq!(model["train_flipped"], 2000);
    // The rows: audit.csv joined with flips.csv on index.
    let audit = csv_rows(&out.join("mlp/audit.csv"));
    let flips = csv_rows(&out.join("mlp/flips.csv"));
    assert_eq!((audit.len(), flips.len()), (40, 40));
    let flipped: Vec<bool> = flips.iter().map(|r| r["flipped"] == "true").collect();
    for (a, f) in audit.iter().zip(&flips) {
        assert_eq!(a["index"], f["index"]);
        assert_eq!(a["label"], f["label"]);
        assert_eq!(f["flipped"] == "true", f["label"] != f["clean_label"]);
    }
    let n_flipped = flipped.iter().filter(|&&f| f).count();
    assert!(n_flipped > 0 && n_flipped < 40, "{n_flipped}");
    assert_eq!(model["audited_flipped"], n_flipped);
    let measures = model["measures"].as_array().unwrap();
    let names: Vec<&str> = measures
        .iter()
        .map(|m| m["measure"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "loss",
            "margin",
            "confidence",
            "aum",
            "n_plus",
            "affine_dim"
        ]
    );
    let md = std::fs::read_to_string(out.join("auroc.md")).unwrap();
    for m in measures {
        let name = m["measure"].as_str().unwrap();
        let v: Vec<f64> = audit
            .iter()
            .zip(&flips)
            .map(|(a, f)| {
                a.get(name)
                    .or_else(|| f.get(name))
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        // AUROC with "larger = flipped" by counting pairs, ties ½.
        let (mut num, mut den) = (0.0, 0.0);
        for i in (0..40).filter(|&i| flipped[i]) {
            for j in (0..40).filter(|&j| !flipped[j]) {
                den += 1.0;
                num += if v[i] > v[j] {
                    1.0
                } else if v[i] == v[j] {
                    0.5
                } else {
                    0.0
                };
            }
        }
        let larger = m["auroc_larger"].as_f64().unwrap();
        let suspicious = m["auroc_suspicious"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&larger), "{name}: {larger}");
        assert!(
            (larger - num / den).abs() < 1e-12,
            "{name}: {larger} vs {}",
            num / den
        );
        let want = match m["suspicious"].as_str().unwrap() {
            "higher" => larger,
            _ => 1.0 - larger,
        };
        assert!((suspicious - want).abs() < 1e-12, "{name}");
        assert_eq!(m["examples"], 40);
        assert!(md.contains(&format!("| {name} |")), "{name}: {md}");
    }
    assert_eq!(model["largest"].as_array().unwrap().len(), 2);
    // Again: the cached model and its AUM are reused, the AUROCs are the same.
    let o = fcollide(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("reused the cached model"),
        "{}",
        stdout(&o)
    );
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("auroc.json")).unwrap()).unwrap();
    assert_eq!(again["models"][0]["measures"], model["measures"]);
    // Another flip seed is another model.
    let other: Vec<&str> = args
        .iter()
        .map(|&a| if a == "dim" { "basic" } else { a })
        .chain(["--flip-seed", "1"])
        .collect();
    let o = fcollide(&other);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("flips.seed: 0 → 1"), "{}", stdout(&o));
    // Bad flags.
    for (flag, value, needle) in [
        ("--flip-rate", "0", "--flip-rate"),
        ("--flip-rate", "1.5", "--flip-rate"),
        ("--arch", "vgg16", "--arch"),
        ("--limit", "0", "--limit"),
        ("--measures", "size", "--measures"),
        ("--knn", "0", "--knn"),
    ] {
        let o = fcollide(&[
            "reproduce",
            "audit",
            flag,
            value,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}: {}", stderr(&o));
        assert_clean_failure(&o, &[needle]);
    }
}
