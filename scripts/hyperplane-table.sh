#!/usr/bin/env bash
# The regularizer of §5.2 (issue #16): trains the MNIST MLP with the hyperplane penalty at
# several λ, then for each model measures the test accuracy, the unit hyperplanes' cosines at
# fc1 (`inspect --hyperplanes`), the mean Chebyshev radius of the fc1 collision polytope over
# the first N test digits (`audit --measures dim,chebyshev`), and the gradient rows' spread
# (`reproduce mnist --weights`). Prints a Markdown table. Not run by CI.
#   bash scripts/hyperplane-table.sh [--lambdas "0 1 10 100"] [--limit 50] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
lambdas="0 1 10 100"; limit=50; out=bench-out/hyperplanes
while [ $# -gt 0 ]; do
  case "$1" in
    --lambdas) lambdas="$2"; shift 2 ;;
    --limit) limit="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
cargo build --release -q -p fcollide-cli
bin=target/release/fcollide
mkdir -p "$out"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for l in $lambdas; do
  d="$out/lambda-$l"
  mkdir -p "$d"
  $bin -q train --arch mlp --hyperplane-penalty "$l" --hyperplane-layers fc1 --out "$d/model.safetensors" > "$d/train.log" 2>&1
  $bin -q inspect "$d/model.safetensors" --hyperplanes --json > "$d/hyperplanes.json"
  rm -rf "$d/audit"
  $bin -q audit --model "$d/model.safetensors" --split test --layer fc1 --limit "$limit" --measures dim,chebyshev --out "$d/audit" > /dev/null 2>&1
  $bin -q reproduce mnist --weights "$d/model.safetensors" --out "$d/mnist" > /dev/null 2>&1
done
python3 - "$out" $lambdas <<'PY'
import csv, json, sys
out, lambdas = sys.argv[1], sys.argv[2:]
print("\n| λ | test accuracy | fc1 mean cos | fc1 mean max(0, cos) | fc1 pairs > 0.5 | mean affine dim | mean Chebyshev radius (N) | row 1 spread | row 2 spread | rows' verdicts |")
print("|---|---|---|---|---|---|---|---|---|---|")
for l in lambdas:
    d = f"{out}/lambda-{l}"
    h = next(x for x in json.load(open(f"{d}/hyperplanes.json")) if x["layer"] == "fc1")
    rows = list(csv.DictReader(open(f"{d}/audit/audit.csv")))
    radii = [float(r["chebyshev_radius"]) for r in rows if r["chebyshev_radius"]]
    dims = [float(r["affine_dim"]) for r in rows if r["affine_dim"]]
    res = json.load(open(f"{d}/mnist/results.json"))
    spreads = [f"{100*x['vertex_to_dataset_ratio']:.1f} %" for x in res["rows"]]
    verdicts = ", ".join(x["verdict"] for x in res["rows"])
    acc = res["model"]["test_accuracy"]
    print(f"| {l} | {100*acc:.2f} % | {h['mean']:.4f} | {h['mean_positive_part']:.4f} | {100*h['share_above_0_5']:.2f} % | "
          f"{sum(dims)/len(dims):.1f} | {sum(radii)/len(radii):.4f} ({len(radii)}) | {spreads[0]} | {spreads[1]} | {verdicts} |")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
