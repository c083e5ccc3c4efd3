//! The margin and the area under the margin (AUM) baseline.
//!
//! - `M(z, y) = z_y − max_{j≠y} z_j` for logits `z` and the assigned (possibly flipped)
//!   label `y`.
//! - AUM (Pleiss et al. 2020, "Identifying mislabeled data using the area under the margin
//!   ranking"): `AUM(x, y) = (1/E) Σ_{e=1..E} M(z_e(x), y)` with `z_e` the logits after
//!   epoch `e` (a gradient-free forward pass over the training set at each epoch's end).
//!   Low AUM is suspicious.
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::model::train::logits;
use crate::model::{Graph, ModelError};

/// `z_y − max_{j≠y} z_j` in f64 (`−∞` when `z` has one entry).
pub fn margin<T: Copy + Into<f64>>(z: &[T], y: usize) -> f64 {
    let other = z
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != y)
        .map(|(_, &v)| v.into())
        .fold(f64::NEG_INFINITY, f64::max);
    z[y].into() - other
}

/// The running area under the margin of every example of a training set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Aum {
    /// Epochs recorded.
    pub epochs: usize,
    /// `Σ_e M_e` per example.
    pub sums: Vec<f64>,
}

impl Aum {
    /// Adds the margins of `net` on `data` (its labels as assigned) as one more epoch.
    pub fn record(
        &mut self,
        net: &Graph,
        data: &Dataset,
        device: &burn::tensor::Device,
    ) -> Result<(), ModelError> {
        let z = logits(net, data, device)?;
        if self.sums.is_empty() {
            self.sums = vec![0.0; data.len()];
        }
        for ((s, z), &y) in self.sums.iter_mut().zip(&z).zip(&data.labels) {
            *s += margin(z, usize::from(y));
        }
        self.epochs += 1;
        Ok(())
    }

    /// `AUM = Σ_e M_e / E` per example (empty before the first epoch).
    pub fn values(&self) -> Vec<f64> {
        let e = self.epochs.max(1) as f64;
        self.sums.iter().map(|s| s / e).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_by_hand() {
        assert_eq!(margin(&[1.0, 3.0, 2.0], 1), 1.0);
        assert_eq!(margin(&[1.0, 3.0, 2.0], 0), -2.0);
    }

    #[test]
    fn aum_averages_the_epochs_margins() {
        let mut a = Aum {
            epochs: 2,
            sums: vec![1.0, -3.0],
        };
        assert_eq!(a.values(), vec![0.5, -1.5]);
        a.epochs = 0;
        a.sums.clear();
        assert!(a.values().is_empty());
    }
}
