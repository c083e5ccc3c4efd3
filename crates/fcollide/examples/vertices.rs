//! The main job as a library user: train (or load) a model, pick a target, find colliding
//! vertices, verify their polytope.
//!
//! `cargo run --release --example vertices` (a few seconds on the embedded digits).
use fcollide::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let device = default_device();
    let mut rng = ChaCha8Rng::seed_from_u64(0);

    // Data: the 10,000 embedded MNIST digits, split 8,000/2,000 by the seed.
    let (train_set, test_set) = mnist_split(0)?;

    // A model: train the paper's 784-256-256-10 MLP for one epoch, save it, load it back
    // (`load` also reads `.toml` specs, ONNX, and weights with an architecture).
    let params = TrainParams {
        epochs: 1,
        ..TrainParams::default()
    }
    .check()?;
    let (net, report) = train(
        &arch::mlp(&mut rng),
        (&train_set, &test_set),
        &params,
        &device,
        &mut rng,
        &Silent,
    )?;
    println!("test accuracy {:.2} %", 100.0 * report.test_accuracy);
    let path = std::env::temp_dir().join(format!(
        "fcollide-example-{}.safetensors",
        std::process::id()
    ));
    save(&net, &path)?;
    let net = load(&path, &LoadOptions::default())?.graph;
    std::fs::remove_file(&path)?;

    // A target: the first 7 of the test split.
    let i = (0..test_set.len())
        .find(|&i| test_set.label(i) == 7)
        .ok_or("no 7 in the test split")?;
    let target = test_set.image(i);

    // Vertices: 3 of them at fc1, starting from the target (fewer steps than the default).
    let vp = VertexParams {
        vertices: 3,
        steps: 500,
        ..VertexParams::default()
    }
    .check()?;
    let set = find_vertices(&net, target, target, &vp, &device, &Silent)?;
    for s in &set.stats {
        println!(
            "vertex: unit {} class {} feature error {:.2e}",
            s.unit, s.class, s.feature_rel_err
        );
    }

    // Verification: 500 random convex combinations, the hull certificate and the verdict.
    let (v, _samples) = verify(&net, target, &set, 500, &device, &mut rng)?;
    println!(
        "verdict {} (certified {}), class agreement {:.1} %, max feature error {:.2e}",
        v.verdict,
        v.certified,
        100.0 * v.class_agreement,
        v.feature_rel_err_max
    );
    Ok(())
}
