//! Gradient engines: the pre-activation `ỹ(u)` of the collision layer for a batch of inputs
//! and the vector–Jacobian product `∂loss/∂u = J(u)ᵀ ∂loss/∂ỹ`.
//!
//! - [`AffineEngine`]: when every layer up to the collision layer is affine, `ỹ = A u + c`
//!   and `∂loss/∂u = Aᵀ g`; two small matrix products (`[K, d]·[d, N]` and `[K, N]·[N, d]`)
//!   with `gemm`, no graph.
//! - [`AutodiffEngine`]: any network; burn's reverse-mode autodiff of `Σ ỹ ⊙ g`.
use super::region::{LockTerm, RegionLock};
use crate::linalg::gemm_strided;
use crate::model::network::{batch, to_vec};
use crate::model::{Graph, ModelError, Network};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// Computes `ỹ(u)` and `J(u)ᵀ g` for a batch.
pub trait GradientEngine {
    /// Name recorded in results.
    fn name(&self) -> &'static str;
    /// `ỹ(u)` for `K` inputs (`u` is `[K, d]`), returned `[K, N]`; keeps what
    /// [`GradientEngine::vjp`] needs.
    fn forward(&mut self, u: &[f32]) -> Vec<f32>;
    /// `J(u)ᵀ g` for the `u` of the last forward (`g` is `[K, N]`), returned `[K, d]`; with a
    /// region lock, plus the gradient of the lock penalty `Σ_k R(u_k)`.
    fn vjp(&mut self, g: &[f32]) -> Vec<f32>;
    /// Adds the region-lock penalty ([`RegionLock`]) to every vertex's loss. An engine that
    /// cannot evaluate it refuses a non-empty lock.
    fn lock_region(&mut self, lock: &RegionLock) -> Result<(), ModelError> {
        if lock.is_empty() {
            Ok(())
        } else {
            Err(ModelError::Param {
                param: "region",
                msg: format!("the {} engine cannot lock the linear region", self.name()),
            })
        }
    }
    /// The lock penalty `R(u_k)` of each vertex at the last forward (empty without a lock).
    fn region_penalty(&self) -> Vec<f64> {
        Vec::new()
    }
}

/// `ỹ = A u + c` with `A` `[N, d]` row-major in f32.
pub struct AffineEngine {
    a: Vec<f32>,
    c: Vec<f32>,
    n: usize,
    d: usize,
    /// `Aᵀ` `[d, N]` row-major, the fast layout for the forward product.
    at: Option<Vec<f32>>,
}

impl AffineEngine {
    /// The engine for node `layer` of `net`, if its output is an affine function of the
    /// input (no activation or max-pooling before it): `A` and `c` come from the f64
    /// linearization ([`crate::exact::linearize`]) at the zero input, exact everywhere then.
    pub fn new(net: &Graph, layer: usize) -> Option<Self> {
        if layer == 0 || layer >= net.nodes.len() || !net.is_affine_upto(layer) {
            return None;
        }
        let d = net.input_len();
        let lin = crate::exact::linearize(net, &vec![0.0; d], layer, usize::MAX).ok()?;
        let (a, c, n) = (lin.map.a, lin.map.c, lin.map.rows);
        let mut at = vec![0.0f32; a.len()];
        for j in 0..n {
            for i in 0..d {
                at[i * n + j] = a[j * d + i] as f32;
            }
        }
        Some(Self {
            at: Some(at),
            a: a.iter().map(|&v| v as f32).collect(),
            c: c.iter().map(|&v| v as f32).collect(),
            n,
            d: net.input_len(),
        })
    }

    /// Reads `A` in place for the forward product instead of its transposed copy (slower;
    /// kept for the benchmark's comparison).
    pub fn without_transposed_copy(mut self) -> Self {
        self.at = None;
        self
    }
}

