#pragma once
// What every benchmark program shares: timing by medians of repeats.

#include <algorithm>
#include <chrono>
#include <vector>

namespace diskmc::bench {

/// Median of `repeats` timings of `work`, in seconds, after one warm-up call.
template <class Work>
double median_seconds(int repeats, Work&& work) {
    work();
    std::vector<double> seconds;
    for (int r = 0; r < repeats; ++r) {
        const auto start = std::chrono::steady_clock::now();
        work();
        seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::nth_element(seconds.begin(), seconds.begin() + repeats / 2, seconds.end());
    return seconds[static_cast<std::size_t>(repeats / 2)];
}

}  // namespace diskmc::bench
