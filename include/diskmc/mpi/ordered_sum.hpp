#pragma once
// The one reduction of the distributed likelihood: every rank contributes
// the partial sums of its consecutive blocks (each `width` numbers); rank 0
// gathers them, adds them block by block in block order, and broadcasts the
// total, so every rank holds the same sum, and that sum depends neither on
// the MPI library's reduction tree nor on how the blocks are spread over the
// ranks (MPI_Allreduce promises neither).
//
// The same gather carries each rank's fingerprint of what all ranks must
// agree on (the parameter vector of a collective likelihood call): rank 0
// compares them and the broadcast says which ranks differ, for two more
// numbers per rank and one more in the broadcast.

#include <mpi.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

/// FNV-1a (64 bits) over the bytes of `values`: equal for vectors equal bit
/// for bit, and different otherwise but with probability 2^-64.
inline std::uint64_t fingerprint(std::span<const double> values) {
    std::uint64_t hash = 14695981039346656037ull;
    for (const double value : values) {
        unsigned char bytes[sizeof(double)];
        std::memcpy(bytes, &value, sizeof(double));
        for (const unsigned char byte : bytes) {
            hash ^= byte;
            hash *= 1099511628211ull;
        }
    }
    return hash;
}

/// The sum over all blocks of their partial vectors, the same on every rank,
/// and the ranks whose `agreed` fingerprint differs from rank 0's.
/// Collective: every rank of `communicator` calls it, in the same order.
/// @param local           this rank's blocks' partial vectors, block after
///                        block, `width` numbers each
/// @param blocks_per_rank how many blocks each rank holds (the same on every
///                        rank); rank r's blocks follow rank r - 1's
/// @param width           numbers per block (1 + the gradient's size)
/// @param total           resized to `width`: sum_b local_b, added in block order
/// @param agreed          a fingerprint of what every rank must hold alike
///                        (0 if nothing)
/// @return the ranks whose `agreed` differs from rank 0's, in order (empty
///         when all agree); the same on every rank
inline std::vector<int> ordered_sum(MPI_Comm communicator, std::span<const double> local,
                                    std::span<const int> blocks_per_rank, int width, std::vector<double>& total,
                                    std::uint64_t agreed = 0) {
    // Each rank sends its fingerprint first, as two 32-bit halves (exact in doubles).
    constexpr int header = 2;
    const int ranks = static_cast<int>(blocks_per_rank.size());
    const int rank = rank_of(communicator);
    std::vector<double> send(header + local.size());
    send[0] = static_cast<double>(agreed >> 32);
    send[1] = static_cast<double>(agreed & 0xffffffffu);
    std::copy(local.begin(), local.end(), send.begin() + header);
    std::vector<int> counts, offsets;
    std::vector<double> gathered;
    if (rank == 0) {
        counts.resize(static_cast<std::size_t>(ranks));
        offsets.resize(static_cast<std::size_t>(ranks));
        int offset = 0;
        for (int r = 0; r < ranks; ++r) {
            counts[static_cast<std::size_t>(r)] = header + blocks_per_rank[static_cast<std::size_t>(r)] * width;
            offsets[static_cast<std::size_t>(r)] = offset;
            offset += counts[static_cast<std::size_t>(r)];
        }
        gathered.resize(static_cast<std::size_t>(offset));
    }
    MPI_Gatherv(send.data(), static_cast<int>(send.size()), MPI_DOUBLE, gathered.data(), counts.data(),
                offsets.data(), MPI_DOUBLE, 0, communicator);
    // The total, then the number of ranks that disagree with rank 0.
    total.assign(static_cast<std::size_t>(width) + 1, 0.0);
    std::vector<int> disagree(static_cast<std::size_t>(ranks), 0);
    if (rank == 0) {
        for (int r = 0; r < ranks; ++r) {
            const double* part = gathered.data() + offsets[static_cast<std::size_t>(r)];
            if (part[0] != send[0] || part[1] != send[1]) {
                disagree[static_cast<std::size_t>(r)] = 1;
                total[static_cast<std::size_t>(width)] += 1.0;
            }
            for (int b = 0; b < blocks_per_rank[static_cast<std::size_t>(r)]; ++b)
                for (int k = 0; k < width; ++k)
                    total[static_cast<std::size_t>(k)] += part[header + b * width + k];
        }
    }
    MPI_Bcast(total.data(), width + 1, MPI_DOUBLE, 0, communicator);
    const bool all_agree = total[static_cast<std::size_t>(width)] == 0.0;
    total.resize(static_cast<std::size_t>(width));
    if (all_agree) return {};
    // Only when they differ: which ranks, so that every rank can name them.
    MPI_Bcast(disagree.data(), ranks, MPI_INT, 0, communicator);
    std::vector<int> differing;
    for (int r = 0; r < ranks; ++r)
        if (disagree[static_cast<std::size_t>(r)]) differing.push_back(r);
    return differing;
}

}  // namespace diskmc::mpi
