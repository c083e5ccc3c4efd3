"""The package against the `fcollide` CLI: the same vertices bit for bit, the same
verification figures, and the quickstart's MNIST rows equal to `fcollide reproduce mnist`.

Needs the CLI binary: ``$FCOLLIDE_BIN`` (CI sets it, and then a missing binary fails), else
``target/release/fcollide`` or ``fcollide`` on ``PATH``; skipped when there is none."""

from __future__ import annotations

import importlib.util
import json
import subprocess

import numpy as np
import pytest

import fcollide
from conftest import ROOT, WEIGHTS, cli_binary

CLI = cli_binary()
pytestmark = pytest.mark.skipif(CLI is None, reason="no fcollide CLI binary (cargo build --release)")


def run_cli(*args: str) -> str:
    p = subprocess.run(
        [str(CLI), "--quiet", *args], capture_output=True, text=True, timeout=600
    )
    assert p.returncode == 0, f"fcollide {' '.join(args)} failed:\n{p.stderr}"
    return p.stdout


def test_vertices_and_verify_equal_the_cli(tmp_path, digits):
    model_path = WEIGHTS / "mlp.onnx"
    out = tmp_path / "cli.safetensors"
    run_cli(
        "vertices", "--model", str(model_path), "--target", "index:3", "--init", "index:4",
        "--layer", "fc2", "--vertices", "3", "--steps", "400", "--out", str(out),
    )
    cli = fcollide.load_vertices(out)
    m = fcollide.load(model_path)
    _, test = fcollide.datasets.mnist(0)  # the CLI's split with --seed 0
    py = fcollide.find_vertices(
        m, test.images[3], layer="fc2", k=3, init=test.images[4], steps=400, progress=False
    )
    assert py.vertices.tobytes() == cli.vertices.tobytes()
    assert py.stats == cli.stats and py.units == cli.units
    assert np.array_equal(cli.target, test.images[3])
    # `fcollide verify` and fcollide.verify: the same figures from the same samples.
    want = json.loads(
        run_cli(
            "verify", "--model", str(model_path), "--vertices", str(out),
            "--samples", "700", "--seed", "9",
        )
    )
    got = fcollide.verify(m, out, n=700, seed=9)
    for key, value in want.items():
        if key == "certificate":
            assert got.certificate is not None
            for k, v in value.items():
                assert getattr(got.certificate, k) == v, k
        else:
            assert getattr(got, key) == value, key
    # The figures of the search's own verification are those of `verify` with its seed.
    assert fcollide.verify(m, py, n=2000, seed=0) == py.verification


def _quickstart():
    spec = importlib.util.spec_from_file_location("quickstart", ROOT / "examples" / "quickstart.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_quickstart_reproduces_the_mnist_rows_bit_for_bit(tmp_path):
    """`fcollide reproduce mnist` and examples/quickstart.py, each training its own model
    with seed 0, give the same vertices (bit for bit) and the same Table-2 figures."""
    cli_out = tmp_path / "cli"
    run_cli("reproduce", "mnist", "--out", str(cli_out))
    record = json.loads((cli_out / "results.json").read_text())
    model, rows = _quickstart().rows(seed=0, out=str(tmp_path / "py"), progress=False)
    assert model.facts["test_accuracy"] == record["model"]["test_accuracy"]
    assert len(rows) == len(record["rows"]) == 2
    for r, (name, v, figures) in enumerate(rows):
        want = record["rows"][r]
        assert name == want["name"]
        cli_v = fcollide.load_vertices(cli_out / want["vertices_file"])
        assert v.vertices.tobytes() == cli_v.vertices.tobytes(), name
        assert v.init.tobytes() == cli_v.init.tobytes() and v.target.tobytes() == cli_v.target.tobytes()
        assert v.units == want["units"]
        for key in (
            "class_agreement", "verdict", "certified", "certified_error_bound", "collision_tol",
            "target_confidence", "sample_confidence_mean", "vertex_pairwise_l2",
            "vertex_to_dataset_ratio", "feature_rel_err_mean", "feature_rel_err_max",
            "vertex_feature_rel_err_max", "z_satisfied_min",
        ):
            assert getattr(figures, key) == want[key], (name, key)
    assert rows[0][2].dataset_pairwise_l2 == record["dataset_pairwise_l2"]
