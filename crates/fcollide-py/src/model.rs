//! `fcollide._native.Model`: a network ([`Graph`]) shared with worker threads, its loaders and
//! its forward passes.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fcollide::model::graph::fold::Normalization;
use fcollide::model::{arch, import, io as model_io, Graph, Network};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::convert::{from_bytes, to_bytes};
use crate::errors::{parameter, to_py};
use crate::worker;

/// A network fcollide can search: raw pixels `[C, H, W]` in `pixel_bounds` in, logits out.
#[pyclass(frozen, module = "fcollide._native", name = "Model")]
pub struct Model {
    pub graph: Arc<Graph>,
    /// Where it came from (a path, `<torch Module>`, `mnist seed 0`).
    pub source: String,
}

/// Loads a model file the way the CLI's `--model FILE [--arch A]` does: a `.toml` spec, an
/// `.onnx` graph, weights of architecture `arch` (safetensors, `.pth`, `.npz`), or a
/// safetensors file written by fcollide.
///
/// TODO(model::load): replace by the library's single entry point
/// `fcollide::model::load(path, &LoadOptions)` once it lands; this mirrors
/// `ModelArgs::load` in `crates/fcollide-cli/src/main.rs` until then.
fn load_file(path: &Path, arch_name: Option<&str>) -> fcollide::Result<Graph> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if ext.eq_ignore_ascii_case("toml") {
        return Ok(import::load_model(&import::ModelSpec::from_file(path)?)?);
    }
    if ext.eq_ignore_ascii_case("onnx") {
        return Ok(import::load_onnx(path, None)?);
    }
    match arch_name {
        Some(a) => {
            let template = arch::by_name(a, &mut ChaCha8Rng::seed_from_u64(0))?;
            Ok(import::load_weights_auto(path, &template)?)
        }
        None => Ok(model_io::load(path, None)?),
    }
}

/// Replaces the input normalization by `normalize` (`none`, `mnist`, `imagenet`,
/// `mean=…,std=…`).
fn apply_normalize(g: &mut Graph, normalize: Option<&str>) -> PyResult<()> {
    if let Some(text) = normalize {
        let norm = Normalization::parse(text).map_err(|e| parameter(format!("normalize: {e}")))?;
        g.set_normalization(&norm)
            .map_err(|e| parameter(format!("normalize: {e}")))?;
    }
    Ok(())
}

impl Model {
    pub fn new(graph: Graph, source: String) -> Self {
        Model {
            graph: Arc::new(graph),
            source,
        }
    }

    /// Output of node `node` for `n` inputs, on a worker thread: `(values, per example)`.
    fn run_node(
        &self,
        py: Python<'_>,
        x: &[u8],
        node: usize,
    ) -> PyResult<(Py<PyBytes>, usize)> {
        let x = from_bytes(x, "x")?;
        let graph = self.graph.clone();
        let out = worker::run(py, None, move |_| -> fcollide::Result<(Vec<f32>, usize)> {
            if x.len() % graph.input_len() != 0 {
                return Err(fcollide::model::ModelError::Input {
                    got: x.len(),
                    expected: graph.input_len(),
                    shape: graph.input_shape,
                }
                .into());
            }
            let device = fcollide::model::default_device();
            let net = Network::from_graph(&graph, &device)?;
            let rows = net.activations(&x, node, &device);
            let width = rows.first().map_or(0, Vec::len);
            Ok((rows.concat(), width))
        })?
        .map_err(to_py)?;
        Ok((to_bytes(py, &out.0), out.1))
    }
}

