// bench_fit: the time a user waits, end to end. The whole fit of the
// HD163296-like problem (9 free parameters, shared/data/bench) from its FITS
// files to the summary, through fit_rotation_map() as the fit program runs
// it: read the maps, mask, MAP step, sampler, summary. One row per sampler,
// each with the fit's default settings and asked for a minimum bulk ESS.
//
//   bench_fit [--only SAMPLER] [--min-ess N] [--threads N] [--repeats N]
//             [--beam] [--quick] [--json] [--data DIR]
//
// --only     run one row: nuts, nuts-windowed, ensemble, laplace
// --min-ess  the precision asked of every row (default 400)
// --threads  the fit's threads (default 0: all cores)
// --repeats  run each row N times (seeds 1..N) and report medians
// --beam     the data set and fit with beam convolution
// --quick    short runs (a smoke test; numbers meaningless)
// --json     one JSON object per row (keys below) instead of the table
// --data     the folder holding bench/ (default $DISKMC_DATA_DIR); without it
//            the problem is built in memory and reading FITS is not timed
//
// The rows, each the fit's defaults except:
//   nuts      min_ess = --min-ess: the chains run in rounds until every
//             parameter's bulk and tail ESS reach it and R-hat <= 1.01
//             (the default 1000 draws per chain are the budget); the
//             default warmup trusts the MAP metric (100 iterations adapting
//             the step size only, checked);
//   nuts-windowed  the same with Stan's windowed warmup (1000 iterations);
//   ensemble  the best configuration measured (64 walkers, differential-
//             evolution moves, tau ~ 26 steps), 500 burn-in steps, then
//             min_ess = --min-ess: rounds until every parameter's ESS
//             (walkers x draws / tau) reaches it and the chain is 50 tau
//             long, emcee's rule for trusting tau, which decides here (the
//             ESS of 50 tau of 64 walkers is ~3200); 5000 steps are the budget;
//   laplace   4 x --min-ess draws (the importance ESS is ~65% of the draws
//             on this problem), with k-hat reported.
//
// JSON keys: sampler, wall_s, map_s, warmup_s, sampling_s,
// gradient_evaluations, log_density_evaluations, ess_bulk_min, ess_tail_min,
// rhat_max, gradients_per_ess_end_to_end (every gradient, MAP and warmup
// included, over the smallest bulk ESS), evaluations_per_ess_end_to_end
// (values and gradients), ess_per_s (smallest bulk ESS over wall_s), threads,
// pixels, khat (laplace, else null), truth_within_3sd, and parameters
// ({name: {p50, sd}}). rhat_max is null for laplace (independent draws) and
// the ensemble (walkers are not independent chains). When both the nuts and
// ensemble rows run, a last object {"bench": "fit",
// "nuts_over_ensemble_ess_per_s": ...} (a line in the table) compares them.
//
// ESS: NUTS's is the rank-normalised split-chain ESS over the chains; the
// ensemble's (bulk and tail alike) is emcee's, walkers x steps / tau (its
// walkers are not independent chains).
// warmup_s and sampling_s split the sampler's wall time in proportion to the
// chains' own warmup and sampling times (NUTS) or to the burn-in and the
// steps run after it (ensemble).

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "hd163296_fit.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

struct settings {
    std::string only;
    double min_ess = 400.0;
    std::size_t threads = 0;
    int repeats = 1;
    bool beam = false;
    bool quick = false;
    bool json = false;
    std::string data_dir = diskmc::bench::default_data_dir();
};

/// The fit's options for one row, as the fit program builds them from
/// examples/configs/hd163296_like.json.
diskmc::fit_options row_options(const std::string& sampler, const settings& s, std::uint64_t seed) {
    diskmc::fit_options options{.parameters = diskmc::hd163296_like::parameters(),
                                .mask = {.r_min = diskmc::hd163296_like::r_min},
                                .convolve_beam = s.beam,
                                .threads = s.threads};
    if (sampler == "ensemble") {
        diskmc::ensemble_fit_settings ensemble{.seed = seed};
        ensemble.options.steps = s.quick ? 60 : 5000;
        ensemble.options.burn_in = s.quick ? 40 : 500;
        ensemble.options.min_ess = s.quick ? 0.0 : s.min_ess;
        ensemble.options.moves = {diskmc::weighted_move{diskmc::de_move{}, 0.8},
                                  diskmc::weighted_move{diskmc::de_snooker_move{}, 0.2}};
        options.sampler = ensemble;
    } else if (sampler == "laplace") {
        diskmc::laplace_fit_settings laplace{.seed = seed};
        laplace.options.draws = static_cast<std::size_t>(std::ceil(4.0 * s.min_ess));
        options.sampler = laplace;
    } else {
        diskmc::nuts_fit_settings nuts{.seed = seed};
        if (sampler == "nuts-windowed") nuts.trust_map_covariance = false;
        nuts.options.min_ess = s.min_ess;
        if (s.quick) {
            nuts.options.sampler.warmup = 120;
            nuts.options.sampler.samples = 60;
            nuts.options.min_ess = 0.0;
        }
        options.sampler = nuts;
    }
    return options;
}