impl GradientEngine for AffineEngine {
    fn name(&self) -> &'static str {
        "affine"
    }

    fn forward(&mut self, u: &[f32]) -> Vec<f32> {
        let k = u.len() / self.d;
        let mut y = vec![0.0f32; k * self.n];
        if let Some(at) = &self.at {
            // Y[K×N] = U[K×d] · Aᵀ[d×N] with Aᵀ stored row-major (rows of Y contiguous in it).
            gemm_strided(
                (k, self.n, self.d),
                (&mut y, self.n as isize, 1),
                (u, self.d as isize, 1),
                (at, self.n as isize, 1),
                1.0,
            );
        } else {
            // Y[K×N] = U[K×d] · Aᵀ[d×N].
            gemm_strided(
                (k, self.n, self.d),
                (&mut y, self.n as isize, 1),
                (u, self.d as isize, 1),
                (&self.a, 1, self.d as isize),
                1.0,
            );
        }
        for row in y.chunks_mut(self.n) {
            for (v, c) in row.iter_mut().zip(&self.c) {
                *v += c;
            }
        }
        y
    }

    fn vjp(&mut self, g: &[f32]) -> Vec<f32> {
        let k = g.len() / self.n;
        let mut out = vec![0.0f32; k * self.d];
        // out[K×d] = G[K×N] · A[N×d].
        gemm_strided(
            (k, self.d, self.n),
            (&mut out, self.d as isize, 1),
            (g, self.n as isize, 1),
            (&self.a, self.d as isize, 1),
            1.0,
        );
        out
    }
}

/// A lock term on the device.
#[allow(clippy::large_enum_variant)]
enum DeviceTerm {
    Interval {
        input: usize,
        lower: Tensor<2>,
        upper: Tensor<2>,
    },
    Order {
        input: usize,
        high: Tensor<1, Int>,
        low: Tensor<1, Int>,
        margin: Tensor<2>,
    },
}

/// Reverse-mode autodiff through a burn [`Network`] on an autodiff device.
pub struct AutodiffEngine {
    net: Network,
    layer: usize,
    device: Device,
    d: usize,
    lock: Vec<DeviceTerm>,
    lock_weight: f32,
    /// The input, the output `ỹ` and (with a lock) the per-vertex penalty `[K, 1]`.
    state: Option<(Tensor<2>, Tensor<2>, Option<Tensor<2>>)>,
    penalty: Vec<f64>,
}

impl AutodiffEngine {
    /// The engine for node `layer` of `net` on `device` (made an autodiff device here).
    pub fn new(net: &Graph, layer: usize, device: &Device) -> Result<Self, ModelError> {
        Ok(Self::with_network(
            Network::from_graph(net, device)?,
            layer,
            device,
        ))
    }

    /// The engine for node `layer` of `model`, a network built on the plain `device`
    /// (cloning a [`Network`] shares its weights, so one copy serves the search, the
    /// predictions and the verification). Its weights stay constants: only the input,
    /// created on the autodiff device, is tracked, so no weight gradients are computed.
    pub fn with_network(model: Network, layer: usize, device: &Device) -> Self {
        let device = device.clone().autodiff();
        let d = model.structure().input_len();
        Self {
            net: model,
            layer,
            device,
            d,
            lock: Vec::new(),
            lock_weight: 0.0,
            state: None,
            penalty: Vec::new(),
        }
    }

    /// The network the engine runs (on the plain device).
    pub fn network(&self) -> &Network {
        &self.net
    }
}

