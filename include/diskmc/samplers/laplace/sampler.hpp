#pragma once
// Importance-sampled Laplace approximation: independent draws from the
// normal at the MAP point (mean) with the inverse Hessian there (covariance),
// weighted by the target, Pareto-smoothed (diagnostics/pareto_smoothing.hpp),
// and resampled. When the posterior is close to normal (the disk posterior
// in the unconstrained space is, to a few percent) this costs a few thousand
// log-density evaluations without gradients and without a chain; when it is
// not, k̂ says so and the result is flagged unreliable.
//
// Reproducibility. Draw i takes its normals from its own random stream
// (random_stream(seed, i + 1)), so it is the same whichever thread makes it;
// the resampling takes one uniform from stream 0 after all weights are in.
// Only deterministic work (the draw, its log-density) runs in parallel, each
// draw writing its own slot. So a seed gives the same result for any number
// of threads, and whether the model is evaluated point by point or batched.

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numbers>
#include <string_view>

#include "diskmc/concepts/batch_log_density.hpp"
#include "diskmc/concepts/log_density.hpp"
#include "diskmc/detail/random_stream.hpp"
#include "diskmc/diagnostics/pareto_smoothing.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/parallel/parallel_for.hpp"
#include "diskmc/samplers/laplace/options.hpp"
#include "diskmc/samplers/laplace/result.hpp"

