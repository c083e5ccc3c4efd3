//! Flag groups several commands share (data, training, model, vertex search) and the
//! parser of bounded counts.
use super::values::{BoxArg, EngineArg, PenaltyArg, RegionArg, UnitChoiceArg};
use clap::Args;
use fcollide::collide::params::{MAX_STEPS, MAX_VERTICES};
use fcollide::model::graph::fold::Normalization;
use fcollide::model::train::{TrainParams, MAX_BATCH_SIZE, MAX_EPOCHS};
use std::path::PathBuf;

pub use fcollide::patches::space::MAX_K;
pub use fcollide::polytope::MAX_SAMPLES;

/// Largest patch side or stride accepted on the command line.
pub const MAX_PATCH_SIDE: usize = 4096;

/// A parser of a whole number in `lo..=hi` for a flag (clap names the flag in its error).
pub fn count_in(
    lo: usize,
    hi: usize,
) -> impl Fn(&str) -> std::result::Result<usize, String> + Clone + Send + Sync + 'static {
    move |s: &str| {
        let v: u128 = s
            .trim()
            .parse()
            .map_err(|_| format!("expected a whole number in {lo}..={hi}"))?;
        if v < lo as u128 || v > hi as u128 {
            Err(format!("{v} is out of range: expected {lo}..={hi}"))
        } else {
            Ok(v as usize)
        }
    }
}

/// `--normalize`: none, mnist, imagenet or mean=a,b,c,std=d,e,f.
pub fn parse_normalize(s: &str) -> Result<Normalization, String> {
    Normalization::parse(s)
}

#[derive(Args, Debug)]
pub struct DataArgs {
    /// Folder of MNIST-layout IDX files (`train-images-idx3-ubyte[.gz]`, …); default: the
    /// embedded 10,000 digits split 8,000/2,000.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Seed of the split (embedded data), training and sampling.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Training epochs.
    #[arg(long, default_value_t = TrainParams::default().epochs, allow_hyphen_values = true, value_parser = count_in(1, MAX_EPOCHS))]
    pub epochs: usize,
    /// Minibatch size.
    #[arg(long, default_value_t = TrainParams::default().batch_size, allow_hyphen_values = true, value_parser = count_in(1, MAX_BATCH_SIZE))]
    pub batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = TrainParams::default().lr, allow_negative_numbers = true)]
    pub train_lr: f64,
    /// λ of the hyperplane penalty (§5.2 of the paper): the training loss gains λ times the
    /// mean over pairs of units of max(0, cos) between their hyperplanes (rows of W), per
    /// layer of --hyperplane-layers. 0 = off.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub hyperplane_penalty: f64,
    /// The layers the hyperplane penalty applies to, comma-separated (default: every
    /// collision layer).
    #[arg(long, value_delimiter = ',', requires = "hyperplane_penalty")]
    pub hyperplane_layers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ModelArgs {
    /// The model: a safetensors file written by fcollide; a model spec (`.toml`: arch,
    /// weights, key remapping, input shape, preprocessing); an ONNX graph (`.onnx`); or, with
    /// --arch, weights in any supported format (safetensors, PyTorch .pth state dict, .npz).
    #[arg(long)]
    pub model: PathBuf,
    /// Architecture of a weights file that does not record it: mlp, mlp-tanh, mlp-sigmoid,
    /// lenet5, or a torchvision classifier (resnet18 … resnet152, resnext, wide_resnet, vgg11 …
    /// vgg19 and their _bn variants, alexnet, mobilenet_v2, densenet121 …, squeezenet1_0/1_1).
    #[arg(long)]
    pub arch: Option<String>,
    /// Replace the model's input normalization: none, mnist, imagenet or
    /// mean=a,b,c,std=d,e,f (default: what the file or the architecture says).
    #[arg(long, value_parser = parse_normalize)]
    pub normalize: Option<Normalization>,
}

#[derive(Args, Debug, Clone)]
pub struct SearchArgs {
    /// Collision layer (an affine layer followed by a ReLU) [default: fc1; fc6 for imagenet].
    #[arg(long)]
    pub layer: Option<String>,
    /// Number of vertices K, optimized as one batch.
    #[arg(long, default_value_t = 5, allow_hyphen_values = true, value_parser = count_in(1, MAX_VERTICES))]
    pub vertices: usize,
    /// Units of Z to push down, comma-separated, one per vertex (default: the first K of Z).
    #[arg(long, allow_negative_numbers = true, value_delimiter = ',')]
    pub units: Option<Vec<usize>>,
    /// How units are chosen without --units: first (the first K of Z) or spread (evenly
    /// over Z; the default at conv layers).
    #[arg(long, value_enum)]
    pub unit_choice: Option<UnitChoiceArg>,
    /// Weight α of L+.
    #[arg(long, allow_negative_numbers = true)]
    pub alpha: Option<f32>,
    /// Penalty continuation: α grows geometrically from this value to --alpha over the first
    /// half of the steps (`reproduce patches` default: 1; elsewhere off).
    #[arg(long, allow_negative_numbers = true)]
    pub alpha_start: Option<f32>,
    /// Weight β of the penalty on the other zero-set units (the paper: 1).
    #[arg(long, allow_negative_numbers = true)]
    pub beta: Option<f32>,
    /// Penalty on the other zero-set units: square (paper), abs (authors' code), hinge.
    #[arg(long, value_enum)]
    pub penalty: Option<PenaltyArg>,
    /// Adam steps.
    #[arg(long, allow_hyphen_values = true, value_parser = count_in(1, MAX_STEPS))]
    pub steps: Option<usize>,
    /// Adam learning rate (pixel units).
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f32>,
    /// Final learning rate as a fraction of --lr.
    #[arg(long, allow_negative_numbers = true)]
    pub lr_final: Option<f32>,
    /// Pixel box: project (clip) or sigmoid.
    #[arg(long, value_enum)]
    pub r#box: Option<BoxArg>,
    /// Gradient engine: auto, affine, autodiff.
    #[arg(long, value_enum)]
    pub engine: Option<EngineArg>,
    /// Use the paper's objective (square penalty) as the base settings.
    #[arg(long)]
    pub paper: bool,
    /// Keep the vertices in the target's linear region: auto (when the layer lies behind a
    /// nonlinearity), locked, or free (the paper's search; vertices may land in different
    /// regions and the polytope need not collide).
    #[arg(long, value_enum)]
    pub region: Option<RegionArg>,
    /// Margin of the region lock on each earlier pre-activation.
    #[arg(long, allow_negative_numbers = true)]
    pub lock_margin: Option<f32>,
    /// Weight of the region-lock penalty.
    #[arg(long, allow_negative_numbers = true)]
    pub lock_weight: Option<f32>,
    /// Largest relative feature error at which a row still collides (its verdict).
    #[arg(long, allow_negative_numbers = true)]
    pub collision_tol: Option<f64>,
    /// Sigmoid and tanh collision layers: a unit counts as saturated (in Z) when its
    /// activation is within this distance of the flat end, in (0, 0.5) [default: 1e-3].
    #[arg(long, allow_negative_numbers = true)]
    pub saturation_tol: Option<f32>,
}
