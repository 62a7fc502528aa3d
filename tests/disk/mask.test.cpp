// eddy's fit mask: the fixture of eddy's own likelihood run, and each rule.

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <numbers>

#include "diskmc/disk.hpp"
#include "support/eddy_likelihood_fixture.hpp"
#include "support/shared_data.hpp"
#include "support/throws.hpp"

using namespace diskmc;

namespace {

// The geometry of tests/data/eddy case b (also lnlike_case_b.json's mask_params).
disk_model<double> case_b_model() {
    return {.geometry = {.x0 = 0.0, .y0 = 0.0, .inc = 46.7, .PA = 133.3},
            .surface = {.z0 = 0.3, .psi = 1.25, .r_cavity = 0.0, .r_taper = 2.5, .q_taper = 2.0},
            .rotation = {.mstar = 2.0, .dist = 101.0},
            .vlsr = 5760.0};
}

}  // namespace

TEST_CASE("the fit mask is eddy's for its likelihood fixture", "[disk][mask][fixtures]") {
    using diskmc::testing::read_table;
    const auto eddy = diskmc::testing::eddy_data_dir();
    // lnlike_data/error.txt are the images as eddy holds them (already oriented).
    const sky_map map = diskmc::testing::eddy_likelihood_map(eddy);
    const Eigen::ArrayXXd expected = read_table(eddy / "lnlike_mask.txt");
    const auto mask = fit_mask(map, case_b_model(), {.r_min = 0.3, .r_max = 2.0});
    REQUIRE(mask.rows() == expected.rows());
    REQUIRE(mask.cols() == expected.cols());
    CHECK(mask.count() == 5266);
    CHECK((mask == (expected > 0.5)).all());
}

TEST_CASE("each mask rule does what eddy's does", "[disk][mask]") {
    const disk_model<double> model = case_b_model();
    grid_header header = diskmc::testing::eddy_case_b_header();
    header.nx = header.ny = 48;
    const sky_grid grid = sky_grid::from_header(header);
    const Eigen::ArrayXXd velocity = model_image(model, grid);
    Eigen::ArrayXXd uncertainty = Eigen::ArrayXXd::Constant(48, 48, 20.0);
    Eigen::ArrayXXd data = velocity;
    data(3, 4) = std::numeric_limits<double>::quiet_NaN();
    uncertainty(10, 12) = 0.0;
    uncertainty(11, 12) = std::numeric_limits<double>::quiet_NaN();
    uncertainty(12, 12) = std::numeric_limits<double>::infinity();
    const sky_map map{grid, data, uncertainty};
    const disk_coordinates c = deproject(model, grid);
    // finite data, uncertainty finite and > 0, and inside the default velocity
    // range (the fast inner pixels exceed 30 km/s)
    const auto good_uncertainty = uncertainty.isFinite() && uncertainty > 0.0;
    const auto usable = data.isFinite() && good_uncertainty && data >= -10000.0 && data <= 30000.0;
    REQUIRE_FALSE((data.isFinite() && data <= 30000.0).all());
    constexpr double degree = std::numbers::pi / 180.0;

    SECTION("defaults keep every usable pixel within 10\"") {
        const auto mask = fit_mask(map, model);
        CHECK((mask == (usable && c.r <= 10.0)).all());
        CHECK_FALSE(mask(3, 4));
        CHECK_FALSE(mask(10, 12));
        CHECK_FALSE(mask(11, 12));
        CHECK_FALSE(mask(12, 12));
        CHECK(unusable_uncertainty_count(map) == 3);  // zero, NaN and infinite, with finite data
    }
    SECTION("radius, and exclude_r") {
        const auto in = fit_mask(map, model, {.r_min = 0.3, .r_max = 0.8});
        CHECK((in == (usable && c.r >= 0.3 && c.r <= 0.8)).all());
        const auto out = fit_mask(map, model, {.r_min = 0.3, .r_max = 0.8, .exclude_r = true});
        CHECK((out == (usable && !(c.r >= 0.3 && c.r <= 0.8))).all());
    }
    SECTION("azimuth, exclude_phi and abs_phi (degrees in, radians inside)") {
        const auto in = fit_mask(map, model, {.phi_min = -45.0, .phi_max = 90.0});
        CHECK((in == (usable && c.phi >= -45.0 * degree && c.phi <= 90.0 * degree)).all());
        const auto out =
            fit_mask(map, model, {.phi_min = -45.0, .phi_max = 90.0, .exclude_phi = true});
        CHECK((out == (usable && !(c.phi >= -45.0 * degree && c.phi <= 90.0 * degree))).all());
        const auto folded =
            fit_mask(map, model, {.phi_min = 30.0, .phi_max = 120.0, .abs_phi = true});
        CHECK((folded == (usable && c.phi.abs() >= 30.0 * degree && c.phi.abs() <= 120.0 * degree))
                  .all());
        CHECK(folded.count() > in.count() / 4);
    }
    SECTION("data velocity range, and exclude_v") {
        const auto finite = data.isFinite() && good_uncertainty && c.r <= 10.0;
        const auto in = fit_mask(map, model, {.v_min = 5000.0, .v_max = 6500.0});
        CHECK((in == (finite && data >= 5000.0 && data <= 6500.0)).all());
        const auto out =
            fit_mask(map, model, {.v_min = 5000.0, .v_max = 6500.0, .exclude_v = true});
        CHECK((out == (finite && !(data >= 5000.0 && data <= 6500.0))).all());
        CHECK(out.count() > in.count());
    }
    SECTION("user mask") {
        Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> user =
            Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>::Constant(48, 48, true);
        user.leftCols(20).setConstant(false);
        const auto mask = fit_mask(map, model, {.user_mask = user});
        CHECK((mask == (usable && user && c.r <= 10.0)).all());
    }
    SECTION("bad input") {
        CHECK_THROWS_MATCHES(fit_mask(map, model, {.r_min = 2.0, .r_max = 1.0}), invalid_input,
                             diskmc::testing::message_contains("r range"));
        CHECK_THROWS_MATCHES(fit_mask(map, model, {.phi_min = std::nan("")}), invalid_input,
                             diskmc::testing::message_contains("phi range"));
        CHECK_THROWS_MATCHES(fit_mask(map, model, {.v_min = 1.0, .v_max = 0.0}), invalid_input,
                             diskmc::testing::message_contains("v range"));
        CHECK_THROWS_MATCHES(
            fit_mask(map, model,
                     {.user_mask = Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>::Constant(
                          3, 3, true)}),
            invalid_input, diskmc::testing::message_contains("user_mask"));
        CHECK_THROWS_MATCHES(fit_mask(sky_map{grid, data, {}}, model), invalid_input,
                             diskmc::testing::message_contains("uncertainty"));
        CHECK_THROWS_MATCHES(fit_mask(map, model, {.r_min = 50.0, .r_max = 60.0}), invalid_input,
                             diskmc::testing::message_contains("no pixel"));
        auto bad = model;
        bad.geometry.inc = std::nan("");
        CHECK_THROWS_MATCHES(fit_mask(map, bad), invalid_input,
                             diskmc::testing::message_contains("inc"));
    }
}

