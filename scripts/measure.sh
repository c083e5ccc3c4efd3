#!/usr/bin/env bash
# Re-measures every figure in BENCHMARKS.md. Writes into bench-out/ (ignored by git) and
# prints Markdown tables. Takes ~3 minutes on 2 cores (plus ~10 minutes for --knn).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=target/release/fcollide
out=bench-out
mkdir -p "$out"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sm)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

$bin -q reproduce mnist --out "$out/mnist" --exact >/dev/null
$bin -q reproduce mnist --out "$out/mnist" --paper >/dev/null
mv "$out/mnist/results.json" "$out/mnist/results-paper.json"
$bin -q reproduce mnist --out "$out/mnist" --exact >/dev/null
$bin -q reproduce lenet --out "$out/lenet" >/dev/null
$bin -q reproduce patches --out "$out/patches" >/dev/null
$bin -q reproduce patches --arch lenet5 --weights "$out/lenet/model-lenet5.safetensors" --out "$out/patches-lenet" >/dev/null
$bin -q sweep --model "$out/lenet/model-lenet5.safetensors" --target index:4 --samples 2000 --out "$out/sweep" >/dev/null

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
def table(path, title):
    r = json.load(open(path))
    print(f"\n### {title}\n")
    print(f"model `{r['model']['arch']}` test accuracy {100*r['model']['test_accuracy']:.2f} % "
          f"({r['dataset']['test']} held-out digits); dataset pairwise L2 {r['dataset_pairwise_l2']:.3f}; "
          f"α={r['params']['vertex']['alpha']:g} β={r['params']['vertex']['beta']:g} "
          f"penalty {r['params']['vertex']['penalty']}, {r['params']['vertex']['steps']} steps; run {r['seconds']:.1f} s\n")
    print("| row | layer | verdict | class agreement | target conf. | sample conf. | vertex L2 | ratio | feature err. vertices max | samples mean | samples max | certified bound | vertex s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    def e(v):
        return "—" if v is None else f"{v:.2e}"
    for x in r['rows']:
        verdict = x['verdict'] + (", certified" if x.get('certified') else (" (sampled)" if x['verdict'] == 'collides' else ""))
        print(f"| {x['name']} | {x['layer']} | {verdict} | {100*x['class_agreement']:.1f} % | {x['target_confidence']:.4f} | "
              f"{x['sample_confidence_mean']:.4f} | {x['vertex_pairwise_l2']:.3f} | {100*x['vertex_to_dataset_ratio']:.1f} % | "
              f"{e(x['vertex_feature_rel_err_max'])} | {e(x['feature_rel_err_mean'])} | {e(x['feature_rel_err_max'])} | "
              f"{e(x.get('certified_error_bound'))} | {x['vertex_seconds']:.2f} |")
    # `certified_error_bound` is present only where it holds (every vertex in one region);
    # "collides" without a certificate rests on the samples.
    for x in r['rows']:
        u = x.get('union_of_regions')
        if u:
            print(f"\n{x['name']}: union of regions (unlocked search) {json.dumps(u, sort_keys=True)}")
    for x in r.get('exact_rows', []):
        c = x.get('closest') or {}
        print(f"\nExact ({x['layer']}): N+ {x['n_plus']}, rank {x['rank']}, affine dim {x['affine_dim']}, "
              f"{x['verdict']}, {100*x['class_agreement']:.1f} % of {x['samples']} samples in class, vertex L2 {x['vertex_pairwise_l2']:.3f} "
              f"({100*x['vertex_to_dataset_ratio']:.1f} % of dataset), collision deviation {x['vertex_collision_dev']:.1e} (vertices) / "
              f"{x['sample_collision_dev']:.1e} (samples), max violation {x['vertex_max_violation']:.1e}, Chebyshev radius "
              f"{x['chebyshev_radius']:.4f}, first LP {x['first_lp_s']:.3f} s, later LPs {x['warm_lp_mean_s']:.3f} s mean; "
              f"closest colliding input to {c.get('other')}: L2 {c.get('l2', float('nan')):.3f}, class {c.get('class')}.")
table(f"{out}/mnist/results.json", "MNIST MLP, default objective (`fcollide reproduce mnist --exact`)")
table(f"{out}/mnist/results-paper.json", "MNIST MLP, the paper's objective (`--paper`)")
table(f"{out}/lenet/results.json", "LeNet-5 (`fcollide reproduce lenet`)")
table(f"{out}/patches/results.json", "Patch composition, MLP (`fcollide reproduce patches`)")
table(f"{out}/patches-lenet/results.json", "Patch composition, LeNet-5 (`fcollide reproduce patches --arch lenet5`)")
PY
echo
cat "$out/sweep/sweep.md" | sed -n 3,10p
echo
cargo bench -q -p fcollide --bench collide 2>/dev/null | grep '^|'
cargo bench -q -p fcollide --bench vgg 2>/dev/null | grep '^| [lV]'
cargo bench -q -p fcollide --bench exact 2>/dev/null | grep -E 'target:|fc1|fc2|bars|Dense|Highs'
if [ "${1:-}" = "--knn" ]; then
  # the bench prints each row as it is measured, then the whole table: keep the table
  cargo bench -q -p fcollide --bench knn 2>/dev/null | awk '/^\| L \|/{t=1} t || /^(data:|brute force|median)/'
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
