#pragma once
// The beam convolution of disk/beam.hpp by FFT through FFTW (the optional
// target diskmc::fftw): the same operator A and adjoint A^T, for large
// kernels, where the direct sums cost n^2 per pixel and the FFT a few
// log-sized passes whatever n. Plans are made once per image shape (in the
// constructor) and reused; applying them is thread-safe (FFTW's new-array
// execute functions, on buffers of each call).
//
//   A v = C(w v) / D,  A^T y = w C^T(w y / D),  D = sum K - C(1 - w),
//
// w = 0 at NaN pixels and 1 elsewhere, C the zero-padded convolution with
// the kernel K (the outside of the image is zeros that count as data, so D
// is sum K where no pixel is missing), computed as a circular convolution on
// a plane padded to at least (rows + n - 1) x (cols + n - 1), so that
// nothing wraps around; C^T is correlation with the kernel, the product with
// the conjugate of its spectrum.

#include <fftw3.h>

#include <algorithm>
#include <complex>
#include <cstddef>
#include <limits>
#include <memory>

#include "diskmc/detail/eigen.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/fftw/planner.hpp"

namespace diskmc::fftw {

/// The narrowest kernel (pixels across) from which the FFT is the faster
/// way, measured by benchmarks/bench_model on 256 x 256 (ns per pixel,
/// direct / FFTW, apply; the adjoint alike): 11 x 11 8.2 / 14.2, 21 x 21
/// 25.2 / 12.5, 33 x 33 56.7 / 13.9 (FFTW about constant, the direct sums
/// growing as n^2: they cross near 15 x 15).
inline constexpr Eigen::Index fft_pays_from_kernel_width = 15;

namespace detail {

struct fftw_free_deleter {
    void operator()(void* pointer) const { fftw_free(pointer); }
};
template <class T>
using fftw_buffer = std::unique_ptr<T[], fftw_free_deleter>;

inline fftw_buffer<double> real_buffer(Eigen::Index size) {
    return fftw_buffer<double>(fftw_alloc_real(static_cast<std::size_t>(size)));
}
inline fftw_buffer<fftw_complex> complex_buffer(Eigen::Index size) {
    return fftw_buffer<fftw_complex>(fftw_alloc_complex(static_cast<std::size_t>(size)));
}

/// The smallest m >= n whose only prime factors are 2, 3, 5 and 7 (FFTW's fast sizes).
inline Eigen::Index fast_size(Eigen::Index n) {
    for (Eigen::Index m = n;; ++m) {
        Eigen::Index r = m;
        for (Eigen::Index f : {2, 3, 5, 7})
            while (r % f == 0) r /= f;
        if (r == 1) return m;
    }
}

}  // namespace detail

/// The beam convolution operator A of one kernel on images of one shape,
/// by FFT; the same results as diskmc::beam_convolution to rounding.
class beam_convolution {
public:
    /// @param kernel an odd square kernel, finite, with a positive sum
    /// @param rows, cols the shape of every image it will convolve
    /// @throws invalid_input otherwise
    beam_convolution(const Eigen::ArrayXXd& kernel, Eigen::Index rows, Eigen::Index cols)
        : n_(kernel.rows()), rows_(rows), cols_(cols) {
        constexpr std::string_view where = "fftw::beam_convolution";
        check_argument(kernel.rows() == kernel.cols() && kernel.rows() % 2 == 1, where,
                       "the kernel must be an odd square");
        check_argument(kernel.allFinite() && kernel.sum() > 0.0, where, "the kernel must be finite with a positive sum");
        check_argument(rows >= 1 && cols >= 1, where, "the image must have at least one pixel");
        // Column-major images: FFTW's last (contiguous) dimension is the rows.
        padded_rows_ = detail::fast_size(rows + n_ - 1);
        padded_cols_ = detail::fast_size(cols + n_ - 1);
        half_rows_ = padded_rows_ / 2 + 1;
        auto real = detail::real_buffer(plane_size());
        auto spectrum = detail::complex_buffer(spectrum_size());
        {
            const auto planner = lock_planner();
            forward_ = fftw_plan_dft_r2c_2d(static_cast<int>(padded_cols_), static_cast<int>(padded_rows_), real.get(),
                                            spectrum.get(), FFTW_ESTIMATE);
            inverse_ = fftw_plan_dft_c2r_2d(static_cast<int>(padded_cols_), static_cast<int>(padded_rows_),
                                            spectrum.get(), real.get(), FFTW_ESTIMATE);
        }
        check_argument(forward_ != nullptr && inverse_ != nullptr, where, "FFTW made no plan for this shape");
        // The kernel K(a, b) at (a, b) of the plane: the circular convolution's
        // output (j + h, i + h) is the centred convolution's (j, i).
        std::fill(real.get(), real.get() + plane_size(), 0.0);
        for (Eigen::Index b = 0; b < n_; ++b)
            for (Eigen::Index a = 0; a < n_; ++a) real[static_cast<std::size_t>(b * padded_rows_ + a)] = kernel(a, b);
        kernel_spectrum_ = detail::complex_buffer(spectrum_size());
        fftw_execute_dft_r2c(forward_, real.get(), kernel_spectrum_.get());
        sum_ = kernel.sum();
    }

