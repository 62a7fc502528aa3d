#pragma once
// The maximum a posteriori point within the prior bounds, and the covariance
// at the optimum, the inverse of the Hessian of -log p. This is eddy's
// optimise-before-MCMC step; the ensemble sampler starts its walkers from the
// constrained covariance, NUTS seeds its metric from the unconstrained one.
//
// Two methods:
//  - Gauss-Newton, for a least_squares_log_density (the disk posterior):
//    Levenberg-Marquardt steps on the box, the Gauss-Newton Hessian H damped
//    as (H + lambda diag H) (Marquardt 1963, SIAM J. Appl. Math. 11, 431;
//    the damping update of Nielsen 1999, IMM-REP-1999-05), the components held
//    on a bound by the gradient left out of the step and the step projected
//    onto the box. It works in the constrained space, where the optimum is,
//    so a MAP on a bound is reached exactly (in the unconstrained space it
//    lies at infinity). The covariance is the inverse of the Gauss-Newton
//    Hessian at the optimum, exact but for the residuals' own curvature
//    (tests/inference/map.test.cpp measures it against finite differences).
//  - L-BFGS-B (Byrd, Lu, Nocedal & Zhu 1995, SIAM J. Sci. Comput. 16, 1190;
//    the LBFGSpp implementation) with the gradient, for any
//    differentiable_log_density; its covariance takes central finite
//    differences of the gradient.
//
// @code
//   auto posterior = diskmc::inference::make_posterior(parameters, likelihood);
//   diskmc::inference::map_result map = diskmc::inference::find_map(posterior);
//   if (map.converged() && map.covariance.status == diskmc::inference::covariance_status::ok)
//       start_walkers_around(map.point, map.covariance.covariance);
// @endcode

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <LBFGSB.h>
#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <string>
#include <vector>

#include "diskmc/concepts/differentiable_log_density.hpp"
#include "diskmc/concepts/least_squares_log_density.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/inference/posterior.hpp"

