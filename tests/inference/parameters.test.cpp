#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "diskmc/inference/parameters.hpp"
#include "support/gradient_check.hpp"
#include "support/test_values.hpp"

using namespace diskmc::inference;
using Catch::Matchers::Contains;

namespace {
using diskmc::testing::inf;

template <class V>
using scalar_of = typename std::decay_t<V>::Scalar;

using diskmc::testing::vec;

/// Trapezoid rule on [a, b] with n intervals.
template <class F>
double integrate(F f, double a, double b, int n) {
    const double h = (b - a) / n;
    double sum = 0.5 * (f(a) + f(b));
    for (int i = 1; i < n; ++i) sum += f(a + i * h);
    return sum * h;
}
}  // namespace

TEST_CASE("the eddy catalogue holds eddy's names, defaults and priors", "[inference][parameters]") {
    const parameter_catalogue eddy = eddy_parameters();
    struct expected {
        const char* name;
        double lower, upper;
    };
    // The default priors listed in the shared eddy fixtures' README.
    for (const expected& e : {expected{"x0", -0.5, 0.5}, {"y0", -0.5, 0.5}, {"inc", -90, 90}, {"PA", -360, 360},
                              {"vlsr", -1e4, 1e4}, {"dist", 0, 1000}, {"mstar", 0.01, 10}, {"z0", 0, 5}, {"psi", 0, 5},
                              {"r_cavity", 0, 1000}, {"r_taper", 0, inf}, {"q_taper", 0, 15}, {"r_min", -10, 10},
                              {"r_max", 0, 20}}) {
        INFO(e.name);
        const parameter_info& info = eddy.at(e.name);
        CHECK(info.prior.kind == prior_kind::flat);
        CHECK(info.prior.lower == e.lower);
        CHECK(info.prior.upper == e.upper);
    }
    CHECK(eddy.at("PA").period == 360.0);
    CHECK(eddy.at("inc").period == 0.0);
    CHECK(eddy.at("dist").default_value == 100.0);
    CHECK(eddy.at("r_taper").default_value == inf);
    CHECK_FALSE(eddy.at("z0").default_value.has_value());
    for (const char* name : {"vp_100", "vp_q", "mdisk", "gamma", "r_in", "r_out", "w_i", "w_r", "w_t"})
        CHECK(eddy.find(name) != nullptr);
    CHECK(eddy.find("r_tapper") == nullptr);
    CHECK_THROWS_WITH(eddy.at("r_tapper"), Contains("r_tapper") && Contains("r_taper"));

    // eddy's own log-prior convention, max(-100, log(1/(max - min))) over every
    // parameter with a value (given or default), reproduces the ln_prior eddy
    // recorded in lnlike_case_b.json (-162.78225142215632): so the table's
    // defaults and priors are eddy's.
    const std::vector<std::pair<const char*, double>> given = {
        {"x0", 0.0},  {"y0", 0.0},    {"inc", 46.7},     {"PA", 133.3},   {"mstar", 2.0},   {"dist", 101.0},
        {"vlsr", 5760}, {"z0", 0.3}, {"psi", 1.25}, {"r_cavity", 0.0}, {"r_taper", 2.5}, {"q_taper", 2.0},
        {"r_min", 0.3}, {"r_max", 2.0}};
    double eddy_log_prior = 0.0;
    for (const parameter_info& info : eddy.entries()) {
        const bool is_given = std::any_of(given.begin(), given.end(), [&](const auto& g) { return info.name == g.first; });
        if (!is_given && !info.default_value) continue;
        eddy_log_prior += std::max(-100.0, -std::log(info.prior.upper - info.prior.lower));
    }
    CHECK(eddy_log_prior == Approx(-162.78225142215632).epsilon(1e-14));
}

TEST_CASE("a catalogue's priors can be overridden and extended", "[inference][parameters]") {
    parameter_catalogue eddy = eddy_parameters();
    eddy.set_prior("r_taper", prior::flat(0.0, 50.0));
    CHECK(eddy.at("r_taper").prior.upper == 50.0);
    CHECK_THROWS_WITH(eddy.set_prior("r_tapper", prior::flat(0.0, 1.0)), Contains("r_tapper"));
    CHECK_THROWS_WITH(eddy.set_prior("r_taper", prior::flat(5.0, 1.0)), Contains("r_taper"));
    eddy.add({"beta", 1.0, prior::gaussian(1.0, 0.5), 0.0, "", "a custom model's parameter"});
    CHECK(eddy.at("beta").prior.kind == prior_kind::gaussian);
    CHECK_THROWS_WITH(eddy.add({"beta", 1.0, prior::flat(), 0.0, "", ""}), Contains("beta") && Contains("twice"));
}

