#pragma once
// fit_rotation_map --config FIT.json under `mpiexec -n R` (R > 1, the program
// built with diskmc::mpi): one ensemble fit over R processes.
//
// Every rank reads the config and the map and runs the same fit with the same
// seed; within each half-step the ensemble's proposals are shared out over
// the ranks and the values gathered to all (diskmc/mpi/walkers.hpp), so the
// draws are those of one process, bit for bit. Rank 0 alone writes the output
// folder, prints and draws the plots; every rank checks the config alike, so
// a bad one fails everywhere before any work.
//
// Why only the ensemble: its walkers are the work to share. NUTS' chains
// each need the whole run of one process (its stop-on-precision rounds and
// checkpoints included); a single NUTS fit is refused under mpiexec with a
// message saying what to run instead (threads, or --batch for many fits).
//
// A stop request (Ctrl-C: mpiexec sends every rank SIGTERM) is agreed at each
// group of proposals, so all ranks stop after the same step; a run stopped
// under mpiexec writes no plots (mpiexec kills the ranks 1 s after its
// SIGTERM). --resume continues such a run in one process, without mpiexec:
// the draws are the same.

#include <mpi.h>

#include <Eigen/Core>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <functional>
#include <stdexcept>
#include <variant>

#include "diskmc/errors.hpp"
#include "diskmc/fit/options.hpp"
#include "diskmc/mpi/ordered_sum.hpp"
#include "diskmc/mpi/walkers.hpp"
#include "interrupts.hpp"

namespace diskmc::examples {

/// True when this process was started by mpiexec (Open MPI, or a PMI
/// launcher such as MPICH's or Slurm's), so MPI_Init joins a job.
inline bool started_by_mpiexec() {
    return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") || std::getenv("PMIX_RANK");
}

/// Thrown on the ranks other than 0 when rank 0 failed a step only it does
/// (its output folder): rank 0 reports the error, the others stay quiet.
struct failed_on_rank_zero : std::runtime_error {
    failed_on_rank_zero() : std::runtime_error("rank 0 failed") {}
};

/// This process's place in the fit's ranks (MPI_COMM_WORLD).
class fit_ranks {
public:
    fit_ranks() : rank_(mpi::rank_of(MPI_COMM_WORLD)), ranks_(mpi::rank_count(MPI_COMM_WORLD)) {}

    int rank() const { return rank_; }
    int count() const { return ranks_; }
    /// Rank 0 writes the outputs and speaks for the fit.
    bool writes() const { return rank_ == 0; }

    /// Refuses what cannot be spread, on every rank alike (before any work).
    void check(const fit_options& options, bool resume) const {
        if (resume)
            diskmc::detail::throw_invalid_input(
                "--resume under mpiexec: continue the run in one process (without mpiexec); its draws are the "
                "ones the run over ranks would have made");
        if (!std::holds_alternative<ensemble_fit_settings>(options.sampler))
            diskmc::detail::throw_invalid_input(
                "under mpiexec one fit spreads an ensemble's walkers over the ranks (sampler kind \"ensemble\"); "
                "NUTS and the Laplace sampler run their chains or draws on threads in one process: run this "
                "config without mpiexec (\"threads\" sets how many), or fit many configs with --batch LIST");
    }

    /// Runs `step` on rank 0 only and tells every rank whether it succeeded:
    /// rank 0 rethrows its failure, the others throw failed_on_rank_zero.
    template <class Step>
    void on_rank_zero(Step&& step) const {
        std::exception_ptr failure;
        if (writes()) {
            try {
                step();
            } catch (...) {
                failure = std::current_exception();
            }
        }
        int succeeded = failure ? 0 : 1;
        MPI_Bcast(&succeeded, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (failure) std::rethrow_exception(failure);
        if (!succeeded) throw failed_on_rank_zero();
    }

    /// Makes `options` run over the ranks: each group of the ensemble's
    /// proposals shared out (on options.threads threads per rank, 1 unless
    /// the config says: a rank per core is mpiexec's way), and the stop
    /// request agreed among the ranks at each group.
    void spread(fit_options& options) const {
        if (options.threads == 0) options.threads = 1;
        const std::size_t threads = options.threads;
        options.stop_requested = [] { return agreed_stop().load(); };
        options.ensemble_batch = [this, threads](const Eigen::MatrixXd& points, Eigen::VectorXd& values,
                                                 const std::function<double(const Eigen::VectorXd&)>& log_density) {
            const density_of_points density{static_cast<std::size_t>(points.rows()), log_density};
            mpi::walkers_over_ranks(density, threads).log_density_batch(points, values);
            const int columns = static_cast<int>(points.cols());
            batch_points_ += static_cast<std::size_t>(columns);
            own_share_ += static_cast<std::size_t>(mpi::column_share_of(columns, rank_, ranks_).count);
            int here = interrupt_requested() ? 1 : 0, anywhere = 0;
            MPI_Allreduce(&here, &anywhere, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
            if (anywhere) agreed_stop() = true;
        };
    }

    /// The fit's log-density evaluations as one process counts them, from
    /// this rank's count: every rank makes the evaluations outside the
    /// proposals (the MAP step, the start) and its share of the proposals.
    std::size_t log_density_evaluations(std::size_t counted_here) const {
        return counted_here - own_share_ + batch_points_;
    }

private:
    /// A log_density from the fit's function of one point.
    struct density_of_points {
        std::size_t dimension;
        const std::function<double(const Eigen::VectorXd&)>& function;
        std::size_t dim() const { return dimension; }
        double log_density(const Eigen::VectorXd& x) const { return function(x); }
    };

    /// Set on every rank at the same group once any rank was asked to stop.
    static std::atomic<bool>& agreed_stop() {
        static std::atomic<bool> flag{false};
        return flag;
    }

    int rank_, ranks_;
    // The proposals handed to spread()'s evaluator, and this rank's share.
    mutable std::size_t batch_points_ = 0, own_share_ = 0;
};

}  // namespace diskmc::examples
