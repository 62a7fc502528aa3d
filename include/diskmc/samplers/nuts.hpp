#pragma once
// The No-U-Turn sampler: multinomial NUTS with the generalised U-turn
// criterion (Betancourt 2017), unit/diagonal/dense Euclidean metrics, Stan's
// warmup (dual-averaged step size, windowed metric adaptation) with a
// scale-relative metric regularisation, optional standardisation of the
// parameters, and chains on threads or in lockstep.
//
//   auto run = diskmc::nuts_chains(model, init, {.sampler = {.metric = diskmc::metric_kind::dense}}, 42);
//   std::string table = diskmc::format_summary(diskmc::summarize(run));

#include "diskmc/samplers/nuts/options.hpp"
#include "diskmc/samplers/nuts/result.hpp"
#include "diskmc/samplers/nuts/run.hpp"
#include "diskmc/samplers/nuts/summary.hpp"
