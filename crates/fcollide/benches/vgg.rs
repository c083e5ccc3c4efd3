//! VGG-16 forward + backward to the input (collision at fc6, the paper's §3.2 layer), batch 1
//! and batch 5, on the CPU device; also loading a full-size safetensors VGG-16 (memory-mapped)
//! with the peak resident memory. Weights are seeded random ones: the time does not depend on
//! their values. The f64 forward of the exact engine is timed too (one pass). Run: `cargo bench -p fcollide --bench vgg`.
use fcollide::collide::engine::{AutodiffEngine, GradientEngine};
use fcollide::model::{arch, default_device, io};
use rand::SeedableRng;
use std::time::Instant;

/// Multiply–accumulates of one VGG-16 forward pass up to fc6 (inclusive) for one image.
fn macs_to_fc6(net: &fcollide::model::Graph, fc6: usize) -> f64 {
    let shapes = net.shapes().unwrap();
    let mut macs = 0.0;
    for (i, l) in net.nodes.iter().enumerate().take(fc6 + 1) {
        let out: usize = shapes[i].len();
        match &l.op {
            fcollide::model::Op::Conv2d {
                in_channels,
                kernel,
                groups,
                ..
            } => macs += (out * in_channels / groups * kernel[0] * kernel[1]) as f64,
            fcollide::model::Op::Linear { in_features, .. } => macs += (out * in_features) as f64,
            _ => {}
        }
    }
    macs
}

/// Current (`VmRSS`) or peak (`VmHWM`) resident memory in MiB.
fn rss_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Saves `net` as safetensors and loads it back, reporting time and resident memory.
fn load_file(net: &fcollide::model::Graph) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vgg16.safetensors");
    io::save(net, &path).unwrap();
    let size = std::fs::metadata(&path).unwrap().len() as f64 / (1 << 20) as f64;
    let before = rss_mib("VmRSS:");
    let t0 = Instant::now();
    let loaded = io::load(&path, None).unwrap();
    let s = t0.elapsed().as_secs_f64();
    assert_eq!(loaded.nodes.len(), net.nodes.len());
    println!(
        "| load a {size:.0} MiB VGG-16 safetensors (memory-mapped, weights copied once into the network) | {:.0} ms | RSS {:.0} → {:.0} MiB (peak {:.0}) |",
        s * 1e3,
        before,
        rss_mib("VmRSS:"),
        rss_mib("VmHWM:")
    );
}

fn main() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let net = arch::vgg16(&mut rng);
    let fc6 = net.collision_layer_index("fc6").unwrap();
    println!("| what | time | achieved |");
    println!("|---|---|---|");
    load_file(&net);
    let macs = macs_to_fc6(&net, fc6);
    // The f64 forward of the exact engine: the region lock, the certificate and the
    // region pull-back each run it (once per vertex, the pull-back once per bisection step).
    let x: Vec<f32> = (0..3 * 224 * 224)
        .map(|i| (i % 251) as f32 / 251.0)
        .collect();
    let t0 = Instant::now();
    let f = fcollide::exact::forward::forward_f32(&net, &x).unwrap();
    let s = t0.elapsed().as_secs_f64();
    assert!(f.logits().iter().all(|v| v.is_finite()));
    println!(
        "| VGG-16 f64 forward (exact engine, whole network), batch 1 | {:.0} ms | ≈{:.1} GFLOP/s |",
        s * 1e3,
        2.0 * macs / s / 1e9
    );
    let dev = default_device();
    let mut engine = AutodiffEngine::new(&net, fc6, &dev).unwrap();
    for batch in [1usize, 5] {
        let u: Vec<f32> = (0..batch * 3 * 224 * 224)
            .map(|i| (i % 251) as f32 / 251.0)
            .collect();
        let g = vec![1e-3f32; batch * 4096];
        // One warm-up, then the median of 3.
        let _ = engine.forward(&u);
        let _ = engine.vjp(&g);
        let mut t = Vec::new();
        for _ in 0..3 {
            let t0 = Instant::now();
            let _ = engine.forward(&u);
            let _ = engine.vjp(&g);
            t.push(t0.elapsed().as_secs_f64());
        }
        t.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let s = t[1];
        // Backward to the input costs about as much as the forward (no weight gradients).
        let gflops = 2.0 * 2.0 * macs * batch as f64 / s / 1e9;
        println!(
            "| VGG-16 forward + backward to the input at fc6, batch {batch} | {:.0} ms | ≈{gflops:.0} GFLOP/s |",
            s * 1e3
        );
    }
}
