#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <type_traits>

#include "diskmc/concepts.hpp"
#include "diskmc/concepts/archetypes.hpp"
#include "diskmc/inference/posterior.hpp"
#include "support/gradient_check.hpp"
#include "support/test_values.hpp"

using namespace diskmc::inference;
using Catch::Matchers::Contains;

namespace {
using diskmc::testing::inf;

using diskmc::testing::vec;

/// A small nonlinear "rotation curve": m_j = vlsr + sqrt(100 mstar / dist)
/// r_j^-1/2 exp(-(r_j / r_taper)^2) + z0 r_j, Gaussian noise sigma, over the
/// eddy names (mstar, vlsr, z0, r_taper, dist). Counts its evaluations.
struct rotation_curve {
    Eigen::VectorXd radius = Eigen::VectorXd::LinSpaced(12, 0.3, 3.0);
    Eigen::VectorXd data;
    double sigma = 0.05;
    std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);

    rotation_curve() {
        data.resize(radius.size());
        for (Eigen::Index j = 0; j < radius.size(); ++j)  // truth (1.5, 5.0, 0.2, 2.0, 100) plus a wiggle
            data[j] = model(1.5, 5.0, 0.2, 2.0, 100.0, radius[j]) + 0.03 * std::sin(7.0 * j);
    }
    template <class T>
    static T model(const T& mstar, const T& vlsr, const T& z0, const T& r_taper, const T& dist, double r) {
        using std::exp;
        using std::sqrt;
        return T(vlsr + sqrt(T(100.0 * mstar / dist)) * (exp(T(-(r / r_taper) * (r / r_taper))) / std::sqrt(r)) +
                 z0 * r);
    }

    std::vector<std::string> parameter_names() const { return {"mstar", "vlsr", "z0", "r_taper", "dist"}; }

    template <class T>
    T log_likelihood(const Eigen::Matrix<T, Eigen::Dynamic, 1>& p) const {
        ++*calls;
        T sum(0.0);
        for (Eigen::Index j = 0; j < radius.size(); ++j) {
            const T residual = T((data[j] - model(p[0], p[1], p[2], p[3], p[4], radius[j])) / sigma);
            sum += residual * residual;
        }
        return T(-0.5 * sum);
    }
};

/// The same likelihood with a hand-written gradient (the closed form).
struct rotation_curve_with_gradient : rotation_curve {
    double log_likelihood_gradient(const Eigen::VectorXd& p, Eigen::VectorXd& grad) const {
        const double mstar = p[0], z0 = p[2], r_taper = p[3], dist = p[4];
        const double a = std::sqrt(100.0 * mstar / dist);
        grad = Eigen::VectorXd::Zero(5);
        double sum = 0.0;
        for (Eigen::Index j = 0; j < radius.size(); ++j) {
            const double r = radius[j];
            const double b = std::exp(-(r / r_taper) * (r / r_taper)) / std::sqrt(r);
            const double m = p[1] + a * b + z0 * r;
            const double w = (data[j] - m) / (sigma * sigma);  // d loglik / d m
            sum += (data[j] - m) * (data[j] - m) / (sigma * sigma);
            grad[0] += w * b * a / (2.0 * mstar);
            grad[1] += w;
            grad[2] += w * r;
            grad[3] += w * a * b * 2.0 * r * r / (r_taper * r_taper * r_taper);
            grad[4] += -w * b * a / (2.0 * dist);
        }
        return -0.5 * sum;
    }
};

/// Returns NaN where z0 > 1 (a model with a bug there).
struct sometimes_nan : rotation_curve {
    template <class T>
    T log_likelihood(const Eigen::Matrix<T, Eigen::Dynamic, 1>& p) const {
        if (p[2] > 1.0) return T(std::numeric_limits<double>::quiet_NaN());
        return rotation_curve::log_likelihood(p);
    }
};

/// z0 ~ N(3, 2^2), a one-parameter likelihood.
struct one_gaussian {
    std::vector<std::string> parameter_names() const { return {"z0"}; }
    template <class T>
    T log_likelihood(const Eigen::Matrix<T, Eigen::Dynamic, 1>& p) const {
        return T(-0.5 * (p[0] - 3.0) * (p[0] - 3.0) / 4.0);
    }
};

parameter_set curve_parameters() {
    return parameter_set({free_parameter("mstar", 1.2), free_parameter("vlsr", 4.9, prior::gaussian(5.0, 0.5)),
                          free_parameter("z0", 0.25), free_parameter("r_taper", 1.8, prior::flat(0.0, 50.0))});
}
}  // namespace

