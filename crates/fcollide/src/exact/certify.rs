//! Certificates: re-run candidate points through the f64 forward and measure the collision.
//!
//! For each point `u` (a vertex, a sample, anything):
//! - `max_j |relu(ỹ(u))_j − relu(ỹt)_j|` over all units of the collision layer, with `ỹ` from
//!   the real f64 forward ([`super::forward()`]), not the linearization — so a point outside the
//!   target's linear region is caught;
//! - the constraint-system violation (equalities, `Z` inequalities, region half-spaces, box;
//!   a feasible LP point should be `≤ 1e-7`);
//! - the predicted class `argmax` of the final layer and `softmax` probabilities (top class and
//!   the target's class).
use serde::{Deserialize, Serialize};

use super::error::ExactError;
use super::forward::{forward, softmax};
use super::polytope::{CollisionSystem, Violation};
use crate::linalg::argmax;
use crate::model::Graph;

/// Certificate of one point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointCertificate {
    /// `max_j |post-ReLU(u)_j − post-ReLU(t)_j|` at the collision layer.
    pub max_activation_diff: f64,
    /// Constraint violations.
    pub violation: Violation,
    /// Predicted class.
    pub predicted: usize,
    /// Softmax probability of the predicted class.
    pub top_prob: f64,
    /// Softmax probability of the target's class.
    pub target_class_prob: f64,
}

/// Certificates of a set of points against the target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    /// Target's predicted class.
    pub target_class: usize,
    /// Target's top-class probability.
    pub target_top_prob: f64,
    /// `max_j |post-ReLU(t)_j|`, to put activation differences in scale.
    pub target_activation_max: f64,
    /// Per point.
    pub points: Vec<PointCertificate>,
    /// Largest activation difference over the points (0 if none).
    pub max_activation_diff: f64,
    /// Largest constraint violation over the points (0 if none).
    pub max_violation: f64,
    /// Fraction of points predicted as the target's class (1 if none).
    pub same_class_fraction: f64,
    /// Smallest top-class probability over the points (1 if none).
    pub min_top_prob: f64,
    /// Mean top-class probability (1 if none).
    pub mean_top_prob: f64,
}

/// Certify `points` (each of length `d`) against the system's target.
pub fn certify(
    net: &Graph,
    sys: &CollisionSystem,
    points: &[Vec<f64>],
) -> Result<Certificate, ExactError> {
    let li = sys.layer_index;
    let tf = forward(net, &sys.target)?;
    let t_post: Vec<f64> = tf.outputs[li].iter().map(|v| v.max(0.0)).collect();
    let t_probs = softmax(tf.logits());
    let target_class = argmax(&t_probs).unwrap_or(0);
    let mut out = Vec::with_capacity(points.len());
    for (n, u) in points.iter().enumerate() {
        if u.len() != sys.d {
            return Err(ExactError::shape(
                format!("certify point {n}"),
                sys.d,
                u.len(),
            ));
        }
        let f = forward(net, u)?;
        let diff = f.outputs[li]
            .iter()
            .zip(&t_post)
            .map(|(a, b)| (a.max(0.0) - b).abs())
            .fold(0.0, f64::max);
        let probs = softmax(f.logits());
        let predicted = argmax(&probs).unwrap_or(0);
        out.push(PointCertificate {
            max_activation_diff: diff,
            violation: sys.violation(u),
            predicted,
            top_prob: probs.get(predicted).copied().unwrap_or(0.0),
            target_class_prob: probs.get(target_class).copied().unwrap_or(0.0),
        });
    }
    let n = out.len();
    let (same_class_fraction, min_top_prob, mean_top_prob) = if n == 0 {
        (1.0, 1.0, 1.0)
    } else {
        (
            out.iter().filter(|p| p.predicted == target_class).count() as f64 / n as f64,
            out.iter().map(|p| p.top_prob).fold(1.0, f64::min),
            out.iter().map(|p| p.top_prob).sum::<f64>() / n as f64,
        )
    };
    Ok(Certificate {
        target_class,
        target_top_prob: t_probs.get(target_class).copied().unwrap_or(0.0),
        target_activation_max: t_post.iter().fold(0.0, |m, v| m.max(v.abs())),
        max_activation_diff: out
            .iter()
            .map(|p| p.max_activation_diff)
            .fold(0.0, f64::max),
        max_violation: out.iter().map(|p| p.violation.max()).fold(0.0, f64::max),
        points: out,
        same_class_fraction,
        min_top_prob,
        mean_top_prob,
    })
}

/// [`certify`] for f32 points (e.g. vertices as saved images).
pub fn certify_f32(
    net: &Graph,
    sys: &CollisionSystem,
    points: &[Vec<f32>],
) -> Result<Certificate, ExactError> {
    let p: Vec<Vec<f64>> = points
        .iter()
        .map(|v| v.iter().map(|&x| f64::from(x)).collect())
        .collect();
    certify(net, sys, &p)
}
