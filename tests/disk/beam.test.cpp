// Beam convolution: eddy's kernel, its edge and NaN behaviour against a
// direct transcription of the formula, and the adjoint identity.

#include <catch2/catch.hpp>

// diskmc first: its headers bring <Eigen/Core> in (see diskmc/detail/eigen.hpp).
#include "diskmc/disk.hpp"
#include "support/throws.hpp"

#include <cmath>
#include <limits>
#include <random>
#include <unsupported/Eigen/AutoDiff>

using namespace diskmc;

namespace {

constexpr double missing = std::numeric_limits<double>::quiet_NaN();

/// The formula of tests/data/eddy/README.md transcribed literally: the
/// padded plane has weight 1 outside the image, NaN pixels weight 0.
Eigen::ArrayXXd reference_convolution(const Eigen::ArrayXXd& image, const Eigen::ArrayXXd& kernel) {
    const Eigen::Index rows = image.rows(), cols = image.cols(), n = kernel.rows(), c = n / 2;
    Eigen::ArrayXXd out(rows, cols);
    for (Eigen::Index i = 0; i < cols; ++i)
        for (Eigen::Index j = 0; j < rows; ++j) {
            if (std::isnan(image(j, i))) {
                out(j, i) = missing;
                continue;
            }
            double numerator = 0.0, weight = 0.0;
            for (Eigen::Index b = 0; b < n; ++b)
                for (Eigen::Index a = 0; a < n; ++a) {
                    // convolution: kernel offset (a - c, b - c) takes the value at p - offset
                    const Eigen::Index sj = j - (a - c), si = i - (b - c);
                    const bool inside = sj >= 0 && sj < rows && si >= 0 && si < cols;
                    const double value = inside ? image(sj, si) : 0.0;
                    if (std::isnan(value)) continue;
                    numerator += kernel(a, b) * value;
                    weight += kernel(a, b);
                }
            out(j, i) = numerator / weight;
        }
    return out;
}

/// A random image with NaN pixels at a corner, an edge and inside.
Eigen::ArrayXXd holey_image(Eigen::Index rows, Eigen::Index cols, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> normal(5000.0, 2000.0);
    Eigen::ArrayXXd image(rows, cols);
    for (Eigen::Index k = 0; k < image.size(); ++k)
        image.data()[k] = normal(rng);
    image(0, 0) = missing;
    image(rows - 1, 3) = missing;
    image(rows / 3, cols - 1) = missing;
    image(rows / 2, cols / 2) = missing;
    image(rows / 2 + 1, cols / 2) = missing;
    return image;
}

double sum_over_finite(const Eigen::ArrayXXd& a, const Eigen::ArrayXXd& b) {
    return (a.isFinite() && b.isFinite()).select(a * b, 0.0).sum();
}

}  // namespace

TEST_CASE("the beam kernel is astropy's Gaussian2DKernel as eddy builds it", "[disk][beam]") {
    const Eigen::ArrayXXd kernel = beam_kernel(beam_shape{0.25, 0.18, 30.0}, 0.04);
    // y_stddev = 0.25 / 0.04 / 2.3548 = 2.654: n = ceil(21.2) = 22, rounded up to odd
    REQUIRE(kernel.rows() == 23);
    REQUIRE(kernel.cols() == 23);
    CHECK(kernel.sum() == Approx(1.0).epsilon(1e-15));
    CHECK((kernel - kernel.reverse()).abs().maxCoeff() <= 1e-18);  // point-symmetric
    Eigen::Index row = 0, col = 0;
    kernel.maxCoeff(&row, &col);
    CHECK(row == 11);
    CHECK(col == 11);
    // bpa = 0: the major axis (bmaj) along y (rows), so the kernel is taller than wide
    const Eigen::ArrayXXd upright = beam_kernel(beam_shape{0.3, 0.1, 0.0}, 0.05);
    const Eigen::Index mid = upright.rows() / 2;
    CHECK(upright(mid + 2, mid) > upright(mid, mid + 2));
    // a beam far below a pixel is the identity
    CHECK(beam_kernel(beam_shape{0.01, 0.01, 0.0}, 1.0).size() == 1);
}

