#include <catch2/catch.hpp>

#include <numeric>
#include <stdexcept>
#include <vector>

#include "diskmc/parallel/parallel_for.hpp"

TEST_CASE("parallel_for visits every index exactly once", "[parallel]") {
    for (std::size_t threads : {1u, 2u, 3u, 0u}) {
        std::vector<int> visits(1000, 0);
        diskmc::parallel_for(visits.size(), threads, [&](std::size_t i) { visits[i] += 1; });
        CHECK(std::accumulate(visits.begin(), visits.end(), 0) == 1000);
        CHECK(*std::min_element(visits.begin(), visits.end()) == 1);
    }
}

TEST_CASE("parallel_for rethrows the work's exception after joining", "[parallel]") {
    auto failing = [](std::size_t i) {
        if (i == 7) throw std::runtime_error("boom");
    };
    CHECK_THROWS_WITH(diskmc::parallel_for(20, 2, failing), "boom");
    CHECK_THROWS_WITH(diskmc::parallel_for(20, 1, failing), "boom");
}
