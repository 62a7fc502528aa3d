#pragma once
// The posterior of a named log-likelihood under a parameter_set, in the two
// spaces the samplers need:
//   posterior               theta, the free parameters as the user knows them
//                           (constrained by their priors): for the ensemble
//                           sampler and the MAP step;
//   unconstrained_posterior u in R^n with theta = theta(u) and the
//                           log-Jacobian added: for NUTS.
// Both are log_density, scalar_generic_log_density and
// differentiable_log_density. The gradient comes from the likelihood's own
// log_likelihood_gradient() when it has one (a hand-written adjoint), and
// from reverse-mode automatic differentiation of log_likelihood<var>
// otherwise.
//
// @code
//   auto posterior = diskmc::inference::make_posterior(parameters, likelihood);
//   auto for_nuts  = diskmc::inference::unconstrained(posterior);
//   Eigen::VectorXd u0 = for_nuts.to_unconstrained(parameters.start());
// @endcode

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "diskmc/autodiff/gradient.hpp"
#include "diskmc/autodiff/var.hpp"
#include "diskmc/concepts/least_squares_log_density.hpp"
#include "diskmc/concepts/named_log_likelihood.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/detail/numbers.hpp"
#include "diskmc/detail/stored.hpp"
#include "diskmc/inference/parameters.hpp"

namespace diskmc::inference {

namespace detail {
using diskmc::detail::minus_infinity;

/// One entry of the likelihood's full vector: a free parameter's index in
/// theta, or a fixed value.
struct full_slot {
    std::ptrdiff_t free_index;  ///< -1 for a fixed entry
    double fixed_value;
};
}  // namespace detail

/// The posterior in the constrained space: log p(theta) = log prior(theta)
/// + log likelihood(full(theta)), -infinity outside the prior's support (the
/// likelihood is not evaluated there) and wherever the value or, for
/// log_density_gradient, the gradient is not finite.
///
/// `Stored` is the likelihood type (owned) or a const reference to it (the
/// likelihood must outlive the posterior); make_posterior() chooses.
template <class Stored>
class posterior {
public:
    using likelihood_type = std::remove_cvref_t<Stored>;
    static_assert(named_log_likelihood<likelihood_type>,
                  "the likelihood needs `std::vector<std::string> parameter_names() const` and "
                  "`template <class T> T log_likelihood(const Eigen::Matrix<T, Eigen::Dynamic, 1>&) const`");

    /// Binds the likelihood's parameter names to the parameter set.
    /// @throws diskmc::invalid_input if the likelihood needs a name the
    ///         catalogue does not know, or one that is neither given nor has a
    ///         default; if it lists a name twice; or if the set gives a
    ///         parameter the likelihood does not use
    template <class L>
    posterior(parameter_set parameters, L&& likelihood)
        : parameters_(std::move(parameters)), likelihood_(std::forward<L>(likelihood)) {
        static_assert(diskmc::detail::storable_from<Stored, L>,
                      "posterior<const Likelihood&> refers to its likelihood, which must outlive it: pass an "
                      "lvalue, or call make_posterior(), which owns a temporary");
        full_names_ = std::vector<std::string>(likelihood_.parameter_names());
        full_index_of_free_.assign(parameters_.dim(), -1);
        for (std::size_t k = 0; k < full_names_.size(); ++k) {
            const std::string& name = full_names_[k];
            parameters_.catalogue().at(name);  // throws for an unknown name
            for (std::size_t j = 0; j < k; ++j)
                if (full_names_[j] == name)
                    diskmc::detail::throw_invalid_input("posterior: the likelihood lists '", name, "' twice");
            if (parameters_.is_free(name)) {
                const std::size_t i = parameters_.free_index(name);
                slots_.push_back({static_cast<std::ptrdiff_t>(i), 0.0});
                full_index_of_free_[i] = static_cast<std::ptrdiff_t>(k);
            } else if (const auto value = parameters_.fixed_value(name)) {
                slots_.push_back({-1, *value});
            } else {
                diskmc::detail::throw_invalid_input("posterior: the likelihood needs '", name,
                                                    "', which is neither given nor has a default value");
            }
        }
        for (const parameter& p : parameters_.given()) {
            bool used = false;
            for (const auto& name : full_names_) used = used || name == p.name;
            if (!used) {
                std::string known;
                for (const auto& name : full_names_) known += (known.empty() ? "" : ", ") + name;
                diskmc::detail::throw_invalid_input("posterior: parameter '", p.name,
                                                    "' is given but the likelihood does not use it (it uses: ",
                                                    known, ")");
            }
        }
    }

