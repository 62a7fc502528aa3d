#!/usr/bin/python3
"""Writes good and broken FITS maps for run_cases.sh into OUTDIR.
usage: make_fits.py BENCH_DIR OUTDIR"""
import shutil, sys, os
import numpy as np
from astropy.io import fits

bench, out = sys.argv[1], sys.argv[2]
v0 = os.path.join(bench, "hd163296_like_v0.fits")
dv0 = os.path.join(bench, "hd163296_like_dv0.fits")
shutil.copyfile(v0, os.path.join(out, "v0.fits"))
shutil.copyfile(dv0, os.path.join(out, "dv0.fits"))
raw = open(v0, "rb").read()

def put(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

def card(key, value):
    text = f"{key:<8}= {value:>20}"
    return text.ljust(80).encode("ascii")

def patch(data, key, value):
    """Replaces the card KEY in the primary header (raw bytes, so values
    astropy will not write, like NAN, go through)."""
    end = data.index(b"END" + b" " * 77)
    for at in range(0, end, 80):
        if data[at:at + 8].decode("ascii").strip() == key:
            return data[:at] + card(key, value) + data[at + 80:]
    # not there: insert before END (header has spare room in its block)
    return data[:end] + card(key, value) + data[end + 80:] if data[end + 80:end + 160].strip() == b"" else None

put("trunc.fits", raw[:5000])
put("trunc_data.fits", raw[:2880 + 1000])
put("empty.fits", b"")
put("text.fits", b"this is not a FITS file\n" * 200)
put("garbage.fits", os.urandom(8640))
put("huge_naxis.fits", patch(patch(raw, "NAXIS1", "1000000000"), "NAXIS2", "1000000000"))
put("naxis1_zero.fits", patch(raw, "NAXIS1", "0"))
put("naxis_neg.fits", patch(raw, "NAXIS1", "-5"))
put("nan_cdelt.fits", patch(raw, "CDELT1", "NAN"))
put("zero_cdelt.fits", patch(raw, "CDELT1", "0.0"))
put("huge_bmaj.fits", patch(raw, "BMAJ", "1.0E300"))
put("neg_bmaj.fits", patch(raw, "BMAJ", "-1.0"))
put("bunit_k.fits", patch(raw, "BUNIT", "'K       '"))
put("bunit_kms.fits", patch(raw, "BUNIT", "'km/s    '"))
put("bitpix_bad.fits", patch(raw, "BITPIX", "7"))

with fits.open(v0) as h:
    header, data = h[0].header, h[0].data.astype(np.float64)
with fits.open(dv0) as h:
    dheader, ddata = h[0].header, h[0].data.astype(np.float64)
fits.PrimaryHDU(np.full_like(data, np.nan), header).writeto(os.path.join(out, "allnan_v0.fits"))
fits.PrimaryHDU(np.zeros_like(ddata), dheader).writeto(os.path.join(out, "zero_dv0.fits"))
fits.PrimaryHDU(-np.abs(ddata), dheader).writeto(os.path.join(out, "neg_dv0.fits"))
fits.PrimaryHDU(np.full_like(ddata, np.inf), dheader).writeto(os.path.join(out, "inf_dv0.fits"))
fits.PrimaryHDU(ddata[:100, :120].copy(), dheader).writeto(os.path.join(out, "small_dv0.fits"))
fits.PrimaryHDU(np.stack([data, data]), header).writeto(os.path.join(out, "cube2.fits"))
fits.PrimaryHDU(data[None, :, :], header).writeto(os.path.join(out, "cube1.fits"))
fits.PrimaryHDU(data[0].copy(), header).writeto(os.path.join(out, "naxis1.fits"))
fits.PrimaryHDU(data[:1, :1].copy(), header).writeto(os.path.join(out, "one_pixel.fits"))
fits.PrimaryHDU(ddata[:1, :1].copy(), dheader).writeto(os.path.join(out, "one_pixel_dv0.fits"))
fits.PrimaryHDU(data.astype(np.int16), header).writeto(os.path.join(out, "int16.fits"))
h2 = header.copy(); del h2["CDELT1"]; del h2["CDELT2"]
fits.PrimaryHDU(data, h2).writeto(os.path.join(out, "no_cdelt.fits"))
fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, header)]).writeto(os.path.join(out, "ext_only.fits"))
h3 = dheader.copy(); h3["CDELT1"] = 2 * h3["CDELT1"]; h3["CDELT2"] = 2 * h3["CDELT2"]
fits.PrimaryHDU(ddata, h3).writeto(os.path.join(out, "otherpix_dv0.fits"))
