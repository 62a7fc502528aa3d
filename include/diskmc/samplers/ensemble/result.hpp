#pragma once
// What an ensemble run returns: the chain, its log-densities, acceptance,
// timings and counts.

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
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

    /// Stopping on precision (ensemble_options::min_ess > 0): the target, met
    /// or not before the budget, the smallest ESS (walkers x draws / tau) and
    /// the chain's length in its largest tau at the last check, and the
    /// number of checks.
    double target_ess = 0.0;
    bool precision_reached = false;
    double min_ess = 0.0;
    double length_in_tau = 0.0;
    std::size_t precision_checks = 0;

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
    if (result.target_ess > 0 && !result.precision_reached && !result.stopped_early) {
        char numbers[160];
        std::snprintf(numbers, sizeof numbers, "smallest ESS %.0f for a target of %.0f, the chain %.1f times its largest tau",
                      result.min_ess, result.target_ess, result.length_in_tau);
        warnings.push_back("The run on precision used its whole budget of steps without reaching its targets (" +
                           std::string(numbers) + "): raise steps, or start closer to the posterior.");
    }
    return warnings;
}

namespace detail {

/// integrated_autocorrelation_times on the first draws of a chain as it
/// grows: `samples` is dim x (draws x walkers), stored as in ensemble_result.
inline std::vector<autocorrelation_estimate> ensemble_autocorrelation_times(
    const Eigen::Ref<const Eigen::MatrixXd>& samples, std::size_t walker_count, const autocorrelation_options& options) {
    constexpr std::string_view function = "integrated_autocorrelation_times";
    check_autocorrelation_options(function, options);
    const auto walkers = static_cast<Eigen::Index>(walker_count);
    const Eigen::Index draws = walkers > 0 ? samples.cols() / walkers : 0;
    const Eigen::Index dim = samples.rows();
    check_argument(draws > 0, function, "the run has no draws");

    // The walkers' series of the parameters in `wanted`, added to their
    // accumulators through a transform giving `lags` lags. The chain is
    // stored draw by draw, so one walker's draws lie a whole ensemble apart
    // (walkers x dim doubles, often more than a page): a block of walkers,
    // about 4 MB, is transposed at once, reading each draw's positions
    // contiguous and writing every series of the block contiguous (dim x
    // walkers streams, each a cache line at a time).
    const Eigen::Index per_walker_bytes = draws * dim * static_cast<Eigen::Index>(sizeof(double));
    const Eigen::Index block = std::clamp<Eigen::Index>((Eigen::Index{4} << 20) / per_walker_bytes, 1, walkers);
    Eigen::MatrixXd series(draws, dim * block);  // column k * dim + p: walker first + k's parameter p
    auto accumulate = [&](Eigen::Index lags, const std::vector<Eigen::Index>& wanted, Eigen::Index walker_count) {
        autocovariance_transform transform(draws, lags);
        std::vector<detail::autocorrelation_accumulator> accumulators(wanted.size(),
                                                                      detail::autocorrelation_accumulator(transform));
        for (Eigen::Index first = 0; first < walker_count; first += block) {
            const Eigen::Index count = std::min(block, walker_count - first);
            // Eight draws at a time, so that each series gets a whole cache
            // line per write and the eight positions read stay in L1.
            constexpr Eigen::Index run = 8;
            for (Eigen::Index k = 0; k < count; ++k)
                for (Eigen::Index d0 = 0; d0 < draws; d0 += run) {
                    const Eigen::Index width = std::min(run, draws - d0);
                    std::array<const double*, run> from{};
                    for (Eigen::Index i = 0; i < width; ++i)
                        from[i] = samples.col((d0 + i) * walkers + first + k).data();
                    double* to = series.data() + k * dim * draws + d0;
                    for (Eigen::Index p = 0; p < dim; ++p)
                        for (Eigen::Index i = 0; i < width; ++i) to[p * draws + i] = from[i][p];
                }
            // (A sum is finite when every term is; the rare overflow is checked in full.)
            const auto copied = series.leftCols(count * dim);
            check_argument(std::isfinite(copied.sum()) || copied.allFinite(), function, "the samples must be finite");
            for (Eigen::Index k = 0; k < count; ++k)
                for (std::size_t j = 0; j < wanted.size(); ++j)
                    accumulators[j].add(transform, series.col(k * dim + wanted[j]));
        }
        std::vector<std::optional<autocorrelation_estimate>> estimates;
        for (auto& accumulator : accumulators) estimates.push_back(accumulator.estimate(transform, options));
        return estimates;
    };

    // Only the lags up to the window matter, and fewer lags need shorter
    // transforms (n + lags rather than 2n). A pilot on a sixteenth of the
    // walkers (at least 2) finds the windows; the pass over every walker then
    // computes half as many lags again as the largest of them; a parameter
    // whose window lies beyond (the pilot's estimate is noisier) gets a pass
    // with every lag, so the result is the estimator's own in every case.
    std::vector<Eigen::Index> every(static_cast<std::size_t>(dim));
    for (Eigen::Index p = 0; p < dim; ++p) every[static_cast<std::size_t>(p)] = p;
    Eigen::Index lags = draws;
    if (const Eigen::Index pilot_walkers = std::max<Eigen::Index>(2, walkers / 16); pilot_walkers < walkers) {
        std::size_t widest = 0;
        for (const auto& estimate : accumulate(draws, every, pilot_walkers)) widest = std::max(widest, estimate->window);
        lags = std::min(draws, static_cast<Eigen::Index>(3 * widest / 2) + 16);
    }
    std::vector<std::optional<autocorrelation_estimate>> first_pass = accumulate(lags, every, walkers);
    std::vector<Eigen::Index> beyond;
    for (Eigen::Index p = 0; p < dim; ++p)
        if (!first_pass[static_cast<std::size_t>(p)]) beyond.push_back(p);
    if (!beyond.empty()) {
        const std::vector<std::optional<autocorrelation_estimate>> second_pass = accumulate(draws, beyond, walkers);
        for (std::size_t j = 0; j < beyond.size(); ++j)
            first_pass[static_cast<std::size_t>(beyond[j])] = second_pass[j];
    }
    std::vector<autocorrelation_estimate> estimates;
    estimates.reserve(first_pass.size());
    for (const auto& estimate : first_pass) estimates.push_back(*estimate);
    return estimates;
}

}  // namespace detail

/// Integrated autocorrelation time of every parameter of a run (emcee's
/// estimator, see diagnostics/autocorrelation.hpp), in parameter order: the
/// same numbers as integrated_autocorrelation_time(result.trace(p)) for each
/// p, in one pass over the chain (a block of walkers at a time, every
/// parameter at once, one FFT plan for all) whose transforms give only the
/// lags a pilot on a few walkers says the windows need.
/// @throws invalid_input if the run has no draws or a sample is not finite
inline std::vector<autocorrelation_estimate> integrated_autocorrelation_times(
    const ensemble_result& result, const autocorrelation_options& options = {}) {
    return detail::ensemble_autocorrelation_times(result.samples, result.walkers, options);
}

}  // namespace diskmc