    std::size_t dim() const { return parameters_.dim(); }
    const parameter_set& parameters() const { return parameters_; }
    const likelihood_type& likelihood() const { return likelihood_; }
    /// The likelihood's parameter names, in the order of the full vector.
    const std::vector<std::string>& full_names() const { return full_names_; }

    /// The likelihood's full parameter vector for the free parameters theta.
    template <class T>
    Eigen::Matrix<T, Eigen::Dynamic, 1> full_parameters(const Eigen::Matrix<T, Eigen::Dynamic, 1>& theta) const {
        Eigen::Matrix<T, Eigen::Dynamic, 1> full(static_cast<Eigen::Index>(slots_.size()));
        for (std::size_t k = 0; k < slots_.size(); ++k)
            full[static_cast<Eigen::Index>(k)] = slots_[k].free_index < 0 ? T(slots_[k].fixed_value)
                                                                           : T(theta[slots_[k].free_index]);
        return full;
    }

    /// log prior + log likelihood at theta, for any scalar type.
    template <class T>
    T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& theta) const {
        const T log_prior = parameters_.log_prior(theta);
        if (!(log_prior > diskmc::detail::minus_infinity)) return T(diskmc::detail::minus_infinity);
        const T value = log_prior + likelihood_.template log_likelihood<T>(full_parameters(theta));
        if constexpr (std::is_same_v<T, double>) {
            if (!std::isfinite(value)) return diskmc::detail::minus_infinity;
        }
        return value;
    }

    /// The log prior alone (normalised as prior.hpp documents).
    double log_prior(const Eigen::VectorXd& theta) const { return parameters_.log_prior(theta); }

    /// The log likelihood alone, at the full vector of theta.
    double log_likelihood(const Eigen::VectorXd& theta) const {
        return likelihood_.template log_likelihood<double>(full_parameters(theta));
    }

    /// Value and gradient: through the likelihood's log_likelihood_gradient
    /// when it has one, by automatic differentiation otherwise.
    /// @param grad  resized to dim(); zero where the value is -infinity
    double log_density_gradient(const Eigen::VectorXd& theta, Eigen::VectorXd& grad) const {
        if constexpr (named_log_likelihood_with_gradient<likelihood_type>) {
            const double log_prior = parameters_.log_prior_gradient(theta, grad);
            if (!std::isfinite(log_prior)) return reject(grad);
            Eigen::VectorXd full_gradient;
            const double log_likelihood = likelihood_.log_likelihood_gradient(full_parameters(theta), full_gradient);
            if (!std::isfinite(log_likelihood) || full_gradient.size() != static_cast<Eigen::Index>(slots_.size()) ||
                !full_gradient.allFinite())
                return reject(grad);
            for (std::size_t i = 0; i < dim(); ++i)
                grad[static_cast<Eigen::Index>(i)] += full_gradient[full_index_of_free_[i]];
            return finite_or_reject(log_prior + log_likelihood, grad);
        } else {
            return log_density_gradient_autodiff(theta, grad);
        }
    }

    /// Value, gradient and the Gauss-Newton Hessian of -log p (see
    /// least_squares_log_density), when the likelihood has the least-squares
    /// form: its J^T W J at the free parameters, minus the priors' exact
    /// second derivatives (independent priors: a diagonal).
    /// @param grad, hessian  resized to dim(); zero where the value is -infinity
    double log_density_gauss_newton(const Eigen::VectorXd& theta, Eigen::VectorXd& grad,
                                    Eigen::MatrixXd& hessian) const
        requires named_least_squares_log_likelihood<likelihood_type>
    {
        const auto n = static_cast<Eigen::Index>(dim());
        hessian.setZero(n, n);
        const double log_prior = parameters_.log_prior_gradient(theta, grad);
        if (!std::isfinite(log_prior)) return reject(grad);
        Eigen::VectorXd full_gradient;
        Eigen::MatrixXd full_curvature;
        const double log_likelihood =
            likelihood_.log_likelihood_normal_equations(full_parameters(theta), full_gradient, full_curvature);
        const auto full_size = static_cast<Eigen::Index>(slots_.size());
        if (!std::isfinite(log_likelihood) || full_gradient.size() != full_size ||
            full_curvature.rows() != full_size || full_curvature.cols() != full_size || !full_gradient.allFinite() ||
            !full_curvature.allFinite()) {
            hessian.setZero();
            return reject(grad);
        }
        for (Eigen::Index i = 0; i < n; ++i) {
            const std::ptrdiff_t fi = full_index_of_free_[static_cast<std::size_t>(i)];
            grad[i] += full_gradient[fi];
            for (Eigen::Index j = 0; j < n; ++j)
                hessian(i, j) = full_curvature(fi, full_index_of_free_[static_cast<std::size_t>(j)]);
            hessian(i, i) -= parameters_.prior(static_cast<std::size_t>(i)).log_density_second_derivative();
        }
        const double value = finite_or_reject(log_prior + log_likelihood, grad);
        if (!std::isfinite(value)) hessian.setZero();
        return value;
    }

