#include <catch2/catch.hpp>

#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <random>

#include "diskmc/diagnostics/convergence.hpp"

namespace {

// Chains of a stationary Gaussian AR(1): x_t = rho x_{t-1} + sqrt(1 - rho^2) e_t.
// Its integrated autocorrelation time is (1 + rho)/(1 - rho).
Eigen::MatrixXd ar1_chains(double rho, Eigen::Index draws, Eigen::Index chains,
                           std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    Eigen::MatrixXd x(draws, chains);
    const double innovation = std::sqrt(1.0 - rho * rho);
    for (Eigen::Index c = 0; c < chains; ++c) {
        double value = normal(rng);
        for (Eigen::Index t = 0; t < draws; ++t) {
            value = rho * value + innovation * normal(rng);
            x(t, c) = value;
        }
    }
    return x;
}

// The exact ESS of the indicator I(x <= q_p) of a Gaussian AR(1): its lag-k
// autocorrelation is (Phi2(q, q; rho^k) - p^2) / (p (1 - p)), with the
// bivariate normal CDF from Plackett's identity
// dPhi2(q, q; r)/dr = exp(-q^2/(1 + r)) / (2 pi sqrt(1 - r^2)).
double ar1_indicator_ess(double rho, double p, double total_draws) {
    const double q = boost::math::quantile(boost::math::normal(), p);
    auto density = [q](double r) {
        return std::exp(-q * q / (1.0 + r)) / (2.0 * M_PI * std::sqrt(1.0 - r * r));
    };
    double tau = 1.0;
    double r = rho;
    for (int k = 1; k < 2000 && r > 1e-12; ++k, r *= rho) {
        const int steps = 2000;  // Simpson's rule on [0, r]
        double integral = density(0.0) + density(r);
        for (int i = 1; i < steps; ++i) integral += (i % 2 ? 4.0 : 2.0) * density(r * i / steps);
        integral *= r / (3.0 * steps);
        tau += 2.0 * integral / (p * (1.0 - p));
    }
    return total_draws / tau;
}

}  // namespace

TEST_CASE("ESS of an AR(1) process matches its known value within 10%", "[diagnostics][ess]") {
    for (double rho : {0.0, 0.5, 0.9}) {
        CAPTURE(rho);
        const Eigen::MatrixXd x = ar1_chains(rho, 50000, 4, 11);
        const double expected = static_cast<double>(x.size()) * (1.0 - rho) / (1.0 + rho);
        CHECK(diskmc::geyer_effective_sample_size(x) == Approx(expected).epsilon(0.10));
        CHECK(diskmc::split_effective_sample_size(x) == Approx(expected).epsilon(0.10));
        // Rank normalisation leaves a Gaussian chain's ESS unchanged.
        CHECK(diskmc::bulk_effective_sample_size(x) == Approx(expected).epsilon(0.10));
    }
}

TEST_CASE("tail ESS of an AR(1) process matches the exact indicator ESS within 10%",
          "[diagnostics][ess]") {
    for (double rho : {0.5, 0.9}) {
        CAPTURE(rho);
        const Eigen::MatrixXd x = ar1_chains(rho, 100000, 4, 12);
        const double expected = ar1_indicator_ess(rho, 0.05, static_cast<double>(x.size()));
        CHECK(diskmc::tail_effective_sample_size(x) == Approx(expected).epsilon(0.10));
    }
    // Sanity of the oracle: for independent draws the indicator ESS is the count.
    CHECK(ar1_indicator_ess(0.0, 0.05, 1000.0) == Approx(1000.0));
}

TEST_CASE("rank normalisation uses average ranks and Blom's offsets", "[diagnostics]") {
    Eigen::MatrixXd x(4, 1);
    x << 3.0, 1.0, 2.0, 2.0;
    const Eigen::MatrixXd z = diskmc::rank_normalize(x);
    const boost::math::normal standard;
    auto expected = [&](double rank) { return boost::math::quantile(standard, (rank - 0.375) / 4.25); };
    CHECK(z(0, 0) == Approx(expected(4.0)));
    CHECK(z(1, 0) == Approx(expected(1.0)));
    CHECK(z(2, 0) == Approx(expected(2.5)));
    CHECK(z(3, 0) == Approx(expected(2.5)));
}

TEST_CASE("split chains drop the middle draw of odd-length chains", "[diagnostics]") {
    Eigen::MatrixXd x(5, 1);
    x << 1, 2, 3, 4, 5;
    const Eigen::MatrixXd split = diskmc::split_chains(x);
    REQUIRE(split.rows() == 2);
    REQUIRE(split.cols() == 2);
    CHECK(split(0, 0) == 1);
    CHECK(split(1, 0) == 2);
    CHECK(split(0, 1) == 4);
    CHECK(split(1, 1) == 5);
}

TEST_CASE("R-hat is near 1 for mixed chains and flags location, scale and trend",
          "[diagnostics][rhat]") {
    const Eigen::MatrixXd mixed = ar1_chains(0.5, 2000, 4, 13);
    CHECK(diskmc::split_rhat(mixed) < 1.01);
    CHECK(diskmc::rank_normalized_rhat(mixed) < 1.01);
    CHECK(diskmc::rank_normalized_rhat(mixed) >= 0.99);

    Eigen::MatrixXd shifted = mixed;
    shifted.col(0).array() += 1.0;
    CHECK(diskmc::split_rhat(shifted) > 1.1);
    CHECK(diskmc::rank_normalized_rhat(shifted) > 1.1);

    // Same centre, different spread: only the folded (scale) part sees it.
    Eigen::MatrixXd scaled = mixed;
    scaled.col(2) *= 3.0;
    scaled.col(3) *= 3.0;
    CHECK(diskmc::split_rhat(scaled) < 1.02);
    CHECK(diskmc::rank_normalized_rhat(scaled) > 1.05);

    // A drift inside a single chain: splitting exposes it.
    Eigen::MatrixXd drifting = ar1_chains(0.5, 2000, 1, 14);
    for (Eigen::Index t = 0; t < drifting.rows(); ++t) drifting(t, 0) += 3.0 * t / 2000.0;
    CHECK(diskmc::split_rhat(drifting) > 1.1);
}

TEST_CASE("convergence diagnostics return NaN for degenerate input", "[diagnostics]") {
    CHECK(std::isnan(diskmc::bulk_effective_sample_size(Eigen::MatrixXd::Zero(3, 2))));
    CHECK(std::isnan(diskmc::geyer_effective_sample_size(Eigen::MatrixXd::Constant(100, 2, 1.5))));
    CHECK(std::isnan(diskmc::rank_normalized_rhat(Eigen::MatrixXd::Constant(100, 2, 1.5))));
    Eigen::MatrixXd with_nan = ar1_chains(0.0, 100, 2, 15);
    with_nan(5, 1) = std::nan("");
    CHECK(std::isnan(diskmc::tail_effective_sample_size(with_nan)));
    CHECK(std::isnan(diskmc::split_rhat(with_nan)));
}
