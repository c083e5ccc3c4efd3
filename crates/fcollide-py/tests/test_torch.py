"""`from_torch` and torch tensors as inputs, checked against torch itself. Skipped without
torch (``pip install torch`` to run them)."""

from __future__ import annotations

import numpy as np
import pytest

import fcollide

torch = pytest.importorskip("torch")
nn = torch.nn


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


@pytest.fixture(scope="module")
def mlp_module():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))


@pytest.fixture(scope="module")
def cnn_module():
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 12 * 12, 10),
    ).eval()


def test_from_torch_mlp_matches_torch(mlp_module, digits):
    m = fcollide.from_torch(mlp_module, torch.from_numpy(digits[:2]))
    assert m.input_shape == (1, 28, 28) and m.num_classes == 10
    with torch.no_grad():
        want = mlp_module(torch.from_numpy(digits)).numpy()
        pre = mlp_module[1](mlp_module[0](torch.from_numpy(digits))).numpy()
    assert rel(m.forward(digits), want) <= 1e-5
    # The collision layer is the Linear before the ReLU, named by its module path.
    assert m.collision_layers == ["1"]
    assert rel(m.pre_activation(digits, "1"), pre) <= 1e-5
    # Torch tensors are accepted wherever arrays are.
    assert rel(m.forward(torch.from_numpy(digits)), want) <= 1e-5


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_from_torch_large_models_go_through_external_data(
    cnn_module, digits, monkeypatch, exporter
):
    # Models over 2 GiB cannot be exported into memory; the folder path with external data
    # is taken above EXTERNAL_DATA_BYTES, forced here for a small module.
    from fcollide import _torch

    monkeypatch.setattr(_torch, "EXTERNAL_DATA_BYTES", 0)
    m = fcollide.from_torch(cnn_module, digits[0], normalize="mnist", exporter=exporter)
    x = torch.from_numpy(digits)
    with torch.no_grad():
        want = cnn_module((x - 0.1307) / 0.3081).numpy()
    assert rel(m.forward(digits), want) <= 1e-5
    assert m.normalization.startswith("mnist") or "mean" in m.normalization


def test_from_torch_cnn_with_normalization(cnn_module, digits):
    m = fcollide.from_torch(cnn_module, digits[0], normalize="mnist")
    assert m.normalization.startswith("mnist")
    x = torch.from_numpy(digits)
    with torch.no_grad():
        want = cnn_module((x - 0.1307) / 0.3081).numpy()
    assert rel(m.forward(digits), want) <= 1e-4
    assert cnn_module.training is False


def test_vertices_of_a_torch_model_collide_in_torch(mlp_module, digits):
    m = fcollide.from_torch(mlp_module, digits[0])
    v = fcollide.find_vertices(m, digits[0], layer="1", k=3, init=digits[1], progress=False)
    with torch.no_grad():
        feats = lambda a: torch.relu(mlp_module[1](mlp_module[0](torch.from_numpy(a)))).numpy()  # noqa: E731
        yt = feats(digits[:1])[0]
        yv = feats(v.vertices)
    errs = np.linalg.norm(yv - yt, axis=1) / np.linalg.norm(yt)
    assert errs.max() == pytest.approx(v.verification.vertex_feature_rel_err_max, rel=1e-2, abs=1e-6)
    if v.verdict == "collides" and not v.certified:
        assert errs.max() <= v.verification.collision_tol


@pytest.mark.parametrize("exporter", ["auto", "dynamo"])
def test_unsupported_layer_is_named(digits, exporter):
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.GELU(), nn.Linear(16, 10))
    with pytest.raises(fcollide.Error) as e:
        fcollide.from_torch(net, digits[0], exporter=exporter)
    msg = str(e.value)
    assert "Gelu" in msg and "GELU" in msg


def test_from_torch_argument_errors(mlp_module, digits):
    with pytest.raises(ValueError) as e:
        fcollide.from_torch("not a module", digits[0])
    assert str(e.value).startswith("module:")
    with pytest.raises(ValueError) as e:
        fcollide.from_torch(mlp_module, torch.zeros(1, 28, 28, dtype=torch.float64))
    assert str(e.value).startswith("example_input:") and "float32" in str(e.value)
    with pytest.raises(ValueError) as e:
        fcollide.from_torch(mlp_module, torch.full((1, 28, 28), 3.0))
    assert str(e.value).startswith("example_input:") and "[0, 1]" in str(e.value)
    m = fcollide.from_torch(mlp_module, digits[0])
    with pytest.raises(ValueError) as e:
        m.forward(torch.zeros(1, 28, 28, dtype=torch.float16))
    assert str(e.value).startswith("x:")


def test_a_mismatch_with_torch_fails():
    """A module whose output the ONNX graph cannot reproduce (it depends on the batch)
    is refused rather than imported wrong."""

    class BatchDependent(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(x.flatten(1)) + 10.0 * x.shape[0]

    x = np.random.default_rng(0).random((3, 1, 2, 2), dtype=np.float32)
    with pytest.raises(fcollide.Error) as e:
        fcollide.from_torch(BatchDependent(), x)
    assert "does not match torch" in str(e.value)
