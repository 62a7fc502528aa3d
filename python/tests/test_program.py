"""The module's fit equals the fit program's (examples/fit_rotation_map) for
the same config and seed. Skipped when the program is not built."""
import csv
import json
import os
import subprocess

import numpy as np

import diskmc
from conftest import skip, small_bench_config


def test_module_and_program_give_the_same_fit(tmp_path):
    program = os.environ.get("DISKMC_FIT_PROGRAM")
    if not program or not os.path.exists(program):
        skip("the fit program examples/fit_rotation_map is not built")
    config = small_bench_config(seed=9)
    config_file = tmp_path / "fit.json"
    config_file.write_text(json.dumps(config))
    out = tmp_path / "out"
    subprocess.run([program, "--config", str(config_file), "--out", str(out), "--no-plots"], check=True,
                   stdout=subprocess.DEVNULL)
    with open(out / "summary.json") as f:
        summary = json.load(f)
    result = diskmc.fit(config)
    assert list(summary["parameters"]) == result.names
    for name in result.names:
        for key in ("p16", "p50", "p84", "sd", "ess_bulk", "rhat"):
            assert result.summary[name][key] == summary["parameters"][name][key], (name, key)
    # Every draw, walker by walker (chains/chain_N.csv: one file per walker).
    for walker in range(result.draws.shape[0]):
        with open(out / "chains" / ("chain_%d.csv" % (walker + 1))) as f:
            rows = [row for row in csv.reader(line for line in f if not line.startswith("#"))]
        header, values = rows[0], np.array(rows[1:], dtype=float)
        columns = [header.index(name) for name in result.names]
        assert np.array_equal(values[:, columns], result.draws[walker])
