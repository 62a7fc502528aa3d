#include <catch2/catch.hpp>

#include <Eigen/Core>
#include <cmath>
#include <string>
#include <thread>
#include <unsupported/Eigen/AutoDiff>

#include "diskmc/autodiff/tile_tape.hpp"
#include "support/throws.hpp"

using diskmc::autodiff::tile_tape;
using diskmc::autodiff::tile_var;
using oracle = Eigen::AutoDiffScalar<Eigen::VectorXd>;

namespace toy {

inline double clamp_min(double x, double lower) { return x > lower ? x : lower; }
inline oracle clamp_min(const oracle& x, double lower) {
    return x.value() > lower ? x : oracle(lower, Eigen::VectorXd::Zero(x.derivatives().size()));
}
using diskmc::autodiff::clamp_min;

/// A per-pixel function shaped like a flared disk: a tapered power-law
/// height with a cavity, a fixed-point iteration, uniform trig of a
/// parameter, divisions and square roots. theta = (z0, psi, r_cavity,
/// r_taper, q_taper, inc, scale).
template <class V, class P>
V pixel(const V& x, const V& y, const std::array<P, 7>& theta) {
    using std::cos;
    using std::exp;
    using std::log;
    using std::sqrt;
    using std::tan;
    const P& z0 = theta[0];
    const P& psi = theta[1];
    const P& r_cavity = theta[2];
    const P& r_taper = theta[3];
    const P& q_taper = theta[4];
    const P inc = theta[5];
    const P cos_inc = cos(inc), tan_inc = tan(inc);
    const V y_mid = y / cos_inc;
    auto height = [&](const V& r) -> V {  // not auto: AutoDiffScalar expressions would dangle
        const V shifted = clamp_min(r - r_cavity, 0.0);
        return z0 * exp(psi * log(shifted)) * exp(-exp(q_taper * log(shifted / r_taper)));
    };
    V r = sqrt(x * x + y_mid * y_mid);
    for (int k = 0; k < 4; ++k) {
        const V y_tmp = y_mid + height(r) * tan_inc;
        r = sqrt(x * x + y_tmp * y_tmp);
    }
    const V z = height(r);
    return theta[6] * x / r * r / sqrt(r * r + z * z) + 2.0 - 0.5 * z;
}

}  // namespace toy

namespace {

struct tile_result {
    Eigen::ArrayXd values;
    Eigen::VectorXd gradient;  // d/dtheta of sum(seed * values)
};

tile_result run_tile(const Eigen::ArrayXd& x, const Eigen::ArrayXd& y, const Eigen::VectorXd& theta,
                     const Eigen::ArrayXd& seed) {
    auto& tape = tile_tape::local();
    tape.begin(x.size());
    const tile_var xs = tape.varying_input(x.data()), ys = tape.varying_input(y.data());
    std::array<tile_var, 7> params;
    for (int k = 0; k < 7; ++k) params[k] = tape.parameter(theta[k]);
    const tile_var m = toy::pixel(xs, ys, params);
    tile_result result{Eigen::ArrayXd(x.size()), Eigen::VectorXd(7)};
    tape.values(m, result.values);
    tape.reverse(m, seed.data());
    for (int k = 0; k < 7; ++k) result.gradient[k] = tape.adjoint(params[k]);
    return result;
}

tile_result run_oracle(const Eigen::ArrayXd& x, const Eigen::ArrayXd& y, const Eigen::VectorXd& theta,
                       const Eigen::ArrayXd& seed) {
    std::array<oracle, 7> params;
    for (int k = 0; k < 7; ++k) params[k] = oracle(theta[k], 7, k);
    tile_result result{Eigen::ArrayXd(x.size()), Eigen::VectorXd::Zero(7)};
    for (Eigen::Index i = 0; i < x.size(); ++i) {
        const Eigen::VectorXd none = Eigen::VectorXd::Zero(7);
        const oracle m = toy::pixel(oracle(x[i], none), oracle(y[i], none), params);
        result.values[i] = m.value();
        if (m.derivatives().size() == 7) result.gradient += seed[i] * m.derivatives();
    }
    return result;
}

const Eigen::VectorXd theta_default = (Eigen::VectorXd(7) << 0.3, 1.25, 0.1, 2.5, 2.0, 0.8, 1.7).finished();

}  // namespace

