//! The package's computations: vertex search (then verification, certificate and verdict),
//! polytope verification, exact (LP) rows, vertex files and the embedded MNIST data. Each is
//! one call of the `fcollide` library on a worker thread ([`crate::worker`]).
use std::path::PathBuf;
use std::sync::Arc;

use fcollide::collide::io::{load_vertices as load_vertex_file, save_vertices, VertexFile};
use fcollide::collide::{find_vertices as search, ValidVertexParams, VertexParams};
use fcollide::exact::{ExactParams, LpSolver};
use fcollide::model::Graph;
use fcollide::polytope::{
    dataset_pairwise_l2 as pairwise_l2, verify as verify_polytope, Verification,
};
use fcollide::run::steps::get_model;
use fcollide::run::MnistParams;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use crate::convert::{from_bytes, to_bytes};
use crate::errors::{parameter, to_py};
use crate::model::Model;
use crate::worker;

/// A vertex set with its target and starting images (a vertex file's content) and, after a
/// search, the verification (with certificate and verdict) made right after it.
#[pyclass(frozen, module = "fcollide._native", name = "VertexData")]
pub struct VertexData {
    file: VertexFile,
    verification: Option<Verification>,
    /// Seconds spent in the library's calls (search and verification) on the worker thread:
    /// what the Python call's overhead is measured against.
    library_seconds: Option<f64>,
}

fn json_err(e: serde_json::Error) -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err(format!("JSON: {e}"))
}

/// Overlays the user's parameters (a JSON object) on `defaults`, checking every key exists
/// (`extra` lists keys that may be absent from the defaults) and naming the key whose value
/// does not fit.
fn merge_params<T: serde::Serialize + serde::de::DeserializeOwned>(
    defaults: &T,
    user_json: &str,
    extra: &[&str],
) -> PyResult<T> {
    let user: Map<String, Value> = serde_json::from_str(user_json)
        .map_err(|e| parameter(format!("parameters are not a JSON object: {e}")))?;
    let mut base = match serde_json::to_value(defaults).map_err(json_err)? {
        Value::Object(m) => m,
        _ => unreachable!("parameter structs serialize to objects"),
    };
    let mut valid: Vec<String> = base.keys().cloned().collect();
    valid.extend(extra.iter().map(|s| s.to_string()));
    valid.sort();
    for (k, v) in user {
        if !valid.contains(&k) {
            return Err(parameter(format!(
                "unknown parameter '{k}'; valid: {}",
                valid.join(", ")
            )));
        }
        base.insert(k.clone(), v.clone());
        serde_json::from_value::<T>(Value::Object(base.clone()))
            .map_err(|e| parameter(format!("parameter '{k}' = {v}: {e}")))?;
    }
    serde_json::from_value(Value::Object(base)).map_err(|e| parameter(e.to_string()))
}

/// Search parameters from JSON over [`VertexParams::default`] (the CLI's defaults), checked.
fn vertex_params(json: &str) -> PyResult<ValidVertexParams> {
    merge_params(&VertexParams::default(), json, &["alpha_start"])?
        .check()
        .map_err(to_py)
}

#[pymethods]
impl VertexData {
    /// `(K, C, H, W)`.
    #[getter]
    fn shape(&self) -> (usize, usize, usize, usize) {
        let [c, h, w] = self.file.set.shape;
        (self.file.set.len(), c, h, w)
    }

    /// The vertices as f32 bytes `[K, C·H·W]`.
    fn vertices(&self, py: Python<'_>) -> Py<PyBytes> {
        to_bytes(py, &self.file.set.vertices)
    }

    /// The target as f32 bytes `[C·H·W]`.
    fn target(&self, py: Python<'_>) -> Py<PyBytes> {
        to_bytes(py, &self.file.target)
    }

    /// The starting images as f32 bytes `[K, C·H·W]`.
    fn init(&self, py: Python<'_>) -> Py<PyBytes> {
        to_bytes(py, &self.file.init)
    }

    /// Everything else as JSON: `set` (the library's `VertexSet` without its vertices:
    /// layer, per-vertex `stats`, `n_units`, `n_plus`, `engine`, `region_locked`,
    /// `collision_tol`, `loss_history`, `seconds`), `params`, and `verification` (the
    /// library's `Verification`, `null` for a file read from disk), `library_seconds` (time in
    /// the library's search and verification, `null` for a file).
    fn meta_json(&self) -> PyResult<String> {
        let mut set = serde_json::to_value(&self.file.set).map_err(json_err)?;
        if let Value::Object(m) = &mut set {
            m.remove("vertices");
        }
        let out = serde_json::json!({
            "set": set,
            "params": self.file.params,
            "verification": self.verification,
            "library_seconds": self.library_seconds,
        });
        serde_json::to_string(&out).map_err(json_err)
    }

