#pragma once
// The one gradient checker every differentiable piece of diskmc is tested
// with. It compares a gradient with
//   1. central finite differences refined by Richardson extrapolation
//      (Ridders' method: Ridders 1982, Adv. Eng. Software 4, 75; Press et
//      al., Numerical Recipes 3rd ed. §5.7), which also estimate their own
//      error, and
//   2. an independent automatic-differentiation oracle, Eigen's forward-mode
//      AutoDiffScalar (unsupported/Eigen/AutoDiff), for functions written
//      once for any scalar type;
// and returns a report (maximum absolute and relative error, worst index,
// everything it computed) that tests assert on and print on failure.
//
// A scalar-generic callable must return its scalar type T explicitly (not
// `auto`): Eigen's AutoDiffScalar operations return expression templates that
// refer to temporaries, which would dangle once the callable returns.
//
// Usage:
// @code
//   auto f = [](const auto& x) -> typename std::decay_t<decltype(x)>::Scalar {
//       using std::exp;
//       return exp(x[0]) * x[1];
//   };
//   auto report = diskmc::testing::check_gradient(f, Eigen::Vector2d(0.3, 2.0));
//   INFO(report.describe());
//   CHECK(report.versus_oracle.max_rel_error < 1e-13);
//   CHECK(report.agrees_with_finite_difference(1e-8));
// @endcode

#include <Eigen/Core>
#include <unsupported/Eigen/AutoDiff>
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "diskmc/autodiff/gradient.hpp"
#include "diskmc/autodiff/var.hpp"

