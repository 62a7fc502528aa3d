#include <catch2/catch.hpp>

#include <Eigen/Cholesky>
#include <Eigen/LU>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "diskmc/autodiff/gradient.hpp"
#include "diskmc/autodiff/var.hpp"
#include "diskmc/parallel/parallel_for.hpp"
#include "support/gradient_check.hpp"
#include "support/throws.hpp"

using diskmc::autodiff::var;
using diskmc::testing::check_gradient;

namespace {

// The scalar type of a generic lambda's vector argument.
template <class V>
using scalar_of = typename std::decay_t<V>::Scalar;

/// var's gradient must match the AutoDiffScalar oracle to rounding and
/// Ridders' finite differences to their accuracy, and its value must be the
/// double function's. (Not a template: the checks are compiled once, not once
/// per function.)
void require_gradient(const char* name, const diskmc::testing::scalar_generic_function& f,
                      const Eigen::VectorXd& x, double fd_tolerance) {
    const auto report = check_gradient(f, x);
    INFO(name << "\n" << report.describe());
    CHECK(report.value == Approx(report.double_value).epsilon(1e-15));
    CHECK(report.gradient.allFinite());
    CHECK(report.versus_oracle.max_rel_error <= 1e-13);
    CHECK(report.agrees_with_finite_difference(fd_tolerance));
}

template <class F>
void require_gradient(const char* name, F f, const Eigen::VectorXd& x, double fd_tolerance = 1e-8) {
    require_gradient(name, diskmc::testing::as_scalar_generic_function(f), x, fd_tolerance);
}

Eigen::VectorXd point(std::initializer_list<double> values) {
    Eigen::VectorXd x(static_cast<Eigen::Index>(values.size()));
    Eigen::Index i = 0;
    for (double v : values) x[i++] = v;
    return x;
}

}  // namespace

TEST_CASE("var arithmetic matches the oracle and finite differences", "[autodiff][var]") {
    const Eigen::VectorXd x = point({0.7, -1.3, 2.1});
    require_gradient(
        "mixed arithmetic",
        [](const auto& v) -> scalar_of<decltype(v)> {
            using T = scalar_of<decltype(v)>;
            return T(2.0 * v[0] - v[1] / 3.0 + 1.5 / v[0] - (v[1] - 0.25) + (0.5 + v[0]) * (v[1] * v[2]) -
                     (-v[2]) + v[0] / v[2] - 4.0 + 3 * v[1] - v[2] * 2);
        },
        x);
    require_gradient(
        "compound assignment",
        [](const auto& v) -> scalar_of<decltype(v)> {
            using T = scalar_of<decltype(v)>;
            T s = v[0];
            s += v[1];
            s -= 2.0;
            s *= v[2];
            s /= v[1] + 3.0;
            s += 1.0;
            s -= v[0];
            s *= 0.5;
            s /= v[2];
            return s;
        },
        x);
}

