//! Vertex search and verification end to end on a small trained model.
use fcollide::collide::engine::{AutodiffEngine, GradientEngine};
use fcollide::collide::{find_vertices, Objective, Penalty, VertexParams};
use fcollide::data::mnist_split;
use fcollide::model::train::{train, TrainParams};
use fcollide::model::{arch, default_device, Graph, Network};
use fcollide::polytope::verify;
use fcollide::progress::Silent;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::OnceLock;

/// A small MLP trained for one epoch on 2,000 embedded digits (shared by the tests).
fn small_model() -> &'static (Graph, Vec<f32>, Vec<f32>) {
    static MODEL: OnceLock<(Graph, Vec<f32>, Vec<f32>)> = OnceLock::new();
    MODEL.get_or_init(|| {
        let (tr, te) = mnist_split(0).unwrap();
        let tr = tr.subset(&(0..2000).collect::<Vec<_>>());
        let te = te.subset(&(0..500).collect::<Vec<_>>());
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let net = arch::mlp(&mut rng);
        let params = TrainParams {
            epochs: 2,
            batch_size: 64,
            lr: 2e-3,
            ..TrainParams::default()
        }
        .check()
        .unwrap();
        let (net, report) = train(
            &net,
            (&tr, &te),
            &params,
            &default_device(),
            &mut rng,
            &Silent,
        )
        .unwrap();
        assert!(report.test_accuracy > 0.8, "{}", report.test_accuracy);
        let t = (0..te.len()).find(|&i| te.label(i) == 7).unwrap();
        let o = (0..te.len()).find(|&i| te.label(i) == 2).unwrap();
        (net, te.image(t).to_vec(), te.image(o).to_vec())
    })
}

fn params(steps: usize) -> VertexParams {
    VertexParams {
        steps,
        ..VertexParams::default()
    }
}

#[test]
fn vertices_collide_and_the_polytope_verifies() {
    let (net, target, _) = small_model();
    let p = params(600).check().unwrap();
    let set = find_vertices(net, target, target, &p, &default_device(), &Silent).unwrap();
    assert_eq!(set.len(), 5);
    assert_eq!(set.engine, "affine");
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (v, samples) = verify(net, target, &set, 300, &default_device(), &mut rng).unwrap();
    assert_eq!(samples.len(), 300 * 784);
    assert_eq!(v.class_agreement, 1.0, "{v:?}");
    assert!(v.vertex_feature_rel_err_max < 0.01, "{v:?}");
    assert!(v.feature_rel_err_max < 0.01, "{v:?}");
    // The vertices moved away from the target and from each other.
    assert!(v.vertex_pairwise_l2 > 1.0, "{v:?}");
    assert!(samples.iter().all(|&x| (0.0..=1.0).contains(&x)));
}

#[test]
fn verify_measures_the_zero_set_on_the_model_it_is_given() {
    let (net, target, _) = small_model();
    let device = default_device();
    let p = params(300).check().unwrap();
    let set = find_vertices(net, target, target, &p, &device, &Silent).unwrap();
    let from_search = set.stats.iter().map(|s| s.z_satisfied).fold(1.0, f64::min);
    // Another network of the same shape (untrained, another seed): its own zero set at the
    // target, and the share of it each vertex keeps ≤ 0, from a plain forward pass.
    let other = arch::mlp(&mut ChaCha8Rng::seed_from_u64(7));
    let pre = other.collision_point("fc1").unwrap().pre;
    let m = Network::from_graph(&other, &device).unwrap();
    let yt = m.activations(target, pre, &device).remove(0);
    let zero: Vec<usize> = (0..yt.len()).filter(|&j| yt[j] <= 0.0).collect();
    let expected = m
        .activations(&set.vertices, pre, &device)
        .iter()
        .map(|a| zero.iter().filter(|&&j| a[j] <= 0.0).count() as f64 / zero.len() as f64)
        .fold(1.0, f64::min);
    assert!(expected < from_search - 0.05, "{expected} vs {from_search}");
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (v, _) = verify(&other, target, &set, 20, &device, &mut rng).unwrap();
    assert_eq!(v.z_satisfied_min, expected, "{v:?}");
    // On its own network the figure is the search's (up to units at 0 that rounding in
    // another forward pass may flip).
    let (v, _) = verify(net, target, &set, 20, &device, &mut rng).unwrap();
    assert!(
        (v.z_satisfied_min - from_search).abs() < 0.01,
        "{v:?} vs {from_search}"
    );
}

