#include <catch2/catch.hpp>

#include <Eigen/LU>
#include <cmath>
#include <limits>

#include "diskmc/autodiff/differentiable.hpp"
#include "diskmc/inference/map.hpp"
#include "support/test_values.hpp"

using namespace diskmc::inference;

namespace {
using diskmc::testing::inf;

using diskmc::testing::vec;

/// A correlated 3-D Gaussian with known mean and covariance.
struct correlated_gaussian {
    Eigen::VectorXd mean = vec({1.0, -2.0, 0.5});
    Eigen::MatrixXd covariance;
    Eigen::MatrixXd precision;
    correlated_gaussian() {
        covariance.resize(3, 3);
        covariance << 2.0, 0.6, -0.3,  //
            0.6, 1.0, 0.2,             //
            -0.3, 0.2, 0.5;
        precision = covariance.inverse();
    }
    std::size_t dim() const { return 3; }
    template <class T>
    T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& x) const {
        const Eigen::Matrix<T, Eigen::Dynamic, 1> d = x - mean.cast<T>();
        return T(-0.5 * d.dot(precision.cast<T>() * d));
    }
};

/// log p = -[(1 - x)^2 + 100 (y - x^2)^2]: the maximum at (1, 1), where the
/// Hessian of -log p is [[802, -400], [-400, 200]].
struct rosenbrock {
    std::size_t dim() const { return 2; }
    template <class T>
    T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& x) const {
        const T a = 1.0 - x[0];
        const T b = x[1] - x[0] * x[0];
        return T(-(a * a + 100.0 * b * b));
    }
};

/// A Gaussian at (1, 0) with sd 0.5, -infinity where x0 > 1.3 (a model with
/// a hole), to make sure the optimiser backs out of non-finite regions.
struct gaussian_with_hole {
    std::size_t dim() const { return 2; }
    template <class T>
    T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& x) const {
        if (x[0] > 1.3) return T(-inf);
        return T(-2.0 * ((x[0] - 1.0) * (x[0] - 1.0) + x[1] * x[1]));
    }
};

/// log p = -(x^2 - y^2): a saddle, maximised in a box on y = +-1, where the
/// Hessian of -log p is diag(2, -2).
struct saddle {
    std::size_t dim() const { return 2; }
    template <class T>
    T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& x) const {
        return T(-(x[0] * x[0] - x[1] * x[1]));
    }
};
/// (mstar, z0) ~ N((2, 0.3), sds (0.1, 0.05), correlation 0.6).
struct gaussian_likelihood {
    std::vector<std::string> parameter_names() const { return {"mstar", "z0"}; }
    template <class T>
    T log_likelihood(const Eigen::Matrix<T, Eigen::Dynamic, 1>& p) const {
        const T a = (p[0] - 2.0) / 0.1;
        const T b = (p[1] - 0.3) / 0.05;
        return T(-0.5 * (a * a - 1.2 * a * b + b * b) / (1.0 - 0.36));
    }
};
}  // namespace

TEST_CASE("MAP of a correlated Gaussian with inactive bounds: mean and covariance", "[inference][map]") {
    const correlated_gaussian model;
    const auto target = diskmc::differentiable(model);
    const map_result map = find_map(target, vec({3.0, 1.0, -1.0}), Eigen::VectorXd::Constant(3, -10.0),
                                    Eigen::VectorXd::Constant(3, 10.0));
    INFO(map.message);
    CHECK(map.status == map_status::gradient_converged);
    CHECK(map.converged());
    CHECK(map.iterations > 0);
    CHECK(map.evaluations >= map.iterations);
    CHECK(map.projected_gradient_norm <= 1e-6);
    CHECK((map.point - model.mean).cwiseAbs().maxCoeff() <= 1e-5);
    CHECK(map.log_density == Approx(0.0).margin(1e-10));
    CHECK(map.at_bound == std::vector<bool>{false, false, false});
    REQUIRE(map.covariance.status == covariance_status::ok);
    CHECK(map.covariance.hessian.isApprox(model.precision, 1e-7));
    CHECK(map.covariance.covariance.isApprox(model.covariance, 1e-7));
    CHECK(map.covariance.point == map.point);
}

