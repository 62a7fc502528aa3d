// The ensemble sampler on targets with known answers: moments within 5 Monte
// Carlo standard errors (MCSE from the integrated autocorrelation time),
// simulation-based calibration, and the machinery (start checks, threads,
// batching, NaN regions, checkpoint and resume).
//
// Most targets go through one std::function-based model type, so the
// sampler is instantiated a handful of times only (compile time). Dense
// decompositions and matrix-matrix products are avoided on purpose: with
// -march=native (AVX-512) g++ 12 reports false -Wuninitialized warnings
// inside Eigen's blocked kernels under the sanitizer build's -Werror.

#include <catch2/catch.hpp>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <atomic>
#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "diskmc/concepts/archetypes.hpp"
#include "diskmc/detail/random_stream.hpp"
#include "diskmc/samplers/ensemble.hpp"
#include "support/temporary_folder.hpp"
#include "support/function_model.hpp"
#include "support/test_values.hpp"

using namespace diskmc;

namespace {

// ---- helpers ---------------------------------------------------------------

using diskmc::testing::sanitized;

/// `full` normally, `reduced` under the sanitizers (never zero).
std::size_t scaled(std::size_t full, std::size_t reduced) { return sanitized() ? reduced : full; }

using diskmc::testing::density_function;

/// A dynamic vector or matrix from values. (Fixed-size Eigen temporaries
/// converted to dynamic ones trip a false g++ 12 -Warray-bounds with AVX-512,
/// so the tests use dynamic sizes throughout.)
Eigen::VectorXd vector_of(std::initializer_list<double> values) {
    Eigen::VectorXd v(static_cast<Eigen::Index>(values.size()));
    Eigen::Index i = 0;
    for (const double x : values) v[i++] = x;
    return v;
}
Eigen::MatrixXd matrix_2x2(double a, double b, double c, double d) {
    Eigen::MatrixXd m(2, 2);
    m << a, b, c, d;
    return m;
}

using diskmc::testing::function_model;

/// The same, also evaluating a whole batch (column by column, so values are
/// bit-identical to function_model's).
struct batch_function_model : function_model {
    void log_density_batch(const Eigen::MatrixXd& points, Eigen::VectorXd& out) const {
        out.resize(points.cols());
        Eigen::VectorXd x(points.rows());
        for (Eigen::Index k = 0; k < points.cols(); ++k) {
            x = points.col(k);
            out[k] = density(x);
        }
    }
};
static_assert(!batch_log_density<function_model>);
static_assert(batch_log_density<batch_function_model>);

/// log N(x | mean, covariance) up to a constant.
density_function gaussian_density(const Eigen::VectorXd& mean, const Eigen::MatrixXd& covariance) {
    const Eigen::LDLT<Eigen::MatrixXd> factor(covariance);
    Eigen::MatrixXd precision(covariance.rows(), covariance.cols());
    for (Eigen::Index i = 0; i < covariance.cols(); ++i)
        precision.col(i) = factor.solve(Eigen::VectorXd::Unit(covariance.cols(), i));
    return [mean, precision](const Eigen::VectorXd& x) {
        const Eigen::VectorXd d = x - mean;
        return -0.5 * d.dot(precision * d);
    };
}

/// A random orthogonal matrix (Gram-Schmidt, twice, on Gaussian columns).
Eigen::MatrixXd random_rotation(Eigen::Index dim, std::uint64_t seed) {
    detail::random_stream random(seed);
    Eigen::MatrixXd q(dim, dim);
    for (auto& v : q.reshaped()) v = random.normal();
    for (Eigen::Index k = 0; k < dim; ++k)
        for (int pass = 0; pass < 2; ++pass) {
            for (Eigen::Index j = 0; j < k; ++j) q.col(k) -= q.col(j).dot(q.col(k)) * q.col(j);
            q.col(k).normalize();
        }
    return q;
}

/// Eigenvalues from 1 to `condition`, log-spaced.
Eigen::VectorXd log_spaced_eigenvalues(Eigen::Index dim, double condition) {
    Eigen::VectorXd eigenvalues(dim);
    for (Eigen::Index i = 0; i < dim; ++i)
        eigenvalues[i] = std::pow(condition, static_cast<double>(i) / static_cast<double>(dim - 1));
    return eigenvalues;
}

/// sum_k lambda_k q_k q_k^T: eigenvalues from 1 to `condition` in a random orientation.
Eigen::MatrixXd rotated_covariance(Eigen::Index dim, double condition, std::uint64_t seed) {
    const Eigen::MatrixXd q = random_rotation(dim, seed);
    const Eigen::VectorXd eigenvalues = log_spaced_eigenvalues(dim, condition);
    Eigen::MatrixXd covariance = Eigen::MatrixXd::Zero(dim, dim);
    for (Eigen::Index k = 0; k < dim; ++k) covariance += eigenvalues[k] * q.col(k) * q.col(k).transpose();
    return covariance;
}

/// An ensemble average of g with its Monte Carlo standard error. The MCSE
/// comes from the series of ensemble means m_t = mean_w g(x_{t,w}), whose
/// variance includes the correlation between walkers, and its integrated
/// autocorrelation time: MCSE = sd(m) sqrt(tau / T).
struct monte_carlo_estimate {
    double value = 0.0;
    double mcse = 0.0;
    autocorrelation_estimate tau;
};

monte_carlo_estimate ensemble_average(const ensemble_result& r, const density_function& g) {
    const auto draws = static_cast<Eigen::Index>(r.draws());
    Eigen::VectorXd m(draws);
    for (Eigen::Index t = 0; t < draws; ++t) {
        double sum = 0.0;
        for (std::size_t w = 0; w < r.walkers; ++w)
            sum += g(r.position(static_cast<std::size_t>(t), w));
        m[t] = sum / static_cast<double>(r.walkers);
    }
    monte_carlo_estimate estimate;
    estimate.value = m.mean();
    estimate.tau = integrated_autocorrelation_time(m);
    const double variance = (m.array() - estimate.value).square().sum() / static_cast<double>(draws - 1);
    estimate.mcse = std::sqrt(variance * estimate.tau.tau / static_cast<double>(draws));
    return estimate;
}

/// Checks E[g] == expected within 5 MCSE, with a reliable tau.
void check_expectation(const ensemble_result& r, const std::string& what, const density_function& g,
                       double expected) {
    const monte_carlo_estimate e = ensemble_average(r, g);
    INFO(what << ": estimate " << e.value << " expected " << expected << " mcse " << e.mcse
              << " tau " << e.tau.tau << " (" << r.draws() << " draws)");
    CHECK(e.tau.reliable());
    CHECK(std::abs(e.value - expected) <= 5.0 * e.mcse);
}

/// Means and all covariances of a run against the truth, each within 5 MCSE.
void check_moments(const ensemble_result& r, const Eigen::VectorXd& mean, const Eigen::MatrixXd& covariance) {
    const auto dim = mean.size();
    for (Eigen::Index i = 0; i < dim; ++i)
        check_expectation(r, "mean " + std::to_string(i), [i](const Eigen::VectorXd& x) { return x[i]; },
                          mean[i]);
    for (Eigen::Index i = 0; i < dim; ++i)
        for (Eigen::Index j = 0; j <= i; ++j)
            check_expectation(
                r, "covariance " + std::to_string(i) + "," + std::to_string(j),
                [&mean, i, j](const Eigen::VectorXd& x) { return (x[i] - mean[i]) * (x[j] - mean[j]); },
                covariance(i, j));
}

/// A standard 4-D test target: correlated, different scales, non-zero mean.
struct correlated_gaussian {
    Eigen::VectorXd mean = (Eigen::VectorXd(4) << 1.0, -2.0, 0.5, 10.0).finished();
    Eigen::MatrixXd covariance = [] {
        Eigen::MatrixXd c = rotated_covariance(4, 100.0, 21);
        const Eigen::VectorXd scale = (Eigen::VectorXd(4) << 1.0, 0.1, 3.0, 0.01).finished();
        return Eigen::MatrixXd(scale.asDiagonal() * c * scale.asDiagonal());
    }();
    function_model model() const { return {4, gaussian_density(mean, covariance)}; }
};

using diskmc::testing::temporary_folder;

void check_identical(const ensemble_result& a, const ensemble_result& b) {
    CHECK(a.samples.cols() == b.samples.cols());
    CHECK(a.samples == b.samples);
    CHECK(a.log_densities == b.log_densities);
    CHECK(a.acceptance == b.acceptance);
    CHECK(a.final_positions == b.final_positions);
    CHECK(a.final_log_densities == b.final_log_densities);
    CHECK(a.iterations == b.iterations);
    CHECK(a.log_density_evaluations == b.log_density_evaluations);
    CHECK(a.outside_support_proposals == b.outside_support_proposals);
    CHECK(a.invalid_proposals == b.invalid_proposals);
    REQUIRE(a.move_statistics.size() == b.move_statistics.size());
    for (std::size_t m = 0; m < a.move_statistics.size(); ++m) {
        CHECK(a.move_statistics[m].iterations == b.move_statistics[m].iterations);
        CHECK(a.move_statistics[m].proposals == b.move_statistics[m].proposals);
        CHECK(a.move_statistics[m].accepted == b.move_statistics[m].accepted);
    }
}

}  // namespace