namespace diskmc {

namespace detail {

inline constexpr std::string_view laplace_function = "laplace";

/// Systematic resampling (Kitagawa 1996): n points (u + k)/n, k = 0..n-1, on
/// the cumulative weights. One uniform decides all, so it is reproducible
/// for a seed; each draw is taken floor(n w) or ceil(n w) times (the lowest
/// variance of the unbiased schemes), and the result comes in draw order.
inline Eigen::VectorX<Eigen::Index> systematic_resample(const Eigen::VectorXd& weights, std::size_t count,
                                                        double uniform) {
    Eigen::VectorX<Eigen::Index> chosen(static_cast<Eigen::Index>(count));
    const double total = weights.sum();
    if (count == 0 || !(total > 0.0)) return chosen.head(0);
    double cumulative = weights[0] / total;
    Eigen::Index source = 0;
    const Eigen::Index last = weights.size() - 1;
    for (std::size_t k = 0; k < count; ++k) {
        const double position = (uniform + static_cast<double>(k)) / static_cast<double>(count);
        while (position >= cumulative && source < last) cumulative += weights[++source] / total;
        // Rounding may leave the cumulative sum a hair below 1: never pick a zero-weight draw.
        while (weights[source] == 0.0 && source > 0) --source;
        chosen[static_cast<Eigen::Index>(k)] = source;
    }
    return chosen;
}

inline void check_laplace_input(std::size_t dim, const Eigen::VectorXd& mean, const Eigen::MatrixXd& lower,
                                const laplace_options& options) {
    constexpr std::string_view f = laplace_function;
    if (dim == 0) throw_invalid_input(f, ": the model has dim() = 0");
    if (static_cast<std::size_t>(mean.size()) != dim)
        throw_invalid_input(f, ": the mean has ", mean.size(), " entries for a model of dim() = ", dim);
    if (!mean.allFinite()) throw_invalid_input(f, ": the mean is not finite");
    if (static_cast<std::size_t>(lower.rows()) != dim || lower.rows() != lower.cols())
        throw_invalid_input(f, ": the covariance (or its Cholesky factor) is ", lower.rows(), "x", lower.cols(),
                            " for a model of dim() = ", dim);
    if (!lower.allFinite()) throw_invalid_input(f, ": the covariance (or its Cholesky factor) is not finite");
    for (Eigen::Index j = 0; j < lower.rows(); ++j)
        if (!(lower(j, j) > 0.0))
            throw_invalid_input(f, ": the Cholesky factor's diagonal entry ", j, " is ", lower(j, j),
                                "; the covariance must be positive definite");
    if (options.draws < 10) throw_invalid_input(f, ": options.draws must be >= 10, got ", options.draws);
    if (options.block == 0) throw_invalid_input(f, ": options.block must be >= 1");
    check_positive(f, "options.scale", options.scale);
}

}  // namespace detail

/// Importance-sampled Laplace approximation with a given Cholesky factor L
/// of the covariance (lower triangular, positive diagonal): draws
/// x_i = mean + s L z_i (s = options.scale), z_i ~ N(0, I), log-weights log p(x_i) - log N(x_i),
/// Pareto-smoothed weights and k̂, and a resampled set.
///
/// Checks its input and throws diskmc::invalid_input naming the problem
/// before any evaluation. During the run a draw whose log-density is -inf,
/// NaN or +inf gets weight 0 and is counted (outside_support_draws,
/// invalid_draws), never an exception.
///
/// @param model  the target; when it satisfies batch_log_density each block
///        of draws is evaluated in one log_density_batch call, otherwise
///        through log_density on options.threads threads.
/// @param mean   the centre of the normal (the MAP point, in the space the
///        model is defined on: the unconstrained one for a bounded posterior)
/// @param lower  the lower Cholesky factor of the normal's covariance (the
///        inverse Hessian at the MAP point)
/// @param options draws, resampled draws, threads, progress
/// @param seed   the only source of randomness of the run
/// @return draws, weights, k̂, ESS, resampled draws, counts and the verdict
///         (laplace_result::reliable, laplace_warnings)
template <log_density M>
laplace_result laplace_from_cholesky(const M& model, const Eigen::VectorXd& mean, const Eigen::MatrixXd& lower,
                                     const laplace_options& options, std::uint64_t seed) {
    const auto started = std::chrono::steady_clock::now();
    const auto dim = static_cast<std::size_t>(model.dim());
    detail::check_laplace_input(dim, mean, lower, options);
    const auto n = static_cast<Eigen::Index>(dim);
    const auto total = static_cast<Eigen::Index>(options.draws);
    const Eigen::MatrixXd factor = options.scale * Eigen::MatrixXd(lower.triangularView<Eigen::Lower>());

    laplace_result result;
    result.dim = dim;
    result.seed = seed;
    result.draws.resize(n, total);
    result.log_densities.resize(total);
    result.log_weights.resize(total);
    // log N(x; mean, L L^T) = -z^T z / 2 - sum log L_jj - d/2 log(2 pi).
    const double log_normalizer =
        factor.diagonal().array().log().sum() + 0.5 * static_cast<double>(dim) * std::log(2.0 * std::numbers::pi);
    Eigen::VectorXd log_proposal(total);

    const std::size_t threads = batch_log_density<M> ? 1 : options.threads;
    Eigen::Index done = 0;
    while (done < total) {
        const Eigen::Index count = std::min<Eigen::Index>(static_cast<Eigen::Index>(options.block), total - done);
        auto make_draw = [&](std::size_t k) {
            const Eigen::Index i = done + static_cast<Eigen::Index>(k);
            detail::random_stream stream(seed, static_cast<std::uint64_t>(i) + 1);
            Eigen::VectorXd z(n);
            for (Eigen::Index j = 0; j < n; ++j) z[j] = stream.normal();
            result.draws.col(i) = mean + factor * z;
            log_proposal[i] = -0.5 * z.squaredNorm() - log_normalizer;
        };
        if constexpr (batch_log_density<M>) {
            for (std::size_t k = 0; k < static_cast<std::size_t>(count); ++k) make_draw(k);
            Eigen::VectorXd values;
            model.log_density_batch(result.draws.middleCols(done, count), values);
            if (values.size() != count)
                detail::throw_invalid_input(detail::laplace_function, ": log_density_batch returned ", values.size(),
                                            " values for ", count, " points");
            result.log_densities.segment(done, count) = values;
        } else {
            parallel_for(static_cast<std::size_t>(count), threads, [&](std::size_t k) {
                make_draw(k);
                const Eigen::Index i = done + static_cast<Eigen::Index>(k);
                const Eigen::VectorXd point = result.draws.col(i);
                result.log_densities[i] = static_cast<double>(model.log_density(point));
            });
        }
        done += count;
        result.log_density_evaluations += static_cast<std::size_t>(count);
        if (options.progress &&
            !options.progress({static_cast<std::size_t>(done), options.draws,
                               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()})) {
            result.stopped_early = done < total;
            break;
        }
    }
    if (done < total) {
        result.draws.conservativeResize(Eigen::NoChange, done);
        result.log_densities.conservativeResize(done);
        result.log_weights.conservativeResize(done);
    }

    for (Eigen::Index i = 0; i < done; ++i) {
        const double value = result.log_densities[i];
        if (std::isnan(value) || value == std::numeric_limits<double>::infinity()) {
            ++result.invalid_draws;
            result.log_weights[i] = -std::numeric_limits<double>::infinity();
        } else if (value == -std::numeric_limits<double>::infinity()) {
            ++result.outside_support_draws;
            result.log_weights[i] = value;
        } else {
            result.log_weights[i] = value - log_proposal[i];
        }
    }
    const pareto_smoothing_result smoothed = pareto_smoothed_weights(result.log_weights);
    result.weights = smoothed.weights;
    result.khat = smoothed.khat;
    result.khat_threshold = smoothed.khat_threshold;
    result.effective_sample_size = smoothed.effective_sample_size;

    const std::size_t resampled = options.resampled_draws == 0 ? static_cast<std::size_t>(done) : options.resampled_draws;
    detail::random_stream resampling(seed, 0);
    result.resampled_from = detail::systematic_resample(result.weights, resampled, resampling.uniform());
    result.resampled.resize(n, result.resampled_from.size());
    for (Eigen::Index k = 0; k < result.resampled_from.size(); ++k)
        result.resampled.col(k) = result.draws.col(result.resampled_from[k]);
    result.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return result;
}

/// As laplace_from_cholesky, with the covariance itself (symmetric positive
/// definite; e.g. map_result::unconstrained_covariance).
/// @throws invalid_input if the covariance is not square of size dim(),
///         not finite, or not positive definite
template <log_density M>
laplace_result laplace(const M& model, const Eigen::VectorXd& mean, const Eigen::MatrixXd& covariance,
                       const laplace_options& options, std::uint64_t seed) {
    constexpr std::string_view f = detail::laplace_function;
    if (covariance.rows() != covariance.cols() || static_cast<std::size_t>(covariance.rows()) != model.dim())
        detail::throw_invalid_input(f, ": the covariance is ", covariance.rows(), "x", covariance.cols(),
                                    " for a model of dim() = ", model.dim());
    if (!covariance.allFinite()) detail::throw_invalid_input(f, ": the covariance is not finite");
    const Eigen::LLT<Eigen::MatrixXd> cholesky(0.5 * (covariance + covariance.transpose()));
    if (cholesky.info() != Eigen::Success)
        detail::throw_invalid_input(f, ": the covariance is not positive definite");
    return laplace_from_cholesky(model, mean, Eigen::MatrixXd(cholesky.matrixL()), options, seed);
}

}  // namespace diskmc
