#pragma once
// Umbrella header: everything except the optional I/O (diskmc/io/), which
// needs cfitsio and links through the separate diskmc::fits target.

#include "diskmc/concepts.hpp"
#include "diskmc/diagnostics/autocorrelation.hpp"
#include "diskmc/diagnostics/quantiles.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/samplers/ensemble.hpp"
