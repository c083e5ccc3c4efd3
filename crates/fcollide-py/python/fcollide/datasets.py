"""The embedded MNIST digits and the model ``fcollide reproduce mnist`` trains on them.

``mnist(seed)`` splits the 10,000 digits compiled into fcollide 8,000 / 2,000 (stratified,
ChaCha8 seeded by ``seed``) exactly as ``fcollide reproduce mnist --seed SEED`` does, and
``mnist_model(seed, cache_dir=DIR)`` gives the network that command uses with ``--out DIR``:
``DIR/model-mlp.safetensors`` when it exists, else trained with the same seed and settings
(≈5 s on 2 cores) and cached there. Together they reproduce the CLI's rows bit for bit
(``examples/quickstart.py``).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Optional, Tuple

import numpy as np

from . import Model, _arrays, _native
from ._progress import reporter as _reporter

__all__ = ["Split", "mnist", "mnist_model"]


@dataclass(frozen=True)
class Split:
    """One half of a data split."""

    images: np.ndarray
    """``[N, C, H, W]`` float32 raw pixels in ``[0, 1]``."""
    labels: np.ndarray
    """``[N]`` uint8 classes."""
    name: str
    """``mnist-embedded/train`` or ``mnist-embedded/test``."""

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def first(self, label: int, start: int = 0) -> int:
        """Index of the first example of class ``label`` at or after ``start``."""
        hits = np.flatnonzero(self.labels[start:] == label)
        if hits.size == 0:
            raise ValueError(f"label: no example of class {label} from index {start} on")
        return start + int(hits[0])


def mnist(seed: int = 0) -> Tuple[Split, Split]:
    """``(train, test)``: the embedded digits split as ``fcollide reproduce mnist --seed
    SEED`` splits them (8,000 / 2,000, stratified by class)."""
    tr_x, tr_y, te_x, te_y, (c, h, w), (tr_name, te_name) = _native.mnist(int(seed))
    train = Split(
        _arrays.from_bytes(tr_x, (-1, c, h, w)), np.frombuffer(tr_y, np.uint8).copy(), tr_name
    )
    test = Split(
        _arrays.from_bytes(te_x, (-1, c, h, w)), np.frombuffer(te_y, np.uint8).copy(), te_name
    )
    return train, test


def mnist_model(
    seed: int = 0,
    arch: str = "mlp",
    cache_dir: Optional[str] = None,
    retrain: bool = False,
    progress: Any = True,
) -> Model:
    """The model of ``fcollide reproduce mnist --seed SEED --arch ARCH --out CACHE_DIR``:
    ``CACHE_DIR/model-ARCH.safetensors`` if it exists (and not ``retrain``), else the
    architecture (``mlp``: 784-256-256-10; ``lenet5``) initialized and trained on
    :func:`mnist` ``(seed)``'s training split with one generator seeded by ``seed``, exactly as
    the CLI trains it, then saved there. Without ``cache_dir`` it is trained in a temporary
    folder and not kept. Training facts (test accuracy, …) are in ``model.facts``."""
    if cache_dir is None:
        with tempfile.TemporaryDirectory(prefix="fcollide-") as tmp:
            return mnist_model(seed, arch, tmp, True, progress)
    native, facts = _native.mnist_model(
        int(seed), str(arch), os.fspath(cache_dir), bool(retrain), _reporter(progress)
    )
    model = Model(native)
    model.facts = json.loads(facts)
    return model
