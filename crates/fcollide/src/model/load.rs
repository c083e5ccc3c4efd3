//! One entry point for loading a model from a file: [`load`].
//!
//! By the file:
//! - `*.toml`: a model spec ([`super::import::spec`]: architecture, weights, remapping, input
//!   shape, preprocessing);
//! - `*.onnx` (or an ONNX file by its bytes): the graph with its weights, external data
//!   beside it included ([`super::import::onnx`]);
//! - with [`LoadOptions::arch`]: a weights file (safetensors, PyTorch state dict, `.npz`)
//!   matched to that architecture's template by name ([`super::import::keymap`]): one of
//!   fcollide's ([`arch::ARCHITECTURES`]) or a torchvision classifier ([`zoo::NAMES`], with
//!   the number of classes read from the file's classifier weight);
//! - otherwise a safetensors file written by fcollide, which records its structure.
//!
//! The model always takes raw pixels in `[0, 1]`; its input normalization is part of the
//! graph, read back by [`Graph::normalization`] and reported in [`Loaded::normalization`].
//! [`LoadOptions::normalize`] replaces it (for a model trained on raw pixels, or with other
//! statistics). Batch norm is folded into the layer before it where there is one.
use std::path::Path;

use rand::SeedableRng;
use serde::Serialize;

use super::graph::fold::Normalization;
use super::import::{self, Format, Layout};
use super::{arch, io, zoo, Graph};
use crate::Error;

/// How to load a model file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadOptions {
    /// The architecture of a weights file that does not record it (`mlp`, `lenet5`, `vgg16`,
    /// or a torchvision name).
    pub arch: Option<String>,
    /// Replace the model's input normalization.
    pub normalize: Option<Normalization>,
}

/// Where a loaded model's input normalization comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NormalizationSource {
    /// Recorded in the file (fcollide safetensors, an ONNX graph's own arithmetic).
    File,
    /// The canonical preprocessing of the architecture template (`--arch`).
    Template,
    /// The model spec's `[preprocess]` section.
    Spec,
    /// Given by the caller ([`LoadOptions::normalize`]).
    Override,
}

/// A loaded model and how it was read.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The network.
    pub graph: Graph,
    /// The file format read.
    pub format: String,
    /// How tensors were matched to the template (for weights files).
    pub layout: Option<String>,
    /// The input normalization the model applies.
    pub normalization: Normalization,
    /// Where it comes from.
    pub normalization_source: NormalizationSource,
}

fn is_onnx(path: &Path) -> bool {
    if path.extension().and_then(|e| e.to_str()) == Some("onnx") {
        return true;
    }
    // A few bytes suffice to recognize the ModelProto header. Only a regular file is opened
    // (a FIFO would block here; the loader proper reports what the path is).
    crate::fsutil::open_regular(path)
        .ok()
        .and_then(|mut f| {
            use std::io::Read;
            let mut head = vec![0u8; 1 << 16];
            let n = f.read(&mut head).ok()?;
            head.truncate(n);
            Some(head.first() == Some(&0x08) && import::onnx::looks_like_onnx_prefix(&head))
        })
        .unwrap_or(false)
}

/// The template of torchvision architecture `name` ([`zoo::NAMES`]) for the file's
/// `tensors`: as many classes as the file's classifier weight has rows. Its weights are
/// replaced when it is filled.
fn zoo_template(name: &str, tensors: &import::TensorMap) -> Result<Graph, Error> {
    let num_classes =
        zoo::num_classes(name, tensors, &import::MatchOptions::for_arch(name)).unwrap_or(1000);
    Ok(zoo::build(
        name,
        &zoo::ZooOptions {
            num_classes,
            ..zoo::ZooOptions::default()
        },
    )?)
}

/// Reads a weights file once and moves its tensors into the template of `arch` (one of
/// fcollide's own, [`arch::ARCHITECTURES`], checked before the file is read, or a
/// torchvision one): the file's mapping is released before the template is filled, and no
/// weight is held twice (the peak is the file's pages plus one copy of the tensors).
/// Returns the network, the format and the layout that matched.
fn load_with_arch(arch: &str, path: &Path) -> Result<(Graph, Format, Layout), Error> {
    let own = match zoo::NAMES.contains(&arch) {
        true => None,
        false => Some(arch::by_name(
            arch,
            &mut rand_chacha::ChaCha8Rng::seed_from_u64(0),
        )?),
    };
    let p = path.display().to_string();
    let (tensors, format) = {
        let map = import::safetensors::map_file(path)?;
        let format = import::detect_format(&map, &p)?;
        (import::read_tensors(&map, format, &p)?, format)
    };
    let template = match own {
        Some(t) => t,
        None => zoo_template(arch, &tensors)?,
    };
    let (g, layout) = import::fill_tensors(tensors, &p, template, &[])?;
    Ok((g, format, layout))
}

