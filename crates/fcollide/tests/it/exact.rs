//! Integration tests of `fcollide::exact`: hand-solved toy polytopes, certificates on random
//! MLPs and a small conv/max-pool net, `ker(W+) ⊆ ker(W−)` both ways, the error cases, and the
//! linearization against central finite differences of the f64 forward.
use crate::chain::{chain, conv, layer, linear, maxpool, Layer};
use fcollide::exact::{
    build_system, certify, closest_l1, collision_layers, collision_system, exact_closest,
    exact_polytope, forward, linearize, resolve_layer, ExactError, ExactParams, ExactPolytope,
    LpOptions, LpSolver, VertexLp, WarmStrategy,
};
use fcollide::model::{Graph, Op};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn lin(name: &str, inp: usize, out: usize, w: Vec<f32>, b: Vec<f32>) -> Layer {
    assert_eq!(w.len(), inp * out);
    layer(name, linear(inp, out, w, b))
}

fn relu(name: &str) -> Layer {
    layer(name, Op::Relu)
}

fn flatten() -> Layer {
    layer("flatten", Op::Flatten)
}

fn net(input_shape: [usize; 3], bounds: (f32, f32), layers: Vec<Layer>) -> Graph {
    chain("test", input_shape, bounds, layers)
}

/// 2-D toy. fc1 units: `u0+u1−0.5` (P at t=(½,½)), `u0−u1−0.75` (Z), `−u0−0.125` (Z)
/// (all exact in f32). Colliding set: the segment `u0+u1 = 1`, `0 ≤ u0 ≤ 0.875`, from `(0,1)`
/// to `(0.875,0.125)`.
fn toy2(bounds: (f32, f32)) -> Graph {
    net(
        [1, 1, 2],
        bounds,
        vec![
            flatten(),
            lin(
                "fc1",
                2,
                3,
                vec![1.0, 1.0, 1.0, -1.0, -1.0, 0.0],
                vec![-0.5, -0.75, -0.125],
            ),
            relu("relu1"),
            lin(
                "fc2",
                3,
                2,
                vec![1.0, 0.5, -1.0, -1.0, 2.0, 0.3],
                vec![0.1, 0.0],
            ),
        ],
    )
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

fn params(layer: &str, f: impl FnOnce(&mut ExactParams)) -> fcollide::exact::ValidExactParams {
    let mut p = ExactParams::new(layer);
    f(&mut p);
    p.check().expect("valid params")
}

/// A caller that has asked to stop (Ctrl-C in Python): the exact engine returns between LP
/// solves with an error instead of running to the end.
#[test]
fn a_cancelled_exact_polytope_stops() {
    struct Stop;
    impl fcollide::progress::Progress for Stop {
        fn start(&self, _: &str, _: u64) {}
        fn advance(&self, _: u64, _: &str) {}
        fn finish(&self) {}
        fn cancelled(&self) -> bool {
            true
        }
    }
    let n = toy2((0.0, 1.0));
    let p = params("fc1", |p| p.units = Some(vec![1, 2]));
    let e = fcollide::exact::exact_polytope_with_progress(&n, &[0.5, 0.5], &p, &Stop).unwrap_err();
    assert!(
        matches!(e, fcollide::exact::ExactError::Cancelled { .. }),
        "{e}"
    );
}

#[test]
fn toy2_polytope_by_hand() {
    let n = toy2((0.0, 1.0));
    let p = params("fc1", |p| {
        p.units = Some(vec![1, 2]);
        p.directions = 3;
    });
    let r = exact_polytope(&n, &[0.5, 0.5], &p).unwrap();
    assert_eq!(
        (r.d, r.n_plus, r.n_zero, r.rank, r.affine_dim),
        (2, 1, 2, 1, 1)
    );
    assert!(!r.ker_contained);
    // min (u0 − u1) → (0, 1); min (−u0) → (0.875, 0.125).
    assert!(
        close(&r.vertices_f64[0], &[0.0, 1.0], 1e-9),
        "{:?}",
        r.vertices_f64
    );
    assert!(
        close(&r.vertices_f64[1], &[0.875, 0.125], 1e-9),
        "{:?}",
        r.vertices_f64
    );
    assert!((r.vertex_lps[0].preact - (-1.75)).abs() < 1e-9);
    assert!((r.vertex_lps[1].preact - (-1.0)).abs() < 1e-9);
    let len = 0.875 * 2f64.sqrt();
    assert!((r.vertex_pairwise_l2 - len).abs() < 1e-9);
    // Chebyshev ball in the 1-D subspace: the midpoint, radius half the length.
    let c = r.chebyshev.as_ref().unwrap();
    assert!((c.radius - len / 2.0).abs() < 1e-8, "radius {}", c.radius);
    assert!(close(&c.centre, &[0.4375, 0.5625], 1e-8), "{:?}", c.centre);
    // Every direction in the subspace is ±(1,−1)/√2: width = segment length.
    assert_eq!(r.extents.len(), 3);
    for e in &r.extents {
        assert!((e.width - len).abs() < 1e-9, "{e:?}");
    }
    // Certificates: the post-ReLU activation is exactly the target's.
    assert!(r.certificate.max_activation_diff < 1e-12);
    assert!(r.certificate.max_violation < 1e-12);
    assert!(r.feasible_within_tol);
    assert_eq!(r.certificate.same_class_fraction, 1.0);
    assert!(r.certificate_f32.max_activation_diff < 1e-6);
    // The record serializes.
    let json = serde_json::to_string(&r).unwrap();
    let back: ExactPolytope = serde_json::from_str(&json).unwrap();
    assert_eq!(back.vertices, r.vertices);
}

#[test]
fn toy2_default_units_and_warm_strategies_agree() {
    let n = toy2((0.0, 1.0));
    let mut seen = Vec::new();
    for warm in [
        WarmStrategy::Restart,
        WarmStrategy::Dual,
        WarmStrategy::Primal,
        WarmStrategy::Choose,
    ] {
        let p = params("fc1", |p| {
            p.lp.warm = warm;
            p.chebyshev = false;
            p.directions = 0;
        });
        let r = exact_polytope(&n, &[0.5, 0.5], &p).unwrap();
        // Default units: the first `vertices` Z units with non-zero rows: 1 and 2.
        assert_eq!(
            r.vertex_lps.iter().map(|v| v.unit).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(r.vertex_lps[1].lp.warm == (warm != WarmStrategy::Restart));
        seen.push(r.vertices_f64);
    }
    for s in &seen[1..] {
        for (a, b) in s.iter().zip(&seen[0]) {
            assert!(close(a, b, 1e-9));
        }
    }
}

#[test]
fn toy2_closest_l1() {
    let n = toy2((0.0, 1.0));
    let p = params("fc1", |_| {});
    // Nearest point of the segment to (1, 0) in L1 is the end (0.875, 0.125): distance 0.25.
    let (cp, cert) = exact_closest(&n, &[0.5, 0.5], &[1.0, 0.0], &p).unwrap();
    assert!(close(&cp.point, &[0.875, 0.125], 1e-9), "{:?}", cp.point);
    assert!((cp.l1 - 0.25).abs() < 1e-9);
    assert!((cp.target_l1 - 1.0).abs() < 1e-12);
    assert!(cert.max_activation_diff < 1e-12);
    // Wrong length is an error, not a panic.
    let sys = collision_system(&n, &[0.5, 0.5], &p).unwrap();
    assert!(matches!(
        closest_l1(&sys, &[1.0], &p.lp),
        Err(ExactError::Shape { .. })
    ));
}

/// 3-D toy with a rank-deficient W+: rows `u0+u1+u2 − 1` and `2(u0+u1+u2) − 2.5` at
/// t = (½,½,½) (both positive), Z rows `u0 − u1 − 0.9` and `−0.1u0 − u2 − 0.05`.
/// Colliding set: the regular hexagon `Σu = 1.5` ∩ cube, cut by `u0 − u1 ≤ 0.9`.
fn toy3(bounds: (f32, f32)) -> Graph {
    net(
        [1, 1, 3],
        bounds,
        vec![
            lin(
                "fc1",
                3,
                4,
                vec![
                    1.0, 1.0, 1.0, //
                    2.0, 2.0, 2.0, //
                    1.0, -1.0, 0.0, //
                    -0.1, 0.0, -1.0,
                ],
                vec![-1.0, -2.5, -0.9, -0.05],
            ),
            relu("relu1"),
            lin(
                "fc2",
                4,
                2,
                vec![1.0, 0.0, 0.5, -1.0, 0.0, 1.0, 1.0, 1.0],
                vec![0.0, 0.2],
            ),
        ],
    )
}

#[test]
fn toy3_rank_deficient_by_hand() {
    let n = toy3((0.0, 1.0));
    let p = params("fc1", |p| p.directions = 5);
    let r = exact_polytope(&n, &[0.5, 0.5, 0.5], &p).unwrap();
    assert_eq!((r.n_plus, r.rank, r.affine_dim), (2, 1, 2));
    assert_eq!(r.n_equalities, 2);
    // min (u0 − u1) → (0, 1, ½); min (−0.1u0 − u2) → (½, 0, 1).
    assert!(
        close(&r.vertices_f64[0], &[0.0, 1.0, 0.5], 1e-9),
        "{:?}",
        r.vertices_f64
    );
    assert!(
        close(&r.vertices_f64[1], &[0.5, 0.0, 1.0], 1e-9),
        "{:?}",
        r.vertices_f64
    );
    // Incircle of the hexagon: centre (½,½,½), radius ½/√(2/3) (the cut is farther: 0.9/√2).
    let c = r.chebyshev.as_ref().unwrap();
    assert!(
        (c.radius - 0.5 / (2.0f64 / 3.0).sqrt()).abs() < 1e-8,
        "{}",
        c.radius
    );
    assert!(close(&c.centre, &[0.5, 0.5, 0.5], 1e-7), "{:?}", c.centre);
    for e in &r.extents {
        // Widths of the hexagon lie between 2·inradius and the diameter √2.
        assert!(
            e.width >= 2.0 * c.radius - 1e-9 && e.width <= 2f64.sqrt() + 1e-9,
            "{e:?}"
        );
        assert!(e.min <= e.target && e.target <= e.max);
    }
    assert!(r.certificate.max_activation_diff < 1e-12);
    assert!(r.certificate.max_violation < 1e-12);
}

#[test]
fn ker_containment_both_ways() {
    // Contained: P rows e0, e1; the Z row (1, 1, 0) is their sum → constant on the subspace.
    let n = net(
        [1, 1, 3],
        (0.0, 1.0),
        vec![
            lin(
                "fc1",
                3,
                3,
                vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0],
                vec![0.0, 0.0, -2.0],
            ),
            relu("relu1"),
        ],
    );
    let p = params("fc1", |p| p.directions = 2);
    let r = exact_polytope(&n, &[0.25, 0.5, 0.5], &p).unwrap();
    assert!(r.ker_contained, "{:?}", r.analysis);
    assert!(r.ker_max_residual < 1e-12);
    assert_eq!(r.analysis.z_rows_in_row_space, 1);
    // The colliding set is the whole segment u2 ∈ [0, 1].
    for e in &r.extents {
        assert!((e.width - 1.0).abs() < 1e-9);
    }
    // Pushing the Z unit cannot move it: its pre-activation stays at the target's −1.25.
    assert!((r.vertex_lps[0].preact - (-1.25)).abs() < 1e-9);
    assert!(
        r.notes.iter().any(|n| n.contains("constant")),
        "{:?}",
        r.notes
    );
    // Not contained: the 2-D toy.
    let r = exact_polytope(&toy2((0.0, 1.0)), &[0.5, 0.5], &params("fc1", |_| {})).unwrap();
    assert!(!r.ker_contained);
    assert!(r.ker_max_residual > 0.5);
}

#[test]
fn errors() {
    let n = toy2((0.0, 1.0));
    let t = [0.5f32, 0.5];
    // Unknown layer, listing the valid ones.
    let e = exact_polytope(&n, &t, &params("flatten", |_| {})).unwrap_err();
    match &e {
        ExactError::UnknownLayer { valid, .. } => assert_eq!(valid, &vec!["fc1".to_string()]),
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("fc1"));
    assert!(matches!(
        resolve_layer(&n, "fc2"),
        Err(ExactError::UnknownLayer { .. })
    ));
    assert_eq!(collision_layers(&n), vec!["fc1".to_string()]);
    // Infeasible: the target lies outside the pixel box.
    let e = exact_polytope(&toy2((0.0, 0.4)), &t, &params("fc1", |_| {})).unwrap_err();
    assert!(matches!(e, ExactError::Infeasible { .. }), "{e:?}");
    // Unbounded: no pixel box (the hexagon of `toy3` becomes an unbounded slab).
    let inf = toy3((f32::NEG_INFINITY, f32::INFINITY));
    let t3 = [0.5f32; 3];
    let e = exact_polytope(&inf, &t3, &params("fc1", |p| p.chebyshev = false)).unwrap_err();
    assert!(matches!(e, ExactError::Unbounded { .. }), "{e:?}");
    let e = exact_polytope(&inf, &t3, &params("fc1", |p| p.units = Some(vec![]))).unwrap_err();
    assert!(matches!(e, ExactError::Unbounded { .. }), "{e:?}");
    // N+ ≥ d.
    let full = net(
        [1, 1, 2],
        (0.0, 1.0),
        vec![
            lin("fc1", 2, 2, vec![1.0, 0.0, 0.0, 1.0], vec![1.0, 1.0]),
            relu("r"),
        ],
    );
    let e = exact_polytope(&full, &t, &params("fc1", |_| {})).unwrap_err();
    assert_eq!(
        e,
        ExactError::NoRoom {
            layer: "fc1".into(),
            n_plus: 2,
            d: 2
        }
    );
    assert!(e.to_string().contains("N+ = 2") && e.to_string().contains("d = 2"));
    // A unit in P cannot be pushed; a unit out of range neither.
    for u in [0usize, 7] {
        let e = exact_polytope(&n, &t, &params("fc1", |p| p.units = Some(vec![u]))).unwrap_err();
        assert!(matches!(e, ExactError::BadUnit { .. }), "{e:?}");
    }
    // Shapes and parameters.
    let e = exact_polytope(&n, &[0.5], &params("fc1", |_| {})).unwrap_err();
    assert!(matches!(e, ExactError::Shape { .. }));
    let e = exact_polytope(&n, &[f32::NAN, 0.5], &params("fc1", |_| {})).unwrap_err();
    assert!(matches!(e, ExactError::Shape { .. }));
    let mut bad = ExactParams::new("fc1");
    bad.tol_rank = 0.0;
    assert!(matches!(bad.check(), Err(ExactError::InvalidParam { .. })));
    let mut bad = ExactParams::new("fc1");
    bad.units = Some(vec![1, 1]);
    assert!(matches!(bad.check(), Err(ExactError::InvalidParam { .. })));
    let mut bad = ExactParams::new("");
    bad.vertices = 1;
    assert!(bad.check().is_err());
    let mut bad = ExactParams::new("fc1");
    bad.directions = fcollide::exact::MAX_DIRECTIONS + 1;
    assert!(matches!(bad.check(), Err(ExactError::InvalidParam { .. })));
    bad.directions = fcollide::exact::MAX_DIRECTIONS;
    assert!(bad.check().is_ok());
    // Weights that do not fit.
    let broken = net(
        [1, 1, 2],
        (0.0, 1.0),
        vec![lin("fc1", 3, 1, vec![0.0; 3], vec![0.0]), relu("r")],
    );
    match exact_polytope(&broken, &t, &params("fc1", |_| {})) {
        Err(ExactError::Network(msg)) => assert!(msg.contains("'fc1'"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn params_serde_round_trip() {
    let p = ExactParams {
        units: Some(vec![3, 5]),
        directions: 2,
        ..ExactParams::new("fc2")
    };
    let json = serde_json::to_string(&p).unwrap();
    let back: ExactParams = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    // Missing fields take defaults.
    let q: ExactParams = serde_json::from_str(r#"{"layer": "conv2"}"#).unwrap();
    assert_eq!(q.vertices, 5);
    assert_eq!(q.lp, LpOptions::default());
    let v = q.check().unwrap();
    assert_eq!(v.layer, "conv2");
}

fn random_mlp(rng: &mut ChaCha8Rng, sizes: &[usize], side: usize) -> Graph {
    let mut layers = vec![flatten()];
    for (k, w) in sizes.windows(2).enumerate() {
        let s = (2.0 / w[0] as f64).sqrt() as f32;
        let weight = (0..w[0] * w[1])
            .map(|_| rng.random_range(-1.7f32..1.7) * s)
            .collect();
        let bias = (0..w[1]).map(|_| rng.random_range(-0.1f32..0.1)).collect();
        layers.push(lin(&format!("fc{}", k + 1), w[0], w[1], weight, bias));
        if k + 2 < sizes.len() {
            layers.push(relu(&format!("relu{}", k + 1)));
        }
    }
    net([1, side, side], (0.0, 1.0), layers)
}

fn random_image(rng: &mut ChaCha8Rng, d: usize) -> Vec<f32> {
    (0..d)
        .map(|_| {
            if rng.random_bool(0.3) {
                0.0
            } else {
                rng.random_range(0.05f32..0.95)
            }
        })
        .collect()
}

/// Random convex combinations of the vertices also collide (they are in the polytope).
fn convex_combinations(rng: &mut ChaCha8Rng, verts: &[Vec<f64>], n: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|_| {
            let w: Vec<f64> = verts.iter().map(|_| rng.random_range(0.01..1.0)).collect();
            let s: f64 = w.iter().sum();
            let mut x = vec![0.0; verts[0].len()];
            for (v, wi) in verts.iter().zip(&w) {
                for (xi, vi) in x.iter_mut().zip(v) {
                    *xi += wi / s * vi;
                }
            }
            x
        })
        .collect()
}

#[test]
fn random_mlp_certificates() {
    for seed in 0..4u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = random_mlp(&mut rng, &[36, 14, 10, 4], 6);
        let t = random_image(&mut rng, 36);
        for layer in ["fc1", "fc2"] {
            let p = params(layer, |p| {
                p.vertices = 4;
                p.directions = 2;
            });
            let r = match exact_polytope(&n, &t, &p) {
                Ok(r) => r,
                Err(ExactError::NoRoom { .. }) => continue,
                Err(e) => panic!("seed {seed} {layer}: {e}"),
            };
            assert!(r.linearization_residual < 1e-12);
            assert_eq!(r.affine_dim, r.d - r.rank);
            assert!(r.rank <= r.n_plus);
            if layer == "fc2" {
                assert_eq!(
                    r.region.relu_on + r.region.relu_off + r.region.trivial_dropped,
                    14
                );
            }
            assert!(
                r.certificate.max_activation_diff < 1e-7,
                "{seed} {layer}: {:?}",
                r.certificate
            );
            assert!(r.certificate.max_violation < 1e-7);
            assert_eq!(r.certificate.same_class_fraction, 1.0);
            for v in &r.vertex_lps {
                assert!(v.preact <= v.target_preact + 1e-9);
            }
            let sys = collision_system(&n, &t, &p).unwrap();
            let mix = convex_combinations(&mut rng, &r.vertices_f64, 20);
            let c = certify(&n, &sys, &mix).unwrap();
            assert!(c.max_activation_diff < 1e-7 && c.max_violation < 1e-7);
            assert_eq!(c.same_class_fraction, 1.0);
            if let Some(ch) = &r.chebyshev {
                let cc = certify(&n, &sys, std::slice::from_ref(&ch.centre)).unwrap();
                assert!(cc.max_activation_diff < 1e-7, "centre {:?}", cc);
            }
        }
    }
}

/// conv1 (1→2, 3×3) → relu → maxpool 2 → conv2 (2→3, 2×2) → relu → flatten → fc (3→2).
fn conv_net(rng: &mut ChaCha8Rng) -> Graph {
    let mut r =
        |n: usize, s: f32| -> Vec<f32> { (0..n).map(|_| rng.random_range(-s..s)).collect() };
    net(
        [1, 6, 6],
        (0.0, 1.0),
        vec![
            layer(
                "norm",
                Op::Normalize {
                    mean: vec![0.4],
                    std: vec![0.3],
                },
            ),
            layer(
                "conv1",
                conv(1, 2, [3, 3], [1, 1], [0, 0], r(18, 0.6), r(2, 0.1)),
            ),
            relu("relu1"),
            layer("pool1", maxpool([2, 2], [2, 2])),
            layer(
                "conv2",
                conv(2, 3, [2, 2], [1, 1], [1, 1], r(24, 0.6), r(3, 0.1)),
            ),
            relu("relu2"),
            flatten(),
            lin("fc", 27, 2, r(54, 0.4), r(2, 0.1)),
        ],
    )
}

#[test]
fn conv_maxpool_certificates() {
    let mut done = 0;
    for seed in 0..6u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(100 + seed);
        let n = conv_net(&mut rng);
        assert_eq!(
            collision_layers(&n),
            vec!["conv1".to_string(), "conv2".to_string()]
        );
        let t = random_image(&mut rng, 36);
        for layer in ["conv1", "conv2"] {
            let p = params(layer, |p| p.directions = 2);
            let r = match exact_polytope(&n, &t, &p) {
                Ok(r) => r,
                Err(ExactError::NoRoom { .. }) => continue,
                Err(e) => panic!("seed {seed} {layer}: {e}"),
            };
            done += 1;
            if layer == "conv2" {
                // 32 ReLUs of conv1 and 8 windows × 3 "chosen ≥ other" half-spaces.
                let c = r.region;
                assert_eq!(
                    c.relu_on + c.relu_off + c.trivial_dropped + c.maxpool,
                    32 + 24
                );
            }
            assert!(r.linearization_residual < 1e-12);
            assert!(
                r.certificate.max_activation_diff < 1e-7,
                "{seed} {layer}: {:?}",
                r.certificate
            );
            assert!(r.certificate.max_violation < 1e-7);
            assert_eq!(r.certificate.same_class_fraction, 1.0);
            let sys = collision_system(&n, &t, &p).unwrap();
            let mix = convex_combinations(&mut rng, &r.vertices_f64, 10);
            let c = certify(&n, &sys, &mix).unwrap();
            assert!(c.max_activation_diff < 1e-7 && c.max_violation < 1e-7);
        }
    }
    assert!(done >= 4, "too few conv cases ran: {done}");
}

/// Central differences of the f64 forward reproduce the linearization column by column.
fn check_fd(n: &Graph, t: &[f64], layer_index: usize) {
    let l = linearize(n, t, layer_index, usize::MAX).unwrap();
    let h = 1e-6;
    let mut worst: f64 = 0.0;
    for k in 0..t.len() {
        let mut up = t.to_vec();
        let mut dn = t.to_vec();
        up[k] += h;
        dn[k] -= h;
        let fu = &forward(n, &up).unwrap().outputs[layer_index];
        let fd = &forward(n, &dn).unwrap().outputs[layer_index];
        for j in 0..l.map.rows {
            let g = (fu[j] - fd[j]) / (2.0 * h);
            worst = worst.max((g - l.map.a[j * t.len() + k]).abs());
        }
    }
    assert!(
        worst < 1e-6,
        "layer {layer_index}: finite-difference mismatch {worst}"
    );
    assert!(l.max_map_residual < 1e-12);
    // The target lies in its own region.
    assert!(l.region.max_violation(t) < 1e-12);
}

#[test]
fn linearize_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let n = random_mlp(&mut rng, &[36, 14, 10, 4], 6);
    // Interior target (no pixel exactly at a kink of a later ReLU, almost surely).
    let t: Vec<f64> = (0..36).map(|_| rng.random_range(0.1..0.9)).collect();
    for li in [2, 4, 6] {
        check_fd(&n, &t, li);
    }
    let n = conv_net(&mut rng);
    let t: Vec<f64> = (0..36).map(|_| rng.random_range(0.1..0.9)).collect();
    for li in [2, 4, 5, 8] {
        check_fd(&n, &t, li);
    }
}

#[test]
fn dead_units_are_dropped_and_counted() {
    // Unit 1 of fc1 has a zero row and negative bias: always off, constant.
    let n = net(
        [1, 1, 3],
        (0.0, 1.0),
        vec![
            lin(
                "fc1",
                3,
                3,
                vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, -1.0],
                vec![-0.5, -1.0, -0.5],
            ),
            relu("relu1"),
        ],
    );
    let t = [0.5f32, 0.5, 0.2];
    let p = params("fc1", |_| {});
    let sys = build_system(&n, &t.map(f64::from), 1, usize::MAX).unwrap();
    assert_eq!(sys.zero_rows_dropped, 1);
    assert_eq!((sys.n_plus(), sys.z_units.len(), sys.n_z_rows()), (1, 2, 1));
    let r = exact_polytope(&n, &t, &p).unwrap();
    assert_eq!(r.zero_rows_dropped, 1);
    assert_eq!(r.vertex_lps.len(), 1); // only the live Z unit is pushed by default
    let mut lp = VertexLp::new(&sys, &p.lp).unwrap();
    let v = lp.push_unit(&sys, 2).unwrap();
    // min u1 − u2 s.t. u0 + u1 = 1, u1 − u2 ≤ 0.5 → u1 = 0, u2 = 1: −1.
    assert!((v.stats.objective - (-1.0)).abs() < 1e-9);
}

/// The vertex LP values (4 units pushed down, then one maximum) of `sys` under each of
/// `solvers`, with each solve's solver label checked by `label`.
fn vertex_values(
    sys: &fcollide::exact::CollisionSystem,
    units: &[usize],
    solvers: &[LpOptions],
    label: impl Fn(&LpOptions, &str) -> bool,
) -> Vec<Vec<f64>> {
    let mut by_solver = Vec::new();
    for opts in solvers {
        let mut lp = VertexLp::new(sys, opts).unwrap();
        let mut vals = Vec::new();
        for &u in units {
            let v = lp.push_unit(sys, u).unwrap();
            assert!(label(opts, &v.stats.solver), "{opts:?}: {}", v.stats.solver);
            let viol = sys.violation(&v.point);
            assert!(viol.max() < 1e-9, "{viol:?}");
            vals.push(v.stats.objective);
        }
        // The maximum of the same objective, too.
        let c = sys.map.row(units[0]).to_vec();
        vals.push(lp.maximize(&c).unwrap().stats.objective);
        by_solver.push(vals);
    }
    by_solver
}

/// The dense dual simplex over all rows (from the slack basis and warm) and row generation
/// over the region rows agree on the vertex LPs and the closest-point LP of random MLPs at
/// both layers (optimal values to 1e-8 relative); the default is the dense simplex.
#[test]
fn dense_simplex_and_row_generation_agree_on_collision_polytopes() {
    let mut lazy_used = false;
    for seed in 0..3u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(100 + seed);
        let n = random_mlp(&mut rng, &[64, 24, 16, 4], 8);
        let t = random_image(&mut rng, 64);
        for layer in ["fc1", "fc2"] {
            let p = params(layer, |_| {});
            let sys = match collision_system(&n, &t, &p) {
                Ok(s) => s,
                Err(ExactError::NoRoom { .. }) => continue,
                Err(e) => panic!("{e}"),
            };
            let units: Vec<usize> = sys.z_row_units.iter().copied().take(4).collect();
            let region = sys.ineq.len() - sys.n_z_rows();
            // Row generation whenever the system has more rows than the equalities and Z rows.
            let lazy = LpOptions {
                dense_max_rows: sys.n_eq() + sys.n_z_rows(),
                ..LpOptions::default()
            };
            let solvers = [
                LpOptions::default(),
                LpOptions {
                    solver: LpSolver::Dense,
                    warm: WarmStrategy::Dual,
                    ..LpOptions::default()
                },
                lazy.clone(),
            ];
            // Without HiGHS, `Auto` sends a system with region rows to row generation too.
            let auto_lazy = !fcollide::exact::HIGHS_AVAILABLE;
            let by_solver = vertex_values(&sys, &units, &solvers, |o, s| {
                if region > 0
                    && o.solver != LpSolver::Dense
                    && (o.dense_max_rows == lazy.dense_max_rows || auto_lazy)
                {
                    s.starts_with("dense (rows generated")
                } else {
                    s == "dense"
                }
            });
            lazy_used |= region > 0;
            for other in &by_solver[1..] {
                for (a, b) in other.iter().zip(&by_solver[0]) {
                    assert!(
                        (a - b).abs() < 1e-8 * (1.0 + b.abs()),
                        "seed {seed} {layer}: {a} vs dense {b}"
                    );
                }
            }
            let mut other: Vec<f64> = random_image(&mut rng, 64)
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            other[3] = 1.4;
            other[9] = -0.3;
            let a = closest_l1(&sys, &other, &LpOptions::default()).unwrap();
            let b = closest_l1(&sys, &other, &lazy).unwrap();
            assert!(
                (a.l1 - b.l1).abs() < 1e-8 * (1.0 + a.l1),
                "{} vs {}",
                a.l1,
                b.l1
            );
            assert!(sys.violation(&b.point).max() < 1e-9);
        }
    }
    assert!(
        lazy_used,
        "no system had region rows: the row generation went untested"
    );
}

