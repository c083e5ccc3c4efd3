//! The steps the experiments are composed of: load the data, load or train the model, pick
//! the target and row 2's start, plan the rows, run a gradient row (search, verify with `N`
//! random convex combinations, write its vertex file), and finish (fill in the record's rows
//! and time, write `results.json`, the reports and the pictures).
//!
//! Each step takes only what it uses. Every random step draws from its own `ChaCha8Rng`
//! seeded from the run's seed (`seed + 1`: the dataset distance; `seed + 100 + r`: row `r`'s
//! polytope samples; `seed + 200 + r`: row `r`'s union-of-regions samples), so the same seed
//! gives the same vertices and figures whatever the order the steps run in.
use super::cache::{self, CacheReport, DataFingerprint, TrainKey};
use super::params::{MnistParams, RunParams};
use super::record::{
    DatasetFacts, ExactRow, MachineInfo, ModelFacts, PatchDbFacts, RowRecord, RunRecord,
    TargetFacts, UnionSpread,
};
use crate::collide::io::{save_vertices, VertexFile};
use crate::collide::{
    find_vertices, find_vertices_in, Parameterization, RegionMode, UnitChoice, ValidVertexParams,
    VertexParams, VertexSet,
};
use crate::data::{self, Dataset};
use crate::model::train::{train, TrainReport};
use crate::model::{arch, io as model_io, Graph};
use crate::polytope::{dataset_pairwise_l2, verify, verify_with_progress};
use crate::progress::Progress;
use crate::{Error, Result};
use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::time::Instant;

/// Creates the output folder.
pub fn create_out(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|source| Error::Io {
        path: out.to_path_buf(),
        source,
    })
}

/// `(train, test)`: the MNIST-layout IDX files in `data_dir`, else the embedded digits split
/// with `seed`.
pub fn load_data(data_dir: Option<&Path>, seed: u64) -> Result<(Dataset, Dataset)> {
    Ok(match data_dir {
        Some(dir) => Dataset::from_idx_dir(dir)?,
        None => data::mnist_split(seed)?,
    })
}

/// Refuses a patch database or index given to a run that does not search patch space.
pub fn no_patch_files(p: &MnistParams) -> Result<()> {
    match (&p.patch_db, &p.patch_index) {
        (Some(path), _) => Err(Error::Msg(format!(
            "{}: a patch database is only used by `reproduce patches`",
            path.display()
        ))),
        (None, Some(_)) => Err(Error::Msg(
            "a patch index needs the patch database it indexes".into(),
        )),
        (None, None) => Ok(()),
    }
}

/// Trains or loads the model as `reproduce mnist` does: `p.weights` if given, else the cached
/// `out/model-{arch}.safetensors` unless `p.retrain`, else the `p.arch` template initialized
/// and trained with one `ChaCha8Rng` seeded by `p.seed` (and cached). Returns
/// `(network, facts for the record)`. Public so that other front ends (the Python package)
/// get the same model bit for bit.
pub fn get_model(
    p: &MnistParams,
    train_set: &Dataset,
    test_set: &Dataset,
    out: &Path,
    device: &Device,
    progress: &dyn Progress,
) -> Result<(Graph, ModelFacts)> {
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let template = arch::by_name(&p.arch, &mut rng)?;
    let cache_path = out.join(format!("model-{}.safetensors", p.arch));
    let key = TrainKey {
        arch: p.arch.clone(),
        seed: p.seed,
        data: DataFingerprint::of(train_set),
        train: p.train.clone(),
        device: p.device.clone(),
        flips: None,
    };
    let report_for = |status: &str, reason: String| CacheReport {
        status: status.into(),
        reason,
        path: cache_path.display().to_string(),
        key: key.clone(),
    };
    let (net, source, report, cache_report) = if let Some(w) = &p.weights {
        (
            model_io::load(w, Some(&template))?,
            w.display().to_string(),
            None,
            None,
        )
    } else {
        let cached = match p.retrain {
            true => Err("retraining was asked for".to_string()),
            false => cache::lookup(&cache_path, &key, &template),
        };
        match cached {
            Ok(net) => (
                net,
                format!("cached: {}", cache_path.display()),
                None,
                Some(report_for(
                    "reused",
                    "same training data, seed, architecture, training parameters and device".into(),
                )),
            ),
            Err(reason) => {
                let params = p.train.clone().check()?;
                let (net, report): (Graph, TrainReport) = train(
                    &template,
                    (train_set, test_set),
                    &params,
                    device,
                    &mut rng,
                    progress,
                )?;
                cache::store(&net, &cache_path, &key)?;
                (
                    net,
                    format!("trained: {}", cache_path.display()),
                    Some(report),
                    Some(report_for("trained", reason)),
                )
            }
        }
    };
    let acc = match &report {
        Some(r) => r.test_accuracy,
        None => crate::model::train::accuracy(&net, test_set, device)?,
    };
    let facts = ModelFacts {
        arch: net.arch.clone(),
        layers: net.nodes.iter().skip(1).map(|l| l.name.clone()).collect(),
        source,
        test_accuracy: Some(acc),
        train: report,
        cache: cache_report,
        input_shape: Some(net.input_shape),
    };
    Ok((net, facts))
}

