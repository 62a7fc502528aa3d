#pragma once
// Diagnostics of an ensemble run: the posterior summary table of
// diagnostics/summary.hpp, with the ensemble's own effective sample size.
//
// The walkers of an affine-invariant ensemble move together (each proposal
// uses the others' positions), so they are not independent chains: the ESS
// is the number of draws of all walkers over the integrated autocorrelation
// time tau averaged over the walkers (emcee's estimator, Goodman & Weare
// 2010, Foreman-Mackey et al. 2013), not the rank-normalised ESS or R-hat of
// walkers taken as chains.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "diskmc/diagnostics/autocorrelation.hpp"
#include "diskmc/diagnostics/summary.hpp"
#include "diskmc/diagnostics/warnings.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/samplers/ensemble/result.hpp"

namespace diskmc {

/// Options of summarize(ensemble_result).
struct ensemble_summary_options {
    /// The estimator of tau (emcee's defaults).
    autocorrelation_options autocorrelation{};
    /// Warn when ess_tau falls below this (warning_thresholds::min_ess, 400:
    /// Vehtari et al. 2021's floor for reliable quantiles).
    double minimum_ess = warning_thresholds{}.min_ess;
};

namespace detail {

/// summarize(ensemble_result) with the autocorrelation times given (e.g.
/// from the chain before periodic parameters were wrapped, whose jumps
/// would inflate tau).
inline posterior_summary summarize_ensemble_run(const ensemble_result& run,
                                                const std::vector<autocorrelation_estimate>& taus,
                                                const std::vector<std::string>& names,
                                                const ensemble_summary_options& options) {
    // (summarize checks the names and options before the taus are computed.)
    check_argument(taus.size() == run.dim, "summarize", "taus must be one per parameter");
    const warning_thresholds thresholds{.min_ess = options.minimum_ess};

    posterior_summary summary;
    summary.chains = run.walkers;
    summary.draws_per_chain = run.draws();
    summary.ess = ess_estimator::autocorrelation_time;
    const std::size_t samples = run.draws() * run.walkers;
    std::vector<std::string> short_chain, constant, low_ess;
    // Each parameter's draws gathered contiguous, eight parameters (a cache
    // line of a sample) per pass over the chain, into a buffer reused for
    // every block: fresh memory the size of the chain costs more here than
    // the quantiles themselves.
    constexpr Eigen::Index block = 8;
    const Eigen::Index columns = run.samples.cols();
    Eigen::MatrixXd gathered(columns, std::min<Eigen::Index>(block, static_cast<Eigen::Index>(run.dim)));
    std::vector<double> scratch;
    for (std::size_t p = 0; p < run.dim; ++p) {
        const auto row = static_cast<Eigen::Index>(p);
        if (row % block == 0) {
            const Eigen::Index rows = std::min<Eigen::Index>(block, static_cast<Eigen::Index>(run.dim) - row);
            for (Eigen::Index c = 0; c < columns; ++c)
                for (Eigen::Index k = 0; k < rows; ++k) gathered(c, k) = run.samples(row + k, c);
        }
        parameter_summary line;
        line.name = names.empty() ? "x[" + std::to_string(p) + "]" : names[p];
        detail::describe_draws(gathered.col(row % block), line, scratch);
        const autocorrelation_estimate& estimate = taus[p];
        line.tau = estimate.tau;
        line.ess_tau = effective_sample_size_from_tau(samples, estimate.tau);  // NaN for a constant parameter
        line.mcse_mean = line.sd / std::sqrt(line.ess_tau);
        line.ess_bulk = line.ess_tail = line.rhat = detail::not_a_number;
        if (estimate.status == autocorrelation_status::no_variation)
            constant.push_back(line.name);
        else if (!estimate.reliable())
            short_chain.push_back(line.name);
        if (thresholds.ess_too_low(line.ess_tau)) low_ess.push_back(line.name);
        summary.parameters.push_back(std::move(line));
    }

    const auto listed = detail::joined_names;
    for (auto& warning : ensemble_warnings(run)) summary.warnings.push_back(std::move(warning));
    if (!run.stuck_walkers.empty())
        summary.warnings.push_back(std::to_string(run.stuck_walkers.size()) +
                                   " walker(s) accepted almost no proposal after burn-in (stuck): they bias "
                                   "the result; start closer to the optimum or burn in longer.");
    if (!constant.empty())
        summary.warnings.push_back("Every walker is constant in " + listed(constant) +
                                   ": no autocorrelation time; the walkers are stuck or the parameter is fixed.");
    if (!short_chain.empty())
        summary.warnings.push_back("The chain is shorter than " +
                                   std::to_string(static_cast<int>(options.autocorrelation.minimum_length_in_tau)) +
                                   " autocorrelation times for " + listed(short_chain) +
                                   ": tau is unreliable (usually underestimated); run longer.");
    if (!low_ess.empty())
        summary.warnings.push_back("ESS (draws / tau) below " + threshold_text(thresholds.min_ess) +
                                   " for " + listed(low_ess) + ": the quantiles are unreliable; run longer.");
    return summary;
}

}  // namespace detail

/// The summary table of an ensemble run: per parameter the mean, sd,
/// 16/50/84% quantiles of all walkers' draws together, tau and
/// ess_tau = walkers x draws / tau (summary.ess is
/// ess_estimator::autocorrelation_time; ess_bulk, ess_tail and rhat are NaN),
/// with warnings for a chain shorter than the reliable length in tau, a low
/// ESS, stuck walkers, proposals where the model broke its contract, and a
/// run on precision that used its whole budget.
///
/// What the ESS means for walkers: walkers x draws / tau is the number of
/// independent draws the pooled chain is worth for the mean, the variance of
/// a walker average shrinking as tau / (walkers x draws). It plays the part
/// of NUTS' bulk ESS; there is no separate tail ESS, and no R-hat, since the
/// walkers are not independent chains (each proposal uses the others'
/// positions); the 50 tau length rule says when tau itself is trustworthy.
///
/// @param run     the run (after burn-in)
/// @param names   parameter names, or empty ("x[0]", "x[1]", ...)
/// @param options tau's estimator and the ESS floor of the warnings
/// @throws invalid_input when the run has no draws, a sample is not finite,
///         or names are neither empty nor one per parameter
inline posterior_summary summarize(const ensemble_result& run, const std::vector<std::string>& names = {},
                                   const ensemble_summary_options& options = {}) {
    check_argument(names.empty() || names.size() == run.dim, "summarize", "names must be empty or one per parameter");
    check_positive("summarize", "options.minimum_ess", options.minimum_ess);
    return detail::summarize_ensemble_run(run, integrated_autocorrelation_times(run, options.autocorrelation), names,
                                          options);
}

}  // namespace diskmc