/// One run's measurements.
struct row {
    std::string sampler;
    double wall_s = 0, map_s = 0, warmup_s = 0, sampling_s = 0;
    double gradient_evaluations = 0, log_density_evaluations = 0;
    double ess_bulk_min = 0, ess_tail_min = 0;
    double rhat_max = std::numeric_limits<double>::quiet_NaN();
    double khat = std::numeric_limits<double>::quiet_NaN();
    double pixels = 0;
    bool truth_within_3sd = false;
    nlohmann::ordered_json parameters;
};

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

/// The sampler's wall time split into warmup and sampling.
void split_sampler_time(const diskmc::fit_options& options, const diskmc::fit_result& fit, row& r) {
    double warmup = 0.0, sampling = 0.0;
    if (const auto* nuts = std::get_if<diskmc::nuts_chains_result>(&fit.sampler)) {
        for (const auto& chain : nuts->chains) {
            warmup += chain.warmup_seconds;
            sampling += chain.sampling_seconds;
        }
    } else if (const auto* ensemble = std::get_if<diskmc::ensemble_result>(&fit.sampler)) {
        warmup = static_cast<double>(std::get<diskmc::ensemble_fit_settings>(options.sampler).options.burn_in);
        sampling = static_cast<double>(ensemble->iterations) - warmup;
    }
    const double share = warmup + sampling > 0.0 ? warmup / (warmup + sampling) : 0.0;
    r.warmup_s = share * fit.sampler_seconds;
    r.sampling_s = fit.sampler_seconds - r.warmup_s;
}

row run_row(const std::string& sampler, const settings& s, std::uint64_t seed) {
    const auto started = clock_type::now();
    diskmc::fit_options options = row_options(sampler, s, seed);
    options.map = diskmc::bench::bench_map(s.data_dir, s.beam);
    const diskmc::fit_result fit = diskmc::bench::fit_hd163296_like(options);

    row r{.sampler = sampler, .wall_s = seconds_since(started), .map_s = fit.map_seconds};
    split_sampler_time(options, fit, r);
    r.gradient_evaluations = static_cast<double>(fit.gradient_evaluations);
    r.log_density_evaluations = static_cast<double>(fit.log_density_evaluations);
    r.pixels = static_cast<double>(fit.mask.count());
    if (const auto* laplace = std::get_if<diskmc::laplace_result>(&fit.sampler)) r.khat = laplace->khat;
    r.ess_bulk_min = r.ess_tail_min = std::numeric_limits<double>::infinity();
    r.truth_within_3sd = true;
    for (const auto& p : fit.parameters) {
        r.ess_bulk_min = std::min(r.ess_bulk_min, p.ess_bulk);
        r.ess_tail_min = std::min(r.ess_tail_min, p.ess_tail);
        if (std::isfinite(p.rhat)) r.rhat_max = std::isnan(r.rhat_max) ? p.rhat : std::max(r.rhat_max, p.rhat);
        r.parameters[p.name] = {{"p50", p.p50}, {"sd", p.sd}};
        for (const auto& [name, truth] : diskmc::hd163296_like::truth())
            if (name == p.name) r.truth_within_3sd = r.truth_within_3sd && std::abs(p.p50 - truth) <= 3.0 * p.sd;
    }
    return r;
}

