#pragma once
// The maximum a posteriori point by L-BFGS-B (Byrd, Lu, Nocedal & Zhu 1995,
// SIAM J. Sci. Comput. 16, 1190; the LBFGSpp implementation) within the
// prior bounds, with the analytic gradient, and the covariance estimate at
// the optimum: the inverse of the Hessian of -log p, taken by central
// finite differences of the gradient. This is eddy's optimise-before-MCMC
// step; the ensemble sampler starts its walkers from the constrained
// covariance, NUTS seeds its metric from the unconstrained one.
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
#include "diskmc/errors.hpp"
#include "diskmc/inference/posterior.hpp"

namespace diskmc::inference {

/// Settings of find_map(). Defaults are LBFGSpp's where they exist.
struct map_options {
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
    /// Correction pairs kept by L-BFGS (LBFGSpp's m).
    int history = 6;
    /// Function evaluations allowed per line search.
    int max_line_search = 40;
    /// Estimate the covariance at the optimum.
    bool covariance = true;
    /// First finite-difference step of the Hessian, relative:
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
    int iterations = 0;
    long evaluations = 0;                   ///< value-and-gradient calls of the optimiser
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

/// Maximises log p over the box [lower, upper] by L-BFGS-B with the model's
/// gradient, then estimates the covariance there.
/// @param model  a differentiable_log_density
/// @param start  inside the box, with finite log p
/// @param lower, upper  bounds per component (infinite for none)
/// @return the optimum, how the optimiser stopped, and the covariance
/// @throws diskmc::invalid_input for mismatched sizes, lower >= upper, a
///         start outside the box, or invalid options; numerical trouble is
///         reported in the result, never thrown
template <differentiable_log_density M>
map_result find_map(const M& model, const Eigen::VectorXd& start, const Eigen::VectorXd& lower,
                    const Eigen::VectorXd& upper, const map_options& options = {}) {
    detail::check_map_options(options);
    check_argument(start.size() == static_cast<Eigen::Index>(model.dim()), "find_map",
                   "the start must have the model's dimension");
    detail::check_box("find_map", start, lower, upper);

    map_result result;
    detail::negative_log_density<M> objective(model);
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
    } catch (const std::exception& error) {  // LBFGSpp reports a stalled line search by exception
        line_search_failed = true;
        result.message = error.what();
    }
    result.evaluations = objective.evaluations;
    result.point = objective.best_point;
    result.log_density = -objective.best_value;
    result.gradient = objective.best_gradient;
    result.projected_gradient_norm = detail::projected_gradient_norm(result.point, result.gradient, lower, upper);
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

    result.at_bound.resize(static_cast<std::size_t>(result.point.size()));
    for (Eigen::Index j = 0; j < result.point.size(); ++j)
        result.at_bound[static_cast<std::size_t>(j)] = result.point[j] <= lower[j] || result.point[j] >= upper[j];
    if (options.covariance) result.covariance = estimate_covariance(model, result.point, lower, upper, options);
    return result;
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
