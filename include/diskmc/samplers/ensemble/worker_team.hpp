#pragma once
// Threads that live for a whole ensemble run and evaluate one group's
// proposals at a time.
//
// Creating threads for every half-step (parallel_for per call) costs tens to
// hundreds of µs each time on a loaded or virtualised machine, which is the
// whole budget of a 50 µs density. So the sampler asks run_team once per
// run for `threads` participants: the calling thread runs the sampler (and so
// the progress callback and checkpoint writes), the others serve evaluation
// jobs, synchronised by a barrier. Threads still come only from the pool of
// parallel/parallel_for.hpp.

#include <atomic>
#include <barrier>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "diskmc/parallel/parallel_for.hpp"

namespace diskmc::detail {

class worker_team {
public:
    /// Runs `driver()` on the calling thread with `threads - 1` helpers
    /// serving run() calls, and returns when it is done (rethrowing its
    /// exception, after the helpers have stopped).
    template <class Driver>
    static void with_team(std::size_t threads, Driver&& driver) {
        worker_team team(threads);
        const auto driver_thread = std::this_thread::get_id();
        // Each participant blocks in its work item until the driver finishes,
        // so every thread, the caller included, takes exactly one index.
        run_team(threads, [&](std::size_t) {
            if (std::this_thread::get_id() != driver_thread) return team.serve();
            try {
                driver(team);
            } catch (...) {
                team.finish();
                throw;
            }
            team.finish();
        });
    }

    /// Called by the driver: job(i) for every i in [0, count), spread over
    /// the team (the driver included) by an atomic counter. Rethrows the
    /// first exception a job threw.
    template <class Job>
    void run(std::size_t count, Job& job) {
        job_ = &job;
        invoke_ = [](void* callable, std::size_t i) { (*static_cast<Job*>(callable))(i); };
        count_ = count;
        next_.store(0, std::memory_order_relaxed);
        barrier_.arrive_and_wait();  // helpers see the job
        work();
        barrier_.arrive_and_wait();  // every job done
        if (failure_) {
            std::exception_ptr failure = std::exchange(failure_, nullptr);
            std::rethrow_exception(failure);
        }
    }

private:
    explicit worker_team(std::size_t threads) : barrier_(static_cast<std::ptrdiff_t>(threads)) {}

    void work() {
        for (std::size_t i = next_++; i < count_; i = next_++) {
            try {
                invoke_(job_, i);
            } catch (...) {
                std::lock_guard lock(failure_mutex_);
                if (!failure_) failure_ = std::current_exception();
                next_.store(count_);  // stop handing out work
            }
        }
    }

    void serve() {
        for (;;) {
            barrier_.arrive_and_wait();
            if (finished_) return;
            work();
            barrier_.arrive_and_wait();
        }
    }

    void finish() {
        finished_ = true;
        barrier_.arrive_and_wait();
    }

    std::barrier<> barrier_;
    void* job_ = nullptr;
    void (*invoke_)(void*, std::size_t) = nullptr;
    std::size_t count_ = 0;
    std::atomic<std::size_t> next_{0};
    bool finished_ = false;
    std::mutex failure_mutex_;
    std::exception_ptr failure_;
};

}  // namespace diskmc::detail
