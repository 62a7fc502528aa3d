#pragma once
// The HD163296-like benchmark problem (shared/data/bench/README.md and
// truth.json) built in memory: the grid, eddy's flared Keplerian model at the
// truth, the benchmark's noise law, and the fit's parameters (9 free, inc and
// dist fixed, r_taper flat in [0, 50]). The FITS files in shared/data/bench
// hold the same problem with numpy's noise draws; this version uses its own
// (diskmc's portable random_stream), so it runs anywhere and gives the same
// map under every standard library.

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "diskmc/detail/random_stream.hpp"
#include "diskmc/disk/model_image.hpp"
#include "diskmc/disk/sky_map.hpp"
#include "diskmc/inference/disk_family.hpp"
#include "diskmc/inference/parameters.hpp"

namespace diskmc::hd163296_like {

/// A named value.
struct named_value {
    std::string name;
    double value;
};

/// The truth of the free parameters (truth.json "truth"), in fit order.
inline std::vector<named_value> truth() {
    return {{"x0", -0.0457}, {"y0", -0.0359}, {"PA", 312.6},  {"mstar", 1.905},  {"vlsr", 5771.0},
            {"z0", 0.18},    {"psi", 1.99},   {"r_taper", 3.06}, {"q_taper", 2.41}};
}

/// The starting point of the fit (truth.json "start", the seed tutorial's p0).
inline std::vector<named_value> start() {
    return {{"x0", 0.0},  {"y0", 0.0}, {"PA", 312.0},     {"mstar", 2.0},   {"vlsr", 5700.0},
            {"z0", 0.25}, {"psi", 1.0}, {"r_taper", 3.0}, {"q_taper", 2.0}};
}

/// The fixed parameters (truth.json "fixed").
inline std::vector<named_value> fixed() { return {{"inc", 46.7}, {"dist", 101.0}, {"r_cavity", 0.0}}; }

/// The problem's model family: a flared surface with Keplerian rotation
/// (what a fit by name chooses for these parameters). A fit given it
/// compiles one family's front instead of every family the config can name.
using family = inference::disk_family<flared_component, keplerian_component>;

/// The fit's inner mask radius, arcsec (two beams).
inline constexpr double r_min = 0.3;

/// The fit's parameters: the 9 free ones from start() with eddy's default
/// priors except r_taper flat in [0, 50]", and the fixed ones.
inline std::vector<inference::parameter> parameters() {
    std::vector<inference::parameter> list;
    for (const auto& [name, value] : start())
        list.push_back(name == "r_taper" ? inference::free_parameter(name, value, inference::prior::flat(0.0, 50.0))
                                         : inference::free_parameter(name, value));
    for (const auto& [name, value] : fixed()) list.push_back(inference::fixed_parameter(name, value));
    return list;
}

/// The full parameter vector of the family at `values`
/// (free parameters by name) and the fixed values.
inline Eigen::VectorXd full_vector(const std::vector<named_value>& values) {
    const std::vector<std::string> names = family{}.parameter_names();
    Eigen::VectorXd full(static_cast<Eigen::Index>(names.size()));
    for (std::size_t k = 0; k < names.size(); ++k) {
        for (const auto& list : {values, fixed()})
            for (const auto& [name, value] : list)
                if (name == names[k]) full[static_cast<Eigen::Index>(k)] = value;
    }
    return full;
}

/// The benchmark grid: 154 x 154 pixels of 0.052", CDELT1 < 0, and the beam
/// 0.15" x 0.12" at 95 deg.
inline grid_header grid() {
    const double pixel = 0.052 / 3600.0;
    return grid_header{.nx = 154, .ny = 154, .cdelt1 = -pixel, .cdelt2 = pixel,
                       .beam = beam_shape{0.15, 0.12, 95.0}};
}

/// The benchmark's uncertainty at sky radius r (arcsec): 25 (1 + 0.15 r) m/s.
inline double uncertainty_at(double r) { return 25.0 * (1.0 + 0.15 * r); }

/// The problem in memory: eddy's model at the truth (convolved with the beam
/// when `beam`), plus Gaussian noise of the benchmark's law drawn with `seed`,
/// on the benchmark grid or another one (`header`: a larger map of the same
/// disk, for scaling measurements).
inline sky_map map(bool beam, std::uint64_t seed = 163296, const grid_header& header = grid()) {
    sky_map m = make_sky_map(header, Eigen::ArrayXXd::Zero(header.ny, header.nx),
                             Eigen::ArrayXXd::Zero(header.ny, header.nx));
    const Eigen::ArrayXXd model =
        model_image(family{}.make<double>(full_vector(truth())), m.grid, {.convolve_beam = beam});
    const pixel_positions positions = pixel_positions_of(m.grid);
    detail::random_stream random(seed);
    for (Eigen::Index p = 0; p < model.size(); ++p) {
        m.uncertainty(p) = uncertainty_at(std::hypot(positions.x[p], positions.y[p]));
        m.data(p) = model(p) + m.uncertainty(p) * random.normal();
    }
    return m;
}

}  // namespace diskmc::hd163296_like