// ---- correctness on known targets --------------------------------------------

TEST_CASE("10-D Gaussian with condition number 1e4 and strong correlations: moments within 5 MCSE",
          "[ensemble][correctness]") {
    const Eigen::Index dim = 10;
    const Eigen::MatrixXd covariance = rotated_covariance(dim, 1e4, 5);
    Eigen::VectorXd mean(dim);
    for (Eigen::Index i = 0; i < dim; ++i) mean[i] = static_cast<double>(i) - 4.5;

    // The target is as hard as claimed: condition number 1e4, |correlation| > 0.9 somewhere.
    const Eigen::VectorXd sd = covariance.diagonal().cwiseSqrt();
    const Eigen::MatrixXd correlation = sd.cwiseInverse().asDiagonal() * covariance * sd.cwiseInverse().asDiagonal();
    REQUIRE((correlation - Eigen::MatrixXd::Identity(dim, dim)).cwiseAbs().maxCoeff() > 0.9);
    // Its eigenpairs are (lambda_k, q_k) with lambda from 1 to 1e4.
    const Eigen::MatrixXd q = random_rotation(dim, 5);
    const Eigen::VectorXd eigenvalues = log_spaced_eigenvalues(dim, 1e4);
    for (Eigen::Index k = 0; k < dim; ++k)
        REQUIRE((covariance * q.col(k) - eigenvalues[k] * q.col(k)).norm() < 1e-9 * eigenvalues[k]);
    REQUIRE(eigenvalues.maxCoeff() / eigenvalues.minCoeff() == Approx(1e4).epsilon(1e-12));

    const function_model model{10, gaussian_density(mean, covariance)};
    // Started in a small ball off the mode: burn-in must find the scale.
    const ensemble_start start = scatter_start{.point = Eigen::VectorXd::Constant(dim, 1.0), .walkers = 40, .scatter = 0.1};
    const ensemble_result r =
        ensemble(model, start, {.steps = scaled(40000, 20000), .burn_in = 4000, .thin = 10, .threads = 1}, 1);
    CHECK(r.stuck_walkers.empty());
    CHECK(r.invalid_proposals == 0);
    CHECK(ensemble_warnings(r).empty());
    check_moments(r, mean, covariance);
}

TEST_CASE("2-D Rosenbrock (banana) density: closed-form moments within 5 MCSE", "[ensemble][correctness]") {
    // p(x, y) ∝ exp(-(x - a)^2 / (2 s1^2) - (y - b x^2)^2 / (2 s2^2)):
    // x ~ N(a, s1^2) and y | x ~ N(b x^2, s2^2), so
    //   E x = a, Var x = s1^2, E y = b (a^2 + s1^2),
    //   Var y = s2^2 + b^2 Var(x^2) = s2^2 + b^2 (4 a^2 s1^2 + 2 s1^4),
    //   Cov(x, y) = b Cov(x, x^2) = 2 a b s1^2.
    const double a = 1.0, s1 = 1.0, b = 1.0, s2 = 0.5;
    const function_model model{2, [=](const Eigen::VectorXd& x) {
                                   const double u = (x[0] - a) / s1, v = (x[1] - b * x[0] * x[0]) / s2;
                                   return -0.5 * (u * u + v * v);
                               }};
    const Eigen::VectorXd mean = vector_of({a, b * (a * a + s1 * s1)});
    Eigen::MatrixXd covariance(2, 2);
    covariance << s1 * s1, 2 * a * b * s1 * s1, 2 * a * b * s1 * s1,
        s2 * s2 + b * b * (4 * a * a * s1 * s1 + 2 * s1 * s1 * s1 * s1);
    const ensemble_result r = ensemble(model, scatter_start{.point = vector_of({1.0, 2.0}), .walkers = 32, .scatter = 0.1},
                                       {.steps = scaled(40000, 20000), .burn_in = 2000, .thin = 10, .threads = 1}, 2);
    check_moments(r, mean, covariance);
    // A third moment, which the banana's skewness makes non-zero:
    // E[(x - a)^2 (y - E y)] = b E[(x - a)^2 (x^2 - a^2 - s1^2)] = b (2 s1^4 + 0 + ...)
    // with x = a + s1 z: (x^2 - a^2 - s1^2) = 2 a s1 z + s1^2 (z^2 - 1), so
    // E[s1^2 z^2 (2 a s1 z + s1^2 (z^2 - 1))] = s1^4 (3 - 1) = 2 s1^4.
    check_expectation(r, "E[(x-a)^2 (y-Ey)]",
                      [&](const Eigen::VectorXd& x) { return (x[0] - a) * (x[0] - a) * (x[1] - mean[1]); },
                      b * 2 * s1 * s1 * s1 * s1);
}

// ---- the summary table ---------------------------------------------------------

TEST_CASE("ensemble summary of a correlated Gaussian: moments and quantiles within 5 MCSE, ESS is draws over tau",
          "[ensemble][summary]") {
    const correlated_gaussian target;
    const ensemble_result r =
        ensemble(target.model(), scatter_start{.point = target.mean, .walkers = 32, .scatter = 0.1},
                 {.steps = scaled(20000, 8000), .burn_in = 2000, .thin = 5, .threads = 1}, 3);
    const std::vector<std::string> names = {"a", "b", "c", "d"};
    const posterior_summary s = summarize(r, names);
    REQUIRE(s.parameters.size() == 4);
    CHECK(s.ess == ess_estimator::autocorrelation_time);
    CHECK(s.chains == 32);
    CHECK(s.draws_per_chain == r.draws());
    CHECK(s.warnings.empty());
    const std::vector<autocorrelation_estimate> taus = integrated_autocorrelation_times(r);
    const double samples = static_cast<double>(r.draws() * r.walkers);
    const double z84 = boost::math::quantile(boost::math::normal(), 0.84);
    for (std::size_t p = 0; p < 4; ++p) {
        const parameter_summary& line = s.parameters[p];
        const auto i = static_cast<Eigen::Index>(p);
        const double sd = std::sqrt(target.covariance(i, i));
        INFO(line.name << ": mean " << line.mean << " sd " << line.sd << " tau " << line.tau << " ess "
                       << line.ess_tau << " mcse " << line.mcse_mean);
        CHECK(line.name == names[p]);
        // The ESS is the pooled draws over the ensemble's tau, not a per-walker rank-normalised ESS.
        // (To rounding: FFTW's sums may differ in the last bits between two transforms.)
        CHECK(line.tau == Approx(taus[p].tau).epsilon(1e-12));
        CHECK(taus[p].reliable());
        CHECK(line.ess_tau == Approx(samples / line.tau).epsilon(1e-14));
        CHECK(line.mcse_mean == Approx(line.sd / std::sqrt(line.ess_tau)).epsilon(1e-14));
        CHECK(std::isnan(line.ess_bulk));
        CHECK(std::isnan(line.ess_tail));
        CHECK(std::isnan(line.rhat));
        // Known moments, each within 5 Monte Carlo standard errors of the
        // reported ESS: sd / sqrt(ESS) for the mean, sd / sqrt(2 ESS) for
        // the sd, sqrt(q (1 - q) / ESS) / density for a quantile.
        const double ess = line.ess_tau;
        CHECK(std::abs(line.mean - target.mean[i]) <= 5.0 * sd / std::sqrt(ess));
        CHECK(std::abs(line.sd - sd) <= 5.0 * sd / std::sqrt(2.0 * ess));
        const auto quantile_mcse = [&](double q, double z) {
            return std::sqrt(q * (1.0 - q) / ess) / (boost::math::pdf(boost::math::normal(), z) / sd);
        };
        CHECK(std::abs(line.p16 - (target.mean[i] - z84 * sd)) <= 5.0 * quantile_mcse(0.16, z84));
        CHECK(std::abs(line.p50 - target.mean[i]) <= 5.0 * quantile_mcse(0.5, 0.0));
        CHECK(std::abs(line.p84 - (target.mean[i] + z84 * sd)) <= 5.0 * quantile_mcse(0.84, z84));
        // The summary's MCSE of the mean agrees with one from the series of
        // ensemble means (which includes the correlation between walkers)
        // within a factor 2: the ESS it reports is not an overstatement.
        const monte_carlo_estimate e = ensemble_average(r, [i](const Eigen::VectorXd& x) { return x[i]; });
        CHECK(line.mcse_mean >= 0.5 * e.mcse);
        CHECK(line.mcse_mean <= 2.0 * e.mcse);
    }
    const std::string table = format_summary(s);
    CHECK_THAT(table, Catch::Contains("tau") && Catch::Contains("ess(tau)") && Catch::Contains("32 walkers"));
    CHECK_THAT(table, !Catch::Contains("r_hat"));
}

