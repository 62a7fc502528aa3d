// The beam convolution by FFT (FFTW) against the direct one of
// disk/beam.hpp: the same operator and adjoint to ~1e-12, with and without
// missing pixels, for small and large kernels. Built only with diskmc::fftw.
#ifdef DISKMC_TESTS_WITH_FFTW

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "diskmc/disk/beam.hpp"
#include "diskmc/fftw/beam_convolution.hpp"

namespace {

/// max |a - b| over the finite entries, relative to max |b|; NaN where b is.
double relative_difference(const Eigen::ArrayXXd& a, const Eigen::ArrayXXd& b) {
    REQUIRE((a.isNaN() == b.isNaN()).all());
    const Eigen::ArrayXXd a0 = a.isNaN().select(0.0, a), b0 = b.isNaN().select(0.0, b);
    return (a0 - b0).abs().maxCoeff() / b0.abs().maxCoeff();
}

}  // namespace

TEST_CASE("fftw beam convolution equals the direct one", "[fftw][beam]") {
    const double pixel_size = 0.052;
    for (const double bmaj : {0.15, 0.32, 0.49}) {  // 11 x 11, 21 x 21, 33 x 33 kernels
        const Eigen::ArrayXXd kernel = diskmc::beam_kernel(diskmc::beam_shape{bmaj, 0.8 * bmaj, 95.0}, pixel_size);
        const diskmc::beam_convolution direct(kernel);
        for (const bool with_missing : {false, true}) {
            const Eigen::Index rows = 71, cols = 53;
            Eigen::ArrayXXd image = Eigen::ArrayXXd::Random(rows, cols) * 3000.0 + 5000.0;
            const Eigen::ArrayXXd cotangent = Eigen::ArrayXXd::Random(rows, cols);
            if (with_missing) {
                image(0, 0) = image(30, 20) = image(31, 20) = image(70, 52) = std::numeric_limits<double>::quiet_NaN();
                image.block(40, 5, 6, 9) = std::numeric_limits<double>::quiet_NaN();
            }
            INFO(kernel.rows() << " x " << kernel.cols() << " kernel" << (with_missing ? ", missing pixels" : ""));
            const diskmc::fftw::beam_convolution fft(kernel, rows, cols);
            Eigen::ArrayXXd by_fft, by_fft_adjoint;
            fft.apply(image, by_fft);
            fft.apply_adjoint(image, cotangent, by_fft_adjoint);
            CHECK(relative_difference(by_fft, direct.apply(image)) < 1e-12);
            CHECK(relative_difference(by_fft_adjoint, direct.apply_adjoint(image, cotangent)) < 1e-12);
            // <A x, y> = <x, A^T y> over the pixels that are not missing.
            const Eigen::ArrayXXd x = image.isNaN().select(std::numeric_limits<double>::quiet_NaN(),
                                                           Eigen::ArrayXXd::Random(rows, cols));
            Eigen::ArrayXXd ax, aty;
            fft.apply(x, ax);
            fft.apply_adjoint(x, cotangent, aty);
            const double left = (x.isNaN().select(0.0, ax) * cotangent).sum();
            const double right = (x.isNaN().select(0.0, x) * aty).sum();
            CHECK(std::abs(left - right) < 1e-12 * std::abs(left) + 1e-12);
        }
    }
}

TEST_CASE("fftw beam convolution: bad input", "[fftw][beam]") {
    CHECK_THROWS_WITH(diskmc::fftw::beam_convolution(Eigen::ArrayXXd::Ones(2, 2), 10, 10),
                      Catch::Contains("odd square"));
    const diskmc::fftw::beam_convolution fft(Eigen::ArrayXXd::Ones(3, 3), 10, 12);
    Eigen::ArrayXXd out;
    CHECK_THROWS_WITH(fft.apply(Eigen::ArrayXXd::Zero(12, 10), out), Catch::Contains("plans are for 10x12"));
}

#endif
