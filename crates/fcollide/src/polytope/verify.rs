//! Polytope verification (§3): `N` random convex combinations of the vertices are run through
//! the network; reported are the fraction classified as the target's class, the mean top-class
//! probability, and the feature error `‖y(s) − y(t)‖/‖y(t)‖` of the activation (ReLU, clip,
//! sigmoid, …) at the collision layer (mean and max over samples).
use super::metrics::mean_pairwise_l2;
use super::sample::sample_polytope;
use crate::collide::search::check_finite_input;
use crate::collide::{Activation, CollideError, VertexSet};
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
    /// Smallest fraction of zero-set units with pre-activation ≤ 0 over vertices.
    pub z_satisfied_min: f64,
}

/// Most polytope samples of one verification.
pub const MAX_SAMPLES: usize = 10_000_000;

/// Checks a sample count for inputs of `input_len` values: `1..=`[`MAX_SAMPLES`], and the
/// samples (`n × input_len` `f32`s, all kept) within `max_buffer_bytes`
/// ([`crate::limits`]). Call it before a run starts; [`verify`] calls it too.
pub fn check_samples(n: usize, input_len: usize) -> Result<(), CollideError> {
    if !(1..=MAX_SAMPLES).contains(&n) {
        return Err(CollideError::Param {
            param: "samples",
            msg: format!("{n}: must be in 1..={MAX_SAMPLES}"),
        });
    }
    crate::limits::check_buffer("samples", n as u64, input_len as u64, 4)
        .map(|_| ())
        .map_err(|source| CollideError::Limit {
            param: "samples",
            source,
        })
}

/// Verifies the polytope spanned by `set` with `n` samples; returns figures and the samples.
/// Errors (never figures) when an input, a vertex or a network output is not finite.
pub fn verify(
    net: &Graph,
    target: &[f32],
    set: &VertexSet,
    n: usize,
    device: &Device,
    rng: &mut impl Rng,
) -> Result<(Verification, Vec<f32>), CollideError> {
    let d = net.input_len();
    check_samples(n, d)?;
    if target.len() != d {
        return Err(CollideError::Size {
            what: "target",
            got: target.len(),
            expected: d,
        });
    }
    if set.vertices.is_empty() || set.vertices.len() % d != 0 {
        return Err(CollideError::Size {
            what: "vertices",
            got: set.vertices.len(),
            expected: d * set.len().max(1),
        });
    }
    check_finite_input("the target image", target, d)?;
    check_finite_input("the vertices", &set.vertices, d)?;
    let point = net.collision_point(&set.layer)?;
    let layer = point.pre;
    let act = Activation::of(&net.nodes[point.relu].op).unwrap_or(Activation::Relu);
    let model = Network::from_graph(net, device)?;
    let samples = sample_polytope(&set.vertices, d, n, rng);
    let tp = model.predict(target, device);
    let yt = model.activations(target, layer, device).remove(0);
    let not_finite = |what: String, v: &[f32]| -> Result<(), CollideError> {
        match v.iter().position(|x| !x.is_finite()) {
            Some(i) => Err(CollideError::NonFinite {
                what,
                detail: format!(
                    "value {i} is {} (check the model's weights); no figures are reported",
                    v[i]
                ),
            }),
            None => Ok(()),
        }
    };
    not_finite("the target's class probabilities".into(), &tp[0])?;
    not_finite(format!("the target's activation at '{}'", set.layer), &yt)?;
    let target_class = argmax(&tp[0]);
    let (mut hits, mut conf, mut tprob) = (0usize, 0.0f64, 0.0f64);
    let (mut fe_sum, mut fe_max) = (0.0f64, 0.0f64);
    for chunk in samples.chunks(500 * d) {
        let probs = model.predict(chunk, device);
        let acts = model.activations(chunk, layer, device);
        for (j, (p, a)) in probs.iter().zip(&acts).enumerate() {
            not_finite(
                format!("the class probabilities of a polytope sample ({j} of its batch)"),
                p,
            )?;
            not_finite(
                format!("the activation of a polytope sample at '{}'", set.layer),
                a,
            )?;
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
    for a in &vacts {
        not_finite(format!("a vertex's activation at '{}'", set.layer), a)?;
    }
    let vfe = vacts
        .iter()
        .map(|a| act.feature_rel_err(a, &yt))
        .fold(0.0, f64::max);
    let nn = n as f64;
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
            z_satisfied_min: set.stats.iter().map(|s| s.z_satisfied).fold(1.0, f64::min),
        },
        samples,
    ))
}
