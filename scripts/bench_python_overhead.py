"""The Python package's overhead over the library on the MNIST rows of `reproduce mnist`.

    python scripts/bench_python_overhead.py [--repeats 5] [--out fcollide-out] [--write-benchmarks]

Needs only the package (`pip install ./crates/fcollide-py`). For each of the two MNIST rows
(`examples/quickstart.py`: target the first 7 of the test split, row 2 from the next digit of
another class; 5 vertices at `fc1`, 2,000 verification samples) it calls
`fcollide.find_vertices` `--repeats` times and compares its wall time with the time the
library's own calls (vertex search and verification) took on the worker thread
(`Vertices.info["library_seconds"]`, measured in Rust around exactly those calls). The
difference is everything the Python call adds: argument checks and conversions, the worker
thread and its signal polling, progress callbacks, building the result objects. Reported:
the median over repeats of `wall / library − 1`, without progress and with the default
progress display (tqdm when installed, else plain lines). Bar: ≤ 10 %. With
`--write-benchmarks` the table replaces the section between the markers
`<!-- python-overhead -->` in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import pathlib
import platform
import statistics
import time

import fcollide

ROOT = pathlib.Path(__file__).resolve().parent.parent
MARK = "<!-- python-overhead -->"


def rows_inputs(seed: int, out: str):
    train, test = fcollide.datasets.mnist(seed)
    model = fcollide.datasets.mnist_model(seed, cache_dir=out, progress=False)
    t = test.first(7)
    other = next(
        i for i in [*range(t + 1, len(test)), *range(t)] if test.labels[i] != test.labels[t]
    )
    return model, [("row 1", test.images[t], test.images[t]), ("row 2", test.images[t], test.images[other])]


def measure(model, target, init, progress, repeats):
    ratios, walls, libs = [], [], []
    for _ in range(repeats):
        sink = io.StringIO()
        with contextlib.redirect_stderr(sink):
            t0 = time.perf_counter()
            v = fcollide.find_vertices(model, target, layer="fc1", k=5, init=init, progress=progress)
            wall = time.perf_counter() - t0
        lib = v.info["library_seconds"]
        walls.append(wall)
        libs.append(lib)
        ratios.append(wall / lib - 1.0)
    return statistics.median(walls), statistics.median(libs), statistics.median(ratios)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="fcollide-out", help="model cache folder")
    ap.add_argument("--write-benchmarks", action="store_true")
    args = ap.parse_args()
    model, rows = rows_inputs(args.seed, args.out)
    has_tqdm = importlib.util.find_spec("tqdm") is not None
    shown = "tqdm" if has_tqdm else "plain"
    lines = [
        "| row | progress | wall (median) | library (median) | overhead (median) | ≤ 10 % |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    worst = 0.0
    for name, target, init in rows:
        for progress, label in ((False, "none"), (True, shown)):
            wall, lib, ratio = measure(model, target, init, progress, args.repeats)
            worst = max(worst, ratio)
            lines.append(
                f"| {name} | {label} | {wall:.3f} s | {lib:.3f} s | {100 * ratio:+.1f} % | "
                f"{'yes' if ratio <= 0.10 else 'NO'} |"
            )
            print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(text)
    if args.write_benchmarks:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        machine = (
            f"{platform.machine()}, {os.cpu_count()} cores, load average {load:.1f} at the "
            f"end, fcollide {fcollide.__version__}"
        )
        body = (
            f"{MARK}\n`python scripts/bench_python_overhead.py --repeats {args.repeats} "
            f"--write-benchmarks` ({time.strftime('%Y-%m-%d')}; {machine}):\n\n{text}\n{MARK}"
        )
        path = ROOT / "BENCHMARKS.md"
        doc = path.read_text()
        parts = doc.split(MARK)
        if len(parts) == 3:
            doc = parts[0] + body + parts[2]
        else:
            doc = (
                doc.rstrip("\n")
                + "\n\n## The Python package's overhead (`fcollide.find_vertices` on the MNIST rows)\n\n"
                + body
                + "\n"
            )
        path.write_text(doc)
        print(f"wrote {path}")
    if worst > 0.10:
        raise SystemExit(f"overhead {100 * worst:.1f} % is above the 10 % bar")


if __name__ == "__main__":
    main()
