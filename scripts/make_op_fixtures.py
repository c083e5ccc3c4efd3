"""Per-operation ONNX fixtures for fcollide, exported by torch itself.

Not run by CI; run with a venv that has torch (2.15), onnx and onnxruntime:

    /work/tv/bin/python scripts/make_op_fixtures.py

Writes into crates/fcollide/tests/fixtures/ops/:

- one ONNX file per case (`NAME.onnx`), exported by `torch.onnx.export` from a tiny seeded
  torch module, one module per operation family (below). `dynamo` cases use torch's default
  exporter with its default settings, which writes the weights to an external data file
  beside the model (`NAME.onnx.data`); `legacy` cases use `dynamo=False` (weights inside);
- `expected.json`: for every case, the file, the exporter, the input shape, two inputs (float32
  values in [0, 1]), torch's logits for them computed in float64 from the float32 weights,
  the fcollide operation kinds the loaded graph must contain, the input normalization it
  applies (`imagenet` for the residual cases, `none` otherwise), the ONNX operators of the file,
  and `margin`: the smallest distance of any pre-activation to a kink of its activation
  (0 for ReLU and LeakyReLU, 0 and 6 for ReLU6) and of any max-pool window's maximum to its
  runner-up (ties between exact zeros after a ReLU are harmless and skipped), over both
  inputs. Inputs are drawn (seeded) until the margin is at least `MIN_MARGIN`, so a finite
  difference with a step far below it never crosses a kink.

The script checks onnxruntime's outputs on every exported file against torch's before
writing. Everything is seeded; rerunning it rewrites the same numbers (and, with the same torch
version, the same files; node metadata that records this script's path is removed from the
dynamo exports, which are re-saved by onnx with the same external data file name).

Cases (input 3×8×8 or 3×9×9, a few hundred parameters each):

- `residual` and `residual_legacy`: ImageNet normalization (Sub, Div), a stem
  conv–BN–ReLU, a ResNet basic block (conv–BN–ReLU–conv–BN plus the identity, ReLU after the
  Add), a downsampling block (stride 2, 1×1 conv–BN on the skip), global average pooling
  (AdaptiveAvgPool2d(1)), Linear;
- `conv_bn_relu`: conv–BN–ReLU twice (the second strided; the exporter folds these batch
  norms), a ReLU followed by a BatchNorm (nothing to fold it into: the file keeps a
  `BatchNormalization`) and a conv, Flatten, Linear;
- `avgpool` and `avgpool_legacy`: AvgPool2d 3×3/2 with padding 1 (count_include_pad) and
  3×3/1 with padding 1 (not counting the padding), AdaptiveAvgPool2d(2) on a 4×4 map, Linear;
- `maxpool` and `maxpool_legacy`: MaxPool2d 3×3/2 with padding 1 before a ReLU (so the
  padding must act as −∞), MaxPool2d 2×2/2 in ceil mode on an odd size, Linear;
- `concat` and `concat_legacy`: a SqueezeNet fire module (squeeze 1×1, expand 1×1 and 3×3,
  Concat on channels), ceil-mode max pooling, a 1×1 classifier conv, ReLU and the spatial
  mean (`x.mean((2, 3))`);
- `activations`: ReLU6 (reaching both clips), LeakyReLU(0.1), Sigmoid, Tanh;
- `grouped`: a grouped conv (groups 2), a depthwise dilated conv (groups 8, dilation 2), a
  strided conv with a 3×2 kernel and per-axis padding;
- `unsupported` (a negative fixture, no numbers): a conv followed by Hardswish (ONNX
  `HardSwish`), which fcollide does not translate; `expected.json` names its node.
"""
import json
import pathlib

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "fcollide" / "tests" / "fixtures" / "ops"
MIN_MARGIN = 1e-4


