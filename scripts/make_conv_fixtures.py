#!/usr/bin/env python3
"""Reference values for fcollide's conv-net tests, computed independently in float64 numpy.

Usage (numpy only; not needed in CI, the output is committed):

    pip install numpy
    python3 scripts/make_conv_fixtures.py crates/fcollide/tests/fixtures/conv_nets.json

It builds three tiny conv nets with seeded random float32 weights, covering:
per-channel and shared Normalize, Conv2d with padding 0/1/2 (also per axis), stride 1/2
(also per axis), non-square kernels (3x2, 2x3), several in/out channels, MaxPool2d 2x2/2,
3x3/2 and 2x2/(2,1) in floor mode (odd sizes, so windows are dropped), ReLU, Flatten, Linear.

For each net and a batch of 2 inputs (uniform in [0, 1], float32) it records every layer's
output and, at two layers L, the input gradient of sum(output_L * G) for a fixed random G,
by manual backprop (conv: scatter through the kernel; max-pool: route to the first argmax of
the window; relu: mask x > 0). All arithmetic is float64 on the float32 weights and inputs.

Seeds are chosen so that every ReLU pre-activation is at least MARGIN away from 0 and every
max-pool window with a positive maximum has a gap of at least MARGIN to its runner-up, so that
f32 rounding or a finite-difference step cannot flip a mask or an argmax.

The JSON is `{"generator", "margin", "nets": [{"name", "network", "inputs", "outputs",
"grads": [{"layer", "layer_index", "g", "grad"}]}]}` where `network` deserializes into
`fcollide::model::HostNetwork` (HostOp externally tagged), `inputs` is `[2][C*H*W]`,
`outputs` is `[2][layers][numel]` and `g`, `grad` are `[2][numel]`, `[2][C*H*W]`.
Floats are written with Python's `repr` of the float64 value, so float32 weights round-trip
exactly.
"""

import json
import sys

import numpy as np

MARGIN = 1e-4


