#pragma once
// Maps between a parameter's constrained interval and all of R, so NUTS can
// sample R^n while the ensemble sampler works in the constrained space.
//
//   support          x(u)                        log |dx/du|
//   (-inf, inf)      u                           0
//   [lower, inf)     lower + exp(u)              u
//   (-inf, upper]    upper - exp(u)              u
//   [lower, upper]   lower + w logistic(u)       log w + log logistic(u) + log logistic(-u)
//                    (w = upper - lower)         = log w - |u| - 2 log1p(exp(-|u|))
//
// These are Stan's transforms (Stan Reference Manual, "Constraint
// transforms"). The density of u is p(x(u)) |dx/du|; the log-Jacobian term
// is what makes samples of u, mapped back, samples of p(x).
//
// Why a finite bound helps NUTS. With a flat prior on (0, inf), as eddy's
// default for r_taper, u = log r_taper, and the density of u is
// p(x(u)) e^u. Once r_taper is well outside the data the likelihood stops
// changing, so the density of u grows like e^u without bound: the posterior
// in u is improper and trajectories run off toward u = +inf, each tree
// doubling to the maximum depth (the seed saw 1024 leapfrog steps, depth
// 10, on most iterations). A finite upper bound (r_taper in [0, 50]) turns
// the map into the logistic one, whose Jacobian decays like e^-u, so the
// posterior of u is proper with light tails and trees stay short.

#include <cmath>
#include <limits>

namespace diskmc::inference {

enum class transform_kind { identity, lower_bound, upper_bound, interval };

/// x(u), dx/du, log |dx/du| and its derivative at one u: what a hand-written
/// chain rule needs.
struct constrained_value {
    double value;
    double derivative;               ///< dx/du
    double log_jacobian;             ///< log |dx/du|
    double log_jacobian_derivative;  ///< d log|dx/du| / du
};

/// The transform of one parameter, chosen from its support.
struct bound_transform {
    transform_kind kind = transform_kind::identity;
    double lower = -std::numeric_limits<double>::infinity();
    double upper = std::numeric_limits<double>::infinity();

    /// The transform for support [lower, upper] (infinite bounds allowed).
    static bound_transform for_bounds(double lower, double upper) {
        const bool has_lower = std::isfinite(lower);
        const bool has_upper = std::isfinite(upper);
        if (has_lower && has_upper) return {transform_kind::interval, lower, upper};
        if (has_lower) return {transform_kind::lower_bound, lower, upper};
        if (has_upper) return {transform_kind::upper_bound, lower, upper};
        return {transform_kind::identity, lower, upper};
    }

    /// x(u) for any scalar type; adds log |dx/du| to `log_jacobian`.
    template <class T>
    T to_constrained(const T& u, T& log_jacobian) const {
        using std::abs;
        using std::exp;
        using std::log1p;
        switch (kind) {
            case transform_kind::identity:
                return u;
            case transform_kind::lower_bound: {
                log_jacobian += u;
                return T(lower + exp(u));
            }
            case transform_kind::upper_bound: {
                log_jacobian += u;
                return T(upper - exp(u));
            }
            case transform_kind::interval:
            default: {
                const double width = upper - lower;
                const T decay = exp(T(-abs(u)));  // in (0, 1]: never overflows
                log_jacobian += T(std::log(width) - abs(u) - 2.0 * log1p(decay));
                // logistic(-|u|) = decay / (1 + decay); measure from the
                // nearer end so x keeps its digits close to either bound.
                const T near_end = T(width * (decay / (1.0 + decay)));
                return u > 0.0 ? T(upper - near_end) : T(lower + near_end);
            }
        }
    }

    /// x(u) with its derivatives, for chain rules written by hand.
    constrained_value constrain(double u) const {
        switch (kind) {
            case transform_kind::identity:
                return {u, 1.0, 0.0, 0.0};
            case transform_kind::lower_bound: {
                const double e = std::exp(u);
                return {lower + e, e, u, 1.0};
            }
            case transform_kind::upper_bound: {
                const double e = std::exp(u);
                return {upper - e, -e, u, 1.0};
            }
            case transform_kind::interval:
            default: {
                const double width = upper - lower;
                const double decay = std::exp(-std::abs(u));
                const double small = decay / (1.0 + decay);  // logistic(-|u|)
                const double large = 1.0 / (1.0 + decay);    // logistic(|u|)
                const double x = u > 0.0 ? upper - width * small : lower + width * small;
                // d log|dx/du| / du = logistic(-u) - logistic(u)
                const double slope = u > 0.0 ? small - large : large - small;
                return {x, width * small * large, std::log(width) - std::abs(u) - 2.0 * std::log1p(decay), slope};
            }
        }
    }

    /// d^2 log |dx/du| / du^2 (x'' itself is x' (log |x'|)'): 0 but for the
    /// interval, where it is -2 logistic(u) logistic(-u) = -2 (dx/du) / w.
    double log_jacobian_second_derivative(double u) const {
        if (kind != transform_kind::interval) return 0.0;
        const double decay = std::exp(-std::abs(u));
        return -2.0 * decay / ((1.0 + decay) * (1.0 + decay));
    }

    /// u(x), the inverse; +-infinity at a finite bound, NaN outside the support.
    double to_unconstrained(double x) const {
        switch (kind) {
            case transform_kind::identity:
                return x;
            case transform_kind::lower_bound:
                return std::log(x - lower);
            case transform_kind::upper_bound:
                return std::log(upper - x);
            case transform_kind::interval:
            default:
                // logit((x - lower) / width), from both ends for symmetry.
                return std::log(x - lower) - std::log(upper - x);
        }
    }
};

}  // namespace diskmc::inference
