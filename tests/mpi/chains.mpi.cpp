// NUTS chains over ranks against nuts_chains in one process: the same
// draws, statistics and adaptation, bit for bit, for any rank count.

#include <mpi.h>

#include <Eigen/LU>
#include <catch2/catch.hpp>

#include "diskmc/mpi/chains.hpp"
#include "diskmc/samplers/nuts.hpp"

namespace {

/// A correlated Gaussian in 3 dimensions.
struct correlated_gaussian {
    Eigen::MatrixXd precision;
    correlated_gaussian() {
        Eigen::MatrixXd covariance(3, 3);
        covariance << 1.0, 0.6, 0.1, 0.6, 2.0, -0.3, 0.1, -0.3, 0.5;
        precision = covariance.inverse();
    }
    std::size_t dim() const { return 3; }
    double log_density(const Eigen::VectorXd& x) const { return -0.5 * x.dot(precision * x); }
    double log_density_gradient(const Eigen::VectorXd& x, Eigen::VectorXd& grad) const {
        grad = -(precision * x);
        return log_density(x);
    }
};

void check_same_chain(const diskmc::nuts_result& a, const diskmc::nuts_result& b) {
    CHECK(a.draws == b.draws);
    CHECK(a.step_size == b.step_size);
    CHECK(a.inverse_metric == b.inverse_metric);
    CHECK(a.gradient_evaluations() == b.gradient_evaluations());
    REQUIRE(a.sampling.size() == b.sampling.size());
    for (std::size_t i = 0; i < a.sampling.size(); ++i) {
        CHECK(a.sampling[i].n_leapfrog == b.sampling[i].n_leapfrog);
        CHECK(a.sampling[i].accept_stat == b.sampling[i].accept_stat);
        CHECK(a.sampling[i].divergent == b.sampling[i].divergent);
    }
    CHECK(a.warmup.size() == b.warmup.size());
}

}  // namespace

TEST_CASE("NUTS chains over ranks give nuts_chains' draws", "[mpi]") {
    const correlated_gaussian model;
    Eigen::MatrixXd inits(3, 5);
    inits << 0.1, -0.2, 0.3, 1.0, -1.0, 0.5, 0.0, -0.5, 0.2, 0.7, -0.1, 0.4, 0.0, -0.3, 0.2;
    for (const bool standardized : {false, true}) {
        diskmc::nuts_chains_options options{.chains = 5, .threads = 1};
        options.sampler.warmup = 60;
        options.sampler.samples = 40;
        options.sampler.metric = diskmc::metric_kind::dense;
        if (standardized) options.sampler.standardize_covariance = Eigen::MatrixXd::Identity(3, 3) * 2.0;
        const diskmc::nuts_chains_result over_ranks =
            diskmc::mpi::nuts_chains_over_ranks(model, inits, options, 4242, MPI_COMM_WORLD);
        int rank = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        if (rank != 0) {
            CHECK(over_ranks.chains.empty());
            continue;
        }
        const diskmc::nuts_chains_result alone = diskmc::nuts_chains(model, inits, options, 4242);
        REQUIRE(over_ranks.chains.size() == 5);
        for (std::size_t c = 0; c < 5; ++c) {
            INFO("chain " << c << (standardized ? ", standardized" : ""));
            check_same_chain(over_ranks.chains[c], alone.chains[c]);
        }
    }
}

TEST_CASE("NUTS chains over ranks: bad options throw on every rank", "[mpi]") {
    const correlated_gaussian model;
    diskmc::nuts_chains_options options{.chains = 2};
    options.checkpoint = "never_written.json";
    CHECK_THROWS_WITH(diskmc::mpi::nuts_chains_over_ranks(model, Eigen::MatrixXd::Zero(3, 1), options, 1),
                      Catch::Contains("checkpoint"));
    CHECK_THROWS_WITH(
        diskmc::mpi::nuts_chains_over_ranks(model, Eigen::MatrixXd::Zero(2, 1), diskmc::nuts_chains_options{}, 1),
        Catch::Contains("dim() rows"));
}
