#pragma once
// How long the next round is when a sampler stops on precision (NUTS'
// chains and the ensemble's walkers alike).

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace diskmc::detail {

/// The next round's draws (per chain or walker) when stopping on precision:
/// `wanted`, the draws the estimates so far say the targets need (NaN or not
/// positive when they cannot say), held between one round_step more than
/// `draws` and double `draws`, rounded up to a multiple of round_step, and at
/// most `budget`.
inline std::size_t next_precision_round(std::size_t draws, double wanted, std::size_t round_step,
                                        std::size_t budget) {
    const double at_least = static_cast<double>(draws + round_step), at_most = 2.0 * static_cast<double>(draws);
    const double bounded = wanted > 0 ? std::clamp(wanted, at_least, std::max(at_least, at_most)) : at_most;
    const auto steps = static_cast<std::size_t>(std::ceil(std::max(bounded, at_least) / static_cast<double>(round_step)));
    return std::min(steps * round_step, budget);
}

}  // namespace diskmc::detail