// ---- the oracle's missing functions -------------------------------------------
// Eigen's AutoDiffScalar defines exp, log, sqrt, pow(x, double), abs, the
// trigonometric and hyperbolic functions and atan2. What diskmc models also
// use is added here, in Eigen's namespace so argument-dependent lookup finds
// it. Written from the textbook derivatives, independently of autodiff/var.hpp.
namespace Eigen {

using oracle_scalar = AutoDiffScalar<VectorXd>;

namespace oracle_detail {
inline oracle_scalar chain(double value, const oracle_scalar& x, double dx) {
    return oracle_scalar(value, x.derivatives() * dx);
}
inline oracle_scalar chain(double value, const oracle_scalar& x, double dx, const oracle_scalar& y,
                           double dy) {
    if (x.derivatives().size() == 0) return chain(value, y, dy);
    if (y.derivatives().size() == 0) return chain(value, x, dx);
    return oracle_scalar(value, x.derivatives() * dx + y.derivatives() * dy);
}
}  // namespace oracle_detail

inline oracle_scalar log1p(const oracle_scalar& x) {
    return oracle_detail::chain(std::log1p(x.value()), x, 1.0 / (1.0 + x.value()));
}
inline oracle_scalar expm1(const oracle_scalar& x) {
    return oracle_detail::chain(std::expm1(x.value()), x, std::exp(x.value()));
}
inline oracle_scalar cbrt(const oracle_scalar& x) {
    const double c = std::cbrt(x.value());
    return oracle_detail::chain(c, x, 1.0 / (3.0 * c * c));
}
inline oracle_scalar exp2(const oracle_scalar& x) {
    const double v = std::exp2(x.value());
    return oracle_detail::chain(v, x, v * std::log(2.0));
}
inline oracle_scalar log2(const oracle_scalar& x) {
    return oracle_detail::chain(std::log2(x.value()), x, 1.0 / (x.value() * std::log(2.0)));
}
inline oracle_scalar log10(const oracle_scalar& x) {
    return oracle_detail::chain(std::log10(x.value()), x, 1.0 / (x.value() * std::log(10.0)));
}
inline oracle_scalar fabs(const oracle_scalar& x) { return abs(x); }
inline oracle_scalar asinh(const oracle_scalar& x) {
    return oracle_detail::chain(std::asinh(x.value()), x, 1.0 / std::hypot(x.value(), 1.0));
}
inline oracle_scalar acosh(const oracle_scalar& x) {
    return oracle_detail::chain(std::acosh(x.value()), x,
                                1.0 / std::sqrt((x.value() - 1.0) * (x.value() + 1.0)));
}
inline oracle_scalar atanh(const oracle_scalar& x) {
    return oracle_detail::chain(std::atanh(x.value()), x,
                                1.0 / ((1.0 - x.value()) * (1.0 + x.value())));
}
inline oracle_scalar atan(const oracle_scalar& x) {
    return oracle_detail::chain(std::atan(x.value()), x, 1.0 / (1.0 + x.value() * x.value()));
}
inline oracle_scalar erf(const oracle_scalar& x) {
    return oracle_detail::chain(std::erf(x.value()), x,
                                2.0 / std::sqrt(std::numbers::pi) * std::exp(-x.value() * x.value()));
}
inline oracle_scalar erfc(const oracle_scalar& x) { return oracle_scalar(1.0) - erf(x); }
inline oracle_scalar pow(const oracle_scalar& x, const oracle_scalar& y) {
    // x^y = exp(y log x) for x > 0
    const double v = std::pow(x.value(), y.value());
    return oracle_detail::chain(v, x, y.value() * std::pow(x.value(), y.value() - 1.0), y,
                                v * std::log(x.value()));
}
inline oracle_scalar pow(double x, const oracle_scalar& y) {
    const double v = std::pow(x, y.value());
    return oracle_detail::chain(v, y, v * std::log(x));
}
inline oracle_scalar hypot(const oracle_scalar& x, const oracle_scalar& y) {
    const double h = std::hypot(x.value(), y.value());
    return oracle_detail::chain(h, x, x.value() / h, y, y.value() / h);
}
inline oracle_scalar hypot(const oracle_scalar& x, double y) { return hypot(x, oracle_scalar(y)); }
inline oracle_scalar hypot(double x, const oracle_scalar& y) { return hypot(oracle_scalar(x), y); }
// Eigen's atan2(AutoDiffScalar, AutoDiffScalar) needs derivatives on both.
inline oracle_scalar atan2(const oracle_scalar& y, double x) {
    return oracle_detail::chain(std::atan2(y.value(), x), y, x / (x * x + y.value() * y.value()));
}
inline oracle_scalar atan2(double y, const oracle_scalar& x) {
    return oracle_detail::chain(std::atan2(y, x.value()), x, -y / (x.value() * x.value() + y * y));
}
inline oracle_scalar fmax(const oracle_scalar& x, const oracle_scalar& y) {
    return x.value() >= y.value() ? x : y;
}
inline oracle_scalar fmax(const oracle_scalar& x, double y) { return fmax(x, oracle_scalar(y)); }
inline oracle_scalar fmin(const oracle_scalar& x, const oracle_scalar& y) {
    return x.value() <= y.value() ? x : y;
}
inline oracle_scalar fmin(const oracle_scalar& x, double y) { return fmin(x, oracle_scalar(y)); }
inline oracle_scalar lgamma(const oracle_scalar& x) {
    // digamma by the recurrence psi(x) = psi(x + 1) - 1/x and the asymptotic
    // series (Abramowitz & Stegun 6.3.18), for x > 0.
    double z = x.value(), psi = 0.0;
    while (z < 20.0) psi -= 1.0 / z++;
    const double inv2 = 1.0 / (z * z);
    psi += std::log(z) - 0.5 / z -
           inv2 * (1.0 / 12 - inv2 * (1.0 / 120 - inv2 * (1.0 / 252 - inv2 * (1.0 / 240))));
    return oracle_detail::chain(std::lgamma(x.value()), x, psi);
}
inline oracle_scalar tgamma(const oracle_scalar& x) {
    const oracle_scalar log_gamma = lgamma(x);
    const double v = std::tgamma(x.value());
    return oracle_scalar(v, log_gamma.derivatives() * v);
}
inline bool isfinite(const oracle_scalar& x) { return std::isfinite(x.value()); }
inline bool isnan(const oracle_scalar& x) { return std::isnan(x.value()); }

}  // namespace Eigen

