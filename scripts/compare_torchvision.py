"""Compares fcollide's logits with PyTorch's for torchvision classifiers in every file format.

Not run by CI: it needs torch, torchvision, onnx and onnxscript in a venv of your own, e.g.

    python3 -m venv v && v/bin/pip install torch torchvision onnx onnxscript safetensors pillow
    cargo build --release
    v/bin/python scripts/compare_torchvision.py [--models resnet18,vgg16] [--write-benchmarks]

For each model it builds the torchvision architecture with seeded random weights (batch-norm
statistics randomized too, so that folding them is exercised), saves it

- as a state dict (`torch.save(model.state_dict())`, loaded with `--arch NAME`),
- as safetensors (`safetensors.torch.save_file`, loaded with `--arch NAME`),
- as ONNX from the default (dynamo) exporter, with its default external data file,
- as ONNX from the legacy TorchScript exporter (`dynamo=False`),

then runs `fcollide inspect FILE --input IMG --json` on three seeded random 224×224 images and
compares the logits with torch's: the figure is max |Δlogit| / max |logit| over the images
(bar: ≤ 1e-4). With `--write-benchmarks` the table replaces the section between the markers
`<!-- torchvision-compare -->` in BENCHMARKS.md.
"""
import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = ["resnet18", "resnet50", "vgg16", "vgg16_bn", "mobilenet_v2", "densenet121"]
MARK = "<!-- torchvision-compare -->"


def fcollide_bin():
    exe = ROOT / "target" / "release" / "fcollide"
    if not exe.exists():
        sys.exit(f"{exe} is missing: run `cargo build --release` first")
    return str(exe)


def seeded_model(name):
    torch.manual_seed(0)
    m = getattr(torchvision.models, name)(weights=None)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                n = mod.num_features
                mod.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                mod.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                mod.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                mod.bias.copy_(torch.randn(n, generator=g) * 0.1)
    return m.eval()


def images(folder):
    rng = np.random.default_rng(2)
    paths, tensors = [], []
    for i in range(3):
        a = rng.integers(0, 256, size=(224, 224, 3), dtype=np.uint8)
        p = folder / f"img{i}.png"
        Image.fromarray(a, "RGB").save(p)
        paths.append(p)
        # The model takes raw pixels in [0, 1]; the normalization is inside it (below).
        tensors.append(torch.from_numpy(a).permute(2, 0, 1).float() / 255.0)
    return paths, torch.stack(tensors)


class Normalized(torch.nn.Module):
    """The torchvision model with ImageNet normalization in front, as fcollide sees it."""

    def __init__(self, m):
        super().__init__()
        self.m = m
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x):
        return self.m((x - self.mean) / self.std)


def save_all(name, m, folder):
    out = {}
    sd = m.state_dict()
    p = folder / f"{name}.pth"
    torch.save(sd, p)
    out["state dict (.pth)"] = (p, ["--arch", name])
    from safetensors.torch import save_file

    p = folder / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(p))
    out["safetensors"] = (p, ["--arch", name])
    x = torch.rand(1, 3, 224, 224)
    wrapped = Normalized(m).eval()
    d = folder / f"{name}-dynamo"
    d.mkdir()
    p = d / "model.onnx"
    torch.onnx.export(wrapped, (x,), str(p), dynamo=True)
    out["ONNX (dynamo, external data)"] = (p, [])
    d = folder / f"{name}-legacy"
    d.mkdir()
    p = d / "model.onnx"
    torch.onnx.export(wrapped, (x,), str(p), dynamo=False, opset_version=17)
    out["ONNX (legacy exporter)"] = (p, [])
    return out


def fcollide_logits(exe, path, extra, imgs):
    rows = []
    for img in imgs:
        cmd = [exe, "inspect", str(path), *extra, "--input", str(img), "--json"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return None, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "failed"
        rows.append(json.loads(r.stdout)["logits"])
    return np.array(rows, dtype=np.float64), None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--write-benchmarks", action="store_true")
    args = ap.parse_args()
    exe = fcollide_bin()
    lines = [
        "| model | format | max abs Δlogit / max abs logit | bar ≤ 1e-4 |",
        "|---|---|---|---|",
    ]
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        paths, x = images(tmp)
        for name in args.models.split(","):
            m = seeded_model(name)
            with torch.no_grad():
                want = Normalized(m).eval()(x).double().numpy()
            t0 = time.time()
            for fmt, (path, extra) in save_all(name, m, tmp).items():
                got, err = fcollide_logits(exe, path, extra, paths)
                if got is None:
                    cell, ok = f"refused: {err}", "no"
                    worst = float("inf")
                else:
                    rel = np.abs(got - want).max() / np.abs(want).max()
                    worst = max(worst, rel)
                    cell, ok = f"{rel:.1e}", "yes" if rel <= 1e-4 else "no"
                lines.append(f"| {name} | {fmt} | {cell} | {ok} |")
                print(lines[-1], flush=True)
            print(f"  ({name}: {time.time() - t0:.0f} s)", file=sys.stderr)
    machine = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            machine = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    head = (
        f"Measured by `scripts/compare_torchvision.py` with torch {torch.__version__}, "
        f"torchvision {torchvision.__version__} on {machine} ({os.cpu_count()} cores); "
        "seeded random weights, three random 224×224 images."
    )
    table = "\n".join([head, "", *lines])
    print(table)
    if args.write_benchmarks:
        bm = ROOT / "BENCHMARKS.md"
        text = bm.read_text()
        block = f"{MARK}\n{table}\n{MARK}"
        if text.count(MARK) >= 2:
            a = text.index(MARK)
            b = text.index(MARK, a + len(MARK)) + len(MARK)
            text = text[:a] + block + text[b:]
        else:
            text += f"\n## torchvision models: logits against PyTorch\n\n{block}\n"
        bm.write_text(text)
    sys.exit(0 if worst <= 1e-4 else 1)


if __name__ == "__main__":
    main()
