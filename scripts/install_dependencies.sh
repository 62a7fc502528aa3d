#!/usr/bin/env bash
# Installs what diskmc needs from Debian 12's packages; safe to run again.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  libeigen3-dev      # linear algebra, arrays, AutoDiffScalar (test oracle), FFT
  libboost-dev       # Boost.Math
  catch2             # tests (v2.13: <catch2/catch.hpp>)
  libcfitsio-dev     # FITS maps (the diskmc::fits target)
  libopenmpi-dev openmpi-bin  # optional: MPI, the diskmc::mpi target (distributed likelihood)
  libfftw3-dev       # optional: FFTW, the diskmc::fftw target (beam convolution by FFT, fast autocorrelations)
  liblbfgspp-dev     # L-BFGS-B for the MAP step (header-only, on Eigen)
  nlohmann-json3-dev # fit configuration files
  python3-matplotlib python3-numpy python3-astropy  # optional: scripts/plot_fit.py (PNG plots of a fit)
  pybind11-dev python3-dev python3-pybind11 python3-pytest  # optional: the Python module (diskmc for Python) and its tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install_dependencies: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install_dependencies: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
