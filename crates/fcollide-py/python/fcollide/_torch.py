"""``from_torch``: a torch module through torch's ONNX exporter into fcollide's importer.

The module is exported in eval mode with a batch of one example, into memory (TorchScript
exporter, ``dynamo=False``) or through a temporary folder (the ``torch.export``-based
exporter), and read by fcollide's ONNX importer. The imported model is then run on the example
input and compared with torch; a mismatch fails the call (no silent wrong results).

When the importer refuses an operator, the error names the ONNX operator and node, and this
module adds the torch module the node came from: the TorchScript exporter names nodes by
module path (``/features/features.3/Softplus``), the dynamo exporter records the path and the
module classes in each node's metadata.

A module whose weights exceed :data:`EXTERNAL_DATA_BYTES` (protobuf messages cannot exceed
2 GiB) is exported into a temporary folder with its weights as ONNX external data, and loaded
from there with ``fcollide.load``'s reader, which checks every external tensor's bounds.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import warnings
from typing import Any, Dict, Optional, Tuple

import numpy as np

from . import Error, Model, _arrays, _native

#: Largest ``max |Δ logit| / max |logit|`` accepted between torch and fcollide.
MATCH_TOL = 1e-4

#: Modules with more bytes of parameters and buffers than this are exported with their
#: weights as external data in a temporary folder instead of into memory.
EXTERNAL_DATA_BYTES = 1 << 30


def _weight_bytes(module: Any) -> int:
    tensors = list(module.parameters()) + list(module.buffers())
    return sum(int(t.numel()) * int(t.element_size()) for t in tensors)


def _export_to_folder(module: Any, x: Any, exporter: str, folder: str) -> str:
    """Exports ``module`` to ``folder/model.onnx`` with external data; returns the path."""
    import torch

    path = os.path.join(folder, "model.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            program = torch.onnx.export(module, (x,), dynamo=True, verbose=False)
            program.save(path, external_data=True)
        else:
            torch.onnx.export(
                module,
                (x,),
                path,
                dynamo=False,
                external_data=True,
                input_names=["input"],
                output_names=["logits"],
                do_constant_folding=True,
            )
    return path


def _torchscript_export(module: Any, x: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            module,
            (x,),
            buf,
            dynamo=False,
            input_names=["input"],
            output_names=["logits"],
            do_constant_folding=True,
        )
    return buf.getvalue()


def _dynamo_export(module: Any, x: Any) -> Tuple[bytes, Dict[str, Tuple[str, str]]]:
    """ONNX bytes and, per node name, ``(module path, module class)`` from its metadata."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(module, (x,), dynamo=True, verbose=False)
    origin: Dict[str, Tuple[str, str]] = {}
    proto = program.model_proto
    for node in proto.graph.node:
        meta = {p.key: p.value for p in getattr(node, "metadata_props", [])}
        scopes = _literal_list(meta.get("pkg.torch.onnx.name_scopes", ""))
        classes = _literal_list(meta.get("pkg.torch.onnx.class_hierarchy", ""))
        # The last entry is the aten operator; the one before it the innermost module.
        if len(scopes) >= 2 and len(classes) >= 2:
            origin[node.name] = (scopes[-2], classes[-2].rsplit(".", 1)[-1])
    with tempfile.TemporaryDirectory(prefix="fcollide-onnx-") as tmp:
        path = os.path.join(tmp, "model.onnx")
        program.save(path, external_data=False)
        with open(path, "rb") as f:
            return f.read(), origin


def _literal_list(text: str) -> list:
    import ast

    try:
        v = ast.literal_eval(text) if text else []
    except (ValueError, SyntaxError):
        return []
    return [str(s) for s in v] if isinstance(v, (list, tuple)) else []


def _torchscript_origin(module: Any, node: str) -> Optional[Tuple[str, str]]:
    """``(module path, class)`` of a TorchScript-exported node name ``/a/a.b/Op``."""
    parts = [p for p in node.split("/") if p]
    if len(parts) < 2:
        return None
    path = parts[-2]
    try:
        sub = module.get_submodule(path)
    except (AttributeError, ValueError):
        return None
    return path, type(sub).__name__


def _explain(
    err: Error, net: Any, origin: Dict[str, Tuple[str, str]], wrapped: bool
) -> Error:
    """``err`` with the torch module of the node it names, relative to the user's module
    (``wrapped``: ``net`` is ``Sequential(normalization, module)``)."""
    msg = str(err)
    m = re.search(r"node '([^']*)'", msg)
    if m:
        node = m.group(1)
        where = origin.get(node) or _torchscript_origin(net, node)
        if where:
            path, cls = where
            if wrapped:
                path = path[2:] if path.startswith("1.") else ("" if path == "1" else path)
            msg += f" [from torch module '{path or '(the module itself)'}' ({cls})]"
    return type(err)(msg)


