//! Vertex-search speed: one batched optimization step (K = 5) per engine and layer, and the
//! whole `reproduce mnist` minus training. Prints a Markdown table.
//!
//! Run: `cargo bench -p fcollide --bench collide`. Uses the trained MLP cached by a previous
//! `fcollide reproduce mnist` in `fcollide-out/` when present, otherwise trains one first.
use fcollide::collide::engine::{AffineEngine, AutodiffEngine, GradientEngine};
use fcollide::collide::optimizer::Adam;
use fcollide::collide::{Objective, Penalty};
use fcollide::model::{default_device, io, Graph};
use fcollide::progress::Silent;
use fcollide::run::{reproduce_mnist, MnistParams};
use std::path::Path;
use std::time::Instant;

fn model(out: &Path) -> Graph {
    let cache = out.join("model-mlp.safetensors");
    if !cache.exists() {
        eprintln!("training the MLP once into {}", out.display());
        let p = MnistParams {
            samples: 10,
            ..MnistParams::default()
        };
        reproduce_mnist(&p, out, &Silent).expect("training run");
    }
    io::load(&cache, None).expect("cached model loads")
}

/// Median seconds per step over `reps` runs of `steps` steps.
fn time_steps(engine: &mut dyn GradientEngine, target: &[f32], steps: usize, reps: usize) -> f64 {
    let yt = engine.forward(target);
    let zero: Vec<usize> = (0..yt.len()).filter(|&j| yt[j] <= 0.0).collect();
    let obj = Objective::new(yt, 1000.0, Penalty::Hinge, 1000.0, zero[..5].to_vec());
    let mut times = Vec::new();
    for _ in 0..reps {
        let mut u = target.repeat(5);
        let mut adam = Adam::new(u.len());
        let mut gy = vec![0.0f32; 5 * obj.n_units()];
        let t0 = Instant::now();
        for _ in 0..steps {
            let y = engine.forward(&u);
            obj.eval(&y, &mut gy);
            let g = engine.vjp(&gy);
            adam.step(&mut u, &g, 1e-3);
            for v in &mut u {
                *v = v.clamp(0.0, 1.0);
            }
        }
        times.push(t0.elapsed().as_secs_f64() / steps as f64);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    times[times.len() / 2]
}

fn main() {
    // The workspace root's output folder, wherever cargo runs the bench from.
    let out = &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fcollide-out");
    let net = model(out);
    let (_, test) = fcollide::data::mnist_split(0).unwrap();
    let t = (0..test.len()).find(|&i| test.label(i) == 7).unwrap();
    let target = test.image(t).to_vec();
    let dev = default_device();
    println!("| what | engine | time |");
    println!("|---|---|---|");
    let fc1 = net.collision_layer_index("fc1").unwrap();
    let fc2 = net.collision_layer_index("fc2").unwrap();
    let mut aff = AffineEngine::new(&net, fc1).unwrap();
    let s = time_steps(&mut aff, &target, 3000, 7);
    println!("| MLP step, K=5, fc1 | affine | {:.4} ms |", s * 1e3);
    {
        let mut e = AffineEngine::new(&net, fc1).unwrap();
        let u = target.repeat(5);
        let g = vec![0.1f32; 5 * 256];
        let t0 = Instant::now();
        for _ in 0..3000 {
            std::hint::black_box(e.forward(&u));
        }
        let f = t0.elapsed().as_secs_f64() / 3000.0;
        let t0 = Instant::now();
        for _ in 0..3000 {
            std::hint::black_box(e.vjp(&g));
        }
        let b = t0.elapsed().as_secs_f64() / 3000.0;
        let mut z = target.repeat(5);
        let gz = vec![0.1f32; z.len()];
        let mut adam = Adam::new(z.len());
        let t0 = Instant::now();
        for _ in 0..3000 {
            adam.step(&mut z, &gz, 1e-3);
        }
        let a = t0.elapsed().as_secs_f64() / 3000.0;
        println!(
            "| of which forward ỹ = A u + c | affine | {:.4} ms |",
            f * 1e3
        );
        println!("| of which vjp Aᵀ g | affine | {:.4} ms |", b * 1e3);
        println!(
            "| of which Adam update (3920 values) | - | {:.4} ms |",
            a * 1e3
        );
    }
    let mut gm = AffineEngine::new(&net, fc1)
        .unwrap()
        .without_transposed_copy();
    let s = time_steps(&mut gm, &target, 3000, 7);
    println!(
        "| MLP step, K=5, fc1 | affine (no Aᵀ copy) | {:.4} ms |",
        s * 1e3
    );
    let mut ad = AutodiffEngine::new(&net, fc1, &dev).unwrap();
    let s = time_steps(&mut ad, &target, 300, 5);
    println!("| MLP step, K=5, fc1 | autodiff | {:.4} ms |", s * 1e3);
    let mut ad2 = AutodiffEngine::new(&net, fc2, &dev).unwrap();
    let s = time_steps(&mut ad2, &target, 300, 5);
    println!("| MLP step, K=5, fc2 | autodiff | {:.4} ms |", s * 1e3);
    // LeNet-5 (step time does not depend on the weights: seeded random ones).
    use rand::SeedableRng;
    let lenet = fcollide::model::arch::lenet5(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
    for layer in ["fc1", "conv2"] {
        let li = lenet.collision_layer_index(layer).unwrap();
        let mut e = AutodiffEngine::new(&lenet, li, &dev).unwrap();
        let s = time_steps(&mut e, &target, 200, 5);
        println!(
            "| LeNet-5 step, K=5, {layer} | autodiff | {:.4} ms |",
            s * 1e3
        );
        // The default for a layer behind a nonlinearity: the same step with the region lock.
        let lock =
            fcollide::collide::RegionLock::at_target(&lenet, &target, li, 1e-3, 1e4).unwrap();
        let mut e = AutodiffEngine::new(&lenet, li, &dev).unwrap();
        e.lock_region(&lock).unwrap();
        let s = time_steps(&mut e, &target, 200, 5);
        println!(
            "| LeNet-5 step, K=5, {layer}, region-locked | autodiff | {:.4} ms |",
            s * 1e3
        );
    }
    // The whole job minus training: the cached model is loaded.
    let mut times = Vec::new();
    for _ in 0..3 {
        let t0 = Instant::now();
        let rec = reproduce_mnist(&MnistParams::default(), out, &Silent).unwrap();
        let v: f64 = rec.rows.iter().map(|r| r.vertex_seconds).sum();
        times.push((t0.elapsed().as_secs_f64(), v));
    }
    times.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    let (total, vertex) = times[1];
    println!("| reproduce mnist minus training (2 rows × 3000 steps, 2×2000 samples, reports) | affine | {total:.2} s |");
    println!("| of which vertex search (both rows) | affine | {vertex:.3} s |");
}
