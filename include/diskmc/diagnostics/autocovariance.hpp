#pragma once
// Autocovariance of a chain by FFT: the shared building block of the
// integrated autocorrelation time (ensemble) and the effective sample size
// (NUTS).
//
// One transform object serves many series of one length: the FFT's plan
// (kissfft's twiddle factors, which cost more to compute than a transform)
// and the buffers are made once. The series is zero-padded to at least 2n, so
// the circular correlation equals the linear one, at a length with only the
// factors 2, 3 and 5 (kissfft's fast radices) and a multiple of 4 (real
// transforms then take the half-length complex path).
//
// The transforms are Eigen's (kissfft, always there), or FFTW's when
// DISKMC_WITH_FFTW is defined: link the optional target diskmc::fftw, which
// defines it. FFTW is about 4x faster here, so an ensemble's diagnostics stay
// a small fraction of its sampling even for a cheap density; it is GPL, hence
// opt-in for programs built on diskmc.

#include <Eigen/Core>
#include <algorithm>
#include <complex>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#ifdef DISKMC_WITH_FFTW
#include <fftw3.h>

#include "diskmc/fftw/planner.hpp"
#else
#include <unsupported/Eigen/FFT>
#endif

namespace diskmc {

namespace detail {

/// The transforms' buffers start on a 64-byte boundary (a cache line, and
/// the widest SIMD packet): Eigen's vectorised sums peel the elements before
/// the first aligned packet, so a buffer placed elsewhere by the allocator
/// would add in another order and give a series' mean and variance, and so
/// tau, that differ in the last bits from one call to the next.
inline constexpr std::size_t fft_buffer_alignment = 64;

template <class T>
struct aligned_free_deleter {
    void operator()(T* pointer) const { std::free(pointer); }
};

/// `count` values of T, uninitialised, starting on fft_buffer_alignment.
template <class T>
std::unique_ptr<T[], aligned_free_deleter<T>> aligned_buffer(std::size_t count) {
    const std::size_t bytes =
        (count * sizeof(T) + fft_buffer_alignment - 1) / fft_buffer_alignment * fft_buffer_alignment;
    void* memory = std::aligned_alloc(fft_buffer_alignment, std::max(bytes, fft_buffer_alignment));
    if (!memory) throw std::bad_alloc();
    return std::unique_ptr<T[], aligned_free_deleter<T>>(static_cast<T*>(memory));
}

#ifdef DISKMC_WITH_FFTW
/// Real forward and unscaled inverse FFTs of one length, in place on the
/// object's own buffers: real() -> spectrum() and back (FFTW).
class real_fft {
public:
    explicit real_fft(Eigen::Index length)
        : length_(length), real_(aligned_buffer<double>(static_cast<std::size_t>(length))),
          spectrum_(aligned_buffer<fftw_complex>(static_cast<std::size_t>(length / 2 + 1))) {
        if (length_ == 0) return;
        const auto planner = diskmc::fftw::lock_planner();
        const int n = static_cast<int>(length_);
        forward_ = fftw_plan_dft_r2c_1d(n, real_.get(), spectrum_.get(), FFTW_ESTIMATE);
        inverse_ = fftw_plan_dft_c2r_1d(n, spectrum_.get(), real_.get(), FFTW_ESTIMATE);
    }
    real_fft(const real_fft&) = delete;
    real_fft& operator=(const real_fft&) = delete;
    ~real_fft() {
        if (length_ == 0) return;
        const auto planner = diskmc::fftw::lock_planner();
        fftw_destroy_plan(forward_);
        fftw_destroy_plan(inverse_);
    }
    double* real() { return real_.get(); }
    std::complex<double>* spectrum() { return reinterpret_cast<std::complex<double>*>(spectrum_.get()); }
    void forward() { fftw_execute(forward_); }
    /// The inverse, unscaled; overwrites the spectrum.
    void inverse() { fftw_execute(inverse_); }

private:
    Eigen::Index length_;
    std::unique_ptr<double[], aligned_free_deleter<double>> real_;
    std::unique_ptr<fftw_complex[], aligned_free_deleter<fftw_complex>> spectrum_;
    fftw_plan forward_ = nullptr, inverse_ = nullptr;
};
#else
/// Real forward and unscaled inverse FFTs of one length, in place on the
/// object's own buffers: real() -> spectrum() and back (Eigen's kissfft,
/// half spectra both ways).
class real_fft {
public:
    explicit real_fft(Eigen::Index length)
        : length_(length), real_(aligned_buffer<double>(static_cast<std::size_t>(length))),
          spectrum_(static_cast<std::size_t>(length / 2 + 1)) {
        fft_.SetFlag(Eigen::FFT<double>::HalfSpectrum);
        fft_.SetFlag(Eigen::FFT<double>::Unscaled);
    }
    double* real() { return real_.get(); }
    std::complex<double>* spectrum() { return spectrum_.data(); }
    void forward() { fft_.fwd(spectrum_.data(), real_.get(), length_); }
    /// The inverse, unscaled.
    void inverse() { fft_.inv(real_.get(), spectrum_.data(), length_); }

private:
    Eigen::Index length_;
    Eigen::FFT<double> fft_;
    std::unique_ptr<double[], aligned_free_deleter<double>> real_;
    std::vector<std::complex<double>> spectrum_;
};
#endif

}  // namespace detail

/// The length a series of n values is zero-padded to for its autocovariance
/// at lags 0 .. lags-1: the smallest multiple of 4 that is at least n + lags
/// (so the circular correlation equals the linear one at those lags) and has
/// no prime factor above 5 (0 for n = 0). All lags (the default): at least 2n.
inline Eigen::Index autocovariance_fft_length(Eigen::Index n, Eigen::Index lags = -1) {
    if (n <= 0) return 0;
    if (lags < 0 || lags > n) lags = n;
    auto smooth = [](Eigen::Index m) {
        for (const Eigen::Index p : {2, 3, 5})
            while (m % p == 0) m /= p;
        return m == 1;
    };
    Eigen::Index length = (n + lags + 3) / 4 * 4;
    while (!smooth(length)) length += 4;
    return length;
}

/// Autocovariances of series of one length, reusing the FFT's plan and
/// buffers (one object per thread).
/// @code
///   autocovariance_transform transform(steps);
///   for (...) acov = transform(series);            // one series
///   // or: sum weighted power spectra, then one inverse transform
///   transform.power_spectrum(series);              // |FFT(series - mean)|^2
///   transform.autocovariance_of(summed_spectrum, acov);
/// @endcode
class autocovariance_transform {
public:
    /// @param length the number of values of every series given
    /// @param lags   the autocovariances wanted, at lags 0 .. lags-1 (at most
    ///        length, the default): fewer lags need less padding, so shorter
    ///        transforms
    explicit autocovariance_transform(Eigen::Index length, Eigen::Index lags = -1)
        : length_(length), lags_(lags < 0 || lags > length ? length : lags),
          padded_(autocovariance_fft_length(length, lags_)), fft_(padded_) {
        power_.assign(static_cast<std::size_t>(frequencies()), 0.0);
    }

