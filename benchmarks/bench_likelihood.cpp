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
//
// A second table: a wide beam (0.49" x 0.39" on 0.052" pixels: a 33 x 33
// kernel) on 256 x 256 pixels of the same disk, the beam convolved by
// direct sums and by FFT (with diskmc::fftw; the likelihood's automatic
// choice for this kernel); JSON rows have "table": "wide_beam" and
// "algorithm".

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "bench_common.hpp"
#include "diskmc/disk.hpp"
#include "diskmc/disk/grid_beam_convolution.hpp"
#include "diskmc/fit/hd163296_like.hpp"
#include "diskmc/inference/disk_likelihood.hpp"

namespace {

/// Seconds per call of a likelihood's value and of value + gradient at
/// `full` (medians and minima of `repeats`).
struct likelihood_timing {
    diskmc::bench::timing value, gradient;
    double pixels = 0;
    double value_ns() const { return value.median / pixels * 1e9; }
    double gradient_ns() const { return gradient.median / pixels * 1e9; }
};

template <class Likelihood>
likelihood_timing time_likelihood(const Likelihood& likelihood, const Eigen::VectorXd& full, int repeats) {
    double sink = 0.0;
    Eigen::VectorXd grad;
    // Value and gradient alternate, so that both see the same machine (a
    // shared machine's speed drifts over a run).
    const auto [value_s, gradient_s] = diskmc::bench::time_repeats_alternating(
        repeats, [&] { sink += likelihood.log_likelihood(full); },
        [&] { sink += likelihood.log_likelihood_gradient(full, grad); });
    if (sink == 1.2345) std::puts("");  // keep the work
    return {value_s, gradient_s, static_cast<double>(likelihood.pixel_count())};
}

}  // namespace

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
                const diskmc::inference::disk_likelihood<family_type> likelihood(map, mask, family,
                                                                      {.convolve_beam = beam, .threads = threads});
                const likelihood_timing timing =
                    time_likelihood(likelihood, full_of(diskmc::bench::bench_truth(), radial), repeats);
                const double pixels = timing.pixels, value_ns = timing.value_ns(), gradient_ns = timing.gradient_ns();
                const double min_ratio = timing.gradient.minimum / timing.value.minimum;
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
        for (bool beam : {false, true}) {
            run(diskmc::inference::disk_family<>{}, false, beam);
            run(diskmc::inference::disk_family<diskmc::flared_component, diskmc::keplerian_component,
                                    diskmc::radial_power_law_component>{},
                true, beam);
        }
        // The wide beam: direct sums against the FFT, value and value + gradient.
        diskmc::grid_header header = diskmc::hd163296_like::grid();
        header.nx = header.ny = 256;
        header.beam = diskmc::beam_shape{0.49, 0.392, 95.0};
        const diskmc::sky_map wide = diskmc::hd163296_like::map(true, 163296, header);
        const diskmc::inference::disk_family<> family;
        const auto mask = diskmc::fit_mask(wide, family.make<double>(diskmc::bench::bench_start()), {.r_min = 0.3});
        if (!json)
            std::printf("\nwide beam, 33 x 33 kernel, 256 x 256 pixels, 1 thread, median (and fastest) of %d "
                        "repeats\n%-10s %8s %22s %22s\n",
                        repeats, "algorithm", "pixels", "value ns/px", "grad ns/px");
        std::vector<diskmc::beam_algorithm> algorithms{diskmc::beam_algorithm::direct};
        if (diskmc::beam_fft_available) algorithms.push_back(diskmc::beam_algorithm::fft);
        for (const diskmc::beam_algorithm algorithm : algorithms) {
            const char* name = algorithm == diskmc::beam_algorithm::fft ? "fft" : "direct";
            const diskmc::inference::disk_likelihood<> likelihood(wide, mask, family, {.convolve_beam = true, .beam = algorithm});
            const likelihood_timing timing = time_likelihood(likelihood, diskmc::bench::bench_truth(), repeats);
            const double pixels = timing.pixels, value_ns = timing.value_ns(), gradient_ns = timing.gradient_ns();
            const double min_value_ns = timing.value.minimum / pixels * 1e9;
            const double min_gradient_ns = timing.gradient.minimum / pixels * 1e9;
            if (json)
                std::printf("{\"table\": \"wide_beam\", \"grid\": \"256x256\", \"kernel\": \"33x33\", "
                            "\"algorithm\": \"%s\", \"pixels\": %.0f, \"value_ns_per_pixel\": %.3f, "
                            "\"gradient_ns_per_pixel\": %.3f, \"min_value_ns_per_pixel\": %.3f, "
                            "\"min_gradient_ns_per_pixel\": %.3f}\n",
                            name, pixels, value_ns, gradient_ns, min_value_ns, min_gradient_ns);
            else
                std::printf("%-10s %8.0f %12.2f (%7.2f) %12.2f (%7.2f)\n", name, pixels, value_ns, min_value_ns,
                            gradient_ns, min_gradient_ns);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_likelihood: %s\n", e.what());
        return 1;
    }
    return 0;
}