TEST_CASE("MAP of a correlated Gaussian with an active bound", "[inference][map]") {
    // With x0 <= 0 the optimum sits on x0 = 0 and the others at their
    // conditional mean given x0 = 0.
    const correlated_gaussian model;
    const auto target = diskmc::differentiable(model);
    const map_result map = find_map(target, vec({-1.0, 1.0, -1.0}), vec({-10.0, -10.0, -10.0}), vec({0.0, 10.0, 10.0}));
    INFO(map.message);
    CHECK(map.converged());
    const Eigen::VectorXd conditional =
        model.mean.tail(2) + model.covariance.block(1, 0, 2, 1) / model.covariance(0, 0) * (0.0 - model.mean[0]);
    CHECK(map.point[0] == 0.0);
    CHECK((map.point.tail(2) - conditional).cwiseAbs().maxCoeff() <= 1e-5);
    CHECK(map.at_bound == std::vector<bool>{true, false, false});
    CHECK(map.projected_gradient_norm <= 1e-6);
    CHECK(map.gradient[0] > 0.0);  // log p still rises past the bound
    // One-sided differences at the bound still give the exact curvature.
    REQUIRE(map.covariance.status == covariance_status::ok);
    CHECK(map.covariance.covariance.isApprox(model.covariance, 1e-7));
}

TEST_CASE("MAP of the Rosenbrock function", "[inference][map]") {
    const auto target = diskmc::differentiable(rosenbrock{});
    Eigen::MatrixXd hessian(2, 2);
    hessian << 802.0, -400.0, -400.0, 200.0;

    SECTION("bounds inactive") {
        const map_result map = find_map(target, vec({-1.2, 1.0}), vec({-5.0, -5.0}), vec({5.0, 5.0}));
        INFO(map.message);
        CHECK(map.converged());
        CHECK((map.point - vec({1.0, 1.0})).cwiseAbs().maxCoeff() <= 1e-5);
        REQUIRE(map.covariance.status == covariance_status::ok);
        CHECK(map.covariance.hessian.isApprox(hessian, 1e-5));
        CHECK(map.covariance.covariance.isApprox(hessian.inverse(), 1e-4));
    }
    SECTION("an upper bound holds x below the optimum") {
        const map_result map = find_map(target, vec({-1.2, 1.0}), vec({-2.0, -2.0}), vec({0.5, 2.0}));
        INFO(map.message);
        CHECK(map.converged());
        CHECK(map.point[0] == 0.5);
        CHECK(map.point[1] == Approx(0.25).epsilon(1e-7));
        CHECK(map.at_bound == std::vector<bool>{true, false});
    }
}

TEST_CASE("MAP backs out of a region where the log density is not finite", "[inference][map]") {
    const auto target = diskmc::differentiable(gaussian_with_hole{});
    const map_result map = find_map(target, vec({-4.0, 2.0}), vec({-10.0, -10.0}), vec({10.0, 10.0}));
    INFO(map.message);
    CHECK(map.converged());
    CHECK((map.point - vec({1.0, 0.0})).cwiseAbs().maxCoeff() <= 1e-6);
    REQUIRE(map.covariance.status == covariance_status::ok);
    CHECK(map.covariance.covariance.isApprox(0.25 * Eigen::MatrixXd::Identity(2, 2), 1e-7));
}

TEST_CASE("MAP reports a saddle's Hessian as not positive definite", "[inference][map]") {
    const auto target = diskmc::differentiable(saddle{});
    const map_result map = find_map(target, vec({0.3, 0.2}), vec({-1.0, -1.0}), vec({1.0, 1.0}));
    INFO(map.message);
    CHECK(map.converged());
    CHECK(map.point[0] == Approx(0.0).margin(1e-6));
    CHECK(std::abs(map.point[1]) == 1.0);
    CHECK(map.covariance.status == covariance_status::not_positive_definite);
    CHECK(map.covariance.covariance.size() == 0);
    CHECK(map.covariance.hessian.isApprox(Eigen::Vector2d(2.0, -2.0).asDiagonal().toDenseMatrix(), 1e-8));
}

