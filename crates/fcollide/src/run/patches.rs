//! `reproduce patches` on the digits: the paper's §4 experiment (Tables 5–6), vertices as
//! compositions of dataset patches instead of free pixels.
//!
//! The same rows as [`super::mnist`] (row 1 from the target, row 2 from a test example of
//! another class, an optional row 3 at `extra_layer`), but each searches the patch space of
//! its start ([`compose_candidates`]: at every window of a grid over the start image, the `k`
//! nearest database patches, and for row 2 also the target's), with the total-variation
//! weight `tv` on the coefficients. The database is a prebuilt file (`patch_db`, with an
//! optional DCI index `patch_index`) or the patches of the first `db_images` training images
//! cut in memory. The patch size, the database and the index are checked against the data
//! before anything is trained. The image-model version is [`super::images`].
use super::params::MnistParams;
use super::record::{PatchDbFacts, RunRecord};
use super::steps::{self, Rows};
use crate::data::Dataset;
use crate::patches::db::PatchDb;
use crate::patches::extract::{extract, Patches};
use crate::patches::knn::DciIndex;
use crate::patches::select::compose_candidates;
use crate::patches::space::{PatchParams, PatchSpace};
use crate::patches::view::PatchView;
use crate::progress::Progress;
use crate::{Error, Result};
use std::path::Path;

/// Runs the experiment into `out` and returns its record (`p.patches` must be set).
pub fn reproduce_patches(
    p: &MnistParams,
    out: &Path,
    progress: &dyn Progress,
) -> Result<RunRecord> {
    let t0 = std::time::Instant::now();
    steps::create_out(out)?;
    let vertex = p.vertex.clone().check()?;
    let (train_set, test_set) = steps::load_data(p.data_dir.as_deref(), p.seed)?;
    let pp = p.patches.as_ref().ok_or_else(|| {
        Error::Msg("a patch-space run needs its patch parameters (`patches`)".into())
    })?;
    // Before anything is trained: a patch size the images cannot hold fails now.
    pp.check(train_set.shape)?;
    let (file, index) = open_patch_db(p, pp, train_set.shape[0])?;
    let device = crate::model::device_by_name(&p.device)?;
    let (net, model) = steps::get_model(p, &train_set, &test_set, out, &device, progress)?;
    steps::check_shape(&train_set, &net)?;
    let t = steps::pick_target(&test_set, p.target_index, p.target_class)?;
    let other = steps::pick_other(&test_set, p.init_index, t)?;
    let target = test_set.image(t).to_vec();
    let dataset_l2 = steps::dataset_distance(&test_set, p.dataset_pairs, p.seed);
    let plans = steps::row_plans(&vertex, (t, other), p.extra_layer.as_deref())?;
    let cut;
    let view = match (&file, &index) {
        (Some(db), Some(ix)) => db.view().with_index(ix)?,
        (Some(db), None) => db.view(),
        (None, _) => {
            cut = cut_patches(&train_set, pp);
            PatchView::from(&cut)
        }
    };
    let run = Rows::new(p, (&net, &device), &target, dataset_l2, out, progress);
    let mut rows = Vec::new();
    for (r, plan) in plans.iter().enumerate() {
        let init = test_set.image(plan.index).to_vec();
        let other = (init != target).then_some(&target[..]);
        let space = PatchSpace {
            comp: compose_candidates(&init, other, net.input_shape, view, pp)?,
            tv: pp.tv,
            init_weight: pp.init_weight,
        };
        let class = test_set.label(plan.index) as usize;
        rows.push(run.gradient_row(r, plan, (init, class), Some(&space))?);
    }
    let exact = steps::exact_rows(
        p,
        &net,
        &target,
        &vertex,
        dataset_l2,
        (other, &test_set),
        progress,
    )?;
    let db_facts = file.as_ref().map(|db| PatchDbFacts {
        path: db.path().to_path_buf(),
        header: db.header().clone(),
        index: p.patch_index.clone(),
    });
    let class = test_set.label(t) as usize;
    let data = (&train_set, &test_set);
    let record = steps::digits_record(p, model, data, (t, class), dataset_l2, db_facts);
    steps::finish(out, t0, record, &target, rows, &exact)
}

/// Opens `p.patch_db` (and `p.patch_index`) and checks them against the patch size and the
/// data's `channels`; `(None, None)` when no database file is given.
fn open_patch_db(
    p: &MnistParams,
    pp: &PatchParams,
    channels: usize,
) -> Result<(Option<PatchDb>, Option<DciIndex>)> {
    let Some(path) = &p.patch_db else {
        return match &p.patch_index {
            Some(_) => Err(Error::Msg(
                "a patch index needs the patch database it indexes".into(),
            )),
            None => Ok((None, None)),
        };
    };
    let db = PatchDb::open(path)?;
    db.check_compatible(pp.size, channels)?;
    let index = match &p.patch_index {
        Some(ix) => Some(db.load_index(ix)?),
        None => None,
    };
    Ok((Some(db), index))
}

/// The patches (stride `db_stride`) of the first `db_images` training images.
fn cut_patches(train_set: &Dataset, pp: &PatchParams) -> Patches {
    let n = pp.db_images.min(train_set.len());
    let d = train_set.image_len();
    extract(
        &train_set.images[..n * d],
        train_set.shape,
        pp.size,
        pp.db_stride,
    )
}
