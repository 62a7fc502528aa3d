#!/usr/bin/env python3
"""Plots of a diskmc fit: a corner plot, trace plots and data/model/residual maps.

Usage: plot_fit.py DIR [--data FILE] [--truth FILE]

Reads, from DIR (as written by examples/fit_rotation_map):
  chains.csv     every chain in CmdStan's CSV layout with a chain__ column
  summary.json   {"parameters": {NAME: {"p16", "p50", "p84", ...}}, "data_map": PATH, ...}
  model.fits     the model map at the posterior median
  residual.fits  data - model
and the data map: --data FILE, else summary.json's "data_map" (relative paths
are tried against DIR, then the working directory), else DIR/data.fits, else
model + residual. --truth FILE draws true values (a JSON object of
NAME: value, or with them under "truth") on the corner plot.

Writes DIR/corner.png, DIR/traces.png and DIR/maps.png (each under a temporary
name, then renamed). Needs Debian's python3-matplotlib, python3-numpy and
python3-astropy, nothing else. Exits with status 1 and one message on stderr
when an input is missing or malformed, 2 on a usage error.
"""

import argparse
import io
import json
import math
import os
import sys


def fail(message):
    sys.stderr.write(f"plot_fit.py: {message}\n")
    sys.exit(1)


try:
    import numpy as np
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from astropy.io import fits
except ImportError as error:
    fail(f"{error.name or error} is missing: this script needs matplotlib, numpy and astropy "
         f"(Debian: apt install python3-matplotlib python3-numpy python3-astropy); "
         f"interpreter: {sys.executable}")


# ---- reading -------------------------------------------------------------------------


def read_chains(path):
    """chains.csv -> (column names, values array rows x columns); '#' lines skipped."""
    header = None
    body = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            if header is None:
                header = line.strip().split(",")
            else:
                body.append(line)
    if header is None:
        fail(f"{path} has no column header")
    if not body:
        fail(f"{path} holds no draws")
    try:
        values = np.loadtxt(io.StringIO("".join(body)), delimiter=",", ndmin=2)
    except ValueError as error:
        fail(f"{path}: unreadable draws ({error})")
    if values.shape[1] != len(header):
        fail(f"{path}: {values.shape[1]} values per row for {len(header)} columns")
    return header, values


def read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        fail(f"{path} is not valid JSON ({error})")


def read_map(path):
    """A FITS map -> (image, extent in arcsec offsets [left, right, bottom, top], unit)."""
    try:
        with fits.open(path) as hdus:
            hdu = next((h for h in hdus if h.data is not None and h.data.ndim >= 2), None)
            if hdu is None:
                fail(f"{path} holds no image")
            image = np.asarray(hdu.data, dtype=float)
            while image.ndim > 2:
                image = image[0]
            header = hdu.header
    except OSError as error:
        fail(f"cannot read {path} ({error})")
    ny, nx = image.shape
    # Pixel i (0-based) sits at (i + 1 - CRPIX) * CDELT; a negative CDELT1
    # (RA decreasing with i) puts east on the left, as on the sky.
    cdelt1 = header.get("CDELT1", 1.0 / 3600) * 3600
    cdelt2 = header.get("CDELT2", 1.0 / 3600) * 3600
    crpix1 = header.get("CRPIX1", (nx + 1) / 2)
    crpix2 = header.get("CRPIX2", (ny + 1) / 2)
    left = (0.5 - crpix1) * cdelt1
    right = (nx + 0.5 - crpix1) * cdelt1
    bottom = (0.5 - crpix2) * cdelt2
    top = (ny + 0.5 - crpix2) * cdelt2
    return image, [left, right, bottom, top], str(header.get("BUNIT", "")).strip()


def find_data_map(directory, summary, override):
    if override:
        if not os.path.isfile(override):
            fail(f"the data map {override} does not exist")
        return override
    recorded = summary.get("data_map")
    if recorded:
        for candidate in (os.path.join(directory, recorded), recorded):
            if os.path.isfile(candidate):
                return candidate
        fail(f"summary.json names the data map {recorded}, which is neither in {directory} "
             f"nor in the working directory; pass --data FILE")
    fallback = os.path.join(directory, "data.fits")
    return fallback if os.path.isfile(fallback) else None


def read_truth(path):
    if not path:
        return {}
    truth = read_json(path)
    truth = truth.get("truth", truth) if isinstance(truth, dict) else {}
    return {name: float(value) for name, value in truth.items()
            if isinstance(value, (int, float))}


# ---- plots ---------------------------------------------------------------------------


