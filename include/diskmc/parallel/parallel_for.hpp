#pragma once
// The one place diskmc creates threads: a small persistent pool, created on
// first use and shared by the whole process. Samplers and the likelihood
// hand it independent pieces of work (chunks of pixels, walkers, chains);
// models never create threads.
//
// Why a pool: creating threads per call cost 70-300 µs here (and fresh
// threads re-grow their thread_local autodiff tapes), as much as a whole
// likelihood gradient on a few thousand pixels. Pool workers sleep on a
// condition variable between calls and are woken per call.
//
// The pool never holds more than max_pool_workers() workers (twice the
// hardware threads, at least 256). A parallel_for that would need more takes
// the workers there are (down to running inline); a run_team, whose members
// wait for each other and so cannot share threads, throws std::system_error
// (resource_unavailable_try_again) before any member starts. Only teams
// nested inside teams come near the cap.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace diskmc {

/// Threads to use when an option says 0 ("all cores").
inline std::size_t default_thread_count() {
    return std::max<std::size_t>(1, std::thread::hardware_concurrency());
}

/// The most workers the process-wide pool holds: twice the hardware threads,
/// and at least 256 (see the top of this file).
inline std::size_t max_pool_workers() {
    return std::max<std::size_t>(256, 2 * std::size_t{std::thread::hardware_concurrency()});
}

namespace detail {

/// Whether a call needs every helper it asks for (run_team: its members wait
/// for each other) or takes up to that many (parallel_for).
enum class helpers_needed { all, up_to };

/// The process-wide pool behind parallel_for and run_team.
class thread_pool {
public:
    /// The pool (created with no worker; workers are added as calls need them).
    static thread_pool& instance() {
        static thread_pool pool(max_pool_workers());
        return pool;
    }

    /// A pool of at most `max_workers` workers (the tests make small ones).
    explicit thread_pool(std::size_t max_workers) : max_workers_(max_workers) {}

    /// Whether the calling thread is taking part in a parallel_for or
    /// run_team (a pool worker, or a caller while it works).
    static bool in_parallel_region() { return region_depth() > 0; }

    /// Runs work(i) for every i in [0, count) on the calling thread and
    /// `helpers` workers, each of which joins the call on its own thread
    /// (workers are added so that every helper finds one at once). Indices
    /// are handed out dynamically. With helpers_needed::up_to, fewer helpers
    /// take part when the pool is at its cap; with helpers_needed::all, that
    /// throws std::system_error before any work. Rethrows the first
    /// exception of work after every participant has stopped.
    template <class Work>
    void run(std::size_t count, std::size_t helpers, helpers_needed need, Work& work) {
        job j;
        j.invoke = [](void* callable, std::size_t i) { (*static_cast<Work*>(callable))(i); };
        j.work = const_cast<void*>(static_cast<const void*>(std::addressof(work)));
        j.count = count;
        post(j, helpers, need);
        {
            const region_guard in_region;
            j.run_items();
        }
        finish(j);
        if (j.failure) std::rethrow_exception(j.failure);
    }

    /// Workers now in the pool (never more than the cap).
    std::size_t worker_count() {
        std::lock_guard lock(mutex_);
        return workers_.size();
    }

    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    ~thread_pool() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        for (auto& worker : workers_) worker.join();
    }

private:
    /// One call: its work, the next index to hand out, and its helpers.
    struct job {
        void (*invoke)(void*, std::size_t) = nullptr;
        void* work = nullptr;
        std::size_t count = 0;
        std::atomic<std::size_t> next{0};
        std::size_t open_slots = 0;  // helpers wanted but not yet joined (pool mutex)
        std::size_t active = 0;      // helpers joined and not yet done (pool mutex)
        std::condition_variable helpers_done;
        std::mutex failure_mutex;
        std::exception_ptr failure;

        void run_items() {
            for (std::size_t i = next++; i < count; i = next++) {
                try {
                    invoke(work, i);
                } catch (...) {
                    std::lock_guard lock(failure_mutex);
                    if (!failure) failure = std::current_exception();
                    next = count;  // stop handing out work
                }
            }
        }
    };

    static int& region_depth() {
        thread_local int depth = 0;
        return depth;
    }
    struct region_guard {
        region_guard() { ++region_depth(); }
        ~region_guard() { --region_depth(); }
        region_guard(const region_guard&) = delete;
        region_guard& operator=(const region_guard&) = delete;
    };