TEST_CASE("the ensemble's autocorrelation times in one pass equal the estimator on each parameter's trace",
          "[ensemble][summary]") {
    const correlated_gaussian target;
    const ensemble_result r = ensemble(target.model(), scatter_start{.point = target.mean, .walkers = 12, .scatter = 0.1},
                                       {.steps = 777, .threads = 1}, 4);
    const std::vector<autocorrelation_estimate> taus = integrated_autocorrelation_times(r, {.window_factor = 4.0});
    REQUIRE(taus.size() == 4);
    for (std::size_t p = 0; p < 4; ++p) {
        const autocorrelation_estimate one = integrated_autocorrelation_time(r.trace(p), {.window_factor = 4.0});
        CHECK(taus[p].tau == Approx(one.tau).epsilon(1e-13));
        CHECK(taus[p].window == one.window);
        CHECK(taus[p].status == one.status);
        CHECK(taus[p].walkers_used == 12);
        CHECK(taus[p].steps == 777);
    }
}

TEST_CASE("the ensemble's autocorrelation times with shortened transforms equal the full estimator on AR(1) walkers",
          "[ensemble][summary]") {
    // Walkers that are independent AR(1) series x_t = phi x_{t-1} + e_t,
    // tau = (1 + phi) / (1 - phi), different per parameter: the pilot's
    // lags suffice for the short taus, and the long ones (a chain shorter
    // than 50 tau, the window near the end) need the pass with every lag.
    const std::vector<double> known_taus = {1.0, 4.0, 20.0, 150.0, 600.0};
    const std::size_t walkers = 64, draws = 3000;
    ensemble_result run;
    run.dim = known_taus.size();
    run.walkers = walkers;
    run.samples.resize(static_cast<Eigen::Index>(run.dim), static_cast<Eigen::Index>(draws * walkers));
    detail::random_stream random(17);
    for (std::size_t p = 0; p < run.dim; ++p) {
        const double phi = (known_taus[p] - 1.0) / (known_taus[p] + 1.0);
        const double innovation = std::sqrt(1.0 - phi * phi);
        for (std::size_t w = 0; w < walkers; ++w) {
            double x = random.normal();
            for (std::size_t d = 0; d < draws; ++d) {
                x = phi * x + innovation * random.normal();
                run.samples(static_cast<Eigen::Index>(p), static_cast<Eigen::Index>(d * walkers + w)) = x;
            }
        }
    }
    const std::vector<autocorrelation_estimate> taus = integrated_autocorrelation_times(run);
    for (std::size_t p = 0; p < run.dim; ++p) {
        const autocorrelation_estimate full = integrated_autocorrelation_time(run.trace(p));
        CAPTURE(p, known_taus[p], full.tau, full.window);
        CHECK(taus[p].tau == Approx(full.tau).epsilon(1e-12));
        CHECK(taus[p].window == full.window);
        CHECK(taus[p].status == full.status);
        CHECK(taus[p].walkers_used == walkers);
        // Reliable estimates are near the known tau (Sokal's standard error
        // is about 1% here for tau = 20); the short chains' are low.
        if (full.reliable()) CHECK(full.tau == Approx(known_taus[p]).epsilon(0.1));
    }
    CHECK(taus[2].reliable());
    CHECK_FALSE(taus[4].reliable());
}

TEST_CASE("ensemble summary warnings and checks", "[ensemble][summary]") {
    const correlated_gaussian target;
    // 200 draws are far fewer than 50 tau for a 4-D Gaussian started in a small ball.
    const ensemble_result r = ensemble(target.model(), scatter_start{.point = target.mean, .walkers = 12, .scatter = 0.1},
                                       {.steps = 200, .threads = 1}, 5);
    const posterior_summary s = summarize(r);
    CHECK(s.parameters[0].name == "x[0]");
    CHECK_THAT(detail::joined_names(s.warnings), Catch::Contains("shorter than 50 autocorrelation times"));
    CHECK_THAT(detail::joined_names(s.warnings), Catch::Contains("ESS (draws / tau) below 400"));
    CHECK_THROWS_WITH(summarize(r, {"a", "b"}), Catch::Contains("names"));
    CHECK_THROWS_WITH(summarize(r, {}, {.minimum_ess = 0.0}), Catch::Contains("minimum_ess"));
}

TEST_CASE("bimodal mixture: DE moves walkers between the modes, the stretch move cannot",
          "[ensemble][correctness]") {
    // 0.3 N((-8, 0), I) + 0.7 N((8, 0), I), walkers started half in each mode.
    //
    // Stretch: Y = X_j + z (X - X_j) with z >= 1/a = 1/2, so Y is at least
    // half as far from the partner X_j as X is. To land in the other mode's
    // bulk (within ~3 of its centre X_j), X must already be within ~6 of it,
    // i.e. 10 standard deviations from its own mode: walkers never change
    // mode, and the ensemble keeps its initial 50/50 split instead of 30/70.
    // (With modes only 10 apart, two-step crossings through the tails do
    // happen, slowly.) Mode weights from a stretch-only run are whatever the
    // start gave them.
    //
    // DE: Y = X + gamma (X_i - X_j), gamma = 2.38 / sqrt(2 dim) = 1.19 here.
    // With X_i, X_j in different modes the jump is 1.19 times the mode
    // separation, landing about 3 beyond the other mode's centre, which is
    // accepted now and then: walkers move between modes and the weights come
    // out right.
    const double left_weight = 0.3;
    const function_model model{2, [=](const Eigen::VectorXd& x) {
                                   const double left = std::log(left_weight) - 0.5 * ((x[0] + 8) * (x[0] + 8) + x[1] * x[1]);
                                   const double right = std::log(1 - left_weight) - 0.5 * ((x[0] - 8) * (x[0] - 8) + x[1] * x[1]);
                                   const double top = std::max(left, right);
                                   return top + std::log(std::exp(left - top) + std::exp(right - top));
                               }};
    const std::size_t walkers = 32;
    Eigen::MatrixXd start(2, walkers);
    detail::random_stream random(17);
    for (std::size_t k = 0; k < walkers; ++k) {
        const Eigen::Index c = static_cast<Eigen::Index>(k);
        start(0, c) = (k % 2 == 0 ? -8.0 : 8.0) + random.normal();
        start(1, c) = random.normal();
    }
    const auto right_fraction = [](const Eigen::VectorXd& x) { return x[0] > 0 ? 1.0 : 0.0; };
    const auto mode_changes = [](const ensemble_result& r) {
        std::size_t changes = 0;
        for (std::size_t t = 1; t < r.draws(); ++t)
            for (std::size_t w = 0; w < r.walkers; ++w)
                changes += (r.position(t, w)[0] > 0) != (r.position(t - 1, w)[0] > 0);
        return changes;
    };
    const ensemble_options options{.steps = scaled(20000, 10000), .thin = 5, .threads = 1};

    ensemble_options de = options;
    de.moves = {{de_move{}}};
    const ensemble_result with_de = ensemble(model, explicit_start{start}, de, 3);
    check_expectation(with_de, "right-mode weight (DE)", right_fraction, 1 - left_weight);
    CHECK(mode_changes(with_de) > 100);

    const ensemble_result with_stretch = ensemble(model, explicit_start{start}, options, 3);
    CHECK(mode_changes(with_stretch) == 0);
    for (std::size_t t = 0; t < with_stretch.draws(); t += 100) {
        double right = 0;
        for (std::size_t w = 0; w < walkers; ++w) right += right_fraction(with_stretch.position(t, w));
        CHECK(right / walkers == 0.5);
    }
}

