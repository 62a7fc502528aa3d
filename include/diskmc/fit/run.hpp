#pragma once
// fit_rotation_map(): eddy's fit_map in one call. The map is clipped and
// downsampled, the mask built from the starting geometry, the MAP found
// (optional), and the posterior sampled by the ensemble sampler or NUTS;
// the result summarises every free parameter and holds the model and
// residual maps at the median.
//
// The fit is split in two so that a program offering many model families
// compiles the fit once, not once per family: the family-specific front
// (fit_rotation_map(options, family)) builds the mask, the likelihood
// (type-erased as inference::any_disk_likelihood; the per-pixel code stays
// templated) and the model image, and the family-independent core
// (detail::fit_rotation_map_core, not a template) does the rest.
//
// @code
//   diskmc::fit_result fit = diskmc::fit_rotation_map(options);
//   double mstar = fit.median("mstar");
//   for (const auto& warning : fit.warnings) std::puts(warning.c_str());
// @endcode

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "diskmc/concepts/log_density.hpp"
#include "diskmc/diagnostics/autocorrelation.hpp"
#include "diskmc/diagnostics/summary.hpp"
#include "diskmc/diagnostics/warnings.hpp"
#include "diskmc/disk/mask.hpp"
#include "diskmc/disk/model_image.hpp"
#include "diskmc/disk/sky_map.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/fit/options.hpp"
#include "diskmc/fit/memory.hpp"
#include "diskmc/fit/model_choice.hpp"
#include "diskmc/fit/result.hpp"
#include "diskmc/inference/any_disk_likelihood.hpp"
#include "diskmc/inference/disk_family.hpp"
#include "diskmc/inference/disk_likelihood.hpp"
#include "diskmc/inference/map.hpp"
#include "diskmc/inference/posterior.hpp"
#include "diskmc/samplers/ensemble.hpp"
#include "diskmc/samplers/laplace.hpp"
#include "diskmc/samplers/nuts.hpp"

namespace diskmc {

/// eddy's model with a flared, tapered emission surface (z0, psi, r_cavity,
/// r_taper, q_taper) and Keplerian rotation.
using flared_keplerian_family = inference::disk_family<flared_component, keplerian_component>;
/// eddy's model of a thin (midplane) disk with Keplerian rotation.
using thin_keplerian_family = inference::disk_family<thin_component, keplerian_component>;

namespace detail {

inline constexpr std::string_view fit_function = "fit_rotation_map";

/// Throws interrupted(during) if `stop` asks to stop.
inline void stop_point(const std::function<bool()>& stop, const std::string& during) {
    if (stop && stop()) throw interrupted(during);
}

/// A likelihood that counts its evaluations (values, and values with
/// gradient), safely from several threads, and while interruptible() throws
/// interrupted once `stop` says so (the MAP step has no other way out);
/// it refers to the likelihood it wraps.
template <class Likelihood>
class monitored_likelihood {
public:
    monitored_likelihood(const Likelihood& likelihood, const std::function<bool()>& stop)
        : likelihood_(likelihood), stop_(stop) {}

    std::vector<std::string> parameter_names() const { return likelihood_.parameter_names(); }

    template <class T>
    T log_likelihood(const Eigen::Matrix<T, Eigen::Dynamic, 1>& full) const {
        if constexpr (std::is_same_v<T, double>) {
            values_.fetch_add(1, std::memory_order_relaxed);
            check_stop();
        }
        return likelihood_.template log_likelihood<T>(full);
    }

    double log_likelihood_gradient(const Eigen::VectorXd& full, Eigen::VectorXd& grad) const {
        gradients_.fetch_add(1, std::memory_order_relaxed);
        check_stop();
        return likelihood_.log_likelihood_gradient(full, grad);
    }

    /// The likelihood's Gauss-Newton pieces, when it has them (the MAP
    /// step's Levenberg-Marquardt); counted apart.
    double log_likelihood_normal_equations(const Eigen::VectorXd& full, Eigen::VectorXd& grad,
                                           Eigen::MatrixXd& gauss_newton) const
        requires named_least_squares_log_likelihood<Likelihood>
    {
        jacobians_.fetch_add(1, std::memory_order_relaxed);
        check_stop();
        return likelihood_.log_likelihood_normal_equations(full, grad, gauss_newton);
    }

    /// The residuals' curvature (differences of gradient sweeps, counted
    /// as gradients).
    Eigen::MatrixXd residual_curvature(const Eigen::VectorXd& full, const Eigen::VectorXd& steps) const
        requires named_least_squares_log_likelihood<Likelihood>
    {
        std::size_t sweeps = 1;
        for (Eigen::Index k = 0; k < steps.size(); ++k) sweeps += steps[k] > 0.0 ? 2 : 0;
        gradients_.fetch_add(sweeps, std::memory_order_relaxed);
        check_stop();
        return likelihood_.residual_curvature(full, steps);
    }

    std::size_t values() const { return values_.load(); }
    std::size_t gradients() const { return gradients_.load(); }
    std::size_t jacobians() const { return jacobians_.load(); }

