#pragma once
// One NUTS chain, warmup and sampling, as a resumable computation: it pauses
// whenever it needs the log-density and gradient at a point, so a driver can
// run it alone or in lockstep with other chains. It never sees the model.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "diskmc/samplers/nuts/adaptation.hpp"
#include "diskmc/samplers/nuts/metric.hpp"
#include "diskmc/samplers/nuts/options.hpp"
#include "diskmc/samplers/nuts/result.hpp"
#include "diskmc/samplers/nuts/trajectory.hpp"

namespace diskmc::detail {

/// Stan's heuristic for a first step size (stan::mcmc::base_hmc::
/// init_stepsize): from the current point, one leapfrog step with fresh
/// momentum; double the step while the energy change stays above log(0.8),
/// or halve it while it stays below, and stop at the first step that
/// crosses. Resumable like nuts_transition.
template <random_draws Rng>
class step_size_search {
public:
    void start(const sampled_point& from, const euclidean_metric& metric, double step, Rng& rng) {
        from_ = &from;
        metric_ = &metric;
        rng_ = &rng;
        step_ = step;
        direction_ = 0;
        failed_ = false;
        finished_ = false;
        begin_trial();
    }

    bool needs_evaluation() const { return !finished_; }
    const Eigen::VectorXd& pending_position() const { return z_.position; }
    Eigen::VectorXd& pending_gradient() { return z_.gradient; }

    void resume(double log_density) {
        z_.log_density = log_density;
        const bool usable = usable_evaluation(log_density, z_.gradient, z_.momentum.size());
        if (usable) leapfrog_finish(z_, *metric_, step_);
        const double energy = usable ? z_.hamiltonian() : std::numeric_limits<double>::infinity();
        const double energy_change = initial_energy_ - energy;
        const double threshold = std::log(0.8);
        if (direction_ == 0) {
            // The first trial only decides whether to grow or shrink.
            direction_ = energy_change > threshold ? 1 : -1;
            begin_trial();
            return;
        }
        const bool crossed = direction_ == 1 ? !(energy_change > threshold)
                                             : !(energy_change < threshold);
        if (crossed) {
            finished_ = true;
            return;
        }
        step_ = direction_ == 1 ? 2.0 * step_ : 0.5 * step_;
        // Stan throws here; a run reports it instead (result.step_size_search_failed).
        if (step_ > 1e7 || step_ < std::numeric_limits<double>::min()) {
            step_ = std::min(std::max(step_, std::numeric_limits<double>::min()), 1e7);
            failed_ = true;
            finished_ = true;
            return;
        }
        begin_trial();
    }

    double step_size() const { return step_; }
    bool failed() const { return failed_; }

private:
    void begin_trial() {
        z_.position = from_->position;
        z_.gradient = from_->gradient;
        z_.log_density = from_->log_density;
        metric_->sample_momentum(*rng_, z_.momentum);
        metric_->velocity(z_.momentum, z_.velocity);
        initial_energy_ = z_.hamiltonian();
        leapfrog_to_new_position(z_, *metric_, step_);
    }