TEST_CASE("simulation-based calibration on a hierarchical model: ranks are uniform",
          "[ensemble][correctness][sbc]") {
    // mu ~ N(0, 1), omega = log tau ~ N(0, 0.5^2), theta_j ~ N(mu, tau^2),
    // y_j ~ N(theta_j, 0.5^2), j = 1..3; parameters (mu, omega, theta_1..3).
    // For each of N data sets drawn from the prior predictive, the rank of
    // the true parameter among 20 posterior draws (the 20 walkers after a
    // long burn-in: at stationarity the walkers are independent draws, the
    // ensemble's stationary law being the product of the target) is uniform
    // on 0..20 if the sampler is calibrated (Talts et al. 2018). Ranks are
    // binned in 7 bins of 3 and tested by chi-square (df 6) at 0.1%.
    //
    // The same procedure on a deliberately wrong posterior (likelihood sd
    // halved: overconfident) must fail, which shows the test has power.
    constexpr std::size_t walkers = 20, bins = 7, dim = 5;
    const std::size_t replications = scaled(210, 70);
    const double data_sd = 0.5;

    const auto hierarchical = [](const Eigen::VectorXd& y, double assumed_data_sd) {
        return function_model{dim, [y, assumed_data_sd](const Eigen::VectorXd& p) {
                                  const double mu = p[0], omega = p[1], tau = std::exp(omega);
                                  double lp = -0.5 * mu * mu - 0.5 * (omega / 0.5) * (omega / 0.5);
                                  for (int j = 0; j < 3; ++j) {
                                      const double u = (p[2 + j] - mu) / tau, v = (y[j] - p[2 + j]) / assumed_data_sd;
                                      lp += -0.5 * u * u - omega - 0.5 * v * v;
                                  }
                                  return lp;
                              }};
    };
    const auto rank_p_values = [&](double assumed_data_sd) {
        std::vector<std::array<double, bins>> counts(dim);
        for (auto& c : counts) c.fill(0.0);
        for (std::size_t r = 0; r < replications; ++r) {
            detail::random_stream random(1000 + r, 7);
            Eigen::VectorXd truth(dim);
            truth[0] = random.normal();
            truth[1] = 0.5 * random.normal();
            Eigen::VectorXd y(3);
            for (int j = 0; j < 3; ++j) {
                truth[2 + j] = truth[0] + std::exp(truth[1]) * random.normal();
                y[j] = truth[2 + j] + data_sd * random.normal();
            }
            const ensemble_result run = ensemble(
                hierarchical(y, assumed_data_sd),
                gaussian_start{.mean = Eigen::VectorXd::Zero(dim), .covariance = Eigen::MatrixXd::Identity(dim, dim), .walkers = walkers},
                {.steps = 1, .burn_in = 1500, .threads = 1}, 5000 + r);
            for (std::size_t i = 0; i < dim; ++i) {
                std::size_t rank = 0;
                for (std::size_t w = 0; w < walkers; ++w)
                    rank += run.position(0, w)[static_cast<Eigen::Index>(i)] < truth[static_cast<Eigen::Index>(i)];
                counts[i][rank / 3] += 1.0;
            }
        }
        std::vector<double> p_values;
        const double expected = static_cast<double>(replications) / bins;
        for (const auto& c : counts) {
            double statistic = 0.0;
            for (const double observed : c) statistic += (observed - expected) * (observed - expected) / expected;
            p_values.push_back(boost::math::cdf(boost::math::complement(boost::math::chi_squared(bins - 1), statistic)));
        }
        return p_values;
    };

    const std::vector<double> calibrated = rank_p_values(data_sd);
    for (std::size_t i = 0; i < dim; ++i) {
        CAPTURE(i, calibrated[i]);
        CHECK(calibrated[i] > 0.001);
    }
    const std::vector<double> overconfident = rank_p_values(0.5 * data_sd);
    CAPTURE(overconfident);
    CHECK(*std::min_element(overconfident.begin(), overconfident.end()) < 0.001);
}

// ---- each move ----------------------------------------------------------------

TEST_CASE("every move samples a correlated 4-D Gaussian correctly", "[ensemble][moves]") {
    const correlated_gaussian target;
    struct named_moves {
        std::string name;
        std::vector<weighted_move> moves;
    };
    const std::vector<named_moves> cases = {
        {"stretch a=2", {{stretch_move{}}}},
        {"stretch a=1.5", {{stretch_move{.a = 1.5}}}},
        {"de", {{de_move{}}}},
        {"de gamma0=1 sigma=0.1", {{de_move{.sigma = 0.1, .gamma0 = 1.0}}}},
        {"de_snooker", {{de_snooker_move{}}}},
        {"walk (all helpers)", {{walk_move{}}}},
        {"walk (3 helpers)", {{walk_move{.helpers = 3}}}},
        {"mixture de 0.8 + snooker 0.2", {{de_move{}, 0.8}, {de_snooker_move{}, 0.2}}},
    };
    for (const auto& c : cases) {
        SECTION(c.name) {
            const std::size_t steps = scaled(20000, 8000);
            const ensemble_options options{.steps = steps, .burn_in = 1000, .thin = 4, .moves = c.moves, .threads = 1};
            const ensemble_result r = ensemble(target.model(), gaussian_start{.mean = target.mean, .covariance = target.covariance, .walkers = 16, .scale = 0.1},
                                               options, 4);
            check_moments(r, target.mean, target.covariance);
            CHECK(r.mean_acceptance() > 0.05);
            CHECK(r.stuck_walkers.empty());
            std::size_t iterations = 0, proposals = 0;
            for (const auto& s : r.move_statistics) {
                iterations += s.iterations;
                proposals += s.proposals;
                CHECK(s.accepted <= s.proposals);
            }
            CHECK(iterations == steps + 1000);
            CHECK(proposals == (steps + 1000) * 16);
            if (c.moves.size() == 2) {  // the mixture picks moves by weight: binomial within 5 sd
                const double n = static_cast<double>(steps + 1000);
                CHECK(std::abs(static_cast<double>(r.move_statistics[0].iterations) - 0.8 * n) < 5 * std::sqrt(n * 0.16));
            }
        }
    }
}

