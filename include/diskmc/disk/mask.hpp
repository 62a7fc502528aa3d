#pragma once
// The fit mask as eddy computes it (rotationmap._calc_ivar): which pixels of
// a map enter the likelihood, from the disk coordinates at the starting
// parameters, the data and its uncertainty, and a user mask.

#include <cmath>
#include <numbers>
#include <string_view>

#include "diskmc/detail/eigen.hpp"
#include "diskmc/disk/model_image.hpp"
#include "diskmc/disk/sky_map.hpp"
#include "diskmc/errors.hpp"

namespace diskmc {

/// The mask rules of eddy's fit_map, with eddy's defaults.
struct mask_options {
    double r_min = 0.0;      ///< inner radius, arcsec (disk frame)
    double r_max = 10.0;     ///< outer radius, arcsec (eddy's default: 10")
    bool exclude_r = false;  ///< keep the pixels outside [r_min, r_max] instead
    double phi_min =
        -180.0;              ///< smallest azimuth, degrees (disk frame, 0 = red-shifted major axis)
    double phi_max = 180.0;  ///< largest azimuth, degrees
    bool exclude_phi = false;  ///< keep the pixels outside [phi_min, phi_max] instead
    bool abs_phi = false;      ///< compare |phi| (0 to 180 degrees) instead of phi
    double v_min = -10000.0;   ///< smallest data value kept, m/s
    double v_max = 30000.0;    ///< largest data value kept, m/s
    bool exclude_v = false;    ///< keep the data outside [v_min, v_max] instead
    /// Pixels the user allows (true = may be used); empty means all. Same
    /// shape and orientation as the map's images.
    Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> user_mask{};
};

/// eddy's fit mask: true where the data is finite, the uncertainty finite and > 0
/// (count the pixels this leaves out with unusable_uncertainty_count: they
/// should not go unreported),
/// r_min <= r <= r_max, phi_min <= phi <= phi_max (radians, |phi| if abs_phi),
/// v_min <= data <= v_max (each range inverted by its exclude flag), and the
/// user mask allows the pixel. r and phi are the disk coordinates of the model
/// (computed once, at the parameters given, as eddy does at the start of a fit).
/// A pixel whose r or phi is NaN fails its range test (and passes the inverted one).
/// @throws invalid_input for a bad model, a map without uncertainty, a map
///         with no usable pixel (check_usable_pixels names why), ranges with
///         min > max or NaN, a user mask of the wrong shape, or a mask that
///         keeps no pixel
template <class Surface, class Rotation, class Radial, class Vertical>
Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> fit_mask(
    const sky_map& map, const disk_model<double, Surface, Rotation, Radial, Vertical>& model,
    const mask_options& options = {}) {
    constexpr std::string_view where = "fit_mask";
    const Eigen::Index ny = map.grid.ny(), nx = map.grid.nx();
    check_argument(map.data.rows() == ny && map.data.cols() == nx, where,
                   "the map's data does not match its grid");
    check_argument(map.uncertainty.rows() == ny && map.uncertainty.cols() == nx, where,
                   "the map has no uncertainty of its shape");
    check_usable_pixels(where, map);
    auto check_range = [&](std::string_view name, double low, double high) {
        if (!(low <= high))
            detail::throw_invalid_input(where, ": ", name, " range [", low, ", ", high,
                                        "] must have min <= max");
    };
    check_range("r", options.r_min, options.r_max);
    check_range("phi", options.phi_min, options.phi_max);
    check_range("v", options.v_min, options.v_max);
    const bool has_user_mask = options.user_mask.size() != 0;
    if (has_user_mask && (options.user_mask.rows() != ny || options.user_mask.cols() != nx))
        detail::throw_invalid_input(where, ": user_mask is ", options.user_mask.rows(), "x",
                                    options.user_mask.cols(), " but the map is ", ny, "x", nx);

    const disk_coordinates coordinates = deproject(model, map.grid);
    constexpr double radians_per_degree = std::numbers::pi / 180.0;
    const double phi_min = options.phi_min * radians_per_degree;
    const double phi_max = options.phi_max * radians_per_degree;

    Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> mask(ny, nx);
    for (Eigen::Index i = 0; i < nx; ++i) {
        for (Eigen::Index j = 0; j < ny; ++j) {
            const double r = coordinates.r(j, i);
            const double phi =
                options.abs_phi ? std::abs(coordinates.phi(j, i)) : coordinates.phi(j, i);
            const double data = map.data(j, i);
            const bool in_r = r >= options.r_min && r <= options.r_max;
            const bool in_phi = phi >= phi_min && phi <= phi_max;
            const bool in_v = data >= options.v_min && data <= options.v_max;
            const bool usable = std::isfinite(data) && usable_uncertainty(map.uncertainty(j, i));
            mask(j, i) = usable && (in_r != options.exclude_r) && (in_phi != options.exclude_phi) &&
                         (in_v != options.exclude_v) && (!has_user_mask || options.user_mask(j, i));
        }
    }
    // Usable pixels exist (checked above): the rules leave them all out.
    check_argument(mask.any(), where,
                   "the mask keeps no pixel: the r, phi, v and user-mask rules leave out every "
                   "pixel with finite data and uncertainty");
    return mask;
}

/// Pixels whose data is finite but whose uncertainty is not finite and > 0:
/// fit_mask leaves them out, and a fit reports how many (a zero or NaN
/// uncertainty map where the data is good is usually a mistake upstream).
inline Eigen::Index unusable_uncertainty_count(const sky_map& map) {
    check_argument(map.uncertainty.rows() == map.data.rows() && map.uncertainty.cols() == map.data.cols(),
                   "unusable_uncertainty_count", "the map has no uncertainty of its shape");
    Eigen::Index count = 0;
    for (Eigen::Index p = 0; p < map.data.size(); ++p)
        count += std::isfinite(map.data(p)) && !usable_uncertainty(map.uncertainty(p));
    return count;
}

}  // namespace diskmc
