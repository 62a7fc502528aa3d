// Pareto-smoothed importance sampling on weights whose tail index is known.
//
// Tolerances come from a simulation of this estimator (200-400 seeds,
// S = 4000 draws): one k̂ has a standard deviation of 0.09-0.13 (190 tail
// draws), so a single run cannot pin k̂ down better than ±0.3; the mean of
// 16 independent runs has a standard deviation of 0.021-0.031 and a bias of
// at most 0.02 (the weakly informative prior pulls toward 0.5 with weight
// 10/(190+10)). The known-k̂ checks therefore average 16 runs and allow 0.1
// (more than 3 standard deviations plus the bias).

#include <catch2/catch.hpp>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "diskmc/detail/random_stream.hpp"
#include "diskmc/diagnostics/pareto_smoothing.hpp"

using namespace diskmc;

namespace {

constexpr Eigen::Index draws = 4000;

/// Proposal Exp(rate), target Exp(1): w ∝ exp((rate - 1) x), and
/// P(w > t) = t^(-rate / (rate - 1)), an exact Pareto tail of shape
/// k = 1 - 1/rate.
Eigen::VectorXd exponential_log_weights(double rate, std::uint64_t seed) {
    detail::random_stream random(seed);
    Eigen::VectorXd log_weights(draws);
    for (Eigen::Index i = 0; i < draws; ++i) {
        const double x = -std::log1p(-random.uniform()) / rate;
        log_weights[i] = (rate - 1.0) * x + std::log(1.0 / rate);
    }
    return log_weights;
}

/// Proposal N(0, sd^2), target N(0, 1): w ∝ exp(x^2 (1/sd^2 - 1) / 2); for
/// sd < 1 the tail shape is 1 - sd^2 (up to a slowly varying factor), for
/// sd > 1 the weights are bounded (k < 0).
Eigen::VectorXd normal_log_weights(double sd, std::uint64_t seed) {
    detail::random_stream random(seed);
    Eigen::VectorXd log_weights(draws);
    for (Eigen::Index i = 0; i < draws; ++i) {
        const double x = sd * random.normal();
        log_weights[i] = -0.5 * x * x + 0.5 * x * x / (sd * sd) + std::log(sd);
    }
    return log_weights;
}

double mean_khat_over_16_runs(double rate) {
    double sum = 0.0;
    for (std::uint64_t seed = 1; seed <= 16; ++seed)
        sum += pareto_smoothed_weights(exponential_log_weights(rate, seed)).khat;
    return sum / 16.0;
}

}  // namespace

TEST_CASE("k-hat recovers the known tail shape of exponential importance ratios", "[pareto_smoothing]") {
    for (const double rate : {1.25, 2.0, 4.0}) {
        CAPTURE(rate);
        CHECK(mean_khat_over_16_runs(rate) == Approx(1.0 - 1.0 / rate).margin(0.1));
    }
}

TEST_CASE("k-hat is small for a well-matched proposal and large for a heavy mismatch", "[pareto_smoothing]") {
    // A proposal wider than the target: bounded weights (simulated k̂ about
    // -1.7 ± 0.1), far below 0.5.
    CHECK(pareto_smoothed_weights(normal_log_weights(1.2, 3)).khat < 0.5);
    // A proposal 0.8 x the target's width: k = 0.36 (simulated 0.37 ± 0.09).
    CHECK(pareto_smoothed_weights(normal_log_weights(0.8, 3)).khat < 0.7);
    // Far too narrow (0.3): k = 0.91; mean of 16 runs, as above.
    double sum = 0.0;
    for (std::uint64_t seed = 1; seed <= 16; ++seed) sum += pareto_smoothed_weights(normal_log_weights(0.3, seed)).khat;
    CHECK(sum / 16.0 > 0.7);
    // An exact Pareto tail of shape 0.9 (rate 10): above the threshold.
    CHECK(mean_khat_over_16_runs(10.0) > 0.7);
}

