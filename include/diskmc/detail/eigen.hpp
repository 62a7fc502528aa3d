#pragma once
// <Eigen/Core> for diskmc's headers, with g++ 12's false -Wuninitialized in
// its AVX-512 intrinsics silenced for Eigen's own text (see
// vectorised_code_begin.hpp), where g++ reports it when Eigen's packet math is
// instantiated out of line (as at -O1). This works when it is the first
// inclusion of <Eigen/Core> in a translation unit: include diskmc before
// Eigen, or build with -Wno-uninitialized.

#include "diskmc/detail/vectorised_code_begin.hpp"

#include <Eigen/Core>

#include "diskmc/detail/vectorised_code_end.hpp"
