#pragma once
// differentiable(model): a scalar-generic model made into a
// differentiable_log_density by reverse-mode automatic differentiation.

#include <Eigen/Core>
#include <cmath>
#include <cstddef>
#include <limits>
#include <type_traits>
#include <utility>

#include "diskmc/autodiff/gradient.hpp"
#include "diskmc/autodiff/var.hpp"
#include "diskmc/concepts/batch_log_density.hpp"
#include "diskmc/concepts/differentiable_log_density.hpp"
#include "diskmc/concepts/scalar_generic_log_density.hpp"
#include "diskmc/detail/stored.hpp"

namespace diskmc::autodiff {

/// The adaptor differentiable() returns. `Stored` is the model type itself
/// (the adaptor owns a model it was given as an rvalue) or a const reference
/// to it (it refers to a model given as an lvalue, which must outlive it).
///
/// Contract (differentiable_log_density): log_density() and
/// log_density_gradient() return -infinity where the model's value, or any
/// component of its gradient, is NaN or infinite, and never NaN. They throw
/// only if the model does (its own contract says it must not) or memory runs
/// out. Safe to call from several threads at once if the model is: each
/// thread records on its own tape.
template <class Stored>
class differentiable_model {
public:
    using model_type = std::remove_cvref_t<Stored>;
    static_assert(scalar_generic_log_density<model_type>,
                  "differentiable(model) needs `std::size_t dim() const` and "
                  "`template <class T> T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>&) "
                  "const` on the model");

    template <class M>
    explicit differentiable_model(M&& model) : model_(std::forward<M>(model)) {
        static_assert(diskmc::detail::storable_from<Stored, M>,
                      "differentiable_model<const Model&> refers to its model, which must outlive it: pass an "
                      "lvalue, or call differentiable(), which owns a temporary");
    }

    std::size_t dim() const { return static_cast<std::size_t>(model_.dim()); }

    /// The model's value at x in double precision (no tape); -infinity if it
    /// is not finite.
    double log_density(const Eigen::VectorXd& x) const {
        return finite_or_minus_infinity(model_.template log_density<double>(x));
    }

    /// Value and gradient in one forward evaluation and one reverse sweep.
    /// @param x     the point (size dim())
    /// @param grad  resized to dim(); d log p / dx (zero where the value is
    ///              reported as -infinity)
    /// @return log p(x), or -infinity if it or its gradient is not finite
    double log_density_gradient(const Eigen::VectorXd& x, Eigen::VectorXd& grad) const {
        const double value = autodiff::gradient(
            [this](const Eigen::Matrix<autodiff::var, Eigen::Dynamic, 1>& theta) {
                return autodiff::var(model_.template log_density<autodiff::var>(theta));
            },
            x, grad);
        if (!std::isfinite(value) || !grad.allFinite()) {
            grad.setZero();
            return -std::numeric_limits<double>::infinity();
        }
        return value;
    }

    /// Forwarded when the model evaluates many points at once.
    void log_density_batch(const Eigen::MatrixXd& points, Eigen::VectorXd& out) const
        requires batch_log_density<model_type>
    {
        model_.log_density_batch(points, out);
    }

    /// The wrapped model.
    const model_type& model() const { return model_; }

private:
    static double finite_or_minus_infinity(double value) {
        return std::isfinite(value) ? value : -std::numeric_limits<double>::infinity();
    }

    Stored model_;
};

/// Turns a scalar-generic model into a differentiable_log_density whose
/// gradient comes from reverse-mode automatic differentiation
/// (diskmc::autodiff::var). dim() is kept, and log_density_batch() is
/// forwarded when the model has one.
///
/// @param model  an lvalue is referred to (it must outlive the result); an
///               rvalue is moved into the result
/// @return a differentiable_model
///
/// @code
///   struct banana {
///       std::size_t dim() const { return 2; }
///       template <class T> T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& x) const {
///           const T bend = x[1] - 0.5 * x[0] * x[0];
///           return -0.5 * (x[0] * x[0] / 4.0 + bend * bend);
///       }
///   };
///   auto target = diskmc::autodiff::differentiable(banana{});
///   Eigen::VectorXd grad;
///   double lp = target.log_density_gradient(Eigen::Vector2d(1.0, 0.2), grad);
/// @endcode
template <class M>
    requires scalar_generic_log_density<std::remove_cvref_t<M>>
auto differentiable(M&& model) {
    return differentiable_model<diskmc::detail::stored_t<M>>(std::forward<M>(model));
}

}  // namespace diskmc::autodiff
