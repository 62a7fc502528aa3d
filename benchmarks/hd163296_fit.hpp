#pragma once
// The fit of the HD163296-like benchmark problem through
// fit_rotation_map(options, hd163296_like::family{}), compiled once (in
// hd163296_fit.cpp, the CMake target diskmc_bench_hd163296_fit) for the
// benchmarks that run it: bench_fit, bench_laplace, bench_nuts_warmup. The
// fit instantiates the MAP step and every sampler: 1-2 CPU-minutes of
// compile time at -O3 in each file that calls it.

#include "diskmc/fit/options.hpp"
#include "diskmc/fit/result.hpp"

namespace diskmc::bench {

/// diskmc::fit_rotation_map(options, hd163296_like::family{}).
fit_result fit_hd163296_like(const fit_options& options);

}  // namespace diskmc::bench
