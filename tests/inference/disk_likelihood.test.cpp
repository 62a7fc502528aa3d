// The disk likelihood: eddy's own values, the fast gradient against the
// reference autodiff and finite differences (with and without the beam, at
// cavity edges), thread invariance, and bad input.

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

#include "diskmc/autodiff/gradient.hpp"
#include "diskmc/disk.hpp"
#include "diskmc/inference/disk_likelihood.hpp"
#include "diskmc/inference/posterior.hpp"
#include "support/eddy_likelihood_fixture.hpp"
#include "support/gradient_check.hpp"
#include "support/shared_data.hpp"

using namespace diskmc;
using Catch::Matchers::Contains;

namespace {

// Full vector of disk_family<> in its order: x0, y0, inc, PA, vlsr, z0, psi,
// r_cavity, r_taper, q_taper, mstar, dist.
Eigen::VectorXd full_vector(double inc, double pa, double mstar, double vlsr, double z0, double psi,
                            double r_cavity = 0.0, double r_taper = 2.5, double q_taper = 2.0, double x0 = 0.0,
                            double y0 = 0.0, double dist = 101.0) {
    Eigen::VectorXd full(12);
    full << x0, y0, inc, pa, vlsr, z0, psi, r_cavity, r_taper, q_taper, mstar, dist;
    return full;
}

/// A small non-square noisy map of the flared model, with a beam, NaN data in
/// a corner and a zero uncertainty, for the gradient tests.
sky_map synthetic_map(const Eigen::VectorXd& truth) {
    const grid_header header{.nx = 36, .ny = 30, .cdelt1 = -0.1 / 3600, .cdelt2 = 0.1 / 3600,
                             .beam = beam_shape{.bmaj = 0.3, .bmin = 0.22, .bpa = 35.0}};
    sky_map map = make_sky_map(header, Eigen::ArrayXXd::Zero(30, 36), Eigen::ArrayXXd::Zero(30, 36));
    const disk_family<> family;
    const Eigen::ArrayXXd model = model_image(family.make<double>(truth), map.grid);
    std::mt19937_64 rng(7);
    std::normal_distribution<double> noise(0.0, 1.0);
    for (Eigen::Index p = 0; p < model.size(); ++p) {
        map.uncertainty(p) = 40.0 + 0.5 * static_cast<double>(p % 17);
        map.data(p) = model(p) + map.uncertainty(p) * noise(rng);
    }
    map.data.topLeftCorner(3, 4).setConstant(std::numeric_limits<double>::quiet_NaN());
    map.uncertainty(10, 20) = 0.0;
    return map;
}

double reference_gradient(const disk_likelihood<>& likelihood, const Eigen::VectorXd& full, Eigen::VectorXd& grad) {
    return autodiff::gradient(
        [&](const Eigen::Matrix<autodiff::var, Eigen::Dynamic, 1>& x) {
            return likelihood.log_likelihood<autodiff::var>(x);
        },
        full, grad);
}

}  // namespace

TEST_CASE("the likelihood is eddy's on its own fixture", "[inference][likelihood][fixtures]") {
    const auto data = diskmc::testing::shared_data_dir();
    if (!data) {
        WARN(diskmc::testing::skip_message("eddy likelihood fixture"));
        return;
    }
    const sky_map map = diskmc::testing::eddy_likelihood_map(*data / "eddy");
    const disk_family<> family;
    const Eigen::VectorXd start = full_vector(46.7, 133.3, 2.0, 5760.0, 0.3, 1.25);
    const auto mask = fit_mask(map, family.make<double>(start), {.r_min = 0.3, .r_max = 2.0});
    REQUIRE(mask.count() == 5266);
    const disk_likelihood<> likelihood(map, mask, family);
    REQUIRE(likelihood.pixel_count() == 5266);

    struct evaluation {
        Eigen::VectorXd full;
        double ln_likelihood;
    };
    // lnlike_case_b.json: truth, perturbed, thin_far.
    const evaluation evaluations[] = {
        {full_vector(46.7, 133.3, 2.0, 5760.0, 0.3, 1.25), -2691.8800322026736},
        {full_vector(45.0, 134.0, 2.05, 5750.0, 0.25, 1.3), -13683.42712654794},
        {full_vector(40.0, 130.0, 1.9, 5770.0, 0.1, 1.0), -131606.13011952606},
    };
    for (const auto& e : evaluations) {
        CHECK(likelihood.log_likelihood(e.full) == Approx(e.ln_likelihood).epsilon(1e-9));
        Eigen::VectorXd grad;
        CHECK(likelihood.log_likelihood_gradient(e.full, grad) == Approx(e.ln_likelihood).epsilon(1e-9));
        CHECK(grad.allFinite());
    }
}

