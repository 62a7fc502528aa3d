#pragma once
// A log-density with least-squares structure: its Hessian, but for the
// residuals' own curvature, comes in closed form with the gradient.

#include <Eigen/Core>
#include <concepts>

#include "diskmc/concepts/differentiable_log_density.hpp"

namespace diskmc {

/// A differentiable_log_density whose -log p is, up to terms whose curvature
/// is known exactly (priors, transforms), a weighted sum of squared
/// residuals r^T W r / 2. `log_density_gauss_newton(x, grad, hessian)`
/// returns log p(x), sets grad = d log p / dx and `hessian` to the
/// Gauss-Newton Hessian of -log p: the exact Hessian without the residuals'
/// term -sum_p w_p r_p d^2 r_p / dx^2, so J^T W J plus the exact second
/// derivatives of everything else. Outside the support it returns -infinity
/// (grad and hessian unspecified); it never returns NaN and never throws.
/// find_map() takes Gauss-Newton (Levenberg-Marquardt) steps with it.
///
/// To satisfy it, add to a differentiable_log_density type:
/// @code
///   double log_density_gauss_newton(const Eigen::VectorXd& x, Eigen::VectorXd& grad,
///                                   Eigen::MatrixXd& hessian) const;
/// @endcode
template <class M>
concept least_squares_log_density =
    differentiable_log_density<M> &&
    requires(const M& model, const Eigen::VectorXd& x, Eigen::VectorXd& grad, Eigen::MatrixXd& hessian) {
        { model.log_density_gauss_newton(x, grad, hessian) } -> std::convertible_to<double>;
    };

/// A least_squares_log_density that also gives the exact Hessian of -log p:
/// `log_density_hessian(x, grad, hessian)` as log_density_gauss_newton with
/// the residuals' term added. find_map() takes its covariance from it.
template <class M>
concept hessian_log_density =
    least_squares_log_density<M> &&
    requires(const M& model, const Eigen::VectorXd& x, Eigen::VectorXd& grad, Eigen::MatrixXd& hessian) {
        { model.log_density_hessian(x, grad, hessian) } -> std::convertible_to<double>;
    };

}  // namespace diskmc
