#pragma once
// The NUTS entry points: one chain with the caller's random engine, and
// several chains from one seed, on threads or in lockstep.

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "diskmc/concepts/differentiable_log_density.hpp"
#include "diskmc/diagnostics/convergence.hpp"
#include "diskmc/detail/precision_rounds.hpp"
#include "diskmc/detail/random_stream.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/parallel/parallel_for.hpp"
#include "diskmc/samplers/nuts/chain.hpp"
#include "diskmc/samplers/nuts/checkpoint.hpp"
#include "diskmc/samplers/nuts/options.hpp"
#include "diskmc/samplers/nuts/result.hpp"

namespace diskmc {

/// A map applied to each draw after sampling, e.g. from the unconstrained
/// space the sampler moves in to the constrained parameters. Called
/// concurrently from several chains, so it must be safe for that.
template <class F>
concept draw_transform = std::invocable<const F&, const Eigen::VectorXd&>;

namespace detail {

/// No transform: result.transformed_draws stays empty.
struct no_draw_transform {
    Eigen::VectorXd operator()(const Eigen::VectorXd& x) const { return x; }
};

/// theta = m + L z, the optional standardisation of the parameters.
struct standardization {
    bool active = false;
    Eigen::VectorXd location;
    Eigen::MatrixXd lower;  // L, with L L^T = standardize_covariance

    Eigen::VectorXd to_sampler(const Eigen::VectorXd& theta) const {
        if (!active) return theta;
        return lower.triangularView<Eigen::Lower>().solve(theta - location);
    }
    /// Maps rows of draws from z to theta in place.
    void to_model(Eigen::MatrixXd& draws) const {
        if (!active || draws.size() == 0) return;
        draws = draws * lower.transpose();
        draws.rowwise() += location.transpose();
    }
};

/// Evaluates the model at a point of the sampler's space, with its own
/// scratch space, so each chain can have one and run concurrently.
template <differentiable_log_density M>
class chain_evaluator {
public:
    chain_evaluator(const M& model, const standardization& standard)
        : model_(&model), standard_(&standard) {}

