#!/usr/bin/env bash
# Quick start, step 2: build (if needed) and run the test suite.
# Tests that need the shared data sets (bench/, twhya/) read them from
# DISKMC_DATA_DIR; without it ctest reports them as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

# Everything on explicitly: the quick start configures the same folder with
# only the fit program (and a quick build may have left a test filter).
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DDISKMC_BUILD_TESTS=ON \
  -DDISKMC_BUILD_EXAMPLES=ON -DDISKMC_BUILD_BENCHMARKS=ON -DDISKMC_HEADER_CHECKS=ON -DDISKMC_TEST_FILTER=
cmake --build build/release
ctest --test-dir build/release --output-on-failure -j "$(nproc)" "$@"
