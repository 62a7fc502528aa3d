#pragma once
// The special values diskmc's internals return, defined once.

#include <limits>

namespace diskmc::detail {

inline constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
inline constexpr double minus_infinity = -std::numeric_limits<double>::infinity();

}  // namespace diskmc::detail
