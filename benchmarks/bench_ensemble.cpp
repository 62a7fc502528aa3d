// bench_ensemble: what the ensemble sampler costs beyond the log-density, and
// what a second thread buys.
//
//   overhead   per walker-step, with a cheap density (the sampler's own cost
//              in ns, related to a 50 µs density), for each move; and with a
//              50 µs busy-wait density (measured time per walker-step against
//              the density's own measured time).
//   speed-up   threads = 2 against threads = 1 on a compute-bound density of
//              about 200 µs (a busy-wait on the clock would hide contention:
//              a descheduled thread's wait still ends on time).
//   diagnostics  (--diagnostics, alone) the integrated autocorrelation times
//              and the summary table of a --dim-dimensional Gaussian run
//              (default 50; 128 walkers, --steps steps, default 3000; 1
//              thread) against the sampling's own time, in wall-clock and
//              in process CPU seconds (the CPU ratio is the steadier one on
//              a shared machine).
//
// Every number is the median of --repeats runs. Usage:
//   bench_ensemble [--json] [--repeats N] [--quick] [--diagnostics [--dim N] [--steps N]]
// --json prints one JSON object per line instead of the table.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "diskmc/samplers/ensemble.hpp"

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace {

using clock_type = std::chrono::steady_clock;

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

/// Isotropic Gaussian: a density costing a few ns.
struct cheap_gaussian {
    std::size_t dimension;
    std::size_t dim() const { return dimension; }
    double log_density(const Eigen::VectorXd& x) const { return -0.5 * x.squaredNorm(); }
};

/// A Gaussian that spins on the clock for `microseconds` per call.
struct busy_wait_gaussian {
    std::size_t dimension;
    double microseconds;
    std::size_t dim() const { return dimension; }
    double log_density(const Eigen::VectorXd& x) const {
        const auto until = clock_type::now() + std::chrono::duration<double, std::micro>(microseconds);
        while (clock_type::now() < until) {
        }
        return -0.5 * x.squaredNorm();
    }
};

/// A Gaussian plus `work` iterations of dependent arithmetic: compute-bound,
/// so two threads on two busy cores show real contention.
struct compute_bound_gaussian {
    std::size_t dimension;
    std::size_t work;
    std::size_t dim() const { return dimension; }
    double log_density(const Eigen::VectorXd& x) const {
        double accumulator = x.sum();
        for (std::size_t i = 0; i < work; ++i) accumulator = std::sin(accumulator) * 0.5 + 0.25;
        return -0.5 * x.squaredNorm() + 1e-300 * accumulator;
    }
};

/// Median seconds per call of a model's log_density.
template <class M>
double seconds_per_density(const M& model, std::size_t calls, std::size_t repeats) {
    Eigen::VectorXd x = Eigen::VectorXd::Constant(static_cast<Eigen::Index>(model.dim()), 0.3);
    std::vector<double> times;
    volatile double sink = 0;
    for (std::size_t r = 0; r < repeats; ++r) {
        const auto start = clock_type::now();
        for (std::size_t i = 0; i < calls; ++i) {
            x[0] = 0.3 + 1e-9 * static_cast<double>(i);
            sink = sink + model.log_density(x);
        }
        times.push_back(std::chrono::duration<double>(clock_type::now() - start).count() / static_cast<double>(calls));
    }
    return median(times);
}

struct run_times {
    double seconds_per_walker_step = 0;  // whole call (median)
    double density_seconds_per_walker_step = 0;  // timings.log_density_seconds (median)
};

/// Median times of `repeats` runs. With `fresh_memory`, freed memory is
/// returned to the system before each run, so each run pays the first touch
/// of its chain storage (page faults: 8 dim bytes per walker-step), as a
/// real run does once; without it, repeats reuse warm memory and the number
/// is the sampler's own work.
template <class M>
run_times time_runs(const M& model, std::size_t walkers, const diskmc::ensemble_options& options, std::size_t repeats,
                    bool fresh_memory = false) {
    const Eigen::VectorXd point = Eigen::VectorXd::Constant(static_cast<Eigen::Index>(model.dim()), 0.5);
    std::vector<double> totals, densities;
    for (std::size_t r = 0; r < repeats; ++r) {
#ifdef __GLIBC__
        if (fresh_memory) malloc_trim(0);
#else
        (void)fresh_memory;
#endif
        const diskmc::ensemble_result result =
            diskmc::ensemble(model, diskmc::scatter_start{.point = point, .walkers = walkers, .scatter = 0.5}, options, 100 + r);
        const double steps = static_cast<double>(result.iterations * walkers);
        totals.push_back(result.timings.total_seconds / steps);
        densities.push_back(result.timings.log_density_seconds / steps);
    }
    return {median(totals), median(densities)};
}

struct printer {
    bool json = false;
    void header() const {
        if (json) return;
        std::printf("ensemble sampler benchmark (medians; timings are noisy while other jobs share the cores)\n\n");
        std::printf("%-38s %8s %8s %12s %12s %12s %10s\n", "case", "walkers", "threads", "total/step", "density",
                    "overhead", "vs 50 us");
    }
    void overhead(const std::string& name, std::size_t walkers, std::size_t threads, double total_ns,
                  double density_ns) const {
        const double overhead_ns = total_ns - density_ns;
        const double percent = 100.0 * overhead_ns / 50000.0;
        if (json)
            std::printf("{\"benchmark\":\"ensemble_overhead\",\"case\":\"%s\",\"walkers\":%zu,\"threads\":%zu,"
                        "\"total_ns_per_walker_step\":%.1f,\"density_ns_per_walker_step\":%.1f,"
                        "\"overhead_ns_per_walker_step\":%.1f,\"overhead_percent_of_50us\":%.3f}\n",
                        name.c_str(), walkers, threads, total_ns, density_ns, overhead_ns, percent);
        else
            std::printf("%-38s %8zu %8zu %9.0f ns %9.0f ns %9.0f ns %9.2f%%\n", name.c_str(), walkers, threads,
                        total_ns, density_ns, overhead_ns, percent);
    }
    void speedup(const std::string& name, std::size_t walkers, double density_us, double one, double two) const {
        if (json)
            std::printf("{\"benchmark\":\"ensemble_speedup\",\"case\":\"%s\",\"walkers\":%zu,\"density_us\":%.1f,"
                        "\"us_per_walker_step_1_thread\":%.2f,\"us_per_walker_step_2_threads\":%.2f,\"speedup\":%.3f}\n",
                        name.c_str(), walkers, density_us, 1e6 * one, 1e6 * two, one / two);
        else
            std::printf("\n%-38s %8zu   density %.0f us: 1 thread %.1f us/walker-step, 2 threads %.1f "
                        "us/walker-step, speed-up %.2fx\n",
                        name.c_str(), walkers, density_us, 1e6 * one, 1e6 * two, one / two);
    }
};

/// The diagnostics of a run against the run: seconds of sampling, of
/// integrated_autocorrelation_times and of summarize (medians).
/// Process CPU seconds (one thread runs here, so the thread's own).
double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

void diagnostics_benchmark(const printer& out, std::size_t repeats, std::size_t steps, std::size_t dim) {
    const std::size_t walkers = std::max<std::size_t>(128, 2 * dim + 2);
    const cheap_gaussian model{dim};
    std::vector<double> sampling, taus, summary, sampling_cpu, taus_cpu, summary_cpu;
    double tau0 = 0.0;
    for (std::size_t r = 0; r < repeats; ++r) {
        double cpu = cpu_seconds();
        const diskmc::ensemble_result result = diskmc::ensemble(
            model, diskmc::scatter_start{.point = Eigen::VectorXd::Constant(dim, 0.5), .walkers = walkers, .scatter = 0.5},
            {.steps = steps, .threads = 1}, 100 + r);
        sampling_cpu.push_back(cpu_seconds() - cpu);
        sampling.push_back(result.timings.total_seconds);
        auto start = clock_type::now();
        cpu = cpu_seconds();
        const auto estimates = diskmc::integrated_autocorrelation_times(result);
        taus_cpu.push_back(cpu_seconds() - cpu);
        taus.push_back(std::chrono::duration<double>(clock_type::now() - start).count());
        tau0 = estimates[0].tau;
        start = clock_type::now();
        cpu = cpu_seconds();
        const diskmc::posterior_summary table = diskmc::summarize(result);
        summary_cpu.push_back(cpu_seconds() - cpu);
        summary.push_back(std::chrono::duration<double>(clock_type::now() - start).count());
        if (table.parameters.empty()) std::puts("");  // keep the work
    }
    const double sampling_s = median(sampling), taus_s = median(taus), summary_s = median(summary);
    const double sampling_cpu_s = median(sampling_cpu), taus_cpu_s = median(taus_cpu),
                 summary_cpu_s = median(summary_cpu);
    if (out.json)
        std::printf("{\"benchmark\":\"ensemble_diagnostics\",\"dim\":%zu,\"walkers\":%zu,\"steps\":%zu,"
                    "\"sampling_seconds\":%.4f,\"autocorrelation_seconds\":%.4f,\"summary_seconds\":%.4f,"
                    "\"autocorrelation_percent_of_sampling\":%.2f,\"summary_percent_of_sampling\":%.2f,"
                    "\"sampling_cpu_seconds\":%.4f,\"autocorrelation_cpu_seconds\":%.4f,"
                    "\"summary_cpu_seconds\":%.4f,\"autocorrelation_percent_of_sampling_cpu\":%.2f,"
                    "\"summary_percent_of_sampling_cpu\":%.2f,\"tau_x0\":%.3f}\n",
                    dim, walkers, steps, sampling_s, taus_s, summary_s, 100.0 * taus_s / sampling_s,
                    100.0 * summary_s / sampling_s, sampling_cpu_s, taus_cpu_s, summary_cpu_s,
                    100.0 * taus_cpu_s / sampling_cpu_s, 100.0 * summary_cpu_s / sampling_cpu_s, tau0);
    else
        std::printf("diagnostics of a %zu-D Gaussian run, %zu walkers x %zu steps, 1 thread (medians of %zu; the "
                    "machine may be shared)\n  wall: sampling %.3f s, integrated_autocorrelation_times %.3f s "
                    "(%.1f%%), summarize %.3f s (%.1f%%)\n  CPU:  sampling %.3f s, integrated_autocorrelation_times "
                    "%.3f s (%.1f%%), summarize %.3f s (%.1f%%)\n  tau of x[0] %.1f\n",
                    dim, walkers, steps, repeats, sampling_s, taus_s, 100.0 * taus_s / sampling_s, summary_s,
                    100.0 * summary_s / sampling_s, sampling_cpu_s, taus_cpu_s, 100.0 * taus_cpu_s / sampling_cpu_s,
                    summary_cpu_s, 100.0 * summary_cpu_s / sampling_cpu_s, tau0);
}

}  // namespace

