#pragma once
// Umbrella header: everything except the optional I/O (diskmc/io/), which
// needs cfitsio and links through the separate diskmc::fits target.

#include "diskmc/autodiff.hpp"
#include "diskmc/concepts.hpp"
#include "diskmc/diagnostics/autocorrelation.hpp"
#include "diskmc/diagnostics/convergence.hpp"
#include "diskmc/diagnostics/hmc.hpp"
#include "diskmc/diagnostics/pareto_smoothing.hpp"
#include "diskmc/diagnostics/quantiles.hpp"
#include "diskmc/diagnostics/summary.hpp"
#include "diskmc/disk.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/fit.hpp"
#include "diskmc/inference.hpp"
#include "diskmc/samplers/ensemble.hpp"
#include "diskmc/samplers/laplace.hpp"
#include "diskmc/samplers/nuts.hpp"
