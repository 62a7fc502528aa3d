// bench_samplers: NUTS against the affine-invariant ensemble sampler on the
// HD163296-like problem (9 free parameters, shared/data/bench), the seed
// report's question. Configurations (names as printed):
//
//   the seed's table     nuts-d8, nuts-d6: 1 chain, diagonal metric, Stan's
//                        defaults, 500 warmup + 500 samples, from the seed's p0
//   untried directions   target_accept 0.65 and a dense metric (each against
//                        nuts-d6); from the MAP with its covariance as the
//                        initial metric (diagonal, dense) or standardised by
//                        it; 150 warmup iterations; downsampling by 2 and 4;
//                        static HMC of 7 and 3 leapfrog steps
//                        (nuts_options::fixed_tree_depth)
//   four chains          sequential, on 2 threads, in lockstep on 2 threads
//                        (identical draws: only the time differs), and static
//                        HMC in lockstep
//   the ensemble         32 / 64 / 128 walkers, stretch vs differential-
//                        evolution moves, 1 vs 2 threads; the seed's 128
//                        walkers x (1000 burn-in + 1000 steps)
//   beam                 nuts-map-std and ens-64-stretch with the beam
//                        convolution on (the _beam_ data set)
//
// Every configuration reports wall time, evaluations, NUTS trajectory
// statistics, the smallest bulk ESS over the parameters (NUTS: rank-
// normalised split-chain ESS; ensemble: walkers x steps / tau, emcee's
// integrated autocorrelation time, after discarding the burn-in as emcee
// users do), ESS per second and per 1000 evaluations, and whether every
// posterior median lies within 3 sd of truth.json. A last column compares
// each run with the run of the most effective samples on the same data
// (largest |median difference| in sd, and the width ratio).
//
// Sampler runs are long, so each configuration runs once by default
// (--repeats N runs it N times with different seeds and reports medians).
// One short warm-up run per data set comes first (page faults, caches). The
// MAP optimisation (with the Hessian) is run once per data set and reported
// on its own line; configurations starting from it do not include its time.
//
//   bench_samplers [--quick] [--only SUBSTRING] [--repeats N] [--json] [--data DIR]
//
// --quick   short runs (a smoke test of a minute or two; numbers meaningless)
// --only    run only the configurations whose name contains SUBSTRING
// --json    one JSON object per line instead of the tables
// --data    the data directory holding bench/ (default $DISKMC_DATA_DIR); without
//           it the problem is built in memory

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bench_common.hpp"
#include "diskmc/diagnostics/autocorrelation.hpp"
#include "diskmc/diagnostics/convergence.hpp"
#include "diskmc/disk.hpp"
#include "diskmc/inference.hpp"
#include "diskmc/samplers/ensemble.hpp"
#include "diskmc/samplers/nuts.hpp"

