#pragma once
// Autocovariance of a chain by FFT: the shared building block of the
// integrated autocorrelation time (ensemble) and the effective sample size
// (NUTS).

#include <Eigen/Core>
#include <complex>
#include <unsupported/Eigen/FFT>
#include <vector>

namespace diskmc {

/// Biased autocovariance estimate (divided by n, as in Geyer 1992 and Stan)
/// of a series at lags 0 .. n-1, computed in O(n log n) by zero-padding to a
/// power of two of at least 2n (so the circular correlation equals the linear
/// one). The mean is removed first. An empty series gives an empty result.
inline Eigen::VectorXd autocovariance(const Eigen::Ref<const Eigen::VectorXd>& series) {
    const Eigen::Index n = series.size();
    if (n == 0) return {};
    Eigen::Index padded = 1;
    while (padded < 2 * n) padded *= 2;

    std::vector<double> centred(static_cast<std::size_t>(padded), 0.0);
    const double mean = series.mean();
    for (Eigen::Index i = 0; i < n; ++i) centred[static_cast<std::size_t>(i)] = series[i] - mean;

    Eigen::FFT<double> fft;
    std::vector<std::complex<double>> spectrum;
    fft.fwd(spectrum, centred);
    for (auto& c : spectrum) c = std::norm(c);
    std::vector<double> correlation;
    fft.inv(correlation, spectrum);

    Eigen::VectorXd result(n);
    for (Eigen::Index k = 0; k < n; ++k)
        result[k] = correlation[static_cast<std::size_t>(k)] / static_cast<double>(n);
    return result;
}

}  // namespace diskmc
