#pragma once
// A log-density that also gives its gradient, value and gradient in one call.

#include <Eigen/Core>
#include <concepts>

#include "diskmc/concepts/log_density.hpp"

namespace diskmc {

/// A log_density with its gradient, both from one pass over the data.
///
/// `log_density_gradient(x, grad)` resizes `grad` to dim(), fills it with
/// d log p / dx, and returns log p(x). Outside the support it returns
/// -infinity (the gradient is then unspecified); it never returns NaN and
/// never throws.
///
/// To satisfy it, add to a log_density type:
/// @code
///   double log_density_gradient(const Eigen::VectorXd& x, Eigen::VectorXd& grad) const;
/// @endcode
/// or wrap a scalar-generic model with `diskmc::autodiff::differentiable(model)`.
template <class M>
concept differentiable_log_density =
    log_density<M> && requires(const M& model, const Eigen::VectorXd& x, Eigen::VectorXd& grad) {
        { model.log_density_gradient(x, grad) } -> std::convertible_to<double>;
    };

}  // namespace diskmc
