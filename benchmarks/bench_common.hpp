#pragma once
// What every benchmark program shares: timing by medians of repeats, and the
// HD163296-like benchmark problem (shared/data/bench, see its README): its
// truth, its start, and its maps read from FITS or built in memory.

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "diskmc/disk.hpp"
#include "diskmc/inference/disk_family.hpp"
#if __has_include(<fitsio.h>)
#include "diskmc/io/fits.hpp"
#define DISKMC_BENCH_READS_FITS 1
#endif

namespace diskmc::bench {

/// Median and minimum of repeated timings, in seconds. The median is what
/// tables report; the minimum is the better estimate on a busy machine.
struct timing {
    double median = 0.0;
    double minimum = 0.0;
};

/// Times `work` `repeats` times after one warm-up call.
template <class Work>
timing time_repeats(int repeats, Work&& work) {
    work();
    std::vector<double> seconds;
    for (int r = 0; r < repeats; ++r) {
        const auto start = std::chrono::steady_clock::now();
        work();
        seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(seconds.begin(), seconds.end());
    return {seconds[seconds.size() / 2], seconds.front()};
}

// ---------------------------------------------------------------------------
// The HD163296-like problem.

/// shared/data/bench/truth.json's "truth" and "fixed", in disk_family<>'s
/// order: x0, y0, inc, PA, vlsr, z0, psi, r_cavity, r_taper, q_taper, mstar, dist.
inline Eigen::VectorXd bench_truth() {
    Eigen::VectorXd full(12);
    full << -0.0457, -0.0359, 46.7, 312.6, 5771.0, 0.18, 1.99, 0.0, 3.06, 2.41, 1.905, 101.0;
    return full;
}

/// truth.json's "start" (the seed tutorial's p0), in the same order.
inline Eigen::VectorXd bench_start() {
    Eigen::VectorXd full(12);
    full << 0.0, 0.0, 46.7, 312.0, 5700.0, 0.25, 1.0, 0.0, 3.0, 2.0, 2.0, 101.0;
    return full;
}

/// $DISKMC_DATA_DIR, or empty (the programs' --data DIR overrides it).
inline std::string default_data_dir() {
    const char* env = std::getenv("DISKMC_DATA_DIR");
    return env ? env : "";
}

/// Whether `data_dir`/bench holds the benchmark's FITS files (and this build
/// can read them).
inline bool has_bench_files(const std::string& data_dir) {
#ifdef DISKMC_BENCH_READS_FITS
    return !data_dir.empty() &&
           std::filesystem::exists(std::filesystem::path(data_dir) / "bench" / "hd163296_like_v0.fits");
#else
    static_cast<void>(data_dir);
    return false;
#endif
}

#ifdef DISKMC_BENCH_READS_FITS
/// The benchmark map from `bench_dir` (hd163296_like[_beam]_v0/dv0.fits).
inline sky_map read_bench_map(const std::filesystem::path& bench_dir, bool beam) {
    const std::string stem = beam ? "hd163296_like_beam_" : "hd163296_like_";
    const auto files = io::read_rotation_map(bench_dir / (stem + "v0.fits"), bench_dir / (stem + "dv0.fits"));
    const auto& v = files.velocity;
    grid_header header{.nx = v.nx(), .ny = v.ny(), .cdelt1 = v.cdelt1_deg, .cdelt2 = v.cdelt2_deg};
    if (v.beam) header.beam = beam_shape{v.beam->bmaj_arcsec, v.beam->bmin_arcsec, v.beam->bpa_deg};
    return make_sky_map(header, v.data, files.uncertainty.data);
}
#endif

/// The same problem without the files: the model at the truth (our own, not
/// eddy's: the same to the fixtures' tolerance) plus the benchmark's noise
/// law, sigma = 25 (1 + 0.15 r) m/s (different random numbers than the files).
inline sky_map synthetic_bench_map(bool beam) {
    const double pixel = 0.052 / 3600.0;
    grid_header header{.nx = 154, .ny = 154, .cdelt1 = -pixel, .cdelt2 = pixel, .beam = beam_shape{0.15, 0.12, 95.0}};
    sky_map map = make_sky_map(header, Eigen::ArrayXXd::Zero(154, 154), Eigen::ArrayXXd::Zero(154, 154));
    const Eigen::ArrayXXd model =
        model_image(disk_family<>{}.make<double>(bench_truth()), map.grid, {.convolve_beam = beam});
    const auto positions = pixel_positions_of(map.grid);
    std::mt19937_64 rng(163296);
    std::normal_distribution<double> normal;
    for (Eigen::Index p = 0; p < model.size(); ++p) {
        map.uncertainty(p) = 25.0 * (1.0 + 0.15 * std::hypot(positions.x[p], positions.y[p]));
        map.data(p) = model(p) + map.uncertainty(p) * normal(rng);
    }
    return map;
}

/// The benchmark map: from `data_dir`/bench when it has the files, else built in memory.
inline sky_map bench_map(const std::string& data_dir, bool beam) {
#ifdef DISKMC_BENCH_READS_FITS
    if (has_bench_files(data_dir)) return read_bench_map(std::filesystem::path(data_dir) / "bench", beam);
#endif
    return synthetic_bench_map(beam);
}

}  // namespace diskmc::bench