TEST_CASE("move option checks", "[ensemble][moves][checks]") {
    const correlated_gaussian target;
    const ensemble_start start = gaussian_start{.mean = target.mean, .covariance = target.covariance, .walkers = 8};
    const auto run = [&](std::vector<weighted_move> moves) {
        return ensemble(target.model(), start, {.steps = 5, .moves = std::move(moves), .threads = 1}, 1);
    };
    CHECK_THROWS_WITH(run({{stretch_move{.a = 1.0}}}), Catch::Contains("stretch_move.a"));
    CHECK_THROWS_WITH(run({{de_move{.sigma = -1}}}), Catch::Contains("de_move.sigma"));
    CHECK_THROWS_WITH(run({{de_move{.gamma0 = 0.0}}}), Catch::Contains("de_move.gamma0"));
    CHECK_THROWS_WITH(run({{de_snooker_move{.gamma = -1}}}), Catch::Contains("de_snooker_move.gamma"));
    CHECK_THROWS_WITH(run({{walk_move{.helpers = 1}}}), Catch::Contains("walk_move.helpers"));
    CHECK_THROWS_WITH(run({{walk_move{.helpers = 5}}}), Catch::Contains("needs at least 10 walkers"));
    CHECK_THROWS_WITH(run({}), Catch::Contains("options.moves is empty"));
    CHECK_THROWS_WITH(run({{stretch_move{}, 0.0}}), Catch::Contains("weights sum to zero"));
    CHECK_THROWS_WITH(run({{stretch_move{}, -1.0}}), Catch::Contains("weight"));
    // DE needs a pair in the other half: with dim 1 and 2 walkers it cannot work.
    const function_model line{1, [](const Eigen::VectorXd& x) { return -0.5 * x.squaredNorm(); }};
    const Eigen::MatrixXd two_walkers = vector_of({0.0, 1.0}).transpose();
    CHECK_THROWS_WITH(ensemble(line, explicit_start{two_walkers}, {.moves = {{de_move{}}}, .threads = 1}, 1),
                      Catch::Contains("needs at least 4 walkers"));
    CHECK_THROWS_WITH(ensemble(line, explicit_start{two_walkers}, {.moves = {{de_snooker_move{}}}, .threads = 1}, 1),
                      Catch::Contains("needs at least 4 walkers"));
    // The stretch move alone works with two walkers in one dimension.
    CHECK(ensemble(line, explicit_start{two_walkers}, {.steps = 10, .threads = 1}, 1).draws() == 10);
}

// ---- start checks ----------------------------------------------------------------

TEST_CASE("start checks throw invalid_input before any step", "[ensemble][checks]") {
    std::atomic<std::size_t> evaluations{0};
    const function_model counting{2, [&](const Eigen::VectorXd& x) {
                                      ++evaluations;
                                      return -0.5 * x.squaredNorm();
                                  }};
    const ensemble_options options{.steps = 10, .threads = 1};
    const auto from = [&](const Eigen::MatrixXd& positions) { return ensemble(counting, explicit_start{positions}, options, 1); };
    Eigen::MatrixXd good(2, 4);
    good << 0.1, -0.3, 0.7, 0.2, -0.5, 0.4, 0.1, 0.9;
    REQUIRE_NOTHROW(from(good));
    evaluations = 0;

    SECTION("walkers must be even") { CHECK_THROWS_WITH(from(good.leftCols(3)), Catch::Contains("must be even")); }
    SECTION("walkers must be at least 2 dim") {
        const function_model three{3, [](const Eigen::VectorXd& x) { return -0.5 * x.squaredNorm(); }};
        CHECK_THROWS_WITH(ensemble(three, explicit_start{Eigen::MatrixXd::Random(3, 4)}, options, 1),
                          Catch::Contains("at least 2 * dim = 6 walkers"));
    }
    SECTION("positions must be finite") {
        Eigen::MatrixXd bad = good;
        bad(1, 2) = std::numeric_limits<double>::infinity();
        CHECK_THROWS_WITH(from(bad), Catch::Contains("walker 2 starts at a non-finite position"));
    }
    SECTION("walkers must not all be identical") {
        CHECK_THROWS_WITH(from(Eigen::MatrixXd::Ones(2, 4)), Catch::Contains("all walkers start at the same point"));
    }
    SECTION("no parameter may be constant across walkers") {
        Eigen::MatrixXd bad = good;
        bad.row(1).setConstant(0.25);
        CHECK_THROWS_WITH(from(bad), Catch::Contains("parameter 1 has the same value"));
    }
    SECTION("walkers must not be (nearly) linearly dependent") {
        Eigen::MatrixXd bad = good;
        bad.row(1) = 2.0 * bad.row(0).array() + 1.0;  // all on one line
        bad(1, 3) += 1e-12;
        CHECK_THROWS_WITH(from(bad), Catch::Contains("condition number"));
        CHECK(detail::scaled_condition_number(good) < 1e8);
        CHECK(detail::scaled_condition_number(bad) > 1e8);
    }
    CHECK(evaluations == 0);  // all of the above fail before evaluating anything

    SECTION("every start needs a finite log-density") {
        const function_model half_plane{2, [](const Eigen::VectorXd& x) {
                                            return x[0] < 0.5 ? -0.5 * x.squaredNorm() : -std::numeric_limits<double>::infinity();
                                        }};
        CHECK_THROWS_WITH(ensemble(half_plane, explicit_start{good}, options, 1),
                          Catch::Contains("walker 2 starts where the log-density is -inf"));
        const function_model broken{2, [](const Eigen::VectorXd& x) { return x[0] < 0.5 ? 0.0 : std::nan(""); }};
        CHECK_THROWS_WITH(ensemble(broken, explicit_start{good}, options, 1),
                          Catch::Contains("log-density at walker 2's start is nan"));
    }
    SECTION("scatter start") {
        CHECK_THROWS_WITH(ensemble(counting, scatter_start{.point = vector_of({1, 1}), .walkers = 4, .scatter = 0.0}, options, 1),
                          Catch::Contains("scatter_start.scatter"));
        CHECK_THROWS_WITH(ensemble(counting, scatter_start{.point = vector_of({1, 1, 1}), .walkers = 4}, options, 1),
                          Catch::Contains("scatter_start.point has 3 entries but the model has dim() = 2"));
        CHECK_THROWS_WITH(ensemble(counting, scatter_start{.point = vector_of({1, 1}), .walkers = 5}, options, 1),
                          Catch::Contains("must be even"));
    }
    SECTION("Gaussian start") {
        const Eigen::MatrixXd asymmetric = matrix_2x2(1, 0.5, 0.2, 1);
        CHECK_THROWS_WITH(ensemble(counting, gaussian_start{.mean = Eigen::VectorXd::Zero(2), .covariance = asymmetric, .walkers = 4}, options, 1),
                          Catch::Contains("not symmetric"));
        const Eigen::MatrixXd indefinite = matrix_2x2(1, 2, 2, 1);
        CHECK_THROWS_WITH(ensemble(counting, gaussian_start{.mean = Eigen::VectorXd::Zero(2), .covariance = indefinite, .walkers = 4}, options, 1),
                          Catch::Contains("not positive semi-definite"));
        CHECK_THROWS_WITH(ensemble(counting, gaussian_start{.mean = Eigen::VectorXd::Zero(2), .covariance = Eigen::MatrixXd::Identity(3, 3), .walkers = 4}, options, 1),
                          Catch::Contains("covariance is 3 x 3"));
        // Singular covariance: walkers on a line, caught by the degeneracy check.
        const Eigen::MatrixXd singular = matrix_2x2(1, 1, 1, 1);
        CHECK_THROWS_WITH(ensemble(counting, gaussian_start{.mean = Eigen::VectorXd::Zero(2), .covariance = singular, .walkers = 8}, options, 1),
                          Catch::Contains("condition number"));
    }
    SECTION("options") {
        CHECK_THROWS_WITH(ensemble(counting, explicit_start{good}, {.thin = 0}, 1), Catch::Contains("options.thin"));
        CHECK_THROWS_WITH(ensemble(counting, explicit_start{good}, {.stuck_acceptance = 2.0}, 1),
                          Catch::Contains("options.stuck_acceptance"));
        CHECK_THROWS_WITH(ensemble(counting, explicit_start{good}, {.checkpoint_every = 0}, 1),
                          Catch::Contains("options.checkpoint_every"));
    }
}