TEST_CASE("convolution matches the formula: zeros outside count, NaN pixels are missing",
          "[disk][beam]") {
    const Eigen::ArrayXXd kernel = beam_kernel(beam_shape{0.3, 0.2, 65.0}, 0.06);
    const beam_convolution beam(kernel);
    for (const auto& [rows, cols] :
         {std::pair<Eigen::Index, Eigen::Index>{37, 29}, {64, 70}, {5, 40}}) {
        const Eigen::ArrayXXd image = holey_image(rows, cols, 7);
        const Eigen::ArrayXXd got = beam.apply(image);
        const Eigen::ArrayXXd want = reference_convolution(image, kernel);
        CHECK((got.isNaN() == image.isNaN()).all());
        const double error = (want.isNaN()).select(0.0, got - want).abs().maxCoeff();
        INFO(rows << "x" << cols << ": max |direct - formula| " << error);
        CHECK(error <= 1e-10);  // values ~5000
    }
    SECTION("a constant image keeps its value inside, even next to holes, and sinks at the edges") {
        Eigen::ArrayXXd flat = Eigen::ArrayXXd::Constant(40, 40, 100.0);
        flat(20, 20) = missing;
        const Eigen::ArrayXXd out = beam.apply(flat);
        CHECK(out(20, 21) == Approx(100.0).epsilon(1e-13));
        CHECK(out(15, 15) == Approx(100.0).epsilon(1e-13));
        CHECK(out(20, 19) == Approx(100.0).epsilon(1e-13));
        CHECK(out(0, 0) < 60.0);
        CHECK(out(0, 20) < 90.0);
        CHECK(std::isnan(out(20, 20)));
    }
    SECTION("any scalar type: the generic path equals the vectorised one") {
        using ad = Eigen::AutoDiffScalar<Eigen::VectorXd>;
        const Eigen::ArrayXXd image = holey_image(12, 15, 3);
        Eigen::Array<ad, Eigen::Dynamic, Eigen::Dynamic> dual(12, 15);
        for (Eigen::Index k = 0; k < image.size(); ++k)
            dual.data()[k] = ad(image.data()[k], Eigen::VectorXd::Constant(1, 1.0));
        const auto out = beam.apply(dual);
        const Eigen::ArrayXXd plain = beam.apply(image);
        // d out / d (every input at once) = A applied to ones: 1 inside, less
        // near the edges where the padding zeros take weight
        const Eigen::ArrayXXd slope =
            beam.apply(image.isNaN().select(missing, Eigen::ArrayXXd::Ones(12, 15)));
        for (Eigen::Index k = 0; k < image.size(); ++k) {
            if (std::isnan(plain.data()[k])) {
                CHECK(std::isnan(out.data()[k].value()));
                continue;
            }
            CHECK(out.data()[k].value() == Approx(plain.data()[k]).epsilon(1e-13));
            CHECK(out.data()[k].derivatives()[0] == Approx(slope.data()[k]).epsilon(1e-13));
        }
    }
}

TEST_CASE("the adjoint satisfies <A x, y> = <x, A^T y>", "[disk][beam]") {
    std::mt19937 rng(42);
    std::normal_distribution<double> normal;
    for (const double bmaj : {0.15, 0.3}) {
        const beam_convolution beam(beam_kernel(beam_shape{bmaj, 0.7 * bmaj, 95.0}, 0.052));
        for (const bool holes : {false, true}) {
            DYNAMIC_SECTION("bmaj " << bmaj << ", NaN pixels " << holes) {
                const Eigen::ArrayXXd x = holes ? holey_image(33, 41, 11)
                                                : Eigen::ArrayXXd(Eigen::ArrayXXd::Random(33, 41));
                Eigen::ArrayXXd y(33, 41);
                for (Eigen::Index k = 0; k < y.size(); ++k)
                    y.data()[k] = normal(rng);
                const Eigen::ArrayXXd ax = beam.apply(x);
                const Eigen::ArrayXXd aty = beam.apply_adjoint(x, y);
                const double left = sum_over_finite(ax, y);  // NaN outputs are constants
                const double right = sum_over_finite(x, aty);
                INFO("<Ax, y> = " << left << ", <x, A^T y> = " << right);
                CHECK(std::abs(left - right) <=
                      1e-13 * (ax.isFinite().select(ax, 0.0).abs() * y.abs()).sum());
                // missing pixels: the adjoint is zero there and ignores the cotangent there
                CHECK(x.isNaN().select(aty, 0.0).abs().maxCoeff() == 0.0);
                const Eigen::ArrayXXd y_poisoned = x.isNaN().select(missing, y);
                CHECK((beam.apply_adjoint(x, y_poisoned) - aty).abs().maxCoeff() == 0.0);
                // and it is the transpose of the dense matrix of A, column by column
                Eigen::ArrayXXd unit = x.isNaN().select(missing, Eigen::ArrayXXd::Zero(33, 41));
                for (const auto& [j, i] :
                     {std::pair<Eigen::Index, Eigen::Index>{0, 1}, {32, 40}, {16, 3}}) {
                    unit(j, i) = 1.0;
                    const Eigen::ArrayXXd column = beam.apply(unit);  // A e_(j,i)
                    unit(j, i) = 0.0;
                    CHECK(std::abs(sum_over_finite(column, y) - aty(j, i)) <= 1e-13);
                }
            }
        }
    }
    SECTION("free functions") {
        const Eigen::ArrayXXd kernel = beam_kernel(beam_shape{0.2, 0.2, 0.0}, 0.05);
        const Eigen::ArrayXXd x = holey_image(20, 20, 5), y = Eigen::ArrayXXd::Random(20, 20);
        const Eigen::ArrayXXd difference =
            convolve_beam(x, kernel) - beam_convolution(kernel).apply(x);
        CHECK((difference.isNaN() || difference == 0.0).all());
        CHECK((convolve_beam_adjoint(x, y, kernel) - beam_convolution(kernel).apply_adjoint(x, y))
                  .abs()
                  .maxCoeff() == 0.0);
    }
}