TEST_CASE("tile reverse mode matches a per-pixel forward-mode oracle", "[autodiff][tile]") {
    for (Eigen::Index width : {1, 5, 64, 257}) {
        const Eigen::ArrayXd x = Eigen::ArrayXd::LinSpaced(width, -2.0, 2.3);
        const Eigen::ArrayXd y = Eigen::ArrayXd::LinSpaced(width, 1.9, -1.1);
        const Eigen::ArrayXd seed = Eigen::ArrayXd::LinSpaced(width, -1.0, 3.0);
        const auto tile = run_tile(x, y, theta_default, seed);
        const auto reference = run_oracle(x, y, theta_default, seed);
        INFO("width " << width);
        CHECK((tile.values - reference.values).abs().maxCoeff() <= 1e-14 * reference.values.abs().maxCoeff());
        for (int k = 0; k < 7; ++k) {
            INFO("parameter " << k);
            CHECK(tile.gradient[k] == Approx(reference.gradient[k]).epsilon(1e-12).margin(1e-13));
        }
    }
}

TEST_CASE("tile reverse mode matches central finite differences", "[autodiff][tile]") {
    const Eigen::ArrayXd x = Eigen::ArrayXd::LinSpaced(33, -1.5, 1.8);
    const Eigen::ArrayXd y = Eigen::ArrayXd::LinSpaced(33, 0.4, -1.3);
    const Eigen::ArrayXd seed = Eigen::ArrayXd::Ones(33);
    const auto tile = run_tile(x, y, theta_default, seed);
    for (int k = 0; k < 7; ++k) {
        const double h = 1e-6 * std::max(1.0, std::abs(theta_default[k]));
        Eigen::VectorXd up = theta_default, down = theta_default;
        up[k] += h;
        down[k] -= h;
        const double fd = (run_tile(x, y, up, seed).values.sum() - run_tile(x, y, down, seed).values.sum()) / (2 * h);
        INFO("parameter " << k);
        CHECK(tile.gradient[k] == Approx(fd).epsilon(1e-6).margin(1e-8));
    }
}

TEST_CASE("tile reverse mode: r inside the cavity gives finite gradients (strong zero)", "[autodiff][tile]") {
    // Pixels at and inside r_cavity: shifted = 0, log(0) = -inf. The height
    // and its derivatives there are 0, never NaN.
    Eigen::VectorXd theta = theta_default;
    theta[2] = 0.6;
    const Eigen::ArrayXd x = (Eigen::ArrayXd(4) << 0.0, 0.1, 0.6, 1.5).finished();
    const Eigen::ArrayXd y = Eigen::ArrayXd::Zero(4);
    const Eigen::ArrayXd seed = Eigen::ArrayXd::Ones(4);
    const auto tile = run_tile(x.tail(3), y.tail(3), theta, seed.tail(3));
    CHECK(tile.values.isFinite().all());
    CHECK(tile.gradient.array().isFinite().all());
    const auto reference = run_oracle(x.tail(3).tail(1), y.tail(1), theta, seed.tail(1));
    const auto outside = run_tile(x.tail(1), y.tail(1), theta, seed.tail(1));
    CHECK((outside.gradient - reference.gradient).norm() <= 1e-12 * reference.gradient.norm());
}

TEST_CASE("tile tape: uniform values stay scalar, constants carry no adjoint", "[autodiff][tile]") {
    auto& tape = tile_tape::local();
    tape.begin(3);
    const Eigen::ArrayXd data = Eigen::ArrayXd::LinSpaced(3, 1.0, 3.0);
    const tile_var x = tape.varying_input(data.data());
    const tile_var a = tape.parameter(2.0);
    const tile_var a2 = a * a + tile_var(1.0);  // uniform: a function of a parameter alone
    CHECK_FALSE(a2.is_varying());
    CHECK(a2.uniform_value() == 5.0);
    CHECK(static_cast<bool>(a2 > tile_var(4.0)));
    CHECK_FALSE(static_cast<bool>(a2 < 4.0));
    const tile_var m = a2 * x + tile_var();  // default tile_var is the constant 0
    CHECK(m.is_varying());
    const Eigen::ArrayXd seed = Eigen::ArrayXd::Ones(3);
    tape.reverse(m, seed.data());
    CHECK(tape.adjoint(a) == 2 * 2.0 * (1.0 + 2.0 + 3.0));  // d/da sum((a^2 + 1) x)
    CHECK(tape.adjoint(x) == 0.0);                          // inputs are not differentiated

    // A second tile on the same tape forgets the first.
    tape.begin(2);
    const tile_var b = tape.parameter(3.0);
    const tile_var only = b * tape.varying_input(data.data());
    tape.reverse(only, seed.data());
    CHECK(tape.adjoint(b) == 3.0);
    CHECK(tape.size() == 3);
}