#[test]
fn another_start_reaches_the_target_class() {
    let (net, target, other) = small_model();
    let p = params(1500).check().unwrap();
    let set = find_vertices(net, target, other, &p, &default_device(), &Silent).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (v, _) = verify(net, target, &set, 200, &default_device(), &mut rng).unwrap();
    assert_eq!(v.class_agreement, 1.0, "{v:?}");
    assert!(v.feature_rel_err_max < 0.02, "{v:?}");
}

#[test]
fn same_seed_same_vertices_and_engines_agree() {
    let (net, target, _) = small_model();
    let p = params(100).check().unwrap();
    let a = find_vertices(net, target, target, &p, &default_device(), &Silent).unwrap();
    let b = find_vertices(net, target, target, &p, &default_device(), &Silent).unwrap();
    assert_eq!(a.vertices, b.vertices);
    // Autodiff through burn finds (numerically) the same vertices as the closed form.
    // Autodiff and closed form agree over a few small steps (Adam amplifies rounding later).
    let small = |engine| {
        VertexParams {
            engine,
            lr: 0.01,
            ..params(30)
        }
        .check()
        .unwrap()
    };
    let a = find_vertices(
        net,
        target,
        target,
        &small(fcollide::collide::Engine::Affine),
        &default_device(),
        &Silent,
    )
    .unwrap();
    let p = small(fcollide::collide::Engine::Autodiff);
    let c = find_vertices(net, target, target, &p, &default_device(), &Silent).unwrap();
    assert_eq!(c.engine, "autodiff");
    // Adam divides by √v, so pixels whose gradient is ~0 can take different (tiny-gradient)
    // steps: compare the mean and bound the maximum loosely.
    let diffs: Vec<f32> = a
        .vertices
        .iter()
        .zip(&c.vertices)
        .map(|(x, y)| (x - y).abs())
        .collect();
    let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
    let max = diffs.iter().fold(0.0f32, |m, &x| m.max(x));
    assert!(mean < 1e-3 && max < 0.1, "mean {mean} max {max}");
}

/// The gradient of the whole objective with respect to the input, against central differences.
#[test]
fn objective_gradient_matches_finite_differences() {
    let (net, target, other) = small_model();
    let layer = net.collision_layer_index("fc2").unwrap();
    let mut eng = AutodiffEngine::new(net, layer, &default_device()).unwrap();
    let yt = eng.forward(target);
    let zero: Vec<usize> = (0..yt.len()).filter(|&j| yt[j] <= 0.0).collect();
    for pen in [Penalty::Square, Penalty::Hinge] {
        let obj = Objective::new(yt.clone(), 2.0, pen, 0.5, vec![zero[0]]);
        let loss = |eng: &mut AutodiffEngine, u: &[f32]| {
            let y = eng.forward(u);
            let mut g = vec![0.0; y.len()];
            obj.eval(&y, &mut g)[0].total
        };
        let u: Vec<f32> = other.iter().map(|&x| 0.1 + 0.8 * x).collect();
        let y = eng.forward(&u);
        let mut gy = vec![0.0; y.len()];
        obj.eval(&y, &mut gy);
        let grad = eng.vjp(&gy);
        for &k in &[100usize, 300, 406, 600] {
            let h = 2e-3f32;
            let mut up = u.clone();
            up[k] += h;
            let mut um = u.clone();
            um[k] -= h;
            let fd = (loss(&mut eng, &up) - loss(&mut eng, &um)) / (2.0 * h as f64);
            let tol = 3e-2 * fd.abs().max(grad[k].abs() as f64).max(1.0);
            assert!(
                (fd - grad[k] as f64).abs() < tol,
                "{pen:?} pixel {k}: fd {fd} vs {}",
                grad[k]
            );
        }
    }
}