TEST_CASE("start positions: eddy's scatter, a Gaussian, or explicit", "[ensemble][start]") {
    const std::size_t walkers = 4000;
    // eddy: p (1 + scatter N(0,1)), and scatter N(0,1) where p == 0.
    const Eigen::MatrixXd scattered =
        initial_positions(scatter_start{.point = vector_of({2.0, 0.0, -300.0}), .walkers = walkers, .scatter = 0.01}, 3, 9);
    REQUIRE(scattered.cols() == static_cast<Eigen::Index>(walkers));
    const Eigen::VectorXd expected_sd = vector_of({0.02, 0.01, 3.0});
    for (Eigen::Index i = 0; i < 3; ++i) {
        const double mean = scattered.row(i).mean();
        const double sd = std::sqrt((scattered.row(i).array() - mean).square().mean());
        CHECK(sd == Approx(expected_sd[i]).epsilon(0.05));  // standard error of an sd: 1/sqrt(2n) = 1.1%
        CHECK(std::abs(mean - vector_of({2.0, 0.0, -300.0})[i]) < 5 * expected_sd[i] / std::sqrt(double(walkers)));
    }
    // Gaussian start: sample covariance matches scale^2 covariance.
    const correlated_gaussian target;
    const Eigen::MatrixXd drawn =
        initial_positions(gaussian_start{.mean = target.mean, .covariance = target.covariance, .walkers = walkers, .scale = 2.0}, 4, 9);
    const Eigen::VectorXd mean = drawn.rowwise().mean();
    const Eigen::MatrixXd centred = drawn.colwise() - mean;
    for (Eigen::Index i = 0; i < 4; ++i)
        for (Eigen::Index j = 0; j < 4; ++j) {
            const double covariance = centred.row(i).dot(centred.row(j)) / double(walkers - 1);
            // sd of a sample covariance: sqrt((S_ii S_jj + S_ij^2) / n), S = 4 C here.
            const double expected = 4.0 * target.covariance(i, j);
            const double se = 4.0 * std::sqrt((target.covariance(i, i) * target.covariance(j, j) +
                                               target.covariance(i, j) * target.covariance(i, j)) / double(walkers));
            CHECK(std::abs(covariance - expected) < 5 * se);
        }
    // The same seed gives the same start; the start's stream is not the moves'.
    CHECK(initial_positions(gaussian_start{.mean = target.mean, .covariance = target.covariance, .walkers = 8}, 4, 3) ==
          initial_positions(gaussian_start{.mean = target.mean, .covariance = target.covariance, .walkers = 8}, 4, 3));
    const Eigen::MatrixXd explicit_positions = Eigen::MatrixXd::Random(4, 8);
    CHECK(initial_positions(explicit_start{explicit_positions}, 4, 1) == explicit_positions);
    CHECK_THROWS_WITH(initial_positions(explicit_start{explicit_positions}, 3, 1), Catch::Contains("has 4 entries"));
}

TEST_CASE("one-sided Jacobi singular values match a matrix built from its SVD", "[ensemble][start]") {
    // A = U diag(s) V^T with orthonormal U (12 x 4) and V (4 x 4).
    const Eigen::MatrixXd u = random_rotation(12, 31).leftCols(4);
    const Eigen::MatrixXd v = random_rotation(4, 32);
    const Eigen::VectorXd s = vector_of({3.0, 1e-7, 250.0, 0.5});
    Eigen::MatrixXd a = Eigen::MatrixXd::Zero(12, 4);
    for (Eigen::Index k = 0; k < 4; ++k) a += s[k] * u.col(k) * v.col(k).transpose();
    Eigen::VectorXd found = detail::singular_values(a);
    std::sort(found.begin(), found.end());
    Eigen::VectorXd expected = s;
    std::sort(expected.begin(), expected.end());
    // Each to about machine precision times the largest (the entries of A carry that much rounding).
    for (Eigen::Index k = 0; k < 4; ++k) CHECK(found[k] == Approx(expected[k]).epsilon(1e-9).margin(1e-12));
}

// ---- determinism ------------------------------------------------------------------

TEST_CASE("identical chains for 1, 2 and 3 threads, and batched or not", "[ensemble][threads]") {
    const correlated_gaussian target;
    const function_model plain = target.model();
    const batch_function_model batched{plain};
    const ensemble_start start = gaussian_start{.mean = target.mean, .covariance = target.covariance, .walkers = 12};
    ensemble_options options{.steps = 300, .burn_in = 50, .thin = 2, .moves = {{stretch_move{}, 0.5}, {de_snooker_move{}, 0.3}, {walk_move{.helpers = 4}, 0.2}}};
    options.threads = 1;
    const ensemble_result one = ensemble(plain, start, options, 77);
    options.threads = 2;
    const ensemble_result two = ensemble(plain, start, options, 77);
    options.threads = 3;
    const ensemble_result three = ensemble(plain, start, options, 77);
    const ensemble_result batch = ensemble(batched, start, options, 77);
    check_identical(one, two);
    check_identical(one, three);
    check_identical(one, batch);
    CHECK(one.draws() == 150);

    // A different seed gives a different chain.
    CHECK(ensemble(plain, start, options, 78).samples != one.samples);
}

TEST_CASE("a generator instead of a seed: the seed drawn is recorded and repeats the run",
          "[ensemble][seed]") {
    const correlated_gaussian target;
    const ensemble_start start = gaussian_start{.mean = target.mean, .covariance = target.covariance, .walkers = 8};
    std::mt19937_64 generator(5);
    const ensemble_result first = ensemble(target.model(), start, {.steps = 50, .threads = 1}, generator);
    const ensemble_result again = ensemble(target.model(), start, {.steps = 50, .threads = 1}, first.seed);
    check_identical(first, again);
}

TEST_CASE("burn-in and thinning keep every thin-th iteration after burn-in", "[ensemble][thinning]") {
    const correlated_gaussian target;
    const ensemble_start start = gaussian_start{.mean = target.mean, .covariance = target.covariance, .walkers = 8};
    const ensemble_result all = ensemble(target.model(), start, {.steps = 40, .burn_in = 0, .threads = 1}, 6);
    const ensemble_result thinned = ensemble(target.model(), start, {.steps = 31, .burn_in = 9, .thin = 3, .threads = 1}, 6);
    REQUIRE(all.draws() == 40);
    REQUIRE(thinned.draws() == 10);  // floor(31 / 3)
    CHECK(thinned.iterations == 40);
    for (std::size_t d = 0; d < thinned.draws(); ++d) {
        const std::size_t iteration = 9 + 3 * (d + 1);  // 1-based
        CHECK(thinned.ensemble_at(d) == all.ensemble_at(iteration - 1));
        CHECK(thinned.log_densities.col(static_cast<Eigen::Index>(d)) == all.log_densities.col(static_cast<Eigen::Index>(iteration - 1)));
    }
    CHECK(thinned.final_positions == all.final_positions);
    // The trace accessor: draws x walkers for one parameter.
    const Eigen::MatrixXd trace = all.trace(2);
    CHECK(trace.rows() == 40);
    CHECK(trace(7, 3) == all.position(7, 3)[2]);
    // Log-densities are those of the stored samples.
    for (std::size_t w = 0; w < 8; ++w)
        CHECK(all.log_densities(static_cast<Eigen::Index>(w), 5) == target.model().log_density(all.position(5, w)));
}

TEST_CASE("the sampler works with the concept archetypes", "[ensemble][archetypes]") {
    const archetypes::log_density_archetype plain{.dimension = 2};
    const archetypes::batch_log_density_archetype batched{.dimension = 2};
    const ensemble_start start = scatter_start{.point = vector_of({0.5, -0.5}), .walkers = 8, .scatter = 0.5};
    const ensemble_result a = ensemble(plain, start, {.steps = scaled(20000, 8000), .burn_in = 500, .thin = 4, .threads = 1}, 8);
    const ensemble_result b = ensemble(batched, start, {.steps = scaled(20000, 8000), .burn_in = 500, .thin = 4, .threads = 1}, 8);
    check_moments(a, Eigen::VectorXd::Zero(2), Eigen::MatrixXd::Identity(2, 2));
    check_moments(b, Eigen::VectorXd::Zero(2), Eigen::MatrixXd::Identity(2, 2));
}

// ---- numerical trouble during the run -------------------------------------------------

