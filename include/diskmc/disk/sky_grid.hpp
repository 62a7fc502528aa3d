#pragma once
// The sky grid of a rotation map, built exactly as eddy builds it from a
// FITS header, and its field-of-view clipping and downsampling.
//
// eddy's conventions (richteague/eddy, datacube._readpositionaxis and
// _read_FITS): the axes are offsets in arcsec from the geometric centre of
// the array, x[i] = 3600 CDELT1 (i - (nx - 1)/2), y[j] = 3600 CDELT2
// (j - (ny - 1)/2); CRPIX and CRVAL are ignored. If x would increase with i,
// the x axis (and the data columns, see sky_map.hpp) are reversed, so x always
// decreases with column index (+x = east). Images are indexed (row j = y
// index, column i = x index).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string_view>

#include "diskmc/detail/eigen.hpp"
#include "diskmc/errors.hpp"

namespace diskmc {

/// The restoring beam of a map, as eddy reads it from BMAJ, BMIN, BPA.
struct beam_shape {
    double bmaj = 0.0;  ///< FWHM of the major axis, arcsec (BMAJ * 3600)
    double bmin = 0.0;  ///< FWHM of the minor axis, arcsec (BMIN * 3600)
    double bpa = 0.0;   ///< position angle, degrees east of north (BPA)
};

/// What eddy reads of a FITS header to build the sky axes.
struct grid_header {
    Eigen::Index nx = 0;  ///< NAXIS1: columns
    Eigen::Index ny = 0;  ///< NAXIS2: rows
    double cdelt1 = 0.0;  ///< CDELT1, degrees per pixel (< 0: x decreases with column)
    double cdelt2 = 0.0;  ///< CDELT2, degrees per pixel
    std::optional<beam_shape> beam = std::nullopt;  ///< the beam, if the header has one
};

namespace detail {

inline void check_beam(std::string_view function, const beam_shape& beam) {
    check_positive(function, "beam bmaj", beam.bmaj);
    check_positive(function, "beam bmin", beam.bmin);
    check_finite(function, "beam bpa", beam.bpa);
}

/// bpa mod 180 into [0, 180), as Python's `%` (eddy: `self.bpa %= 180.0`).
inline double wrap_position_angle(double bpa) {
    double wrapped = std::fmod(bpa, 180.0);
    if (wrapped < 0.0) wrapped += 180.0;
    return wrapped;
}

/// Indices start, start + step, ... (count of them) along one axis.
struct axis_selection {
    Eigen::Index start = 0;
    Eigen::Index count = 0;
    Eigen::Index step = 1;
};

/// The pixels kept by clipping or downsampling: rows (y) and columns (x).
struct grid_selection {
    axis_selection rows;
    axis_selection columns;
};

inline Eigen::ArrayXd select_axis(const Eigen::ArrayXd& axis, const axis_selection& s) {
    Eigen::ArrayXd kept(s.count);
    for (Eigen::Index k = 0; k < s.count; ++k)
        kept[k] = axis[s.start + k * s.step];
    return kept;
}

template <class Image>
Image select_pixels(const Image& image, const grid_selection& s) {
    Image kept(s.rows.count, s.columns.count);
    for (Eigen::Index i = 0; i < s.columns.count; ++i)
        for (Eigen::Index j = 0; j < s.rows.count; ++j)
            kept(j, i) =
                image(s.rows.start + j * s.rows.step, s.columns.start + i * s.columns.step);
    return kept;
}

/// numpy.argmin of |axis - target|: the first index of the smallest distance.
inline Eigen::Index nearest_index(const Eigen::ArrayXd& axis, double target) {
    Eigen::Index best = 0;
    for (Eigen::Index k = 1; k < axis.size(); ++k)
        if (std::abs(axis[k] - target) < std::abs(axis[best] - target)) best = k;
    return best;
}

}  // namespace detail

/// The sky axes of a map (arcsec offsets; x decreasing with column), its
/// pixel size and beam. Build it with sky_grid::from_header; clip_field_of_view
/// and downsample derive smaller grids with consistent axes and pixel size.
class sky_grid {
public:
    /// Builds the axes exactly as eddy does from the header values.
    /// @param header NAXIS1/2, CDELT1/2 (degrees) and the optional beam
    /// @return the grid; x is reversed when CDELT1 > 0 (see x_reversed())
    /// @throws invalid_input for nx or ny < 1, CDELT zero or not finite, or a
    ///         beam with non-positive or non-finite axes
    static sky_grid from_header(const grid_header& header) {
        constexpr std::string_view where = "sky_grid::from_header";
        check_argument(header.nx >= 1, where, "nx (NAXIS1) must be >= 1");
        check_argument(header.ny >= 1, where, "ny (NAXIS2) must be >= 1");
        // Images of the grid hold nx * ny pixels, counted in Eigen::Index.
        const auto pixels = detail::size_product(
            {static_cast<std::size_t>(header.nx), static_cast<std::size_t>(header.ny)});
        constexpr auto largest = static_cast<std::size_t>(std::numeric_limits<Eigen::Index>::max());
        if (!pixels || *pixels > largest)
            detail::throw_invalid_input(where, ": nx x ny = ", header.nx, " x ", header.ny,
                                        " pixels overflows the image size");
        check_finite(where, "cdelt1", header.cdelt1);
        check_finite(where, "cdelt2", header.cdelt2);
        check_argument(header.cdelt1 != 0.0, where, "cdelt1 must not be 0");
        check_argument(header.cdelt2 != 0.0, where, "cdelt2 must not be 0");

        sky_grid grid;
        grid.x_ = centred_axis(header.nx, header.cdelt1);
        grid.y_ = centred_axis(header.ny, header.cdelt2);
        grid.cdelt1_ = header.cdelt1;
        grid.cdelt2_ = header.cdelt2;
        // eddy: `if np.diff(self.xaxis).mean() > 0: reverse x and the data columns`.
        // A one-column axis has no direction; it is left as it is.
        if (header.nx > 1 && header.cdelt1 > 0.0) {
            grid.x_.reverseInPlace();
            grid.cdelt1_ = -header.cdelt1;
            grid.x_reversed_ = true;
        }
        if (header.beam) {
            detail::check_beam(where, *header.beam);
            grid.beam_ = beam_shape{header.beam->bmaj, header.beam->bmin,
                                    detail::wrap_position_angle(header.beam->bpa)};
        }
        return grid;
    }