double median_of(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

/// The median row of repeats: every number is the median of its repeats; the
/// parameters are the first run's, and truth_within_3sd holds for all.
row median_row(const std::vector<row>& runs) {
    row m = runs.front();
    auto median = [&](double row::*field) {
        std::vector<double> values;
        for (const row& r : runs) values.push_back(r.*field);
        m.*field = median_of(values);
    };
    for (double row::*field : {&row::wall_s, &row::map_s, &row::warmup_s, &row::sampling_s,
                               &row::gradient_evaluations, &row::log_density_evaluations, &row::ess_bulk_min,
                               &row::ess_tail_min, &row::rhat_max, &row::khat})
        median(field);
    for (const row& r : runs) m.truth_within_3sd = m.truth_within_3sd && r.truth_within_3sd;
    return m;
}

/// A number, or null when it is not finite (JSON has no NaN).
nlohmann::ordered_json number_or_null(double value) {
    return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json to_json(const row& r, std::size_t threads) {
    return {{"bench", "fit"},
            {"sampler", r.sampler},
            {"wall_s", r.wall_s},
            {"map_s", r.map_s},
            {"warmup_s", r.warmup_s},
            {"sampling_s", r.sampling_s},
            {"gradient_evaluations", r.gradient_evaluations},
            {"log_density_evaluations", r.log_density_evaluations},
            {"ess_bulk_min", r.ess_bulk_min},
            {"ess_tail_min", r.ess_tail_min},
            {"rhat_max", number_or_null(r.rhat_max)},
            {"gradients_per_ess_end_to_end", r.gradient_evaluations / r.ess_bulk_min},
            {"evaluations_per_ess_end_to_end", (r.gradient_evaluations + r.log_density_evaluations) / r.ess_bulk_min},
            {"ess_per_s", r.ess_bulk_min / r.wall_s},
            {"threads", threads},
            {"pixels", r.pixels},
            {"khat", number_or_null(r.khat)},
            {"truth_within_3sd", r.truth_within_3sd},
            {"parameters", r.parameters}};
}

void print_table(const std::vector<row>& rows, std::size_t threads) {
    std::printf("\n%-12s %8s %7s %8s %8s %9s %9s %8s %8s %7s %9s %9s %6s %7s\n", "sampler", "wall_s", "map_s",
                "warmup_s", "sample_s", "gradients", "values", "ess_bulk", "ess_tail", "rhat", "grad/ess", "ess/s", "khat",
                "truth");
    for (const row& r : rows) {
        const nlohmann::ordered_json j = to_json(r, threads);
        std::printf("%-12s %8.2f %7.2f %8.2f %8.2f %9.0f %9.0f %8.0f %8.0f %7.4f %9.2f %9.1f %6.2f %7s\n",
                    r.sampler.c_str(), r.wall_s, r.map_s, r.warmup_s, r.sampling_s, r.gradient_evaluations,
                    r.log_density_evaluations, r.ess_bulk_min, r.ess_tail_min, r.rhat_max,
                    j["gradients_per_ess_end_to_end"].get<double>(), j["ess_per_s"].get<double>(), r.khat,
                    r.truth_within_3sd ? "3sd" : "OFF");
    }
}

/// NUTS' ESS per second over the ensemble's, when both rows ran.
void print_nuts_over_ensemble(const std::vector<row>& rows, std::size_t threads, bool json) {
    const row *nuts = nullptr, *ensemble = nullptr;
    for (const row& r : rows) {
        if (r.sampler == "nuts") nuts = &r;
        if (r.sampler == "ensemble") ensemble = &r;
    }
    if (!nuts || !ensemble) return;
    const double ratio =
        to_json(*nuts, threads)["ess_per_s"].get<double>() / to_json(*ensemble, threads)["ess_per_s"].get<double>();
    if (json)
        std::printf("%s\n",
                    nlohmann::ordered_json{{"bench", "fit"}, {"nuts_over_ensemble_ess_per_s", number_or_null(ratio)}}
                        .dump()
                        .c_str());
    else
        std::printf("\nNUTS ESS/s over ensemble ESS/s: %.2f\n", ratio);
}

int usage() {
    std::fprintf(stderr,
                 "usage: bench_fit [--only nuts|nuts-windowed|ensemble|laplace] [--min-ess N] [--threads N] [--repeats N] [--beam] "
                 "[--quick] [--json] [--data DIR]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    settings s;
    for (int k = 1; k < argc; ++k) {
        const std::string arg = argv[k];
        const bool has_value = k + 1 < argc;
        if (arg == "--json") {
            s.json = true;
        } else if (arg == "--quick") {
            s.quick = true;
        } else if (arg == "--beam") {
            s.beam = true;
        } else if (arg == "--only" && has_value) {
            s.only = argv[++k];
        } else if (arg == "--min-ess" && has_value) {
            s.min_ess = std::atof(argv[++k]);
        } else if (arg == "--threads" && has_value) {
            s.threads = static_cast<std::size_t>(std::max(0, std::atoi(argv[++k])));
        } else if (arg == "--repeats" && has_value) {
            s.repeats = std::max(1, std::atoi(argv[++k]));
        } else if (arg == "--data" && has_value) {
            s.data_dir = argv[++k];
        } else {
            return usage();
        }
    }
    std::vector<std::string> samplers;
    for (const char* name : {"nuts", "nuts-windowed", "ensemble", "laplace"})
        if (s.only.empty() || s.only == name) samplers.emplace_back(name);
    if (samplers.empty() || !(s.min_ess > 0.0)) return usage();
    const std::size_t threads = s.threads ? s.threads : std::max(1u, std::thread::hardware_concurrency());

    try {
        const bool from_files = diskmc::bench::has_bench_files(s.data_dir);
        if (!s.json)
            std::printf("bench_fit: HD163296-like problem (%s%s), whole fit, min ESS %.0f, %zu thread(s), %d "
                        "repeat(s)%s\n",
                        from_files ? "shared/data/bench FITS files" : "built in memory: no data dir",
                        s.beam ? ", beam" : "", s.min_ess, threads, s.repeats,
                        s.quick ? ", QUICK runs (numbers meaningless)" : "");
        std::vector<row> rows;
        for (const std::string& sampler : samplers) {
            std::vector<row> runs;
            for (int repeat = 1; repeat <= s.repeats; ++repeat)
                runs.push_back(run_row(sampler, s, static_cast<std::uint64_t>(repeat)));
            rows.push_back(median_row(runs));
            if (s.json) std::printf("%s\n", to_json(rows.back(), threads).dump().c_str());
            std::fflush(stdout);
        }
        if (!s.json) print_table(rows, threads);
        print_nuts_over_ensemble(rows, threads, s.json);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_fit: %s\n", e.what());
        return 1;
    }
    return 0;
}
