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
// Algorithm, chosen by measurement (benchmarks/bench_model.cpp): direct
// summation over a zero-padded copy, vectorised down image columns. For the
// beams of the data sets here (<= 23 x 23 taps) it beats an FFT
// convolution; see the benchmark's beam table.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string_view>
#include <utility>

#include "diskmc/disk/sky_grid.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/math/functions.hpp"

// g++ 12 reports -Wuninitialized inside its own AVX-512 intrinsics (e.g.
// _mm512_rsqrt14_pd in Eigen's fast-math sqrt starts from
// _mm512_undefined_pd()) wherever Eigen's vectorised math is inlined into
// the per-pixel code below: a false positive, silenced for this code only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace diskmc {

/// FWHM of a Gaussian in units of its standard deviation, 2 sqrt(2 ln 2) (eddy's `fwhm`).
inline const double gaussian_fwhm = 2.0 * std::sqrt(2.0 * std::log(2.0));

/// eddy's beam kernel for a beam on pixels of `pixel_size` arcsec.
/// @param beam bmaj, bmin (arcsec) and bpa (degrees)
/// @param pixel_size arcsec per pixel
/// @return an odd n x n kernel (row = y offset, column = x offset) summing to 1
/// @throws invalid_input for non-positive or non-finite sizes
inline Eigen::ArrayXXd beam_kernel(const beam_shape& beam, double pixel_size) {
    constexpr std::string_view where = "beam_kernel";
    detail::check_beam(where, beam);
    check_positive(where, "pixel_size", pixel_size);
    const double x_stddev = beam.bmin / pixel_size / gaussian_fwhm;
    const double y_stddev = beam.bmaj / pixel_size / gaussian_fwhm;
    const double theta = beam.bpa * (std::numbers::pi / 180.0);
    // astropy: _round_up_to_odd_integer(8 * max(x_stddev, y_stddev)).
    auto n = static_cast<Eigen::Index>(std::ceil(8.0 * std::max(x_stddev, y_stddev)));
    if (n % 2 == 0) n += 1;
    check_argument(n <= 4097, where, "the beam is more than 4097 pixels wide");
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
    return kernel / kernel.sum();
}

/// The kernel of the grid's beam in the grid's pixels (after clipping and
/// downsampling, as eddy convolves on the fitted grid).
/// @throws invalid_input if the grid has no beam or its pixels are not square
inline Eigen::ArrayXXd beam_kernel(const sky_grid& grid) {
    constexpr std::string_view where = "beam_kernel";
    check_argument(grid.beam().has_value(), where, "the grid has no beam (BMAJ/BMIN/BPA)");
    const double dx = grid.pixel_size_x(), dy = grid.pixel_size();
    if (std::abs(dx - dy) > 1e-6 * dy)
        detail::throw_invalid_input(where, ": beam convolution needs square pixels, got ", dx,
                                    "\" x ", dy, "\"");
    return beam_kernel(*grid.beam(), dy);
}

