#pragma once
// Convergence diagnostics of several Markov chains: rank-normalised split
// R-hat and the bulk and tail effective sample sizes of Vehtari, Gelman,
// Simpson, Carpenter & Bürkner (2021), "Rank-normalization, folding, and
// localization: an improved R-hat for assessing convergence of MCMC",
// Bayesian Analysis 16(2), as Stan (stan::analyze) and ArviZ compute them.
//
// Every function takes the draws of one quantity as a matrix with one row
// per iteration and one column per chain. Too few draws (fewer than 4 per
// chain), non-finite draws or constant draws give NaN, not an exception.

#include "diskmc/detail/numbers.hpp"
#include <Eigen/Core>
#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <vector>

#include "diskmc/diagnostics/autocovariance.hpp"
#include "diskmc/diagnostics/quantiles.hpp"

namespace diskmc {

namespace detail {


/// Quantile p of sorted values (type 7, as diagnostics/quantiles.hpp); NaN
/// for no values.
inline double sorted_quantile(const std::vector<double>& sorted, double p) {
    return sorted.empty() ? not_a_number : interpolated_order_statistic(sorted, p);
}

inline std::vector<double> sorted_values(const Eigen::Ref<const Eigen::MatrixXd>& draws) {
    std::vector<double> values;
    values.reserve(static_cast<std::size_t>(draws.size()));
    for (Eigen::Index c = 0; c < draws.cols(); ++c)
        for (Eigen::Index i = 0; i < draws.rows(); ++i) values.push_back(draws(i, c));
    std::sort(values.begin(), values.end());
    return values;
}

// Classical R-hat of chains as given (Gelman et al., BDA3, eq. 11.4).
inline double rhat_of(const Eigen::Ref<const Eigen::MatrixXd>& chains) {
    const auto n = static_cast<double>(chains.rows());
    const Eigen::Index m = chains.cols();
    if (chains.rows() < 2 || m < 2) return not_a_number;
    const Eigen::RowVectorXd means = chains.colwise().mean();
    double within = 0.0;
    for (Eigen::Index c = 0; c < m; ++c)
        within += (chains.col(c).array() - means[c]).square().sum() / (n - 1.0);
    within /= static_cast<double>(m);
    const double between =
        n * (means.array() - means.mean()).square().sum() / static_cast<double>(m - 1);
    if (!(within > 0)) return not_a_number;
    const double pooled = (n - 1.0) / n * within + between / n;
    return std::sqrt(pooled / within);
}

}  // namespace detail

/// Each chain cut into its first and second halves (the middle draw of an
/// odd-length chain is dropped): 2·chains columns of iterations/2 rows.
/// Splitting lets R-hat and ESS see trends within a chain.
inline Eigen::MatrixXd split_chains(const Eigen::Ref<const Eigen::MatrixXd>& draws) {
    const Eigen::Index half = draws.rows() / 2;
    Eigen::MatrixXd split(half, 2 * draws.cols());
    for (Eigen::Index c = 0; c < draws.cols(); ++c) {
        split.col(2 * c) = draws.col(c).head(half);
        split.col(2 * c + 1) = draws.col(c).tail(half);
    }
    return split;
}

/// Rank normalisation: each draw replaced by Φ^{-1}((r - 3/8)/(S + 1/4)),
/// with r its rank among all S draws (ties get their average rank; Blom's
/// offsets), so the diagnostics work for heavy tails and infinite variance.
inline Eigen::MatrixXd rank_normalize(const Eigen::Ref<const Eigen::MatrixXd>& draws) {
    const Eigen::MatrixXd contiguous = draws;
    const Eigen::Index size = contiguous.size();
    std::vector<Eigen::Index> order(static_cast<std::size_t>(size));
    std::iota(order.begin(), order.end(), Eigen::Index{0});
    const double* values = contiguous.data();
    std::sort(order.begin(), order.end(),
              [values](Eigen::Index a, Eigen::Index b) { return values[a] < values[b]; });
    Eigen::MatrixXd normalized(draws.rows(), draws.cols());
    const boost::math::normal standard_normal;
    const double denominator = static_cast<double>(size) + 0.25;
    for (std::size_t first = 0; first < order.size();) {
        std::size_t last = first;
        while (last + 1 < order.size() && values[order[last + 1]] == values[order[first]]) ++last;
        const double rank = 0.5 * static_cast<double>(first + last) + 1.0;  // average, 1-based
        const double z = boost::math::quantile(standard_normal, (rank - 0.375) / denominator);
        for (std::size_t k = first; k <= last; ++k) normalized.data()[order[k]] = z;
        first = last + 1;
    }
    return normalized;
}

/// Effective sample size of the chains as given (no splitting, no ranks):
/// Geyer's initial monotone sequence estimator over the multi-chain
/// autocorrelation (Stan Reference Manual, "Effective sample size"; Vehtari
/// et al. 2021, section 3.2). The autocovariances come from
/// diskmc::autocovariance_transform (FFT). As in Stan, the integrated autocorrelation
/// time is kept >= 1/log10(S), so the ESS never exceeds S·log10(S) for S draws.
inline double geyer_effective_sample_size(const Eigen::Ref<const Eigen::MatrixXd>& chains) {
    const Eigen::Index n = chains.rows();
    const Eigen::Index m = chains.cols();
    if (n < 4 || m < 1 || !chains.allFinite()) return detail::not_a_number;

    Eigen::MatrixXd autocovariances(n, m);
    Eigen::VectorXd chain_means(m);
    autocovariance_transform transform(n);
    for (Eigen::Index c = 0; c < m; ++c) {
        autocovariances.col(c) = transform(chains.col(c));
        chain_means[c] = chains.col(c).mean();
    }
    const double nd = static_cast<double>(n);
    const Eigen::VectorXd mean_autocovariance = autocovariances.rowwise().mean();
    const double within = mean_autocovariance[0] * nd / (nd - 1.0);  // mean of chain variances
    double pooled = within * (nd - 1.0) / nd;                          // var+ of BDA3
    if (m > 1)
        pooled += (chain_means.array() - chain_means.mean()).square().sum() /
                  static_cast<double>(m - 1);
    if (!(pooled > 0)) return detail::not_a_number;
    auto rho = [&](Eigen::Index t) { return 1.0 - (within - mean_autocovariance[t]) / pooled; };

    // Geyer's initial positive sequence: sum pairs rho_{2k} + rho_{2k+1}
    // while they stay positive...
    Eigen::VectorXd rho_hat = Eigen::VectorXd::Zero(n);
    rho_hat[0] = 1.0;
    double rho_even = 1.0;
    double rho_odd = rho(1);
    rho_hat[1] = rho_odd;
    Eigen::Index t = 1;
    while (t < n - 3 && rho_even + rho_odd > 0) {
        rho_even = rho(t + 1);
        rho_odd = rho(t + 2);
        if (rho_even + rho_odd >= 0) {
            rho_hat[t + 1] = rho_even;
            rho_hat[t + 2] = rho_odd;
        }
        t += 2;
    }
    const Eigen::Index max_t = t - 2;
    if (rho_even > 0) rho_hat[max_t + 1] = rho_even;
    // ... made monotone: each pair no larger than the one before.
    for (t = 1; t <= max_t - 2; t += 2) {
        if (rho_hat[t + 1] + rho_hat[t + 2] > rho_hat[t - 1] + rho_hat[t]) {
            rho_hat[t + 1] = 0.5 * (rho_hat[t - 1] + rho_hat[t]);
            rho_hat[t + 2] = rho_hat[t + 1];
        }
    }
    const double total = nd * static_cast<double>(m);
    double tau = -1.0 + 2.0 * rho_hat.head(max_t + 1).sum() + rho_hat[max_t + 1];
    tau = std::max(tau, 1.0 / std::log10(total));
    return total / tau;
}

/// ESS on split chains of the raw draws (Stan's ess_basic / "ess_mean"): the
/// one for the Monte Carlo error of the mean.
inline double split_effective_sample_size(const Eigen::Ref<const Eigen::MatrixXd>& draws) {
    return geyer_effective_sample_size(split_chains(draws));
}

/// Bulk ESS: on rank-normalised split chains; how well the centre of the
/// distribution is sampled (Vehtari et al. 2021, section 4.3).
inline double bulk_effective_sample_size(const Eigen::Ref<const Eigen::MatrixXd>& draws) {
    if (draws.rows() < 4 || !draws.allFinite()) return detail::not_a_number;
    return geyer_effective_sample_size(rank_normalize(split_chains(draws)));
}

/// Tail ESS: the smaller ESS of the indicators I(x <= q05) and I(x <= q95)
/// on split chains; how well the 5% and 95% quantiles are sampled.
inline double tail_effective_sample_size(const Eigen::Ref<const Eigen::MatrixXd>& draws) {
    if (draws.rows() < 4 || !draws.allFinite()) return detail::not_a_number;
    const std::vector<double> sorted = detail::sorted_values(draws);
    double smallest = std::numeric_limits<double>::infinity();
    for (double p : {0.05, 0.95}) {
        const double quantile = detail::sorted_quantile(sorted, p);
        const Eigen::MatrixXd below = (draws.array() <= quantile).cast<double>();
        smallest = std::min(smallest, geyer_effective_sample_size(split_chains(below)));
    }
    return smallest;
}

/// Split R-hat of the raw draws (Gelman et al., BDA3), without ranks.
inline double split_rhat(const Eigen::Ref<const Eigen::MatrixXd>& draws) {
    if (draws.rows() < 4 || !draws.allFinite()) return detail::not_a_number;
    return detail::rhat_of(split_chains(draws));
}

/// Rank-normalised split R-hat (Vehtari et al. 2021, section 4.2): the larger
/// of the R-hat of the rank-normalised draws (differences in location) and of
/// the rank-normalised folded draws |x - median| (differences in scale).
/// Values above 1.01 say the chains have not mixed.
inline double rank_normalized_rhat(const Eigen::Ref<const Eigen::MatrixXd>& draws) {
    if (draws.rows() < 4 || !draws.allFinite()) return detail::not_a_number;
    const Eigen::MatrixXd split = split_chains(draws);
    const double median = detail::sorted_quantile(detail::sorted_values(draws), 0.5);
    const Eigen::MatrixXd folded = (split.array() - median).abs();
    const double location = detail::rhat_of(rank_normalize(split));
    const double scale = detail::rhat_of(rank_normalize(folded));
    if (std::isnan(location) || std::isnan(scale)) return detail::not_a_number;
    return std::max(location, scale);
}

}  // namespace diskmc
