#pragma once
// The value and gradient of any function written for autodiff::var, by one
// forward evaluation that records the tape and one reverse sweep.

#include <Eigen/Core>
#include <utility>

#include "diskmc/autodiff/tape.hpp"
#include "diskmc/autodiff/var.hpp"

namespace diskmc::autodiff {

/// Evaluates f at x and its gradient by reverse-mode automatic
/// differentiation, on a fresh tape of the calling thread (so calls from
/// several threads at once are independent).
///
/// @param f     callable as `f(const Eigen::Matrix<var, Eigen::Dynamic, 1>&)`,
///              returning something convertible to var
/// @param x     the point
/// @param grad  resized to x.size(); receives df/dx (zero if f does not
///              depend on x)
/// @return f(x)
template <class F>
double gradient(F&& f, const Eigen::VectorXd& x, Eigen::VectorXd& grad) {
    detail::tape_scope scope;
    Eigen::Matrix<var, Eigen::Dynamic, 1> arguments(x.size());
    // The tape is empty, so argument i is node i.
    for (Eigen::Index i = 0; i < x.size(); ++i) arguments[i] = var::independent(x[i]);
    const var result = std::forward<F>(f)(std::as_const(arguments));
    grad.resize(x.size());
    if (result.is_constant()) {
        grad.setZero();
        return result.value();
    }
    detail::tape& tape = scope.get();
    tape.sweep(result.index());
    for (Eigen::Index i = 0; i < x.size(); ++i)
        grad[i] = tape.adjoint(static_cast<detail::node_index>(i));
    return result.value();
}

}  // namespace diskmc::autodiff
