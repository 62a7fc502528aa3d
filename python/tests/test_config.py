"""diskmc.fit on a config dict: the result's shapes and meaning, bad input as
ValueError with the library's message, Ctrl-C, model_image. Needs no shared data."""
import os
import signal
import threading

import numpy as np
import pytest

import diskmc
from conftest import small_bench_config

BENCH_FREE = ["x0", "y0", "PA", "mstar", "vlsr", "z0", "psi", "r_taper", "q_taper"]


def test_fit_returns_summary_draws_and_maps():
    result = diskmc.fit(small_bench_config())
    assert result.names == BENCH_FREE
    assert result.draws.shape == (20, 20, 9)
    assert result.log_density.shape == (20, 20)
    assert np.isfinite(result.draws).all()
    assert set(result.summary) == set(BENCH_FREE)
    for name, line in result.summary.items():
        assert set(line) >= {"p16", "p50", "p84", "mean", "sd", "ess_bulk", "ess_tail", "rhat", "tau"}
        k = result.names.index(name)
        assert line["p50"] == pytest.approx(np.median(result.draws[:, :, k]), rel=1e-12, abs=1e-12)
    assert result.medians["inc"] == 46.7
    assert result.medians["mstar"] == result.summary["mstar"]["p50"]
    assert not result.interrupted
    assert result.model.shape == result.residual.shape == result.mask.shape == result.data.shape
    assert result.model.ndim == 2
    inside = result.mask
    assert np.allclose(result.residual[inside], result.data[inside] - result.model[inside])
    assert np.isnan(result.residual[~inside]).all()
    assert result.x.shape == (result.model.shape[1],) and result.y.shape == (result.model.shape[0],)
    assert isinstance(result.warnings, list)
    assert result.map_point is not None and set(result.map_point) == set(BENCH_FREE)
    assert result.samples.shape == (400, 9)
    # PA is wrapped into [0, 360) as eddy does.
    pa = result.draws[:, :, result.names.index("PA")]
    assert ((pa >= 0) & (pa < 360)).all()


def test_same_seed_same_draws():
    first = diskmc.fit(small_bench_config(seed=5))
    second = diskmc.fit(small_bench_config(seed=5))
    assert np.array_equal(first.draws, second.draws)


def test_bad_input_raises_value_error_with_the_library_message():
    with pytest.raises(ValueError, match=r'config: unknown key "walkerz"'):
        diskmc.fit({"walkerz": 3})
    with pytest.raises(ValueError, match=r'sampler.kind: must be "ensemble", "nuts", "laplace" or "auto", got "hmc"'):
        diskmc.fit({"sampler": {"kind": "hmc"}})
    with pytest.raises(ValueError, match=r"the ensemble needs an even number of walkers"):
        diskmc.fit(small_bench_config(walkers=7))
    with pytest.raises(ValueError, match=r"unknown parameter 'mstr'"):
        diskmc.fit({"params": {"mstr": {"start": 1.0}}})
    with pytest.raises(ValueError, match=r"FITS file '.*nowhere_v0.fits': no such file"):
        diskmc.fit({"map": "/nowhere_v0.fits", "uncertainty": "/nowhere_dv0.fits", "params": {"mstar": {"start": 1.0}}})
    with pytest.raises(ValueError, match=r"cannot be written as JSON"):
        diskmc.fit({"fov": float("nan")})
    with pytest.raises(ValueError, match=r"config must be a dict"):
        diskmc.fit("[1]")


def _interrupt_after(seconds):
    """A real SIGINT (Ctrl-C) to this process after `seconds`."""
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_ctrl_c_during_sampling_returns_the_draws_so_far():
    config = small_bench_config()
    config["optimize"] = False
    config["sampler"] = {"kind": "nuts", "chains": 2, "warmup": 20, "samples": 1000000, "seed": 2}
    timer = _interrupt_after(3.0)
    result = diskmc.fit(config)
    timer.join()
    assert result.interrupted
    draws = result.draws.shape[1]
    assert 4 <= draws < 1000000
    assert result.draws.shape[0] == 2
    assert any("Interrupted during sampling" in w for w in result.warnings)
    assert np.isfinite(result.summary["mstar"]["p50"])


def test_ctrl_c_before_sampling_raises_keyboard_interrupt():
    config = small_bench_config(burn=100000000, steps=10)
    timer = _interrupt_after(2.0)
    with pytest.raises(KeyboardInterrupt):
        diskmc.fit(config)
    timer.join()


def test_model_image_is_the_fits_model_at_the_medians():
    config = small_bench_config()
    config["downsample"] = 1
    config["optimize"] = False
    result = diskmc.fit(config)
    image = diskmc.model_image(result.medians, nx=154, ny=154, dpix=0.052)
    assert image.shape == result.model.shape
    assert np.allclose(image, result.model, rtol=0, atol=1e-9)


def test_model_image_refuses_unknown_parameters():
    with pytest.raises(ValueError, match=r"unknown parameter 'mass'"):
        diskmc.model_image({"mass": 1.0}, nx=10, ny=10, dpix=0.1)
    with pytest.raises(ValueError, match=r"model_image: parameter 'dist' = -1 lies outside its valid range"):
        diskmc.model_image({"dist": -1.0}, nx=10, ny=10, dpix=0.1)


def test_model_image_takes_the_configs_model_choice():
    # A radial flow adds to the line of sight a term proportional to vr_100:
    # nothing at vr_100 = 0, and twice as much at twice vr_100.
    params = {"inc": 40.0, "PA": 120.0, "mstar": 1.2, "dist": 100.0, "vr_q": -0.5}
    grid = dict(nx=48, ny=40, dpix=0.05)
    flow = {"radial": "power_law"}
    rotation_only = diskmc.model_image({k: v for k, v in params.items() if k != "vr_q"}, **grid)
    still = diskmc.model_image(dict(params, vr_100=0.0), model=flow, **grid)
    assert np.array_equal(np.isfinite(still), np.isfinite(rotation_only))
    assert np.allclose(still, rotation_only, rtol=0, atol=1e-12, equal_nan=True)
    half = diskmc.model_image(dict(params, vr_100=50.0), model=flow, **grid) - still
    full = diskmc.model_image(dict(params, vr_100=100.0), model=flow, **grid) - still
    finite = np.isfinite(full)
    assert np.abs(full[finite]).max() > 10.0
    assert np.allclose(full[finite], 2.0 * half[finite], rtol=1e-9, atol=1e-9)


def test_model_image_names_an_unknown_component():
    with pytest.raises(ValueError, match=r'model_image: model: unknown surface "bowl" \(the choices: "thin"'):
        diskmc.model_image({}, nx=10, ny=10, dpix=0.1, model={"surface": "bowl"})
    with pytest.raises(ValueError, match=r"model_image: model must be a dict"):
        diskmc.model_image({}, nx=10, ny=10, dpix=0.1, model="flared")
