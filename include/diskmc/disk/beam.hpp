#pragma once
// Beam convolution as eddy does it, and its adjoint.
//
// Kernel: astropy's Gaussian2DKernel(x_stddev = bmin / dpix / FWHM,
// y_stddev = bmaj / dpix / FWHM, theta = bpa) that eddy builds in
// datacube._beamkernel: sampled at pixel centres on an odd square of
// ceil(8 max(stddev)) pixels, normalised to sum 1.
// Convolution: astropy's convolve_fft as eddy calls it: the outside of the
// image is zeros that count as data (weight 1), NaN pixels are missing
// (weight 0) and NaN again in the output:
//     out(p) = sum_q K(p - q) w(q) v(q) / sum_q K(p - q) w(q),
// summed over the zero-padded plane, w = 0 at NaN pixels and 1 elsewhere.
// For a fixed NaN pattern this is linear, A = diag(w / D) C diag(w), with C
// the zero-padded convolution and D the denominators; its adjoint is
// A^T = diag(w) C^T diag(w / D), C^T being correlation with the same kernel.
//
// Algorithm, chosen by measurement (benchmarks/bench_model.cpp; ns per
// pixel on this machine, 256 x 256): direct summation over a zero-padded
// copy, vectorised down the columns with a block of 32 output rows held in
// registers over all taps: 6 (11 x 11 kernel), 20 (21 x 21), 46 (33 x 33).
// Eigen's FFT module (kissfft) costs 40-100 whatever the kernel; FFTW, which
// the header-only core does not depend on, 4-12, ahead from ~15 x 15 taps.
// The benchmark's beam (11 x 11 on 154 x 154): direct 6.4, FFTW 4.0, next
// to ~22 for the model itself; fits that downsample toward the beam (eddy's
// downsample='beam') have smaller kernels still.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>
#include <string_view>
#include <utility>

#include "diskmc/detail/eigen.hpp"
#include "diskmc/detail/thread_buffers.hpp"
#include "diskmc/disk/sky_grid.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/math/functions.hpp"
#include "diskmc/parallel/parallel_for.hpp"

#include "diskmc/detail/vectorised_code_begin.hpp"  // g++ 12 false positive: see there

