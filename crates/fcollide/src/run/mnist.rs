//! `reproduce mnist`: the paper's §3.1 experiment (Tables 1–2) end to end.
//!
//! Trains the network (or reuses the cached one when it was trained on the same data with the
//! same seed, architecture and training parameters: [`super::cache`]), picks a target 7 from the
//! test split, finds `K` vertices from the target itself (row 1) and from a test example of
//! another class (row 2), verifies each polytope with `N` random convex combinations and writes
//! `results.json`, `report.md`, `report.html`, `rows.png`, `samples.png` and one vertex file
//! per row.
use super::cache::{self, CacheReport, DataFingerprint, TrainKey};
pub use super::params::MnistParams;
use super::params::RunParams;
use super::record::{
    DatasetFacts, MachineInfo, ModelFacts, PatchDbFacts, RowRecord, RunRecord, TargetFacts,
};
use crate::collide::io::{save_vertices, VertexFile};
use crate::collide::{find_vertices, VertexParams};
use crate::data::{self, Dataset};
use crate::model::train::{train, TrainReport};
use crate::model::{arch, io as model_io, Graph};
use crate::patches::db::PatchDb;
use crate::patches::knn::DciIndex;
use crate::patches::view::PatchView;
use crate::polytope::{dataset_pairwise_l2, verify, verify_with_progress};
use crate::progress::Progress;
use crate::{Error, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

fn load_data(p: &MnistParams) -> Result<(Dataset, Dataset)> {
    Ok(match &p.data_dir {
        Some(dir) => Dataset::from_idx_dir(dir)?,
        None => data::mnist_split(p.seed)?,
    })
}

/// Opens `p.patch_db` (and `p.patch_index`) and checks them against the patch parameters
/// and the data's `channels`, before anything is trained.
fn open_patch_db(p: &MnistParams, channels: usize) -> Result<(Option<PatchDb>, Option<DciIndex>)> {
    let Some(path) = &p.patch_db else {
        return match &p.patch_index {
            Some(_) => Err(Error::Msg(
                "a patch index needs the patch database it indexes".into(),
            )),
            None => Ok((None, None)),
        };
    };
    let Some(pp) = &p.patches else {
        return Err(Error::Msg(format!(
            "{}: a patch database is only used by `reproduce patches`",
            path.display()
        )));
    };
    let db = PatchDb::open(path)?;
    db.check_compatible(pp.size, channels)?;
    let index = match &p.patch_index {
        Some(ix) => Some(db.load_index(ix)?),
        None => None,
    };
    Ok((Some(db), index))
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
    device: &burn::tensor::Device,
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

/// The data's name without the split: `mnist-embedded/train` → `mnist-embedded`, a `--data`
/// folder `/data/fashion/train` → `/data/fashion`.
fn dataset_name(split_name: &str) -> &str {
    split_name
        .strip_suffix("/train")
        .or_else(|| split_name.strip_suffix("/test"))
        .unwrap_or(split_name)
}

/// Runs the experiment into `out` and returns its record.
pub fn reproduce_mnist(p: &MnistParams, out: &Path, progress: &dyn Progress) -> Result<RunRecord> {
    let t0 = std::time::Instant::now();
    std::fs::create_dir_all(out).map_err(|source| Error::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let vparams = p.vertex.clone().check()?;
    let (train_set, test_set) = load_data(p)?;
    if let Some(pp) = &p.patches {
        // Before anything is trained: a patch size the images cannot hold fails now.
        pp.check(train_set.shape)?;
    }
    let (mapped, index) = open_patch_db(p, train_set.shape[0])?;
    let device = crate::model::device_by_name(&p.device)?;
    let (net, model_facts) = get_model(p, &train_set, &test_set, out, &device, progress)?;
    if train_set.shape != net.input_shape {
        return Err(Error::Msg(format!(
            "data images are {:?} but the model expects {:?}",
            train_set.shape, net.input_shape
        )));
    }
    let d = net.input_len();
    let target_index = match p.target_index {
        Some(i) if i < test_set.len() => i,
        Some(i) => {
            return Err(Error::Msg(format!(
                "target index {i} is out of range: the test split has {} images",
                test_set.len()
            )))
        }
        None => (0..test_set.len())
            .find(|&i| test_set.label(i) == p.target_class)
            .ok_or_else(|| Error::Msg(format!("no test image of class {}", p.target_class)))?,
    };
    let target = test_set.image(target_index).to_vec();
    let target_label = test_set.label(target_index);
    let init_index = match p.init_index {
        Some(i) if i < test_set.len() => i,
        Some(i) => {
            return Err(Error::Msg(format!(
                "index {i} of row 2's start image is out of range: the test split has {} images",
                test_set.len()
            )))
        }
        None => (target_index + 1..test_set.len())
            .chain(0..target_index)
            .find(|&i| test_set.label(i) != target_label)
            .ok_or_else(|| Error::Msg("no test image of another class".into()))?,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed.wrapping_add(1));
    let ds_l2 = dataset_pairwise_l2(&test_set.images, d, p.dataset_pairs, &mut rng);
    let mut inits = vec![
        (
            "row 1: from the target".to_string(),
            "target".to_string(),
            target_index,
            vparams.clone(),
        ),
        (
            "row 2: from another example".to_string(),
            format!("index:{init_index}"),
            init_index,
            vparams.clone(),
        ),
    ];
    if let Some(layer) = &p.extra_layer {
        let vp = VertexParams {
            layer: layer.clone(),
            unit_choice: crate::collide::UnitChoice::Spread,
            ..(*vparams).clone()
        }
        .check()?;
        inits.push((
            format!("row 3: from the target at {layer}"),
            "target".to_string(),
            target_index,
            vp,
        ));
    }
    let db = match (&p.patches, &mapped) {
        (Some(pp), None) => {
            let n = pp.db_images.min(train_set.len());
            let d = train_set.image_len();
            Some(crate::patches::extract::extract(
                &train_set.images[..n * d],
                train_set.shape,
                pp.size,
                pp.db_stride,
            ))
        }
        _ => None,
    };
    let view = match (&mapped, &index, &db) {
        (Some(m), Some(ix), _) => Some(m.view().with_index(ix)?),
        (Some(m), None, _) => Some(m.view()),
        (None, _, Some(d)) => Some(PatchView::from(d)),
        _ => None,
    };
    let mut rows = Vec::new();
    let mut sample_sets = Vec::new();
    let mut init_images = Vec::new();
    for (r, (name, init_name, idx, vparams)) in inits.iter().enumerate() {
        let init = test_set.image(*idx).to_vec();
        let set = match (&p.patches, view) {
            (Some(pp), Some(view)) => {
                let space = crate::patches::space::PatchSpace {
                    comp: crate::patches::select::compose_candidates(
                        &init,
                        (init != target).then_some(&target[..]),
                        net.input_shape,
                        view,
                        pp,
                    )?,
                    tv: pp.tv,
                    init_weight: pp.init_weight,
                };
                crate::collide::find_vertices_in(
                    &net,
                    (&target, &init),
                    vparams,
                    &device,
                    progress,
                    None,
                    &space,
                )?
            }
            _ => find_vertices(&net, &target, &init, vparams, &device, progress)?,
        };
        let mut srng = ChaCha8Rng::seed_from_u64(p.seed.wrapping_add(100 + r as u64));
        let (v, samples) =
            verify_with_progress(&net, &target, &set, p.samples, &device, &mut srng, progress)?;
        let file = format!("vertices-row{}.safetensors", r + 1);
        save_vertices(
            &VertexFile {
                set: set.clone(),
                target: target.clone(),
                init: init.repeat(set.len()),
                params: serde_json::to_value(&**vparams).unwrap_or_default(),
            },
            &out.join(&file),
        )?;
        let mut row = RowRecord::new(
            (name, init_name, test_set.label(*idx) as usize),
            &set,
            v,
            ds_l2,
            file,
        );
        if p.union_spread && set.region_locked && p.patches.is_none() {
            let free = VertexParams {
                region: crate::collide::RegionMode::Free,
                ..(**vparams).clone()
            }
            .check()?;
            let fset = find_vertices(&net, &target, &init, &free, &device, progress)?;
            let mut frng = ChaCha8Rng::seed_from_u64(p.seed.wrapping_add(200 + r as u64));
            let (fv, _) = verify(&net, &target, &fset, p.samples, &device, &mut frng)?;
            row.union_of_regions = Some(super::record::UnionSpread::new(&fset, &fv, ds_l2));
        }
        rows.push(row);
        sample_sets.push((set, samples));
        init_images.push(init);
    }
    let mut exact_rows = Vec::new();
    if p.exact {
        let ep = crate::exact::ExactParams {
            layer: vparams.layer.clone(),
            vertices: vparams.vertices,
            units: vparams.units.clone(),
            seed: p.seed,
            ..Default::default()
        };
        let mut erng = ChaCha8Rng::seed_from_u64(p.seed.wrapping_add(200));
        let other = test_set.image(init_index);
        exact_rows.push(super::exact::exact_row(
            "exact: LP vertices",
            &net,
            &target,
            ep,
            p.samples,
            ds_l2,
            Some((&format!("index:{init_index}"), other)),
            &mut erng,
            progress,
        )?);
    }
    let record = RunRecord {
        tool: "fcollide".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        experiment: match (&p.patches, net.arch.as_str()) {
            (Some(_), _) => format!("reproduce patches ({})", net.arch),
            (None, "lenet5") => format!("reproduce lenet ({})", net.arch),
            (None, _) => format!("reproduce mnist ({})", net.arch),
        },
        seed: p.seed,
        machine: MachineInfo::current(if p.device == "cuda" {
            "cuda (burn)"
        } else {
            "cpu (burn-flex)"
        }),
        params: RunParams::Mnist(p.clone()),
        model: model_facts,
        dataset: DatasetFacts {
            name: dataset_name(&train_set.name).to_string(),
            train: Some(train_set.len()),
            test: test_set.len(),
            shape: train_set.shape,
            patch_db: mapped.as_ref().map(|m| PatchDbFacts {
                path: m.path().to_path_buf(),
                header: m.header().clone(),
                index: p.patch_index.clone(),
            }),
        },
        dataset_pairwise_l2: ds_l2,
        dataset_pairs: p.dataset_pairs,
        target: TargetFacts {
            split: Some("test".into()),
            index: Some(target_index),
            class: target_label as usize,
            ..Default::default()
        },
        rows,
        exact_rows: exact_rows.iter().map(|r| r.record.clone()).collect(),
        seconds: t0.elapsed().as_secs_f64(),
    };
    super::write::write_outputs(
        out,
        &record,
        &target,
        &sample_sets,
        &init_images,
        &exact_rows,
    )?;
    Ok(record)
}
