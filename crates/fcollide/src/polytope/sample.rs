//! Random points of the polytope: convex combinations `Σ_k w_k v_k` of the vertices with
//! weights `w ~ Dirichlet(1, …, 1)` (normalized i.i.d. `Exp(1)` draws), i.e. uniform on the
//! simplex.
use rand::Rng;
use rand_distr::{Distribution, Exp1};

/// `n` weight vectors of length `k`, each drawn uniformly from the simplex.
pub fn dirichlet_weights(k: usize, n: usize, rng: &mut impl Rng) -> Vec<Vec<f64>> {
    (0..n)
        .map(|_| {
            let e: Vec<f64> = (0..k).map(|_| Exp1.sample(rng)).collect();
            let s: f64 = e.iter().sum();
            e.iter().map(|x| x / s).collect()
        })
        .collect()
}

/// Convex combination of the rows of `vertices` (`[K, d]`) with `weights`, as `[d]`.
pub fn combine(vertices: &[f32], d: usize, weights: &[f64]) -> Vec<f32> {
    let mut out = vec![0.0f64; d];
    for (v, &w) in vertices.chunks(d).zip(weights) {
        for (o, &x) in out.iter_mut().zip(v) {
            *o += w * x as f64;
        }
    }
    out.into_iter().map(|x| x as f32).collect()
}

/// `n` random convex combinations of the vertices, `[n, d]` row-major.
pub fn sample_polytope(vertices: &[f32], d: usize, n: usize, rng: &mut impl Rng) -> Vec<f32> {
    let k = vertices.len() / d;
    dirichlet_weights(k, n, rng)
        .iter()
        .flat_map(|w| combine(vertices, d, w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn weights_lie_on_the_simplex_with_uniform_mean() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let w = dirichlet_weights(4, 20000, &mut rng);
        let mut mean = [0.0; 4];
        for row in &w {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(row.iter().all(|&x| x >= 0.0));
            for (m, x) in mean.iter_mut().zip(row) {
                *m += x / 20000.0;
            }
        }
        assert!(mean.iter().all(|m| (m - 0.25).abs() < 0.01), "{mean:?}");
        let v = [0.0f32, 0.0, 1.0, 2.0];
        assert_eq!(combine(&v, 2, &[0.5, 0.5]), vec![0.5, 1.0]);
    }
}