TEST_CASE("parameter_set maps names to indices and values", "[inference][parameters]") {
    const parameter_set set({free_parameter("mstar", 2.0), fixed_parameter("inc", 46.7), free_parameter("PA", 133.3),
                             free_parameter("r_taper", 2.5, prior::flat(0.0, 50.0)),
                             free_parameter("vlsr", 5760.0, prior::gaussian(5750.0, 20.0))});
    CHECK(set.dim() == 4);
    CHECK(set.size() == 5);
    CHECK(set.free_names() == std::vector<std::string>{"mstar", "PA", "r_taper", "vlsr"});
    CHECK(set.free_index("PA") == 1);
    CHECK(set.free_index("vlsr") == 3);
    CHECK_THROWS_WITH(set.free_index("inc"), Contains("inc") && Contains("fixed"));
    CHECK_THROWS_WITH(set.free_index("z0"), Contains("z0") && Contains("not in this parameter set"));
    CHECK_THROWS_WITH(set.free_index("nonsense"), Contains("unknown parameter 'nonsense'"));
    CHECK(set.is_free("PA"));
    CHECK_FALSE(set.is_free("inc"));
    CHECK(set.fixed_value("inc") == 46.7);
    CHECK(set.fixed_value("dist") == 100.0);  // eddy's default
    CHECK_FALSE(set.fixed_value("z0").has_value());
    CHECK_FALSE(set.fixed_value("PA").has_value());
    CHECK(set.start() == vec({2.0, 133.3, 2.5, 5760.0}));
    CHECK(set.lower_bounds() == vec({0.01, -360.0, 0.0, -inf}));
    CHECK(set.upper_bounds() == vec({10.0, 360.0, 50.0, inf}));
    CHECK(set.transform(0).kind == transform_kind::interval);
    CHECK(set.transform(3).kind == transform_kind::identity);
    CHECK(set.period(1) == 360.0);
}

TEST_CASE("parameter_set rejects bad input, naming the parameter", "[inference][parameters]") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_AS(parameter_set({free_parameter("r_tapper", 1.0)}), diskmc::invalid_input);
    CHECK_THROWS_WITH(parameter_set({free_parameter("r_tapper", 1.0)}), Contains("unknown parameter 'r_tapper'"));
    CHECK_THROWS_WITH(parameter_set({free_parameter("PA", 10.0), fixed_parameter("PA", 10.0)}),
                      Contains("'PA'") && Contains("both fixed and free"));
    CHECK_THROWS_WITH(parameter_set({free_parameter("PA", 10.0), free_parameter("PA", 20.0)}),
                      Contains("'PA'") && Contains("twice"));
    CHECK_THROWS_WITH(parameter_set({free_parameter("mstar", nan)}), Contains("'mstar'") && Contains("NaN"));
    CHECK_THROWS_WITH(parameter_set({fixed_parameter("inc", nan)}), Contains("'inc'") && Contains("NaN"));
    CHECK_THROWS_WITH(parameter_set({free_parameter("mstar", 12.0)}), Contains("'mstar'") && Contains("outside"));
    CHECK_THROWS_WITH(parameter_set({free_parameter("z0", 0.0)}), Contains("'z0'") && Contains("on a bound"));
    CHECK_THROWS_WITH(parameter_set({free_parameter("psi", 1.0, prior::flat(2.0, 2.0))}),
                      Contains("psi") && Contains("below upper bound"));
    CHECK_THROWS_WITH(parameter_set({free_parameter("psi", 1.0, prior::flat(3.0, 2.0))}), Contains("psi"));
    CHECK_THROWS_WITH(parameter_set({free_parameter("psi", 1.0, prior::flat(nan, 2.0))}),
                      Contains("psi") && Contains("NaN"));
    CHECK_THROWS_WITH(parameter_set({free_parameter("psi", 1.0, prior::gaussian(1.0, 0.0))}),
                      Contains("psi") && Contains("sd"));
    CHECK_THROWS_WITH(parameter_set({free_parameter("psi", 1.0, prior::gaussian(1.0, 10.0, 40.0, 50.0))}),
                      Contains("psi") && Contains("outside"));
    CHECK_THROWS_WITH(parameter_set({free_parameter("psi", 45.0, prior::gaussian(1.0, 1e-3, 40.0, 50.0))}),
                      Contains("psi") && Contains("no probability mass"));
    CHECK_THROWS_WITH(parameter_set({parameter{.name = "inc", .value = 30.0, .free = false, .prior = prior::flat(0, 90)}}),
                      Contains("'inc'") && Contains("fixed"));
    // Fixed values may be infinite (eddy: r_taper = inf means no taper).
    CHECK_NOTHROW(parameter_set({fixed_parameter("r_taper", inf)}));
}

