#pragma once
// What an importance-sampled Laplace run returns.

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

namespace diskmc {

/// The draws from the Laplace normal, their weights against the target, the
/// Pareto-smoothed weights and k̂, a resampled set and the verdict.
///
/// Storage: one column per draw (dim x draws), as the ensemble's samples.
struct laplace_result {
    std::size_t dim = 0;
    std::uint64_t seed = 0;

    /// Draws from N(mean, covariance), dim x draws.
    Eigen::MatrixXd draws;
    /// log target - log proposal of every draw (the normal's constant
    /// included); -inf where the target was -inf, NaN or +inf.
    Eigen::VectorXd log_weights;
    /// The target's log-density at every draw (as returned; NaN kept).
    Eigen::VectorXd log_densities;
    /// Pareto-smoothed normalised weights (sum 1), one per draw.
    Eigen::VectorXd weights;
    /// The Pareto shape of the weights' tail (see diagnostics/pareto_smoothing.hpp).
    double khat = std::numeric_limits<double>::infinity();
    /// The k̂ above which the result is unreliable, min(1 - 1/log10(S), 0.7).
    double khat_threshold = 0.7;
    /// 1 / sum w^2 of the smoothed weights.
    double effective_sample_size = 0.0;
    /// Draws resampled from the weights (systematic resampling), dim x n:
    /// equally weighted, for summaries that take plain draws.
    Eigen::MatrixXd resampled;
    /// Column of `draws` each resampled draw came from.
    Eigen::VectorX<Eigen::Index> resampled_from;

    /// Points at which the log-density was evaluated.
    std::size_t log_density_evaluations = 0;
    /// Draws where the log-density was -inf (outside the support): weight 0.
    std::size_t outside_support_draws = 0;
    /// Draws where it was NaN or +inf (the model broke its contract): weight 0.
    std::size_t invalid_draws = 0;
    /// True if the progress callback stopped the run.
    bool stopped_early = false;
    /// Wall-clock seconds of the call.
    double total_seconds = 0.0;

    /// Whether k̂ is at most the threshold: the weighted draws stand.
    bool reliable() const { return khat <= khat_threshold; }
    /// Importance ESS as a fraction of the draws.
    double efficiency() const {
        return draws.cols() > 0 ? effective_sample_size / static_cast<double>(draws.cols()) : 0.0;
    }
};

/// The verdict of a run, one sentence per finding; empty when the weighted
/// draws stand (k̂ at most the threshold, no invalid density).
inline std::vector<std::string> laplace_warnings(const laplace_result& result) {
    std::vector<std::string> warnings;
    char khat[32];
    std::snprintf(khat, sizeof khat, "%.2f", result.khat);
    char threshold[32];
    std::snprintf(threshold, sizeof threshold, "%.2f", result.khat_threshold);
    if (!result.reliable())
        warnings.push_back(std::string("Pareto k-hat of the Laplace importance weights is ") + khat + " > " +
                           threshold +
                           ": the normal approximation at the MAP does not cover the posterior (skewed, "
                           "curved or multimodal); the weighted draws are NOT reliable, use NUTS.");
    if (result.invalid_draws > 0)
        warnings.push_back(std::to_string(result.invalid_draws) +
                           " draw(s) had a NaN or +infinity log-density: the model must return -infinity "
                           "outside the support and never NaN. They got weight 0.");
    return warnings;
}

}  // namespace diskmc
