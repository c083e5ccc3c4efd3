//! `reproduce mnist` and `reproduce lenet`: the paper's §3.1 experiment (Tables 1–2) end to
//! end, in pixel space, on the MLP or on LeNet-5.
//!
//! Trains the network (or reuses the cached one when it was trained on the same data with the
//! same seed, architecture and training parameters: [`super::cache`]), picks a target 7 from the
//! test split, finds `K` vertices from the target itself (row 1) and from a test example of
//! another class (row 2), verifies each polytope with `N` random convex combinations and writes
//! `results.json`, `report.md`, `report.html`, `rows.png`, `samples.png` and one vertex file
//! per row. `reproduce lenet` is the same experiment on LeNet-5 with a third row from the
//! target at a conv layer (`extra_layer`, units spread over `Z`) and, by default, the
//! union-of-regions spread of every region-locked row (`union_spread`). With `exact`, an
//! exact (LP) row follows ([`super::exact::digits_exact_row`]).
//!
//! The steps are [`super::steps`]'; the patch-space version of the experiment (§4) is
//! [`super::patches`].
pub use super::params::MnistParams;
use super::record::RunRecord;
use super::steps::{self, Rows};
use crate::progress::Progress;
use crate::Result;
use std::path::Path;

/// Runs the experiment into `out` and returns its record. With `p.patches`, runs
/// [`super::patches::reproduce_patches`] instead (one entry for every run on the digits).
pub fn reproduce_mnist(p: &MnistParams, out: &Path, progress: &dyn Progress) -> Result<RunRecord> {
    if p.patches.is_some() {
        return super::patches::reproduce_patches(p, out, progress);
    }
    let t0 = std::time::Instant::now();
    steps::create_out(out)?;
    let vertex = p.vertex.clone().check()?;
    let (train_set, test_set) = steps::load_data(p.data_dir.as_deref(), p.seed)?;
    steps::no_patch_files(p)?;
    let device = crate::model::device_by_name(&p.device)?;
    let (net, model) = steps::get_model(p, &train_set, &test_set, out, &device, progress)?;
    steps::check_shape(&train_set, &net)?;
    let t = steps::pick_target(&test_set, p.target_index, p.target_class)?;
    let other = steps::pick_other(&test_set, p.init_index, t)?;
    let target = test_set.image(t).to_vec();
    let dataset_l2 = steps::dataset_distance(&test_set, p.dataset_pairs, p.seed);
    let plans = steps::row_plans(&vertex, (t, other), p.extra_layer.as_deref())?;
    let run = Rows::new(p, (&net, &device), &target, dataset_l2, out, progress);
    let mut rows = Vec::new();
    for (r, plan) in plans.iter().enumerate() {
        let init = test_set.image(plan.index).to_vec();
        let class = test_set.label(plan.index) as usize;
        let mut row = run.gradient_row(r, plan, (init, class), None)?;
        if p.union_spread {
            run.union_spread(r, plan, &mut row)?;
        }
        rows.push(row);
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
    let class = test_set.label(t) as usize;
    let data = (&train_set, &test_set);
    let record = steps::digits_record(p, model, data, (t, class), dataset_l2, None);
    steps::finish(out, t0, record, &target, rows, &exact)
}
