#pragma once
// The ensemble sampler's driver: checks, the red-blue loop, evaluation of a
// group's proposals (one batched call, or a thread pool), bookkeeping,
// checkpointing and the result.
//
// Reproducibility. Every random number is drawn on the calling thread from
// one stream (xoshiro256++ seeded from the seed), in a fixed order: the move
// of the iteration, the split of the walkers into groups, each walker's
// proposal in walker order, then each walker's acceptance uniform. Only the
// log-density evaluations, which are deterministic, run in parallel, each
// writing its own slot. So a seed gives the same chain whatever the number
// of threads, and whether the model is evaluated point by point or batched;
// and the stream's state after an iteration is all a resumed run needs.

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "diskmc/concepts/batch_log_density.hpp"
#include "diskmc/concepts/log_density.hpp"
#include "diskmc/detail/huge_pages.hpp"
#include "diskmc/detail/precision_rounds.hpp"
#include "diskmc/detail/random_stream.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/parallel/parallel_for.hpp"
#include "diskmc/samplers/ensemble/checkpoint.hpp"
#include "diskmc/samplers/ensemble/moves.hpp"
#include "diskmc/samplers/ensemble/options.hpp"
#include "diskmc/samplers/ensemble/result.hpp"
#include "diskmc/samplers/ensemble/start.hpp"
#include "diskmc/samplers/ensemble/state.hpp"
#include "diskmc/samplers/ensemble/worker_team.hpp"

namespace diskmc {

namespace detail {

using ensemble_clock = std::chrono::steady_clock;

inline double seconds_since(ensemble_clock::time_point start) {
    return std::chrono::duration<double>(ensemble_clock::now() - start).count();
}

inline void check_ensemble_options(const ensemble_options& options, std::size_t dim,
                                   std::size_t walkers) {
    constexpr std::string_view f = ensemble_function;
    if (dim == 0) throw_invalid_input(f, ": the model has dim() = 0");
    if (options.thin == 0) throw_invalid_input(f, ": options.thin must be >= 1");
    if (options.checkpoint_every == 0) throw_invalid_input(f, ": options.checkpoint_every must be >= 1");
    check_in_range(f, "options.stuck_acceptance", options.stuck_acceptance, 0.0, 1.0);
    if (options.moves.empty()) throw_invalid_input(f, ": options.moves is empty");
    double total_weight = 0.0;
    for (std::size_t m = 0; m < options.moves.size(); ++m) {
        const auto& move = options.moves[m];
        check_nonnegative(f, "options.moves[].weight", move.weight);
        total_weight += move.weight;
        std::visit(
            [&](const auto& policy) {
                policy.check(f);
                if (walkers < policy.minimum_walkers())
                    throw_invalid_input(f, ": the ", policy.name, " move (options.moves[", m,
                                        "]) needs at least ", policy.minimum_walkers(),
                                        " walkers, got ", walkers);
            },
            move.move);
    }
    if (!(total_weight > 0.0)) throw_invalid_input(f, ": options.moves weights sum to zero");
    check_nonnegative(f, "options.min_ess", options.min_ess);
    if (options.min_ess > 0) {
        check_nonnegative(f, "options.min_length_in_tau", options.min_length_in_tau);
        if (options.first_round < 4) throw_invalid_input(f, ": options.first_round must be at least 4 draws");
        if (options.round_step == 0) throw_invalid_input(f, ": options.round_step must be at least 1");
    }
}

/// Evaluates the proposals of one group: a batched call when the model has
/// one, else log_density point by point, on the worker team if there is one.
template <log_density M>
class proposal_evaluator {
public:
    proposal_evaluator(const M& model, std::size_t dim, std::size_t walkers, worker_team* team)
        : model_(model), team_(team), points_(walkers, Eigen::VectorXd(static_cast<Eigen::Index>(dim))) {}

