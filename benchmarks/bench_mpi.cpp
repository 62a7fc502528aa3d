// The distributed likelihood's speed: seconds per value + gradient on a
// large map of the HD163296-like disk (the benchmark's pixels, 0.052", on an
// N x N grid; every pixel outside the inner 0.3" in the mask), all ranks
// together, and the latency of one ordered reduction of 1 + d numbers.
// Medians of repeats; run it with 1, 2, ... ranks and compare gradient_s.
//
//   mpiexec -n R bench_mpi [--json] [--beam] [--size N] [--repeats K] [--threads T]
//
// --json prints one JSON line from rank 0: "ranks", "threads", "beam",
// "size", "pixels", "rows_per_block", "gradient_s" (median; each repeat's
// time is the slowest rank's), "gradient_min_s", "reduction_s" (median of
// one ordered_sum of 1 + d numbers, with the parameters' fingerprint),
// "single_process_s" (inference::disk_likelihood on rank 0 alone, the whole map, T
// threads) and "local_pixels_max" (the largest rank's share).

#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "bench_common.hpp"
#include "diskmc/disk.hpp"
#include "diskmc/fit/hd163296_like.hpp"
#include "diskmc/inference/disk_likelihood.hpp"
#include "diskmc/mpi/distributed_likelihood.hpp"

namespace {

/// The slowest rank's seconds (collective).
double slowest(double seconds) {
    MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return seconds;
}

/// Median and minimum of `repeats` timings of `work` after a warm-up, each
/// from a barrier to the slowest rank's end.
template <class Work>
diskmc::bench::timing time_collective(int repeats, Work&& work) {
    work();
    std::vector<double> seconds;
    for (int r = 0; r < repeats; ++r) {
        MPI_Barrier(MPI_COMM_WORLD);
        const double start = MPI_Wtime();
        work();
        seconds.push_back(slowest(MPI_Wtime() - start));
    }
    return diskmc::bench::timing_of(seconds);
}

}  // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    const int ranks = diskmc::mpi::rank_count(MPI_COMM_WORLD), rank = diskmc::mpi::rank_of(MPI_COMM_WORLD);
    bool json = false, beam = false;
    int repeats = 11;
    Eigen::Index size = 1024;
    std::size_t threads = 1;
    for (int k = 1; k < argc; ++k) {
        if (std::strcmp(argv[k], "--json") == 0) {
            json = true;
        } else if (std::strcmp(argv[k], "--beam") == 0) {
            beam = true;
        } else if (std::strcmp(argv[k], "--size") == 0 && k + 1 < argc) {
            size = std::max(16, std::atoi(argv[++k]));
        } else if (std::strcmp(argv[k], "--repeats") == 0 && k + 1 < argc) {
            repeats = std::max(1, std::atoi(argv[++k]));
        } else if (std::strcmp(argv[k], "--threads") == 0 && k + 1 < argc) {
            threads = static_cast<std::size_t>(std::max(1, std::atoi(argv[++k])));
        } else {
            if (rank == 0)
                std::fprintf(stderr,
                             "usage: mpiexec -n R bench_mpi [--json] [--beam] [--size N] [--repeats K] [--threads T]\n");
            MPI_Finalize();
            return 2;
        }
    }

    try {
        diskmc::grid_header header = diskmc::hd163296_like::grid();
        header.nx = header.ny = size;
        const diskmc::sky_map map = diskmc::hd163296_like::map(beam, 163296, header);
        const diskmc::inference::disk_family<> family;
        const Eigen::VectorXd full = diskmc::bench::bench_truth();
        const auto mask = diskmc::fit_mask(map, family.make<double>(diskmc::bench::bench_start()),
                                           {.r_min = diskmc::hd163296_like::r_min, .r_max = 1e6});
        const diskmc::inference::disk_likelihood_options likelihood_options{.convolve_beam = beam, .threads = threads};
        Eigen::VectorXd grad;
        double sink = 0.0;

        // The single-process likelihood on rank 0 alone, the others waiting.
        double single_process_s = 0.0;
        if (rank == 0) {
            const diskmc::inference::disk_likelihood<> single(map, mask, family, likelihood_options);
            single_process_s = diskmc::bench::time_repeats(repeats, [&] {
                                   sink += single.log_likelihood_gradient(full, grad);
                               }).median;
        }
        MPI_Barrier(MPI_COMM_WORLD);

        const diskmc::mpi::distributed_likelihood<> likelihood(map, mask, family, {.likelihood = likelihood_options});
        const diskmc::bench::timing gradient =
            time_collective(repeats, [&] { sink += likelihood.log_likelihood_gradient(full, grad); });

        // One reduction as the likelihood makes it: 1 + d numbers per block,
        // and the fingerprint of the parameters that checks the ranks agree.
        const int width = static_cast<int>(full.size()) + 1;
        const std::vector<int> blocks = diskmc::mpi::blocks_per_rank(
            static_cast<int>(diskmc::mpi::row_blocks(size, likelihood.options().rows_per_block).size()), ranks);
        const std::vector<double> local(static_cast<std::size_t>(blocks[static_cast<std::size_t>(rank)] * width), 1.0);
        std::vector<double> total;
        constexpr int reductions_per_repeat = 200;
        const diskmc::bench::timing reduction = time_collective(21, [&] {
            for (int k = 0; k < reductions_per_repeat; ++k)
                diskmc::mpi::ordered_sum(MPI_COMM_WORLD, local, blocks, width, total,
                                         diskmc::mpi::fingerprint({full.data(), static_cast<std::size_t>(full.size())}));
        });
        const double reduction_s = reduction.median / reductions_per_repeat;

        long long local_pixels_max = likelihood.local_pixel_count();
        MPI_Allreduce(MPI_IN_PLACE, &local_pixels_max, 1, MPI_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
        if (sink == 1.2345) std::puts("");  // keep the work
        if (rank == 0) {
            if (json) {
                std::printf("{\"ranks\": %d, \"threads\": %zu, \"beam\": %s, \"size\": %lld, \"pixels\": %lld, "
                            "\"rows_per_block\": %lld, \"gradient_s\": %.6g, \"gradient_min_s\": %.6g, "
                            "\"reduction_s\": %.6g, \"single_process_s\": %.6g, \"local_pixels_max\": %lld}\n",
                            ranks, threads, beam ? "true" : "false", static_cast<long long>(size),
                            static_cast<long long>(likelihood.pixel_count()),
                            static_cast<long long>(likelihood.options().rows_per_block), gradient.median,
                            gradient.minimum, reduction_s, single_process_s, local_pixels_max);
            } else {
                std::printf("distributed likelihood, HD163296-like disk on %lld x %lld pixels%s, median of %d repeats\n",
                            static_cast<long long>(size), static_cast<long long>(size), beam ? " with the beam" : "",
                            repeats);
                std::printf("%-6s %-8s %10s %12s %14s %14s %14s\n", "ranks", "threads", "pixels", "largest rank",
                            "gradient s", "reduction us", "1 process s");
                std::printf("%-6d %-8zu %10lld %12lld %14.4f %14.2f %14.4f\n", ranks, threads,
                            static_cast<long long>(likelihood.pixel_count()), local_pixels_max, gradient.median,
                            reduction_s * 1e6, single_process_s);
            }
        }
    } catch (const std::exception& error) {
        std::fprintf(stderr, "bench_mpi (rank %d): %s\n", rank, error.what());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Finalize();
    return 0;
}
