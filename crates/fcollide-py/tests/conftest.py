"""Shared fixtures of the package's tests (run with pytest from anywhere)."""

from __future__ import annotations

import os
import pathlib
import shutil

import numpy as np
import pytest

import fcollide

ROOT = pathlib.Path(__file__).resolve().parents[3]
"""The repository root."""
WEIGHTS = ROOT / "crates" / "fcollide" / "tests" / "fixtures" / "weights"
"""Model fixtures of the library's tests (made by scripts/make_weight_fixtures.py)."""


@pytest.fixture(scope="session")
def mlp() -> fcollide.Model:
    """A small ONNX MLP (784-16-16-10, MNIST normalization)."""
    return fcollide.load(WEIGHTS / "mlp.onnx")


@pytest.fixture(scope="session")
def lenet() -> fcollide.Model:
    """A small ONNX LeNet (conv, ReLU, max-pool)."""
    return fcollide.load(WEIGHTS / "lenet.onnx")


@pytest.fixture(scope="session")
def digits() -> np.ndarray:
    """The first 8 test digits of the seed-0 split, ``[8, 1, 28, 28]`` float32."""
    _, test = fcollide.datasets.mnist(0)
    return test.images[:8]


@pytest.fixture(scope="session")
def crops(digits) -> np.ndarray:
    """The centre 12×12 of those digits (the input of the ``lenet`` fixture),
    ``[8, 1, 12, 12]``."""
    return np.ascontiguousarray(digits[:, :, 8:20, 8:20])


def cli_binary() -> "pathlib.Path | None":
    """The `fcollide` CLI: ``$FCOLLIDE_BIN`` (CI sets it; then it must exist), else the
    repository's release build or one on ``PATH``."""
    env = os.environ.get("FCOLLIDE_BIN")
    if env:
        p = pathlib.Path(env)
        assert p.is_file(), f"FCOLLIDE_BIN={env} does not exist"
        return p
    p = ROOT / "target" / "release" / "fcollide"
    if p.is_file():
        return p
    found = shutil.which("fcollide")
    return pathlib.Path(found) if found else None