    /// Fills values[n] for every column n of `proposals` with skip[n] false
    /// (skipped columns hold a harmless finite point and are ignored).
    void operator()(const Eigen::MatrixXd& proposals, const std::vector<char>& skip,
                    Eigen::VectorXd& values) {
        const auto count = static_cast<std::size_t>(proposals.cols());
        if constexpr (batch_log_density<M>) {
            model_.log_density_batch(proposals, values);
            if (static_cast<std::size_t>(values.size()) != count)
                throw_invalid_input(ensemble_function, ": log_density_batch returned ", values.size(),
                                    " values for ", count, " points");
        } else {
            values.resize(static_cast<Eigen::Index>(count));
            auto job = [&](std::size_t n) {
                if (skip[n]) return;
                Eigen::VectorXd& point = points_[n];
                point = proposals.col(static_cast<Eigen::Index>(n));
                values[static_cast<Eigen::Index>(n)] = static_cast<double>(model_.log_density(point));
            };
            if (team_)
                team_->run(count, job);
            else
                for (std::size_t n = 0; n < count; ++n) job(n);
        }
    }

private:
    const M& model_;
    worker_team* team_;
    std::vector<Eigen::VectorXd> points_;  // one per walker slot: no allocation while running
};

/// Runs iterations, one at a time, on a state.
template <log_density M>
class ensemble_driver {
public:
    ensemble_driver(const M& model, const ensemble_options& options, std::size_t dim,
                    std::size_t walkers, worker_team* team)
        : options_(options),
          dim_(dim),
          walkers_(walkers),
          evaluate_(model, dim, walkers, team),
          group_of_(walkers),
          skip_(walkers),
          factors_(walkers),
          scratch_(static_cast<Eigen::Index>(dim)) {
        for (const auto& m : options.moves) total_weight_ += m.weight;
    }

    /// Evaluates the start positions into state.log_densities and checks them.
    void evaluate_start(ensemble_state& state) {
        const auto start = ensemble_clock::now();
        std::fill(skip_.begin(), skip_.end(), 0);
        evaluate_(state.positions, skip_, state.log_densities);
        log_density_seconds += seconds_since(start);
        state.log_density_evaluations += walkers_;
        for (std::size_t k = 0; k < walkers_; ++k) {
            const double value = state.log_densities[static_cast<Eigen::Index>(k)];
            if (std::isfinite(value)) continue;
            if (value == -std::numeric_limits<double>::infinity())
                throw_invalid_input(ensemble_function, ": walker ", k,
                                    " starts where the log-density is -inf (outside the support); "
                                    "start inside it (a smaller scatter, or other positions)");
            throw_invalid_input(ensemble_function, ": the log-density at walker ", k,
                                "'s start is ", value,
                                " (a log_density must return a finite value or -inf)");
        }
    }

    /// One iteration: pick a move, update each group from the others.
    void iterate(ensemble_state& state) {
        std::size_t chosen = 0;
        if (options_.moves.size() > 1) {
            double target = state.random.uniform() * total_weight_;
            while (chosen + 1 < options_.moves.size() && target >= options_.moves[chosen].weight) {
                target -= options_.moves[chosen].weight;
                ++chosen;
            }
        }
        const bool sampling = state.iteration >= options_.burn_in;  // this iteration is past burn-in
        std::visit([&](const auto& move) { update(move, state, state.moves[chosen], sampling); },
                   options_.moves[chosen].move);
        ++state.iteration;
    }

