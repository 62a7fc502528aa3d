#pragma once
// eddy's likelihood fixture (tests/data/eddy/lnlike_*): the case-b grid and
// the data and uncertainty maps as eddy holds them, for the tests of the mask
// and of the likelihood.

#include <filesystem>

#include "diskmc/disk.hpp"
#include "support/shared_data.hpp"

namespace diskmc::testing {

/// The 128 x 128 grid of tests/data/eddy case b (no beam).
inline grid_header eddy_case_b_header() {
    return {.nx = 128, .ny = 128, .cdelt1 = -1.1111111111111e-05, .cdelt2 = 1.11111111111111e-05,
            .beam = std::nullopt};
}

/// lnlike_data.txt and lnlike_error.txt (already oriented as eddy holds them) on that grid.
inline sky_map eddy_likelihood_map(const std::filesystem::path& eddy_dir) {
    return make_sky_map(eddy_case_b_header(), read_table(eddy_dir / "lnlike_data.txt"),
                        read_table(eddy_dir / "lnlike_error.txt"));
}

}  // namespace diskmc::testing
