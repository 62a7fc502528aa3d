// The ensemble sampler's walkers over ranks against the sampler in one
// process: the same chain, log-densities and acceptance, bit for bit, on
// every rank, with each rank evaluating only its share of each group.

#include <mpi.h>

#include <Eigen/LU>
#include <atomic>
#include <limits>
#include <catch2/catch.hpp>
#include <vector>

#include "diskmc/mpi/walkers.hpp"
#include "diskmc/samplers/ensemble.hpp"

namespace {

/// A correlated Gaussian in 3 dimensions that counts its evaluations.
struct counted_gaussian {
    Eigen::MatrixXd precision;
    mutable std::atomic<long> evaluations{0};
    counted_gaussian() {
        Eigen::MatrixXd covariance(3, 3);
        covariance << 1.0, 0.6, 0.1, 0.6, 2.0, -0.3, 0.1, -0.3, 0.5;
        precision = covariance.inverse();
    }
    std::size_t dim() const { return 3; }
    double log_density(const Eigen::VectorXd& x) const {
        ++evaluations;
        // Outside a box the density is 0: -infinity values must pass too.
        if (x.cwiseAbs().maxCoeff() > 3.0) return -std::numeric_limits<double>::infinity();
        return -0.5 * x.dot(precision * x);
    }
};

/// The same target with its own batch (the wrapper must use it for a share).
struct batched_gaussian : counted_gaussian {
    mutable std::atomic<long> batches{0};
    void log_density_batch(const Eigen::MatrixXd& points, Eigen::VectorXd& out) const {
        ++batches;
        out.resize(points.cols());
        for (Eigen::Index n = 0; n < points.cols(); ++n) out[n] = log_density(points.col(n));
    }
};

long summed_over_ranks(long count) {
    MPI_Allreduce(MPI_IN_PLACE, &count, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    return count;
}

void check_same_run(const diskmc::ensemble_result& a, const diskmc::ensemble_result& b) {
    CHECK(a.samples == b.samples);
    CHECK(a.log_densities == b.log_densities);
    CHECK(a.acceptance == b.acceptance);
    CHECK(a.final_positions == b.final_positions);
    CHECK(a.log_density_evaluations == b.log_density_evaluations);
}

}  // namespace

TEST_CASE("walkers over ranks: column shares cover the columns once", "[mpi]") {
    for (const int ranks : {1, 2, 3, 7})
        for (const int points : {0, 1, 5, 16, 17}) {
            int next = 0;
            for (int r = 0; r < ranks; ++r) {
                const diskmc::mpi::column_share share = diskmc::mpi::column_share_of(points, r, ranks);
                CHECK(share.first == next);
                CHECK(share.count >= points / ranks);
                CHECK(share.count <= points / ranks + 1);
                next += share.count;
            }
            CHECK(next == points);
        }
}

TEST_CASE("walkers over ranks: the ensemble's draws of one process, each rank evaluating its share", "[mpi]") {
    const diskmc::ensemble_start start =
        diskmc::scatter_start{.point = Eigen::VectorXd::Constant(3, 0.2), .walkers = 14, .scatter = 0.5};
    for (const bool two_moves : {false, true}) {
        diskmc::ensemble_options options{.steps = 60, .burn_in = 20, .threads = 1};
        if (two_moves)
            options.moves = {{diskmc::stretch_move{}, 0.7}, {diskmc::de_move{}, 0.3}};
        INFO((two_moves ? "stretch and differential evolution" : "stretch"));
        const counted_gaussian alone_model;
        const diskmc::ensemble_result alone = diskmc::ensemble(alone_model, start, options, 777);

        const counted_gaussian spread_model;
        const diskmc::mpi::walkers_over_ranks spread(spread_model);
        const diskmc::ensemble_result over_ranks = diskmc::ensemble(spread, start, options, 777);
        check_same_run(over_ranks, alone);
        // Each evaluation on one rank only: the ranks' counts add up to one process's.
        CHECK(summed_over_ranks(spread_model.evaluations) == alone_model.evaluations);
        if (diskmc::mpi::rank_count(MPI_COMM_WORLD) > 1) CHECK(spread_model.evaluations < alone_model.evaluations);

        // Threads within a rank change nothing.
        const counted_gaussian threaded_model;
        const diskmc::mpi::walkers_over_ranks threaded(threaded_model, 2);
        check_same_run(diskmc::ensemble(threaded, start, options, 777), alone);

        // A model with its own batch gets a batch of the rank's share.
        const batched_gaussian batched_model;
        const diskmc::mpi::walkers_over_ranks batched(batched_model);
        check_same_run(diskmc::ensemble(batched, start, options, 777), alone);
        CHECK(summed_over_ranks(batched_model.evaluations) == alone_model.evaluations);
        CHECK(batched_model.batches > 0);
    }
}