    double log_density_seconds = 0.0;

private:
    template <class Move>
    void update(const Move& move, ensemble_state& state, ensemble_move_statistics& statistics,
                bool sampling) {
        constexpr std::size_t groups = Move::groups;
        ++statistics.iterations;
        // Split: walker k joins group k mod G, shuffled (Fisher-Yates) if asked.
        for (std::size_t k = 0; k < walkers_; ++k) group_of_[k] = k % groups;
        if (options_.randomize_split)
            for (std::size_t k = walkers_ - 1; k > 0; --k)
                std::swap(group_of_[k], group_of_[state.random.below(k + 1)]);
        auto& members = members_;
        for (auto& g : members) g.clear();
        for (std::size_t k = 0; k < walkers_; ++k) members[group_of_[k]].push_back(k);

        for (std::size_t g = 0; g < groups; ++g) {
            const std::vector<std::size_t>& current = members[g];
            complement_.clear();
            std::array<std::span<const std::size_t>, 3> others{};
            std::size_t other = 0;
            for (std::size_t h = 0; h < groups; ++h) {
                if (h == g) continue;
                complement_.insert(complement_.end(), members[h].begin(), members[h].end());
                if (other < others.size()) others[other++] = members[h];
            }
            move_context context{state.positions, complement_, others, state.random,
                                 scratch_indices_, scratch_};

            const auto count = static_cast<Eigen::Index>(current.size());
            proposals_.resize(static_cast<Eigen::Index>(dim_), count);
            for (Eigen::Index n = 0; n < count; ++n) {
                const auto walker = state.positions.col(static_cast<Eigen::Index>(current[static_cast<std::size_t>(n)]));
                factors_[static_cast<std::size_t>(n)] = move.propose(walker, context, proposals_.col(n));
                // A proposal that is not a finite point (overflow, or the
                // snooker's X on Z) is rejected without asking the model.
                const bool invalid = !std::isfinite(factors_[static_cast<std::size_t>(n)]) ||
                                     !proposals_.col(n).allFinite();
                skip_[static_cast<std::size_t>(n)] = invalid;
                if (invalid) proposals_.col(n) = walker;
            }

            const auto start = ensemble_clock::now();
            evaluate_(proposals_, skip_, values_);
            log_density_seconds += seconds_since(start);

            for (Eigen::Index n = 0; n < count; ++n) {
                const std::size_t k = current[static_cast<std::size_t>(n)];
                const double log_u = std::log(state.random.uniform());
                double value = -std::numeric_limits<double>::infinity();
                if (skip_[static_cast<std::size_t>(n)]) {
                    ++state.invalid_proposals;
                } else {
                    ++state.log_density_evaluations;
                    value = values_[n];
                    if (std::isnan(value) || value == std::numeric_limits<double>::infinity()) {
                        ++state.invalid_proposals;  // the model broke its contract: reject
                        value = -std::numeric_limits<double>::infinity();
                    } else if (value == -std::numeric_limits<double>::infinity()) {
                        ++state.outside_support_proposals;
                    }
                }
                ++statistics.proposals;
                const auto index = static_cast<Eigen::Index>(k);
                // Metropolis-Hastings: accept if log u < log q + log p(Y) - log p(X);
                // a -inf proposal never passes.
                if (log_u < factors_[static_cast<std::size_t>(n)] + value - state.log_densities[index]) {
                    state.positions.col(index) = proposals_.col(n);
                    state.log_densities[index] = value;
                    ++statistics.accepted;
                    if (sampling)
                        ++state.accepted[k];
                    else
                        ++state.burn_in_accepted;
                }
            }
        }
    }

