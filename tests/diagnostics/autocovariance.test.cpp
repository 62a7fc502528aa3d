#include <catch2/catch.hpp>

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
