#pragma once
// Diagnostics particular to Hamiltonian Monte Carlo: E-BFMI, divergences and
// trajectories cut short by the tree-depth cap, with warnings worded like the
// ones Stan prints (CmdStan's `diagnose`).

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "diskmc/diagnostics/warnings.hpp"

namespace diskmc {

/// Estimated Bayesian fraction of missing information (Betancourt 2016,
/// "Diagnosing suboptimal cotangent disintegrations in Hamiltonian Monte
/// Carlo"), from one chain's energies: mean((E_t - E_{t-1})^2) / var(E), as
/// ArviZ computes it. Below about 0.3 the momentum resampling explores the
/// energy distribution poorly (heavy tails, funnels). NaN for fewer than 2
/// energies or constant energy.
inline double energy_bfmi(const Eigen::Ref<const Eigen::VectorXd>& energy) {
    const Eigen::Index n = energy.size();
    if (n < 2) return std::numeric_limits<double>::quiet_NaN();
    const double variance = (energy.array() - energy.mean()).square().mean();
    const double jumps = (energy.tail(n - 1) - energy.head(n - 1)).squaredNorm() /
                         static_cast<double>(n - 1);
    if (!(variance > 0)) return std::numeric_limits<double>::quiet_NaN();
    return jumps / variance;
}

/// One chain's HMC health, the input of hmc_warnings.
struct hmc_chain_report {
    std::size_t transitions = 0;       ///< sampling iterations
    std::size_t divergences = 0;       ///< of them, divergent
    std::size_t max_depth_hits = 0;    ///< of them, at the tree-depth cap
    std::size_t max_tree_depth = 0;    ///< the cap
    double e_bfmi = std::numeric_limits<double>::quiet_NaN();
    double target_accept = 0.8;        ///< the run's target_accept, to word the advice
    bool dense_metric = false;         ///< the run already used a dense metric
    /// Evaluations (warmup included) where the model returned a NaN or
    /// +infinity log-density or a non-finite gradient.
    std::size_t non_finite_evaluations = 0;
};

/// Stan-style warnings for a run, one sentence each; empty when all is well.
/// @param chains        one report per chain
/// @param bfmi_threshold E-BFMI below this is reported (Stan: 0.3)
inline std::vector<std::string> hmc_warnings(const std::vector<hmc_chain_report>& chains,
                                             double bfmi_threshold = warning_thresholds{}.min_e_bfmi) {
    std::vector<std::string> warnings;
    std::size_t transitions = 0, divergences = 0, max_depth_hits = 0, max_tree_depth = 0;
    std::size_t non_finite = 0;
    double target_accept = 0.0;
    bool dense_metric = !chains.empty();
    for (const auto& chain : chains) {
        transitions += chain.transitions;
        divergences += chain.divergences;
        max_depth_hits += chain.max_depth_hits;
        max_tree_depth = std::max(max_tree_depth, chain.max_tree_depth);
        non_finite += chain.non_finite_evaluations;
        target_accept = std::max(target_accept, chain.target_accept);
        dense_metric = dense_metric && chain.dense_metric;
    }
    char line[400];
    const auto percent = [&](std::size_t count) {
        return transitions == 0 ? 0.0
                                : 100.0 * static_cast<double>(count) / static_cast<double>(transitions);
    };
    if (non_finite > 0) {
        std::snprintf(line, sizeof line,
                      "The model returned a NaN or +infinity log-density, or a non-finite "
                      "gradient, at %zu point(s): it must return -infinity outside the support "
                      "and never NaN. Those steps were rejected as divergences, but fix the "
                      "model: the draws near such regions are not to be trusted.",
                      non_finite);
        warnings.emplace_back(line);
    }
    if (divergences > 0) {
        // Raising target_accept past 0.95 rarely helps (Stan's advice stops
        // there): then only a better parameterisation will.
        if (target_accept < 0.95)
            std::snprintf(line, sizeof line,
                          "%zu of %zu (%.2g%%) transitions ended with a divergence. These draws "
                          "may be biased: increase target_accept (e.g. 0.95) or reparameterise "
                          "the model.",
                          divergences, transitions, percent(divergences));
        else
            std::snprintf(line, sizeof line,
                          "%zu of %zu (%.2g%%) transitions ended with a divergence although "
                          "target_accept is already %.3g. These draws may be biased: "
                          "reparameterise the model (e.g. non-centred, or standardised with the "
                          "MAP covariance).",
                          divergences, transitions, percent(divergences), target_accept);
        warnings.emplace_back(line);
    }
    if (max_depth_hits > 0) {
        std::snprintf(line, sizeof line,
                      "%zu of %zu (%.2g%%) transitions hit the maximum tree depth of %zu. "
                      "Sampling is inefficient, not biased: increase max_tree_depth%s.",
                      max_depth_hits, transitions, percent(max_depth_hits), max_tree_depth,
                      dense_metric ? " or standardise the parameters with a covariance "
                                     "estimate (e.g. the MAP's)"
                                   : " or use a dense metric");
        warnings.emplace_back(line);
    }
    for (std::size_t c = 0; c < chains.size(); ++c) {
        if (chains[c].e_bfmi < bfmi_threshold) {
            std::snprintf(line, sizeof line,
                          "Chain %zu: E-BFMI = %.3g, below %.2g: the posterior may have heavy "
                          "tails or a funnel that the sampler explores poorly; reparameterise.",
                          c + 1, chains[c].e_bfmi, bfmi_threshold);
            warnings.emplace_back(line);
        }
    }
    return warnings;
}

}  // namespace diskmc
