// The argument checks of errors.hpp: the checked double-to-integer
// conversion and the overflow-checked size product.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "diskmc/errors.hpp"

using diskmc::checked_integer;
using diskmc::invalid_input;
using Catch::Matchers::Contains;

TEST_CASE("checked_integer converts what lies in range", "[errors]") {
    CHECK(checked_integer<long>(7.0, 1L, 10L, "f", "n") == 7);
    CHECK(checked_integer<long>(1.0, 1L, 10L, "f", "n") == 1);
    CHECK(checked_integer<long>(10.0, 1L, 10L, "f", "n") == 10);
    CHECK(checked_integer<int>(-3.0, -5, 5, "f", "n") == -3);
    CHECK(checked_integer<std::size_t>(0.0, std::size_t{0}, std::size_t{4}, "f", "n") == 0);
}

TEST_CASE("checked_integer refuses NaN, infinities and values out of range, naming them", "[errors]") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    REQUIRE_THROWS_WITH(checked_integer<long>(nan, 1L, 10L, "beam_kernel", "the width for bmaj ", 0.5),
                        Contains("beam_kernel: the width for bmaj 0.5 is nan") &&
                            Contains("[1, 10]"));
    REQUIRE_THROWS_AS(checked_integer<long>(inf, 1L, 10L, "f", "n"), invalid_input);
    REQUIRE_THROWS_AS(checked_integer<long>(-inf, 1L, 10L, "f", "n"), invalid_input);
    REQUIRE_THROWS_WITH(checked_integer<long>(11.0, 1L, 10L, "f", "the factor"),
                        Contains("the factor is 11; it must lie in [1, 10]"));
    REQUIRE_THROWS_WITH(checked_integer<long>(0.0, 1L, 10L, "f", "the factor"),
                        Contains("the factor is 0"));
    // The integer's own limits: 2^63 rounds the largest int64 up as a double,
    // and is one past it, so it is refused even with upper = the largest.
    constexpr auto largest = std::numeric_limits<std::int64_t>::max();
    REQUIRE_THROWS_AS(checked_integer<std::int64_t>(std::ldexp(1.0, 63), 0, largest, "f", "n"),
                      invalid_input);
    CHECK(checked_integer<std::int64_t>(std::ldexp(1.0, 62), 0, largest, "f", "n") ==
          std::int64_t{1} << 62);
    REQUIRE_THROWS_AS(checked_integer<int>(3e9, 0, std::numeric_limits<int>::max(), "f", "n"),
                      invalid_input);
}

TEST_CASE("size_product reports overflow instead of wrapping", "[errors]") {
    using diskmc::detail::size_product;
    CHECK(size_product({3, 4, 5}) == std::size_t{60});
    CHECK(size_product({0, std::numeric_limits<std::size_t>::max(), 7}) == std::size_t{0});
    CHECK(size_product({}) == std::size_t{1});
    const std::size_t big = std::size_t{1} << 40;
    CHECK_FALSE(size_product({big, big}).has_value());
    CHECK_FALSE(size_product({std::numeric_limits<std::size_t>::max(), 2}).has_value());
    CHECK(size_product({std::size_t{1} << 31, std::size_t{1} << 32}) == std::size_t{1} << 63);
}
