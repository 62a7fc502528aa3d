#pragma once
// Settings of the No-U-Turn sampler, with Stan's defaults (CmdStan 2.3x,
// `sample algorithm=hmc engine=nuts`) unless a comment says otherwise.

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>

#include "diskmc/diagnostics/warnings.hpp"

namespace diskmc {

/// The kinetic energy's metric: p ~ N(0, M), velocity = M^{-1} p. The
/// sampler adapts the inverse metric M^{-1} to the posterior covariance.
enum class metric_kind {
    unit,      ///< M = I: no adaptation of the metric (step size still adapts).
    diagonal,  ///< M^{-1} = diag(variances); Stan's default `diag_e`.
    dense,     ///< M^{-1} = full covariance; Stan's `dense_e`. Best for correlated posteriors.
};

/// How each adaptation window's covariance estimate Σ̂ (from n draws) is
/// regularised before it becomes the inverse metric.
enum class metric_regularization {
    /// Default. Shrink toward a target with the problem's own scale:
    /// (n/(n+5))·Σ̂ + (5/(n+5))·T, where T is the user's initial inverse metric
    /// when one was given (e.g. the MAP covariance; in the standardised frame
    /// this is the identity), else diag(Σ̂). With T = diag(Σ̂) a diagonal metric
    /// is the plain variance estimate. Unlike Stan's fixed target, this adds
    /// nothing of the wrong scale to directions with tiny posterior variance.
    scale_relative,
    /// Stan's and numpyro's rule, for comparison: (n/(n+5))·Σ̂ + 1e-3·(5/(n+5))·I.
    /// On parameters with posterior sd ≪ 0.03 the fixed 1e-3 dominates the true
    /// variance and caps the step size (see the README, "Metric regularisation").
    stan_fixed,
    /// The raw window estimate Σ̂.
    none,
};

/// How warmup adapts the sampler's parameters.
enum class warmup_mode {
    /// Stan's warmup: dual averaging of the step size throughout, and the
    /// metric from windows of draws (init_buffer, base_window, term_buffer).
    windowed,
    /// Dual averaging of the step size only, for all `warmup` iterations; the
    /// metric stays the initial one. For a metric known to be good.
    step_size_only,
    /// For a metric believed good (e.g. coordinates standardised by the MAP
    /// covariance): a short warmup of `trusted_warmup` iterations adapting the
    /// step size only, then a check that the posterior in the sampler's
    /// coordinates is close to the metric's scale (see
    /// nuts_result::warmup_check). When the check passes the chain samples
    /// with the averaged step size times 0.9 (detail::trusted_step_size_shrink:
    /// a short average ends too large). When the check fails the chain falls
    /// back to Stan's windowed adaptation for the rest of the `warmup` iterations.
    trust_metric_with_fallback,
};

/// What a chain's warmup did (nuts_result::warmup_taken).
enum class warmup_path {
    windowed,        ///< Stan's windows (warmup_mode::windowed).
    step_size_only,  ///< step size only, all `warmup` iterations.
    trusted,         ///< the short step-size-only warmup passed its check.
    fell_back,       ///< the check failed: windowed adaptation for the rest of `warmup`.
};

namespace detail {

inline const char* warmup_mode_name(warmup_mode mode) {
    switch (mode) {
        case warmup_mode::windowed: return "windowed";
        case warmup_mode::step_size_only: return "step_size_only";
        case warmup_mode::trust_metric_with_fallback: return "trust_metric_with_fallback";
    }
    return "windowed";
}

inline const char* warmup_path_name(warmup_path path) {
    switch (path) {
        case warmup_path::windowed: return "windowed";
        case warmup_path::step_size_only: return "step_size_only";
        case warmup_path::trusted: return "trusted";
        case warmup_path::fell_back: return "fell_back";
    }
    return "windowed";
}

/// Stan's name of a metric (CmdStan's `metric=`), as output files write it.
inline const char* metric_name(metric_kind metric) {
    switch (metric) {
        case metric_kind::unit: return "unit_e";
        case metric_kind::diagonal: return "diag_e";
        case metric_kind::dense: return "dense_e";
    }
    return "diag_e";
}

inline const char* regularization_name(metric_regularization rule) {
    switch (rule) {
        case metric_regularization::scale_relative: return "scale_relative";
        case metric_regularization::stan_fixed: return "stan_fixed";
        case metric_regularization::none: return "none";
    }
    return "scale_relative";
}

}  // namespace detail

/// Passed to the progress callback after every iteration of every chain.
/// Statistics are those of the current phase (warmup, or sampling once it
/// has begun), as Stan reports divergences after warmup only.
struct nuts_progress {
    /// Index of the chain that finished an iteration (0 for a single chain).
    std::size_t chain = 0;
    /// Iterations this chain has completed, warmup included.
    std::size_t iteration = 0;
    /// warmup + samples, as planned now: the chain's warmup length (short
    /// while a trusted warmup lasts, the full one after a fall back) plus the
    /// draws of the current round when the run stops on precision.
    std::size_t total_iterations = 0;
    /// This chain's warmup length as known now.
    std::size_t warmup = 0;
    /// The completed iteration was a sampling one (iteration > warmup).
    bool sampling = false;
    /// Divergent transitions of this chain in the current phase.
    std::size_t divergences = 0;
    /// Mean tree depth and mean leapfrog steps of this chain in the current phase.
    double mean_tree_depth = 0.0;
    double mean_leapfrog = 0.0;
    /// Step size of the last transition.
    double step_size = 0.0;
    /// Log-density-and-gradient evaluations of this chain so far.
    std::size_t gradient_evaluations = 0;
    /// Seconds since the call to nuts() / nuts_chains() started.
    double elapsed_seconds = 0.0;
    /// Stopping on precision (nuts_chains_options::min_ess > 0): the smallest
    /// bulk or tail ESS over the parameters at the last check between rounds
    /// (0 before the first check), and the target.
    double min_ess = 0.0;
    double target_ess = 0.0;
};

/// Settings of one NUTS chain. Aggregate: use designated initialisers,
/// `nuts_options{.warmup = 500, .metric = metric_kind::dense}`.
struct nuts_options {
    /// Warmup (adaptation) iterations; not returned as draws unless save_warmup.
    std::size_t warmup = 1000;
    /// Sampling iterations: the draws returned. When nuts_chains stops on
    /// precision (min_ess > 0) this is the most it draws per chain.
    std::size_t samples = 1000;
    /// Also keep the warmup draws (result.warmup_draws).
    bool save_warmup = false;

