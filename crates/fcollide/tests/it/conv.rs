//! Conv nets against an independent float64 numpy implementation, and a collision at a conv
//! layer end to end.
//!
//! Expected values (`tests/fixtures/conv_nets.json`) were cross-checked against an independent
//! implementation: `python3 scripts/make_conv_fixtures.py crates/fcollide/tests/fixtures/conv_nets.json`
//! (numpy only). Three tiny nets with seeded float32 weights cover per-channel and shared
//! `Normalize`, `Conv2d` with padding 0/1/2 (also per axis), stride 1/2 (also per axis),
//! 3×2 and 2×3 kernels, several channels, `MaxPool2d` 2×2/2, 3×3/2 and 2×2/(2,1) in floor mode
//! on odd sizes, `Relu`, `Flatten` and `Linear`; a batch of two inputs; every layer's output;
//! and at two layers `L` the input gradient of `Σ output_L ⊙ G` for a fixed random `G`.
//! The seeds keep every ReLU pre-activation and every max-pool top-2 gap ≥ 1e-4 away from a
//! tie, so f32 rounding or a finite-difference step cannot flip a mask or an argmax. The
//! snippet that computes the reference (float64 throughout):
//!
//! ```python
//! def conv2d(x, w, b, stride, padding):          # x [C,H,W], w [O,C,kh,kw]
//!     xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
//!     oh = (h + 2 * ph - kh) // sh + 1; ow = (wd + 2 * pw - kw) // sw + 1
//!     y = np.zeros((o, oh, ow)) + b[:, None, None]
//!     for p in range(kh):
//!         for q in range(kw):
//!             patch = xp[:, p : p + sh * (oh - 1) + 1 : sh, q : q + sw * (ow - 1) + 1 : sw]
//!             y += np.einsum("oc,cij->oij", w[:, :, p, q], patch)
//!
//! def conv2d_back(dy, x_shape, w, stride, padding):   # transpose: scatter through the kernel
//!     dxp = np.zeros((c, h + 2 * ph, wd + 2 * pw))
//!     for p in range(kh):
//!         for q in range(kw):
//!             dxp[:, p : p + sh * (oh - 1) + 1 : sh, q : q + sw * (ow - 1) + 1 : sw] += \
//!                 np.einsum("oc,oij->cij", w[:, :, p, q], dy)
//!     return dxp[:, ph : ph + h, pw : pw + wd]
//!
//! def maxpool(x, kernel, stride):                # floor mode; remembers the first argmax
//!     for ch, i, j in windows:
//!         win = x[ch, i * sh : i * sh + kh, j * sw : j * sw + kw]
//!         r, q = divmod(int(np.argmax(win)), kw)
//!         y[ch, i, j] = win[r, q]; arg[ch, i, j] = (ch * h + i * sh + r) * w + j * sw + q
//! # backward: relu d * (x > 0); pool np.add.at(dx, arg.ravel(), d.ravel());
//! #           normalize d / std[c]; linear W.T @ d; flatten reshape
//! ```
//!
//! The script also checks its backprop against central differences of its own forward and
//! its convolution against a scalar loop before writing the file.
use crate::chain::{chain, conv, layer, linear, maxpool};
use fcollide::collide::engine::{AutodiffEngine, GradientEngine};
use fcollide::collide::{find_vertices, VertexParams};
use fcollide::exact::{forward, forward_f32};
use fcollide::model::argmax;
use fcollide::model::{default_device, Graph, Network, Op};
use fcollide::polytope::verify;
use fcollide::progress::Silent;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    nets: Vec<NetCase>,
}

#[derive(Deserialize)]
struct NetCase {
    name: String,
    network: Graph,
    /// `[2][C·H·W]` (float32 values).
    inputs: Vec<Vec<f64>>,
    /// `[2][layers][numel]`.
    outputs: Vec<Vec<Vec<f64>>>,
    grads: Vec<GradCase>,
}

#[derive(Deserialize)]
struct GradCase {
    layer: String,
    layer_index: usize,
    /// `[2][numel of the layer]`.
    g: Vec<Vec<f64>>,
    /// `[2][C·H·W]`: `∂(Σ output_L ⊙ g)/∂input`.
    grad: Vec<Vec<f64>>,
}