namespace diskmc {

/// FWHM of a Gaussian in units of its standard deviation, 2 sqrt(2 ln 2) (eddy's `fwhm`).
inline const double gaussian_fwhm = 2.0 * std::sqrt(2.0 * std::log(2.0));

namespace detail {

/// The widest kernel beam_kernel builds: 4097^2 doubles are 134 MB, and a
/// wider beam in pixels is a header in the wrong unit, not a map to convolve.
inline constexpr Eigen::Index widest_beam_kernel = 4097;

/// astropy's kernel width for the beam, _round_up_to_odd_integer(8 max(x_stddev,
/// y_stddev)), checked to lie in [1, widest] before it becomes an integer
/// (BMAJ = 1e300 would overflow it); `on_map` (message parts) names the map.
template <class... OnMap>
Eigen::Index beam_kernel_width(std::string_view function, const beam_shape& beam, double pixel_size,
                               Eigen::Index widest, const OnMap&... on_map) {
    const double largest_stddev = std::max(beam.bmaj, beam.bmin) / pixel_size / gaussian_fwhm;
    Eigen::Index n = checked_integer<Eigen::Index>(
        std::ceil(8.0 * largest_stddev), 1, widest, function,
        "the beam kernel's width in pixels, ceil(8 max(bmaj, bmin) / (2.3548 pixel_size)) ",
        "for bmaj ", beam.bmaj, "\", bmin ", beam.bmin, "\" and pixel_size ", pixel_size, "\"",
        on_map..., ",");
    if (n % 2 == 0) n += 1;
    return n;
}

}  // namespace detail

/// eddy's beam kernel for a beam on pixels of `pixel_size` arcsec.
/// @param beam bmaj, bmin (arcsec) and bpa (degrees)
/// @param pixel_size arcsec per pixel
/// @return an odd n x n kernel (row = y offset, column = x offset) summing to 1
/// @throws invalid_input for non-positive or non-finite sizes, or a kernel
///         wider than 4097 pixels
inline Eigen::ArrayXXd beam_kernel(const beam_shape& beam, double pixel_size) {
    constexpr std::string_view where = "beam_kernel";
    detail::check_beam(where, beam);
    check_positive(where, "pixel_size", pixel_size);
    const Eigen::Index n =
        detail::beam_kernel_width(where, beam, pixel_size, detail::widest_beam_kernel);
    // One pixel: the normalised kernel is 1, however narrow the beam (whose
    // stddev squared may underflow to 0 and make the formula below 0 / 0).
    if (n == 1) return Eigen::ArrayXXd::Ones(1, 1);
    const double x_stddev = beam.bmin / pixel_size / gaussian_fwhm;
    const double y_stddev = beam.bmaj / pixel_size / gaussian_fwhm;
    const double theta = beam.bpa * (std::numbers::pi / 180.0);
    // astropy.modeling.functional_models.Gaussian2D.evaluate, term by term.
    const double cost2 = std::cos(theta) * std::cos(theta);
    const double sint2 = std::sin(theta) * std::sin(theta);
    const double sin2t = std::sin(2.0 * theta);
    const double xstd2 = x_stddev * x_stddev;
    const double ystd2 = y_stddev * y_stddev;
    const double a = 0.5 * ((cost2 / xstd2) + (sint2 / ystd2));
    const double b = 0.5 * ((sin2t / xstd2) - (sin2t / ystd2));
    const double c = 0.5 * ((sint2 / xstd2) + (cost2 / ystd2));
    const double amplitude = 1.0 / (2.0 * std::numbers::pi * x_stddev * y_stddev);
    const Eigen::Index half = (n - 1) / 2;
    Eigen::ArrayXXd kernel(n, n);
    for (Eigen::Index col = 0; col < n; ++col) {
        const auto dx = static_cast<double>(col - half);
        for (Eigen::Index row = 0; row < n; ++row) {
            const auto dy = static_cast<double>(row - half);
            kernel(row, col) =
                amplitude * std::exp(-((a * dx * dx) + (b * dx * dy) + (c * dy * dy)));
        }
    }
    const double sum = kernel.sum();
    // One axis far below a pixel (bmin 1e-300" beside bmaj 1") makes its
    // 1 / stddev^2 overflow: no kernel to normalise.
    if (!(std::isfinite(sum) && sum > 0.0 && kernel.allFinite()))
        detail::throw_invalid_input(where, ": the beam (bmaj ", beam.bmaj, "\", bmin ", beam.bmin,
                                    "\") gives no finite kernel on pixels of ", pixel_size,
                                    "\" (an axis is too narrow against the other)");
    return kernel / sum;
}

/// The kernel of the grid's beam in the grid's pixels (after clipping and
/// downsampling, as eddy convolves on the fitted grid).
/// @throws invalid_input if the grid has no beam, its pixels are not square,
///         or the kernel would be wider than the map
inline Eigen::ArrayXXd beam_kernel(const sky_grid& grid) {
    constexpr std::string_view where = "beam_kernel";
    check_argument(grid.beam().has_value(), where, "the grid has no beam (BMAJ/BMIN/BPA)");
    const double dx = grid.pixel_size_x(), dy = grid.pixel_size();
    if (std::abs(dx - dy) > 1e-6 * dy)
        detail::throw_invalid_input(where, ": beam convolution needs square pixels, got ", dx,
                                    "\" x ", dy, "\"");
    // A kernel wider than the map convolves every pixel with the whole map:
    // a beam in the wrong unit or a map cut too small, never a fit to run.
    const Eigen::Index widest =
        std::min(detail::widest_beam_kernel, std::max(grid.nx(), grid.ny()) | 1);
    detail::beam_kernel_width(where, *grid.beam(), dy, widest, " on a ", grid.ny(), "x", grid.nx(),
                              " map");
    return beam_kernel(*grid.beam(), dy);
}

namespace detail {

/// Output rows computed together: their partial sums stay in SIMD registers
/// while every kernel tap is applied (4 AVX-512 or 8 AVX registers).
inline constexpr Eigen::Index convolution_block_rows = 32;
/// Output columns handed to a thread at a time.
inline constexpr Eigen::Index convolution_columns_per_task = 8;

/// Column i of the correlation out(j, i) = sum_{a,b} weights(a, b)
/// padded(j + a, i + b), rows j in [0, rows), into out[0 .. rows). `padded`
/// is a zero_border_plane; columns are contiguous, so each block of output
/// rows is a run of SIMD fused multiply-adds over unaligned loads.
inline void correlate_column(const Eigen::ArrayXXd& padded, const Eigen::ArrayXXd& weights, Eigen::Index i,
                             Eigen::Index rows, double* out) {
    constexpr Eigen::Index block_rows = convolution_block_rows;
    using block = Eigen::Array<double, block_rows, 1>;
    const Eigen::Index n = weights.rows(), stride = padded.rows();
    for (Eigen::Index j = 0; j < rows; j += block_rows) {
        block sum = block::Zero();
        for (Eigen::Index b = 0; b < n; ++b) {
            const double* source = padded.data() + (i + b) * stride + j;
            const double* column = weights.data() + b * n;
            for (Eigen::Index a = 0; a < n; ++a)
                sum += column[a] * Eigen::Map<const block>(source + a);
        }
        const Eigen::Index count = std::min(block_rows, rows - j);
        Eigen::Map<Eigen::ArrayXd>(out + j, count) = sum.head(count);
    }
}

/// Every column of the correlation (see correlate_column) into `out`, whose
/// shape sets the output's; columns are shared among `threads` (each output
/// is computed the same way whatever their number).
inline void correlate_padded(const Eigen::ArrayXXd& padded, const Eigen::ArrayXXd& weights,
                             Eigen::ArrayXXd& out, std::size_t threads) {
    const Eigen::Index rows = out.rows(), cols = out.cols();
    const Eigen::Index tasks = (cols + convolution_columns_per_task - 1) / convolution_columns_per_task;
    parallel_for(static_cast<std::size_t>(tasks), threads, [&](std::size_t task) {
        const Eigen::Index first = static_cast<Eigen::Index>(task) * convolution_columns_per_task;
        const Eigen::Index last = std::min(first + convolution_columns_per_task, cols);
        for (Eigen::Index i = first; i < last; ++i) correlate_column(padded, weights, i, rows, out.col(i).data());
    });
}

/// Shapes `padded` as the plane of a rows x cols image with `half` zeros on
/// every side and extra zero rows at the bottom up to whole blocks of rows,
/// and zeroes that border; the image goes in padded.block(half, half, rows,
/// cols). Reuses the storage when the shape is unchanged.
inline void zero_border_plane(Eigen::Index rows, Eigen::Index cols, Eigen::Index half, Eigen::ArrayXXd& padded) {
    constexpr Eigen::Index block_rows = convolution_block_rows;
    const Eigen::Index whole_rows = (rows + block_rows - 1) / block_rows * block_rows;
    padded.resize(whole_rows + 2 * half, cols + 2 * half);
    padded.topRows(half).setZero();
    padded.bottomRows(padded.rows() - half - rows).setZero();
    padded.leftCols(half).setZero();
    padded.rightCols(half).setZero();
}

/// Makes `padded` `image` on a zero_border_plane, NaN set to 0. Returns
/// whether the image has a NaN.
template <class Image>
bool pad_with_zeros(const Eigen::ArrayBase<Image>& image, Eigen::Index half, Eigen::ArrayXXd& padded) {
    const Eigen::Index rows = image.rows(), cols = image.cols();
    zero_border_plane(rows, cols, half, padded);
    const bool any_missing = image.isNaN().any();
    if (any_missing)
        padded.block(half, half, rows, cols) = image.isNaN().select(0.0, image);
    else
        padded.block(half, half, rows, cols) = image;
    return any_missing;
}

/// beam_convolution's scratch, reused per thread (detail/thread_buffers.hpp).
struct beam_buffers {
    Eigen::ArrayXXd padded;       // the zero-padded input of a correlation
    Eigen::ArrayXXd denominator;  // the normalisation, when pixels are missing
};

}  // namespace detail

/// The beam convolution operator A of one kernel, and its adjoint.
class beam_convolution {
public:
    /// @param kernel an odd square kernel (row = y offset, column = x offset),
    ///        finite, with a positive sum (beam_kernel gives one)
    /// @throws invalid_input otherwise
    explicit beam_convolution(Eigen::ArrayXXd kernel) : kernel_(std::move(kernel)) {
        constexpr std::string_view where = "beam_convolution";
        check_argument(kernel_.rows() == kernel_.cols() && kernel_.rows() % 2 == 1, where,
                       "the kernel must be an odd square");
        check_argument(kernel_.allFinite(), where, "the kernel must be finite");
        sum_ = kernel_.sum();
        check_argument(sum_ > 0.0, where, "the kernel must have a positive sum");
        flipped_ = kernel_.reverse();
    }

