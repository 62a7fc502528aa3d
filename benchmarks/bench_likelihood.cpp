// Likelihood speed on the HD163296-like benchmark problem: ns per masked
// pixel of the log-likelihood value, and of value + gradient (automatic
// differentiation over pixel tiles), with and without the beam, on 1 and 2
// threads; the ratio (value + gradient) / value is what a NUTS gradient costs
// in likelihoods. Medians of repeats.
//
//   bench_likelihood [--json] [--repeats N] [--data DIR]
//
// DIR (default: $DISKMC_DATA_DIR) holds bench/hd163296_like_*.fits; without
// it the same problem is built in memory from the noiseless model.
// --json prints one JSON object per line with "beam", "threads", "pixels",
// "value_ns_per_pixel", "gradient_ns_per_pixel" (value and gradient together)
// and "ratio" (medians), and "min_ratio" (of the fastest calls: less moved
// by other work on the machine), and "erased_ratio": value + gradient through
// inference::any_disk_likelihood (the fit's type-erased likelihood) over the
// direct call, medians of alternating calls (the cost of the virtual call).

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "bench_common.hpp"
#include "diskmc/disk.hpp"
#include "diskmc/inference/any_disk_likelihood.hpp"
#include "diskmc/inference/disk_likelihood.hpp"


int main(int argc, char** argv) {
    diskmc::bench::json_repeats_data arguments{.repeats = 21};
    if (!diskmc::bench::parse_json_repeats_data(argc, argv, "bench_likelihood", arguments)) return 2;
    const auto& [json, repeats, data_dir] = arguments;
    const bool from_files = diskmc::bench::has_bench_files(data_dir);

    try {
        if (!json) {
            std::printf("log-likelihood, HD163296-like problem (%s), median of %d repeats\n",
                        from_files ? "shared/data/bench FITS files" : "built in memory: no data dir", repeats);
            std::printf("%-6s %-8s %8s %14s %14s %8s %10s %14s\n", "beam", "threads", "pixels", "value ns/px",
                        "grad ns/px", "ratio", "min ratio", "erased/direct");
        }
        for (bool beam : {false, true}) {
            const diskmc::sky_map map = diskmc::bench::bench_map(data_dir, beam);
            const diskmc::disk_family<> family;
            const auto mask = diskmc::fit_mask(map, family.make<double>(diskmc::bench::bench_start()), {.r_min = 0.3});
            for (std::size_t threads : {1u, 2u}) {
                const diskmc::disk_likelihood<> likelihood(map, mask, family,
                                                           {.convolve_beam = beam, .threads = threads});
                const Eigen::VectorXd full = diskmc::bench::bench_truth();
                double sink = 0.0;
                Eigen::VectorXd grad;
                // Value and gradient alternate, so that both see the same
                // machine (a shared machine's speed drifts over a run).
                const auto [value_s, gradient_s] = diskmc::bench::time_repeats_alternating(
                    repeats, [&] { sink += likelihood.log_likelihood(full); },
                    [&] { sink += likelihood.log_likelihood_gradient(full, grad); });
                const double pixels = static_cast<double>(likelihood.pixel_count());
                const double value_ns = value_s.median / pixels * 1e9, gradient_ns = gradient_s.median / pixels * 1e9;
                const double min_ratio = gradient_s.minimum / value_s.minimum;
                const diskmc::inference::any_disk_likelihood erased(likelihood);
                Eigen::VectorXd erased_grad;
                const auto [direct_s, erased_s] = diskmc::bench::time_repeats_alternating(
                    repeats, [&] { sink += likelihood.log_likelihood_gradient(full, grad); },
                    [&] { sink += erased.log_likelihood_gradient(full, erased_grad); });
                if (erased_grad != grad) throw std::runtime_error("the erased likelihood's gradient differs");
                const double erased_ratio = erased_s.median / direct_s.median;
                if (sink == 1.2345) std::puts("");  // keep the work
                if (json) {
                    std::printf("{\"beam\": %s, \"threads\": %zu, \"pixels\": %.0f, \"value_ns_per_pixel\": %.3f, "
                                "\"gradient_ns_per_pixel\": %.3f, \"ratio\": %.3f, \"min_ratio\": %.3f, "
                                "\"erased_ratio\": %.4f, \"from_files\": %s}\n",
                                beam ? "true" : "false", threads, pixels, value_ns, gradient_ns,
                                gradient_ns / value_ns, min_ratio, erased_ratio, from_files ? "true" : "false");
                } else {
                    std::printf("%-6s %-8zu %8.0f %14.2f %14.2f %8.2f %10.2f %14.4f\n", beam ? "yes" : "no", threads,
                                pixels, value_ns, gradient_ns, gradient_ns / value_ns, min_ratio, erased_ratio);
                }
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_likelihood: %s\n", e.what());
        return 1;
    }
    return 0;
}