def from_torch(module: Any, example_input: Any, normalize: Any, exporter: str) -> Model:
    try:
        import torch
    except ImportError:
        raise ImportError("from_torch needs PyTorch: pip install torch") from None
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    if exporter not in ("auto", "torchscript", "dynamo"):
        raise ValueError(f"exporter: expected 'auto', 'torchscript' or 'dynamo', got {exporter!r}")
    a = _arrays.as_array(example_input, "example_input")
    if a.ndim not in (3, 4) or (a.ndim == 4 and a.shape[0] == 0):
        raise ValueError(
            f"example_input: expected [C, H, W] or [N, C, H, W], got {list(a.shape)}"
        )
    batch = a[None] if a.ndim == 3 else a
    shape = tuple(int(s) for s in batch.shape[1:])
    flat, _ = _arrays.images(batch, "example_input", shape, (0.0, 1.0))
    batch = flat.reshape((-1,) + shape)
    norm = _arrays.normalize_arg(normalize)
    name = f"<torch {type(module).__name__}>"
    # With `normalize`, the exported network is (x − mean) / std followed by the module; the
    # importer folds that into the model's input normalization.
    net = module
    if norm is not None and norm.strip().lower() != "none":
        mean, std = _mean_std(norm, shape[0])
        net = torch.nn.Sequential(_Normalize(mean, std), module)
    was_training = module.training
    net.eval()
    try:
        x1 = torch.from_numpy(batch[:1].copy())
        origin: Dict[str, Tuple[str, str]] = {}
        if _weight_bytes(net) > EXTERNAL_DATA_BYTES:
            with tempfile.TemporaryDirectory(prefix="fcollide-onnx-") as tmp:
                path = _export_to_folder(
                    net, x1, "dynamo" if exporter == "dynamo" else "torchscript", tmp
                )
                try:
                    native, _, _ = _native.Model.load(path, None, None)
                except Error as e:
                    raise _explain(e, net, origin, wrapped=net is not module) from None
                model = Model(native)
            _check_match(model, net, torch.from_numpy(batch.copy()))
            return model
        if exporter == "dynamo":
            data, origin = _dynamo_export(net, x1)
        elif exporter == "torchscript":
            data = _torchscript_export(net, x1)
        else:
            # The TorchScript exporter while torch has it (fast; module paths in node
            # names), else torch.export's.
            try:
                data = _torchscript_export(net, x1)
            except Exception as ts_err:  # noqa: BLE001 (any exporter failure)
                try:
                    data, origin = _dynamo_export(net, x1)
                except Exception as dyn_err:  # noqa: BLE001
                    raise Error(
                        f"{name}: torch cannot export the module to ONNX: TorchScript "
                        f"exporter: {ts_err}; dynamo exporter: {dyn_err}"
                    ) from dyn_err
        try:
            model = Model(_native.Model.from_onnx(data, name, shape, None))
        except Error as e:
            raise _explain(e, net, origin, wrapped=net is not module) from None
        _check_match(model, net, torch.from_numpy(batch.copy()))
        return model
    finally:
        module.train(was_training)


def _make_normalize() -> Any:
    import torch

    class Normalize(torch.nn.Module):
        """``(x − mean) / std`` per channel."""

        def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
            super().__init__()
            self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
            self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

        def forward(self, x: Any) -> Any:
            return (x - self.mean) / self.std

    return Normalize


def _Normalize(mean: np.ndarray, std: np.ndarray) -> Any:
    return _make_normalize()(mean, std)


def _check_match(model: Model, net: Any, xs: Any) -> None:
    """Fails unless fcollide's logits match torch's on ``xs`` to :data:`MATCH_TOL`."""
    import torch

    with torch.no_grad():
        want = net(xs).detach().cpu().numpy().astype(np.float64)
    got = model.forward(xs.numpy()).astype(np.float64)
    if want.shape != got.shape:
        raise Error(
            f"{model.source}: the imported model gives logits of shape {list(got.shape)}, "
            f"torch gives {list(want.shape)}"
        )
    scale = max(float(np.abs(want).max()), 1e-12)
    rel = float(np.abs(want - got).max()) / scale
    if not rel <= MATCH_TOL:
        raise Error(
            f"{model.source}: the imported model does not match torch on the example input: "
            f"max |Δ logit| / max |logit| = {rel:.3g} > {MATCH_TOL:g}"
        )


def _mean_std(norm: str, channels: int) -> Tuple[np.ndarray, np.ndarray]:
    known = {
        "mnist": ([0.1307], [0.3081]),
        "imagenet": ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    }
    key = norm.strip().lower()
    if key in known:
        mean, std = known[key]
    else:
        m = re.fullmatch(r"mean=(.*)[,;]std=(.*)", norm.strip())
        if not m:
            raise ValueError(f"normalize: cannot read {norm!r}")
        mean = [float(v) for v in m.group(1).split(",")]
        std = [float(v) for v in m.group(2).split(",")]
    mean_a = np.asarray(mean, np.float32)
    std_a = np.asarray(std, np.float32)
    if mean_a.size == 1:
        mean_a = np.repeat(mean_a, channels)
        std_a = np.repeat(std_a, channels)
    return mean_a, std_a
