//! Polytope verification (§3): `N` random convex combinations of the vertices are run through
//! the network; reported are the fraction classified as the target's class (the paper's
//! "success rate", here `class_agreement`), the mean top-class probability, and the feature
//! error `‖y(s) − y(t)‖/‖y(t)‖` of the activation (ReLU, clip, sigmoid, …) at the collision
//! layer (mean and max over samples). The zero set `Z` (units whose target pre-activation
//! `ỹt_j` is on a flat or saturated side, e.g. `ỹt_j ≤ 0` for ReLU) and each vertex's share of
//! `Z` still on its side are computed here with the network given, not copied from the
//! search, so vertices verified on another model get that model's figures. The hull is also
//! certified in f64 ([`super::certificate`]), and the row gets its [`Verdict`]: `collides`
//! when certified or when the feature error at every vertex and sample is at most the set's
//! `collision_tol`, `approximate` when only the class is kept, `failed` otherwise
//! (non-finite figures included).
use super::certificate::{certify_hull, HullCertificate};
use super::metrics::mean_pairwise_l2;
use super::sample::sample_polytope;
use super::verdict::{verdict, Evidence, Verdict};
use crate::collide::search::check_finite_input;
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
    /// Fraction of samples classified as the target's class (0–1; the paper's "success
    /// rate": class agreement, not a collision).
    #[serde(alias = "success_rate")]
    pub class_agreement: f64,
    /// Fraction of vertices classified as the target's class.
    #[serde(default)]
    pub vertex_class_agreement: f64,
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
    /// The tolerance of the verdict on the relative feature error.
    #[serde(default = "super::verdict::default_tol")]
    pub collision_tol: f64,
    /// The f64 certificate of the hull (`None` when it could not be computed).
    #[serde(default)]
    pub certificate: Option<HullCertificate>,
    /// Whether the hull is certified: every point collides to `certified_error_bound`.
    #[serde(default)]
    pub certified: bool,
    /// The certificate's bound on the relative feature error of every point of the hull:
    /// present only where it holds, i.e. every vertex lies in one linear region (`null`
    /// when a vertex is outside it, or without a certificate; the vertices' own errors are
    /// then in `certificate`). `certified` when it is ≤ `collision_tol`.
    #[serde(default)]
    pub certified_error_bound: Option<f64>,
    /// The smallest slack of a vertex in the target's linear region (negative: a vertex is
    /// outside it).
    #[serde(default)]
    pub certificate_margin: Option<f64>,
    /// Collides, approximate or failed.
    #[serde(default)]
    pub verdict: Verdict,
}

/// `max(a, b)`, NaN when either is NaN (`f64::max` drops a NaN, which must not vanish from
/// an error figure).
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
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

/// Verifies the polytope spanned by `set` with `n` samples, certifies its hull and gives the
/// verdict at `set.collision_tol`; returns figures and the samples.
/// Errors (never figures) when an input, a vertex or a network output is not finite.
pub fn verify(
    net: &Graph,
    target: &[f32],
    set: &VertexSet,
    n: usize,
    device: &Device,
    rng: &mut impl Rng,
) -> Result<(Verification, Vec<f32>), CollideError> {
    verify_with_progress(net, target, set, n, device, rng, &crate::progress::Silent)
}

/// Bytes of activations one batch of polytope samples may hold (the batch size shrinks for
/// big models: a VGG-16 image carries ≈ 60 MB of activations, so 4 images a batch; #17's
/// bar is a peak RSS of 2 GB for VGG-16).
const SAMPLE_BATCH_BYTES: usize = 1 << 28;

/// [`verify`], reporting the samples and the certificate to `progress`.
pub fn verify_with_progress(
    net: &Graph,
    target: &[f32],
    set: &VertexSet,
    n: usize,
    device: &Device,
    rng: &mut impl Rng,
    progress: &dyn crate::progress::Progress,
) -> Result<(Verification, Vec<f32>), CollideError> {
    check_samples(n, net.input_len())?;
    let model = Network::from_graph(net, device)?;
    verify_shared(net, &model, target, set, n, device, rng, progress)
}

/// [`verify_with_progress`] with `model`, `net` already built on `device` (by
/// [`Network::from_graph`]), whose weights it shares instead of copying them again.
#[allow(clippy::too_many_arguments)]
pub fn verify_shared(
    net: &Graph,
    model: &Network,
    target: &[f32],
    set: &VertexSet,
    n: usize,
    device: &Device,
    rng: &mut impl Rng,
    progress: &dyn crate::progress::Progress,
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
    // Finite (checked above), so a class is found.
    let target_class = argmax(&tp[0]).unwrap_or(0);
    let (mut hits, mut conf, mut tprob) = (0usize, 0.0f64, 0.0f64);
    let (mut fe_sum, mut fe_max) = (0.0f64, 0.0f64);
    let per_sample = net
        .shapes()
        .map(|s| s.iter().map(|s| s.len()).sum::<usize>())
        .unwrap_or(d)
        .max(d)
        * 4;
    let batch = (SAMPLE_BATCH_BYTES / per_sample).clamp(1, 500);
    progress.start("verify: polytope samples", n as u64);
    for chunk in samples.chunks(batch * d) {
        progress.advance((chunk.len() / d) as u64, "");
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
            let c = argmax(p).unwrap_or(0);
            hits += (c == target_class) as usize;
            conf += p[c] as f64;
            tprob += p[target_class] as f64;
            let fe = act.feature_rel_err(a, &yt);
            fe_sum += fe;
            fe_max = nan_max(fe_max, fe);
        }
    }
    progress.finish();
    let vacts = model.activations(&set.vertices, layer, device);
    for a in &vacts {
        not_finite(format!("a vertex's activation at '{}'", set.layer), a)?;
    }
    let vfe = vacts
        .iter()
        .map(|a| act.feature_rel_err(a, &yt))
        .fold(0.0, nan_max);
    let k = set.vertices.len() / d.max(1);
    let vhits = model
        .predict(&set.vertices, device)
        .iter()
        .filter(|p| argmax(p) == Some(target_class))
        .count();
    let vertex_class_agreement = vhits as f64 / k.max(1) as f64;
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
    let class_agreement = hits as f64 / nn;
    let tol = set.collision_tol;
    progress.start(
        "certificate (f64 forwards of the target and each vertex)",
        1,
    );
    let certificate = certify_hull(net, target, &set.vertices, &set.layer, tol).ok();
    progress.advance(1, "");
    progress.finish();
    let certified = certificate.as_ref().is_some_and(|c| c.certified);
    let v = verdict(
        Evidence {
            certified,
            feature_err_max: nan_max(fe_max, vfe),
            class_agreement: class_agreement.min(vertex_class_agreement),
        },
        tol,
    );
    Ok((
        Verification {
            samples: n,
            class_agreement,
            vertex_class_agreement,
            target_class,
            target_confidence: tp[0][target_class] as f64,
            sample_confidence_mean: conf / nn,
            sample_target_prob_mean: tprob / nn,
            feature_rel_err_mean: fe_sum / nn,
            feature_rel_err_max: fe_max,
            vertex_feature_rel_err_max: vfe,
            vertex_pairwise_l2: mean_pairwise_l2(&set.vertices, d),
            z_satisfied_min,
            collision_tol: tol,
            certified_error_bound: certificate
                .as_ref()
                .filter(|c| c.same_region)
                .map(|c| c.certified_error_bound),
            certificate_margin: certificate.as_ref().and_then(|c| c.certificate_margin),
            certified,
            certificate,
            verdict: v,
        },
        samples,
    ))
}