TEST_CASE("var elementary functions match the oracle and finite differences", "[autodiff][var]") {
    const Eigen::VectorXd x = point({0.45, 1.7});
    // clang-format off
    require_gradient("exp",   [](const auto& v) -> scalar_of<decltype(v)> { using std::exp;   return exp(v[0] * v[1]); }, x);
    require_gradient("exp2",  [](const auto& v) -> scalar_of<decltype(v)> { using std::exp2;  return exp2(v[0] - v[1]); }, x);
    require_gradient("expm1", [](const auto& v) -> scalar_of<decltype(v)> { using std::expm1; return expm1(v[0] * v[1]); }, x);
    require_gradient("log",   [](const auto& v) -> scalar_of<decltype(v)> { using std::log;   return log(v[0] * v[1]); }, x);
    require_gradient("log2",  [](const auto& v) -> scalar_of<decltype(v)> { using std::log2;  return log2(v[0] + v[1]); }, x);
    require_gradient("log10", [](const auto& v) -> scalar_of<decltype(v)> { using std::log10; return log10(v[0] * v[1]); }, x);
    require_gradient("log1p", [](const auto& v) -> scalar_of<decltype(v)> { using std::log1p; return log1p(v[0] * v[1]); }, x);
    require_gradient("sqrt",  [](const auto& v) -> scalar_of<decltype(v)> { using std::sqrt;  return sqrt(v[0] * v[1]); }, x);
    require_gradient("cbrt",  [](const auto& v) -> scalar_of<decltype(v)> { using std::cbrt;  return cbrt(v[0] - v[1]); }, x);
    require_gradient("pow(var, var)",    [](const auto& v) -> scalar_of<decltype(v)> { using std::pow; return pow(v[1], v[0]); }, x);
    require_gradient("pow(var, double)", [](const auto& v) -> scalar_of<decltype(v)> { using std::pow; return pow(v[1], 2.5) * pow(v[0], -1.5); }, x);
    require_gradient("pow(var, int)",    [](const auto& v) -> scalar_of<decltype(v)> { using std::pow; return pow(v[0] - v[1], 3); }, x);
    require_gradient("pow(double, var)", [](const auto& v) -> scalar_of<decltype(v)> { using std::pow; return pow(2.5, v[0] * v[1]); }, x);
    require_gradient("hypot(var, var)",    [](const auto& v) -> scalar_of<decltype(v)> { using std::hypot; return hypot(v[0], v[1]); }, x);
    require_gradient("hypot(var, double)", [](const auto& v) -> scalar_of<decltype(v)> { using std::hypot; return hypot(v[0], 0.3) + hypot(-1.2, v[1]); }, x);
    require_gradient("sin",  [](const auto& v) -> scalar_of<decltype(v)> { using std::sin;  return sin(v[0] * v[1]); }, x);
    require_gradient("cos",  [](const auto& v) -> scalar_of<decltype(v)> { using std::cos;  return cos(v[0] * v[1]); }, x);
    require_gradient("tan",  [](const auto& v) -> scalar_of<decltype(v)> { using std::tan;  return tan(v[0] * v[1]); }, x);
    require_gradient("asin", [](const auto& v) -> scalar_of<decltype(v)> { using std::asin; return asin(v[0] / v[1]); }, x);
    require_gradient("acos", [](const auto& v) -> scalar_of<decltype(v)> { using std::acos; return acos(v[0] / v[1]); }, x);
    require_gradient("atan", [](const auto& v) -> scalar_of<decltype(v)> { using std::atan; return atan(v[0] * v[1]); }, x);
    require_gradient("atan2(var, var)",    [](const auto& v) -> scalar_of<decltype(v)> { using std::atan2; return atan2(v[0], -v[1]); }, x);
    require_gradient("atan2(var, double)", [](const auto& v) -> scalar_of<decltype(v)> { using std::atan2; return atan2(v[0], -0.4) + atan2(0.9, v[1]); }, x);
    require_gradient("sinh",  [](const auto& v) -> scalar_of<decltype(v)> { using std::sinh;  return sinh(v[0] * v[1]); }, x);
    require_gradient("cosh",  [](const auto& v) -> scalar_of<decltype(v)> { using std::cosh;  return cosh(v[0] * v[1]); }, x);
    require_gradient("tanh",  [](const auto& v) -> scalar_of<decltype(v)> { using std::tanh;  return tanh(v[0] * v[1]); }, x);
    require_gradient("asinh", [](const auto& v) -> scalar_of<decltype(v)> { using std::asinh; return asinh(v[0] - v[1]); }, x);
    require_gradient("acosh", [](const auto& v) -> scalar_of<decltype(v)> { using std::acosh; return acosh(v[0] + v[1]); }, x);
    require_gradient("atanh", [](const auto& v) -> scalar_of<decltype(v)> { using std::atanh; return atanh(v[0] / v[1]); }, x);
    require_gradient("abs",   [](const auto& v) -> scalar_of<decltype(v)> { using std::abs;   return abs(v[0] - v[1]) * abs(v[0]); }, x);
    require_gradient("fabs",  [](const auto& v) -> scalar_of<decltype(v)> { using std::fabs;  return fabs(v[0] - v[1]); }, x);
    require_gradient("fmax",  [](const auto& v) -> scalar_of<decltype(v)> { using std::fmax;  return fmax(v[0], v[1]) + fmax(v[0], 0.1) * fmax(v[1], 2.0); }, x);
    require_gradient("fmin",  [](const auto& v) -> scalar_of<decltype(v)> { using std::fmin;  return fmin(v[0], v[1]) + fmin(v[0], 0.1) * fmin(v[1], 2.0); }, x);
    require_gradient("erf",   [](const auto& v) -> scalar_of<decltype(v)> { using std::erf;   return erf(v[0] - v[1]); }, x);
    require_gradient("erfc",  [](const auto& v) -> scalar_of<decltype(v)> { using std::erfc;  return erfc(v[0] * v[1]); }, x);
    require_gradient("lgamma", [](const auto& v) -> scalar_of<decltype(v)> { using std::lgamma; return lgamma(v[0] * v[1]); }, x);
    require_gradient("tgamma", [](const auto& v) -> scalar_of<decltype(v)> { using std::tgamma; return tgamma(v[0] + v[1]); }, x);
    // clang-format on
}