TEST_CASE("NaN, +inf and -inf regions are rejections: the chain samples the rest", "[ensemble][nan]") {
    // A standard normal in 2-D, except NaN for x0 > 1 and +inf for x1 > 3 (a
    // model breaking its contract) and -inf for x1 < -3: the sampler must
    // target the standard normal truncated to x0 <= 1, -3 <= x1 <= 3.
    const function_model model{2, [](const Eigen::VectorXd& x) {
                                   if (x[0] > 1.0) return std::nan("");
                                   if (x[1] > 3.0) return std::numeric_limits<double>::infinity();
                                   if (x[1] < -3.0) return -std::numeric_limits<double>::infinity();
                                   return -0.5 * x.squaredNorm();
                               }};
    const ensemble_result r = ensemble(model, scatter_start{.point = vector_of({-0.5, 0.5}), .walkers = 16, .scatter = 0.5},
                                       {.steps = scaled(20000, 8000), .burn_in = 500, .thin = 4, .threads = 1}, 12);
    CHECK(r.samples.row(0).maxCoeff() <= 1.0);
    CHECK(r.samples.row(1).maxCoeff() <= 3.0);
    CHECK(r.samples.row(1).minCoeff() >= -3.0);
    CHECK(r.log_densities.allFinite());
    CHECK(r.invalid_proposals > 0);
    CHECK(r.outside_support_proposals > 0);
    // The broken contract reaches the warnings (the fit's too, through them).
    const std::vector<std::string> warnings = ensemble_warnings(r);
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::StartsWith(std::to_string(r.invalid_proposals) +
                                              " proposal(s) had a NaN or +infinity log-density"));
    // Truncated normal moments (upper bound b = 1 on x0; x1 in [-3, 3]):
    // E x0 = -phi(1) / Phi(1), Var x0 = 1 - phi(1) / Phi(1) - (phi(1) / Phi(1))^2;
    // E x1 = 0, Var x1 = 1 - 2 * 3 phi(3) / (Phi(3) - Phi(-3)).
    const boost::math::normal standard;
    const double ratio = boost::math::pdf(standard, 1.0) / boost::math::cdf(standard, 1.0);
    const double var1 = 1.0 - 2.0 * 3.0 * boost::math::pdf(standard, 3.0) / (boost::math::cdf(standard, 3.0) - boost::math::cdf(standard, -3.0));
    check_expectation(r, "E x0", [](const Eigen::VectorXd& x) { return x[0]; }, -ratio);
    check_expectation(r, "Var x0", [&](const Eigen::VectorXd& x) { return (x[0] + ratio) * (x[0] + ratio); },
                      1.0 - ratio - ratio * ratio);
    check_expectation(r, "E x1", [](const Eigen::VectorXd& x) { return x[1]; }, 0.0);
    check_expectation(r, "Var x1", [](const Eigen::VectorXd& x) { return x[1] * x[1]; }, var1);
}

TEST_CASE("a walker stuck on a narrow spike is flagged", "[ensemble][stuck]") {
    // Flat unit-variance Gaussian plus a spike of height e^50 in a tiny box
    // around (3, 3), where walker 5 starts: every move out of it is rejected.
    const function_model model{2, [](const Eigen::VectorXd& x) {
                                   const bool in_spike = std::abs(x[0] - 3.0) < 1e-9 && std::abs(x[1] - 3.0) < 1e-9;
                                   return -0.5 * x.squaredNorm() + (in_spike ? 50.0 : 0.0);
                               }};
    Eigen::MatrixXd start = initial_positions(scatter_start{.point = vector_of({0.3, -0.2}), .walkers = 8, .scatter = 1.0}, 2, 1);
    start.col(5) = vector_of({3.0, 3.0});
    const ensemble_result r = ensemble(model, explicit_start{start}, {.steps = 500, .threads = 1}, 2);
    CHECK(r.stuck_walkers == std::vector<std::size_t>{5});
    CHECK(r.acceptance[5] == 0.0);
    CHECK(r.acceptance.minCoeff() == 0.0);
    for (Eigen::Index w = 0; w < 8; ++w)
        if (w != 5) CHECK(r.acceptance[w] > 0.2);
}

// ---- progress and checkpoint ------------------------------------------------------

TEST_CASE("progress callback sees every iteration and can stop the run", "[ensemble][progress]") {
    const correlated_gaussian target;
    const ensemble_start start = gaussian_start{.mean = target.mean, .covariance = target.covariance, .walkers = 8};
    std::vector<ensemble_progress> seen;
    ensemble_options options{.steps = 30, .burn_in = 10, .threads = 1};
    options.progress = [&](const ensemble_progress& p) {
        seen.push_back(p);
        return true;
    };
    const ensemble_result full = ensemble(target.model(), start, options, 3);
    REQUIRE(seen.size() == 40);
    for (std::size_t i = 0; i < seen.size(); ++i) {
        CHECK(seen[i].iteration == i + 1);
        CHECK(seen[i].total_iterations == 40);
        CHECK(seen[i].burn_in == 10);
        CHECK(seen[i].acceptance >= 0.0);
        CHECK(seen[i].acceptance <= 1.0);
        CHECK(seen[i].log_density_evaluations == 8 * (i + 2));  // start + one proposal per walker per iteration
    }
    CHECK_FALSE(full.stopped_early);
    CHECK(seen.back().acceptance == Approx(full.mean_acceptance()));

    options.progress = [](const ensemble_progress& p) { return p.iteration < 25; };
    const ensemble_result stopped = ensemble(target.model(), start, options, 3);
    CHECK(stopped.stopped_early);
    CHECK(stopped.iterations == 25);
    CHECK(stopped.draws() == 15);
    CHECK(stopped.samples == full.samples.leftCols(15 * 8));
}