TEST_CASE("posterior binds the likelihood's names to the parameter set", "[inference][posterior]") {
    const rotation_curve likelihood;
    const auto posterior = make_posterior(curve_parameters(), likelihood);
    STATIC_REQUIRE(diskmc::differentiable_log_density<decltype(posterior)>);
    STATIC_REQUIRE(diskmc::scalar_generic_log_density<decltype(posterior)>);
    CHECK(posterior.dim() == 4);
    CHECK(posterior.full_names() == likelihood.parameter_names());
    const Eigen::VectorXd theta = vec({1.3, 5.1, 0.3, 2.2});
    // dist was not given: eddy's default, 100 pc.
    CHECK(posterior.full_parameters(theta) == vec({1.3, 5.1, 0.3, 2.2, 100.0}));

    const auto with_dist = make_posterior(
        parameter_set({free_parameter("mstar", 1.2), fixed_parameter("dist", 140.0), free_parameter("vlsr", 4.9),
                       free_parameter("z0", 0.25), free_parameter("r_taper", 1.8)}),
        likelihood);
    CHECK(with_dist.full_parameters(theta) == vec({1.3, 5.1, 0.3, 2.2, 140.0}));

    SECTION("bad bindings throw, naming the parameter") {
        CHECK_THROWS_WITH(make_posterior(parameter_set({free_parameter("mstar", 1.2)}), likelihood),
                          Contains("'z0'") && Contains("neither given nor has a default"));
        CHECK_THROWS_WITH(make_posterior(parameter_set({free_parameter("mstar", 1.2), free_parameter("z0", 0.2),
                                                        free_parameter("PA", 10.0)}),
                                         likelihood),
                          Contains("'PA'") && Contains("does not use it"));
        struct unknown_name : rotation_curve {
            std::vector<std::string> parameter_names() const { return {"mstar", "vlsr", "z0", "r_tapper", "dist"}; }
        };
        CHECK_THROWS_WITH(make_posterior(curve_parameters(), unknown_name{}), Contains("r_tapper"));
        struct repeated_name : rotation_curve {
            std::vector<std::string> parameter_names() const { return {"mstar", "vlsr", "z0", "z0", "dist"}; }
        };
        CHECK_THROWS_WITH(make_posterior(curve_parameters(), repeated_name{}), Contains("'z0'") && Contains("twice"));
    }
}

TEST_CASE("posterior and unconstrained refer to an lvalue and own a temporary", "[inference][posterior]") {
    const rotation_curve likelihood;
    const auto referring = make_posterior(curve_parameters(), likelihood);
    static_assert(std::is_same_v<std::remove_const_t<decltype(referring)>, posterior<const rotation_curve&>>);
    CHECK(&referring.likelihood() == &likelihood);
    const auto referring_unconstrained = unconstrained(referring);
    static_assert(std::is_same_v<std::remove_const_t<decltype(referring_unconstrained)>,
                                 unconstrained_posterior<const posterior<const rotation_curve&>&>>);
    CHECK(&referring_unconstrained.constrained() == &referring);

    // Both temporaries (the likelihood, whose data live on the heap, and the
    // posterior) end with the full-expression: the result must own them
    // (AddressSanitizer reports a read of either after it was freed).
    const auto owning = unconstrained(make_posterior(curve_parameters(), rotation_curve{}));
    static_assert(std::is_same_v<std::remove_const_t<decltype(owning)>,
                                 unconstrained_posterior<posterior<rotation_curve>>>);
    const Eigen::VectorXd u = owning.to_unconstrained(vec({1.3, 5.1, 0.3, 2.2}));
    CHECK(owning.log_density(u) == Approx(unconstrained(referring).log_density(u)).epsilon(1e-14));
}

TEST_CASE("posterior is log prior plus log likelihood, -infinity outside the prior", "[inference][posterior]") {
    const rotation_curve likelihood;
    const parameter_set parameters = curve_parameters();
    const auto posterior = make_posterior(parameters, likelihood);
    const Eigen::VectorXd theta = vec({1.3, 5.1, 0.3, 2.2});
    const double expected = parameters.log_prior<double>(theta) +
                            likelihood.log_likelihood<double>(posterior.full_parameters(theta));
    CHECK(posterior.log_density(theta) == Approx(expected).epsilon(1e-15));
    CHECK(posterior.log_prior(theta) + posterior.log_likelihood(theta) == Approx(expected).epsilon(1e-15));

    const int before = *likelihood.calls;
    Eigen::VectorXd grad;
    CHECK(posterior.log_density(vec({11.0, 5.1, 0.3, 2.2})) == -inf);             // mstar > 10
    CHECK(posterior.log_density_gradient(vec({1.3, 5.1, 0.3, 51.0}), grad) == -inf);  // r_taper > 50
    CHECK(grad.isZero());
    CHECK(posterior.log_density(vec({1.3, 5.1, std::nan(""), 2.0})) == -inf);
    CHECK(*likelihood.calls == before);  // never evaluated outside the support
}

