#pragma once
// Sample quantiles, and the 16/50/84 summary (median and the central 68%
// interval, "one sigma" for a Gaussian) that eddy and emcee users quote as
// median +(q84 - q50) -(q50 - q16).

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "diskmc/detail/random_stream.hpp"
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

/// interpolated_order_statistic at each of `probabilities` (ascending) for
/// many values, given a sample of them, after Floyd & Rivest (1975,
/// "Expected time bounds for selection", CACM 18(3)): the sorted sample
/// brackets each wanted pair of order statistics between two of its values,
/// with a margin of 3.5 sd of the sample's rank; a pass counts the values
/// below the bracket and keeps the few inside, and the pair is selected
/// among those. Several times faster than selecting in all the values, which
/// matters for an ensemble's summary (every parameter's quantiles over
/// walkers x draws values). nullopt when a bracket misses (an
/// unrepresentative sample, or heavy ties keeping too many values) or the
/// sample is under 64 values: then select in all the values.
inline std::optional<std::vector<double>> bracketed_order_statistics(const std::vector<double>& values,
                                                                     const std::vector<double>& probabilities,
                                                                     std::vector<double> sample) {
    const std::size_t n = values.size(), samples = sample.size();
    if (samples < 64 || samples > n) return std::nullopt;
    std::sort(sample.begin(), sample.end());

    // One buffer for the values inside a bracket, reused: a bracket keeping
    // more than a quarter of the values is not worth it (checked after each
    // chunk of values, the buffer a chunk longer).
    const std::size_t capacity = n / 4, chunk = 1024;
    std::vector<double> inside(capacity + chunk);
    std::vector<double> result;
    result.reserve(probabilities.size());
    const double infinity = std::numeric_limits<double>::infinity();
    for (const double probability : probabilities) {
        const double centre = probability * static_cast<double>(samples - 1);
        const double margin = 3.5 * std::sqrt(static_cast<double>(samples) * probability * (1.0 - probability)) + 2.0;
        const double first = std::floor(centre - margin), last = std::ceil(centre + 1.0 + margin);
        const double low = first <= 0.0 ? -infinity : sample[static_cast<std::size_t>(first)];
        const double high = last >= static_cast<double>(samples - 1) ? infinity : sample[static_cast<std::size_t>(last)];
        // Branch-free: every value is written, and kept by advancing past it.
        std::size_t below = 0, kept = 0;
        for (std::size_t start = 0; start < n; start += chunk) {
            for (std::size_t i = start; i < std::min(n, start + chunk); ++i) {
                const double v = values[i];
                below += v < low;
                inside[kept] = v;
                kept += (v >= low) & (v <= high);
            }
            if (kept > capacity) return std::nullopt;
        }
        const double h = static_cast<double>(n - 1) * probability;
        const auto rank = static_cast<std::size_t>(std::floor(h));
        const std::size_t wanted = rank + 1 < n ? 2 : 1;  // the order statistics at rank (and rank + 1)
        if (rank < below || rank + wanted > below + kept) return std::nullopt;
        const auto begin = inside.begin(), end = begin + static_cast<std::ptrdiff_t>(kept);
        const auto at = begin + static_cast<std::ptrdiff_t>(rank - below);
        std::nth_element(begin, at, end);
        result.push_back(wanted == 1 ? *at : *at + (h - static_cast<double>(rank)) * (*std::min_element(at + 1, end) - *at));
    }
    return result;
}

/// bracketed_order_statistics with its sample drawn from the values, at
/// random positions (a fixed seed: the same sample for the same values), so
/// each sample value's rank is uniform among the values however they are
/// ordered: a chain's draws are correlated, and every k-th of them would
/// sample a few walkers' stretches, not the whole set.
inline std::optional<std::vector<double>> bracketed_order_statistics(const std::vector<double>& values,
                                                                     const std::vector<double>& probabilities) {
    const std::size_t n = values.size();
    std::vector<double> sample(std::min<std::size_t>(2048, n / 16));
    std::uint64_t state = 0x9e3779b97f4a7c15ULL ^ n;
    for (double& value : sample) value = values[splitmix64_next(state) % n];
    return bracketed_order_statistics(values, probabilities, std::move(sample));
}

/// interpolated_order_statistic at each of `probabilities` (ascending) without
/// sorting: each needs only the order statistics at floor(h) and the next,
/// which partial selection finds in O(n) (bracketed_order_statistics, else
/// std::nth_element on the part above the previous one). May reorder
/// `values`; the same numbers as sorting first.
inline std::vector<double> interpolated_order_statistics(std::vector<double>& values,
                                                         const std::vector<double>& probabilities) {
    if (auto bracketed = bracketed_order_statistics(values, probabilities)) return *bracketed;
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