impl NetCase {
    /// Input `k` as f32 (the fixture's inputs are f32 values; rounding to f32 also undoes any
    /// last-bit error of the JSON parser's f64).
    fn input(&self, k: usize) -> Vec<f32> {
        self.inputs[k].iter().map(|&v| v as f32).collect()
    }

    /// Input `k` widened to f64.
    fn input64(&self, k: usize) -> Vec<f64> {
        widen(&self.input(k))
    }

    /// Both inputs as one f32 batch `[2·C·H·W]`.
    fn batch(&self) -> Vec<f32> {
        [self.input(0), self.input(1)].concat()
    }
}

fn fixture() -> Fixture {
    let f: Fixture = serde_json::from_str(include_str!("../fixtures/conv_nets.json")).unwrap();
    assert_eq!(f.nets.len(), 3);
    f
}

/// Largest `|got − want|` relative to `max(1, max |want|)`.
fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
        / scale
}

/// The op's kind, for messages (its `Debug` would print the weights).
fn kind(op: &Op) -> &'static str {
    op.kind()
}

fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// (a) burn's forward to every layer matches numpy.
#[test]
fn burn_forward_matches_numpy_at_every_layer() {
    let device = default_device();
    for case in fixture().nets {
        let net = Network::from_graph(&case.network, &device).unwrap();
        let x = case.batch();
        for (li, layer) in case.network.nodes.iter().skip(1).enumerate() {
            let got = net.activations(&x, li + 1, &device);
            assert_eq!(got.len(), 2);
            let numel: usize = net.shapes()[li + 1].len();
            for (k, g) in got.iter().enumerate() {
                let want = &case.outputs[k][li];
                assert_eq!(g.len(), numel, "{} {}", case.name, layer.name);
                let e = rel_err(&widen(g), want);
                assert!(
                    e < 1e-4,
                    "{} layer {} ({}) input {k}: rel err {e:.3e}",
                    case.name,
                    layer.name,
                    kind(&layer.op)
                );
            }
        }
    }
}

/// (b) the f64 `exact::forward` matches numpy to rounding.
#[test]
fn exact_forward_matches_numpy_at_every_layer() {
    for case in fixture().nets {
        for k in 0..2 {
            let f = forward(&case.network, &case.input64(k)).unwrap();
            assert_eq!(f.outputs.len(), case.network.nodes.len());
            for (li, layer) in case.network.nodes.iter().skip(1).enumerate() {
                assert_eq!(f.shapes[li + 1].len(), case.outputs[k][li].len());
                let e = rel_err(&f.outputs[li + 1], &case.outputs[k][li]);
                assert!(
                    e < 1e-9,
                    "{} layer {} input {k}: rel err {e:.3e}",
                    case.name,
                    layer.name
                );
            }
            // The f32 entry point widens the same values.
            let f32_entry = forward_f32(&case.network, &case.input(k)).unwrap();
            assert_eq!(f32_entry.outputs, f.outputs);
        }
    }
}

/// (c) burn autodiff's vector–Jacobian product matches numpy's manual backprop.
#[test]
fn autodiff_vjp_matches_numpy_gradient() {
    let device = default_device();
    for case in fixture().nets {
        let x = case.batch();
        for gc in &case.grads {
            assert_eq!(case.network.nodes[gc.layer_index + 1].name, gc.layer);
            let mut eng = AutodiffEngine::new(&case.network, gc.layer_index + 1, &device).unwrap();
            let y = eng.forward(&x);
            let want_y: Vec<f64> = (0..2)
                .flat_map(|k| case.outputs[k][gc.layer_index].clone())
                .collect();
            assert!(rel_err(&widen(&y), &want_y) < 1e-4, "{}", case.name);
            let g: Vec<f32> = gc.g.iter().flatten().map(|&v| v as f32).collect();
            let got = eng.vjp(&g);
            let d = case.network.input_len();
            assert_eq!(got.len(), 2 * d);
            for k in 0..2 {
                let want = &gc.grad[k];
                // The gradient is not trivially zero.
                assert!(want.iter().any(|v| v.abs() > 1e-2), "{}", case.name);
                let e = rel_err(&widen(&got[k * d..(k + 1) * d]), want);
                assert!(
                    e < 1e-4,
                    "{} vjp at {} input {k}: rel err {e:.3e}",
                    case.name,
                    gc.layer
                );
            }
        }
    }
}

