#pragma once
// What fit_rotation_map() is asked to do: the map and how to cut it, the
// parameters, the mask, the beam, the MAP step and the sampler.

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "diskmc/disk/mask.hpp"
#include "diskmc/disk/sky_map.hpp"
#include "diskmc/fit/model_choice.hpp"
#include "diskmc/inference/map.hpp"
#include "diskmc/inference/parameters.hpp"
#include "diskmc/samplers/ensemble/options.hpp"
#include "diskmc/samplers/laplace/options.hpp"
#include "diskmc/samplers/nuts/options.hpp"

namespace diskmc {

/// The ensemble sampler (emcee's algorithm) as the fit's sampler.
///
/// The walkers start from the MAP point and covariance when the MAP step ran
/// and gave a covariance (drawn in the unconstrained space, so every walker
/// starts inside the priors), else in eddy's relative ball of 1e-3 around the
/// parameters' starts. emcee has no default run length; ours is 64 walkers,
/// 1000 burn-in and 2000 recorded steps.
struct ensemble_fit_settings {
    /// Walkers: even and at least 2 x the free parameters.
    std::size_t walkers = 64;
    /// The sampler's own options (steps, burn_in, thin, moves, progress,
    /// checkpoint...). `threads` is overridden by fit_options::threads.
    ensemble_options options = {.steps = 2000, .burn_in = 1000};
    /// Scale of the start ball drawn from the MAP covariance (1 = its sd).
    double start_scale = 1.0;
    std::uint64_t seed = 1;
};

/// NUTS (Stan's algorithm) as the fit's sampler, on the unconstrained
/// parameters (Stan's transforms of the priors' bounds).
///
/// When the MAP step gave a covariance and the options leave
/// `standardize_covariance` and `inverse_metric` empty, the sampler is run in
/// coordinates standardised by the MAP (unconstrained) covariance, and the
/// chains start from points drawn from it around the MAP; otherwise every
/// chain starts at the parameters' starts. Defaults are Stan's (4 chains of
/// 1000 warmup and 1000 sampling iterations, max tree depth 10, diagonal
/// metric, target acceptance 0.8) but for the warmup: a short one trusting
/// the MAP covariance, see trust_map_covariance.
struct nuts_fit_settings {
    /// The sampler's own options (chains, warmup, samples, max_tree_depth,
    /// metric, target_accept, min_ess...). `threads` is overridden by
    /// fit_options::threads.
    nuts_chains_options options = {};
    /// When the sampler runs standardised by the MAP covariance, trust it:
    /// the warmup is options.sampler.trusted_warmup (100) iterations adapting
    /// the step size only, and the full options.sampler.warmup with Stan's
    /// windows only for a chain whose check fails (warmup_mode::
    /// trust_metric_with_fallback; the result says which path each chain took
    /// and warns of a fall back). false: options.sampler.warmup_adaptation as
    /// given (Stan's windows unless changed). On the HD163296-like benchmark
    /// (downsampled by 3, 4 chains x 1000 draws, seeds 1-12; benchmarks/
    /// bench_nuts_warmup --section fit) it needs ~9x fewer warmup gradients
    /// than Stan's windows, with no divergence either.
    bool trust_map_covariance = true;
    /// Scale of the chains' start points drawn from the MAP covariance (0:
    /// every chain starts at the MAP).
    double start_scale = 1.0;
    std::uint64_t seed = 1;
};

/// What a Laplace fit does when Pareto k̂ says the weighted draws do not
/// stand (k̂ above min(1 - 1/log10(draws), 0.7)).
enum class laplace_fallback {
    /// Keep the Laplace result, with a warning that it is not reliable
    /// (config kind "laplace").
    none,
    /// Run NUTS (laplace_fit_settings::nuts) from the same MAP point and
    /// covariance instead (config kind "auto"); also when the MAP step gave
    /// no covariance.
    nuts
};

/// Importance-sampled Laplace approximation as the fit's sampler
/// (samplers/laplace/): independent draws from the normal at the MAP point
/// with the MAP's unconstrained covariance, weighted by the posterior and
/// Pareto-smoothed; the summary is of draws resampled from the weights, the
/// ESS is the importance ESS. Needs the MAP step and its covariance.
struct laplace_fit_settings {
    /// The sampler's own options (draws, scale, resampled_draws, block,
    /// progress). `threads` is overridden by fit_options::threads. The normal
    /// is widened by 1.15: on the HD163296-like benchmark the posterior's sd
    /// differ from the MAP Hessian's by -8% to +13% (whitened NUTS draws), and
    /// at scale 1 k̂ ranged 0.46-0.89 over seeds (some refused); at 1.15,
    /// 0.27-0.56 with an importance ESS of ~65% of the draws.
    laplace_options options = {.scale = 1.15};
    std::uint64_t seed = 1;
    /// What to do when k̂ is too large (or, for `nuts`, when there is no
    /// covariance to draw from).
    laplace_fallback fallback = laplace_fallback::none;
    /// The NUTS run of the `nuts` fallback.
    nuts_fit_settings nuts = {};
};

/// Evaluates one group of an ensemble's proposals: `values[n]` =
/// `log_density(points.col(n))` for every column (values resized to the
/// columns), however the work is shared. See fit_options::ensemble_batch.
using ensemble_batch_evaluator =
    std::function<void(const Eigen::MatrixXd& points, Eigen::VectorXd& values,
                       const std::function<double(const Eigen::VectorXd&)>& log_density)>;

/// The sampler of a fit.
using fit_sampler_settings = std::variant<ensemble_fit_settings, nuts_fit_settings, laplace_fit_settings>;

/// The stages of a fit, reported to fit_options::on_stage.
enum class fit_stage { preparing, optimizing, sampling, summarizing };

/// A readable name of a stage ("preparing", ...).
inline std::string_view to_string(fit_stage stage) {
    switch (stage) {
        case fit_stage::preparing: return "preparing";
        case fit_stage::optimizing: return "optimizing";
        case fit_stage::sampling: return "sampling";
        case fit_stage::summarizing:
        default: return "summarizing";
    }
}

/// How to downsample the map before fitting (eddy's `downsample`).
struct downsampling {
    /// Keep every factor-th pixel from factor/2 (1: all pixels).
    Eigen::Index factor = 1;
    /// Downsample by ceil(bmaj / pixel) instead (eddy's downsample='beam');
    /// `factor` is then ignored. Needs a beam in the map.
    bool to_beam = false;
};

/// Everything a rotation-map fit needs, as eddy's rotationmap + fit_map.
/// Aggregate with documented defaults:
/// @code
///   diskmc::fit_options options{
///       .map = diskmc::make_sky_map(header, v0, dv0),
///       .field_of_view = 7.0,
///       .downsample = {.to_beam = true},
///       .parameters = {free_parameter("x0", 0.0), free_parameter("y0", 0.0),
///                      free_parameter("PA", 151.0), free_parameter("mstar", 0.8),
///                      free_parameter("vlsr", 2840.0), fixed_parameter("inc", 5.8),
///                      fixed_parameter("dist", 60.1)},
///       .mask = {.r_min = 0.3, .r_max = 3.0},
///       .sampler = diskmc::nuts_fit_settings{}};
/// @endcode
struct fit_options {
    /// The velocity map and its uncertainty (m/s), at full resolution.
    sky_map map = {};
    /// Clip to a square field of view of this side, arcsec (eddy's FOV).
    std::optional<double> field_of_view = std::nullopt;
    /// Downsampling after clipping.
    downsampling downsample = {};
    /// Free (with starts and optional priors) and fixed parameters, by eddy's
    /// names; the free ones in this order are the sampled vector. Parameters
    /// not given take eddy's defaults (dist 100, r_cavity 0, r_taper inf,
    /// q_taper 1...).
    std::vector<inference::parameter> parameters = {};
    /// The model's components, by name. The default is eddy's model: a flared
    /// surface when z0 or psi is given (free or fixed), else the midplane;
    /// Keplerian rotation (mstar, dist). (fit_rotation_map with a family
    /// object fits that family instead.)
    disk_model_choice model = {};
    /// eddy's mask rules, applied to the disk coordinates at the starting
    /// parameters (free starts and fixed values).
    mask_options mask = {};
    /// Convolve the model with the map's beam (eddy's beam=True).
    bool convolve_beam = false;
    /// Find the MAP point first (eddy's optimize=True); its covariance seeds
    /// the sampler's start (and NUTS' metric).
    bool optimize = true;
    /// Settings of the MAP step.
    inference::map_options map_settings = {};
    /// The sampler and its settings.
    fit_sampler_settings sampler = nuts_fit_settings{};
    /// The fit's thread budget, the one rule for every stage (0 = all cores;
    /// the results do not depend on it). The sampler gets all of it for its
    /// chains (NUTS), walkers (ensemble) or draws (Laplace); the likelihood
    /// gets all of it to split one evaluation's pixels. The outermost split
    /// wins: an evaluation made inside a sampler's parallel loop runs on its
    /// calling thread (parallel_for's rule for nested calls), so the
    /// likelihood's threads act where nothing else runs in parallel: the MAP
    /// step, and a sampler with one chain at a time. Chains fewer than the
    /// threads leave the rest idle (a nested split is not made).
    std::size_t threads = 0;
    /// Called when a stage begins (the library never prints). Per-iteration
    /// progress comes from the sampler's own callback in its options
    /// (ensemble_options::progress), which the fit passes on unchanged.
    std::function<void(fit_stage)> on_stage = {};
    /// Polled during the fit (between stages, at every evaluation of the MAP
    /// step, after every sampler iteration); once it returns true the fit
    /// stops: before sampling by throwing diskmc::interrupted, during sampling
    /// with a result of the draws so far (fit_result::interrupted). E.g. a
    /// program's Ctrl-C flag. Called from several threads.
    std::function<bool()> stop_requested = {};
    /// Who evaluates the ensemble's proposals. Empty (the default): the fit's
    /// threads share each group. Set, it gets each group in one call (the
    /// sampler's batch_log_density seam): the fit program sets it under
    /// mpiexec to spread the walkers over the ranks (diskmc/mpi/walkers.hpp),
    /// every rank running the same fit. Every value must be the density's, so
    /// the draws are those of one process for the seed.
    ensemble_batch_evaluator ensemble_batch = {};
};

}  // namespace diskmc
