#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "diskmc/diagnostics/hmc.hpp"
#include "diskmc/diagnostics/summary.hpp"

namespace {

Eigen::VectorXd ar1_series(double rho, Eigen::Index n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    Eigen::VectorXd x(n);
    double value = normal(rng);
    for (Eigen::Index t = 0; t < n; ++t) {
        value = rho * value + std::sqrt(1 - rho * rho) * normal(rng);
        x[t] = value;
    }
    return x;
}

}  // namespace

TEST_CASE("E-BFMI is 2(1 - rho) for AR(1) energies", "[diagnostics][hmc]") {
    CHECK(diskmc::energy_bfmi(ar1_series(0.0, 40000, 1)) == Approx(2.0).epsilon(0.03));
    CHECK(diskmc::energy_bfmi(ar1_series(0.9, 40000, 2)) == Approx(0.2).epsilon(0.05));
    CHECK(std::isnan(diskmc::energy_bfmi(Eigen::VectorXd::Constant(10, 3.0))));
}

TEST_CASE("HMC warnings count divergences, depth-cap hits and low E-BFMI", "[diagnostics][hmc]") {
    std::vector<diskmc::hmc_chain_report> chains(2);
    chains[0] = {.transitions = 1000, .divergences = 3, .max_depth_hits = 0, .max_tree_depth = 10,
                 .e_bfmi = 1.1};
    chains[1] = {.transitions = 1000, .divergences = 0, .max_depth_hits = 390, .max_tree_depth = 10,
                 .e_bfmi = 0.21};
    const auto warnings = diskmc::hmc_warnings(chains);
    REQUIRE(warnings.size() == 3);
    CHECK_THAT(warnings[0], Catch::StartsWith("3 of 2000 (0.15%) transitions ended with a divergence"));
    CHECK_THAT(warnings[1],
               Catch::StartsWith("390 of 2000 (20%) transitions hit the maximum tree depth of 10"));
    CHECK_THAT(warnings[2], Catch::StartsWith("Chain 2: E-BFMI = 0.21"));

    chains[0].divergences = 0;
    chains[1] = chains[0];
    CHECK(diskmc::hmc_warnings(chains).empty());
}

TEST_CASE("HMC advice fits the run: no higher target_accept past 0.95, no dense metric when dense",
          "[diagnostics][hmc]") {
    diskmc::hmc_chain_report chain{.transitions = 1000, .divergences = 5, .max_depth_hits = 20,
                                   .max_tree_depth = 10, .e_bfmi = 1.0};
    auto warnings = diskmc::hmc_warnings({chain});
    REQUIRE(warnings.size() == 2);
    CHECK_THAT(warnings[0], Catch::Contains("increase target_accept (e.g. 0.95)"));
    CHECK_THAT(warnings[1], Catch::Contains("or use a dense metric"));

    chain.target_accept = 0.95;
    chain.dense_metric = true;
    warnings = diskmc::hmc_warnings({chain});
    REQUIRE(warnings.size() == 2);
    CHECK_THAT(warnings[0], Catch::StartsWith("5 of 1000 (0.5%) transitions ended with a divergence"));
    CHECK_THAT(warnings[0], !Catch::Contains("increase target_accept"));
    CHECK_THAT(warnings[0], Catch::Contains("target_accept is already 0.95"));
    CHECK_THAT(warnings[1], Catch::StartsWith("20 of 1000 (2%) transitions hit the maximum tree depth"));
    CHECK_THAT(warnings[1], !Catch::Contains("dense metric"));
    CHECK_THAT(warnings[1], Catch::Contains("increase max_tree_depth"));

    // One chain of a run on a diagonal metric is enough to advise a dense one.
    diskmc::hmc_chain_report diagonal = chain;
    diagonal.dense_metric = false;
    CHECK_THAT(diskmc::hmc_warnings({chain, diagonal})[1], Catch::Contains("or use a dense metric"));
}

TEST_CASE("a model that returned NaN is reported apart from the divergences", "[diagnostics][hmc]") {
    diskmc::hmc_chain_report chain{.transitions = 1000, .e_bfmi = 1.0};
    chain.non_finite_evaluations = 7;
    const auto warnings = diskmc::hmc_warnings({chain, chain});
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::StartsWith("The model returned a NaN or +infinity log-density, or "
                                              "a non-finite gradient, at 14 point(s)"));
}

