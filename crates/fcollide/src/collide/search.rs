//! Vertex search (§2): `K` vertices optimized as one batch by Adam on
//! `Σ_k [α·L+(u_k) + L−_{i_k}(u_k)]` inside the pixel box, each started from an initial image.
use super::activation::{Activation, UnitRole};
use super::checkpoint::{self, Checkpointing};
use super::engine::{AffineEngine, AutodiffEngine, GradientEngine};
use super::optimizer::{cosine_lr, Adam};
use super::parameterization::{Parameterization, PixelBox};
use super::project::{project_into_collision, Projected};
use super::region::{RegionLock, RegionMode};
use super::{CollideError, Engine, LossTerms, Objective, ValidVertexParams};
use crate::model::{argmax, Graph, Network};
use crate::progress::Progress;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// The smallest pull-back factor [`find_vertices_in`] accepts (see there).
const MIN_PULLBACK: f64 = 0.5;

fn one() -> f64 {
    1.0
}

/// Figures of one vertex.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VertexStats {
    /// The unit `i ∈ Z` this vertex pushed down.
    pub unit: usize,
    /// `L+ = ½‖ỹ[P] − ỹt[P]‖²` at the end.
    pub l_plus: f64,
    /// `L−_i` at the end.
    pub l_minus: f64,
    /// `ỹ_i` at the end.
    pub unit_value: f32,
    /// `‖y(v) − y(t)‖ / ‖y(t)‖` of the post-ReLU activation at the collision layer.
    pub feature_rel_err: f64,
    /// Fraction of zero-set units on their side (ReLU: pre-activation `≤ 0`).
    pub z_satisfied: f64,
    /// Predicted class.
    pub class: usize,
    /// Top-class probability.
    pub confidence: f32,
    /// L2 distance from the starting image.
    pub dist_from_init: f64,
    /// The region-lock penalty `R(u)` at the end (0 without a lock).
    #[serde(default)]
    pub region_penalty: f64,
    /// The factor `λ` by which the vertex was pulled back toward the target into the
    /// target's linear region after the search (`1`: not moved;
    /// [`super::region::pull_into_region`]).
    #[serde(default = "one")]
    pub region_pullback: f64,
    /// The projection onto the target's colliding set in its region after a region-locked
    /// search ([`super::project`]); `None` where it did not apply or was not kept.
    #[serde(default)]
    pub projection: Option<Projected>,
}

/// The result of a vertex search.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VertexSet {
    /// Collision layer name.
    pub layer: String,
    /// Input shape `[C, H, W]`.
    pub shape: [usize; 3],
    /// Vertices, `[K, C·H·W]` row-major.
    pub vertices: Vec<f32>,
    /// Per-vertex figures.
    pub stats: Vec<VertexStats>,
    /// Number of units `N` at the layer and `N+ = |P|`.
    pub n_units: usize,
    /// `|P|`.
    pub n_plus: usize,
    /// The engine that computed gradients.
    pub engine: String,
    /// Whether the search was locked to the target's linear region.
    #[serde(default)]
    pub region_locked: bool,
    /// The tolerance its verdict is held to ([`super::VertexParams::collision_tol`]).
    #[serde(default = "crate::tolerance::default_tol")]
    pub collision_tol: f64,
    /// Saturation tolerance `τ` that set the roles of sigmoid and tanh units
    /// ([`super::activation`]); verification uses it again.
    #[serde(default = "super::params::default_saturation_tol")]
    pub saturation_tol: f32,
    /// Total loss every `history_every` steps (mean over vertices).
    pub loss_history: Vec<f64>,
    /// Wall-clock seconds of the optimization.
    pub seconds: f64,
}

impl VertexSet {
    /// Vertex `k`.
    pub fn vertex(&self, k: usize) -> &[f32] {
        let d: usize = self.shape.iter().product();
        &self.vertices[k * d..(k + 1) * d]
    }

    /// Number of vertices.
    pub fn len(&self) -> usize {
        self.stats.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.stats.is_empty()
    }
}

