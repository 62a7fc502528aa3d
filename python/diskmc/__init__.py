"""diskmc for Python: Bayesian fits of protoplanetary-disk rotation maps.

Two ways in:

- ``diskmc.fit(config)``: the fit program's JSON configuration as a dict
  (reference at the top of examples/fit_config.hpp), returning a FitResult.
- ``diskmc.rotationmap(path, ...).fit_map(p0, params, ...)``: eddy's
  interface, so an eddy script switches by changing its import.

Bad input raises ValueError with the library's message. Ctrl-C during the
MAP step or warmup raises KeyboardInterrupt; during sampling the fit stops and
returns the draws so far, with ``interrupted`` set and a warning saying so.
"""

import json
import os

import numpy as np

from . import _core
from .rotationmap import rotationmap  # noqa: F401

__all__ = ["fit", "FitResult", "model_image", "rotationmap"]


class FitResult:
    """The result of a fit.

    Attributes:
        names: the free parameters, in sampling order.
        summary: name -> {p16, p50, p84, mean, sd, ess_bulk, ess_tail, rhat
            [, tau]} (None where a value is not finite).
        draws: every draw, chains x draws x parameters (walkers count as
            chains for the ensemble); PA wrapped into [0, 360).
        log_density: the log posterior density of every draw, chains x draws.
        medians: every model parameter (free, fixed and defaults) -> its
            posterior median or value.
        model, residual: the model and data - model at the posterior median
            on the fitted map (after FOV and downsampling); the residual is
            NaN outside the mask.
        mask, data, uncertainty: the fitted pixels and the fitted map.
        x, y, dpix, beam: the fitted map's axes (arcsec offsets), pixel size
            and beam (bmaj, bmin, bpa) or None.
        warnings: what a careful user must read.
        interrupted: Ctrl-C stopped the sampler; the summary is of the draws so far.
        map_point, map_converged: the MAP step's point (name -> value), if it ran.
        wall_seconds, log_density_evaluations, gradient_evaluations:
            the fit's time and its likelihood evaluations.
        report: the whole summary as the fit program's summary.json holds it
            (the sampler's settings, the Laplace verdict, fixed values...).
    """

    def __init__(self, raw):
        self.report = json.loads(raw["report"])
        self.names = list(raw["names"])
        self.summary = self.report["parameters"]
        self.draws = raw["draws"]
        self.log_density = raw["log_density"]
        self.medians = raw["medians"]
        self.model = raw["model"]
        self.residual = raw["residual"]
        self.mask = raw["mask"]
        self.data = raw["data"]
        self.uncertainty = raw["uncertainty"]
        self.x = raw["grid"]["x"]
        self.y = raw["grid"]["y"]
        self.dpix = raw["grid"]["dpix"]
        self.beam = raw["grid"]["beam"]
        self.warnings = list(self.report["warnings"])
        self.interrupted = self.report["interrupted"]
        self.map_point = self.report.get("map_point")
        self.map_converged = self.report.get("map_converged")
        for key in ("wall_seconds", "log_density_evaluations", "gradient_evaluations"):
            setattr(self, key, self.report[key])

    @property
    def samples(self):
        """The draws pooled, (draws x chains) x parameters, ordered as emcee's
        ``get_chain(flat=True)`` (draw-major)."""
        return self.draws.transpose(1, 0, 2).reshape(-1, len(self.names))

    def __repr__(self):
        lines = ["FitResult(%s%s)" % (", ".join(self.names), ", interrupted" if self.interrupted else "")]
        for name in self.names:
            s = self.summary[name]
            lines.append("  %-9s %.6g +%.3g -%.3g (ess %s, rhat %s)" % (
                name, s["p50"], s["p84"] - s["p50"], s["p50"] - s["p16"],
                "%.0f" % s["ess_bulk"] if s["ess_bulk"] is not None else "-",
                "%.3f" % s["rhat"] if s["rhat"] is not None else "-"))
        return "\n".join(lines)


def fit(config, base_dir=None):
    """Runs the fit a configuration describes, as ``fit_rotation_map --config``.

    Args:
        config (dict): the JSON configuration as a dict (keys "map",
            "uncertainty", "velocity_unit", "fov", "downsample", "params",
            "mask", "beam", "optimize", "threads", "sampler"; see the README).
            Without "map" the fit runs on the built-in HD163296-like problem.
        base_dir (str): where relative paths in it start (default: the
            current folder).

    Returns:
        FitResult

    Raises:
        ValueError: for bad input, with the library's message.
        KeyboardInterrupt: Ctrl-C before sampling began.
    """
    if not isinstance(config, dict):
        raise ValueError("diskmc.fit: config must be a dict (the JSON configuration), got %s"
                         % type(config).__name__)
    text = _config_text(config)
    return FitResult(_core.fit(text, os.path.abspath(base_dir or os.getcwd())))


def _config_text(config):
    try:
        return json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError("diskmc: the config cannot be written as JSON (%s)" % error) from None


def model_image(params, nx, ny, dpix, beam=None, convolve_beam=False, model=None):
    """eddy's model rotation map (m/s) on a square-pixel grid centred on the image.

    Args:
        params (dict): parameter name -> value, eddy's names; the others take
            eddy's defaults.
        model (dict): the model's components, as a configuration's "model":
            "surface" ("thin", "flared", "conical"; by default flared when z0
            or psi is given, else thin), "rotation" ("keplerian",
            "power_law", "self_gravity"), "radial" and "vertical" flows
            ("none", "power_law").
        nx, ny (int): columns and rows.
        dpix (float): pixel size, arcsec (x decreases with column, as eddy's axes).
        beam (tuple): (bmaj, bmin, bpa) in arcsec and degrees, for convolve_beam.
        convolve_beam (bool): convolve with the beam (eddy's params['beam']).

    Returns:
        numpy array ny x nx.
    """
    values = []
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError("model_image: params['%s'] must be a number, got %r" % (name, value))
        values.append((str(name), float(value)))
    if model is not None and not isinstance(model, dict):
        raise ValueError("model_image: model must be a dict, got %s" % type(model).__name__)
    pixel = float(dpix) / 3600.0
    return _core.model_image(values, _config_text(model or {}), int(nx), int(ny), -pixel, pixel,
                             None if beam is None else tuple(float(b) for b in beam), bool(convolve_beam))
