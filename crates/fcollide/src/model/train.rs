//! Training by minibatch Adam on the cross-entropy `−(1/B) Σ_b log softmax(f(x_b))[y_b]`.
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
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            epochs: 12,
            batch_size: 64,
            lr: 1e-3,
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
    /// Validates the parameters.
    pub fn check(self) -> Result<ValidTrainParams, ModelError> {
        let bad = |param, msg: &str| {
            Err(ModelError::Param {
                param,
                msg: msg.into(),
            })
        };
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", "must be a positive number");
        }
        Ok(ValidTrainParams(self))
    }
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
    let model = Network::from_graph(net, device)?;
    let d = data.images.len() / data.labels.len().max(1);
    let mut correct = 0usize;
    for (xs, ys) in data.images.chunks(500 * d).zip(data.labels.chunks(500)) {
        let pred = model.predict(xs, device);
        correct += pred
            .iter()
            .zip(ys)
            .filter(|(p, y)| super::argmax(p) == **y as usize)
            .count();
    }
    Ok(correct as f64 / data.labels.len().max(1) as f64)
}

/// Trains `net` on `train` (on `device`) and reports accuracy on `test`.
pub fn train(
    net: &Graph,
    (train, test): (&Dataset, &Dataset),
    params: &ValidTrainParams,
    device: &Device,
    rng: &mut impl Rng,
    progress: &dyn Progress,
) -> Result<(Graph, TrainReport), ModelError> {
    let start = std::time::Instant::now();
    let classes = net.check()?;
    let d = net.input_len();
    if train.images.len() != train.labels.len() * d || train.labels.is_empty() {
        return Err(ModelError::Input {
            got: train.images.len() / train.labels.len().max(1),
            expected: d,
            shape: net.input_shape,
        });
    }
    let plain = device.clone();
    let device = plain.clone().autodiff();
    let mut model = Network::from_graph(net, &device)?;
    let mut optim = AdamConfig::new().init();
    let n = train.labels.len();
    let steps_per_epoch = n.div_ceil(params.batch_size);
    let total = (steps_per_epoch * params.epochs) as u64;
    progress.start("train", total);
    let mut order: Vec<usize> = (0..n).collect();
    let mut epoch_loss = Vec::new();
    let mut step = 0usize;
    let mut xs = Vec::with_capacity(params.batch_size * d);
    let mut onehot = Vec::with_capacity(params.batch_size * classes);
    for _ in 0..params.epochs {
        order.shuffle(rng);
        let mut sum = 0.0f64;
        for chunk in order.chunks(params.batch_size) {
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
            let loss = (logp * y).sum().neg() / b as f32;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let frac = step as f64 / total.max(1) as f64;
            let lr = params.lr * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos()));
            model = optim.step(lr, model, grads);
            let l = to_vec(loss)[0] as f64;
            sum += l;
            step += 1;
            progress.advance(1, &format!("loss {l:.4}"));
        }
        epoch_loss.push(sum / steps_per_epoch as f64);
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
