#!/usr/bin/env bash
# Quick start, step 1: install the dependencies, build everything in Release,
# and run the main example on built-in data.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_dependencies.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build/release
mkdir -p out
./build/release/examples/render_model --demo --out out/demo_model.txt --fits out/demo_model.fits
