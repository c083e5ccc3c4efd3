//! The AUROC of a score for finding the flipped labels (Mann–Whitney form), and its
//! standard error.
//!
//! With positives `P` (flipped) and negatives `N`,
//! `AUROC = (1/(|P||N|)) Σ_{p∈P} Σ_{q∈N} ([s_p > s_q] + ½[s_p = s_q])`, the probability that a
//! random flipped example scores higher than a random clean one, ties counting half.
//! Computed exactly: sort, and per group `g` of equal scores add `P_g · (2 N_below + N_g)`
//! to the integer `2U`; `AUROC = 2U / (2 |P||N|)`. `1 − AUROC` is the AUROC of the opposite
//! direction.

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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

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
}
