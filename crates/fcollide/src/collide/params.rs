//! Vertex-search parameters, validated by [`VertexParams::check`] and recorded in every run.
use super::{CollideError, Penalty, RegionMode};
use serde::{Deserialize, Serialize};

/// How the pixel box `[lo, hi]` is enforced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BoxMethod {
    /// Optimize `u` directly and clip it into the box after every step.
    Project,
    /// Optimize `z` with `u = lo + (hi − lo)·σ(z)`.
    Sigmoid,
}

/// Which gradient engine computes `∂loss/∂u`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// `affine` when every layer up to the collision layer is affine, else `autodiff`.
    Auto,
    /// Closed form `∂loss/∂u = Aᵀ ∂loss/∂ỹ` for `ỹ = A u + c`.
    Affine,
    /// burn's reverse-mode autodiff through the network.
    Autodiff,
}

/// How units `i ∈ Z` are chosen when not given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitChoice {
    /// The first `K` units of `Z` (the paper: `i = 0..4`).
    First,
    /// `K` units evenly spaced over `Z` — for conv layers, where the first units of `Z` are
    /// all in one channel's corner.
    Spread,
}

/// Parameters of a vertex search (unchecked).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VertexParams {
    /// Collision layer (an affine layer followed by a ReLU).
    pub layer: String,
    /// Number of vertices `K`, optimized as one batch.
    pub vertices: usize,
    /// Units `i ∈ Z`, one per vertex; `None`: chosen by `unit_choice`.
    pub units: Option<Vec<usize>>,
    /// How units are chosen when `units` is `None`.
    pub unit_choice: UnitChoice,
    /// Weight `α` of `L+`.
    pub alpha: f32,
    /// Penalty continuation: when set, `α` grows geometrically from this value to `alpha`
    /// over the first half of the steps, `α_t = α₀·(α/α₀)^min(1, 2t/T)`, then stays at
    /// `alpha`. Vertices spread while the collision is loose and are pulled onto it at the
    /// end; useful where the search space is curved (patch compositions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha_start: Option<f32>,
    /// Penalty on the other zero-set units.
    pub penalty: Penalty,
    /// Weight `β` of that penalty (the paper: 1).
    pub beta: f32,
    /// Adam steps.
    pub steps: usize,
    /// Adam learning rate at the start (pixel units).
    pub lr: f32,
    /// Learning rate at the end as a fraction of `lr` (cosine decay).
    pub lr_final: f32,
    /// Box enforcement.
    pub box_method: BoxMethod,
    /// Gradient engine.
    pub engine: Engine,
    /// Whether vertices are kept in the target's linear region ([`super::region`]).
    #[serde(default = "default_region")]
    pub region: RegionMode,
    /// Margin `μ` of the region lock, in pre-activation units.
    #[serde(default = "default_lock_margin")]
    pub lock_margin: f32,
    /// Weight `γ` of the region-lock penalty.
    #[serde(default = "default_lock_weight")]
    pub lock_weight: f32,
    /// Saturation tolerance `τ` of sigmoid and tanh collision layers
    /// ([`super::activation`]).
    #[serde(default = "default_saturation_tol")]
    pub saturation_tol: f32,
    /// Largest relative feature error at which a row still collides
    /// ([`crate::polytope::verdict`]): the certificate's bound, or the sampled error.
    #[serde(default = "default_collision_tol")]
    pub collision_tol: f64,
}

fn default_collision_tol() -> f64 {
    crate::tolerance::DEFAULT_COLLISION_TOL
}

pub(crate) fn default_saturation_tol() -> f32 {
    1e-3
}

fn default_region() -> RegionMode {
    RegionMode::Auto
}

fn default_lock_margin() -> f32 {
    1e-3
}

fn default_lock_weight() -> f32 {
    1e4
}

