#pragma once
// What an ensemble run returns: the chain, its log-densities, acceptance,
// timings and counts.

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "diskmc/diagnostics/autocorrelation.hpp"
#include "diskmc/errors.hpp"

namespace diskmc {

/// How often one move of a mixture was used and accepted.
struct ensemble_move_statistics {
    /// Iterations that used this move (burn-in included).
    std::size_t iterations = 0;
    /// Walker proposals made with it, and how many were accepted.
    std::size_t proposals = 0;
    std::size_t accepted = 0;
};

/// Wall-clock seconds spent by this call (a resumed run counts only what it
/// ran itself).
struct ensemble_timings {
    double total_seconds = 0.0;
    /// Inside log_density / log_density_batch (including the threads' work).
    double log_density_seconds = 0.0;
    /// The rest: proposals, acceptance, bookkeeping, checkpoint writes.
    double overhead_seconds() const { return total_seconds - log_density_seconds; }
};

/// The chain of an ensemble run.
///
/// Storage: `samples` is dim x (draws * walkers), column `draw * walkers +
/// walker`, so one walker's position is a contiguous column, one draw of the
/// whole ensemble is a contiguous dim x walkers block, and `samples` itself
/// is the flattened chain (each column one sample) for moments and
/// quantiles. `log_densities(walker, draw)` is the log-density of that
/// sample.
struct ensemble_result {
    std::size_t dim = 0;
    std::size_t walkers = 0;
    std::uint64_t seed = 0;

    Eigen::MatrixXd samples;
    Eigen::MatrixXd log_densities;

    /// Per walker: fraction of its proposals accepted after burn-in.
    Eigen::VectorXd acceptance;
    /// Walkers whose acceptance is below options.stuck_acceptance.
    std::vector<std::size_t> stuck_walkers;
    /// One entry per option move, in order.
    std::vector<ensemble_move_statistics> move_statistics;

    /// Where the walkers ended (dim x walkers) and their log-densities: start
    /// a continuation here with explicit_start.
    Eigen::MatrixXd final_positions;
    Eigen::VectorXd final_log_densities;

    /// Iterations completed, burn-in included.
    std::size_t iterations = 0;
    /// True if the progress callback stopped the run.
    bool stopped_early = false;

    /// Points at which the log-density was evaluated (starts included).
    std::size_t log_density_evaluations = 0;
    /// Proposals whose log-density was -inf (outside the support).
    std::size_t outside_support_proposals = 0;
    /// Proposals whose log-density was NaN or +inf, or whose position was
    /// not finite: the model broke its contract there; all were rejected.
    std::size_t invalid_proposals = 0;

    ensemble_timings timings;

    /// Number of kept draws (each a position for every walker).
    std::size_t draws() const { return walkers == 0 ? 0 : static_cast<std::size_t>(samples.cols()) / walkers; }

    /// Position of one walker at one draw.
    auto position(std::size_t draw, std::size_t walker) const {
        return samples.col(column(draw, walker));
    }

    /// All walkers at one draw, dim x walkers.
    auto ensemble_at(std::size_t draw) const {
        return samples.middleCols(column(draw, 0), static_cast<Eigen::Index>(walkers));
    }

    /// One parameter over the run, draws x walkers (column k is walker k's
    /// chain): the input of integrated_autocorrelation_time.
    Eigen::MatrixXd trace(std::size_t parameter) const {
        Eigen::MatrixXd result(static_cast<Eigen::Index>(draws()), static_cast<Eigen::Index>(walkers));
        for (std::size_t d = 0; d < draws(); ++d)
            for (std::size_t w = 0; w < walkers; ++w)
                result(static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(w)) =
                    samples(static_cast<Eigen::Index>(parameter), column(d, w));
        return result;
    }

    /// Mean acceptance over the walkers.
    double mean_acceptance() const { return acceptance.size() ? acceptance.mean() : 0.0; }

private:
    Eigen::Index column(std::size_t draw, std::size_t walker) const {
        return static_cast<Eigen::Index>(draw * walkers + walker);
    }
};

/// Warnings about the model that a run found, one sentence each; empty when
/// all is well. (Convergence warnings come from the summary of the draws.)
inline std::vector<std::string> ensemble_warnings(const ensemble_result& result) {
    std::vector<std::string> warnings;
    if (result.invalid_proposals > 0)
        warnings.push_back(
            std::to_string(result.invalid_proposals) +
            " proposal(s) had a NaN or +infinity log-density (or a non-finite position): the "
            "model must return -infinity outside the support and never NaN. They were "
            "rejected, but fix the model: the draws near such regions are not to be trusted.");
    return warnings;
}

/// Integrated autocorrelation time of every parameter of a run (emcee's
/// estimator, see diagnostics/autocorrelation.hpp), in parameter order: the
/// same numbers as integrated_autocorrelation_time(result.trace(p)) for each
/// p, in one pass over the chain (walker by walker, every parameter at once,
/// one FFT plan for all).
/// @throws invalid_input if the run has no draws or a sample is not finite
inline std::vector<autocorrelation_estimate> integrated_autocorrelation_times(
    const ensemble_result& result, const autocorrelation_options& options = {}) {
    constexpr std::string_view function = "integrated_autocorrelation_times";
    detail::check_autocorrelation_options(function, options);
    const auto draws = static_cast<Eigen::Index>(result.draws());
    const auto dim = static_cast<Eigen::Index>(result.dim);
    check_argument(draws > 0 && result.walkers > 0, function, "the run has no draws");
    check_argument(result.samples.allFinite(), function, "the samples must be finite");

    autocovariance_transform transform(draws);
    std::vector<detail::autocorrelation_accumulator> accumulators(result.dim,
                                                                  detail::autocorrelation_accumulator(transform));
    Eigen::MatrixXd walker_chain(draws, dim);  // one walker's draws, a column per parameter
    for (std::size_t w = 0; w < result.walkers; ++w) {
        for (Eigen::Index d = 0; d < draws; ++d)
            walker_chain.row(d) = result.position(static_cast<std::size_t>(d), w).transpose();
        for (Eigen::Index p = 0; p < dim; ++p)
            accumulators[static_cast<std::size_t>(p)].add(transform, walker_chain.col(p));
    }
    std::vector<autocorrelation_estimate> estimates;
    estimates.reserve(result.dim);
    for (auto& accumulator : accumulators) estimates.push_back(accumulator.estimate(transform, options));
    return estimates;
}

}  // namespace diskmc
