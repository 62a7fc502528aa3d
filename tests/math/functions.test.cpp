#include <catch2/catch.hpp>

// diskmc first: its headers bring <Eigen/Core> in (see diskmc/detail/eigen.hpp).
#include "diskmc/math/functions.hpp"
#include "support/archetype_scalar.hpp"

#include <cmath>
#include <limits>
#include <unsupported/Eigen/AutoDiff>
#include "support/test_values.hpp"

namespace {

using ad = Eigen::AutoDiffScalar<Eigen::VectorXd>;
using tile = Eigen::Array<double, 16, 1>;
using diskmc::testing::inf;

ad variable(double value) {
    return ad(value, Eigen::VectorXd::Ones(1));
}

}  // namespace

TEST_CASE("math shim on doubles is the standard library", "[math]") {
    using namespace diskmc::math;
    CHECK(pow(2.0, 0.5) == std::pow(2.0, 0.5));
    CHECK(pow(0.0, 0.0) == 1.0);
    CHECK(hypot(3.0, 4.0) == 5.0);
    CHECK(clamp_min(-1.0, 0.0) == 0.0);
    CHECK(clamp_min(2.0, 0.0) == 2.0);
    CHECK(clamp_max(2.0, 1.0) == 1.0);
    CHECK(std::isnan(clamp_min(std::nan(""), 0.0)));
    CHECK(select(true, 1.5, 2.0) == 1.5);
    CHECK(select(false, 1.5, 2.0) == 2.0);
    CHECK(zero_like(3.0) == 0.0);
    CHECK(value_of(2.5) == 2.5);
}

TEST_CASE("math shim on tiles matches the scalar functions element-wise", "[math]") {
    using namespace diskmc::math;
    tile x = tile::LinSpaced(0.0, 7.5);  // includes x = 0
    const tile y = tile::LinSpaced(-3.0, 4.0);
    for (double p : {1.99, 0.5, -0.7, 0.0, 2.0}) {
        const tile powered = pow(x, p);
        for (int k = 0; k < x.size(); ++k) {
            const double expected = std::pow(x[k], p);
            if (std::isinf(expected))
                CHECK(powered[k] == expected);
            else
                CHECK(powered[k] == Approx(expected).epsilon(1e-14).margin(1e-300));
        }
    }
    const tile h = hypot(x, y);
    const tile low = clamp_min(y, 0.5);
    const tile high = clamp_max(y, 0.5);
    const tile chosen = select(y > 0.0, x, -1.0);
    const tile zero = zero_like(x);
    for (int k = 0; k < x.size(); ++k) {
        CHECK(h[k] == Approx(std::hypot(x[k], y[k])).epsilon(1e-14));
        CHECK(low[k] == std::max(y[k], 0.5));
        CHECK(high[k] == std::min(y[k], 0.5));
        CHECK(chosen[k] == (y[k] > 0.0 ? x[k] : -1.0));
        CHECK(zero[k] == 0.0);
    }
}

TEST_CASE("math shim on autodiff scalars carries the right derivatives", "[math]") {
    using namespace diskmc::math;
    const ad x = variable(1.7);
    const ad p = ad(2.3, Eigen::VectorXd::Zero(1));
    // d/dx x^p = p x^(p-1)
    const ad powered = pow(x, p);
    CHECK(powered.value() == Approx(std::pow(1.7, 2.3)).epsilon(1e-14));
    CHECK(powered.derivatives()[0] == Approx(2.3 * std::pow(1.7, 1.3)).epsilon(1e-14));
    // pow with an active exponent: d/dp x^p = x^p log x
    const ad exponent = variable(2.3);
    const ad base = ad(1.7, Eigen::VectorXd::Zero(1));
    CHECK(pow(base, exponent).derivatives()[0] ==
          Approx(std::pow(1.7, 2.3) * std::log(1.7)).epsilon(1e-14));
    // hypot(x, 2): d/dx = x / hypot
    const ad h = hypot(x, ad(2.0, Eigen::VectorXd::Zero(1)));
    CHECK(h.derivatives()[0] == Approx(1.7 / std::hypot(1.7, 2.0)).epsilon(1e-14));
    // clamp: the clamped side has no derivative, the other keeps it
    CHECK(clamp_min(x, 3.0).derivatives().isZero());
    CHECK(clamp_min(x, 0.0).derivatives()[0] == 1.0);
    CHECK(clamp_max(x, 1.0).value() == 1.0);
    CHECK(select(x > 1.0, x, 0.0).derivatives()[0] == 1.0);
    // zero_like keeps the derivative layout, so it mixes with sized derivatives
    const ad zero = zero_like(x);
    CHECK(zero.value() == 0.0);
    REQUIRE(zero.derivatives().size() == 1);
    CHECK(zero.derivatives()[0] == 0.0);
    CHECK(value_of(x) == 1.7);
}

TEST_CASE("math shim's generic fallbacks need only arithmetic, exp, log, sqrt", "[math]") {
    using namespace diskmc::math;
    using diskmc::testing::archetype_scalar;
    const archetype_scalar x = 1.7, y = 2.0;
    CHECK(pow(x, archetype_scalar(2.3)).test_value() == Approx(std::pow(1.7, 2.3)).epsilon(1e-14));
    CHECK(hypot(x, y).test_value() == Approx(std::hypot(1.7, 2.0)).epsilon(1e-15));
    CHECK(clamp_min(x, 3.0).test_value() == 3.0);
    CHECK(clamp_max(x, 3.0).test_value() == 1.7);
    CHECK(select(x > 1.0, x, 0.0).test_value() == 1.7);
    CHECK(zero_like(x).test_value() == 0.0);
    STATIC_REQUIRE(!has_value_of<archetype_scalar>);
    CHECK(pow(archetype_scalar(0.0), archetype_scalar(2.0)).test_value() == 0.0);
    CHECK(pow(0.0, inf) == 0.0);
}
