"""eddy's interface on the shared HD163296-like benchmark maps
(DISKMC_DATA_DIR/bench): an eddy script recovers the truth. Skipped
without the shared data."""
import json
import os

import numpy as np
import pytest

from conftest import skip


def _bench(data_dir):
    folder = os.path.join(data_dir, "bench")
    v0 = os.path.join(folder, "hd163296_like_v0.fits")
    if not os.path.exists(v0):
        pytest.fail("DISKMC_DATA_DIR=%s has no bench/hd163296_like_v0.fits" % data_dir)
    with open(os.path.join(folder, "truth.json")) as f:
        return folder, v0, json.load(f)


def _eddy_params():
    # eddy's tutorial layout: an int is the index into p0, a number is fixed.
    return {"x0": 0, "y0": 1, "PA": 2, "mstar": 3, "vlsr": 4, "z0": 5, "psi": 6, "r_taper": 7, "q_taper": 8,
            "inc": 46.7, "dist": 101.0, "r_cavity": 0.0}


def test_eddy_script_recovers_the_bench_truth(data_dir):
    from diskmc import rotationmap  # from eddy import rotationmap
    folder, v0, bench = _bench(data_dir)
    cube = rotationmap(v0, downsample=3)  # finds hd163296_like_dv0.fits as eddy does
    assert cube.uncertainty_path.endswith("hd163296_like_dv0.fits")
    assert cube.data.shape == cube.error.shape == (51, 51)
    names = ["x0", "y0", "PA", "mstar", "vlsr", "z0", "psi", "r_taper", "q_taper"]
    p0 = [bench["start"][n] for n in names]
    cube.set_prior("r_taper", [0.0, 50.0], "flat")
    # eddy's order, whatever the order asked: samples, sampler, percentiles, dict.
    samples, result, percentiles, medians = cube.fit_map(
        p0, _eddy_params(), r_min=bench["r_min"], optimize=True, nburnin=200, nsteps=200, plots="none",
        returns=["samples", "percentiles", "dict", "sampler"], mcmc="nuts",
        mcmc_kwargs={"chains": 2, "seed": 7, "threads": 2})
    assert samples.shape == (400, 9)
    assert percentiles.shape == (3, 9)
    assert result.names == names
    for k, name in enumerate(names):
        sd = np.std(samples[:, k])
        truth = bench["truth"][name]
        assert abs(percentiles[1, k] - truth) < 3 * sd, (name, percentiles[1, k], truth, sd)
        assert medians[name] == pytest.approx(np.median(samples[:, k]), rel=1e-12)
    assert medians["inc"] == 46.7
    assert not [w for w in result.warnings if "divergen" in w]


def test_eddy_script_with_emcee_returns_eddys_shapes(data_dir):
    from diskmc import rotationmap
    folder, v0, bench = _bench(data_dir)
    cube = rotationmap(v0, uncertainty=os.path.join(folder, "hd163296_like_dv0.fits"), downsample=6)
    names = ["x0", "y0", "PA", "mstar", "vlsr", "z0", "psi", "r_taper", "q_taper"]
    cube.set_prior("r_taper", [0.0, 50.0])
    samples, model, residual = cube.fit_map(
        [bench["start"][n] for n in names], _eddy_params(), r_min=bench["r_min"], nwalkers=24, nburnin=100,
        nsteps=100, plots="none", returns=["samples", "model", "residuals"], mcmc_kwargs={"seed": 4})
    assert samples.shape == (2400, 9)
    assert model.shape == residual.shape == cube.data.shape
    inside = np.isfinite(residual)
    assert inside.sum() > 100
    assert np.allclose(residual[inside], cube.data[inside] - model[inside])
    truth = np.array([bench["truth"][n] for n in names])
    # A short emcee run from the MAP point: the medians are near the truth.
    assert np.all(np.abs(np.median(samples, axis=0) - truth) < 4 * np.std(samples, axis=0))


def test_model_image_matches_the_bench_model(data_dir):
    import diskmc
    folder, _, bench = _bench(data_dir)
    values = dict(bench["truth"], **bench["fixed"])
    image = diskmc.model_image(values, nx=154, ny=154, dpix=0.052)
    reference = np.loadtxt(os.path.join(folder, "hd163296_like_model.txt"))
    assert image.shape == reference.shape
    finite = np.isfinite(reference)
    assert np.array_equal(finite, np.isfinite(image))
    assert np.max(np.abs(image[finite] - reference[finite])) < 1e-6 * np.max(np.abs(reference[finite]))


def test_bad_params_raise_value_error(data_dir):
    from diskmc import rotationmap
    folder, v0, _ = _bench(data_dir)
    cube = rotationmap(v0, downsample=6)
    with pytest.raises(ValueError, match="Mismatch in labels and p0"):
        cube.fit_map([1.0, 2.0], {"mstar": 0, "vlsr": 2, "inc": 46.7}, plots="none")
    with pytest.raises(ValueError, match="outside"):
        cube.set_prior("mstar", [0.0, 1.0])
        cube.fit_map([2.0], {"mstar": 0, "vlsr": 5771.0, "inc": 46.7, "PA": 312.6, "dist": 101.0}, plots="none")
    with pytest.raises(ValueError, match="no uncertainty given"):
        rotationmap(os.path.join(folder, "hd163296_like_model.txt"))