/// Refuses a model whose input is not the data's image shape.
pub fn check_shape(data: &Dataset, net: &Graph) -> Result<()> {
    match data.shape == net.input_shape {
        true => Ok(()),
        false => Err(Error::Msg(format!(
            "data images are {:?} but the model expects {:?}",
            data.shape, net.input_shape
        ))),
    }
}

/// The test-split index of the target: `index` if given, else the first image of `class`.
pub fn pick_target(test: &Dataset, index: Option<usize>, class: u8) -> Result<usize> {
    match index {
        Some(i) if i < test.len() => Ok(i),
        Some(i) => Err(Error::Msg(format!(
            "target index {i} is out of range: the test split has {} images",
            test.len()
        ))),
        None => (0..test.len())
            .find(|&i| test.label(i) == class)
            .ok_or_else(|| Error::Msg(format!("no test image of class {class}"))),
    }
}

/// The test-split index of row 2's start: `index` if given, else the first image of another
/// class than the target's after the target (wrapping around).
pub fn pick_other(test: &Dataset, index: Option<usize>, target: usize) -> Result<usize> {
    let target_label = test.label(target);
    match index {
        Some(i) if i < test.len() => Ok(i),
        Some(i) => Err(Error::Msg(format!(
            "index {i} of row 2's start image is out of range: the test split has {} images",
            test.len()
        ))),
        None => (target + 1..test.len())
            .chain(0..target)
            .find(|&i| test.label(i) != target_label)
            .ok_or_else(|| Error::Msg("no test image of another class".into())),
    }
}

/// The mean L2 distance between `pairs` random pairs of test images (drawn with `seed + 1`),
/// the yardstick of the vertices' spread.
pub fn dataset_distance(test: &Dataset, pairs: usize, seed: u64) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(1));
    dataset_pairwise_l2(&test.images, test.image_len(), pairs, &mut rng)
}

/// One row to run: its name, how its start is named, the start's test-split index, and its
/// vertex search.
pub struct RowPlan {
    /// `row 1: from the target`, …
    pub name: String,
    /// `target` or `index:N`.
    pub init_name: String,
    /// Test-split index of the start image.
    pub index: usize,
    /// The row's vertex search.
    pub vertex: ValidVertexParams,
}

/// The paper's rows: row 1 from the target, row 2 from test image `other`, both with
/// `vertex`; with `extra_layer`, a row 3 from the target at that layer with its units spread
/// over `Z`.
pub fn row_plans(
    vertex: &ValidVertexParams,
    (target, other): (usize, usize),
    extra_layer: Option<&str>,
) -> Result<Vec<RowPlan>> {
    let mut plans = vec![
        RowPlan {
            name: "row 1: from the target".into(),
            init_name: "target".into(),
            index: target,
            vertex: vertex.clone(),
        },
        RowPlan {
            name: "row 2: from another example".into(),
            init_name: format!("index:{other}"),
            index: other,
            vertex: vertex.clone(),
        },
    ];
    if let Some(layer) = extra_layer {
        plans.push(RowPlan {
            name: format!("row 3: from the target at {layer}"),
            init_name: "target".into(),
            index: target,
            vertex: VertexParams {
                layer: layer.to_string(),
                unit_choice: UnitChoice::Spread,
                ..(**vertex).clone()
            }
            .check()?,
        });
    }
    Ok(plans)
}

/// A finished gradient row: its record, its vertices with their polytope samples, and its
/// start image.
pub struct Row {
    /// What `results.json` keeps.
    pub record: RowRecord,
    /// The vertices.
    pub set: VertexSet,
    /// The polytope samples, `[N, d]`.
    pub samples: Vec<f32>,
    /// The start image.
    pub init: Vec<f32>,
}

