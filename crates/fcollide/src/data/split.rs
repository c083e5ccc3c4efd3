//! Seeded, stratified train/test splits.
//!
//! Each class gives its share of test items separately, so every class has
//! (within one item) the same test fraction as the whole set.
//!
//! **Rounding.** With `N` items and fraction `f`, exactly `T = round(f·N)`
//! items go to test (`round` = half away from zero). Class `c` with `n_c`
//! items first gets `floor(f·n_c)`; the `T − Σ floor(f·n_c)` items still owed
//! go one each to the classes with the largest fractional parts `f·n_c −
//! floor(f·n_c)` (ties: smaller label first) — the largest-remainder method.
//! So each class's test count is `floor(f·n_c)` or `ceil(f·n_c)`, and the
//! total is exact. For the embedded MNIST set (10,000 items, `f = 0.2`) this
//! gives exactly 2,000 test and 8,000 train items, which here coincides
//! with rounding each class separately.
use rand::seq::SliceRandom;
use rand::Rng;

/// Splits item indices into `(train, test)`, stratified by label.
///
/// Classes are processed in increasing label order; for each, its indices
/// (in increasing order) are shuffled with `rng`, and the first `k_c` go to
/// test, where `k_c` is set by the largest-remainder rule in the module docs.
/// Both returned lists are sorted ascending, so subsets keep the source order;
/// together they hold every index `0..labels.len()` exactly once.
///
/// `test_fraction` is clamped to `[0, 1]`; NaN counts as 0.
pub fn stratified_split(
    labels: &[u8],
    test_fraction: f64,
    rng: &mut impl Rng,
) -> (Vec<usize>, Vec<usize>) {
    let f = if test_fraction.is_nan() {
        0.0
    } else {
        test_fraction.clamp(0.0, 1.0)
    };

    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); 256];
    for (i, &l) in labels.iter().enumerate() {
        by_class[usize::from(l)].push(i);
    }

    let quota = test_counts(&by_class.iter().map(Vec::len).collect::<Vec<_>>(), f);

    let mut train = Vec::with_capacity(labels.len());
    let mut test = Vec::with_capacity(quota.iter().sum());
    for (mut members, k) in by_class.into_iter().zip(quota) {
        if members.is_empty() {
            continue;
        }
        members.shuffle(rng);
        test.extend_from_slice(&members[..k]);
        train.extend_from_slice(&members[k..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// Test items per class by the largest-remainder method (see module docs).
fn test_counts(class_sizes: &[usize], f: f64) -> Vec<usize> {
    let total: usize = class_sizes.iter().sum();
    let target = ((f * total as f64).round() as usize).min(total);
    let mut counts: Vec<usize> = class_sizes
        .iter()
        .map(|&n| ((f * n as f64).floor() as usize).min(n))
        .collect();
    let mut owed = target.saturating_sub(counts.iter().sum());
    let mut order: Vec<usize> = (0..class_sizes.len()).collect();
    let remainder = |c: usize| f * class_sizes[c] as f64 - counts[c] as f64;
    let remainders: Vec<f64> = order.iter().map(|&c| remainder(c)).collect();
    // Stable sort: equal remainders keep increasing label order.
    order.sort_by(|&a, &b| remainders[b].total_cmp(&remainders[a]));
    for c in order {
        if owed == 0 {
            break;
        }
        if counts[c] < class_sizes[c] {
            counts[c] += 1;
            owed -= 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn labels(sizes: &[usize]) -> Vec<u8> {
        // Interleave classes so the input is not sorted by class.
        let mut out = Vec::new();
        let mut left = sizes.to_vec();
        while left.iter().any(|&n| n > 0) {
            for (c, n) in left.iter_mut().enumerate() {
                if *n > 0 {
                    out.push(c as u8);
                    *n -= 1;
                }
            }
        }
        out
    }

    #[test]
    fn largest_remainder_counts() {
        // MNIST-embedded class sizes: per-class rounding already sums to 2000.
        let sizes = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
        let counts = test_counts(&sizes, 0.2);
        assert_eq!(counts, [200, 225, 198, 206, 196, 173, 203, 214, 189, 196]);
        assert_eq!(counts.iter().sum::<usize>(), 2000);
        // Three classes of 5 at 0.5: 7.5 rounds to 8; remainders tie, so the
        // first two classes (lowest labels) get the extra items.
        assert_eq!(test_counts(&[5, 5, 5], 0.5), [3, 3, 2]);
        assert_eq!(test_counts(&[3, 0, 1], 1.0), [3, 0, 1]);
        assert_eq!(test_counts(&[3, 0, 1], 0.0), [0, 0, 0]);
    }

    #[test]
    fn split_is_a_stratified_partition() {
        let labels = labels(&[10, 7, 3, 0, 1]);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (train, test) = stratified_split(&labels, 0.3, &mut rng);
        assert_eq!(test.len(), (0.3f64 * 21.0).round() as usize);
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
        assert!(train.windows(2).all(|w| w[0] < w[1]));
        assert!(test.windows(2).all(|w| w[0] < w[1]));
        for class in 0..5u8 {
            let n = labels.iter().filter(|&&l| l == class).count() as f64;
            let k = test.iter().filter(|&&i| labels[i] == class).count() as f64;
            assert!((k - 0.3 * n).abs() < 1.0, "class {class}: {k} of {n}");
        }
    }

    #[test]
    fn split_depends_only_on_seed() {
        let labels = labels(&[50, 50, 50]);
        let run = |seed| stratified_split(&labels, 0.2, &mut ChaCha8Rng::seed_from_u64(seed));
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn edge_fractions() {
        let labels = labels(&[4, 4]);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let (train, test) = stratified_split(&labels, 0.0, &mut rng);
        assert_eq!((train.len(), test.len()), (8, 0));
        let (train, test) = stratified_split(&labels, 1.0, &mut rng);
        assert_eq!((train.len(), test.len()), (0, 8));
        let (train, test) = stratified_split(&labels, f64::NAN, &mut rng);
        assert_eq!((train.len(), test.len()), (8, 0));
        let (train, test) = stratified_split(&labels, 7.0, &mut rng);
        assert_eq!((train.len(), test.len()), (0, 8));
        let (train, test) = stratified_split(&[], 0.5, &mut rng);
        assert!(train.is_empty() && test.is_empty());
    }
}