    double operator()(const Eigen::VectorXd& point, Eigen::VectorXd& gradient) {
        if (!standard_->active) return static_cast<double>(model_->log_density_gradient(point, gradient));
        // log p_z(z) = log p(m + L z) + const; grad_z = L^T grad_theta.
        theta_ = standard_->location;
        theta_.noalias() += standard_->lower.template triangularView<Eigen::Lower>() * point;
        const double value = static_cast<double>(model_->log_density_gradient(theta_, theta_gradient_));
        gradient.noalias() =
            standard_->lower.template triangularView<Eigen::Lower>().transpose() * theta_gradient_;
        return value;
    }

private:
    const M* model_;
    const standardization* standard_;
    Eigen::VectorXd theta_;
    Eigen::VectorXd theta_gradient_;
};

inline bool is_symmetric_positive_definite(const Eigen::MatrixXd& matrix) {
    if (matrix.rows() != matrix.cols() || !matrix.allFinite()) return false;
    const double scale = matrix.cwiseAbs().maxCoeff();
    if (!((matrix - matrix.transpose()).cwiseAbs().maxCoeff() <= 1e-10 * scale)) return false;
    Eigen::LLT<Eigen::MatrixXd> cholesky(matrix);
    return cholesky.info() == Eigen::Success && (cholesky.matrixLLT().diagonal().array() > 0).all();
}

/// Checks every option against `dim` and throws invalid_input naming the
/// first bad one.
inline void check_nuts_options(const nuts_options& options, std::size_t dim) {
    constexpr const char* f = "nuts";
    check_argument(dim >= 1, f, "the model has dimension 0");
    check_in_range(f, "max_tree_depth", static_cast<double>(options.max_tree_depth), 1, 30);
    check_in_range(f, "max_tree_depth_warmup", static_cast<double>(options.max_tree_depth_warmup),
                   0, 30);
    check_in_range(f, "fixed_tree_depth", static_cast<double>(options.fixed_tree_depth), 0, 30);
    check_positive(f, "max_energy_error", options.max_energy_error);
    check_argument(options.target_accept > 0 && options.target_accept < 1, f,
                   "target_accept must lie strictly between 0 and 1");
    check_positive(f, "gamma", options.gamma);
    check_nonnegative(f, "t0", options.t0);
    check_argument(options.kappa > 0 && options.kappa <= 1, f, "kappa must lie in (0, 1]");
    check_in_range(f, "step_size_jitter", options.step_size_jitter, 0, 1);
    check_nonnegative(f, "step_size", options.step_size);
    check_argument(options.base_window >= 1, f, "base_window must be at least 1");
    if (options.warmup_adaptation == warmup_mode::trust_metric_with_fallback) {
        check_argument(options.trusted_warmup >= 10, f,
                       "trusted_warmup must be at least 10 (its check uses its second half)");
        check_argument(options.trusted_warmup < options.warmup, f,
                       "trusted_warmup must be below warmup, the length of a warmup that falls "
                       "back to the windows");
    }

    const auto n = static_cast<Eigen::Index>(dim);
    const Eigen::MatrixXd& metric = options.inverse_metric;
    if (metric.size() != 0) {
        check_argument(options.metric != metric_kind::unit, f,
                       "inverse_metric was given but metric is metric_kind::unit");
        if (metric.cols() == 1) {
            check_argument(metric.rows() == n, f,
                           "inverse_metric as a vector must have dim() entries");
            check_argument(metric.allFinite() && (metric.array() > 0).all(), f,
                           "inverse_metric as a vector must hold finite variances > 0");
        } else {
            check_argument(metric.rows() == n && metric.cols() == n, f,
                           "inverse_metric must be dim x 1 or dim x dim");
            check_argument(is_symmetric_positive_definite(metric), f,
                           "inverse_metric must be symmetric positive definite");
        }
    }
    const Eigen::MatrixXd& covariance = options.standardize_covariance;
    if (covariance.size() != 0) {
        check_argument(covariance.rows() == n && covariance.cols() == n, f,
                       "standardize_covariance must be dim x dim");
        check_argument(is_symmetric_positive_definite(covariance), f,
                       "standardize_covariance must be symmetric positive definite");
    }
    if (options.standardize_location.size() != 0) {
        check_argument(covariance.size() != 0, f,
                       "standardize_location was given without standardize_covariance");
        check_argument(options.standardize_location.size() == n &&
                           options.standardize_location.allFinite(),
                       f, "standardize_location must hold dim() finite values");
    }
}

/// Checks the options of stopping on precision (nuts_chains_options::min_ess).
inline void check_precision_options(const nuts_chains_options& options) {
    constexpr const char* f = "nuts_chains";
    check_nonnegative(f, "min_ess", options.min_ess);
    if (options.min_ess > 0) {
        check_argument(options.max_rhat >= 1, f, "max_rhat must be at least 1");
        check_argument(options.round_step >= 1, f, "round_step must be at least 1");
        check_argument(options.first_round >= 4, f, "first_round must be at least 4 draws");
    }
}

inline standardization make_standardization(const nuts_options& options,
                                            const Eigen::VectorXd& init) {
    standardization standard;
    if (options.standardize_covariance.size() == 0) return standard;
    standard.active = true;
    standard.location =
        options.standardize_location.size() != 0 ? options.standardize_location : init;
    standard.lower = options.standardize_covariance.llt().matrixL();
    return standard;
}

/// The initial inverse metric and the scale_relative target, in the
/// sampler's coordinates (see nuts_options::inverse_metric).
inline chain_setup make_chain_setup(const nuts_options& options, Eigen::Index dim,
                                    const standardization& standard) {
    chain_setup setup{.options = options, .initial_inverse_metric = {},
                      .regularization_target = {}};
    const bool dense = options.metric == metric_kind::dense;
    const Eigen::MatrixXd& given = options.inverse_metric;

    Eigen::MatrixXd initial;  // dim x dim, or empty for "none given"
    if (given.size() != 0) {
        initial = given.cols() == 1 ? Eigen::MatrixXd(given.col(0).asDiagonal()) : given;
        if (standard.active) {
            // M_z^{-1} = L^{-1} M^{-1} L^{-T}
            const auto lower = standard.lower.triangularView<Eigen::Lower>();
            initial = lower.solve(initial);
            initial = lower.solve(initial.transpose()).transpose().eval();
            initial = 0.5 * (initial + initial.transpose()).eval();
        }
    } else if (standard.active) {
        initial = Eigen::MatrixXd::Identity(dim, dim);  // the standardisation set the scale
    }

    if (options.metric == metric_kind::unit || initial.size() == 0) {
        setup.initial_inverse_metric =
            dense ? Eigen::MatrixXd(Eigen::MatrixXd::Identity(dim, dim))
                  : Eigen::MatrixXd(Eigen::VectorXd::Ones(dim));
        return setup;  // target: diag(estimate)
    }
    setup.initial_inverse_metric = dense ? initial : Eigen::MatrixXd(initial.diagonal());
    setup.regularization_target = setup.initial_inverse_metric;
    return setup;
}

/// The start of a chain, evaluated: throws invalid_input unless the
/// log-density and gradient there are finite.
template <differentiable_log_density M>
sampled_point evaluate_start(const M& model, const standardization& standard,
                             const Eigen::VectorXd& init, std::size_t chain) {
    constexpr const char* f = "nuts";
    check_argument(init.size() == static_cast<Eigen::Index>(model.dim()), f,
                   "the initial point must have dim() entries");
    if (!init.allFinite())
        detail::throw_invalid_input(f, ": the initial point of chain ", chain,
                                    " has non-finite entries");
    sampled_point start;
    start.position = standard.to_sampler(init);
    chain_evaluator<M> evaluate(model, standard);
    start.log_density = evaluate(start.position, start.gradient);
    if (!std::isfinite(start.log_density))
        detail::throw_invalid_input(f, ": the log-density at the initial point of chain ", chain,
                                    " is ", start.log_density, "; start inside the support");
    if (start.gradient.size() != init.size() || !start.gradient.allFinite())
        detail::throw_invalid_input(f, ": the gradient at the initial point of chain ", chain,
                                    " is not finite");
    return start;
}

using run_clock = std::chrono::steady_clock;

inline double seconds_between(run_clock::time_point from, run_clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
}

/// Calls the user's progress callback (nuts_options::progress) after each
/// completed iteration of each chain, one call at a time, and remembers a
/// request to stop. Keeps each chain's running totals for the current phase.
class progress_reporter {
public:
    progress_reporter(const nuts_options& options, std::size_t chains, run_clock::time_point start)
        : callback_(options.progress),
          start_(start),
          totals_(chains) {}

