#pragma once
// The affine-invariant ensemble sampler (emcee's algorithm): moves, start,
// options, result, checkpoint file, and the sampler itself.
//
//   diskmc::ensemble_result r = diskmc::ensemble(
//       model, diskmc::scatter_start{.point = p0, .walkers = 32},
//       {.steps = 2000, .burn_in = 500, .moves = {{diskmc::de_move{}, 0.8},
//                                                {diskmc::de_snooker_move{}, 0.2}}},
//       /*seed=*/42);

#include "diskmc/diagnostics/autocorrelation.hpp"
#include "diskmc/samplers/ensemble/checkpoint.hpp"
#include "diskmc/samplers/ensemble/moves.hpp"
#include "diskmc/samplers/ensemble/options.hpp"
#include "diskmc/samplers/ensemble/result.hpp"
#include "diskmc/samplers/ensemble/sampler.hpp"
#include "diskmc/samplers/ensemble/start.hpp"
#include "diskmc/samplers/ensemble/summary.hpp"
