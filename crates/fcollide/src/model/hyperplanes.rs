//! Unit hyperplanes of a network's layers (§5.2 of the paper).
//!
//! Unit `i` of a dense layer `y = W x + b` is the hyperplane `w_i·x + b_i = 0` of its input
//! space; unit `i` of a convolution is its filter `w_i` (flattened over
//! `[C_in / groups, kh, kw]`), one hyperplane per position. The collision polytope of a
//! layer is large where many units' hyperplanes are nearly collinear, and the paper proposes
//! to shrink it by penalizing positive cosine similarity between pairs of them:
//!
//! ```text
//!   cos(i, j) = w_i·w_j / (‖w_i‖ ‖w_j‖),   i < j,   penalty  Σ_{i<j} max(0, cos(i, j))
//! ```
//!
//! [`hyperplanes`] computes every pair's cosine for each weighted layer (`Linear`,
//! `Conv2d`) and summarizes it: mean, share of pairs above 0, 0.5 and 0.9, max, the mean of
//! `max(0, cos)` (the penalty per pair) and a histogram over `[−1, 1]`. Rows with a zero norm
//! (dead units) have no direction and are left out (counted). Layers with more than
//! `max_rows` units use a seeded sample of `max_rows` of them (recorded), which keeps a
//! VGG `fc6` (4,096 rows of 25,088) at seconds. Cosines are accumulated in f64.
use super::{Graph, Op};
use rand::seq::index::sample;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Histogram bins over `[−1, 1]`.
pub const BINS: usize = 40;

/// One layer's pairwise cosine similarities.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LayerHyperplanes {
    /// The node's name.
    pub layer: String,
    /// `Linear` or `Conv2d`.
    pub kind: String,
    /// Units of the layer (rows of `W`).
    pub units: usize,
    /// Length of each row.
    pub dim: usize,
    /// Rows with a zero norm, left out.
    pub zero_rows: usize,
    /// Rows the pairs were taken from (all nonzero rows, or a seeded sample of `max_rows`).
    pub rows_used: usize,
    /// Pairs `i < j` among them.
    pub pairs: usize,
    /// Mean cosine.
    pub mean: f64,
    /// Share of pairs with cosine > 0.
    pub share_positive: f64,
    /// Share with cosine > 0.5.
    pub share_above_0_5: f64,
    /// Share with cosine > 0.9.
    pub share_above_0_9: f64,
    /// Largest cosine.
    pub max: f64,
    /// Mean of `max(0, cos)`: the paper's penalty per pair.
    pub mean_positive_part: f64,
    /// `BINS + 1` edges over `[−1, 1]`.
    pub bin_edges: Vec<f64>,
    /// Pairs per bin.
    pub counts: Vec<usize>,
}

/// The rows of `W` of a weighted op, `(kind, rows, dim)`; `None` for other ops.
fn weight_rows(op: &Op) -> Option<(&'static str, &[f32], usize, usize)> {
    match op {
        Op::Linear {
            in_features,
            out_features,
            weight,
            ..
        } => Some(("Linear", weight, *out_features, *in_features)),
        Op::Conv2d {
            out_channels,
            weight,
            ..
        } if *out_channels > 0 => {
            Some(("Conv2d", weight, *out_channels, weight.len() / out_channels))
        }
        _ => None,
    }
}

/// The cosine similarities of every pair of unit hyperplanes of `w` (`[n, dim]`, row-major),
/// summarized (module docs); `max_rows` caps the rows used, sampled with `rng`.
pub fn layer_hyperplanes(
    (layer, kind): (&str, &str),
    w: &[f32],
    (n, dim): (usize, usize),
    max_rows: usize,
    rng: &mut impl Rng,
) -> LayerHyperplanes {
    let mut unit: Vec<Vec<f64>> = Vec::new();
    let mut zero_rows = 0;
    for i in 0..n {
        let row = &w[i * dim..(i + 1) * dim];
        let norm = row.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
        if norm > 0.0 && norm.is_finite() {
            unit.push(row.iter().map(|&x| x as f64 / norm).collect());
        } else {
            zero_rows += 1;
        }
    }
    if unit.len() > max_rows.max(2) {
        let mut keep = sample(rng, unit.len(), max_rows.max(2)).into_vec();
        keep.sort_unstable();
        unit = keep
            .into_iter()
            .map(|i| std::mem::take(&mut unit[i]))
            .collect();
    }
    let bin_edges: Vec<f64> = (0..=BINS)
        .map(|b| -1.0 + 2.0 * b as f64 / BINS as f64)
        .collect();
    let mut counts = vec![0usize; BINS];
    let (mut sum, mut pos_part, mut max) = (0.0, 0.0, f64::NEG_INFINITY);
    let (mut positive, mut above_half, mut above_09, mut pairs) = (0usize, 0usize, 0usize, 0usize);
    for i in 0..unit.len() {
        for j in i + 1..unit.len() {
            let c = crate::linalg::dot_f64(&unit[i], &unit[j]).clamp(-1.0, 1.0);
            pairs += 1;
            sum += c;
            pos_part += c.max(0.0);
            max = max.max(c);
            positive += (c > 0.0) as usize;
            above_half += (c > 0.5) as usize;
            above_09 += (c > 0.9) as usize;
            let b = (((c + 1.0) / 2.0) * BINS as f64).floor() as usize;
            counts[b.min(BINS - 1)] += 1;
        }
    }
    let share = |k: usize| {
        if pairs == 0 {
            0.0
        } else {
            k as f64 / pairs as f64
        }
    };
    LayerHyperplanes {
        layer: layer.to_string(),
        kind: kind.to_string(),
        units: n,
        dim,
        zero_rows,
        rows_used: unit.len(),
        pairs,
        mean: if pairs == 0 { 0.0 } else { sum / pairs as f64 },
        share_positive: share(positive),
        share_above_0_5: share(above_half),
        share_above_0_9: share(above_09),
        max: if pairs == 0 { 0.0 } else { max },
        mean_positive_part: if pairs == 0 {
            0.0
        } else {
            pos_part / pairs as f64
        },
        bin_edges,
        counts,
    }
}