TEST_CASE("posterior gradients: automatic differentiation and a hand-written adjoint agree",
          "[inference][posterior]") {
    const rotation_curve_with_gradient likelihood;
    const auto posterior = make_posterior(curve_parameters(), likelihood);
    for (const Eigen::VectorXd& theta : {vec({1.3, 5.1, 0.3, 2.2}), vec({0.4, 4.2, 0.05, 0.7}), vec({8.0, 6.0, 4.0, 40.0})}) {
        Eigen::VectorXd by_hand, by_autodiff;
        const double hand_value = posterior.log_density_gradient(theta, by_hand);
        const double autodiff_value = posterior.log_density_gradient_autodiff(theta, by_autodiff);
        CHECK(hand_value == Approx(autodiff_value).epsilon(1e-14));
        const auto comparison = diskmc::testing::compare_gradients(by_hand, by_autodiff);
        CHECK(comparison.max_rel_error <= 1e-12);

        const auto report = diskmc::testing::check_model_gradient(posterior, theta);
        INFO(report.describe());
        CHECK(report.has_oracle);
        CHECK(report.versus_oracle.max_rel_error <= 1e-12);
        CHECK(report.agrees_with_finite_difference(1e-7));
    }
    // The autodiff-only posterior (no hand gradient) passes the same checks.
    const auto autodiff_only = make_posterior(curve_parameters(), rotation_curve{});
    const auto report = diskmc::testing::check_model_gradient(autodiff_only, vec({1.3, 5.1, 0.3, 2.2}));
    INFO(report.describe());
    CHECK(report.versus_oracle.max_rel_error <= 1e-13);
    CHECK(report.agrees_with_finite_difference(1e-7));
}

TEST_CASE("unconstrained posterior adds the log-Jacobian and chains the gradient", "[inference][posterior]") {
    const auto posterior = make_posterior(curve_parameters(), rotation_curve_with_gradient{});
    const auto for_nuts = unconstrained(posterior);
    STATIC_REQUIRE(diskmc::differentiable_log_density<decltype(for_nuts)>);
    STATIC_REQUIRE(diskmc::scalar_generic_log_density<decltype(for_nuts)>);
    CHECK(for_nuts.dim() == 4);

    const Eigen::VectorXd start = posterior.parameters().start();
    const Eigen::VectorXd u0 = for_nuts.to_unconstrained(start);
    CHECK(u0.allFinite());
    CHECK(for_nuts.to_constrained(u0).isApprox(start, 1e-14));

    for (const Eigen::VectorXd& u : {u0, vec({-1.0, 4.0, 2.0, -3.0}), vec({3.0, 6.0, -4.0, 0.5})}) {
        double log_jacobian = 0.0;
        const Eigen::VectorXd theta = posterior.parameters().to_constrained<double>(u, log_jacobian);
        CHECK(for_nuts.log_density(u) == Approx(posterior.log_density(theta) + log_jacobian).epsilon(1e-14));
        const auto report = diskmc::testing::check_model_gradient(for_nuts, u);
        INFO(report.describe());
        CHECK(report.has_oracle);
        CHECK(report.versus_oracle.max_rel_error <= 1e-11);
        CHECK(report.agrees_with_finite_difference(1e-7));
    }
}

TEST_CASE("the unconstrained density is the same distribution", "[inference][posterior]") {
    // One parameter with a flat prior on [0, 10] and a Gaussian likelihood:
    // the normalising integral is the same in theta and in u.
    const auto posterior = make_posterior(parameter_set({free_parameter("z0", 1.0, prior::flat(0.0, 10.0))}), one_gaussian{});
    const auto for_nuts = unconstrained(posterior);
    auto trapezoid = [](auto f, double a, double b, int n) {
        const double h = (b - a) / n;
        double sum = 0.5 * (f(a) + f(b));
        for (int i = 1; i < n; ++i) sum += f(a + i * h);
        return sum * h;
    };
    const double in_theta = trapezoid([&](double t) { return std::exp(posterior.log_density(vec({t}))); }, 0.0, 10.0, 100000);
    const double in_u = trapezoid([&](double u) { return std::exp(for_nuts.log_density(vec({u}))); }, -40.0, 40.0, 100000);
    CHECK(in_u == Approx(in_theta).epsilon(1e-7));
}

TEST_CASE("posterior never returns NaN", "[inference][posterior]") {
    const auto posterior = make_posterior(curve_parameters(), sometimes_nan{});
    const auto for_nuts = unconstrained(posterior);
    Eigen::VectorXd grad;
    const Eigen::VectorXd bad = vec({1.3, 5.1, 2.0, 2.2});
    CHECK(posterior.log_density(bad) == -inf);
    CHECK(posterior.log_density_gradient(bad, grad) == -inf);
    CHECK(grad.allFinite());
    const Eigen::VectorXd u = for_nuts.to_unconstrained(bad);
    CHECK(for_nuts.log_density(u) == -inf);
    CHECK(for_nuts.log_density_gradient(u, grad) == -inf);
    CHECK(grad.allFinite());
}

TEST_CASE("posterior works with the named-likelihood archetype", "[inference][posterior]") {
    const auto posterior = make_posterior(parameter_set({free_parameter("x0", 0.1), free_parameter("y0", -0.2)}),
                                          diskmc::archetypes::named_log_likelihood_archetype{});
    Eigen::VectorXd grad;
    const double value = posterior.log_density_gradient(vec({0.1, -0.2}), grad);
    CHECK(value == Approx(-0.5 * 0.05 + 0.0));  // flat priors of width 1: log 1 = 0
    CHECK(grad.isApprox(vec({-0.1, 0.2})));
}