    const ensemble_options& options_;
    std::size_t dim_;
    std::size_t walkers_;
    double total_weight_ = 0.0;
    proposal_evaluator<M> evaluate_;
    std::vector<std::size_t> group_of_;
    std::array<std::vector<std::size_t>, 4> members_;  // walkers of each group
    std::vector<std::size_t> complement_;
    std::vector<char> skip_;
    std::vector<double> factors_;
    std::vector<std::size_t> scratch_indices_;
    Eigen::VectorXd scratch_;
    Eigen::MatrixXd proposals_;
    Eigen::VectorXd values_;
};

inline ensemble_progress make_progress(const ensemble_state& state, const ensemble_options& options,
                                       std::size_t walkers, ensemble_clock::time_point start) {
    ensemble_progress progress;
    progress.iteration = static_cast<std::size_t>(state.iteration);
    progress.total_iterations = options.burn_in + options.steps;
    progress.burn_in = options.burn_in;
    const bool sampling = state.iteration > options.burn_in;
    const std::uint64_t phase_iterations = sampling ? state.iteration - options.burn_in : state.iteration;
    const std::uint64_t accepted =
        sampling ? std::accumulate(state.accepted.begin(), state.accepted.end(), std::uint64_t{0})
                 : state.burn_in_accepted;
    progress.acceptance = phase_iterations > 0 ? static_cast<double>(accepted) /
                                                     static_cast<double>(phase_iterations * walkers)
                                               : 0.0;
    progress.elapsed_seconds = seconds_since(start);
    progress.log_density_evaluations = static_cast<std::size_t>(state.log_density_evaluations);
    return progress;
}

/// The sampler proper, on the calling thread (with `team`, if not null,
/// evaluating proposals).
template <log_density M>
ensemble_result run_ensemble(const M& model, const ensemble_start& start,
                             const ensemble_options& options, std::uint64_t seed,
                             worker_team* team, ensemble_clock::time_point started) {
    const auto dim = static_cast<std::size_t>(model.dim());
    const std::size_t walkers = start_walkers(start);
    check_ensemble_options(options, dim, walkers);
    const std::size_t total_iterations = options.burn_in + options.steps;

    ensemble_state state(dim, walkers, options.moves.size(), seed);

    // The chain is stored in place as it grows (layout in result.hpp).
    ensemble_result result;
    result.dim = dim;
    result.walkers = walkers;
    result.seed = seed;
    const auto w = static_cast<Eigen::Index>(walkers);
    const auto planned_draws = static_cast<Eigen::Index>(options.steps / options.thin);
    result.samples.resize(static_cast<Eigen::Index>(dim), planned_draws * w);
    result.log_densities.resize(w, planned_draws);
    advise_huge_pages(result.samples.data(), static_cast<std::size_t>(result.samples.size()) * sizeof(double));
    Eigen::Index draws = 0;
    auto keep_draw = [&](const Eigen::MatrixXd& positions, const Eigen::VectorXd& log_densities) {
        result.samples.middleCols(draws * w, w) = positions;
        result.log_densities.col(draws) = log_densities;
        ++draws;
    };

    // Resume from the checkpoint file if there is one, else start afresh.
    std::optional<checkpoint_writer> writer;
    bool resumed = false;
    if (!options.checkpoint.empty()) {
        const std::string header = checkpoint_header(dim, walkers, seed, options);
        std::error_code error;
        if (!options.overwrite_checkpoint && std::filesystem::exists(options.checkpoint, error)) {
            std::ifstream in(options.checkpoint, std::ios::binary);
            if (!in) throw_invalid_input("ensemble: cannot read checkpoint ", options.checkpoint.string());
            const std::string found = read_checkpoint_header(in, options.checkpoint, "ensemble");
            if (found != header)
                throw_invalid_input(
                    "ensemble: checkpoint ", options.checkpoint.string(),
                    " was written by a different run (dim, walkers, seed, burn_in, thin, split or "
                    "moves differ); expected header:\n",
                    header, "found:\n", found,
                    "use another file, or set options.overwrite_checkpoint to replace it");
            loaded_checkpoint loaded = read_checkpoint_records(
                in, found.size(), dim, walkers, options.moves.size(), seed);
            in.close();
            if (loaded.last_state) {
                if (loaded.last_state->iteration > total_iterations)
                    throw_invalid_input(
                        "ensemble: checkpoint ", options.checkpoint.string(), " holds ",
                        loaded.last_state->iteration, " iterations, more than burn_in + steps = ",
                        total_iterations);
                state = std::move(*loaded.last_state);
                for (std::size_t d = 0; d < loaded.draw_positions.size(); ++d)
                    keep_draw(loaded.draw_positions[d], loaded.draw_log_densities[d]);
                resumed = true;
            }
            writer.emplace(options.checkpoint, loaded.intact_bytes, dim, walkers, options.moves.size());
        } else {
            writer.emplace(options.checkpoint, header, dim, walkers, options.moves.size());
        }
    }

    ensemble_driver<M> driver(model, options, dim, walkers, team);
    if (!resumed) {
        state.positions = initial_positions(start, dim, seed);
        check_start_positions(state.positions, dim);
        driver.evaluate_start(state);
    }

    // Stopping on precision: a check whenever the draws reach the round's
    // target (and at the budget's end).
    const bool on_precision = options.min_ess > 0;
    auto round_target = static_cast<Eigen::Index>(std::min<std::size_t>(options.first_round, options.steps / options.thin));
    if (on_precision) result.target_ess = options.min_ess;
    auto check_precision = [&] {
        const std::vector<autocorrelation_estimate> taus =
            ensemble_autocorrelation_times(result.samples.leftCols(draws * w), walkers, {});
        double smallest_ess = std::numeric_limits<double>::infinity(), largest_tau = 0.0;
        for (const autocorrelation_estimate& estimate : taus) {
            // (A constant parameter has no tau: its ESS counts as 0.)
            const double ess = effective_sample_size_from_tau(static_cast<std::size_t>(draws) * walkers, estimate.tau);
            smallest_ess = std::isnan(ess) ? 0.0 : std::min(smallest_ess, ess);
            largest_tau = std::isnan(estimate.tau) ? std::numeric_limits<double>::infinity()
                                                   : std::max(largest_tau, estimate.tau);
        }
        const auto kept = static_cast<double>(draws);
        result.min_ess = smallest_ess;
        result.length_in_tau = kept / largest_tau;
        ++result.precision_checks;
        result.precision_reached =
            smallest_ess >= options.min_ess && result.length_in_tau >= options.min_length_in_tau;
        if (result.precision_reached) return;
        const double for_ess = smallest_ess > 0 ? 1.2 * options.min_ess * kept / smallest_ess : 0.0;
        const double for_length = 1.1 * options.min_length_in_tau * largest_tau;
        round_target = static_cast<Eigen::Index>(next_precision_round(
            static_cast<std::size_t>(draws), std::isfinite(for_length) ? std::max(for_ess, for_length) : 0.0,
            options.round_step, static_cast<std::size_t>(planned_draws)));
    };
    auto progress_now = [&] {
        ensemble_progress progress = make_progress(state, options, walkers, started);
        if (on_precision) {
            progress.total_iterations = options.burn_in + static_cast<std::size_t>(round_target) * options.thin;
            progress.min_ess = result.min_ess;
            progress.target_ess = options.min_ess;
        }
        return progress;
    };

    bool stopped_early = false;
    while (state.iteration < total_iterations) {
        driver.iterate(state);
        const auto kind = kind_of_iteration(state.iteration, options.burn_in, options.thin);
        if (kind == record_kind::draw) keep_draw(state.positions, state.log_densities);
        if (on_precision && kind == record_kind::draw && (draws >= round_target || draws == planned_draws))
            check_precision();
        const bool last = state.iteration == total_iterations || result.precision_reached;
        bool written = false;
        if (writer && (kind == record_kind::draw || last ||
                       state.iteration % options.checkpoint_every == 0)) {
            writer->write(state, kind);
            written = true;
        }
        if (options.progress && !options.progress(progress_now())) {
            if (writer && !written) writer->write(state, kind);
            stopped_early = !last;
            break;
        }
        if (result.precision_reached) break;
    }

    if (draws < planned_draws) {  // stopped early
        result.samples.conservativeResize(Eigen::NoChange, draws * w);
        result.log_densities.conservativeResize(Eigen::NoChange, draws);
    }
    store_state(result, state, options.burn_in, options.stuck_acceptance);
    result.stopped_early = stopped_early;
    result.timings.log_density_seconds = driver.log_density_seconds;
    result.timings.total_seconds = seconds_since(started);
    return result;
}

}  // namespace detail

/// Affine-invariant ensemble sampler (Goodman & Weare 2010; emcee's
/// algorithm, Foreman-Mackey et al. 2013) with emcee's red-blue split.
///
/// Checks the options and the start (walkers even and >= 2 dim, finite, with
/// finite log-density, not all identical, not degenerate) and throws
/// diskmc::invalid_input naming the problem before the first step. During
/// the run a proposal whose log-density is -inf, NaN or +inf is rejected.
/// The result is the same for a seed whatever options.threads is and
/// whether the model has log_density_batch.
///
/// @param model the target; when it satisfies batch_log_density, each
///        group's proposals are evaluated in one log_density_batch call,
///        otherwise through log_density on options.threads threads.
/// @param start where the walkers start (its walker count is the ensemble's).
/// @param options run length, moves, threads, progress and checkpointing.
/// @param seed the only source of randomness of the run.
/// @return the chain, log-densities, acceptance, counts and timings.
template <log_density M>
ensemble_result ensemble(const M& model, const ensemble_start& start,
                         const ensemble_options& options, std::uint64_t seed) {
    const auto started = detail::ensemble_clock::now();
    std::size_t threads = options.threads == 0 ? default_thread_count() : options.threads;
    // Batched models take a group in one call; more threads than walkers in a
    // group would idle.
    threads = batch_log_density<M> ? 1 : std::min(threads, (detail::start_walkers(start) + 1) / 2);
    if (threads <= 1) return detail::run_ensemble(model, start, options, seed, nullptr, started);
    ensemble_result result;
    detail::worker_team::with_team(threads, [&](detail::worker_team& team) {
        result = detail::run_ensemble(model, start, options, seed, &team, started);
    });
    return result;
}

/// As above, with the seed drawn from `random` (one 64-bit draw; it is
/// recorded in result.seed so the run can be repeated exactly).
template <log_density M, std::uniform_random_bit_generator R>
ensemble_result ensemble(const M& model, const ensemble_start& start,
                         const ensemble_options& options, R& random) {
    std::uniform_int_distribution<std::uint64_t> seeds;
    return ensemble(model, start, options, seeds(random));
}

}  // namespace diskmc
