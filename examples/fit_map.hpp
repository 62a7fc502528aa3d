#pragma once
// The map a fit configuration names: its FITS files read in the config's
// velocity unit, or the HD163296-like benchmark built in memory. Shared by
// examples/fit_rotation_map.cpp and the Python module (python/). Needs
// diskmc::fits.

#include <string>

#include "diskmc/fit.hpp"
#include "diskmc/io/fits.hpp"
#include "fit_config.hpp"

namespace diskmc::examples {

/// The unit of a config's "velocity_unit" ("m/s", "km/s" or "header").
inline io::velocity_unit velocity_unit_of(const std::string& name) {
    if (name == "km/s") return io::velocity_unit::km_per_s;
    if (name == "header") return io::velocity_unit::from_header;
    return io::velocity_unit::m_per_s;
}

/// The map of the config: its FITS files, or the benchmark problem.
/// @throws invalid_input for a file that cannot be read as a map
inline sky_map load_map(const fit_config& config) {
    if (!config.map) return hd163296_like::map(config.options.convolve_beam);
    const auto files = io::read_rotation_map(*config.map, *config.uncertainty, velocity_unit_of(config.velocity_unit));
    return io::to_sky_map(files);
}

}  // namespace diskmc::examples
