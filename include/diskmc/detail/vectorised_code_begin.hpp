// Included (with vectorised_code_end.hpp) around diskmc code that Eigen's
// AVX-512 packet math is inlined into, as Eigen wraps its own code in
// DisableStupidWarnings.h / ReenableStupidWarnings.h; hence no #pragma once.
//
// g++ 12 reports -Wuninitialized inside its own AVX-512 intrinsics (e.g.
// _mm512_rsqrt14_pd in Eigen's fast-math sqrt, _mm512_min_pd in its exp start
// from _mm512_undefined_pd()) wherever they are inlined: a false positive,
// silenced for this code only. (diskmc/detail/eigen.hpp does the same for
// Eigen's own text.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