/// Without `--features highs`, asking for HiGHS fails with a message in library terms (the
/// LP `solver` parameter), not a command-line flag.
#[cfg(not(feature = "highs"))]
#[test]
fn highs_missing_names_the_solver_parameter_not_a_flag() {
    let sys = (0..20u64)
        .find_map(|seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(100 + seed);
            let n = random_mlp(&mut rng, &[64, 24, 16, 4], 8);
            let t = random_image(&mut rng, 64);
            collision_system(&n, &t, &params("fc1", |_| {})).ok()
        })
        .expect("a collision system");
    let highs = LpOptions {
        solver: LpSolver::Highs,
        ..LpOptions::default()
    };
    let e = VertexLp::new(&sys, &highs)
        .err()
        .expect("no HiGHS")
        .to_string();
    assert!(e.contains("HiGHS is not compiled"), "{e}");
    assert!(e.contains("the LP `solver` parameter"), "{e}");
    assert!(!e.contains("--lp-solver"), "{e}");
}

/// With `--features highs`: the dense dual simplex and HiGHS agree on the vertex LPs of random
/// MLPs at both layers (optimal values to 1e-8 relative), and a dense failure (forced here by
/// an iteration limit of 1) falls back to HiGHS with the same optimum.
#[cfg(feature = "highs")]
#[test]
fn dense_simplex_matches_highs_on_collision_polytopes() {
    for seed in 0..3u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(100 + seed);
        let n = random_mlp(&mut rng, &[64, 24, 16, 4], 8);
        let t = random_image(&mut rng, 64);
        for layer in ["fc1", "fc2"] {
            let p = params(layer, |_| {});
            let sys = match collision_system(&n, &t, &p) {
                Ok(s) => s,
                Err(ExactError::NoRoom { .. }) => continue,
                Err(e) => panic!("{e}"),
            };
            let units: Vec<usize> = sys.z_row_units.iter().copied().take(4).collect();
            let highs = LpOptions {
                solver: LpSolver::Highs,
                ..LpOptions::default()
            };
            let by_solver = vertex_values(
                &sys,
                &units,
                &[LpOptions::default(), highs.clone()],
                |o, s| {
                    s == if o.solver == LpSolver::Highs {
                        "highs"
                    } else {
                        "dense"
                    }
                },
            );
            for (a, b) in by_solver[0].iter().zip(&by_solver[1]) {
                assert!(
                    (a - b).abs() < 1e-8 * (1.0 + b.abs()),
                    "seed {seed} {layer}: {a} vs HiGHS {b}"
                );
            }
            let mut other: Vec<f64> = random_image(&mut rng, 64)
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            other[3] = 1.4;
            other[9] = -0.3;
            let a = closest_l1(&sys, &other, &LpOptions::default()).unwrap();
            let b = closest_l1(&sys, &other, &highs).unwrap();
            assert_eq!(
                (a.stats.solver.as_str(), b.stats.solver.as_str()),
                ("dense", "highs")
            );
            assert!(
                (a.l1 - b.l1).abs() < 1e-8 * (1.0 + b.l1),
                "{} vs {}",
                a.l1,
                b.l1
            );
            // Forced fallback.
            let mut opts = LpOptions {
                solver: LpSolver::Dense,
                ..LpOptions::default()
            };
            opts.dense.max_iterations = 1;
            let mut lp = VertexLp::new(&sys, &opts).unwrap();
            let v = lp.push_unit(&sys, units[0]).unwrap();
            assert!(
                v.stats.solver.starts_with("highs (after dense"),
                "{}",
                v.stats.solver
            );
            assert!(
                (v.stats.objective - by_solver[1][0]).abs()
                    < 1e-8 * (1.0 + v.stats.objective.abs())
            );
        }
    }
}