namespace diskmc::testing {

// ---- finite differences -----------------------------------------------------------

/// How finite differences step. Component i starts at
/// h_i = relative_step * max(|x_i|, step_floor) and Ridders' tableau shrinks
/// it by `shrink` per row, for at most `tableau_size` rows.
struct finite_difference_options {
    double relative_step = 1e-2;
    double step_floor = 1.0;
    int tableau_size = 10;
    double shrink = 1.4;
};

struct finite_difference_result {
    Eigen::VectorXd gradient;        ///< extrapolated central differences
    Eigen::VectorXd error_estimate;  ///< Ridders' estimate of |gradient - truth| per component
};

/// Central-difference gradient of a double function, Richardson-extrapolated
/// by Ridders' method. If f is not finite at some step the tableau stops
/// there (and the first step shrinks until f is finite on both sides), so a
/// point near the edge of a domain still gets a one-scale estimate.
/// @param f  callable as f(const Eigen::VectorXd&) -> double
template <class F>
finite_difference_result finite_difference_gradient(F&& f, const Eigen::VectorXd& x,
                                                     const finite_difference_options& options = {}) {
    const Eigen::Index n = x.size();
    finite_difference_result result{Eigen::VectorXd::Zero(n),
                                    Eigen::VectorXd::Constant(n, std::numeric_limits<double>::infinity())};
    const double shrink2 = options.shrink * options.shrink;
    const int size = options.tableau_size;
    std::vector<double> tableau(static_cast<std::size_t>(size * size));
    auto at = [&](int row, int col) -> double& { return tableau[static_cast<std::size_t>(row * size + col)]; };
    Eigen::VectorXd probe = x;

    // One central difference at step h (the step actually taken, after
    // rounding x +- h to doubles); NaN if f is not finite at either end.
    auto central = [&](Eigen::Index i, double h) {
        probe[i] = x[i] + h;
        const double up_x = probe[i];
        const double up = f(std::as_const(probe));
        probe[i] = x[i] - h;
        const double down_x = probe[i];
        const double down = f(std::as_const(probe));
        probe[i] = x[i];
        if (!std::isfinite(up) || !std::isfinite(down)) return std::numeric_limits<double>::quiet_NaN();
        return (up - down) / (up_x - down_x);
    };

    for (Eigen::Index i = 0; i < n; ++i) {
        double h = options.relative_step * std::max(std::abs(x[i]), options.step_floor);
        double first = central(i, h);
        for (int retry = 0; retry < 40 && std::isnan(first); ++retry) first = central(i, h /= 4.0);
        if (std::isnan(first)) {
            result.gradient[i] = std::numeric_limits<double>::quiet_NaN();
            continue;
        }
        at(0, 0) = first;
        double best = first;
        double error = std::numeric_limits<double>::infinity();
        for (int col = 1; col < size; ++col) {
            h /= options.shrink;
            const double next = central(i, h);
            if (std::isnan(next)) break;
            at(0, col) = next;
            double factor = shrink2;
            for (int row = 1; row <= col; ++row) {
                at(row, col) = (at(row - 1, col) * factor - at(row - 1, col - 1)) / (factor - 1.0);
                factor *= shrink2;
                const double change = std::max(std::abs(at(row, col) - at(row - 1, col)),
                                               std::abs(at(row, col) - at(row - 1, col - 1)));
                if (change <= error) {
                    error = change;
                    best = at(row, col);
                }
            }
            // Higher orders started to diverge: rounding took over.
            if (std::abs(at(col, col) - at(col - 1, col - 1)) >= 2.0 * error) break;
        }
        result.gradient[i] = best;
        result.error_estimate[i] = error;
    }
    return result;
}

// ---- the autodiff oracle ------------------------------------------------------------

/// Value and gradient of a scalar-generic callable by Eigen's forward-mode
/// AutoDiffScalar (one derivative direction per component).
/// @param f  callable as f(const Eigen::Matrix<T, Eigen::Dynamic, 1>&) -> T
template <class F>
double oracle_gradient(F&& f, const Eigen::VectorXd& x, Eigen::VectorXd& grad) {
    using scalar = Eigen::oracle_scalar;
    const Eigen::Index n = x.size();
    Eigen::Matrix<scalar, Eigen::Dynamic, 1> arguments(n);
    for (Eigen::Index i = 0; i < n; ++i) arguments[i] = scalar(x[i], n, i);
    const scalar result = f(std::as_const(arguments));
    grad = result.derivatives().size() == n ? Eigen::VectorXd(result.derivatives())
                                            : Eigen::VectorXd::Zero(n);
    return result.value();
}

// ---- comparison and report -----------------------------------------------------------

/// Largest disagreement between a gradient and a reference. The relative
/// error of component i is |g_i - r_i| / max(|g_i|, |r_i|, floor) with
/// floor = 1e-8 max(||r||_inf, 1e-300), so components that are zero up to
/// rounding in a gradient with large entries do not dominate.
struct gradient_comparison {
    double max_abs_error = 0.0;
    double max_rel_error = 0.0;
    Eigen::Index worst_index = -1;  ///< component with the largest relative error
};

inline gradient_comparison compare_gradients(const Eigen::VectorXd& gradient,
                                             const Eigen::VectorXd& reference) {
    gradient_comparison result;
    if (gradient.size() != reference.size()) {
        result.max_abs_error = result.max_rel_error = std::numeric_limits<double>::infinity();
        return result;
    }
    const double floor = 1e-8 * std::max(reference.size() ? reference.cwiseAbs().maxCoeff() : 0.0, 1e-300);
    for (Eigen::Index i = 0; i < gradient.size(); ++i) {
        const double difference = std::abs(gradient[i] - reference[i]);
        const double scale = std::max({std::abs(gradient[i]), std::abs(reference[i]), floor});
        // NaN anywhere counts as an infinite error.
        const double absolute = std::isnan(difference) ? std::numeric_limits<double>::infinity() : difference;
        const double relative = absolute == 0.0                 ? 0.0
                                : std::isinf(absolute)          ? absolute
                                                                : absolute / scale;
        result.max_abs_error = std::max(result.max_abs_error, absolute);
        if (relative > result.max_rel_error || result.worst_index < 0) {
            result.max_rel_error = std::max(result.max_rel_error, relative);
            result.worst_index = i;
        }
    }
    return result;
}

struct gradient_check_report {
    Eigen::VectorXd point;
    double value = 0.0;         ///< from the function under test
    double double_value = 0.0;  ///< the same function evaluated with double
    Eigen::VectorXd gradient;   ///< under test
    finite_difference_result finite_difference;
    bool has_oracle = false;
    double oracle_value = 0.0;
    Eigen::VectorXd oracle;
    gradient_comparison versus_finite_difference;
    gradient_comparison versus_oracle;