    bool stop_requested() const { return stop_.load(std::memory_order_relaxed); }

    /// Takes up chain `c` restored from a checkpoint after `chain.result()`'s
    /// sampling iterations, so its reports go on as in an uninterrupted run.
    template <class Rng>
    void resume(std::size_t c, const nuts_chain<Rng>& chain) {
        phase_totals& totals = totals_[c];
        const nuts_result& result = chain.result();
        totals = {.reported = chain.iterations_done(), .sampling = !result.sampling.empty()};
        const std::vector<nuts_iteration>& phase = totals.sampling ? result.sampling : result.warmup;
        for (const nuts_iteration& it : phase) {
            ++totals.iterations;
            totals.divergences += it.divergent ? 1 : 0;
            totals.tree_depth += static_cast<double>(it.tree_depth);
            totals.leapfrog += static_cast<double>(it.n_leapfrog);
        }
    }

    /// Reports chain `c` if it completed an iteration since its last report.
    /// Returns false once the run must stop (this or another callback said so).
    template <class Rng>
    bool report(std::size_t c, const nuts_chain<Rng>& chain) {
        phase_totals& totals = totals_[c];
        const std::size_t done = chain.iterations_done();
        if (!callback_ || done == totals.reported) return !stop_requested();
        totals.reported = done;
        const nuts_result& result = chain.result();
        const bool sampling = done > chain.warmup_length();
        if (sampling && !totals.sampling) totals = {.reported = done, .sampling = true};
        const nuts_iteration& last = sampling ? result.sampling.back() : result.warmup.back();
        ++totals.iterations;
        totals.divergences += last.divergent ? 1 : 0;
        totals.tree_depth += static_cast<double>(last.tree_depth);
        totals.leapfrog += static_cast<double>(last.n_leapfrog);

        const double count = static_cast<double>(totals.iterations);
        const nuts_progress progress{.chain = c,
                                     .iteration = done,
                                     .total_iterations = chain.total(),
                                     .warmup = chain.warmup_length(),
                                     .sampling = sampling,
                                     .divergences = totals.divergences,
                                     .mean_tree_depth = totals.tree_depth / count,
                                     .mean_leapfrog = totals.leapfrog / count,
                                     .step_size = last.step_size,
                                     .gradient_evaluations = result.gradient_evaluations(),
                                     .elapsed_seconds = seconds_between(start_, run_clock::now()),
                                     .min_ess = min_ess_,
                                     .target_ess = target_ess_};
        std::lock_guard lock(mutex_);  // serialised: the callback needs no locking of its own
        if (!stop_requested() && !callback_(progress)) stop_.store(true, std::memory_order_relaxed);
        return !stop_requested();
    }

