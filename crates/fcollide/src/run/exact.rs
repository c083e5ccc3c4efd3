//! Exact rows: LP vertices of the colliding polytope (Proposition 1, or a linear region at
//! deeper layers), their f64 certificates, `N` random convex combinations certified the same
//! way, the polytope's size (Chebyshev radius, extents, vertex spread), and the colliding
//! point closest in L1 to another image (the exact version of the paper's row 2).
use crate::collide::VertexParams;
use crate::exact::{certify, exact_closest, ExactParams, ExactPolytope};
use crate::model::Graph;
use crate::polytope::dirichlet_weights;
use crate::Result;
use rand::{Rng, SeedableRng};

pub use super::record::{ClosestRecord, ExactRow, ExactRowRecord};

/// Computes an exact row.
#[allow(clippy::too_many_arguments)]
pub fn exact_row(
    name: &str,
    net: &Graph,
    target: &[f32],
    params: ExactParams,
    samples: usize,
    dataset_l2: f64,
    other: Option<(&str, &[f32])>,
    rng: &mut impl Rng,
    progress: &dyn crate::progress::Progress,
) -> Result<ExactRow> {
    let p = params.check()?;
    let (mut poly, sys): (ExactPolytope, _) =
        crate::exact::exact_polytope_and_system(net, target, &p, progress)?;
    let k = poly.vertices_f64.len();
    let d = poly.d;
    let mut pts: Vec<Vec<f64>> = Vec::with_capacity(samples);
    for w in dirichlet_weights(k, samples, rng) {
        let mut x = vec![0.0f64; d];
        for (v, wk) in poly.vertices_f64.iter().zip(&w) {
            for (o, &vi) in x.iter_mut().zip(v) {
                *o += wk * vi;
            }
        }
        pts.push(x);
    }
    let cert = certify(net, &sys, &pts)?;
    let hits = cert
        .points
        .iter()
        .filter(|c| c.predicted == cert.target_class)
        .count();
    let closest = match other {
        Some((label, img)) => {
            let (cp, cc) = exact_closest(net, target, img, &p)?;
            let pc = &cc.points[0];
            let l2 = cp
                .point
                .iter()
                .zip(img)
                .map(|(a, &b)| (a - b as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            Some((
                ClosestRecord {
                    other: label.to_string(),
                    l1: cp
                        .point
                        .iter()
                        .zip(img)
                        .map(|(a, &b)| (a - b as f64).abs())
                        .sum(),
                    l2,
                    linf: cp.linf,
                    class: pc.predicted,
                    confidence: pc.top_prob,
                    collision_dev: pc.max_activation_diff,
                },
                cp.point.iter().map(|&x| x as f32).collect::<Vec<f32>>(),
            ))
        }
        None => None,
    };
    let certified =
        poly.certificate.max_violation <= 1e-6 && poly.certificate.max_activation_diff <= 1e-6;
    let verdict = crate::polytope::verdict(
        crate::polytope::Evidence {
            certified,
            feature_err_max: if certified { 0.0 } else { f64::INFINITY },
            class_agreement: hits as f64 / samples.max(1) as f64,
        },
        crate::polytope::DEFAULT_COLLISION_TOL,
    );
    let vertices = std::mem::take(&mut poly.vertices);
    let record = ExactRowRecord {
        name: name.to_string(),
        layer: poly.layer.clone(),
        n_plus: poly.n_plus,
        rank: poly.rank,
        affine_dim: poly.affine_dim,
        ker_contained: poly.ker_contained,
        units: poly.vertex_lps.iter().map(|v| v.unit).collect(),
        vertex_class: poly
            .certificate
            .points
            .iter()
            .map(|c| c.predicted)
            .collect(),
        vertex_confidence: poly.certificate.points.iter().map(|c| c.top_prob).collect(),
        class_agreement: hits as f64 / samples.max(1) as f64,
        certified,
        verdict,
        target_confidence: cert.target_top_prob,
        sample_confidence_mean: cert.mean_top_prob,
        vertex_pairwise_l2: poly.vertex_pairwise_l2,
        vertex_to_dataset_ratio: poly.vertex_pairwise_l2 / dataset_l2.max(1e-12),
        vertex_collision_dev: poly.certificate.max_activation_diff,
        sample_collision_dev: cert.max_activation_diff,
        vertex_max_violation: poly.certificate.max_violation,
        samples,
        chebyshev_radius: poly.chebyshev.as_ref().map(|c| c.radius),
        mean_extent: poly.mean_extent,
        first_lp_s: poly.timings.first_lp_s,
        warm_lp_mean_s: poly.timings.warm_lp_mean_s,
        notes: poly.notes.clone(),
        closest: closest.as_ref().map(|c| c.0.clone()),
        detail: without_images(poly),
    };
    Ok(ExactRow {
        record,
        vertices,
        samples: pts.iter().flatten().map(|&x| x as f32).collect(),
        closest: closest.map(|c| c.1),
    })
}

/// The exact row of a run on the digits (`reproduce … --exact`): LP vertices at the gradient
/// rows' layer with their vertex count and units (`vertex`), `samples` random convex
/// combinations drawn with `seed + 200`, and the colliding point closest to test image
/// `other` (row 2's start, `(index, image)`).
pub fn digits_exact_row(
    net: &Graph,
    target: &[f32],
    (vertex, seed, samples): (&VertexParams, u64, usize),
    dataset_l2: f64,
    (other, image): (usize, &[f32]),
    progress: &dyn crate::progress::Progress,
) -> Result<ExactRow> {
    let params = ExactParams {
        layer: vertex.layer.clone(),
        vertices: vertex.vertices,
        units: vertex.units.clone(),
        seed,
        ..Default::default()
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed.wrapping_add(200));
    let other = Some((&format!("index:{other}")[..], image));
    let name = "exact: LP vertices";
    exact_row(
        name, net, target, params, samples, dataset_l2, other, &mut rng, progress,
    )
}

/// The polytope's figures without its images (vertices, the Chebyshev centre, per-point
/// certificates), for the record.
fn without_images(mut poly: ExactPolytope) -> ExactPolytope {
    poly.vertices.clear();
    poly.vertices_f64.clear();
    if let Some(c) = poly.chebyshev.as_mut() {
        c.centre.clear();
    }
    poly.certificate.points.clear();
    poly.certificate_f32.points.clear();
    poly
}

/// What `fcollide exact` needs besides the network.
pub struct ExactJob<'a> {
    /// Exact parameters (layer, vertices, units, tolerances).
    pub params: ExactParams,
    /// The target image and how it was named.
    pub target: (&'a str, &'a [f32]),
    /// Another image for the closest colliding point, and how it was named.
    pub other: Option<(&'a str, &'a [f32])>,
    /// Where the model came from (a file name), for the record.
    pub model_source: &'a str,
    /// Samples to certify.
    pub samples: usize,
    /// Images for the dataset distance, `[n, d]`, and the dataset's name.
    pub dataset: (&'a str, &'a [f32]),
    /// Random pairs for the dataset distance.
    pub dataset_pairs: usize,
    /// Seed of sampling and distances.
    pub seed: u64,
}

/// Runs `fcollide exact`: one exact row, written to `out` like `reproduce`.
pub fn run_exact(
    net: &Graph,
    job: &ExactJob<'_>,
    out: &std::path::Path,
    progress: &dyn crate::progress::Progress,
) -> Result<super::RunRecord> {
    let t0 = std::time::Instant::now();
    super::steps::create_out(out)?;
    let d = net.input_len();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(job.seed);
    let ds_l2 = crate::polytope::dataset_pairwise_l2(job.dataset.1, d, job.dataset_pairs, &mut rng);
    let row = exact_row(
        "exact: LP vertices",
        net,
        job.target.1,
        job.params.clone(),
        job.samples,
        ds_l2,
        job.other,
        &mut rng,
        progress,
    )?;
    let record = super::RunRecord {
        tool: "fcollide".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        experiment: format!("exact polytope ({}, {})", net.arch, job.params.layer),
        seed: job.seed,
        machine: super::MachineInfo::current(if crate::exact::HIGHS_AVAILABLE {
            "cpu (f64 LPs: dense simplex, row generation, HiGHS)"
        } else {
            "cpu (f64 LPs: dense simplex, row generation)"
        }),
        params: super::params::RunParams::Exact(super::params::ExactRunParams {
            exact: job.params.clone(),
            samples: job.samples,
        }),
        model: super::record::ModelFacts {
            arch: net.arch.clone(),
            source: job.model_source.to_string(),
            layers: net.nodes.iter().skip(1).map(|l| l.name.clone()).collect(),
            input_shape: Some(net.input_shape),
            ..Default::default()
        },
        dataset: super::record::DatasetFacts {
            name: job.dataset.0.to_string(),
            train: None,
            test: job.dataset.1.len() / d.max(1),
            shape: net.input_shape,
            patch_db: None,
        },
        dataset_pairwise_l2: ds_l2,
        dataset_pairs: job.dataset_pairs,
        target: super::record::TargetFacts {
            image: Some(job.target.0.to_string()),
            class: row.record.detail.certificate.target_class,
            confidence: Some(row.record.target_confidence),
            ..Default::default()
        },
        rows: Vec::new(),
        exact_rows: Vec::new(),
        seconds: 0.0,
    };
    super::steps::finish(out, t0, record, job.target.1, Vec::new(), &[row])
}