impl Default for VertexParams {
    fn default() -> Self {
        Self {
            layer: "fc1".into(),
            vertices: 5,
            units: None,
            unit_choice: UnitChoice::First,
            alpha: 1000.0,
            alpha_start: None,
            penalty: Penalty::Hinge,
            beta: 1000.0,
            steps: 3000,
            lr: 0.1,
            lr_final: 0.001,
            box_method: BoxMethod::Project,
            engine: Engine::Auto,
            region: default_region(),
            lock_margin: default_lock_margin(),
            lock_weight: default_lock_weight(),
            saturation_tol: default_saturation_tol(),
            collision_tol: default_collision_tol(),
        }
    }
}

/// Parameters that passed [`VertexParams::check`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValidVertexParams(VertexParams);

impl std::ops::Deref for ValidVertexParams {
    type Target = VertexParams;
    fn deref(&self) -> &VertexParams {
        &self.0
    }
}

impl VertexParams {
    /// `α` at step `t` of `T` (see [`VertexParams::alpha_start`]).
    pub fn alpha_at(&self, t: usize) -> f32 {
        match self.alpha_start {
            Some(a0) if a0 < self.alpha => {
                let f = (2.0 * t as f64 / self.steps.max(1) as f64).min(1.0);
                (a0 as f64 * (self.alpha as f64 / a0 as f64).powf(f)) as f32
            }
            _ => self.alpha,
        }
    }

    /// The paper's objective: square penalty with weight 1.
    pub fn paper() -> Self {
        Self {
            penalty: Penalty::Square,
            beta: 1.0,
            ..Self::default()
        }
    }

    /// Validates the parameters against the ranges in [`RANGES`] (the layer and units are
    /// checked against the network later). Errors name the parameter (as on the command line).
    pub fn check(self) -> Result<ValidVertexParams, CollideError> {
        let bad = |param, msg: String| Err(CollideError::Param { param, msg });
        if !(1..=MAX_VERTICES).contains(&self.vertices) {
            return bad(
                "vertices",
                format!("{}: must be in 1..={MAX_VERTICES}", self.vertices),
            );
        }
        if let Some(u) = &self.units {
            if u.len() != self.vertices {
                return Err(CollideError::Param {
                    param: "units",
                    msg: format!(
                        "{} units given for {} vertices: give one unit per vertex",
                        u.len(),
                        self.vertices
                    ),
                });
            }
        }
        let in_range = |x: f32, lo_open: bool, lo: f32, hi: f32| {
            x.is_finite() && (if lo_open { x > lo } else { x >= lo }) && x <= hi
        };
        if !in_range(self.alpha, true, 0.0, MAX_WEIGHT) {
            return bad(
                "alpha",
                format!("{}: must be in (0, {MAX_WEIGHT:e}]", self.alpha),
            );
        }
        if let Some(a0) = self.alpha_start {
            if !(in_range(a0, true, 0.0, MAX_WEIGHT) && a0 <= self.alpha) {
                return bad(
                    "alpha-start",
                    format!(
                        "{a0}: must be a positive number no larger than alpha ({})",
                        self.alpha
                    ),
                );
            }
        }
        if !in_range(self.beta, false, 0.0, MAX_WEIGHT) {
            return bad(
                "beta",
                format!("{}: must be in [0, {MAX_WEIGHT:e}]", self.beta),
            );
        }
        if !(1..=MAX_STEPS).contains(&self.steps) {
            return bad(
                "steps",
                format!("{}: must be in 1..={MAX_STEPS}", self.steps),
            );
        }
        if !in_range(self.lr, true, 0.0, MAX_LR) {
            return bad(
                "lr",
                format!("{}: must be in (0, {MAX_LR}] (pixel units)", self.lr),
            );
        }
        if !in_range(self.lr_final, true, 0.0, 1.0) {
            return bad(
                "lr-final",
                format!("{}: must be in (0, 1] (a fraction of lr)", self.lr_final),
            );
        }
        if !(self.lock_margin.is_finite() && self.lock_margin >= 0.0) {
            return bad(
                "lock-margin",
                format!("{}: must be a finite number ≥ 0", self.lock_margin),
            );
        }
        if !(self.lock_weight.is_finite() && self.lock_weight > 0.0 && self.lock_weight <= 1e12) {
            return bad(
                "lock-weight",
                format!("{}: must be a positive number ≤ 1e12", self.lock_weight),
            );
        }
        if !(self.saturation_tol > 0.0 && self.saturation_tol < 0.5) {
            return bad(
                "saturation-tol",
                format!("{}: must be in (0, 0.5)", self.saturation_tol),
            );
        }
        if let Err(m) = crate::tolerance::check_tolerance(self.collision_tol) {
            return bad("collision-tol", m);
        }
        Ok(ValidVertexParams(self))
    }
}