    const sampled_point* from_ = nullptr;
    const euclidean_metric* metric_ = nullptr;
    Rng* rng_ = nullptr;
    phase_point z_;
    double step_ = 1.0;
    double initial_energy_ = 0.0;
    int direction_ = 0;
    bool failed_ = false;
    bool finished_ = true;
};

/// A chain's settings after the driver has resolved them: the metric and the
/// regularisation target in the sampler's coordinates.
struct chain_setup {
    nuts_options options;
    Eigen::MatrixXd initial_inverse_metric;  // dim x 1 (unit, diagonal) or dim x dim (dense)
    Eigen::MatrixXd regularization_target;   // same shape, or empty for diag(estimate)
};

/// What a chain that finished its warmup needs to go on sampling exactly as
/// if it had never stopped (see nuts_chain::restore): its adapted step size
/// and metric, its current point, and its result so far (warmup statistics
/// and draws, sampling statistics and draws, counts).
struct chain_resume_point {
    double step_size = 0.0;
    Eigen::MatrixXd inverse_metric;
    sampled_point current;
    nuts_result result;
};

/// One chain through warmup and sampling. Iteration 0 is the setup (the
/// initial step-size search, if any); iterations 1.. are the transitions,
/// each with its adaptation and, at the end of a metric window, a new
/// step-size search. A driver calls advance() to begin an iteration and then
/// evaluates and resume()s while needs_evaluation().
template <random_draws Rng>
class nuts_chain {
public:
    nuts_chain(const chain_setup& setup, const sampled_point& start, Rng& rng)
        : options_(setup.options),
          target_(setup.regularization_target),
          rng_(&rng),
          current_(start),
          transition_(start.position.size(),
                      std::max({options_.max_tree_depth, warmup_depth(options_),
                                options_.fixed_tree_depth})),
          step_adaptation_(options_.target_accept, options_.gamma, options_.t0, options_.kappa),
          window_estimate_(start.position.size(), options_.metric == metric_kind::dense),
          trust_estimate_(start.position.size(), /*dense=*/false) {
        metric_.set_inverse(options_.metric, setup.initial_inverse_metric);
        step_ = options_.step_size > 0 ? options_.step_size : 1.0;
        warmup_length_ = options_.warmup;
        switch (options_.warmup_adaptation) {
            case warmup_mode::windowed:
                result_.warmup_taken = warmup_path::windowed;
                start_windows(0);
                break;
            case warmup_mode::step_size_only:
                result_.warmup_taken = warmup_path::step_size_only;
                break;
            case warmup_mode::trust_metric_with_fallback:
                result_.warmup_taken = warmup_path::trusted;
                warmup_length_ = options_.trusted_warmup;
                break;
        }

        const Eigen::Index dim = start.position.size();
        result_.metric = options_.metric;
        result_.target_accept = options_.target_accept;
        result_.max_tree_depth = sampling_depth(options_);
        result_.draws.resize(static_cast<Eigen::Index>(options_.samples), dim);
        sample_target_ = options_.samples;
        if (options_.save_warmup)
            result_.warmup_draws.resize(static_cast<Eigen::Index>(options_.warmup), dim);
        result_.warmup.reserve(options_.warmup);
        result_.sampling.reserve(options_.samples);
        result_.gradient_evaluations_warmup = 1;  // the driver's evaluation at the start point
    }

    /// The chain has drawn its sample target (see set_sample_target).
    bool complete() const { return setup_done_ && stage_ == stage::idle && iteration_ >= total(); }
    /// Transitions completed (warmup included); the setup is not one.
    std::size_t iterations_done() const { return iteration_; }
    bool in_sampling() const { return setup_done_ && iteration_ >= warmup_length_; }
    /// The warmup's length as known now: a trusted warmup's short length
    /// until its check fails, the full one after.
    std::size_t warmup_length() const { return warmup_length_; }
    /// warmup_length() + the sample target.
    std::size_t total() const { return warmup_length_ + sample_target_; }
    /// Draw `samples` (at most options.samples) sampling iterations in all:
    /// a run that stops on precision raises it round by round.
    void set_sample_target(std::size_t samples) { sample_target_ = std::min(samples, options_.samples); }

    /// Begins the next iteration; afterwards needs_evaluation() may be true.
    void advance() {
        if (!setup_done_) {
            setup_done_ = true;
            // Stan searches at the start of an adaptive run; a step size of 0
            // means "find one" even without adaptation.
            const bool search = options_.step_size == 0 ||
                                (options_.adapt_step_size && warmup_length_ > 0);
            if (search) start_search(/*after_window=*/false);
            return;
        }
        if (iteration_ >= total()) return;  // e.g. restored past this round's target
        double step = step_;
        if (options_.step_size_jitter > 0)
            step *= 1.0 + options_.step_size_jitter * (2.0 * rng_->uniform() - 1.0);
        step_used_ = step;
        const std::size_t depth =
            iteration_ < warmup_length_ ? warmup_depth(options_) : sampling_depth(options_);
        transition_.start(current_, metric_, step, depth, options_.max_energy_error,
                          /*check_u_turn=*/options_.fixed_tree_depth == 0, *rng_);
        stage_ = stage::transition;
    }

    bool needs_evaluation() const {
        switch (stage_) {
            case stage::search: return search_.needs_evaluation();
            case stage::transition: return transition_.needs_evaluation();
            case stage::idle: return false;
        }
        return false;
    }
    const Eigen::VectorXd& pending_position() const {
        return stage_ == stage::search ? search_.pending_position()
                                       : transition_.pending_position();
    }
    Eigen::VectorXd& pending_gradient() {
        return stage_ == stage::search ? search_.pending_gradient()
                                       : transition_.pending_gradient();
    }

    /// Continues after evaluating the model at pending_position().
    void resume(double log_density) {
        if (breaks_contract(log_density, pending_gradient(), current_.position.size()))
            ++result_.non_finite_evaluations;
        if (stage_ == stage::search || iteration_ < warmup_length_)
            ++result_.gradient_evaluations_warmup;
        else
            ++result_.gradient_evaluations_sampling;
        if (stage_ == stage::search) {
            search_.resume(log_density);
            if (!search_.needs_evaluation()) finish_search();
        } else {
            transition_.resume(log_density);
            if (!transition_.needs_evaluation()) finish_transition();
        }
    }

