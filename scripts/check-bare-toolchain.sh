#!/usr/bin/env bash
# Checks that the default build needs nothing but a Rust toolchain (and the system linker it
# already uses): no build-time C/C++ dependency (cc, cmake, bindgen) and no HiGHS in the
# dependency tree. With `--build`, also builds the CLI with a PATH that hides cmake, c++, g++
# and clang (only cargo, rustc and the linker `cc` stay visible), into its own target folder.
set -euo pipefail
cd "$(dirname "$0")/.."

tree=$(cargo tree --workspace -e all --prefix none 2>/dev/null | sort -u)
bad=$(echo "$tree" | grep -E '^(cc|cmake|bindgen|highs|highs-sys|pkg-config) v' || true)
if [ -n "$bad" ]; then
  echo "the default build depends on native build tools:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "default dependency tree: pure Rust (no cc, cmake, bindgen or HiGHS)"

if [ "${1:-}" = "--build" ]; then
  shim=$(mktemp -d)
  trap 'rm -rf "$shim"' EXIT
  for tool in cargo rustc cc ld; do
    p=$(command -v "$tool") || { echo "missing $tool" >&2; exit 1; }
    ln -s "$p" "$shim/$tool"
  done
  # rustup proxies need their own folder for toolchain resolution
  env -i HOME="$HOME" PATH="$shim" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" \
    CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" CARGO_TARGET_DIR=target/bare \
    cargo build --release -p fcollide-cli
  echo "built target/bare/release/fcollide without cmake or a C++ compiler on PATH"
fi