/// Most vertices searched as one batch.
pub const MAX_VERTICES: usize = 10_000;
/// Largest `alpha` and `beta`: far above any useful weight (the default is 1000), small
/// enough that `α·L+` stays finite in `f32` for activations up to ~10¹⁴.
pub const MAX_WEIGHT: f32 = 1e9;
/// Largest learning rate (pixels live in `[0, 1]`).
pub const MAX_LR: f32 = 10.0;
/// Most Adam steps.
pub const MAX_STEPS: usize = 100_000_000;
/// The ranges [`VertexParams::check`] enforces, as `(parameter, range)`, for help texts.
pub const RANGES: [(&str, &str); 7] = [
    ("vertices", "1..=10000"),
    ("alpha", "(0, 1e9]"),
    ("alpha-start", "(0, alpha]"),
    ("beta", "[0, 1e9]"),
    ("steps", "1..=100000000"),
    ("lr", "(0, 10]"),
    ("lr-final", "(0, 1]"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_continuation_is_geometric_over_the_first_half() {
        let p = VertexParams {
            alpha: 1000.0,
            alpha_start: Some(10.0),
            steps: 400,
            ..Default::default()
        };
        assert_eq!(p.alpha_at(0), 10.0);
        assert!((p.alpha_at(100) - 100.0).abs() < 1e-3); // √(10·1000)
        assert_eq!(p.alpha_at(200), 1000.0);
        assert_eq!(p.alpha_at(399), 1000.0);
        assert_eq!(VertexParams::default().alpha_at(0), 1000.0);
        for bad in [0.0, -1.0, f32::NAN, 2000.0] {
            let q = VertexParams {
                alpha_start: Some(bad),
                ..Default::default()
            };
            assert!(matches!(
                q.check(),
                Err(CollideError::Param {
                    param: "alpha-start",
                    ..
                })
            ));
        }
    }

    #[test]
    fn absurd_values_are_refused_by_name() {
        let cases: [(&str, VertexParams); 7] = [
            (
                "alpha",
                VertexParams {
                    alpha: 3e38,
                    ..Default::default()
                },
            ),
            (
                "beta",
                VertexParams {
                    beta: f32::INFINITY,
                    ..Default::default()
                },
            ),
            (
                "lr",
                VertexParams {
                    lr: 1e6,
                    ..Default::default()
                },
            ),
            (
                "lr-final",
                VertexParams {
                    lr_final: f32::NAN,
                    ..Default::default()
                },
            ),
            (
                "steps",
                VertexParams {
                    steps: usize::MAX,
                    ..Default::default()
                },
            ),
            (
                "vertices",
                VertexParams {
                    vertices: 0,
                    ..Default::default()
                },
            ),
            (
                "vertices",
                VertexParams {
                    vertices: 1 << 40,
                    ..Default::default()
                },
            ),
        ];
        for (name, p) in cases {
            match p.check() {
                Err(CollideError::Param { param, msg }) => assert_eq!(param, name, "{msg}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(VertexParams::default().check().is_ok());
        assert!(VertexParams::paper().check().is_ok());
    }
}