TEST_CASE("bad kernels and beams throw invalid_input", "[disk][beam]") {
    CHECK_THROWS_MATCHES(beam_convolution(Eigen::ArrayXXd::Ones(4, 4)), invalid_input,
                         diskmc::testing::message_contains("odd square"));
    CHECK_THROWS_AS(beam_convolution(Eigen::ArrayXXd::Ones(3, 5)), invalid_input);
    Eigen::ArrayXXd bad = Eigen::ArrayXXd::Ones(3, 3);
    bad(1, 1) = missing;
    CHECK_THROWS_MATCHES(beam_convolution(bad), invalid_input,
                         diskmc::testing::message_contains("finite"));
    CHECK_THROWS_MATCHES(beam_convolution(Eigen::ArrayXXd::Zero(3, 3)), invalid_input,
                         diskmc::testing::message_contains("positive sum"));
    CHECK_THROWS_MATCHES(beam_kernel(beam_shape{-1.0, 0.1, 0.0}, 0.1), invalid_input,
                         diskmc::testing::message_contains("bmaj"));
    CHECK_THROWS_MATCHES(beam_kernel(beam_shape{0.2, 0.1, 0.0}, 0.0), invalid_input,
                         diskmc::testing::message_contains("pixel_size"));
    const sky_grid no_beam = sky_grid::from_header(
        {.nx = 8, .ny = 8, .cdelt1 = -1e-5, .cdelt2 = 1e-5, .beam = std::nullopt});
    CHECK_THROWS_MATCHES(beam_kernel(no_beam), invalid_input,
                         diskmc::testing::message_contains("no beam"));
    const sky_grid oblong = sky_grid::from_header(
        {.nx = 8, .ny = 8, .cdelt1 = -2e-5, .cdelt2 = 1e-5, .beam = beam_shape{0.2, 0.1, 0.0}});
    CHECK_THROWS_MATCHES(beam_kernel(oblong), invalid_input,
                         diskmc::testing::message_contains("square pixels"));
    const beam_convolution beam(Eigen::ArrayXXd::Ones(3, 3));
    CHECK_THROWS_AS(beam.apply_adjoint(Eigen::ArrayXXd::Zero(4, 4), Eigen::ArrayXXd::Zero(4, 5)),
                    invalid_input);
}

TEST_CASE("beam sizes that overflow the kernel's width are refused, naming bmaj, bmin and the pixel",
          "[disk][beam]") {
    using Catch::Matchers::Contains;
    // BMAJ = 1e300: the width 8 sigma / pixel was a signed overflow.
    REQUIRE_THROWS_WITH(beam_kernel(beam_shape{1e300, 0.5, 0.0}, 0.25),
                        Contains("beam_kernel") && Contains("bmaj 1.0000000000000001e+300") &&
                            Contains("bmin 0.5") && Contains("pixel_size 0.25") &&
                            Contains("[1, 4097]"));
    // Finite sizes whose ratio overflows to infinity.
    REQUIRE_THROWS_WITH(beam_kernel(beam_shape{1e300, 1e300, 0.0}, 1e-300), Contains("is inf"));
    // Wider than the sane limit, though finite.
    REQUIRE_THROWS_WITH(beam_kernel(beam_shape{2000.0, 1000.0, 0.0}, 0.5), Contains("[1, 4097]"));
    CHECK(beam_kernel(beam_shape{600.0, 600.0, 0.0}, 0.5).rows() == 4077);  // ceil(4076.4), odd
    // Far below a pixel: the kernel is the identity, not 0 / 0.
    const Eigen::ArrayXXd point = beam_kernel(beam_shape{1e-300, 1e-300, 10.0}, 0.25);
    REQUIRE(point.rows() == 1);
    CHECK(point(0, 0) == 1.0);
    // One axis far below a pixel beside a wide one: no finite kernel.
    REQUIRE_THROWS_WITH(beam_kernel(beam_shape{1.0, 1e-300, 0.0}, 0.25),
                        Contains("no finite kernel") && Contains("bmin 1e-300"));
}

TEST_CASE("a beam kernel wider than the map is refused, naming the map", "[disk][beam]") {
    using Catch::Matchers::Contains;
    // 20 x 20 pixels of 0.1": a 1" beam needs ceil(8 x 1 / 2.3548 / 0.1) = 34 -> 35 pixels.
    const sky_grid small = sky_grid::from_header(
        {.nx = 20, .ny = 20, .cdelt1 = -0.1 / 3600, .cdelt2 = 0.1 / 3600, .beam = beam_shape{1.0, 1.0, 0.0}});
    REQUIRE_THROWS_WITH(beam_kernel(small), Contains("on a 20x20 map") && Contains("is 34") &&
                                                Contains("[1, 21]") && Contains("bmaj 1"));
    // The same beam fits a 40 x 40 map.
    const sky_grid larger = sky_grid::from_header(
        {.nx = 40, .ny = 40, .cdelt1 = -0.1 / 3600, .cdelt2 = 0.1 / 3600, .beam = beam_shape{1.0, 1.0, 0.0}});
    CHECK(beam_kernel(larger).rows() == 35);
}
