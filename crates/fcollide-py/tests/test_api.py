"""The Python API on the library's small fixture models: models, vertex search, verdicts,
vertex files, verification, exact polytopes, errors, progress, GIL and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np
import pytest

import fcollide
from conftest import WEIGHTS

FAST = {"steps": 300}


def test_errors_are_a_hierarchy():
    assert issubclass(fcollide.ParameterError, fcollide.Error)
    assert issubclass(fcollide.ParameterError, ValueError)
    assert fcollide.__version__


def test_model_facts(mlp, lenet):
    assert mlp.input_shape == (1, 28, 28)
    assert mlp.pixel_bounds == (0.0, 1.0)
    assert mlp.num_classes == 10
    assert mlp.collision_layers == ["fc1", "fc2"]
    assert "fc1" in mlp.layers and "relu1" in mlp.layers
    assert mlp.normalization.startswith("mnist")
    kinds = {d["name"]: d["kind"] for d in mlp.describe()}
    assert kinds["fc1"] and mlp.describe()[-1]["shape"] == (10,)
    assert lenet.collision_layers[0].startswith("conv")
    assert "Model onnx" in repr(mlp)


def test_forward_batch_and_single_agree(mlp, digits):
    batch = mlp.forward(digits)
    assert batch.shape == (8, 10) and batch.dtype == np.float32
    one = mlp.forward(digits[3])
    assert one.shape == (10,)
    np.testing.assert_allclose(one, batch[3], rtol=1e-5, atol=1e-5)
    assert np.array_equal(mlp(digits), batch)
    pre = mlp.pre_activation(digits, "fc1")
    assert pre.shape == (8, 16)
    assert mlp.pre_activation(digits[0], "fc2").shape == (16,)


def test_pre_activation_is_the_affine_layer(mlp, digits):
    """fc1 of the fixture is W·((x − 0.1307)/0.3081) + b; compare with the weights file."""
    safetensors = pytest.importorskip("safetensors.numpy")
    w = safetensors.load_file(str(WEIGHTS / "mlp.safetensors"))
    x = (digits.reshape(8, -1) - 0.1307) / 0.3081
    want = x @ w["fc1.weight"].T + w["fc1.bias"]
    np.testing.assert_allclose(mlp.pre_activation(digits, "fc1"), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "bad, what",
    [
        (np.zeros((1, 28, 28), np.float64), "dtype float32"),
        (np.zeros((28, 28), np.float32), "shape"),
        (np.zeros((2, 3, 28, 28), np.float32), "shape"),
        (np.full((1, 28, 28), 2.0, np.float32), "[0, 1]"),
        (np.full((1, 28, 28), np.nan, np.float32), "non-finite"),
        ([[0.0]], "NumPy float32 array"),
    ],
)
def test_bad_inputs_name_the_argument(mlp, bad, what):
    with pytest.raises(ValueError) as e:
        mlp.forward(bad)
    assert str(e.value).startswith("x:") and what in str(e.value)
    with pytest.raises(ValueError) as e:
        fcollide.find_vertices(mlp, bad, layer="fc1", progress=False)
    assert str(e.value).startswith("target:")


def test_missing_files():
    with pytest.raises(FileNotFoundError):
        fcollide.load(WEIGHTS / "no-such-model.onnx")
    with pytest.raises(FileNotFoundError):
        fcollide.load_vertices("/no/such/vertices.safetensors")


def test_missing_file_inside_a_spec(tmp_path):
    spec = tmp_path / "m.toml"
    spec.write_text('arch = "mlp"\nhidden = [16, 16]\nweights = "gone.safetensors"\n')
    with pytest.raises(FileNotFoundError) as e:
        fcollide.load(spec)
    assert "gone.safetensors" in str(e.value)


def test_library_errors_carry_the_message():
    with pytest.raises(fcollide.Error) as e:
        fcollide.load(WEIGHTS / "softmax.onnx")
    assert "Softmax" in str(e.value) and "softmax.onnx" in str(e.value)
    with pytest.raises(fcollide.Error) as e:
        fcollide.load(WEIGHTS / "mlp_wrong_shape.toml")
    assert "shape" in str(e.value)


def test_load_formats_agree(mlp, digits, tmp_path):
    """ONNX, a TOML spec over safetensors and fcollide's own file give the same network."""
    spec = fcollide.load(WEIGHTS / "mlp_safetensors.toml", normalize="mnist")
    assert spec.layers[-1] == "fc3" and spec.normalization.startswith("mnist")
    spec.save(tmp_path / "m.safetensors")
    own = fcollide.load(tmp_path / "m.safetensors")
    ref = mlp.forward(digits)
    for other in (spec, own):
        np.testing.assert_allclose(other.forward(digits), ref, rtol=1e-4, atol=1e-4)


