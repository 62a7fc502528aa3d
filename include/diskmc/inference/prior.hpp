#pragma once
// Priors of single parameters: flat on an interval (possibly unbounded) or
// Gaussian (possibly truncated), as eddy offers them.
//
// The normalising constant (ours, documented; eddy's differs, see below):
// - flat on [lower, upper] with both bounds finite: the proper uniform
//   density, log p = -log(upper - lower);
// - flat with an infinite bound: improper, log p = 0 on its support;
// - Gaussian: the normalised (truncated) normal density,
//   log p = -z^2/2 - log(sd sqrt(2 pi)) - log(Phi(b) - Phi(a)),
//   z = (x - mean)/sd, a and b the standardised truncation bounds.
// eddy instead adds max(-100, log(1/(max - min))) for every flat prior
// (so -100 for an unbounded one) of every parameter that has a value, fixed
// ones and unused defaults included, and an unnormalised Gaussian
// -((x - mean)/sd)^2/2. The two differ by a constant, which changes no
// posterior, no sampler and no MAP; it only shifts reported log densities.
//
// Support: bounds are inclusive, as in eddy: a value equal to a bound is
// inside (log p finite), anything beyond it has log p = -infinity.

#include <cmath>
#include <limits>
#include <numbers>
#include <string_view>

#include "diskmc/errors.hpp"

namespace diskmc::inference {

enum class prior_kind { flat, gaussian };

/// A prior on one parameter. Build it with prior::flat() or
/// prior::gaussian(); the fields are public so a configuration can be read
/// back (and written with designated initialisers).
struct prior {
    prior_kind kind = prior_kind::flat;
    double lower = -std::numeric_limits<double>::infinity();  ///< inclusive
    double upper = std::numeric_limits<double>::infinity();   ///< inclusive
    double mean = 0.0;                                        ///< Gaussian only
    double sd = 1.0;                                          ///< Gaussian only

    /// Flat on [lower, upper]; either bound may be infinite.
    static prior flat(double lower = -std::numeric_limits<double>::infinity(),
                      double upper = std::numeric_limits<double>::infinity()) {
        return {prior_kind::flat, lower, upper, 0.0, 1.0};
    }
    /// Normal(mean, sd), truncated to [lower, upper] when a bound is finite.
    static prior gaussian(double mean, double sd, double lower = -std::numeric_limits<double>::infinity(),
                          double upper = std::numeric_limits<double>::infinity()) {
        return {prior_kind::gaussian, lower, upper, mean, sd};
    }

    bool has_lower_bound() const { return std::isfinite(lower); }
    bool has_upper_bound() const { return std::isfinite(upper); }
    /// lower <= x <= upper (false for NaN).
    bool contains(double x) const { return x >= lower && x <= upper; }

    /// Throws diskmc::invalid_input, naming `parameter`, unless the prior is
    /// well formed: bounds not NaN and lower < upper; for a Gaussian a
    /// finite mean, a finite sd > 0, and a truncation that keeps some mass.
    void check(std::string_view parameter) const {
        if (std::isnan(lower) || std::isnan(upper))
            diskmc::detail::throw_invalid_input("prior of ", parameter, ": bounds must not be NaN");
        if (!(lower < upper))
            diskmc::detail::throw_invalid_input("prior of ", parameter, ": lower bound ", lower,
                                        " must be below upper bound ", upper);
        if (lower == std::numeric_limits<double>::infinity() || upper == -std::numeric_limits<double>::infinity())
            diskmc::detail::throw_invalid_input("prior of ", parameter, ": bounds [", lower, ", ", upper,
                                        "] leave nothing");
        if (kind == prior_kind::gaussian) {
            if (!std::isfinite(mean))
                diskmc::detail::throw_invalid_input("prior of ", parameter, ": Gaussian mean must be finite, got ", mean);
            if (!(std::isfinite(sd) && sd > 0))
                diskmc::detail::throw_invalid_input("prior of ", parameter, ": Gaussian sd must be finite and > 0, got ", sd);
            if (!std::isfinite(log_normaliser()))
                diskmc::detail::throw_invalid_input("prior of ", parameter, ": truncating Normal(", mean, ", ", sd,
                                            ") to [", lower, ", ", upper, "] leaves no probability mass");
        }
    }

    /// The constant part of log p (see the header comment).
    double log_normaliser() const {
        if (kind == prior_kind::flat)
            return has_lower_bound() && has_upper_bound() ? -std::log(upper - lower) : 0.0;
        return -std::log(sd) - 0.5 * std::log(2.0 * std::numbers::pi) - std::log(standard_normal_mass());
    }

    /// log p(x) without the constant: 0 (flat) or -z^2/2 (Gaussian) on the
    /// support, -infinity outside. Generic in the scalar type so gradients
    /// flow through it.
    template <class T>
    T log_kernel(const T& x) const {
        if (!(x >= lower && x <= upper)) return T(-std::numeric_limits<double>::infinity());
        if (kind == prior_kind::flat) return T(0.0);
        const T z = (x - mean) / sd;
        return T(-0.5 * z * z);
    }

    /// log p(x), normalised as documented above.
    template <class T>
    T log_density(const T& x) const {
        return T(log_kernel(x) + log_normaliser());
    }

    /// d log p / dx inside the support (0 for a flat prior).
    double log_density_derivative(double x) const {
        return kind == prior_kind::flat ? 0.0 : -(x - mean) / (sd * sd);
    }

    /// d^2 log p / dx^2 inside the support (0 for a flat prior).
    double log_density_second_derivative() const { return kind == prior_kind::flat ? 0.0 : -1.0 / (sd * sd); }

private:
    /// Phi(b) - Phi(a) for the standardised bounds, computed from whichever
    /// tail keeps its digits (erfc of a positive argument never cancels).
    double standard_normal_mass() const {
        const double a = (lower - mean) / sd;
        const double b = (upper - mean) / sd;
        const double r = std::numbers::sqrt2;
        if (a > 0.0) return 0.5 * (std::erfc(a / r) - std::erfc(b / r));    // both in the upper tail
        if (b < 0.0) return 0.5 * (std::erfc(-b / r) - std::erfc(-a / r));  // both in the lower tail
        return 1.0 - 0.5 * std::erfc(b / r) - 0.5 * std::erfc(-a / r);
    }
};

}  // namespace diskmc::inference
