#!/usr/bin/env bash
# Times `fcollide audit` on the embedded MNIST training split (MLP, fc1, the exact measures:
# dim, chebyshev, extents) for issue #16's bar (all 8,000 training digits in <= 30 minutes on
# a 2-core machine). Prints the machine's load average before and after, the total wall
# time and the per-example time that `fcollide audit` itself prints.
#
#   bash scripts/bench-audit.sh [--limit N] [--threads T] [--out DIR]
#
# Without --limit it audits all 8,000 digits; with --limit N it audits the first N and
# extrapolates to 8,000 (said so in the output). The model is trained once into DIR
# (`fcollide train --arch mlp`, seed 0) and reused.
set -euo pipefail
limit=""
threads=2
out=target/bench-audit
while [ $# -gt 0 ]; do
  case "$1" in
    --limit) limit="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "bench-audit.sh: unknown argument $1 (expected --limit N, --threads T, --out DIR)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
cargo build --release -p fcollide-cli
bin=target/release/fcollide
mkdir -p "$out"
[ -f "$out/mlp.safetensors" ] || "$bin" train --arch mlp --out "$out/mlp.safetensors"
rm -rf "$out/audit"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
args=(audit --model "$out/mlp.safetensors" --split train --layer fc1
      --measures dim,chebyshev,extents --threads "$threads" --out "$out/audit")
[ -n "$limit" ] && args+=(--limit "$limit")
echo "command: $bin ${args[*]}"
start=$(date +%s.%N)
"$bin" "${args[@]}" 2>&1 | grep -a -v '^\s*$' | tail -3
end=$(date +%s.%N)
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
n=$(($(wc -l < "$out/audit/audit.csv") - 1))
awk -v s="$start" -v e="$end" -v n="$n" 'BEGIN {
  t = e - s; printf "total: %.1f s for %d examples, %.3f s per example (wall, %s threads)\n", t, n, t / n, "'"$threads"'";
  if (n < 8000) printf "extrapolated to 8,000 examples: %.1f min (from a --limit sample)\n", t / n * 8000 / 60;
  else printf "8,000 examples: %.1f min\n", t / 60 }'
