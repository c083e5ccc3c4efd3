#!/usr/bin/env python3
"""Generates the weight-import fixtures in crates/fcollide/tests/fixtures/weights/.

Needs numpy, safetensors and onnx (pip install numpy safetensors onnx); torch is NOT needed:
PyTorch zip checkpoints are written with pickle + zipfile in exactly torch's layout
(`archive/data.pkl` with GLOBALs `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`,
`torch.FloatStorage`…, persistent ids `('storage', torch.FloatStorage, key, 'cpu', numel)`,
and storages in `archive/data/N`).

Every model is small and random (seeded). For each fixture a model spec `*.toml` is written
and `expected.json` records the logits of two fixed inputs, computed in numpy (float64 on the
float32 / float16 / bfloat16 values actually stored).

Run from the repository root:  python3 scripts/make_weight_fixtures.py
"""
import collections
import io
import json
import os
import pickle
import sys
import types
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save as st_save

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "fcollide",
                   "tests", "fixtures", "weights")
rng = np.random.default_rng(2019)
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
VGG_MEAN = np.array([123.68, 116.779, 103.939])


# ----------------------------------------------------------------------------- numpy forward
def conv2d(x, w, b, pad, stride=1):
    c, h, wd = x.shape
    o, i, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((o, oh, ow))
    for dy in range(kh):
        for dx in range(kw):
            patch = xp[:, dy:dy + stride * oh:stride, dx:dx + stride * ow:stride]
            out += np.einsum("oi,ihw->ohw", w[:, :, dy, dx], patch)
    return out + b[:, None, None]


def maxpool(x, k=2, s=2):
    c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.full((c, oh, ow), -np.inf)
    for dy in range(k):
        for dx in range(k):
            out = np.maximum(out, x[:, dy:dy + s * oh:s, dx:dx + s * ow:s])
    return out


def forward(layers, x):
    """layers: list of (kind, params); x: [C,H,W] float64."""
    for kind, p in layers:
        if kind == "norm":
            m, s = (np.asarray(v, dtype=np.float64) for v in p)
            x = (x - m.reshape(-1, 1, 1)) / s.reshape(-1, 1, 1) if x.ndim == 3 else (x - m) / s
        elif kind == "conv":
            w, b, pad = p
            x = conv2d(x, w.astype(np.float64), b.astype(np.float64), pad)
        elif kind == "relu":
            x = np.maximum(x, 0)
        elif kind == "pool":
            x = maxpool(x)
        elif kind == "flatten":
            x = x.reshape(-1)
        elif kind == "fc":
            w, b = p
            x = w.astype(np.float64) @ x + b.astype(np.float64)
    return x