    /// Writes the vertex file (the CLI's format).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let file = self.file.clone();
        worker::run(py, None, move |_| save_vertices(&file, &path))?.map_err(to_py)
    }
}

/// Reads a vertex file written by fcollide.
#[pyfunction]
pub fn load_vertices(py: Python<'_>, path: PathBuf) -> PyResult<VertexData> {
    let file = worker::run(py, None, move |_| load_vertex_file(&path))?.map_err(to_py)?;
    Ok(VertexData {
        file,
        verification: None,
        library_seconds: None,
    })
}

fn check_fits(net: &Graph, file: &VertexFile) -> PyResult<()> {
    if file.set.shape != net.input_shape {
        return Err(parameter(format!(
            "vertices: they are {:?} images but the model takes {:?}",
            file.set.shape, net.input_shape
        )));
    }
    Ok(())
}

/// Finds vertices (see `fcollide.find_vertices`): `target` one image, `init` one image or
/// one per vertex (f32 bytes), `params` JSON over the CLI's defaults; then verifies the
/// polytope with `samples` samples (ChaCha8 seeded by `seed`), which certifies its hull and
/// gives the verdict.
#[pyfunction]
#[pyo3(signature = (model, target, init, params, samples, seed, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn find_vertices(
    py: Python<'_>,
    model: &Model,
    target: &[u8],
    init: Option<&[u8]>,
    params: &str,
    samples: usize,
    seed: u64,
    progress: Option<Py<PyAny>>,
) -> PyResult<VertexData> {
    let params = vertex_params(params)?;
    let net = model.graph.clone();
    fcollide::polytope::verify::check_samples(samples, net.input_len()).map_err(to_py)?;
    let target = from_bytes(target, "target")?;
    let init = match init {
        Some(b) => from_bytes(b, "init")?,
        None => target.clone(),
    };
    let (file, verification, seconds) = worker::run(py, progress, move |prog| {
        let t0 = std::time::Instant::now();
        let device = fcollide::model::default_device();
        let set = search(&net, &target, &init, &params, &device, prog)?;
        let k = set.len();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (v, _) = verify_polytope(&net, &target, &set, samples, &device, &mut rng)?;
        let seconds = t0.elapsed().as_secs_f64();
        let file = VertexFile {
            init: if init.len() == net.input_len() {
                init.repeat(k)
            } else {
                init
            },
            target,
            params: serde_json::to_value(&*params).unwrap_or_default(),
            set,
        };
        Ok::<_, fcollide::Error>((file, v, seconds))
    })?
    .map_err(|e| match e {
        fcollide::Error::Collide(fcollide::collide::CollideError::Interrupted { .. }) => {
            pyo3::exceptions::PyKeyboardInterrupt::new_err("vertex search interrupted")
        }
        e => to_py(e),
    })?;
    Ok(VertexData {
        file,
        verification: Some(verification),
        library_seconds: Some(seconds),
    })
}

/// The Table-2 figures of a vertex set with `n` samples (ChaCha8 seeded by `seed`), its hull
/// certificate and verdict at `tol` (default: the set's own `collision_tol`), as JSON (the
/// library's `Verification`, what `fcollide verify` prints).
#[pyfunction]
#[pyo3(signature = (model, data, n, seed, tol=None))]
pub fn verify(
    py: Python<'_>,
    model: &Model,
    data: &VertexData,
    n: usize,
    seed: u64,
    tol: Option<f64>,
) -> PyResult<String> {
    let net = model.graph.clone();
    check_fits(&net, &data.file)?;
    let mut file = data.file.clone();
    if let Some(t) = tol {
        file.set.collision_tol = fcollide::polytope::verdict::check_tolerance(t)
            .map_err(|m| parameter(format!("tol: {m}")))?;
    }
    let v = worker::run(py, None, move |_| {
        let device = fcollide::model::default_device();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        verify_polytope(&net, &file.target, &file.set, n, &device, &mut rng).map(|r| r.0)
    })?
    .map_err(to_py)?;
    serde_json::to_string(&v).map_err(json_err)
}