TEST_CASE("priors are normalised as documented and flow gradients", "[inference][parameters]") {
    SECTION("flat") {
        CHECK(prior::flat(0.0, 4.0).log_density(1.0) == Approx(-std::log(4.0)));
        CHECK(prior::flat(0.0, 4.0).log_density(4.0) == Approx(-std::log(4.0)));  // inclusive
        CHECK(prior::flat(0.0, 4.0).log_density(4.0000001) == -inf);
        CHECK(prior::flat(0.0, 4.0).log_density(std::nan("")) == -inf);
        CHECK(prior::flat(0.0, inf).log_density(1e300) == 0.0);  // improper: no constant
        CHECK(prior::flat().log_density(-1e300) == 0.0);
    }
    SECTION("Gaussian, plain and truncated, integrate to one") {
        const prior plain = prior::gaussian(1.0, 2.0);
        CHECK(plain.log_density(2.0) ==
              Approx(-0.5 * 0.25 - std::log(2.0) - 0.5 * std::log(2.0 * std::numbers::pi)).epsilon(1e-15));
        for (const prior& p : {prior::gaussian(1.0, 2.0, 0.0, 3.0), prior::gaussian(1.0, 2.0, 7.0, 12.0),
                               prior::gaussian(1.0, 2.0, -inf, -6.0), prior::gaussian(0.0, 1.0, 0.0, inf)}) {
            const double a = std::isfinite(p.lower) ? p.lower : -40.0;
            const double b = std::isfinite(p.upper) ? p.upper : 40.0;
            CHECK(integrate([&](double x) { return std::exp(p.log_density(x)); }, a, b, 200000) ==
                  Approx(1.0).epsilon(1e-8));
        }
        CHECK(prior::gaussian(1.0, 2.0, 0.0, 3.0).log_density(-0.1) == -inf);
    }
    SECTION("the log prior of a set and its gradient") {
        const parameter_set set({free_parameter("mstar", 2.0), free_parameter("vlsr", 5760.0, prior::gaussian(5750.0, 20.0)),
                                 free_parameter("r_taper", 2.5)});
        const Eigen::VectorXd theta = vec({2.0, 5770.0, 3.0});
        const double expected = -std::log(9.99) + prior::gaussian(5750.0, 20.0).log_density(5770.0);
        CHECK(set.log_prior<double>(theta) == Approx(expected).epsilon(1e-15));
        CHECK(set.log_prior<double>((vec({11.0, 5770.0, 3.0}))) == -inf);
        CHECK(set.log_prior<double>((vec({2.0, 5770.0, -1e-9}))) == -inf);
        const auto report = diskmc::testing::check_gradient(
            [&](const auto& t) -> scalar_of<decltype(t)> { return set.log_prior(t); }, theta);
        INFO(report.describe());
        CHECK(report.versus_oracle.max_rel_error <= 1e-15);
        CHECK(report.agrees_with_finite_difference(1e-8));
        Eigen::VectorXd grad;
        set.log_prior_gradient(theta, grad);
        CHECK(grad.isApprox(report.gradient, 1e-15));
    }
}

