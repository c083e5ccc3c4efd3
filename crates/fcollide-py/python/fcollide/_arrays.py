"""Input checking: NumPy float32 arrays or CPU torch tensors of raw pixels."""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

Shape = Tuple[int, int, int]


def _is_torch_tensor(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "torch" and hasattr(x, "detach")


def as_array(x: Any, name: str) -> np.ndarray:
    """``x`` as a float32 NumPy array (a CPU torch tensor is converted without copying);
    anything else raises ``ValueError`` naming ``name``."""
    if _is_torch_tensor(x):
        if x.device.type != "cpu":
            raise ValueError(f"{name}: expected a CPU tensor, got one on {x.device} (use .cpu())")
        if str(x.dtype) != "torch.float32":
            raise ValueError(f"{name}: expected dtype float32, got {x.dtype}")
        x = x.detach().numpy()
    if not isinstance(x, np.ndarray):
        raise ValueError(
            f"{name}: expected a NumPy float32 array or a CPU torch tensor, got {type(x).__name__}"
        )
    if x.dtype != np.float32:
        raise ValueError(f"{name}: expected dtype float32, got {x.dtype} (use .astype(np.float32))")
    return x


def images(
    x: Any,
    name: str,
    shape: Shape,
    bounds: Tuple[float, float],
    count: Optional[Tuple[int, ...]] = None,
) -> Tuple[np.ndarray, bool]:
    """Checks images of raw pixels: ``[C, H, W]`` or ``[N, C, H, W]`` with ``(C, H, W)`` =
    ``shape``, finite values in ``bounds``. ``count`` restricts ``N`` (a ``[C, H, W]`` image
    counts as 1). Returns ``(contiguous [N, C*H*W] float32 array, whether x was one image)``.
    """
    a = as_array(x, name)
    want = "[{}, {}, {}]".format(*shape)
    if a.ndim == 3:
        single, batch = True, a[None]
    elif a.ndim == 4:
        single, batch = False, a
    else:
        raise ValueError(
            f"{name}: expected shape {want} or [N, {want[1:]}, got {list(a.shape)}"
        )
    if tuple(batch.shape[1:]) != tuple(shape):
        raise ValueError(
            f"{name}: expected shape {want} or [N, {want[1:]}, got {list(a.shape)}"
        )
    n = batch.shape[0]
    if n == 0:
        raise ValueError(f"{name}: no images (shape {list(a.shape)})")
    if count is not None and n not in count:
        raise ValueError(
            f"{name}: expected {' or '.join(str(c) for c in count)} image(s), got {n}"
        )
    lo, hi = bounds
    if not np.isfinite(batch).all():
        raise ValueError(f"{name}: holds non-finite values (NaN or infinity)")
    mn, mx = float(batch.min()), float(batch.max())
    if mn < lo or mx > hi:
        raise ValueError(
            f"{name}: values must be raw pixels in [{lo:g}, {hi:g}], got values in "
            f"[{mn:g}, {mx:g}] (normalization lives inside the model: see normalize=)"
        )
    return np.ascontiguousarray(batch.reshape(n, -1)), single


def from_bytes(b: bytes, shape: Tuple[int, ...]) -> np.ndarray:
    """A writable float32 array of ``shape`` from little-endian bytes."""
    return np.frombuffer(b, dtype="<f4").astype(np.float32).reshape(shape)


def normalize_arg(normalize: Any) -> Optional[str]:
    """``normalize=`` as the library's text: ``None`` (keep), ``"none"``, ``"mnist"``,
    ``"imagenet"``, ``"mean=…,std=…"``, or a ``(mean, std)`` pair of numbers or sequences."""
    if normalize is None:
        return None
    if isinstance(normalize, str):
        return normalize
    try:
        mean, std = normalize
        mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        std = np.atleast_1d(np.asarray(std, dtype=np.float64))
    except (TypeError, ValueError):
        raise ValueError(
            "normalize: expected None, 'none', 'mnist', 'imagenet', 'mean=…,std=…' or a "
            f"(mean, std) pair, got {normalize!r}"
        ) from None
    if mean.ndim != 1 or std.ndim != 1:
        raise ValueError("normalize: mean and std must be numbers or 1-D sequences")
    return "mean={},std={}".format(
        ",".join(repr(float(v)) for v in mean), ",".join(repr(float(v)) for v in std)
    )
