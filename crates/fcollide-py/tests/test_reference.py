"""The package against independent numbers: a NumPy forward pass of an MLP written by NumPy
(``.npz`` with PyTorch key names, loaded with ``arch="mlp"``), and figures recomputed in
NumPy from the vertices. Needs only NumPy (runs in CI)."""

from __future__ import annotations

import numpy as np
import pytest

import fcollide

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


@pytest.fixture(scope="module")
def npz_mlp(tmp_path_factory):
    """``(path, weights)``: a random 784-256-256-10 MLP saved by NumPy."""
    rng = np.random.default_rng(7)
    shapes = {"fc1": (256, 784), "fc2": (256, 256), "fc3": (10, 256)}
    w = {}
    for name, (o, i) in shapes.items():
        w[f"{name}.weight"] = rng.normal(0, 1.5 / np.sqrt(i), (o, i)).astype(np.float32)
        w[f"{name}.bias"] = rng.normal(0, 0.1, o).astype(np.float32)
    path = tmp_path_factory.mktemp("npz") / "mlp.npz"
    np.savez(path, **w)
    return path, w


def np_forward(w, x, mean=MNIST_MEAN, std=MNIST_STD):
    """``(fc1 pre-activation, fc2 pre-activation, logits)`` in float64."""
    h = (x.reshape(len(x), -1).astype(np.float64) - mean) / std
    p1 = h @ w["fc1.weight"].T.astype(np.float64) + w["fc1.bias"]
    p2 = np.maximum(p1, 0) @ w["fc2.weight"].T.astype(np.float64) + w["fc2.bias"]
    logits = np.maximum(p2, 0) @ w["fc3.weight"].T.astype(np.float64) + w["fc3.bias"]
    return p1, p2, logits


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def rel(a, b):
    return float(np.abs(np.asarray(a, np.float64) - b).max() / max(np.abs(b).max(), 1e-12))


def test_forward_and_pre_activation_match_numpy(npz_mlp, digits):
    path, w = npz_mlp
    m = fcollide.load(path, arch="mlp")
    assert m.facts["format"] == "npz" and m.facts["normalization_source"] == "template"
    assert m.layers == ["norm", "flatten", "fc1", "relu1", "fc2", "relu2", "fc3"]
    assert m.collision_layers == ["fc1", "fc2"]
    p1, p2, logits = np_forward(w, digits)
    assert rel(m.forward(digits), logits) < 1e-5
    assert rel(m.forward(digits[5]), logits[5]) < 1e-5
    assert rel(m.pre_activation(digits, "fc1"), p1) < 1e-5
    assert rel(m.pre_activation(digits, "fc2"), p2) < 1e-5
    # Without the template's normalization, and with another one given as (mean, std).
    raw = fcollide.load(path, arch="mlp", normalize="none")
    assert rel(raw.forward(digits), np_forward(w, digits, 0.0, 1.0)[2]) < 1e-5
    other = fcollide.load(path, arch="mlp", normalize=(0.5, 0.25))
    assert other.facts["normalization_source"] == "override"
    assert rel(other.forward(digits), np_forward(w, digits, 0.5, 0.25)[2]) < 1e-5


def test_a_file_that_does_not_match_fails_naming_the_tensor(npz_mlp, tmp_path):
    _, w = npz_mlp
    bad = dict(w)
    bad["fc2.weight"] = np.zeros((128, 256), np.float32)
    np.savez(tmp_path / "shape.npz", **bad)
    with pytest.raises(fcollide.Error) as e:
        fcollide.load(tmp_path / "shape.npz", arch="mlp")
    assert "fc2.weight" in str(e.value) and "shape.npz" in str(e.value)
    extra = dict(w, stray=np.zeros(3, np.float32))
    np.savez(tmp_path / "extra.npz", **extra)
    with pytest.raises(fcollide.Error) as e:
        fcollide.load(tmp_path / "extra.npz", arch="mlp")
    assert "stray" in str(e.value)
    missing = {k: v for k, v in w.items() if k != "fc3.bias"}
    np.savez(tmp_path / "missing.npz", **missing)
    with pytest.raises(fcollide.Error) as e:
        fcollide.load(tmp_path / "missing.npz", arch="mlp")
    assert "fc3.bias" in str(e.value)
    with pytest.raises(fcollide.Error) as e:
        fcollide.load(tmp_path / "missing.npz")  # no arch: the file records none
    assert "arch" in str(e.value)


