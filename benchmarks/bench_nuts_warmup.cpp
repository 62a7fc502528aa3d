// bench_nuts_warmup: what NUTS' warmup costs, and what trusting a good
// metric and stopping on precision save.
//
//   calibrate  the step size dual averaging settles on for a d-dimensional
//              standard normal (unit metric, step size only, 1000 warmup
//              iterations) and after a trusted warmup of 100, median over
//              seeds, against detail::gaussian_step_size; and the range of the
//              trusted warmup's check statistics on a correct metric.
//   targets    non-Gaussian targets (tests/support/nuts_targets.hpp): the
//              hierarchical model standardised by the identity, the banana by
//              its true variances, Neal's funnel by the identity (it falls
//              back); the trusted warmup vs Stan's windows: chains that kept
//              the trusted warmup, divergences, gradients per effective sample
//              (warmup included), R-hat.
//   fit        fit_rotation_map on the HD163296-like benchmark map (9 free
//              parameters, shared/data/bench) with the default NUTS settings
//              but for the warmup: Stan's windowed warmup vs the trusted one
//              (the default), and the trusted one stopping at min_ess = 400.
//              Per configuration and seed: gradients in warmup and sampling,
//              the smallest bulk ESS, gradients per effective sample of
//              sampling and of warmup + sampling, draws per chain, chains that
//              kept the trusted warmup, divergent transitions after warmup,
//              the largest R-hat and the mean acceptance statistic.
//
// Every figure is per seed and the median over --repeats seeds.
//
//   bench_nuts_warmup [--section calibrate|targets|fit] [--repeats N] [--first-seed N]
//                     [--only windowed|trusted|trusted400] [--data DIR]
//                     [--downsample N] [--threads N]

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../tests/support/gaussian_target.hpp"
#include "../tests/support/nuts_targets.hpp"
#include "bench_common.hpp"
#include "hd163296_fit.hpp"
#include "diskmc/samplers/nuts.hpp"