    /// Largest tree depth while sampling: at most 2^max_tree_depth - 1
    /// leapfrog steps per iteration. Stan's default 10. Must be in [1, 30].
    std::size_t max_tree_depth = 10;
    /// Largest tree depth during warmup; 0 means "same as max_tree_depth"
    /// (numpyro accepts such a pair). A smaller cap keeps early warmup, before
    /// the metric is adapted, from spending 2^10 steps per iteration.
    std::size_t max_tree_depth_warmup = 0;
    /// 0 (the default): NUTS, each trajectory grows until it makes a U-turn
    /// or reaches the depth cap. d >= 1: static multinomial HMC instead, with
    /// the U-turn criterion off: every transition, in warmup and sampling,
    /// builds the whole tree of 2^d - 1 leapfrog steps (fewer only when it
    /// diverges) and draws its state from it as NUTS does; max_tree_depth and
    /// max_tree_depth_warmup are then ignored. The integration time is
    /// (2^d - 1) x the adapted step size. Every chain then takes the same
    /// number of steps, so lockstep chains never wait for each other. Must be
    /// in [0, 30].
    std::size_t fixed_tree_depth = 0;
    /// A leapfrog step whose energy exceeds the initial energy by more than
    /// this is a divergence: the trajectory stops there (Stan's 1000).
    double max_energy_error = 1000.0;

    /// The metric's form. Stan's default is diagonal.
    metric_kind metric = metric_kind::diagonal;
    /// Initial inverse metric, in the model's coordinates: empty (identity),
    /// a dim x 1 vector of variances, or a dim x dim covariance (symmetric
    /// positive definite; a diagonal metric takes its diagonal). Pass the MAP
    /// covariance here and the MAP as the initial point to start warmup there;
    /// adaptation then goes on from it and, with scale_relative, shrinks
    /// toward it.
    Eigen::MatrixXd inverse_metric = {};
    /// Adapt the metric during warmup with Stan's windows (needs warmup >= 20).
    bool adapt_metric = true;
    /// How warmup adapts; see warmup_mode. The fit uses
    /// trust_metric_with_fallback by default when the MAP covariance
    /// standardises the coordinates (nuts_fit_settings::trust_map_covariance).
    warmup_mode warmup_adaptation = warmup_mode::windowed;
    /// Length of the short warmup of trust_metric_with_fallback (it must be
    /// below `warmup`, which remains the length of a warmup that fell back).
    std::size_t trusted_warmup = 100;
    /// How each window's estimate is regularised.
    metric_regularization regularization = metric_regularization::scale_relative;

