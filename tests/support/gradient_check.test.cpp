#include <catch2/catch.hpp>

#include <cmath>

#include "support/gradient_check.hpp"

using diskmc::testing::check_gradient;
using diskmc::testing::check_gradient_against_finite_differences;
using diskmc::testing::finite_difference_gradient;

namespace {
// f(x) = exp(x0) sin(x1) + x0 log(x2), with its gradient in closed form.
struct known {
    template <class T>
    T operator()(const Eigen::Matrix<T, Eigen::Dynamic, 1>& x) const {
        using std::exp;
        using std::log;
        using std::sin;
        return T(exp(x[0]) * sin(x[1]) + x[0] * log(x[2]));
    }
    static Eigen::VectorXd gradient(const Eigen::VectorXd& x) {
        return Eigen::Vector3d(std::exp(x[0]) * std::sin(x[1]) + std::log(x[2]), std::exp(x[0]) * std::cos(x[1]),
                               x[0] / x[2]);
    }
};
}  // namespace

TEST_CASE("Ridders' finite differences are accurate and estimate their own error", "[support][gradient_check]") {
    const Eigen::VectorXd x = (Eigen::VectorXd(3) << 0.3, 1.2, 2.5).finished();
    const auto fd = finite_difference_gradient([](const Eigen::VectorXd& y) { return known{}(y); }, x);
    const Eigen::VectorXd truth = known::gradient(x);
    for (Eigen::Index i = 0; i < 3; ++i) {
        INFO("component " << i);
        const double error = std::abs(fd.gradient[i] - truth[i]);
        CHECK(error <= 1e-11 * std::abs(truth[i]));
        // The estimate is an honest bound up to a small factor.
        CHECK(error <= 10.0 * fd.error_estimate[i] + 1e-15);
        CHECK(fd.error_estimate[i] <= 1e-10);
    }
}

TEST_CASE("finite differences shrink their first step to stay inside the domain", "[support][gradient_check]") {
    // log is undefined left of 0; the default first step (1e-2) would cross it.
    const Eigen::VectorXd x = Eigen::VectorXd::Constant(1, 1e-3);
    const auto fd = finite_difference_gradient([](const Eigen::VectorXd& y) { return std::log(y[0]); }, x);
    CHECK(fd.gradient[0] == Approx(1e3).epsilon(1e-8));
}

TEST_CASE("the checker agrees on a right gradient and catches a wrong one", "[support][gradient_check]") {
    const Eigen::VectorXd x = (Eigen::VectorXd(3) << 0.3, 1.2, 2.5).finished();
    const auto good = check_gradient(known{}, x);
    INFO(good.describe());
    CHECK(good.has_oracle);
    CHECK(good.versus_oracle.max_rel_error <= 1e-15);
    CHECK(good.agrees_with_finite_difference(1e-9));
    CHECK((good.gradient - known::gradient(x)).cwiseAbs().maxCoeff() <= 1e-15);
    CHECK((good.oracle - known::gradient(x)).cwiseAbs().maxCoeff() <= 1e-15);

    Eigen::VectorXd wrong = known::gradient(x);
    wrong[2] *= 1.0 + 1e-5;
    const auto bad = check_gradient_against_finite_differences([](const Eigen::VectorXd& y) { return known{}(y); }, x,
                                                               known{}(x), wrong);
    CHECK_FALSE(bad.agrees_with_finite_difference(1e-7));
    CHECK(bad.versus_finite_difference.worst_index == 2);
    CHECK(bad.versus_finite_difference.max_rel_error == Approx(1e-5).epsilon(1e-3));
    CHECK(bad.versus_finite_difference.max_abs_error == Approx(1e-5 * std::abs(known::gradient(x)[2])).epsilon(1e-3));

    // NaN in a gradient is an infinite error, never a pass.
    Eigen::VectorXd nan_gradient = known::gradient(x);
    nan_gradient[1] = std::nan("");
    const auto nan_report = diskmc::testing::compare_gradients(nan_gradient, known::gradient(x));
    CHECK(std::isinf(nan_report.max_abs_error));
    CHECK(nan_report.worst_index == 1);
}
