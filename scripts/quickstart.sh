#!/usr/bin/env bash
# Quick start, step 1: install the dependencies, build the fit program in
# Release, and fit the built-in HD163296-like rotation map (a synthetic map
# with a known truth, so it runs anywhere): a minute or two on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_dependencies.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DDISKMC_BUILD_TESTS=OFF -DDISKMC_BUILD_BENCHMARKS=OFF -DDISKMC_HEADER_CHECKS=OFF
cmake --build build/release --target fit_rotation_map
mkdir -p out
./build/release/examples/fit_rotation_map --demo --out out/demo_fit
