"""fcollide: find, verify and certify feature collisions in ReLU networks.

A *feature collision* is a set of inputs that a network cannot tell apart from a target at a
chosen layer: same activation there, hence the same output. fcollide finds ``K`` vertices of
such a polytope by gradient descent (Li, Zhang & Malik, NeurIPS 2019), certifies that its
whole convex hull collides, verifies it with random convex combinations and computes exact
polytopes by linear programming. The computations run in fcollide's Rust library.

Inputs are raw pixels in ``[0, 1]`` (``model.pixel_bounds``) as NumPy ``float32`` arrays or
CPU torch tensors, ``[C, H, W]`` or ``[N, C, H, W]``; normalization lives inside the model.

Example (the MNIST model of ``fcollide reproduce mnist``, trained in ≈5 s or read from
the cache folder)::

    import fcollide
    train, test = fcollide.datasets.mnist(seed=0)
    model = fcollide.datasets.mnist_model(seed=0, cache_dir="fcollide-out")
    target = test.images[test.first(7)]
    row = fcollide.find_vertices(model, target, layer="fc1", k=5)
    print(row.vertices.shape, row.verdict)      # (5, 1, 28, 28) collides
    print(fcollide.verify(model, row, n=2000))  # Table 2's figures

Long calls release the GIL and stop on Ctrl-C (``KeyboardInterrupt``); progress is drawn with
tqdm when it is installed, else as plain lines on stderr. Library errors raise :class:`Error` (:class:`ParameterError`, also
a ``ValueError``, for invalid parameters), missing files ``FileNotFoundError``, bad arrays
``ValueError`` naming the argument.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, fields
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _arrays, _native
from ._errors import Error, ParameterError
from ._progress import reporter as _reporter

__version__: str = _native.version()

__all__ = [
    "Error",
    "ExactPolytope",
    "HullCertificate",
    "Model",
    "ParameterError",
    "Verification",
    "VertexStats",
    "Vertices",
    "dataset_pairwise_l2",
    "datasets",
    "exact",
    "find_vertices",
    "from_torch",
    "load",
    "load_vertices",
    "verify",
]

PathLike = Union[str, "os.PathLike[str]"]

#: Default tolerance on the relative feature error for a verdict of ``collides``
#: (``collision_tol``).
DEFAULT_TOL = 1e-3


def _path(path: PathLike, name: str, must_exist: bool = True) -> str:
    try:
        p = os.fspath(path)
    except TypeError:
        raise ValueError(f"{name}: expected a path, got {type(path).__name__}") from None
    if must_exist and not os.path.exists(p):
        import errno

        raise FileNotFoundError(errno.ENOENT, f"{name}: no such file", p)
    return p


class Model:
    """A network fcollide can search: raw pixels ``[C, H, W]`` in, logits out.

    Made by :func:`load`, :func:`from_torch` or :func:`datasets.mnist_model`.
    """

    def __init__(self, native: Any) -> None:
        self._native = native
        #: Facts about how the model was made (``datasets.mnist_model``: test accuracy, …).
        self.facts: Dict[str, Any] = {}

    @property
    def input_shape(self) -> Tuple[int, int, int]:
        """``(C, H, W)`` of one input."""
        return tuple(self._native.input_shape)  # type: ignore[return-value]

    @property
    def pixel_bounds(self) -> Tuple[float, float]:
        """``(lo, hi)``: the range of raw pixel values, usually ``(0, 1)``."""
        return tuple(self._native.pixel_bounds)  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        """Number of logits."""
        return int(self._native.num_classes)

    @property
    def layers(self) -> List[str]:
        """Names of the network's nodes after the input, in order."""
        return list(self._native.layers)

    @property
    def collision_layers(self) -> List[str]:
        """Names of the layers where collisions can be sought: the activations (ReLU, clips,
        LeakyReLU, sigmoid, tanh) on every path from the input to the output, named by the
        affine layer feeding them when it feeds nothing else (``fc1``, ``conv2``)."""
        return list(self._native.collision_layers)

    @property
    def normalization(self) -> str:
        """The input normalization the model applies, as text (``none``, ``mnist``, …)."""
        return str(self._native.normalization)

    @property
    def arch(self) -> str:
        """Architecture name (``mlp``, ``onnx``, …)."""
        return str(self._native.arch)

    @property
    def source(self) -> str:
        """Where the model came from."""
        return str(self._native.source)

    def describe(self) -> List[Dict[str, Any]]:
        """Every node after the input: ``name``, ``kind``, ``inputs`` and output ``shape``."""
        return [
            {"name": n, "kind": k, "inputs": list(i), "shape": tuple(s)}
            for n, k, i, s in self._native.describe()
        ]

    def _batch(self, x: Any, name: str) -> Tuple[np.ndarray, bool]:
        return _arrays.images(x, name, self.input_shape, self.pixel_bounds)

    def forward(self, x: Any) -> np.ndarray:
        """Logits of ``x`` (``[C, H, W]`` → ``[classes]``, ``[N, C, H, W]`` →
        ``[N, classes]``)."""
        batch, single = self._batch(x, "x")
        b, width = self._native.forward(batch.tobytes())
        out = _arrays.from_bytes(b, (batch.shape[0], width))
        return out[0] if single else out

    __call__ = forward

    def pre_activation(self, x: Any, layer: str) -> np.ndarray:
        """The pre-activation ``ỹ`` (the activation's input) at collision layer ``layer``,
        flattened: ``[units]`` for one image, ``[N, units]`` for a batch."""
        batch, single = self._batch(x, "x")
        b, width = self._native.pre_activation(batch.tobytes(), str(layer))
        out = _arrays.from_bytes(b, (batch.shape[0], width))
        return out[0] if single else out

    def save(self, path: PathLike) -> None:
        """Writes the model as an fcollide safetensors file (loadable by :func:`load` and the
        CLI's ``--model``)."""
        self._native.save(_path(path, "path", must_exist=False))

    def __repr__(self) -> str:
        c, h, w = self.input_shape
        return (
            f"<fcollide.Model {self.arch} [{c}, {h}, {w}] -> {self.num_classes} classes, "
            f"collision layers {self.collision_layers}, from {self.source}>"
        )