/// Collision systems with and without region rows for the Chebyshev comparisons: random
/// MLPs at `fc1` (no region rows) and `fc2` (ReLU rows of `fc1`), and the conv net at `conv2`
/// (ReLU and max-pool rows of the first stage), with their null-space bases.
fn chebyshev_cases() -> Vec<(String, fcollide::exact::CollisionSystem, Vec<Vec<f64>>)> {
    use fcollide::exact::analyze;
    let mut out = Vec::new();
    for seed in 0..4u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(300 + seed);
        let mlp = random_mlp(&mut rng, &[64, 24, 16, 4], 8);
        let t = random_image(&mut rng, 64);
        let conv = conv_net(&mut rng);
        let tc = random_image(&mut rng, 36);
        for (n, t, layer) in [(&mlp, &t, "fc1"), (&mlp, &t, "fc2"), (&conv, &tc, "conv2")] {
            let p = params(layer, |_| {});
            let sys = match collision_system(n, t, &p) {
                Ok(s) => s,
                Err(ExactError::NoRoom { .. }) => continue,
                Err(e) => panic!("{e}"),
            };
            let sub = analyze(&sys, 1e-9, 1e-9);
            if !sub.null_basis.is_empty() {
                out.push((format!("seed {seed} {layer}"), sys, sub.null_basis));
            }
        }
    }
    let region = out
        .iter()
        .filter(|(_, s, _)| s.ineq.len() > s.n_z_rows())
        .count();
    assert!(region >= 4, "only {region} systems with region rows");
    assert!(out.len() > region, "no system without region rows");
    out
}

