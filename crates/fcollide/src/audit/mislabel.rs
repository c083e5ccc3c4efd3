//! Mislabelled data (§5 of the paper, issue 16's experiment): seeded label flips, the area
//! under the margin (AUM) baseline, the AUROC of a score for finding the flipped labels, and
//! how outlying an example is.
//!
//! - **Flips** ([`flip_labels`]): of `n` examples, `m = round(rate · n)` distinct indices are
//!   drawn uniformly without replacement; each gets the label `y' = (y + 1 + k) mod C` with
//!   `k ~ U{0, …, C − 2}`, i.e. uniform over the `C − 1` other classes.
//! - **Margin** ([`margin`]): `M(z, y) = z_y − max_{j≠y} z_j` for logits `z` and the
//!   assigned (possibly flipped) label `y`.
//! - **AUM** ([`Aum`], Pleiss et al. 2020, "Identifying mislabeled data using the area under
//!   the margin ranking"): `AUM(x, y) = (1/E) Σ_{e=1..E} M(z_e(x), y)` with `z_e` the logits
//!   after epoch `e` (a gradient-free forward pass over the training set at each epoch's
//!   end). Low AUM is suspicious.
//! - **AUROC** ([`auroc`], Mann–Whitney form): with positives `P` (flipped) and negatives
//!   `N`, `AUROC = (1/(|P||N|)) Σ_{p∈P} Σ_{q∈N} ([s_p > s_q] + ½[s_p = s_q])`, the probability
//!   that a random flipped example scores higher than a random clean one, ties counting
//!   half. Computed exactly: sort, and per group `g` of equal scores add
//!   `P_g · (2 N_below + N_g)` to the integer `2U`; `AUROC = 2U / (2 |P||N|)`.
//!   `1 − AUROC` is the AUROC of the opposite direction.
//! - **Outlying** ([`class_mean_distances`], [`knn_distances`]): the L2 distance of an
//!   example to the mean of its (assigned) class, and the mean L2 distance to its `k`
//!   nearest other training examples (high: a rare, low-density example).
use rand::seq::index::sample;
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::AuditError;
use crate::data::Dataset;
use crate::model::train::logits;
use crate::model::{Graph, ModelError};

/// How many training labels are flipped, and with which seed; validate with
/// [`FlipParams::check`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlipParams {
    /// Fraction of the training labels flipped, in `(0, 1)`.
    pub rate: f64,
    /// Seed of the `ChaCha8Rng` that picks the flipped examples and their new labels.
    pub seed: u64,
}

impl Default for FlipParams {
    fn default() -> Self {
        FlipParams {
            rate: 0.05,
            seed: 0,
        }
    }
}

impl FlipParams {
    /// Errors unless `rate` is finite and in `(0, 1)` (naming `flip_rate`).
    pub fn check(&self) -> Result<(), AuditError> {
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate < 1.0) {
            return Err(AuditError::param(
                "flip_rate",
                format!("{}: must be in (0, 1)", self.rate),
            ));
        }
        Ok(())
    }
}

/// `data` with `round(rate · n)` labels flipped to a uniformly drawn other class of
/// `classes`, and the flipped indices (ascending). Errors when `classes < 2`, a label is
/// not below `classes`, or the rate is out of range.
pub fn flip_labels(
    data: &Dataset,
    flips: &FlipParams,
    classes: usize,
    rng: &mut impl Rng,
) -> Result<(Dataset, Vec<usize>), AuditError> {
    flips.check()?;
    if !(2..=256).contains(&classes) {
        return Err(AuditError::Input(format!(
            "flipping labels needs 2..=256 classes, the model has {classes}"
        )));
    }
    if let Some(i) = data.labels.iter().position(|&y| usize::from(y) >= classes) {
        return Err(AuditError::Input(format!(
            "{}: example {i} has label {}, the model has {classes} classes",
            data.name, data.labels[i]
        )));
    }
    let n = data.len();
    let m = ((flips.rate * n as f64).round() as usize).min(n);
    let mut idx = sample(rng, n, m).into_vec();
    idx.sort_unstable();
    let mut out = data.clone();
    for &i in &idx {
        let y = usize::from(data.labels[i]);
        let k = rng.random_range(0..classes - 1);
        out.labels[i] = ((y + 1 + k) % classes) as u8;
    }
    Ok((out, idx))
}

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

/// The exact AUROC of `scores` (larger = more likely positive) for the `positive` flags,
/// ties counting ½; `None` without a positive or a negative, or when a score is NaN.
pub fn auroc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), positive.len(), "one flag per score");
    if scores.iter().any(|s| s.is_nan()) {
        return None;
    }
    let n_pos = positive.iter().filter(|&&p| p).count() as u128;
    let n_neg = positive.len() as u128 - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut twice_u, mut neg_below) = (0u128, 0u128);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        let (mut p, mut q) = (0u128, 0u128);
        // -0.0 and 0.0 are one score.
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            if positive[order[j]] {
                p += 1;
            } else {
                q += 1;
            }
            j += 1;
        }
        twice_u += p * (2 * neg_below + q);
        neg_below += q;
        i = j;
    }
    Some(twice_u as f64 / (2 * n_pos * n_neg) as f64)
}