/// Loads the model at `path` (see the module doc).
pub fn load(path: &Path, options: &LoadOptions) -> Result<Loaded, Error> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let (mut graph, format, layout, mut source) = if ext == "toml" {
        let spec = import::ModelSpec::from_file(path)?;
        let has_pre = spec.preprocess.is_some();
        let l = import::load_model_detailed(&spec)?;
        let src = if has_pre {
            NormalizationSource::Spec
        } else if l.format == Format::Onnx {
            NormalizationSource::File
        } else {
            NormalizationSource::Template
        };
        (
            l.net,
            format!("{:?}", l.format).to_lowercase(),
            l.layout.map(|l| format!("{l:?}")),
            src,
        )
    } else if is_onnx(path) {
        (
            import::load_onnx(path, None)?,
            "onnx".to_string(),
            None,
            NormalizationSource::File,
        )
    } else if let Some(a) = &options.arch {
        let (g, format, layout) = load_with_arch(a, path)?;
        let src = if layout == Layout::TfNpz {
            NormalizationSource::File
        } else {
            NormalizationSource::Template
        };
        let format = format!("{format:?}").to_lowercase();
        (g, format, Some(format!("{layout:?}")), src)
    } else {
        let g = io::load(path, None).map_err(|e| refine_unknown(path, e))?;
        (
            g,
            "fcollide safetensors".to_string(),
            None,
            NormalizationSource::File,
        )
    };
    if let Some(n) = &options.normalize {
        graph
            .set_normalization(n)
            .map_err(|m| Error::Msg(format!("{}: normalization: {m}", path.display())))?;
        source = NormalizationSource::Override;
    }
    graph.check()?;
    let normalization = graph.normalization().0;
    Ok(Loaded {
        graph,
        format,
        layout,
        normalization,
        normalization_source: source,
    })
}

/// Loads the model at `path` and returns only the graph.
pub fn load_graph(path: &Path, options: &LoadOptions) -> Result<Graph, Error> {
    load(path, options).map(|l| l.graph)
}

/// A clearer error for a file that is not fcollide's own safetensors: say what it is.
fn refine_unknown(path: &Path, e: super::ModelError) -> Error {
    let Ok(map) = import::safetensors::map_file(path) else {
        return e.into();
    };
    let shown = path.display().to_string();
    match import::detect_format(&map, &shown) {
        Ok(Format::Safetensors) => e.into(),
        Ok(f) => Error::Msg(format!(
            "{shown}: a {} weights file records no architecture: name it with the `arch` parameter ({})",
            match f {
                Format::Pth => "PyTorch",
                Format::Npz => "NumPy .npz",
                Format::Onnx => "ONNX",
                Format::Safetensors => "safetensors",
            },
            arch::ARCHITECTURES.join(", ")
        )),
        Err(_) => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fcollide_files_and_normalization_override() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        let net = arch::mlp(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
        io::save(&net, &p).unwrap();
        let l = load(&p, &LoadOptions::default()).unwrap();
        assert_eq!(l.graph, net);
        assert_eq!(l.normalization, Normalization::Mnist);
        assert_eq!(l.normalization_source, NormalizationSource::File);
        let l = load(
            &p,
            &LoadOptions {
                normalize: Some(Normalization::None),
                ..LoadOptions::default()
            },
        )
        .unwrap();
        assert_eq!(l.normalization, Normalization::None);
        assert_eq!(l.normalization_source, NormalizationSource::Override);
        assert_eq!(l.graph.nodes.len(), net.nodes.len() - 1);
        // A file that is not a model at all.
        let bad = dir.path().join("x.bin");
        std::fs::write(&bad, b"hello world, not a model").unwrap();
        assert!(load(&bad, &LoadOptions::default()).is_err());
    }
}
