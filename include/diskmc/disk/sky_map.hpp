#pragma once
// A rotation map on its sky grid: the v0 data and its uncertainty, oriented
// as eddy holds them (x decreasing with column), with eddy's field-of-view
// clipping and downsampling applied to grid and images together.

#include <cmath>
#include <string_view>
#include <utility>

#include "diskmc/detail/eigen.hpp"
#include "diskmc/disk/sky_grid.hpp"
#include "diskmc/errors.hpp"

namespace diskmc {

/// A map on its grid. Images are (row j = y index, column i = x index), with
/// x decreasing with i as in grid.x().
struct sky_map {
    sky_grid grid{};
    Eigen::ArrayXXd data{};         ///< line-of-sight velocity, m/s; NaN where blank
    Eigen::ArrayXXd uncertainty{};  ///< its 1-sigma uncertainty, m/s; empty if none
};

/// Whether a pixel's uncertainty can weight it (1 / sigma^2): finite and > 0.
inline bool usable_uncertainty(double sigma) { return std::isfinite(sigma) && sigma > 0.0; }

/// Throws unless some pixel can enter a fit: finite data with a usable
/// uncertainty at the same pixel. The message names the image at fault (the
/// data all NaN, no finite positive uncertainty, or none of both at one
/// pixel), which a mask "keeping no pixel" would hide.
/// @param function the caller, for the message
/// @param map      a map with an uncertainty of its shape
inline void check_usable_pixels(std::string_view function, const sky_map& map) {
    const auto finite_data = map.data.isFinite();
    const auto usable_sigma =
        map.uncertainty.unaryExpr([](double sigma) { return usable_uncertainty(sigma); });
    if (!finite_data.any())
        detail::throw_invalid_input(function, ": the map's data has no finite pixel (all ",
                                    map.data.size(), " are NaN or infinite)");
    if (!usable_sigma.any())
        detail::throw_invalid_input(
            function, ": the uncertainty map has no finite pixel > 0 (all ", map.uncertainty.size(),
            " are NaN, infinite, zero or negative)");
    if (!(finite_data && usable_sigma).any())
        detail::throw_invalid_input(
            function,
            ": no pixel has both finite data and a finite uncertainty > 0 (the data and "
            "uncertainty maps are blank at different pixels)");
}

/// Builds a map from images in file order (row j = NAXIS2 index, column i =
/// NAXIS1 index), reversing their columns when CDELT1 > 0 as eddy does.
/// @param header the header values (see sky_grid::from_header)
/// @param data the map, ny x nx
/// @param uncertainty its uncertainty, ny x nx, or empty
/// @throws invalid_input for a bad header or images of the wrong shape
inline sky_map make_sky_map(const grid_header& header, Eigen::ArrayXXd data,
                            Eigen::ArrayXXd uncertainty = {}) {
    sky_map map{sky_grid::from_header(header), std::move(data), std::move(uncertainty)};
    const Eigen::Index ny = map.grid.ny(), nx = map.grid.nx();
    if (map.data.rows() != ny || map.data.cols() != nx)
        detail::throw_invalid_input("make_sky_map: data is ", map.data.rows(), "x", map.data.cols(),
                                    " but the header says ", ny, "x", nx);
    if (map.uncertainty.size() != 0 &&
        (map.uncertainty.rows() != ny || map.uncertainty.cols() != nx))
        detail::throw_invalid_input("make_sky_map: uncertainty is ", map.uncertainty.rows(), "x",
                                    map.uncertainty.cols(), " but the data is ", ny, "x", nx);
    if (map.grid.x_reversed()) {
        map.data.rowwise().reverseInPlace();
        if (map.uncertainty.size() != 0) map.uncertainty.rowwise().reverseInPlace();
    }
    return map;
}

namespace detail {

inline sky_map select_map(const sky_map& map, const grid_selection& selection) {
    sky_map kept{map.grid.select(selection), select_pixels(map.data, selection), {}};
    if (map.uncertainty.size() != 0) kept.uncertainty = select_pixels(map.uncertainty, selection);
    return kept;
}

}  // namespace detail

/// The map clipped to a square field of view of side `fov` arcsec (eddy's FOV).
/// @throws invalid_input if fov <= 0, not finite, or larger than the map
inline sky_map clip_field_of_view(const sky_map& map, double fov) {
    return detail::select_map(map, detail::field_of_view_selection(map.grid, fov));
}

/// Every `factor`-th pixel from factor/2 (eddy's downsample=N).
/// @throws invalid_input if factor < 1 or larger than the map's smaller side
inline sky_map downsample(const sky_map& map, Eigen::Index factor) {
    return detail::select_map(map, detail::downsample_selection(map.grid, factor));
}

/// eddy's downsample='beam': by ceil(bmaj / dpix).
/// @throws invalid_input if the map has no beam or the factor is larger than the map
inline sky_map downsample_by_beam(const sky_map& map) {
    return downsample(map, beam_downsample_factor(map.grid));
}

}  // namespace diskmc
