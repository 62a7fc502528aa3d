#pragma once
// The one reduction of the distributed likelihood: every rank contributes
// the partial sums of its consecutive blocks (each `width` numbers); rank 0
// gathers them, adds them block by block in block order, and broadcasts the
// total, so every rank holds the same sum, and that sum depends neither on
// the MPI library's reduction tree nor on how the blocks are spread over the
// ranks (MPI_Allreduce promises neither).

#include <mpi.h>

#include <cstddef>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

#include "diskmc/errors.hpp"

namespace diskmc::mpi {

/// Number of ranks of `communicator`.
inline int rank_count(MPI_Comm communicator) {
    int ranks = 0;
    MPI_Comm_size(communicator, &ranks);
    return ranks;
}

/// This process's rank in `communicator`.
inline int rank_of(MPI_Comm communicator) {
    int rank = 0;
    MPI_Comm_rank(communicator, &rank);
    return rank;
}

/// The sum over all blocks of their partial vectors, the same on every rank.
/// Collective: every rank of `communicator` calls it, in the same order.
/// @param local           this rank's blocks' partial vectors, block after
///                        block, `width` numbers each
/// @param blocks_per_rank how many blocks each rank holds (the same on every
///                        rank); rank r's blocks follow rank r - 1's
/// @param width           numbers per block (1 + the gradient's size)
/// @param total           resized to `width`: sum_b local_b, added in block order
inline void ordered_sum(MPI_Comm communicator, std::span<const double> local, std::span<const int> blocks_per_rank,
                        int width, std::vector<double>& total) {
    const int ranks = static_cast<int>(blocks_per_rank.size());
    const int rank = rank_of(communicator);
    std::vector<int> counts, offsets;
    std::vector<double> gathered;
    if (rank == 0) {
        counts.resize(static_cast<std::size_t>(ranks));
        offsets.resize(static_cast<std::size_t>(ranks));
        int offset = 0;
        for (int r = 0; r < ranks; ++r) {
            counts[static_cast<std::size_t>(r)] = blocks_per_rank[static_cast<std::size_t>(r)] * width;
            offsets[static_cast<std::size_t>(r)] = offset;
            offset += counts[static_cast<std::size_t>(r)];
        }
        gathered.resize(static_cast<std::size_t>(offset));
    }
    // MPI takes a non-const send buffer in older headers; it only reads it.
    MPI_Gatherv(const_cast<double*>(local.data()), static_cast<int>(local.size()), MPI_DOUBLE, gathered.data(),
                counts.data(), offsets.data(), MPI_DOUBLE, 0, communicator);
    total.assign(static_cast<std::size_t>(width), 0.0);
    if (rank == 0) {
        for (std::size_t start = 0; start < gathered.size(); start += static_cast<std::size_t>(width))
            for (std::size_t k = 0; k < static_cast<std::size_t>(width); ++k) total[k] += gathered[start + k];
    }
    MPI_Bcast(total.data(), width, MPI_DOUBLE, 0, communicator);
}

}  // namespace diskmc::mpi