TEST_CASE("var works inside Eigen expressions and decompositions", "[autodiff][var]") {
    const Eigen::VectorXd x = point({0.3, -0.8, 1.1, 0.5});
    require_gradient(
        "norms, products with double matrices, array functions",
        [](const auto& v) -> scalar_of<decltype(v)> {
            using T = scalar_of<decltype(v)>;
            Eigen::MatrixXd weights(4, 4);
            weights << 2, 1, 0, 0.5, 1, 3, 0.2, 0, 0, 0.2, 1, 0.1, 0.5, 0, 0.1, 4;
            const Eigen::Matrix<T, Eigen::Dynamic, 1> w = weights.cast<T>() * v;
            // Eigen's array exp/log on var (the scalar path). For double the
            // same sums are written as loops: g++ 12 warns falsely inside the
            // AVX-512 packet exp (GCC bug 105593), and -Werror builds stop.
            T exp_log_sum(0.0);
            if constexpr (std::is_same_v<T, var>) {
                exp_log_sum = v.array().exp().sum() + (v.array() * v.array() + 1.0).log().sum();
            } else {
                using std::exp;
                using std::log;
                for (Eigen::Index i = 0; i < v.size(); ++i) exp_log_sum += exp(v[i]) + log(v[i] * v[i] + 1.0);
            }
            return T(v.squaredNorm() + v.dot(w) + exp_log_sum + v.norm() + v.array().abs().sum());
        },
        x);
    require_gradient(
        "Cholesky log-determinant and solve of a var matrix",
        [](const auto& v) -> scalar_of<decltype(v)> {
            using T = scalar_of<decltype(v)>;
            using std::log;
            Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> a(3, 3);
            a << T(4.0) + v[0] * v[0], v[1], T(0.5) * v[2], v[1], T(3.0) + v[3] * v[3], T(0.2), T(0.5) * v[2],
                T(0.2), T(2.0) + v[2] * v[2];
            const Eigen::LLT<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>> chol(a);
            T log_det(0.0);
            for (Eigen::Index i = 0; i < 3; ++i) log_det += T(2.0) * log(T(chol.matrixL()(i, i)));
            const Eigen::Matrix<T, Eigen::Dynamic, 1> b = v.head(3);
            const Eigen::Matrix<T, Eigen::Dynamic, 1> solved = chol.solve(b);
            return T(log_det + b.dot(solved));
        },
        x);
    require_gradient(
        "LU determinant",
        [](const auto& v) -> scalar_of<decltype(v)> {
            using T = scalar_of<decltype(v)>;
            Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> a(2, 2);
            a << v[0], v[1], v[2], v[3];
            return T(a.determinant());
        },
        x);
}

