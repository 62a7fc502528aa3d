#include <catch2/catch.hpp>

#include <cmath>

#include "diskmc/diagnostics/autocovariance.hpp"

TEST_CASE("autocovariance by FFT equals the direct sum", "[diagnostics]") {
    Eigen::VectorXd x(37);
    for (int i = 0; i < x.size(); ++i) x[i] = std::sin(0.7 * i) + 0.01 * i * i;
    const Eigen::VectorXd acov = diskmc::autocovariance(x);
    const Eigen::VectorXd centred = x.array() - x.mean();
    REQUIRE(acov.size() == x.size());
    for (int k = 0; k < x.size(); ++k) {
        const double direct =
            centred.head(x.size() - k).dot(centred.tail(x.size() - k)) / x.size();
        CHECK(acov[k] == Approx(direct).margin(1e-12));
    }
    CHECK(diskmc::autocovariance(Eigen::VectorXd()).size() == 0);
}

TEST_CASE("autocovariance FFT lengths are 5-smooth multiples of 4 of at least 2n", "[diagnostics]") {
    CHECK(diskmc::autocovariance_fft_length(0) == 0);
    CHECK(diskmc::autocovariance_fft_length(1) == 4);
    CHECK(diskmc::autocovariance_fft_length(4000) == 8000);   // 2^6 5^3, not 8192
    CHECK(diskmc::autocovariance_fft_length(5000) == 10000);  // not 16384
    for (Eigen::Index n = 1; n < 3000; n += 7) {
        Eigen::Index m = diskmc::autocovariance_fft_length(n);
        CHECK(m >= 2 * n);
        CHECK(m % 4 == 0);
        CHECK(m < 2 * n + 2 * n / 5 + 8);  // the next 5-smooth multiple of 4 is near
        for (const Eigen::Index p : {2, 3, 5})
            while (m % p == 0) m /= p;
        CHECK(m == 1);
    }
}

TEST_CASE("one autocovariance transform reused on many series equals fresh ones and direct sums", "[diagnostics]") {
    const Eigen::Index n = 53;  // pads to 108 = 4 x 27: the radix-3 path
    diskmc::autocovariance_transform transform(n);
    CHECK(transform.padded_length() == 108);
    for (int series = 0; series < 3; ++series) {
        Eigen::VectorXd x(n);
        for (Eigen::Index i = 0; i < n; ++i) x[i] = std::cos(0.3 * (series + 1) * static_cast<double>(i)) + 1e-4 * static_cast<double>(i * i * series);
        const Eigen::VectorXd acov = transform(x);
        const Eigen::VectorXd centred = x.array() - x.mean();
        for (Eigen::Index k = 0; k < n; ++k) {
            const double direct = centred.head(n - k).dot(centred.tail(n - k)) / static_cast<double>(n);
            CHECK(acov[k] == Approx(direct).margin(1e-12));
        }
        CHECK((acov - diskmc::autocovariance(x)).cwiseAbs().maxCoeff() < 1e-14);
    }
}
