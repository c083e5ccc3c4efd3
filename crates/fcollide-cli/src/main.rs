//! `fcollide`: the command-line front end. All logic lives in the `fcollide` library.
mod progress;

/// `print!` for what a command prints on stdout: when stdout is a closed pipe
/// (`fcollide … | head -1`) the process ends quietly with exit 0 instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!($($arg)*))
    };
}

/// `println!` through [`out!`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Writes to stdout and flushes; a closed pipe exits 0, another write error exits 1.
fn write_stdout(text: std::fmt::Arguments) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(text).and_then(|_| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {e}");
        std::process::exit(1);
    }
}

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use fcollide::collide::io::{load_vertices, save_vertices, VertexFile};
use fcollide::collide::{
    find_vertices_checkpointed, BoxMethod, Checkpointing, Engine, Penalty, RegionMode, UnitChoice,
    VertexParams,
};
use fcollide::data::{self, Dataset};
use fcollide::exact::{ExactParams, LpOptions, LpSolver};
use fcollide::model::train::{train, TrainParams};
use fcollide::model::{arch, io as model_io, Graph};
use fcollide::patches::knn::{Budget, DciParams, Directions};
use fcollide::polytope::verify;
use fcollide::run::exact::{run_exact, ExactJob};
use fcollide::run::{reproduce_mnist, MnistParams};
use progress::Bars;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// Find, verify, measure and show feature collisions in ReLU networks.
///
/// With no command, runs `reproduce mnist --out ./fcollide-out`.
#[derive(Parser, Debug)]
#[command(name = "fcollide", version, about, long_about = None)]
struct Cli {
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Compute device: cpu (burn-flex) or cuda (a build with `--features cuda`).
    #[arg(long, global = true, default_value = "cpu")]
    device: String,
    /// Raise (or lower) a resource limit on inputs, `NAME=VALUE` with an optional K/M/G/T
    /// suffix, e.g. `--limit max_tensor_bytes=16G`; repeatable. Names and defaults:
    /// `fcollide::limits` (README, "Limits on inputs").
    #[arg(long, global = true, value_name = "NAME=VALUE")]
    limit: Vec<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Reproduce one of the paper's experiments end to end.
    Reproduce {
        /// Which experiment.
        #[arg(value_enum)]
        experiment: Experiment,
        #[command(flatten)]
        run: Box<ReproduceArgs>,
    },
    /// Train a network on MNIST-like data and save it as safetensors.
    Train {
        /// Architecture.
        #[arg(long, default_value = "mlp")]
        arch: String,
        /// Where to write the weights.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        train: TrainArgs,
    },
    /// Find colliding vertices for a target with a given model.
    Vertices {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        data: DataArgs,
        /// The target: `index:N` (test split) or `file:PATH` (PNG/JPEG of the input size).
        #[arg(long)]
        target: String,
        /// Start: `target`, `index:N` or `file:PATH`.
        #[arg(long, default_value = "target")]
        init: String,
        #[command(flatten)]
        search: SearchArgs,
        /// Vertex file to write (safetensors).
        #[arg(long)]
        out: PathBuf,
        /// Checkpoint file (written atomically every --checkpoint-every steps and on Ctrl-C).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Steps between checkpoints (0: only on Ctrl-C).
        #[arg(long, default_value_t = 500)]
        checkpoint_every: usize,
        /// Resume from --checkpoint if it exists (same settings, target and start).
        #[arg(long)]
        resume: bool,
    },
    /// Exact colliding polytope by linear programming: certified vertices, dimension, size.
    Exact {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        data: DataArgs,
        /// The target: `index:N` (test split) or `file:PATH`.
        #[arg(long)]
        target: String,
        /// Also find the colliding input closest in L1 to this image (`index:N`, `file:PATH`).
        #[arg(long)]
        other: Option<String>,
        /// Collision layer.
        #[arg(long, default_value = "fc1")]
        layer: String,
        /// Number of vertices (one LP each).
        #[arg(long, default_value_t = 5, allow_hyphen_values = true, value_parser = count_in(1, MAX_VERTICES))]
        vertices: usize,
        /// Units of Z to push, comma-separated (default: the first K of Z).
        #[arg(long, value_delimiter = ',')]
        units: Option<Vec<usize>>,
        /// Random convex combinations to certify.
        #[arg(long, default_value_t = 2000, allow_hyphen_values = true, value_parser = count_in(1, MAX_SAMPLES))]
        samples: usize,
        /// Random directions for extents (two LPs each).
        #[arg(long, default_value_t = 8)]
        directions: usize,
        /// Solver of the vertex LPs: the dense dual simplex up to 1,024 rows and HiGHS
        /// above (auto), or always one of them.
        #[arg(long, value_enum, default_value = "auto")]
        lp_solver: LpSolverArg,
        /// Output folder.
        #[arg(long, default_value = "fcollide-exact")]
        out: PathBuf,
    },
    /// Collisions at several layers from one target: success, feature error and vertex
    /// spread per layer (Markdown table and a plot of spread vs depth).
    Sweep {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        data: DataArgs,
        /// The target: `index:N` (test split) or `file:PATH`.
        #[arg(long)]
        target: String,
        /// Layers, comma-separated (default: every collision layer; --layer L sweeps the one
        /// layer L).
        #[arg(long, value_delimiter = ',')]
        layers: Option<Vec<String>>,
        #[command(flatten)]
        search: SearchArgs,
        /// Samples per layer.
        #[arg(long, default_value_t = 2000, allow_hyphen_values = true, value_parser = count_in(1, MAX_SAMPLES))]
        samples: usize,
        /// Output folder.
        #[arg(long, default_value = "fcollide-sweep")]
        out: PathBuf,
    },
    /// Patch databases (§4): build one from a data set, show, index and query it.
    Patches {
        #[command(subcommand)]
        command: PatchesCommand,
    },
    /// Describe a model: nodes, shapes, parameters, normalization and collision layers; with
    /// --input also its logits, top-5 classes and |P|/|Z| at every collision layer.
    Inspect {
        /// The model file (fcollide safetensors, .toml spec, .onnx, or weights with --arch).
        model: PathBuf,
        /// Architecture of a weights file that does not record it.
        #[arg(long)]
        arch: Option<String>,
        /// Replace the model's input normalization: none, mnist, imagenet or
        /// mean=a,b,c,std=d,e,f.
        #[arg(long, value_parser = parse_normalize)]
        normalize: Option<fcollide::model::graph::fold::Normalization>,
        /// An input image (PNG/JPEG; resized with --resize when its size differs).
        #[arg(long)]
        input: Option<PathBuf>,
        /// How an image of another size is brought to the model's: standard (torchvision's
        /// Resize(256) + CenterCrop(224), scaled) or direct (shorter side straight to the
        /// crop size, Lanczos).
        #[arg(long, default_value = "standard")]
        resize: fcollide::data::transform::Resize,
        /// Class names, one per line (default: the ImageNet names for 1000 outputs).
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Write one JSON object (keys include "logits" and "collision_layers").
        #[arg(long)]
        json: bool,
    },
    /// Verify saved vertices: sample the polytope and measure it.
    Verify {
        #[command(flatten)]
        model: ModelArgs,
        /// Vertex file written by `fcollide vertices` or `reproduce`.
        #[arg(long)]
        vertices: PathBuf,
        /// Number of random convex combinations.
        #[arg(long, default_value_t = 2000, allow_hyphen_values = true, value_parser = count_in(1, MAX_SAMPLES))]
        samples: usize,
        /// Seed of the sampling.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Largest relative feature error at which the polytope still collides (default:
        /// the tolerance recorded in the vertex file, else 1e-3).
        #[arg(long)]
        collision_tol: Option<f64>,
        /// Write the figures as JSON here (stdout when absent).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum PatchesCommand {
    /// Cut every patch of every image of a data set into a database file (streamed to disk;
    /// later memory-mapped).
    Build {
        /// `embedded` (the 8,000 training digits of the embedded split, see --split-seed),
        /// `embedded-all` (all 10,000), an IDX3 file (`*-idx3-ubyte[.gz]`), a folder in the
        /// MNIST layout, or a folder of JPEG/PNG images (searched recursively, RGB).
        #[arg(long)]
        dataset: String,
        /// Patch side (the default matches `reproduce patches --patch-size`).
        #[arg(long, default_value_t = 14, allow_hyphen_values = true, value_parser = count_in(1, MAX_PATCH_SIDE))]
        size: usize,
        /// Stride between patches.
        #[arg(long, default_value_t = 1, allow_hyphen_values = true, value_parser = count_in(1, MAX_PATCH_SIDE))]
        stride: usize,
        /// Search on a Gaussian random projection of the patches to this many dimensions
        /// (the raw patches are stored too).
        #[arg(long)]
        project: Option<usize>,
        /// Seed of the projection.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Use only the first N images.
        #[arg(long)]
        limit_images: Option<usize>,
        /// Folder of images: resize and centre-crop each to this side.
        #[arg(long, default_value_t = 224)]
        side: usize,
        /// `embedded`: seed of the train/test split (use the --seed of `reproduce patches`).
        #[arg(long, default_value_t = 0)]
        split_seed: u64,
        /// Description stored in the file (default: what the images are).
        #[arg(long)]
        description: Option<String>,
        /// The database file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a database file and print its header.
    Info {
        /// The database file.
        file: PathBuf,
    },
    /// Build a Prioritized DCI index over a database's rows and save it (defaults: the
    /// multi-level setting measured on 10⁶ MNIST patches, see BENCHMARKS.md).
    Index {
        /// The database file.
        file: PathBuf,
        /// The index file to write.
        #[arg(long)]
        out: PathBuf,
        /// Levels λ (1: the one-level index of the paper's Algorithms 1–2).
        #[arg(long, default_value_t = DciParams::default().num_levels)]
        levels: usize,
        /// Field of view F: nodes kept per level at query time (for k ≤ 10; ⌈F·√(k/10)⌉
        /// for more neighbours).
        #[arg(long, default_value_t = DciParams::default().field_of_view)]
        field_of_view: usize,
        /// Field of view of the parent search at construction.
        #[arg(long, default_value_t = DciParams::default().construction_field_of_view)]
        construction_field_of_view: usize,
        /// Composite indices L.
        #[arg(long, default_value_t = DciParams::default().num_composite)]
        composite: usize,
        /// Simple indices per composite index m (only used when --retrieve is below a
        /// level's candidate set).
        #[arg(long, default_value_t = DciParams::default().num_simple)]
        simple: usize,
        /// Candidates per composite index and level k0: `all` (evaluate each level's
        /// candidate set exactly), a count, or a fraction of the candidate set (`0.25`).
        #[arg(long, default_value = "all")]
        retrieve: String,
        /// Visits per composite index and level k1: `all`, a count, or a fraction of
        /// m·|candidate set| (`0.05`).
        #[arg(long, default_value = "all")]
        visit: String,
        /// Directions: isotropic (the paper) or data (differences of data points).
        #[arg(long, default_value = "isotropic")]
        directions: String,
        /// Seed of the directions.
        #[arg(long, default_value_t = 0)]
        index_seed: u64,
    },
    /// The nearest database patches of a window of an image.
    Query {
        /// The database file.
        file: PathBuf,
        /// The image (PNG/JPEG; resized and centre-cropped to the database's image size).
        #[arg(long)]
        image: PathBuf,
        /// Number of patches.
        #[arg(long, default_value_t = 10, allow_hyphen_values = true, value_parser = count_in(1, MAX_K))]
        k: usize,
        /// A DCI index over the database (default: exact search).
        #[arg(long)]
        index: Option<PathBuf>,
        /// Top row of the window (with --col; default: the centre window).
        #[arg(long, requires = "col")]
        row: Option<usize>,
        /// Left column of the window.
        #[arg(long, requires = "row")]
        col: Option<usize>,
        /// Also draw the window and its nearest patches into this PNG.
        #[arg(long)]
        grid: Option<PathBuf>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum LpSolverArg {
    Auto,
    Dense,
    Highs,
}

impl From<LpSolverArg> for LpSolver {
    fn from(a: LpSolverArg) -> Self {
        match a {
            LpSolverArg::Auto => LpSolver::Auto,
            LpSolverArg::Dense => LpSolver::Dense,
            LpSolverArg::Highs => LpSolver::Highs,
        }
    }
}

#[derive(ValueEnum, Clone, Debug)]
enum Experiment {
    /// §3.1: MLP on MNIST, rows 1–2, Table 2.
    Mnist,
    /// The same on LeNet-5 at fc1, plus a row at a conv layer (--conv-layer).
    Lenet,
    /// §4: vertices as compositions of dataset patches (MLP, or --arch lenet5).
    Patches,
    /// §3.2: an image model (default VGG-16 at fc6) with --weights, --target-image and
    /// --init-image.
    Imagenet,
}

#[derive(Args, Debug)]
struct DataArgs {
    /// Folder of MNIST-layout IDX files (`train-images-idx3-ubyte[.gz]`, …); default: the
    /// embedded 10,000 digits split 8,000/2,000.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Seed of the split (embedded data), training and sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Args, Debug)]
struct TrainArgs {
    /// Training epochs.
    #[arg(long, default_value_t = TrainParams::default().epochs, allow_hyphen_values = true, value_parser = count_in(1, MAX_EPOCHS))]
    epochs: usize,
    /// Minibatch size.
    #[arg(long, default_value_t = TrainParams::default().batch_size, allow_hyphen_values = true, value_parser = count_in(1, MAX_BATCH_SIZE))]
    batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = TrainParams::default().lr, allow_negative_numbers = true)]
    train_lr: f64,
}

impl TrainArgs {
    fn params(&self) -> TrainParams {
        TrainParams {
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.train_lr,
        }
    }
}

#[derive(Args, Debug)]
struct ModelArgs {
    /// The model: a safetensors file written by fcollide; a model spec (`.toml`: arch,
    /// weights, key remapping, input shape, preprocessing); an ONNX graph (`.onnx`); or, with
    /// --arch, weights in any supported format (safetensors, PyTorch .pth state dict, .npz).
    #[arg(long)]
    model: PathBuf,
    /// Architecture of a weights file that does not record it: mlp, mlp-tanh, mlp-sigmoid,
    /// lenet5, or a torchvision classifier (resnet18 … resnet152, resnext, wide_resnet, vgg11 …
    /// vgg19 and their _bn variants, alexnet, mobilenet_v2, densenet121 …, squeezenet1_0/1_1).
    #[arg(long)]
    arch: Option<String>,
    /// Replace the model's input normalization: none, mnist, imagenet or
    /// mean=a,b,c,std=d,e,f (default: what the file or the architecture says).
    #[arg(long, value_parser = parse_normalize)]
    normalize: Option<fcollide::model::graph::fold::Normalization>,
}

/// Largest patch side or stride accepted on the command line.
const MAX_PATCH_SIDE: usize = 4096;
use fcollide::collide::params::{MAX_STEPS, MAX_VERTICES};
use fcollide::model::train::{MAX_BATCH_SIZE, MAX_EPOCHS};
use fcollide::patches::space::MAX_K;
use fcollide::polytope::MAX_SAMPLES;

/// A parser of a whole number in `lo..=hi` for a flag (clap names the flag in its error).
fn count_in(
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

/// Errors (naming `flag`) when `path` is an existing special file (a device, FIFO, socket
/// or directory, symlinks followed) that a write would have to replace; checked before a
/// long run so that it does not fail only at the end.
fn check_out(path: &Path, flag: &str) -> Result<()> {
    fcollide::fsutil::output_target(path)
        .map(|_| ())
        .with_context(|| format!("{flag} {}", path.display()))
}

fn parse_normalize(s: &str) -> Result<fcollide::model::graph::fold::Normalization, String> {
    fcollide::model::graph::fold::Normalization::parse(s)
}

impl ModelArgs {
    fn load(&self) -> Result<Graph> {
        let loaded = fcollide::model::load(
            &self.model,
            &fcollide::model::LoadOptions {
                arch: self.arch.clone(),
                normalize: self.normalize.clone(),
            },
        )?;
        eprintln!(
            "model {} ({}): normalization {} [{}]",
            self.model.display(),
            loaded.format,
            loaded.normalization,
            match loaded.normalization_source {
                fcollide::model::NormalizationSource::File => "from the file",
                fcollide::model::NormalizationSource::Template =>
                    "the architecture's canonical preprocessing; --normalize overrides",
                fcollide::model::NormalizationSource::Spec => "from the model spec",
                fcollide::model::NormalizationSource::Override => "from --normalize",
            }
        );
        Ok(loaded.graph)
    }
}

#[derive(Args, Debug, Clone)]
struct SearchArgs {
    /// Collision layer (an affine layer followed by a ReLU) [default: fc1; fc6 for imagenet].
    #[arg(long)]
    layer: Option<String>,
    /// Number of vertices K, optimized as one batch.
    #[arg(long, default_value_t = 5, allow_hyphen_values = true, value_parser = count_in(1, MAX_VERTICES))]
    vertices: usize,
    /// Units of Z to push down, comma-separated, one per vertex (default: the first K of Z).
    #[arg(long, value_delimiter = ',')]
    units: Option<Vec<usize>>,
    /// How units are chosen without --units: first (the first K of Z) or spread (evenly
    /// over Z; the default at conv layers).
    #[arg(long)]
    unit_choice: Option<String>,
    /// Weight α of L+.
    #[arg(long, allow_negative_numbers = true)]
    alpha: Option<f32>,
    /// Penalty continuation: α grows geometrically from this value to --alpha over the first
    /// half of the steps (`reproduce patches` default: 1; elsewhere off).
    #[arg(long, allow_negative_numbers = true)]
    alpha_start: Option<f32>,
    /// Weight β of the penalty on the other zero-set units (the paper: 1).
    #[arg(long, allow_negative_numbers = true)]
    beta: Option<f32>,
    /// Penalty on the other zero-set units: square (paper), abs (authors' code), hinge.
    #[arg(long)]
    penalty: Option<String>,
    /// Adam steps.
    #[arg(long, allow_hyphen_values = true, value_parser = count_in(1, MAX_STEPS))]
    steps: Option<usize>,
    /// Adam learning rate (pixel units).
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f32>,
    /// Final learning rate as a fraction of --lr.
    #[arg(long, allow_negative_numbers = true)]
    lr_final: Option<f32>,
    /// Pixel box: project (clip) or sigmoid.
    #[arg(long)]
    r#box: Option<String>,
    /// Gradient engine: auto, affine, autodiff.
    #[arg(long)]
    engine: Option<String>,
    /// Use the paper's objective (square penalty) as the base settings.
    #[arg(long)]
    paper: bool,
    /// Keep the vertices in the target's linear region: auto (when the layer lies behind a
    /// nonlinearity), locked, or free (the paper's search; vertices may land in different
    /// regions and the polytope need not collide).
    #[arg(long, value_enum)]
    region: Option<RegionArg>,
    /// Margin of the region lock on each earlier pre-activation.
    #[arg(long)]
    lock_margin: Option<f32>,
    /// Weight of the region-lock penalty.
    #[arg(long)]
    lock_weight: Option<f32>,
    /// Largest relative feature error at which a row still collides (its verdict).
    #[arg(long)]
    collision_tol: Option<f64>,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum RegionArg {
    Auto,
    Locked,
    Free,
}

impl SearchArgs {
    fn params(&self) -> Result<VertexParams> {
        let mut p = if self.paper {
            VertexParams::paper()
        } else {
            VertexParams::default()
        };
        if let Some(l) = &self.layer {
            p.layer = l.clone();
        }
        p.vertices = self.vertices;
        p.units = self.units.clone();
        if let Some(c) = &self.unit_choice {
            p.unit_choice = match c.as_str() {
                "first" => UnitChoice::First,
                "spread" => UnitChoice::Spread,
                o => bail!("--unit-choice '{o}': expected first or spread"),
            };
        }
        if let Some(a) = self.alpha {
            p.alpha = a;
        }
        if self.alpha_start.is_some() {
            p.alpha_start = self.alpha_start;
        }
        if let Some(b) = self.beta {
            p.beta = b;
        }
        if let Some(s) = &self.penalty {
            p.penalty = Penalty::parse(s)
                .with_context(|| format!("--penalty '{s}': expected square, abs or hinge"))?;
        }
        if let Some(s) = self.steps {
            p.steps = s;
        }
        if let Some(l) = self.lr {
            p.lr = l;
        }
        if let Some(l) = self.lr_final {
            p.lr_final = l;
        }
        if let Some(b) = &self.r#box {
            p.box_method = match b.as_str() {
                "project" => BoxMethod::Project,
                "sigmoid" => BoxMethod::Sigmoid,
                o => bail!("--box '{o}': expected project or sigmoid"),
            };
        }
        if let Some(e) = &self.engine {
            p.engine = match e.as_str() {
                "auto" => Engine::Auto,
                "affine" => Engine::Affine,
                "autodiff" => Engine::Autodiff,
                o => bail!("--engine '{o}': expected auto, affine or autodiff"),
            };
        }
        if let Some(r) = self.region {
            p.region = match r {
                RegionArg::Auto => RegionMode::Auto,
                RegionArg::Locked => RegionMode::Locked,
                RegionArg::Free => RegionMode::Free,
            };
        }
        if let Some(m) = self.lock_margin {
            p.lock_margin = m;
        }
        if let Some(w) = self.lock_weight {
            p.lock_weight = w;
        }
        if let Some(t) = self.collision_tol {
            fcollide::polytope::verdict::check_tolerance(t)
                .map_err(|m| anyhow::anyhow!("--collision-tol {m}"))?;
            p.collision_tol = t;
        }
        if let Err(e) = p.clone().check() {
            match e {
                fcollide::collide::CollideError::Param { param, msg } => {
                    bail!("invalid value for --{param}: {msg}")
                }
                e => return Err(e.into()),
            }
        }
        Ok(p)
    }
}

#[derive(Args, Debug)]
struct ReproduceArgs {
    /// Output folder.
    #[arg(long, default_value = "fcollide-out")]
    out: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    train: TrainArgs,
    #[command(flatten)]
    search: SearchArgs,
    /// Architecture (default: mlp for `mnist`, lenet5 for `lenet`).
    #[arg(long)]
    arch: Option<String>,
    /// `lenet`: the conv layer of the extra row.
    #[arg(long, default_value = "conv2")]
    conv_layer: String,
    /// Use these weights instead of training.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Train again even if the output folder has a cached model trained with the same data,
    /// seed, architecture and training parameters (one trained otherwise is never reused).
    #[arg(long)]
    retrain: bool,
    /// Class of the target.
    #[arg(long, default_value_t = 7)]
    target_class: u8,
    /// Test-split index of the target (overrides --target-class).
    #[arg(long)]
    target_index: Option<usize>,
    /// Test-split index of row 2's starting image.
    #[arg(long)]
    init_index: Option<usize>,
    /// Polytope samples per row.
    #[arg(long, default_value_t = 2000, allow_hyphen_values = true, value_parser = count_in(1, MAX_SAMPLES))]
    samples: usize,
    /// Add exact (LP) rows beside the gradient rows.
    #[arg(long)]
    exact: bool,
    /// For every region-locked row, also run the free (union-of-regions) search and report
    /// both spreads side by side (default: true for `lenet`, false otherwise).
    #[arg(long)]
    union_spread: Option<bool>,
    /// `imagenet`: the target image (PNG/JPEG; resized and centre-cropped).
    #[arg(long)]
    target_image: Option<PathBuf>,
    /// `imagenet`: row 2's starting image.
    #[arg(long)]
    init_image: Option<PathBuf>,
    /// `imagenet`: class names, one per line (for top-5 in the report; default: the embedded
    /// ImageNet-1k names when the model has 1000 classes).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// `imagenet`: steps between checkpoints (also written on Ctrl-C).
    #[arg(long, default_value_t = 500)]
    checkpoint_every: usize,
    /// `imagenet`: continue from the checkpoints in --out.
    #[arg(long)]
    resume: bool,
    /// `patches`: patch side.
    #[arg(long, default_value_t = 14, allow_hyphen_values = true, value_parser = count_in(1, MAX_PATCH_SIDE))]
    patch_size: usize,
    /// `patches`: candidate patches per location.
    #[arg(long, default_value_t = 20, allow_hyphen_values = true, value_parser = count_in(1, MAX_K))]
    patch_k: usize,
    /// `patches`: candidates retrieved per location for the target when a row starts from
    /// another image.
    #[arg(long, default_value_t = 10, allow_hyphen_values = true, value_parser = count_in(0, MAX_K))]
    patch_target_k: usize,
    /// `patches`: keep --patch-k of the r·k nearest patches by farthest-point selection
    /// (1: plain k-NN).
    #[arg(long, default_value_t = 50, allow_hyphen_values = true, value_parser = count_in(1, MAX_K))]
    patch_diverse: usize,
    /// `patches`: stride of the grid of windows over the start image (0: half the patch
    /// size, windows overlapping by half, each pixel drawing on every window that covers
    /// it; the patch size: windows side by side).
    #[arg(long, default_value_t = 0)]
    patch_grid_stride: usize,
    /// `patches`: leave the start's and target's own windows out of the candidates.
    #[arg(long)]
    patch_no_own: bool,
    /// `patches`: training images the patch database is cut from (stride 1).
    #[arg(long, default_value_t = 2000)]
    patch_db_images: usize,
    /// `patches`: weight of the total variation of the coefficients.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    tv: f32,
    /// `patches`: a prebuilt patch database (`fcollide patches build`) instead of cutting
    /// --patch-db-images digits in memory; its patch size must be --patch-size.
    #[arg(long)]
    patch_db: Option<PathBuf>,
    /// `patches`: a DCI index over --patch-db (`fcollide patches index`) instead of exact
    /// k-NN.
    #[arg(long)]
    patch_index: Option<PathBuf>,
    /// `patches` with --target-image: build the patch database from this data set (as
    /// `patches build --dataset`, e.g. a folder of images) into OUT/patches.fcpd, reused by
    /// later runs into the same folder.
    #[arg(long)]
    dataset: Option<String>,
    /// `patches` with --dataset: stride between database patches (default: half the patch
    /// size).
    #[arg(long)]
    patch_stride: Option<usize>,
}

impl Default for ReproduceArgs {
    fn default() -> Self {
        let cli = Cli::parse_from(["fcollide", "reproduce", "mnist"]);
        match cli.command {
            Some(Command::Reproduce { run, .. }) => *run,
            _ => unreachable!("the default command parses"),
        }
    }
}

/// `reproduce patches`: α starts here and grows to --alpha (see `VertexParams::alpha_start`).
const PATCH_ALPHA_START: f32 = 1.0;

fn reproduce(
    experiment: &Experiment,
    args: &ReproduceArgs,
    device: &str,
    quiet: bool,
) -> Result<()> {
    if matches!(experiment, Experiment::Imagenet) {
        return reproduce_imagenet(args, device, quiet, false);
    }
    if matches!(experiment, Experiment::Patches) && args.target_image.is_some() {
        return reproduce_imagenet(args, device, quiet, true);
    }
    let (arch, extra) = match experiment {
        Experiment::Mnist | Experiment::Patches | Experiment::Imagenet => {
            (args.arch.clone().unwrap_or_else(|| "mlp".into()), None)
        }
        Experiment::Lenet => (
            args.arch.clone().unwrap_or_else(|| "lenet5".into()),
            Some(args.conv_layer.clone()),
        ),
    };
    let p = MnistParams {
        seed: args.data.seed,
        arch,
        extra_layer: extra,
        data_dir: args.data.data.clone(),
        weights: args.weights.clone(),
        retrain: args.retrain,
        train: args.train.params(),
        vertex: {
            let mut v = args.search.params()?;
            if matches!(experiment, Experiment::Patches) && v.alpha_start.is_none() {
                v.alpha_start = Some(PATCH_ALPHA_START);
            }
            v
        },
        target_class: args.target_class,
        target_index: args.target_index,
        init_index: args.init_index,
        samples: args.samples,
        exact: args.exact,
        union_spread: args
            .union_spread
            .unwrap_or(matches!(experiment, Experiment::Lenet)),
        device: device.to_string(),
        patches: matches!(experiment, Experiment::Patches).then(|| patch_params(args)),
        patch_db: args.patch_db.clone(),
        patch_index: args.patch_index.clone(),
        ..MnistParams::default()
    };
    let rec = reproduce_mnist(&p, &args.out, &Bars::new(quiet))?;
    if let Ok(c) =
        serde_json::from_value::<fcollide::run::cache::CacheReport>(rec.model["cache"].clone())
    {
        outln!("model {}: {}", p.arch, c.line());
    }
    outln!(
        "model {}: test accuracy {:.2} %; dataset pairwise L2 {:.3}",
        p.arch,
        100.0 * rec.model["test_accuracy"].as_f64().unwrap_or(f64::NAN),
        rec.dataset_pairwise_l2
    );
    print_rows(&rec, "dataset");
    print_exact(&rec);
    outln!("wrote {}", args.out.display());
    Ok(())
}

/// Loads a model file: fcollide safetensors, a `.toml` spec, `.onnx`, or with `arch` any
/// supported weights format.
fn load_model_file(path: &Path, arch_name: Option<&str>) -> Result<Graph> {
    ModelArgs {
        model: path.to_path_buf(),
        arch: arch_name.map(str::to_string),
        normalize: None,
    }
    .load()
}

fn reproduce_imagenet(
    args: &ReproduceArgs,
    device: &str,
    quiet: bool,
    patches: bool,
) -> Result<()> {
    let weights = args.weights.as_ref().context(
        "reproduce imagenet needs --weights FILE (safetensors, .pth, .npz, .onnx or a .toml spec)",
    )?;
    let arch_name = args.arch.clone().unwrap_or_else(|| "vgg16".into());
    let net = load_model_file(weights, Some(&arch_name))?;
    let img = |p: &Option<PathBuf>, flag: &str| -> Result<(String, Vec<f32>)> {
        let p = p
            .as_ref()
            .with_context(|| format!("reproduce imagenet needs --{flag} IMAGE"))?;
        let v = fcollide::data::image_file::read_image(p, net.input_shape)
            .with_context(|| format!("--{flag}"))?;
        Ok((p.display().to_string(), v))
    };
    let (tn, t) = img(&args.target_image, "target-image")?;
    let (on, o) = img(&args.init_image, "init-image")?;
    let labels: Vec<String> = match &args.labels {
        Some(p) => fcollide::data::imagenet::read_labels_file(p).context("--labels")?,
        None => Vec::new(),
    };
    let mut vertex = args.search.params()?;
    if args.search.layer.is_none() {
        vertex.layer = "fc6".into();
    }
    let patch_params = patches.then(|| {
        if vertex.alpha_start.is_none() {
            vertex.alpha_start = Some(PATCH_ALPHA_START);
        }
        patch_params(args)
    });
    let p = fcollide::run::images::ImagesParams {
        vertex,
        samples: args.samples,
        seed: args.data.seed,
        checkpoint_every: args.checkpoint_every,
        resume: args.resume,
        patches: patch_params,
        weights: weights.display().to_string(),
    };
    let (db, index) = match patches {
        true => open_image_patch_db(args, net.input_shape, quiet)?,
        false => (None, None),
    };
    let view = match (&db, &index) {
        (Some(db), Some(ix)) => Some(db.view().with_index(ix)?),
        (Some(db), None) => Some(db.view()),
        _ => None,
    };
    let dev = fcollide::model::device_by_name(device)?;
    let rec = fcollide::run::images::reproduce_images(
        &net,
        (&tn, &t),
        (&on, &o),
        &labels,
        &p,
        view,
        &args.out,
        &dev,
        &Bars::new(quiet),
    )?;
    outln!(
        "target: {}",
        rec.target["top5"]
            .as_array()
            .and_then(|a| a.first())
            .map(|x| x.to_string())
            .unwrap_or_default()
    );
    print_rows(&rec, "the images' distance");
    outln!("wrote {}", args.out.display());
    Ok(())
}

/// The patch-space parameters of `reproduce patches`.
fn patch_params(args: &ReproduceArgs) -> fcollide::patches::space::PatchParams {
    fcollide::patches::space::PatchParams {
        size: args.patch_size,
        k: args.patch_k,
        target_k: args.patch_target_k,
        diverse: args.patch_diverse,
        include_own: !args.patch_no_own,
        grid_stride: args.patch_grid_stride,
        db_images: args.patch_db_images,
        tv: args.tv,
        ..Default::default()
    }
}

/// The patch database of an image-model patch run: --patch-db, or --dataset built into
/// OUT/patches.fcpd (reused when it exists), with its optional --patch-index.
fn open_image_patch_db(
    args: &ReproduceArgs,
    shape: [usize; 3],
    quiet: bool,
) -> Result<(
    Option<fcollide::patches::db::PatchDb>,
    Option<fcollide::patches::knn::DciIndex>,
)> {
    use fcollide::patches::db::{self, BuildParams, PatchDb, SourceOptions};
    let path = match (&args.patch_db, &args.dataset) {
        (Some(p), None) => p.clone(),
        (None, Some(spec)) => {
            let path = args.out.join("patches.fcpd");
            if !path.exists() {
                std::fs::create_dir_all(&args.out)
                    .with_context(|| format!("--out {}", args.out.display()))?;
                let source = db::open_dataset(
                    spec,
                    &SourceOptions {
                        side: shape[1].max(shape[2]),
                        split_seed: args.data.seed,
                    },
                )
                .with_context(|| format!("--dataset {spec}"))?;
                let params = BuildParams {
                    size: args.patch_size,
                    stride: args.patch_stride.unwrap_or((args.patch_size / 2).max(1)),
                    limit_images: None,
                    description: None,
                };
                db::build(source.as_ref(), &params, None, &path, &Bars::new(quiet))?;
            }
            path
        }
        (Some(_), Some(_)) => bail!("give either --patch-db or --dataset, not both"),
        (None, None) => bail!(
            "reproduce patches with --target-image needs a patch database: --patch-db FILE \
             (`fcollide patches build`) or --dataset DIR (a folder of images)"
        ),
    };
    let pdb = PatchDb::open(&path)?;
    pdb.check_compatible(args.patch_size, shape[0])?;
    let index = match &args.patch_index {
        Some(ix) => Some(pdb.load_index(ix)?),
        None => None,
    };
    Ok((Some(pdb), index))
}

/// One line per row: verdict, class agreement, confidence, spread (as a share of
/// `reference`), feature error.
fn print_rows(rec: &fcollide::run::RunRecord, reference: &str) {
    for r in &rec.rows {
        outln!("{}: {}", r.name, r.verdict_line());
        outln!(
            "{}: {:.1} % of {} samples in class {}, confidence {:.4} (target {:.4}), vertex L2 {:.3} ({:.1} % of {reference}), feature error mean {:.2e} max {:.2e}, {:.2} s",
            r.name,
            100.0 * r.class_agreement,
            r.verification.samples,
            r.verification.target_class,
            r.sample_confidence_mean,
            r.target_confidence,
            r.vertex_pairwise_l2,
            100.0 * r.vertex_to_dataset_ratio,
            r.feature_rel_err_mean,
            r.feature_rel_err_max,
            r.vertex_seconds
        );
    }
}

fn print_exact(rec: &fcollide::run::RunRecord) {
    for r in &rec.exact_rows {
        outln!(
            "{} at {}: {}{}; N+ {} rank {} affine dim {}; {:.1} % of {} samples in the target class, vertex L2 {:.3} ({:.1} % of dataset), collision deviation {:.1e} (vertices) {:.1e} (samples), Chebyshev radius {}",
            r.name,
            r.layer,
            r.verdict,
            if r.certified { " (certified)" } else { "" },
            r.n_plus,
            r.rank,
            r.affine_dim,
            100.0 * r.class_agreement,
            r.samples,
            r.vertex_pairwise_l2,
            100.0 * r.vertex_to_dataset_ratio,
            r.vertex_collision_dev,
            r.sample_collision_dev,
            r.chebyshev_radius.map(|x| format!("{x:.4}")).unwrap_or_else(|| "-".into())
        );
        if let Some(c) = &r.closest {
            outln!(
                "closest colliding input to {}: L1 {:.3}, L2 {:.3}, class {} ({:.4})",
                c.other,
                c.l1,
                c.l2,
                c.class,
                c.confidence
            );
        }
    }
}

fn load_data(args: &DataArgs) -> Result<(Dataset, Dataset)> {
    Ok(match &args.data {
        Some(dir) => Dataset::from_idx_dir(dir)?,
        None => data::mnist_split(args.seed)?,
    })
}

/// Reads `index:N` (test split) or `file:PATH` (an image of the model's input size).
fn read_image(spec: &str, test: &Dataset, net: &Graph, what: &str) -> Result<Vec<f32>> {
    if let Some(i) = spec.strip_prefix("index:") {
        let i: usize = i
            .parse()
            .with_context(|| format!("--{what} '{spec}': index must be a number"))?;
        if i >= test.len() {
            bail!(
                "--{what} '{spec}': the test split has {} images",
                test.len()
            );
        }
        return Ok(test.image(i).to_vec());
    }
    if let Some(path) = spec.strip_prefix("file:") {
        return fcollide::data::image_file::read_image(Path::new(path), net.input_shape)
            .with_context(|| format!("--{what} '{spec}'"));
    }
    bail!("--{what} '{spec}': expected index:N or file:PATH")
}

/// Reads a DCI budget: `all`, a count (`1000`) or a fraction (`0.05`).
fn parse_budget(s: &str, flag: &str) -> Result<Budget> {
    s.parse().with_context(|| format!("--{flag}"))
}

fn patches(command: PatchesCommand, quiet: bool) -> Result<()> {
    use fcollide::patches::db::{self, BuildParams, PatchDb, Projection, SourceOptions};
    match command {
        PatchesCommand::Build {
            dataset,
            size,
            stride,
            project,
            seed,
            limit_images,
            side,
            split_seed,
            description,
            out,
        } => {
            let source = db::open_dataset(&dataset, &SourceOptions { side, split_seed })?;
            let params = BuildParams {
                size,
                stride,
                limit_images,
                description,
            };
            let projection = match project {
                Some(dim) => Some(Projection::seeded(
                    dim,
                    params.raw_dim(source.as_ref()),
                    seed,
                )?),
                None => None,
            };
            let h = db::build(
                source.as_ref(),
                &params,
                projection.as_ref(),
                &out,
                &Bars::new(quiet),
            )?;
            outln!(
                "wrote {}: {} patches of {}×{}×{} from {} images, search rows of {} values",
                out.display(),
                h.n,
                h.channels,
                h.size,
                h.size,
                h.n_images,
                h.dim
            );
            Ok(())
        }
        PatchesCommand::Info { file } => {
            out!("{}", PatchDb::open(&file)?.summary());
            Ok(())
        }
        PatchesCommand::Index {
            file,
            out,
            levels,
            field_of_view,
            construction_field_of_view,
            composite,
            simple,
            retrieve,
            visit,
            directions,
            index_seed,
        } => {
            let pdb = PatchDb::open(&file)?;
            let params = DciParams {
                num_composite: composite,
                num_simple: simple,
                num_levels: levels,
                field_of_view,
                construction_field_of_view,
                retrieve: parse_budget(&retrieve, "retrieve")?,
                visit: parse_budget(&visit, "visit")?,
                seed: index_seed,
                directions: match directions.as_str() {
                    "isotropic" => Directions::Isotropic,
                    "data" => Directions::DataDifferences,
                    o => bail!("--directions '{o}': expected isotropic or data"),
                },
            };
            let t0 = std::time::Instant::now();
            let index = pdb.build_index(params)?;
            index.save(&out)?;
            let sizes: Vec<String> = index.level_sizes().iter().map(|s| s.to_string()).collect();
            outln!(
                "indexed {} rows of {} values ({} distinct; levels of {} points; {} × {} simple indices) in {:.1} s; wrote {}",
                index.len(),
                index.dim(),
                index.num_distinct(),
                sizes.join(" / "),
                composite,
                simple,
                t0.elapsed().as_secs_f64(),
                out.display()
            );
            Ok(())
        }
        PatchesCommand::Query {
            file,
            image,
            k,
            index,
            row,
            col,
            grid,
        } => {
            let pdb = PatchDb::open(&file)?;
            let ix = match &index {
                Some(p) => Some(pdb.load_index(p)?),
                None => None,
            };
            let view = match &ix {
                Some(ix) => pdb.view().with_index(ix)?,
                None => pdb.view(),
            };
            let shape = pdb.header().image_shape;
            let img = fcollide::data::image_file::read_image(&image, shape)?;
            let q = pdb.query(view, &img, row.zip(col), k)?;
            outln!(
                "{} ({}×{}), window at row {}, column {}: {} nearest patches{}",
                image.display(),
                shape[1],
                shape[2],
                q.corner.0,
                q.corner.1,
                q.hits.len(),
                if ix.is_some() { " (DCI index)" } else { "" }
            );
            for (r, h) in q.hits.iter().enumerate() {
                outln!(
                    "{:>3}  d2 {:.4}  patch {}  image {}  row {}  col {}",
                    r + 1,
                    h.dist,
                    h.id,
                    h.image_name,
                    h.source.row,
                    h.source.col
                );
            }
            if let Some(g) = grid {
                pdb.query_grid(&q)?.save(&g)?;
                outln!("wrote {}", g.display());
            }
            Ok(())
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let quiet = cli.quiet;
    let device = fcollide::model::device_by_name(&cli.device)?;
    match cli.command {
        None => reproduce(
            &Experiment::Mnist,
            &ReproduceArgs::default(),
            &cli.device,
            quiet,
        ),
        Some(Command::Reproduce { experiment, run }) => {
            reproduce(&experiment, &run, &cli.device, quiet)
        }
        Some(Command::Train {
            arch: a,
            out,
            data,
            train: t,
        }) => {
            check_out(&out, "--out")?;
            let (tr, te) = load_data(&data)?;
            let mut rng = ChaCha8Rng::seed_from_u64(data.seed);
            let net = arch::by_name(&a, &mut rng)?;
            let params = t.params().check()?;
            let (net, report) = train(
                &net,
                (&tr, &te),
                &params,
                &device,
                &mut rng,
                &Bars::new(quiet),
            )?;
            model_io::save(&net, &out)?;
            outln!(
                "test accuracy {:.2} % after {} epochs ({:.1} s); wrote {}",
                100.0 * report.test_accuracy,
                params.epochs,
                report.seconds,
                out.display()
            );
            Ok(())
        }
        Some(Command::Vertices {
            model,
            data,
            target,
            init,
            search,
            out,
            checkpoint,
            checkpoint_every,
            resume,
        }) => {
            let params = search.params()?.check()?;
            if resume && checkpoint.is_none() {
                bail!("--resume needs --checkpoint FILE");
            }
            check_out(&out, "--out")?;
            if let Some(c) = &checkpoint {
                check_out(c, "--checkpoint")?;
            }
            let net = model.load()?;
            let (_, test) = load_data(&data)?;
            let t = read_image(&target, &test, &net, "target")?;
            let i = if init == "target" {
                t.clone()
            } else {
                read_image(&init, &test, &net, "init")?
            };
            let ckpt = checkpoint.map(|path| Checkpointing {
                path,
                every: checkpoint_every,
                resume,
            });
            let set = find_vertices_checkpointed(
                &net,
                &t,
                &i,
                &params,
                &device,
                &Bars::new(quiet),
                ckpt.as_ref(),
            )?;
            for (k, s) in set.stats.iter().enumerate() {
                outln!(
                    "vertex {k}: unit {} class {} ({:.4}) feature error {:.2e} L+ {:.2e} Z ok {:.1} %",
                    s.unit,
                    s.class,
                    s.confidence,
                    s.feature_rel_err,
                    s.l_plus,
                    100.0 * s.z_satisfied
                );
            }
            let k = set.len();
            save_vertices(
                &VertexFile {
                    set,
                    target: t,
                    init: i.repeat(if i.len() == net.input_len() { k } else { 1 }),
                    params: serde_json::to_value(&*params)?,
                },
                &out,
            )?;
            outln!("wrote {}", out.display());
            Ok(())
        }
        Some(Command::Exact {
            model,
            data,
            target,
            other,
            layer,
            vertices,
            units,
            samples,
            directions,
            lp_solver,
            out,
        }) => {
            if matches!(lp_solver, LpSolverArg::Highs) && !fcollide::exact::HIGHS_AVAILABLE {
                bail!(
                    "--lp-solver highs: HiGHS is not compiled into this build; rebuild with \
                     `cargo build --release --features highs` (needs cmake, a C++ compiler and \
                     libclang), or use --lp-solver auto/dense"
                );
            }
            let net = model.load()?;
            let (_, test) = load_data(&data)?;
            let t = read_image(&target, &test, &net, "target")?;
            let o = match &other {
                Some(spec) => Some(read_image(spec, &test, &net, "other")?),
                None => None,
            };
            let job = ExactJob {
                params: ExactParams {
                    layer,
                    vertices,
                    units,
                    directions,
                    seed: data.seed,
                    lp: LpOptions {
                        solver: lp_solver.into(),
                        ..LpOptions::default()
                    },
                    ..ExactParams::default()
                },
                target: (&target, &t),
                other: other.as_deref().zip(o.as_deref()),
                model_source: &model.model.display().to_string(),
                samples,
                dataset: (&test.name, &test.images),
                dataset_pairs: 10_000,
                seed: data.seed,
            };
            let rec = run_exact(&net, &job, &out)?;
            print_exact(&rec);
            outln!("wrote {}", out.display());
            Ok(())
        }
        Some(Command::Sweep {
            model,
            data,
            target,
            layers,
            search,
            samples,
            out,
        }) => {
            let params = search.params()?;
            let net = model.load()?;
            let (_, test) = load_data(&data)?;
            let t = read_image(&target, &test, &net, "target")?;
            let layers = match (layers, &search.layer) {
                (Some(_), Some(l)) => bail!(
                    "sweep: give --layers (several layers) or --layer {l} (one layer), not both"
                ),
                (Some(ls), None) => ls,
                (None, Some(l)) => vec![l.clone()],
                (None, None) => net.collision_layers(),
            };
            let rec = fcollide::run::sweep::sweep(
                &net,
                &t,
                &layers,
                &params,
                samples,
                &test.images,
                data.seed,
                (&out, &device),
                &Bars::new(quiet),
            )?;
            outln!("{}", fcollide::run::sweep::sweep_table(&rec).to_markdown());
            outln!("wrote {}", out.display());
            Ok(())
        }
        Some(Command::Patches { command }) => patches(command, quiet),
        Some(Command::Inspect {
            model,
            arch,
            normalize,
            input,
            resize,
            labels,
            json,
        }) => {
            let net = ModelArgs {
                model,
                arch,
                normalize,
            }
            .load()?;
            let x = match &input {
                Some(p) => Some(fcollide::data::image_file::read_image_with(
                    p,
                    net.input_shape,
                    resize,
                )?),
                None => None,
            };
            let outputs = net.shapes()?[net.output()].len();
            let names = match &labels {
                Some(p) => fcollide::data::imagenet::read_labels_file(p).context("--labels")?,
                None => fcollide::data::imagenet::labels_for(outputs),
            };
            let i = fcollide::model::inspect::inspect(&net, x.as_deref(), &names, &device)?;
            let text = if json {
                serde_json::to_string_pretty(&i)? + "\n"
            } else {
                i.to_text()
            };
            out!("{text}");
            Ok(())
        }
        Some(Command::Verify {
            model,
            vertices,
            samples,
            seed,
            collision_tol,
            out,
        }) => {
            let net = model.load()?;
            let mut vf = load_vertices(&vertices)?;
            if let Some(t) = collision_tol {
                fcollide::polytope::verdict::check_tolerance(t)
                    .map_err(|m| anyhow::anyhow!("--collision-tol {m}"))?;
                vf.set.collision_tol = t;
            }
            if vf.set.shape != net.input_shape {
                bail!(
                    "{}: vertices are {:?} images but the model takes {:?}",
                    vertices.display(),
                    vf.set.shape,
                    net.input_shape
                );
            }
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let (v, _) = verify(&net, &vf.target, &vf.set, samples, &device, &mut rng)?;
            eprintln!(
                "{}",
                fcollide::run::record::verdict_line(
                    v.verdict,
                    v.certified,
                    v.certified_error_bound,
                    v.feature_rel_err_max.max(v.vertex_feature_rel_err_max),
                    v.collision_tol
                )
            );
            let json = serde_json::to_string_pretty(&v)?;
            match out {
                Some(p) => {
                    model_io::write_atomic(&p, json.as_bytes())?;
                    outln!("wrote {}", p.display());
                }
                None => outln!("{json}"),
            }
            Ok(())
        }
    }
}

fn main() {
    let cli = Cli::parse();
    if !cli.limit.is_empty() {
        let mut l = fcollide::limits::current();
        for setting in &cli.limit {
            let applied = match setting.split_once('=') {
                Some((name, value)) => l.set_by_name(name.trim(), value),
                None => Err(format!("'{setting}': expected NAME=VALUE")),
            };
            if let Err(e) = applied {
                eprintln!("error: --limit {e}");
                std::process::exit(2);
            }
        }
        fcollide::limits::set(l);
    }
    progress::install_ctrlc();
    if let Err(e) = run(cli) {
        eprintln!("error: {}", error_message(&e));
        std::process::exit(1);
    }
}

/// The error and its causes joined by `: `, leaving out a cause whose text the message
/// already holds (library errors name their source in their own text).
fn error_message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if !msg.contains(&c) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&c);
        }
    }
    msg
}
