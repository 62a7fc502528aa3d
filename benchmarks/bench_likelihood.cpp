// Likelihood speed on the HD163296-like benchmark problem: ns per masked
// pixel of the log-likelihood value, and of value + gradient (automatic
// differentiation over pixel tiles), with and without the beam, on 1 and 2
// threads; the ratio (value + gradient) / value is what a NUTS gradient costs
// in likelihoods. Medians of repeats. The "flows" column: "none" is the
// default family (flared surface, Keplerian rotation), "radial" adds a
// radial power-law flow (vr_100 = 50 m/s, vr_q = -0.5; the closed-form
// adjoint covers it too).
//
//   bench_likelihood [--json] [--repeats N] [--data DIR]
//
// DIR (default: $DISKMC_DATA_DIR) holds bench/hd163296_like_*.fits; without
// it the same problem is built in memory from the noiseless model.
// --json prints one JSON object per line with "flows", "beam", "threads", "pixels",
// "value_ns_per_pixel", "gradient_ns_per_pixel" (value and gradient together)
// and "ratio" (medians), and "min_ratio" (of the fastest calls: less moved
// by other work on the machine).

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>

#include "bench_common.hpp"
#include "diskmc/disk.hpp"
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
            std::printf("%-7s %-6s %-8s %8s %14s %14s %8s %10s\n", "flows", "beam", "threads", "pixels",
                        "value ns/px", "grad ns/px", "ratio", "min ratio");
        }
        // The benchmark's full vector, with vr_100 and vr_q appended for the radial row.
        auto full_of = [](const Eigen::VectorXd& base, bool radial) {
            if (!radial) return base;
            Eigen::VectorXd full(base.size() + 2);
            full << base, 50.0, -0.5;
            return full;
        };
        auto run = [&](const auto& family, bool radial, bool beam) {
            using family_type = std::decay_t<decltype(family)>;
            const diskmc::sky_map map = diskmc::bench::bench_map(data_dir, beam);
            const auto mask =
                diskmc::fit_mask(map, family.template make<double>(full_of(diskmc::bench::bench_start(), radial)),
                                 {.r_min = 0.3});
            for (std::size_t threads : {1u, 2u}) {
                const diskmc::disk_likelihood<family_type> likelihood(map, mask, family,
                                                                      {.convolve_beam = beam, .threads = threads});
                const Eigen::VectorXd full = full_of(diskmc::bench::bench_truth(), radial);
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
                if (sink == 1.2345) std::puts("");  // keep the work
                const char* flows = radial ? "radial" : "none";
                if (json) {
                    std::printf("{\"flows\": \"%s\", \"beam\": %s, \"threads\": %zu, \"pixels\": %.0f, "
                                "\"value_ns_per_pixel\": %.3f, \"gradient_ns_per_pixel\": %.3f, \"ratio\": %.3f, "
                                "\"min_ratio\": %.3f, \"from_files\": %s}\n",
                                flows, beam ? "true" : "false", threads, pixels, value_ns, gradient_ns,
                                gradient_ns / value_ns, min_ratio, from_files ? "true" : "false");
                } else {
                    std::printf("%-7s %-6s %-8zu %8.0f %14.2f %14.2f %8.2f %10.2f\n", flows, beam ? "yes" : "no",
                                threads, pixels, value_ns, gradient_ns, gradient_ns / value_ns, min_ratio);
                }
            }
        };
        using radial_family =
            diskmc::disk_family<diskmc::flared_component, diskmc::keplerian_component,
                                diskmc::radial_power_law_component>;
        for (bool beam : {false, true}) {
            run(diskmc::disk_family<>{}, false, beam);
            run(radial_family{}, true, beam);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_likelihood: %s\n", e.what());
        return 1;
    }
    return 0;
}
