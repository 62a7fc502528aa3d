#pragma once
// any_disk_likelihood: the disk_likelihood of any model family behind one
// type, so that what sits above the likelihood (the posterior, the MAP step,
// the samplers, the summaries) is compiled once instead of once per family.
//
// The erasure is not in the hot loop: the per-pixel model stays inside the
// family's own disk_likelihood, fully templated and vectorised; each value,
// gradient or Jacobian pass over the pixels (~20 000 of them) costs one
// virtual call more.
//
// @code
//   const inference::any_disk_likelihood likelihood(disk_likelihood<Family>(map, mask, family));
//   auto posterior = inference::make_posterior(parameters, likelihood);
//   if (!likelihood.has_normal_equations()) settings.method = inference::map_method::lbfgsb;
// @endcode

#include <Eigen/Core>
#include <concepts>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "diskmc/errors.hpp"
#include "diskmc/inference/disk_family.hpp"
#include "diskmc/inference/disk_likelihood.hpp"

namespace diskmc::inference {

/// A disk_likelihood of any family: satisfies named_least_squares_log_likelihood
/// (and so named_log_likelihood_with_gradient), evaluated in double only.
/// Whether the family has the normal equations (every component with a
/// closed-form adjoint) is known at run time only: ask has_normal_equations()
/// before log_likelihood_normal_equations(), and run the MAP step by L-BFGS-B
/// where it is false. Copies share the one likelihood (immutable, and
/// evaluated from several threads as the likelihood itself is).
class any_disk_likelihood {
public:
    /// Takes the likelihood in.
    template <disk_model_family Family>
    explicit any_disk_likelihood(disk_likelihood<Family> likelihood)
        : held_(std::make_shared<const held<Family>>(std::move(likelihood))) {}

    /// The names of the full parameter vector, in order (the family's).
    std::vector<std::string> parameter_names() const { return held_->parameter_names(); }
    /// Pixels inside the mask.
    Eigen::Index pixel_count() const { return held_->pixel_count(); }

    /// log L at the full parameter vector (double only: a scalar-generic
    /// evaluation would need the family's type).
    template <class T>
    T log_likelihood(const Eigen::Matrix<T, Eigen::Dynamic, 1>& full) const {
        static_assert(std::same_as<T, double>,
                      "any_disk_likelihood evaluates in double only; for automatic differentiation use the "
                      "family's disk_likelihood, or log_likelihood_gradient");
        return held_->log_likelihood(full);
    }

    /// log L and its gradient in one pass (disk_likelihood::log_likelihood_gradient).
    double log_likelihood_gradient(const Eigen::VectorXd& full, Eigen::VectorXd& grad) const {
        return held_->log_likelihood_gradient(full, grad);
    }

    /// Whether the family has the normal equations: every component has a
    /// closed-form adjoint (disk_likelihood::has_closed_form_gradient).
    bool has_normal_equations() const { return held_->has_normal_equations(); }

    /// The Gauss-Newton pieces (disk_likelihood::log_likelihood_normal_equations).
    /// @throws invalid_input if the family has none (has_normal_equations())
    double log_likelihood_normal_equations(const Eigen::VectorXd& full, Eigen::VectorXd& grad,
                                           Eigen::MatrixXd& gauss_newton) const {
        return held_->log_likelihood_normal_equations(full, grad, gauss_newton);
    }

    /// The residuals' term of the Hessian (disk_likelihood::residual_curvature).
    Eigen::MatrixXd residual_curvature(const Eigen::VectorXd& full, const Eigen::VectorXd& steps) const {
        return held_->residual_curvature(full, steps);
    }

private:
    struct interface {
        virtual ~interface() = default;
        virtual std::vector<std::string> parameter_names() const = 0;
        virtual Eigen::Index pixel_count() const = 0;
        virtual double log_likelihood(const Eigen::VectorXd& full) const = 0;
        virtual double log_likelihood_gradient(const Eigen::VectorXd& full, Eigen::VectorXd& grad) const = 0;
        virtual bool has_normal_equations() const = 0;
        virtual double log_likelihood_normal_equations(const Eigen::VectorXd& full, Eigen::VectorXd& grad,
                                                       Eigen::MatrixXd& gauss_newton) const = 0;
        virtual Eigen::MatrixXd residual_curvature(const Eigen::VectorXd& full,
                                                   const Eigen::VectorXd& steps) const = 0;
    };

    template <class Family>
    struct held final : interface {
        explicit held(disk_likelihood<Family> l) : likelihood(std::move(l)) {}

        std::vector<std::string> parameter_names() const override { return likelihood.parameter_names(); }
        Eigen::Index pixel_count() const override { return likelihood.pixel_count(); }
        double log_likelihood(const Eigen::VectorXd& full) const override {
            return likelihood.template log_likelihood<double>(full);
        }
        double log_likelihood_gradient(const Eigen::VectorXd& full, Eigen::VectorXd& grad) const override {
            return likelihood.log_likelihood_gradient(full, grad);
        }
        bool has_normal_equations() const override { return disk_likelihood<Family>::has_closed_form_gradient; }
        double log_likelihood_normal_equations(const Eigen::VectorXd& full, Eigen::VectorXd& grad,
                                               Eigen::MatrixXd& gauss_newton) const override {
            if constexpr (disk_likelihood<Family>::has_closed_form_gradient) {
                return likelihood.log_likelihood_normal_equations(full, grad, gauss_newton);
            } else {
                diskmc::detail::throw_invalid_input(
                    "any_disk_likelihood: the family has no normal equations (a component without a closed-form "
                    "adjoint); check has_normal_equations() first");
            }
        }
        Eigen::MatrixXd residual_curvature(const Eigen::VectorXd& full, const Eigen::VectorXd& steps) const override {
            return likelihood.residual_curvature(full, steps);
        }

        disk_likelihood<Family> likelihood;
    };

    std::shared_ptr<const interface> held_;
};

}  // namespace diskmc::inference
