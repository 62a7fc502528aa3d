#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <vector>

#include "diskmc/diagnostics/autocorrelation.hpp"
#include "diskmc/detail/random_stream.hpp"

using namespace diskmc;

namespace {

// `walkers` independent stationary AR(1) series x_t = rho x_{t-1} + e_t, whose
// integrated autocorrelation time is (1 + rho) / (1 - rho).
Eigen::MatrixXd ar1_series(double rho, Eigen::Index steps, Eigen::Index walkers, std::uint64_t seed) {
    detail::random_stream random(seed);
    Eigen::MatrixXd x(steps, walkers);
    const double innovation = std::sqrt(1.0 - rho * rho);  // unit marginal variance
    for (Eigen::Index k = 0; k < walkers; ++k) {
        x(0, k) = random.normal();
        for (Eigen::Index t = 1; t < steps; ++t) x(t, k) = rho * x(t - 1, k) + innovation * random.normal();
    }
    return x;
}

// emcee's estimator written out with direct O(n^2) sums, as an independent
// oracle for the FFT-based implementation.
double direct_tau(const Eigen::MatrixXd& x, double c) {
    const Eigen::Index n = x.rows();
    Eigen::VectorXd rho = Eigen::VectorXd::Zero(n);
    for (Eigen::Index k = 0; k < x.cols(); ++k) {
        const Eigen::VectorXd centred = x.col(k).array() - x.col(k).mean();
        const double c0 = centred.squaredNorm();
        for (Eigen::Index t = 0; t < n; ++t) rho[t] += centred.head(n - t).dot(centred.tail(n - t)) / c0;
    }
    rho /= static_cast<double>(x.cols());
    double sum = 0.0;
    for (Eigen::Index m = 0; m < n; ++m) {
        sum += rho[m];
        const double tau = 2.0 * sum - 1.0;
        if (static_cast<double>(m) >= c * tau) return tau;
    }
    return 2.0 * sum - 1.0;
}

}  // namespace

TEST_CASE("integrated autocorrelation time of AR(1) series is (1 + rho) / (1 - rho) within 10%",
          "[diagnostics][autocorrelation]") {
    // Sokal's variance of the windowed estimate, 2 (2M + 1) tau^2 / N per
    // walker with M ~ 5 tau, gives a relative error of about 2.5% for
    // rho = 0.9 here: the 10% tolerance is four standard errors.
    for (const double rho : {0.0, 0.5, 0.9}) {
        const double expected = (1.0 + rho) / (1.0 - rho);
        const Eigen::MatrixXd x = ar1_series(rho, 40000, 16, 7);
        const autocorrelation_estimate estimate = integrated_autocorrelation_time(x);
        CAPTURE(rho, expected, estimate.tau, estimate.window);
        CHECK(estimate.tau == Approx(expected).epsilon(0.10));
        CHECK(estimate.reliable());
        CHECK(estimate.walkers_used == 16);
        CHECK(estimate.steps == 40000);
        // The window is the first M >= 5 tau(M).
        CHECK(static_cast<double>(estimate.window) >= 5.0 * estimate.tau);
        CHECK(static_cast<double>(estimate.window) < 5.0 * estimate.tau + 6.0);
    }
}

TEST_CASE("autocorrelation time by FFT equals emcee's estimator written as direct sums",
          "[diagnostics][autocorrelation]") {
    const Eigen::MatrixXd x = ar1_series(0.7, 300, 3, 11);
    CHECK(integrated_autocorrelation_time(x).tau == Approx(direct_tau(x, 5.0)).epsilon(1e-10));
    const autocorrelation_options wide{.window_factor = 10.0};
    CHECK(integrated_autocorrelation_time(x, wide).tau == Approx(direct_tau(x, 10.0)).epsilon(1e-10));
}

TEST_CASE("a chain shorter than 50 tau gets a status, not an exception",
          "[diagnostics][autocorrelation]") {
    const Eigen::MatrixXd x = ar1_series(0.9, 400, 4, 3);  // 50 tau = 950 > 400
    const autocorrelation_estimate estimate = integrated_autocorrelation_time(x);
    CHECK(estimate.status == autocorrelation_status::chain_too_short);
    CHECK_FALSE(estimate.reliable());
    CHECK(std::isfinite(estimate.tau));
    CHECK(estimate.tau > 1.0);
    // A lower threshold makes the same chain acceptable.
    CHECK(integrated_autocorrelation_time(x, {.minimum_length_in_tau = 5.0}).reliable());
}

TEST_CASE("constant walkers are left out, an all-constant trace has no tau",
          "[diagnostics][autocorrelation]") {
    Eigen::MatrixXd x = ar1_series(0.5, 5000, 4, 5);
    const double with_all = integrated_autocorrelation_time(x).tau;
    x.col(2).setConstant(1.5);  // a stuck walker
    const autocorrelation_estimate estimate = integrated_autocorrelation_time(x);
    CHECK(estimate.walkers_used == 3);
    CHECK(estimate.tau == Approx(with_all).epsilon(0.1));

    const autocorrelation_estimate none = integrated_autocorrelation_time(Eigen::MatrixXd::Constant(100, 4, 2.0));
    CHECK(none.status == autocorrelation_status::no_variation);
    CHECK(std::isnan(none.tau));
    CHECK(none.walkers_used == 0);
}

TEST_CASE("autocorrelation input errors throw invalid_input", "[diagnostics][autocorrelation]") {
    CHECK_THROWS_AS(integrated_autocorrelation_time(Eigen::MatrixXd(0, 3)), invalid_input);
    Eigen::MatrixXd x = Eigen::MatrixXd::Random(10, 2);
    x(3, 1) = std::nan("");
    CHECK_THROWS_WITH(integrated_autocorrelation_time(x), Catch::Contains("finite"));
    CHECK_THROWS_WITH(integrated_autocorrelation_time(Eigen::MatrixXd::Random(10, 2), {.window_factor = 0.0}),
                      Catch::Contains("window_factor"));
}

TEST_CASE("effective sample size is the sample count over tau", "[diagnostics][autocorrelation]") {
    CHECK(effective_sample_size_from_tau(32000, 40.0) == 800.0);
    const Eigen::MatrixXd x = ar1_series(0.0, 20000, 4, 9);
    const double tau = integrated_autocorrelation_time(x).tau;
    CHECK(effective_sample_size_from_tau(80000, tau) == Approx(80000.0).epsilon(0.1));
}

TEST_CASE("the autocorrelation time is the same on every call, wherever the allocator puts its buffers",
          "[diagnostics][autocorrelation]") {
    // Eigen's vectorised sums add the elements before the first aligned
    // packet on their own: on a buffer placed at another offset they add in
    // another order. The transforms' buffers are aligned so that a series'
    // mean and variance, and tau, do not change in the last bits from call
    // to call (once seen as a seed's ensemble stopping at another ESS).
    for (const Eigen::Index steps : {300, 700, 1000, 2000}) {
        const Eigen::MatrixXd walkers = ar1_series(0.9, steps, 16, 12);
        const double first = integrated_autocorrelation_time(walkers).tau;
        std::vector<std::vector<char>> shifts;  // kept, so each call's buffers land elsewhere
        for (std::size_t k = 1; k <= 8; ++k) {
            shifts.emplace_back(8 * k + 1);
            CAPTURE(steps, k);
            CHECK(integrated_autocorrelation_time(walkers).tau == first);
        }
    }
}