def test_search_and_verification_figures_match_numpy(npz_mlp, digits):
    path, w = npz_mlp
    m = fcollide.load(path, arch="mlp")
    t = digits[0]
    v = fcollide.find_vertices(m, t, layer="fc2", k=3, init=digits[1], steps=400, progress=False)
    x = v.vertices
    assert x.min() >= 0 and x.max() <= 1
    _, pt, lt = np_forward(w, t[None])
    _, pv, lv = np_forward(w, x)
    # Per-vertex figures of the search.
    probs = softmax(lv)
    for s, p, pre in zip(v.stats, probs, pv):
        assert s.class_ == int(p.argmax())
        assert s.confidence == pytest.approx(p.max(), rel=1e-4)
        yv, yt = np.maximum(pre, 0), np.maximum(pt[0], 0)
        # The library measures in f32: once the projection puts a vertex on the colliding
        # set (error ~1e-8 in f64), its figure is f32 rounding (~1e-7 to 1e-6).
        assert s.feature_rel_err == pytest.approx(
            np.linalg.norm(yv - yt) / np.linalg.norm(yt), rel=1e-3, abs=2e-6
        )
        assert s.unit_value == pytest.approx(pre[s.unit], rel=1e-3, abs=1e-4)
        assert pt[0][s.unit] <= 0  # a unit of the zero set Z
    # Table 2's vertex figures.
    f = v.verification
    tp = softmax(lt)[0]
    assert f.target_class == int(tp.argmax())
    assert f.target_confidence == pytest.approx(tp.max(), rel=1e-5)
    pairs = [np.linalg.norm(x[i] - x[j]) for i in range(3) for j in range(i + 1, 3)]
    assert f.vertex_pairwise_l2 == pytest.approx(np.mean(pairs), rel=1e-5)
    yt = np.maximum(pt[0], 0)
    errs = [np.linalg.norm(np.maximum(p, 0) - yt) / np.linalg.norm(yt) for p in pv]
    assert f.vertex_feature_rel_err_max == pytest.approx(max(errs), rel=1e-3, abs=2e-6)
    assert f.vertex_class_agreement == pytest.approx(
        np.mean(probs.argmax(axis=1) == f.target_class)
    )
    # The verdict follows the library's rule from these figures.
    worst = max(f.feature_rel_err_max, f.vertex_feature_rel_err_max)
    if f.certified or worst <= f.collision_tol:
        assert f.verdict == "collides"
    elif min(f.class_agreement, f.vertex_class_agreement) >= 1:
        assert f.verdict == "approximate"
    else:
        assert f.verdict == "failed"


def test_exact_vertices_collide_in_numpy(npz_mlp, digits):
    path, w = npz_mlp
    m = fcollide.load(path, arch="mlp")
    e = fcollide.exact(m, digits[2], layer="fc1", k=3, directions=0, chebyshev=False, samples=100)
    assert e.vertices.shape == (3, 1, 28, 28)
    assert e.vertices.min() >= 0 and e.vertices.max() <= 1
    p1t = np_forward(w, digits[2][None])[0][0]
    p1v = np_forward(w, e.vertices)[0]
    yt = np.maximum(p1t, 0)
    for p in p1v:
        assert np.linalg.norm(np.maximum(p, 0) - yt) / np.linalg.norm(yt) < 1e-4
    assert e.certified and e.verdict == "collides"
    assert e.record["n_plus"] == int((p1t > 0).sum())
    # The vertices differ from the target: the polytope is not a point.
    assert np.abs(e.vertices - digits[2]).max() > 1e-2


def test_seed_determinism(npz_mlp, digits):
    path, _ = npz_mlp
    m = fcollide.load(path, arch="mlp")
    a = fcollide.find_vertices(m, digits[3], k=2, steps=200, samples=300, seed=5, progress=False)
    b = fcollide.find_vertices(m, digits[3], k=2, steps=200, samples=300, seed=5, progress=False)
    c = fcollide.find_vertices(m, digits[3], k=2, steps=200, samples=300, seed=6, progress=False)
    assert a.vertices.tobytes() == b.vertices.tobytes() == c.vertices.tobytes()
    assert a.verification == b.verification
    # The seed drives the samples: another seed, other sample figures.
    assert a.verification.feature_rel_err_mean != c.verification.feature_rel_err_mean