/// (d) central differences of the f64 forward agree with numpy's gradient on a few pixels.
#[test]
fn finite_differences_of_exact_forward_match_numpy_gradient() {
    for case in fixture().nets {
        let d = case.network.input_len();
        for gc in &case.grads {
            for k in 0..2 {
                let phi = |x: &[f64]| -> f64 {
                    let f = forward(&case.network, x).unwrap();
                    f.outputs[gc.layer_index + 1]
                        .iter()
                        .zip(&gc.g[k])
                        .map(|(a, b)| a * b)
                        .sum()
                };
                // First, last, and a spread of pixels in between (every channel for conv_a).
                let pixels = [0, d / 7, d / 3, d / 2, 2 * d / 3, d - 1];
                for &i in &pixels {
                    let h = 1e-5;
                    let mut xp = case.input64(k);
                    xp[i] += h;
                    let mut xm = case.input64(k);
                    xm[i] -= h;
                    let fd = (phi(&xp) - phi(&xm)) / (2.0 * h);
                    let want = gc.grad[k][i];
                    assert!(
                        (fd - want).abs() < 1e-6 * want.abs().max(1.0),
                        "{} at {} input {k} pixel {i}: fd {fd} vs numpy {want}",
                        case.name,
                        gc.layer
                    );
                }
            }
        }
    }
}

/// (e) wrong layer names are refused with the list of valid ones.
#[test]
fn wrong_layer_names_list_the_valid_ones() {
    let f = fixture();
    let a = &f.nets[0].network;
    assert_eq!(a.collision_layers(), ["conv1", "conv2", "fc1"]);
    assert_eq!(a.collision_layer_index("conv2").unwrap(), 5);
    // A ReLU's own name is accepted for its collision point.
    assert_eq!(a.collision_layer_index("relu1").unwrap(), 2);
    for (name, why) in [
        ("pool1", "not followed by a ReLU"),
        ("fc2", "not followed by a ReLU"),
        ("conv9", "has no such node"),
        ("", "has no such node"),
    ] {
        let err = a.collision_layer_index(name).unwrap_err().to_string();
        assert!(
            err.contains(why) && err.contains("valid names: conv1, conv2, fc1"),
            "{name}: {err}"
        );
    }
    // The last layer of conv_c is a Linear with no ReLU after it: only conv1 is valid.
    let c = &f.nets[2].network;
    assert_eq!(c.collision_layers(), ["conv1"]);
    let err = c.collision_layer_index("fc1").unwrap_err().to_string();
    assert!(err.contains("valid names: conv1"), "{err}");
    // find_vertices reports the same.
    let x = f.nets[0].input(0);
    let p = VertexParams {
        layer: "pool1".into(),
        steps: 1,
        ..VertexParams::default()
    }
    .check()
    .unwrap();
    let err = find_vertices(a, &x, &x, &p, &default_device(), &Silent)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pool1") && err.contains("conv1, conv2, fc1"),
        "{err}"
    );
}

/// Uniform `±√(6/fan_in)` weights and small biases.
fn weights(rng: &mut ChaCha8Rng, n: usize, fan_in: usize) -> Vec<f32> {
    let a = (6.0 / fan_in as f32).sqrt();
    (0..n).map(|_| rng.random_range(-a..a)).collect()
}

/// 1×12×12 → conv1 4@3×3 stride 2 pad 1 → relu → pool 2×2 → flatten → fc1 10 → relu → fc2 3.
fn tiny_conv_net(rng: &mut ChaCha8Rng) -> Graph {
    let bias = |rng: &mut ChaCha8Rng, n: usize| -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-0.1..0.1)).collect()
    };
    chain(
        "tiny_conv",
        [1, 12, 12],
        (0.0, 1.0),
        vec![
            layer(
                "conv1",
                conv(
                    1,
                    4,
                    [3, 3],
                    [2, 2],
                    [1, 1],
                    weights(rng, 36, 9),
                    bias(rng, 4),
                ),
            ),
            layer("relu1", Op::Relu),
            layer("pool1", maxpool([2, 2], [2, 2])),
            layer("flat", Op::Flatten),
            layer("fc1", linear(36, 10, weights(rng, 360, 36), bias(rng, 10))),
            layer("relu2", Op::Relu),
            layer("fc2", linear(10, 3, weights(rng, 30, 10), bias(rng, 3))),
        ],
    )
}

