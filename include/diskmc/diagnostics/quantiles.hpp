#pragma once
// Sample quantiles, and the 16/50/84 summary (median and the central 68%
// interval, "one sigma" for a Gaussian) that eddy and emcee users quote as
// median +(q84 - q50) -(q50 - q16).

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string_view>
#include <vector>

#include "diskmc/errors.hpp"

namespace diskmc {

namespace detail {

inline std::vector<double> sorted_finite_values(std::string_view function,
                                                const Eigen::Ref<const Eigen::VectorXd>& values) {
    check_argument(values.size() > 0, function, "values must not be empty");
    check_argument(values.allFinite(), function, "values must be finite");
    std::vector<double> sorted(values.data(), values.data() + values.size());
    std::sort(sorted.begin(), sorted.end());
    return sorted;
}

// Linear interpolation between order statistics at h = (n - 1) p
// (Hyndman & Fan 1996, definition 7; numpy's and R's default).
inline double interpolated_order_statistic(const std::vector<double>& sorted, double probability) {
    const double h = static_cast<double>(sorted.size() - 1) * probability;
    const auto below = static_cast<std::size_t>(std::floor(h));
    if (below + 1 >= sorted.size()) return sorted.back();
    return sorted[below] + (h - static_cast<double>(below)) * (sorted[below + 1] - sorted[below]);
}

/// interpolated_order_statistic at each of `probabilities` (ascending) without
/// sorting: each needs only the order statistics at floor(h) and the next,
/// which partial selection finds in O(n) (std::nth_element on the part above
/// the previous one). Reorders `values`; the same numbers as sorting first.
inline std::vector<double> interpolated_order_statistics(std::vector<double>& values,
                                                         const std::vector<double>& probabilities) {
    std::vector<double> result;
    result.reserve(probabilities.size());
    std::size_t settled = 0;  // values[0 .. settled) are the smallest, in place
    for (const double probability : probabilities) {
        if (values.empty()) {
            result.push_back(std::numeric_limits<double>::quiet_NaN());
            continue;
        }
        const double h = static_cast<double>(values.size() - 1) * probability;
        const auto below = static_cast<std::size_t>(std::floor(h));
        const auto first = values.begin() + static_cast<std::ptrdiff_t>(std::min(settled, below));
        std::nth_element(first, values.begin() + static_cast<std::ptrdiff_t>(below), values.end());
        settled = below + 1;
        if (below + 1 >= values.size()) {
            result.push_back(values[below]);
            continue;
        }
        const double above = *std::min_element(values.begin() + static_cast<std::ptrdiff_t>(below + 1), values.end());
        result.push_back(values[below] + (h - static_cast<double>(below)) * (above - values[below]));
    }
    return result;
}

}  // namespace detail

/// Sample quantiles of `values` at each of `probabilities` (in [0, 1]), by
/// linear interpolation between order statistics (numpy's default).
/// @return one quantile per probability, in the same order.
inline Eigen::VectorXd quantiles(const Eigen::Ref<const Eigen::VectorXd>& values,
                                 const Eigen::Ref<const Eigen::VectorXd>& probabilities) {
    constexpr std::string_view function = "quantiles";
    for (Eigen::Index i = 0; i < probabilities.size(); ++i)
        check_in_range(function, "probability", probabilities[i], 0.0, 1.0);
    const std::vector<double> sorted = detail::sorted_finite_values(function, values);
    Eigen::VectorXd result(probabilities.size());
    for (Eigen::Index i = 0; i < probabilities.size(); ++i)
        result[i] = detail::interpolated_order_statistic(sorted, probabilities[i]);
    return result;
}

/// One sample quantile; see quantiles().
inline double quantile(const Eigen::Ref<const Eigen::VectorXd>& values, double probability) {
    return quantiles(values, Eigen::VectorXd::Constant(1, probability))[0];
}

/// Median and central 68% interval of a sample.
struct quantile_summary {
    double q16 = 0.0;
    double median = 0.0;
    double q84 = 0.0;
    /// The "+" and "-" of median +plus -minus.
    double plus() const { return q84 - median; }
    double minus() const { return median - q16; }
};

/// The 16th, 50th and 84th percentiles of a sample.
inline quantile_summary summarize_quantiles(const Eigen::Ref<const Eigen::VectorXd>& values) {
    const Eigen::VectorXd q = quantiles(values, (Eigen::VectorXd(3) << 0.16, 0.50, 0.84).finished());
    return {q[0], q[1], q[2]};
}

}  // namespace diskmc
