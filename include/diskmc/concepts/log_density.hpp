#pragma once
// The contract every sampler needs: a dimension and a log-density.

#include <Eigen/Core>
#include <concepts>
#include <cstddef>

namespace diskmc {

/// A (possibly unnormalised) log-density on R^dim().
///
/// Contract: `log_density(x)` returns -infinity outside the support, never
/// NaN, and never throws. It must be safe to call concurrently from several
/// threads on one const object (samplers evaluate walkers and chains in
/// parallel).
///
/// To satisfy it, add to your type:
/// @code
///   std::size_t dim() const;
///   double log_density(const Eigen::VectorXd& x) const;
/// @endcode
template <class M>
concept log_density = requires(const M& model, const Eigen::VectorXd& x) {
    { model.dim() } -> std::convertible_to<std::size_t>;
    { model.log_density(x) } -> std::convertible_to<double>;
};

}  // namespace diskmc