def rand(*shape, fan_in=None):
    fan_in = fan_in or shape[-1]
    bound = np.sqrt(6.0 / fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


def to_bf16(a):
    """Rounds float32 to bfloat16 (nearest even); returns (uint16 bits, float32 values)."""
    bits = a.astype(np.float32).view(np.uint32)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    return rounded, (rounded.astype(np.uint32) << 16).view(np.float32)


# ----------------------------------------------------------------------------- fake torch
def _fake_module(name):
    mod = types.ModuleType(name)
    sys.modules[name] = mod
    return mod


torch_mod = _fake_module("torch")
torch_utils = _fake_module("torch._utils")
torch_mod._utils = torch_utils


def _rebuild_tensor_v2(*args):  # never called: only pickled by reference
    raise RuntimeError("fixture stub")


_rebuild_tensor_v2.__module__ = "torch._utils"
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
STORAGE_TYPES = {}
for _name, _dt in [("FloatStorage", np.float32), ("DoubleStorage", np.float64),
                   ("HalfStorage", np.float16), ("BFloat16Storage", None),
                   ("LongStorage", np.int64)]:
    _cls = type(_name, (), {})
    _cls.__module__ = "torch"
    setattr(torch_mod, _name, _cls)
    STORAGE_TYPES[_name] = _cls


class Storage:
    def __init__(self, kind, raw, numel):
        self.kind, self.raw, self.numel = kind, raw, numel
        self.key = None


class Tensor:
    """Pickles like a torch tensor: _rebuild_tensor_v2(storage, offset, size, stride, …)."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce_ex__(self, protocol):
        return (_rebuild_tensor_v2,
                (self.storage, self.offset, tuple(self.size), tuple(self.stride), False,
                 collections.OrderedDict()))


def contiguous(a, kind="FloatStorage"):
    """A tensor over its own storage; kind picks the storage dtype."""
    a = np.ascontiguousarray(a)
    if kind == "BFloat16Storage":
        raw = to_bf16(a)[0].tobytes()
    else:
        raw = a.astype({"FloatStorage": np.float32, "DoubleStorage": np.float64,
                        "HalfStorage": np.float16, "LongStorage": np.int64}[kind]).tobytes()
    strides = [int(np.prod(a.shape[i + 1:])) for i in range(a.ndim)]
    return Tensor(Storage(kind, raw, a.size), 0, list(a.shape), strides)


def stored_value(a, kind):
    """The float32 values a tensor stored as `kind` reads back as."""
    if kind == "HalfStorage":
        return a.astype(np.float16).astype(np.float32)
    if kind == "BFloat16Storage":
        return to_bf16(a)[1].reshape(a.shape)
    return a.astype(np.float32)


class TorchPickler(pickle.Pickler):
    def __init__(self, f):
        super().__init__(f, protocol=2)
        self.storages = []

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            if obj.key is None:
                obj.key = str(len(self.storages))
                self.storages.append(obj)
            return ("storage", STORAGE_TYPES[obj.kind], obj.key, "cpu", obj.numel)
        return None


def write_pth(path, obj, top="archive"):
    buf = io.BytesIO()
    p = TorchPickler(buf)
    p.dump(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{top}/data.pkl", buf.getvalue())
        z.writestr(f"{top}/byteorder", "little")
        for s in p.storages:
            z.writestr(f"{top}/data/{s.key}", s.raw)
        z.writestr(f"{top}/version", "3\n")


def state_dict(tensors, kind="FloatStorage"):
    return collections.OrderedDict((k, contiguous(v, kind)) for k, v in tensors.items())


# ----------------------------------------------------------------------------- outputs
cases, errors, inputs = [], [], {}


def write(name, data):
    path = os.path.join(OUT, name)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def spec(name, text):
    write(name, text.strip() + "\n")


def case(spec_name, input_name, layers):
    logits = [forward(layers, np.asarray(x, dtype=np.float64).reshape(shapes[input_name])).tolist()
              for x in inputs[input_name]]
    cases.append({"spec": spec_name, "inputs": input_name, "logits": logits})


shapes = {"mnist": (1, 28, 28), "small": (1, 12, 12), "rgb": (3, 16, 16)}
for key, shp in shapes.items():
    # Pixels on a 1/256 grid: exact in f32 and in JSON.
    inputs[key] = [(rng.integers(0, 257, size=int(np.prod(shp))) / 256.0).tolist() for _ in range(2)]


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))

    # ---------------------------------------------------------------- tiny MLP 784-16-16-10
    W1, b1 = rand(16, 784), rand(16, fan_in=784)
    W2, b2 = rand(16, 16), rand(16, fan_in=16)
    W3, b3 = rand(10, 16), rand(10, fan_in=16)
    mlp = {"fc1.weight": W1, "fc1.bias": b1, "fc2.weight": W2, "fc2.bias": b2,
           "fc3.weight": W3, "fc3.bias": b3}
    norm = ("norm", ([MNIST_MEAN], [MNIST_STD]))

    def mlp_layers(t):
        return [norm, ("flatten", None), ("fc", (t["fc1.weight"], t["fc1.bias"])), ("relu", None),
                ("fc", (t["fc2.weight"], t["fc2.bias"])), ("relu", None),
                ("fc", (t["fc3.weight"], t["fc3.bias"]))]

    mlp_spec = 'arch = "mlp"\nhidden = [16, 16]\nweights = "{}"\n'

    # safetensors, fcollide / PyTorch attribute names, f32
    write("mlp.safetensors", st_save(mlp))
    spec("mlp_safetensors.toml", mlp_spec.format("mlp.safetensors"))
    case("mlp_safetensors.toml", "mnist", mlp_layers(mlp))

    # safetensors, nn.Sequential(Flatten, Linear, ReLU, Linear, ReLU, Linear) keys, f16
    seq = {"net.1.weight": W1, "net.1.bias": b1, "net.3.weight": W2, "net.3.bias": b2,
           "net.5.weight": W3, "net.5.bias": b3}
    write("mlp_seq_f16.safetensors", st_save({k: v.astype(np.float16) for k, v in seq.items()}))
    spec("mlp_seq_f16.toml", mlp_spec.format("mlp_seq_f16.safetensors"))
    case("mlp_seq_f16.toml", "mnist",
         mlp_layers({k: v.astype(np.float16).astype(np.float32) for k, v in mlp.items()}))

    # .pth state dict (f32)
    write_pth(os.path.join(OUT, "mlp.pth"), state_dict(mlp))
    spec("mlp_pth.toml", mlp_spec.format("mlp.pth"))
    case("mlp_pth.toml", "mnist", mlp_layers(mlp))

    # .pth checkpoint {"state_dict": …} with DataParallel keys, another top dir, mixed dtypes,
    # a transposed (strided) view and a storage offset shared by two tensors.
    sd = collections.OrderedDict()
    shared = np.concatenate([np.zeros(3, np.float32), W1.T.reshape(-1)])
    st = Storage("FloatStorage", shared.tobytes(), shared.size)
    sd["module.fc1.weight"] = Tensor(st, 3, [16, 784], [1, 16])   # W1 as a view of W1.T
    both = np.concatenate([b1, b3]).astype(np.float32)
    bst = Storage("FloatStorage", both.tobytes(), both.size)
    sd["module.fc1.bias"] = Tensor(bst, 0, [16], [1])
    sd["module.fc2.weight"] = contiguous(W2, "DoubleStorage")
    sd["module.fc2.bias"] = contiguous(b2, "HalfStorage")
    sd["module.fc3.weight"] = contiguous(W3, "BFloat16Storage")
    sd["module.fc3.bias"] = Tensor(bst, 16, [10], [1])
    sd["module.steps"] = contiguous(np.array([7]), "LongStorage")
    ckpt = {"epoch": 3, "best_acc": 0.97, "arch": "mlp", "state_dict": sd,
            "optimizer": {"lr": 0.01, "momentum": 0.9, "state": {}}}
    write_pth(os.path.join(OUT, "mlp_ckpt.pth"), ckpt, top="mlp_ckpt")
    # Every tensor of a file must be used: the step counter is declared as not a weight.
    spec("mlp_ckpt.toml", mlp_spec.format("mlp_ckpt.pth")
         + 'ignore = ["module.steps"]  # a step counter, not a weight\n')
    case("mlp_ckpt.toml", "mnist", mlp_layers({
        "fc1.weight": W1, "fc1.bias": b1, "fc2.weight": W2,
        "fc2.bias": stored_value(b2, "HalfStorage"),
        "fc3.weight": stored_value(W3, "BFloat16Storage"), "fc3.bias": b3}))

    # ONNX: Sub/Div normalization, Flatten, Gemm(transB=1), MatMul+Add, Gemm(transB=0)
    init = [
        numpy_helper.from_array(np.array([MNIST_MEAN], np.float32).reshape(1, 1, 1, 1), "mean"),
        helper.make_tensor("std", TensorProto.FLOAT, [1], [MNIST_STD]),  # float_data
        numpy_helper.from_array(W1, "W1"), numpy_helper.from_array(b1, "b1"),
        numpy_helper.from_array(np.ascontiguousarray(W2.T), "W2t"),
        numpy_helper.from_array(b2, "b2"),
        helper.make_tensor("W3t", TensorProto.FLOAT, [16, 10], W3.T.reshape(-1).tolist()),
        numpy_helper.from_array(b3, "b3"),
    ]
    nodes = [
        helper.make_node("Sub", ["input", "mean"], ["x0"], name="sub"),
        helper.make_node("Div", ["x0", "std"], ["x1"], name="div"),
        helper.make_node("Flatten", ["x1"], ["x2"], name="flatten", axis=1),
        helper.make_node("Gemm", ["x2", "W1", "b1"], ["x3"], name="fc1", transB=1),
        helper.make_node("Relu", ["x3"], ["x4"], name="relu1"),
        helper.make_node("Dropout", ["x4"], ["x4d"], name="drop"),
        helper.make_node("MatMul", ["x4d", "W2t"], ["x5"], name="fc2"),
        helper.make_node("Add", ["x5", "b2"], ["x6"], name="fc2_bias"),
        helper.make_node("Relu", ["x6"], ["x7"], name="relu2"),
        helper.make_node("Gemm", ["x7", "W3t", "b3"], ["logits"], name="fc3"),
    ]

    def onnx_model(nodes, init, in_shape, out_name="logits", n_out=10):
        g = helper.make_graph(
            nodes, "g",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *in_shape])],
            [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["N", n_out])],
            init)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        onnx.checker.check_model(m)
        return m.SerializeToString()

    write("mlp.onnx", onnx_model(nodes, init, [1, 28, 28]))
    spec("mlp_onnx.toml", 'arch = "onnx"\nweights = "mlp.onnx"\n')
    case("mlp_onnx.toml", "mnist", mlp_layers(mlp))

    # Same graph with a final Softmax: refused, naming the operator and node.
    sm_nodes = nodes[:-1] + [
        helper.make_node("Gemm", ["x7", "W3t", "b3"], ["z"], name="fc3"),
        helper.make_node("Softmax", ["z"], ["logits"], name="prob", axis=1)]
    write("softmax.onnx", onnx_model(sm_nodes, init, [1, 28, 28]))
    spec("softmax_onnx.toml", 'arch = "onnx"\nweights = "softmax.onnx"\n')
    errors.append({"spec": "softmax_onnx.toml", "contains": ["softmax.onnx", "Softmax", "prob"]})

    # Whole pickled module: torch.save(model) instead of model.state_dict().
    for mod in ["torchvision", "torchvision.models", "torchvision.models.vgg"]:
        _fake_module(mod)
    VGG = type("VGG", (), {})
    VGG.__module__ = "torchvision.models.vgg"
    sys.modules["torchvision.models.vgg"].VGG = VGG
    whole = VGG()
    whole.__dict__.update({"training": False, "_parameters": state_dict(mlp),
                           "_modules": collections.OrderedDict()})
    write_pth(os.path.join(OUT, "whole_module.pth"), whole)
    spec("whole_module.toml", mlp_spec.format("whole_module.pth"))
    errors.append({"spec": "whole_module.toml",
                   "contains": ["whole_module.pth", "whole pickled module",
                                "torchvision.models.vgg.VGG", "state_dict()"]})

    # Wrong shape and missing key.
    bad = dict(mlp)
    bad["fc2.weight"] = rand(16, 15)
    write("mlp_wrong_shape.safetensors", st_save(bad))
    spec("mlp_wrong_shape.toml", mlp_spec.format("mlp_wrong_shape.safetensors"))
    errors.append({"spec": "mlp_wrong_shape.toml",
                   "contains": ["mlp_wrong_shape.safetensors", "fc2.weight", "[16, 15]", "[16, 16]"]})
    missing = collections.OrderedDict((k, v) for k, v in mlp.items() if k != "fc3.bias")
    write_pth(os.path.join(OUT, "mlp_missing.pth"), state_dict(missing))
    spec("mlp_missing.toml", mlp_spec.format("mlp_missing.pth"))
    errors.append({"spec": "mlp_missing.toml",
                   "contains": ["mlp_missing.pth", "fc3.bias", "[10]"]})
    # Truncated files.
    raw = open(os.path.join(OUT, "mlp.pth"), "rb").read()
    write("mlp_truncated.pth", raw[: len(raw) * 2 // 3])
    spec("mlp_truncated.toml", mlp_spec.format("mlp_truncated.pth"))
    errors.append({"spec": "mlp_truncated.toml", "contains": ["mlp_truncated.pth"]})
    raw = open(os.path.join(OUT, "mlp.safetensors"), "rb").read()
    write("mlp_truncated.safetensors", raw[: len(raw) // 2])
    spec("mlp_truncated_st.toml", mlp_spec.format("mlp_truncated.safetensors"))
    errors.append({"spec": "mlp_truncated_st.toml", "contains": ["mlp_truncated.safetensors"]})

    # ---------------------------------------------------------------- tiny LeNet-like, 12×12
    C1, c1 = rand(4, 1, 3, 3, fan_in=9), rand(4, fan_in=9)
    C2, c2 = rand(6, 4, 3, 3, fan_in=36), rand(6, fan_in=36)
    F1, f1 = rand(16, 24), rand(16, fan_in=24)
    F2, f2 = rand(10, 16), rand(10, fan_in=16)
    lenet_layers = [("norm", ([0.5], [0.25])), ("conv", (C1, c1, 1)), ("relu", None),
                    ("pool", None), ("conv", (C2, c2, 0)), ("relu", None), ("pool", None),
                    ("flatten", None), ("fc", (F1, f1)), ("relu", None), ("fc", (F2, f2))]
    lenet_custom = """
arch = "custom"
input_shape = [1, 12, 12]
weights = "{}"
[[layers]]
kind = "conv"
out = 4
kernel = 3
padding = 1
[[layers]]
kind = "relu"
[[layers]]
kind = "maxpool"
kernel = 2
[[layers]]
kind = "conv"
out = 6
kernel = 3
[[layers]]
kind = "relu"
[[layers]]
kind = "maxpool"
kernel = 2
[[layers]]
kind = "flatten"
[[layers]]
kind = "linear"
out = 16
[[layers]]
kind = "relu"
[[layers]]
kind = "linear"
out = 10
[preprocess]
mean = [0.5]
std = [0.25]
"""
    # torch nn.Sequential layout: features.{0,3}, classifier.{0,2}; matched by position.
    lenet_seq = collections.OrderedDict([
        ("features.0.weight", C1), ("features.0.bias", c1),
        ("features.3.weight", C2), ("features.3.bias", c2),
        ("classifier.0.weight", F1), ("classifier.0.bias", f1),
        ("classifier.2.weight", F2), ("classifier.2.bias", f2)])
    write_pth(os.path.join(OUT, "lenet.pth"), state_dict(lenet_seq))
    spec("lenet_pth.toml", lenet_custom.format("lenet.pth"))
    case("lenet_pth.toml", "small", lenet_layers)
    # Same with explicit remap rules onto fcollide names.
    spec("lenet_remap.toml", lenet_custom.format("lenet.pth").replace(
        'weights = "lenet.pth"',
        'weights = "lenet.pth"\nremap = [["features.0.", "conv1."], ["features.3.", "conv2."], '
        '["classifier.0.", "fc1."], ["classifier.2.", "fc2."]]'))
    case("lenet_remap.toml", "small", lenet_layers)

    # ONNX conv net: Sub/Div, Conv with pads, MaxPool, Reshape [-1? 0,-1], Gemm.
    init = [
        numpy_helper.from_array(np.array([0.5], np.float32), "mean"),
        numpy_helper.from_array(np.array([0.25], np.float32), "std"),
        numpy_helper.from_array(C1, "C1"), numpy_helper.from_array(c1, "c1"),
        numpy_helper.from_array(C2, "C2"), numpy_helper.from_array(c2, "c2"),
        numpy_helper.from_array(F1, "F1"), numpy_helper.from_array(f1, "f1"),
        numpy_helper.from_array(F2, "F2"), numpy_helper.from_array(f2, "f2"),
    ]
    shape_const = helper.make_node("Constant", [], ["shape"], name="shape_const",
                                   value=numpy_helper.from_array(np.array([0, -1], np.int64)))
    nodes = [
        helper.make_node("Sub", ["input", "mean"], ["x0"], name="sub"),
        helper.make_node("Div", ["x0", "std"], ["x1"], name="div"),
        helper.make_node("Conv", ["x1", "C1", "c1"], ["x2"], name="conv1",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("Relu", ["x2"], ["x3"], name="relu1"),
        helper.make_node("MaxPool", ["x3"], ["x4"], name="pool1", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Conv", ["x4", "C2", "c2"], ["x5"], name="conv2", kernel_shape=[3, 3]),
        helper.make_node("Relu", ["x5"], ["x6"], name="relu2"),
        helper.make_node("MaxPool", ["x6"], ["x7"], name="pool2", kernel_shape=[2, 2],
                         strides=[2, 2]),
        shape_const,
        helper.make_node("Reshape", ["x7", "shape"], ["x8"], name="reshape"),
        helper.make_node("Gemm", ["x8", "F1", "f1"], ["x9"], name="fc1", transB=1),
        helper.make_node("Relu", ["x9"], ["x10"], name="relu3"),
        helper.make_node("Gemm", ["x10", "F2", "f2"], ["logits"], name="fc2", transB=1),
    ]
    write("lenet.onnx", onnx_model(nodes, init, [1, 12, 12]))
    spec("lenet_onnx.toml", 'arch = "onnx"\nweights = "lenet.onnx"\n')
    case("lenet_onnx.toml", "small", lenet_layers)

    # ---------------------------------------------------------------- tiny VGG-like, 3×16×16
    V = {}
    for name, i, o in [("conv1_1", 3, 4), ("conv1_2", 4, 4), ("conv2_1", 4, 8)]:
        V[name] = (rand(o, i, 3, 3, fan_in=i * 9), rand(o, fan_in=i * 9))
    for name, i, o in [("fc6", 128, 16), ("fc7", 16, 16), ("fc8", 16, 10)]:
        V[name] = (rand(o, i), rand(o, fan_in=i))

    def vgg_layers(norm_layer):
        return [norm_layer,
                ("conv", (*V["conv1_1"], 1)), ("relu", None), ("conv", (*V["conv1_2"], 1)),
                ("relu", None), ("pool", None), ("conv", (*V["conv2_1"], 1)), ("relu", None),
                ("pool", None), ("flatten", None), ("fc", V["fc6"]), ("relu", None),
                ("fc", V["fc7"]), ("relu", None), ("fc", V["fc8"])]

    vgg_custom = """
arch = "custom"
input_shape = [3, 16, 16]
weights = "{}"
""" + "".join(f"""
[[layers]]
kind = "{k}"
{extra}""" for k, extra in [
        ("conv", 'name = "conv1_1"\nout = 4\nkernel = 3\npadding = 1\n'), ("relu", ""),
        ("conv", 'name = "conv1_2"\nout = 4\nkernel = 3\npadding = 1\n'), ("relu", ""),
        ("maxpool", "kernel = 2\n"),
        ("conv", 'name = "conv2_1"\nout = 8\nkernel = 3\npadding = 1\n'), ("relu", ""),
        ("maxpool", "kernel = 2\n"), ("flatten", ""),
        ("linear", 'name = "fc6"\nout = 16\n'), ("relu", ""),
        ("linear", 'name = "fc7"\nout = 16\n'), ("relu", ""),
        ("linear", 'name = "fc8"\nout = 10\n')])

    # vgg16_weights.npz layout: HWIO convs, [in, out] fc, fc6 inputs in HWC order; deflated;
    # one array in Fortran order. The model takes 0–255 RGB minus the ImageNet means.
    npz = {}
    for name in ["conv1_1", "conv1_2", "conv2_1"]:
        w, b = V[name]
        npz[f"{name}_W"] = np.ascontiguousarray(w.transpose(2, 3, 1, 0))
        npz[f"{name}_b"] = b
    w6 = V["fc6"][0].reshape(16, 8, 4, 4).transpose(2, 3, 1, 0).reshape(128, 16)  # HWC rows
    npz["fc6_W"], npz["fc6_b"] = np.ascontiguousarray(w6), V["fc6"][1]
    npz["fc7_W"], npz["fc7_b"] = np.asfortranarray(V["fc7"][0].T), V["fc7"][1]
    npz["fc8_W"], npz["fc8_b"] = np.ascontiguousarray(V["fc8"][0].T), V["fc8"][1]
    buf = io.BytesIO()
    np.savez_compressed(buf, **npz)
    write("vggtiny.npz", buf.getvalue())
    spec("vggtiny_npz.toml", vgg_custom.format("vggtiny.npz"))
    case("vggtiny_npz.toml", "rgb", vgg_layers(("norm", (VGG_MEAN / 255, [1 / 255] * 3))))
    # Same weights, stored (not deflated) npz of float64 arrays.
    buf = io.BytesIO()
    np.savez(buf, **{k: v.astype(np.float64) for k, v in npz.items()})
    write("vggtiny_f64.npz", buf.getvalue())
    spec("vggtiny_f64_npz.toml", vgg_custom.format("vggtiny_f64.npz"))
    case("vggtiny_f64_npz.toml", "rgb", vgg_layers(("norm", (VGG_MEAN / 255, [1 / 255] * 3))))

    # A Caffe-style model: BGR, 0–255, BGR means; torchvision-like Sequential keys by position.
    tv = collections.OrderedDict()
    for key, name in [("features.0", "conv1_1"), ("features.2", "conv1_2"),
                      ("features.5", "conv2_1"), ("classifier.0", "fc6"),
                      ("classifier.3", "fc7"), ("classifier.6", "fc8")]:
        w, b = V[name]
        tv[f"{key}.weight"], tv[f"{key}.bias"] = w, b
    write("vggtiny_bgr.safetensors", st_save(dict(tv)))
    spec("vggtiny_bgr.toml", vgg_custom.format("vggtiny_bgr.safetensors") + """
[preprocess]
mean = [103.939, 116.779, 123.68]
std = [1.0, 1.0, 1.0]
channel_order = "bgr"
scale = 255
""")
    # The model sees 255·x[::-1] − mean_bgr: fold the channel flip into conv1_1 for numpy.
    # (V is not used after this.)
    V["conv1_1"] = (V["conv1_1"][0][:, ::-1].copy(), V["conv1_1"][1])
    case("vggtiny_bgr.toml", "rgb",
         vgg_layers(("norm", (VGG_MEAN / 255, [1 / 255] * 3))))  # RGB means = reversed BGR

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"inputs": inputs, "shapes": {k: list(v) for k, v in shapes.items()},
                   "cases": cases, "errors": errors}, f)
    total = 0
    for name in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, name))
        total += size
        assert size < 300_000, (name, size)
        print(f"{size:>8}  {name}")
    print(f"{total:>8}  total")
    assert total < 1_500_000


if __name__ == "__main__":
    main()
