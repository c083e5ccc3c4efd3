//! How outlying an example is: the L2 distance to the mean of its (assigned) class, and
//! the mean L2 distance to its `k` nearest other training examples (high: a rare,
//! low-density example).
use rayon::prelude::*;

use crate::data::Dataset;

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

    #[test]
    fn distances_by_hand() {
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
}
