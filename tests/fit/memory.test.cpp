// The memory estimate of a fit's draws, and its refusal before any work.

#include <catch2/catch.hpp>

#include <cstddef>
#include <limits>

#include "diskmc/fit/memory.hpp"

using namespace diskmc;
using Catch::Matchers::Contains;

namespace {

constexpr std::size_t gibibyte = std::size_t{1} << 30;

}  // namespace

TEST_CASE("draws_memory_needed counts the ensemble's positions and log-densities", "[fit][memory]") {
    const ensemble_fit_settings ensemble{.walkers = 64, .options = {.steps = 2000, .thin = 2}};
    const draws_memory needed = draws_memory_needed(ensemble, 9);
    REQUIRE(needed.bytes.has_value());
    CHECK(*needed.bytes == std::size_t{64} * 1000 * 10 * 8);
    CHECK_THAT(needed.counted, Contains("64 x 1000 x 10"));
}

TEST_CASE("draws_memory_needed counts NUTS draws twice, the warmup when saved, and the statistics",
          "[fit][memory]") {
    nuts_fit_settings nuts{.options = {.sampler = {.warmup = 500, .samples = 1000}, .chains = 4}};
    const std::size_t statistics = std::size_t{4} * 1500 * sizeof(nuts_iteration);
    CHECK(draws_memory_needed(nuts, 9).bytes == std::size_t{4} * 1000 * 9 * 2 * 8 + statistics);
    nuts.options.sampler.save_warmup = true;
    CHECK(draws_memory_needed(nuts, 9).bytes == std::size_t{4} * 1500 * 9 * 2 * 8 + statistics);
}

TEST_CASE("check_draws_memory refuses a huge request with the number in GiB and passes a normal one",
          "[fit][memory]") {
    const std::size_t machine = 24 * gibibyte;
    // 1000 walkers x 10^6 draws x 11 doubles = 88 GB = 82.0 GiB.
    const ensemble_fit_settings huge{.walkers = 1000, .options = {.steps = 1000000}};
    REQUIRE_THROWS_WITH(check_draws_memory("fit_rotation_map", huge, 10, machine),
                        Contains("fit_rotation_map: the draws would need 82.0 GiB") &&
                            Contains("1000 x 1000000 x 11") && Contains("the machine has 24.0 GiB"));
    const ensemble_fit_settings normal{.walkers = 64, .options = {.steps = 2000}};
    CHECK_NOTHROW(check_draws_memory("fit_rotation_map", normal, 10, machine));
    CHECK_NOTHROW(check_draws_memory("fit_rotation_map", nuts_fit_settings{}, 10, machine));
    // Unknown memory: only an overflowing count is refused.
    CHECK_NOTHROW(check_draws_memory("fit_rotation_map", huge, 10, std::nullopt));
}

TEST_CASE("check_draws_memory refuses a count that overflows size_t", "[fit][memory]") {
    const ensemble_fit_settings overflowing{
        .walkers = std::size_t{1} << 20, .options = {.steps = std::numeric_limits<std::size_t>::max() / 2}};
    CHECK_FALSE(draws_memory_needed(overflowing, 10).bytes.has_value());
    REQUIRE_THROWS_WITH(check_draws_memory("fit_rotation_map", overflowing, 10, std::nullopt),
                        Contains("overflows") && Contains("1048576 x"));
    nuts_fit_settings nuts{};
    nuts.options.sampler.samples = std::numeric_limits<std::size_t>::max();
    nuts.options.sampler.save_warmup = true;
    REQUIRE_THROWS_WITH(check_draws_memory("fit_rotation_map", nuts, 10, std::nullopt),
                        Contains("overflows"));
}

TEST_CASE("the machine's physical memory is known on this system", "[fit][memory]") {
    const auto bytes = physical_memory_bytes();
    REQUIRE(bytes.has_value());
    CHECK(*bytes >= std::size_t{64} << 20);
}