def test_normalize_replaces_the_input_normalization(mlp, digits):
    raw = fcollide.load(WEIGHTS / "mlp.onnx", normalize="none")
    assert raw.normalization.startswith("none")
    custom = fcollide.load(WEIGHTS / "mlp.onnx", normalize=(0.1307, 0.3081))
    np.testing.assert_allclose(custom.forward(digits), mlp.forward(digits), rtol=1e-5, atol=1e-5)
    assert not np.allclose(raw.forward(digits), mlp.forward(digits))
    with pytest.raises(ValueError) as e:
        fcollide.load(WEIGHTS / "mlp.onnx", normalize="sideways")
    assert "normalize" in str(e.value)


def test_find_vertices(mlp, digits):
    v = fcollide.find_vertices(mlp, digits[0], layer="fc1", k=3, progress=False, **FAST)
    assert v.vertices.shape == (3, 1, 28, 28) and v.vertices.dtype == np.float32
    assert v.vertices.min() >= 0 and v.vertices.max() <= 1
    assert np.array_equal(v.target, digits[0])
    assert v.init.shape == (3, 1, 28, 28) and np.array_equal(v.init[1], digits[0])
    assert v.layer == "fc1" and len(v.stats) == 3 and len(v) == 3
    assert v.units == [s.unit for s in v.stats]
    assert v.params["steps"] == 300 and v.params["penalty"] == "hinge"
    assert v.info["engine"] == "affine" and v.info["n_units"] == 16
    # fc1 follows an affine prefix: the hull certificate applies and the verdict follows it.
    assert v.certificate is not None and v.certificate.same_region
    assert v.verification is not None and v.verification.samples == 2000
    assert v.verdict == v.verification.verdict and v.certified == v.verification.certified
    if v.certified:
        assert v.verdict == "collides"
    assert v.verdict in ("collides", "approximate", "failed")
    assert 0 <= v.class_agreement <= 1
    # The vertices differ from each other and from the target.
    assert np.abs(v.vertices[0] - v.vertices[1]).max() > 1e-3


def test_find_vertices_is_deterministic_and_accepts_torch_tensors(mlp, digits):
    a = fcollide.find_vertices(mlp, digits[1], k=2, samples=20, progress=False, **FAST)
    b = fcollide.find_vertices(mlp, digits[1][None], k=2, samples=20, progress=False, **FAST)
    assert a.vertices.tobytes() == b.vertices.tobytes()
    assert a.verification == b.verification
    torch = pytest.importorskip("torch")
    c = fcollide.find_vertices(
        mlp, torch.from_numpy(digits[1]), k=2, samples=20, progress=False, **FAST
    )
    assert c.vertices.tobytes() == a.vertices.tobytes()


def test_init_images(mlp, digits):
    v = fcollide.find_vertices(mlp, digits[0], k=2, init=digits[1], progress=False, **FAST)
    assert np.array_equal(v.init[0], digits[1]) and np.array_equal(v.init[1], digits[1])
    w = fcollide.find_vertices(mlp, digits[0], k=2, init=digits[1:3], progress=False, **FAST)
    assert np.array_equal(w.init, digits[1:3])
    with pytest.raises(ValueError) as e:
        fcollide.find_vertices(mlp, digits[0], k=2, init=digits[1:4], progress=False)
    assert str(e.value).startswith("init:")