    Eigen::Index length() const { return length_; }
    /// The number of lags autocovariance_of gives.
    Eigen::Index lags() const { return lags_; }
    /// Length of the zero-padded series the transforms work on.
    Eigen::Index padded_length() const { return padded_; }
    /// Entries of a power spectrum: padded_length() / 2 + 1.
    Eigen::Index frequencies() const { return padded_ == 0 ? 0 : padded_ / 2 + 1; }

    /// The power spectrum |FFT(series - mean)|^2 of the zero-padded series
    /// (frequencies() entries; valid until the next call), and in
    /// `sum_of_squares` the centred series' sum of squares (n times the
    /// lag-0 autocovariance).
    /// (`series` may be strided, e.g. one parameter's row of a chain stored
    /// a draw per column: it is read once, into the transform's buffer.)
    template <class Series>
    const std::vector<double>& power_spectrum(const Eigen::MatrixBase<Series>& series, double& sum_of_squares) {
        sum_of_squares = transform(series);
        const std::complex<double>* spectrum = fft_.spectrum();
        for (std::size_t k = 0; k < power_.size(); ++k) power_[k] = std::norm(spectrum[k]);
        return power_;
    }

    /// Adds the series' power spectrum over its sum of squares (the spectrum
    /// of its autocorrelation function, times n) to `sum` (frequencies()
    /// entries), and returns the sum of squares; a constant series (sum of
    /// squares 0) adds nothing. One pass over the spectrum, for summing many
    /// series' autocorrelations before one inverse transform.
    template <class Series>
    double add_normalised_power(const Eigen::MatrixBase<Series>& series, std::vector<double>& sum) {
        const double sum_of_squares = transform(series);
        if (!(sum_of_squares > 0.0)) return sum_of_squares;
        const double inverse = 1.0 / sum_of_squares;
        const std::complex<double>* spectrum = fft_.spectrum();
        for (std::size_t k = 0; k < sum.size(); ++k) sum[k] += std::norm(spectrum[k]) * inverse;
        return sum_of_squares;
    }

