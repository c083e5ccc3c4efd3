//! The per-example measures ([`Auditor::measure`]); the formulas are in the module docs of
//! [`crate::audit`].
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::error::AuditError;
use super::row::AuditRow;
use super::ValidAuditParams;
use crate::exact::{
    analyze, build_system, chebyshev_bisection, extents, forward, resolve_layer, ExactError,
    VertexLp,
};
use crate::model::Graph;
use crate::progress::Progress;

/// A deterministic 64-bit mix (splitmix64's finalizer) of the run's seed and an example's
/// index: the seed of that example's random directions, so that a value does not depend on
/// the order, the threads or the shard that computed it.
pub fn example_seed(seed: u64, index: usize) -> u64 {
    let mut z = seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Passes only the question "stop?" on to the exact engine (it draws no bars per example).
struct CancelOnly<'a>(&'a dyn Progress);

impl Progress for CancelOnly<'_> {
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64, _: &str) {}
    fn finish(&self) {}
    fn cancelled(&self) -> bool {
        self.0.cancelled()
    }
}

/// Computes the audit measures of examples of one network at one layer.
pub struct Auditor<'a> {
    net: &'a Graph,
    params: &'a ValidAuditParams,
    /// Node of the pre-activation at the collision layer, when an exact measure is asked for.
    layer_index: Option<usize>,
    d: usize,
}

impl<'a> Auditor<'a> {
    /// Checks the layer (a ReLU collision layer, when an exact measure is asked for).
    pub fn new(net: &'a Graph, params: &'a ValidAuditParams) -> Result<Self, AuditError> {
        net.collision_point(&params.layer)?;
        let layer_index = if params.measures.exact() {
            Some(resolve_layer(net, &params.layer)?)
        } else {
            None
        };
        Ok(Auditor {
            net,
            params,
            layer_index,
            d: net.input_len(),
        })
    }

    /// Whether the collision layer lies behind a nonlinearity (then the exact measures are
    /// those of the polytope inside the example's linear region: lower bounds).
    pub fn behind_nonlinearity(&self) -> Result<bool, AuditError> {
        let p = self.net.collision_point(&self.params.layer)?;
        Ok(!self.net.is_affine_upto(p.pre))
    }

    /// The measures of example `index` (`image` in raw pixels, `label` its class), or `None`
    /// when `cancel` asked to stop in the middle of it. A measure that fails (an LP the
    /// solver cannot finish) is left null and the reason goes into `error`; only an example
    /// the model cannot take is an `Err`.
    pub fn measure(
        &self,
        index: usize,
        image: &[f32],
        label: u8,
        cancel: &dyn Progress,
    ) -> Result<Option<AuditRow>, AuditError> {
        if image.len() != self.d {
            return Err(AuditError::Input(format!(
                "example {index} has {} values, the model takes {}",
                image.len(),
                self.d
            )));
        }
        if let Some(i) = image.iter().position(|v| !v.is_finite()) {
            return Err(AuditError::Input(format!(
                "example {index} holds {} at pixel {i}",
                image[i]
            )));
        }
        let t: Vec<f64> = image.iter().map(|&v| f64::from(v)).collect();
        let fwd = forward(self.net, &t)?;
        let z = fwd.logits();
        let y = usize::from(label);
        if y >= z.len() {
            return Err(AuditError::Input(format!(
                "example {index} has label {y}, the model has {} classes",
                z.len()
            )));
        }
        if let Some(j) = z.iter().position(|v| !v.is_finite()) {
            return Err(AuditError::Input(format!(
                "example {index}: logit {j} of the model is {}",
                z[j]
            )));
        }
        let zmax = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = zmax + z.iter().map(|&v| (v - zmax).exp()).sum::<f64>().ln();
        let predicted = crate::linalg::argmax(z).unwrap_or(0);
        let mut row = AuditRow {
            index: index as i64,
            label: y as i64,
            predicted: predicted as i64,
            confidence: (zmax - lse).exp(),
            loss: lse - z[y],
            margin: super::mislabel::margin(z, y),
            ..Default::default()
        };
        if let Some(li) = self.layer_index {
            let mut errors = Vec::new();
            match self.exact_measures(&t, li, index, &mut row, &mut errors, cancel) {
                Err(AuditError::Exact(ExactError::Cancelled { .. })) => return Ok(None),
                r => r?,
            }
            if !errors.is_empty() {
                row.error = Some(errors.join("; "));
            }
        }
        Ok(Some(row))
    }

    fn exact_measures(
        &self,
        t: &[f64],
        li: usize,
        index: usize,
        row: &mut AuditRow,
        errors: &mut Vec<String>,
        cancel: &dyn Progress,
    ) -> Result<(), AuditError> {
        let p = self.params;
        let sys = build_system(self.net, t, li, p.max_dense_entries)?;
        let sub = analyze(&sys, p.tol_rank, p.tol_ker);
        let a = &sub.analysis;
        row.n_plus = Some(a.n_plus as i64);
        row.n_zero = Some(a.n_zero as i64);
        row.rank = Some(a.rank as i64);
        row.affine_dim = Some(a.affine_dim as i64);
        row.region_rows = Some((sys.ineq.len() - sys.n_z_rows()) as i64);
        if p.measures.chebyshev {
            if cancel.cancelled() {
                return Err(ExactError::Cancelled {
                    phase: "the Chebyshev LP",
                }
                .into());
            }
            match chebyshev_bisection(&sys, &sub.null_basis, &p.lp) {
                Ok(c) => row.chebyshev_radius = Some(c.radius),
                Err(e) => errors.push(format!("chebyshev_radius: {e}")),
            }
        }
        if p.measures.extents {
            if sub.null_basis.is_empty() {
                // The subspace is the point t: every width is 0.
                row.mean_extent = Some(0.0);
            } else {
                let mut rng = ChaCha8Rng::seed_from_u64(example_seed(p.seed, index));
                let res = VertexLp::new(&sys, &p.lp).and_then(|mut lp| {
                    extents(
                        &mut lp,
                        &sys,
                        &sub.null_basis,
                        p.directions,
                        &mut rng,
                        &CancelOnly(cancel),
                    )
                });
                match res {
                    Ok(ext) if !ext.is_empty() => {
                        row.mean_extent =
                            Some(ext.iter().map(|e| e.width).sum::<f64>() / ext.len() as f64);
                    }
                    Ok(_) => row.mean_extent = Some(0.0),
                    Err(e @ ExactError::Cancelled { .. }) => return Err(e.into()),
                    Err(e) => errors.push(format!("mean_extent: {e}")),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_seeds_differ_and_repeat() {
        assert_eq!(example_seed(3, 7), example_seed(3, 7));
        let s: Vec<u64> = (0..100).map(|i| example_seed(0, i)).collect();
        for (i, a) in s.iter().enumerate() {
            assert!(!s[i + 1..].contains(a));
        }
        assert_ne!(example_seed(0, 1), example_seed(1, 1));
    }
}