namespace {

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

void calibrate(int repeats) {
    std::printf("calibrate: standard normal, unit metric, target_accept 0.8, %d seeds\n", repeats);
    std::printf("%5s %12s %12s %12s %10s %10s %10s\n", "dim", "step(1000)", "expected", "step(100)",
                "ratio_min", "var_min", "var_max");
    for (int d : {1, 2, 4, 9, 16, 32, 64, 100}) {
        const auto target = diskmc::testing::make_gaussian(Eigen::VectorXd::Ones(d), false, 7);
        std::vector<double> converged, trusted, ratios;
        double var_min = 1e300, var_max = 0;
        for (int seed = 1; seed <= repeats; ++seed) {
            diskmc::nuts_options o{.warmup = 1000, .samples = 0,
                                   .warmup_adaptation = diskmc::warmup_mode::step_size_only,
                                   .standardize_covariance = target.covariance,
                                   .standardize_location = target.mean};
            const Eigen::VectorXd init = target.mean + Eigen::VectorXd::Constant(d, 0.5);
            diskmc::detail::random_stream rng(static_cast<std::uint64_t>(seed), 0);
            converged.push_back(diskmc::nuts(target, init, o, rng).step_size);
            o.warmup_adaptation = diskmc::warmup_mode::trust_metric_with_fallback;
            diskmc::detail::random_stream rng2(static_cast<std::uint64_t>(seed), 0);
            const auto r = diskmc::nuts(target, init, o, rng2);
            trusted.push_back(r.warmup_check.step_size_ratio *
                              diskmc::detail::gaussian_step_size(static_cast<std::size_t>(d), 0.8));
            ratios.push_back(r.warmup_check.step_size_ratio);
            var_min = std::min(var_min, r.warmup_check.variance_min);
            var_max = std::max(var_max, r.warmup_check.variance_max);
        }
        std::printf("%5d %12.4f %12.4f %12.4f %10.3f %10.3f %10.3f\n", d, median(converged),
                    diskmc::detail::gaussian_step_size(static_cast<std::size_t>(d), 0.8), median(trusted),
                    *std::min_element(ratios.begin(), ratios.end()), var_min, var_max);
    }
}

/// One run of 4 chains x 1000 draws on a non-Gaussian target standardised by
/// `covariance`: the trusted warmup or Stan's windows (1000 iterations).
template <typename Target>
void target_rows(const char* name, const Target& target, const Eigen::MatrixXd& covariance, int repeats) {
    const Eigen::Index dim = static_cast<Eigen::Index>(target.dim());
    for (const bool trust : {true, false}) {
        std::vector<double> per, rhat;
        double divergences = 0, trusted = 0;
        for (int seed = 1; seed <= repeats; ++seed) {
            diskmc::nuts_chains_options o{.sampler = {.warmup = 1000, .samples = 1000,
                                                      .standardize_covariance = covariance},
                                          .chains = 4, .threads = 1};
            if (trust) o.sampler.warmup_adaptation = diskmc::warmup_mode::trust_metric_with_fallback;
            const auto run = diskmc::nuts_chains(target, Eigen::VectorXd::Zero(dim), o,
                                                 static_cast<std::uint64_t>(seed));
            double gradients = 0;
            for (const auto& chain : run.chains) {
                gradients += static_cast<double>(chain.gradient_evaluations_warmup +
                                                 chain.gradient_evaluations_sampling);
                trusted += chain.warmup_taken == diskmc::warmup_path::trusted ? 1 : 0;
                for (const auto& it : chain.sampling) divergences += it.divergent ? 1 : 0;
            }
            double ess = 1e300, worst = 0;
            for (const auto& line : diskmc::summarize(run).parameters) {
                ess = std::min(ess, line.ess_bulk);
                worst = std::max(worst, line.rhat);
            }
            per.push_back(gradients / ess);
            rhat.push_back(worst);
        }
        std::printf("%-14s %-9s %8.0f %6.0f %12.1f %8.4f %8.4f\n", name, trust ? "trusted" : "windowed",
                    trusted, divergences, median(per), median(rhat), *std::max_element(rhat.begin(), rhat.end()));
        std::fflush(stdout);
    }
}

void targets_section(int repeats) {
    std::printf("targets: 4 chains x 1000 draws, %d seeds; trusted chains and divergences summed over seeds, "
                "gradients (warmup + sampling) per min bulk ESS and R-hat medians, R-hat max\n", repeats);
    std::printf("%-14s %-9s %8s %6s %12s %8s %8s\n", "target", "warmup", "trusted", "div", "all/ess", "rhat",
                "rhat_max");
    diskmc::testing::hierarchical_model hierarchical;
    hierarchical.y << 1.5, -0.5, 2.0, 0.3;
    target_rows("hierarchical", hierarchical, Eigen::MatrixXd::Identity(6, 6), repeats);
    const diskmc::testing::banana_density banana;
    target_rows("banana", banana, Eigen::MatrixXd(banana.variances().asDiagonal()), repeats);
    target_rows("funnel", diskmc::testing::funnel{}, Eigen::MatrixXd::Identity(10, 10), repeats);
}

struct fit_row {
    double warmup_gradients = 0, sampling_gradients = 0, min_bulk_ess = 0, draws = 0, trusted = 0, seconds = 0;
    double divergences = 0, max_rhat = 0, accept = 0;
};

fit_row run_fit(const diskmc::sky_map& map, int downsample, std::size_t threads, bool trust, double min_ess,
                std::uint64_t seed) {
    diskmc::nuts_fit_settings nuts{.seed = seed};
    nuts.trust_map_covariance = trust;
    if (min_ess > 0) {
        nuts.options.min_ess = min_ess;
        nuts.options.sampler.samples = 5000;  // the budget
    }
    const diskmc::fit_options o{.map = map,
                                .downsample = {.factor = downsample},
                                .parameters = diskmc::hd163296_like::parameters(),
                                .mask = {.r_min = diskmc::hd163296_like::r_min},
                                .sampler = nuts,
                                .threads = threads};
    const diskmc::fit_result fit = diskmc::bench::fit_hd163296_like(o);
    const auto& run = std::get<diskmc::nuts_chains_result>(fit.sampler);
    fit_row row;
    for (const auto& chain : run.chains) {
        row.warmup_gradients += static_cast<double>(chain.gradient_evaluations_warmup);
        row.sampling_gradients += static_cast<double>(chain.gradient_evaluations_sampling);
        row.trusted += chain.warmup_taken == diskmc::warmup_path::trusted ? 1 : 0;
        for (const auto& it : chain.sampling) {
            row.divergences += it.divergent ? 1 : 0;
            row.accept += it.accept_stat / static_cast<double>(chain.sampling.size() * run.chains.size());
        }
        row.seconds = std::max(row.seconds, chain.warmup_seconds + chain.sampling_seconds);
    }
    row.draws = static_cast<double>(run.chains.front().draws.rows());
    row.min_bulk_ess = 1e300;
    for (const auto& p : fit.parameters) {
        row.min_bulk_ess = std::min(row.min_bulk_ess, p.ess_bulk);
        row.max_rhat = std::max(row.max_rhat, p.rhat);
    }
    return row;
}

void fit_section(const std::string& data_dir, int repeats, int first_seed, int downsample, std::size_t threads,
                 const std::string& only) {
    const bool files = diskmc::bench::has_bench_files(data_dir);
    const diskmc::sky_map map = diskmc::bench::bench_map(data_dir, false);
    std::printf("fit: HD163296-like map (%s), downsample %d, default NUTS fit settings (4 chains, 1000 warmup, "
                "1000 samples), seeds %d..%d\n",
                files ? "shared/data/bench" : "built in memory", downsample, first_seed, first_seed + repeats - 1);
    std::printf("%-22s %5s %10s %10s %8s %7s %10s %12s %7s %5s %7s %8s\n", "config", "seed", "grad_warm",
                "grad_samp", "min_ess", "draws", "grad/ess", "all/ess", "trusted", "div", "rhat", "accept");
    struct config {
        const char* key;
        const char* name;
        bool trust;
        double min_ess;
    };
    for (const config& c : {config{"windowed", "windowed (before)", false, 0}, config{"trusted", "trusted (after)", true, 0},
                            config{"trusted400", "trusted, min_ess 400", true, 400}}) {
        if (!only.empty() && only != c.key) continue;
        std::vector<double> warm, samp, ess, draws, per, all, rhat;
        double divergences = 0;
        for (int seed = first_seed; seed < first_seed + repeats; ++seed) {
            const fit_row r = run_fit(map, downsample, threads, c.trust, c.min_ess, static_cast<std::uint64_t>(seed));
            warm.push_back(r.warmup_gradients);
            samp.push_back(r.sampling_gradients);
            ess.push_back(r.min_bulk_ess);
            draws.push_back(r.draws);
            per.push_back(r.sampling_gradients / r.min_bulk_ess);
            all.push_back((r.warmup_gradients + r.sampling_gradients) / r.min_bulk_ess);
            rhat.push_back(r.max_rhat);
            divergences += r.divergences;
            std::printf("%-22s %5d %10.0f %10.0f %8.0f %7.0f %10.1f %12.1f %7.0f %5.0f %7.4f %8.3f\n", c.name, seed,
                        r.warmup_gradients, r.sampling_gradients, r.min_bulk_ess, r.draws, per.back(), all.back(),
                        r.trusted, r.divergences, r.max_rhat, r.accept);
            std::fflush(stdout);
        }
        std::printf("%-22s %5s %10.0f %10.0f %8.0f %7.0f %10.1f %12.1f %7s %5.0f %7.4f  (div: total)\n", c.name,
                    "med", median(warm), median(samp), median(ess), median(draws), median(per), median(all), "",
                    divergences, median(rhat));
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string section, data_dir = diskmc::bench::default_data_dir();
    std::string only;
    int repeats = 3, first_seed = 1, downsample = 1;
    std::size_t threads = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 < argc && arg == "--section") section = argv[++i];
        else if (i + 1 < argc && arg == "--repeats") repeats = std::max(1, std::atoi(argv[++i]));
        else if (i + 1 < argc && arg == "--first-seed") first_seed = std::atoi(argv[++i]);
        else if (i + 1 < argc && arg == "--only") only = argv[++i];
        else if (i + 1 < argc && arg == "--data") data_dir = argv[++i];
        else if (i + 1 < argc && arg == "--downsample") downsample = std::max(1, std::atoi(argv[++i]));
        else if (i + 1 < argc && arg == "--threads") threads = static_cast<std::size_t>(std::atoi(argv[++i]));
        else {
            std::fprintf(stderr, "usage: bench_nuts_warmup [--section calibrate|targets|fit] [--repeats N] [--data DIR] "
                                 "[--first-seed N] [--only windowed|trusted|trusted400] [--downsample N] [--threads N]\n");
            return 2;
        }
    }
    try {
        if (section.empty() || section == "calibrate") calibrate(std::max(repeats, 40));
        if (section.empty() || section == "targets") targets_section(repeats);
        if (section.empty() || section == "fit") fit_section(data_dir, repeats, first_seed, downsample, threads, only);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_nuts_warmup: %s\n", e.what());
        return 1;
    }
    return 0;
}
