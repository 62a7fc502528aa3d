// The distributed likelihood against the single-process one, on 1 to N
// ranks (the ranks of mpiexec -n N, and sub-communicators of the first k):
// the same value and gradient to 1e-12 relative, bit-identical results and
// NUTS draws for every rank count, ranks without pixels, the same errors on
// every rank.

#include <mpi.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "diskmc/disk.hpp"
#include "diskmc/fit/hd163296_like.hpp"
#include "diskmc/inference/disk_likelihood.hpp"
#include "diskmc/inference/posterior.hpp"
#include "diskmc/mpi/distributed_likelihood.hpp"
#include "diskmc/samplers/nuts.hpp"

namespace {

using diskmc::mpi::distributed_likelihood;
using diskmc::mpi::distributed_likelihood_options;
using boolean_image = Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>;

int world_size() { return diskmc::mpi::rank_count(MPI_COMM_WORLD); }
int world_rank() { return diskmc::mpi::rank_of(MPI_COMM_WORLD); }

/// The communicator of the world's first `ranks` ranks (MPI_COMM_NULL on
/// the others); collective over the world.
struct first_ranks {
    MPI_Comm communicator = MPI_COMM_NULL;
    explicit first_ranks(int ranks) {
        MPI_Comm_split(MPI_COMM_WORLD, world_rank() < ranks ? 0 : MPI_UNDEFINED, world_rank(), &communicator);
    }
    ~first_ranks() {
        if (communicator != MPI_COMM_NULL) MPI_Comm_free(&communicator);
    }
    first_ranks(const first_ranks&) = delete;
    first_ranks& operator=(const first_ranks&) = delete;
    bool member() const { return communicator != MPI_COMM_NULL; }
};

/// The HD163296-like problem (154 x 154, beam 11 x 11 pixels) and eddy's mask.
struct problem {
    diskmc::sky_map map;
    boolean_image mask;
    explicit problem(bool beam) : map(diskmc::hd163296_like::map(beam)) {
        const diskmc::inference::disk_family<> family;
        mask = diskmc::fit_mask(map, family.make<double>(diskmc::hd163296_like::full_vector(
                                         diskmc::hd163296_like::start())),
                                {.r_min = diskmc::hd163296_like::r_min});
    }
};

std::vector<Eigen::VectorXd> test_points() {
    using namespace diskmc::hd163296_like;
    Eigen::VectorXd shifted = full_vector(truth());
    shifted[0] += 0.03;   // x0
    shifted[3] -= 2.0;    // PA
    shifted[5] += 0.05;   // z0
    return {full_vector(truth()), full_vector(start()), shifted};
}

/// |a - b| <= 1e-12 |b|, entry by entry.
bool relatively_equal(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
    return a.size() == b.size() && ((a - b).array().abs() <= 1e-12 * b.array().abs()).all();
}

}  // namespace

