#pragma once
// The thresholds behind the samplers' convergence warnings, in one place.
// The NUTS summary (summarize_draws, hmc_warnings), the ensemble's summary
// and the fit's summaries of either sampler and of the Laplace draws all
// decide with a warning_thresholds and word the numbers with
// threshold_text(), so a threshold changed here changes every warning.
// Divergences and tree-depth hits have no threshold: every one is reported,
// as Stan does (diagnostics/hmc.hpp).

#include <cstddef>
#include <sstream>
#include <string>

namespace diskmc {

/// When a summary warns. Defaults are the published recommendations.
struct warning_thresholds {
    /// Rank-normalised split R-hat above this: the chains disagree
    /// (Vehtari et al. 2021 recommend 1.01).
    double max_rhat = 1.01;
    /// Bulk or tail ESS below this many per chain, for several chains
    /// compared by R-hat: means, medians or the 5%/95% quantiles are
    /// unreliable (Vehtari et al. 2021: 100 per chain).
    double min_ess_per_chain = 100.0;
    /// An ESS of a whole run below this: the quantiles are unreliable. For
    /// the ensemble's draws / tau, the fit's walkers taken as chains and the
    /// Laplace importance ESS (400: Vehtari et al. 2021's 4 chains x 100).
    double min_ess = 400.0;
    /// E-BFMI of a NUTS chain below this (Stan's 0.3; Betancourt 2016).
    double min_e_bfmi = 0.3;

    bool rhat_too_high(double rhat) const { return rhat > max_rhat; }
    bool ess_too_low(double ess) const { return ess < min_ess; }
    bool ess_per_chain_too_low(double ess, std::size_t chains) const {
        return ess < min_ess_per_chain * static_cast<double>(chains);
    }
    bool e_bfmi_too_low(double e_bfmi) const { return e_bfmi < min_e_bfmi; }
};

/// A threshold as a warning shows it: "1.01", "100", "400".
inline std::string threshold_text(double value) {
    std::ostringstream out;
    out.precision(6);
    out << value;
    return out.str();
}

}  // namespace diskmc
