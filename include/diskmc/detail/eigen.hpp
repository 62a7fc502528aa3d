#pragma once
// <Eigen/Core> for diskmc's headers, included with one g++ 12 false positive
// silenced: its AVX-512 intrinsics (e.g. _mm512_min_pd, _mm512_rsqrt14_pd)
// start from _mm512_undefined_pd(), which g++ reports as -Wuninitialized
// wherever Eigen's vectorised exp, log or sqrt for double is instantiated.
// The pragma applies to Eigen's text, so it works when this is the first
// inclusion of <Eigen/Core> in a translation unit; code that includes Eigen
// itself first and builds with -Werror -march=native needs -Wno-uninitialized.

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <Eigen/Core>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