    nuts_result& result() { return result_; }
    const nuts_result& result() const { return result_; }

    /// The state the next transition starts from, the step size and the
    /// inverse metric it will use: with the result and the random stream,
    /// all a checkpoint needs once warmup has ended.
    const sampled_point& current() const { return current_; }
    double step_size() const { return step_; }
    Eigen::MatrixXd inverse_metric() const { return metric_.inverse(); }

    /// Puts a fresh chain (same setup) where a chain was after its warmup and
    /// point.result.sampling.size() sampling iterations; the caller restores
    /// the random stream. Adaptation is over then, so nothing else matters
    /// for the transitions to come.
    void restore(const chain_resume_point& point) {
        setup_done_ = true;
        stage_ = stage::idle;
        step_ = point.step_size;
        metric_.set_inverse(options_.metric, point.inverse_metric);
        current_ = point.current;
        const nuts_result& saved = point.result;
        result_.warmup = saved.warmup;
        result_.sampling = saved.sampling;
        if (options_.save_warmup) result_.warmup_draws = saved.warmup_draws;
        result_.draws.topRows(saved.draws.rows()) = saved.draws;
        result_.metric_updates = saved.metric_updates;
        result_.warmup_taken = saved.warmup_taken;
        result_.warmup_check = saved.warmup_check;
        result_.rejected_metric_updates = saved.rejected_metric_updates;
        result_.step_size_search_failed = saved.step_size_search_failed;
        result_.gradient_evaluations_warmup = saved.gradient_evaluations_warmup;
        result_.gradient_evaluations_sampling = saved.gradient_evaluations_sampling;
        result_.non_finite_evaluations = saved.non_finite_evaluations;
        warmup_length_ = saved.warmup.size();
        iteration_ = warmup_length_ + saved.sampling.size();
    }

    /// Ends the run between iterations: the result keeps the completed
    /// iterations only. Call finish() afterwards as usual.
    void stop_early() {
        result_.stopped_early = true;
        const Eigen::Index dim = result_.draws.cols();
        result_.draws.conservativeResize(static_cast<Eigen::Index>(result_.sampling.size()), dim);
        if (options_.save_warmup)
            result_.warmup_draws.conservativeResize(
                static_cast<Eigen::Index>(result_.warmup.size()), dim);
    }

    /// Fills in the adapted step size and metric, and cuts the draws to those
    /// made (a sample target below options.samples); call once complete().
    nuts_result& finish() {
        const Eigen::Index dim = result_.draws.cols();
        result_.draws.conservativeResize(static_cast<Eigen::Index>(result_.sampling.size()), dim);
        result_.step_size = step_;
        result_.inverse_metric = metric_.inverse();
        return result_;
    }

private:
    enum class stage { idle, search, transition };

    static std::size_t sampling_depth(const nuts_options& options) {
        return options.fixed_tree_depth > 0 ? options.fixed_tree_depth : options.max_tree_depth;
    }
    static std::size_t warmup_depth(const nuts_options& options) {
        if (options.fixed_tree_depth > 0) return options.fixed_tree_depth;
        return options.max_tree_depth_warmup > 0 ? options.max_tree_depth_warmup
                                                 : options.max_tree_depth;
    }
    void start_search(bool after_window) {
        search_after_window_ = after_window;
        search_.start(current_, metric_, step_, *rng_);
        stage_ = stage::search;
    }

    void finish_search() {
        step_ = search_.step_size();
        if (search_.failed()) result_.step_size_search_failed = true;
        step_adaptation_.restart(step_);
        stage_ = stage::idle;
        if (search_after_window_) end_iteration();
    }

    void finish_transition() {
        stage_ = stage::idle;
        current_ = transition_.sample();
        const transition_outcome& outcome = transition_.outcome();
        const nuts_iteration stats{.accept_stat = outcome.accept_stat,
                                   .step_size = step_used_,
                                   .tree_depth = outcome.tree_depth,
                                   .n_leapfrog = outcome.n_leapfrog,
                                   .divergent = outcome.divergent,
                                   .energy = outcome.energy,
                                   .log_density = current_.log_density};
        if (iteration_ >= warmup_length_) {
            result_.sampling.push_back(stats);
            result_.draws.row(static_cast<Eigen::Index>(iteration_ - warmup_length_)) =
                current_.position.transpose();
            end_iteration();
            return;
        }
        result_.warmup.push_back(stats);
        if (options_.save_warmup)
            result_.warmup_draws.row(static_cast<Eigen::Index>(iteration_)) =
                current_.position.transpose();
        if (options_.adapt_step_size) step_ = step_adaptation_.update(outcome.accept_stat);
        if (result_.warmup_taken == warmup_path::trusted && 2 * (iteration_ + 1) > warmup_length_)
            trust_estimate_.add(current_.position);  // the short warmup's second half
        const std::size_t window_iteration = iteration_ - windows_offset_;
        if (adapt_metric_ && iteration_ >= windows_offset_ && windows_.collects(window_iteration)) {
            window_estimate_.add(current_.position);
            if (windows_.closes_window(window_iteration) && update_metric()) {
                // Stan restarts the step size after each new metric.
                if (options_.adapt_step_size) {
                    start_search(/*after_window=*/true);
                    return;
                }
            }
        }
        end_iteration();
    }

