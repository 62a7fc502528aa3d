#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "diskmc/diagnostics/quantiles.hpp"
#include "diskmc/detail/random_stream.hpp"

using namespace diskmc;

TEST_CASE("quantiles interpolate between order statistics as numpy does", "[diagnostics][quantiles]") {
    // numpy.quantile([3, 1, 4, 2, 5], [0, 0.16, 0.5, 0.84, 1]) = [1, 1.64, 3, 4.36, 5]
    const Eigen::VectorXd values = (Eigen::VectorXd(5) << 3, 1, 4, 2, 5).finished();
    const Eigen::VectorXd q = quantiles(values, (Eigen::VectorXd(5) << 0, 0.16, 0.5, 0.84, 1).finished());
    CHECK(q[0] == 1.0);
    CHECK(q[1] == Approx(1.64).epsilon(1e-14));
    CHECK(q[2] == 3.0);
    CHECK(q[3] == Approx(4.36).epsilon(1e-14));
    CHECK(q[4] == 5.0);
    CHECK(quantile((Eigen::VectorXd(4) << 1, 2, 3, 4).finished(), 0.5) == 2.5);
    CHECK(quantile(Eigen::VectorXd::Constant(1, 7.0), 0.3) == 7.0);
}

TEST_CASE("16/50/84 summary of a normal sample is -1, 0, +1 sigma", "[diagnostics][quantiles]") {
    detail::random_stream random(4);
    Eigen::VectorXd x(200000);
    for (auto& v : x) v = 2.0 + 3.0 * random.normal();
    const quantile_summary s = summarize_quantiles(x);
    // Standard error of a sample quantile: sqrt(p (1 - p) / n) / density ~ 0.008 sigma here.
    CHECK(s.median == Approx(2.0).margin(0.03));
    CHECK(s.minus() == Approx(3.0 * 0.994458).margin(0.04));
    CHECK(s.plus() == Approx(3.0 * 0.994458).margin(0.04));
}

TEST_CASE("quantile input errors throw invalid_input", "[diagnostics][quantiles]") {
    CHECK_THROWS_AS(quantile(Eigen::VectorXd(), 0.5), invalid_input);
    CHECK_THROWS_WITH(quantile(Eigen::VectorXd::Constant(3, std::nan("")), 0.5), Catch::Contains("finite"));
    CHECK_THROWS_WITH(quantile(Eigen::VectorXd::Ones(3), 1.5), Catch::Contains("probability"));
}

TEST_CASE("order statistics by partial selection equal those of the sorted values", "[diagnostics][quantiles]") {
    const std::vector<double> probabilities = {0.0, 0.16, 0.16, 0.5, 0.84, 0.999, 1.0};
    for (const std::size_t n : {1u, 2u, 7u, 1000u}) {
        std::vector<double> values(n);
        for (std::size_t i = 0; i < n; ++i)
            values[i] = std::round(10.0 * std::sin(1.7 * static_cast<double>(i * i + 1)));  // with ties
        std::vector<double> sorted = values;
        std::sort(sorted.begin(), sorted.end());
        const std::vector<double> selected = diskmc::detail::interpolated_order_statistics(values, probabilities);
        REQUIRE(selected.size() == probabilities.size());
        for (std::size_t k = 0; k < probabilities.size(); ++k) {
            CAPTURE(n, probabilities[k]);
            CHECK(selected[k] == diskmc::detail::interpolated_order_statistic(sorted, probabilities[k]));
        }
    }
}