namespace {

namespace inference = diskmc::inference;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

double median_of(std::vector<double> values) {
    if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// ---------------------------------------------------------------------------
// The problem. Built from the library's pieces in one place, so that it can
// be swapped for the fit library's entry point (include/diskmc/fit.hpp) later:
// map -> optional downsampling -> eddy's mask from the start model (r_min
// 0.3") -> likelihood -> posterior with eddy's priors, r_taper flat [0, 50].

/// The free parameters, in sampling order (truth.json's order).
const std::vector<std::string>& free_names() {
    static const std::vector<std::string> names = {"x0",  "y0", "PA",      "mstar",  "vlsr",
                                                   "z0", "psi", "r_taper", "q_taper"};
    return names;
}

using bench_posterior =
    decltype(inference::make_posterior(std::declval<inference::parameter_set>(),
                                       std::declval<diskmc::inference::disk_likelihood<>>()));

struct bench_problem {
    bool beam = false;
    int downsample = 1;
    Eigen::Index pixels = 0;  ///< inside the mask
    bench_posterior posterior;
    Eigen::VectorXd truth;  ///< free parameters, free_names() order
    Eigen::VectorXd start;  ///< truth.json's "start", same order
};

/// The 9-parameter fit of the benchmark map, as the seed set it up.
/// @param full_map   the benchmark map (bench_map())
/// @param beam       convolve the model with the beam
/// @param downsample keep every downsample-th pixel (eddy's rule); the
///                   bench map already is the seed's downsample-4 grid
std::unique_ptr<bench_problem> make_bench_problem(const diskmc::sky_map& full_map, bool beam, int downsample) {
    const diskmc::sky_map map = downsample > 1 ? diskmc::downsample(full_map, downsample) : full_map;
    const diskmc::inference::disk_family<> family;
    const Eigen::VectorXd full_truth = diskmc::bench::bench_truth();
    const Eigen::VectorXd full_start = diskmc::bench::bench_start();
    const auto mask = diskmc::fit_mask(map, family.make<double>(full_start), {.r_min = 0.3});
    diskmc::inference::disk_likelihood<> likelihood(map, mask, family, {.convolve_beam = beam, .threads = 1});
    const Eigen::Index pixels = likelihood.pixel_count();

    const std::vector<std::string> family_names = family.parameter_names();
    auto full_index = [&](const std::string& name) {
        return static_cast<Eigen::Index>(std::find(family_names.begin(), family_names.end(), name) -
                                         family_names.begin());
    };
    std::vector<inference::parameter> parameters;
    const auto n = static_cast<Eigen::Index>(free_names().size());
    Eigen::VectorXd truth(n), start(n);
    for (Eigen::Index i = 0; i < n; ++i) {
        const std::string& name = free_names()[static_cast<std::size_t>(i)];
        truth[i] = full_truth[full_index(name)];
        start[i] = full_start[full_index(name)];
        // eddy's r_taper prior is (0, inf); the bench README asks for [0, 50]
        // (the seed saw NUTS trees blow up with the open one).
        parameters.push_back(name == "r_taper"
                                 ? inference::free_parameter(name, start[i], inference::prior::flat(0.0, 50.0))
                                 : inference::free_parameter(name, start[i]));
    }
    for (const char* name : {"inc", "dist", "r_cavity"})
        parameters.push_back(inference::fixed_parameter(name, full_truth[full_index(name)]));

    return std::unique_ptr<bench_problem>(new bench_problem{
        beam, downsample, pixels,
        inference::make_posterior(inference::parameter_set(std::move(parameters)), std::move(likelihood)),
        truth, start});
}

// ---------------------------------------------------------------------------
// Configurations.

enum class nuts_start {
    seed_start,    ///< truth.json's start, unit metric: what the seed did
    map_point,     ///< the MAP point, unit initial metric
    map_metric,    ///< the MAP point, the MAP covariance as the initial inverse metric
    standardised,  ///< the MAP point, parameters standardised by the MAP covariance
};

struct run_config {
    std::string name;
    std::string sampler;  ///< "nuts" or "ensemble"
    bool beam = false;
    int downsample = 1;
    std::string note;
    // NUTS
    diskmc::nuts_chains_options nuts = {};
    nuts_start start = nuts_start::seed_start;
    // ensemble
    std::size_t walkers = 0;
    std::size_t burn_in = 0;
    std::size_t steps = 0;
    std::size_t threads = 1;
    bool differential_evolution = false;
};

/// Run lengths: the seed's, or --quick's.
struct lengths {
    std::size_t warmup = 500, samples = 500;
    std::size_t short_warmup = 150;
    std::size_t chain_warmup = 150, chain_samples = 250;  // the 4-chain runs, per chain
    std::size_t ensemble_burn = 1000, ensemble_steps = 1000;
};

std::vector<run_config> all_configs(const lengths& l) {
    using diskmc::metric_kind;
    const diskmc::nuts_options seed{.warmup = l.warmup, .samples = l.samples, .max_tree_depth = 8};
    auto with = [](diskmc::nuts_options options, auto&& change) {
        change(options);
        return options;
    };
    auto nuts = [&](std::string name, diskmc::nuts_options options, nuts_start start, std::string note,
                    int downsample = 1, bool beam = false) {
        run_config c{.name = std::move(name), .sampler = "nuts", .beam = beam, .downsample = downsample,
                     .note = std::move(note)};
        c.nuts = {.sampler = std::move(options), .chains = 1, .threads = 1};
        c.start = start;
        return c;
    };
    const diskmc::nuts_options seed_d6 = with(seed, [](auto& o) { o.max_tree_depth = 6; });
    const diskmc::nuts_options dense = with(seed, [](auto& o) { o.metric = metric_kind::dense; });
    const diskmc::nuts_options four_chains =
        with(dense, [&](auto& o) {
            o.warmup = l.chain_warmup;
            o.samples = l.chain_samples;
        });
    auto chains4 = [&](std::string name, diskmc::nuts_options options, std::size_t threads, bool lockstep,
                       std::string note) {
        run_config c = nuts(std::move(name), std::move(options), nuts_start::standardised, std::move(note));
        c.nuts.chains = 4;
        c.nuts.threads = threads;
        c.nuts.lockstep = lockstep;
        return c;
    };
    auto ensemble = [&](std::string name, std::size_t walkers, std::size_t threads, bool de, std::string note,
                        bool beam = false) {
        return run_config{.name = std::move(name), .sampler = "ensemble", .beam = beam, .downsample = 1,
                          .note = std::move(note), .walkers = walkers, .burn_in = l.ensemble_burn,
                          .steps = l.ensemble_steps, .threads = threads, .differential_evolution = de};
    };

    return {
        // The seed's table: one chain, diagonal metric, Stan's defaults, from p0.
        nuts("nuts-d8", seed, nuts_start::seed_start, "seed's settings: diagonal metric, depth 8, from p0"),
        nuts("nuts-d6", seed_d6, nuts_start::seed_start, "as nuts-d8 at depth 6 (the seed's new default)"),
        // The untried directions, one change at a time.
        nuts("nuts-d6-ta065", with(seed_d6, [](auto& o) { o.target_accept = 0.65; }), nuts_start::seed_start,
             "as nuts-d6, target_accept 0.65"),
        nuts("nuts-d6-dense", with(seed_d6, [](auto& o) { o.metric = metric_kind::dense; }),
             nuts_start::seed_start, "as nuts-d6, dense metric"),
        nuts("nuts-map-diag", seed, nuts_start::map_metric, "diagonal, from the MAP, MAP covariance as metric"),
        nuts("nuts-map-dense", dense, nuts_start::map_metric, "dense, from the MAP, MAP covariance as metric"),
        nuts("nuts-map-std", dense, nuts_start::standardised, "dense, from the MAP, standardised by its covariance"),
        nuts("nuts-map-std-w150", with(dense, [&](auto& o) { o.warmup = l.short_warmup; }), nuts_start::standardised,
             "as nuts-map-std with 150 warmup iterations"),
        nuts("nuts-map-std-ds2", dense, nuts_start::standardised, "as nuts-map-std, map downsampled by 2", 2),
        nuts("nuts-map-std-ds4", dense, nuts_start::standardised, "as nuts-map-std, map downsampled by 4", 4),
        nuts("nuts-map-std-hmc7", with(dense, [](auto& o) { o.fixed_tree_depth = 3; }), nuts_start::standardised,
             "as nuts-map-std, static HMC of 7 leapfrog steps"),
        nuts("nuts-map-std-hmc3", with(dense, [](auto& o) { o.fixed_tree_depth = 2; }), nuts_start::standardised,
             "as nuts-map-std, static HMC of 3 leapfrog steps"),
        // Four chains (identical draws in the three modes: only the time differs).
        chains4("nuts-4ch-seq", four_chains, 1, false, "4 chains of nuts-map-std (150+250), one after another"),
        chains4("nuts-4ch-2thr", four_chains, 2, false, "the same 4 chains on 2 threads"),
        chains4("nuts-4ch-lockstep", four_chains, 2, true, "the same 4 chains in lockstep on 2 threads"),
        chains4("nuts-4ch-hmc7-lockstep", with(four_chains, [](auto& o) { o.fixed_tree_depth = 3; }), 2, true,
                "4 chains of static HMC (7 steps) in lockstep on 2 threads"),
        // The ensemble, from a Gaussian ball at the MAP; ESS from tau after the burn-in.
        ensemble("ens-32-stretch", 32, 1, false, "32 walkers x (1000+1000), stretch move"),
        ensemble("ens-64-stretch", 64, 1, false, "64 walkers x (1000+1000), stretch move"),
        ensemble("ens-128-stretch", 128, 1, false, "the seed's emcee run: 128 walkers x (1000+1000)"),
        ensemble("ens-128-stretch-2thr", 128, 2, false, "the seed's emcee run on 2 threads"),
        ensemble("ens-64-de", 64, 1, true, "64 walkers x (1000+1000), differential-evolution move"),
        // With the beam.
        nuts("nuts-map-std-beam", dense, nuts_start::standardised, "as nuts-map-std, beam convolution on", 1, true),
        ensemble("ens-64-stretch-beam", 64, 1, false, "as ens-64-stretch, beam convolution on", true),
    };
}

// ---------------------------------------------------------------------------
// Results.

struct run_row {
    std::string name, sampler, note;
    bool beam = false;
    int downsample = 1;
    double pixels = 0;
    std::map<std::string, double> values;  // every numeric figure, by JSON key
    bool recovered = false;
    Eigen::VectorXd medians, sds;          // constrained parameters
    double max_offset_vs_reference = std::numeric_limits<double>::quiet_NaN();
    double width_ratio_low = std::numeric_limits<double>::quiet_NaN();
    double width_ratio_high = std::numeric_limits<double>::quiet_NaN();
    std::string reference;  ///< empty for the best run itself
    bool compared = false;  ///< compare_with_reference has run
};

double value_of(const run_row& row, const std::string& key) {
    const auto it = row.values.find(key);
    return it == row.values.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
}

/// Medians, sds and the recovery test from constrained draws (rows = draws).
void add_posterior(run_row& row, const Eigen::MatrixXd& draws, const Eigen::VectorXd& truth) {
    const Eigen::Index n = draws.cols();
    row.medians.resize(n);
    row.sds.resize(n);
    double worst = 0.0;
    for (Eigen::Index j = 0; j < n; ++j) {
        std::vector<double> column(draws.col(j).data(), draws.col(j).data() + draws.rows());
        row.medians[j] = median_of(column);
        const double mean = draws.col(j).mean();
        row.sds[j] = std::sqrt((draws.col(j).array() - mean).square().sum() / static_cast<double>(draws.rows() - 1));
        worst = std::max(worst, std::abs(row.medians[j] - truth[j]) / row.sds[j]);
    }
    row.values["max_truth_offset_sd"] = worst;
    row.recovered = worst <= 3.0;
}

struct map_summary {
    inference::map_result result;
    double seconds = 0.0;
    bool usable = false;  ///< a positive definite covariance in both spaces
    std::string status;
};

std::string map_status_name(const inference::map_result& map) {
    std::string name;
    switch (map.status) {
        case inference::map_status::gradient_converged: name = "gradient converged"; break;
        case inference::map_status::value_converged: name = "value converged"; break;
        case inference::map_status::max_iterations: name = "max iterations"; break;
        case inference::map_status::line_search_failed: name = "line search stopped"; break;
        case inference::map_status::start_not_finite: name = "start not finite"; break;
    }
    const bool ok = map.covariance.status == inference::covariance_status::ok &&
                    map.unconstrained_covariance.status == inference::covariance_status::ok;
    return name + (ok ? ", covariance ok" : ", NO usable covariance");
}

run_row run_nuts(const bench_problem& problem, const run_config& config, const map_summary& map,
                 std::uint64_t seed) {
    const auto for_nuts = inference::unconstrained(problem.posterior);
    const auto& parameters = problem.posterior.parameters();
    diskmc::nuts_chains_options options = config.nuts;
    Eigen::VectorXd init = for_nuts.to_unconstrained(problem.start);
    if (config.start != nuts_start::seed_start) {
        if (!map.usable) throw std::runtime_error(config.name + ": the MAP step gave no usable covariance");
        init = map.result.unconstrained_point;
        if (config.start == nuts_start::map_metric)
            options.sampler.inverse_metric = map.result.unconstrained_covariance.covariance;
        if (config.start == nuts_start::standardised)
            options.sampler.standardize_covariance = map.result.unconstrained_covariance.covariance;
    }
    const auto run = diskmc::nuts_chains(for_nuts, init, options, seed,
                                         [&](const Eigen::VectorXd& u) { return parameters.to_constrained(u); });

    run_row row{.name = config.name, .sampler = "nuts", .note = config.note, .beam = config.beam,
                .downsample = config.downsample, .pixels = static_cast<double>(problem.pixels)};
    const auto summary = diskmc::summarize(run);
    double ess_min = std::numeric_limits<double>::infinity(), rhat_max = 0.0;
    for (const auto& line : summary.parameters) {
        ess_min = std::min(ess_min, line.ess_bulk);
        rhat_max = std::max(rhat_max, line.rhat);
    }
    std::vector<double> leapfrogs;
    double at_cap = 0.0, divergences = 0.0, step = 0.0;
    for (const auto& chain : run.chains) {
        for (const auto& it : chain.sampling) {
            leapfrogs.push_back(it.n_leapfrog);
            at_cap += static_cast<std::size_t>(it.tree_depth) >= chain.max_tree_depth;
            divergences += it.divergent;
        }
        step += chain.step_size / static_cast<double>(run.chains.size());
    }
    double leapfrog_sum = 0.0;
    for (double l : leapfrogs) leapfrog_sum += l;
    const double gradients = static_cast<double>(run.gradient_evaluations());
    double warmup_gradients = 0.0;
    for (const auto& chain : run.chains) warmup_gradients += static_cast<double>(chain.gradient_evaluations_warmup);
    auto& v = row.values;
    v["wall_s"] = run.wall_seconds;
    v["gradient_evaluations"] = gradients;
    v["warmup_gradient_evaluations"] = warmup_gradients;
    v["log_density_evaluations"] = 0;
    v["leapfrog_mean"] = leapfrog_sum / static_cast<double>(leapfrogs.size());
    v["leapfrog_median"] = median_of(leapfrogs);
    v["frac_max_depth"] = at_cap / static_cast<double>(leapfrogs.size());
    v["divergences"] = divergences;
    v["step_size"] = step;
    v["ess_bulk_min"] = ess_min;
    v["rhat_max"] = rhat_max;
    v["ess_per_s"] = ess_min / run.wall_seconds;
    v["ess_per_1000_evaluations"] = 1000.0 * ess_min / gradients;
    v["gradients_per_ess"] = gradients / ess_min;
    v["gradients_per_ess_sampling"] = (gradients - warmup_gradients) / ess_min;
    v["us_per_gradient"] = 1e6 * run.wall_seconds / gradients;
    if (options.lockstep) v["lockstep_rounds"] = static_cast<double>(run.lockstep_rounds);
    if (config.start != nuts_start::seed_start) {
        v["map_s"] = map.seconds;
        v["map_gradient_evaluations"] = static_cast<double>(map.result.evaluations);
    }
    Eigen::MatrixXd all(0, 0);
    for (const auto& chain : run.chains) {
        Eigen::MatrixXd joined(all.rows() + chain.transformed_draws.rows(), chain.transformed_draws.cols());
        if (all.rows() > 0) joined.topRows(all.rows()) = all;
        joined.bottomRows(chain.transformed_draws.rows()) = chain.transformed_draws;
        all = std::move(joined);
    }
    add_posterior(row, all, problem.truth);
    return row;
}

run_row run_ensemble(const bench_problem& problem, const run_config& config, const map_summary& map,
                     std::uint64_t seed) {
    if (!map.usable) throw std::runtime_error(config.name + ": the MAP step gave no usable covariance");
    diskmc::ensemble_options options{.steps = config.steps, .burn_in = config.burn_in, .threads = config.threads};
    if (config.differential_evolution) options.moves = {diskmc::weighted_move{diskmc::de_move{}}};
    // Walkers in a Gaussian ball from the MAP and its covariance (eddy
    // scatters them around its optimum instead; the burn-in spreads them).
    const diskmc::gaussian_start start{.mean = map.result.point,
                                       .covariance = map.result.covariance.covariance,
                                       .walkers = config.walkers};
    const auto run = diskmc::ensemble(problem.posterior, start, options, seed);

    run_row row{.name = config.name, .sampler = "ensemble", .note = config.note, .beam = config.beam,
                .downsample = config.downsample, .pixels = static_cast<double>(problem.pixels)};
    const auto taus = diskmc::integrated_autocorrelation_times(run);
    const std::size_t samples = run.draws() * run.walkers;
    double tau_max = 0.0;
    bool reliable = true;
    for (const auto& t : taus) {
        tau_max = std::max(tau_max, t.tau);
        reliable = reliable && t.status == diskmc::autocorrelation_status::reliable;
    }
    const double ess_min = diskmc::effective_sample_size_from_tau(samples, tau_max);
    const double evaluations = static_cast<double>(run.log_density_evaluations);
    const double wall = run.timings.total_seconds;
    auto& v = row.values;
    v["wall_s"] = wall;
    v["gradient_evaluations"] = 0;
    v["log_density_evaluations"] = evaluations;
    v["walkers"] = static_cast<double>(config.walkers);
    v["tau_max"] = tau_max;
    v["tau_reliable"] = reliable ? 1 : 0;
    v["acceptance"] = run.mean_acceptance();
    v["ess_bulk_min"] = ess_min;
    v["ess_per_s"] = ess_min / wall;
    v["ess_per_1000_evaluations"] = 1000.0 * ess_min / evaluations;
    v["evaluations_per_ess"] = evaluations / ess_min;
    v["us_per_evaluation"] = 1e6 * wall / evaluations;
    v["map_s"] = map.seconds;
    v["map_gradient_evaluations"] = static_cast<double>(map.result.evaluations);
    add_posterior(row, run.samples.transpose(), problem.truth);
    return row;
}

/// The median of each figure over repeats; recovered only if every repeat was.
run_row median_over_repeats(std::vector<run_row> repeats) {
    run_row row = repeats.front();
    for (auto& [key, value] : row.values) {
        std::vector<double> all;
        for (const auto& r : repeats) all.push_back(value_of(r, key));
        value = median_of(all);
    }
    for (const auto& r : repeats) row.recovered = row.recovered && r.recovered;
    return row;
}

/// Compares every row with the row of the largest ESS on the same data
/// (beam, downsample): the seed's criterion, medians within 0.2 sd and widths
/// within 10%.
void compare_with_reference(std::vector<run_row>& rows) {
    for (auto& row : rows) {
        row.compared = true;
        const run_row* reference = nullptr;
        for (const auto& other : rows)
            if (other.beam == row.beam && other.downsample == row.downsample &&
                (!reference || value_of(other, "ess_bulk_min") > value_of(*reference, "ess_bulk_min")))
                reference = &other;
        if (!reference || reference == &row) continue;
        row.reference = reference->name;
        row.max_offset_vs_reference = ((row.medians - reference->medians).cwiseAbs().array() /
                                       reference->sds.array()).maxCoeff();
        const Eigen::ArrayXd ratio = row.sds.array() / reference->sds.array();
        row.width_ratio_low = ratio.minCoeff();
        row.width_ratio_high = ratio.maxCoeff();
    }
}

// ---------------------------------------------------------------------------
// Output.

std::string format_number(double value, const char* format) {
    if (std::isnan(value)) return "-";
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, format, value);
    return buffer;
}

void print_table_header(std::FILE* out) {
    std::fprintf(
        out,
        "| config | beam | ds | wall s | grad evals | logp evals | leapfrog mean / median | at cap | div | "
        "min ESS | ESS/s | ESS/1k evals | grad/ESS (incl. warmup) | R-hat max | truth within 3 sd | vs best run: "
        "max |dmedian|/sd, sd ratio |\n");
    std::fprintf(out, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
}

void print_table_row(std::FILE* out, const run_row& r) {
    const bool nuts = r.sampler == "nuts";
    const std::string agreement =
        !r.compared          ? "-"
        : r.reference.empty() ? "(best run)"
                            : format_number(r.max_offset_vs_reference, "%.2f") + ", " +
                                  format_number(r.width_ratio_low, "%.2f") + "-" +
                                  format_number(r.width_ratio_high, "%.2f");
    std::fprintf(out, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                 r.name.c_str(), r.beam ? "yes" : "no", r.downsample,
                 format_number(value_of(r, "wall_s"), "%.1f").c_str(),
                 nuts ? format_number(value_of(r, "gradient_evaluations"), "%.0f").c_str() : "-",
                 nuts ? "-" : format_number(value_of(r, "log_density_evaluations"), "%.0f").c_str(),
                 nuts ? (format_number(value_of(r, "leapfrog_mean"), "%.1f") + " / " +
                         format_number(value_of(r, "leapfrog_median"), "%.0f")).c_str()
                      : "-",
                 nuts ? format_number(100 * value_of(r, "frac_max_depth"), "%.0f%%").c_str() : "-",
                 nuts ? format_number(value_of(r, "divergences"), "%.0f").c_str() : "-",
                 format_number(value_of(r, "ess_bulk_min"), "%.0f").c_str(),
                 format_number(value_of(r, "ess_per_s"), "%.2f").c_str(),
                 format_number(value_of(r, "ess_per_1000_evaluations"), "%.2f").c_str(),
                 nuts ? format_number(value_of(r, "gradients_per_ess"), "%.0f").c_str() : "-",
                 nuts ? format_number(value_of(r, "rhat_max"), "%.3f").c_str()
                      : ("tau " + format_number(value_of(r, "tau_max"), "%.0f") +
                         (value_of(r, "tau_reliable") > 0 ? "" : " (unreliable)")).c_str(),
                 r.recovered ? "yes"
                             : ("NO (" + format_number(value_of(r, "max_truth_offset_sd"), "%.1f") + " sd)").c_str(),
                 agreement.c_str());
}

void print_table(const std::vector<run_row>& rows) {
    std::printf("\n");
    print_table_header(stdout);
    for (const auto& r : rows) print_table_row(stdout, r);
    std::printf("\nNotes:\n");
    for (const auto& r : rows) std::printf("- %s: %s\n", r.name.c_str(), r.note.c_str());
}

void print_json(std::FILE* out, const run_row& r, bool from_files, int repeats) {
    std::fprintf(out, "{\"bench\": \"samplers\", \"sampler\": \"%s\", \"config\": \"%s\", \"beam\": %s, "
                "\"downsample\": %d, \"pixels\": %.0f, \"repeats\": %d, \"from_files\": %s, \"recovered\": %s",
                r.sampler.c_str(), r.name.c_str(), r.beam ? "true" : "false", r.downsample, r.pixels, repeats,
                from_files ? "true" : "false", r.recovered ? "true" : "false");
    for (const auto& [key, value] : r.values)
        if (std::isfinite(value)) std::fprintf(out, ", \"%s\": %.6g", key.c_str(), value);
    if (!r.reference.empty())
        std::fprintf(out, ", \"reference\": \"%s\", \"max_median_offset_sd_vs_reference\": %.4g, "
                    "\"sd_ratio_min_vs_reference\": %.4g, \"sd_ratio_max_vs_reference\": %.4g",
                    r.reference.c_str(), r.max_offset_vs_reference, r.width_ratio_low, r.width_ratio_high);
    std::fprintf(out, ", \"medians\": {");
    for (Eigen::Index j = 0; j < r.medians.size(); ++j)
        std::fprintf(out, "%s\"%s\": %.6g", j ? ", " : "", free_names()[static_cast<std::size_t>(j)].c_str(),
                    r.medians[j]);
    std::fprintf(out, "}, \"sds\": {");
    for (Eigen::Index j = 0; j < r.sds.size(); ++j)
        std::fprintf(out, "%s\"%s\": %.6g", j ? ", " : "", free_names()[static_cast<std::size_t>(j)].c_str(),
                     r.sds[j]);
    std::fprintf(out, "}}\n");
}

}  // namespace

int main(int argc, char** argv) {
    bool json = false, quick = false;
    int repeats = 1;
    std::string only;
    std::string data_dir = diskmc::bench::default_data_dir();
    for (int k = 1; k < argc; ++k) {
        const std::string arg = argv[k];
        if (arg == "--json") {
            json = true;
        } else if (arg == "--quick") {
            quick = true;
        } else if (arg == "--repeats" && k + 1 < argc) {
            repeats = std::max(1, std::atoi(argv[++k]));
        } else if (arg == "--only" && k + 1 < argc) {
            only = argv[++k];
        } else if (arg == "--data" && k + 1 < argc) {
            data_dir = argv[++k];
        } else {
            std::fprintf(stderr,
                         "usage: bench_samplers [--quick] [--only SUBSTRING] [--repeats N] [--json] [--data DIR]\n");
            return 2;
        }
    }
    lengths l;
    if (quick)
        l = {.warmup = 60, .samples = 40, .short_warmup = 40, .chain_warmup = 30, .chain_samples = 20,
             .ensemble_burn = 20, .ensemble_steps = 30};
    std::vector<run_config> configs;
    for (auto& c : all_configs(l))
        if (only.empty() || c.name.find(only) != std::string::npos) configs.push_back(std::move(c));
    if (configs.empty()) {
        std::fprintf(stderr, "bench_samplers: no configuration matches --only %s\n", only.c_str());
        return 2;
    }
    const bool from_files = diskmc::bench::has_bench_files(data_dir);

    try {
        const auto started = clock_type::now();
        if (!json)
            std::printf("bench_samplers: HD163296-like problem (%s), 9 free parameters, %s, %d repeat(s)\n",
                        from_files ? "shared/data/bench FITS files" : "built in memory: no data dir",
                        quick ? "QUICK runs (smoke test, numbers meaningless)" : "full runs", repeats);

        // One problem, one MAP and one warm-up per data set, built when first needed.
        struct data_set {
            std::unique_ptr<bench_problem> problem;
            map_summary map;
        };
        std::map<std::pair<bool, int>, data_set> data_sets;
        std::map<bool, diskmc::sky_map> maps;
        // The runs from p0 take longest: run them last, so that an interrupted
        // run has the rest (the tables keep the configurations' order).
        std::vector<std::size_t> order(configs.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_partition(order.begin(), order.end(), [&](std::size_t i) {
            return !(configs[i].sampler == "nuts" && configs[i].start == nuts_start::seed_start);
        });
        std::vector<run_row> rows;
        std::vector<std::size_t> row_config;
        std::vector<std::string> failures;
        for (std::size_t index : order) {
            const run_config& config = configs[index];
            const auto key = std::make_pair(config.beam, config.downsample);
            if (!data_sets.count(key)) {
                if (!maps.count(config.beam)) maps.emplace(config.beam, diskmc::bench::bench_map(data_dir, config.beam));
                data_set set;
                set.problem = make_bench_problem(maps.at(config.beam), config.beam, config.downsample);
                const auto map_start = clock_type::now();
                set.map.result = inference::find_map(set.problem->posterior);
                set.map.seconds = seconds_since(map_start);
                // The search may stop at the noise floor of log p without its
                // convergence test passing; the positive definite Hessian says
                // it is a maximum either way.
                set.map.usable = set.map.result.covariance.status == inference::covariance_status::ok &&
                                 set.map.result.unconstrained_covariance.status == inference::covariance_status::ok;
                set.map.status = map_status_name(set.map.result);
                // Warm-up: a short NUTS run on this data set, untimed.
                const auto for_nuts = inference::unconstrained(set.problem->posterior);
                diskmc::nuts_chains(for_nuts, for_nuts.to_unconstrained(set.problem->start),
                                    {.sampler = {.warmup = 20, .samples = 10, .max_tree_depth = 5}, .chains = 1}, 1);
                std::fprintf(stderr,
                             "[data beam=%s ds=%d: %lld pixels; MAP: %s, %.1f s, %ld gradient evaluations]\n",
                             config.beam ? "yes" : "no", config.downsample,
                             static_cast<long long>(set.problem->pixels),
                             set.map.status.c_str(), set.map.seconds, set.map.result.evaluations);
                data_sets.emplace(key, std::move(set));
            }
            const data_set& set = data_sets.at(key);
            std::vector<run_row> runs;
            try {
                for (int r = 0; r < repeats; ++r) {
                    const std::uint64_t seed = 1000 + static_cast<std::uint64_t>(r);
                    runs.push_back(config.sampler == "nuts" ? run_nuts(*set.problem, config, set.map, seed)
                                                            : run_ensemble(*set.problem, config, set.map, seed));
                }
            } catch (const std::exception& e) {
                // One configuration's failure is reported; the others still run.
                std::fprintf(stderr, "[%s FAILED: %s]\n", config.name.c_str(), e.what());
                failures.push_back(config.name + ": " + e.what());
                continue;
            }
            rows.push_back(median_over_repeats(std::move(runs)));
            row_config.push_back(index);
            // Each result as it comes, so a long run interrupted keeps what it measured.
            print_table_row(stderr, rows.back());
            print_json(stderr, rows.back(), from_files, repeats);
            std::fprintf(stderr, "[%.1f min so far]\n", seconds_since(started) / 60.0);
        }
        std::vector<run_row> ordered;
        for (std::size_t index = 0; index < configs.size(); ++index)
            for (std::size_t k = 0; k < rows.size(); ++k)
                if (row_config[k] == index) ordered.push_back(rows[k]);
        rows = std::move(ordered);
        compare_with_reference(rows);
        if (json) {
            for (const auto& [key, set] : data_sets)
                std::printf("{\"bench\": \"samplers\", \"sampler\": \"map\", \"config\": \"map\", \"beam\": %s, "
                            "\"downsample\": %d, \"pixels\": %lld, \"wall_s\": %.6g, \"gradient_evaluations\": %ld, "
                            "\"status\": \"%s\", \"usable\": %s}\n",
                            key.first ? "true" : "false", key.second,
                            static_cast<long long>(set.problem->pixels), set.map.seconds,
                            set.map.result.evaluations, set.map.status.c_str(), set.map.usable ? "true" : "false");
            for (const auto& row : rows) print_json(stdout, row, from_files, repeats);
        } else {
            std::printf("\nMAP (find_map: Gauss-Newton with the exact Hessian), once per data set:\n");
            for (const auto& [key, set] : data_sets)
                std::printf("- beam %s, downsample %d (%lld pixels): %.1f s, %ld gradient evaluations, %s\n",
                            key.first ? "yes" : "no", key.second, static_cast<long long>(set.problem->pixels),
                            set.map.seconds, set.map.result.evaluations, set.map.status.c_str());
            print_table(rows);
            for (const auto& failure : failures) std::printf("- FAILED %s\n", failure.c_str());
            std::printf("\nTotal %.1f min.\n", seconds_since(started) / 60.0);
        }
        if (!failures.empty()) return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_samplers: %s\n", e.what());
        return 1;
    }
    return 0;
}
