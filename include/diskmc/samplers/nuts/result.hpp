#pragma once
// What a NUTS run returns: draws, per-iteration statistics (Stan's sampler
// columns), the adapted step size and metric, counts and timings.

#include <Eigen/Core>
#include <cstddef>
#include <vector>

#include "diskmc/samplers/nuts/options.hpp"

namespace diskmc {

/// One NUTS iteration's statistics, as Stan's `*__` output columns.
struct nuts_iteration {
    /// Mean Metropolis acceptance probability over the trajectory's new
    /// states (accept_stat__); what dual averaging steers to target_accept.
    double accept_stat = 0.0;
    /// Step size used by this transition (stepsize__).
    double step_size = 0.0;
    /// Number of completed tree doublings (treedepth__).
    int tree_depth = 0;
    /// Leapfrog steps taken, each one gradient evaluation (n_leapfrog__);
    /// at most 2^max_tree_depth - 1.
    int n_leapfrog = 0;
    /// The trajectory ended in a divergence (energy error above
    /// max_energy_error, or a non-finite log-density or gradient).
    bool divergent = false;
    /// Hamiltonian of the selected state (energy__), for E-BFMI.
    double energy = 0.0;
    /// Log-density of the selected state (lp__).
    double log_density = 0.0;
};

/// The check at the end of a trusted warmup (warmup_mode::
/// trust_metric_with_fallback): is the posterior, in the metric's scale,
/// close to a standard normal?
struct trusted_warmup_check {
    /// Adapted step size over the one dual averaging finds on a standard
    /// normal of the same dimension (detail::gaussian_step_size); well below
    /// 1 when some direction is much narrower than the metric says.
    double step_size_ratio = 0.0;
    /// Smallest and largest variance of a coordinate over the short warmup's
    /// second half, over the metric's variance; near 1 when the metric is right.
    double variance_min = 0.0;
    double variance_max = 0.0;
    /// All three within bounds: the short warmup was kept.
    bool passed = false;
};

/// The result of one chain.
struct nuts_result {
    /// Draws, samples x dim, in the model's coordinates (one row per draw).
    Eigen::MatrixXd draws;
    /// transform(draw) per row, when a transform was passed; else empty.
    Eigen::MatrixXd transformed_draws;
    /// Warmup draws, warmup x dim, when options.save_warmup; else empty.
    Eigen::MatrixXd warmup_draws;
    /// Statistics of every warmup iteration, then of every sampling iteration.
    std::vector<nuts_iteration> warmup;
    std::vector<nuts_iteration> sampling;

    /// Step size after warmup (dual averaging's averaged iterate).
    double step_size = 0.0;
    /// The metric's form and the inverse metric after warmup: dim x 1
    /// (unit, diagonal) or dim x dim (dense), in the coordinates the sampler
    /// moved in (the standardised z when options.standardize_covariance is
    /// set, else the model's).
    metric_kind metric = metric_kind::diagonal;
    Eigen::MatrixXd inverse_metric;
    /// The sampling tree-depth cap, for the "hit the maximum tree depth" count.
    std::size_t max_tree_depth = 0;
    /// options.target_accept, so the warnings can tell whether raising it is
    /// still advice worth giving.
    double target_accept = 0.8;

    /// What warmup did; with trust_metric_with_fallback, whether the short
    /// warmup was kept (trusted) or the chain fell back to Stan's windows
    /// (fell_back), and the check that decided it.
    warmup_path warmup_taken = warmup_path::windowed;
    trusted_warmup_check warmup_check = {};

    /// Windows that updated the metric, and window estimates rejected as not
    /// finite or not positive definite (the previous metric was kept).
    std::size_t metric_updates = 0;
    std::size_t rejected_metric_updates = 0;
    /// The heuristic step-size search ran into its limits (step > 1e7 or
    /// below the smallest normal double): an improper or discontinuous target.
    bool step_size_search_failed = false;

    /// Log-density-and-gradient evaluations: warmup (including the initial
    /// evaluation and every step-size search) and sampling.
    std::size_t gradient_evaluations_warmup = 0;
    std::size_t gradient_evaluations_sampling = 0;
    /// Evaluations, warmup and sampling, where the model broke its contract
    /// (-infinity outside the support, never NaN): a NaN or +infinity
    /// log-density, or a finite one with a gradient that is not finite. Each
    /// was treated as a divergence (or a failed step-size trial), so the
    /// chain holds only finite states, but the model needs fixing. Counted
    /// apart from the divergences, which also come from large energy errors.
    std::size_t non_finite_evaluations = 0;
    /// Wall time of warmup and of sampling, in seconds.
    double warmup_seconds = 0.0;
    double sampling_seconds = 0.0;

    /// The progress callback stopped the run: `draws` holds the completed
    /// sampling iterations only (fewer than options.samples, maybe none),
    /// and a run stopped during warmup reports an unfinished adaptation.
    bool stopped_early = false;

    std::size_t gradient_evaluations() const {
        return gradient_evaluations_warmup + gradient_evaluations_sampling;
    }
};

/// The result of a multi-chain run.
struct nuts_chains_result {
    /// One result per chain, in chain order.
    std::vector<nuts_result> chains;
    /// Wall time of the whole run, in seconds.
    double wall_seconds = 0.0;
    /// Lockstep mode only: batches evaluated. chains x lockstep_rounds is the
    /// work a vectorised evaluation would pay for; the sum of the chains'
    /// gradient evaluations is the work actually needed.
    std::size_t lockstep_rounds = 0;
    /// The progress callback stopped the run (see nuts_result::stopped_early).
    bool stopped_early = false;
    /// Stopping on precision (nuts_chains_options::min_ess > 0): the targets
    /// were met before the budget of samples draws per chain, the smallest
    /// bulk or tail ESS and largest R-hat at the last check, and the number
    /// of rounds.
    bool precision_reached = false;
    double min_ess = 0.0;
    double max_rhat = 0.0;
    std::size_t precision_rounds = 0;

    std::size_t gradient_evaluations() const {
        std::size_t total = 0;
        for (const auto& chain : chains) total += chain.gradient_evaluations();
        return total;
    }
    /// Sum of the chains' non_finite_evaluations.
    std::size_t non_finite_evaluations() const {
        std::size_t total = 0;
        for (const auto& chain : chains) total += chain.non_finite_evaluations;
        return total;
    }
};

}  // namespace diskmc