/// The Chebyshev radius by bisection on `r` (region rows generated when violated) brackets
/// `reference`'s optimum of the direct LP over `(u, r)`: a lower bound within the stated
/// relative gap, and its centre's ball fits every row and the box (checked here in f64).
fn check_bisection_against(reference: &LpOptions, what: &str) {
    use fcollide::exact::{chebyshev, chebyshev_bisection};
    for (name, sys, null_basis) in chebyshev_cases() {
        let a = chebyshev_bisection(&sys, &null_basis, &LpOptions::default()).unwrap();
        let b = chebyshev(&sys, &null_basis, reference).unwrap();
        let solver = &a.stats.as_ref().unwrap().solver;
        assert!(solver.starts_with("dense bisection"), "{name}: {solver}");
        assert!(
            a.radius <= b.radius * (1.0 + 1e-7) + 1e-9
                && a.radius >= b.radius * (1.0 - 1.01e-4) - 1e-9,
            "{name}: bisection {} vs {what} {}",
            a.radius,
            b.radius
        );
        // The certificate, recomputed here: the ball of radius r around the centre (within
        // the subspace) meets no inequality and stays in the box.
        let c = &a.centre;
        assert!(sys.violation(c).max() < 1e-9, "{name}");
        for k in 0..sys.ineq.len() {
            let g = sys.ineq.row(k);
            let pg: f64 = null_basis
                .iter()
                .map(|v| v.iter().zip(g).map(|(x, y)| x * y).sum::<f64>().powi(2))
                .sum::<f64>()
                .sqrt();
            let gc: f64 = g.iter().zip(c).map(|(x, y)| x * y).sum();
            assert!(
                gc + a.radius * pg <= sys.ineq.h[k] + 1e-9,
                "{name}: row {k}"
            );
        }
    }
}

/// Default build: bisection against the dense simplex over `(u, r)` with row generation.
#[test]
fn chebyshev_bisection_matches_the_direct_lp() {
    check_bisection_against(&LpOptions::default(), "direct dense LP");
}

/// With `--features highs`: bisection against HiGHS's optimum of the direct LP, an
/// independent solver.
#[cfg(feature = "highs")]
#[test]
fn chebyshev_bisection_matches_highs() {
    let highs = LpOptions {
        solver: LpSolver::Highs,
        ..LpOptions::default()
    };
    check_bisection_against(&highs, "HiGHS");
}