    const Eigen::ArrayXXd& kernel() const { return kernel_; }
    /// The kernel reversed in both axes (convolution is correlation with it).
    const Eigen::ArrayXXd& flipped_kernel() const { return flipped_; }
    /// The kernel's sum: the normalisation where no pixel is missing.
    double kernel_sum() const { return sum_; }
    /// The kernel's half width, (n - 1) / 2.
    Eigen::Index half() const { return kernel_.rows() / 2; }

    /// out = A image. NaN pixels are missing and NaN in `out`; the outside of
    /// the image counts as zeros. `out` is resized (no allocation when its
    /// shape is already right); `threads` share the columns (0: all cores).
    void apply(const Eigen::ArrayXXd& image, Eigen::ArrayXXd& out, std::size_t threads = 1) const {
        auto& buffers = detail::thread_buffers<detail::beam_buffers>();
        const bool any_missing = detail::pad_with_zeros(image, half(), buffers.padded);
        out.resize(image.rows(), image.cols());
        // True convolution: sum_k K(k) v(p - k) = correlation with the flipped kernel.
        detail::correlate_padded(buffers.padded, flipped_, out, threads);
        if (!any_missing) {
            out /= sum_;
            return;
        }
        const Eigen::ArrayXXd& denominator = denominators(image, buffers, threads);
        out = image.isNaN().select(std::numeric_limits<double>::quiet_NaN(), out / denominator);
    }

