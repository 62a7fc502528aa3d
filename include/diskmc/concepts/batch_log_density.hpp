#pragma once
// Optional: a log-density that evaluates many points in one call.

#include <Eigen/Core>

#include "diskmc/concepts/log_density.hpp"

namespace diskmc {

/// A log_density that evaluates one column of `points` (dim() x n) per point
/// and writes the n values into `out` (resized to n). The ensemble sampler
/// uses it for a half-ensemble's proposals when a model provides it, and a
/// threaded loop over `log_density` otherwise. Same value contract as
/// log_density: -infinity outside the support, never NaN, never throws.
///
/// To satisfy it, add to a log_density type:
/// @code
///   void log_density_batch(const Eigen::MatrixXd& points, Eigen::VectorXd& out) const;
/// @endcode
template <class M>
concept batch_log_density =
    log_density<M> && requires(const M& model, const Eigen::MatrixXd& points, Eigen::VectorXd& out) {
        model.log_density_batch(points, out);
    };

}  // namespace diskmc