    /// While set, an evaluation after a stop request throws
    /// interrupted(during) instead of evaluating.
    void interruptible(std::optional<std::string> during) { during_ = std::move(during); }

private:
    void check_stop() const {
        if (during_) stop_point(stop_, *during_);
    }

    const Likelihood& likelihood_;
    const std::function<bool()>& stop_;
    std::optional<std::string> during_;
    mutable std::atomic<std::size_t> values_{0};
    mutable std::atomic<std::size_t> gradients_{0};
    mutable std::atomic<std::size_t> jacobians_{0};
};

/// A log-density whose groups of points go to an ensemble_batch_evaluator
/// (fit_options::ensemble_batch) in one call each.
template <log_density Density>
class batch_evaluated {
public:
    batch_evaluated(const Density& density, const ensemble_batch_evaluator& evaluate)
        : density_(density), evaluate_(evaluate) {}

    std::size_t dim() const { return density_.dim(); }

    double log_density(const Eigen::VectorXd& x) const { return static_cast<double>(density_.log_density(x)); }

    void log_density_batch(const Eigen::MatrixXd& points, Eigen::VectorXd& out) const {
        evaluate_(points, out, [this](const Eigen::VectorXd& x) { return log_density(x); });
    }

private:
    const Density& density_;
    const ensemble_batch_evaluator& evaluate_;
};

/// A sampler's progress callback that also stops the run on a stop request.
template <class Progress>
std::function<bool(const Progress&)> stoppable(std::function<bool(const Progress&)> progress,
                                               const std::function<bool()>& stop) {
    if (!stop) return progress;
    return [progress = std::move(progress), &stop](const Progress& p) {
        const bool go_on = progress ? progress(p) : true;
        return go_on && !stop();
    };
}

/// Cuts every chain of a stopped run to the draws all chains completed
/// (chains on threads stop a draw or so apart), so the summary sees equal
/// chains; returns that count.
inline std::size_t cut_to_common_length(nuts_chains_result& run) {
    std::size_t common = std::numeric_limits<std::size_t>::max();
    for (const nuts_result& chain : run.chains) common = std::min(common, chain.sampling.size());
    for (nuts_result& chain : run.chains) {
        const auto rows = static_cast<Eigen::Index>(common);
        chain.sampling.resize(common);
        chain.draws.conservativeResize(rows, Eigen::NoChange);
        if (chain.transformed_draws.size() != 0) chain.transformed_draws.conservativeResize(rows, Eigen::NoChange);
    }
    return common;
}

/// The warning of a fit stopped during sampling.
inline std::string interrupted_warning(std::size_t draws, std::size_t planned, const char* per) {
    return "Interrupted during sampling after " + std::to_string(draws) + " of " + std::to_string(planned) +
           " draws " + per + ": the summary is of those draws only.";
}

/// The map clipped to the field of view, then downsampled, as eddy orders them.
inline sky_map prepare_map(const fit_options& options) {
    const sky_map& map = options.map;
    check_argument(map.data.size() > 0, fit_function, "the map has no pixels");
    if (map.data.rows() != map.grid.ny() || map.data.cols() != map.grid.nx())
        throw_invalid_input(fit_function, ": the map's data is ", map.data.rows(), "x", map.data.cols(),
                            " but its grid is ", map.grid.ny(), "x", map.grid.nx());
    if (map.uncertainty.rows() != map.data.rows() || map.uncertainty.cols() != map.data.cols())
        throw_invalid_input(fit_function, ": the map needs an uncertainty map of its shape (", map.data.rows(), "x",
                            map.data.cols(), "), got ", map.uncertainty.rows(), "x", map.uncertainty.cols());
    check_usable_pixels(fit_function, map);  // before the cuts, so a cut's own failure reads as such
    sky_map prepared = options.field_of_view ? clip_field_of_view(map, *options.field_of_view) : map;
    if (options.downsample.to_beam) return downsample_by_beam(prepared);
    if (options.downsample.factor != 1) return downsample(prepared, options.downsample.factor);
    return prepared;
}

/// The likelihood's full parameter vector at the starting point: free starts,
/// fixed values, catalogue defaults.
inline Eigen::VectorXd full_start(const inference::parameter_set& parameters, const std::vector<std::string>& names) {
    const Eigen::VectorXd start = parameters.start();
    Eigen::VectorXd full(static_cast<Eigen::Index>(names.size()));
    for (std::size_t k = 0; k < names.size(); ++k) {
        const auto at = static_cast<Eigen::Index>(k);
        if (parameters.is_free(names[k])) {
            full[at] = start[static_cast<Eigen::Index>(parameters.free_index(names[k]))];
        } else if (const auto value = parameters.fixed_value(names[k])) {
            full[at] = *value;
        } else {
            throw_invalid_input(fit_function, ": the model needs parameter '", names[k],
                                "', which has no default: give it (free or fixed)");
        }
    }
    return full;
}

/// Every check of the sampler's settings that needs no model evaluation.
inline void check_sampler_settings(const fit_sampler_settings& settings, std::size_t dim) {
    if (const auto* e = std::get_if<ensemble_fit_settings>(&settings)) {
        check_ensemble_options(e->options, dim, e->walkers);
        if (e->walkers % 2 != 0 || e->walkers < 2 * dim)
            throw_invalid_input(fit_function, ": the ensemble needs an even number of walkers, at least 2 x ", dim,
                                " free parameters = ", 2 * dim, "; got ", e->walkers);
        if (e->options.steps / e->options.thin < 4)
            throw_invalid_input(fit_function, ": the ensemble keeps steps / thin = ", e->options.steps / e->options.thin,
                                " draws per walker; at least 4 are needed for the diagnostics");
        check_positive(fit_function, "ensemble start_scale", e->start_scale);
    } else if (const auto* l = std::get_if<laplace_fit_settings>(&settings)) {
        if (l->options.draws < 10)
            throw_invalid_input(fit_function, ": the Laplace sampler needs at least 10 draws; got ", l->options.draws);
        if (l->options.block == 0) throw_invalid_input(fit_function, ": the Laplace sampler's block must be >= 1");
        check_positive(fit_function, "the Laplace sampler's scale", l->options.scale);
        if (l->fallback == laplace_fallback::nuts) check_sampler_settings(l->nuts, dim);
    } else {
        const auto& n = std::get<nuts_fit_settings>(settings);
        check_argument(n.options.chains >= 1, fit_function, "NUTS needs at least 1 chain");
        check_nuts_options(n.options.sampler, dim);
        check_precision_options(n.options);
        if (n.options.sampler.samples < 4)
            throw_invalid_input(fit_function, ": NUTS keeps ", n.options.sampler.samples,
                                " samples per chain; at least 4 are needed for the diagnostics");
        check_nonnegative(fit_function, "NUTS start_scale", n.start_scale);
    }
    check_draws_memory(fit_function, settings, dim);
}

/// Start points of walkers or chains, free parameters x count, in the
/// constrained space. With a covariance of the unconstrained parameters
/// (non-empty `unconstrained_covariance`) they are drawn from
/// N(u(centre), scale^2 covariance) in the unconstrained space, so they
/// respect the priors' bounds; without, in eddy's relative ball
/// theta (1 + 1e-3 N(0, 1)) around `centre`. A point where `is_valid` fails is
/// pulled toward the centre by halves until it passes (the centre itself
/// must pass).
template <class Valid>
Eigen::MatrixXd start_points(const inference::parameter_set& parameters, const Eigen::VectorXd& centre,
                             const Eigen::MatrixXd& unconstrained_covariance, std::size_t count, double scale,
                             std::uint64_t seed, const Valid& is_valid) {
    const std::size_t dim = parameters.dim();
    const bool in_unconstrained_space = unconstrained_covariance.size() != 0;
    const Eigen::VectorXd centre_drawn = in_unconstrained_space ? parameters.to_unconstrained(centre) : centre;
    const Eigen::MatrixXd drawn =
        in_unconstrained_space
            ? initial_positions(gaussian_start{centre_drawn, unconstrained_covariance, count, scale}, dim, seed)
            : initial_positions(scatter_start{centre, count}, dim, seed);
    auto to_constrained = [&](const Eigen::VectorXd& x) -> Eigen::VectorXd {
        return in_unconstrained_space ? parameters.to_constrained(x) : x;
    };
    Eigen::MatrixXd points(drawn.rows(), drawn.cols());
    for (Eigen::Index k = 0; k < drawn.cols(); ++k) {
        Eigen::VectorXd x = drawn.col(k);
        for (int halving = 0; halving < 60 && !is_valid(to_constrained(x)); ++halving)
            x = centre_drawn + 0.5 * (x - centre_drawn);
        points.col(k) = to_constrained(x);
    }
    return points;
}

/// Draws of one chain, draws x dim, with the periodic parameters wrapped.
inline void wrap_draws(const inference::parameter_set& parameters, Eigen::MatrixXd& draws) {
    Eigen::MatrixXd by_column = draws.transpose();
    parameters.wrap_periodic(by_column);
    draws = by_column.transpose();
}

/// A density in standardised coordinates, theta = centre + L z: an
/// optimiser sees a posterior of unit scale in every direction.
template <class Density>
struct standardized_density {
    const Density& density;
    Eigen::VectorXd centre;
    Eigen::MatrixXd lower;  // L

