#pragma once
// The closed-form adjoint of one prepared component (a surface, a rotation
// profile, a flow) chained back to the parameters it was made from, for the
// tests of its partials against the oracle.

#include <Eigen/Core>
#include <array>
#include <cstddef>

#include "diskmc/autodiff/gradient.hpp"
#include "diskmc/autodiff/var.hpp"
#include "diskmc/disk/model_adjoint.hpp"

namespace diskmc::testing {

/// sum_i cotangent_i d(component at pixel i) / d(parameters) by the
/// component's closed-form adjoint: add_adjoints at the linearisation `at`,
/// summed over the tile, then paired_with chained through
/// `prepared_of(parameters)` (the prepared component made from a vector of
/// autodiff::var) by reverse autodiff.
template <class Prepared, class Linearisation, class PreparedOf>
Eigen::VectorXd chained_component_gradient(const Prepared& prepared, const Linearisation& at,
                                           const adjoint_tile& cotangent, PreparedOf&& prepared_of,
                                           const Eigen::VectorXd& parameters) {
    std::array<adjoint_tile, Prepared::adjoint_count> sums;
    for (auto& s : sums) s.setZero();
    prepared.add_adjoints(at, cotangent, sums);
    std::array<double, Prepared::adjoint_count> adjoints{};
    for (std::size_t k = 0; k < sums.size(); ++k) adjoints[k] = sums[k].sum();
    Eigen::VectorXd gradient;
    autodiff::gradient(
        [&](const Eigen::Matrix<autodiff::var, Eigen::Dynamic, 1>& p) { return prepared_of(p).paired_with(adjoints); },
        parameters, gradient);
    return gradient;
}

}  // namespace diskmc::testing