    /// A image (see apply).
    Eigen::ArrayXXd apply(const Eigen::ArrayXXd& image) const {
        Eigen::ArrayXXd out;
        apply(image, out);
        return out;
    }

    /// out = A^T cotangent, for A linearised at `image` (its NaN pattern sets
    /// which pixels are missing). Entries of `cotangent` at missing pixels are
    /// ignored (those outputs are NaN constants); `out` is 0 there.
    /// <A x, y> = <x, A^T y> over the non-missing pixels. `out` and `threads`
    /// as in apply.
    void apply_adjoint(const Eigen::ArrayXXd& image, const Eigen::ArrayXXd& cotangent,
                       Eigen::ArrayXXd& out, std::size_t threads = 1) const {
        check_argument(cotangent.rows() == image.rows() && cotangent.cols() == image.cols(),
                       "beam_convolution::apply_adjoint", "cotangent and image shapes differ");
        auto& buffers = detail::thread_buffers<detail::beam_buffers>();
        const bool any_missing = image.isNaN().any();
        if (any_missing) {
            const Eigen::ArrayXXd& denominator = denominators(image, buffers, threads);
            detail::pad_with_zeros(image.isNaN().select(0.0, cotangent / denominator), half(),
                                   buffers.padded);
        } else {
            detail::pad_with_zeros(cotangent / sum_, half(), buffers.padded);
        }
        out.resize(image.rows(), image.cols());
        // C^T: correlation with K itself.
        detail::correlate_padded(buffers.padded, kernel_, out, threads);
        if (any_missing) out = image.isNaN().select(0.0, out);
    }

