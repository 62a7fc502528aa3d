// bench_nuts: what NUTS costs, and what its options buy.
//
//   parallel        4 chains on a Gaussian whose density is made costly by real
//                   arithmetic (--cost-us per evaluation): sequential, on 2
//                   threads, and in lockstep (chains advance their trees together,
//                   as "vectorised" chains do) on 1 and 2 threads.
//   metric          diagonal vs dense metric on the 10-D Gaussian with condition
//                   number 1e4 and strong correlations: ESS per gradient.
//   regularization  Stan's fixed 1e-3 shrinkage vs the scale-relative rule vs
//                   standardising by an approximate (MAP-like) covariance, on a
//                   correlated Gaussian with sds from 1e-4 to 1e2: gradients per
//                   effective sample.
//
// Every figure is the median over --repeats runs with different seeds.
// Output: a readable table per section, or with --json one JSON object per line.
//
//   bench_nuts [--json] [--repeats N] [--cost-us MICROSECONDS] [--section NAME]

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "../tests/support/gaussian_target.hpp"
#include "diskmc/samplers/nuts.hpp"

namespace {

using diskmc::metric_kind;
using diskmc::metric_regularization;
using diskmc::nuts_chains_options;
using diskmc::testing::gaussian_target;

// A Gaussian that also does `work` sines per evaluation, a stand-in for a
// model's pixel loop: compute-bound, so threads do not fight over memory.
struct costly_gaussian {
    const gaussian_target* target;
    std::size_t work;

    std::size_t dim() const { return target->dim(); }
    double log_density(const Eigen::VectorXd& x) const {
        Eigen::VectorXd gradient;
        return log_density_gradient(x, gradient);
    }
    double log_density_gradient(const Eigen::VectorXd& x, Eigen::VectorXd& gradient) const {
        double sink = 0.0;
        for (std::size_t k = 0; k < work; ++k) sink += std::sin(x[0] + 1e-3 * static_cast<double>(k));
        // 0 * sink keeps the loop (no fast-math) without changing the density.
        return target->log_density_gradient(x, gradient) + 0.0 * sink;
    }
};

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The work count that makes one evaluation cost about `microseconds`,
// measured on the evaluation itself (the whole call, at a point away from the
// mean) with the work doubled until a call takes at least half the target.
std::size_t calibrate_work(const gaussian_target& target, double microseconds) {
    const Eigen::VectorXd x = target.mean + Eigen::VectorXd::Ones(target.dim());
    Eigen::VectorXd gradient;
    volatile double keep = 0.0;
    for (std::size_t work = 64;; work *= 2) {
        const costly_gaussian model{&target, work};
        const double start = now_seconds();
        for (int i = 0; i < 20; ++i) keep = keep + model.log_density_gradient(x, gradient);
        const double call_us = (now_seconds() - start) / 20.0 * 1e6;
        if (call_us >= 0.5 * microseconds || work >= (std::size_t{1} << 28))
            return std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(work) * microseconds / call_us));
    }
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// One configuration's figures, in print order.
struct figures {
    std::vector<std::string> keys;
    std::map<std::string, std::vector<double>> values;
    void add(const std::string& key, double value) {
        if (!values.count(key)) keys.push_back(key);
        values[key].push_back(value);
    }
};

struct row {
    std::string section;
    std::string config;
    std::vector<std::pair<std::string, double>> medians;
};

row summarize_repeats(const std::string& section, const std::string& config, const figures& f) {
    row r{section, config, {}};
    for (const auto& key : f.keys) r.medians.emplace_back(key, median(f.values.at(key)));
    return r;
}

