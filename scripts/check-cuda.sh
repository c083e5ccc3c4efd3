#!/usr/bin/env bash
# Type-checks the `cuda` feature (burn's CUDA backend) without a GPU, CUDA toolkit or network.
#
# A real `--features cuda` build needs LLVM: the `tracel-llvm-bundler` build script of
# cubecl downloads a prebuilt LLVM bundle on first use, so it needs internet (and a GPU to
# run). Its build script, and cubecl-llvm's, skip that step when `DOCS_RS` is set, which is
# enough for `cargo check` (no linking). This proves fcollide's `cfg(feature = "cuda")` code
# compiles against burn's CUDA API; it does not run anything on a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
DOCS_RS=1 CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/cuda-check}" \
    cargo check -p fcollide -p fcollide-cli --features fcollide/cuda "$@"
