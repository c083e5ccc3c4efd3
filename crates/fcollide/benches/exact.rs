//! Timing of the exact (LP) collision analysis on a 784-256-256-10 MLP.
//!
//! Bars (from the design): the first (cold) vertex LP at `fc1` ≤ 0.5 s, every later
//! warm-started vertex LP ≤ 0.15 s. Each vertex LP is `min a_i·u` subject to the `N+`
//! equalities, the `|Z|` inequalities and the `[0,1]^784` box.
//!
//! Network: `fcollide-out/model-mlp.safetensors` (written by `fcollide reproduce mnist`) when it
//! exists, otherwise a random He-initialized MLP (ChaCha8, seed 0). Targets: the first digits
//! of each class from `data/mnist-embedded-images-idx3-ubyte.gz` (real MNIST), or synthetic
//! stroke images when that file is missing.
//!
//! The vertex LPs use the default solver (the dense dual simplex up to 1,024 rows, row
//! generation over the region rows above, see `fcollide::exact::lp`); the solver section
//! solves the same 5 vertex LPs with each solver and re-solve strategy in the same run (HiGHS
//! too when built with `--features highs`). The last section is LeNet-5 at `fc1` (behind two
//! conv/ReLU/max-pool stages: thousands of region rows, so row generation), with the trained
//! model `fcollide-out/model-lenet5.safetensors` when it exists, otherwise a random one.
//!
//! Run: `cargo bench -p fcollide --bench exact` (optional args: number of targets, default 3;
//! `--fc1-only` to skip the slower `fc2` rows; `--lenet-only` runs only the LeNet-5 vertex
//! LPs, as many as the number argument, without the radius and extents; add `--highs` in a
//! build with `--features highs` to solve them by HiGHS).
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use fcollide::exact::{
    exact_closest, exact_polytope, ExactParams, ExactPolytope, LpSolver, WarmStrategy,
    HIGHS_AVAILABLE,
};
use fcollide::model::{Graph, GraphBuilder};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Workspace root (`FCOLLIDE_ROOT` overrides).
fn root() -> PathBuf {
    std::env::var_os("FCOLLIDE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

fn mlp(params: [(Vec<f32>, Vec<f32>); 3]) -> Graph {
    let [(w1, b1), (w2, b2), (w3, b3)] = params;
    let mut b = GraphBuilder::new("mlp", [1, 28, 28]);
    let x = b.flatten("flatten", 0);
    let x = b.linear("fc1", x, 784, 256, w1, Some(b1));
    let x = b.relu("relu1", x);
    let x = b.linear("fc2", x, 256, 256, w2, Some(b2));
    let x = b.relu("relu2", x);
    b.linear("fc3", x, 256, 10, w3, Some(b3));
    b.finish()
}

fn random_mlp(seed: u64) -> Graph {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut layer = |inp: usize, out: usize| {
        let s = (2.0 / inp as f64).sqrt();
        let w: Vec<f32> = (0..inp * out)
            .map(|_| (rng.sample::<f64, _>(StandardNormal) * s) as f32)
            .collect();
        let b: Vec<f32> = (0..out).map(|_| rng.random_range(-0.05..0.05)).collect();
        (w, b)
    };
    mlp([layer(784, 256), layer(256, 256), layer(256, 10)])
}

fn load_safetensors(path: &Path) -> Option<Graph> {
    fcollide::model::io::load(path, None).ok()
}

/// First image of each class 0..9 from the embedded MNIST file.
fn mnist_digits() -> Option<Vec<(u8, Vec<f32>)>> {
    let read = |name: &str| -> Option<Vec<u8>> {
        let f = std::fs::File::open(root().join("data").join(name)).ok()?;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(f).read_to_end(&mut out).ok()?;
        Some(out)
    };
    let img = read("mnist-embedded-images-idx3-ubyte.gz")?;
    let lab = read("mnist-embedded-labels-idx1-ubyte.gz")?;
    let n = (lab.len().checked_sub(8)?).min(img.len().checked_sub(16)? / 784);
    let mut out: Vec<(u8, Vec<f32>)> = Vec::new();
    for i in 0..n {
        let l = lab[8 + i];
        if out.iter().all(|(c, _)| *c != l) {
            let px = img[16 + i * 784..16 + (i + 1) * 784]
                .iter()
                .map(|&b| f32::from(b) / 255.0)
                .collect();
            out.push((l, px));
        }
    }
    out.sort_by_key(|(c, _)| (*c != 7, *c));
    Some(out)
}

/// A "7"-like stroke image with soft edges (fallback target).
fn synthetic(shift: usize) -> Vec<f32> {
    let mut x = vec![0.0f32; 784];
    for r in 0..28 {
        for c in 0..28 {
            let top = ((r as f32 - 6.0 - shift as f32).abs() - 1.0).max(0.0);
            let on_top = (6..22).contains(&c);
            let diag_c = 21.0 - (r as f32 - 6.0) * 0.45;
            let diag = ((c as f32 - diag_c).abs() - 1.0).max(0.0);
            let mut v: f32 = 0.0;
            if on_top {
                v = v.max((1.0 - top).max(0.0));
            }
            if (6..25).contains(&r) {
                v = v.max((1.0 - diag).max(0.0));
            }
            x[r * 28 + c] = v;
        }
    }
    x
}

fn line(r: &ExactPolytope) {
    let t = &r.timings;
    let warm_it: Vec<i64> = r
        .vertex_lps
        .iter()
        .skip(1)
        .map(|v| v.lp.iterations)
        .collect();
    println!(
        "  {:<4} N+={:<3} |Z|={:<3} rank={:<3} dim={:<3} ker⊆={:<5} region={:<4} | system {:.3}s  qr {:.3}s  build {:.3}s | first LP {:.3}s ({} it)  warm mean {:.3}s max {:.3}s (it {:?}) | cheb r={:.4} {:.3}s | extents mean {:.3} ({} dirs, {:.3}s) | vert L2 {:.3} | cert act {:.1e} viol {:.1e} class {:.0}% top {:.4}",
        r.layer,
        r.n_plus,
        r.n_zero,
        r.rank,
        r.affine_dim,
        r.ker_contained,
        r.region.total(),
        t.system_s,
        t.analysis_s,
        t.build_lp_s,
        t.first_lp_s,
        r.vertex_lps.first().map_or(0, |v| v.lp.iterations),
        t.warm_lp_mean_s,
        t.warm_lp_max_s,
        warm_it,
        r.chebyshev.as_ref().map_or(0.0, |c| c.radius),
        t.chebyshev_s,
        r.mean_extent,
        r.extents.len(),
        t.extents_s,
        r.vertex_pairwise_l2,
        r.certificate.max_activation_diff,
        r.certificate.max_violation,
        100.0 * r.certificate.same_class_fraction,
        r.certificate.min_top_prob,
    );
}

fn main() {
    let n_targets: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3);
    let fc1_only = std::env::args().any(|a| a == "--fc1-only");
    if std::env::args().any(|a| a == "--lenet-only") {
        // Only the LeNet-5 section (vertex LPs, no radius or extents): for solver work.
        let x = mnist_digits()
            .and_then(|d| d.into_iter().next().map(|(_, x)| x))
            .unwrap_or_else(|| synthetic(0));
        // `--highs` (a build with `--features highs`): the same LPs by HiGHS, the peer.
        let solver = if std::env::args().any(|a| a == "--highs") {
            LpSolver::Highs
        } else {
            LpSolver::Auto
        };
        lenet(&x, n_targets.max(1), false, solver);
        return;
    }
    let model_path = root().join("fcollide-out/model-mlp.safetensors");
    let (net, source) = match load_safetensors(&model_path) {
        Some(n) => (n, format!("trained ({})", model_path.display())),
        None => (random_mlp(0), "random He-init MLP (seed 0)".to_string()),
    };
    let targets: Vec<(String, Vec<f32>)> = match mnist_digits() {
        Some(d) => d
            .into_iter()
            .take(n_targets)
            .map(|(c, x)| (format!("MNIST digit {c}"), x))
            .collect(),
        None => (0..n_targets)
            .map(|s| (format!("synthetic 7 (shift {s})"), synthetic(s)))
            .collect(),
    };
    println!("exact bench: 784-256-256-10 MLP, {source}");
    let mut worst_first: f64 = 0.0;
    let mut worst_warm: f64 = 0.0;
    for (name, x) in &targets {
        println!("target: {name}");
        let layers: &[&str] = if fc1_only { &["fc1"] } else { &["fc1", "fc2"] };
        for &layer in layers {
            let mut p = ExactParams::new(layer);
            p.vertices = 5;
            p.directions = 4;
            let p = p.check().expect("valid params");
            match exact_polytope(&net, x, &p) {
                Ok(r) => {
                    line(&r);
                    if layer == "fc1" {
                        worst_first = worst_first.max(r.timings.first_lp_s);
                        worst_warm = worst_warm.max(r.timings.warm_lp_max_s);
                    }
                }
                Err(e) => println!("  {layer}: error: {e}"),
            }
        }
        if let Some((_, other)) = targets.iter().find(|(n, _)| n != name) {
            let p = ExactParams::new("fc1").check().expect("valid params");
            let t0 = Instant::now();
            match exact_closest(&net, x, other, &p) {
                Ok((cp, cert)) => println!(
                    "  closest-L1 to another target: L1 {:.3} (target's {:.3}), L2 {:.3}, LP {:.3}s ({} it), total {:.3}s, cert act {:.1e} viol {:.1e}",
                    cp.l1,
                    cp.target_l1,
                    cp.l2,
                    cp.stats.seconds,
                    cp.stats.iterations,
                    t0.elapsed().as_secs_f64(),
                    cert.max_activation_diff,
                    cert.max_violation
                ),
                Err(e) => println!("  closest: error: {e}"),
            }
        }
    }
    if let Some((name, x)) = targets.first() {
        println!("solvers and re-solve strategies at fc1 ({name}; 5 vertices):");
        for (solver, warm) in [
            (LpSolver::Dense, WarmStrategy::Restart),
            (LpSolver::Dense, WarmStrategy::Dual),
            (LpSolver::Highs, WarmStrategy::Restart),
            (LpSolver::Highs, WarmStrategy::Dual),
            (LpSolver::Highs, WarmStrategy::Primal),
        ] {
            if solver == LpSolver::Highs && !HIGHS_AVAILABLE {
                println!("  {solver:?} {warm:?}: not compiled in (--features highs)");
                continue;
            }
            let mut p = ExactParams::new("fc1");
            p.lp.warm = warm;
            p.lp.solver = solver;
            p.chebyshev = false;
            p.directions = 0;
            let p = p.check().expect("valid params");
            match exact_polytope(&net, x, &p) {
                Ok(r) => println!(
                    "  {solver:?} {warm:?}: first {:.3}s, later {:?}",
                    r.timings.first_lp_s,
                    r.vertex_lps
                        .iter()
                        .skip(1)
                        .map(|v| format!("{:.3}s/{}it", v.lp.seconds, v.lp.iterations))
                        .collect::<Vec<_>>()
                ),
                Err(e) => println!("  {solver:?} {warm:?}: error: {e}"),
            }
        }
    }
    if let Some((name, x)) = targets.first() {
        if !fc1_only {
            println!("fc2 by row generation ({name}; every region row in the pool, 5 vertices):");
            let mut p = ExactParams::new("fc2");
            p.lp.dense_max_rows = 0;
            p.directions = 0;
            let p = p.check().expect("valid params");
            match exact_polytope(&net, x, &p) {
                Ok(r) => line(&r),
                Err(e) => println!("  fc2: error: {e}"),
            }
        }
        lenet(x, 5, true, LpSolver::Auto);
    }
    println!(
        "fc1 bars: worst first LP {worst_first:.3}s (bar 0.5s: {}), worst warm vertex LP {worst_warm:.3}s (bar 0.15s: {})",
        if worst_first <= 0.5 { "ok" } else { "MISSED" },
        if worst_warm <= 0.15 { "ok" } else { "MISSED" }
    );
}

/// LeNet-5 at `fc1`: the region rows of both conv stages, solved by row generation.
fn lenet(x: &[f32], vertices: usize, sizes: bool, solver: LpSolver) {
    let path = root().join("fcollide-out/model-lenet5.safetensors");
    let (net, source) = match fcollide::model::load(&path, &Default::default()) {
        Ok(l) => (l.graph, format!("trained ({})", path.display())),
        Err(_) => (
            fcollide::model::arch::by_name("lenet5", &mut ChaCha8Rng::seed_from_u64(0))
                .expect("lenet5 template"),
            "random init (seed 0)".to_string(),
        ),
    };
    println!("LeNet-5 at fc1, {source}:");
    let mut p = ExactParams::new("fc1");
    p.vertices = vertices;
    p.directions = if sizes { 2 } else { 0 };
    p.chebyshev = sizes;
    p.lp.solver = solver;
    let p = p.check().expect("valid params");
    let t0 = Instant::now();
    match exact_polytope(&net, x, &p) {
        Ok(r) => {
            line(&r);
            for v in &r.vertex_lps {
                println!(
                    "    vertex LP {:.3}s ({} it) {}",
                    v.lp.seconds, v.lp.iterations, v.lp.solver
                );
            }
            let worst = r
                .vertex_lps
                .iter()
                .map(|v| v.lp.seconds)
                .fold(0.0, f64::max);
            println!(
                "  LeNet-5 fc1: worst vertex LP {worst:.3}s (bar 1 s: {}), total {:.1}s",
                if worst <= 1.0 { "ok" } else { "MISSED" },
                t0.elapsed().as_secs_f64()
            );
        }
        Err(e) => println!("  LeNet-5 fc1: error: {e}"),
    }
}
