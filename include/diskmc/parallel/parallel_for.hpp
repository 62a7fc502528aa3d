#pragma once
// The one place diskmc creates threads. Samplers hand it independent pieces
// of work (walkers of a half-ensemble, chains); models never create threads.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace diskmc {

/// Threads to use when an option says 0 ("all cores").
inline std::size_t default_thread_count() {
    return std::max<std::size_t>(1, std::thread::hardware_concurrency());
}

/// Calls `work(i)` for every i in [0, count) on up to `threads` threads
/// (0 = all cores), the calling thread included, and returns when all are
/// done. Indices are handed out dynamically, so uneven work (NUTS chains
/// with different tree lengths) balances itself. Results must not depend on
/// which thread ran which index: give each index its own output slot and its
/// own random stream. The first exception thrown by `work` is rethrown here
/// after every thread has stopped.
template <class Work>
void parallel_for(std::size_t count, std::size_t threads, Work&& work) {
    if (threads == 0) threads = default_thread_count();
    threads = std::min(threads, count);
    if (threads <= 1) {
        for (std::size_t i = 0; i < count; ++i) work(i);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::exception_ptr failure;
    std::mutex failure_mutex;
    auto run = [&] {
        for (std::size_t i = next++; i < count; i = next++) {
            try {
                work(i);
            } catch (...) {
                std::lock_guard lock(failure_mutex);
                if (!failure) failure = std::current_exception();
                next = count;  // stop handing out work
            }
        }
    };
    std::vector<std::jthread> pool;
    pool.reserve(threads - 1);
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(run);
    run();
    pool.clear();  // joins
    if (failure) std::rethrow_exception(failure);
}

}  // namespace diskmc