#[pymethods]
impl Model {
    /// Loads `path` (see `fcollide.load`).
    #[staticmethod]
    #[pyo3(signature = (path, arch=None, normalize=None))]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        arch: Option<String>,
        normalize: Option<String>,
    ) -> PyResult<Model> {
        let p = path.clone();
        let mut g = worker::run(py, None, move |_| load_file(&p, arch.as_deref()))?
            .map_err(to_py)?;
        apply_normalize(&mut g, normalize.as_deref())?;
        Ok(Model::new(g, path.display().to_string()))
    }

    /// Reads an ONNX model from bytes; `name` stands for the file in messages; `input_shape`
    /// overrides the graph's input `[C, H, W]`.
    #[staticmethod]
    #[pyo3(signature = (data, name, input_shape=None, normalize=None))]
    fn from_onnx(
        py: Python<'_>,
        data: &[u8],
        name: String,
        input_shape: Option<[usize; 3]>,
        normalize: Option<String>,
    ) -> PyResult<Model> {
        let data = data.to_vec();
        let n = name.clone();
        // TODO(model::load): the library's ONNX entry point from bytes once the new importer
        // lands (DAG, batch norm, pooling, external data).
        let mut g = worker::run(py, None, move |_| {
            import::onnx::read_onnx(&data, &n, input_shape)
        })?
        .map_err(to_py)?;
        apply_normalize(&mut g, normalize.as_deref())?;
        Ok(Model::new(g, name))
    }

    /// Architecture name.
    #[getter]
    fn arch(&self) -> String {
        self.graph.arch.clone()
    }

    /// Where the model came from.
    #[getter]
    fn source(&self) -> String {
        self.source.clone()
    }

    /// Input shape `(C, H, W)`.
    #[getter]
    fn input_shape(&self) -> (usize, usize, usize) {
        let [c, h, w] = self.graph.input_shape;
        (c, h, w)
    }

    /// Pixel bounds `(lo, hi)` of raw inputs.
    #[getter]
    fn pixel_bounds(&self) -> (f32, f32) {
        self.graph.pixel_bounds
    }

    /// Number of outputs (classes).
    #[getter]
    fn num_classes(&self) -> PyResult<usize> {
        self.graph.check().map_err(to_py)
    }

    /// Names of the nodes after the input, in graph order.
    #[getter]
    fn layers(&self) -> Vec<String> {
        self.graph
            .nodes
            .iter()
            .skip(1)
            .map(|n| n.name.clone())
            .collect()
    }

    /// `(name, kind, inputs, output shape)` of every node after the input.
    fn describe(&self) -> PyResult<Vec<(String, String, Vec<String>, Vec<usize>)>> {
        let shapes = self.graph.shapes().map_err(to_py)?;
        Ok(self
            .graph
            .nodes
            .iter()
            .zip(&shapes)
            .skip(1)
            .map(|(n, s)| {
                let dims = match s {
                    fcollide::model::Shape::Chw(d) => d.to_vec(),
                    fcollide::model::Shape::Flat(k) => vec![*k],
                };
                (
                    n.name.clone(),
                    n.op.kind().to_string(),
                    n.inputs
                        .iter()
                        .map(|&k| self.graph.nodes[k].name.clone())
                        .collect(),
                    dims,
                )
            })
            .collect())
    }

    /// Names of the collision points (activations on every path to the output).
    #[getter]
    fn collision_layers(&self) -> Vec<String> {
        self.graph.collision_layers()
    }

    /// The input normalization, as text (`none`, `mnist`, `imagenet`, `mean=…, std=…`).
    #[getter]
    fn normalization(&self) -> String {
        self.graph.normalization().0.to_string()
    }

    /// Number of parameters.
    #[getter]
    fn param_count(&self) -> usize {
        self.graph.param_count()
    }

    /// Logits of `x` (f32 bytes, `[N, C·H·W]`): `(bytes, classes)`.
    fn forward(&self, py: Python<'_>, x: &[u8]) -> PyResult<(Py<PyBytes>, usize)> {
        let out = self.graph.output();
        self.run_node(py, x, out)
    }

    /// The pre-activation `ỹ` at collision layer `layer` for `x`: `(bytes, units)`.
    fn pre_activation(
        &self,
        py: Python<'_>,
        x: &[u8],
        layer: &str,
    ) -> PyResult<(Py<PyBytes>, usize)> {
        let pre = self.graph.collision_point(layer).map_err(to_py)?.pre;
        self.run_node(py, x, pre)
    }

    /// Saves the model as an fcollide safetensors file (structure in its metadata).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let g = self.graph.clone();
        worker::run(py, None, move |_| model_io::save(&g, &path))?.map_err(to_py)
    }
}