TEST_CASE("the fast gradient matches reverse-mode autodiff and finite differences", "[inference][likelihood]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4, 0.0, 2.0, 2.2, 0.05, -0.03);
    const sky_map map = synthetic_map(truth);
    const disk_family<> family;
    const auto mask = fit_mask(map, family.make<double>(truth), {.r_min = 0.2, .r_max = 1.6});

    struct point {
        const char* name;
        Eigen::VectorXd full;
    };
    const point points[] = {
        {"ordinary", full_vector(41.0, 71.0, 1.25, 2990.0, 0.22, 1.3, 0.0, 2.1, 2.0, 0.04, -0.02)},
        // Pixels inside and at the cavity edge: the 0 log 0 of the surface.
        {"cavity", full_vector(41.0, 71.0, 1.25, 2990.0, 0.22, 1.3, 0.45, 2.1, 2.0, 0.04, -0.02)},
        // Far side, negative inclination, huge taper radius.
        {"far side", full_vector(-38.0, 69.0, 1.15, 3010.0, -0.2, 1.1, 0.0, 1e6, 2.0, -0.02, 0.01)},
    };
    for (bool beam : {false, true}) {
        const disk_likelihood<> likelihood(map, mask, family, {.convolve_beam = beam});
        for (const auto& [name, full] : points) {
            INFO((beam ? "beam, " : "no beam, ") << name);
            Eigen::VectorXd fast, reference;
            const double value = likelihood.log_likelihood_gradient(full, fast);
            const double reference_value = reference_gradient(likelihood, full, reference);
            CHECK(value == Approx(reference_value).epsilon(1e-12));
            CHECK(value == Approx(likelihood.log_likelihood(full)).epsilon(1e-12));
            const auto versus_reference = diskmc::testing::compare_gradients(fast, reference);
            INFO("fast " << fast.transpose() << "\nreference " << reference.transpose());
            CHECK(versus_reference.max_rel_error < 1e-9);
            const auto report = diskmc::testing::check_gradient_against_finite_differences(
                [&](const Eigen::VectorXd& x) { return likelihood.log_likelihood(x); }, full, value, fast);
            INFO(report.describe());
            CHECK(report.agrees_with_finite_difference(1e-6));
        }
    }
}

TEST_CASE("the likelihood does not depend on the thread count", "[inference][likelihood]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4);
    const sky_map map = synthetic_map(truth);
    const disk_family<> family;
    const auto mask = fit_mask(map, family.make<double>(truth), {.r_min = 0.0, .r_max = 10.0});
    for (bool beam : {false, true}) {
        const disk_likelihood<> one(map, mask, family, {.convolve_beam = beam, .threads = 1});
        const disk_likelihood<> two(map, mask, family, {.convolve_beam = beam, .threads = 2});
        Eigen::VectorXd g1, g2;
        CHECK(one.log_likelihood(truth) == two.log_likelihood(truth));
        CHECK(one.log_likelihood_gradient(truth, g1) == two.log_likelihood_gradient(truth, g2));
        CHECK(g1 == g2);
    }
}

TEST_CASE("the posterior of the disk likelihood: fast gradient against autodiff", "[inference][likelihood]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4);
    const sky_map map = synthetic_map(truth);
    const disk_family<> family;
    const auto mask = fit_mask(map, family.make<double>(truth), {.r_min = 0.2, .r_max = 1.6});
    const disk_likelihood<> likelihood(map, mask, family);
    using namespace diskmc::inference;
    const parameter_set parameters({free_parameter("x0", 0.01), free_parameter("PA", 70.5),
                                    free_parameter("mstar", 1.1), free_parameter("vlsr", 3005.0),
                                    free_parameter("z0", 0.2), free_parameter("psi", 1.3),
                                    fixed_parameter("inc", 40.0), fixed_parameter("dist", 101.0),
                                    fixed_parameter("r_taper", 2.5), fixed_parameter("q_taper", 2.0)});
    const auto posterior = inference::make_posterior(parameters, likelihood);
    const Eigen::VectorXd theta = (Eigen::VectorXd(6) << 0.01, 70.5, 1.1, 3005.0, 0.2, 1.3).finished();
    Eigen::VectorXd fast, reference;
    const double value = posterior.log_density_gradient(theta, fast);
    CHECK(value == Approx(posterior.log_density_gradient_autodiff(theta, reference)).epsilon(1e-12));
    CHECK(diskmc::testing::compare_gradients(fast, reference).max_rel_error < 1e-9);
}

TEST_CASE("bad likelihood input throws before any work", "[inference][likelihood]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4);
    sky_map map = synthetic_map(truth);
    Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> mask =
        Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>::Constant(30, 36, false);
    mask(15, 15) = true;
    CHECK_NOTHROW(disk_likelihood<>(map, mask));
    CHECK_THROWS_WITH(disk_likelihood<>(map, mask.topRows(29)), Contains("mask is 29x36") && Contains("30x36"));
    mask(0, 0) = true;  // NaN data
    CHECK_THROWS_WITH(disk_likelihood<>(map, mask), Contains("row 0, column 0") && Contains("data is not finite"));
    mask(0, 0) = false;
    mask(10, 20) = true;  // zero uncertainty
    CHECK_THROWS_WITH(disk_likelihood<>(map, mask), Contains("row 10, column 20") && Contains("uncertainty is 0"));
    mask.setConstant(false);
    CHECK_THROWS_WITH(disk_likelihood<>(map, mask), Contains("keeps no pixel"));
    mask(15, 15) = true;
    map.grid = sky_grid::from_header({.nx = 36, .ny = 30, .cdelt1 = -0.1 / 3600, .cdelt2 = 0.1 / 3600});
    CHECK_THROWS_WITH(disk_likelihood<>(map, mask, {}, {.convolve_beam = true}), Contains("no beam"));
}

TEST_CASE("a model NaN inside the mask is -infinity, never NaN", "[inference][likelihood]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4);
    const sky_map map = synthetic_map(truth);
    const disk_family<> family;
    const auto mask = fit_mask(map, family.make<double>(truth), {.r_min = 0.2, .r_max = 1.6});
    const disk_likelihood<> likelihood(map, mask, family);
    Eigen::VectorXd bad = truth;
    bad[10] = -1.0;  // negative mass: sqrt of a negative number
    CHECK(likelihood.log_likelihood(bad) == -std::numeric_limits<double>::infinity());
    Eigen::VectorXd grad;
    CHECK(likelihood.log_likelihood_gradient(bad, grad) == -std::numeric_limits<double>::infinity());
    CHECK(grad.allFinite());
}
