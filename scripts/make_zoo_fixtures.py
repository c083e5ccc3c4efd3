"""Fixtures for fcollide's torchvision templates (`fcollide::model::zoo`).

Not run by CI; run with a venv that has torch and torchvision (written with torch 2.15 and
torchvision 0.29):

    /work/tv/bin/python scripts/make_zoo_fixtures.py

Writes into crates/fcollide/tests/fixtures/zoo/:

- `state_dicts.json.gz`: for every template name, torchvision's `state_dict()` of
  `torchvision.models.NAME()` (1000 classes) as `[key, shape]` pairs in the state dict's order,
  without the `num_batches_tracked` buffers: names and shapes only, no values (gzip with a
  zero timestamp, so the bytes depend only on the content).
- `numeric.json`: small models whose weights are a function of their key's position (below),
  the state dict's keys and shapes (all of them), seeded inputs and torch's logits, for the
  numeric comparison in `tests/it/zoo.rs`.

**Values.** Both sides compute every value from integers, so the weights are identical in
torch and in the Rust test without storing them: for tensor number `t` of the state dict (its
position, `num_batches_tracked` included) and element `i` (row-major),
`u = (splitmix64((seed << 48) ^ (t << 32) ^ i) >> 11) · 2⁻⁵³` in `[0, 1)`, and the value is
`(2u − 1)·√(6 / fan_in)` for a tensor of rank ≥ 2 (`fan_in` = product of all dimensions but the
first), `0.75 + 0.5u` for `running_var` and for a rank-1 `weight` (batch norm's γ), and
`0.1·(2u − 1)` for anything else (biases, `running_mean`), each computed in f64 and rounded to
f32. Input image `k` has pixel `i` = `u` for seed 777, `t = k`, rounded to f32. torch computes
the logits in float64 from those f32 values.
"""
import gzip
import io
import json
import os
import pathlib

import numpy as np
import torch
import torchvision

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "fcollide" / "tests" / "fixtures" / "zoo"

NAMES = [
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
    "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2", "alexnet", "vgg11", "vgg13",
    "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn", "mobilenet_v2",
    "densenet121", "densenet161", "densenet169", "densenet201", "squeezenet1_0",
    "squeezenet1_1",
]

# (name, num_classes, input side, weight seed, images, heavy): small enough for a CI test,
# except the heavy ones (VGG and AlexNet keep their 4096-wide classifiers: 10⁸ weights), which
# the Rust test checks only when asked (`--ignored`).
NUMERIC = [
    ("resnet18", 10, 32, 1, 2, False),
    ("resnext50_32x4d", 10, 32, 2, 1, False),
    ("mobilenet_v2", 10, 32, 3, 2, False),
    ("densenet121", 10, 32, 4, 1, False),
    ("squeezenet1_0", 10, 32, 5, 2, False),
    ("squeezenet1_1", 10, 32, 6, 2, False),
    ("vgg11_bn", 10, 32, 7, 1, True),
    ("alexnet", 10, 64, 8, 1, True),
]



def splitmix64(x):
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(seed, t, n):
    i = np.arange(n, dtype=np.uint64)
    x = (np.uint64(seed) << np.uint64(48)) ^ (np.uint64(t) << np.uint64(32)) ^ i
    return (splitmix64(x) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def value(key, shape, seed, t):
    n = int(np.prod(shape)) if len(shape) else 1
    u = uniform(seed, t, n)
    last = key.rsplit(".", 1)[-1]
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        v = (2.0 * u - 1.0) * np.sqrt(6.0 / fan_in)
    elif last == "running_var" or last == "weight":
        v = 0.75 + 0.5 * u
    else:
        v = 0.1 * (2.0 * u - 1.0)
    return v.astype(np.float32).reshape(shape)


def state_dicts():
    out = {}
    for name in NAMES:
        sd = getattr(torchvision.models, name)(weights=None).state_dict()
        out[name] = [[k, list(v.shape)] for k, v in sd.items()
                     if not k.endswith("num_batches_tracked")]
    text = json.dumps(out, separators=(",", ":"), sort_keys=False).encode()
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as f:
        f.write(text)
    (OUT / "state_dicts.json.gz").write_bytes(buf.getvalue())
    print(f"state_dicts.json.gz: {len(buf.getvalue())} bytes ({len(text)} uncompressed)")


def numeric():
    cases = []
    for name, classes, side, seed, n_images, heavy in NUMERIC:
        m = getattr(torchvision.models, name)(weights=None, num_classes=classes).eval()
        sd = m.state_dict()
        keys = []
        new = {}
        for t, (k, v) in enumerate(sd.items()):
            shape = list(v.shape)
            keys.append([k, shape])
            if k.endswith("num_batches_tracked"):
                new[k] = v
            else:
                new[k] = torch.from_numpy(value(k, shape, seed, t))
        m.load_state_dict(new)
        m = m.double()
        images = []
        logits = []
        for k in range(n_images):
            x = uniform(777, k, 3 * side * side).astype(np.float32)
            images.append(k)
            xt = torch.from_numpy(x.astype(np.float64)).reshape(1, 3, side, side)
            # The templates hold ImageNet normalization; torchvision's model does not.
            mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float32).double()
            std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float32).double()
            xt = (xt - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
            with torch.no_grad():
                y = m(xt)[0].tolist()
            logits.append(y)
        cases.append({"name": name, "classes": classes, "side": side, "seed": seed,
                      "heavy": heavy, "images": images, "keys": keys, "logits": logits})
        print(f"{name}: {len(keys)} keys, max |logit| {max(abs(v) for r in logits for v in r):.3g}")
    text = json.dumps({"torch": torch.__version__, "torchvision": torchvision.__version__,
                       "cases": cases}, separators=(",", ":"))
    (OUT / "numeric.json").write_text(text + "\n")
    print(f"numeric.json: {len(text)} bytes")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    state_dicts()
    numeric()
