//! Seeded label flips: of `n` examples, `m = round(rate · n)` distinct indices are drawn
//! uniformly without replacement; each gets the label `y' = (y + 1 + k) mod C` with
//! `k ~ U{0, …, C − 2}`, i.e. uniform over the `C − 1` other classes.
use rand::seq::index::sample;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::audit::error::AuditError;
use crate::data::Dataset;

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
}
