#pragma once
// FFTW's planner is not thread-safe (executing plans is): every FFTW plan of
// the library (the beam convolution's, the autocovariances') is made and
// destroyed under this one lock.

#include <mutex>

namespace diskmc::fftw {

namespace detail {

inline std::mutex& planner_mutex() {
    static std::mutex mutex;
    return mutex;
}

}  // namespace detail

/// Holds FFTW's planner: make and destroy plans while it lives.
/// @code
///   const auto planner = diskmc::fftw::lock_planner();
///   plan = fftw_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE);
/// @endcode
[[nodiscard]] inline std::unique_lock<std::mutex> lock_planner() {
    return std::unique_lock<std::mutex>(detail::planner_mutex());
}

}  // namespace diskmc::fftw