    std::size_t dim() const { return density.dim(); }
    double log_density(const Eigen::VectorXd& z) const {
        return density.log_density(Eigen::VectorXd(centre + lower * z));
    }
    double log_density_gradient(const Eigen::VectorXd& z, Eigen::VectorXd& gradient) const {
        Eigen::VectorXd theta_gradient;
        const double value = density.log_density_gradient(Eigen::VectorXd(centre + lower * z), theta_gradient);
        gradient = lower.transpose() * theta_gradient;
        return value;
    }
};

/// The MAP point. L-BFGS-B on the raw parameters crawls when their scales
/// differ by orders of magnitude (mas offsets beside m/s velocities: a
/// Hessian condition number ~1e12 here), so when the first search stops
/// unconverged with a usable covariance, the search goes on in coordinates
/// standardised by that covariance, where the posterior is nearly round, and
/// the covariance is then estimated again at the better point.
template <class Posterior>
inference::map_result find_map_standardized(const Posterior& posterior, const Eigen::VectorXd& start,
                                            const inference::map_options& settings) {
    inference::map_options first_pass = settings;
    first_pass.max_iterations = std::min(settings.max_iterations, 200);
    inference::map_result first = inference::find_map(posterior, start, first_pass);
    if (first.converged() || first.status == inference::map_status::start_not_finite) return first;
    const Eigen::LLT<Eigen::MatrixXd> cholesky(first.covariance.covariance);
    if (first.covariance.status != inference::covariance_status::ok || cholesky.info() != Eigen::Success) {
        // No scale to standardise with: go on in the raw coordinates.
        inference::map_result rest = inference::find_map(posterior, first.point, settings);
        rest.evaluations += first.evaluations;
        rest.iterations += first.iterations;
        return rest;
    }
    const standardized_density<Posterior> round{posterior, first.point, cholesky.matrixL()};
    inference::map_options search = settings;
    search.covariance = false;
    search.max_iterations = std::min(settings.max_iterations, 200);  // the final pass judges convergence
    const auto n = static_cast<Eigen::Index>(posterior.dim());
    const Eigen::VectorXd open = Eigen::VectorXd::Constant(n, std::numeric_limits<double>::infinity());
    const inference::map_result refined = inference::find_map(round, Eigen::VectorXd::Zero(n), -open, open, search);
    if (!(refined.log_density > first.log_density)) return first;
    // A short final pass from the better point: its covariance, and the
    // unconstrained one for NUTS.
    inference::map_options final_pass = settings;
    final_pass.max_iterations = std::min(settings.max_iterations, 20);
    inference::map_result result = inference::find_map(posterior, round.centre + round.lower * refined.point, final_pass);
    result.evaluations += first.evaluations + refined.evaluations;
    result.iterations += first.iterations + refined.iterations;
    return result;
}

/// The MAP step's warnings.
inline void add_map_warnings(const inference::map_result& map, const inference::parameter_set& parameters,
                             std::vector<std::string>& warnings) {
    // L-BFGS-B's absolute tolerances are often out of reach on a map of
    // thousands of pixels (log p ~ 1e4) although the point is at the optimum
    // for any practical purpose. Judge it on the posterior's own scale: half
    // the squared Newton decrement, g^T C g / 2 (Boyd & Vandenberghe 2004,
    // sec. 9.5.1), is the log density still to gain; below 0.01 the point is
    // a few hundredths of a standard deviation from the optimum.
    const bool covariance_ok = map.covariance.status == inference::covariance_status::ok;
    const double gain = covariance_ok && map.gradient.size() == map.point.size()
                            ? 0.5 * map.gradient.dot(map.covariance.covariance * map.gradient)
                            : std::numeric_limits<double>::infinity();
    if (!map.converged() && !(gain < 0.01))
        warnings.push_back("The MAP search did not converge (" +
                           std::string(map.status == inference::map_status::max_iterations ? "iteration limit"
                                                                                           : "line search failed") +
                           (map.message.empty() ? "" : ": " + map.message) +
                           "); the sampler starts from the best point found.");
    std::vector<std::string> at_bound;
    for (std::size_t j = 0; j < map.at_bound.size(); ++j)
        if (map.at_bound[j]) at_bound.push_back(parameters.free_names()[j]);
    if (!at_bound.empty())
        warnings.push_back("The MAP point lies on a prior bound for " + joined_names(at_bound) +
                           ": the prior, not the data, limits them; widen it or fix them.");
    if (map.unconstrained_covariance.status != inference::covariance_status::ok)
        warnings.push_back(
            "No covariance at the MAP point (the Hessian is not positive definite or not finite): the sampler "
            "starts in a small ball around it and NUTS adapts its metric from scratch.");
}

/// The ensemble run's summary and warnings: the ensemble's own table
/// (summarize(ensemble_result)) with tau from the chain before PA was
/// wrapped; both ESS are walkers x draws / tau and R-hat is NaN (see
/// fit_parameter).
inline void summarize_ensemble(const ensemble_result& run, const inference::parameter_set& parameters,
                               const ensemble_result& unwrapped, fit_result& result) {
    const auto walkers = static_cast<Eigen::Index>(run.walkers);
    const auto draws = static_cast<Eigen::Index>(run.draws());
    const auto dim = static_cast<Eigen::Index>(run.dim);
    result.chains.assign(run.walkers, Eigen::MatrixXd(draws, dim));
    result.log_densities.assign(run.walkers, Eigen::VectorXd(draws));
    for (Eigen::Index d = 0; d < draws; ++d)
        for (Eigen::Index w = 0; w < walkers; ++w) {
            const auto walker = static_cast<std::size_t>(w);
            result.chains[walker].row(d) = run.samples.col(d * walkers + w).transpose();
            result.log_densities[walker][d] = run.log_densities(w, d);
        }
    const posterior_summary summary = summarize_ensemble_run(run, integrated_autocorrelation_times(unwrapped),
                                                             parameters.free_names(), {});
    for (const parameter_summary& line : summary.parameters)
        result.parameters.push_back(fit_parameter{line.name, line.p16, line.p50, line.p84, line.mean, line.sd,
                                                  line.ess_tau, line.ess_tau, line.rhat, line.tau});
    for (const auto& warning : summary.warnings) result.warnings.push_back(warning);
}

/// The NUTS run's summary and warnings.
inline void summarize_nuts(const nuts_chains_result& run, const inference::parameter_set& parameters,
                           fit_result& result) {
    for (const nuts_result& chain : run.chains) {
        result.chains.push_back(chain.transformed_draws);
        Eigen::VectorXd lp(static_cast<Eigen::Index>(chain.sampling.size()));
        for (std::size_t i = 0; i < chain.sampling.size(); ++i)
            lp[static_cast<Eigen::Index>(i)] = chain.sampling[i].log_density;
        result.log_densities.push_back(std::move(lp));
    }
    const posterior_summary summary = summarize(run, parameters.free_names(), true);
    for (const parameter_summary& line : summary.parameters)
        result.parameters.push_back(fit_parameter{line.name, line.p16, line.p50, line.p84, line.mean, line.sd,
                                                  line.ess_bulk, line.ess_tail, line.rhat, std::nullopt});
    for (const auto& warning : summary.warnings) result.warnings.push_back(warning);
}

/// The Laplace run's summary and warnings: its one chain is the resampled
/// draws (constrained, PA wrapped); both ESS are the importance ESS.
inline void summarize_laplace(const laplace_result& run, const inference::parameter_set& parameters,
                              fit_result& result) {
    const auto draws = run.resampled.cols();
    const auto dim = static_cast<Eigen::Index>(run.dim);
    Eigen::MatrixXd chain(draws, dim);
    Eigen::VectorXd lp(draws);
    for (Eigen::Index k = 0; k < draws; ++k) {
        chain.row(k) = parameters.to_constrained(Eigen::VectorXd(run.resampled.col(k))).transpose();
        lp[k] = run.log_densities[run.resampled_from[k]];
    }
    wrap_draws(parameters, chain);
    result.chains = {std::move(chain)};
    result.log_densities = {std::move(lp)};
    const posterior_summary summary = summarize_draws(result.chains, parameters.free_names());
    for (const parameter_summary& line : summary.parameters)
        result.parameters.push_back(fit_parameter{line.name, line.p16, line.p50, line.p84, line.mean, line.sd,
                                                  run.effective_sample_size, run.effective_sample_size,
                                                  std::numeric_limits<double>::quiet_NaN(), std::nullopt});
    for (auto& warning : laplace_warnings(run)) result.warnings.push_back(std::move(warning));
    if (const warning_thresholds thresholds; run.reliable() && thresholds.ess_too_low(run.effective_sample_size))
        result.warnings.push_back("The importance ESS of the Laplace draws is below " +
                                  threshold_text(thresholds.min_ess) +
                                  ": the quantiles are unreliable; ask for more draws.");
}

/// The Laplace branch of a fit: runs the sampler from the MAP point and its
/// unconstrained covariance and fills `result`. Returns the NUTS settings to
/// run instead when the fit should go on with NUTS (the `nuts` fallback, with
/// a note in the warnings), else nullptr.
/// @throws invalid_input for the `none` fallback without a MAP covariance
template <class UnconstrainedPosterior>
const nuts_fit_settings* sample_laplace(const laplace_fit_settings& settings, const UnconstrainedPosterior& density,
                                        const inference::parameter_set& parameters, const Eigen::VectorXd& centre,
                                        const Eigen::MatrixXd& unconstrained_covariance, const fit_options& options,
                                        fit_result& result) {
    const bool go_on_with_nuts = settings.fallback == laplace_fallback::nuts;
    if (unconstrained_covariance.size() == 0) {
        const char* why = options.optimize ? "the MAP step gave no covariance (its Hessian is not positive definite)"
                                           : "the MAP step is off (optimize = false)";
        if (!go_on_with_nuts)
            throw_invalid_input(fit_function, ": the Laplace sampler draws from the MAP point's covariance, but ", why,
                                "; use NUTS, or kind \"auto\" to fall back to it");
        result.warnings.push_back(std::string("Sampler auto: ") + why + ", so NUTS ran instead of the Laplace sampler.");
        return &settings.nuts;
    }
    laplace_options run_options = settings.options;
    run_options.threads = options.threads;
    run_options.progress = stoppable(std::move(run_options.progress), options.stop_requested);
    laplace_result run = laplace(density, parameters.to_unconstrained(centre), unconstrained_covariance, run_options,
                                 settings.seed);
    if (go_on_with_nuts && !run.reliable() && !run.stopped_early) {
        char khat[64];
        std::snprintf(khat, sizeof khat, "%.2f > %.2f", run.khat, run.khat_threshold);
        result.warnings.push_back(std::string("Sampler auto: Pareto k-hat of the Laplace draws is ") + khat +
                                  " (the posterior is not close enough to normal), so NUTS ran from the same MAP "
                                  "point and covariance.");
        result.laplace_attempt = std::move(run);
        return &settings.nuts;
    }
    if (run.stopped_early) {
        if (run.draws.cols() < 10) throw interrupted("the Laplace draws");
        result.interrupted = true;
        result.warnings.push_back(interrupted_warning(static_cast<std::size_t>(run.draws.cols()), run_options.draws, "in all"));
    }
    summarize_laplace(run, parameters, result);
    result.sampler = std::move(run);
    return nullptr;
}

/// What the family-independent core of a fit needs of the model family,
/// with the family's type erased (erase_family).
struct erased_family {
    /// The likelihood's full parameter vector, in order.
    std::vector<std::string> parameter_names;
    /// Their defaults, priors and valid ranges: the core's parameter_set is built with it.
    inference::parameter_catalogue catalogue;
    /// The components' checks of a full vector (a family without check() has none).
    std::function<void(std::string_view where, const Eigen::VectorXd& full)> check;
    /// eddy's mask (fit_mask) from the family's model at the full vector.
    std::function<Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>(const sky_map& map, const Eigen::VectorXd& full,
                                                                     const mask_options& options)>
        mask;
    /// The likelihood of the map inside the mask.
    std::function<inference::any_disk_likelihood(const sky_map& map,
                                                 const Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>& mask,
                                                 const inference::disk_likelihood_options& options)>
        likelihood;
    /// The model image (model_image) from the family's model at the full vector.
    std::function<Eigen::ArrayXXd(const Eigen::VectorXd& full, const sky_grid& grid, const image_options& options)>
        model_image;
};

/// The components' checks of a family with check(where, full); none otherwise.
template <class Family>
std::function<void(std::string_view, const Eigen::VectorXd&)> checks_of(const Family& family) {
    if constexpr (requires(std::string_view where, const Eigen::VectorXd& full) { family.check(where, full); })
        return [family](std::string_view where, const Eigen::VectorXd& full) { family.check(where, full); };
    else
        return {};
}

/// The family-specific front of a fit: what the core needs of `family`.
template <inference::disk_model_family Family>
erased_family erase_family(const Family& family) {
    return {
        .parameter_names = family.parameter_names(),
        .catalogue = family.catalogue(),
        .check = checks_of(family),
        .mask = [family](const sky_map& map, const Eigen::VectorXd& full,
                         const mask_options& options) { return fit_mask(map, family.template make<double>(full), options); },
        .likelihood =
            [family](const sky_map& map, const Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>& mask,
                     const inference::disk_likelihood_options& options) {
                return inference::any_disk_likelihood(inference::disk_likelihood<Family>(map, mask, family, options));
            },
        .model_image = [family](const Eigen::VectorXd& full, const sky_grid& grid,
                                const image_options& options) -> Eigen::ArrayXXd {
            return model_image(family.template make<double>(full), grid, options);
        },
    };
}

/// The MAP step's settings for the likelihood: Gauss-Newton needs the
/// family's normal equations, which the erased likelihood has at run time
/// only, so without them the automatic method is L-BFGS-B (what find_map
/// chooses for a family without them).
/// @throws invalid_input if the settings ask for Gauss-Newton without them
inline inference::map_options map_settings_for(const inference::any_disk_likelihood& likelihood,
                                               inference::map_options settings) {
    if (likelihood.has_normal_equations()) return settings;
    if (settings.method == inference::map_method::gauss_newton)
        throw_invalid_input(fit_function,
                            ": the MAP method gauss_newton needs a model whose every component has a closed-form "
                            "gradient, and this model's has not; use the automatic method or lbfgsb");
    settings.method = inference::map_method::lbfgsb;
    return settings;
}

/// The family-independent core of fit_rotation_map (below): every step
/// after the family has built its mask, likelihood and model image.
/// (A template only so that it is compiled in the files that fit, not in
/// every file that includes this header: it instantiates the MAP step and
/// the three samplers, ~20 s of compile time.)
template <std::same_as<erased_family> ErasedFamily>
fit_result fit_rotation_map_core(const fit_options& options, const ErasedFamily& family) {
    using clock = std::chrono::steady_clock;
    const auto started = clock::now();
    auto stage = [&](fit_stage s) {
        if (options.on_stage) options.on_stage(s);
    };
    stage(fit_stage::preparing);

    // 1. Everything that can be checked without evaluating the model.
    // The family's own catalogue: its names, defaults and priors, a user's
    // component's included; a name the family does not model is refused.
    const inference::parameter_set parameters(options.parameters, family.catalogue);
    check_argument(parameters.dim() >= 1, detail::fit_function, "no free parameter: free at least one");
    detail::check_sampler_settings(options.sampler, parameters.dim());
    if (const auto* l = std::get_if<laplace_fit_settings>(&options.sampler);
        l && l->fallback == laplace_fallback::none && !options.optimize)
        detail::throw_invalid_input(detail::fit_function,
                                    ": the Laplace sampler draws from the MAP point's covariance, but the MAP step is "
                                    "off (optimize = false); turn it on, or use NUTS or kind \"auto\"");
    if (options.optimize) inference::detail::check_map_options(options.map_settings);
    sky_map map = detail::prepare_map(options);
    const std::vector<std::string>& names = family.parameter_names;
    const Eigen::VectorXd start_full = detail::full_start(parameters, names);
    if (family.check) family.check(detail::fit_function, start_full);  // the components' valid ranges, at the start

    // 2. The mask at the starting geometry, the likelihood and the posterior.
    Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> mask = family.mask(map, start_full, options.mask);
    const inference::any_disk_likelihood likelihood =
        family.likelihood(map, mask, {.convolve_beam = options.convolve_beam, .threads = options.threads});
    const inference::map_options map_settings =
        options.optimize ? detail::map_settings_for(likelihood, options.map_settings) : options.map_settings;
    detail::monitored_likelihood<inference::any_disk_likelihood> counted(likelihood, options.stop_requested);
    const auto posterior = inference::make_posterior(parameters, counted);
    const auto for_nuts = inference::unconstrained(posterior);
    const Eigen::VectorXd start = parameters.start();
    if (!std::isfinite(posterior.log_density(start)))
        detail::throw_invalid_input(detail::fit_function,
                                    ": the posterior density is not finite at the start (a model pixel inside the "
                                    "mask is not finite there); move the start or tighten the mask");

    fit_result result;
    result.full_names = names;
    if (const Eigen::Index unusable = unusable_uncertainty_count(map); unusable > 0)
        result.warnings.push_back(std::to_string(unusable) +
                                  " pixels with finite data have an uncertainty that is not finite and > 0; "
                                  "the mask leaves them out.");

    // 3. The MAP step.
    Eigen::VectorXd centre = start;
    Eigen::MatrixXd unconstrained_covariance;
    if (options.optimize) {
        detail::stop_point(options.stop_requested, "preparing the fit");
        stage(fit_stage::optimizing);
        counted.interruptible("the MAP step");
        const auto map_started = clock::now();
        result.map = detail::find_map_standardized(posterior, start, map_settings);
        result.map_seconds = std::chrono::duration<double>(clock::now() - map_started).count();
        counted.interruptible(std::nullopt);
        detail::add_map_warnings(*result.map, parameters, result.warnings);
        // Starts are drawn in the unconstrained space, where a MAP point on a
        // prior bound would be at infinity.
        if (std::isfinite(result.map->log_density)) centre = parameters.inside_bounds(result.map->point);
        if (result.map->unconstrained_covariance.status == inference::covariance_status::ok)
            unconstrained_covariance = result.map->unconstrained_covariance.covariance;
    }

    // 4. The sampler.
    detail::stop_point(options.stop_requested, options.optimize ? "the MAP step" : "preparing the fit");
    stage(fit_stage::sampling);
    const auto sampler_started = clock::now();
    auto sampling_done = [&] {
        result.sampler_seconds = std::chrono::duration<double>(clock::now() - sampler_started).count();
        stage(fit_stage::summarizing);
    };
    const std::size_t threads = options.threads;
    if (const auto* settings = std::get_if<ensemble_fit_settings>(&options.sampler)) {
        const Eigen::MatrixXd walkers = detail::start_points(
            parameters, centre, unconstrained_covariance, settings->walkers, settings->start_scale, settings->seed,
            [&](const Eigen::VectorXd& theta) { return std::isfinite(posterior.log_density(theta)); });
        ensemble_options run_options = settings->options;
        run_options.threads = threads;
        run_options.progress = detail::stoppable(std::move(run_options.progress), options.stop_requested);
        ensemble_result run =
            options.ensemble_batch
                ? ensemble(detail::batch_evaluated(posterior, options.ensemble_batch), explicit_start{walkers},
                           run_options, settings->seed)
                : ensemble(posterior, explicit_start{walkers}, run_options, settings->seed);
        if (run.stopped_early) {
            if (run.draws() < 4) throw interrupted("the ensemble's burn-in");
            result.interrupted = true;
            result.warnings.push_back(detail::interrupted_warning(
                run.draws(), run_options.steps / run_options.thin, "per walker"));
        }
        const ensemble_result unwrapped = run;
        parameters.wrap_periodic(run.samples);
        sampling_done();
        detail::summarize_ensemble(run, parameters, unwrapped, result);
        result.sampler = std::move(run);
    } else if (const nuts_fit_settings* nuts_choice =
                   std::holds_alternative<laplace_fit_settings>(options.sampler)
                       ? detail::sample_laplace(std::get<laplace_fit_settings>(options.sampler), for_nuts, parameters,
                                                centre, unconstrained_covariance, options, result)
                       : &std::get<nuts_fit_settings>(options.sampler)) {
        const auto& nuts_settings = *nuts_choice;
        nuts_chains_options run_options = nuts_settings.options;
        run_options.threads = threads;
        const bool seed_metric = unconstrained_covariance.size() != 0 &&
                                 run_options.sampler.standardize_covariance.size() == 0 &&
                                 run_options.sampler.inverse_metric.size() == 0;
        if (seed_metric) {
            run_options.sampler.standardize_covariance = unconstrained_covariance;
            run_options.sampler.standardize_location = parameters.to_unconstrained(centre);
            // (A warmup no longer than the trusted one has nothing to shorten.)
            if (nuts_settings.trust_map_covariance &&
                run_options.sampler.trusted_warmup < run_options.sampler.warmup)
                run_options.sampler.warmup_adaptation = warmup_mode::trust_metric_with_fallback;
        }
        Eigen::MatrixXd inits = parameters.to_unconstrained(centre);
        if (nuts_settings.start_scale > 0.0) {
            const Eigen::MatrixXd points = detail::start_points(
                parameters, centre, unconstrained_covariance, run_options.chains, nuts_settings.start_scale,
                nuts_settings.seed, [&](const Eigen::VectorXd& theta) {
                    Eigen::VectorXd gradient;
                    const Eigen::VectorXd u = parameters.to_unconstrained(theta);
                    return u.allFinite() && std::isfinite(for_nuts.log_density_gradient(u, gradient));
                });
            inits.resize(points.rows(), points.cols());
            for (Eigen::Index c = 0; c < points.cols(); ++c) inits.col(c) = parameters.to_unconstrained(points.col(c));
        }
        run_options.sampler.progress =
            detail::stoppable(std::move(run_options.sampler.progress), options.stop_requested);
        nuts_chains_result run = nuts_chains(
            for_nuts, inits, run_options, nuts_settings.seed,
            [&parameters](const Eigen::VectorXd& u) -> Eigen::VectorXd { return parameters.to_constrained(u); });
        if (run.stopped_early) {
            const std::size_t draws = detail::cut_to_common_length(run);
            if (draws < 4) throw interrupted("NUTS warmup");
            result.interrupted = true;
            result.warnings.push_back(
                detail::interrupted_warning(draws, run_options.sampler.samples, "per chain"));
        }
        for (nuts_result& chain : run.chains) detail::wrap_draws(parameters, chain.transformed_draws);
        sampling_done();
        detail::summarize_nuts(run, parameters, result);
        result.sampler = std::move(run);
    } else {
        sampling_done();  // the Laplace draws stand
    }

    // 5. The model and residual maps at the median.
    result.full_median = posterior.full_parameters(Eigen::VectorXd(result.medians()));
    result.model = family.model_image(result.full_median, map.grid, {.convolve_beam = options.convolve_beam});
    result.residual = mask.select(map.data - result.model, std::numeric_limits<double>::quiet_NaN());
    result.fitted_map = std::move(map);
    result.mask = std::move(mask);
    result.log_density_evaluations = counted.values();
    result.gradient_evaluations = counted.gradients();
    result.jacobian_evaluations = counted.jacobians();
    result.wall_seconds = std::chrono::duration<double>(clock::now() - started).count();
    return result;
}

}  // namespace detail

/// Fits a rotation map with a given model family (eddy's fit_map).
///
/// Steps: every option is checked (throwing invalid_input naming the problem
/// before any work); the map is clipped to the field of view and downsampled;
/// the mask is built from the disk coordinates at the starting parameters;
/// the MAP point is found (options.optimize) and its covariance seeds the
/// sampler's start (and NUTS' standardisation, and the Laplace sampler's
/// normal); the chosen sampler runs (the Laplace sampler's `nuts` fallback
/// runs NUTS when k̂ is too large);
/// periodic parameters (PA) are wrapped into [0, 360) as eddy does; the
/// summary, warnings and the model and residual maps at the median are built.
///
/// @param options the map, parameters, mask, beam, MAP and sampler settings
/// @param family  the model: its parameter names, their catalogue (defaults
///                and priors) and how they build a disk model
/// @return the posterior summary, draws, diagnostics, warnings and maps
/// @throws invalid_input for bad options, draws that cannot fit in the
///         machine's memory, unknown or missing parameters, starts outside
///         the priors, a map with no usable pixel, a mask keeping no pixel,
///         or a start where the posterior density is not finite
template <inference::disk_model_family Family>
fit_result fit_rotation_map(const fit_options& options, const Family& family) {
    return detail::fit_rotation_map_core(options, detail::erase_family(family));
}

/// Fits a rotation map with the model family options.model names (by
/// default eddy's: a flared surface when z0 or psi is among the parameters,
/// free or fixed, the midplane otherwise; Keplerian rotation). See the
/// overload with a family for the steps.
/// @throws invalid_input as that overload, and for an unknown surface or
///         rotation name (listing the known ones)
/// (A template only so that it is compiled in the files that call it: it
/// instantiates the front of every family the tables of
/// fit/model_choice.hpp combine.)
template <std::same_as<fit_options> Options>
fit_result fit_rotation_map(const Options& options) {
    return with_chosen_family(options.model, options.parameters, detail::fit_function,
                              [&](const auto& family) { return fit_rotation_map(options, family); });
}

}  // namespace diskmc