namespace detail {

/// Output rows computed together: their partial sums stay in SIMD registers
/// while every kernel tap is applied (4 AVX-512 or 8 AVX registers).
inline constexpr Eigen::Index convolution_block_rows = 32;

/// out(j, i) = sum_{a,b} weights(a, b) padded(j + a, i + b). `padded` comes
/// from zero_padded (tall enough for whole blocks of rows); columns are
/// contiguous, so each block of output rows is a run of SIMD fused
/// multiply-adds over unaligned loads.
inline void correlate_padded(const Eigen::ArrayXXd& padded, const Eigen::ArrayXXd& weights,
                             Eigen::ArrayXXd& out) {
    constexpr Eigen::Index block_rows = convolution_block_rows;
    using block = Eigen::Array<double, block_rows, 1>;
    const Eigen::Index rows = out.rows(), cols = out.cols(), n = weights.rows();
    const Eigen::Index stride = padded.rows();
    for (Eigen::Index i = 0; i < cols; ++i) {
        for (Eigen::Index j = 0; j < rows; j += block_rows) {
            block sum = block::Zero();
            for (Eigen::Index b = 0; b < n; ++b) {
                const double* source = padded.data() + (i + b) * stride + j;
                const double* column = weights.data() + b * n;
                for (Eigen::Index a = 0; a < n; ++a)
                    sum += column[a] * Eigen::Map<const block>(source + a);
            }
            const Eigen::Index count = std::min(block_rows, rows - j);
            out.col(i).segment(j, count) = sum.head(count);
        }
    }
}

/// `image` on a zero plane with `half` zeros on every side (and extra zero
/// rows at the bottom up to whole blocks of rows), NaN set to 0. Sets
/// `any_missing` when the image has a NaN.
inline Eigen::ArrayXXd zero_padded(const Eigen::ArrayXXd& image, Eigen::Index half,
                                   bool& any_missing) {
    constexpr Eigen::Index block_rows = convolution_block_rows;
    const Eigen::Index whole_rows = (image.rows() + block_rows - 1) / block_rows * block_rows;
    Eigen::ArrayXXd padded = Eigen::ArrayXXd::Zero(whole_rows + 2 * half, image.cols() + 2 * half);
    const auto missing = image.isNaN();
    any_missing = missing.any();
    padded.block(half, half, image.rows(), image.cols()) = missing.select(0.0, image);
    return padded;
}

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

    /// out = A image. NaN pixels are missing and NaN in `out`; the outside of
    /// the image counts as zeros. `out` is resized.
    void apply(const Eigen::ArrayXXd& image, Eigen::ArrayXXd& out) const {
        const Eigen::Index half = kernel_.rows() / 2;
        bool any_missing = false;
        const Eigen::ArrayXXd padded = detail::zero_padded(image, half, any_missing);
        out.resize(image.rows(), image.cols());
        // True convolution: sum_k K(k) v(p - k) = correlation with the flipped kernel.
        detail::correlate_padded(padded, flipped_, out);
        if (!any_missing) {
            out /= sum_;
            return;
        }
        const Eigen::ArrayXXd denominator = sum_ - missing_weight(image, flipped_);
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
    /// <A x, y> = <x, A^T y> over the non-missing pixels.
    void apply_adjoint(const Eigen::ArrayXXd& image, const Eigen::ArrayXXd& cotangent,
                       Eigen::ArrayXXd& out) const {
        check_argument(cotangent.rows() == image.rows() && cotangent.cols() == image.cols(),
                       "beam_convolution::apply_adjoint", "cotangent and image shapes differ");
        const Eigen::Index half = kernel_.rows() / 2;
        const auto missing = image.isNaN();
        Eigen::ArrayXXd scaled;
        if (missing.any()) {
            const Eigen::ArrayXXd denominator = sum_ - missing_weight(image, flipped_);
            scaled = missing.select(0.0, cotangent / denominator);
        } else {
            scaled = cotangent / sum_;
        }
        bool ignored = false;
        const Eigen::ArrayXXd padded = detail::zero_padded(scaled, half, ignored);
        out.resize(image.rows(), image.cols());
        detail::correlate_padded(padded, kernel_, out);  // C^T: correlation with K itself
        out = missing.select(0.0, out);
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
    // sum_q K(p - q) over the missing pixels q: the weight the denominator loses.
    Eigen::ArrayXXd missing_weight(const Eigen::ArrayXXd& image,
                                   const Eigen::ArrayXXd& flipped) const {
        const Eigen::Index half = kernel_.rows() / 2;
        bool ignored = false;
        const Eigen::ArrayXXd indicator = image.isNaN().cast<double>();
        const Eigen::ArrayXXd padded = detail::zero_padded(indicator, half, ignored);
        Eigen::ArrayXXd weight(image.rows(), image.cols());
        detail::correlate_padded(padded, flipped, weight);
        return weight;
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

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
