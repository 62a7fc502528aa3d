#pragma once
// Scratch buffers that a hot path keeps per thread and reuses from call to
// call, so that once warm it allocates nothing. Why: with the beam on, fresh
// image-sized buffers per likelihood call (the model image, the convolution's
// zero-padded copy, the cotangents) spent as much time in page faults, memset
// and memmove as the convolution itself (perf, benchmarks/bench_likelihood).
//
// One object per Buffers type and thread: a caller must not hold the buffers
// of one type across a call that may use the same type (each hot path has its
// own struct).

namespace diskmc::detail {

/// The calling thread's instance of `Buffers` (default-constructed on first use).
template <class Buffers>
Buffers& thread_buffers() {
    thread_local Buffers buffers;
    return buffers;
}

}  // namespace diskmc::detail