    /// log_density_gauss_newton with the likelihood's residual curvature
    /// added (hessian_log_density): the exact Hessian of -log p, the
    /// residuals' term by central differences along each free parameter with
    /// a step of 1% of its conditional standard deviation under the
    /// Gauss-Newton Hessian (map_options::hessian_refined_step's rule).
    double log_density_hessian(const Eigen::VectorXd& theta, Eigen::VectorXd& grad, Eigen::MatrixXd& hessian) const
        requires named_least_squares_log_likelihood<likelihood_type>
    {
        const double value = log_density_gauss_newton(theta, grad, hessian);
        if (!std::isfinite(value)) return value;
        const Eigen::VectorXd full = full_parameters(theta);
        Eigen::VectorXd steps = Eigen::VectorXd::Zero(full.size());
        for (std::size_t i = 0; i < dim(); ++i) {
            const auto k = static_cast<Eigen::Index>(i);
            const double curvature = hessian(k, k);
            steps[full_index_of_free_[i]] = curvature > 0.0 ? 0.01 / std::sqrt(curvature)
                                                            : 1e-4 * std::max(std::abs(theta[k]), 1.0);
        }
        const Eigen::MatrixXd residual = likelihood_.residual_curvature(full, steps);
        if (residual.rows() != full.size() || residual.cols() != full.size() || !residual.allFinite()) {
            hessian.setZero();
            return reject(grad);
        }
        for (std::size_t i = 0; i < dim(); ++i)
            for (std::size_t j = 0; j < dim(); ++j)
                hessian(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) +=
                    residual(full_index_of_free_[i], full_index_of_free_[j]);
        return value;
    }

    /// Value and gradient by automatic differentiation, even when the
    /// likelihood has a hand-written gradient: the reference that gradient
    /// is tested against.
    double log_density_gradient_autodiff(const Eigen::VectorXd& theta, Eigen::VectorXd& grad) const {
        const double value = autodiff::gradient(
            [this](const Eigen::Matrix<autodiff::var, Eigen::Dynamic, 1>& t) { return log_density(t); }, theta, grad);
        if (!grad.allFinite()) return reject(grad);
        return finite_or_reject(value, grad);
    }

private:
    static double reject(Eigen::VectorXd& grad) {
        grad.setZero();
        return diskmc::detail::minus_infinity;
    }
    static double finite_or_reject(double value, Eigen::VectorXd& grad) {
        return std::isfinite(value) ? value : reject(grad);
    }

    parameter_set parameters_;
    Stored likelihood_;
    std::vector<std::string> full_names_;
    std::vector<detail::full_slot> slots_;
    std::vector<std::ptrdiff_t> full_index_of_free_;
};

/// The posterior in the unconstrained space of NUTS:
/// log p(u) = log p(theta(u)) + log |d theta / d u|, theta(u) the
/// transforms of the free parameters' priors (transform.hpp).
///
/// `Stored` is the posterior type (owned) or a const reference to one.
template <class Stored>
class unconstrained_posterior {
public:
    using posterior_type = std::remove_cvref_t<Stored>;

    template <class P>
    explicit unconstrained_posterior(P&& posterior) : posterior_(std::forward<P>(posterior)) {
        static_assert(diskmc::detail::storable_from<Stored, P>,
                      "unconstrained_posterior<const Posterior&> refers to its posterior, which must outlive it: "
                      "pass an lvalue, or call unconstrained(), which owns a temporary");
    }

    std::size_t dim() const { return posterior_.dim(); }
    const posterior_type& constrained() const { return posterior_; }
    const parameter_set& parameters() const { return posterior_.parameters(); }

    /// theta(u) and u(theta) (u is +-infinity for theta on a finite bound).
    Eigen::VectorXd to_constrained(const Eigen::VectorXd& u) const { return parameters().to_constrained(u); }
    Eigen::VectorXd to_unconstrained(const Eigen::VectorXd& theta) const {
        return parameters().to_unconstrained(theta);
    }