    /// Initial step size; 0 means 1 (Stan's default). When adapt_step_size is
    /// on, Stan's heuristic search starts from it; when off, a value > 0 is
    /// used as is and 0 is replaced by the heuristic search's result.
    double step_size = 0.0;
    /// Adapt the step size by dual averaging during warmup.
    bool adapt_step_size = true;
    /// Dual averaging's target mean acceptance statistic (Stan's delta).
    double target_accept = 0.8;
    /// Dual averaging regularisation scale (Hoffman & Gelman 2014, gamma).
    double gamma = 0.05;
    /// Dual averaging iteration offset (t0).
    double t0 = 10.0;
    /// Dual averaging relaxation exponent (kappa).
    double kappa = 0.75;
    /// Each transition uses step_size·(1 + jitter·U(-1, 1)); Stan's default 0.
    double step_size_jitter = 0.0;

    /// Stan's windowed adaptation: fast initial buffer, slow windows doubling
    /// from base_window, fast terminal buffer. When they do not fit in warmup
    /// they become 15% / 75% / 10% of it, as in Stan.
    std::size_t init_buffer = 75;
    std::size_t base_window = 25;
    std::size_t term_buffer = 50;

    /// Standardise the parameters before sampling: the sampler moves in
    /// z = L^{-1}(theta - m), where L L^T = standardize_covariance (e.g. the MAP
    /// covariance) and m = standardize_location (empty: the initial point).
    /// Draws are returned in the model's coordinates; the adapted metric is
    /// reported in z. Empty (the default): no standardisation.
    Eigen::MatrixXd standardize_covariance = {};
    /// The centre m of the standardisation; empty means the initial point
    /// (chain 0's in a multi-chain run).
    Eigen::VectorXd standardize_location = {};

    /// Called after every iteration of every chain; return false to stop the
    /// run early: every chain then stops after its current iteration and
    /// keeps the draws it has (result.stopped_early; chains may hold
    /// different numbers of draws). In a multi-chain run it is called from
    /// the chains' threads, one call at a time (the runner holds a mutex), so
    /// it needs no locking of its own, but it should return quickly: the
    /// other chains wait for it. It never changes the draws.
    std::function<bool(const nuts_progress&)> progress = {};
};

/// Settings of a multi-chain run. Aggregate, like nuts_options.
struct nuts_chains_options {
    /// Settings shared by every chain.
    nuts_options sampler = {};
    /// Number of chains (Stan's and numpyro's usual 4).
    std::size_t chains = 4;
    /// Threads to run chains on; 0 means all cores. Results do not depend on it.
    std::size_t threads = 0;
    /// Run the chains as one batch: every chain takes its next leapfrog step
    /// at the same time, and a chain whose tree is finished waits for the
    /// others before the next iteration (what "vectorised chains" do). The
    /// draws are identical to the free-running mode; only the timing differs.
    /// Measured in benchmarks/bench_nuts: it is slower on threads, because
    /// chains wait for the longest tree.
    bool lockstep = false;

    /// Checkpoint file (format in samplers/nuts/checkpoint.hpp); empty: none.
    /// Each chain is recorded when its warmup ends (adapted step size and
    /// metric, current point, random stream, warmup statistics) and then
    /// every checkpoint_every sampling draws, at its end, and when the run
    /// is stopped early. A run whose file exists resumes from it: chains that
    /// had finished warmup go on sampling from their last record, chains still
    /// in warmup start it again, and the result is the one an uninterrupted
    /// run would have given, bit for bit (timings and lockstep_rounds aside).
    /// A file written by a run with other settings (dim, chains, seed, warmup,
    /// samples, metric, tree depths, adaptation, standardisation, inits) is
    /// refused with a message naming what differs.
    std::filesystem::path checkpoint = {};
    /// Sampling draws per chain between records. Must be at least 1.
    std::size_t checkpoint_every = 100;
    /// Replace an existing checkpoint file instead of resuming from it.
    bool overwrite_checkpoint = false;

    /// Stop on precision: when > 0, after warmup the chains draw in rounds
    /// and stop at the end of the first round where every parameter's bulk
    /// and tail ESS (over all chains) reach min_ess and its rank-normalised
    /// R-hat is at most max_rhat, or when they hold sampler.samples draws
    /// each (result.precision_reached says which). The rounds' lengths
    /// depend on the draws only, never on timing or threads: the first round
    /// is first_round draws per chain; each next one aims, from the ESS per
    /// draw so far, at 1.2 x what min_ess needs, at least round_step more
    /// draws and at most double, rounded up to a multiple of round_step.
    double min_ess = 0.0;
    /// R-hat bound of stopping on precision (used when min_ess > 0); by
    /// default the summary's warning threshold, so a run stopped on
    /// precision raises no R-hat warning.
    double max_rhat = warning_thresholds{}.max_rhat;
    /// Draws per chain before the first precision check.
    std::size_t first_round = 200;
    /// Granularity of the rounds' lengths (draws per chain).
    std::size_t round_step = 50;
};

}  // namespace diskmc