/// `‖relu(a) − relu(b)‖ / ‖relu(b)‖` (see [`Activation::feature_rel_err`] for others).
pub fn feature_rel_err(a: &[f32], b: &[f32]) -> f64 {
    Activation::Relu.feature_rel_err(a, b)
}

fn pick_engine(
    net: &Graph,
    model: &Network,
    layer: usize,
    params: &ValidVertexParams,
    device: &Device,
) -> Result<Box<dyn GradientEngine>, CollideError> {
    let affine = || AffineEngine::new(net, layer);
    let autodiff = || AutodiffEngine::with_network(model.clone(), layer, device);
    Ok(match params.engine {
        Engine::Auto => match affine() {
            Some(e) => Box::new(e),
            None => Box::new(autodiff()),
        },
        Engine::Affine => Box::new(affine().ok_or_else(|| CollideError::Param {
            param: "engine",
            msg: format!(
                "'affine' needs every layer up to '{}' to be affine; use 'auto' or 'autodiff'",
                params.layer
            ),
        })?),
        Engine::Autodiff => Box::new(autodiff()),
    })
}

/// Errors unless every value of `v` (an input of `d` values per image) is finite.
pub fn check_finite_input(what: &str, v: &[f32], d: usize) -> Result<(), CollideError> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(CollideError::NonFinite {
            what: what.into(),
            detail: format!(
                "value {} of image {} is {}",
                i % d.max(1),
                i / d.max(1),
                v[i]
            ),
        }),
        None => Ok(()),
    }
}

fn diverged(params: &ValidVertexParams, step: usize, detail: String) -> CollideError {
    CollideError::NonFinite {
        what: format!("the vertex search at layer '{}'", params.layer),
        detail: format!(
            "it diverged at step {step}: {detail} (alpha = {}, beta = {}, lr = {}); lower alpha, beta or lr",
            params.alpha, params.beta, params.lr
        ),
    }
}

/// Finds `K` colliding vertices for `target`, starting each from `init` (one image for all
/// vertices, or `K` images).
pub fn find_vertices(
    net: &Graph,
    target: &[f32],
    init: &[f32],
    params: &ValidVertexParams,
    device: &Device,
    progress: &dyn Progress,
) -> Result<VertexSet, CollideError> {
    find_vertices_checkpointed(net, target, init, params, device, progress, None)
}

/// [`find_vertices`] that saves its state to a checkpoint every `every` steps and when
/// `progress` reports a cancellation (then it returns [`CollideError::Interrupted`]), and that
/// can resume from such a checkpoint; a resumed run ends with the same vertices as an
/// uninterrupted one.
pub fn find_vertices_checkpointed(
    net: &Graph,
    target: &[f32],
    init: &[f32],
    params: &ValidVertexParams,
    device: &Device,
    progress: &dyn Progress,
    ckpt: Option<&Checkpointing>,
) -> Result<VertexSet, CollideError> {
    let model = Network::from_graph(net, device)?;
    find_vertices_pixels(net, &model, (target, init), params, device, progress, ckpt)
}

/// [`find_vertices_checkpointed`] with a network already built ([`find_vertices_shared`]).
pub fn find_vertices_pixels(
    net: &Graph,
    model: &Network,
    io: (&[f32], &[f32]),
    params: &ValidVertexParams,
    device: &Device,
    progress: &dyn Progress,
    ckpt: Option<&Checkpointing>,
) -> Result<VertexSet, CollideError> {
    let (lo, hi) = net.pixel_bounds;
    let pbox = PixelBox {
        lo,
        hi,
        method: params.box_method,
    };
    find_vertices_shared(net, model, io, params, device, progress, ckpt, &pbox)
}

/// [`find_vertices_checkpointed`] over another search space (e.g. patch compositions).
pub fn find_vertices_in(
    net: &Graph,
    io: (&[f32], &[f32]),
    params: &ValidVertexParams,
    device: &Device,
    progress: &dyn Progress,
    ckpt: Option<&Checkpointing>,
    space: &dyn Parameterization,
) -> Result<VertexSet, CollideError> {
    let model = Network::from_graph(net, device)?;
    find_vertices_shared(net, &model, io, params, device, progress, ckpt, space)
}

