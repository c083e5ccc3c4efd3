//! The exact colliding polytope by linear programming: LP vertices with f64 certificates,
//! the polytope's dimension and size.
//!
//! `cargo run --release --example exact` (a few seconds on the embedded digits).
use fcollide::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let device = default_device();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let (train_set, test_set) = mnist_split(0)?;
    let params = TrainParams {
        epochs: 1,
        ..TrainParams::default()
    }
    .check()?;
    let (net, _) = train(
        &arch::mlp(&mut rng),
        (&train_set, &test_set),
        &params,
        &device,
        &mut rng,
        &Silent,
    )?;
    let target = test_set.image(0);

    // Three vertex LPs at fc1 (Proposition 1: the set is {u : W+ u = W+ t, W- u <= b} ∩ box).
    let ep = ExactParams {
        layer: "fc1".into(),
        vertices: 3,
        // The Chebyshev LP (the largest ball inside) takes the most time without HiGHS;
        // `chebyshev: true` adds it.
        chebyshev: false,
        directions: 2,
        ..ExactParams::default()
    }
    .check()?;
    let p = exact_polytope(&net, target, &ep)?;
    println!(
        "layer {}: N+ {} rank {} affine dimension {} (of {}); {} vertices, pairwise L2 {:.3}",
        p.layer,
        p.n_plus,
        p.rank,
        p.affine_dim,
        p.d,
        p.vertices.len(),
        p.vertex_pairwise_l2
    );
    println!(
        "f64 check of the vertices: largest constraint violation {:.1e}, largest activation \
         change {:.1e}; mean extent {:.3}",
        p.certificate.max_violation, p.certificate.max_activation_diff, p.mean_extent
    );
    Ok(())
}
