"""Writes the fixture that checks fcollide's standard ImageNet transform against torchvision's.

Run with a Python that has torchvision and Pillow (not needed by CI):

    python scripts/make_transform_fixture.py

It draws a smooth seeded 320×240 RGB image (so the PNG stays small), applies torchvision's
evaluation transform `Resize(256)` (PIL bilinear, antialiased) then `CenterCrop(224)`, and
writes the input and the expected 224×224 result as PNG files into
`crates/fcollide/tests/fixtures/transform/`. Both are 8-bit, exactly what torchvision's
`ToTensor` would divide by 255.
"""
import pathlib

import numpy as np
from PIL import Image
from torchvision import transforms

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/fcollide/tests/fixtures/transform"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    h, w = 240, 320
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for c in range(3):
        fx, fy, ph = rng.uniform(0.01, 0.08, 2).tolist() + [rng.uniform(0, 6.28)]
        img[..., c] = 127.5 + 110 * np.sin(fx * x + ph) * np.cos(fy * y)
    # A few sharp edges, where resampling filters differ most.
    img[60:70, :, :] = 250
    img[:, 200:204, 1] = 5
    pil = Image.fromarray(np.clip(img, 0, 255).round().astype(np.uint8), "RGB")
    pil.save(OUT / "input-320x240.png")
    t = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])
    t(pil).save(OUT / "torchvision-224.png")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