    /// Every component within `tolerance` (relative, as compare_gradients)
    /// of the finite difference, allowing for four times the finite
    /// difference's own error estimate.
    bool agrees_with_finite_difference(double tolerance) const {
        if (gradient.size() != finite_difference.gradient.size() || !gradient.allFinite()) return false;
        const double floor = 1e-8 * std::max(finite_difference.gradient.cwiseAbs().maxCoeff(), 1e-300);
        for (Eigen::Index i = 0; i < gradient.size(); ++i) {
            const double reference = finite_difference.gradient[i];
            if (!std::isfinite(reference)) return false;
            const double scale = std::max({std::abs(gradient[i]), std::abs(reference), floor});
            if (!(std::abs(gradient[i] - reference) <=
                  tolerance * scale + 4.0 * finite_difference.error_estimate[i]))
                return false;
        }
        return true;
    }

    /// A readable summary for Catch2's INFO().
    std::string describe() const {
        std::ostringstream out;
        out.precision(10);
        const Eigen::IOFormat row(Eigen::FullPrecision, Eigen::DontAlignCols, ", ", ", ", "", "", "[", "]");
        out << "at x = " << point.transpose().format(row) << "\n  value " << value << " (double "
            << double_value << ")\n  gradient          " << gradient.transpose().format(row)
            << "\n  finite difference " << finite_difference.gradient.transpose().format(row)
            << "\n  its error est.    " << finite_difference.error_estimate.transpose().format(row)
            << "\n  vs finite difference: max abs " << versus_finite_difference.max_abs_error
            << ", max rel " << versus_finite_difference.max_rel_error << " at index "
            << versus_finite_difference.worst_index;
        if (has_oracle)
            out << "\n  oracle            " << oracle.transpose().format(row) << "\n  vs oracle: max abs "
                << versus_oracle.max_abs_error << ", max rel " << versus_oracle.max_rel_error
                << " at index " << versus_oracle.worst_index << " (oracle value " << oracle_value << ")";
        return out.str();
    }
};

/// Checks a gradient computed elsewhere (a hand-written adjoint, a model's
/// log_density_gradient) against finite differences of `value` (a callable
/// f(const Eigen::VectorXd&) -> double).
template <class Value>
gradient_check_report check_gradient_against_finite_differences(
    Value&& value, const Eigen::VectorXd& x, double value_at_x, const Eigen::VectorXd& gradient,
    const finite_difference_options& options = {}) {
    gradient_check_report report;
    report.point = x;
    report.value = value_at_x;
    report.double_value = value(x);
    report.gradient = gradient;
    report.finite_difference = finite_difference_gradient(value, x, options);
    report.versus_finite_difference = compare_gradients(gradient, report.finite_difference.gradient);
    return report;
}

/// The three instantiations of a scalar-generic callable that check_gradient
/// compares, as plain functions: the checker below is compiled once, not once
/// per callable (tests check dozens of callables; compile time, above all
/// under the sanitizers).
struct scalar_generic_function {
    std::function<autodiff::var(const Eigen::Matrix<autodiff::var, Eigen::Dynamic, 1>&)> with_var;
    std::function<double(const Eigen::VectorXd&)> with_double;
    std::function<Eigen::oracle_scalar(const Eigen::Matrix<Eigen::oracle_scalar, Eigen::Dynamic, 1>&)>
        with_oracle;
};

/// check_gradient on the three instantiations.
inline gradient_check_report check_gradient(const scalar_generic_function& f, const Eigen::VectorXd& x,
                                            const finite_difference_options& options = {}) {
    gradient_check_report report;
    report.point = x;
    report.value = autodiff::gradient(f.with_var, x, report.gradient);
    report.double_value = f.with_double(x);
    report.finite_difference = finite_difference_gradient(f.with_double, x, options);
    report.versus_finite_difference = compare_gradients(report.gradient, report.finite_difference.gradient);
    report.has_oracle = true;
    report.oracle_value = oracle_gradient(f.with_oracle, x, report.oracle);
    report.versus_oracle = compare_gradients(report.gradient, report.oracle);
    return report;
}

/// The three instantiations of `f` (which must outlive the result).
template <class F>
scalar_generic_function as_scalar_generic_function(F& f) {
    return {[&f](const Eigen::Matrix<autodiff::var, Eigen::Dynamic, 1>& v) { return autodiff::var(f(v)); },
            [&f](const Eigen::VectorXd& y) { return static_cast<double>(f(y)); },
            [&f](const Eigen::Matrix<Eigen::oracle_scalar, Eigen::Dynamic, 1>& y) {
                return Eigen::oracle_scalar(f(y));
            }};
}

/// Checks diskmc's reverse-mode gradient (autodiff::gradient with var) of a
/// scalar-generic callable against finite differences of its double
/// instantiation and against the AutoDiffScalar oracle.
/// @param f  callable as f(const Eigen::Matrix<T, Eigen::Dynamic, 1>&) -> T for
///           T = double, diskmc::autodiff::var and Eigen::oracle_scalar
template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, scalar_generic_function>)
gradient_check_report check_gradient(F&& f, const Eigen::VectorXd& x,
                                     const finite_difference_options& options = {}) {
    return check_gradient(as_scalar_generic_function(f), x, options);
}

