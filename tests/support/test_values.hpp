#pragma once
// Small helpers many test files share: a vector from a list, infinity, and
// whether the suite runs under the sanitizers (runs shrink there).

#include <Eigen/Core>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <string_view>

namespace diskmc::testing {

inline constexpr double inf = std::numeric_limits<double>::infinity();

/// The vector of `values`: vec({1.0, 2.0}).
inline Eigen::VectorXd vec(std::initializer_list<double> values) {
    Eigen::VectorXd v(static_cast<Eigen::Index>(values.size()));
    Eigen::Index i = 0;
    for (double value : values) v[i++] = value;
    return v;
}

/// DISKMC_SANITIZED is set (and not "0"): the suite runs under the sanitizers,
/// where long runs shrink; tolerances stay in Monte Carlo standard errors.
inline bool sanitized() {
    const char* flag = std::getenv("DISKMC_SANITIZED");
    return flag != nullptr && *flag != '\0' && std::string_view(flag) != "0";
}

}  // namespace diskmc::testing