// Figures every NUTS run reports.
void add_run_figures(figures& f, const diskmc::nuts_chains_result& run) {
    const auto summary = diskmc::summarize(run);
    double min_ess = std::numeric_limits<double>::infinity();
    for (const auto& line : summary.parameters) min_ess = std::min(min_ess, line.ess_bulk);
    double leapfrog = 0.0, at_cap = 0.0, transitions = 0.0, divergences = 0.0, step = 0.0;
    std::size_t sampling_gradients = 0;
    for (const auto& chain : run.chains) {
        for (const auto& it : chain.sampling) {
            leapfrog += it.n_leapfrog;
            at_cap += static_cast<std::size_t>(it.tree_depth) >= chain.max_tree_depth;
            divergences += it.divergent;
        }
        transitions += static_cast<double>(chain.sampling.size());
        sampling_gradients += chain.gradient_evaluations_sampling;
        step += chain.step_size / static_cast<double>(run.chains.size());
    }
    const auto total = static_cast<double>(run.gradient_evaluations());
    f.add("ess_bulk_min", min_ess);
    f.add("grad_per_ess", total / min_ess);
    f.add("grad_per_ess_sampling", static_cast<double>(sampling_gradients) / min_ess);
    f.add("ess_per_1000_grad", 1000.0 * min_ess / total);
    f.add("step_size", step);
    f.add("leapfrog_mean", leapfrog / transitions);
    f.add("frac_max_depth", at_cap / transitions);
    f.add("divergences", divergences);
}

std::vector<row> bench_parallel(int repeats, double cost_us) {
    const gaussian_target target =
        diskmc::testing::make_gaussian(diskmc::testing::log_spaced(0.5, 2.0, 10), false, 1);
    const costly_gaussian model{&target, calibrate_work(target, cost_us)};
    struct config {
        const char* name;
        std::size_t threads;
        bool lockstep;
    };
    const config configs[] = {{"4 chains sequential", 1, false},
                              {"4 chains on 2 threads", 2, false},
                              {"4 chains lockstep, 1 thread", 1, true},
                              {"4 chains lockstep, 2 threads", 2, true}};
    std::vector<figures> results(std::size(configs));
    for (int r = 0; r < repeats; ++r) {
        for (std::size_t k = 0; k < std::size(configs); ++k) {
            const nuts_chains_options options{.sampler = {.warmup = 150, .samples = 150},
                                              .chains = 4,
                                              .threads = configs[k].threads,
                                              .lockstep = configs[k].lockstep};
            const auto run = diskmc::nuts_chains(model, target.mean, options,
                                                 static_cast<std::uint64_t>(100 + r));
            figures& f = results[k];
            const double gradients = static_cast<double>(run.gradient_evaluations());
            f.add("wall_s", run.wall_seconds);
            f.add("gradient_evaluations", gradients);
            f.add("us_per_gradient", 1e6 * run.wall_seconds / gradients);
            if (configs[k].lockstep) {
                // Slots a vectorised batch pays for vs the evaluations needed.
                const double slots = 4.0 * static_cast<double>(run.lockstep_rounds);
                f.add("lockstep_rounds", static_cast<double>(run.lockstep_rounds));
                f.add("batch_utilisation", (gradients - 4.0) / slots);
            }
        }
    }
    std::vector<row> rows;
    const double sequential = median(results[0].values.at("wall_s"));
    for (std::size_t k = 0; k < std::size(configs); ++k) {
        results[k].add("speedup", sequential / median(results[k].values.at("wall_s")));
        rows.push_back(summarize_repeats("parallel", configs[k].name, results[k]));
    }
    return rows;
}

std::vector<row> bench_metric(int repeats) {
    const gaussian_target target = diskmc::testing::ill_conditioned_gaussian();
    std::vector<row> rows;
    for (metric_kind metric : {metric_kind::diagonal, metric_kind::dense}) {
        figures f;
        for (int r = 0; r < repeats; ++r) {
            const nuts_chains_options options{.sampler = {.metric = metric}, .chains = 4};
            add_run_figures(f, diskmc::nuts_chains(target, target.mean, options,
                                                   static_cast<std::uint64_t>(200 + r)));
        }
        rows.push_back(summarize_repeats(
            "metric", metric == metric_kind::dense ? "dense, cond 1e4" : "diagonal, cond 1e4", f));
    }
    return rows;
}