/// An exact (LP) row, as `fcollide exact` computes it (see `fcollide.exact`): the polytope,
/// `samples` convex combinations of its f64 vertices (ChaCha8 seeded by `seed`) certified in
/// f64, the verdict. Returns `(vertices bytes, K, JSON)`, the JSON holding the library's
/// `ExactRowRecord` (its `detail` is the whole `ExactPolytope` without vertices).
#[pyfunction]
#[pyo3(signature = (model, target, params, lp_solver, samples, seed, dataset_l2))]
#[allow(clippy::too_many_arguments)]
pub fn exact(
    py: Python<'_>,
    model: &Model,
    target: &[u8],
    params: &str,
    lp_solver: &str,
    samples: usize,
    seed: u64,
    dataset_l2: f64,
) -> PyResult<(Py<PyBytes>, usize, String)> {
    let mut p: ExactParams = merge_params(&ExactParams::default(), params, &["units"])?;
    p.lp.solver =
        match lp_solver {
            "auto" => LpSolver::Auto,
            "dense" => LpSolver::Dense,
            "highs" if fcollide::exact::HIGHS_AVAILABLE => LpSolver::Highs,
            "highs" => return Err(parameter(
                "lp_solver 'highs': HiGHS is not compiled into this build (use 'auto' or 'dense')",
            )),
            o => {
                return Err(parameter(format!(
                    "lp_solver '{o}': expected auto, dense or highs"
                )))
            }
        };
    // Parameter errors before any work.
    p.clone().check().map_err(to_py)?;
    let net = model.graph.clone();
    fcollide::polytope::verify::check_samples(samples, net.input_len()).map_err(to_py)?;
    let target = from_bytes(target, "target")?;
    let row = worker::run(py, None, move |progress| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        fcollide::run::exact::exact_row(
            "exact: LP vertices",
            &net,
            &target,
            p,
            samples,
            dataset_l2,
            None,
            &mut rng,
            progress,
        )
    })?
    .map_err(to_py)?;
    let flat: Vec<f32> = row.vertices.concat();
    let k = row.vertices.len();
    let meta = serde_json::to_string(&row.record).map_err(json_err)?;
    Ok((to_bytes(py, &flat), k, meta))
}

/// The embedded MNIST digits split as `fcollide reproduce mnist --seed SEED` splits them:
/// `(train images, train labels, test images, test labels, (C, H, W), (train name, test
/// name))`, images as f32 bytes in `[0, 1]`, labels as `u8` bytes.
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn mnist(
    py: Python<'_>,
    seed: u64,
) -> PyResult<(
    Py<PyBytes>,
    Py<PyBytes>,
    Py<PyBytes>,
    Py<PyBytes>,
    (usize, usize, usize),
    (String, String),
)> {
    let (train, test) =
        worker::run(py, None, move |_| fcollide::data::mnist_split(seed))?.map_err(to_py)?;
    let [c, h, w] = train.shape;
    Ok((
        to_bytes(py, &train.images),
        PyBytes::new(py, &train.labels).unbind(),
        to_bytes(py, &test.images),
        PyBytes::new(py, &test.labels).unbind(),
        (c, h, w),
        (train.name.clone(), test.name.clone()),
    ))
}

/// The model `fcollide reproduce mnist --seed SEED --arch ARCH --out DIR` uses: the cached
/// `DIR/model-ARCH.safetensors`, or trained on the embedded split exactly as the CLI trains
/// it (and cached there). Returns `(model, facts as JSON)`.
#[pyfunction]
#[pyo3(signature = (seed, arch, out, retrain, progress=None))]
pub fn mnist_model(
    py: Python<'_>,
    seed: u64,
    arch: String,
    out: PathBuf,
    retrain: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<(Model, String)> {
    let source = format!("mnist {arch} seed {seed} ({})", out.display());
    let (g, facts) = worker::run(py, progress, move |prog| -> fcollide::Result<_> {
        std::fs::create_dir_all(&out).map_err(|source| fcollide::Error::Io {
            path: out.clone(),
            source,
        })?;
        let p = MnistParams {
            seed,
            arch,
            retrain,
            ..MnistParams::default()
        };
        let (train, test) = fcollide::data::mnist_split(seed)?;
        let device = fcollide::model::default_device();
        get_model(&p, &train, &test, &out, &device, prog)
    })?
    .map_err(to_py)?;
    let facts = serde_json::to_string(&facts).map_err(json_err)?;
    Ok((
        Model {
            graph: Arc::new(g),
            source,
        },
        facts,
    ))
}

/// Mean L2 distance between `pairs` random pairs of the `d`-value images in `images` (ChaCha8
/// seeded by `seed`; `reproduce mnist` uses the test split, 10,000 pairs, seed + 1).
#[pyfunction]
pub fn dataset_pairwise_l2(
    py: Python<'_>,
    images: &[u8],
    d: usize,
    pairs: usize,
    seed: u64,
) -> PyResult<f64> {
    let images = from_bytes(images, "images")?;
    if d == 0 || images.len() % d != 0 {
        return Err(parameter(format!(
            "images: {} values are not a whole number of {d}-value images",
            images.len()
        )));
    }
    worker::run(py, None, move |_| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        pairwise_l2(&images, d, pairs, &mut rng)
    })
}