TEST_CASE("summary table of known draws", "[diagnostics][summary]") {
    // Four chains of N(mean, sd^2) for two parameters, independent draws.
    std::mt19937_64 rng(3);
    std::normal_distribution<double> normal;
    std::vector<Eigen::MatrixXd> chains(4, Eigen::MatrixXd(2000, 2));
    for (auto& chain : chains)
        for (Eigen::Index i = 0; i < chain.rows(); ++i) {
            chain(i, 0) = 5.0 + 2.0 * normal(rng);
            chain(i, 1) = -1.0 + 0.1 * normal(rng);
        }
    const auto summary = diskmc::summarize_draws(chains, {"mstar", "z0"});
    REQUIRE(summary.parameters.size() == 2);
    CHECK(summary.chains == 4);
    CHECK(summary.draws_per_chain == 2000);
    const auto& mstar = summary.parameters[0];
    CHECK(mstar.name == "mstar");
    CHECK(std::abs(mstar.mean - 5.0) < 4 * mstar.mcse_mean);
    CHECK(mstar.mcse_mean == Approx(2.0 / std::sqrt(8000.0)).epsilon(0.15));
    CHECK(mstar.sd == Approx(2.0).epsilon(0.03));
    CHECK(mstar.p16 == Approx(5.0 - 2.0 * 0.9945).epsilon(0.02));
    CHECK(mstar.p84 == Approx(5.0 + 2.0 * 0.9945).epsilon(0.02));
    CHECK(mstar.p50 == Approx(5.0).epsilon(0.01));
    CHECK(mstar.ess_bulk == Approx(8000).epsilon(0.15));
    CHECK(mstar.ess_tail == Approx(8000).epsilon(0.15));
    CHECK(mstar.rhat < 1.01);
    CHECK(summary.warnings.empty());

    const std::string table = diskmc::format_summary(summary);
    CHECK_THAT(table, Catch::Contains("ess_bulk") && Catch::Contains("r_hat") &&
                          Catch::Contains("mstar") && Catch::Contains("z0") &&
                          Catch::Contains("(4 chains x 2000 draws)"));
    CHECK_THAT(table, !Catch::Contains("Warning"));

    // A chain stuck elsewhere, and chains too short: warnings name the parameters.
    chains[3].col(1).array() += 1.0;
    for (auto& chain : chains) chain.conservativeResize(60, 2);
    const auto bad = diskmc::summarize_draws(chains, {"mstar", "z0"});
    REQUIRE(bad.warnings.size() >= 2);
    CHECK_THAT(bad.warnings[0], Catch::StartsWith("R-hat above 1.01 for") && Catch::Contains("z0"));
    CHECK_THAT(diskmc::format_summary(bad), Catch::Contains("Warning: Bulk ESS below 100 per chain"));
}

TEST_CASE("summary rejects chains of different shapes", "[diagnostics][summary]") {
    std::vector<Eigen::MatrixXd> chains{Eigen::MatrixXd::Zero(10, 2), Eigen::MatrixXd::Zero(9, 2)};
    CHECK_THROWS_AS(diskmc::summarize_draws(chains), diskmc::invalid_input);
    chains[1] = Eigen::MatrixXd::Zero(10, 2);
    CHECK_THROWS_AS(diskmc::summarize_draws(chains, {"a"}), diskmc::invalid_input);
}

TEST_CASE("one set of warning thresholds decides and words the summaries' warnings", "[diagnostics][summary]") {
    const diskmc::warning_thresholds defaults;
    CHECK(defaults.max_rhat == 1.01);
    CHECK(defaults.min_ess_per_chain == 100.0);
    CHECK(defaults.min_ess == 400.0);
    CHECK(defaults.min_e_bfmi == 0.3);
    CHECK(diskmc::threshold_text(defaults.max_rhat) == "1.01");
    CHECK(diskmc::threshold_text(defaults.min_ess) == "400");
    CHECK(defaults.rhat_too_high(1.02));
    CHECK_FALSE(defaults.rhat_too_high(1.01));
    CHECK_FALSE(defaults.rhat_too_high(std::nan("")));  // no R-hat (one chain): nothing to say
    CHECK(defaults.ess_per_chain_too_low(399.0, 4));
    CHECK_FALSE(defaults.ess_per_chain_too_low(400.0, 4));

    // Well-mixed draws pass the defaults, and warn under stricter thresholds,
    // whose numbers the messages quote.
    std::mt19937_64 rng(11);
    std::normal_distribution<double> normal;
    std::vector<Eigen::MatrixXd> chains(4, Eigen::MatrixXd(500, 1));
    for (auto& chain : chains)
        for (Eigen::Index i = 0; i < chain.rows(); ++i) chain(i, 0) = normal(rng);
    CHECK(diskmc::summarize_draws(chains, {"mstar"}).warnings.empty());
    const auto strict = diskmc::summarize_draws(chains, {"mstar"}, {.max_rhat = 0.5, .min_ess_per_chain = 5000.0});
    REQUIRE(strict.warnings.size() == 3);
    CHECK_THAT(strict.warnings[0], Catch::StartsWith("R-hat above 0.5 for mstar"));
    CHECK_THAT(strict.warnings[1], Catch::StartsWith("Bulk ESS below 5000 per chain for mstar"));
    CHECK_THAT(strict.warnings[2], Catch::StartsWith("Tail ESS below 5000 per chain for mstar"));

    // E-BFMI: the HMC warnings' default threshold is the same one.
    diskmc::hmc_chain_report chain;
    chain.transitions = 100;
    chain.e_bfmi = 0.29;
    CHECK(diskmc::hmc_warnings({chain}).size() == 1);
    chain.e_bfmi = 0.31;
    CHECK(diskmc::hmc_warnings({chain}).empty());
}