/// The standard error of an AUROC `a` from `n_pos` positives and `n_neg` negatives (Hanley
/// and McNeil 1982):
///
/// ```text
///   SE² = (a(1 − a) + (n_pos − 1)(Q1 − a²) + (n_neg − 1)(Q2 − a²)) / (n_pos · n_neg),
///   Q1 = a / (2 − a),  Q2 = 2a² / (1 + a).
/// ```
///
/// An approximation (it models the scores as exponentially distributed, the positives'
/// higher), so it is taken at `max(a, 1 − a)`: negating the scores turns `a` into `1 − a`
/// and leaves the variance of the pair count unchanged, and the SE is the same for both
/// directions. `a ± 2·SE` is the rough band outside which an AUROC differs from another.
/// `None` without a positive or a negative.
pub fn auroc_se(a: f64, n_pos: usize, n_neg: usize) -> Option<f64> {
    if n_pos == 0 || n_neg == 0 || !(0.0..=1.0).contains(&a) {
        return None;
    }
    let a = a.max(1.0 - a);
    let (p, n) = (n_pos as f64, n_neg as f64);
    let q1 = a / (2.0 - a);
    let q2 = 2.0 * a * a / (1.0 + a);
    let v = (a * (1.0 - a) + (p - 1.0) * (q1 - a * a) + (n - 1.0) * (q2 - a * a)) / (p * n);
    Some(v.max(0.0).sqrt())
}

