"""fcollide from Python: the MNIST rows of `fcollide reproduce mnist`, bit for bit.

    python examples/quickstart.py [--seed 0] [--out fcollide-out] [--show]

Trains (or loads the cached) 784-256-256-10 MLP exactly as the CLI does, takes the first 7 of
the test split as the target, finds 5 vertices at `fc1` starting from the target (row 1) and
from the next test digit of another class (row 2), verifies each polytope with 2,000 random
convex combinations and prints the paper's Table 2. With the same seed, the vertices and
figures equal those of `fcollide reproduce mnist --seed SEED` (the package's tests check
this against the CLI's vertex files). Draws the rows with matplotlib when it is installed
(`OUT/quickstart-rows.png`).
"""

from __future__ import annotations

import argparse
import os
from typing import List, Tuple

import numpy as np

import fcollide


def rows(
    seed: int = 0, out: str = "fcollide-out", samples: int = 2000, progress: bool = True
) -> Tuple[fcollide.Model, List[Tuple[str, fcollide.Vertices, fcollide.Verification]]]:
    """The two rows of `fcollide reproduce mnist --seed SEED --out OUT`, computed through the
    Python package: ``(model, [(name, vertices, figures), …])``."""
    train, test = fcollide.datasets.mnist(seed)  # the CLI's 8,000 / 2,000 split
    model = fcollide.datasets.mnist_model(seed, cache_dir=out, progress=progress)
    t = test.first(7)  # the target: the first 7 of the test split
    label = test.labels[t]
    other = next(  # row 2 starts from the next test digit of another class
        i for i in [*range(t + 1, len(test)), *range(t)] if test.labels[i] != label
    )
    # The dataset distance behind Table 2's ratio: 10,000 random test pairs, seed + 1.
    ds = fcollide.dataset_pairwise_l2(test.images, pairs=10_000, seed=seed + 1)
    result = []
    for r, (name, start) in enumerate(
        [("row 1: from the target", t), ("row 2: from another example", other)]
    ):
        # The CLI verifies row r (0-based) with 2,000 samples seeded by seed + 100 + r.
        v = fcollide.find_vertices(
            model,
            test.images[t],
            layer="fc1",
            k=5,
            init=test.images[start],
            seed=seed + 100 + r,
            samples=samples,
            progress=progress,
        )
        result.append((name, v, v.verification.with_dataset_l2(ds)))
    return model, result


def table(result: List[Tuple[str, fcollide.Vertices, fcollide.Verification]]) -> str:
    """Table 2 as text."""
    head = (
        f"{'row':<28} {'class agr.':>10} {'target conf':>11} {'sample conf':>11} "
        f"{'vertex L2':>9} {'ratio':>7} {'feat err max':>12}  verdict"
    )
    lines = [head, "-" * len(head)]
    for name, v, f in result:
        lines.append(
            f"{name:<28} {100 * f.class_agreement:>9.1f}% {f.target_confidence:>11.4f} "
            f"{f.sample_confidence_mean:>11.4f} {f.vertex_pairwise_l2:>9.3f} "
            f"{100 * (f.vertex_to_dataset_ratio or 0):>6.1f}% {f.feature_rel_err_max:>12.2e}  "
            f"{f.verdict}{' (certified)' if f.certified else ''}"
        )
    return "\n".join(lines)


def draw(result, path: str, show: bool = False) -> bool:
    """Target, start, the 5 vertices and where they differ, one row each (the paper's Table
    1); ``False`` when matplotlib is not installed."""
    try:
        import matplotlib

        if not show:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    k = max(len(v) for _, v, _ in result)
    fig, axes = plt.subplots(len(result), k + 3, figsize=(1.4 * (k + 3), 1.6 * len(result)))
    axes = np.atleast_2d(axes)
    for r, (name, v, _) in enumerate(result):
        spread = v.vertices.max(axis=0) - v.vertices.min(axis=0)
        cells = [("target", v.target), ("start", v.init[0])]
        cells += [
            (f"{s.class_} ({s.confidence:.2f})", x) for s, x in zip(v.stats, v.vertices)
        ]
        cells.append(("differ", spread / max(float(spread.max()), 1e-12)))
        for c, ax in enumerate(axes[r]):
            ax.axis("off")
            if c < len(cells):
                title, img = cells[c]
                ax.imshow(img[0], cmap="gray", vmin=0, vmax=1)
                ax.set_title(title, fontsize=8)
        axes[r][0].text(-0.3, 0.5, name.split(":")[0], transform=axes[r][0].transAxes,
                        rotation=90, va="center", ha="right", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    if show:
        plt.show()
    plt.close(fig)
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="fcollide-out", help="model cache and picture folder")
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--show", action="store_true", help="open the picture in a window")
    args = ap.parse_args()
    model, result = rows(args.seed, args.out, args.samples)
    print(f"model: {model.facts.get('source', model.source)}, test accuracy "
          f"{100 * model.facts.get('test_accuracy', float('nan')):.2f} %")
    print(table(result))
    png = os.path.join(args.out, "quickstart-rows.png")
    if draw(result, png, args.show):
        print(f"wrote {png}")


if __name__ == "__main__":
    main()
