#pragma once
// DISKMC_FLATTEN: [[gnu::flatten]] (every call inside the function inlined)
// for the per-pixel kernels, in optimised builds only.
//
// In a large translation unit (a program with several model families) g++
// otherwise stops inlining Eigen's packet exp and log and the per-pixel
// steps into the kernels, and the gradient ran 1.25x slower
// (bench_likelihood: 40 against 32 ns a pixel), at a speed that changed with
// whatever else the program held. Under AddressSanitizer or ThreadSanitizer
// the flattened kernels took 6x longer to compile (a fit front: 940 against
// 153 s) for no use, and an unoptimised build inlines nothing on purpose.

#if defined(__GNUC__) && defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
#define DISKMC_FLATTEN [[gnu::flatten]]
#else
#define DISKMC_FLATTEN
#endif