    ~beam_convolution() {
        const auto planner = lock_planner();
        if (forward_) fftw_destroy_plan(forward_);
        if (inverse_) fftw_destroy_plan(inverse_);
    }
    beam_convolution(const beam_convolution&) = delete;
    beam_convolution& operator=(const beam_convolution&) = delete;

    Eigen::Index rows() const { return rows_; }
    Eigen::Index cols() const { return cols_; }

    /// out = A image (see diskmc::beam_convolution::apply); `image` must have
    /// the shape given to the constructor.
    void apply(const Eigen::ArrayXXd& image, Eigen::ArrayXXd& out) const {
        check_shape(image);
        const auto missing = image.isNaN();
        if (!missing.any()) {
            convolve(image, out, false);
            out /= sum_;
            return;
        }
        const Eigen::ArrayXXd denominator = denominators(missing);
        convolve(missing.select(0.0, image), out, false);
        out = missing.select(std::numeric_limits<double>::quiet_NaN(), out / denominator);
    }

    /// out = A^T cotangent for A linearised at `image` (see
    /// diskmc::beam_convolution::apply_adjoint).
    void apply_adjoint(const Eigen::ArrayXXd& image, const Eigen::ArrayXXd& cotangent, Eigen::ArrayXXd& out) const {
        check_shape(image);
        check_shape(cotangent);
        const auto missing = image.isNaN();
        if (!missing.any()) {
            convolve(cotangent / sum_, out, true);
            return;
        }
        const Eigen::ArrayXXd denominator = denominators(missing);
        convolve(missing.select(0.0, cotangent / denominator), out, true);
        out = missing.select(0.0, out);
    }

private:
    /// D = sum K - C(missing): the kernel's weight on the pixels that are not missing.
    template <class Missing>
    Eigen::ArrayXXd denominators(const Missing& missing) const {
        Eigen::ArrayXXd lost;
        convolve(missing.template cast<double>(), lost, false);
        return sum_ - lost;
    }

    Eigen::Index plane_size() const { return padded_rows_ * padded_cols_; }
    Eigen::Index spectrum_size() const { return half_rows_ * padded_cols_; }

    void check_shape(const Eigen::ArrayXXd& image) const {
        if (image.rows() != rows_ || image.cols() != cols_)
            diskmc::detail::throw_invalid_input("fftw::beam_convolution: the image is ", image.rows(), "x",
                                                image.cols(), " but the plans are for ", rows_, "x", cols_);
    }

    /// out = C image (the zero-padded convolution), or C^T image
    /// (correlation) when `transpose`, unnormalised by the kernel's sum.
    template <class Image>
    void convolve(const Eigen::ArrayBase<Image>& image, Eigen::ArrayXXd& out, bool transpose) const {
        auto real = detail::real_buffer(plane_size());
        auto spectrum = detail::complex_buffer(spectrum_size());
        Eigen::Map<Eigen::ArrayXXd> plane(real.get(), padded_rows_, padded_cols_);
        plane.setZero();
        plane.topLeftCorner(rows_, cols_) = image;
        fftw_execute_dft_r2c(forward_, real.get(), spectrum.get());
        const double scale = 1.0 / static_cast<double>(plane_size());
        auto* values = reinterpret_cast<std::complex<double>*>(spectrum.get());
        const auto* kernel = reinterpret_cast<const std::complex<double>*>(kernel_spectrum_.get());
        for (Eigen::Index k = 0; k < spectrum_size(); ++k)
            values[k] *= (transpose ? std::conj(kernel[k]) : kernel[k]) * scale;
        fftw_execute_dft_c2r(inverse_, spectrum.get(), real.get());
        const Eigen::Index h = n_ / 2;
        out.resize(rows_, cols_);
        if (!transpose) {
            out = plane.block(h, h, rows_, cols_);
            return;
        }
        // Correlation: output (j, i) is the circular result at (j - h, i - h).
        for (Eigen::Index i = 0; i < cols_; ++i) {
            const Eigen::Index source_col = (i - h + padded_cols_) % padded_cols_;
            for (Eigen::Index j = 0; j < rows_; ++j)
                out(j, i) = plane((j - h + padded_rows_) % padded_rows_, source_col);
        }
    }

    Eigen::Index n_, rows_, cols_, padded_rows_ = 0, padded_cols_ = 0, half_rows_ = 0;
    fftw_plan forward_ = nullptr, inverse_ = nullptr;
    detail::fftw_buffer<fftw_complex> kernel_spectrum_;
    double sum_ = 1.0;
};

}  // namespace diskmc::fftw
