#pragma once
// The beam convolution on images of one shape by the faster algorithm for
// its kernel: the direct sums of disk/beam.hpp, or, in a program built with
// the optional target diskmc::fftw (which defines DISKMC_WITH_FFTW), the FFT
// of fftw/beam_convolution.hpp from fftw::fft_pays_from_kernel_width pixels
// across (measured: 11 x 11 direct 8 ns a pixel against FFTW's 14, 33 x 33
// 57 against 14). Both are the same operator A and adjoint A^T to rounding
// (~1e-15 relative). The FFT's plans are made once, here, and shared by
// copies; applying them is thread-safe.
//
// The macro only adds the FFT: every translation unit of a program sees the
// same definition, since linking diskmc::fftw defines it for all of them.

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>

#include "diskmc/detail/eigen.hpp"
#include "diskmc/disk/beam.hpp"
#include "diskmc/errors.hpp"

#ifdef DISKMC_WITH_FFTW
#include "diskmc/fftw/beam_convolution.hpp"
#endif

namespace diskmc {

/// How the beam convolution is computed.
enum class beam_algorithm {
    /// Direct sums below fftw::fft_pays_from_kernel_width pixels across, the
    /// FFT from there when the program is built with diskmc::fftw.
    automatic,
    /// Always the direct sums (disk/beam.hpp).
    direct,
    /// Always the FFT (needs diskmc::fftw).
    fft,
};

/// Whether this program can convolve by FFT (built with diskmc::fftw).
#ifdef DISKMC_WITH_FFTW
inline constexpr bool beam_fft_available = true;
#else
inline constexpr bool beam_fft_available = false;
#endif

/// The beam convolution operator A of one kernel on rows x cols images, by
/// the algorithm `beam_algorithm` chooses (see the file's comment).
class grid_beam_convolution {
public:
    /// @param kernel an odd square kernel, finite, with a positive sum
    /// @param rows, cols the shape of every image it will convolve
    /// @param algorithm the algorithm; beam_algorithm::fft needs diskmc::fftw
    /// @throws invalid_input for a bad kernel or shape, or fft without diskmc::fftw
    grid_beam_convolution(Eigen::ArrayXXd kernel, Eigen::Index rows, Eigen::Index cols,
                          beam_algorithm algorithm = beam_algorithm::automatic)
        : direct_(std::move(kernel)), rows_(rows), cols_(cols) {
        constexpr std::string_view where = "grid_beam_convolution";
        check_argument(rows >= 1 && cols >= 1, where, "the image must have at least one pixel");
        if (algorithm == beam_algorithm::fft && !beam_fft_available)
            detail::throw_invalid_input(where, ": beam_algorithm::fft needs the program built with diskmc::fftw "
                                               "(FFTW); use automatic or direct");
#ifdef DISKMC_WITH_FFTW
        const bool wide = direct_.kernel().rows() >= fftw::fft_pays_from_kernel_width;
        if (algorithm == beam_algorithm::fft || (algorithm == beam_algorithm::automatic && wide))
            fft_ = std::make_shared<const fftw::beam_convolution>(direct_.kernel(), rows, cols);
#endif
    }

    /// The direct operator (its kernel, and the column-wise sums that the
    /// likelihood's streamed gradient uses).
    const beam_convolution& direct() const { return direct_; }
    const Eigen::ArrayXXd& kernel() const { return direct_.kernel(); }
    /// The kernel's half width, (n - 1) / 2.
    Eigen::Index half() const { return direct_.half(); }
    Eigen::Index rows() const { return rows_; }
    Eigen::Index cols() const { return cols_; }

    /// Whether apply and apply_adjoint go by FFT.
    bool by_fft() const {
#ifdef DISKMC_WITH_FFTW
        return fft_ != nullptr;
#else
        return false;
#endif
    }

    /// out = A image (see beam_convolution::apply); `threads` share the
    /// direct sums' columns (the FFT runs on the calling thread).
    void apply(const Eigen::ArrayXXd& image, Eigen::ArrayXXd& out, std::size_t threads = 1) const {
        check_shape(image);
#ifdef DISKMC_WITH_FFTW
        if (fft_) return fft_->apply(image, out);
#endif
        direct_.apply(image, out, threads);
    }

    /// out = A^T cotangent for A linearised at `image` (see
    /// beam_convolution::apply_adjoint).
    void apply_adjoint(const Eigen::ArrayXXd& image, const Eigen::ArrayXXd& cotangent, Eigen::ArrayXXd& out,
                       std::size_t threads = 1) const {
        check_shape(image);
#ifdef DISKMC_WITH_FFTW
        if (fft_) return fft_->apply_adjoint(image, cotangent, out);
#endif
        direct_.apply_adjoint(image, cotangent, out, threads);
    }

private:
    void check_shape(const Eigen::ArrayXXd& image) const {
        if (image.rows() != rows_ || image.cols() != cols_)
            detail::throw_invalid_input("grid_beam_convolution: the image is ", image.rows(), "x", image.cols(),
                                        " but the convolution is for ", rows_, "x", cols_);
    }

    beam_convolution direct_;
    Eigen::Index rows_, cols_;
#ifdef DISKMC_WITH_FFTW
    std::shared_ptr<const fftw::beam_convolution> fft_;
#endif
};

}  // namespace diskmc