TEST_CASE("var edge conventions keep gradients finite where the limit exists", "[autodiff][var]") {
    using std::fmax;
    using std::pow;

    SECTION("pow at a zero base: 0·log 0 = 0 for the exponent, y·0^(y-1) for the base") {
        Eigen::VectorXd grad;
        // r = r_cavity exactly: max(r - r_cavity, 0)^psi with psi > 1.
        const double value = diskmc::autodiff::gradient(
            [](const auto& v) -> scalar_of<decltype(v)> { return pow(fmax(v[0] - 1.0, 0.0), v[1]); }, point({1.0, 1.25}), grad);
        CHECK(value == 0.0);
        CHECK(grad[0] == 0.0);
        CHECK(grad[1] == 0.0);
        // And at the edge of the flared surface z0 r^psi exp(-(r/r_taper)^q).
        const auto surface = [](const auto& v) -> scalar_of<decltype(v)> {
            using std::exp;
            using T = scalar_of<decltype(v)>;
            const T r = fmax(v[0] - v[1], T(0.0));
            return T(v[2] * pow(r, v[3]) * exp(-pow(r / v[4], v[5])));
        };
        diskmc::autodiff::gradient(surface, point({0.4, 0.4, 0.3, 1.25, 2.5, 2.0}), grad);
        CHECK(grad.allFinite());
        CHECK(grad.isZero());
        // pow(x, 0) is 1 for every x: no derivative in x even at x == 0.
        diskmc::autodiff::gradient([](const auto& v) -> scalar_of<decltype(v)> { return pow(v[0], v[1]); }, point({0.0, 0.0}), grad);
        CHECK(grad[0] == 0.0);
        // y == 1: the derivative in x at x == 0 is 1.
        diskmc::autodiff::gradient([](const auto& v) -> scalar_of<decltype(v)> { return pow(v[0], 1.0); }, point({0.0}), grad);
        CHECK(grad[0] == 1.0);
        // Away from zero the surface matches the oracle and finite differences.
        require_gradient("flared surface", surface, point({1.4, 0.4, 0.3, 1.25, 2.5, 2.0}));
    }

    SECTION("a branch with zero adjoint passes no NaN back") {
        Eigen::VectorXd grad;
        using std::sqrt;
        // sqrt(0) has an infinite partial, multiplied by a zero weight.
        const double value = diskmc::autodiff::gradient(
            [](const auto& v) -> scalar_of<decltype(v)> { return v[1] + 0.0 * sqrt(v[0] - v[0]); }, point({0.5, 2.0}), grad);
        CHECK(value == 2.0);
        CHECK(grad[0] == 0.0);
        CHECK(grad[1] == 1.0);
    }

    SECTION("a zero partial passes nothing, even an infinite adjoint") {
        Eigen::VectorXd grad;
        using std::sqrt;
        // d sqrt(y)/dy is infinite at y = 0, but y = 0 * x does not depend on x.
        const double value = diskmc::autodiff::gradient(
            [](const auto& v) -> scalar_of<decltype(v)> { return sqrt(v[0] * 0.0) + v[0]; }, point({0.5}), grad);
        CHECK(value == 0.5);
        CHECK(grad[0] == 1.0);
    }

    SECTION("hypot, atan2 and abs at the origin give zero partials") {
        Eigen::VectorXd grad;
        using std::abs;
        using std::atan2;
        using std::hypot;
        diskmc::autodiff::gradient([](const auto& v) -> scalar_of<decltype(v)> { return hypot(v[0], v[1]) + atan2(v[0], v[1]) + abs(v[0]); },
                                   point({0.0, 0.0}), grad);
        CHECK(grad.isZero());
    }

    SECTION("genuinely infinite derivatives stay infinite") {
        Eigen::VectorXd grad;
        using std::sqrt;
        diskmc::autodiff::gradient([](const auto& v) -> scalar_of<decltype(v)> { return sqrt(v[0]); }, point({0.0}), grad);
        CHECK(std::isinf(grad[0]));
    }

    SECTION("fmax and fmin follow the argument they return, the first at a tie, never a NaN") {
        Eigen::VectorXd grad;
        using std::fmin;
        const double nan = std::numeric_limits<double>::quiet_NaN();
        diskmc::autodiff::gradient([](const auto& v) -> scalar_of<decltype(v)> { return fmax(v[0], v[1]) + 2.0 * fmin(v[0], v[1]); },
                                   point({1.0, 1.0}), grad);
        CHECK(grad[0] == 3.0);
        CHECK(grad[1] == 0.0);
        diskmc::autodiff::gradient([nan](const auto& v) -> scalar_of<decltype(v)> { return fmax(v[0], nan) + fmin(nan, v[0]); }, point({0.5}),
                                   grad);
        CHECK(grad[0] == 2.0);
    }

    SECTION("rounding functions are constants") {
        Eigen::VectorXd grad;
        const double value = diskmc::autodiff::gradient(
            [](const auto& v) -> scalar_of<decltype(v)> {
                using std::ceil;
                using std::floor;
                using std::round;
                using std::trunc;
                return floor(v[0]) + ceil(v[0]) + round(v[0]) + trunc(v[0]) + v[0];
            },
            point({1.3}), grad);
        CHECK(value == Approx(1.0 + 2.0 + 1.0 + 1.0 + 1.3));
        CHECK(grad[0] == 1.0);
    }
}

TEST_CASE("var constants record nothing, and comparisons and limits behave like double", "[autodiff][var]") {
    diskmc::autodiff::detail::tape_scope scope;
    auto& tape = scope.get();
    const var c = 2.0;
    using std::exp;
    const var d = exp(c) * 3.0 + c - 1;
    CHECK(d.is_constant());
    CHECK(d.value() == Approx(std::exp(2.0) * 3.0 + 1.0));
    CHECK(tape.size() == 0);

    const var a = var::independent(1.5);
    const var b = var::independent(-0.5);
    CHECK(tape.size() == 2);
    const var product = a * b;
    CHECK(tape.size() == 3);
    const var scaled = +a * 2.0;  // one operand only
    CHECK(tape.size() == 4);
    CHECK(product.value() == -0.75);
    CHECK(scaled.value() == 3.0);

    CHECK(a > b);
    CHECK(a >= 1.5);
    CHECK(1 < a);
    CHECK(2.0 > a);
    CHECK(a == 1.5);
    CHECK(1.5 == a);
    CHECK(a != b);
    CHECK_FALSE(a < b);
    const var nan = std::numeric_limits<var>::quiet_NaN();
    CHECK_FALSE(nan == nan);
    CHECK_FALSE(nan < 0.0);
    CHECK(isnan(nan));
    CHECK(-std::numeric_limits<var>::infinity() < -1e308);
    CHECK(isinf(std::numeric_limits<var>::infinity()));
    CHECK_FALSE(isfinite(std::numeric_limits<var>::infinity()));
    CHECK(std::numeric_limits<var>::epsilon() == std::numeric_limits<double>::epsilon());
    CHECK(Eigen::NumTraits<var>::epsilon() == std::numeric_limits<double>::epsilon());
    CHECK(diskmc::autodiff::value_of(a) == 1.5);
}

