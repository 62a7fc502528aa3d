#pragma once
// The HD163296-like benchmark map for the fit tests: the shared FITS files
// when present (DISKMC_DATA_DIR/bench), else the same problem built in memory.

#include <catch2/catch.hpp>

#include "diskmc/disk/sky_map.hpp"
#include "diskmc/fit/hd163296_like.hpp"
#include "support/shared_data.hpp"
#ifdef DISKMC_TESTS_WITH_FITS
#include "diskmc/io/fits.hpp"
#endif

namespace diskmc::testing {

/// The benchmark map: the shared FITS files when present, else built in memory.
inline sky_map bench_map() {
#ifdef DISKMC_TESTS_WITH_FITS
    if (const auto dir = shared_data_dir({"bench/hd163296_like_v0.fits", "bench/hd163296_like_dv0.fits"})) {
        const auto bench = *dir / "bench";
        return io::to_sky_map(
            io::read_rotation_map(bench / "hd163296_like_v0.fits", bench / "hd163296_like_dv0.fits"));
    }
#endif
    WARN("the HD163296-like problem is built in memory (no shared data)");
    return hd163296_like::map(false);
}

}  // namespace diskmc::testing
