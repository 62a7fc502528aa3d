#pragma once
// Evaluating a disk model over pixels: the hot loop (tiles of pixels as Eigen
// arrays for double parameters, one pixel at a time for autodiff scalars),
// model images on a sky grid with optional beam convolution, and the disk
// coordinates (r, phi, z) of every pixel.

#include <algorithm>
#include <cmath>
#include <optional>
#include <type_traits>
#include <utility>

#include "diskmc/detail/eigen.hpp"
#include "diskmc/detail/flatten.hpp"
#include "diskmc/disk/beam.hpp"
#include "diskmc/disk/grid_beam_convolution.hpp"
#include "diskmc/disk/model.hpp"
#include "diskmc/disk/sky_grid.hpp"

#include "diskmc/detail/vectorised_code_begin.hpp"  // g++ 12 false positive: see there

namespace diskmc {

namespace detail {

/// Pixels per tile of the vectorised path: a few hundred keeps every
/// intermediate of the per-pixel code in L1 and many SIMD packets in flight
/// (measured in benchmarks/bench_model.cpp).
inline constexpr Eigen::Index pixel_tile_size = 64;

/// Copies `count` <= Size pixel offsets from `start` into fixed-size tiles; a
/// partial tile is padded with a real pixel (so the padding lanes compute
/// finite values, which the caller ignores).
template <int Size>
void load_tile(const Eigen::ArrayXd& x, const Eigen::ArrayXd& y, Eigen::Index start, Eigen::Index count,
               Eigen::Array<double, Size, 1>& x_tile, Eigen::Array<double, Size, 1>& y_tile) {
    if (count == Size) {
        x_tile = x.segment<Size>(start);
        y_tile = y.segment<Size>(start);
    } else {
        x_tile.setConstant(x[start]);
        y_tile.setConstant(y[start]);
        x_tile.head(count) = x.segment(start, count);
        y_tile.head(count) = y.segment(start, count);
    }
}

/// The model line-of-sight velocity of pixels [start, start + count) of
/// (x, y) into out[0 .. count), on vectorised tiles of pixels; everything it
/// calls inlined (see detail/flatten.hpp).
template <class Surface, class Rotation, bool Thin, class Radial, class Vertical>
DISKMC_FLATTEN void line_of_sight_velocity_of_range(
    const disk_projection<double, Surface, Rotation, Thin, Radial, Vertical>& projection, const Eigen::ArrayXd& x,
    const Eigen::ArrayXd& y, Eigen::Index start, Eigen::Index count, double* out) {
    constexpr Eigen::Index tile = pixel_tile_size;
    using tile_values = Eigen::Array<double, tile, 1>;
    tile_values x_tile, y_tile;
    for (Eigen::Index offset = 0; offset < count; offset += tile) {
        const Eigen::Index width = std::min(tile, count - offset);
        load_tile(x, y, start + offset, width, x_tile, y_tile);
        const tile_values v = projection.line_of_sight_velocity(x_tile, y_tile);
        Eigen::Map<Eigen::ArrayXd>(out + offset, width) = v.head(width);
    }
}

}  // namespace detail

/// The model line-of-sight velocity (m/s) at sky offsets (x[k], y[k]) in arcsec.
/// With double parameters the per-pixel code runs on tiles of pixels as Eigen
/// arrays (vectorised); with any other scalar type it runs one pixel at a time.
/// @param projection from prepare(model)
/// @param x, y pixel offsets, arcsec (e.g. pixel_positions_of(grid), or only
///        the pixels a likelihood uses)
/// @param out resized to x.size()
template <class T, class Surface, class Rotation, bool Thin, class Radial, class Vertical>
void line_of_sight_velocity(const disk_projection<T, Surface, Rotation, Thin, Radial, Vertical>& projection,
                            const Eigen::ArrayXd& x, const Eigen::ArrayXd& y,
                            Eigen::Array<T, Eigen::Dynamic, 1>& out) {
    check_argument(x.size() == y.size(), "line_of_sight_velocity", "x and y sizes differ");
    const Eigen::Index n = x.size();
    out.resize(n);
    if constexpr (std::is_same_v<T, double>) {
        detail::line_of_sight_velocity_of_range(projection, x, y, 0, n, out.data());
    } else {
        for (Eigen::Index k = 0; k < n; ++k)
            out[k] = projection.line_of_sight_velocity(T(x[k]), T(y[k]));
    }
}

/// Options of model_image.
struct image_options {
    /// Convolve with the grid's beam as eddy's `beam=True` (the grid must have one).
    bool convolve_beam = false;
    /// The convolution's algorithm for double images (automatic: by FFT for
    /// kernels from 15 x 15 pixels when built with diskmc::fftw); other
    /// scalar types take the direct sums.
    beam_algorithm beam = beam_algorithm::automatic;
};

/// The model rotation map on a grid, in m/s (line-of-sight velocity
/// including vlsr), rows = y, columns = x as the grid.
/// @param model the parameters (any scalar type; double is vectorised)
/// @param grid the sky grid (after any clipping and downsampling)
/// @param options convolve_beam: apply eddy's beam convolution on this grid
/// @throws invalid_input for a bad model (check_model), or convolve_beam
///         without a beam on the grid
template <class T, class Surface, class Rotation, class Radial, class Vertical>
Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic> model_image(
    const disk_model<T, Surface, Rotation, Radial, Vertical>& model, const sky_grid& grid,
    const image_options& options = {}) {
    check_model(model, "model_image");
    std::optional<Eigen::ArrayXXd> kernel;
    if (options.convolve_beam) kernel = beam_kernel(grid);

    const pixel_positions positions = pixel_positions_of(grid);
    Eigen::Array<T, Eigen::Dynamic, 1> values;
    line_of_sight_velocity(prepare(model), positions.x, positions.y, values);
    Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic> image =
        Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic>>(values.data(), grid.ny(),
                                                                          grid.nx());
    if (!kernel) return image;
    if constexpr (std::is_same_v<T, double>) {
        Eigen::ArrayXXd convolved;
        grid_beam_convolution(std::move(*kernel), grid.ny(), grid.nx(), options.beam).apply(image, convolved);
        return convolved;
    } else {
        return beam_convolution(std::move(*kernel)).apply(image);
    }
}

/// Disk-frame cylindrical coordinates of every pixel (eddy's disk_coords).
struct disk_coordinates {
    Eigen::ArrayXXd r;    ///< cylindrical radius, arcsec
    Eigen::ArrayXXd phi;  ///< azimuth, radians in (-pi, pi], 0 along the red-shifted major axis
    Eigen::ArrayXXd z;    ///< height of the emission surface, arcsec
};

/// The disk coordinates (r, phi, z) of every pixel of the grid, deprojected
/// with the model's geometry and surface (its rotation is not used).
/// @throws invalid_input for a bad model (check_model)
template <class Surface, class Rotation, class Radial, class Vertical>
disk_coordinates deproject(const disk_model<double, Surface, Rotation, Radial, Vertical>& model,
                           const sky_grid& grid) {
    check_model(model, "deproject");
    const auto projection = prepare(model);
    const Eigen::Index ny = grid.ny(), nx = grid.nx();
    disk_coordinates c{Eigen::ArrayXXd(ny, nx), Eigen::ArrayXXd(ny, nx), Eigen::ArrayXXd(ny, nx)};
    for (Eigen::Index i = 0; i < nx; ++i) {
        for (Eigen::Index j = 0; j < ny; ++j) {
            const surface_point<double> p = projection.deproject(grid.x()[i], grid.y()[j]);
            c.r(j, i) = p.r;
            c.phi(j, i) = std::atan2(p.y, p.x);
            c.z(j, i) = p.z;
        }
    }
    return c;
}

}  // namespace diskmc

#include "diskmc/detail/vectorised_code_end.hpp"