/// (f) a collision at a conv layer: vertices found by autodiff through the convolution keep the
/// target's conv features (checked in burn and independently in f64), move far from the
/// target, and every sample of their polytope keeps the target's class.
#[test]
fn collision_at_a_conv_layer_end_to_end() {
    let device = default_device();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let net = tiny_conv_net(&mut rng);
    assert_eq!(net.check().unwrap(), 3);
    let d = net.input_len();
    let target: Vec<f32> = (0..d).map(|_| rng.random::<f32>()).collect();
    let p = VertexParams {
        layer: "conv1".into(),
        steps: 300,
        ..VertexParams::default()
    }
    .check()
    .unwrap();
    let set = find_vertices(&net, &target, &target, &p, &device, &Silent).unwrap();
    // Everything up to conv1 is affine: the closed-form engine ran (the conv as a matrix).
    assert_eq!(set.engine, "affine");
    assert_eq!(set.len(), 5);
    assert_eq!(set.n_units, 4 * 6 * 6);
    assert!(set.n_plus > 20 && set.n_plus < 130, "{}", set.n_plus);

    // Independently in f64: P units keep their value, Z units stay ≤ 0 (up to the optimizer's
    // residual), and the pushed unit went well below the target's value.
    let ft = forward_f32(&net, &target).unwrap();
    let yt = &ft.outputs[1];
    let target_class = argmax(ft.logits()).unwrap();
    let mut pushed = 0.0;
    for (k, s) in set.stats.iter().enumerate() {
        let v = set.vertex(k);
        assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
        let fv = forward_f32(&net, v).unwrap();
        let yv = &fv.outputs[1];
        let (mut num, mut den, mut z_max) = (0.0f64, 0.0f64, f64::NEG_INFINITY);
        for (a, t) in yv.iter().zip(yt) {
            if *t > 0.0 {
                num += (a - t) * (a - t);
                den += t * t;
            } else {
                z_max = z_max.max(*a);
            }
        }
        let p_err = (num / den).sqrt();
        assert!(p_err < 5e-3, "vertex {k}: P rel err {p_err:.3e} {s:?}");
        assert!(z_max < 0.02, "vertex {k}: a Z unit at {z_max} {s:?}");
        // The pushed unit never went up (near a corner it may be pinned by its neighbours).
        assert!(yv[s.unit] <= yt[s.unit] + 1e-3, "vertex {k}: {s:?}");
        pushed += yt[s.unit] - yv[s.unit];
        assert!(s.dist_from_init > 0.3, "vertex {k}: {s:?}");
        assert_eq!(argmax(fv.logits()), Some(target_class));
    }

    // Together the chosen units went well below the target's values (≈ 3.6 here; a wrong
    // gradient would not push them while holding P).
    assert!(pushed > 2.0, "units pushed down by {pushed} in all");

    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (v, samples) = verify(&net, &target, &set, 200, &device, &mut rng).unwrap();
    assert_eq!(samples.len(), 200 * d);
    assert_eq!(v.target_class, target_class);
    assert_eq!(v.class_agreement, 1.0, "{v:?}");
    assert!(v.vertex_feature_rel_err_max < 5e-3, "{v:?}");
    assert!(v.feature_rel_err_max < 5e-3, "{v:?}");
    assert!(v.vertex_pairwise_l2 > 0.5, "{v:?}");
    // The samples are inputs far from the target, not the target itself.
    let model = Network::from_graph(&net, &device).unwrap();
    let far = samples
        .chunks(d)
        .filter(|s| {
            s.iter()
                .zip(&target)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f32>()
                .sqrt()
                > 0.25
        })
        .count();
    assert!(
        far > 150,
        "{far} of 200 samples farther than 0.25 from the target"
    );
    let probs = model.predict(&samples[..10 * d], &device);
    assert!(probs.iter().all(|p| argmax(p) == Some(target_class)));
}