namespace diskmc::inference {

/// How find_map() searches.
enum class map_method {
    automatic,     ///< gauss_newton for a least_squares_log_density, else lbfgsb
    gauss_newton,  ///< Levenberg-Marquardt on the box (least_squares_log_density only)
    lbfgsb,        ///< L-BFGS-B with the gradient; finite-difference covariance
};

/// Settings of find_map(). Defaults are LBFGSpp's where they exist.
struct map_options {
    map_method method = map_method::automatic;
    /// Converged when every component of the projected gradient of log p
    /// is below this (absolute; LBFGSpp's epsilon).
    double gradient_tolerance = 1e-6;
    /// ... or below this times |x| (LBFGSpp's epsilon_rel; 0 disables).
    double relative_gradient_tolerance = 0.0;
    /// ... or when -log p changed by less than this, relative to
    /// max(|log p|, 1), over the last 3 iterations (LBFGSpp's delta; 0
    /// disables).
    double value_tolerance = 1e-12;
    int max_iterations = 1000;
    /// Gauss-Newton: the first damping lambda, relative to the largest
    /// diagonal entry of the Hessian (Nielsen's tau; 1e-3 trusts the
    /// Gauss-Newton step from a good start).
    double initial_damping = 1e-3;
    /// Correction pairs kept by L-BFGS (LBFGSpp's m).
    int history = 6;
    /// Function evaluations allowed per line search.
    int max_line_search = 40;
    /// Estimate the covariance at the optimum.
    bool covariance = true;
    /// (Gauss-Newton only) Add the residuals' curvature to the Gauss-Newton
    /// Hessian for the covariance when the model offers it
    /// (hessian_log_density): the exact Hessian for 2 gradient sweeps per
    /// parameter. Without it the covariance is the Gauss-Newton one, off by
    /// ~0.5% of the correlation scale on the benchmark map (bench_map).
    bool residual_curvature = true;
    /// (L-BFGS-B only) First finite-difference step of the Hessian, relative:
    /// h_j = hessian_step * max(|x_j|, 1).
    double hessian_step = 1e-4;
    /// When the first pass gives a positive definite Hessian H it is redone
    /// with h_j = hessian_refined_step / sqrt(H_jj), the conditional standard
    /// deviation along axis j, so the step matches the posterior's own scale
    /// (0 disables the second pass).
    double hessian_refined_step = 0.01;
};

enum class map_status {
    gradient_converged,  ///< the projected gradient is below the tolerance
    value_converged,     ///< log p stopped changing (value_tolerance)
    max_iterations,      ///< stopped by max_iterations
    line_search_failed,  ///< no further progress possible; `point` is the best point seen
    start_not_finite,    ///< log p is -infinity at the start: nothing done
};

enum class covariance_status {
    ok,                     ///< the Hessian of -log p is positive definite; covariance is its inverse
    not_positive_definite,  ///< not a maximum in every direction (or too flat to tell): no covariance
    not_finite,             ///< a gradient evaluation failed near the point: no Hessian
    not_computed,           ///< not asked for, or the optimisation did not start
};

/// The curvature of -log p at a point.
struct covariance_estimate {
    covariance_status status = covariance_status::not_computed;
    Eigen::VectorXd point;       ///< where it was taken
    Eigen::MatrixXd hessian;     ///< of -log p (symmetrised), when finite
    Eigen::MatrixXd covariance;  ///< hessian^-1, when status is ok
};

struct map_result {
    map_status status = map_status::start_not_finite;
    bool converged() const {
        return status == map_status::gradient_converged || status == map_status::value_converged;
    }
    Eigen::VectorXd point;                  ///< the optimum (constrained space)
    double log_density = -std::numeric_limits<double>::infinity();
    Eigen::VectorXd gradient;               ///< d log p at point
    double projected_gradient_norm = std::numeric_limits<double>::infinity();  ///< largest component
    map_method method = map_method::lbfgsb;  ///< the method that ran (never automatic)
    int iterations = 0;
    /// The optimiser's calls of the model: value and gradient (L-BFGS-B), or
    /// value, gradient and Gauss-Newton Hessian (Gauss-Newton). The
    /// covariance's own evaluations are not counted.
    long evaluations = 0;
    std::vector<bool> at_bound;             ///< component j sits on a bound of the box
    std::string message;                    ///< the optimiser's complaint, if any
    covariance_estimate covariance;         ///< in the constrained space
    /// Only from find_map(posterior): the optimum mapped to the unconstrained
    /// space (components on a bound first moved inside by 1e-6 of the
    /// interval, or of max(|x|, 1) for a half-line) and the covariance of
    /// the unconstrained density (log-Jacobian included) there.
    Eigen::VectorXd unconstrained_point;
    covariance_estimate unconstrained_covariance;
};

namespace detail {

inline void check_map_options(const map_options& o) {
    check_nonnegative("find_map", "gradient_tolerance", o.gradient_tolerance);
    check_nonnegative("find_map", "relative_gradient_tolerance", o.relative_gradient_tolerance);
    check_nonnegative("find_map", "value_tolerance", o.value_tolerance);
    check_argument(o.max_iterations > 0, "find_map", "max_iterations must be > 0");
    check_argument(o.history > 0, "find_map", "history must be > 0");
    check_argument(o.max_line_search > 0, "find_map", "max_line_search must be > 0");
    check_positive("find_map", "hessian_step", o.hessian_step);
    check_positive("find_map", "initial_damping", o.initial_damping);
    check_nonnegative("find_map", "hessian_refined_step", o.hessian_refined_step);
}

inline void check_box(std::string_view function, const Eigen::VectorXd& point, const Eigen::VectorXd& lower,
                      const Eigen::VectorXd& upper) {
    check_argument(lower.size() == point.size() && upper.size() == point.size(), function,
                   "lower and upper bounds must have the size of the point");
    for (Eigen::Index j = 0; j < point.size(); ++j) {
        if (std::isnan(lower[j]) || std::isnan(upper[j]) || !(lower[j] < upper[j]))
            diskmc::detail::throw_invalid_input(function, ": bounds of component ", j, " must satisfy lower < upper, got [",
                                                lower[j], ", ", upper[j], "]");
        if (!(point[j] >= lower[j] && point[j] <= upper[j]))
            diskmc::detail::throw_invalid_input(function, ": component ", j, " of the point (", point[j],
                                                ") lies outside its bounds [", lower[j], ", ", upper[j], "]");
    }
}

/// Largest component of the projected gradient step P(x - g) - x of the
/// objective f = -log p (g = -d log p), as L-BFGS-B measures convergence.
inline double projected_gradient_norm(const Eigen::VectorXd& x, const Eigen::VectorXd& log_density_gradient,
                                      const Eigen::VectorXd& lower, const Eigen::VectorXd& upper) {
    if (x.size() == 0) return 0.0;
    return ((x + log_density_gradient).cwiseMax(lower).cwiseMin(upper) - x).cwiseAbs().maxCoeff();
}

/// The objective L-BFGS-B minimises, -log p, keeping the best point seen
/// (the solver may stop by exception mid line search). Where log p is not
/// finite it reports a finite wall above the best value so far, rising
/// away from the best point, so the line search backs off instead of
/// interpolating with infinities.
template <class M>
struct negative_log_density {
    explicit negative_log_density(const M& target) : model(target) {}