def save(figure, path):
    """Writes a PNG under a temporary name, then renames it into place."""
    temporary = path + ".partial"
    figure.savefig(temporary, format="png", dpi=110)
    plt.close(figure)
    os.replace(temporary, path)


def quantiles(name, values, summary):
    line = summary.get("parameters", {}).get(name, {})
    try:
        return [float(line[key]) for key in ("p16", "p50", "p84")]
    except (KeyError, TypeError, ValueError):
        return list(np.percentile(values, [16, 50, 84]))


def significant(value, error):
    """value and error rounded to the error's second significant digit."""
    digits = 2 - int(math.floor(math.log10(error))) - 1 if error > 0 and math.isfinite(error) else 3
    digits = max(digits, 0)
    return f"{value:.{digits}f}", digits


def corner_plot(names, samples, summary, truth, path):
    n = len(names)
    size = min(2.2 * n, 22.0)
    figure, axes = plt.subplots(n, n, figsize=(max(size, 4.0), max(size, 4.0)), squeeze=False)
    ranges = []
    for j in range(n):
        low, high = np.percentile(samples[:, j], [0.5, 99.5])
        if not high > low:
            low, high = low - 0.5, high + 0.5
        pad = 0.05 * (high - low)
        ranges.append((low - pad, high + pad))
    scatter = samples.shape[0] < 2000
    for i in range(n):
        for j in range(n):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                p16, p50, p84 = quantiles(names[i], samples[:, i], summary)
                ax.hist(samples[:, i], bins=40, range=ranges[i], histtype="stepfilled",
                        color="#9bb7d4", edgecolor="#1f4e79")
                for value, style in ((p16, "--"), (p50, "-"), (p84, "--")):
                    ax.axvline(value, color="#1f4e79", linestyle=style, linewidth=1)
                if names[i] in truth:
                    ax.axvline(truth[names[i]], color="#c0392b", linewidth=1.2)
                text, digits = significant(p50, min(p84 - p50, p50 - p16))
                ax.set_title(f"{names[i]} = {text}$^{{+{p84 - p50:.{digits}f}}}"
                             f"_{{-{p50 - p16:.{digits}f}}}$", fontsize=9)
                ax.set_yticks([])
                ax.set_xlim(ranges[i])
            else:
                x, y = samples[:, j], samples[:, i]
                if scatter:
                    ax.plot(x, y, ".", color="#1f4e79", markersize=1.5, alpha=0.4)
                else:
                    ax.hist2d(x, y, bins=40, range=[ranges[j], ranges[i]], cmap="Blues", cmin=1)
                if names[j] in truth and names[i] in truth:
                    ax.plot(truth[names[j]], truth[names[i]], "s", color="#c0392b", markersize=4)
                ax.set_xlim(ranges[j])
                ax.set_ylim(ranges[i])
            ax.tick_params(labelsize=7)
            if i < n - 1:
                ax.set_xticklabels([])
            else:
                ax.set_xlabel(names[j], fontsize=9)
                for label in ax.get_xticklabels():
                    label.set_rotation(45)
            if i != j:
                if j == 0:
                    ax.set_ylabel(names[i], fontsize=9)
                else:
                    ax.set_yticklabels([])
    figure.suptitle(f"{samples.shape[0]} draws; lines: 16/50/84 %"
                    + ("; red: truth" if truth else ""), fontsize=10)
    figure.subplots_adjust(left=0.08, bottom=0.08, right=0.98, top=0.94, wspace=0.06, hspace=0.06)
    save(figure, path)


