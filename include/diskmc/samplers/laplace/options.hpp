#pragma once
// What the importance-sampled Laplace sampler is asked to do.

#include <cstddef>
#include <functional>

namespace diskmc {

/// Passed to the progress callback after every block of draws.
struct laplace_progress {
    /// Draws evaluated so far, and how many were asked.
    std::size_t draws_done = 0;
    std::size_t draws = 0;
    /// Seconds since the call started.
    double elapsed_seconds = 0.0;
};

/// Settings of `laplace()`.
struct laplace_options {
    /// Independent draws from the Laplace normal (the importance sample).
    /// 4000 keeps the Pareto k̂ threshold at its cap of 0.7 (it is
    /// min(1 - 1/log10(S), 0.7)) and gives the tail fit ~190 draws.
    std::size_t draws = 4000;
    /// Multiplies the normal's standard deviations. Above 1 the proposal's
    /// tails are wider than the target's where the MAP Hessian overstates the
    /// curvature (bounded weights, a lower k̂), at a cost in ESS per draw of
    /// about (s^2 / (2 s^2 - 1))^(dim/2) on a normal target.
    double scale = 1.0;
    /// Draws in the resampled set (systematic resampling with replacement
    /// from the smoothed weights); 0 = as many as `draws`.
    std::size_t resampled_draws = 0;
    /// Threads evaluating the draws when the model has no log_density_batch
    /// (0 = all cores). Results do not depend on it.
    std::size_t threads = 0;
    /// Draws evaluated between progress calls (and per log_density_batch
    /// call): large enough to keep the threads busy, small enough to stop
    /// promptly.
    std::size_t block = 256;
    /// Called after every block; return false to stop early (the result then
    /// holds the draws evaluated so far, stopped_early set).
    std::function<bool(const laplace_progress&)> progress = {};
};

}  // namespace diskmc
