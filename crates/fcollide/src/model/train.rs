//! Training by minibatch Adam on the cross-entropy `−(1/B) Σ_b log softmax(f(x_b))[y_b]`.
//!
//! [`train_with_hook`] calls an [`EpochHook`] with the network after each epoch (e.g. the
//! margins of the area under the margin, [`crate::audit::mislabel::Aum`]); [`logits`] is the
//! gradient-free forward pass over a data set.
use super::network::{batch, to_vec, Network};
use super::{Graph, ModelError};
use crate::data::Dataset;
use crate::progress::Progress;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Training parameters (unchecked); [`TrainParams::check`] validates them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per Adam step.
    pub batch_size: usize,
    /// Adam learning rate at the start; decays by cosine to `lr / 20` at the end.
    pub lr: f64,
    /// λ of the hyperplane penalty (§5.2 of the paper; [`hyperplane_penalty`]): the loss
    /// gains `λ · mean_{i<j} max(0, cos(w_i, w_j))` per layer of `hyperplane_layers`. 0 (the
    /// default) trains without it; records of such runs are unchanged.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hyperplane_penalty: f64,
    /// The layers the penalty applies to (`Linear` or `Conv2d` nodes); empty: every
    /// collision layer of the network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hyperplane_layers: Vec<String>,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            epochs: 12,
            batch_size: 64,
            lr: 1e-3,
            hyperplane_penalty: 0.0,
            hyperplane_layers: Vec::new(),
        }
    }
}

/// Training parameters that passed [`TrainParams::check`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValidTrainParams(TrainParams);

impl std::ops::Deref for ValidTrainParams {
    type Target = TrainParams;
    fn deref(&self) -> &TrainParams {
        &self.0
    }
}

impl TrainParams {
    /// Validates the parameters: `epochs` in `1..=`[`MAX_EPOCHS`], `batch_size` in
    /// `1..=`[`MAX_BATCH_SIZE`], `lr` in `(0, `[`MAX_LR`]`]`. Errors name the parameter.
    pub fn check(self) -> Result<ValidTrainParams, ModelError> {
        let bad = |param, msg: String| Err(ModelError::Param { param, msg });
        if !(1..=MAX_EPOCHS).contains(&self.epochs) {
            return bad(
                "epochs",
                format!("{}: must be in 1..={MAX_EPOCHS}", self.epochs),
            );
        }
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return bad(
                "batch_size",
                format!("{}: must be in 1..={MAX_BATCH_SIZE}", self.batch_size),
            );
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= MAX_LR) {
            return bad("lr", format!("{}: must be in (0, {MAX_LR}]", self.lr));
        }
        if !(self.hyperplane_penalty.is_finite()
            && (0.0..=MAX_HYPERPLANE_PENALTY).contains(&self.hyperplane_penalty))
        {
            return bad(
                "hyperplane_penalty",
                format!(
                    "{}: must be in [0, {MAX_HYPERPLANE_PENALTY}]",
                    self.hyperplane_penalty
                ),
            );
        }
        Ok(ValidTrainParams(self))
    }
}

/// Most passes over the training set.
pub const MAX_EPOCHS: usize = 100_000;
/// Largest minibatch.
pub const MAX_BATCH_SIZE: usize = 65_536;
/// Largest Adam learning rate.
pub const MAX_LR: f64 = 10.0;
/// Largest λ of the hyperplane penalty.
pub const MAX_HYPERPLANE_PENALTY: f64 = 1e6;

/// The hyperplane penalty of §5.2 for one layer's rows `w` (`[n, dim]`, on an autodiff
/// device): with `u_i = w_i / max(‖w_i‖, 1e-12)`, `G = U Uᵀ` (`G_ij = cos(w_i, w_j)`,
/// `G_ii = 1` for nonzero rows), the mean over pairs `i < j` of `max(0, G_ij)`:
/// `(Σ_ij max(0, G_ij) − Σ_i max(0, G_ii)) / (n(n − 1))` (0 for fewer than 2 rows).
pub fn hyperplane_penalty(w: Tensor<2>) -> Tensor<1> {
    let [n, _] = w.dims();
    let device = w.device();
    if n < 2 {
        return Tensor::zeros([1], &device);
    }
    let norm = (w.clone() * w.clone()).sum_dim(1).sqrt().clamp_min(1e-12);
    let u = w / norm;
    let g = u.clone().matmul(u.clone().transpose());
    let diag = (u.clone() * u).sum_dim(1).clamp_min(0.0).sum();
    (burn::tensor::activation::relu(g).sum() - diag) / (n * (n - 1)) as f32
}

