// The beam convolution by the faster algorithm (disk/grid_beam_convolution.hpp)
// and its use in the likelihood and model_image, built with diskmc::fftw:
// the FFT is chosen from 15 x 15 kernels, and the direct and FFT paths give
// the same convolution, model image, log-likelihood and gradient (every
// gradient path) to 1e-12 relative. Built only with diskmc::fftw.
#ifdef DISKMC_TESTS_WITH_FFTW

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "diskmc/disk.hpp"
#include "diskmc/disk/grid_beam_convolution.hpp"
#include "diskmc/fit/hd163296_like.hpp"
#include "diskmc/inference/disk_likelihood.hpp"
#include "support/gradient_check.hpp"

namespace {

/// max |a - b| / max |b| over the entries, NaN where both are.
double image_relative_difference(const Eigen::ArrayXXd& a, const Eigen::ArrayXXd& b) {
    REQUIRE((a.isNaN() == b.isNaN()).all());
    const Eigen::ArrayXXd a0 = a.isNaN().select(0.0, a), b0 = b.isNaN().select(0.0, b);
    return (a0 - b0).abs().maxCoeff() / b0.abs().maxCoeff();
}

/// The HD163296-like disk on 100 x 100 pixels of 0.052" under a beam of
/// `bmaj` (0.15": an 11 x 11 kernel; 0.49": 33 x 33), and eddy's mask.
struct wide_beam_problem {
    diskmc::sky_map map;
    Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> mask;
    explicit wide_beam_problem(double bmaj) : map(make_map(bmaj)) {
        mask = diskmc::fit_mask(map, diskmc::inference::disk_family<>{}.make<double>(
                                         diskmc::hd163296_like::full_vector(diskmc::hd163296_like::start())),
                                {.r_min = diskmc::hd163296_like::r_min});
    }
    static diskmc::sky_map make_map(double bmaj) {
        diskmc::grid_header header = diskmc::hd163296_like::grid();
        header.nx = header.ny = 100;
        header.beam = diskmc::beam_shape{bmaj, 0.8 * bmaj, 95.0};
        return diskmc::hd163296_like::map(true, 4242, header);
    }
};

/// Whether two gradients agree to rounding: 1e-12 relative entry by entry;
/// at the optimum (the truth, where the map is the model plus noise) the
/// gradient is a sum of noise-like terms that cancel to ~1e-3 of their size,
/// so rounding of the image (~1e-15 of its ~5000 m/s, against residuals of
/// ~25 m/s) shows there as ~2e-11 of its small entries (measured; 1e-14
/// away from it): there the bound is 1e-11 of its largest entry.
bool gradients_agree(const Eigen::VectorXd& gradient, const Eigen::VectorXd& reference, bool at_optimum) {
    if (!at_optimum) return diskmc::testing::compare_gradients(gradient, reference).max_rel_error < 1e-12;
    return (gradient - reference).cwiseAbs().maxCoeff() <= 1e-11 * reference.cwiseAbs().maxCoeff();
}

/// The truth, the start, and the start moved in y0, mstar and psi.
std::vector<Eigen::VectorXd> fft_test_points() {
    using namespace diskmc::hd163296_like;
    Eigen::VectorXd moved = full_vector(start());
    moved[1] -= 0.02;  // y0
    moved[10] *= 1.05;  // mstar
    moved[6] += 0.1;   // psi
    return {full_vector(truth()), full_vector(start()), moved};
}

}  // namespace

TEST_CASE("grid beam convolution: the FFT from 15 x 15 kernels, the same operator as the direct sums",
          "[fftw][beam]") {
    STATIC_REQUIRE(diskmc::beam_fft_available);
    for (const double bmaj : {0.15, 0.32, 0.49}) {  // 11 x 11, 21 x 21, 33 x 33
        const Eigen::ArrayXXd kernel = diskmc::beam_kernel(diskmc::beam_shape{bmaj, 0.8 * bmaj, 95.0}, 0.052);
        const Eigen::Index rows = 61, cols = 47;
        const diskmc::grid_beam_convolution automatic(kernel, rows, cols);
        const diskmc::grid_beam_convolution direct(kernel, rows, cols, diskmc::beam_algorithm::direct);
        const diskmc::grid_beam_convolution fft(kernel, rows, cols, diskmc::beam_algorithm::fft);
        INFO(kernel.rows() << " x " << kernel.rows() << " kernel");
        CHECK(automatic.by_fft() == (kernel.rows() >= diskmc::fftw::fft_pays_from_kernel_width));
        CHECK_FALSE(direct.by_fft());
        CHECK(fft.by_fft());
        Eigen::ArrayXXd image = Eigen::ArrayXXd::Random(rows, cols) * 3000.0 + 5000.0;
        image.block(20, 10, 4, 5) = std::numeric_limits<double>::quiet_NaN();
        const Eigen::ArrayXXd cotangent = Eigen::ArrayXXd::Random(rows, cols);
        Eigen::ArrayXXd by_direct, by_fft, adjoint_direct, adjoint_fft;
        direct.apply(image, by_direct);
        fft.apply(image, by_fft);
        direct.apply_adjoint(image, cotangent, adjoint_direct);
        fft.apply_adjoint(image, cotangent, adjoint_fft);
        CHECK(image_relative_difference(by_fft, by_direct) < 1e-12);
        CHECK(image_relative_difference(adjoint_fft, adjoint_direct) < 1e-12);
    }
    Eigen::ArrayXXd out;
    const diskmc::grid_beam_convolution small(Eigen::ArrayXXd::Ones(3, 3), 10, 12);
    CHECK_THROWS_WITH(small.apply(Eigen::ArrayXXd::Zero(12, 10), out), Catch::Contains("is for 10x12"));
}

