#pragma once
// The state the ensemble sampler carries from one iteration to the next (and
// writes to its checkpoint), and how it becomes a result.

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "diskmc/detail/random_stream.hpp"
#include "diskmc/samplers/ensemble/result.hpp"

namespace diskmc::detail {

/// Everything the sampler carries from one iteration to the next.
struct ensemble_state {
    Eigen::MatrixXd positions;      // dim x walkers
    Eigen::VectorXd log_densities;  // walkers
    random_stream random;
    std::uint64_t iteration = 0;
    std::uint64_t log_density_evaluations = 0;
    std::uint64_t outside_support_proposals = 0;
    std::uint64_t invalid_proposals = 0;
    std::uint64_t burn_in_accepted = 0;   // all walkers, during burn-in
    std::vector<std::uint64_t> accepted;  // per walker, after burn-in
    std::vector<ensemble_move_statistics> moves;

    ensemble_state(std::size_t dim, std::size_t walkers, std::size_t move_count,
                   std::uint64_t seed)
        : positions(static_cast<Eigen::Index>(dim), static_cast<Eigen::Index>(walkers)),
          log_densities(static_cast<Eigen::Index>(walkers)),
          random(seed),
          accepted(walkers, 0),
          moves(move_count) {}
};

enum class record_kind : std::uint64_t { burn_in = 0, draw = 1, other = 2 };

/// Iteration i (1-based) is kept when it is past burn-in and a multiple of
/// `thin` iterations after it.
inline record_kind kind_of_iteration(std::uint64_t iteration, std::size_t burn_in,
                                     std::size_t thin) {
    if (iteration <= burn_in) return record_kind::burn_in;
    return (iteration - burn_in) % thin == 0 ? record_kind::draw : record_kind::other;
}

/// Copies kept draws (one dim x walkers matrix and one log-density vector
/// each) into the result's storage.
inline void store_draws(ensemble_result& result, std::size_t dim, std::size_t walkers,
                        std::uint64_t seed, const std::vector<Eigen::MatrixXd>& positions,
                        const std::vector<Eigen::VectorXd>& log_densities) {
    result.dim = dim;
    result.walkers = walkers;
    result.seed = seed;
    const auto w = static_cast<Eigen::Index>(walkers);
    const auto draws = static_cast<Eigen::Index>(positions.size());
    result.samples.resize(static_cast<Eigen::Index>(dim), draws * w);
    result.log_densities.resize(w, draws);
    for (Eigen::Index d = 0; d < draws; ++d) {
        result.samples.middleCols(d * w, w) = positions[static_cast<std::size_t>(d)];
        result.log_densities.col(d) = log_densities[static_cast<std::size_t>(d)];
    }
}

/// Fills the result's final state, counts, acceptance and stuck walkers.
inline void store_state(ensemble_result& result, const ensemble_state& state, std::size_t burn_in,
                        double stuck_acceptance) {
    result.iterations = static_cast<std::size_t>(state.iteration);
    result.final_positions = state.positions;
    result.final_log_densities = state.log_densities;
    result.log_density_evaluations = static_cast<std::size_t>(state.log_density_evaluations);
    result.outside_support_proposals = static_cast<std::size_t>(state.outside_support_proposals);
    result.invalid_proposals = static_cast<std::size_t>(state.invalid_proposals);
    result.move_statistics = state.moves;
    const std::uint64_t sampled = state.iteration > burn_in ? state.iteration - burn_in : 0;
    result.acceptance.resize(static_cast<Eigen::Index>(state.accepted.size()));
    result.stuck_walkers.clear();
    for (std::size_t w = 0; w < state.accepted.size(); ++w) {
        const double fraction = sampled > 0 ? static_cast<double>(state.accepted[w]) /
                                                  static_cast<double>(sampled)
                                            : std::numeric_limits<double>::quiet_NaN();
        result.acceptance[static_cast<Eigen::Index>(w)] = fraction;
        if (fraction < stuck_acceptance) result.stuck_walkers.push_back(w);
    }
}

}  // namespace diskmc::detail
