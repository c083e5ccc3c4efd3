//! Distances that measure a polytope's size against the data:
//! mean pairwise L2 distance `2/(K(K−1)) Σ_{a<b} ‖v_a − v_b‖` of the vertices, and the mean
//! L2 distance between random pairs of distinct dataset images.
use rand::Rng;

/// L2 distance.
pub fn l2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Mean L2 distance over all pairs of rows of `points` (`[K, d]`); 0 for fewer than 2 rows.
pub fn mean_pairwise_l2(points: &[f32], d: usize) -> f64 {
    let rows: Vec<&[f32]> = points.chunks(d).collect();
    let (mut sum, mut count) = (0.0, 0usize);
    for a in 0..rows.len() {
        for b in a + 1..rows.len() {
            sum += l2(rows[a], rows[b]);
            count += 1;
        }
    }
    if count == 0 {
        0.0
    } else {
        sum / count as f64
    }
}

/// Mean L2 distance between `pairs` random pairs of distinct images of `images` (`[n, d]`).
pub fn dataset_pairwise_l2(images: &[f32], d: usize, pairs: usize, rng: &mut impl Rng) -> f64 {
    let n = images.len() / d;
    if n < 2 || pairs == 0 {
        return 0.0;
    }
    let mut sum = 0.0;
    for _ in 0..pairs {
        let a = rng.random_range(0..n);
        let mut b = rng.random_range(0..n - 1);
        if b >= a {
            b += 1;
        }
        sum += l2(&images[a * d..(a + 1) * d], &images[b * d..(b + 1) * d]);
    }
    sum / pairs as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn distances() {
        // Three corners of a right triangle with legs 3 and 4: (3 + 4 + 5) / 3.
        let pts = [0.0f32, 0.0, 3.0, 0.0, 0.0, 4.0];
        assert!((mean_pairwise_l2(&pts, 2) - 4.0).abs() < 1e-12);
        assert_eq!(mean_pairwise_l2(&pts[..2], 2), 0.0);
        // Two distinct points: every pair has distance 5.
        let two = [0.0f32, 0.0, 3.0, 4.0];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        assert!((dataset_pairwise_l2(&two, 2, 50, &mut rng) - 5.0).abs() < 1e-12);
    }
}
