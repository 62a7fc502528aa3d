#pragma once
// The ensemble sampler's walkers over MPI ranks: a model wrapped so that its
// log_density_batch (the seam the ensemble sampler already takes, see
// concepts/batch_log_density.hpp) spreads one group's proposals over the
// ranks, each rank evaluating a contiguous share of the columns, and gathers
// the values to every rank.
//
// Why the draws are those of one process: the red-blue split makes the
// proposals of a group depend only on the other group's positions, so a
// group's evaluations are independent of each other; every rank runs the
// same sampler with the same seed, so every rank draws the same proposals,
// and after the gather every rank holds the same values, each computed by
// the same deterministic log_density as in one process. Nothing is summed
// across ranks, so nothing depends on the rank count.
//
//   const diskmc::mpi::walkers_over_ranks spread(posterior);
//   const auto result = diskmc::ensemble(spread, start, {.threads = 1}, seed);  // the same on every rank

#include <mpi.h>

#include <Eigen/Core>
#include <cstddef>
#include <vector>

#include "diskmc/concepts/batch_log_density.hpp"
#include "diskmc/concepts/log_density.hpp"
#include "diskmc/mpi/ordered_sum.hpp"
#include "diskmc/parallel/parallel_for.hpp"

namespace diskmc::mpi {

/// The columns [first, first + count) of n points that `rank` of `ranks`
/// evaluates: contiguous shares differing by at most one column.
struct column_share {
    int first = 0, count = 0;
};

inline column_share column_share_of(int points, int rank, int ranks) {
    const auto start = [&](int r) {
        return static_cast<int>(static_cast<long long>(points) * r / ranks);
    };
    return {start(rank), start(rank + 1) - start(rank)};
}

/// A log_density whose batches of points are spread over the ranks of a
/// communicator; satisfies batch_log_density, so the ensemble sampler hands
/// it each group's proposals in one call. Every rank must run the same
/// sampler with the same seed and options (each batch is collective). The
/// model is evaluated by one rank per point: not a distributed_likelihood
/// on the same communicator (its collective calls would see different
/// points on different ranks, and throw ranks_disagree).
template <log_density M>
class walkers_over_ranks {
public:
    /// @param model the target, evaluated on every rank; it must outlive this
    ///        object (held by reference, as the samplers hold models)
    /// @param threads threads per rank sharing the rank's columns (1: the
    ///        calling thread); the values do not depend on it
    /// @param communicator the ranks sharing the work (MPI_COMM_WORLD by
    ///        default); it must outlive this object
    explicit walkers_over_ranks(const M& model, std::size_t threads = 1, MPI_Comm communicator = MPI_COMM_WORLD)
        : model_(model), threads_(threads), communicator_(communicator) {}

    std::size_t dim() const { return model_.dim(); }

    /// One point, on this rank alone (not collective).
    double log_density(const Eigen::VectorXd& x) const { return static_cast<double>(model_.log_density(x)); }

    /// out[n] = log_density(points.col(n)) for every column, the same on
    /// every rank; this rank evaluates only its column_share_of. Collective.
    void log_density_batch(const Eigen::MatrixXd& points, Eigen::VectorXd& out) const {
        const int ranks = rank_count(communicator_), rank = rank_of(communicator_);
        const int n = static_cast<int>(points.cols());
        std::vector<int> counts(static_cast<std::size_t>(ranks)), offsets(static_cast<std::size_t>(ranks));
        for (int r = 0; r < ranks; ++r) {
            const column_share share = column_share_of(n, r, ranks);
            offsets[static_cast<std::size_t>(r)] = share.first;
            counts[static_cast<std::size_t>(r)] = share.count;
        }
        const column_share mine = column_share_of(n, rank, ranks);
        Eigen::VectorXd values(mine.count);
        if constexpr (batch_log_density<M>) {
            if (mine.count > 0) {
                const Eigen::MatrixXd share = points.middleCols(mine.first, mine.count);
                model_.log_density_batch(share, values);
            }
        } else {
            parallel_for(static_cast<std::size_t>(mine.count), threads_, [&](std::size_t k) {
                const Eigen::Index column = mine.first + static_cast<Eigen::Index>(k);
                const Eigen::VectorXd point = points.col(column);
                values[static_cast<Eigen::Index>(k)] = static_cast<double>(model_.log_density(point));
            });
        }
        out.resize(n);
        MPI_Allgatherv(values.data(), mine.count, MPI_DOUBLE, out.data(), counts.data(), offsets.data(), MPI_DOUBLE,
                       communicator_);
    }

private:
    const M& model_;
    std::size_t threads_;
    MPI_Comm communicator_;
};

}  // namespace diskmc::mpi