    void post(job& j, std::size_t helpers, helpers_needed need) {
        if (helpers == 0) return;
        {
            std::lock_guard lock(mutex_);
            // Idle workers no call has claimed (idle_ >= waiting_slots_
            // always), and workers the cap still allows.
            const std::size_t available = idle_ - waiting_slots_ + (max_workers_ - workers_.size());
            if (helpers > available) {
                if (need == helpers_needed::all)
                    throw std::system_error(
                        std::make_error_code(std::errc::resource_unavailable_try_again),
                        "diskmc::run_team: a team of " + std::to_string(helpers + 1) + " threads needs " +
                            std::to_string(helpers) + " pool workers, but only " + std::to_string(available) +
                            " are free under the pool's cap of " + std::to_string(max_workers_) +
                            " (max_pool_workers(); are teams nested too deeply?)");
                helpers = available;
                if (helpers == 0) return;
            }
            j.open_slots = helpers;
            queue_.push_back(&j);
            waiting_slots_ += helpers;
            // Every open slot gets an idle worker: run_team's participants
            // wait for each other, so none may be left queued.
            try {
                while (idle_ < waiting_slots_) {
                    workers_.emplace_back([this] { serve(); });
                    ++idle_;
                }
            } catch (...) {  // no thread could be created: withdraw the call
                queue_.pop_back();
                waiting_slots_ -= helpers;
                j.open_slots = 0;
                throw;
            }
        }
        if (helpers == 1) {
            wake_.notify_one();
        } else {
            wake_.notify_all();
        }
    }

    /// After the caller's own share: withdraws slots no worker has taken yet
    /// (all indices are handed out), then waits for the helpers that joined.
    void finish(job& j) {
        std::unique_lock lock(mutex_);
        if (j.open_slots > 0) {
            queue_.erase(std::find(queue_.begin(), queue_.end(), &j));
            waiting_slots_ -= j.open_slots;
            j.open_slots = 0;
        }
        j.helpers_done.wait(lock, [&] { return j.active == 0; });
    }

    void serve() {
        ++region_depth();  // a worker is always inside a parallel region
        std::unique_lock lock(mutex_);
        for (;;) {
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping
            job& j = *queue_.front();
            if (--j.open_slots == 0) queue_.pop_front();
            --waiting_slots_;
            --idle_;
            ++j.active;
            lock.unlock();
            j.run_items();
            lock.lock();
            ++idle_;
            if (--j.active == 0) j.helpers_done.notify_all();
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<job*> queue_;          // calls with open slots, oldest first
    std::size_t waiting_slots_ = 0;   // open slots over the queue
    std::size_t idle_ = 0;            // workers not running a call
    std::vector<std::thread> workers_;
    std::size_t max_workers_;         // the cap on workers_.size()
    bool stopping_ = false;
};

}  // namespace detail

/// Calls `work(i)` for every i in [0, count) on up to `threads` threads
/// (0 = all cores), the calling thread included, and returns when all are
/// done. Indices are handed out dynamically, so uneven work (NUTS chains
/// with different tree lengths) balances itself. Results must not depend on
/// which thread ran which index: give each index its own output slot and its
/// own random stream. The first exception thrown by `work` is rethrown here
/// after every thread has stopped. Threads come from a persistent pool; a
/// call made from inside another parallel_for or run_team runs inline on the
/// calling thread (its parallelism is already in use), so items must not
/// wait for each other: use run_team for that.
template <class Work>
void parallel_for(std::size_t count, std::size_t threads, Work&& work) {
    if (threads == 0) threads = default_thread_count();
    threads = std::min(threads, count);
    if (threads <= 1 || detail::thread_pool::in_parallel_region()) {
        for (std::size_t i = 0; i < count; ++i) work(i);
        return;
    }
    detail::thread_pool::instance().run(count, threads - 1, detail::helpers_needed::up_to, work);
}

/// Calls `work(i)` for every i in [0, threads) with `threads` threads on the
/// call at once (the calling thread and threads - 1 pool workers), so the
/// calls may wait for each other (a barrier; a team of workers serving a
/// driver): while they do, each thread holds one index. Never runs inline:
/// the pool grows as needed, for nested calls too, up to max_pool_workers();
/// a team it cannot seat throws std::system_error before any member starts.
/// Rethrows the first exception of `work` after every thread has stopped.
template <class Work>
void run_team(std::size_t threads, Work&& work) {
    if (threads == 0) threads = default_thread_count();
    if (threads == 1) {
        work(std::size_t{0});
        return;
    }
    detail::thread_pool::instance().run(threads, threads - 1, detail::helpers_needed::all, work);
}

}  // namespace diskmc