#[test]
fn bad_parameters_are_named() {
    let (net, target, _) = small_model();
    let err = VertexParams {
        alpha: -1.0,
        ..VertexParams::default()
    }
    .check()
    .unwrap_err()
    .to_string();
    assert!(err.contains("alpha"), "{err}");
    let p = VertexParams {
        layer: "fc9".into(),
        ..params(1)
    }
    .check()
    .unwrap();
    let err = find_vertices(net, target, target, &p, &default_device(), &Silent)
        .unwrap_err()
        .to_string();
    assert!(err.contains("fc9") && err.contains("fc1, fc2"), "{err}");
    let p = VertexParams {
        layer: "fc3".into(),
        ..params(1)
    }
    .check()
    .unwrap();
    let err = find_vertices(net, target, target, &p, &default_device(), &Silent)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not followed by a ReLU"), "{err}");
    // A unit of the positive set cannot be pushed down.
    let fc1 = net.collision_layer_index("fc1").unwrap();
    let mut eng = AutodiffEngine::new(net, fc1, &default_device()).unwrap();
    let yt = eng.forward(target);
    let pos = (0..yt.len()).find(|&j| yt[j] > 0.0).unwrap();
    let p = VertexParams {
        vertices: 1,
        units: Some(vec![pos]),
        ..params(1)
    }
    .check()
    .unwrap();
    let err = find_vertices(net, target, target, &p, &default_device(), &Silent)
        .unwrap_err()
        .to_string();
    assert!(err.contains("positive set P"), "{err}");
    assert!(find_vertices(net, &target[..10], target, &p, &default_device(), &Silent).is_err());
}

/// Says "cancel" after `after` checks, like a Ctrl-C in the middle of a run.
struct CancelAfter {
    after: usize,
    calls: std::sync::atomic::AtomicUsize,
}

impl fcollide::progress::Progress for CancelAfter {
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64, _: &str) {}
    fn finish(&self) {}
    fn cancelled(&self) -> bool {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= self.after
    }
}

#[test]
fn an_interrupted_run_resumes_to_the_same_vertices() {
    use fcollide::collide::{find_vertices_checkpointed, Checkpointing, CollideError};
    let (net, target, other) = small_model();
    let dir = tempfile::tempdir().unwrap();
    let ckpt = Checkpointing {
        path: dir.path().join("run.ckpt"),
        every: 50,
        resume: true,
    };
    let p = VertexParams {
        engine: fcollide::collide::Engine::Autodiff,
        ..params(200)
    }
    .check()
    .unwrap();
    let full = find_vertices(net, target, other, &p, &default_device(), &Silent).unwrap();
    let stop = CancelAfter {
        after: 130,
        calls: Default::default(),
    };
    let err = find_vertices_checkpointed(
        net,
        target,
        other,
        &p,
        &default_device(),
        &stop,
        Some(&ckpt),
    )
    .unwrap_err();
    assert!(
        matches!(err, CollideError::Interrupted { step: 130, .. }),
        "{err}"
    );
    let resumed = find_vertices_checkpointed(
        net,
        target,
        other,
        &p,
        &default_device(),
        &Silent,
        Some(&ckpt),
    )
    .unwrap();
    assert_eq!(resumed.vertices, full.vertices);
    assert_eq!(resumed.loss_history, full.loss_history);
    // A checkpoint of another search is refused.
    let q = VertexParams {
        alpha: 5.0,
        ..params(200)
    }
    .check()
    .unwrap();
    let err = find_vertices_checkpointed(
        net,
        target,
        other,
        &q,
        &default_device(),
        &Silent,
        Some(&ckpt),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("other search parameters"), "{err}");
}