def bn(c):
    m = nn.BatchNorm2d(c)
    with torch.no_grad():
        m.weight.uniform_(0.5, 1.5)
        m.bias.uniform_(-0.2, 0.2)
        m.running_mean.uniform_(-0.2, 0.2)
        m.running_var.uniform_(0.5, 1.5)
    return m


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = bn(4)
        self.relu = nn.ReLU()
        # Block 1: identity skip.
        self.b1conv1 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.b1bn1 = bn(4)
        self.b1relu1 = nn.ReLU()
        self.b1conv2 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.b1bn2 = bn(4)
        self.b1relu2 = nn.ReLU()
        # Block 2: stride 2, projection skip.
        self.b2conv1 = nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False)
        self.b2bn1 = bn(6)
        self.b2relu1 = nn.ReLU()
        self.b2conv2 = nn.Conv2d(6, 6, 3, padding=1, bias=False)
        self.b2bn2 = bn(6)
        self.down = nn.Conv2d(4, 6, 1, stride=2, bias=False)
        self.downbn = bn(6)
        self.b2relu2 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = self.relu(self.bn1(self.conv1(x)))
        y = self.b1relu1(self.b1bn1(self.b1conv1(x)))
        x = self.b1relu2(self.b1bn2(self.b1conv2(y)) + x)
        y = self.b2relu1(self.b2bn1(self.b2conv1(x)))
        x = self.b2relu2(self.b2bn2(self.b2conv2(y)) + self.downbn(self.down(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


class ConvBnRelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 5, 3, padding=1)
        self.bn1 = bn(5)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(5, 6, 3, stride=2, padding=1)
        self.bn2 = bn(6)
        self.relu2 = nn.ReLU()
        self.bn3 = bn(6)
        self.conv3 = nn.Conv2d(6, 4, 3)
        self.relu3 = nn.ReLU()
        self.fc = nn.Linear(4 * 2 * 2, 4)

    def forward(self, x):
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.bn3(self.relu2(self.bn2(self.conv2(x))))
        x = self.relu3(self.conv3(x))
        return self.fc(torch.flatten(x, 1))


class AvgPools(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=True)
        self.pool2 = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        self.conv2 = nn.Conv2d(4, 5, 2)
        self.relu2 = nn.ReLU()
        self.pool3 = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(5 * 2 * 2, 4)

    def forward(self, x):  # 9×9 → 9×9 → 5×5 → 5×5 → 4×4 → 2×2
        x = self.pool2(self.pool1(self.relu1(self.conv1(x))))
        x = self.pool3(self.relu2(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


class MaxPools(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.pool1 = nn.MaxPool2d(3, stride=2, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 5, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.fc = nn.Linear(5 * 3 * 3, 4)

    def forward(self, x):  # 9×9 → 9×9 → 5×5 → 5×5 → 3×3 (ceil)
        x = self.relu1(self.pool1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


class Fire(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.squeeze = nn.Conv2d(4, 2, 1)
        self.squeeze_relu = nn.ReLU()
        self.expand1x1 = nn.Conv2d(2, 3, 1)
        self.expand1x1_relu = nn.ReLU()
        self.expand3x3 = nn.Conv2d(2, 3, 3, padding=1)
        self.expand3x3_relu = nn.ReLU()
        self.pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.classifier = nn.Conv2d(6, 5, 1)
        self.relu2 = nn.ReLU()

    def forward(self, x):  # 8×8 → pool (ceil) 4×4 → mean
        x = self.squeeze_relu(self.squeeze(self.relu1(self.conv1(x))))
        x = torch.cat(
            [self.expand1x1_relu(self.expand1x1(x)), self.expand3x3_relu(self.expand3x3(x))], 1
        )
        x = self.relu2(self.classifier(self.pool(x)))
        return x.mean((2, 3))


class Activations(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        with torch.no_grad():  # large enough to reach ReLU6's upper clip
            self.conv1.weight.mul_(12.0)
            self.conv1.bias.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]))
        self.relu6 = nn.ReLU6()
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.leaky = nn.LeakyReLU(0.1)
        self.fc1 = nn.Linear(4 * 4 * 4, 8)
        self.sigmoid = nn.Sigmoid()
        self.fc2 = nn.Linear(8, 6)
        self.tanh = nn.Tanh()
        self.fc3 = nn.Linear(6, 4)

    def forward(self, x):
        x = self.leaky(self.conv2(self.relu6(self.conv1(x))))
        x = self.sigmoid(self.fc1(torch.flatten(x, 1)))
        return self.fc3(self.tanh(self.fc2(x)))


class Grouped(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.grouped = nn.Conv2d(8, 8, 3, padding=1, groups=2)
        self.relu2 = nn.ReLU()
        self.depthwise = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8)
        self.relu3 = nn.ReLU()
        self.conv4 = nn.Conv2d(8, 4, (3, 2), stride=(2, 1), padding=(1, 0))
        self.relu4 = nn.ReLU()
        self.fc = nn.Linear(4 * 4 * 7, 3)

    def forward(self, x):  # 8×8 → 8×8 → 8×8 → 8×8 → 4×7
        x = self.relu2(self.grouped(self.relu1(self.conv1(x))))
        x = self.relu4(self.conv4(self.relu3(self.depthwise(x))))
        return self.fc(torch.flatten(x, 1))


class Unsupported(nn.Module):
    """A MobileNetV3-style Hardswish, which fcollide does not translate (a negative fixture)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.act = nn.Hardswish()
        self.fc = nn.Linear(4 * 8 * 8, 3)

    def forward(self, x):
        return self.fc(torch.flatten(self.act(self.conv1(x)), 1))


# (name, module, seed, input [C, H, W], exporter, fcollide op kinds the graph must contain)
CASES = [
    ("residual", Residual, 1, [3, 8, 8], "dynamo",
     ["ChannelAffine", "Conv2d", "Relu", "Add", "AdaptiveAvgPool2d", "Linear"]),
    ("residual_legacy", Residual, 1, [3, 8, 8], "legacy",
     ["ChannelAffine", "Conv2d", "Relu", "Add", "AdaptiveAvgPool2d", "Linear"]),
    ("conv_bn_relu", ConvBnRelu, 2, [3, 8, 8], "dynamo", ["Conv2d", "Relu", "Linear"]),
    ("avgpool", AvgPools, 3, [3, 9, 9], "dynamo", ["AvgPool2d", "Linear"]),
    ("avgpool_legacy", AvgPools, 3, [3, 9, 9], "legacy", ["AvgPool2d", "Linear"]),
    ("maxpool", MaxPools, 4, [3, 9, 9], "dynamo", ["MaxPool2d", "Relu", "Linear"]),
    ("maxpool_legacy", MaxPools, 4, [3, 9, 9], "legacy", ["MaxPool2d", "Relu", "Linear"]),
    ("concat", Fire, 5, [3, 8, 8], "dynamo",
     ["Concat", "MaxPool2d", "AdaptiveAvgPool2d"]),
    ("concat_legacy", Fire, 5, [3, 8, 8], "legacy",
     ["Concat", "MaxPool2d", "AdaptiveAvgPool2d"]),
    ("activations", Activations, 6, [3, 8, 8], "dynamo",
     ["Clip", "LeakyRelu", "Sigmoid", "Tanh", "Linear"]),
    ("grouped", Grouped, 7, [3, 8, 8], "dynamo", ["Conv2d", "Relu", "Linear"]),
]

KINKS = {nn.ReLU: (0.0,), nn.ReLU6: (0.0, 6.0), nn.LeakyReLU: (0.0,)}


def pool_gap(pool, x):
    """The smallest gap between a max-pool window's maximum and its runner-up (exact ties
    between zeros, which only a ReLU before the pool produces, are skipped)."""
    k, s, p = pool.kernel_size, pool.stride, pool.padding
    out = torch.nn.functional.max_pool2d(x, k, s, p, ceil_mode=pool.ceil_mode)
    oh, ow = out.shape[2], out.shape[3]
    need_h = (oh - 1) * s + k
    need_w = (ow - 1) * s + k
    h, w = x.shape[2], x.shape[3]
    xp = torch.nn.functional.pad(
        x, (p, max(0, need_w - w - p), p, max(0, need_h - h - p)), value=float("-inf")
    )
    win = torch.nn.functional.unfold(xp, k, stride=s)  # [1, C·k·k, L]
    win = win.view(x.shape[1], k * k, -1)
    top = torch.topk(win, 2, dim=1).values
    gap = top[:, 0] - top[:, 1]
    zero_tie = (top[:, 0] == 0) & (top[:, 1] == 0)
    gap = gap[~zero_tie]
    return float(gap.min()) if gap.numel() else float("inf")


def margin(model, x):
    """The smallest distance to a kink over every activation and max-pool of `model` at `x`."""
    found = []

    def hook(mod, inp, _out):
        v = inp[0].detach()
        if isinstance(mod, nn.MaxPool2d):
            found.append(pool_gap(mod, v))
        else:
            for kink in KINKS[type(mod)]:
                found.append(float((v - kink).abs().min()))

    hs = [m.register_forward_hook(hook) for m in model.modules()
          if isinstance(m, (nn.MaxPool2d, *KINKS))]
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    assert found
    return min(found)


def strip_metadata(path):
    """Removes node metadata (the exporter records this script's path and line numbers)."""
    m = onnx.load(str(path), load_external_data=False)
    for n in m.graph.node:
        del n.metadata_props[:]
        n.doc_string = ""
    del m.metadata_props[:]
    m.graph.doc_string = ""
    onnx.save(m, str(path))


def export(model, x, path, exporter):
    for f in [path, path.with_name(path.name + ".data")]:
        if f.exists():
            f.unlink()
    if exporter == "dynamo":
        # The defaults: dynamo exporter, weights in an external data file.
        torch.onnx.export(model, (x,), str(path))
        strip_metadata(path)
    else:
        torch.onnx.export(model, (x,), str(path), dynamo=False)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    cases = []
    for name, cls, seed, shape, exporter, kinds in CASES:
        torch.manual_seed(seed)
        model = cls().eval()
        # Draw inputs until every activation and max-pool is at least MIN_MARGIN from a kink.
        gen = torch.Generator().manual_seed(1000 + seed)
        inputs, m = [], float("inf")
        tries = 0
        while len(inputs) < 2:
            tries += 1
            assert tries < 5000, name
            x = torch.rand([1] + shape, generator=gen)
            mx = margin(model, x)
            if mx >= MIN_MARGIN:
                inputs.append(x)
                m = min(m, mx)
        if name == "activations":  # ReLU6 reaches both of its clips
            pre = model.conv1(inputs[0])
            assert (pre > 6).any() and (pre < 0).any()
        path = OUT / f"{name}.onnx"
        export(model, inputs[0], path, exporter)
        m64 = model.double()
        with torch.no_grad():
            logits = [m64(x.double())[0].tolist() for x in inputs]
            logits32 = [model.float()(x)[0] for x in inputs]
        # onnxruntime agrees with torch on the file.
        sess = ort.InferenceSession(str(path))
        in_name = sess.get_inputs()[0].name
        for x, want in zip(inputs, logits):
            got = sess.run(None, {in_name: x.numpy()})[0][0]
            err = np.abs(got - np.array(want)).max() / np.abs(want).max()
            assert err < 1e-5, (name, err)
        for a, b in zip(logits32, logits):
            assert np.abs(a.numpy() - np.array(b)).max() / np.abs(b).max() < 1e-5
        ops = sorted({n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node})
        ext = path.with_name(path.name + ".data")
        cases.append({
            "name": name,
            "file": path.name,
            "exporter": exporter,
            "external_data": ext.name if ext.exists() else None,
            "input_shape": shape,
            "inputs": [x.flatten().tolist() for x in inputs],
            "logits": logits,
            "kinds": kinds,
            "normalization": "imagenet" if cls is Residual else "none",
            "onnx_ops": ops,
            "margin": m,
        })
        print(f"{name}: {exporter}, ops {ops}, margin {m:.2e}, "
              f"{path.stat().st_size} B" + (f" + {ext.stat().st_size} B" if ext.exists() else ""))
    # The negative fixture: which node holds the unsupported operator.
    torch.manual_seed(8)
    path = OUT / "unsupported.onnx"
    export(Unsupported().eval(), torch.rand(1, 3, 8, 8), path, "dynamo")
    nodes = onnx.load(str(path), load_external_data=False).graph.node
    bad = [n for n in nodes if n.op_type == "HardSwish"]
    assert len(bad) == 1, [n.op_type for n in nodes]
    unsupported = {"file": path.name, "op": bad[0].op_type, "node": bad[0].name}
    print(f"unsupported: {unsupported}")
    doc = {
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "min_margin": MIN_MARGIN,
        "cases": cases,
        "unsupported": unsupported,
    }
    (OUT / "expected.json").write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