def test_search_parameter_errors(mlp, digits):
    with pytest.raises(fcollide.ParameterError) as e:
        fcollide.find_vertices(mlp, digits[0], layer="relu9", progress=False)
    assert "fc1, fc2" in str(e.value)
    with pytest.raises(ValueError) as e:
        fcollide.find_vertices(mlp, digits[0], bogus=1, progress=False)
    assert "bogus" in str(e.value) and "penalty" in str(e.value)
    with pytest.raises(ValueError) as e:
        fcollide.find_vertices(mlp, digits[0], penalty="cubic", progress=False)
    assert "penalty" in str(e.value)
    with pytest.raises(ValueError) as e:
        fcollide.find_vertices(mlp, digits[0], alpha=-1.0, progress=False)
    assert "alpha" in str(e.value)
    with pytest.raises(ValueError) as e:
        fcollide.find_vertices(mlp, digits[0], units=[0], k=2, progress=False)
    assert "units" in str(e.value)
    with pytest.raises(ValueError) as e:
        fcollide.find_vertices(mlp, digits[0], collision_tol=2.0, progress=False)
    assert "collision_tol" in str(e.value)
    for bad in ({"k": 0}, {"k": 2.5}, {"samples": 0}, {"seed": -1}):
        with pytest.raises(ValueError) as e:
            fcollide.find_vertices(mlp, digits[0], progress=False, **bad)
        assert str(e.value).startswith(next(iter(bad)) + ":")


def test_vertex_files_round_trip(mlp, digits, tmp_path):
    v = fcollide.find_vertices(mlp, digits[2], k=2, progress=False, **FAST)
    path = tmp_path / "v.safetensors"
    v.save(path)
    w = fcollide.load_vertices(path)
    assert w.vertices.tobytes() == v.vertices.tobytes()
    assert w.target.tobytes() == v.target.tobytes() and w.init.tobytes() == v.init.tobytes()
    assert w.stats == v.stats and w.layer == "fc1" and w.verdict is None
    # Verifying the file again with the same samples and seed gives the search's figures.
    assert fcollide.verify(mlp, w, n=2000, seed=0) == v.verification
    # The file is the CLI's format: safetensors tensors and JSON metadata.
    st = pytest.importorskip("safetensors")
    with st.safe_open(str(path), "numpy") as f:
        assert sorted(f.keys()) == ["init", "target", "vertices"]
        assert f.get_tensor("vertices").shape == (2, 1, 28, 28)
        meta = json.loads(f.metadata()["fcollide.vertices"])
        assert meta["set"]["layer"] == "fc1"


def test_verify(mlp, digits, tmp_path):
    v = fcollide.find_vertices(mlp, digits[0], k=3, samples=20, progress=False, **FAST)
    f = fcollide.verify(mlp, v, n=500, seed=3)
    assert f.samples == 500 and 0 <= f.class_agreement <= 1 and f.success_rate == f.class_agreement
    assert f.verdict in ("collides", "approximate", "failed") and f.collision_tol == 1e-3
    assert f.vertex_pairwise_l2 > 0 and f.vertex_to_dataset_ratio is None
    assert fcollide.verify(mlp, v, n=500, seed=3) == f
    assert fcollide.verify(mlp, v, n=500, seed=4) != f
    path = tmp_path / "v.safetensors"
    v.save(path)
    assert fcollide.verify(mlp, path, n=500, seed=3) == f
    g = fcollide.verify(mlp, v, n=100, dataset_l2=10.0)
    assert g.vertex_to_dataset_ratio == pytest.approx(g.vertex_pairwise_l2 / 10.0)
    # A tighter tolerance than the vertices reach cannot leave a verdict of "collides"
    # unless the hull is certified.
    tight = fcollide.verify(mlp, v, n=100, tol=1e-12)
    assert tight.collision_tol == 1e-12
    assert tight.certified or tight.verdict != "collides"
    with pytest.raises(ValueError) as e:
        fcollide.verify(mlp, v, n=100, tol=1.5)
    assert str(e.value).startswith("tol:")


def test_vertices_must_fit_the_model(mlp, lenet, digits):
    v = fcollide.find_vertices(mlp, digits[0], k=2, samples=20, progress=False, **FAST)
    rgb = fcollide.load(WEIGHTS / "vggtiny_npz.toml")
    with pytest.raises(ValueError) as e:
        fcollide.verify(rgb, v, n=10)
    assert str(e.value).startswith("vertices:")


def test_region_locked_search_behind_relus(lenet, crops):
    layer = lenet.collision_layers[-1]
    v = fcollide.find_vertices(lenet, crops[0], layer=layer, k=2, samples=200, progress=False, **FAST)
    assert v.info["region_locked"] is True and v.info["engine"] == "autodiff"
    assert v.certificate is not None and v.certificate.certificate_margin is not None


