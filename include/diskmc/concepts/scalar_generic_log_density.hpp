#pragma once
// A model written once, generic in its scalar type, so the library can
// evaluate it with doubles and differentiate it automatically.

#include <Eigen/Core>
#include <concepts>
#include <cstddef>

#include "diskmc/concepts/log_density.hpp"

namespace diskmc {

/// A log-density written as a template over its scalar type:
/// @code
///   std::size_t dim() const;
///   template <class T> T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& theta) const;
/// @endcode
/// The check instantiates the template with `double`; the autodiff layer then
/// instantiates it with its own scalar types. Use `using std::exp;` (etc.)
/// inside the model so argument-dependent lookup picks the autodiff overloads.
template <class M>
concept scalar_generic_log_density =
    log_density<M> && requires(const M& model, const Eigen::Matrix<double, Eigen::Dynamic, 1>& x) {
        { model.template log_density<double>(x) } -> std::same_as<double>;
    };

}  // namespace diskmc