/// [`find_vertices_in`] with `model`, `net` already built on the plain `device` (by
/// [`Network::from_graph`]): the search and its final predictions share its weights instead
/// of copying them again (for VGG-16, 528 MiB a copy).
#[allow(clippy::too_many_arguments)]
pub fn find_vertices_shared(
    net: &Graph,
    model: &Network,
    (target, init): (&[f32], &[f32]),
    params: &ValidVertexParams,
    device: &Device,
    progress: &dyn Progress,
    ckpt: Option<&Checkpointing>,
    space: &dyn Parameterization,
) -> Result<VertexSet, CollideError> {
    let d = net.input_len();
    let k = params.vertices;
    if target.len() != d {
        return Err(CollideError::Size {
            what: "target",
            got: target.len(),
            expected: d,
        });
    }
    if init.len() != d && init.len() != k * d {
        return Err(CollideError::Size {
            what: "initial image(s)",
            got: init.len(),
            expected: d,
        });
    }
    check_finite_input("the target image", target, d)?;
    check_finite_input("the starting image(s)", init, d)?;
    let point = net.collision_point(&params.layer)?;
    let layer = point.pre;
    let act = Activation::of(&net.nodes[point.relu].op).unwrap_or(Activation::Relu);
    let mut engine = pick_engine(net, model, layer, params, device)?;
    let lockable = net
        .nodes
        .iter()
        .zip(net.ancestors(layer))
        .all(|(n, a)| !a || n.op.is_piecewise_linear());
    let region_locked = match params.region {
        RegionMode::Free => false,
        RegionMode::Locked => true,
        RegionMode::Auto => !net.is_affine_upto(layer) && lockable,
    };
    if region_locked {
        progress.start("region lock (the target's f64 forward)", 1);
        let lock =
            RegionLock::at_target(net, target, layer, params.lock_margin, params.lock_weight);
        progress.advance(1, "");
        progress.finish();
        engine.lock_region(&lock?)?;
    }
    let yt = engine.forward(target);
    if let Some(j) = yt.iter().position(|x| !x.is_finite()) {
        return Err(CollideError::NonFinite {
            what: format!("the target's pre-activation at layer '{}'", params.layer),
            detail: format!("unit {j} is {} (check the model's weights)", yt[j]),
        });
    }
    let n = yt.len();
    let roles: Vec<UnitRole> = yt
        .iter()
        .map(|&v| act.role(v, params.saturation_tol))
        .collect();
    let zero: Vec<usize> = (0..n).filter(|&j| !roles[j].is_positive()).collect();
    let units = match &params.units {
        Some(u) => {
            for &i in u {
                if i >= n {
                    return Err(CollideError::Param {
                        param: "units",
                        msg: format!(
                            "unit {i} out of range: layer '{}' has {n} units",
                            params.layer
                        ),
                    });
                }
                if roles[i].is_positive() {
                    return Err(CollideError::Param {
                        param: "units",
                        msg: format!(
                            "unit {i} is in the positive set P (target pre-activation {:.4}, on a non-flat part of {act}); choose units of Z such as {:?}",
                            yt[i],
                            &zero[..zero.len().min(8)]
                        ),
                    });
                }
            }
            u.clone()
        }
        None => {
            if zero.len() < k {
                return Err(CollideError::Param {
                    param: "vertices",
                    msg: format!(
                        "the zero set Z of layer '{}' has only {} units, fewer than {k} vertices",
                        params.layer,
                        zero.len()
                    ),
                });
            }
            match params.unit_choice {
                super::UnitChoice::First => zero[..k].to_vec(),
                super::UnitChoice::Spread => (0..k).map(|v| zero[v * zero.len() / k]).collect(),
            }
        }
    };
    let mut obj = Objective::with_roles(
        yt.clone(),
        roles.clone(),
        params.alpha,
        params.penalty,
        params.beta,
        units.clone(),
    );
    let start_images: Vec<f32> = if init.len() == d {
        init.repeat(k)
    } else {
        init.to_vec()
    };
    let mut z = space.init(&start_images);
    let mut u = vec![0.0f32; k * d];
    let mut adam = Adam::new(z.len());
    let mut gy = vec![0.0f32; k * n];
    let history_every = (params.steps / 100).max(1);
    let mut loss_history = Vec::new();
    let params_json = serde_json::to_value(&**params).unwrap_or_default();
    let fp = checkpoint::fingerprint(&[target, &start_images]);
    let mut first_step = 0;
    if let Some(c) = ckpt.filter(|c| c.resume && c.path.exists()) {
        let (meta, z0, m0, v0) = checkpoint::load(&c.path)?;
        let bad = |msg: &str| CollideError::Checkpoint {
            path: c.path.display().to_string(),
            msg: msg.to_string(),
        };
        if meta.params != params_json {
            return Err(bad("it was written with other search parameters"));
        }
        if meta.fingerprint != fp {
            return Err(bad("it was written for another target or starting image"));
        }
        if z0.len() != z.len() || !adam.restore(&m0, &v0, meta.adam_t) || meta.step > params.steps {
            return Err(bad("its tensors do not fit this search"));
        }
        z = z0;
        first_step = meta.step;
        loss_history = meta.loss_history;
    }
    let save = |step: usize, z: &[f32], adam: &Adam, history: &[f64]| match ckpt {
        Some(c) => {
            let (m, v, t) = adam.state();
            checkpoint::save(
                &c.path,
                &checkpoint::CheckpointMeta {
                    step,
                    adam_t: t,
                    params: params_json.clone(),
                    fingerprint: fp,
                    loss_history: history.to_vec(),
                },
                (z, m, v),
            )
        }
        None => Ok(()),
    };
    progress.start(&format!("vertices ({})", params.layer), params.steps as u64);
    progress.advance(first_step as u64, "resumed");
    let t0 = std::time::Instant::now();
    let report_every = (params.steps / 200).max(1);
    for step in first_step..params.steps {
        if progress.cancelled() {
            progress.finish();
            save(step, &z, &adam, &loss_history)?;
            return Err(match ckpt {
                Some(c) => CollideError::Interrupted {
                    step,
                    path: c.path.display().to_string(),
                },
                None => CollideError::Interrupted {
                    step,
                    path: "(no checkpoint file given: nothing saved)".into(),
                },
            });
        }
        if let Some(c) = ckpt {
            if c.every > 0 && step > first_step && step % c.every == 0 {
                save(step, &z, &adam, &loss_history)?;
            }
        }
        obj.alpha = params.alpha_at(step);
        space.pixels(&z, &mut u);
        let y = engine.forward(&u);
        let mut losses = obj.eval(&y, &mut gy);
        for (l, r) in losses.iter_mut().zip(engine.region_penalty()) {
            l.total += r;
        }
        if let Some((v, l)) = losses
            .iter()
            .enumerate()
            .find(|(_, l)| !l.total.is_finite())
        {
            return Err(diverged(
                params,
                step,
                format!("the loss of vertex {v} is {}", l.total),
            ));
        }
        let g = space.chain(&z, &u, engine.vjp(&gy));
        adam.step(
            &mut z,
            &g,
            cosine_lr(params.lr, params.lr_final, step, params.steps),
        );
        space.project(&mut z);
        if let Some(i) = z.iter().position(|x| !x.is_finite()) {
            return Err(diverged(
                params,
                step,
                format!("parameter {i} of the search became {}", z[i]),
            ));
        }
        if step % history_every == 0 || step + 1 == params.steps {
            loss_history.push(losses.iter().map(|l| l.total).sum::<f64>() / k as f64);
        }
        if (step + 1) % report_every == 0 {
            let l = losses.iter().map(|l| l.l_plus).fold(0.0, f64::max);
            progress.advance(report_every as u64, &format!("max L+ {l:.2e}"));
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    progress.finish();
    obj.alpha = params.alpha;
    space.pixels(&z, &mut u);
    // A soft lock leaves each vertex near the target's colliding set in its region, a hair
    // outside: project it onto that set (the closest point in L1, an exact LP) where the
    // network is small enough for the dense region map (pixel space only: a patch
    // composition must stay one). Kept only when every projected vertex lies in the region;
    // otherwise (or when an LP fails) the vertices stay as found.
    let projection = if region_locked && space.is_pixels() {
        let found = u.clone();
        progress.start("projection onto the target's colliding set (f64)", 1);
        let p = project_into_collision(
            net,
            target,
            &mut u,
            &params.layer,
            f64::from(params.lock_margin),
        );
        progress.advance(1, "");
        progress.finish();
        match p {
            Ok(Some(p)) if p.iter().all(|p| p.in_region) => p.into_iter().map(Some).collect(),
            _ => {
                u = found;
                vec![None; k]
            }
        }
    } else {
        vec![None; k]
    };
    // A soft lock can leave a vertex a hair outside the region: pull it back in.
    // Only where each vertex keeps at least half its distance from the centroid (a larger
    // move would trade the polytope's size for the certificate); otherwise the vertices stay
    // as found and the verdict rests on the sampled error.
    let pullback = if region_locked {
        let found = u.clone();
        progress.start("region pull-back (f64 forwards)", 1);
        let l = super::region::pull_into_region(net, target, &mut u, &params.layer);
        progress.advance(1, "");
        progress.finish();
        let l = l?;
        if l.iter().all(|&x| x >= MIN_PULLBACK) {
            l
        } else {
            u = found;
            vec![1.0; k]
        }
    } else {
        vec![1.0; k]
    };
    let y = engine.forward(&u);
    let terms: Vec<LossTerms> = obj.eval(&y, &mut gy);
    let region_penalty = engine.region_penalty();
    let probs = model.predict(&u, device);
    let bad_vertex = u
        .iter()
        .position(|x| !x.is_finite())
        .map(|i| ("vertex pixel", i / d, u[i]));
    let bad_act = y
        .iter()
        .position(|x| !x.is_finite())
        .map(|i| ("activation", i / n, y[i]));
    let bad_prob = probs.iter().enumerate().find_map(|(v, p)| {
        p.iter()
            .find(|x| !x.is_finite())
            .map(|&x| ("class probability", v, x))
    });
    if let Some((what, v, x)) = bad_vertex.or(bad_act).or(bad_prob) {
        return Err(diverged(
            params,
            params.steps,
            format!("a {what} of vertex {v} is {x}"),
        ));
    }
    if let Some((v, l)) = terms.iter().enumerate().find(|(_, l)| !l.total.is_finite()) {
        return Err(diverged(
            params,
            params.steps,
            format!("the loss of vertex {v} is {}", l.total),
        ));
    }
    let stats = (0..k)
        .map(|v| {
            let yv = &y[v * n..(v + 1) * n];
            let zs = zero.iter().filter(|&&j| roles[j].satisfied(yv[j])).count() as f64
                / zero.len().max(1) as f64;
            let class = argmax(&probs[v]).unwrap_or(0);
            let dist = u[v * d..(v + 1) * d]
                .iter()
                .zip(&start_images[v * d..(v + 1) * d])
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            VertexStats {
                unit: units[v],
                l_plus: terms[v].l_plus,
                l_minus: terms[v].l_minus,
                unit_value: yv[units[v]],
                feature_rel_err: act.feature_rel_err(yv, &yt),
                z_satisfied: zs,
                class,
                confidence: probs[v][class],
                dist_from_init: dist,
                region_penalty: region_penalty.get(v).copied().unwrap_or(0.0),
                region_pullback: pullback[v],
                projection: projection[v].clone(),
            }
        })
        .collect();
    Ok(VertexSet {
        layer: params.layer.clone(),
        shape: net.input_shape,
        vertices: u,
        stats,
        n_units: n,
        n_plus: obj.n_plus(),
        engine: engine.name().into(),
        region_locked,
        collision_tol: params.collision_tol,
        saturation_tol: params.saturation_tol,
        loss_history,
        seconds,
    })
}