impl GradientEngine for AutodiffEngine {
    fn name(&self) -> &'static str {
        "autodiff"
    }

    fn forward(&mut self, u: &[f32]) -> Vec<f32> {
        let x = batch(u, self.d, &self.device).require_grad();
        let mut wanted = vec![self.layer];
        wanted.extend(self.lock.iter().map(|t| match t {
            DeviceTerm::Interval { input, .. } | DeviceTerm::Order { input, .. } => *input,
        }));
        let mut outs = self.net.forward_many(x.clone(), &wanted).into_iter();
        let y = outs.next().expect("collision layer output");
        let values = to_vec(y.clone().detach());
        let mut pen: Option<Tensor<2>> = None;
        for (term, v) in self.lock.iter().zip(outs) {
            let p = match term {
                DeviceTerm::Interval { lower, upper, .. } => {
                    let lo = relu(lower.clone() - v.clone());
                    let hi = relu(v - upper.clone());
                    (lo.square() + hi.square()).sum_dim(1)
                }
                DeviceTerm::Order {
                    high, low, margin, ..
                } => {
                    let xm = v.clone().select(1, high.clone());
                    let xo = v.select(1, low.clone());
                    relu(xo - xm + margin.clone()).square().sum_dim(1)
                }
            };
            pen = Some(match pen {
                Some(acc) => acc + p,
                None => p,
            });
        }
        let pen = pen.map(|p| p * (0.5 * self.lock_weight));
        self.penalty = pen
            .as_ref()
            .map(|p| {
                to_vec(p.clone().detach())
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect()
            })
            .unwrap_or_default();
        self.state = Some((x, y, pen));
        values
    }

    fn vjp(&mut self, g: &[f32]) -> Vec<f32> {
        let (x, y, pen) = self.state.take().expect("vjp after forward");
        let dims = y.dims();
        let gt: Tensor<2> = Tensor::from_data(TensorData::new(g.to_vec(), dims), &self.device);
        let mut loss = (y * gt).sum();
        if let Some(p) = pen {
            loss = loss + p.sum();
        }
        let grads = loss.backward();
        x.grad(&grads)
            .map(to_vec)
            .unwrap_or_else(|| vec![0.0; g.len() / dims[1] * self.d])
    }

    fn lock_region(&mut self, lock: &RegionLock) -> Result<(), ModelError> {
        let dev = &self.device;
        let f = |v: &[f32]| -> Tensor<2> {
            Tensor::from_data(TensorData::new(v.to_vec(), [1, v.len()]), dev)
        };
        let i = |v: &[i64]| -> Tensor<1, Int> {
            Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), dev)
        };
        self.lock = lock
            .terms
            .iter()
            .map(|t| match t {
                LockTerm::Interval {
                    input,
                    lower,
                    upper,
                } => DeviceTerm::Interval {
                    input: *input,
                    lower: f(lower),
                    upper: f(upper),
                },
                LockTerm::Order {
                    input,
                    high,
                    low,
                    margin,
                } => DeviceTerm::Order {
                    input: *input,
                    high: i(high),
                    low: i(low),
                    margin: f(margin),
                },
            })
            .collect();
        self.lock_weight = lock.weight;
        Ok(())
    }

    fn region_penalty(&self) -> Vec<f64> {
        self.penalty.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{arch, default_device};
    use rand::{Rng, SeedableRng};

    /// The closed-form engine agrees with burn's autodiff on the MLP's first layer.
    #[test]
    fn affine_matches_autodiff() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let net = arch::mlp(&mut rng);
        let layer = net.collision_layer_index("fc1").unwrap();
        let mut aff = AffineEngine::new(&net, layer).unwrap();
        let mut ad = AutodiffEngine::new(&net, layer, &default_device()).unwrap();
        let u: Vec<f32> = (0..3 * 784).map(|_| rng.random::<f32>()).collect();
        let g: Vec<f32> = (0..3 * 256).map(|_| rng.random::<f32>() - 0.5).collect();
        let (ya, yb) = (aff.forward(&u), ad.forward(&u));
        let (ga, gb) = (aff.vjp(&g), ad.vjp(&g));
        let max_y = ya
            .iter()
            .zip(&yb)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        let max_g = ga
            .iter()
            .zip(&gb)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(max_y < 1e-3 && max_g < 1e-3, "{max_y} {max_g}");
        assert!(AffineEngine::new(&net, net.collision_layer_index("fc2").unwrap()).is_none());
    }
}
