#pragma once
// Diagnostics of a NUTS run: the posterior summary table with Stan's HMC
// warnings added.

#include <Eigen/Core>
#include <cstddef>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "diskmc/diagnostics/hmc.hpp"
#include "diskmc/diagnostics/summary.hpp"
#include "diskmc/samplers/nuts/result.hpp"

namespace diskmc {

namespace detail {
/// A number for a warning, to 3 significant digits.
inline std::string format_ratio(double value) {
    std::ostringstream out;
    out << std::setprecision(3) << value;
    return out.str();
}
}  // namespace detail

/// One chain's divergences, depth-cap hits and E-BFMI over its sampling
/// iterations.
inline hmc_chain_report hmc_report(const nuts_result& chain) {
    hmc_chain_report report;
    report.transitions = chain.sampling.size();
    report.max_tree_depth = chain.max_tree_depth;
    report.target_accept = chain.target_accept;
    report.dense_metric = chain.metric == metric_kind::dense;
    report.non_finite_evaluations = chain.non_finite_evaluations;
    Eigen::VectorXd energy(static_cast<Eigen::Index>(chain.sampling.size()));
    for (std::size_t i = 0; i < chain.sampling.size(); ++i) {
        const nuts_iteration& it = chain.sampling[i];
        if (it.divergent) ++report.divergences;
        if (static_cast<std::size_t>(it.tree_depth) >= chain.max_tree_depth) ++report.max_depth_hits;
        energy[static_cast<Eigen::Index>(i)] = it.energy;
    }
    report.e_bfmi = energy_bfmi(energy);
    return report;
}

/// The summary table of a multi-chain run (see summarize_draws), with the
/// HMC warnings (a model returning NaN, divergences, depth-cap hits, low
/// E-BFMI) and adaptation trouble added to its warnings.
///
/// @param run         the run
/// @param names       parameter names, or empty
/// @param transformed summarise result.transformed_draws instead of draws
inline posterior_summary summarize(const nuts_chains_result& run,
                                   const std::vector<std::string>& names = {},
                                   bool transformed = false) {
    std::vector<Eigen::MatrixXd> draws;
    std::vector<hmc_chain_report> reports;
    for (const auto& chain : run.chains) {
        draws.push_back(transformed ? chain.transformed_draws : chain.draws);
        reports.push_back(hmc_report(chain));
    }
    posterior_summary summary = summarize_draws(draws, names);
    for (auto& warning : hmc_warnings(reports)) summary.warnings.push_back(std::move(warning));
    for (std::size_t c = 0; c < run.chains.size(); ++c) {
        const nuts_result& chain = run.chains[c];
        const std::string which = "Chain " + std::to_string(c + 1) + ": ";
        if (chain.step_size_search_failed)
            summary.warnings.push_back(which +
                                       "the initial step-size search hit its limit; the target "
                                       "may be improper or discontinuous.");
        if (chain.warmup_taken == warmup_path::fell_back)
            summary.warnings.push_back(
                which + "the posterior in the standardised coordinates was far from unit scale "
                        "(step size " + detail::format_ratio(chain.warmup_check.step_size_ratio) +
                " of a standard normal's, variances " + detail::format_ratio(chain.warmup_check.variance_min) +
                " to " + detail::format_ratio(chain.warmup_check.variance_max) +
                "): its warmup fell back to Stan's windowed metric adaptation; the given "
                "covariance (e.g. the MAP's) is a poor guide to the posterior.");
        if (chain.rejected_metric_updates > 0)
            summary.warnings.push_back(
                which + std::to_string(chain.rejected_metric_updates) +
                " metric update(s) were not positive definite and were skipped.");
    }
    if (run.precision_rounds > 0 && !run.precision_reached && !run.stopped_early)
        summary.warnings.push_back(
            "Stopping on precision: the sample budget ran out before min_ess and max_rhat were "
            "met (smallest bulk/tail ESS " + detail::format_ratio(run.min_ess) + ", largest R-hat " +
            detail::format_ratio(run.max_rhat) + "); raise samples, the budget per chain.");
    return summary;
}

}  // namespace diskmc