/// Errors unless `data` is non-empty, its images have `d` finite values each and every
/// label is below `classes` (naming the data set, the example and the label).
pub fn check_data(data: &Dataset, d: usize, classes: usize, what: &str) -> Result<(), ModelError> {
    let bad = |msg: String| ModelError::Data {
        name: format!("{what} ({})", data.name),
        msg,
    };
    if data.labels.is_empty() {
        return Err(bad("is empty: it needs at least one example".into()));
    }
    if data.images.len() != data.labels.len() * d {
        return Err(ModelError::Input {
            got: data.images.len() / data.labels.len(),
            expected: d,
            shape: data.shape,
        });
    }
    if let Some(i) = data.labels.iter().position(|&y| y as usize >= classes) {
        return Err(bad(format!(
            "example {i} has label {}, but the model has {classes} classes (labels 0..={})",
            data.labels[i],
            classes.saturating_sub(1)
        )));
    }
    if let Some(i) = data.images.iter().position(|x| !x.is_finite()) {
        return Err(bad(format!(
            "pixel {} of example {} is {}; pixels must be finite",
            i % d,
            i / d,
            data.images[i]
        )));
    }
    Ok(())
}

/// What training produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainReport {
    /// Mean training loss of each epoch.
    pub epoch_loss: Vec<f64>,
    /// Accuracy on the test set after training (0–1).
    pub test_accuracy: f64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Fraction of `data` that `net` classifies correctly.
pub fn accuracy(net: &Graph, data: &Dataset, device: &Device) -> Result<f64, ModelError> {
    let classes = net.check()?;
    let d = net.input_len();
    check_data(data, d, classes, "the evaluation set")?;
    let model = Network::from_graph(net, device)?;
    let mut correct = 0usize;
    for (xs, ys) in data.images.chunks(500 * d).zip(data.labels.chunks(500)) {
        let pred = model.predict(xs, device);
        correct += pred
            .iter()
            .zip(ys)
            .filter(|(p, y)| super::argmax(p) == Some(**y as usize))
            .count();
    }
    Ok(correct as f64 / data.labels.len().max(1) as f64)
}

/// The logits `[n, classes]` of `net` on every example of `data` (batches of 500, no
/// gradients), one `Vec` per example.
pub fn logits(net: &Graph, data: &Dataset, device: &Device) -> Result<Vec<Vec<f32>>, ModelError> {
    let classes = net.check()?;
    let d = net.input_len();
    check_data(data, d, classes, "the data set")?;
    let model = Network::from_graph(net, device)?;
    let mut out = Vec::with_capacity(data.len());
    for xs in data.images.chunks(500 * d) {
        let z = to_vec(model.forward(batch(xs, d, device)));
        out.extend(z.chunks(classes).map(<[f32]>::to_vec));
    }
    Ok(out)
}

/// Called at the end of each epoch with the epoch (0-based), the network as trained so far
/// and the plain (gradient-free) device, e.g. to record margins ([`crate::audit::mislabel::Aum`]).
pub type EpochHook<'a> = &'a mut dyn FnMut(usize, &Graph, &Device) -> Result<(), ModelError>;

/// Trains `net` on `train` (on `device`) and reports accuracy on `test`.
pub fn train(
    net: &Graph,
    data: (&Dataset, &Dataset),
    params: &ValidTrainParams,
    device: &Device,
    rng: &mut impl Rng,
    progress: &dyn Progress,
) -> Result<(Graph, TrainReport), ModelError> {
    train_with_hook(net, data, params, device, rng, progress, None)
}

