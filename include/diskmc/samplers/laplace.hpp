#pragma once
// Importance-sampled Laplace approximation: independent draws from the
// normal at the MAP point, weighted by the target and Pareto-smoothed, with
// k̂ saying whether the result stands.
//
//   auto run = diskmc::laplace(model, map_point, inverse_hessian, {.draws = 4000}, 42);
//   if (!run.reliable()) ...  // k̂ > 0.7: use NUTS

#include "diskmc/samplers/laplace/options.hpp"
#include "diskmc/samplers/laplace/result.hpp"
#include "diskmc/samplers/laplace/sampler.hpp"
