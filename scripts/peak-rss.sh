#!/usr/bin/env bash
# Peak RSS (#17's memory bar: ≤ 2 GB for VGG-16 with K = 5) of loading a VGG-16 and of
# `reproduce imagenet` on it. Not run by CI.
#   bash scripts/peak-rss.sh WEIGHTS.pth TARGET.png INIT.png [ARCH]
# WEIGHTS: a torchvision VGG-16 state dict (e.g. `torch.manual_seed(0);
# torch.save(torchvision.models.vgg16_bn().state_dict(), path)`); ARCH default vgg16_bn.
set -euo pipefail
cd "$(dirname "$0")/.."
w=${1:?weights}; t=${2:?target image}; i=${3:?init image}; arch=${4:-vgg16_bn}
bin=target/release/fcollide
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem/{print $2}') GiB"
peak() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/{printf "%.2f GB", $2/1e6} /Elapsed/{e=$2} END{print ", wall " e}'; }
echo "inspect (load only): $(peak $bin inspect "$w" --arch "$arch")"
echo "reproduce imagenet K=5, 3 steps, 10 samples: $(peak $bin -q reproduce imagenet --weights "$w" --arch "$arch" \
  --target-image "$t" --init-image "$i" --vertices 5 --steps 3 --samples 10 --out bench-out/peak-rss)"