TEST_CASE("a mask with nothing to keep names the real cause", "[disk][mask]") {
    using Catch::Matchers::Contains;
    const disk_model<double> model = case_b_model();
    grid_header header = diskmc::testing::eddy_case_b_header();
    header.nx = header.ny = 24;
    const sky_grid grid = sky_grid::from_header(header);
    const Eigen::ArrayXXd velocity = model_image(model, grid);
    const Eigen::ArrayXXd good_uncertainty = Eigen::ArrayXXd::Constant(24, 24, 20.0);
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();

    // The data all NaN.
    const sky_map blank{grid, Eigen::ArrayXXd::Constant(24, 24, nan), good_uncertainty};
    REQUIRE_THROWS_WITH(fit_mask(blank, model),
                        Contains("fit_mask: the map's data has no finite pixel") && Contains("all 576"));
    // An uncertainty with no finite positive pixel: zeros, NaN, negative, infinite.
    Eigen::ArrayXXd bad_uncertainty = Eigen::ArrayXXd::Zero(24, 24);
    bad_uncertainty.col(0).setConstant(nan);
    bad_uncertainty.col(1).setConstant(-5.0);
    bad_uncertainty.col(2).setConstant(std::numeric_limits<double>::infinity());
    const sky_map unweighted{grid, velocity, bad_uncertainty};
    REQUIRE_THROWS_WITH(fit_mask(unweighted, model),
                        Contains("the uncertainty map has no finite pixel > 0") && Contains("all 576"));
    CHECK(unusable_uncertainty_count(unweighted) == 576);
    // Both have usable pixels, never the same one.
    Eigen::ArrayXXd left_data = velocity, right_uncertainty = good_uncertainty;
    left_data.rightCols(12).setConstant(nan);
    right_uncertainty.leftCols(12).setConstant(0.0);
    REQUIRE_THROWS_WITH(fit_mask(sky_map{grid, left_data, right_uncertainty}, model),
                        Contains("no pixel has both finite data and a finite uncertainty > 0"));
    // Usable pixels the rules leave out: the mask's own message.
    const sky_map good{grid, velocity, good_uncertainty};
    REQUIRE_THROWS_WITH(fit_mask(good, model, {.r_min = 50.0, .r_max = 60.0}),
                        Contains("the mask keeps no pixel") && Contains("rules leave out every pixel"));
    CHECK(fit_mask(good, model).any());
}