    /// The biased autocovariance at lags 0 .. lags()-1 of a series whose power
    /// spectrum is `power` (or, by linearity, the same weighted sum of
    /// autocovariances as `power` is of power spectra), into `out`.
    /// @param power frequencies() entries
    void autocovariance_of(const std::vector<double>& power, Eigen::VectorXd& out) {
        std::complex<double>* spectrum = fft_.spectrum();
        for (std::size_t k = 0; k < power_.size(); ++k) spectrum[k] = power[k];
        fft_.inverse();
        padding_is_zero_ = false;  // the inverse wrote the whole real buffer
        // The inverse is unscaled: 1 / padded_length, and 1 / n for the estimate.
        const double scale = 1.0 / (static_cast<double>(padded_) * static_cast<double>(length_));
        out = Eigen::Map<const Eigen::VectorXd>(fft_.real(), lags_) * scale;
    }

    /// Biased autocovariance (divided by n) of `series` at lags 0 .. lags()-1.
    Eigen::VectorXd operator()(const Eigen::Ref<const Eigen::VectorXd>& series) {
        double sum_of_squares = 0.0;
        power_spectrum(series, sum_of_squares);
        Eigen::VectorXd result;
        autocovariance_of(power_, result);
        return result;
    }

private:
    /// The series' centred copy, zero-padded, through the forward transform
    /// (into fft_.spectrum()); returns its sum of squares. The series is read
    /// once, then centred in the buffer.
    template <class Series>
    double transform(const Eigen::MatrixBase<Series>& series) {
        Eigen::Map<Eigen::VectorXd> centred(fft_.real(), length_);
        centred = series;
        centred.array() -= centred.mean();
        const double sum_of_squares = centred.squaredNorm();
        if (!padding_is_zero_) {
            std::fill(fft_.real() + length_, fft_.real() + padded_, 0.0);
            padding_is_zero_ = true;  // (the forward transform leaves its input as it is)
        }
        fft_.forward();
        return sum_of_squares;
    }

    Eigen::Index length_, lags_, padded_;
    detail::real_fft fft_;
    std::vector<double> power_;
    bool padding_is_zero_ = false;
};

/// Biased autocovariance estimate (divided by n, as in Geyer 1992 and Stan)
/// of a series at lags 0 .. n-1, computed in O(n log n) by FFT (see
/// autocovariance_transform, which serves many series of one length faster).
/// The mean is removed first. An empty series gives an empty result.
inline Eigen::VectorXd autocovariance(const Eigen::Ref<const Eigen::VectorXd>& series) {
    if (series.size() == 0) return {};
    return autocovariance_transform(series.size())(series);
}

}  // namespace diskmc