/// Checks a differentiable_log_density's log_density_gradient against finite
/// differences of its log_density, and, when the model is scalar-generic,
/// against the oracle on its template.
template <class Model>
gradient_check_report check_model_gradient(const Model& model, const Eigen::VectorXd& x,
                                           const finite_difference_options& options = {}) {
    Eigen::VectorXd gradient;
    const double value = model.log_density_gradient(x, gradient);
    auto report = check_gradient_against_finite_differences(
        [&](const Eigen::VectorXd& y) { return model.log_density(y); }, x, value, gradient, options);
    using oracle_vector = Eigen::Matrix<Eigen::oracle_scalar, Eigen::Dynamic, 1>;
    auto add_oracle = [&](const auto& generic) {
        report.has_oracle = true;
        report.oracle_value = oracle_gradient(
            [&](const oracle_vector& y) { return generic.template log_density<Eigen::oracle_scalar>(y); }, x,
            report.oracle);
        report.versus_oracle = compare_gradients(report.gradient, report.oracle);
    };
    if constexpr (requires(const oracle_vector& y) { model.template log_density<Eigen::oracle_scalar>(y); })
        add_oracle(model);
    else if constexpr (requires(const oracle_vector& y) {
                           model.model().template log_density<Eigen::oracle_scalar>(y);
                       })
        add_oracle(model.model());  // an adaptor such as differentiable(model)
    return report;
}

}  // namespace diskmc::testing
