"""Shared helpers of the Python package's tests."""
import os

import pytest

# ctest reports a test whose output holds this marker as skipped
# (tests/CMakeLists.txt, DISKMC_TEST_SKIP_MARKER).
SKIP_MARKER = "DISKMC_TEST_SKIPPED"


def skip(reason):
    pytest.skip("%s: %s" % (SKIP_MARKER, reason))


@pytest.fixture
def data_dir():
    """The shared data folder: DISKMC_DATA_DIR, else the build's default; the test skips without one."""
    folder = os.environ.get("DISKMC_DATA_DIR") or os.environ.get("DISKMC_DEFAULT_DATA_DIR")
    if not folder:
        skip("DISKMC_DATA_DIR is not set")
    return folder


def small_bench_config(**sampler):
    """The built-in HD163296-like problem, downsampled by 6, with a short run."""
    config = {"downsample": 6, "threads": 2,
              "sampler": {"kind": "ensemble", "walkers": 20, "burn": 20, "steps": 20, "seed": 3}}
    config["sampler"].update(sampler)
    return config