TEST_CASE("MAP rejects bad input before work and reports a non-finite start", "[inference][map]") {
    const auto target = diskmc::differentiable(gaussian_with_hole{});
    const Eigen::VectorXd box = Eigen::VectorXd::Constant(2, 10.0);
    CHECK_THROWS_AS(find_map(target, vec({0.0, 0.0, 0.0}), -box, box), diskmc::invalid_input);
    CHECK_THROWS_AS(find_map(target, vec({20.0, 0.0}), -box, box), diskmc::invalid_input);
    CHECK_THROWS_AS(find_map(target, vec({0.0, 0.0}), box, box), diskmc::invalid_input);
    CHECK_THROWS_AS(find_map(target, vec({0.0, 0.0}), -box, box, map_options{.max_iterations = 0}), diskmc::invalid_input);
    CHECK_THROWS_AS(find_map(target, vec({0.0, 0.0}), -box, box, map_options{.hessian_step = -1.0}), diskmc::invalid_input);
    const map_result map = find_map(target, vec({2.0, 0.0}), -box, box);
    CHECK(map.status == map_status::start_not_finite);
    CHECK_FALSE(map.converged());
    CHECK(map.covariance.status == covariance_status::not_computed);
}

TEST_CASE("MAP of a posterior: both spaces' covariances", "[inference][map]") {
    // Gaussian likelihood in (mstar, z0) with flat priors that do not move the
    // optimum; mstar on [0.01, 10] (logistic map), z0 on [0, inf) via a
    // custom prior (log map).
    const auto posterior = make_posterior(
        parameter_set({free_parameter("mstar", 1.5), free_parameter("z0", 0.4, prior::flat(0.0, inf))}),
        gaussian_likelihood{});
    const map_result map = find_map(posterior);
    INFO(map.message);
    REQUIRE(map.converged());
    CHECK((map.point - vec({2.0, 0.3})).cwiseAbs().maxCoeff() <= 1e-6);
    Eigen::MatrixXd covariance(2, 2);
    covariance << 0.01, 0.6 * 0.1 * 0.05, 0.6 * 0.1 * 0.05, 0.0025;
    REQUIRE(map.covariance.status == covariance_status::ok);
    CHECK(map.covariance.covariance.isApprox(covariance, 1e-6));

    // Unconstrained: H_u = J H J - diag(d^2 log|J| / du^2) at the optimum
    // (the constrained gradient vanishes there), J = diag(d theta / du).
    REQUIRE(map.unconstrained_covariance.status == covariance_status::ok);
    const Eigen::VectorXd u = map.unconstrained_point;
    CHECK(posterior.parameters().to_constrained(u).isApprox(map.point, 1e-12));
    const constrained_value mstar = posterior.parameters().transform(0).constrain(u[0]);
    const constrained_value z0 = posterior.parameters().transform(1).constrain(u[1]);
    const Eigen::Vector2d slope(mstar.derivative, z0.derivative);
    // logistic: d^2/du^2 [log s(u) + log s(-u)] = -2 s(u) s(-u); exp: 0.
    const double s = 1.0 / (1.0 + std::exp(-u[0]));
    Eigen::MatrixXd expected = slope.asDiagonal() * covariance.inverse() * slope.asDiagonal();
    expected(0, 0) += 2.0 * s * (1.0 - s);
    INFO("hessian\n" << map.unconstrained_covariance.hessian << "\nexpected\n" << expected);
    // Central differences with h = 0.01 sigma err by ~(h^2 / 6) g''' / H, about
    // 1e-5 relative here: the density of u = log z0 has large third derivatives.
    CHECK(map.unconstrained_covariance.hessian.isApprox(expected, 1e-4));
    CHECK(map.unconstrained_covariance.covariance.isApprox(expected.inverse(), 1e-4));
}