TEST_CASE("transforms round-trip exactly and carry the right log-Jacobian", "[inference][parameters]") {
    const bound_transform transforms[] = {bound_transform::for_bounds(-inf, inf), bound_transform::for_bounds(0.0, inf),
                                          bound_transform::for_bounds(-inf, 5.0),
                                          bound_transform::for_bounds(-360.0, 360.0),
                                          bound_transform::for_bounds(0.01, 10.0)};
    CHECK(transforms[0].kind == transform_kind::identity);
    CHECK(transforms[1].kind == transform_kind::lower_bound);
    CHECK(transforms[2].kind == transform_kind::upper_bound);
    CHECK(transforms[3].kind == transform_kind::interval);
    for (const bound_transform& t : transforms) {
        INFO("transform on [" << t.lower << ", " << t.upper << "]");
        // u -> x -> u
        for (double u = -12.0; u <= 12.0; u += 0.37) {
            double log_jacobian = 0.0;
            const double x = t.to_constrained(u, log_jacobian);
            const constrained_value c = t.constrain(u);
            // Exact up to the rounding of x: one ulp of x (or of the bound it
            // is measured from) moves u by ulp / |dx/du|.
            const double scale = std::max({std::abs(x), std::isfinite(t.lower) ? std::abs(t.lower) : 0.0,
                                           std::isfinite(t.upper) ? std::abs(t.upper) : 0.0});
            const double u_tolerance = 4.0 * std::numeric_limits<double>::epsilon() * scale / std::abs(c.derivative);
            CHECK(t.to_unconstrained(x) == Approx(u).margin(u_tolerance + 1e-15).epsilon(1e-15));
            CHECK(c.value == x);
            CHECK(c.log_jacobian == Approx(log_jacobian).epsilon(1e-15));
            CHECK(c.log_jacobian == Approx(std::log(std::abs(c.derivative))).margin(1e-13));
        }
        // x -> u -> x across the support
        const double a = std::isfinite(t.lower) ? t.lower : -1e3;
        const double b = std::isfinite(t.upper) ? t.upper : 1e3;
        for (int k = 1; k < 200; ++k) {
            const double x = a + (b - a) * k / 200.0;
            double log_jacobian = 0.0;
            const double x_tolerance = 4.0 * std::numeric_limits<double>::epsilon() * std::max(std::abs(a), std::abs(b));
            CHECK(t.to_constrained(t.to_unconstrained(x), log_jacobian) == Approx(x).epsilon(0.0).margin(x_tolerance));
        }
        // Values stay inside the support even far out in u.
        for (double u : {-800.0, -40.0, 40.0, 800.0}) {
            double log_jacobian = 0.0;
            const double x = t.to_constrained(u, log_jacobian);
            CHECK(x >= t.lower);
            CHECK(x <= t.upper);
        }
    }
    SECTION("the log-Jacobian integrates to the width of the interval") {
        const bound_transform t = bound_transform::for_bounds(-360.0, 360.0);
        const double measure = integrate([&](double u) { return std::exp(t.constrain(u).log_jacobian); }, -60.0, 60.0, 200000);
        CHECK(measure == Approx(720.0).epsilon(1e-9));
    }
    SECTION("generic transforms pass the gradient checker; hand derivatives match") {
        const parameter_set set({free_parameter("x0", 0.1), free_parameter("r_taper", 2.5),
                                 free_parameter("PA", 133.0), free_parameter("vlsr", 0.0, prior::flat(-inf, 1e4))});
        const Eigen::VectorXd u = (Eigen::VectorXd(4) << 0.3, -0.7, 2.4, 1.5).finished();
        // A weighted sum of theta(u) and the log-Jacobian exercises every derivative.
        const auto f = [&](const auto& v) -> scalar_of<decltype(v)> {
            using T = scalar_of<decltype(v)>;
            T log_jacobian(0.0);
            const Eigen::Matrix<T, Eigen::Dynamic, 1> theta = set.to_constrained(v, log_jacobian);
            return T(theta[0] * 3.0 + theta[1] * 0.5 - theta[2] / 100.0 + theta[3] * 1e-3 + log_jacobian);
        };
        const auto report = diskmc::testing::check_gradient(f, u);
        INFO(report.describe());
        CHECK(report.versus_oracle.max_rel_error <= 1e-14);
        CHECK(report.agrees_with_finite_difference(1e-8));
        const double weights[] = {3.0, 0.5, -0.01, 1e-3};
        for (Eigen::Index i = 0; i < 4; ++i) {
            const constrained_value c = set.transform(static_cast<std::size_t>(i)).constrain(u[i]);
            CHECK(weights[i] * c.derivative + c.log_jacobian_derivative == Approx(report.gradient[i]).epsilon(1e-14));
        }
        CHECK(set.to_unconstrained(set.to_constrained(u)).isApprox(u, 1e-13));
    }
}

TEST_CASE("periodic parameters wrap into 0 <= x < period as eddy's PA", "[inference][parameters]") {
    const parameter_set set({free_parameter("mstar", 2.0), free_parameter("PA", 133.0)});
    Eigen::MatrixXd draws(2, 6);
    draws << 1, 2, 3, 4, 5, 6,  //
        -10.0, 370.0, 360.0, -1e-17, 720.0, 133.3;
    set.wrap_periodic(draws);
    CHECK(draws.row(0) == Eigen::RowVectorXd::LinSpaced(6, 1, 6));
    CHECK(draws(1, 0) == Approx(350.0));
    CHECK(draws(1, 1) == Approx(10.0));
    CHECK(draws(1, 2) == 0.0);
    CHECK(draws(1, 3) == 0.0);
    CHECK(draws(1, 4) == 0.0);
    CHECK(draws(1, 5) == 133.3);
    Eigen::VectorXd one = vec({2.0, -90.0});
    set.wrap_periodic(one);
    CHECK(one[1] == 270.0);
}
