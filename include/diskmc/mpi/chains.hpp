#pragma once
// NUTS chains spread over MPI ranks: each rank runs its consecutive share of
// the chains, each exactly as nuts_chains runs it (chain c draws from
// random_stream(seed, c), from inits' column c), and rank 0 gathers them in
// chain order. The draws are those of nuts_chains(model, inits, options,
// seed) in one process, bit for bit, whatever the number of ranks; rank 0
// then has every chain for R-hat, ESS and the outputs.
//
// Here the model is the single-process one (every rank holds the whole
// likelihood): chains, not pixels, are shared. For a map too large for one
// rank's time, use the distributed likelihood with every rank running the
// same chains instead.

#include <mpi.h>

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "diskmc/concepts/differentiable_log_density.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/mpi/ordered_sum.hpp"
#include "diskmc/mpi/row_blocks.hpp"
#include "diskmc/parallel/parallel_for.hpp"
#include "diskmc/samplers/nuts/result.hpp"
#include "diskmc/samplers/nuts/run.hpp"

namespace diskmc::mpi {

namespace detail {

/// Calls `field` on every member of a nuts_result, in one fixed order: the
/// one list that packing and unpacking share.
template <class Result, class Field>
void for_each_field(Result& result, Field&& field) {
    field(result.draws);
    field(result.transformed_draws);
    field(result.warmup_draws);
    field(result.warmup);
    field(result.sampling);
    field(result.step_size);
    field(result.metric);
    field(result.inverse_metric);
    field(result.max_tree_depth);
    field(result.target_accept);
    field(result.metric_updates);
    field(result.rejected_metric_updates);
    field(result.step_size_search_failed);
    field(result.gradient_evaluations_warmup);
    field(result.gradient_evaluations_sampling);
    field(result.non_finite_evaluations);
    field(result.warmup_seconds);
    field(result.sampling_seconds);
    field(result.stopped_early);
}

/// The numbers of nuts_iteration, in one fixed order.
template <class Iteration, class Field>
void for_each_field_of_iteration(Iteration& iteration, Field&& field) {
    field(iteration.accept_stat);
    field(iteration.step_size);
    field(iteration.tree_depth);
    field(iteration.n_leapfrog);
    field(iteration.divergent);
    field(iteration.energy);
    field(iteration.log_density);
}

/// nuts_results as doubles (counts, flags and the metric's kind are exact
/// in a double), to travel in one MPI message.
struct result_packer {
    std::vector<double>& out;
    void operator()(const Eigen::MatrixXd& matrix) {
        out.push_back(static_cast<double>(matrix.rows()));
        out.push_back(static_cast<double>(matrix.cols()));
        out.insert(out.end(), matrix.data(), matrix.data() + matrix.size());
    }
    void operator()(const std::vector<nuts_iteration>& iterations) {
        out.push_back(static_cast<double>(iterations.size()));
        for (const nuts_iteration& iteration : iterations) for_each_field_of_iteration(iteration, *this);
    }
    void operator()(metric_kind kind) { out.push_back(static_cast<double>(static_cast<int>(kind))); }
    template <class Number>
    void operator()(Number value) {
        out.push_back(static_cast<double>(value));
    }
};

/// The reverse of result_packer, reading from `at`.
struct result_unpacker {
    const double*& at;
    void operator()(Eigen::MatrixXd& matrix) {
        const auto rows = static_cast<Eigen::Index>(*at++), cols = static_cast<Eigen::Index>(*at++);
        matrix = Eigen::Map<const Eigen::MatrixXd>(at, rows, cols);
        at += rows * cols;
    }
    void operator()(std::vector<nuts_iteration>& iterations) {
        iterations.resize(static_cast<std::size_t>(*at++));
        for (nuts_iteration& iteration : iterations) for_each_field_of_iteration(iteration, *this);
    }
    void operator()(metric_kind& kind) { kind = static_cast<metric_kind>(static_cast<int>(*at++)); }
    template <class Number>
    void operator()(Number& value) {
        value = static_cast<Number>(*at++);
    }
};

}  // namespace detail

/// Runs NUTS chains spread over the ranks of `communicator`: the draws of
/// nuts_chains(model, inits, options, seed) in one process, bit for bit.
/// Collective: every rank calls it with the same arguments. Each rank runs
/// its chains on options.threads threads.
///
/// @param model    the target, whole on every rank (not a distributed likelihood)
/// @param inits    dim x chains, or dim x 1 for all chains
/// @param options  as for nuts_chains; lockstep is ignored (each chain runs
///                 free) and a checkpoint file is not supported here
/// @param seed     the run's seed
/// @return on rank 0, every chain in chain order, wall_seconds until the
///         last chain arrived and stopped_early if any chain stopped; on the
///         other ranks, no chains
/// @throws invalid_input, on every rank, for what nuts_chains rejects, or a checkpoint file
template <differentiable_log_density M>
nuts_chains_result nuts_chains_over_ranks(const M& model, const Eigen::MatrixXd& inits,
                                          const nuts_chains_options& options, std::uint64_t seed,
                                          MPI_Comm communicator = MPI_COMM_WORLD) {
    constexpr const char* f = "nuts_chains_over_ranks";
    check_argument(options.chains >= 1, f, "chains must be at least 1");
    check_argument(inits.rows() == static_cast<Eigen::Index>(model.dim()), f, "inits must have dim() rows");
    check_argument(inits.cols() == 1 || inits.cols() == static_cast<Eigen::Index>(options.chains), f,
                   "inits must have one column, or one per chain");
    check_argument(options.checkpoint.empty(), f, "a checkpoint file is not supported over ranks");
    diskmc::detail::check_nuts_options(options.sampler, model.dim());
    const double start = MPI_Wtime();
    auto init_of = [&](std::size_t c) -> Eigen::VectorXd {
        return inits.col(inits.cols() == 1 ? 0 : static_cast<Eigen::Index>(c));
    };
    // nuts_chains centres the standardisation on chain 0's start; nuts() on
    // its own start unless told.
    nuts_options sampler = options.sampler;
    if (sampler.standardize_covariance.size() != 0 && sampler.standardize_location.size() == 0)
        sampler.standardize_location = init_of(0);

    const int ranks = rank_count(communicator), rank = rank_of(communicator);
    const std::vector<int> counts = blocks_per_rank(static_cast<int>(options.chains), ranks);
    std::size_t first = 0;
    for (int r = 0; r < rank; ++r) first += static_cast<std::size_t>(counts[static_cast<std::size_t>(r)]);
    const auto mine = static_cast<std::size_t>(counts[static_cast<std::size_t>(rank)]);
    std::vector<nuts_result> own(mine);
    parallel_for(mine, options.threads, [&](std::size_t k) {
        auto random = diskmc::detail::chain_engine(seed, first + k);
        own[k] = nuts(model, init_of(first + k), sampler, random);
    });

    // Every rank's chains as one message of doubles, gathered on rank 0.
    std::vector<double> packed;
    for (nuts_result& result : own) detail::for_each_field(result, detail::result_packer{packed});
    int size = static_cast<int>(packed.size());
    std::vector<int> sizes(rank == 0 ? static_cast<std::size_t>(ranks) : 0), offsets(sizes.size());
    MPI_Gather(&size, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, communicator);
    std::vector<double> gathered;
    if (rank == 0) {
        int offset = 0;
        for (std::size_t r = 0; r < sizes.size(); ++r) {
            offsets[r] = offset;
            offset += sizes[r];
        }
        gathered.resize(static_cast<std::size_t>(offset));
    }
    MPI_Gatherv(packed.data(), size, MPI_DOUBLE, gathered.data(), sizes.data(), offsets.data(), MPI_DOUBLE, 0,
                communicator);
    nuts_chains_result result;
    if (rank == 0) {
        result.chains.resize(options.chains);
        const double* at = gathered.data();
        for (nuts_result& chain : result.chains) {
            detail::for_each_field(chain, detail::result_unpacker{at});
            result.stopped_early |= chain.stopped_early;
        }
        result.wall_seconds = MPI_Wtime() - start;
    }
    return result;
}

}  // namespace diskmc::mpi