def test_exact(mlp, digits):
    # (No Chebyshev ball: its LP over 784 pixels takes tens of seconds in the default build.)
    e = fcollide.exact(
        mlp, digits[0], layer="fc1", k=2, directions=2, samples=200, chebyshev=False
    )
    assert e.vertices.shape == (2, 1, 28, 28)
    assert e.certified and e.verdict == "collides" and e.class_agreement == 1.0
    assert e.stats["feasible_within_tol"]
    assert e.stats["n_plus"] + e.stats["n_zero"] == 16
    assert e.record["affine_dim"] == 784 - e.record["rank"]
    assert e.record["samples"] == 200 and e.record["vertex_to_dataset_ratio"] is None
    # Every exact vertex collides: same fc1 activation as the target.
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    t = relu(mlp.pre_activation(digits[0], "fc1"))
    for x in e.vertices:
        np.testing.assert_allclose(relu(mlp.pre_activation(x, "fc1")), t, atol=1e-3)
    with pytest.raises(ValueError) as err:
        fcollide.exact(mlp, digits[0], lp_solver="simplex", chebyshev=False)
    assert "lp_solver" in str(err.value)


def test_dataset_pairwise_l2(digits):
    d = fcollide.dataset_pairwise_l2(digits, pairs=100, seed=1)
    assert d > 0 and d == fcollide.dataset_pairwise_l2(digits, pairs=100, seed=1)
    with pytest.raises(ValueError):
        fcollide.dataset_pairwise_l2(digits[0], pairs=10)


class Recorder:
    def __init__(self):
        self.calls = []

    def start(self, label, total):
        self.calls.append(("start", label, total))

    def advance(self, n, msg):
        self.calls.append(("advance", n, msg))

    def finish(self):
        self.calls.append(("finish",))


def test_progress_object(mlp, digits):
    rec = Recorder()
    fcollide.find_vertices(mlp, digits[0], k=2, samples=20, progress=rec, **FAST)
    assert rec.calls[0] == ("start", "vertices (fc1)", 300)
    steps = sum(c[1] for c in rec.calls if c[0] == "advance")
    assert steps == 300 and rec.calls[-1] == ("finish",)
    with pytest.raises(ValueError):
        fcollide.find_vertices(mlp, digits[0], progress="yes")


def test_tqdm_progress(mlp, digits, capsys):
    pytest.importorskip("tqdm")
    fcollide.find_vertices(mlp, digits[0], k=2, samples=20, progress=True, **FAST)
    assert "vertices (fc1)" in capsys.readouterr().err


def test_plain_progress_without_tqdm(mlp, digits, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    fcollide.find_vertices(mlp, digits[0], k=2, samples=20, progress=True, **FAST)
    err = capsys.readouterr().err.splitlines()
    lines = [line for line in err if line.startswith("vertices (fc1): ")]
    assert lines[0].startswith("vertices (fc1):  10 % (30/300)")
    assert any(line.startswith("vertices (fc1): 100 % (300/300)") for line in lines)
    assert lines[-1].startswith("vertices (fc1): done in")
    assert len(lines) == 11  # 10 %, 20 %, …, 100 %, done


def test_long_calls_release_the_gil(lenet, crops):
    """While a search runs in one thread, Python code keeps running in another (with the
    GIL held throughout, the loop below would not run until the search ends)."""
    done = threading.Event()
    ticks = 0

    def search():
        # fc1 lies behind conv layers: the autodiff engine, ≈ 0.5 s for 1,500 steps.
        fcollide.find_vertices(
            lenet, crops[0], layer="fc1", k=2, samples=20, steps=1500, progress=False
        )
        done.set()

    th = threading.Thread(target=search)
    t0 = time.monotonic()
    th.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    th.join()
    elapsed = time.monotonic() - t0
    assert elapsed > 0.05, f"the search took only {elapsed:.3f} s: the test proves nothing"
    assert ticks >= 10, f"{ticks} ticks in {elapsed:.2f} s"


@pytest.mark.skipif(os.name != "posix", reason="SIGINT from a timer needs POSIX")
def test_ctrl_c_interrupts_a_search(lenet, crops):
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        fcollide.find_vertices(
            lenet, crops[0], layer="fc1", k=2, samples=20, steps=10**7, progress=False
        )
    elapsed = time.monotonic() - t0
    timer.cancel()
    assert elapsed < 5, f"took {elapsed:.1f} s to stop"
    # The model is still usable afterwards.
    assert lenet.forward(crops[0]).shape == (10,)
