#include <catch2/catch.hpp>

#include <Eigen/LU>
#include <cmath>
#include <limits>

#include "diskmc/autodiff/differentiable.hpp"
#include "diskmc/concepts/archetypes.hpp"
#include "diskmc/errors.hpp"
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
/// Least squares: y(t) = a exp(-b t) + c at 12 times, unit weights, data
/// from (a, b, c) = (2, 0.7, 0.5) plus `noise` sin(7 t); with no noise the
/// residuals vanish at the optimum and the Gauss-Newton Hessian is exact there.
struct exponential_decay {
    Eigen::VectorXd times = Eigen::VectorXd::LinSpaced(12, 0.0, 5.0);
    Eigen::VectorXd data;
    explicit exponential_decay(double noise) {
        data = (2.0 * (-0.7 * times.array()).exp() + 0.5 + noise * (7.0 * times.array()).sin()).matrix();
    }
    std::size_t dim() const { return 3; }
    Eigen::VectorXd residuals(const Eigen::VectorXd& x) const {
        return (data.array() - x[0] * (-x[1] * times.array()).exp() - x[2]).matrix();
    }
    Eigen::MatrixXd jacobian(const Eigen::VectorXd& x) const {  // of the model
        Eigen::MatrixXd j(times.size(), 3);
        const Eigen::ArrayXd decay = (-x[1] * times.array()).exp();
        j.col(0) = decay.matrix();
        j.col(1) = (-x[0] * times.array() * decay).matrix();
        j.col(2).setOnes();
        return j;
    }
    double log_density(const Eigen::VectorXd& x) const { return -0.5 * residuals(x).squaredNorm(); }
    double log_density_gradient(const Eigen::VectorXd& x, Eigen::VectorXd& grad) const {
        grad = jacobian(x).transpose() * residuals(x);
        return log_density(x);
    }
    double log_density_gauss_newton(const Eigen::VectorXd& x, Eigen::VectorXd& grad, Eigen::MatrixXd& hessian) const {
        const Eigen::MatrixXd j = jacobian(x);
        hessian = j.transpose() * j;
        return log_density_gradient(x, grad);
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
/// gaussian_likelihood in least-squares form, r = L^T (p - mean) with
/// L L^T the precision: its Gauss-Newton curvature is exact (no residual
/// curvature).
struct gaussian_least_squares : gaussian_likelihood {
    Eigen::MatrixXd precision() const {  // dynamic size: g++ 12 warns falsely on a fixed 2 x 2 here
        Eigen::MatrixXd covariance(2, 2);
        covariance << 0.01, 0.6 * 0.1 * 0.05, 0.6 * 0.1 * 0.05, 0.0025;
        return covariance.inverse();
    }
    double log_likelihood_gradient(const Eigen::VectorXd& p, Eigen::VectorXd& grad) const {
        grad = -precision() * (p - vec({2.0, 0.3}));
        return log_likelihood<double>(p);
    }
    double log_likelihood_normal_equations(const Eigen::VectorXd& p, Eigen::VectorXd& grad,
                                           Eigen::MatrixXd& gauss_newton) const {
        gauss_newton = precision();
        return log_likelihood_gradient(p, grad);
    }
    Eigen::MatrixXd residual_curvature(const Eigen::VectorXd& p, const Eigen::VectorXd&) const {
        return Eigen::MatrixXd::Zero(p.size(), p.size());
    }
};

}  // namespace

TEST_CASE("MAP of a correlated Gaussian with inactive bounds: mean and covariance", "[inference][map]") {
    const correlated_gaussian model;
    const auto target = diskmc::autodiff::differentiable(model);
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
    const auto target = diskmc::autodiff::differentiable(model);
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
    const auto target = diskmc::autodiff::differentiable(rosenbrock{});
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
    const auto target = diskmc::autodiff::differentiable(gaussian_with_hole{});
    const map_result map = find_map(target, vec({-4.0, 2.0}), vec({-10.0, -10.0}), vec({10.0, 10.0}));
    INFO(map.message);
    CHECK(map.converged());
    CHECK((map.point - vec({1.0, 0.0})).cwiseAbs().maxCoeff() <= 1e-6);
    REQUIRE(map.covariance.status == covariance_status::ok);
    CHECK(map.covariance.covariance.isApprox(0.25 * Eigen::MatrixXd::Identity(2, 2), 1e-7));
}

/// A Gaussian whose model misuses the API (a diskmc::invalid_input, as
/// autodiff's misuse checks throw) once x0 passes 0.5.
struct misusing_model {
    std::size_t dim() const { return 2; }
    template <class T>
    T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& x) const {
        if (x[0] > 0.5) throw diskmc::invalid_input("misusing_model: a per-pixel branch");
        return T(-0.5 * ((x[0] - 1.0) * (x[0] - 1.0) + x[1] * x[1]));
    }
};

