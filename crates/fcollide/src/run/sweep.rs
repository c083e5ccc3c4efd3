//! Layer sweep: the same vertex search from the target at several layers, reporting per layer
//! the verdict (with the certified error bound when the hull is certified), the share of
//! samples in the target's class, the feature error and the vertex spread — how collision
//! volume changes with depth.
//! Dense layers use the first `K` units of `Z`, conv layers units spread evenly over `Z`.
use crate::collide::{find_vertices, UnitChoice, VertexParams};
use crate::model::{Graph, Op};
use crate::polytope::{dataset_pairwise_l2, verify};
use crate::progress::Progress;
use crate::report::{fmt_num, fmt_pct, Plot, Table};
use crate::Result;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One layer's figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepRow {
    /// Layer name.
    pub layer: String,
    /// Position among the network's layers.
    pub index: usize,
    /// Units `N` and `N+`.
    pub n_units: usize,
    /// `|P|`.
    pub n_plus: usize,
    /// Fraction of samples in the target's class.
    #[serde(alias = "success_rate")]
    pub class_agreement: f64,
    /// `collides`, `approximate` or `failed`.
    pub verdict: crate::polytope::Verdict,
    /// Whether the hull is certified.
    pub certified: bool,
    /// The certified bound on every hull point's feature error, when certified.
    #[serde(default)]
    pub certified_error_bound: Option<f64>,
    /// Mean top-class probability of samples.
    pub sample_confidence_mean: f64,
    /// Feature error over samples: mean and max.
    pub feature_rel_err_mean: f64,
    /// Max over samples.
    pub feature_rel_err_max: f64,
    /// Max over vertices.
    pub vertex_feature_rel_err_max: f64,
    /// Mean pairwise L2 distance between vertices.
    pub vertex_pairwise_l2: f64,
    /// Over the dataset distance.
    pub vertex_to_dataset_ratio: f64,
    /// Seconds of vertex search.
    pub vertex_seconds: f64,
    /// Gradient engine.
    pub engine: String,
}

/// What a sweep produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepRecord {
    /// Network.
    pub arch: String,
    /// Search parameters (the layer is per row).
    pub params: VertexParams,
    /// Samples per layer.
    pub samples: usize,
    /// Seed.
    pub seed: u64,
    /// Dataset distance.
    pub dataset_pairwise_l2: f64,
    /// Rows in layer order.
    pub rows: Vec<SweepRow>,
}

/// Runs the sweep and writes `sweep.json`, `sweep.md` and `sweep.png` into `out`.
#[allow(clippy::too_many_arguments)]
pub fn sweep(
    net: &Graph,
    target: &[f32],
    layers: &[String],
    params: &VertexParams,
    samples: usize,
    dataset: &[f32],
    seed: u64,
    (out, device): (&Path, &burn::tensor::Device),
    progress: &dyn Progress,
) -> Result<SweepRecord> {
    std::fs::create_dir_all(out).map_err(|source| crate::Error::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let d = net.input_len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ds = dataset_pairwise_l2(dataset, d, 10_000, &mut rng);
    let mut rows = Vec::new();
    for layer in layers {
        let index = net.collision_layer_index(layer)?;
        let conv = matches!(net.nodes[index].op, Op::Conv2d { .. });
        let vp = VertexParams {
            layer: layer.clone(),
            unit_choice: if conv {
                UnitChoice::Spread
            } else {
                params.unit_choice
            },
            ..params.clone()
        }
        .check()?;
        let set = find_vertices(net, target, target, &vp, device, progress)?;
        let mut srng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(index as u64));
        let (v, _) = verify(net, target, &set, samples, device, &mut srng)?;
        rows.push(SweepRow {
            layer: layer.clone(),
            index,
            n_units: set.n_units,
            n_plus: set.n_plus,
            class_agreement: v.class_agreement,
            verdict: v.verdict,
            certified: v.certified,
            certified_error_bound: v.certified_error_bound,
            sample_confidence_mean: v.sample_confidence_mean,
            feature_rel_err_mean: v.feature_rel_err_mean,
            feature_rel_err_max: v.feature_rel_err_max,
            vertex_feature_rel_err_max: v.vertex_feature_rel_err_max,
            vertex_pairwise_l2: v.vertex_pairwise_l2,
            vertex_to_dataset_ratio: v.vertex_pairwise_l2 / ds.max(1e-12),
            vertex_seconds: set.seconds,
            engine: set.engine.clone(),
        });
    }
    rows.sort_by_key(|r| r.index);
    let record = SweepRecord {
        arch: net.arch.clone(),
        params: params.clone(),
        samples,
        seed,
        dataset_pairwise_l2: ds,
        rows,
    };
    let json = serde_json::to_string_pretty(&record).expect("record serializes");
    crate::report::write_atomic(out.join("sweep.json"), json.as_bytes())?;
    let table = sweep_table(&record);
    let md = format!(
        "# Layer sweep ({})\n\n{}\n\nVertices from the target, K = {}, {} samples per layer, seed {}. \
         Spread: mean pairwise vertex L2 / mean L2 between random dataset images ({}).\n\n\
         ![spread and feature error vs depth](sweep.png) (vector version: `sweep.svg`)\n",
        record.arch,
        table.to_markdown(),
        params.vertices,
        samples,
        seed,
        fmt_num(ds, 3)
    );
    crate::report::write_atomic(out.join("sweep.md"), md.as_bytes())?;
    let names: Vec<String> = record.rows.iter().map(|r| r.layer.clone()).collect();
    // One log axis: spreads, errors and shares differ by orders of magnitude (a zero, such
    // as no spread where |P| ≥ d, is left out of the line).
    Plot::new(format!(
        "Spread and feature error by layer ({})",
        record.arch
    ))
    .with_size(720, 440)
    .with_log_y(true)
    .with_categories(names)
    .with_x_label("collision layer")
    .with_y_label("ratio (log scale)")
    .with_series(
        "vertex spread / dataset spread",
        &record
            .rows
            .iter()
            .map(|r| r.vertex_to_dataset_ratio)
            .collect::<Vec<_>>(),
    )
    .with_series(
        "samples' relative feature error (mean)",
        &record
            .rows
            .iter()
            .map(|r| r.feature_rel_err_mean)
            .collect::<Vec<_>>(),
    )
    .with_series(
        "samples in the target's class (share)",
        &record
            .rows
            .iter()
            .map(|r| r.class_agreement)
            .collect::<Vec<_>>(),
    )
    .save(out.join("sweep.png"))?;
    Ok(record)
}