/// [`train`], calling `on_epoch` (when given) after each epoch. The hook draws nothing from
/// `rng`, so the trained network is the same with or without it.
pub fn train_with_hook(
    net: &Graph,
    (train, test): (&Dataset, &Dataset),
    params: &ValidTrainParams,
    device: &Device,
    rng: &mut impl Rng,
    progress: &dyn Progress,
    mut on_epoch: Option<EpochHook<'_>>,
) -> Result<(Graph, TrainReport), ModelError> {
    let start = std::time::Instant::now();
    let classes = net.check()?;
    let d = net.input_len();
    check_data(train, d, classes, "the training set")?;
    check_data(test, d, classes, "the test set")?;
    crate::limits::check_buffer("batch_size", params.batch_size as u64, d as u64, 4).map_err(
        |e| ModelError::Param {
            param: "batch_size",
            msg: e.to_string(),
        },
    )?;
    crate::model::check_finite(net).map_err(|msg| ModelError::Weights {
        path: "(the network to train)".into(),
        msg,
    })?;
    let penalized: Vec<String> = match (
        params.hyperplane_penalty > 0.0,
        params.hyperplane_layers.is_empty(),
    ) {
        (false, _) => Vec::new(),
        (true, true) => net.collision_layers(),
        (true, false) => params.hyperplane_layers.clone(),
    };
    let plain = device.clone();
    let device = plain.clone().autodiff();
    let mut model = Network::from_graph(net, &device)?;
    for layer in &penalized {
        if model.weight_rows(layer).is_none() {
            return Err(ModelError::Param {
                param: "hyperplane_layers",
                msg: format!("{layer}: not a Linear or Conv2d layer of {}", net.arch),
            });
        }
    }
    let mut optim = AdamConfig::new().init();
    let n = train.labels.len();
    let steps_per_epoch = n.div_ceil(params.batch_size);
    let total = (steps_per_epoch * params.epochs) as u64;
    progress.start("train", total);
    let mut order: Vec<usize> = (0..n).collect();
    let mut epoch_loss = Vec::new();
    let mut step = 0usize;
    let batch_cap = params.batch_size.min(n);
    let mut xs = Vec::with_capacity(batch_cap * d);
    let mut onehot = Vec::with_capacity(batch_cap * classes);
    for epoch in 0..params.epochs {
        order.shuffle(rng);
        let mut sum = 0.0f64;
        for chunk in order.chunks(params.batch_size) {
            if progress.cancelled() {
                progress.finish();
                return Err(ModelError::Cancelled { step });
            }
            xs.clear();
            onehot.clear();
            for &i in chunk {
                xs.extend_from_slice(&train.images[i * d..(i + 1) * d]);
                let mut row = vec![0.0f32; classes];
                row[train.labels[i] as usize] = 1.0;
                onehot.extend(row);
            }
            let b = chunk.len();
            let x = batch(&xs, d, &device);
            let y: Tensor<2> =
                Tensor::from_data(TensorData::new(onehot.clone(), [b, classes]), &device);
            let logp = log_softmax(model.forward(x), 1);
            let mut loss = (logp * y).sum().neg() / b as f32;
            for layer in &penalized {
                let w = model.weight_rows(layer).expect("checked above");
                loss = loss + hyperplane_penalty(w) * params.hyperplane_penalty as f32;
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let frac = step as f64 / total.max(1) as f64;
            let lr = params.lr * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos()));
            model = optim.step(lr, model, grads);
            let l = to_vec(loss)[0] as f64;
            if !l.is_finite() {
                return Err(ModelError::Diverged {
                    step,
                    msg: format!("the training loss is {l} (lr = {}); lower lr", params.lr),
                });
            }
            sum += l;
            step += 1;
            progress.advance(1, &format!("loss {l:.4}"));
        }
        epoch_loss.push(sum / steps_per_epoch as f64);
        if let Some(hook) = on_epoch.as_mut() {
            hook(epoch, &model.to_graph(), &plain)?;
        }
    }
    progress.finish();
    let trained = model.to_graph();
    let test_accuracy = accuracy(&trained, test, &plain)?;
    Ok((
        trained,
        TrainReport {
            epoch_loss,
            test_accuracy,
            seconds: start.elapsed().as_secs_f64(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::arch;
    use crate::progress::Silent;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Asks to stop after `after` minibatches.
    struct StopAfter {
        after: u64,
        done: std::sync::atomic::AtomicU64,
    }

    impl Progress for StopAfter {
        fn start(&self, _: &str, _: u64) {}
        fn advance(&self, n: u64, _: &str) {
            self.done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
        fn finish(&self) {}
        fn cancelled(&self) -> bool {
            self.done.load(std::sync::atomic::Ordering::Relaxed) >= self.after
        }
    }

    #[test]
    fn training_stops_when_cancelled() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let net = arch::mlp(&mut rng);
        let device = crate::model::default_device();
        let set = Dataset::new(vec![0.5; 40 * 784], vec![1; 40], [1, 28, 28], "t").unwrap();
        let params = TrainParams {
            epochs: 50,
            batch_size: 4,
            ..Default::default()
        }
        .check()
        .unwrap();
        let stop = StopAfter {
            after: 3,
            done: Default::default(),
        };
        let err = train(&net, (&set, &set), &params, &device, &mut rng, &stop).unwrap_err();
        assert!(matches!(err, ModelError::Cancelled { step: 3 }), "{err}");
    }

    #[test]
    fn bad_labels_empty_splits_and_absurd_params_are_errors() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let net = arch::mlp(&mut rng);
        let device = crate::model::default_device();
        let data = |labels: Vec<u8>| {
            Dataset::new(
                vec![0.5; labels.len() * 784],
                labels,
                [1, 28, 28],
                "idx/train",
            )
            .unwrap()
        };
        let params = TrainParams {
            epochs: 1,
            ..Default::default()
        }
        .check()
        .unwrap();
        let train_set = data(vec![1, 200, 3]);
        let err = train(
            &net,
            (&train_set, &data(vec![1])),
            &params,
            &device,
            &mut rng,
            &Silent,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("idx/train") && err.contains("label 200") && err.contains("example 1"),
            "{err}"
        );
        let empty = data(vec![]);
        let err = train(
            &net,
            (&data(vec![1, 2]), &empty),
            &params,
            &device,
            &mut rng,
            &Silent,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("the test set") && err.contains("empty"),
            "{err}"
        );
        assert!(accuracy(&net, &empty, &device).is_err());
        for (name, p) in [
            (
                "batch_size",
                TrainParams {
                    batch_size: 100_000_000,
                    ..Default::default()
                },
            ),
            (
                "batch_size",
                TrainParams {
                    batch_size: 0,
                    ..Default::default()
                },
            ),
            (
                "epochs",
                TrainParams {
                    epochs: usize::MAX,
                    ..Default::default()
                },
            ),
            (
                "lr",
                TrainParams {
                    lr: f64::NAN,
                    ..Default::default()
                },
            ),
            (
                "hyperplane_penalty",
                TrainParams {
                    hyperplane_penalty: -1.0,
                    ..Default::default()
                },
            ),
        ] {
            match p.check() {
                Err(ModelError::Param { param, .. }) => assert_eq!(param, name),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_epoch_hook_sees_each_epoch_and_changes_nothing() {
        let (full, _) = crate::data::embedded::mnist_split(0).unwrap();
        let tr = crate::data::Dataset {
            name: full.name.clone(),
            shape: full.shape,
            images: full.images[..200 * 784].to_vec(),
            labels: full.labels[..200].to_vec(),
        };
        let p = TrainParams {
            epochs: 3,
            batch_size: 50,
            lr: 1e-2,
            ..Default::default()
        }
        .check()
        .unwrap();
        let device = Default::default();
        let run = |hook: Option<EpochHook<'_>>| {
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let net = arch::mlp(&mut rng);
            train_with_hook(&net, (&tr, &tr), &p, &device, &mut rng, &Silent, hook)
                .unwrap()
                .0
        };
        let plain = run(None);
        let mut seen = Vec::new();
        let mut aum = crate::audit::mislabel::Aum::default();
        let mut last = Vec::new();
        let mut hook = |e: usize, g: &Graph, d: &Device| {
            seen.push(e);
            aum.record(g, &tr, d)?;
            last = logits(g, &tr, d)?;
            Ok(())
        };
        let hooked = run(Some(&mut hook));
        assert_eq!(seen, vec![0, 1, 2]);
        assert_eq!(hooked.named_params(), plain.named_params());
        // The last epoch's network is the trained one; its margins are z_y − max_{j≠y} z_j.
        let z = logits(&plain, &tr, &device).unwrap();
        assert_eq!(z, last);
        let m0 = crate::audit::mislabel::margin(&z[0], tr.labels[0] as usize);
        let mut other = f32::NEG_INFINITY;
        for (j, &v) in z[0].iter().enumerate() {
            if j != tr.labels[0] as usize {
                other = other.max(v);
            }
        }
        assert_eq!(
            m0,
            f64::from(z[0][tr.labels[0] as usize]) - f64::from(other)
        );
        assert_eq!(aum.epochs, 3);
        let v = aum.values();
        assert_eq!(v.len(), 200);
        // Training raises the margins: the mean AUM lies below the final mean margin.
        let final_mean: f64 = (0..200)
            .map(|i| crate::audit::mislabel::margin(&z[i], tr.labels[i] as usize))
            .sum::<f64>()
            / 200.0;
        let aum_mean = v.iter().sum::<f64>() / 200.0;
        assert!(aum_mean < final_mean, "{aum_mean} vs {final_mean}");
    }

    #[test]
    fn hyperplane_penalty_by_hand() {
        // Rows (1, 0), (1, 1), (−1, 0): cosines 1/√2, −1, −1/√2; the mean of max(0, cos)
        // over the 3 pairs is (1/√2)/3.
        let device = Default::default();
        let w: Tensor<2> = Tensor::from_data(
            TensorData::new(vec![1.0f32, 0.0, 2.0, 2.0, -3.0, 0.0], [3, 2]),
            &device,
        );
        let p = to_vec(hyperplane_penalty(w))[0] as f64;
        assert!(
            (p - std::f64::consts::FRAC_1_SQRT_2 / 3.0).abs() < 1e-6,
            "{p}"
        );
    }

    #[test]
    fn the_hyperplane_penalty_lowers_the_cosines_and_is_off_by_default() {
        let (train_set, test_set) = crate::data::embedded::mnist_split(0).unwrap();
        let small = |d: &crate::data::Dataset, n: usize| crate::data::Dataset {
            name: d.name.clone(),
            shape: d.shape,
            images: d.images[..n * 784].to_vec(),
            labels: d.labels[..n].to_vec(),
        };
        let (tr, te) = (small(&train_set, 600), small(&test_set, 100));
        let run = |lambda: f64, layers: Vec<String>| {
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let net = crate::model::arch::mlp(&mut rng);
            let p = TrainParams {
                epochs: 2,
                lr: 1e-2,
                hyperplane_penalty: lambda,
                hyperplane_layers: layers,
                ..Default::default()
            }
            .check()
            .unwrap();
            let (net, _) =
                train(&net, (&tr, &te), &p, &Default::default(), &mut rng, &Silent).unwrap();
            let mut r = ChaCha8Rng::seed_from_u64(0);
            crate::model::hyperplanes::hyperplanes(&net, 512, &mut r)
        };
        let plain = run(0.0, vec![]);
        let penalized = run(10.0, vec!["fc1".into()]);
        assert!(
            penalized[0].mean_positive_part < 0.75 * plain[0].mean_positive_part,
            "{} vs {}",
            penalized[0].mean_positive_part,
            plain[0].mean_positive_part
        );
        // A penalty of 0 names no layer and changes nothing: the record is the old one.
        let json = serde_json::to_string(&TrainParams::default()).unwrap();
        assert!(!json.contains("hyperplane"), "{json}");
        // A layer without weights is refused, naming it.
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let net = crate::model::arch::mlp(&mut rng);
        let p = TrainParams {
            hyperplane_penalty: 1.0,
            hyperplane_layers: vec!["relu1".into()],
            ..Default::default()
        }
        .check()
        .unwrap();
        let e = train(&net, (&tr, &te), &p, &Default::default(), &mut rng, &Silent).unwrap_err();
        assert!(e.to_string().contains("relu1"), "{e}");
    }
}
