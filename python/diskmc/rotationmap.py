"""eddy's rotationmap and fit_map over diskmc's fit.

``from diskmc import rotationmap`` in place of ``from eddy import
rotationmap``: the same arguments, defaults and ``params`` semantics, the
same returns; the fit is diskmc's (the MAP step, then emcee's ensemble
algorithm or NUTS). Where this differs from eddy on purpose, the docstring
says so.
"""

import json
import os
import warnings

import numpy as np

from . import _core

# params keys that go to the mask (eddy's _calc_ivar), not to the model.
_MASK_KEYS = ("r_min", "r_max", "exclude_r", "phi_min", "phi_max", "exclude_phi", "abs_phi",
              "v_min", "v_max", "exclude_v")
_MASK_FLAGS = ("exclude_r", "exclude_phi", "abs_phi", "exclude_v")


def _is_index(value):
    """eddy: an int (not a bool) in params is an index into p0."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class rotationmap:
    """A velocity map and its uncertainty, as eddy's ``rotationmap``.

    Args:
        path (str): the rotation map (FITS).
        FOV (float): clip to a square field of view of this side, arcsec.
        uncertainty (str): the map of v0 uncertainties (FITS). If None, the
            bettermoments name is tried (``X_v0.fits`` -> ``X_dv0.fits``).
        downsample (int or 'beam'): keep every N-th pixel (from N/2), or
            sample by the beam's major axis.
        velocity_unit (str): 'header' (trust BUNIT, m/s or km/s), 'm/s' or 'km/s'.

    Differences from eddy, on purpose: with no uncertainty file found eddy
    assumes 10% of |v - median| and goes on; this raises ValueError (a fit
    weighted by an invented error is not one to trust). An unknown BUNIT makes
    eddy ask on the terminal; this raises ValueError unless ``velocity_unit``
    is given. Priors set with set_prior belong to this map (eddy's are shared
    by every rotationmap). ``fill`` and ``force_center`` raise ValueError.
    """

    def __init__(self, path, FOV=None, uncertainty=None, downsample=None, fill=None, force_center=False, *,
                 velocity_unit="header"):
        if fill is not None or force_center:
            raise ValueError("rotationmap: fill and force_center are not supported; diskmc leaves NaN pixels "
                             "out of the fit and takes the axes from the FITS header")
        self.path = os.path.abspath(path)
        if uncertainty is None:
            head, _, tail = self.path.rpartition("_")
            guess = head + "_d" + tail if head else None
            if guess is None or not os.path.exists(guess):
                raise ValueError("rotationmap: no uncertainty given and no bettermoments uncertainty file "
                                 "(%s) found; give uncertainty=PATH" % (guess or "NAME_dv0.fits"))
            uncertainty = guess
        self.uncertainty_path = os.path.abspath(uncertainty)
        self.FOV = FOV
        self.downsample = downsample
        self.velocity_unit = velocity_unit
        self.priors = {}
        # The config parser asks a map's fit for its parameters; reading the
        # map uses only the map's keys, so any one does.
        raw = _core.read_map(json.dumps(dict(self._map_config(), params={"vlsr": 0.0})), os.getcwd())
        self.data = raw["data"]
        self.error = raw["uncertainty"]
        self.xaxis = raw["x"]
        self.yaxis = raw["y"]
        self.dpix = raw["dpix"]
        beam = raw["beam"]
        self.bmaj, self.bmin, self.bpa = beam if beam is not None else (None, None, None)

    def _map_config(self):
        config = {"map": self.path, "uncertainty": self.uncertainty_path, "velocity_unit": self.velocity_unit}
        if self.FOV is not None:
            config["fov"] = float(self.FOV)
        if self.downsample is not None:
            config["downsample"] = self.downsample if self.downsample == "beam" else int(self.downsample)
        return config

    @property
    def vlsr(self):
        return np.nanmedian(self.data)

    @property
    def vlsr_kms(self):
        return self.vlsr / 1e3

    def set_prior(self, param, args, type="flat"):
        """Sets the prior of a parameter: 'flat' with args=[min, max], or
        'gaussian' with args=[mu, sig].

        Differences from eddy, on purpose: the flat prior is normalised
        (eddy caps its log at -100, which changes nothing inside the bounds);
        the prior is checked at once (bounds in order, sig > 0) and applies to
        this map's fits only.
        """
        type = type.lower()
        if type not in ("flat", "gaussian"):
            raise ValueError("type must be 'flat' or 'gaussian'.")
        args = [float(a) for a in args]
        if len(args) != 2:
            raise ValueError("set_prior: args must be two numbers, got %r" % (args,))
        if type == "flat":
            self.priors[param] = {"flat": [min(args), max(args)]}
        else:
            self.priors[param] = {"gaussian": [args[0], args[1]]}

    def fit_map(self, p0, params, r_min=None, r_max=None, optimize=True, nwalkers=None, nburnin=300,
                nsteps=100, scatter=1e-3, plots=None, returns=None, pool=None, mcmc="emcee", mcmc_kwargs=None,
                niter=1):
        """Fits the map, as eddy's ``fit_map``.

        ``params`` maps each parameter to a number (fixed at that value) or
        an int (its index in ``p0``, the start; the free parameters are
        sampled in the order of their indices); ``params['beam'] = True``
        convolves the model with the beam; the mask keys (r_min, r_max,
        exclude_r, phi_min, phi_max, exclude_phi, abs_phi, v_min, v_max,
        exclude_v) are eddy's. A flared surface is fitted when z0 or psi is
        given, the midplane otherwise; Keplerian rotation. Parameters left
        out take eddy's defaults and free ones eddy's default priors unless
        set_prior says otherwise.

        Args:
            p0 (list): starts of the free parameters.
            params (dict): see above; not modified (eddy writes r_min and
                r_max into it).
            r_min, r_max (float): the mask's radii, arcsec.
            optimize (bool): find the MAP point first. diskmc's MAP step
                (L-BFGS-B or Levenberg-Marquardt) replaces scipy's TNC; its
                covariance seeds the sampler's start (and NUTS' metric).
            nwalkers (int): walkers of the ensemble (default: the larger of
                32 and 4 x the free parameters; must be even and at least 2 x).
            nburnin, nsteps (int): burn-in and recorded steps per walker; for
                NUTS the default warmup and samples per chain.
            scatter (float): eddy's relative scatter of the walkers' start.
                diskmc starts the walkers in a 1e-3 ball without optimize
                and from the MAP covariance with it; another value warns.
            plots: diskmc draws no plots here (scripts/plot_fit.py draws
                them from the fit program's output); anything but None or
                'none' warns.
            returns (list): any of 'samples' (the default; all draws after
                burn-in pooled, draw-major as emcee's flat chain), 'sampler'
                (the FitResult), 'lnprob' (log posterior of each draw, as
                draws x chains), 'percentiles' (16, 50, 84 per parameter),
                'dict' (params with the medians in place of the indices and
                every default filled in), 'model', 'residual' (or
                'residuals'), 'none'. One item is returned as itself, more as
                a list in this order.
            pool: not used (diskmc runs walkers and chains on its own
                threads; mcmc_kwargs['threads'] sets how many); given, it warns.
            mcmc (str): 'emcee' (diskmc's ensemble sampler, emcee's stretch
                move) or 'nuts' (diskmc's NUTS).
            mcmc_kwargs (dict): for 'emcee': seed, moves ('stretch' or 'de'),
                thin; for 'nuts': chains (4), warmup (nburnin), samples
                (nsteps), max_tree_depth (10), dense (False), target_accept
                (0.8), seed; either: threads (0 = all cores).
            niter (int): fits in turn, each starting (and building its mask)
                at the previous one's medians.

        Differences from eddy, on purpose: 'model' and 'residual' are the
        model at the posterior median (eddy averages 50 random draws' models)
        and data - model (eddy's code returns data * 1e3 - model), NaN
        outside the mask; 'zeus' is not supported.
        """
        if returns is None:
            returns = ["samples"]
        returns = list(np.atleast_1d(returns))
        if plots is not None and "none" not in list(np.atleast_1d(plots)):
            warnings.warn("diskmc.rotationmap.fit_map draws no plots; use the FitResult "
                          "(returns=['sampler']) or scripts/plot_fit.py")
        if pool is not None:
            warnings.warn("fit_map: pool is not used: diskmc runs on its own threads (mcmc_kwargs['threads'])")
        if mcmc not in ("emcee", "nuts"):
            raise ValueError("fit_map: mcmc must be 'emcee' or 'nuts', got %r" % (mcmc,))
        if scatter != 1e-3:
            warnings.warn("fit_map: scatter is not used: walkers start in a 1e-3 ball, or from the MAP "
                          "covariance when optimize=True")
        mcmc_kwargs = dict(mcmc_kwargs or {})
        p0 = np.atleast_1d(np.squeeze(np.asarray(p0, dtype=float)))
        params = dict(params)
        if r_min is not None:
            params["r_min"] = r_min
        if r_max is not None:
            params["r_max"] = r_max

        free = sorted((index, name) for name, index in params.items() if _is_index(index))
        if [index for index, _ in free] != list(range(len(p0))):
            raise ValueError("Mismatch in labels and p0. Check for integers: the indices in params are %s "
                             "for %d values in p0" % ([index for index, _ in free], len(p0)))
        names = [name for _, name in free]
        sampler = self._sampler_config(mcmc, mcmc_kwargs, len(names), nwalkers, nburnin, nsteps)

        starts = p0
        result = None
        for _ in range(int(niter)):
            config = self._map_config()
            config["params"] = self._params_config(params, names, starts)
            mask = {key: params[key] for key in _MASK_KEYS if params.get(key) is not None}
            for key in _MASK_FLAGS:
                if key in mask:
                    mask[key] = bool(mask[key])
            config["mask"] = mask
            config["beam"] = bool(params.get("beam", False))
            config["optimize"] = bool(optimize)
            if "threads" in mcmc_kwargs:
                config["threads"] = int(mcmc_kwargs["threads"])
            config["sampler"] = sampler
            from . import fit
            result = fit(config)
            starts = np.array([result.summary[name]["p50"] for name in names])

        return self._returns(result, params, names, returns)

    def _params_config(self, params, names, starts):
        out = {}
        for name, start in zip(names, starts):
            entry = {"start": float(start)}
            if name in self.priors:
                entry["prior"] = self.priors[name]
            out[name] = entry
        for name, value in params.items():
            if name in names or name in _MASK_KEYS or name == "beam" or value is None:
                continue
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ValueError("fit_map: params['%s'] = %r is not supported (a number fixes a parameter, an int "
                                 "indexes p0)" % (name, value))
            out[name] = float(value)
        return out

    @staticmethod
    def _sampler_config(mcmc, kwargs, dim, nwalkers, nburnin, nsteps):
        def take(key, default):
            return kwargs.get(key, default)

        known = {"emcee": {"seed", "moves", "thin", "threads"},
                 "nuts": {"chains", "warmup", "samples", "max_tree_depth", "dense", "target_accept", "seed",
                          "threads"}}[mcmc]
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise ValueError("fit_map: mcmc_kwargs %s not understood for mcmc=%r (known: %s)"
                             % (unknown, mcmc, ", ".join(sorted(known))))
        if mcmc == "emcee":
            walkers = nwalkers if nwalkers is not None else max(32, 4 * dim)
            config = {"kind": "ensemble", "walkers": int(walkers), "burn": int(nburnin), "steps": int(nsteps),
                      "seed": int(take("seed", 1))}
            if "moves" in kwargs:
                config["moves"] = kwargs["moves"]
            if "thin" in kwargs:
                config["thin"] = int(kwargs["thin"])
            return config
        config = {"kind": "nuts", "chains": int(take("chains", 4)), "warmup": int(take("warmup", nburnin)),
                  "samples": int(take("samples", nsteps)), "seed": int(take("seed", 1))}
        if "max_tree_depth" in kwargs:
            config["max_tree_depth"] = int(kwargs["max_tree_depth"])
        if "dense" in kwargs:
            config["dense_mass"] = bool(kwargs["dense"])
        if "target_accept" in kwargs:
            config["target_accept"] = float(kwargs["target_accept"])
        return config

    @staticmethod
    def _returns(result, params, names, returns):
        if "none" in returns:
            return None
        samples = result.samples
        out = []
        if "samples" in returns:
            out.append(samples)
        if "sampler" in returns:
            out.append(result)
        if "lnprob" in returns:
            out.append(result.log_density.T)
        if "percentiles" in returns:
            out.append(np.percentile(samples, [16, 50, 84], axis=0))
        if "dict" in returns:
            medians = dict(params)
            medians.update(result.medians)
            out.append(medians)
        if "model" in returns:
            out.append(result.model)
        if "residual" in returns or "residuals" in returns:
            out.append(result.residual)
        return out if len(out) > 1 else out[0]