TEST_CASE("smoothed weights keep the order, sum to 1, and are truncated at the largest raw weight",
          "[pareto_smoothing]") {
    const Eigen::VectorXd log_weights = exponential_log_weights(2.0, 7);
    const pareto_smoothing_result smoothed = pareto_smoothed_weights(log_weights);
    CHECK(smoothed.weights.sum() == Approx(1.0).epsilon(1e-12));
    CHECK(smoothed.tail_length == 190);  // ceil(min(0.2 x 4000, 3 sqrt(4000)))
    CHECK(smoothed.khat_threshold == Approx(0.7));
    std::vector<Eigen::Index> order(static_cast<std::size_t>(draws));
    std::iota(order.begin(), order.end(), Eigen::Index{0});
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return log_weights[a] < log_weights[b]; });
    for (std::size_t j = 1; j < order.size(); ++j) REQUIRE(smoothed.weights[order[j]] >= smoothed.weights[order[j - 1]]);
    // The body is untouched: ratios of body weights are the raw ratios.
    const Eigen::Index low = order[0], mid = order[2000];
    CHECK(std::log(smoothed.weights[mid] / smoothed.weights[low]) ==
          Approx(log_weights[mid] - log_weights[low]).epsilon(1e-9));
    // Truncation: no smoothed weight above the largest raw one, relative to the body.
    const Eigen::Index top = order.back();
    CHECK(std::log(smoothed.weights[top] / smoothed.weights[low]) <= log_weights[top] - log_weights[low] + 1e-9);
    CHECK(smoothed.effective_sample_size > 1.0);
    CHECK(smoothed.effective_sample_size < static_cast<double>(draws));
}

TEST_CASE("equal weights have no tail and the full ESS", "[pareto_smoothing]") {
    const pareto_smoothing_result smoothed = pareto_smoothed_weights(Eigen::VectorXd::Constant(1000, -3.0));
    CHECK(smoothed.khat == -std::numeric_limits<double>::infinity());
    CHECK(smoothed.reliable());
    CHECK(smoothed.effective_sample_size == Approx(1000.0));
    CHECK(smoothed.weights.minCoeff() == Approx(1e-3));
}

TEST_CASE("log-weights of -inf and NaN are weight 0, and too few weights give an infinite k-hat",
          "[pareto_smoothing]") {
    Eigen::VectorXd log_weights = normal_log_weights(1.2, 5);
    log_weights[10] = -std::numeric_limits<double>::infinity();
    log_weights[20] = std::numeric_limits<double>::quiet_NaN();
    const pareto_smoothing_result smoothed = pareto_smoothed_weights(log_weights);
    CHECK(smoothed.weights[10] == 0.0);
    CHECK(smoothed.weights[20] == 0.0);
    CHECK(smoothed.weights.sum() == Approx(1.0));
    CHECK(smoothed.khat < 0.5);

    const pareto_smoothing_result none =
        pareto_smoothed_weights(Eigen::VectorXd::Constant(50, -std::numeric_limits<double>::infinity()));
    CHECK(none.effective_sample_size == 0.0);
    CHECK(none.weights.sum() == 0.0);
    CHECK_FALSE(none.reliable());

    const pareto_smoothing_result short_sample = pareto_smoothed_weights(Eigen::VectorXd::LinSpaced(8, 0.0, 1.0));
    CHECK(short_sample.khat == std::numeric_limits<double>::infinity());  // a tail of 2 draws
    CHECK_FALSE(short_sample.reliable());
    CHECK(short_sample.weights.sum() == Approx(1.0));
}

TEST_CASE("the k-hat threshold follows the paper", "[pareto_smoothing]") {
    CHECK(pareto_khat_threshold(100) == Approx(0.5));
    CHECK(pareto_khat_threshold(1000) == Approx(2.0 / 3.0));
    CHECK(pareto_khat_threshold(100000) == Approx(0.7));
    CHECK(pareto_khat_threshold(5) == 0.0);
}