    const M& model;
    long evaluations = 0;
    double best_value = std::numeric_limits<double>::infinity();
    Eigen::VectorXd best_point;
    Eigen::VectorXd best_gradient;  // of log p
    Eigen::VectorXd scratch;

    double operator()(const Eigen::VectorXd& x, Eigen::VectorXd& gradient) {
        ++evaluations;
        const double log_p = model.log_density_gradient(x, scratch);
        if (!std::isfinite(log_p) || !scratch.allFinite()) {
            if (best_point.size() == 0) {  // nothing finite seen yet
                gradient = Eigen::VectorXd::Zero(x.size());
                return std::numeric_limits<double>::infinity();
            }
            const Eigen::VectorXd away = x - best_point;
            const double wall = best_value + 1e3 * std::max(1.0, std::abs(best_value));
            gradient = away * (1e3 * std::max(1.0, std::abs(best_value)) / std::max(away.squaredNorm(), 1e-300));
            return wall + 0.5 * gradient.dot(away);
        }
        gradient = -scratch;
        if (-log_p < best_value) {
            best_value = -log_p;
            best_point = x;
            best_gradient = scratch;
        }
        return -log_p;
    }
};

/// One column of the Hessian of log p by differences of the gradient along
/// component j: central where x +- h fits in the box, one-sided
/// second-order (-3 g0 + 4 g1 - g2) / 2h against a bound, the step halved
/// until one of them fits. False if a gradient is not finite.
template <class M>
bool hessian_column(const M& model, const Eigen::VectorXd& x, const Eigen::VectorXd& gradient_at_x, Eigen::Index j,
                    double h, const Eigen::VectorXd& lower, const Eigen::VectorXd& upper, Eigen::VectorXd& column) {
    Eigen::VectorXd probe = x, g1, g2;
    auto gradient_at = [&](double xj, Eigen::VectorXd& g) {
        probe[j] = xj;
        const double value = model.log_density_gradient(probe, g);
        return std::isfinite(value) && g.allFinite();
    };
    for (int halvings = 0; halvings < 60; ++halvings, h *= 0.5) {
        const double up = x[j] + h, down = x[j] - h;
        if (down >= lower[j] && up <= upper[j]) {
            if (!gradient_at(up, g1) || !gradient_at(down, g2)) return false;
            column = (g1 - g2) / (up - down);
            return true;
        }
        const int side = x[j] + 2.0 * h <= upper[j] ? 1 : (x[j] - 2.0 * h >= lower[j] ? -1 : 0);
        if (side == 0) continue;
        const double x1 = x[j] + side * h, x2 = x[j] + side * 2.0 * h;
        if (!gradient_at(x1, g1) || !gradient_at(x2, g2)) return false;
        column = (-3.0 * gradient_at_x + 4.0 * g1 - g2) / (2.0 * (x1 - x[j]));
        return true;
    }
    return false;
}

/// The covariance estimate of a Hessian of -log p at `x` (symmetrised).
inline covariance_estimate covariance_from_hessian(const Eigen::VectorXd& x, const Eigen::MatrixXd& hessian) {
    covariance_estimate result;
    result.point = x;
    const Eigen::Index n = x.size();
    result.hessian = 0.5 * (hessian + hessian.transpose());
    if (!result.hessian.allFinite()) {
        result.status = covariance_status::not_finite;
        return result;
    }
    const Eigen::LLT<Eigen::MatrixXd> cholesky(result.hessian);
    if (cholesky.info() != Eigen::Success) {
        result.status = covariance_status::not_positive_definite;
        return result;
    }
    result.covariance = cholesky.solve(Eigen::MatrixXd::Identity(n, n));
    result.covariance = 0.5 * (result.covariance + result.covariance.transpose());
    result.status = result.covariance.allFinite() ? covariance_status::ok : covariance_status::not_finite;
    if (result.status != covariance_status::ok) result.covariance.resize(0, 0);
    return result;
}

template <class M>
covariance_estimate hessian_pass(const M& model, const Eigen::VectorXd& x, const Eigen::VectorXd& steps,
                                 const Eigen::VectorXd& lower, const Eigen::VectorXd& upper) {
    covariance_estimate result;
    result.point = x;
    const Eigen::Index n = x.size();
    Eigen::VectorXd gradient;
    const double value = model.log_density_gradient(x, gradient);
    if (!std::isfinite(value) || !gradient.allFinite()) {
        result.status = covariance_status::not_finite;
        return result;
    }
    Eigen::MatrixXd hessian(n, n);
    Eigen::VectorXd column;
    for (Eigen::Index j = 0; j < n; ++j) {
        if (!hessian_column(model, x, gradient, j, steps[j], lower, upper, column)) {
            result.status = covariance_status::not_finite;
            return result;
        }
        hessian.col(j) = -column;  // of -log p
    }
    return covariance_from_hessian(x, hessian);
}

}  // namespace detail

/// The Hessian of -log p at `point` by finite differences of the model's
/// gradient, and its inverse when positive definite (see map_options for the
/// two passes). Steps stay inside [lower, upper].
/// @throws diskmc::invalid_input if the sizes differ, a bound pair is not
///         lower < upper, or the point lies outside the box
template <differentiable_log_density M>
covariance_estimate estimate_covariance(const M& model, const Eigen::VectorXd& point, const Eigen::VectorXd& lower,
                                        const Eigen::VectorXd& upper, const map_options& options = {}) {
    detail::check_map_options(options);
    detail::check_box("estimate_covariance", point, lower, upper);
    Eigen::VectorXd steps = options.hessian_step * point.cwiseAbs().cwiseMax(1.0);
    covariance_estimate first = detail::hessian_pass(model, point, steps, lower, upper);
    if (first.status != covariance_status::ok || options.hessian_refined_step == 0.0) return first;
    // Second pass on the posterior's own scale along each axis: the
    // conditional standard deviation 1/sqrt(H_jj) (the marginal one can be
    // far wider in a correlated posterior), never finer than rounding allows.
    const Eigen::VectorXd conditional_sigma = first.hessian.diagonal().cwiseSqrt().cwiseInverse();
    steps = (options.hessian_refined_step * conditional_sigma).cwiseMax(1e-10 * point.cwiseAbs().cwiseMax(1.0));
    covariance_estimate second = detail::hessian_pass(model, point, steps, lower, upper);
    return second.status == covariance_status::ok ? second : first;
}

namespace detail {

/// at_bound of a result: which components sit on a bound of the box.
inline std::vector<bool> components_at_bound(const Eigen::VectorXd& x, const Eigen::VectorXd& lower,
                                             const Eigen::VectorXd& upper) {
    std::vector<bool> at_bound(static_cast<std::size_t>(x.size()));
    for (Eigen::Index j = 0; j < x.size(); ++j)
        at_bound[static_cast<std::size_t>(j)] = x[j] <= lower[j] || x[j] >= upper[j];
    return at_bound;
}

/// find_map() by L-BFGS-B (arguments checked).
template <differentiable_log_density M>
map_result find_map_lbfgsb(const M& model, const Eigen::VectorXd& start, const Eigen::VectorXd& lower,
                           const Eigen::VectorXd& upper, const map_options& options) {
    map_result result;
    result.method = map_method::lbfgsb;
    negative_log_density<M> objective(model);
    Eigen::VectorXd gradient;
    objective(start, gradient);
    if (!std::isfinite(objective.best_value)) {
        result.point = start;
        result.message = "log density at the start is not finite";
        return result;
    }

    LBFGSpp::LBFGSBParam<double> parameters;
    parameters.m = options.history;
    parameters.epsilon = options.gradient_tolerance;
    parameters.epsilon_rel = options.relative_gradient_tolerance;
    parameters.past = options.value_tolerance > 0.0 ? 3 : 0;
    parameters.delta = options.value_tolerance;
    parameters.max_iterations = options.max_iterations;
    parameters.max_linesearch = options.max_line_search;
    LBFGSpp::LBFGSBSolver<double> solver(parameters);

    Eigen::VectorXd x = start;
    double f = 0.0;
    bool line_search_failed = false;
    try {
        result.iterations = solver.minimize(objective, x, f, lower, upper);
    } catch (const interrupted&) {
        throw;
    } catch (const invalid_input&) {  // the model's misuse of the API (e.g. a per-pixel branch): not a stall
        throw;
    } catch (const std::exception& error) {  // LBFGSpp reports a stalled line search by exception
        line_search_failed = true;
        result.message = error.what();
    }
    result.evaluations = objective.evaluations;
    result.point = objective.best_point;
    result.log_density = -objective.best_value;
    result.gradient = objective.best_gradient;
    result.projected_gradient_norm = projected_gradient_norm(result.point, result.gradient, lower, upper);
    const bool small_gradient =
        result.projected_gradient_norm <= options.gradient_tolerance ||
        result.projected_gradient_norm <= options.relative_gradient_tolerance * result.point.norm();
    if (small_gradient)
        result.status = map_status::gradient_converged;
    else if (line_search_failed)
        result.status = map_status::line_search_failed;
    else if (result.iterations >= options.max_iterations)
        result.status = map_status::max_iterations;
    else
        result.status = map_status::value_converged;

    result.at_bound = components_at_bound(result.point, lower, upper);
    if (options.covariance) result.covariance = estimate_covariance(model, result.point, lower, upper, options);
    return result;
}

/// find_map() by Levenberg-Marquardt on the box (arguments checked; see the
/// file comment). Each iteration: the components a bound holds (x on it and
/// the gradient of log p pointing out) are left out; the others take the
/// step (H + lambda D) step = g, D = diag H, projected onto the box; the
/// step is kept if log p rises, and lambda follows the ratio of the actual
/// to the predicted rise (Nielsen's rule), so that it shrinks to nothing
/// (pure Gauss-Newton steps) near the optimum.
template <least_squares_log_density M>
map_result find_map_gauss_newton(const M& model, const Eigen::VectorXd& start, const Eigen::VectorXd& lower,
                                 const Eigen::VectorXd& upper, const map_options& options) {
    map_result result;
    result.method = map_method::gauss_newton;
    Eigen::VectorXd x = start, gradient, trial_gradient;  // gradients of log p
    Eigen::MatrixXd hessian, trial_hessian;               // Gauss-Newton Hessians of -log p
    double log_p = model.log_density_gauss_newton(x, gradient, hessian);
    result.evaluations = 1;
    if (!std::isfinite(log_p)) {
        result.point = start;
        result.message = "log density at the start is not finite";
        return result;
    }
    // Damping beyond this leaves steps that change x by less than rounding.
    constexpr double largest_damping = 1e16;
    constexpr double rounding_gain = 1e-13;
    double damping = options.initial_damping, growth = 2.0;
    result.status = map_status::max_iterations;
    std::vector<Eigen::Index> moving;
    while (true) {
        result.projected_gradient_norm = projected_gradient_norm(x, gradient, lower, upper);
        if (result.projected_gradient_norm <= options.gradient_tolerance ||
            result.projected_gradient_norm <= options.relative_gradient_tolerance * x.norm()) {
            result.status = map_status::gradient_converged;
            break;
        }
        if (result.iterations >= options.max_iterations) break;
        moving.clear();
        for (Eigen::Index j = 0; j < x.size(); ++j) {
            const bool held = (x[j] <= lower[j] && gradient[j] <= 0.0) || (x[j] >= upper[j] && gradient[j] >= 0.0);
            if (!held) moving.push_back(j);
        }
        const auto m = static_cast<Eigen::Index>(moving.size());
        if (m == 0) {  // every component held by a bound (the projected gradient is then 0)
            result.status = map_status::gradient_converged;
            break;
        }
        const Eigen::MatrixXd reduced = hessian(moving, moving);
        const Eigen::VectorXd reduced_gradient = gradient(moving);
        // Marquardt's scaling, so the damping does not depend on the units;
        // a component the data do not constrain gets a floor.
        const double largest = std::max(reduced.diagonal().maxCoeff(), 0.0);
        const Eigen::VectorXd scale = reduced.diagonal().cwiseMax(largest > 0.0 ? 1e-12 * largest : 1.0);
        // Converged when the Gauss-Newton step would gain less than
        // value_tolerance in log p (half the squared Newton decrement).
        double gain = std::numeric_limits<double>::infinity();
        if (const Eigen::LLT<Eigen::MatrixXd> newton(reduced); newton.info() == Eigen::Success)
            gain = 0.5 * reduced_gradient.dot(newton.solve(reduced_gradient));
        const double log_p_scale = std::max(std::abs(log_p), 1.0);
        if (gain <= options.value_tolerance * log_p_scale) {
            result.status = map_status::value_converged;
            break;
        }
        bool accepted = false;
        while (!accepted && damping <= largest_damping) {
            Eigen::MatrixXd damped = reduced;
            damped.diagonal() += damping * scale;
            const Eigen::LLT<Eigen::MatrixXd> cholesky(damped);
            Eigen::VectorXd trial = x;
            if (cholesky.info() == Eigen::Success) {
                const Eigen::VectorXd reduced_step = cholesky.solve(reduced_gradient);
                for (Eigen::Index k = 0; k < m; ++k) trial[moving[k]] += reduced_step[k];
                trial = trial.cwiseMax(lower).cwiseMin(upper);
            }
            const Eigen::VectorXd step = trial - x;
            // The rise of log p its quadratic model predicts for the step taken.
            const double predicted = gradient.dot(step) - 0.5 * step.dot(hessian * step);
            if (predicted > 0.0) {
                const double trial_log_p = model.log_density_gauss_newton(trial, trial_gradient, trial_hessian);
                ++result.evaluations;
                const double ratio = (trial_log_p - log_p) / predicted;
                if (std::isfinite(trial_log_p) && ratio > 0.0) {
                    x = trial;
                    log_p = trial_log_p;
                    gradient.swap(trial_gradient);
                    hessian.swap(trial_hessian);
                    damping *= std::max(1.0 / 3.0, 1.0 - std::pow(2.0 * ratio - 1.0, 3));
                    growth = 2.0;
                    accepted = true;
                    continue;
                }
            }
            damping *= growth;
            growth *= 2.0;
        }
        if (!accepted) {
            // Stalled: at the optimum if what is left to gain is below what
            // log p's rounding can resolve (a few hundred ulps of it).
            if (gain <= rounding_gain * log_p_scale) {
                result.status = map_status::value_converged;
            } else {
                result.status = map_status::line_search_failed;
                result.message = "no damped Gauss-Newton step raises log p";
            }
            break;
        }
        ++result.iterations;
    }
    result.point = x;
    result.log_density = log_p;
    result.gradient = gradient;
    result.projected_gradient_norm = projected_gradient_norm(x, gradient, lower, upper);
    if (result.status != map_status::gradient_converged &&
        (result.projected_gradient_norm <= options.gradient_tolerance ||
         result.projected_gradient_norm <= options.relative_gradient_tolerance * x.norm()))
        result.status = map_status::gradient_converged;
    result.at_bound = components_at_bound(x, lower, upper);
    if (!options.covariance) return result;
    if constexpr (hessian_log_density<M>) {
        if (options.residual_curvature) {
            Eigen::VectorXd exact_gradient;
            Eigen::MatrixXd exact;
            if (std::isfinite(model.log_density_hessian(x, exact_gradient, exact))) {
                result.covariance = covariance_from_hessian(x, exact);
            } else {
                result.covariance.point = x;
                result.covariance.status = covariance_status::not_finite;
            }
            return result;
        }
    }
    // The Gauss-Newton Hessian at the optimum is at hand: no further evaluation.
    result.covariance = covariance_from_hessian(x, hessian);
    return result;
}

}  // namespace detail

/// The covariance at `point` from the model's Gauss-Newton Hessian (one
/// evaluation): exact but for the residuals' own curvature, see
/// least_squares_log_density.
template <least_squares_log_density M>
covariance_estimate gauss_newton_covariance(const M& model, const Eigen::VectorXd& point) {
    check_argument(point.size() == static_cast<Eigen::Index>(model.dim()), "gauss_newton_covariance",
                   "the point must have the model's dimension");
    Eigen::VectorXd gradient;
    Eigen::MatrixXd hessian;
    const double value = model.log_density_gauss_newton(point, gradient, hessian);
    if (!std::isfinite(value) || !hessian.allFinite()) {
        covariance_estimate result;
        result.point = point;
        result.status = covariance_status::not_finite;
        return result;
    }
    return detail::covariance_from_hessian(point, hessian);
}

/// Maximises log p over the box [lower, upper], then estimates the
/// covariance there: by Gauss-Newton for a least_squares_log_density (unless
/// options.method asks for L-BFGS-B), by L-BFGS-B with the model's gradient
/// and a finite-difference covariance otherwise.
/// @param model  a differentiable_log_density
/// @param start  inside the box, with finite log p
/// @param lower, upper  bounds per component (infinite for none)
/// @return the optimum, how the optimiser stopped, and the covariance
/// @throws diskmc::invalid_input for mismatched sizes, lower >= upper, a
///         start outside the box, invalid options, or method gauss_newton
///         for a model that is not a least_squares_log_density; numerical
///         trouble is reported in the result, never thrown
template <differentiable_log_density M>
map_result find_map(const M& model, const Eigen::VectorXd& start, const Eigen::VectorXd& lower,
                    const Eigen::VectorXd& upper, const map_options& options = {}) {
    detail::check_map_options(options);
    check_argument(start.size() == static_cast<Eigen::Index>(model.dim()), "find_map",
                   "the start must have the model's dimension");
    detail::check_box("find_map", start, lower, upper);
    if constexpr (least_squares_log_density<M>) {
        if (options.method != map_method::lbfgsb) return detail::find_map_gauss_newton(model, start, lower, upper, options);
    } else {
        check_argument(options.method != map_method::gauss_newton, "find_map",
                       "method gauss_newton needs a least_squares_log_density model (log_density_gauss_newton)");
    }
    return detail::find_map_lbfgsb(model, start, lower, upper, options);
}

/// find_map for a posterior: the box is the priors' support, the start the
/// parameter set's (unless given), and the result also carries the
/// unconstrained optimum and covariance for NUTS.
template <class Stored>
map_result find_map(const posterior<Stored>& target, const Eigen::VectorXd& start, const map_options& options = {}) {
    const parameter_set& parameters = target.parameters();
    const Eigen::VectorXd lower = parameters.lower_bounds();
    const Eigen::VectorXd upper = parameters.upper_bounds();
    map_result result = find_map(target, start, lower, upper, options);
    if (result.status == map_status::start_not_finite || !options.covariance) return result;

    const Eigen::VectorXd inside = parameters.inside_bounds(result.point);
    result.unconstrained_point = parameters.to_unconstrained(inside);
    const auto for_nuts = unconstrained(target);
    if (result.method == map_method::gauss_newton) {
        // The chain rule on the constrained Hessian (exact, or Gauss-Newton)
        // and gradient: no further evaluation.
        if (result.covariance.hessian.size() == 0) {
            result.unconstrained_covariance.point = result.unconstrained_point;
            result.unconstrained_covariance.status = covariance_status::not_finite;
            return result;
        }
        result.unconstrained_covariance = detail::covariance_from_hessian(
            result.unconstrained_point,
            for_nuts.to_unconstrained_hessian(result.unconstrained_point, result.gradient, result.covariance.hessian));
        return result;
    }
    const Eigen::VectorXd unbounded = Eigen::VectorXd::Constant(inside.size(), std::numeric_limits<double>::infinity());
    result.unconstrained_covariance =
        estimate_covariance(for_nuts, result.unconstrained_point, -unbounded, unbounded, options);
    return result;
}

/// find_map for a posterior from its parameter set's start.
template <class Stored>
map_result find_map(const posterior<Stored>& target, const map_options& options = {}) {
    return find_map(target, target.parameters().start(), options);
}

}  // namespace diskmc::inference
