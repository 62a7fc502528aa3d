#pragma once
// A posterior summary table like numpyro's print_summary / CmdStan's
// stansummary, returned as data, and a function that formats it as text
// (the library never prints).

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include "diskmc/detail/numbers.hpp"
#include "diskmc/diagnostics/convergence.hpp"
#include "diskmc/diagnostics/quantiles.hpp"
#include "diskmc/diagnostics/warnings.hpp"
#include "diskmc/errors.hpp"

namespace diskmc {

/// Which effective sample size a summary reports.
enum class ess_estimator {
    /// Independent chains (NUTS): rank-normalised bulk and tail ESS and split
    /// R-hat (Vehtari et al. 2021), in ess_bulk, ess_tail and rhat.
    rank_normalized,
    /// An ensemble's walkers, which are not independent chains: the
    /// integrated autocorrelation time tau averaged over the walkers (emcee's
    /// estimator) and ESS = draws of all walkers / tau, in tau and ess_tau;
    /// ess_bulk, ess_tail and rhat are NaN.
    autocorrelation_time,
};

/// One parameter's line of the summary.
struct parameter_summary {
    std::string name;
    double mean = 0.0;
    double sd = 0.0;
    /// Monte Carlo standard error of the mean: sd / sqrt(ESS), the split ESS
    /// of the chains (rank_normalized) or ess_tau (autocorrelation_time).
    double mcse_mean = 0.0;
    double p16 = 0.0;        ///< 16% quantile (mean - 1 sd for a Gaussian)
    double p50 = 0.0;        ///< median
    double p84 = 0.0;        ///< 84% quantile
    double ess_bulk = 0.0;   ///< rank-normalised bulk ESS (NaN for an ensemble)
    double ess_tail = 0.0;   ///< rank-normalised tail ESS (NaN for an ensemble)
    double rhat = 0.0;       ///< rank-normalised split R-hat (NaN for an ensemble)
    /// Integrated autocorrelation time, in draws (ensemble summaries; NaN otherwise).
    double tau = detail::not_a_number;
    /// Effective sample size draws / tau, all walkers' draws together
    /// (ensemble summaries; NaN otherwise).
    double ess_tau = detail::not_a_number;
};

/// The whole table, and the warnings a careful user must read.
struct posterior_summary {
    std::vector<parameter_summary> parameters;
    /// Chains, or an ensemble's walkers.
    std::size_t chains = 0;
    std::size_t draws_per_chain = 0;
    /// Which ESS the lines carry (and format_summary prints).
    ess_estimator ess = ess_estimator::rank_normalized;
    std::vector<std::string> warnings;
};

namespace detail {

/// "a, b, c": the names in a warning.
inline std::string joined_names(const std::vector<std::string>& names) {
    std::string text;
    for (std::size_t i = 0; i < names.size(); ++i) text += (i ? ", " : "") + names[i];
    return text;
}

/// The mean, sd (n - 1) and quantiles of one parameter's draws (every
/// chain's together) into `line`; `values` is scratch, reused across calls
/// (fresh memory of that size costs more than the work here).
inline void describe_draws(const Eigen::Ref<const Eigen::MatrixXd>& draws, parameter_summary& line,
                           std::vector<double>& values) {
    const double count = static_cast<double>(draws.size());
    line.mean = draws.mean();
    line.sd = count > 1 ? std::sqrt((draws.array() - line.mean).square().sum() / (count - 1.0)) : not_a_number;
    values.resize(static_cast<std::size_t>(draws.size()));
    Eigen::Map<Eigen::MatrixXd>(values.data(), draws.rows(), draws.cols()) = draws;
    const std::vector<double> q = interpolated_order_statistics(values, {0.16, 0.50, 0.84});
    line.p16 = q[0];
    line.p50 = q[1];
    line.p84 = q[2];
}

}  // namespace detail

/// Summarises draws of several chains.
///
/// Warnings follow Vehtari et al. (2021): R-hat above thresholds.max_rhat
/// (1.01), and bulk or tail ESS below thresholds.min_ess_per_chain (100) per
/// chain, each listing the parameters concerned.
///
/// @param chains     one matrix per chain, draws x parameters, all the same shape
/// @param names      parameter names; empty means "x[0]", "x[1]", ...
/// @param thresholds when to warn
/// @throws invalid_input when the chains' shapes differ or names mismatch
inline posterior_summary summarize_draws(const std::vector<Eigen::MatrixXd>& chains,
                                         const std::vector<std::string>& names = {},
                                         const warning_thresholds& thresholds = {}) {
    constexpr const char* f = "summarize_draws";
    check_argument(!chains.empty(), f, "no chains given");
    const Eigen::Index draws = chains.front().rows();
    const Eigen::Index dim = chains.front().cols();
    for (const auto& chain : chains)
        check_argument(chain.rows() == draws && chain.cols() == dim, f,
                       "every chain must have the same number of draws and parameters");
    check_argument(names.empty() || names.size() == static_cast<std::size_t>(dim), f,
                   "names must be empty or one per parameter");

    posterior_summary summary;
    summary.chains = chains.size();
    summary.draws_per_chain = static_cast<std::size_t>(draws);
    const auto chain_count = static_cast<Eigen::Index>(chains.size());
    Eigen::MatrixXd parameter_draws(draws, chain_count);
    std::vector<std::string> high_rhat, low_bulk, low_tail;
    std::vector<double> scratch;
    for (Eigen::Index j = 0; j < dim; ++j) {
        for (Eigen::Index c = 0; c < chain_count; ++c)
            parameter_draws.col(c) = chains[static_cast<std::size_t>(c)].col(j);
        parameter_summary line;
        line.name = names.empty() ? "x[" + std::to_string(j) + "]"
                                  : names[static_cast<std::size_t>(j)];
        detail::describe_draws(parameter_draws, line, scratch);
        line.mcse_mean = line.sd / std::sqrt(split_effective_sample_size(parameter_draws));
        line.ess_bulk = bulk_effective_sample_size(parameter_draws);
        line.ess_tail = tail_effective_sample_size(parameter_draws);
        line.rhat = rank_normalized_rhat(parameter_draws);
        if (thresholds.rhat_too_high(line.rhat)) high_rhat.push_back(line.name);
        if (thresholds.ess_per_chain_too_low(line.ess_bulk, chains.size())) low_bulk.push_back(line.name);
        if (thresholds.ess_per_chain_too_low(line.ess_tail, chains.size())) low_tail.push_back(line.name);
        summary.parameters.push_back(std::move(line));
    }

    const auto listed = detail::joined_names;
    if (!high_rhat.empty())
        summary.warnings.push_back("R-hat above " + threshold_text(thresholds.max_rhat) + " for " + listed(high_rhat) +
                                   ": the chains disagree; run longer or fix the model.");
    if (!low_bulk.empty())
        summary.warnings.push_back("Bulk ESS below " + threshold_text(thresholds.min_ess_per_chain) +
                                   " per chain for " + listed(low_bulk) +
                                   ": means and medians are unreliable; run longer.");
    if (!low_tail.empty())
        summary.warnings.push_back("Tail ESS below " + threshold_text(thresholds.min_ess_per_chain) +
                                   " per chain for " + listed(low_tail) +
                                   ": the 5% and 95% quantiles are unreliable; run longer.");
    return summary;
}

/// The summary as a fixed-width text table, warnings below it. Multi-chain
/// summaries show the rank-normalised ess_bulk, ess_tail and r_hat; ensemble
/// summaries (ess_estimator::autocorrelation_time) show tau and ess = draws
/// of all walkers / tau instead.
inline std::string format_summary(const posterior_summary& summary) {
    const bool ensemble = summary.ess == ess_estimator::autocorrelation_time;
    std::size_t name_width = 4;
    for (const auto& line : summary.parameters) name_width = std::max(name_width, line.name.size());
    const int width = static_cast<int>(name_width);
    std::string text;
    char buffer[512];
    if (ensemble)
        std::snprintf(buffer, sizeof buffer, "%-*s %11s %11s %10s %11s %11s %11s %9s %9s\n", width, "", "mean",
                      "sd", "mcse", "16%", "50%", "84%", "tau", "ess(tau)");
    else
        std::snprintf(buffer, sizeof buffer, "%-*s %11s %11s %10s %11s %11s %11s %9s %9s %7s\n", width, "",
                      "mean", "sd", "mcse", "16%", "50%", "84%", "ess_bulk", "ess_tail", "r_hat");
    text += buffer;
    for (const auto& line : summary.parameters) {
        if (ensemble)
            std::snprintf(buffer, sizeof buffer, "%-*s %11.4g %11.4g %10.2g %11.4g %11.4g %11.4g %9.1f %9.0f\n",
                          width, line.name.c_str(), line.mean, line.sd, line.mcse_mean, line.p16, line.p50,
                          line.p84, line.tau, line.ess_tau);
        else
            std::snprintf(buffer, sizeof buffer,
                          "%-*s %11.4g %11.4g %10.2g %11.4g %11.4g %11.4g %9.0f %9.0f %7.3f\n", width,
                          line.name.c_str(), line.mean, line.sd, line.mcse_mean, line.p16, line.p50, line.p84,
                          line.ess_bulk, line.ess_tail, line.rhat);
        text += buffer;
    }
    if (ensemble)
        std::snprintf(buffer, sizeof buffer,
                      "(%zu walkers x %zu draws; ess(tau) = walkers x draws / tau, tau the integrated "
                      "autocorrelation time)\n",
                      summary.chains, summary.draws_per_chain);
    else
        std::snprintf(buffer, sizeof buffer, "(%zu chains x %zu draws)\n", summary.chains, summary.draws_per_chain);
    text += buffer;
    for (const auto& warning : summary.warnings) text += "Warning: " + warning + "\n";
    return text;
}

}  // namespace diskmc