TEST_CASE("checkpoint: an interrupted and resumed run equals an uninterrupted one bit for bit",
          "[ensemble][checkpoint]") {
    const temporary_folder folder("diskmc_ensemble_test_");
    const correlated_gaussian target;
    const ensemble_start start = gaussian_start{.mean = target.mean, .covariance = target.covariance, .walkers = 8};
    ensemble_options options{.steps = 60, .burn_in = 20, .thin = 3, .moves = {{de_move{}, 0.7}, {de_snooker_move{}, 0.3}}, .threads = 1};
    const ensemble_result reference = ensemble(target.model(), start, options, 99);

    // The uninterrupted run with a checkpoint is the run without one.
    options.checkpoint = folder.path / "full.chain";
    const ensemble_result with_file = ensemble(target.model(), start, options, 99);
    check_identical(reference, with_file);
    // And the file alone gives back the chain.
    const ensemble_result from_file = read_ensemble_checkpoint(options.checkpoint);
    check_identical(reference, from_file);

    SECTION("stopped by the progress callback in burn-in, at its end, between thinned draws") {
        for (const std::size_t stop_at : {1u, 13u, 20u, 21u, 47u}) {  // in burn-in, at its end, between thinned draws
            CAPTURE(stop_at);
            options.checkpoint = folder.path / ("stopped_" + std::to_string(stop_at) + ".chain");
            options.progress = [stop_at](const ensemble_progress& p) { return p.iteration < stop_at; };
            const ensemble_result part = ensemble(target.model(), start, options, 99);
            CHECK(part.stopped_early);
            CHECK(part.iterations == stop_at);
            options.progress = {};
            const ensemble_result resumed = ensemble(target.model(), start, options, 99);
            check_identical(reference, resumed);
            CHECK_FALSE(resumed.stopped_early);
        }
    }

    SECTION("a crash inside the model mid-run, then a resume") {
        options.checkpoint = folder.path / "crash.chain";
        std::atomic<int> calls{0};
        const density_function healthy = target.model().density;
        const function_model crashing{4, [&](const Eigen::VectorXd& x) {
                                          if (++calls == 300) throw std::runtime_error("simulated crash");
                                          return healthy(x);
                                      }};
        CHECK_THROWS_WITH(ensemble(crashing, start, options, 99), "simulated crash");
        check_identical(reference, ensemble(target.model(), start, options, 99));
    }
    SECTION("a record cut short or damaged by a crash mid-write is dropped and redone") {
        const std::filesystem::path full = folder.path / "full.chain";
        const auto header_bytes = detail::checkpoint_header(4, 8, 99, options).size();
        const auto record = detail::checkpoint_record_bytes(4, 8, 2);
        REQUIRE(std::filesystem::file_size(full) == header_bytes + 80 * record);  // one record per iteration
        options.checkpoint = folder.path / "cut.chain";
        std::filesystem::copy_file(full, options.checkpoint);
        std::filesystem::resize_file(options.checkpoint, header_bytes + 33 * record + record / 2);
        check_identical(reference, ensemble(target.model(), start, options, 99));
        CHECK(std::filesystem::file_size(options.checkpoint) == std::filesystem::file_size(full));

        options.checkpoint = folder.path / "damaged.chain";
        std::filesystem::copy_file(full, options.checkpoint);
        std::filesystem::resize_file(options.checkpoint, header_bytes + 40 * record);
        {
            std::fstream file(options.checkpoint, std::ios::in | std::ios::out | std::ios::binary);
            file.seekp(static_cast<std::streamoff>(header_bytes + 39 * record + 100));
            file.put('\x5a');
        }
        check_identical(reference, ensemble(target.model(), start, options, 99));
    }
    SECTION("a finished run can be extended") {
        options.checkpoint = folder.path / "extend.chain";
        ensemble_options shorter = options;
        shorter.steps = 30;
        const ensemble_result first = ensemble(target.model(), start, shorter, 99);
        CHECK(first.draws() == 10);
        check_identical(reference, ensemble(target.model(), start, options, 99));
        // Asking for fewer iterations than the file holds is an error.
        CHECK_THROWS_WITH(ensemble(target.model(), start, shorter, 99), Catch::Contains("more than burn_in + steps"));
    }
    SECTION("a checkpoint of another run is refused, unless overwriting is asked for") {
        options.checkpoint = folder.path / "full.chain";
        CHECK_THROWS_WITH(ensemble(target.model(), start, options, 100), Catch::Contains("different run"));
        ensemble_options other = options;
        other.thin = 2;
        CHECK_THROWS_WITH(ensemble(target.model(), start, other, 99), Catch::Contains("different run"));
        other = options;
        other.moves = {{de_move{.gamma0 = 0.5}, 0.7}, {de_snooker_move{}, 0.3}};
        CHECK_THROWS_WITH(ensemble(target.model(), start, other, 99), Catch::Contains("different run"));
        options.overwrite_checkpoint = true;
        const ensemble_result replaced = ensemble(target.model(), start, options, 100);
        CHECK(read_ensemble_checkpoint(options.checkpoint).seed == 100);
        CHECK(read_ensemble_checkpoint(options.checkpoint).samples == replaced.samples);
    }
    SECTION("checkpoint_every > 1 writes only draws and every n-th state") {
        options.checkpoint = folder.path / "sparse.chain";
        options.checkpoint_every = 7;
        const ensemble_result sparse = ensemble(target.model(), start, options, 99);
        check_identical(reference, sparse);
        const auto header_bytes = detail::checkpoint_header(4, 8, 99, options).size();
        // Every draw, every 7th iteration, and the last.
        std::size_t expected_records = 0;
        for (std::size_t i = 1; i <= 80; ++i)
            expected_records += (i > 20 && (i - 20) % 3 == 0) || i % 7 == 0 || i == 80;
        CHECK(std::filesystem::file_size(options.checkpoint) == header_bytes + expected_records * detail::checkpoint_record_bytes(4, 8, 2));
        CHECK(read_ensemble_checkpoint(options.checkpoint).samples == reference.samples);
    }
    SECTION("a file that is not a checkpoint is refused") {
        options.checkpoint = folder.path / "junk.chain";
        std::ofstream(options.checkpoint) << "hello\n";
        CHECK_THROWS_WITH(ensemble(target.model(), start, options, 99), Catch::Contains("not a diskmc ensemble checkpoint"));
        CHECK_THROWS_AS(read_ensemble_checkpoint(folder.path / "missing.chain"), invalid_input);
    }
}

// ---- stopping on precision -------------------------------------------------------

TEST_CASE("ensemble on precision: a Gaussian reaches min_ess and 50 tau before the budget", "[ensemble][precision]") {
    const correlated_gaussian target;
    const ensemble_options options{.steps = 100000, .burn_in = 500, .threads = 1, .min_ess = 800.0};
    std::vector<std::size_t> reported_targets;
    ensemble_options watched = options;
    double last_min_ess = -1.0;
    watched.progress = [&](const ensemble_progress& p) {
        CHECK(p.target_ess == 800.0);
        if (p.min_ess != last_min_ess) reported_targets.push_back(p.total_iterations);
        last_min_ess = p.min_ess;
        return true;
    };
    const ensemble_result r =
        ensemble(target.model(), scatter_start{.point = target.mean, .walkers = 16, .scatter = 0.1}, watched, 5);
    CHECK(r.precision_reached);
    CHECK_FALSE(r.stopped_early);
    CHECK(r.target_ess == 800.0);
    CHECK(r.precision_checks >= 2);
    CHECK(r.draws() < 100000);
    CHECK(r.iterations == 500 + r.draws());
    // The result's own diagnostics agree with the stopping rule.
    const std::vector<autocorrelation_estimate> taus = integrated_autocorrelation_times(r);
    double smallest = std::numeric_limits<double>::infinity();
    for (const autocorrelation_estimate& estimate : taus) {
        CHECK(estimate.reliable());
        CHECK(static_cast<double>(r.draws()) >= 50.0 * estimate.tau);
        smallest = std::min(smallest, effective_sample_size_from_tau(r.draws() * r.walkers, estimate.tau));
    }
    CHECK(smallest >= 800.0);
    CHECK(r.min_ess == Approx(smallest).epsilon(1e-12));
    CHECK(r.length_in_tau >= 50.0);
    CHECK(ensemble_warnings(r).empty());
    // The progress bar's plan grew round by round, the checks on the calling thread.
    CHECK(reported_targets.size() >= 2);
    // Moments within 5 MCSE of the ESS reached.
    for (Eigen::Index i = 0; i < 4; ++i) {
        const double sd = std::sqrt(target.covariance(i, i));
        CHECK(std::abs(r.samples.row(i).mean() - target.mean[i]) <= 5.0 * sd / std::sqrt(800.0));
    }
}

TEST_CASE("ensemble on precision: an unreachable target stops at the budget with a warning", "[ensemble][precision]") {
    const correlated_gaussian target;
    const ensemble_result r =
        ensemble(target.model(), scatter_start{.point = target.mean, .walkers = 16, .scatter = 0.1},
                 {.steps = 900, .burn_in = 100, .thin = 3, .threads = 1, .min_ess = 1.0e7, .first_round = 50,
                  .round_step = 10},
                 6);
    CHECK_FALSE(r.precision_reached);
    CHECK(r.draws() == 300);
    CHECK(r.iterations == 1000);
    CHECK(r.min_ess > 0.0);
    CHECK(r.min_ess < 1.0e7);
    CHECK(r.precision_checks >= 2);
    const std::vector<std::string> warnings = ensemble_warnings(r);
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::Contains("budget") && Catch::Contains("10000000"));
    CHECK_THAT(summarize(r).warnings.front(), Catch::Contains("budget"));
}

TEST_CASE("ensemble on precision: the same stopping point and chain for any thread count", "[ensemble][precision]") {
    const correlated_gaussian target;
    auto run = [&](std::size_t threads) {
        return ensemble(target.model(), scatter_start{.point = target.mean, .walkers = 16, .scatter = 0.1},
                        {.steps = 40000, .burn_in = 200, .threads = threads, .min_ess = 300.0,
                         .min_length_in_tau = 20.0, .first_round = 100},
                        8);
    };
    const ensemble_result one = run(1), two = run(2), again = run(1);
    CHECK(one.precision_reached);
    check_identical(one, two);
    check_identical(one, again);
    CHECK(one.min_ess == two.min_ess);
    CHECK(one.precision_checks == two.precision_checks);
}

TEST_CASE("ensemble on precision: options are checked", "[ensemble][precision]") {
    const correlated_gaussian target;
    auto run = [&](const ensemble_options& options) {
        return ensemble(target.model(), scatter_start{.point = target.mean, .walkers = 16, .scatter = 0.1}, options, 1);
    };
    CHECK_THROWS_WITH(run({.steps = 10, .min_ess = -1.0}), Catch::Contains("min_ess"));
    CHECK_THROWS_WITH(run({.steps = 10, .min_ess = 10.0, .first_round = 3}), Catch::Contains("first_round"));
    CHECK_THROWS_WITH(run({.steps = 10, .min_ess = 10.0, .round_step = 0}), Catch::Contains("round_step"));
    CHECK_THROWS_WITH(run({.steps = 10, .min_ess = 10.0, .min_length_in_tau = -1.0}),
                      Catch::Contains("min_length_in_tau"));
}