/// The L2 distance of each example in `indices` to the mean image of its class in `data`
/// (the labels as `data` assigns them).
pub fn class_mean_distances(data: &Dataset, indices: &[usize]) -> Vec<f64> {
    let d = data.image_len();
    let mut sums = vec![vec![0.0f64; d]; 256];
    let mut counts = vec![0usize; 256];
    for i in 0..data.len() {
        let y = usize::from(data.label(i));
        counts[y] += 1;
        for (s, &x) in sums[y].iter_mut().zip(data.image(i)) {
            *s += f64::from(x);
        }
    }
    indices
        .iter()
        .map(|&i| {
            let y = usize::from(data.label(i));
            let c = counts[y] as f64;
            data.image(i)
                .iter()
                .zip(&sums[y])
                .map(|(&x, &s)| (f64::from(x) - s / c).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .collect()
}

/// The mean L2 distance of each example in `indices` to its `k` nearest other examples of
/// `data` (brute force, in parallel; fewer when `data` has fewer than `k + 1` examples).
pub fn knn_distances(data: &Dataset, indices: &[usize], k: usize) -> Vec<f64> {
    indices
        .par_iter()
        .map(|&i| {
            let a = data.image(i);
            let mut best: Vec<f64> = Vec::with_capacity(k + 1);
            for j in (0..data.len()).filter(|&j| j != i) {
                let d2: f64 = a
                    .iter()
                    .zip(data.image(j))
                    .map(|(&x, &y)| f64::from(x - y).powi(2))
                    .sum();
                if best.len() < k || d2 < best[best.len() - 1] {
                    let at = best.partition_point(|&b| b <= d2);
                    best.insert(at, d2);
                    best.truncate(k);
                }
            }
            match best.len() {
                0 => f64::NAN,
                n => best.iter().map(|d| d.sqrt()).sum::<f64>() / n as f64,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn data(n: usize) -> Dataset {
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        Dataset::new(vec![0.5; n], labels, [1, 1, 1], "t/train").unwrap()
    }

    #[test]
    fn flips_the_exact_count_to_other_classes_deterministically() {
        let d = data(1000);
        let p = FlipParams {
            rate: 0.05,
            seed: 3,
        };
        let run = |seed| flip_labels(&d, &p, 10, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
        let (noisy, idx) = run(3);
        assert_eq!(idx.len(), 50);
        assert!(idx.windows(2).all(|w| w[0] < w[1]));
        for i in 0..d.len() {
            assert_eq!(
                noisy.labels[i] != d.labels[i],
                idx.binary_search(&i).is_ok()
            );
        }
        assert_eq!(noisy.images, d.images);
        assert_eq!(run(3), (noisy.clone(), idx.clone()));
        assert_ne!(run(4).1, idx);
        // Over many flips every other class turns up.
        let (noisy, idx) = flip_labels(
            &d,
            &FlipParams { rate: 0.9, seed: 0 },
            10,
            &mut ChaCha8Rng::seed_from_u64(0),
        )
        .unwrap();
        assert_eq!(idx.len(), 900);
        let mut seen = [false; 10];
        for &i in idx.iter().filter(|&&i| d.labels[i] == 0) {
            seen[usize::from(noisy.labels[i])] = true;
        }
        assert_eq!(
            seen,
            [false, true, true, true, true, true, true, true, true, true]
        );
        // Two classes: every flip goes to the other one.
        let two = Dataset::new(
            vec![0.0; 10],
            vec![0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
            [1, 1, 1],
            "b",
        )
        .unwrap();
        let (n2, i2) = flip_labels(
            &two,
            &FlipParams { rate: 0.5, seed: 1 },
            2,
            &mut ChaCha8Rng::seed_from_u64(1),
        )
        .unwrap();
        assert_eq!(i2.len(), 5);
        for &i in &i2 {
            assert_eq!(n2.labels[i], 1 - two.labels[i]);
        }
    }

    #[test]
    fn bad_flips_are_named() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for rate in [0.0, 1.0, -0.1, f64::NAN] {
            let e = flip_labels(&data(10), &FlipParams { rate, seed: 0 }, 10, &mut rng)
                .unwrap_err()
                .to_string();
            assert!(e.contains("flip_rate"), "{e}");
        }
        let e = flip_labels(&data(10), &FlipParams::default(), 5, &mut rng)
            .unwrap_err()
            .to_string();
        assert!(e.contains("label 5") && e.contains("5 classes"), "{e}");
    }

    /// Hanley–McNeil by hand: at a = 0.5, Q1 = Q2 = 1/3, so with 10 positives and 10
    /// negatives SE² = (0.25 + 9/12 + 9/12)/100 = 0.0175; a perfect AUROC has SE 0 (and so
    /// has its reverse); the SE shrinks with more examples.
    #[test]
    fn auroc_standard_error() {
        let se = auroc_se(0.5, 10, 10).unwrap();
        assert!((se - 0.0175f64.sqrt()).abs() < 1e-15, "{se}");
        assert_eq!(auroc_se(1.0, 5, 7), Some(0.0));
        assert_eq!(auroc_se(0.0, 5, 7), Some(0.0));
        // Both directions of one score: one SE.
        assert_eq!(auroc_se(0.3, 10, 20), auroc_se(0.7, 10, 20));
        assert!(auroc_se(0.7, 100, 1000).unwrap() < auroc_se(0.7, 10, 100).unwrap());
        assert_eq!(auroc_se(0.7, 0, 10), None);
        assert_eq!(auroc_se(f64::NAN, 3, 10), None);
    }

    #[test]
    fn auroc_by_hand() {
        let t = [true, false];
        // Perfect, reversed, all tied.
        assert_eq!(auroc(&[1.0, 0.0], &t), Some(1.0));
        assert_eq!(auroc(&[0.0, 1.0], &t), Some(0.0));
        assert_eq!(auroc(&[2.0, 2.0, 2.0], &[true, false, false]), Some(0.5));
        // Positives {3, 1}, negatives {2, 1, 0}: pairs (3,·) = 3 wins; (1,2) loss, (1,1)
        // tie, (1,0) win: (3 + 1 + ½) / 6 = 0.75.
        let s = [3.0, 1.0, 2.0, 1.0, 0.0];
        let p = [true, true, false, false, false];
        assert_eq!(auroc(&s, &p), Some(0.75));
        // The other direction is 1 − AUROC.
        let neg: Vec<f64> = s.iter().map(|x| -x).collect();
        assert_eq!(auroc(&neg, &p), Some(0.25));
        // -0 and 0 tie.
        assert_eq!(auroc(&[0.0, -0.0], &t), Some(0.5));
        // Undefined without both classes or with NaN.
        assert_eq!(auroc(&[1.0, 2.0], &[true, true]), None);
        assert_eq!(auroc(&[1.0, 2.0], &[false, false]), None);
        assert_eq!(auroc(&[f64::NAN, 2.0], &t), None);
    }

    #[test]
    fn auroc_equals_the_pair_count() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let s: Vec<f64> = (0..300)
            .map(|_| f64::from(rng.random_range(0..20u8)))
            .collect();
        let p: Vec<bool> = (0..300).map(|_| rng.random_bool(0.2)).collect();
        let (mut num, mut den) = (0.0, 0.0);
        for i in (0..300).filter(|&i| p[i]) {
            for j in (0..300).filter(|&j| !p[j]) {
                den += 1.0;
                num += if s[i] > s[j] {
                    1.0
                } else if s[i] == s[j] {
                    0.5
                } else {
                    0.0
                };
            }
        }
        assert!((auroc(&s, &p).unwrap() - num / den).abs() < 1e-12);
    }

    #[test]
    fn margins_and_distances_by_hand() {
        assert_eq!(margin(&[1.0, 3.0, 2.0], 1), 1.0);
        assert_eq!(margin(&[1.0, 3.0, 2.0], 0), -2.0);
        // Class 0: (0,0) and (2,0), mean (1,0); class 1: (0,3) alone.
        let d = Dataset::new(
            vec![0.0, 0.0, 2.0, 0.0, 0.0, 3.0],
            vec![0, 0, 1],
            [1, 1, 2],
            "t",
        )
        .unwrap();
        assert_eq!(class_mean_distances(&d, &[0, 1, 2]), vec![1.0, 1.0, 0.0]);
        // Nearest others: 0 → 2 (2.0), 1 → 0 (2.0), 2 → 0 (3.0); k = 2 averages two.
        assert_eq!(knn_distances(&d, &[0, 1, 2], 1), vec![2.0, 2.0, 3.0]);
        let two = knn_distances(&d, &[0], 2)[0];
        assert!((two - 2.5).abs() < 1e-12, "{two}");
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