# ---------------------------------------------------------------- layer math (float64)
def conv2d(x, w, b, stride, padding):
    """x [C,H,W], w [O,C,kh,kw]; y[o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] xp[c, i*s0+p, j*s1+q]."""
    _, h, wd = x.shape
    o, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - kh) // sh + 1
    ow = (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((o, oh, ow)) + b[:, None, None]
    for p in range(kh):
        for q in range(kw):
            patch = xp[:, p : p + sh * (oh - 1) + 1 : sh, q : q + sw * (ow - 1) + 1 : sw]
            y += np.einsum("oc,cij->oij", w[:, :, p, q], patch)
    return y


def conv2d_back(dy, x_shape, w, stride, padding):
    """Input gradient of conv2d: dxp[c, i*s0+p, j*s1+q] += sum_o w[o,c,p,q] dy[o,i,j]."""
    c, h, wd = x_shape
    _, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    _, oh, ow = dy.shape
    dxp = np.zeros((c, h + 2 * ph, wd + 2 * pw))
    for p in range(kh):
        for q in range(kw):
            dxp[:, p : p + sh * (oh - 1) + 1 : sh, q : q + sw * (ow - 1) + 1 : sw] += np.einsum(
                "oc,oij->cij", w[:, :, p, q], dy
            )
    return dxp[:, ph : ph + h, pw : pw + wd]


def maxpool(x, kernel, stride):
    """Floor mode, no padding; also returns the flat argmax (first maximum) of each window."""
    c, h, w = x.shape
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    y = np.zeros((c, oh, ow))
    arg = np.zeros((c, oh, ow), dtype=np.int64)
    gaps = []
    for ch in range(c):
        for i in range(oh):
            for j in range(ow):
                win = x[ch, i * sh : i * sh + kh, j * sw : j * sw + kw]
                k = int(np.argmax(win))  # row-major, first maximum
                r, q = divmod(k, kw)
                y[ch, i, j] = win[r, q]
                arg[ch, i, j] = (ch * h + i * sh + r) * w + j * sw + q
                s = np.sort(win.ravel())
                if s[-1] > 0:
                    gaps.append(s[-1] - s[-2])
    return y, arg, gaps


def forward(net, x):
    """Every layer's output (shaped), plus what backprop needs."""
    outs, cache = [], []
    gaps, pre = [], []
    shape = tuple(net["input_shape"])
    a = x.reshape(shape)
    for layer in net["layers"]:
        op = layer["op"]
        if op == "Relu":
            pre.extend(np.abs(a.ravel()).tolist())
            cache.append(a > 0)
            a = np.maximum(a, 0.0)
        elif op == "Flatten":
            cache.append(a.shape)
            a = a.ravel()
        elif "Normalize" in op:
            m = np.array(op["Normalize"]["mean"], dtype=np.float32).astype(np.float64)
            s = np.array(op["Normalize"]["std"], dtype=np.float32).astype(np.float64)
            cache.append(s)
            a = (a - m[:, None, None]) / s[:, None, None]
        elif "Linear" in op:
            p = op["Linear"]
            w = f64(p["weight"]).reshape(p["out_features"], p["in_features"])
            cache.append(w)
            a = w @ a.ravel() + f64(p["bias"])
        elif "Conv2d" in op:
            p = op["Conv2d"]
            w = f64(p["weight"]).reshape(p["out_channels"], p["in_channels"], *p["kernel"])
            cache.append((a.shape, w, p["stride"], p["padding"]))
            a = conv2d(a, w, f64(p["bias"]), p["stride"], p["padding"])
        elif "MaxPool2d" in op:
            p = op["MaxPool2d"]
            y, arg, g = maxpool(a, p["kernel"], p["stride"])
            gaps.extend(g)
            cache.append((a.shape, arg))
            a = y
        else:
            raise ValueError(op)
        outs.append(a.copy())
    return outs, cache, min(pre, default=1.0), min(gaps, default=1.0)


def backward(net, cache, upto, g, out_shape):
    """Gradient w.r.t. the input of sum(output_upto * g); `out_shape` is output_upto's shape."""
    d = g.reshape(out_shape)
    for layer, c in zip(reversed(net["layers"][: upto + 1]), reversed(cache[: upto + 1])):
        op = layer["op"]
        if op == "Relu":
            d = d.reshape(c.shape) * c
        elif op == "Flatten":
            d = d.reshape(c)
        elif "Normalize" in op:
            d = d / c[:, None, None]
        elif "Linear" in op:
            d = c.T @ d.ravel()
        elif "Conv2d" in op:
            shape, w, stride, padding = c
            d = conv2d_back(d, shape, w, stride, padding)
        elif "MaxPool2d" in op:
            shape, arg = c
            dx = np.zeros(int(np.prod(shape)))
            np.add.at(dx, arg.ravel(), d.ravel())
            d = dx.reshape(shape)
    return d.ravel()


# ---------------------------------------------------------------- random nets
def f32(a):
    return np.asarray(a, dtype=np.float32)


def f64(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def floats(a):
    return [float(v) for v in np.asarray(a).ravel()]


def conv(rng, name, cin, cout, kernel, stride, padding):
    fan = cin * kernel[0] * kernel[1]
    w = f32(rng.normal(0, np.sqrt(2.0 / fan), (cout, cin, *kernel)))
    b = f32(rng.uniform(-0.1, 0.1, cout))
    return {
        "name": name,
        "op": {
            "Conv2d": {
                "in_channels": cin,
                "out_channels": cout,
                "kernel": list(kernel),
                "stride": list(stride),
                "padding": list(padding),
                "weight": floats(w),
                "bias": floats(b),
            }
        },
    }


def linear(rng, name, fin, fout):
    w = f32(rng.normal(0, np.sqrt(2.0 / fin), (fout, fin)))
    b = f32(rng.uniform(-0.1, 0.1, fout))
    return {
        "name": name,
        "op": {
            "Linear": {
                "in_features": fin,
                "out_features": fout,
                "weight": floats(w),
                "bias": floats(b),
            }
        },
    }


def simple(name, op):
    return {"name": name, "op": op}


def pool(name, kernel, stride):
    return {"name": name, "op": {"MaxPool2d": {"kernel": list(kernel), "stride": list(stride)}}}


def net_a(rng):
    # [3,9,8] -norm(per channel)-> conv 3->4 k3x2 s1 p1 -> [4,9,9] -relu-> pool 2x2/2 -> [4,4,4]
    # -> conv 4->5 k3 s2 p2 -> [5,3,3] -relu-> flatten 45 -> fc 6 -relu-> fc 3
    mean = floats(f32([0.485, 0.456, 0.406]))
    std = floats(f32([0.229, 0.224, 0.225]))
    layers = [
        simple("norm", {"Normalize": {"mean": mean, "std": std}}),
        conv(rng, "conv1", 3, 4, (3, 2), (1, 1), (1, 1)),
        simple("relu1", "Relu"),
        pool("pool1", (2, 2), (2, 2)),
        conv(rng, "conv2", 4, 5, (3, 3), (2, 2), (2, 2)),
        simple("relu2", "Relu"),
        simple("flat", "Flatten"),
        linear(rng, "fc1", 45, 6),
        simple("relu3", "Relu"),
        linear(rng, "fc2", 6, 3),
    ]
    return {"arch": "conv_a", "input_shape": [3, 9, 8], "pixel_bounds": [0.0, 1.0],
            "layers": layers}


def net_b(rng):
    # [2,12,11] -norm(shared)-> conv 2->3 k2x3 s1 p0 -> [3,11,9] -relu-> pool 3x3/2 -> [3,5,4]
    # -> conv 3->4 k2 s2 p1 -> [4,3,3] -relu-> flatten 36 -> fc 4 -relu-> fc 2
    layers = [
        simple("norm", {"Normalize": {"mean": [0.5], "std": [0.25]}}),
        conv(rng, "conv1", 2, 3, (2, 3), (1, 1), (0, 0)),
        simple("relu1", "Relu"),
        pool("pool1", (3, 3), (2, 2)),
        conv(rng, "conv2", 3, 4, (2, 2), (2, 2), (1, 1)),
        simple("relu2", "Relu"),
        simple("flat", "Flatten"),
        linear(rng, "fc1", 36, 4),
        simple("relu3", "Relu"),
        linear(rng, "fc2", 4, 2),
    ]
    return {"arch": "conv_b", "input_shape": [2, 12, 11], "pixel_bounds": [0.0, 1.0],
            "layers": layers}


def net_c(rng):
    # [1,7,6] -> conv 1->2 k3 s(1,2) p(2,0) -> [2,9,2] -relu-> pool 2x2/(2,1) -> [2,4,1]
    # -> flatten 8 -> fc 3
    layers = [
        conv(rng, "conv1", 1, 2, (3, 3), (1, 2), (2, 0)),
        simple("relu1", "Relu"),
        pool("pool1", (2, 2), (2, 1)),
        simple("flat", "Flatten"),
        linear(rng, "fc1", 8, 3),
    ]
    return {"arch": "conv_c", "input_shape": [1, 7, 6], "pixel_bounds": [0.0, 1.0],
            "layers": layers}


# Gradient layers per net: a deep collision layer and the logits.
SPECS = [
    ("conv_a", net_a, ["conv2", "fc2"]),
    ("conv_b", net_b, ["fc1", "conv2"]),
    ("conv_c", net_c, ["conv1", "fc1"]),
]


def build(name, make, grad_layers, seed0):
    for seed in range(seed0, seed0 + 1000):
        rng = np.random.default_rng(seed)
        net = make(rng)
        d = int(np.prod(net["input_shape"]))
        xs = f32(rng.uniform(0, 1, (2, d))).astype(np.float64)
        runs = [forward(net, x) for x in xs]
        if min(min(r[2], r[3]) for r in runs) < MARGIN:
            continue
        names = [l["name"] for l in net["layers"]]
        grads = []
        for ln in grad_layers:
            li = names.index(ln)
            n = runs[0][0][li].size
            g = f32(rng.normal(0, 1, (2, n))).astype(np.float64)
            grad = [backward(net, runs[k][1], li, g[k], runs[k][0][li].shape)
                    for k in range(2)]
            grads.append({
                "layer": ln,
                "layer_index": li,
                "g": [floats(v) for v in g],
                "grad": [floats(v) for v in grad],
            })
        return {
            "name": name,
            "seed": seed,
            "network": net,
            "inputs": [floats(x) for x in xs],
            "outputs": [[floats(o) for o in r[0]] for r in runs],
            "grads": grads,
        }
    raise RuntimeError(f"no seed for {name} meets the margin")


def conv2d_loop(x, w, b, stride, padding):
    """conv2d as a plain scalar loop, to check the strided-slice version."""
    c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh = (h + 2 * padding[0] - kh) // stride[0] + 1
    ow = (wd + 2 * padding[1] - kw) // stride[1] + 1
    y = np.zeros((o, oh, ow))
    for oc, i, j in np.ndindex(o, oh, ow):
        s = b[oc]
        for ic, p, q in np.ndindex(c, kh, kw):
            r, cc = i * stride[0] + p - padding[0], j * stride[1] + q - padding[1]
            if 0 <= r < h and 0 <= cc < wd:
                s += w[oc, ic, p, q] * x[ic, r, cc]
        y[oc, i, j] = s
    return y


def self_check(entry):
    """The convolutions against a scalar loop; the manual backprop against central
    differences of the numpy forward."""
    net = entry["network"]
    for k in range(2):
        outs = forward(net, np.array(entry["inputs"][k]))[0]
        for li, layer in enumerate(net["layers"]):
            if isinstance(layer["op"], dict) and "Conv2d" in layer["op"]:
                p = layer["op"]["Conv2d"]
                w = f64(p["weight"]).reshape(p["out_channels"], p["in_channels"], *p["kernel"])
                x = (np.array(entry["inputs"][k]).reshape(net["input_shape"]) if li == 0
                     else outs[li - 1])
                ref = conv2d_loop(x, w, f64(p["bias"]), p["stride"], p["padding"])
                assert np.abs(ref - outs[li]).max() < 1e-12, (entry["name"], layer["name"])
    for gr in entry["grads"]:
        for k in range(2):
            x = np.array(entry["inputs"][k])
            g = np.array(gr["g"][k])
            grad = np.array(gr["grad"][k])
            h = 1e-6
            for i in range(x.size):
                xp, xm = x.copy(), x.copy()
                xp[i] += h
                xm[i] -= h
                li = gr["layer_index"]
                fp = forward(net, xp)[0][li].ravel() @ g
                fm = forward(net, xm)[0][li].ravel() @ g
                fd = (fp - fm) / (2 * h)
                assert abs(fd - grad[i]) < 1e-6 * max(1.0, abs(fd)), (
                    entry["name"], gr["layer"], k, i, fd, grad[i])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "crates/fcollide/tests/fixtures/conv_nets.json"
    nets = []
    for i, (name, make, layers) in enumerate(SPECS):
        entry = build(name, make, layers, 1000 * (i + 1))
        self_check(entry)
        nets.append(entry)
        print(name, "seed", entry["seed"], "layers", len(entry["network"]["layers"]))
    doc = {"generator": "scripts/make_conv_fixtures.py", "margin": MARGIN, "nets": nets}
    with open(out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
