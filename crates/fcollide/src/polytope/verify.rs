//! Polytope verification (§3): `N` random convex combinations of the vertices are run through
//! the network; reported are the fraction classified as the target's class, the mean top-class
//! probability, and the feature error `‖y(s) − y(t)‖/‖y(t)‖` of the activation (ReLU, clip,
//! sigmoid, …) at the collision layer (mean and max over samples). The zero set `Z` (units
//! whose target pre-activation `ỹt_j` is on a flat or saturated side, e.g. `ỹt_j ≤ 0` for
//! ReLU) and each vertex's share of `Z` still on its side are computed here with the network
//! given, not copied from the search, so vertices verified on another model get that model's
//! figures.
use super::metrics::mean_pairwise_l2;
use super::sample::sample_polytope;
use crate::collide::{Activation, CollideError, UnitRole, VertexSet};
use crate::model::{argmax, Graph, Network};
use burn::tensor::Device;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Figures of a verified polytope (the paper's Tables 2, 4 and 6).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Verification {
    /// Number of samples.
    pub samples: usize,
    /// Fraction of samples classified as the target's class (0–1).
    pub success_rate: f64,
    /// The target's class.
    pub target_class: usize,
    /// Top-class probability of the target.
    pub target_confidence: f64,
    /// Mean top-class probability over samples.
    pub sample_confidence_mean: f64,
    /// Mean probability of the target's class over samples.
    pub sample_target_prob_mean: f64,
    /// Feature error of samples: mean.
    pub feature_rel_err_mean: f64,
    /// Feature error of samples: max.
    pub feature_rel_err_max: f64,
    /// Feature error of vertices: max.
    pub vertex_feature_rel_err_max: f64,
    /// Mean pairwise L2 distance between vertices.
    pub vertex_pairwise_l2: f64,
    /// Smallest fraction over vertices of the zero-set units `Z` (of this network at the
    /// target) that the vertex keeps on their side (ReLU: pre-activation ≤ 0); 1 when `Z` is
    /// empty.
    pub z_satisfied_min: f64,
}

/// Verifies the polytope spanned by `set` with `n` samples; returns figures and the samples.
pub fn verify(
    net: &Graph,
    target: &[f32],
    set: &VertexSet,
    n: usize,
    device: &Device,
    rng: &mut impl Rng,
) -> Result<(Verification, Vec<f32>), CollideError> {
    let d = net.input_len();
    let point = net.collision_point(&set.layer)?;
    let layer = point.pre;
    let act = Activation::of(&net.nodes[point.relu].op).unwrap_or(Activation::Relu);
    let model = Network::from_graph(net, device)?;
    let samples = sample_polytope(&set.vertices, d, n, rng);
    let tp = model.predict(target, device);
    let target_class = argmax(&tp[0]);
    let yt = model.activations(target, layer, device).remove(0);
    let (mut hits, mut conf, mut tprob) = (0usize, 0.0f64, 0.0f64);
    let (mut fe_sum, mut fe_max) = (0.0f64, 0.0f64);
    for chunk in samples.chunks(500 * d) {
        let probs = model.predict(chunk, device);
        let acts = model.activations(chunk, layer, device);
        for (p, a) in probs.iter().zip(&acts) {
            let c = argmax(p);
            hits += (c == target_class) as usize;
            conf += p[c] as f64;
            tprob += p[target_class] as f64;
            let fe = act.feature_rel_err(a, &yt);
            fe_sum += fe;
            fe_max = fe_max.max(fe);
        }
    }
    let vacts = model.activations(&set.vertices, layer, device);
    let vfe = vacts
        .iter()
        .map(|a| act.feature_rel_err(a, &yt))
        .fold(0.0, f64::max);
    let roles: Vec<UnitRole> = yt
        .iter()
        .map(|&v| act.role(v, set.saturation_tol))
        .collect();
    let zero: Vec<usize> = (0..roles.len())
        .filter(|&j| !roles[j].is_positive())
        .collect();
    let z_satisfied_min = vacts
        .iter()
        .map(|a| {
            zero.iter().filter(|&&j| roles[j].satisfied(a[j])).count() as f64
                / zero.len().max(1) as f64
        })
        .fold(1.0, f64::min);
    let nn = n.max(1) as f64;
    Ok((
        Verification {
            samples: n,
            success_rate: hits as f64 / nn,
            target_class,
            target_confidence: tp[0][target_class] as f64,
            sample_confidence_mean: conf / nn,
            sample_target_prob_mean: tprob / nn,
            feature_rel_err_mean: fe_sum / nn,
            feature_rel_err_max: fe_max,
            vertex_feature_rel_err_max: vfe,
            vertex_pairwise_l2: mean_pairwise_l2(&set.vertices, d),
            z_satisfied_min,
        },
        samples,
    ))
}
