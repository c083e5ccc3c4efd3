//! `fcollide._native.Model`: a network ([`Graph`]) shared with worker threads, its loaders and
//! its forward passes.
use std::path::PathBuf;
use std::sync::Arc;

use fcollide::model::graph::fold::Normalization;
use fcollide::model::{import, io as model_io, Graph, LoadOptions, Network};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

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

/// `normalize=` as the library's [`Normalization`] (`none`, `mnist`, `imagenet`,
/// `mean=…,std=…`).
fn parse_normalize(normalize: Option<&str>) -> PyResult<Option<Normalization>> {
    normalize
        .map(|text| Normalization::parse(text).map_err(|e| parameter(format!("normalize: {e}"))))
        .transpose()
}

/// `(name, kind, input names, output shape)` of a node.
type NodeInfo = (String, String, Vec<String>, Vec<usize>);

impl Model {
    pub fn new(graph: Graph, source: String) -> Self {
        Model {
            graph: Arc::new(graph),
            source,
        }
    }

    /// Output of node `node` for `n` inputs, on a worker thread: `(values, per example)`.
    fn run_node(&self, py: Python<'_>, x: &[u8], node: usize) -> PyResult<(Py<PyBytes>, usize)> {
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
    /// Loads `path` with the library's `fcollide::model::load` (see `fcollide.load`):
    /// `(model, format, normalization source)`.
    #[staticmethod]
    #[pyo3(signature = (path, arch=None, normalize=None))]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        arch: Option<String>,
        normalize: Option<String>,
    ) -> PyResult<(Model, String, String)> {
        let options = LoadOptions {
            arch,
            normalize: parse_normalize(normalize.as_deref())?,
        };
        let p = path.clone();
        let loaded =
            worker::run(py, None, move |_| fcollide::model::load(&p, &options))?.map_err(to_py)?;
        let source = serde_json::to_value(loaded.normalization_source)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        Ok((
            Model::new(loaded.graph, path.display().to_string()),
            loaded.format,
            source,
        ))
    }

    /// Reads an ONNX model from its bytes (external data refused); `name` stands for the
    /// file in messages; `input_shape` overrides the graph's input `[C, H, W]`; `normalize`
    /// replaces the input normalization.
    #[staticmethod]
    #[pyo3(signature = (data, name, input_shape=None, normalize=None))]
    fn from_onnx(
        py: Python<'_>,
        data: &[u8],
        name: String,
        input_shape: Option<[usize; 3]>,
        normalize: Option<String>,
    ) -> PyResult<Model> {
        let norm = parse_normalize(normalize.as_deref())?;
        let data = data.to_vec();
        let n = name.clone();
        let g = worker::run(py, None, move |_| -> fcollide::Result<Graph> {
            let mut g = import::onnx::read_onnx(&data, &n, input_shape)?;
            import::load::finite(&g, &n)?;
            if let Some(norm) = &norm {
                g.set_normalization(norm)
                    .map_err(|m| fcollide::Error::Msg(format!("{n}: normalization: {m}")))?;
            }
            g.check()?;
            Ok(g)
        })?
        .map_err(to_py)?;
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
    fn describe(&self) -> PyResult<Vec<NodeInfo>> {
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
