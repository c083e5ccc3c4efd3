//! `reproduce imagenet` (§3.2, Tables 3–4) for any image model: vertices at a layer (default
//! `fc6` of VGG-16) for a target image, from the target (row 1) and from another image
//! (row 2), with checkpoints, verification by random convex combinations, top-5 classes, and
//! the same outputs as `reproduce mnist`. The "dataset" distance is the L2 distance between
//! the given images (the paper: 37,538 on the 0–255 scale between ImageNet images, i.e.
//! 147.2 on our 0–1 scale).
pub use super::params::ImagesParams;
use super::params::RunParams;
use super::record::{
    DatasetFacts, MachineInfo, ModelFacts, RowRecord, RunRecord, TargetFacts, TopK, GIVEN_IMAGES,
};
use super::steps::{finish, save_row_vertices, Row};
use crate::collide::{find_vertices_pixels, find_vertices_shared, Checkpointing};
use crate::model::{argmax, Graph, Network};
use crate::patches::select::compose_candidates;
use crate::patches::space::PatchSpace;
use crate::patches::view::PatchView;
use crate::polytope::{l2, verify_shared};
use crate::progress::Progress;
use crate::{Error, Result};
use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// The `k` most probable classes as `(class, name, probability)`.
pub fn top_k(probs: &[f32], k: usize, labels: &[String]) -> TopK {
    let mut idx: Vec<usize> = (0..probs.len()).collect();
    idx.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    idx.into_iter()
        .take(k)
        .map(|c| {
            let name = labels
                .get(c)
                .cloned()
                .unwrap_or_else(|| format!("class {c}"));
            (c, name, probs[c])
        })
        .collect()
}

/// Runs the experiment on `net` for `target` (row 1) and `other` (row 2) into `out`.
///
/// `labels` names the classes in top-5 lists; when empty and the model has 1000 outputs, the
/// embedded ImageNet class names ([`crate::data::imagenet`]) are used. With `p.patches`,
/// vertices are compositions of the patches of `db` (§4, Tables 5–6): row 1 draws on the
/// patches retrieved for the target, row 2 on those of the other image and of the target
/// ([`compose_candidates`]); `db` must then be given and hold patches with the model's
/// channels.
#[allow(clippy::too_many_arguments)]
pub fn reproduce_images(
    net: &Graph,
    (target_name, target): (&str, &[f32]),
    (other_name, other): (&str, &[f32]),
    labels: &[String],
    p: &ImagesParams,
    db: Option<PatchView<'_>>,
    out: &Path,
    device: &Device,
    progress: &dyn Progress,
) -> Result<RunRecord> {
    let t0 = std::time::Instant::now();
    let patch_db = match (&p.patches, db) {
        (Some(pp), Some(db)) => {
            pp.check(net.input_shape)?;
            Some((pp, db))
        }
        (Some(_), None) => {
            return Err(Error::Msg(
                "a patch-space run needs a patch database (a database file, or a data set to build one from)".into(),
            ))
        }
        (None, _) => None,
    };
    super::steps::create_out(out)?;
    let vparams = p.vertex.clone().check()?;
    // One network for the searches, the predictions and the verifications (they share its
    // weights).
    let model = Network::from_graph(net, device)?;
    let ds_l2 = l2(target, other);
    let mut rows = Vec::new();
    let tp = model.predict(target, device).remove(0);
    let embedded;
    let labels = if labels.is_empty() {
        embedded = crate::data::imagenet::labels_for(tp.len());
        &embedded[..]
    } else {
        labels
    };
    for (r, (name, init_name, init)) in [
        ("row 1: from the target", target_name, target),
        ("row 2: from another image", other_name, other),
    ]
    .into_iter()
    .enumerate()
    {
        let ckpt = Checkpointing {
            path: out.join(format!("checkpoint-row{}.safetensors", r + 1)),
            every: p.checkpoint_every,
            resume: p.resume,
        };
        let set = match &patch_db {
            Some((pp, db)) => {
                let other = (r > 0).then_some(target);
                let space = PatchSpace {
                    comp: compose_candidates(init, other, net.input_shape, *db, pp)?,
                    tv: pp.tv,
                    init_weight: pp.init_weight,
                };
                let io = (target, init);
                let (m, c) = (&model, Some(&ckpt));
                find_vertices_shared(net, m, io, &vparams, device, progress, c, &space)?
            }
            None => {
                let (m, c) = (&model, Some(&ckpt));
                find_vertices_pixels(net, m, (target, init), &vparams, device, progress, c)?
            }
        };
        let mut srng = ChaCha8Rng::seed_from_u64(p.seed.wrapping_add(100 + r as u64));
        let (m, rng) = (&model, &mut srng);
        let (v, samples) = verify_shared(net, m, target, &set, p.samples, device, rng, progress)?;
        let probs = model.predict(&set.vertices, device);
        let file = save_row_vertices(out, r, &set, (target, init), &vparams)?;
        let ip = model.predict(init, device).remove(0);
        let names = (name, init_name, argmax(&ip).unwrap_or(0));
        let mut record = RowRecord::new(names, &set, v, ds_l2, file);
        record.vertex_top5 = probs.iter().map(|pv| top_k(pv, 5, labels)).collect();
        let init = init.to_vec();
        rows.push(Row {
            record,
            set,
            samples,
            init,
        });
        // Finished rows need no checkpoint any more.
        let _ = std::fs::remove_file(&ckpt.path);
    }
    let record = RunRecord {
        tool: "fcollide".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        experiment: match &p.patches {
            Some(_) => format!("reproduce patches ({})", net.arch),
            None => format!("reproduce imagenet ({})", net.arch),
        },
        seed: p.seed,
        machine: MachineInfo::current(&crate::model::device_label(device)),
        params: RunParams::Images(ImagesParams {
            vertex: (*vparams).clone(),
            ..p.clone()
        }),
        model: ModelFacts {
            arch: net.arch.clone(),
            layers: net.nodes.iter().skip(1).map(|l| l.name.clone()).collect(),
            source: if p.weights.is_empty() {
                "user weights".into()
            } else {
                p.weights.clone()
            },
            input_shape: Some(net.input_shape),
            ..Default::default()
        },
        dataset: DatasetFacts {
            name: GIVEN_IMAGES.into(),
            train: None,
            test: 2,
            shape: net.input_shape,
            patch_db: None,
        },
        dataset_pairwise_l2: ds_l2,
        dataset_pairs: 1,
        target: TargetFacts {
            image: Some(target_name.to_string()),
            class: argmax(&tp).unwrap_or(0),
            confidence: argmax(&tp).and_then(|c| tp.get(c)).map(|&p| p as f64),
            top5: Some(top_k(&tp, 5, labels)),
            ..Default::default()
        },
        rows: Vec::new(),
        exact_rows: Vec::new(),
        seconds: 0.0,
    };
    finish(out, t0, record, target, rows, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_names_imagenet_classes_and_falls_back_to_indices() {
        let mut probs = vec![0.0f32; 1000];
        probs[207] = 0.6;
        probs[281] = 0.3;
        probs[0] = 0.1;
        let names = crate::data::imagenet::labels_for(probs.len());
        let top = top_k(&probs, 3, &names);
        let got: Vec<(usize, &str)> = top.iter().map(|(c, n, _)| (*c, n.as_str())).collect();
        assert_eq!(
            got,
            vec![(207, "golden retriever"), (281, "tabby"), (0, "tench")]
        );
        let top = top_k(&probs[..10], 1, &[]);
        assert_eq!(top[0].1, "class 0");
    }
}
