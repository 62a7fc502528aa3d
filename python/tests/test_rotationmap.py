"""eddy's interface (rotationmap, fit_map, set_prior) on a small synthetic map
written as FITS with astropy: params semantics, returns, bad input. Needs no
shared data."""
import numpy as np
import pytest
from astropy.io import fits

import diskmc
from diskmc import rotationmap

TRUTH = {"x0": 0.02, "y0": -0.03, "PA": 150.0, "mstar": 1.2, "vlsr": 3000.0, "inc": 35.0, "dist": 100.0}


@pytest.fixture
def thin_disk_map(tmp_path):
    dpix = 0.1
    model = diskmc.model_image(TRUTH, nx=40, ny=40, dpix=dpix)
    sigma = np.full(model.shape, 30.0)
    data = model + sigma * np.random.default_rng(1).standard_normal(model.shape)
    for name, image in (("disk_v0.fits", data), ("disk_dv0.fits", sigma)):
        header = fits.Header()
        header["CDELT1"], header["CDELT2"], header["BUNIT"] = -dpix / 3600.0, dpix / 3600.0, "m/s"
        fits.writeto(tmp_path / name, image, header)  # CDELT1 < 0: the model's x decreases with column, as the file's
    return str(tmp_path / "disk_v0.fits")


def _params():
    return {"x0": 0, "y0": 1, "PA": 2, "mstar": 3, "vlsr": 4, "inc": 35.0, "dist": 100.0}


def test_fit_map_with_eddys_params_and_returns(thin_disk_map):
    cube = rotationmap(thin_disk_map)
    assert cube.uncertainty_path.endswith("disk_dv0.fits")
    assert cube.data.shape == (40, 40)
    params = _params()
    p0 = [0.0, 0.0, 149.0, 1.0, 2990.0]
    samples, sampler, lnprob, percentiles, medians, model, residual = cube.fit_map(
        p0, params, r_min=0.2, r_max=1.8, nwalkers=16, nburnin=100, nsteps=60, plots="none",
        returns=["samples", "sampler", "lnprob", "percentiles", "dict", "model", "residual"],
        mcmc_kwargs={"seed": 2}, niter=2)
    assert params == _params()  # not modified
    assert samples.shape == (16 * 60, 5)
    assert lnprob.shape == (60, 16)
    assert sampler.names == ["x0", "y0", "PA", "mstar", "vlsr"]
    assert sampler.report["sampler"] == {"kind": "ensemble", "walkers": 16, "burn": 100, "steps": 60, "thin": 1,
                                         "moves": "stretch", "seed": 2}
    assert np.array_equal(percentiles, np.percentile(samples, [16, 50, 84], axis=0))
    assert medians["inc"] == 35.0 and medians["r_min"] == 0.2 and medians["mstar"] == sampler.summary["mstar"]["p50"]
    assert model.shape == residual.shape == cube.data.shape
    for k, name in enumerate(sampler.names):
        assert abs(percentiles[1, k] - TRUTH[name]) < 4 * np.std(samples[:, k]), name
    # The mask: r_min and r_max in the disk frame keep an annulus.
    inside = np.isfinite(residual)
    assert 0 < inside.sum() < inside.size


def test_fit_map_nuts_and_a_single_return(thin_disk_map):
    cube = rotationmap(thin_disk_map, uncertainty=thin_disk_map.replace("_v0", "_dv0"), downsample=2)
    assert cube.data.shape == (20, 20)
    cube.set_prior("mstar", [0.5, 2.0], "flat")
    cube.set_prior("vlsr", [3000.0, 50.0], "gaussian")
    samples = cube.fit_map([0.0, 0.0, 149.0, 1.0, 2990.0], _params(), plots="none", mcmc="nuts",
                           mcmc_kwargs={"chains": 2, "warmup": 100, "samples": 50, "max_tree_depth": 6,
                                        "dense": True, "seed": 1})
    assert samples.shape == (100, 5)


def test_fit_map_bad_input(thin_disk_map):
    cube = rotationmap(thin_disk_map)
    with pytest.raises(ValueError, match="Mismatch in labels and p0"):
        cube.fit_map([1.0], _params(), plots="none")
    with pytest.raises(ValueError, match=r"params\['z_func'\]"):
        cube.fit_map([0.0, 0.0, 149.0, 1.0, 2990.0], dict(_params(), z_func="bowl"), plots="none")
    with pytest.raises(ValueError, match="mcmc_kwargs"):
        cube.fit_map([0.0, 0.0, 149.0, 1.0, 2990.0], _params(), plots="none", mcmc_kwargs={"walkerz": 3})
    with pytest.raises(ValueError, match="mcmc must be 'emcee' or 'nuts'"):
        cube.fit_map([0.0, 0.0, 149.0, 1.0, 2990.0], _params(), plots="none", mcmc="zeus")
    with pytest.raises(ValueError, match="type must be 'flat' or 'gaussian'"):
        cube.set_prior("mstar", [0, 1], "uniform")
    cube.set_prior("mstar", [0.0, 0.5])
    with pytest.raises(ValueError, match=r"parameter 'mstar': start 1 lies outside its prior"):
        cube.fit_map([0.0, 0.0, 149.0, 1.0, 2990.0], _params(), plots="none")
    with pytest.raises(ValueError, match="fill and force_center are not supported"):
        rotationmap(thin_disk_map, fill=0.0)
    with pytest.raises(ValueError, match="FITS file .*: no such file"):
        rotationmap(thin_disk_map + ".missing", uncertainty=thin_disk_map)
