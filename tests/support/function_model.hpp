#pragma once
// A log_density made from a function, for sampler tests on small targets.

#include <Eigen/Core>
#include <cstddef>
#include <functional>

namespace diskmc::testing {

using density_function = std::function<double(const Eigen::VectorXd&)>;

/// A log_density from a function.
struct function_model {
    std::size_t dimension;
    density_function density;
    std::size_t dim() const { return dimension; }
    double log_density(const Eigen::VectorXd& x) const { return density(x); }
};

}  // namespace diskmc::testing