TEST_CASE("distributed likelihood: value and gradient equal the single-process ones", "[mpi]") {
    for (const bool beam : {false, true}) {
        const problem p(beam);
        const diskmc::inference::disk_likelihood<> single(p.map, p.mask, {}, {.convolve_beam = beam});
        for (const Eigen::Index rows_per_block : {Eigen::Index{0}, Eigen::Index{16}, Eigen::Index{7}}) {
            const distributed_likelihood<> distributed(
                p.map, p.mask, {}, {.likelihood = {.convolve_beam = beam}, .rows_per_block = rows_per_block});
            CHECK(distributed.pixel_count() == single.pixel_count());
            for (const Eigen::VectorXd& full : test_points()) {
                INFO("beam " << beam << ", rows per block " << rows_per_block << ", at " << full.transpose());
                Eigen::VectorXd single_gradient, distributed_gradient;
                const double single_value = single.log_likelihood_gradient(full, single_gradient);
                const double value = distributed.log_likelihood_gradient(full, distributed_gradient);
                const double value_only = distributed.log_likelihood<double>(full);
                REQUIRE(std::isfinite(single_value));
                CHECK(std::abs(value - single_value) <= 1e-12 * std::abs(single_value));
                CHECK(std::abs(value_only - single.log_likelihood(full)) <= 1e-12 * std::abs(single_value));
                CHECK(relatively_equal(distributed_gradient, single_gradient));
                // The same numbers on every rank.
                double root_value = value;
                MPI_Bcast(&root_value, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
                CHECK(root_value == value);
            }
        }
    }
}

TEST_CASE("distributed likelihood: every rank count gives the same bits", "[mpi]") {
    for (const bool beam : {false, true}) {
        const problem p(beam);
        const distributed_likelihood_options options{.likelihood = {.convolve_beam = beam}, .rows_per_block = 16};
        // One rank alone, the reference.
        const distributed_likelihood<> alone(p.map, p.mask, {}, options, MPI_COMM_SELF);
        for (int ranks = 2; ranks <= world_size(); ++ranks) {
            const first_ranks group(ranks);
            if (!group.member()) continue;
            const distributed_likelihood<> shared(p.map, p.mask, {}, options, group.communicator);
            for (const Eigen::VectorXd& full : test_points()) {
                Eigen::VectorXd alone_gradient, shared_gradient;
                CHECK(shared.log_likelihood_gradient(full, shared_gradient) ==
                      alone.log_likelihood_gradient(full, alone_gradient));
                CHECK(shared_gradient == alone_gradient);
                CHECK(shared.log_likelihood<double>(full) == alone.log_likelihood<double>(full));
            }
        }
    }
}

TEST_CASE("distributed likelihood: ranks without pixels", "[mpi]") {
    const problem p(true);
    // Only the top 30 rows are kept: with blocks of 16 rows, ranks past the
    // first hold blocks without a masked pixel; with blocks of 100 rows (one
    // block), they hold no block at all.
    boolean_image top = p.mask;
    top.bottomRows(top.rows() - 30).setConstant(false);
    const diskmc::inference::disk_likelihood<> single(p.map, top, {}, {.convolve_beam = true});
    for (const Eigen::Index rows_per_block : {Eigen::Index{16}, Eigen::Index{100}}) {
        const distributed_likelihood<> distributed(p.map, top, {},
                                                   {.likelihood = {.convolve_beam = true}, .rows_per_block = rows_per_block});
        if (world_rank() > 0) CHECK(distributed.local_pixel_count() == 0);
        Eigen::Index total = distributed.local_pixel_count();
        MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
        CHECK(total == single.pixel_count());
        for (const Eigen::VectorXd& full : test_points()) {
            Eigen::VectorXd single_gradient, distributed_gradient;
            const double single_value = single.log_likelihood_gradient(full, single_gradient);
            CHECK(std::abs(distributed.log_likelihood_gradient(full, distributed_gradient) - single_value) <=
                  1e-12 * std::abs(single_value));
            CHECK(relatively_equal(distributed_gradient, single_gradient));
        }
    }
}

TEST_CASE("distributed likelihood: -infinity on every rank when one block's model is not finite", "[mpi]") {
    const problem p(false);
    const distributed_likelihood<> distributed(p.map, p.mask, {}, {.rows_per_block = 16});
    const diskmc::inference::disk_likelihood<> single(p.map, p.mask);
    Eigen::VectorXd full = diskmc::hd163296_like::full_vector(diskmc::hd163296_like::truth());
    full[10] = -1.0;  // mstar < 0: the rotation is NaN at every pixel
    Eigen::VectorXd gradient;
    const double single_value = single.log_likelihood_gradient(full, gradient);
    const double value = distributed.log_likelihood_gradient(full, gradient);
    CHECK(value == single_value);
    CHECK(value == -std::numeric_limits<double>::infinity());
    CHECK(gradient.size() == full.size());
    CHECK((gradient.array() == 0.0).all());
    CHECK(distributed.log_likelihood<double>(full) == -std::numeric_limits<double>::infinity());
}

TEST_CASE("distributed likelihood: bad input throws on every rank", "[mpi]") {
    const problem p(false);
    diskmc::sky_map bad = p.map;
    // A NaN in the last rows, which only the last rank's blocks hold.
    const Eigen::Index row = bad.grid.ny() - 3, column = bad.grid.nx() / 2;
    boolean_image mask = p.mask;
    mask(row, column) = true;
    bad.data(row, column) = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH((distributed_likelihood<>(bad, mask, {}, {.rows_per_block = 16})),
                      Catch::Contains("data is not finite") && Catch::Contains("row " + std::to_string(row)));
    CHECK_THROWS_WITH((distributed_likelihood<>(p.map, mask, {}, {.rows_per_block = -1})),
                      Catch::Contains("rows_per_block"));
}

TEST_CASE("distributed likelihood: NUTS draws are identical for every rank count", "[mpi]") {
    for (const bool beam : {false, true}) {
        const problem whole(beam);
        // Every other pixel: a quicker posterior, the same code.
        problem p = whole;
        p.map = diskmc::downsample(whole.map, 2);
        p.mask = diskmc::fit_mask(p.map,
                                  diskmc::inference::disk_family<>{}.make<double>(
                                      diskmc::hd163296_like::full_vector(diskmc::hd163296_like::start())),
                                  {.r_min = diskmc::hd163296_like::r_min});
        const distributed_likelihood_options options{.likelihood = {.convolve_beam = beam}, .rows_per_block = 8};
        const diskmc::nuts_options sampler{.warmup = 20, .samples = 10, .max_tree_depth = 4};
        auto draws_on = [&](MPI_Comm communicator) {
            const distributed_likelihood<> likelihood(p.map, p.mask, {}, options, communicator);
            const auto posterior = diskmc::inference::unconstrained(
                diskmc::inference::make_posterior(diskmc::inference::parameter_set(diskmc::hd163296_like::parameters()),
                                                  likelihood));
            diskmc::detail::random_stream random(20260, 0);
            const Eigen::VectorXd init = posterior.to_unconstrained(posterior.parameters().start());
            return diskmc::nuts(posterior, init, sampler, random).draws;
        };
        const Eigen::MatrixXd alone = draws_on(MPI_COMM_SELF);
        REQUIRE(alone.rows() == 10);
        CHECK(alone.allFinite());
        for (int ranks = 2; ranks <= world_size(); ++ranks) {
            const first_ranks group(ranks);
            if (!group.member()) continue;
            INFO("beam " << beam << ", " << ranks << " ranks");
            CHECK(draws_on(group.communicator) == alone);
        }
    }
}

TEST_CASE("distributed likelihood: ranks with different parameters are named, on every rank", "[mpi]") {
    const problem p(false);
    const distributed_likelihood<> distributed(p.map, p.mask, {}, {.rows_per_block = 16});
    const Eigen::VectorXd agreed = test_points()[0];
    Eigen::VectorXd grad;
    // All alike: no complaint, as many times as asked.
    const double value = distributed.log_likelihood<double>(agreed);
    const double value_with_gradient = distributed.log_likelihood_gradient(agreed, grad);
    if (world_size() < 2) return;
    // The last rank drifts by one bit in one parameter.
    Eigen::VectorXd drifted = agreed;
    if (world_rank() == world_size() - 1) drifted[3] = std::nextafter(drifted[3], 1e300);
    const std::string last = std::to_string(world_size() - 1);
    CHECK_THROWS_WITH(distributed.log_likelihood<double>(drifted),
                      Catch::Contains("log_likelihood: rank " + last + " holds a different parameter vector"));
    try {
        distributed.log_likelihood_gradient(drifted, grad);
        FAIL("no ranks_disagree");
    } catch (const diskmc::mpi::ranks_disagree& e) {
        CHECK(e.ranks() == std::vector<int>{world_size() - 1});
        CHECK_THAT(e.what(), Catch::Contains("same seed"));
    }
    // Every rank but rank 0 drifts: all of them named.
    Eigen::VectorXd others = agreed;
    if (world_rank() > 0) others[0] += 1e-3 * world_rank();
    if (world_size() == 3)
        CHECK_THROWS_WITH(distributed.log_likelihood<double>(others),
                          Catch::Contains("ranks 1 and 2 hold a different parameter vector than rank 0"));
    // The ranks are still in step after the errors.
    CHECK(distributed.log_likelihood<double>(agreed) == value);
    CHECK(distributed.log_likelihood_gradient(agreed, grad) == value_with_gradient);
}

#ifdef DISKMC_WITH_FFTW
TEST_CASE("distributed likelihood: a wide beam convolved by FFT in every block", "[mpi][fftw]") {
    // A 0.49" beam on the benchmark's 0.052" pixels: a 33 x 33 kernel (halos
    // of 16 rows), which the blocks and the whole map convolve by FFT.
    diskmc::grid_header header = diskmc::hd163296_like::grid();
    header.beam = diskmc::beam_shape{0.49, 0.392, 95.0};
    const diskmc::sky_map map = diskmc::hd163296_like::map(true, 163296, header);
    const boolean_image mask = diskmc::fit_mask(
        map, diskmc::inference::disk_family<>{}.make<double>(diskmc::hd163296_like::full_vector(diskmc::hd163296_like::start())),
        {.r_min = diskmc::hd163296_like::r_min});
    const diskmc::inference::disk_likelihood<> single(map, mask, {}, {.convolve_beam = true});
    const diskmc::inference::disk_likelihood<> direct(map, mask, {}, {.convolve_beam = true, .beam = diskmc::beam_algorithm::direct});
    const distributed_likelihood<> distributed(map, mask, {}, {.likelihood = {.convolve_beam = true}});
    // Away from the optimum (where the gradient is a sum of noise-like terms
    // that cancel, see tests/fftw/grid_beam_convolution.test.cpp): the start
    // and the shifted point.
    const std::vector<Eigen::VectorXd> points = test_points();
    for (std::size_t k = 1; k < points.size(); ++k) {
        const Eigen::VectorXd& full = points[k];
        INFO("at " << full.transpose());
        Eigen::VectorXd single_gradient, direct_gradient, distributed_gradient;
        const double single_value = single.log_likelihood_gradient(full, single_gradient);
        const double direct_value = direct.log_likelihood_gradient(full, direct_gradient);
        const double value = distributed.log_likelihood_gradient(full, distributed_gradient);
        REQUIRE(std::isfinite(single_value));
        CHECK(std::abs(value - single_value) <= 1e-12 * std::abs(single_value));
        CHECK(std::abs(value - direct_value) <= 1e-12 * std::abs(direct_value));
        CHECK(relatively_equal(distributed_gradient, single_gradient));
        CHECK(relatively_equal(distributed_gradient, direct_gradient));
    }
}
#endif
