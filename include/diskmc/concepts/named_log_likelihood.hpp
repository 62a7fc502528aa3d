#pragma once
// A log-likelihood over a model's full vector of named parameters: what the
// posterior adaptor (inference/posterior.hpp) combines with a parameter_set.

#include <Eigen/Core>
#include <concepts>
#include <string>
#include <vector>

namespace diskmc {

/// A log-likelihood written once for any scalar type over the model's full
/// parameter vector, whose entries are named (in order) by
/// parameter_names(). The posterior fills fixed entries from the parameter
/// set (or the catalogue's defaults) and free entries from the sampled
/// vector. Same value contract as log_density: never NaN, never throws; a
/// non-finite value counts as -infinity.
///
/// To satisfy it, provide:
/// @code
///   std::vector<std::string> parameter_names() const;   // e.g. {"x0", "y0", "inc", "PA", ...}
///   template <class T> T log_likelihood(const Eigen::Matrix<T, Eigen::Dynamic, 1>& full) const;
/// @endcode
template <class L>
concept named_log_likelihood = requires(const L& likelihood, const Eigen::VectorXd& full) {
    { likelihood.parameter_names() } -> std::convertible_to<std::vector<std::string>>;
    { likelihood.template log_likelihood<double>(full) } -> std::same_as<double>;
};

/// Optional: value and gradient with respect to the full vector in one pass
/// (a hand-written adjoint). The posterior then uses it instead of automatic
/// differentiation of log_likelihood<T>.
///
/// To satisfy it, add:
/// @code
///   double log_likelihood_gradient(const Eigen::VectorXd& full, Eigen::VectorXd& grad) const;
/// @endcode
template <class L>
concept named_log_likelihood_with_gradient =
    named_log_likelihood<L> && requires(const L& likelihood, const Eigen::VectorXd& full, Eigen::VectorXd& grad) {
        { likelihood.log_likelihood_gradient(full, grad) } -> std::convertible_to<double>;
    };

/// Optional: a likelihood of least-squares form, log L = -r^T W r / 2 with
/// r = data - m(full) and W diagonal, that gives in one pass its value, its
/// gradient J^T W r and the Gauss-Newton curvature J^T W J (J = dm/d full),
/// and, for an exact Hessian, the term J^T W J leaves out,
/// -sum_p w_p r_p d^2 m_p / d full^2, along the components with steps > 0.
/// The posterior then satisfies least_squares_log_density and
/// hessian_log_density, and find_map() takes Gauss-Newton steps.
///
/// To satisfy it, add:
/// @code
///   double log_likelihood_normal_equations(const Eigen::VectorXd& full, Eigen::VectorXd& grad,
///                                          Eigen::MatrixXd& gauss_newton) const;
///   Eigen::MatrixXd residual_curvature(const Eigen::VectorXd& full, const Eigen::VectorXd& steps) const;
/// @endcode
template <class L>
concept named_least_squares_log_likelihood =
    named_log_likelihood_with_gradient<L> &&
    requires(const L& likelihood, const Eigen::VectorXd& full, Eigen::VectorXd& grad, Eigen::MatrixXd& curvature) {
        { likelihood.log_likelihood_normal_equations(full, grad, curvature) } -> std::convertible_to<double>;
        { likelihood.residual_curvature(full, full) } -> std::convertible_to<Eigen::MatrixXd>;
    };

}  // namespace diskmc