    /// x offset of each column, arcsec (decreasing with column index).
    const Eigen::ArrayXd& x() const { return x_; }
    /// y offset of each row, arcsec.
    const Eigen::ArrayXd& y() const { return y_; }
    Eigen::Index nx() const { return x_.size(); }
    Eigen::Index ny() const { return y_.size(); }
    /// Number of pixels.
    Eigen::Index size() const { return x_.size() * y_.size(); }
    /// Pixel size in arcsec, from the y axis as eddy's `dpix` (|3600 CDELT2|).
    double pixel_size() const { return std::abs(3600.0 * cdelt2_); }
    /// Pixel size along x, arcsec (|3600 CDELT1|).
    double pixel_size_x() const { return std::abs(3600.0 * cdelt1_); }
    /// The beam (bpa already reduced mod 180 as eddy does), if any.
    const std::optional<beam_shape>& beam() const { return beam_; }
    /// Whether the source's columns were reversed (CDELT1 > 0 in the header):
    /// images read in file order must have their columns reversed too.
    bool x_reversed() const { return x_reversed_; }

    /// The header values describing this grid as stored (after reversal,
    /// clipping and downsampling): CDELT1 < 0 whenever x was reversed, CDELT
    /// multiplied by the downsampling factor, NAXIS the kept pixel counts.
    /// With reference_pixel() it is what a FITS writer needs.
    grid_header header() const { return grid_header{nx(), ny(), cdelt1_, cdelt2_, beam_}; }

    /// FITS CRPIX1, CRPIX2 (1-based, possibly fractional): the pixel where the
    /// offset is (0, 0). ((n + 1)/2 for eddy's centred axes; downsampling by N
    /// from N/2 can leave the origin off-centre by a fraction of a pixel.)
    std::array<double, 2> reference_pixel() const {
        return {1.0 - x_[0] / (3600.0 * cdelt1_), 1.0 - y_[0] / (3600.0 * cdelt2_)};
    }

    /// The grid of the pixels in `selection` (internal; see clip_field_of_view
    /// and downsample).
    sky_grid select(const detail::grid_selection& selection) const {
        sky_grid kept = *this;
        kept.x_ = detail::select_axis(x_, selection.columns);
        kept.y_ = detail::select_axis(y_, selection.rows);
        kept.cdelt1_ = cdelt1_ * static_cast<double>(selection.columns.step);
        kept.cdelt2_ = cdelt2_ * static_cast<double>(selection.rows.step);
        return kept;
    }

private:
    // eddy: 3600.0 * a_del * (np.arange(a_len) - 0.5 * (a_len - 1.0)), left to right.
    static Eigen::ArrayXd centred_axis(Eigen::Index n, double cdelt) {
        const double step = 3600.0 * cdelt;
        Eigen::ArrayXd axis(n);
        for (Eigen::Index k = 0; k < n; ++k)
            axis[k] = step * (static_cast<double>(k) - 0.5 * (static_cast<double>(n) - 1.0));
        return axis;
    }