/// (g) behind a ReLU and a max-pool, region-locked vertices share the target's linear region:
/// the certificate holds and every sample collides; vertices found without the lock land in
/// other regions and their samples measurably do not collide.
#[test]
fn region_locked_samples_collide_and_free_ones_do_not() {
    use fcollide::collide::RegionMode;
    use fcollide::polytope::certify_hull;
    let device = default_device();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let net = tiny_conv_net(&mut rng);
    let d = net.input_len();
    let target: Vec<f32> = (0..d).map(|_| rng.random::<f32>()).collect();
    let run = |region: RegionMode| {
        let p = VertexParams {
            layer: "fc1".into(),
            steps: 1500,
            alpha: 1e6,
            beta: 1e6,
            region,
            ..VertexParams::default()
        }
        .check()
        .unwrap();
        let set = find_vertices(&net, &target, &target, &p, &device, &Silent).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let (v, _) = verify(&net, &target, &set, 500, &device, &mut rng).unwrap();
        let cert = certify_hull(&net, &target, &set.vertices, "fc1", 1e-4).unwrap();
        (set, v, cert)
    };
    let (locked, v_locked, c_locked) = run(RegionMode::Auto);
    assert!(locked.region_locked);
    assert!(c_locked.same_region && c_locked.certified, "{c_locked:?}");
    assert!(c_locked.certificate_margin.unwrap() >= 0.0);
    assert!(v_locked.feature_rel_err_max < 1e-6, "{v_locked:?}");
    let (free, v_free, c_free) = run(RegionMode::Free);
    assert!(!free.region_locked);
    assert!(!c_free.same_region, "{c_free:?}");
    // The free vertices collide themselves but their samples do not.
    assert!(v_free.vertex_feature_rel_err_max < 1e-4, "{v_free:?}");
    assert!(v_free.feature_rel_err_max > 1e-2, "{v_free:?}");
    // The verdicts say so: the locked row collides with a certificate, the free one does not.
    use fcollide::polytope::Verdict;
    assert_eq!(v_locked.verdict, Verdict::Collides);
    assert!(v_locked.certified && v_locked.certified_error_bound.unwrap() <= 1e-3);
    assert_ne!(v_free.verdict, Verdict::Collides, "{v_free:?}");
    assert!(!v_free.certified);
    // Vertices in different regions give no bound on the hull: none is reported.
    assert_eq!(v_free.certified_error_bound, None, "{v_free:?}");
    assert_eq!(
        v_free.verdict,
        if v_free.class_agreement.min(v_free.vertex_class_agreement) >= 1.0 {
            Verdict::Approximate
        } else {
            Verdict::Failed
        }
    );
    eprintln!(
        "locked: spread {:.3} err {:.2e}; free: spread {:.3} err {:.2e}",
        v_locked.vertex_pairwise_l2,
        v_locked.feature_rel_err_max,
        v_free.vertex_pairwise_l2,
        v_free.feature_rel_err_max
    );
}

/// Behind a ReLU and a max-pool, a short region-locked search ends near the colliding set;
/// the projection onto the target's region (`collide::project`) puts every vertex in it with
/// the target's features to f32 rounding, so the hull is certified far below the sampled
/// error of the unprojected search.
#[test]
fn projected_vertices_are_certified_after_a_short_search() {
    use fcollide::polytope::certify_hull;
    let device = default_device();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let net = tiny_conv_net(&mut rng);
    let d = net.input_len();
    let target: Vec<f32> = (0..d).map(|_| rng.random::<f32>()).collect();
    let p = VertexParams {
        layer: "fc1".into(),
        steps: 200,
        ..VertexParams::default()
    }
    .check()
    .unwrap();
    let set = find_vertices(&net, &target, &target, &p, &device, &Silent).unwrap();
    assert!(set.region_locked);
    for s in &set.stats {
        let pr = s.projection.as_ref().expect("projected");
        assert!(pr.in_region, "{pr:?}");
        assert!(pr.moved.is_finite());
    }
    let cert = certify_hull(&net, &target, &set.vertices, "fc1", 1e-6).unwrap();
    assert!(cert.same_region && cert.certified, "{cert:?}");
    // The vertices still span a polytope (the projection did not collapse them).
    let points: Vec<Vec<f64>> = set
        .vertices
        .chunks(d)
        .map(|v| v.iter().map(|&x| f64::from(x)).collect())
        .collect();
    let spread = fcollide::exact::mean_pairwise_l2(&points);
    assert!(spread > 1e-3, "{spread}");
}