def trace_plot(names, columns, values, path):
    chain_ids = values[:, columns.index("chain__")] if "chain__" in columns else np.ones(len(values))
    chains = sorted(set(chain_ids.tolist()))
    shown = (["lp__"] if "lp__" in columns else []) + names
    divergent = values[:, columns.index("divergent__")] > 0.5 if "divergent__" in columns else None
    figure, axes = plt.subplots(len(shown), 1, figsize=(10, 1.4 * len(shown) + 0.8), sharex=True,
                                squeeze=False)
    alpha = 0.8 if len(chains) <= 8 else max(0.15, 8.0 / len(chains))
    colours = plt.get_cmap("tab10")
    for row, name in enumerate(shown):
        ax = axes[row, 0]
        column = values[:, columns.index(name)]
        for k, chain in enumerate(chains):
            mine = chain_ids == chain
            ax.plot(np.arange(mine.sum()), column[mine], linewidth=0.6, alpha=alpha,
                    color=colours(k % 10) if len(chains) <= 10 else "#1f4e79")
            if divergent is not None and divergent[mine].any():
                # Ticks along the bottom edge, where the lines cannot hide them.
                steps = np.flatnonzero(divergent[mine])
                ax.plot(steps, np.full(steps.size, 0.04), "|", color="#c0392b", markersize=8,
                        transform=ax.get_xaxis_transform())
        ax.set_ylabel(name, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("draw", fontsize=9)
    note = f"{len(chains)} chains" + (" (one per walker)" if "divergent__" not in columns else "")
    if divergent is not None:
        note += f"; {int(divergent.sum())} divergent draws (red)"
    figure.suptitle(note, fontsize=10)
    figure.tight_layout()
    save(figure, path)


def map_panels(data, model, residual, data_label, path):
    panels = [(data_label, data), ("model (median)", model), ("residual (data - model)", residual)]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    model_image, model_extent, unit = model
    finite_model = model_image[np.isfinite(model_image)]
    if finite_model.size == 0:
        fail("model.fits holds no finite pixel")
    low, high = np.percentile(finite_model, [1, 99])
    residual_image = residual[0]
    finite_residual = np.abs(residual_image[np.isfinite(residual_image)])
    spread = np.percentile(finite_residual, 98) if finite_residual.size else 1.0
    spread = spread if spread > 0 else 1.0
    for ax, (title, (image, extent, image_unit)) in zip(axes, panels):
        is_residual = image is residual_image
        shown = ax.imshow(image, origin="lower", extent=extent, cmap="RdBu_r",
                          vmin=-spread if is_residual else low, vmax=spread if is_residual else high,
                          interpolation="nearest")
        bar = figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        bar.set_label(image_unit or unit or "value", fontsize=9)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(r"$\Delta$ RA (arcsec)", fontsize=9)
        ax.set_xlim(model_extent[0], model_extent[1])
        ax.set_ylim(model_extent[2], model_extent[3])
    axes[0].set_ylabel(r"$\Delta$ Dec (arcsec)", fontsize=9)
    finite = residual_image[np.isfinite(residual_image)]
    if finite.size:
        figure.suptitle(f"residual: mean {finite.mean():.3g}, rms {np.sqrt(np.mean(finite ** 2)):.3g} "
                        f"{unit} over {finite.size} pixels", fontsize=10)
    figure.tight_layout()
    save(figure, path)


# ---- main ----------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", metavar="DIR", help="the fit's output folder")
    parser.add_argument("--data", help="the data map (overrides summary.json's data_map)")
    parser.add_argument("--truth", help="JSON with true parameter values for the corner plot")
    args = parser.parse_args()

    directory = args.directory
    if not os.path.isdir(directory):
        fail(f"{directory} is not a folder")
    inputs = {name: os.path.join(directory, name)
              for name in ("chains.csv", "summary.json", "model.fits", "residual.fits")}
    missing = [name for name, path in inputs.items() if not os.path.isfile(path)]
    if missing:
        fail(f"missing in {directory}: {', '.join(missing)} (written by fit_rotation_map)")
    if args.truth and not os.path.isfile(args.truth):
        fail(f"the truth file {args.truth} does not exist")

    summary = read_json(inputs["summary.json"])
    if not isinstance(summary, dict) or not isinstance(summary.get("parameters"), dict):
        fail(f"{inputs['summary.json']} has no \"parameters\" object")
    columns, values = read_chains(inputs["chains.csv"])
    parameters = [c for c in columns if not c.endswith("__")]
    if not parameters:
        fail(f"{inputs['chains.csv']} has no parameter columns")
    # The summary's order when it names the same parameters, else the file's.
    ordered = [name for name in summary["parameters"] if name in parameters]
    names = ordered if ordered else parameters
    samples = values[:, [columns.index(name) for name in names]]
    truth = read_truth(args.truth)

    model = read_map(inputs["model.fits"])
    residual = read_map(inputs["residual.fits"])
    if model[0].shape != residual[0].shape:
        fail("model.fits and residual.fits differ in shape")
    data_path = find_data_map(directory, summary, args.data)
    if data_path:
        data, label = read_map(data_path), f"data ({os.path.basename(data_path)})"
    else:
        data, label = (model[0] + residual[0], model[1], model[2]), "data (model + residual)"

    corner_plot(names, samples, summary, truth, os.path.join(directory, "corner.png"))
    trace_plot(names, columns, values, os.path.join(directory, "traces.png"))
    map_panels(data, model, residual, label, os.path.join(directory, "maps.png"))
    print(f"plot_fit.py: wrote corner.png, traces.png and maps.png in {directory}")


if __name__ == "__main__":
    main()
