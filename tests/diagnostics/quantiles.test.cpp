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

TEST_CASE("order statistics of many values, bracketed from a sample, equal those of the sorted values",
          "[diagnostics][quantiles]") {
    const std::vector<double> probabilities = {0.0, 0.16, 0.5, 0.84, 1.0};
    const std::size_t n = 100003;
    detail::random_stream random(7);
    std::vector<double> normal(n), ascending(n), ties(n), walkers(n);
    for (std::size_t i = 0; i < n; ++i) {
        normal[i] = random.normal();
        ascending[i] = static_cast<double>(i) * 1e-3;
        ties[i] = std::round(random.normal());  // 38% zeros
    }
    // Like an ensemble's draws: 101 walkers, each its own slow random walk,
    // stored draw after draw (walker after walker within a draw).
    std::vector<double> position(101, 0.0);
    for (std::size_t i = 0; i < n; ++i) walkers[i] = position[i % 101] += 0.05 * random.normal();
    for (const auto* values : {&normal, &ascending, &ties, &walkers}) {
        std::vector<double> sorted = *values, selected_from = *values;
        std::sort(sorted.begin(), sorted.end());
        const std::vector<double> selected = diskmc::detail::interpolated_order_statistics(selected_from, probabilities);
        for (std::size_t k = 0; k < probabilities.size(); ++k) {
            CAPTURE(values == &normal, values == &ascending, values == &ties, probabilities[k]);
            CHECK(selected[k] == diskmc::detail::interpolated_order_statistic(sorted, probabilities[k]));
        }
    }
    // Which path each took: the bracketed one answers for these values,
    // correlated ones included; it declines where ties crowd a bracket, and
    // where its sample misleads it (here the largest values alone), leaving
    // the answer to the selection in all the values.
    CHECK(diskmc::detail::bracketed_order_statistics(normal, probabilities).has_value());
    CHECK(diskmc::detail::bracketed_order_statistics(ascending, probabilities).has_value());
    CHECK(diskmc::detail::bracketed_order_statistics(walkers, probabilities).has_value());
    CHECK_FALSE(diskmc::detail::bracketed_order_statistics(ties, probabilities).has_value());
    std::vector<double> sorted_normal = normal;
    std::sort(sorted_normal.begin(), sorted_normal.end());
    const std::vector<double> largest(sorted_normal.end() - 2048, sorted_normal.end());
    CHECK_FALSE(diskmc::detail::bracketed_order_statistics(normal, probabilities, largest).has_value());
    CHECK(diskmc::detail::bracketed_order_statistics(normal, probabilities, {largest.begin(), largest.begin() + 63})
              == std::nullopt);  // too small a sample
}