int main(int argc, char** argv) {
    printer out;
    std::size_t repeats = 5;
    bool quick = false, diagnostics = false;
    std::size_t diagnostics_dim = 50, diagnostics_steps = 0;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--json"))
            out.json = true;
        else if (!std::strcmp(argv[i], "--quick"))
            quick = true;
        else if (!std::strcmp(argv[i], "--diagnostics"))
            diagnostics = true;
        else if (!std::strcmp(argv[i], "--dim") && i + 1 < argc)
            diagnostics_dim = static_cast<std::size_t>(std::max(1, std::atoi(argv[++i])));
        else if (!std::strcmp(argv[i], "--steps") && i + 1 < argc)
            diagnostics_steps = static_cast<std::size_t>(std::max(1, std::atoi(argv[++i])));
        else if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc)
            repeats = static_cast<std::size_t>(std::max(1, std::atoi(argv[++i])));
        else {
            std::fprintf(stderr, "usage: %s [--json] [--repeats N] [--quick] [--diagnostics [--dim N] [--steps N]]\n",
                         argv[0]);
            return 2;
        }
    }
    if (diagnostics) {
        if (diagnostics_steps == 0) diagnostics_steps = quick ? 1000 : 3000;
        diagnostics_benchmark(out, repeats, diagnostics_steps, diagnostics_dim);
        return 0;
    }
    out.header();
    const std::size_t dim = 10, walkers = 32;

    // 1. Sampler overhead with a cheap density, per move.
    const cheap_gaussian cheap{dim};
    const double cheap_ns = 1e9 * seconds_per_density(cheap, 200000, repeats);
    struct move_case {
        std::string name;
        std::vector<diskmc::weighted_move> moves;
    };
    const std::vector<move_case> moves = {
        {"cheap 10-D, stretch", {{diskmc::stretch_move{}}}},
        {"cheap 10-D, de", {{diskmc::de_move{}}}},
        {"cheap 10-D, de_snooker", {{diskmc::de_snooker_move{}}}},
        {"cheap 10-D, walk (16 helpers)", {{diskmc::walk_move{}}}},
        {"cheap 10-D, de 0.8 + snooker 0.2", {{diskmc::de_move{}, 0.8}, {diskmc::de_snooker_move{}, 0.2}}},
    };
    const std::size_t cheap_steps = quick ? 500 : 4000;
    {
        const run_times t = time_runs(cheap, walkers, {.steps = cheap_steps, .threads = 1}, repeats, true);
        out.overhead("cheap 10-D, stretch, fresh chain memory", walkers, 1, 1e9 * t.seconds_per_walker_step, cheap_ns);
    }
    for (const auto& m : moves) {
        const run_times t = time_runs(cheap, walkers, {.steps = cheap_steps, .moves = m.moves, .threads = 1}, repeats);
        // Overhead = whole call minus the density's own cost measured alone
        // (the in-run timer would add its clock reads to the density side).
        out.overhead(m.name, walkers, 1, 1e9 * t.seconds_per_walker_step, cheap_ns);
    }
    {
        const auto file = std::filesystem::temp_directory_path() / "bench_ensemble_checkpoint.chain";
        std::vector<double> totals;
        for (std::size_t r = 0; r < repeats; ++r) {
            const diskmc::ensemble_options options{.steps = cheap_steps, .threads = 1, .checkpoint = file, .overwrite_checkpoint = true};
            const auto result = diskmc::ensemble(cheap, diskmc::scatter_start{.point = Eigen::VectorXd::Constant(dim, 0.5), .walkers = walkers, .scatter = 0.5}, options, r);
            totals.push_back(result.timings.total_seconds / static_cast<double>(result.iterations * walkers));
        }
        std::filesystem::remove(file);
        out.overhead("cheap 10-D, stretch, checkpoint", walkers, 1, 1e9 * median(totals), cheap_ns);
    }
    {
        const run_times t = time_runs(cheap, walkers, {.steps = quick ? 100u : 500u, .threads = 2}, repeats);
        out.overhead("cheap 10-D, stretch, 2 threads", walkers, 2, 1e9 * t.seconds_per_walker_step, cheap_ns);
    }

    // 2. A 50 µs busy-wait density: time per walker-step against the
    // density's own time.
    const busy_wait_gaussian busy{dim, 50.0};
    const double busy_ns = 1e9 * seconds_per_density(busy, 2000, repeats);
    {
        const run_times t = time_runs(busy, walkers, {.steps = quick ? 20u : 100u, .threads = 1}, repeats);
        out.overhead("busy-wait 50 us, stretch", walkers, 1, 1e9 * t.seconds_per_walker_step, busy_ns);
    }

    // 3. Speed-up from a second thread on a compute-bound ~200 µs density.
    std::size_t work = 1000;
    compute_bound_gaussian costly{dim, work};
    work = static_cast<std::size_t>(static_cast<double>(work) * 200e-6 / seconds_per_density(costly, 200, 3));
    costly.work = work;
    const double costly_us = 1e6 * seconds_per_density(costly, 200, repeats);
    const diskmc::ensemble_options costly_options{.steps = quick ? 10u : 40u, .threads = 1};
    const run_times one = time_runs(costly, walkers, costly_options, repeats);
    diskmc::ensemble_options two_threads = costly_options;
    two_threads.threads = 2;
    const run_times two = time_runs(costly, walkers, two_threads, repeats);
    out.speedup("compute-bound density, stretch", walkers, costly_us, one.seconds_per_walker_step,
                two.seconds_per_walker_step);
    return 0;
}
