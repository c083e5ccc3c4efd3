"""`fcollide.from_torch` on torchvision classifiers: logits against PyTorch's.

Not run by CI: it needs torch and torchvision, and the Python package built, e.g.

    python3 -m venv v && v/bin/pip install torch torchvision ./crates/fcollide-py
    v/bin/python scripts/check_from_torch.py [--models resnet18,vgg16] [--write-benchmarks]

For each model it builds the torchvision architecture with seeded random weights (batch-norm
statistics randomized too, so that folding them is exercised), calls
`fcollide.from_torch(model, images, normalize="imagenet")` on three seeded random 224×224
images (torch's ONNX exporter in memory, fcollide's importer, the ImageNet normalization as
the model's first node), runs `Model.forward` on the same images and compares the logits
with torch's on the normalized images: the figure is max |Δlogit| / max |logit| over the
images (bar: ≤ 1e-4; `from_torch` itself refuses a model above it). With
`--write-benchmarks` the table replaces the section between the markers
`<!-- from-torch -->` in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import time

import numpy as np
import torch
import torchvision

import fcollide

ROOT = pathlib.Path(__file__).resolve().parent.parent
MARK = "<!-- from-torch -->"
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def seeded_model(name: str) -> torch.nn.Module:
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


def check(name: str) -> dict:
    model = seeded_model(name)
    x = torch.rand(3, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    t0 = time.perf_counter()
    fc = fcollide.from_torch(model, x, normalize="imagenet")
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    got = fc.forward(x.numpy()).astype(np.float64)
    t_forward = time.perf_counter() - t0
    with torch.no_grad():
        want = model((x - MEAN) / STD).numpy().astype(np.float64)
    rel = float(np.abs(got - want).max() / np.abs(want).max())
    return {
        "model": name,
        "params": sum(p.numel() for p in model.parameters()),
        "collision_layers": len(fc.collision_layers),
        "max_logit": float(np.abs(want).max()),
        "rel": rel,
        "import_s": t_import,
        "forward_s": t_forward,
        "ok": rel <= 1e-4,
    }


def table(rows: list) -> str:
    lines = [
        "| model | parameters | collision layers | max \\|logit\\| | max \\|Δ\\| / max \\|logit\\| "
        "| from_torch (export + import + check) | forward, 3 images | ≤ 1e-4 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['params'] / 1e6:.1f} M | {r['collision_layers']} | "
            f"{r['max_logit']:.3g} | {r['rel']:.2e} | {r['import_s']:.1f} s | "
            f"{r['forward_s']:.1f} s | {'yes' if r['ok'] else 'NO'} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="resnet18,vgg16")
    ap.add_argument("--write-benchmarks", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    rows = []
    for name in args.models.split(","):
        r = check(name)
        print(table([r]).splitlines()[-1], flush=True)
        rows.append(r)
    text = table(rows)
    print(text)
    if args.write_benchmarks:
        machine = (
            f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"torchvision {torchvision.__version__}, fcollide {fcollide.__version__}"
        )
        body = (
            f"{MARK}\n`python scripts/check_from_torch.py --models {args.models} "
            f"--write-benchmarks` ({time.strftime('%Y-%m-%d')}; {machine}):\n\n{text}\n{MARK}"
        )
        path = ROOT / "BENCHMARKS.md"
        doc = path.read_text()
        parts = doc.split(MARK)
        if len(parts) == 3:
            doc = parts[0] + body + parts[2]
        else:
            doc = doc.rstrip("\n") + "\n\n## torchvision models through `fcollide.from_torch`\n\n" + body + "\n"
        path.write_text(doc)
        print(f"wrote {path}")
    if not all(r["ok"] for r in rows):
        raise SystemExit("a model is above the bar")


if __name__ == "__main__":
    main()