def load(
    path: PathLike,
    arch: Optional[str] = None,
    normalize: Union[None, str, Tuple[Any, Any]] = None,
) -> Model:
    """Loads a model the way the CLI's ``--model FILE [--arch A]`` does, never executing
    code from the file.

    ``path`` is a safetensors file written by fcollide, a model spec (``.toml``), an ONNX
    graph (``.onnx``) or, with ``arch`` (``mlp``, ``lenet5``, ``vgg16``, or a torchvision
    name such as ``resnet18``), weights as safetensors, a PyTorch ``.pth``/``.pt`` state dict
    or ``.npz``. Every tensor of the file must be used and fit, else :class:`Error` names
    it. ``model.facts`` records the ``format`` read and where the normalization came from
    (``normalization_source``).

    Raises ``FileNotFoundError`` for a missing file, :class:`Error` for a file that is not a
    model fcollide can read (the message names the file and what did not match).

    ``normalize`` replaces the model's input normalization: ``"none"``, ``"mnist"``,
    ``"imagenet"``, ``"mean=a,b,c,std=d,e,f"`` or a ``(mean, std)`` pair; ``None`` keeps
    what the file says.
    """
    p = _path(path, "path")
    if arch is not None and not isinstance(arch, str):
        raise ValueError(f"arch: expected a name such as 'mlp' or 'resnet18', got {arch!r}")
    native, fmt, norm_source = _native.Model.load(p, arch, _arrays.normalize_arg(normalize))
    model = Model(native)
    model.facts = {"format": fmt, "normalization_source": norm_source}
    return model


def from_torch(
    module: Any,
    example_input: Any,
    normalize: Union[None, str, Tuple[Any, Any]] = None,
    *,
    exporter: str = "auto",
) -> Model:
    """A model from a ``torch.nn.Module``: exported to ONNX in memory with torch's exporter and
    read by fcollide's ONNX importer, then checked against torch on ``example_input`` (logits
    equal to ``max |Δ| / max |logit| ≤ 1e-4``, else :class:`Error`).

    ``example_input`` is ``[C, H, W]`` or ``[N, C, H, W]`` raw pixels in ``[0, 1]`` (float32,
    CPU), what the module's ``forward`` takes. If the module expects normalized inputs, pass
    ``normalize`` (e.g. ``"imagenet"``) and raw pixels: the normalization becomes the model's
    first node. ``exporter`` is ``"torchscript"`` (``dynamo=False``: fast, node names carry
    module paths), ``"dynamo"`` (torch.export) or ``"auto"`` (the TorchScript exporter while
    torch has it). An operator the importer does not support is named in the error together
    with the torch module it came from. Modules with more than 1 GiB of weights are exported
    through a temporary folder with the weights as ONNX external data, so models over
    protobuf's 2 GiB limit load too.
    """
    from . import _torch

    return _torch.from_torch(module, example_input, normalize, exporter)