    bool update_metric() {
        const std::size_t count = window_estimate_.count();
        bool updated = false;
        if (count >= 2) {
            const Eigen::MatrixXd inverse = regularize_inverse_metric(
                window_estimate_.estimate(), count, options_.regularization, target_);
            updated = metric_.set_inverse(options_.metric, inverse);
            if (updated)
                ++result_.metric_updates;
            else
                ++result_.rejected_metric_updates;
        }
        window_estimate_.restart();
        return updated;
    }

    /// Stan's windows over warmup iterations [first, options.warmup).
    void start_windows(std::size_t first) {
        windows_offset_ = first;
        windows_ = adaptation_windows(options_.warmup - first, options_.init_buffer,
                                      options_.base_window, options_.term_buffer);
        adapt_metric_ = options_.adapt_metric && options_.metric != metric_kind::unit &&
                        !windows_.window_ends().empty();
    }

    /// The end of a trusted warmup: keep its step size, or fall back to the
    /// windows for the rest of options.warmup (dual averaging goes on).
    void check_trusted_warmup() {
        trusted_warmup_check& check = result_.warmup_check;
        const double step = step_adaptation_.averaged_step_size(step_);
        const Eigen::Index dim = current_.position.size();
        check.step_size_ratio =
            step / gaussian_step_size(static_cast<std::size_t>(dim), options_.target_accept);
        // The draws' variances relative to the metric's: 1 when it is right.
        const Eigen::VectorXd variance = trust_estimate_.estimate().col(0);
        const Eigen::MatrixXd inverse = metric_.inverse();
        const Eigen::VectorXd scale =
            inverse.cols() == 1 ? Eigen::VectorXd(inverse.col(0)) : Eigen::VectorXd(inverse.diagonal());
        const Eigen::ArrayXd relative = variance.array() / scale.array();
        check.variance_min = relative.minCoeff();
        check.variance_max = relative.maxCoeff();
        check.passed = !options_.adapt_step_size ||
                       (check.step_size_ratio >= trusted_step_size_ratio &&
                        check.variance_min >= 1.0 / trusted_variance_ratio &&
                        check.variance_max <= trusted_variance_ratio);
        if (check.passed) return;
        result_.warmup_taken = warmup_path::fell_back;
        warmup_length_ = options_.warmup;
        start_windows(iteration_ + 1);
    }

    void end_iteration() {
        if (result_.warmup_taken == warmup_path::trusted && iteration_ + 1 == warmup_length_)
            check_trusted_warmup();
        if (iteration_ + 1 == warmup_length_) {
            if (options_.adapt_step_size) {
                step_ = step_adaptation_.averaged_step_size(step_);
                if (result_.warmup_taken == warmup_path::trusted) step_ *= trusted_step_size_shrink;
            }
            if (options_.save_warmup)
                result_.warmup_draws.conservativeResize(static_cast<Eigen::Index>(warmup_length_),
                                                        result_.warmup_draws.cols());
        }
        ++iteration_;
    }

    nuts_options options_;
    Eigen::MatrixXd target_;
    Rng* rng_;

    sampled_point current_;
    euclidean_metric metric_;
    double step_ = 1.0;
    double step_used_ = 1.0;
    bool adapt_metric_ = false;
    std::size_t warmup_length_ = 0;
    std::size_t sample_target_ = 0;

    nuts_transition<Rng> transition_;
    step_size_search<Rng> search_;
    bool search_after_window_ = false;
    dual_averaging step_adaptation_;
    adaptation_windows windows_;
    std::size_t windows_offset_ = 0;  // the warmup iteration the windows start at
    running_covariance window_estimate_;
    running_covariance trust_estimate_;  // draws of a trusted warmup, for its check

    stage stage_ = stage::idle;
    bool setup_done_ = false;
    std::size_t iteration_ = 0;  // transitions finished
    nuts_result result_;
};

}  // namespace diskmc::detail
