//! Inputs several commands read: the model, the data, an image given as `index:N` or
//! `file:PATH`, and the check of an output path before a long run.
use crate::args::common::{DataArgs, ModelArgs};
use crate::error::usage_bail;
use anyhow::{Context, Result};
use fcollide::data::{self, Dataset};
use fcollide::model::graph::fold::Normalization;
use fcollide::model::{Graph, LoadOptions, NormalizationSource};
use std::path::Path;

/// Errors (naming `flag`) when `path` is an existing special file (a device, FIFO, socket
/// or directory, symlinks followed) that a write would have to replace; checked before a
/// long run so that it does not fail only at the end.
pub fn check_out(path: &Path, flag: &str) -> Result<()> {
    fcollide::fsutil::output_target(path)
        .map(|_| ())
        .with_context(|| format!("{flag} {}", path.display()))
}

impl ModelArgs {
    /// Loads `--model` and says on stderr where its normalization comes from.
    pub fn load(&self) -> Result<Graph> {
        load_model(&self.model, self.arch.as_deref(), self.normalize.clone())
    }
}

/// Loads a model file (fcollide safetensors, a `.toml` spec, `.onnx`, or with `arch` any
/// supported weights format) and says on stderr where its normalization comes from.
pub fn load_model(
    path: &Path,
    arch: Option<&str>,
    normalize: Option<Normalization>,
) -> Result<Graph> {
    let loaded = fcollide::model::load(
        path,
        &LoadOptions {
            arch: arch.map(str::to_string),
            normalize,
        },
    )?;
    eprintln!(
        "model {} ({}): normalization {} [{}]",
        path.display(),
        loaded.format,
        loaded.normalization,
        match loaded.normalization_source {
            NormalizationSource::File => "from the file",
            NormalizationSource::Template =>
                "the architecture's canonical preprocessing; --normalize overrides",
            NormalizationSource::Spec => "from the model spec",
            NormalizationSource::Override => "from --normalize",
        }
    );
    Ok(loaded.graph)
}

/// The train and test splits: `--data`'s IDX files, or the embedded digits split by `--seed`.
pub fn load_data(args: &DataArgs) -> Result<(Dataset, Dataset)> {
    Ok(match &args.data {
        Some(dir) => Dataset::from_idx_dir(dir)?,
        None => data::mnist_split(args.seed)?,
    })
}

/// Reads `index:N` (test split) or `file:PATH` (an image of the model's input size) given
/// to `--{flag}`.
pub fn read_image(spec: &str, test: &Dataset, net: &Graph, flag: &str) -> Result<Vec<f32>> {
    if let Some(i) = spec.strip_prefix("index:") {
        let Ok(i) = i.parse::<usize>() else {
            usage_bail!("--{flag} '{spec}': index must be a number");
        };
        if i >= test.len() {
            usage_bail!(
                "--{flag} '{spec}': the test split has {} images",
                test.len()
            );
        }
        return Ok(test.image(i).to_vec());
    }
    if let Some(path) = spec.strip_prefix("file:") {
        return fcollide::data::image_file::read_image(Path::new(path), net.input_shape)
            .with_context(|| format!("--{flag} '{spec}'"));
    }
    usage_bail!("--{flag} '{spec}': expected index:N or file:PATH")
}
