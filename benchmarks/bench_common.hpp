#pragma once
// What every benchmark program shares: timing by medians of repeats, and the
// HD163296-like benchmark problem (shared/data/bench, see its README): its
// truth, its start, and its maps read from FITS or built in memory.

#include <Eigen/Core>
#include <algorithm>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "diskmc/disk.hpp"
#include "diskmc/fit/hd163296_like.hpp"
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

/// The timing of a set of seconds (sorted in place).
inline timing timing_of(std::vector<double>& seconds) {
    std::sort(seconds.begin(), seconds.end());
    return {seconds[seconds.size() / 2], seconds.front()};
}

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
    return timing_of(seconds);
}

/// Times `first` and `second` `repeats` times each, alternating, after one
/// warm-up call of each: both see the same machine, so their ratio holds
/// even when its speed drifts.
template <class First, class Second>
std::pair<timing, timing> time_repeats_alternating(int repeats, First&& first, Second&& second) {
    first();
    second();
    std::vector<double> first_seconds, second_seconds;
    for (int r = 0; r < repeats; ++r) {
        auto start = std::chrono::steady_clock::now();
        first();
        auto middle = std::chrono::steady_clock::now();
        second();
        auto end = std::chrono::steady_clock::now();
        first_seconds.push_back(std::chrono::duration<double>(middle - start).count());
        second_seconds.push_back(std::chrono::duration<double>(end - middle).count());
    }
    return {timing_of(first_seconds), timing_of(second_seconds)};
}

// ---------------------------------------------------------------------------
// The HD163296-like problem.

/// truth.json's "truth" and "fixed", in inference::disk_family<>'s order: x0, y0, inc,
/// PA, vlsr, z0, psi, r_cavity, r_taper, q_taper, mstar, dist.
inline Eigen::VectorXd bench_truth() { return hd163296_like::full_vector(hd163296_like::truth()); }

/// truth.json's "start" (the seed tutorial's p0), in the same order.
inline Eigen::VectorXd bench_start() { return hd163296_like::full_vector(hd163296_like::start()); }

/// $DISKMC_DATA_DIR, or empty (the programs' --data DIR overrides it).
inline std::string default_data_dir() {
    const char* env = std::getenv("DISKMC_DATA_DIR");
    return env ? env : "";
}

/// The arguments of a program that takes only [--json] [--repeats N] [--data DIR].
struct json_repeats_data {
    bool json = false;
    int repeats = 1;
    std::string data_dir = default_data_dir();
};

/// Reads those arguments into `arguments` (its values are the defaults); on
/// anything else prints the usage
/// of `program` and returns false.
inline bool parse_json_repeats_data(int argc, char** argv, const char* program, json_repeats_data& arguments) {
    for (int k = 1; k < argc; ++k) {
        if (std::strcmp(argv[k], "--json") == 0) {
            arguments.json = true;
        } else if (std::strcmp(argv[k], "--repeats") == 0 && k + 1 < argc) {
            arguments.repeats = std::max(1, std::atoi(argv[++k]));
        } else if (std::strcmp(argv[k], "--data") == 0 && k + 1 < argc) {
            arguments.data_dir = argv[++k];
        } else {
            std::fprintf(stderr, "usage: %s [--json] [--repeats N] [--data DIR]\n", program);
            return false;
        }
    }
    return true;
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
    return io::to_sky_map(io::read_rotation_map(bench_dir / (stem + "v0.fits"), bench_dir / (stem + "dv0.fits")));
}
#endif

/// The benchmark map: from `data_dir`/bench when it has the files, else built in memory.
inline sky_map bench_map(const std::string& data_dir, bool beam) {
#ifdef DISKMC_BENCH_READS_FITS
    if (has_bench_files(data_dir)) return read_bench_map(std::filesystem::path(data_dir) / "bench", beam);
#endif
    return hd163296_like::map(beam);  // the same problem, our own noise draws
}

}  // namespace diskmc::bench