/// What every row of a run shares.
pub struct Rows<'a> {
    /// The network.
    pub net: &'a Graph,
    /// Where it runs.
    pub device: &'a Device,
    /// The progress display.
    pub progress: &'a dyn Progress,
    /// The target image.
    pub target: &'a [f32],
    /// The output folder (vertex files).
    pub out: &'a Path,
    /// The run's seed.
    pub seed: u64,
    /// Polytope samples per row.
    pub samples: usize,
    /// The dataset distance the spreads are measured against.
    pub dataset_l2: f64,
}

impl<'a> Rows<'a> {
    /// The rows of digits run `p` (its seed and sample count) on `net` toward `target`,
    /// writing into `out`.
    pub fn new(
        p: &MnistParams,
        (net, device): (&'a Graph, &'a Device),
        target: &'a [f32],
        dataset_l2: f64,
        out: &'a Path,
        progress: &'a dyn Progress,
    ) -> Self {
        Rows {
            net,
            device,
            progress,
            target,
            out,
            seed: p.seed,
            samples: p.samples,
            dataset_l2,
        }
    }
}

impl Rows<'_> {
    /// Runs row `r` (0-based) of `plan` from `init`: finds its vertices (in pixel space, or in
    /// `space`), verifies the polytope with [`Rows::samples`] random convex combinations drawn
    /// with `seed + 100 + r`, and writes `vertices-row{r+1}.safetensors`. `init_class` is the
    /// start image's class.
    pub fn gradient_row(
        &self,
        r: usize,
        plan: &RowPlan,
        (init, init_class): (Vec<f32>, usize),
        space: Option<&dyn Parameterization>,
    ) -> Result<Row> {
        let (net, device, progress) = (self.net, self.device, self.progress);
        let vp = &plan.vertex;
        let set = match space {
            Some(space) => {
                let io = (self.target, &init[..]);
                find_vertices_in(net, io, vp, device, progress, None, space)?
            }
            None => find_vertices(net, self.target, &init, vp, device, progress)?,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed.wrapping_add(100 + r as u64));
        let n = self.samples;
        let (v, samples) =
            verify_with_progress(net, self.target, &set, n, device, &mut rng, progress)?;
        let file = save_row_vertices(self.out, r, &set, (self.target, &init), vp)?;
        let names = (&plan.name[..], &plan.init_name[..], init_class);
        let record = RowRecord::new(names, &set, v, self.dataset_l2, file);
        Ok(Row {
            record,
            set,
            samples,
            init,
        })
    }

    /// For a region-locked row `r`, also runs the free (union-of-regions) search from the
    /// same start and records its spread and verdict beside the locked one (its samples drawn
    /// with `seed + 200 + r`).
    pub fn union_spread(&self, r: usize, plan: &RowPlan, row: &mut Row) -> Result<()> {
        if !row.set.region_locked {
            return Ok(());
        }
        let free = VertexParams {
            region: RegionMode::Free,
            ..(*plan.vertex).clone()
        }
        .check()?;
        let (net, device) = (self.net, self.device);
        let fset = find_vertices(net, self.target, &row.init, &free, device, self.progress)?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed.wrapping_add(200 + r as u64));
        let (fv, _) = verify(net, self.target, &fset, self.samples, device, &mut rng)?;
        row.record.union_of_regions = Some(UnionSpread::new(&fset, &fv, self.dataset_l2));
        Ok(())
    }
}

/// Writes row `r`'s vertices (0-based) with its target, start and search parameters to
/// `out/vertices-row{r+1}.safetensors`; returns the file's name.
pub fn save_row_vertices(
    out: &Path,
    r: usize,
    set: &VertexSet,
    (target, init): (&[f32], &[f32]),
    vertex: &VertexParams,
) -> Result<String> {
    let file = format!("vertices-row{}.safetensors", r + 1);
    save_vertices(
        &VertexFile {
            set: set.clone(),
            target: target.to_vec(),
            init: init.repeat(set.len()),
            params: serde_json::to_value(vertex).unwrap_or_default(),
        },
        &out.join(&file),
    )?;
    Ok(file)
}

/// The data's name without the split: `mnist-embedded/train` → `mnist-embedded`, a `--data`
/// folder `/data/fashion/train` → `/data/fashion`.
fn dataset_name(split_name: &str) -> &str {
    split_name
        .strip_suffix("/train")
        .or_else(|| split_name.strip_suffix("/test"))
        .unwrap_or(split_name)
}

