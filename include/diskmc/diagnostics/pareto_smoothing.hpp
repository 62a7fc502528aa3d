#pragma once
// Pareto-smoothed importance sampling (PSIS; Vehtari, Simpson, Gelman, Yao &
// Gabry, "Pareto smoothed importance sampling", JMLR 25:72, 2024): the
// largest importance weights are replaced by the expected order statistics
// of a generalized Pareto distribution fitted to them, and the fitted shape
// k̂ says whether the weighted draws can be trusted at all.
//
//   k̂ < 0.5            the raw weights have a finite variance; all is well
//   k̂ up to threshold   smoothing makes the estimates usable
//   k̂ above it          the proposal does not cover the target's tail; no
//                        number of draws will save the estimate
//
// The threshold is the paper's sample-size dependent min(1 - 1/log10(S), 0.7)
// (its section 3.2.4, eq. 13), which is 0.7 from S ~ 2200 draws on.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <vector>

namespace diskmc {

/// What pareto_smoothed_weights() returns.
struct pareto_smoothing_result {
    /// Smoothed, normalised weights (sum 1), in the order of the input; a
    /// draw whose log-weight was -inf or NaN has weight 0.
    Eigen::VectorXd weights;
    /// Their logarithms (-inf for weight 0).
    Eigen::VectorXd log_weights;
    /// The generalized Pareto shape fitted to the largest weights; +inf when
    /// the tail is too short to fit (fewer than 5 draws in it, or fewer than
    /// 6 finite weights in all), -inf when the largest weights are all equal
    /// (a proposal that is the target: nothing to smooth).
    double khat = std::numeric_limits<double>::infinity();
    /// The k̂ above which the estimates are unreliable for this many draws,
    /// min(1 - 1/log10(S), 0.7).
    double khat_threshold = 0.7;
    /// Draws in the fitted tail, ceil(min(0.2 S, 3 sqrt(S))).
    std::size_t tail_length = 0;
    /// Importance-sampling effective sample size of the smoothed weights,
    /// 1 / sum w^2 (Kong 1992); between 1 and the number of finite weights.
    double effective_sample_size = 0.0;
    /// Whether k̂ is at most the threshold.
    bool reliable() const { return khat <= khat_threshold; }
};

/// The paper's k̂ threshold for S draws: min(1 - 1/log10(S), 0.7).
inline double pareto_khat_threshold(std::size_t draws) {
    if (draws < 11) return 0.0;  // 1 - 1/log10(S) <= 0: no k̂ is good enough
    return std::min(1.0 - 1.0 / std::log10(static_cast<double>(draws)), 0.7);
}

/// A generalized Pareto fit: shape k (> 0 is a heavy tail) and scale sigma.
struct generalized_pareto_fit {
    double k = std::numeric_limits<double>::infinity();
    double sigma = std::numeric_limits<double>::quiet_NaN();
};

/// Fits a generalized Pareto distribution with location 0 to `excess`
/// (sorted ascending, all >= 0) by Zhang & Stephens (2009, Technometrics 51:316)
/// — the posterior mean of theta = -k/sigma over a grid of
/// 30 + floor(sqrt(n)) points weighted by the profile likelihood — then
/// shrinks k towards 0.5 by the weakly informative prior of the PSIS paper
/// (its Appendix C: k ← (n k + 10 * 0.5) / (n + 10)). Equal values (no
/// tail) give k = -inf; a sample the grid cannot fit, k = +inf.
inline generalized_pareto_fit fit_generalized_pareto(const std::vector<double>& excess) {
    const std::size_t n = excess.size();
    generalized_pareto_fit fit;
    if (n < 5) return fit;
    const double largest = excess.back();
    // The grid's scale: the first quartile of the sample, as Zhang & Stephens.
    const double first_quartile = excess[static_cast<std::size_t>(std::floor(static_cast<double>(n) / 4.0 + 0.5)) - 1];
    if (largest == 0.0) {  // every tail weight equals the cutoff: no tail at all
        fit.k = -std::numeric_limits<double>::infinity();
        fit.sigma = 0.0;
        return fit;
    }
    if (!(largest > 0.0) || !(first_quartile > 0.0)) return fit;
    const std::size_t grid = 30 + static_cast<std::size_t>(std::floor(std::sqrt(static_cast<double>(n))));
    constexpr double prior_scale = 3.0;  // Zhang & Stephens' prior on theta
    std::vector<double> theta(grid), profile(grid);
    const auto mean_log1p = [&](double t) {
        double sum = 0.0;
        for (const double x : excess) sum += std::log1p(-t * x);
        return sum / static_cast<double>(n);
    };
    for (std::size_t j = 0; j < grid; ++j) {
        theta[j] = 1.0 / largest +
                   (1.0 - std::sqrt(static_cast<double>(grid) / (static_cast<double>(j) + 0.5))) /
                       (prior_scale * first_quartile);
        const double k = mean_log1p(theta[j]);
        // Profile log-likelihood of theta: n (log(-theta/k) - k - 1).
        profile[j] = static_cast<double>(n) * (std::log(-theta[j] / k) - k - 1.0);
    }
    const double top = *std::max_element(profile.begin(), profile.end());
    if (!std::isfinite(top)) return fit;
    double total = 0.0, theta_hat = 0.0;
    for (std::size_t j = 0; j < grid; ++j) {
        const double w = std::isfinite(profile[j]) ? std::exp(profile[j] - top) : 0.0;
        total += w;
        theta_hat += w * theta[j];
    }
    theta_hat /= total;
    const double k = mean_log1p(theta_hat);
    if (!std::isfinite(k) || theta_hat == 0.0) return fit;
    fit.sigma = -k / theta_hat;
    constexpr double prior_draws = 10.0;  // the weakly informative prior's weight, centred at 0.5
    fit.k = (static_cast<double>(n) * k + prior_draws * 0.5) / (static_cast<double>(n) + prior_draws);
    return fit;
}

/// The generalized Pareto quantile function (location 0).
inline double generalized_pareto_quantile(double probability, double k, double sigma) {
    if (std::abs(k) < 1e-12) return -sigma * std::log1p(-probability);
    return sigma * std::expm1(-k * std::log1p(-probability)) / k;
}

/// Pareto-smoothed importance weights of draws with log-weights
/// `log_weights` (log target - log proposal, up to a constant).
///
/// The M = ceil(min(0.2 S, 3 sqrt(S))) largest weights are replaced by the
/// expected order statistics F^-1((i - 1/2)/M) of a generalized Pareto fitted
/// to their excess over the (M+1)-th largest, the smoothed weights are
/// truncated at the largest raw weight (the paper's current rule; the
/// S^(3/4) mean-weight truncation of its first version is gone), and all are
/// normalised. A -inf or NaN log-weight is a weight of 0 and counts as a
/// draw (S is the input's length). Smoothing keeps the order of the weights.
inline pareto_smoothing_result pareto_smoothed_weights(const Eigen::Ref<const Eigen::VectorXd>& log_weights) {
    const auto draws = static_cast<std::size_t>(log_weights.size());
    pareto_smoothing_result result;
    result.khat_threshold = pareto_khat_threshold(draws);
    result.weights = Eigen::VectorXd::Zero(log_weights.size());
    result.log_weights = Eigen::VectorXd::Constant(log_weights.size(), -std::numeric_limits<double>::infinity());

    std::vector<std::size_t> finite;  // draws with a usable weight
    double largest = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < draws; ++i) {
        const double value = log_weights[static_cast<Eigen::Index>(i)];
        if (std::isnan(value) || value == -std::numeric_limits<double>::infinity()) continue;
        finite.push_back(i);
        largest = std::max(largest, value);
    }
    if (finite.empty()) return result;
    Eigen::VectorXd shifted(log_weights.size());  // log w - max log w: the largest is exactly 0
    for (const std::size_t i : finite) shifted[static_cast<Eigen::Index>(i)] = log_weights[static_cast<Eigen::Index>(i)] - largest;
    if (largest == std::numeric_limits<double>::infinity()) {
        // An infinite weight takes all the mass: nothing to smooth.
        for (const std::size_t i : finite)
            shifted[static_cast<Eigen::Index>(i)] = log_weights[static_cast<Eigen::Index>(i)] == largest ? 0.0 : -std::numeric_limits<double>::infinity();
    } else {
        // Ascending by log-weight; ties by index, so the result is deterministic.
        std::sort(finite.begin(), finite.end(), [&](std::size_t a, std::size_t b) {
            const double wa = shifted[static_cast<Eigen::Index>(a)], wb = shifted[static_cast<Eigen::Index>(b)];
            return wa < wb || (wa == wb && a < b);
        });
        const double s = static_cast<double>(draws);
        const auto tail = static_cast<std::size_t>(std::ceil(std::min(0.2 * s, 3.0 * std::sqrt(s))));
        result.tail_length = std::min(tail, finite.size() > 0 ? finite.size() - 1 : 0);
        if (result.tail_length >= 5) {
            const std::size_t first_tail = finite.size() - result.tail_length;
            const double cutoff = shifted[static_cast<Eigen::Index>(finite[first_tail - 1])];
            const double exp_cutoff = std::exp(cutoff);
            std::vector<double> excess(result.tail_length);
            for (std::size_t j = 0; j < result.tail_length; ++j)
                excess[j] = std::max(0.0, std::exp(shifted[static_cast<Eigen::Index>(finite[first_tail + j])]) - exp_cutoff);
            const generalized_pareto_fit fit = fit_generalized_pareto(excess);
            result.khat = fit.k;
            if (std::isfinite(fit.k)) {
                const auto m = static_cast<double>(result.tail_length);
                for (std::size_t j = 0; j < result.tail_length; ++j) {
                    const double q = generalized_pareto_quantile((static_cast<double>(j) + 0.5) / m, fit.k, fit.sigma);
                    // Truncated at the largest raw weight, exp(0).
                    shifted[static_cast<Eigen::Index>(finite[first_tail + j])] = std::min(0.0, std::log(q + exp_cutoff));
                }
            }
        }
    }
    // Normalise (log-sum-exp over the finite draws).
    double top = -std::numeric_limits<double>::infinity();
    for (const std::size_t i : finite) top = std::max(top, shifted[static_cast<Eigen::Index>(i)]);
    double total = 0.0;
    for (const std::size_t i : finite) total += std::exp(shifted[static_cast<Eigen::Index>(i)] - top);
    const double log_total = top + std::log(total);
    double sum_of_squares = 0.0;
    for (const std::size_t i : finite) {
        const auto at = static_cast<Eigen::Index>(i);
        result.log_weights[at] = shifted[at] - log_total;
        result.weights[at] = std::exp(result.log_weights[at]);
        sum_of_squares += result.weights[at] * result.weights[at];
    }
    result.effective_sample_size = sum_of_squares > 0.0 ? 1.0 / sum_of_squares : 0.0;
    return result;
}

}  // namespace diskmc