    /// A^T cotangent (see apply_adjoint).
    Eigen::ArrayXXd apply_adjoint(const Eigen::ArrayXXd& image,
                                  const Eigen::ArrayXXd& cotangent) const {
        Eigen::ArrayXXd out;
        apply_adjoint(image, cotangent, out);
        return out;
    }

    /// A image for any scalar type (autodiff images): the same operator by
    /// direct summation, unvectorised. Missing pixels are those whose value
    /// (math::value_of) is NaN.
    template <class T>
    Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic> apply(
        const Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic>& image) const {
        static_assert(math::has_value_of<T>,
                      "diskmc: beam_convolution::apply<T> needs math::value_of(T)");
        const Eigen::Index rows = image.rows(), cols = image.cols(), n = kernel_.rows();
        const Eigen::Index half = n / 2;
        auto missing = [&](Eigen::Index j, Eigen::Index i) {
            return std::isnan(math::value_of(image(j, i)));
        };
        Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic> out(rows, cols);
        for (Eigen::Index i = 0; i < cols; ++i) {
            for (Eigen::Index j = 0; j < rows; ++j) {
                if (missing(j, i)) {
                    out(j, i) = T(std::numeric_limits<double>::quiet_NaN());
                    continue;
                }
                T numerator = T(0.0);
                double denominator = sum_;
                for (Eigen::Index b = 0; b < n; ++b) {
                    const Eigen::Index source_i = i + half - b;
                    if (source_i < 0 || source_i >= cols) continue;
                    for (Eigen::Index a = 0; a < n; ++a) {
                        const Eigen::Index source_j = j + half - a;
                        if (source_j < 0 || source_j >= rows) continue;
                        if (missing(source_j, source_i))
                            denominator -= kernel_(a, b);
                        else
                            numerator = T(numerator + kernel_(a, b) * image(source_j, source_i));
                    }
                }
                out(j, i) = T(numerator / denominator);
            }
        }
        return out;
    }

private:
    // D(p) = sum_q K(p - q) over the pixels q that are not missing, into
    // buffers.denominator (its padded buffer is overwritten).
    const Eigen::ArrayXXd& denominators(const Eigen::ArrayXXd& image, detail::beam_buffers& buffers,
                                        std::size_t threads) const {
        detail::pad_with_zeros(image.isNaN().cast<double>(), half(), buffers.padded);
        buffers.denominator.resize(image.rows(), image.cols());
        detail::correlate_padded(buffers.padded, flipped_, buffers.denominator, threads);
        buffers.denominator = sum_ - buffers.denominator;
        return buffers.denominator;
    }

    Eigen::ArrayXXd kernel_;
    Eigen::ArrayXXd flipped_;
    double sum_ = 1.0;
};

/// The image convolved with the beam kernel as eddy does (see beam_convolution::apply).
inline Eigen::ArrayXXd convolve_beam(const Eigen::ArrayXXd& image, const Eigen::ArrayXXd& kernel) {
    return beam_convolution(kernel).apply(image);
}

/// The adjoint of convolve_beam at `image`, applied to `cotangent`
/// (see beam_convolution::apply_adjoint).
inline Eigen::ArrayXXd convolve_beam_adjoint(const Eigen::ArrayXXd& image,
                                             const Eigen::ArrayXXd& cotangent,
                                             const Eigen::ArrayXXd& kernel) {
    return beam_convolution(kernel).apply_adjoint(image, cotangent);
}

}  // namespace diskmc

#include "diskmc/detail/vectorised_code_end.hpp"
