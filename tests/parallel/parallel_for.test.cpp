#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <numeric>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "diskmc/parallel/parallel_for.hpp"

TEST_CASE("parallel_for visits every index exactly once", "[parallel][threads]") {
    for (std::size_t threads : {1u, 2u, 3u, 0u}) {
        std::vector<int> visits(1000, 0);
        diskmc::parallel_for(visits.size(), threads, [&](std::size_t i) { visits[i] += 1; });
        CHECK(std::accumulate(visits.begin(), visits.end(), 0) == 1000);
        CHECK(*std::min_element(visits.begin(), visits.end()) == 1);
    }
}

TEST_CASE("parallel_for rethrows the work's exception after joining", "[parallel][threads]") {
    auto failing = [](std::size_t i) {
        if (i == 7) throw std::runtime_error("boom");
    };
    CHECK_THROWS_WITH(diskmc::parallel_for(20, 2, failing), "boom");
    CHECK_THROWS_WITH(diskmc::parallel_for(20, 1, failing), "boom");
}

TEST_CASE("parallel_for reuses its threads across calls", "[parallel][threads]") {
    // The pool keeps its workers: over many calls only the threads of the
    // pool take part (a thread per call would start 50, each re-growing its
    // tapes); the bound leaves room for workers other tests added.
    std::atomic<int> fresh_threads{0};
    for (int call = 0; call < 50; ++call) {
        diskmc::parallel_for(64, 2, [&](std::size_t) {
            thread_local bool fresh = true;
            if (fresh) ++fresh_threads;
            fresh = false;
        });
    }
    CHECK(fresh_threads < 25);
}

TEST_CASE("a nested parallel_for runs inline on the calling thread", "[parallel][threads]") {
    std::vector<int> inner_on_outer_thread(8, 0);
    diskmc::parallel_for(8, 2, [&](std::size_t i) {
        const auto outer = std::this_thread::get_id();
        bool same = true;
        diskmc::parallel_for(16, 2, [&](std::size_t) { same = same && std::this_thread::get_id() == outer; });
        inner_on_outer_thread[i] = same ? 1 : 0;
    });
    CHECK(std::accumulate(inner_on_outer_thread.begin(), inner_on_outer_thread.end(), 0) == 8);
}

TEST_CASE("run_team runs its members at the same time, nested too", "[parallel][threads]") {
    // Members wait for each other at a barrier: this deadlocks unless every
    // member has its own thread, inside a parallel_for as well.
    std::atomic<int> rounds{0};
    diskmc::parallel_for(2, 2, [&](std::size_t) {
        std::barrier<> meeting(3);
        diskmc::run_team(3, [&](std::size_t) {
            meeting.arrive_and_wait();
            meeting.arrive_and_wait();
            ++rounds;
        });
    });
    CHECK(rounds == 6);
    CHECK_THROWS_WITH(diskmc::run_team(2, [](std::size_t i) {
                          if (i == 1) throw std::runtime_error("member failed");
                      }),
                      "member failed");
}

TEST_CASE("parallel_for from several threads at once", "[parallel][threads]") {
    // Calls from a user's own threads at once share the pool safely.
    std::vector<long> totals(4, 0);
    {
        std::vector<std::jthread> callers;
        for (std::size_t caller = 0; caller < totals.size(); ++caller) {
            callers.emplace_back([&totals, caller] {
                for (int call = 0; call < 20; ++call) {
                    std::vector<long> parts(100, 0);
                    diskmc::parallel_for(parts.size(), 2, [&](std::size_t i) { parts[i] = static_cast<long>(i); });
                    totals[caller] += std::accumulate(parts.begin(), parts.end(), 0L);
                }
            });
        }
    }
    for (long total : totals) CHECK(total == 20 * 4950);
}

TEST_CASE("the pool stays under its cap: teams that do not fit throw, parallel_for takes fewer threads",
          "[parallel][threads]") {
    CHECK(diskmc::max_pool_workers() >= 256);
    CHECK(diskmc::max_pool_workers() >= 2 * std::thread::hardware_concurrency());
    using diskmc::detail::helpers_needed;
    diskmc::detail::thread_pool pool(3);

    SECTION("a team larger than the cap is refused before any member starts") {
        std::atomic<int> started{0};
        auto member = [&](std::size_t) { ++started; };
        CHECK_THROWS_AS(pool.run(5, 4, helpers_needed::all, member), std::system_error);
        CHECK_THROWS_WITH(pool.run(5, 4, helpers_needed::all, member), Catch::Matchers::Contains("cap of 3"));
        CHECK(started == 0);
        CHECK(pool.worker_count() == 0);
        // A team that fits, whose members meet at a barrier, still runs.
        std::barrier<> meeting(4);
        auto waiting_member = [&](std::size_t) {
            meeting.arrive_and_wait();
            ++started;
        };
        pool.run(4, 3, helpers_needed::all, waiting_member);
        CHECK(started == 4);
    }
    SECTION("a team nested in a team throws when it would pass the cap; one that fits runs") {
        // The outer team holds 2 workers until all its members are done, so
        // member 0 finds 1 more under the cap of 3: a team of 3 is refused,
        // a team of 2 (whose members meet) runs.
        std::barrier<> outer_done(3);
        bool refused = false;
        int inner_members = 0;
        auto outer_member = [&](std::size_t i) {
            if (i == 0) {
                auto idle_member = [](std::size_t) {};
                try {
                    pool.run(3, 2, helpers_needed::all, idle_member);
                } catch (const std::system_error&) {
                    refused = true;
                }
                std::barrier<> meeting(2);
                std::atomic<int> met{0};
                auto meeting_member = [&](std::size_t) {
                    meeting.arrive_and_wait();
                    ++met;
                };
                pool.run(2, 1, helpers_needed::all, meeting_member);
                inner_members = met;
            }
            outer_done.arrive_and_wait();
        };
        pool.run(3, 2, helpers_needed::all, outer_member);
        CHECK(refused);
        CHECK(inner_members == 2);
        CHECK(pool.worker_count() == 3);
    }
    SECTION("parallel_for's helpers are cut to what the cap allows; every index still runs once") {
        std::vector<int> visits(200, 0);
        auto visit = [&](std::size_t i) { visits[i] += 1; };
        pool.run(visits.size(), 10, helpers_needed::up_to, visit);
        CHECK(pool.worker_count() == 3);
        CHECK(std::count(visits.begin(), visits.end(), 1) == 200);
    }
}