TEST_CASE("gradient of a function independent of x is zero", "[autodiff][var]") {
    Eigen::VectorXd grad;
    const double value = diskmc::autodiff::gradient([](const auto&) { return var(3.0); }, point({1.0, 2.0}), grad);
    CHECK(value == 3.0);
    CHECK(grad.size() == 2);
    CHECK(grad.isZero());
}

TEST_CASE("nested differentiations use separate tapes", "[autodiff][var]") {
    // The outer function calls an inner gradient on its own tape; the outer
    // gradient must be unaffected and the inner one right.
    Eigen::VectorXd inner_gradient;
    Eigen::VectorXd outer_gradient;
    const double value = diskmc::autodiff::gradient(
        [&](const auto& v) -> scalar_of<decltype(v)> {
            using std::sin;
            diskmc::autodiff::gradient([](const auto& w) -> scalar_of<decltype(w)> { return w[0] * w[0] * w[1]; }, point({3.0, 2.0}),
                                       inner_gradient);
            return sin(v[0]) * v[1];
        },
        point({0.5, 2.0}), outer_gradient);
    CHECK(value == Approx(std::sin(0.5) * 2.0));
    CHECK(outer_gradient[0] == Approx(std::cos(0.5) * 2.0));
    CHECK(outer_gradient[1] == Approx(std::sin(0.5)));
    CHECK(inner_gradient[0] == 12.0);
    CHECK(inner_gradient[1] == 9.0);
}

TEST_CASE("several threads differentiate at once with results identical to one thread",
          "[autodiff][var][threads]") {
    const auto f = [](const auto& v) -> scalar_of<decltype(v)> {
        using T = scalar_of<decltype(v)>;
        using std::exp;
        using std::log;
        T sum(0.0);
        for (int k = 0; k < 200; ++k) sum += log(1.0 + exp(v[k % 3] * (0.01 * k) - v[(k + 1) % 3]));
        return sum;
    };
    const int count = 64;
    std::vector<Eigen::VectorXd> serial(count), threaded(count);
    std::vector<double> serial_value(count), threaded_value(count);
    auto x_of = [](int i) { return point({0.1 * i, -0.05 * i, 1.0 + 0.01 * i}); };
    for (int i = 0; i < count; ++i) serial_value[i] = diskmc::autodiff::gradient(f, x_of(i), serial[i]);
    diskmc::parallel_for(count, 4, [&](std::size_t i) {
        const int k = static_cast<int>(i);
        threaded_value[k] = diskmc::autodiff::gradient(f, x_of(k), threaded[k]);
    });
    for (int i = 0; i < count; ++i) {
        CHECK(threaded_value[i] == serial_value[i]);
        CHECK(threaded[i] == serial[i]);
    }
}

TEST_CASE("a var used outside its tape throws in every build", "[autodiff][var]") {
    using diskmc::testing::message_contains;
    CHECK_THROWS_MATCHES(var::independent(1.0), diskmc::invalid_input, message_contains("no active tape"));

    // A var that escapes its gradient() call names a node of a tape that has
    // been cleared (and, inside a new scope, of a tape that lacks it).
    var escaped;
    Eigen::VectorXd grad;
    diskmc::autodiff::gradient(
        [&](const auto& v) -> scalar_of<decltype(v)> {
            escaped = v[1] * v[0];
            return escaped;
        },
        point({0.5, 2.0}), grad);
    CHECK_FALSE(escaped.is_constant());
    CHECK_THROWS_MATCHES(escaped * 2.0, diskmc::invalid_input, message_contains("no active tape"));
    diskmc::autodiff::detail::tape_scope scope;
    CHECK_THROWS_MATCHES(escaped + 1.0, diskmc::invalid_input, message_contains("has ended"));
    CHECK((var(3.0) * 2.0).value() == 6.0);  // constants need no tape
}