std::vector<row> bench_regularization(int repeats) {
    // Correlated, with sds from 1e-4 to 1e2: a correlation matrix from a random
    // rotation, scaled.
    const Eigen::Index dim = 7;
    gaussian_target target = diskmc::testing::make_gaussian(
        diskmc::testing::log_spaced(0.3, 3.0, dim), true, 3);
    const Eigen::VectorXd inverse_sd = target.covariance.diagonal().cwiseSqrt().cwiseInverse();
    const Eigen::MatrixXd correlation =
        inverse_sd.asDiagonal() * target.covariance * inverse_sd.asDiagonal();
    const Eigen::VectorXd sds = diskmc::testing::log_spaced(1e-4, 1e2, dim);
    target.set_covariance(sds.asDiagonal() * correlation * sds.asDiagonal());
    target.mean = sds;
    // What a MAP step would hand over: the right shape, 30% too wide.
    const Eigen::MatrixXd map_covariance = 1.3 * target.covariance;

    struct config {
        const char* name;
        metric_kind metric;
        metric_regularization rule;
        bool standardize;
    };
    const config configs[] = {
        {"diagonal, Stan fixed 1e-3", metric_kind::diagonal, metric_regularization::stan_fixed, false},
        {"diagonal, scale-relative", metric_kind::diagonal, metric_regularization::scale_relative, false},
        {"dense, Stan fixed 1e-3", metric_kind::dense, metric_regularization::stan_fixed, false},
        {"dense, scale-relative", metric_kind::dense, metric_regularization::scale_relative, false},
        {"dense, Stan fixed, standardised", metric_kind::dense, metric_regularization::stan_fixed, true},
        {"diagonal, scale-relative, standardised", metric_kind::diagonal,
         metric_regularization::scale_relative, true},
        {"dense, scale-relative, standardised", metric_kind::dense,
         metric_regularization::scale_relative, true},
    };
    std::vector<row> rows;
    for (const config& c : configs) {
        figures f;
        for (int r = 0; r < repeats; ++r) {
            nuts_chains_options options{.sampler = {.metric = c.metric, .regularization = c.rule},
                                        .chains = 4};
            if (c.standardize) options.sampler.standardize_covariance = map_covariance;
            add_run_figures(f, diskmc::nuts_chains(target, target.mean, options,
                                                   static_cast<std::uint64_t>(300 + r)));
        }
        rows.push_back(summarize_repeats("regularization", c.name, f));
    }
    return rows;
}

void print_table(const std::vector<row>& rows) {
    std::string section;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const row& r = rows[i];
        if (r.section != section) {
            section = r.section;
            std::printf("\n## %s\n\n%-40s", section.c_str(), "config");
            for (const auto& [key, value] : r.medians) std::printf(" %14s", key.c_str());
            std::printf("\n");
        }
        std::printf("%-40s", r.config.c_str());
        for (const auto& [key, value] : r.medians) std::printf(" %14.4g", value);
        std::printf("\n");
    }
}

void print_json(const std::vector<row>& rows, int repeats) {
    for (const row& r : rows) {
        std::printf("{\"bench\":\"nuts\",\"section\":\"%s\",\"config\":\"%s\",\"repeats\":%d",
                    r.section.c_str(), r.config.c_str(), repeats);
        for (const auto& [key, value] : r.medians) std::printf(",\"%s\":%.6g", key.c_str(), value);
        std::printf("}\n");
    }
}

}  // namespace

int main(int argc, char** argv) {
    bool json = false;
    int repeats = 3;
    double cost_us = 100.0;
    std::string only;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--json") {
            json = true;
        } else if (arg == "--repeats" && i + 1 < argc) {
            repeats = std::max(1, std::atoi(argv[++i]));
        } else if (arg == "--cost-us" && i + 1 < argc) {
            cost_us = std::atof(argv[++i]);
        } else if (arg == "--section" && i + 1 < argc) {
            only = argv[++i];
        } else {
            std::fprintf(stderr,
                         "usage: bench_nuts [--json] [--repeats N] [--cost-us US] "
                         "[--section parallel|metric|regularization]\n");
            return 2;
        }
    }
    std::vector<row> rows;
    auto append = [&rows](std::vector<row> more) {
        rows.insert(rows.end(), more.begin(), more.end());
    };
    if (only.empty() || only == "parallel") append(bench_parallel(repeats, cost_us));
    if (only.empty() || only == "metric") append(bench_metric(repeats));
    if (only.empty() || only == "regularization") append(bench_regularization(repeats));
    if (json)
        print_json(rows, repeats);
    else
        print_table(rows);
    return 0;
}