TEST_CASE("MAP passes a model's misuse of the API on instead of reporting a stalled search",
          "[inference][map]") {
    const auto target = diskmc::autodiff::differentiable(misusing_model{});
    CHECK_THROWS_WITH(find_map(target, vec({0.0, 0.5}), vec({-5.0, -5.0}), vec({5.0, 5.0})),
                      Catch::Matchers::Contains("per-pixel branch"));
}

TEST_CASE("MAP reports a saddle's Hessian as not positive definite", "[inference][map]") {
    const auto target = diskmc::autodiff::differentiable(saddle{});
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
    const auto target = diskmc::autodiff::differentiable(gaussian_with_hole{});
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

TEST_CASE("Gauss-Newton MAP of a least-squares model: L-BFGS-B's optimum in a few iterations", "[inference][map]") {
    STATIC_REQUIRE(diskmc::least_squares_log_density<exponential_decay>);
    const exponential_decay model(0.05);
    const Eigen::VectorXd start = vec({1.0, 0.3, 0.0});
    const Eigen::VectorXd lower = vec({0.0, 0.0, -inf}), upper = vec({10.0, 5.0, inf});
    const map_result gauss_newton =
        find_map(model, start, lower, upper, {.gradient_tolerance = 1e-8, .value_tolerance = 0.0});
    const map_result lbfgsb = find_map(model, start, lower, upper, {.method = map_method::lbfgsb});
    INFO(gauss_newton.message << " / " << lbfgsb.message);
    REQUIRE(gauss_newton.method == map_method::gauss_newton);
    REQUIRE(lbfgsb.method == map_method::lbfgsb);
    REQUIRE(gauss_newton.converged());
    REQUIRE(lbfgsb.converged());
    CHECK(gauss_newton.iterations <= 15);
    CHECK(gauss_newton.evaluations < lbfgsb.evaluations);
    CHECK(gauss_newton.projected_gradient_norm <= 1e-8);
    CHECK((gauss_newton.point - lbfgsb.point).cwiseAbs().maxCoeff() < 1e-5);
    CHECK(gauss_newton.log_density >= lbfgsb.log_density);
    // The covariance is the Gauss-Newton Hessian's at the optimum.
    REQUIRE(gauss_newton.covariance.status == covariance_status::ok);
    const Eigen::MatrixXd j = model.jacobian(gauss_newton.point);
    CHECK(gauss_newton.covariance.hessian.isApprox(j.transpose() * j, 1e-12));
    CHECK(gauss_newton.covariance.covariance.isApprox((j.transpose() * j).inverse(), 1e-10));
}

TEST_CASE("Gauss-Newton covariance of an exact fit equals the finite-difference one", "[inference][map]") {
    const exponential_decay model(0.0);  // residuals vanish at the optimum
    const Eigen::VectorXd lower = Eigen::VectorXd::Constant(3, -inf), upper = Eigen::VectorXd::Constant(3, inf);
    const map_result map = find_map(model, vec({1.0, 0.3, 0.0}), lower, upper);
    REQUIRE(map.converged());
    CHECK((map.point - vec({2.0, 0.7, 0.5})).cwiseAbs().maxCoeff() < 1e-8);
    // Richardson-extrapolated central differences of the gradient, O(h^4):
    // estimate_covariance's plain ones err by ~1e-4 here (large fourth
    // derivatives of exp(-b t) up to t = 5).
    Eigen::MatrixXd finite_difference(3, 3);
    for (Eigen::Index k = 0; k < 3; ++k) {
        auto difference = [&](double h) {
            Eigen::VectorXd up = map.point, down = map.point, g_up, g_down;
            up[k] += h;
            down[k] -= h;
            model.log_density_gradient(up, g_up);
            model.log_density_gradient(down, g_down);
            return Eigen::VectorXd(-(g_up - g_down) / (2.0 * h));
        };
        finite_difference.col(k) = (4.0 * difference(5e-4) - difference(1e-3)) / 3.0;
    }
    REQUIRE(map.covariance.status == covariance_status::ok);
    INFO("Gauss-Newton\n" << map.covariance.hessian << "\nfinite differences\n" << finite_difference);
    CHECK(map.covariance.hessian.isApprox(finite_difference, 1e-8));
}

TEST_CASE("Gauss-Newton MAP with an active bound stops exactly on it", "[inference][map]") {
    const exponential_decay model(0.05);
    const Eigen::VectorXd start = vec({1.0, 0.3, 0.0});
    const Eigen::VectorXd lower = vec({0.0, 0.0, -inf}), upper = vec({10.0, 0.5, inf});  // b <= 0.5 < 0.7
    const map_result gauss_newton =
        find_map(model, start, lower, upper, {.gradient_tolerance = 1e-8, .value_tolerance = 0.0});
    const map_result lbfgsb = find_map(model, start, lower, upper, {.method = map_method::lbfgsb});
    INFO(gauss_newton.message);
    REQUIRE(gauss_newton.converged());
    REQUIRE(lbfgsb.converged());
    CHECK(gauss_newton.point[1] == 0.5);
    CHECK(gauss_newton.at_bound == std::vector<bool>{false, true, false});
    CHECK(gauss_newton.gradient[1] > 0.0);  // log p would rise beyond the bound
    CHECK((gauss_newton.point - lbfgsb.point).cwiseAbs().maxCoeff() < 1e-5);
}

TEST_CASE("find_map chooses its method by the model's concept", "[inference][map]") {
    diskmc::archetypes::least_squares_log_density_archetype least_squares;
    diskmc::archetypes::differentiable_log_density_archetype differentiable;
    least_squares.dimension = differentiable.dimension = 3;
    STATIC_REQUIRE(diskmc::least_squares_log_density<decltype(least_squares)>);
    STATIC_REQUIRE_FALSE(diskmc::least_squares_log_density<decltype(differentiable)>);
    const Eigen::VectorXd start = vec({1.0, -2.0, 0.5}), open = Eigen::VectorXd::Constant(3, inf);
    const map_result a = find_map(least_squares, start, -open, open);
    CHECK(a.method == map_method::gauss_newton);
    REQUIRE(a.converged());
    CHECK(a.point.cwiseAbs().maxCoeff() < 1e-5);
    CHECK(a.iterations <= 3);
    const map_result b = find_map(differentiable, start, -open, open);
    CHECK(b.method == map_method::lbfgsb);
    CHECK(b.point.cwiseAbs().maxCoeff() < 1e-5);
    CHECK(find_map(least_squares, start, -open, open, {.method = map_method::lbfgsb}).method == map_method::lbfgsb);
    CHECK_THROWS_AS(find_map(differentiable, start, -open, open, {.method = map_method::gauss_newton}),
                    diskmc::invalid_input);
    CHECK_THROWS_AS(find_map(least_squares, start, -open, open, {.initial_damping = 0.0}), diskmc::invalid_input);
}

TEST_CASE("The unconstrained Gauss-Newton Hessian: the transforms' and priors' exact terms", "[inference][map]") {
    // mstar on [0.01, 10] (logistic), z0 on [0, inf) (log) with a Gaussian
    // prior: away from the optimum the chain rule's g theta'' term and the
    // prior's curvature both count; the likelihood has no residual curvature,
    // so the Gauss-Newton Hessian is the exact one.
    const auto posterior = make_posterior(
        parameter_set({free_parameter("mstar", 1.5), free_parameter("z0", 0.4, prior::gaussian(0.35, 0.2, 0.0, inf))}),
        gaussian_least_squares{});
    STATIC_REQUIRE(diskmc::hessian_log_density<decltype(posterior)>);
    const auto for_nuts = unconstrained(posterior);
    STATIC_REQUIRE(diskmc::least_squares_log_density<decltype(for_nuts)>);
    const Eigen::VectorXd u = for_nuts.to_unconstrained(vec({2.3, 0.2}));
    Eigen::VectorXd gradient, reference_gradient;
    Eigen::MatrixXd hessian;
    const double value = for_nuts.log_density_gauss_newton(u, gradient, hessian);
    CHECK(value == Approx(for_nuts.log_density_gradient(u, reference_gradient)).epsilon(1e-14));
    CHECK(gradient.isApprox(reference_gradient, 1e-14));
    const covariance_estimate fd = estimate_covariance(for_nuts, u, Eigen::VectorXd::Constant(2, -inf),
                                                       Eigen::VectorXd::Constant(2, inf));
    INFO("Gauss-Newton\n" << hessian << "\nfinite differences\n" << fd.hessian);
    // As in the test above, the differences err by ~1e-5 here.
    CHECK(hessian.isApprox(fd.hessian, 1e-4));

    // find_map's unconstrained covariance by the chain rule at the optimum.
    const map_result map = find_map(posterior);
    REQUIRE(map.method == map_method::gauss_newton);
    REQUIRE(map.converged());
    REQUIRE(map.unconstrained_covariance.status == covariance_status::ok);
    Eigen::VectorXd unused;
    Eigen::MatrixXd at_optimum;
    for_nuts.log_density_gauss_newton(map.unconstrained_point, unused, at_optimum);
    CHECK(map.unconstrained_covariance.hessian.isApprox(at_optimum, 1e-9));
}