    Eigen::ArrayXd x_, y_;
    double cdelt1_ = 0.0, cdelt2_ = 0.0;
    std::optional<beam_shape> beam_;
    bool x_reversed_ = false;
};

namespace detail {

/// eddy's datacube._clip_cube_spatial(FOV / 2): for each axis, the pixels
/// from the one nearest +-FOV/2, widened by one where that pixel falls inside.
inline grid_selection field_of_view_selection(const sky_grid& grid, double fov) {
    constexpr std::string_view where = "clip_field_of_view";
    check_positive(where, "fov", fov);
    const double radius = 0.5 * fov;
    const double x_max = grid.x().maxCoeff();
    const double y_max = grid.y().maxCoeff();
    if (radius > std::min(x_max, y_max))
        throw_invalid_input(where, ": fov ", fov, "\" is larger than the map (",
                            2.0 * std::min(x_max, y_max), "\")");
    const Eigen::ArrayXd& x = grid.x();
    const Eigen::ArrayXd& y = grid.y();
    Eigen::Index xa = nearest_index(x, radius);
    if (x[xa] < radius) xa -= 1;
    Eigen::Index xb = nearest_index(x, -radius);
    if (-x[xb] < radius) xb += 1;
    xb += 1;
    Eigen::Index ya = nearest_index(y, -radius);
    if (-y[ya] < radius) ya -= 1;
    Eigen::Index yb = nearest_index(y, radius);
    if (y[yb] < radius) yb += 1;
    yb += 1;
    // Python slices clamp to the array; so do we.
    xa = std::max<Eigen::Index>(xa, 0);
    ya = std::max<Eigen::Index>(ya, 0);
    xb = std::min(xb, grid.nx());
    yb = std::min(yb, grid.ny());
    check_argument(xb > xa && yb > ya, where, "the field of view keeps no pixels");
    return grid_selection{{ya, yb - ya, 1}, {xa, xb - xa, 1}};
}

/// eddy's downsample_cube(N): every N-th pixel from N/2 along both axes.
inline grid_selection downsample_selection(const sky_grid& grid, Eigen::Index factor) {
    constexpr std::string_view where = "downsample";
    if (factor < 1) throw_invalid_input(where, ": factor must be >= 1, got ", factor);
    // Larger than a side, it keeps one pixel of that side or none.
    if (factor > std::min(grid.nx(), grid.ny()))
        throw_invalid_input(where, ": factor ", factor, " is larger than the ", grid.ny(), "x",
                            grid.nx(), " map (at most ", std::min(grid.nx(), grid.ny()), ")");
    const Eigen::Index first = factor / 2;
    auto count = [&](Eigen::Index n) { return (n - first + factor - 1) / factor; };
    return grid_selection{{first, count(grid.ny()), factor}, {first, count(grid.nx()), factor}};
}

}  // namespace detail

/// The factor eddy uses for downsample='beam': ceil(bmaj / dpix).
/// @throws invalid_input if the grid has no beam, or the factor is larger
///         than the map (a beam in the wrong unit: BMAJ = 1e300 would
///         overflow the integer)
inline Eigen::Index beam_downsample_factor(const sky_grid& grid) {
    constexpr std::string_view where = "beam_downsample_factor";
    check_argument(grid.beam().has_value(), where, "the map has no beam (BMAJ/BMIN/BPA)");
    const double bmaj = grid.beam()->bmaj, pixel = grid.pixel_size();
    return checked_integer<Eigen::Index>(
        std::ceil(bmaj / pixel), 1, std::min(grid.nx(), grid.ny()), where,
        "the factor ceil(bmaj / pixel_size) for bmaj ", bmaj, "\" and pixel_size ", pixel, "\" on a ",
        grid.ny(), "x", grid.nx(), " map");
}

/// The grid clipped to a square field of view of side `fov` arcsec around
/// the array centre, as eddy's FOV argument.
/// @throws invalid_input if fov <= 0, not finite, or larger than the map
inline sky_grid clip_field_of_view(const sky_grid& grid, double fov) {
    return grid.select(detail::field_of_view_selection(grid, fov));
}

/// Every `factor`-th pixel from factor/2, as eddy's downsample=N; the pixel
/// size (and so the beam in pixels) grows by `factor`.
/// @throws invalid_input if factor < 1 or larger than the map's smaller side
inline sky_grid downsample(const sky_grid& grid, Eigen::Index factor) {
    return grid.select(detail::downsample_selection(grid, factor));
}

/// Pixel centres in the storage order of a column-major (ny x nx) image:
/// element j + ny * i is pixel (row j, column i).
struct pixel_positions {
    Eigen::ArrayXd x;  ///< arcsec
    Eigen::ArrayXd y;  ///< arcsec
};

/// The sky offsets of every pixel of the grid, in image storage order.
inline pixel_positions pixel_positions_of(const sky_grid& grid) {
    const Eigen::Index ny = grid.ny(), nx = grid.nx();
    pixel_positions p{Eigen::ArrayXd(ny * nx), Eigen::ArrayXd(ny * nx)};
    for (Eigen::Index i = 0; i < nx; ++i) {
        p.x.segment(i * ny, ny).setConstant(grid.x()[i]);
        p.y.segment(i * ny, ny) = grid.y();
    }
    return p;
}

}  // namespace diskmc