/// [`layer_hyperplanes`] for every `Linear` and `Conv2d` node of `net`, in graph order.
pub fn hyperplanes(net: &Graph, max_rows: usize, rng: &mut impl Rng) -> Vec<LayerHyperplanes> {
    net.nodes
        .iter()
        .filter_map(|node| {
            let (kind, w, n, dim) = weight_rows(&node.op)?;
            Some(layer_hyperplanes(
                (&node.name, kind),
                w,
                (n, dim),
                max_rows,
                rng,
            ))
        })
        .collect()
}

/// The summaries as a Markdown table.
pub fn hyperplanes_table(layers: &[LayerHyperplanes]) -> crate::report::Table {
    let mut t = crate::report::Table::new(
        "Cosine similarity between unit hyperplanes (pairs i < j)",
        vec![
            "layer",
            "kind",
            "units",
            "dim",
            "rows used",
            "pairs",
            "mean",
            "> 0",
            "> 0.5",
            "> 0.9",
            "max",
            "mean max(0, cos)",
        ],
    );
    for l in layers {
        t.push_row(vec![
            l.layer.clone(),
            l.kind.clone(),
            l.units.to_string(),
            l.dim.to_string(),
            match l.zero_rows {
                0 => l.rows_used.to_string(),
                z => format!("{} ({z} zero)", l.rows_used),
            },
            l.pairs.to_string(),
            format!("{:.4}", l.mean),
            crate::report::fmt_pct(l.share_positive, 1),
            crate::report::fmt_pct(l.share_above_0_5, 2),
            crate::report::fmt_pct(l.share_above_0_9, 2),
            format!("{:.4}", l.max),
            format!("{:.4}", l.mean_positive_part),
        ]);
    }
    t
}

/// Writes `hyperplanes-{layer}.png` (and `.svg`) into `out` for every layer: the histogram
/// of its pairs' cosines over `[−1, 1]`.
pub fn save_histograms(
    layers: &[LayerHyperplanes],
    out: &std::path::Path,
) -> crate::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(out).map_err(|source| crate::Error::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    for l in layers {
        let h = crate::report::Histogram {
            edges: l.bin_edges.clone(),
            counts: l.counts.clone(),
        };
        let safe: String = l
            .layer
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = out.join(format!("hyperplanes-{safe}.png"));
        crate::report::Plot::new(format!("{}: {} unit hyperplanes", l.layer, l.rows_used))
            .with_size(720, 420)
            .with_histogram(&h)
            .with_x_label(format!("cos(w_i, w_j), {} pairs", l.pairs))
            .with_y_label("pairs")
            .save(&path)?;
        files.push(path);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn three_rows_by_hand() {
        // Rows (1, 0), (1, 1), (−1, 0), and a dead row: cosines 1/√2, −1, −1/√2.
        let w = [1.0, 0.0, 2.0, 2.0, -3.0, 0.0, 0.0, 0.0];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let l = layer_hyperplanes(("fc1", "Linear"), &w, (4, 2), 100, &mut rng);
        let r = std::f64::consts::FRAC_1_SQRT_2;
        assert_eq!(
            (l.units, l.dim, l.zero_rows, l.rows_used, l.pairs),
            (4, 2, 1, 3, 3)
        );
        assert!((l.mean - (r - 1.0 - r) / 3.0).abs() < 1e-12, "{l:?}");
        assert!((l.share_positive - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!((l.share_above_0_5, l.share_above_0_9), (1.0 / 3.0, 0.0));
        assert!((l.max - r).abs() < 1e-12);
        assert!((l.mean_positive_part - r / 3.0).abs() < 1e-12);
        // −1 in the first bin, −1/√2 in bin ⌊(1 − 0.7071)/2 · 40⌋ = 5, 1/√2 in bin 34.
        assert_eq!(l.counts.iter().sum::<usize>(), 3);
        assert_eq!(
            (l.counts[0], l.counts[5], l.counts[34]),
            (1, 1, 1),
            "{:?}",
            l.counts
        );
        assert_eq!(l.bin_edges.len(), BINS + 1);
    }

    #[test]
    fn a_sample_caps_the_rows_and_repeats_with_the_seed() {
        let n = 50;
        let w: Vec<f32> = (0..n * 3).map(|i| ((i * 7 % 11) as f32) - 5.0).collect();
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            layer_hyperplanes(("c", "Conv2d"), &w, (n, 3), 10, &mut rng)
        };
        let a = run(1);
        assert_eq!((a.rows_used, a.pairs), (10, 45));
        assert_eq!(a, run(1));
    }

    #[test]
    fn every_weighted_layer_of_a_network() {
        let net = crate::model::arch::lenet5(&mut ChaCha8Rng::seed_from_u64(0));
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let layers = hyperplanes(&net, 64, &mut rng);
        let names: Vec<&str> = layers.iter().map(|l| l.layer.as_str()).collect();
        assert_eq!(names, ["conv1", "conv2", "fc1", "fc2", "fc3"]);
        // conv2: 16 filters over 6 × 5 × 5 inputs.
        assert_eq!(
            (layers[1].units, layers[1].dim, layers[1].pairs),
            (16, 150, 120)
        );
        let md = hyperplanes_table(&layers).to_markdown();
        assert!(
            md.contains("conv2") && md.contains("mean max(0, cos)"),
            "{md}"
        );
    }
}