TEST_CASE("tile tape: per-pixel comparisons and select route values and adjoints", "[autodiff][tile]") {
    // f(x) = p * log(x) where x > 1, else p^2 * x: each pixel's derivative
    // follows the branch its value took.
    auto& tape = tile_tape::local();
    tape.begin(4);
    const Eigen::ArrayXd data = (Eigen::ArrayXd(4) << 0.5, 1.0, 2.0, 4.0).finished();
    const tile_var x = tape.varying_input(data.data());
    const tile_var p = tape.parameter(3.0);
    const auto outside = x > 1.0;
    CHECK(outside.is_varying());
    const tile_var safe_log = diskmc::autodiff::log(select(outside, x, 1.0));
    const tile_var f = select(outside, p * safe_log, p * p * x);
    Eigen::ArrayXd values(4);
    tape.values(f, values);
    CHECK(values[0] == 9.0 * 0.5);
    CHECK(values[1] == 9.0 * 1.0);
    CHECK(values[2] == Approx(3.0 * std::log(2.0)));
    CHECK(values[3] == Approx(3.0 * std::log(4.0)));
    const Eigen::ArrayXd seed = Eigen::ArrayXd::Ones(4);
    tape.reverse(f, seed.data());
    CHECK(tape.adjoint(p) == Approx(2 * 3.0 * (0.5 + 1.0) + std::log(2.0) + std::log(4.0)));

    // A uniform condition selects without recording anything.
    const std::size_t before = tape.size();
    const tile_var chosen = select(p > 2.0, p, x);
    CHECK_FALSE(chosen.is_varying());
    CHECK(tape.size() == before + 1);  // only the constant 2.0
}

TEST_CASE("tile tape: misuse throws in every build, naming the fix", "[autodiff][tile]") {
    using diskmc::testing::message_contains;
    auto& tape = tile_tape::local();
    CHECK_THROWS_MATCHES(tape.begin(0), diskmc::invalid_input, message_contains("tile width must be positive"));

    tape.begin(3);
    const Eigen::ArrayXd data = Eigen::ArrayXd::LinSpaced(3, 1.0, 3.0);
    const tile_var p = tape.parameter(2.0);
    const tile_var q = tape.parameter(1.0);
    const tile_var x = tape.varying_input(data.data());
    // Branching on a pixel-dependent comparison, or taking one value of a
    // per-pixel quantity, would silently use one pixel for the whole tile.
    CHECK_THROWS_MATCHES(static_cast<bool>(x > 1.5), diskmc::invalid_input, message_contains("use select()"));
    CHECK_THROWS_MATCHES(x.uniform_value(), diskmc::invalid_input, message_contains("no single value"));
    CHECK(static_cast<bool>(p > q));  // a parameter-only comparison is fine

    // x's record is forgotten by the next tile (which has fewer records).
    tape.begin(3);
    CHECK_THROWS_MATCHES(x * 2.0, diskmc::invalid_input, message_contains("earlier tile"));
    CHECK_THROWS_MATCHES(tape.reverse(x, data.data()), diskmc::invalid_input, message_contains("earlier tile"));

    // A thread that never began a tile has no tape to record on.
    std::string error;
    std::thread([&error] {
        try {
            const tile_var constant(1.0);
            error = "no exception";
        } catch (const diskmc::invalid_input& e) {
            error = e.what();
        }
    }).join();
    CHECK_THAT(error, Catch::Matchers::Contains("tile_tape::begin() first"));
}