    /// The precision check between rounds; call between rounds only (no
    /// chain running).
    void set_precision(double min_ess, double target_ess) {
        min_ess_ = min_ess;
        target_ess_ = target_ess;
    }

private:
    struct phase_totals {
        std::size_t reported = 0;  // iterations_done() at the last report
        bool sampling = false;
        std::size_t iterations = 0;
        std::size_t divergences = 0;
        double tree_depth = 0.0;
        double leapfrog = 0.0;
    };

    std::function<bool(const nuts_progress&)> callback_;
    run_clock::time_point start_;
    double min_ess_ = 0.0;
    double target_ess_ = 0.0;
    std::vector<phase_totals> totals_;  // element c is touched by chain c's thread only
    std::mutex mutex_;
    std::atomic<bool> stop_{false};
};

/// Runs one chain to the end, or until a progress callback asks to stop, on
/// the calling thread. `save(stopping)` is called between iterations (the
/// checkpoint's turn), with stopping = true when the run ends early.
template <class Rng, class Evaluator, class Save>
void run_chain(nuts_chain<Rng>& chain, Evaluator& evaluate, progress_reporter& reporter,
               std::size_t index, Save&& save) {
    const auto start = run_clock::now();
    auto sampling_start = start;
    bool sampling = false;
    while (!chain.complete()) {
        if (reporter.stop_requested()) {
            save(true);
            chain.stop_early();
            break;
        }
        if (!sampling && chain.in_sampling()) {
            sampling_start = run_clock::now();
            sampling = true;
        }
        chain.advance();
        while (chain.needs_evaluation())
            chain.resume(evaluate(chain.pending_position(), chain.pending_gradient()));
        const bool go_on = reporter.report(index, chain);
        save(!go_on);
        if (!go_on && !chain.complete()) {
            chain.stop_early();
            break;
        }
    }
    // Added: a run on precision calls this once per round.
    const auto end = run_clock::now();
    if (!sampling) sampling_start = end;
    chain.result().warmup_seconds += seconds_between(start, sampling_start);
    chain.result().sampling_seconds += seconds_between(sampling_start, end);
}

/// Runs all chains in lockstep: in each round every chain that needs an
/// evaluation gets one, the round's batch spread over `threads` workers; a
/// chain that has finished its iteration waits until all have. Chains
/// resumed from a checkpoint may be at different iterations; a complete one
/// just waits. `save(c, stopping)` is called for every chain between
/// iterations. Returns the number of rounds.
template <class Rng, class Evaluator, class Save>
std::size_t run_chains_in_lockstep(std::vector<nuts_chain<Rng>>& chains,
                                   std::vector<Evaluator>& evaluators, std::size_t threads,
                                   progress_reporter& reporter, Save&& save) {
    const std::size_t count = chains.size();
    if (threads == 0) threads = default_thread_count();
    threads = std::clamp<std::size_t>(threads, 1, count);

    const auto start = run_clock::now();
    auto sampling_start = start;
    bool sampling = false;
    std::vector<std::size_t> batch;
    batch.reserve(count);
    std::size_t rounds = 0;
    bool done = false;

    // Single-threaded, between rounds: who needs an evaluation next.
    auto plan = [&] {
        batch.clear();
        while (true) {
            for (std::size_t c = 0; c < count; ++c)
                if (chains[c].needs_evaluation()) batch.push_back(c);
            if (!batch.empty()) {
                ++rounds;
                return;
            }
            // Every chain has finished its iteration.
            bool go_on = true;
            for (std::size_t c = 0; c < count; ++c) go_on = reporter.report(c, chains[c]) && go_on;
            for (std::size_t c = 0; c < count; ++c) save(c, !go_on);
            if (std::all_of(chains.begin(), chains.end(), [](const auto& chain) { return chain.complete(); })) {
                done = true;
                return;
            }
            if (!go_on) {
                for (auto& chain : chains)
                    if (!chain.complete()) chain.stop_early();
                done = true;
                return;
            }
            if (!sampling && chains.front().in_sampling()) {
                sampling_start = run_clock::now();
                sampling = true;
            }
            for (auto& chain : chains) chain.advance();
        }
    };

    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr failure;
    std::mutex failure_mutex;
    auto record_failure = [&] {
        std::lock_guard lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        failed = true;
    };
    std::barrier round_end(static_cast<std::ptrdiff_t>(threads));

    try {
        plan();
    } catch (...) {
        record_failure();
        done = true;
    }
    // The workers wait for each other at round_end: a team, never inline.
    run_team(threads, [&](std::size_t worker) {
        while (!done) {
            for (std::size_t i = next++; i < batch.size(); i = next++) {
                if (failed) continue;
                try {
                    const std::size_t c = batch[i];
                    chains[c].resume(
                        evaluators[c](chains[c].pending_position(), chains[c].pending_gradient()));
                } catch (...) {
                    record_failure();
                }
            }
            round_end.arrive_and_wait();
            if (worker == 0) {
                try {
                    if (failed) done = true;
                    else plan();
                } catch (...) {
                    record_failure();
                    done = true;
                }
                next = 0;
            }
            round_end.arrive_and_wait();
        }
    });
    if (failure) std::rethrow_exception(failure);

    const auto end = run_clock::now();
    if (!sampling) sampling_start = end;
    for (auto& chain : chains) {
        chain.result().warmup_seconds += seconds_between(start, sampling_start);
        chain.result().sampling_seconds += seconds_between(sampling_start, end);
    }
    return rounds;
}

/// Moves the chain's result out, in the model's coordinates, with the
/// transformed draws when a transform was given.
template <class Rng, class Transform>
nuts_result finish_chain(nuts_chain<Rng>& chain, const standardization& standard,
                         const Transform& transform) {
    nuts_result result = std::move(chain.finish());
    standard.to_model(result.draws);
    standard.to_model(result.warmup_draws);
    if constexpr (!std::same_as<Transform, no_draw_transform>) {
        for (Eigen::Index i = 0; i < result.draws.rows(); ++i) {
            const Eigen::VectorXd value = transform(Eigen::VectorXd(result.draws.row(i).transpose()));
            if (i == 0) result.transformed_draws.resize(result.draws.rows(), value.size());
            result.transformed_draws.row(i) = value.transpose();
        }
    }
    return result;
}

/// The smallest bulk or tail ESS and the largest rank-normalised R-hat over
/// the parameters, from the first `draws` sampling draws of every chain, in
/// the model's coordinates (ESS is not invariant to the standardisation's
/// mixing of coordinates).
struct precision_estimate {
    double min_ess = 0.0;
    double max_rhat = 0.0;
};

template <class Rng>
precision_estimate estimate_precision(const std::vector<nuts_chain<Rng>>& chains,
                                      const standardization& standard, std::size_t draws) {
    const auto rows = static_cast<Eigen::Index>(draws);
    const Eigen::Index dim = chains.front().result().draws.cols();
    std::vector<Eigen::MatrixXd> model_draws;
    for (const auto& chain : chains) {
        Eigen::MatrixXd top = chain.result().draws.topRows(rows);
        standard.to_model(top);
        model_draws.push_back(std::move(top));
    }
    precision_estimate estimate{.min_ess = std::numeric_limits<double>::infinity()};
    Eigen::MatrixXd parameter(rows, static_cast<Eigen::Index>(chains.size()));
    for (Eigen::Index i = 0; i < dim; ++i) {
        for (std::size_t c = 0; c < chains.size(); ++c)
            parameter.col(static_cast<Eigen::Index>(c)) = model_draws[c].col(i);
        const double ess = std::min(bulk_effective_sample_size(parameter),
                                    tail_effective_sample_size(parameter));
        const double rhat = rank_normalized_rhat(parameter);
        // NaN (e.g. a constant parameter) counts as not yet precise.
        estimate.min_ess = std::isnan(ess) ? 0.0 : std::min(estimate.min_ess, ess);
        estimate.max_rhat = std::isnan(rhat) ? std::numeric_limits<double>::infinity()
                                             : std::max(estimate.max_rhat, rhat);
        if (estimate.min_ess == 0.0) break;
    }
    return estimate;
}

/// The next round's draws per chain when stopping on precision: 1.2 x what
/// the ESS per draw so far says min_ess needs, at least one round_step more
/// and at most double, a multiple of round_step, at most `budget`.
inline std::size_t next_round_target(std::size_t draws, double ess, const nuts_chains_options& o) {
    const double per_draw = ess / static_cast<double>(draws);
    const double wanted = per_draw > 0 ? 1.2 * o.min_ess / per_draw : 2.0 * static_cast<double>(draws);
    return next_precision_round(draws, wanted, o.round_step, o.sampler.samples);
}

/// The random stream of chain `chain` of a run seeded with `seed`: every
/// chain its own stream, whatever thread runs it, and the same numbers under
/// every standard library.
inline random_stream chain_engine(std::uint64_t seed, std::size_t chain) {
    return random_stream(seed, static_cast<std::uint64_t>(chain));
}

}  // namespace detail

/// Runs one NUTS chain (multinomial NUTS with Stan's adaptation) on a model
/// defined on R^dim.
///
/// @param model     the target; its log_density_gradient must be safe to call
///                  (it is called from this thread only here)
/// @param init      the initial point (e.g. the MAP), dim() entries, with a
///                  finite log-density and gradient
/// @param options   see nuts_options; checked before any work
/// @param rng       the random engine, advanced by the run. Its raw bits are
///                  turned into uniforms and normals by diskmc's own portable
///                  rules (detail::portable_draws), so a seed gives the same
///                  chain under every standard library; a detail::random_stream
///                  is drawn from directly (random_stream(seed, c) gives chain
///                  c of nuts_chains(..., seed))
/// @param transform optional map applied to every draw afterwards (e.g. to
///                  the constrained space); its values fill
///                  result.transformed_draws
/// @return draws, per-iteration statistics, the adapted step size and metric,
///         gradient-evaluation counts and timings
/// @throws invalid_input for bad options or a bad initial point
template <differentiable_log_density M, std::uniform_random_bit_generator R,
          draw_transform Transform = detail::no_draw_transform>
nuts_result nuts(const M& model, Eigen::VectorXd init, const nuts_options& options, R& rng,
                 const Transform& transform = {}) {
    detail::check_nuts_options(options, model.dim());
    const auto run_start = detail::run_clock::now();
    const detail::standardization standard = detail::make_standardization(options, init);
    const detail::sampled_point start = detail::evaluate_start(model, standard, init, 0);
    const detail::chain_setup setup =
        detail::make_chain_setup(options, static_cast<Eigen::Index>(model.dim()), standard);
    auto run = [&]<class Draws>(Draws& draws) {
        detail::nuts_chain<Draws> chain(setup, start, draws);
        detail::chain_evaluator<M> evaluate(model, standard);
        detail::progress_reporter reporter(options, 1, run_start);
        detail::run_chain(chain, evaluate, reporter, 0, [](bool) {});
        return detail::finish_chain(chain, standard, transform);
    };
    if constexpr (std::same_as<R, detail::random_stream>) {
        return run(rng);
    } else {
        detail::portable_draws<R> draws(rng);
        return run(draws);
    }
}

/// Runs several NUTS chains from one seed, on threads (each chain free-running)
/// or in lockstep (options.lockstep). Chain c draws from its own random stream
/// derived from (seed, c), so the draws are identical for any thread count
/// and in both modes.
///
/// @param model     the target; log_density_gradient is called concurrently
///                  from several threads
/// @param inits     initial points, dim x chains, or dim x 1 for all chains
/// @param options   per-chain settings plus chains, threads, lockstep and the
///                  checkpoint file (a run whose file exists resumes from it)
/// @param seed      the run's seed
/// @param transform optional map applied to every draw (see nuts())
/// @return one nuts_result per chain, the wall time, and in lockstep mode the
///         number of batch rounds
/// @throws invalid_input for bad options or a bad initial point, or a
///         checkpoint file of another run
template <differentiable_log_density M, draw_transform Transform = detail::no_draw_transform>
nuts_chains_result nuts_chains(const M& model, const Eigen::MatrixXd& inits,
                               const nuts_chains_options& options, std::uint64_t seed,
                               const Transform& transform = {}) {
    constexpr const char* f = "nuts_chains";
    check_argument(options.chains >= 1, f, "chains must be at least 1");
    check_argument(inits.rows() == static_cast<Eigen::Index>(model.dim()), f,
                   "inits must have dim() rows");
    check_argument(inits.cols() == 1 || inits.cols() == static_cast<Eigen::Index>(options.chains),
                   f, "inits must have one column, or one per chain");
    detail::check_nuts_options(options.sampler, model.dim());
    check_argument(options.checkpoint.empty() || options.checkpoint_every >= 1, f,
                   "checkpoint_every must be at least 1");
    detail::check_precision_options(options);

    const auto run_start = detail::run_clock::now();
    const std::size_t count = options.chains;
    auto init_of = [&](std::size_t c) -> Eigen::VectorXd {
        return inits.col(inits.cols() == 1 ? 0 : static_cast<Eigen::Index>(c));
    };
    // The standardisation is centred on chain 0's start unless a location is given.
    const detail::standardization standard =
        detail::make_standardization(options.sampler, init_of(0));
    const detail::chain_setup setup = detail::make_chain_setup(
        options.sampler, static_cast<Eigen::Index>(model.dim()), standard);

    std::vector<detail::random_stream> engines;
    std::vector<detail::nuts_chain<detail::random_stream>> chains;
    std::vector<detail::chain_evaluator<M>> evaluators;
    engines.reserve(count);
    chains.reserve(count);
    evaluators.reserve(count);
    for (std::size_t c = 0; c < count; ++c) {
        const detail::sampled_point start = detail::evaluate_start(model, standard, init_of(c), c);
        engines.push_back(detail::chain_engine(seed, c));
        chains.emplace_back(setup, start, engines.back());
        evaluators.emplace_back(model, standard);
    }

    // Chains that finished warmup in an earlier run go on from its checkpoint.
    std::optional<detail::nuts_checkpoint> checkpoint;
    if (!options.checkpoint.empty()) checkpoint.emplace(options, model.dim(), seed, inits);
    detail::progress_reporter reporter(options.sampler, count, run_start);
    for (std::size_t c = 0; checkpoint && c < count; ++c) {
        if (const auto& saved = checkpoint->loaded(c)) {
            chains[c].restore(saved->resume);
            engines[c].set_state(saved->random);
            reporter.resume(c, chains[c]);
        }
    }
    auto save = [&](std::size_t c, bool stopping) {
        if (checkpoint) checkpoint->save(c, chains[c], engines[c], stopping);
    };

    nuts_chains_result result;
    result.chains.resize(count);
    auto run_round = [&] {
        if (options.lockstep) {
            result.lockstep_rounds +=
                detail::run_chains_in_lockstep(chains, evaluators, options.threads, reporter, save);
        } else {
            parallel_for(count, options.threads, [&](std::size_t c) {
                detail::run_chain(chains[c], evaluators[c], reporter, c,
                                  [&](bool stopping) { save(c, stopping); });
            });
        }
    };
    if (options.min_ess <= 0) {
        run_round();
    } else {
        // Rounds whose lengths follow from the draws alone, so a seed gives
        // the same schedule on any number of threads, and a resumed run
        // replays the checks of the rounds its chains had already drawn.
        std::size_t target = std::min(options.first_round, options.sampler.samples);
        while (true) {
            for (auto& chain : chains) chain.set_sample_target(target);
            run_round();
            if (reporter.stop_requested()) break;
            const detail::precision_estimate estimate =
                detail::estimate_precision(chains, standard, target);
            ++result.precision_rounds;
            result.min_ess = estimate.min_ess;
            result.max_rhat = estimate.max_rhat;
            reporter.set_precision(estimate.min_ess, options.min_ess);
            result.precision_reached =
                estimate.min_ess >= options.min_ess && estimate.max_rhat <= options.max_rhat;
            if (result.precision_reached || target >= options.sampler.samples) break;
            target = detail::next_round_target(target, estimate.min_ess, options);
        }
    }
    parallel_for(count, options.threads, [&](std::size_t c) {
        result.chains[c] = detail::finish_chain(chains[c], standard, transform);
    });
    for (const auto& chain : result.chains) result.stopped_early |= chain.stopped_early;
    result.wall_seconds = detail::seconds_between(run_start, detail::run_clock::now());
    return result;
}

}  // namespace diskmc
