#pragma once
// Required model parameters default to NaN, so that one left out of a
// designated initialiser is reported by check_model (as "must be finite")
// instead of being read uninitialised.

#include <limits>

namespace diskmc::detail {

inline constexpr double not_set = std::numeric_limits<double>::quiet_NaN();

}  // namespace diskmc::detail