@dataclass(frozen=True)
class VertexStats:
    """Figures of one vertex at the end of the search."""

    unit: int
    """The unit ``i`` of the zero set ``Z`` this vertex pushed down."""
    l_plus: float
    """``L+ = ½‖ỹ[P] − ỹt[P]‖²`` (distance to the target on the positive set ``P``)."""
    l_minus: float
    """``L−_i`` at the end."""
    unit_value: float
    """``ỹ_i`` at the end."""
    feature_rel_err: float
    """``‖y(v) − y(t)‖ / ‖y(t)‖`` of the activation at the collision layer."""
    z_satisfied: float
    """Fraction of zero-set units on their side (ReLU: pre-activation ``≤ 0``)."""
    class_: int
    """Predicted class."""
    confidence: float
    """Top-class probability."""
    dist_from_init: float
    """L2 distance from the starting image."""
    region_penalty: float = 0.0
    """The region-lock penalty at the end (0 without a lock)."""
    region_pullback: float = 1.0
    """How far the vertex was pulled back toward the target's region centre (1: not)."""

    @staticmethod
    def _from(d: Dict[str, Any]) -> "VertexStats":
        d = dict(d)
        d["class_"] = d.pop("class")
        names = {f.name for f in fields(VertexStats)}
        return VertexStats(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class HullCertificate:
    """Whether every point of the vertices' convex hull provably collides (f64 check):
    every vertex lies in the target's linear region and the derived bound on the relative
    feature error over the hull is at most ``tolerance``."""

    same_region: bool
    """Every vertex lies in the target's linear region."""
    certificate_margin: Optional[float]
    """Smallest slack of a vertex in that region (negative: a vertex lies outside)."""
    vertices_outside: List[int]
    """Vertices outside the region."""
    certified_error_bound: float
    """Bound on the relative feature error of every point of the hull."""
    tolerance: float
    certified: bool
    """``same_region`` and ``certified_error_bound ≤ tolerance``."""
    region_reference: str = ""

    @staticmethod
    def _from(d: Optional[Dict[str, Any]]) -> "Optional[HullCertificate]":
        if not d:
            return None
        names = {f.name for f in fields(HullCertificate)}
        return HullCertificate(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class Verification:
    """A polytope verified with random convex combinations of its vertices: the figures of
    the paper's Table 2, the f64 hull certificate and the verdict (the library's
    ``Verification``; what ``fcollide verify`` prints)."""

    samples: int
    """Number of random convex combinations."""
    class_agreement: float
    """Fraction of samples classified as the target's class (0–1): the paper's "success
    rate", which counts class agreement, not a collision."""
    vertex_class_agreement: float
    """Fraction of vertices classified as the target's class."""
    target_class: int
    target_confidence: float
    """Top-class probability of the target."""
    sample_confidence_mean: float
    """Mean top-class probability over the samples."""
    sample_target_prob_mean: float
    """Mean probability of the target's class over the samples."""
    feature_rel_err_mean: float
    """``‖y(s) − y(t)‖ / ‖y(t)‖`` at the collision layer over the samples: mean."""
    feature_rel_err_max: float
    """… and max."""
    vertex_feature_rel_err_max: float
    """The same over the vertices: max."""
    vertex_pairwise_l2: float
    """Mean pairwise L2 distance between the vertices."""
    z_satisfied_min: float
    """Smallest share over vertices of zero-set units kept on their side."""
    collision_tol: float
    """Tolerance of the verdict on the relative feature error."""
    certified: bool
    """Whether the hull is certified: every point collides to ``certified_error_bound``."""
    certified_error_bound: Optional[float]
    """Bound on every hull point's relative feature error; ``None`` where it does not hold
    (a vertex outside the linear region) or without a certificate."""
    certificate_margin: Optional[float]
    verdict: str
    """``"collides"``, ``"approximate"`` or ``"failed"``."""
    certificate: Optional[HullCertificate] = None
    dataset_pairwise_l2: Optional[float] = None
    """The dataset distance given to :func:`verify`, if any."""
    vertex_to_dataset_ratio: Optional[float] = None
    """``vertex_pairwise_l2 / dataset_pairwise_l2`` when a dataset distance was given."""

    @property
    def success_rate(self) -> float:
        """The paper's name for :attr:`class_agreement`."""
        return self.class_agreement

    def with_dataset_l2(self, dataset_l2: float) -> "Verification":
        """A copy with ``dataset_pairwise_l2`` and ``vertex_to_dataset_ratio`` filled in
        (e.g. from :func:`dataset_pairwise_l2`)."""
        d = float(dataset_l2)
        return dataclasses.replace(
            self,
            dataset_pairwise_l2=d,
            vertex_to_dataset_ratio=self.vertex_pairwise_l2 / max(d, 1e-12),
        )

    @staticmethod
    def _from(d: Dict[str, Any], dataset_l2: Optional[float] = None) -> "Verification":
        names = {f.name for f in fields(Verification)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["certificate"] = HullCertificate._from(d.get("certificate"))
        v = Verification(**kw)
        return v if dataset_l2 is None else v.with_dataset_l2(dataset_l2)


class Vertices:
    """A vertex set: ``K`` inputs that collide with a target at one layer.

    Attributes:
        vertices: ``[K, C, H, W]`` float32, raw pixels.
        target: ``[C, H, W]``.
        init: the starting images, ``[K, C, H, W]``.
        layer: the collision layer.
        units: the unit of ``Z`` each vertex pushed down.
        stats: one :class:`VertexStats` per vertex.
        verification: the :class:`Verification` made right after the search (Table 2's
            figures, the hull certificate and the verdict); ``None`` for a file read by
            :func:`load_vertices` (then call :func:`verify`).
        verdict: ``verification.verdict`` (``"collides"``, ``"approximate"``, ``"failed"``)
            or ``None``.
        certified, class_agreement, certificate: the same from ``verification``.
        params: the search parameters.
        info: ``n_units``, ``n_plus``, ``engine``, ``region_locked``, ``collision_tol``,
            ``seconds`` (the search), ``loss_history``, ``library_seconds`` (search and
            verification inside the library; ``None`` for a file).
    """

    def __init__(self, native: Any) -> None:
        self._native = native
        k, c, h, w = native.shape
        self.vertices: np.ndarray = _arrays.from_bytes(native.vertices(), (k, c, h, w))
        self.target: np.ndarray = _arrays.from_bytes(native.target(), (c, h, w))
        self.init: np.ndarray = _arrays.from_bytes(native.init(), (k, c, h, w))
        meta = json.loads(native.meta_json())
        s = meta["set"]
        self.layer: str = s["layer"]
        self.stats: List[VertexStats] = [VertexStats._from(v) for v in s["stats"]]
        self.units: List[int] = [v.unit for v in self.stats]
        self.params: Dict[str, Any] = meta.get("params") or {}
        self.info: Dict[str, Any] = {
            key: s.get(key)
            for key in (
                "n_units",
                "n_plus",
                "engine",
                "region_locked",
                "collision_tol",
                "seconds",
                "loss_history",
            )
        }
        #: Seconds spent in the library's search and verification (``None`` for a file).
        self.info["library_seconds"] = meta.get("library_seconds")
        ver = meta.get("verification")
        self.verification: Optional[Verification] = Verification._from(ver) if ver else None

    @property
    def verdict(self) -> Optional[str]:
        """``"collides"``, ``"approximate"`` or ``"failed"`` (``None`` when not verified)."""
        return None if self.verification is None else self.verification.verdict

    @property
    def certified(self) -> Optional[bool]:
        """Whether the hull is certified (``None`` when not verified)."""
        return None if self.verification is None else self.verification.certified

    @property
    def class_agreement(self) -> Optional[float]:
        """Share of samples in the target's class (``None`` when not verified)."""
        return None if self.verification is None else self.verification.class_agreement

    @property
    def certificate(self) -> Optional[HullCertificate]:
        """The f64 hull certificate (``None`` when not verified)."""
        return None if self.verification is None else self.verification.certificate

    def __len__(self) -> int:
        return int(self.vertices.shape[0])

    def save(self, path: PathLike) -> None:
        """Writes the CLI's vertex file: safetensors with ``vertices`` ``[K, C, H, W]``,
        ``init`` ``[K, C, H, W]``, ``target`` ``[C, H, W]`` and metadata
        ``fcollide.vertices`` (layer, units, per-vertex figures, search parameters); read by
        ``fcollide verify --vertices`` and :func:`load_vertices`."""
        self._native.save(_path(path, "path", must_exist=False))

    def __repr__(self) -> str:
        k, c, h, w = self.vertices.shape
        return (
            f"<fcollide.Vertices {k} × [{c}, {h}, {w}] at {self.layer}, verdict "
            f"{self.verdict}, max feature error "
            f"{max((s.feature_rel_err for s in self.stats), default=0):.2e}>"
        )


def _layer(model: Model, layer: Optional[str]) -> str:
    if layer is not None:
        return str(layer)
    points = model.collision_layers
    if not points:
        raise ParameterError(
            f"layer: model {model.arch} has no collision layer (no activation on every path "
            "to the output)"
        )
    return points[0]


def _check_model(model: Any, name: str = "model") -> Model:
    if not isinstance(model, Model):
        raise ValueError(f"{name}: expected an fcollide.Model, got {type(model).__name__}")
    return model


def _nonneg_int(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
        raise ValueError(f"{name}: expected an integer ≥ 0, got {v!r}")
    return int(v)


def _pos_int(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name}: expected an integer ≥ 1, got {v!r}")
    return int(v)


def _tol(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name}: expected a number in (0, 1), got {v!r}")
    f = float(v)
    if not (0.0 < f < 1.0):
        raise ValueError(f"{name}: expected a relative feature error in (0, 1), got {v!r}")
    return f


def find_vertices(
    model: Model,
    target: Any,
    layer: Optional[str] = None,
    k: int = 5,
    init: Any = None,
    seed: int = 0,
    progress: Any = True,
    *,
    samples: int = 2000,
    **search_params: Any,
) -> Vertices:
    """Finds ``k`` vertices of a polytope that collides with ``target`` at ``layer``, then
    verifies it (``samples`` random convex combinations, the f64 hull certificate and the
    verdict).

    The search is the library's (``fcollide vertices``), with the CLI's defaults: all ``k``
    vertices optimized as one batch by Adam on ``α·L+ + L−_i`` in the pixel box, locked to
    the target's linear region when the layer lies behind a nonlinearity (``region="auto"``).
    The search is deterministic: the same inputs and parameters give the same vertices, bit
    for bit, as the CLI on the same machine.

    Args:
        model: the network.
        target: one image, ``[C, H, W]`` or ``[1, C, H, W]``, raw pixels.
        layer: a name from ``model.collision_layers`` (default: the first).
        k: number of vertices.
        init: starting image(s): ``None`` (the target), one image, or ``k`` images.
        seed: seed of the ChaCha8 generator of the verification samples
            (``fcollide reproduce mnist --seed S`` verifies row ``r`` with ``S + 100 + r``).
        progress: ``True`` draws progress (a tqdm bar when tqdm is installed, else plain
            lines on stderr), ``False`` nothing, or an object with ``start(label, total)``,
            ``advance(n, msg)`` and ``finish()``.
        samples: random convex combinations for the verification (≥ 1).
        **search_params: any field of the library's ``VertexParams``: ``alpha``, ``beta``,
            ``penalty`` (``"hinge"``, ``"square"``, ``"abs"``), ``steps``, ``lr``,
            ``lr_final``, ``units`` (one unit of ``Z`` per vertex), ``unit_choice``
            (``"first"``, ``"spread"``), ``alpha_start``, ``box_method`` (``"project"``,
            ``"sigmoid"``), ``engine`` (``"auto"``, ``"affine"``, ``"autodiff"``), ``region``
            (``"auto"``, ``"locked"``, ``"free"``), ``lock_margin``, ``lock_weight``,
            ``saturation_tol``, ``collision_tol`` (the verdict's tolerance, default 1e-3).

    Returns:
        :class:`Vertices` with ``.verification`` and ``.verdict``.

    Raises:
        ValueError: a bad array (naming ``target`` or ``init``) or parameter
            (:class:`ParameterError`, naming it).
        KeyboardInterrupt: on Ctrl-C (the search stops within a step).
    """
    model = _check_model(model)
    shape, bounds = model.input_shape, model.pixel_bounds
    k = _pos_int(k, "k")
    t, _ = _arrays.images(target, "target", shape, bounds, count=(1,))
    init_bytes = None
    if init is not None:
        i, _ = _arrays.images(init, "init", shape, bounds, count=(1, k))
        init_bytes = i.tobytes()
    for key in ("layer", "vertices"):
        if key in search_params:
            raise ValueError(f"{key}: give it as find_vertices' own argument (layer=, k=)")
    params = {"layer": _layer(model, layer), "vertices": k, **search_params}
    try:
        params_json = json.dumps(params, default=_json_default)
    except (TypeError, ValueError) as e:
        raise ValueError(f"search parameters: {e}") from None
    native = _native.find_vertices(
        model._native,
        t.tobytes(),
        init_bytes,
        params_json,
        _pos_int(samples, "samples"),
        _nonneg_int(seed, "seed"),
        _reporter(progress),
    )
    return Vertices(native)


def _json_default(v: Any) -> Any:
    """NumPy scalars and arrays in search parameters."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"{type(v).__name__} is not a number, string or list")


def load_vertices(path: PathLike) -> Vertices:
    """Reads a vertex file (``fcollide vertices --out``, ``reproduce``'s
    ``vertices-row*.safetensors`` or :meth:`Vertices.save`); not verified (``.verdict`` is
    ``None``): pass it to :func:`verify`."""
    return Vertices(_native.load_vertices(_path(path, "path")))


def verify(
    model: Model,
    vertices: Union[Vertices, PathLike],
    n: int = 2000,
    seed: int = 0,
    *,
    tol: Optional[float] = None,
    dataset_l2: Optional[float] = None,
) -> Verification:
    """Verifies the polytope spanned by ``vertices`` (a :class:`Vertices` or a vertex file)
    with ``n`` random convex combinations (Dirichlet weights from a ChaCha8 generator seeded
    by ``seed``) exactly as ``fcollide verify --samples N --seed S`` does: the figures of the
    paper's Table 2 (``class_agreement``, confidences, feature errors, vertex distances), the
    f64 hull certificate (``certified``, ``certified_error_bound``, ``certificate_margin``)
    and the ``verdict`` at ``tol`` (default: the set's ``collision_tol``).

    ``dataset_l2`` (e.g. from :func:`dataset_pairwise_l2`) adds
    ``vertex_to_dataset_ratio``. ``fcollide reproduce mnist --seed S`` verifies row 1 with
    seed ``S + 100`` and row 2 with ``S + 101``.
    """
    model = _check_model(model)
    if isinstance(vertices, Vertices):
        native = vertices._native
    else:
        native = _native.load_vertices(_path(vertices, "vertices"))
    d = json.loads(
        _native.verify(
            model._native,
            native,
            _pos_int(n, "n"),
            _nonneg_int(seed, "seed"),
            None if tol is None else _tol(tol, "tol"),
        )
    )
    return Verification._from(d, None if dataset_l2 is None else float(dataset_l2))


class ExactPolytope:
    """An exact colliding polytope (linear programming in f64; see :func:`exact`).

    Attributes:
        vertices: ``[K, C, H, W]`` float32.
        layer: the collision layer.
        verdict: ``"collides"`` when the f64 vertices satisfy the collision system (so the
            whole convex polytope collides), else from the sampled class agreement.
        certified: whether the f64 vertices satisfy it (violation and activation
            difference ≤ 1e-6).
        class_agreement: share of the samples in the target's class.
        notes: degenerate situations, in words.
        record: the library's ``ExactRowRecord`` as a dict (``n_plus``, ``rank``,
            ``affine_dim``, ``ker_contained``, ``units``, ``vertex_class``,
            ``chebyshev_radius``, ``mean_extent``, ``vertex_pairwise_l2``, …; ``detail``
            holds the whole ``ExactPolytope`` without vertices: ``vertex_lps``,
            ``certificate``, ``timings``, …).
    """

    def __init__(self, vertices: np.ndarray, record: Dict[str, Any]) -> None:
        self.vertices = vertices
        self.record = record
        self.layer: str = record["layer"]
        self.verdict: str = record["verdict"]
        self.certified: bool = bool(record["certified"])
        self.class_agreement: float = float(record["class_agreement"])
        self.notes: List[str] = list(record.get("notes", []))

    @property
    def stats(self) -> Dict[str, Any]:
        """``record["detail"]``: the library's ``ExactPolytope`` without vertices."""
        return dict(self.record.get("detail") or {})

    def __len__(self) -> int:
        return int(self.vertices.shape[0])

    def __repr__(self) -> str:
        r = self.record
        return (
            f"<fcollide.ExactPolytope {len(self)} vertices at {self.layer}: N+ {r.get('n_plus')}, "
            f"affine dimension {r.get('affine_dim')}, verdict {self.verdict}>"
        )


def exact(
    model: Model,
    target: Any,
    layer: Optional[str] = None,
    k: int = 5,
    *,
    units: Optional[Sequence[int]] = None,
    samples: int = 2000,
    directions: int = 8,
    seed: int = 0,
    chebyshev: bool = True,
    lp_solver: str = "auto",
    dataset_l2: Optional[float] = None,
) -> ExactPolytope:
    """The exact colliding polytope of ``target`` at ``layer``, as ``fcollide exact``
    computes it: the collision constraints inside the target's linear region, ``k`` vertices
    by linear programming (one LP per unit of ``Z``, or ``units``), its dimension and size
    (Chebyshev ball, extents along ``directions`` random directions), f64 certificates of the
    vertices and of ``samples`` random convex combinations (ChaCha8 seeded by ``seed``), and
    the verdict. ``lp_solver``: ``"auto"``, ``"dense"`` or ``"highs"`` (HiGHS builds only).
    ``dataset_l2`` fills ``record["vertex_to_dataset_ratio"]`` (else ``None``).

    The LP solves cannot stop mid-way: on Ctrl-C the call raises ``KeyboardInterrupt`` within
    about two seconds and the running solve finishes in the background.
    """
    model = _check_model(model)
    t, _ = _arrays.images(target, "target", model.input_shape, model.pixel_bounds, count=(1,))
    if not isinstance(lp_solver, str):
        raise ValueError(f"lp_solver: expected 'auto', 'dense' or 'highs', got {lp_solver!r}")
    params: Dict[str, Any] = {
        "layer": _layer(model, layer),
        "vertices": _pos_int(k, "k"),
        "directions": _nonneg_int(directions, "directions"),
        "seed": _nonneg_int(seed, "seed"),
        "chebyshev": bool(chebyshev),
    }
    if units is not None:
        params["units"] = [_nonneg_int(u, "units") for u in units]
    ds = 0.0 if dataset_l2 is None else float(dataset_l2)
    b, n, meta = _native.exact(
        model._native,
        t.tobytes(),
        json.dumps(params),
        lp_solver,
        _pos_int(samples, "samples"),
        _nonneg_int(seed, "seed"),
        ds,
    )
    record = json.loads(meta)
    if dataset_l2 is None:
        record["vertex_to_dataset_ratio"] = None
    c, h, w = model.input_shape
    return ExactPolytope(_arrays.from_bytes(b, (n, c, h, w)), record)


def dataset_pairwise_l2(images: Any, pairs: int = 10_000, seed: int = 1) -> float:
    """Mean L2 distance between ``pairs`` random pairs of ``images`` (``[N, C, H, W]``,
    ChaCha8 seeded by ``seed``): the scale of Table 2's vertex distances.
    ``fcollide reproduce mnist --seed S`` uses the test split, 10,000 pairs and seed
    ``S + 1``."""
    a = _arrays.as_array(images, "images")
    if a.ndim != 4 or a.shape[0] < 2:
        raise ValueError(f"images: expected [N, C, H, W] with N ≥ 2, got {list(a.shape)}")
    a = np.ascontiguousarray(a.reshape(a.shape[0], -1))
    return float(
        _native.dataset_pairwise_l2(
            a.tobytes(), a.shape[1], _nonneg_int(pairs, "pairs"), _nonneg_int(seed, "seed")
        )
    )


from . import datasets  # noqa: E402  (uses Model, defined above)