TEST_CASE("model_image: the FFT and the direct convolution agree", "[fftw][beam]") {
    const wide_beam_problem p(0.49);
    const auto model = diskmc::inference::disk_family<>{}.make<double>(
        diskmc::hd163296_like::full_vector(diskmc::hd163296_like::truth()));
    const Eigen::ArrayXXd direct =
        diskmc::model_image(model, p.map.grid, {.convolve_beam = true, .beam = diskmc::beam_algorithm::direct});
    const Eigen::ArrayXXd fft =
        diskmc::model_image(model, p.map.grid, {.convolve_beam = true, .beam = diskmc::beam_algorithm::fft});
    const Eigen::ArrayXXd automatic = diskmc::model_image(model, p.map.grid, {.convolve_beam = true});
    CHECK(image_relative_difference(fft, direct) < 1e-12);
    CHECK((automatic == fft).all());  // 33 x 33: the FFT
}

TEST_CASE("disk likelihood: the FFT and the direct beam give the same value and gradient", "[fftw][beam][likelihood]") {
    using diskmc::beam_algorithm;
    for (const double bmaj : {0.15, 0.49}) {
        const wide_beam_problem p(bmaj);
        const auto likelihood_with = [&](beam_algorithm beam, diskmc::inference::gradient_path gradient) {
            return diskmc::inference::disk_likelihood<>(p.map, p.mask, {},
                                             {.convolve_beam = true, .gradient = gradient, .beam = beam});
        };
        // The direct sums with the streamed gradient: the reference.
        const auto direct = likelihood_with(beam_algorithm::direct, diskmc::inference::gradient_path::automatic);
        const auto fft = likelihood_with(beam_algorithm::fft, diskmc::inference::gradient_path::automatic);
        const auto fft_autodiff = likelihood_with(beam_algorithm::fft, diskmc::inference::gradient_path::tile_autodiff);
        const auto automatic = likelihood_with(beam_algorithm::automatic, diskmc::inference::gradient_path::automatic);
        const std::vector<Eigen::VectorXd> points = fft_test_points();
        for (std::size_t k = 0; k < points.size(); ++k) {
            const Eigen::VectorXd& full = points[k];
            const bool at_optimum = k == 0;  // the truth
            INFO("bmaj " << bmaj << "\", point " << full.transpose());
            const double value = direct.log_likelihood(full);
            REQUIRE(std::isfinite(value));
            CHECK(std::abs(fft.log_likelihood(full) - value) <= 1e-12 * std::abs(value));
            CHECK(automatic.log_likelihood(full) == (bmaj > 0.3 ? fft : direct).log_likelihood(full));
            Eigen::VectorXd reference, grad;
            const double with_gradient = direct.log_likelihood_gradient(full, reference);
            CHECK(std::abs(with_gradient - value) <= 1e-12 * std::abs(value));
            for (const auto* other : {&fft, &fft_autodiff}) {
                const double other_value = other->log_likelihood_gradient(full, grad);
                CHECK(std::abs(other_value - value) <= 1e-12 * std::abs(value));
                INFO(grad.transpose() << " against " << reference.transpose());
                CHECK(gradients_agree(grad, reference, at_optimum));
            }
            // The image the fit writes, and the Gauss-Newton pieces.
            CHECK(image_relative_difference(fft.model_image(full), direct.model_image(full)) < 1e-12);
            Eigen::VectorXd grad_direct, grad_fft;
            Eigen::MatrixXd curvature_direct, curvature_fft;
            direct.log_likelihood_normal_equations(full, grad_direct, curvature_direct);
            fft.log_likelihood_normal_equations(full, grad_fft, curvature_fft);
            CHECK(gradients_agree(grad_fft, grad_direct, at_optimum));
            CHECK(((curvature_fft - curvature_direct).array().abs() <=
                   1e-12 * curvature_direct.array().abs().maxCoeff())
                      .all());
        }
    }
}

#endif