    /// log p(theta(u)) + log |d theta / d u|, for any scalar type.
    template <class T>
    T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& u) const {
        T log_jacobian(0.0);
        const Eigen::Matrix<T, Eigen::Dynamic, 1> theta = parameters().to_constrained(u, log_jacobian);
        const T value = posterior_.template log_density<T>(theta) + log_jacobian;
        if constexpr (std::is_same_v<T, double>) {
            if (!std::isfinite(value)) return diskmc::detail::minus_infinity;
        }
        return value;
    }

    /// Value and gradient: the constrained gradient times d theta / d u, plus
    /// the derivative of the log-Jacobian (each transform is one-to-one per
    /// component, so the chain rule is diagonal).
    double log_density_gradient(const Eigen::VectorXd& u, Eigen::VectorXd& grad) const {
        const constrained_point c = constrain(u);
        const double value = posterior_.log_density_gradient(c.theta, grad);
        if (!std::isfinite(value) || !std::isfinite(c.log_jacobian)) {
            grad = Eigen::VectorXd::Zero(u.size());
            return diskmc::detail::minus_infinity;
        }
        grad = grad.cwiseProduct(c.slope) + c.log_jacobian_slope;
        return value + c.log_jacobian;
    }

    /// Value, gradient and Gauss-Newton Hessian of -log p(u) (see
    /// least_squares_log_density): with S = diag(d theta / d u) and g, H the
    /// constrained gradient and Gauss-Newton Hessian,
    ///   H_u = S H S - diag(g theta''(u)) - diag((log |theta'|)''),
    /// theta'' = theta' (log |theta'|)'; exact but for H's residual term.
    double log_density_gauss_newton(const Eigen::VectorXd& u, Eigen::VectorXd& grad, Eigen::MatrixXd& hessian) const
        requires least_squares_log_density<posterior_type>
    {
        const constrained_point c = constrain(u);
        const double value = posterior_.log_density_gauss_newton(c.theta, grad, hessian);
        if (!std::isfinite(value) || !std::isfinite(c.log_jacobian)) {
            grad = Eigen::VectorXd::Zero(u.size());
            hessian = Eigen::MatrixXd::Zero(u.size(), u.size());
            return diskmc::detail::minus_infinity;
        }
        hessian = to_unconstrained_hessian(c, grad, hessian);
        grad = grad.cwiseProduct(c.slope) + c.log_jacobian_slope;
        return value + c.log_jacobian;
    }

    /// The Hessian of -log p(u) at u from the constrained gradient of log p
    /// and Hessian of -log p at theta(u), by the chain rule above.
    Eigen::MatrixXd to_unconstrained_hessian(const Eigen::VectorXd& u, const Eigen::VectorXd& theta_gradient,
                                             const Eigen::MatrixXd& theta_hessian) const {
        return to_unconstrained_hessian(constrain(u), theta_gradient, theta_hessian);
    }

private:
    /// theta(u) with the derivatives the chain rules need, per component.
    struct constrained_point {
        Eigen::VectorXd theta, slope, log_jacobian_slope, log_jacobian_curvature;
        double log_jacobian = 0.0;
    };
    static Eigen::MatrixXd to_unconstrained_hessian(const constrained_point& c, const Eigen::VectorXd& theta_gradient,
                                                    const Eigen::MatrixXd& theta_hessian) {
        Eigen::MatrixXd hessian = c.slope.asDiagonal() * theta_hessian * c.slope.asDiagonal();
        hessian.diagonal() -=
            theta_gradient.cwiseProduct(c.slope).cwiseProduct(c.log_jacobian_slope) + c.log_jacobian_curvature;
        return hessian;
    }
    constrained_point constrain(const Eigen::VectorXd& u) const {
        const auto n = static_cast<Eigen::Index>(dim());
        constrained_point point{Eigen::VectorXd(n), Eigen::VectorXd(n), Eigen::VectorXd(n), Eigen::VectorXd(n)};
        for (Eigen::Index i = 0; i < n; ++i) {
            const bound_transform& transform = parameters().transform(static_cast<std::size_t>(i));
            const constrained_value c = transform.constrain(u[i]);
            point.theta[i] = c.value;
            point.slope[i] = c.derivative;
            point.log_jacobian += c.log_jacobian;
            point.log_jacobian_slope[i] = c.log_jacobian_derivative;
            point.log_jacobian_curvature[i] = transform.log_jacobian_second_derivative(u[i]);
        }
        return point;
    }

    Stored posterior_;
};

/// The posterior of `likelihood` under `parameters`.
/// @param likelihood  an lvalue is referred to (it must outlive the
///                    result); an rvalue is moved in
template <class L>
    requires named_log_likelihood<std::remove_cvref_t<L>>
auto make_posterior(parameter_set parameters, L&& likelihood) {
    return posterior<diskmc::detail::stored_t<L>>(std::move(parameters), std::forward<L>(likelihood));
}

/// The same posterior in the unconstrained space (for NUTS).
/// @param constrained  an lvalue is referred to; an rvalue is moved in
template <class P>
auto unconstrained(P&& constrained) {
    return unconstrained_posterior<diskmc::detail::stored_t<P>>(std::forward<P>(constrained));
}

}  // namespace diskmc::inference
