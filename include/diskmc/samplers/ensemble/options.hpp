#pragma once
// What the ensemble sampler is asked to do: where the walkers start, how
// long to run, which moves, threads, progress reports and checkpointing.

#include <Eigen/Core>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <variant>
#include <vector>

#include "diskmc/samplers/ensemble/moves.hpp"

namespace diskmc {

/// Walkers scattered around one point as eddy does:
/// x_k = p (1 + scatter N(0, 1)) for p != 0, and x_k = scatter N(0, 1) where
/// p == 0 (a relative scatter, so each parameter moves on its own scale).
struct scatter_start {
    Eigen::VectorXd point;
    std::size_t walkers = 0;
    /// Relative scatter (eddy's default 1e-3).
    double scatter = 1.0e-3;
};

/// Walkers drawn from N(mean, scale^2 covariance), e.g. the MAP point and the
/// inverse Hessian there. The covariance must be symmetric positive
/// semi-definite; a singular one fails the degeneracy check.
struct gaussian_start {
    Eigen::VectorXd mean;
    Eigen::MatrixXd covariance;
    std::size_t walkers = 0;
    /// Multiplies the standard deviations: < 1 starts in a tighter ball.
    double scale = 1.0;
};

/// Explicit positions, one column per walker (dim x walkers), e.g. the final
/// positions of an earlier run.
struct explicit_start {
    Eigen::MatrixXd positions;
};

/// How the walkers start. Whatever the choice, the sampler checks before the
/// first step that the walkers are even in number and at least 2 dim, finite
/// with a finite log-density, not all identical, and not degenerate.
using ensemble_start = std::variant<scatter_start, gaussian_start, explicit_start>;

/// Passed to the progress callback after every iteration.
struct ensemble_progress {
    /// Iterations completed, burn-in included.
    std::size_t iteration = 0;
    /// burn_in + steps.
    std::size_t total_iterations = 0;
    std::size_t burn_in = 0;
    /// Fraction of proposals accepted so far in the current phase (burn-in,
    /// or sampling after it).
    double acceptance = 0.0;
    /// Seconds since this call started.
    double elapsed_seconds = 0.0;
    /// Points at which the log-density has been evaluated.
    std::size_t log_density_evaluations = 0;
    /// Stopping on precision (ensemble_options::min_ess > 0): the smallest
    /// ESS over the parameters at the last check between rounds (0 before
    /// the first), and the target. total_iterations is then the current
    /// round's plan.
    double min_ess = 0.0;
    double target_ess = 0.0;
};

/// Settings of `ensemble()`. Defaults follow emcee where it has one.
struct ensemble_options {
    /// Iterations recorded after burn-in; the chain keeps every `thin`-th.
    std::size_t steps = 1000;
    /// Iterations run first and discarded (emcee keeps them and leaves the
    /// discarding to you; a few autocorrelation times is typical).
    std::size_t burn_in = 0;
    /// Keep one iteration in `thin`; the chain holds steps / thin draws.
    std::size_t thin = 1;
    /// The moves and their weights; one is picked per iteration (emcee's
    /// default: the stretch move alone).
    std::vector<weighted_move> moves = {weighted_move{}};
    /// Reassign walkers to groups at random each iteration (emcee's default).
    bool randomize_split = true;
    /// Threads evaluating a group's proposals when the model has no
    /// log_density_batch (0 = all cores). Results do not depend on it. For
    /// densities cheaper than ~20 µs one thread is faster.
    std::size_t threads = 0;
    /// Walkers whose acceptance fraction after burn-in is below this are
    /// reported as stuck.
    double stuck_acceptance = 0.01;
    /// Called after every iteration; return false to stop early (the result
    /// and the checkpoint then hold every completed iteration).
    std::function<bool(const ensemble_progress&)> progress = {};
    /// If set, the run is appended to this file as it goes (format in
    /// checkpoint.hpp), and a run whose file already exists resumes from it:
    /// same seed, walkers, dim, burn-in, thinning and moves are required;
    /// `steps` may grow, to extend a finished run.
    std::filesystem::path checkpoint = {};
    /// Besides every kept draw, a state record is written every this many
    /// iterations (and at the end), so at most this many iterations are lost
    /// to an interruption during burn-in or between thinned draws.
    std::size_t checkpoint_every = 1;
    /// Replace an existing checkpoint file instead of resuming from it.
    bool overwrite_checkpoint = false;

    /// Stop on precision: when > 0, after burn-in the walkers run in rounds
    /// until every parameter's ESS reaches min_ess and the chain is at least
    /// min_length_in_tau autocorrelation times long, or until `steps` (then
    /// the budget) are done (result.precision_reached says which; a warning
    /// when the budget ends the run). The ESS is the ensemble's own:
    /// walkers x draws / tau, tau by emcee's estimator
    /// (integrated_autocorrelation_times). There is no R-hat bound: the
    /// walkers are not independent chains (every proposal is built from the
    /// others' positions), so comparing their variances does not test
    /// convergence as it does for NUTS' chains; the length rule plays that
    /// part. The first round is first_round draws per walker; each next one
    /// aims at 1.2 x the draws min_ess needs at the ESS per draw so far, and
    /// 1.1 x min_length_in_tau x the largest tau, with at least round_step
    /// more draws and at most double, a multiple of round_step. The checks
    /// are made on the calling thread, so the stopping point depends on the
    /// seed alone; a resumed run checks afresh from first_round.
    double min_ess = 0.0;
    /// The chain must be this many autocorrelation times long (emcee's rule
    /// for trusting tau: from a shorter chain tau is usually underestimated
    /// and the ESS overstated); 0 checks the ESS alone.
    double min_length_in_tau = 50.0;
    /// Draws per walker before the first check (stopping on precision).
    std::size_t first_round = 200;
    /// Rounds' lengths are multiples of this many draws per walker.
    std::size_t round_step = 50;
};

}  // namespace diskmc