/// The record of a run on the digits (`reproduce mnist|lenet|patches`), its rows and time
/// still empty ([`finish`] fills them in).
pub fn digits_record(
    p: &MnistParams,
    model: ModelFacts,
    (train_set, test_set): (&Dataset, &Dataset),
    (target_index, target_class): (usize, usize),
    dataset_l2: f64,
    patch_db: Option<PatchDbFacts>,
) -> RunRecord {
    RunRecord {
        tool: "fcollide".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        experiment: match (&p.patches, model.arch.as_str()) {
            (Some(_), _) => format!("reproduce patches ({})", model.arch),
            (None, "lenet5") => format!("reproduce lenet ({})", model.arch),
            (None, _) => format!("reproduce mnist ({})", model.arch),
        },
        seed: p.seed,
        machine: MachineInfo::current(if p.device == "cuda" {
            "cuda (burn)"
        } else {
            "cpu (burn-flex)"
        }),
        params: RunParams::Mnist(p.clone()),
        model,
        dataset: DatasetFacts {
            name: dataset_name(&train_set.name).to_string(),
            train: Some(train_set.len()),
            test: test_set.len(),
            shape: train_set.shape,
            patch_db,
        },
        dataset_pairwise_l2: dataset_l2,
        dataset_pairs: p.dataset_pairs,
        target: TargetFacts {
            split: Some("test".into()),
            index: Some(target_index),
            class: target_class,
            ..Default::default()
        },
        rows: Vec::new(),
        exact_rows: Vec::new(),
        seconds: 0.0,
    }
}

/// The exact (LP) row of a digits run when `p.exact` asks for one
/// ([`super::exact::digits_exact_row`] at the vertex search's layer, against test example
/// `other`), none otherwise.
pub fn exact_rows(
    p: &MnistParams,
    net: &Graph,
    target: &[f32],
    vertex: &ValidVertexParams,
    dataset_l2: f64,
    (other, test): (usize, &Dataset),
    progress: &dyn Progress,
) -> Result<Vec<ExactRow>> {
    if !p.exact {
        return Ok(Vec::new());
    }
    Ok(vec![super::exact::digits_exact_row(
        net,
        target,
        (vertex, p.seed, p.samples),
        dataset_l2,
        (other, test.image(other)),
        progress,
    )?])
}

/// Fills in `record`'s rows, exact rows and the seconds since `t0`, writes `results.json`,
/// the reports and the pictures into `out`, and returns the record.
pub fn finish(
    out: &Path,
    t0: Instant,
    mut record: RunRecord,
    target: &[f32],
    rows: Vec<Row>,
    exact: &[ExactRow],
) -> Result<RunRecord> {
    let mut sets = Vec::with_capacity(rows.len());
    let mut inits = Vec::with_capacity(rows.len());
    for row in rows {
        record.rows.push(row.record);
        sets.push((row.set, row.samples));
        inits.push(row.init);
    }
    record.exact_rows = exact.iter().map(|r| r.record.clone()).collect();
    record.seconds = t0.elapsed().as_secs_f64();
    super::write::write_outputs(out, &record, target, &sets, &inits, exact)?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(labels: &[u8]) -> Dataset {
        Dataset {
            name: "t/test".into(),
            shape: [1, 1, 1],
            images: vec![0.0; labels.len()],
            labels: labels.to_vec(),
        }
    }

    #[test]
    fn picks_the_first_target_of_the_class_and_the_next_other_class() {
        let test = digits(&[3, 7, 7, 1, 7]);
        assert_eq!(pick_target(&test, None, 7).unwrap(), 1);
        assert_eq!(pick_target(&test, Some(4), 7).unwrap(), 4);
        assert!(pick_target(&test, Some(5), 7).is_err());
        assert!(pick_target(&test, None, 9).is_err());
        // After the target, skipping its class; wrapping around.
        assert_eq!(pick_other(&test, None, 1).unwrap(), 3);
        assert_eq!(pick_other(&test, None, 4).unwrap(), 0);
        assert_eq!(pick_other(&test, Some(2), 1).unwrap(), 2);
        assert!(pick_other(&test, Some(9), 1).is_err());
        assert!(pick_other(&digits(&[7, 7]), None, 0).is_err());
    }

    #[test]
    fn dataset_names_drop_the_split() {
        assert_eq!(dataset_name("mnist-embedded/train"), "mnist-embedded");
        assert_eq!(dataset_name("/data/fashion/test"), "/data/fashion");
        assert_eq!(dataset_name("digits"), "digits");
    }
}