/// The sweep as a table.
pub fn sweep_table(record: &SweepRecord) -> Table {
    let mut t = Table::new(
        "Collisions by layer",
        vec![
            "layer",
            "units",
            "N+",
            "verdict",
            "class agreement",
            "sample conf.",
            "feature err. mean",
            "feature err. max",
            "vertex err. max",
            "vertex L2",
            "spread",
            "seconds",
        ],
    );
    for r in &record.rows {
        t.push_row(vec![
            r.layer.clone(),
            r.n_units.to_string(),
            r.n_plus.to_string(),
            super::record::verdict_cell(r.verdict, r.certified, r.certified_error_bound),
            fmt_pct(r.class_agreement, 1),
            fmt_num(r.sample_confidence_mean, 4),
            format!("{:.2e}", r.feature_rel_err_mean),
            format!("{:.2e}", r.feature_rel_err_max),
            format!("{:.2e}", r.vertex_feature_rel_err_max),
            fmt_num(r.vertex_pairwise_l2, 3),
            fmt_pct(r.vertex_to_dataset_ratio, 1),
            fmt_num(r.vertex_seconds, 2),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::polytope::Verdict;

    fn row(verdict: Verdict, certified: bool, bound: Option<f64>) -> SweepRow {
        SweepRow {
            layer: "fc1".into(),
            index: 3,
            n_units: 120,
            n_plus: 51,
            class_agreement: 0.5,
            verdict,
            certified,
            certified_error_bound: bound,
            sample_confidence_mean: 0.9,
            feature_rel_err_mean: 1e-3,
            feature_rel_err_max: 2e-3,
            vertex_feature_rel_err_max: 1e-4,
            vertex_pairwise_l2: 0.4,
            vertex_to_dataset_ratio: 0.04,
            vertex_seconds: 1.0,
            engine: "autodiff".into(),
        }
    }

    #[test]
    fn the_table_states_each_verdict_and_calls_class_agreement_by_its_name() {
        let record = SweepRecord {
            arch: "lenet5".into(),
            params: VertexParams::default(),
            samples: 10,
            seed: 0,
            dataset_pairwise_l2: 10.0,
            rows: vec![
                row(Verdict::Collides, true, Some(1.3e-8)),
                row(Verdict::Collides, false, None),
                row(Verdict::Approximate, false, None),
            ],
        };
        let md = sweep_table(&record).to_markdown();
        assert!(
            md.contains("class agreement") && !md.contains("success"),
            "{md}"
        );
        assert!(md.contains("collides (certified ≤ 1.3e-8)"), "{md}");
        assert!(md.contains("collides (sampled)"), "{md}");
        assert!(md.contains("approximate"), "{md}");
        assert!(md.contains("50.0%"), "{md}");
    }
}
