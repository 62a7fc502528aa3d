#pragma once
// What every benchmark program shares: timing by medians of repeats.

#include <algorithm>
#include <chrono>
#include <vector>

namespace diskmc::bench {

/// Median and minimum of repeated timings, in seconds. The median is what
/// tables report; the minimum is the better estimate on a busy machine.
struct timing {
    double median = 0.0;
    double minimum = 0.0;
};

/// Times `work` `repeats` times after one warm-up call.
template <class Work>
timing time_repeats(int repeats, Work&& work) {
    work();
    std::vector<double> seconds;
    for (int r = 0; r < repeats; ++r) {
        const auto start = std::chrono::steady_clock::now();
        work();
        seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(seconds.begin(), seconds.end());
    return {seconds[seconds.size() / 2], seconds.front()};
}

}  // namespace diskmc::bench
