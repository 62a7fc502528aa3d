// The disk model and its images: eddy's fixtures, the benchmark set's
// noiseless models, symmetries, every parameter mattering, the gradient
// oracle against finite differences, and the generic per-pixel code run with
// every value type it is written for.

#include <catch2/catch.hpp>

// diskmc first: its headers bring <Eigen/Core> in (see diskmc/detail/eigen.hpp).
#include "../../examples/eddy_case.hpp"
#include "diskmc/disk.hpp"
#include "support/archetype_scalar.hpp"
#include "support/image_compare.hpp"
#include "support/shared_data.hpp"
#include "support/throws.hpp"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <tuple>
#include <unsupported/Eigen/AutoDiff>

using namespace diskmc;
using diskmc::testing::compare_images;

namespace {

constexpr double fixture_tolerance = 1e-9;

/// A small grid of n x n pixels of `pixel` arcsec, optionally with a beam.
sky_grid small_grid(Eigen::Index n, double pixel, std::optional<beam_shape> beam = {}) {
    return sky_grid::from_header(
        {.nx = n, .ny = n, .cdelt1 = -pixel / 3600.0, .cdelt2 = pixel / 3600.0, .beam = beam});
}

/// An elevated, tapered disk with a cavity (every surface parameter active).
template <class T = double>
disk_model<T> flared_model() {
    return {.geometry = {.x0 = T(0.03), .y0 = T(-0.02), .inc = T(40.0), .PA = T(130.0)},
            .surface = {.z0 = T(0.25),
                        .psi = T(1.3),
                        .r_cavity = T(0.25),
                        .r_taper = T(2.0),
                        .q_taper = T(2.2)},
            .rotation = {.mstar = T(1.8), .dist = T(110.0)},
            .vlsr = T(5000.0)};
}

double max_abs_difference(const Eigen::ArrayXXd& a, const Eigen::ArrayXXd& b) {
    return (a - b).abs().maxCoeff();
}

}  // namespace

TEST_CASE("model images, disk coordinates and the beam kernel match eddy's fixtures",
          "[disk][model_image][fixtures]") {
    const std::filesystem::path eddy = diskmc::testing::eddy_data_dir();
    using diskmc::testing::read_table;
    for (const char* name : {"a", "b", "f"}) {
        DYNAMIC_SECTION("case " << name) {
            const auto c = examples::read_eddy_case(eddy / ("case_" + std::string(name) + ".json"));
            const sky_grid grid = examples::grid_of(c);
            const auto image =
                compare_images(examples::render(c), read_table(eddy / c.files.at("image")));
            INFO("image: max relative difference " << image.max_relative);
            CHECK(image.same_shape);
            CHECK(image.same_nan_pixels);
            CHECK(image.max_relative <= fixture_tolerance);

            const disk_coordinates coordinates =
                examples::with_model(c, [&](const auto& model) { return deproject(model, grid); });
            for (const auto& [file, values] :
                 {std::pair{"r", &coordinates.r}, std::pair{"phi", &coordinates.phi},
                  std::pair{"z", &coordinates.z}}) {
                const auto d = compare_images(*values, read_table(eddy / c.files.at(file)));
                INFO(file << ": max relative difference " << d.max_relative);
                CHECK(d.same_shape);
                CHECK(d.same_nan_pixels);
                CHECK(d.max_relative <= fixture_tolerance);
            }
        }
    }
    SECTION("grid axes") {
        const auto c = examples::read_eddy_case(eddy / "case_b.json");
        const sky_grid grid = examples::grid_of(c);
        const Eigen::ArrayXXd x = read_table(eddy / "grid_xaxis.txt");
        const Eigen::ArrayXXd y = read_table(eddy / "grid_yaxis.txt");
        REQUIRE(x.size() == grid.nx());
        REQUIRE(y.size() == grid.ny());
        CHECK(compare_images(grid.x().matrix(), x.reshaped()).max_relative <= 1e-15);
        CHECK(compare_images(grid.y().matrix(), y.reshaped()).max_relative <= 1e-15);
    }
    SECTION("case f: kernel, and the image before convolution") {
        const auto c = examples::read_eddy_case(eddy / "case_f.json");
        const sky_grid grid = examples::grid_of(c);
        const auto kernel =
            compare_images(beam_kernel(grid), read_table(eddy / "case_f_kernel.txt"));
        INFO("kernel: max relative difference " << kernel.max_relative);
        CHECK(kernel.same_shape);
        CHECK(kernel.max_relative <= fixture_tolerance);
        auto unconvolved = c;
        unconvolved.convolve_beam = false;
        const auto image = compare_images(examples::render(unconvolved),
                                          read_table(eddy / "case_f_unconvolved.txt"));
        CHECK(image.max_relative <= fixture_tolerance);
    }
}

TEST_CASE("the benchmark set's noiseless models match eddy's", "[disk][model_image][fixtures]") {
    const auto data = diskmc::testing::shared_data_dir(
        {"bench/hd163296_like_model.txt", "bench/hd163296_like_beam_model.txt"});
    if (!data) {
        WARN(diskmc::testing::skip_message("benchmark set"));
        return;
    }
    // shared/data/bench/truth.json: 154 x 154 pixels of 0.052", CDELT1 < 0;
    // the header values as written in the data set's FITS files.
    const sky_grid grid = sky_grid::from_header(
        {.nx = 154,
         .ny = 154,
         .cdelt1 = -1.4444444444444E-05,
         .cdelt2 = 1.44444444444444E-05,
         .beam = beam_shape{4.16666666666666E-05 * 3600.0, 3.33333333333333E-05 * 3600.0, 95.0}});
    const disk_model<double> truth{
        .geometry = {.x0 = -0.0457, .y0 = -0.0359, .inc = 46.7, .PA = 312.6},
        .surface = {.z0 = 0.18, .psi = 1.99, .r_cavity = 0.0, .r_taper = 3.06, .q_taper = 2.41},
        .rotation = {.mstar = 1.905, .dist = 101.0},
        .vlsr = 5771.0};
    for (const bool beam : {false, true}) {
        const auto want = diskmc::testing::read_table(
            *data / "bench" / (beam ? "hd163296_like_beam_model.txt" : "hd163296_like_model.txt"));
        const auto d = compare_images(model_image(truth, grid, {.convolve_beam = beam}), want);
        INFO("beam " << beam << ": max relative difference " << d.max_relative);
        CHECK(d.same_shape);
        CHECK(d.same_nan_pixels);
        CHECK(d.max_relative <= fixture_tolerance);
    }
}

TEST_CASE("the model has eddy's symmetries", "[disk][model_image]") {
    const sky_grid grid = small_grid(40, 0.12);
    const auto model = flared_model();

    SECTION("(inc, z0) and (-inc, -z0) give the same image") {
        auto mirrored = model;
        mirrored.geometry.inc = -model.geometry.inc;
        mirrored.surface.z0 = -model.surface.z0;
        const auto d = compare_images(model_image(mirrored, grid), model_image(model, grid));
        CHECK(d.max_relative <= 1e-13);
        // ... while flipping only one of them moves the surface to the other side.
        auto far_side = model;
        far_side.surface.z0 = -model.surface.z0;
        CHECK(max_abs_difference(model_image(far_side, grid), model_image(model, grid)) > 10.0);
    }
    SECTION("inc >= 90 gives the image of inc - 180") {
        for (const double inc : {133.3, 90.5, 179.0}) {
            auto folded = model;
            folded.geometry.inc = inc - 180.0;
            auto unfolded = model;
            unfolded.geometry.inc = inc;
            const auto d = compare_images(model_image(unfolded, grid), model_image(folded, grid));
            INFO("inc " << inc << ": max relative difference " << d.max_relative);
            CHECK(d.max_relative <= 1e-11);
        }
    }
    SECTION("the thin disk does not depend on the sign of inc") {
        disk_model<double, thin_surface> thin{
            .geometry = model.geometry, .surface = {}, .rotation = model.rotation, .vlsr = 5000.0};
        auto mirrored = thin;
        mirrored.geometry.inc = -thin.geometry.inc;
        CHECK(compare_images(model_image(mirrored, grid), model_image(thin, grid)).max_relative <=
              1e-13);
    }
}

TEST_CASE("every model parameter changes the image", "[disk][model_image]") {
    const sky_grid grid = small_grid(32, 0.15);
    auto changes = [&](const auto& model, const auto& perturb) {
        auto other = model;
        perturb(other);
        const Eigen::ArrayXXd before = model_image(model, grid);
        const Eigen::ArrayXXd after = model_image(other, grid);
        REQUIRE(after.allFinite());
        return max_abs_difference(before, after);
    };
    using flared = disk_model<double>;
    const flared model = flared_model();
    const std::vector<std::pair<const char*, std::function<void(flared&)>>> flared_parameters{
        {"x0", [](flared& m) { m.geometry.x0 += 0.05; }},
        {"y0", [](flared& m) { m.geometry.y0 += 0.05; }},
        {"inc", [](flared& m) { m.geometry.inc += 2.0; }},
        {"PA", [](flared& m) { m.geometry.PA += 2.0; }},
        {"mstar", [](flared& m) { m.rotation.mstar *= 1.05; }},
        {"dist", [](flared& m) { m.rotation.dist *= 1.05; }},
        {"vlsr", [](flared& m) { m.vlsr += 10.0; }},
        {"z0", [](flared& m) { m.surface.z0 *= 1.1; }},
        {"psi", [](flared& m) { m.surface.psi *= 1.1; }},
        {"r_cavity", [](flared& m) { m.surface.r_cavity += 0.2; }},
        {"r_taper", [](flared& m) { m.surface.r_taper *= 1.1; }},
        {"q_taper", [](flared& m) { m.surface.q_taper *= 1.1; }},
        {"flared_niter", [](flared& m) { m.flared_niter = 2; }},
    };
    for (const auto& [name, perturb] : flared_parameters) {
        INFO("flared, Keplerian: " << name);
        CHECK(changes(model, perturb) > 0.01);
    }

    using gravitating =
        disk_model<double, flared_surface<double>, self_gravitating_rotation<double>>;
    const gravitating heavy{
        .geometry = model.geometry,
        .surface = model.surface,
        .rotation =
            {.mstar = 1.8, .dist = 110.0, .mdisk = 0.2, .gamma = 1.0, .r_in = 0.3, .r_out = 1.5},
        .vlsr = 5000.0};
    const std::vector<std::pair<const char*, std::function<void(gravitating&)>>> gravity_parameters{
        {"mstar", [](gravitating& m) { m.rotation.mstar *= 1.05; }},
        {"dist", [](gravitating& m) { m.rotation.dist *= 1.05; }},
        {"mdisk", [](gravitating& m) { m.rotation.mdisk *= 1.5; }},
        {"gamma", [](gravitating& m) { m.rotation.gamma = 0.5; }},
        {"r_in", [](gravitating& m) { m.rotation.r_in = 0.5; }},
        {"r_out", [](gravitating& m) { m.rotation.r_out = 1.2; }},
    };
    for (const auto& [name, perturb] : gravity_parameters) {
        INFO("self-gravitating: " << name);
        CHECK(changes(heavy, perturb) > 0.01);
    }

    using power = disk_model<double, thin_surface, power_law_rotation<double>>;
    const power power_law{.geometry = model.geometry,
                          .surface = {},
                          .rotation = {.vp_100 = 3000.0, .vp_q = -0.5, .dist = 110.0},
                          .vlsr = 5000.0};
    const std::vector<std::pair<const char*, std::function<void(power&)>>> power_parameters{
        {"vp_100", [](power& m) { m.rotation.vp_100 *= 1.05; }},
        {"vp_q", [](power& m) { m.rotation.vp_q = -0.45; }},
        {"dist", [](power& m) { m.rotation.dist *= 1.05; }},
    };
    for (const auto& [name, perturb] : power_parameters) {
        INFO("power law: " << name);
        CHECK(changes(power_law, perturb) > 0.01);
    }
}

TEST_CASE("rotation profiles follow their formulas", "[disk][model_image]") {
    using constants::astronomical_unit;
    using constants::gravitational_constant;
    using constants::solar_mass;
    const double dist = 120.0;
    auto kepler = [&](double mass, double r, double z) {  // eddy's _vkep, in metres
        const double r_m = r * astronomical_unit * dist, z_m = z * astronomical_unit * dist;
        return std::sqrt(gravitational_constant * mass * solar_mass * r_m * r_m /
                         std::pow(std::hypot(r_m, z_m), 3));
    };
    const self_gravitating_rotation<double> gravitating{
        .mstar = 1.2, .dist = dist, .mdisk = 0.3, .gamma = 0.8, .r_in = 0.4, .r_out = 2.5};
    const power_law_rotation<double> power{.vp_100 = 2500.0, .vp_q = -0.6, .dist = dist};
    const keplerian_rotation<double> point{.mstar = 1.2, .dist = dist};
    for (const double r : {0.1, 0.4, 0.9, 2.5, 4.0}) {
        const double z = 0.2 * r;
        CHECK(point.v_phi(r, z) == Approx(kepler(1.2, r, z)).epsilon(1e-14));
        const double e = 2.0 - 0.8;
        const double fraction = std::clamp(
            (std::pow(r, e) - std::pow(0.4, e)) / (std::pow(2.5, e) - std::pow(0.4, e)), 0.0, 1.0);
        CHECK(gravitating.v_phi(r, z) == Approx(kepler(1.2 + 0.3 * fraction, r, z)).epsilon(1e-14));
        CHECK(power.v_phi(r, z) ==
              Approx(2500.0 * std::pow(r * dist / 100.0, -0.6)).epsilon(1e-14));
    }
    // gamma = 2, where eddy's expression is 0/0: the limit, and the profile is
    // smooth through it (the value is the mean of its neighbours to second order).
    auto at_gamma = [&](double gamma) {
        auto p = gravitating;
        p.gamma = gamma;
        return p.v_phi(1.3, 0.1);
    };
    const double h = 1e-4;
    const double below = at_gamma(2.0 - h), at = at_gamma(2.0), above = at_gamma(2.0 + h);
    CHECK(std::isfinite(at));
    CHECK(std::abs(above - below) > 1e-4);  // gamma matters here
    CHECK(std::abs(at - 0.5 * (above + below)) <= 1e-3 * std::abs(above - below));
}

TEST_CASE("autodiff images agree with central finite differences",
          "[disk][model_image][autodiff]") {
    using ad = Eigen::AutoDiffScalar<Eigen::VectorXd>;
    constexpr int n_parameters = 12;
    const std::array<double, n_parameters> base{0.03,   -0.02, 40.0, 130.0, 1.8, 110.0,
                                                5000.0, 0.25,  1.3,  0.25,  2.0, 2.2};
    auto model_at = [](const auto& p) {
        using T = std::decay_t<decltype(p[0])>;
        return disk_model<T>{.geometry = {.x0 = p[0], .y0 = p[1], .inc = p[2], .PA = p[3]},
                             .surface = {.z0 = p[7],
                                         .psi = p[8],
                                         .r_cavity = p[9],
                                         .r_taper = p[10],
                                         .q_taper = p[11]},
                             .rotation = {.mstar = p[4], .dist = p[5]},
                             .vlsr = p[6]};
    };
    std::array<ad, n_parameters> active;
    for (int k = 0; k < n_parameters; ++k)
        active[k] = ad(base[k], n_parameters, k);
    // 0.15" pixels and a 0.25" cavity: some pixels lie inside it.
    const sky_grid grid = small_grid(20, 0.15, beam_shape{0.35, 0.3, 20.0});

    for (const bool beam : {false, true}) {
        DYNAMIC_SECTION("beam " << beam) {
            const image_options options{.convolve_beam = beam};
            const auto image = model_image(model_at(active), grid, options);
            const Eigen::ArrayXXd plain = model_image(model_at(base), grid, options);
            for (Eigen::Index k = 0; k < image.size(); ++k) {
                REQUIRE(image.data()[k].value() == Approx(plain.data()[k]).epsilon(1e-14));
                REQUIRE(image.data()[k].derivatives().allFinite());
            }
            const char* names[n_parameters] = {"x0",    "y0",       "inc",     "PA",
                                               "mstar", "dist",     "vlsr",    "z0",
                                               "psi",   "r_cavity", "r_taper", "q_taper"};
            for (int k = 0; k < n_parameters; ++k) {
                const double h = 1e-5 * std::max(1.0, std::abs(base[k]));
                auto up = base, down = base;
                up[k] += h;
                down[k] -= h;
                const Eigen::ArrayXXd difference = (model_image(model_at(up), grid, options) -
                                                    model_image(model_at(down), grid, options)) /
                                                   (2.0 * h);
                Eigen::ArrayXXd derivative(grid.ny(), grid.nx());
                for (Eigen::Index p = 0; p < image.size(); ++p)
                    derivative.data()[p] = image.data()[p].derivatives()[k];
                const double scale = difference.abs().maxCoeff();
                const double error = max_abs_difference(derivative, difference);
                INFO(names[k] << ": max |d image| " << scale << ", max |autodiff - fd| " << error);
                CHECK(scale > 0.0);
                CHECK(error <= 1e-6 * scale);
            }
        }
    }
}

TEST_CASE("the per-pixel code gives the same velocities with every value type",
          "[disk][model_image][generic]") {
    const sky_grid grid = small_grid(24, 0.15);
    using diskmc::testing::archetype_scalar;

    auto check_all_types = [&](const auto& model, const auto& archetype_model) {
        const Eigen::ArrayXXd tiled = model_image(model, grid);  // tiles of doubles (SIMD)
        const auto projection = prepare(model);
        const auto archetype_projection = prepare(archetype_model);
        double worst_pixel = 0.0, worst_archetype = 0.0;
        for (Eigen::Index i = 0; i < grid.nx(); ++i) {
            for (Eigen::Index j = 0; j < grid.ny(); ++j) {
                const double x = grid.x()[i], y = grid.y()[j];
                const double one = projection.line_of_sight_velocity(x, y);  // V = double
                const archetype_scalar generic = archetype_projection.line_of_sight_velocity(
                    archetype_scalar(x), archetype_scalar(y));
                worst_pixel = std::max(worst_pixel, std::abs(one - tiled(j, i)) / std::abs(one));
                worst_archetype =
                    std::max(worst_archetype, std::abs(generic.test_value() - one) / std::abs(one));
            }
        }
        CHECK(worst_pixel <= 1e-13);
        CHECK(worst_archetype <= 1e-13);
    };
    using A = archetype_scalar;
    const auto model = flared_model();
    const auto archetype_model = flared_model<A>();
    SECTION("flared, Keplerian") {
        check_all_types(model, archetype_model);
    }
    SECTION("thin, power law") {
        const disk_model<double, thin_surface, power_law_rotation<double>> m{
            .geometry = model.geometry,
            .surface = {},
            .rotation = {.vp_100 = 3000.0, .vp_q = -0.5, .dist = 110.0},
            .vlsr = 5000.0};
        const disk_model<A, thin_surface, power_law_rotation<A>> a{
            .geometry = archetype_model.geometry,
            .surface = {},
            .rotation = {.vp_100 = A(3000.0), .vp_q = A(-0.5), .dist = A(110.0)},
            .vlsr = A(5000.0)};
        check_all_types(m, a);
    }
    SECTION("flared without taper, self-gravitating") {
        auto surface = model.surface;
        surface.r_taper = std::numeric_limits<double>::infinity();
        auto archetype_surface = archetype_model.surface;
        archetype_surface.r_taper = A(std::numeric_limits<double>::infinity());
        const disk_model<double, flared_surface<double>, self_gravitating_rotation<double>> m{
            .geometry = model.geometry,
            .surface = surface,
            .rotation = {.mstar = 1.8,
                         .dist = 110.0,
                         .mdisk = 0.2,
                         .gamma = 2.0,
                         .r_in = 0.3,
                         .r_out = 1.5},
            .vlsr = 5000.0};
        const disk_model<A, flared_surface<A>, self_gravitating_rotation<A>> a{
            .geometry = archetype_model.geometry,
            .surface = archetype_surface,
            .rotation = {.mstar = A(1.8),
                         .dist = A(110.0),
                         .mdisk = A(0.2),
                         .gamma = A(2.0),
                         .r_in = A(0.3),
                         .r_out = A(1.5)},
            .vlsr = A(5000.0)};
        check_all_types(m, a);
    }
}

namespace {

// A user's own emission surface and rotation profile: any types with
// scalar-generic height(r) and v_phi(r, z).
struct straight_cone_surface {
    double slope;
    template <class V>
    V height(const V& r) const {
        return V(slope * r);
    }
};

struct solid_body_rotation {
    double omega;  // m/s per arcsec
    template <class V>
    V v_phi(const V& r, const V&) const {
        return V(omega * r);
    }
};

}  // namespace

TEST_CASE("a user's own surface and rotation profile plug in", "[disk][model_image]") {
    const sky_grid grid = small_grid(30, 0.13);
    const auto reference = flared_model();
    STATIC_REQUIRE(emission_surface<straight_cone_surface, double>);
    STATIC_REQUIRE(emission_surface<straight_cone_surface, Eigen::Array<double, 64, 1>>);
    STATIC_REQUIRE(rotation_profile<solid_body_rotation, double>);
    STATIC_REQUIRE(!emission_surface<solid_body_rotation, double>);

    SECTION("a conical surface is eddy's with psi = 1 and no taper or cavity") {
        const disk_model<double, straight_cone_surface> cone{.geometry = reference.geometry,
                                                       .surface = {.slope = 0.2},
                                                       .rotation = reference.rotation,
                                                       .vlsr = 5000.0};
        const disk_model<double> same{.geometry = reference.geometry,
                                      .surface = {.z0 = 0.2, .psi = 1.0},
                                      .rotation = reference.rotation,
                                      .vlsr = 5000.0};
        CHECK(compare_images(model_image(cone, grid), model_image(same, grid)).max_relative <=
              1e-13);
    }
    SECTION("solid-body rotation of a thin disk: v = vlsr + omega sin(i) x_major") {
        const disk_model<double, thin_surface, solid_body_rotation> model{
            .geometry = reference.geometry,
            .surface = {},
            .rotation = {.omega = 700.0},
            .vlsr = 5000.0};
        const Eigen::ArrayXXd image = model_image(model, grid);
        const double pa = reference.geometry.PA * std::numbers::pi / 180.0;
        const double inc = reference.geometry.inc * std::numbers::pi / 180.0;
        double worst = 0.0;
        for (Eigen::Index i = 0; i < grid.nx(); ++i)
            for (Eigen::Index j = 0; j < grid.ny(); ++j) {
                // offset along the red-shifted major axis, PA east of north (+x = east)
                const double dx = grid.x()[i] - reference.geometry.x0;
                const double dy = grid.y()[j] - reference.geometry.y0;
                const double major = dy * std::cos(pa) + dx * std::sin(pa);
                const double expected = 5000.0 + 700.0 * std::sin(inc) * major;
                worst = std::max(worst, std::abs(image(j, i) - expected));
            }
        CHECK(worst <= 1e-9);
    }
}

TEST_CASE("bad model input throws invalid_input naming the problem", "[disk][model_image]") {
    const sky_grid grid = small_grid(8, 0.2);
    auto rejects = [&](const auto& model, const char* fragment) {
        INFO("expected a message containing \"" << fragment << "\"");
        CHECK_THROWS_MATCHES(model_image(model, grid), invalid_input,
                             diskmc::testing::message_contains(fragment));
    };
    const double nan = std::numeric_limits<double>::quiet_NaN();
    auto with = [](auto change) {
        auto m = flared_model();
        change(m);
        return m;
    };
    rejects(with([&](auto& m) { m.geometry.x0 = nan; }), "x0");
    rejects(with([&](auto& m) { m.geometry.inc = nan; }), "inc");
    rejects(with([&](auto& m) { m.geometry.PA = INFINITY; }), "PA");
    rejects(with([&](auto& m) { m.vlsr = nan; }), "vlsr");
    rejects(with([&](auto& m) { m.flared_niter = 0; }), "flared_niter");
    rejects(with([&](auto& m) { m.rotation.mstar = -1.0; }), "mstar");
    rejects(with([&](auto& m) { m.rotation.dist = 0.0; }), "dist");
    rejects(with([&](auto& m) { m.surface.z0 = nan; }), "z0");
    rejects(with([&](auto& m) { m.surface.r_taper = 0.0; }), "r_taper");
    rejects(with([&](auto& m) { m.surface.r_taper = nan; }), "r_taper");
    rejects(with([&](auto& m) { m.surface.q_taper = nan; }), "q_taper");
    // a parameter left out of a designated initialiser is NaN, and reported
    rejects(disk_model<double>{.geometry = {.inc = 30.0, .PA = 10.0},
                               .surface = {.z0 = 0.2},
                               .rotation = {.mstar = 1.0, .dist = 100.0},
                               .vlsr = 0.0},
            "psi");
    rejects(
        disk_model<double, thin_surface, self_gravitating_rotation<double>>{
            .geometry = {.inc = 30.0, .PA = 10.0},
            .surface = {},
            .rotation = {.mstar = 1.0,
                         .dist = 100.0,
                         .mdisk = 0.1,
                         .gamma = 1.0,
                         .r_in = 2.0,
                         .r_out = 1.0},
            .vlsr = 0.0},
        "r_out");
    rejects(
        disk_model<double, thin_surface, power_law_rotation<double>>{
            .geometry = {.inc = 30.0, .PA = 10.0},
            .surface = {},
            .rotation = {.vp_100 = 1.0, .dist = 100.0},
            .vlsr = 0.0},
        "vp_q");
    CHECK_THROWS_MATCHES(model_image(flared_model(), grid, {.convolve_beam = true}), invalid_input,
                         diskmc::testing::message_contains("no beam"));
}

TEST_CASE("case files: the reader rejects what eddy would silently ignore", "[disk][model_image]") {
    const std::filesystem::path file =
        std::filesystem::temp_directory_path() / "diskmc_model_image_test_case.json";
    auto read = [&](const std::string& params) {
        std::ofstream(file) << R"({"grid": {"nx": 8, "ny": 6, "cdelt1": 1e-5, "cdelt2": 1e-5},
                                   "beam": null, "params": {)"
                            << params << "}}";
        return examples::read_eddy_case(file);
    };
    const std::string geometry =
        R"("x0": 0.0, "y0": 0.0, "inc": -30.0, "PA": 60.0, "dist": 100.0, "vlsr": 0.0)";
    const auto thin = read(geometry + R"(, "mstar": 1.0, "z0": null)");
    CHECK_FALSE(thin.surface.has_value());
    // CDELT1 > 0 on a non-square grid: x is reversed, the image is 6 x 8
    const Eigen::ArrayXXd image = examples::render(thin);
    CHECK(image.rows() == 6);
    CHECK(image.cols() == 8);
    CHECK(examples::grid_of(thin).x()[0] > examples::grid_of(thin).x()[7]);
    CHECK_THROWS_MATCHES(read(geometry + R"(, "mstar": 1.0, "mstr": 2.0)"), invalid_input,
                         diskmc::testing::message_contains("unknown parameter \"mstr\""));
    CHECK_THROWS_MATCHES(read(geometry + R"(, "mstar": 1.0, "z0": null, "r_taper": 2.0)"),
                         invalid_input, diskmc::testing::message_contains("no effect"));
    CHECK_THROWS_MATCHES(read(geometry + R"(, "mstar": 1.0, "vp_100": 1000.0, "vp_q": -0.5)"),
                         invalid_input, diskmc::testing::message_contains("excludes mstar"));
    CHECK_THROWS_MATCHES(read(geometry), invalid_input, diskmc::testing::message_contains("mstar"));
    std::filesystem::remove(file);
}

namespace {

/// eddy's conical surface as eddy writes it (datacube.disk_coords with z0
/// given and psi None: _get_conical_cart_coords, then _get_conical_polar_coords
/// and rotationmap._proj_vphi), line by line for one pixel: r, phi, z, v0.
std::array<double, 4> eddy_conical_pixel(double x, double y, double x0, double y0, double inc_in, double pa_in,
                                         double z0, double mstar, double dist, double vlsr) {
    const double degree = std::numbers::pi / 180.0;
    const double inc_folded = inc_in < 90.0 ? inc_in : inc_in - 180.0;  // disk_coords
    const double inc = inc_folded * degree;
    const double pa = (pa_in - 90.0) * degree;
    const double x_sky = x - x0, y_sky = y - y0;
    const double x_rot = x_sky * std::cos(pa) - y_sky * std::sin(pa);
    const double y_rot = x_sky * std::sin(pa) + y_sky * std::cos(pa);
    const double psi = std::tan(z0);
    const double a = std::cos(2 * inc) + std::cos(2 * psi);
    const double b = -4.0 * std::pow(std::sin(psi), 2) * y_rot * std::tan(inc);
    const double c = -2.0 * std::pow(std::sin(psi), 2) * (x_rot * x_rot + y_rot * y_rot / std::pow(std::cos(inc), 2));
    const double t = -b + std::sqrt(b * b - 4 * a * c) / 2 / a;
    const double x_d = x_rot;
    const double y_d = y_rot / std::cos(inc) + t * std::sin(inc);
    const double z_d = z0 * std::hypot(x_d, y_d);
    const double r = std::hypot(y_d, x_d), phi = std::atan2(y_d, x_d);
    // _vkep and _proj_vphi (the raw inc)
    const double r_m = r * constants::astronomical_unit * dist, z_m = z_d * constants::astronomical_unit * dist;
    const double v_kep = std::sqrt(constants::gravitational_constant * mstar * constants::solar_mass * r_m * r_m /
                                   std::pow(std::hypot(r_m, z_m), 3));
    return {r, phi, z_d, v_kep * std::cos(phi) * std::sin(std::abs(inc_in * degree)) + vlsr};
}

}  // namespace

TEST_CASE("the conical surface is eddy's analytic deprojection", "[disk][model_image][conical]") {
    const sky_grid grid = small_grid(26, 0.14);
    STATIC_REQUIRE(analytic_deprojection<detail::prepared_conical_surface<double>, double, double>);
    STATIC_REQUIRE(emission_surface<conical_surface<double>, double>);
    struct geometry {
        double inc, pa, z0;
    };
    for (const auto& [inc, pa, z0] : {geometry{40.0, 130.0, 0.25}, geometry{-35.0, 250.0, 0.2},
                                      geometry{128.0, 70.0, 0.3}, geometry{47.0, 312.0, -0.22},
                                      geometry{-50.0, 10.0, -0.15}}) {
        INFO("inc " << inc << ", PA " << pa << ", z0 " << z0);
        const disk_model<double, conical_surface<double>> cone{
            .geometry = {.x0 = 0.03, .y0 = -0.02, .inc = inc, .PA = pa},
            .surface = {.z0 = z0},
            .rotation = {.mstar = 1.8, .dist = 110.0},
            .vlsr = 5000.0};
        const Eigen::ArrayXXd image = model_image(cone, grid);
        const disk_coordinates coordinates = deproject(cone, grid);
        Eigen::ArrayXXd r(grid.ny(), grid.nx()), phi(grid.ny(), grid.nx()), z(grid.ny(), grid.nx()),
            v(grid.ny(), grid.nx());
        for (Eigen::Index i = 0; i < grid.nx(); ++i)
            for (Eigen::Index j = 0; j < grid.ny(); ++j) {
                const auto pixel =
                    eddy_conical_pixel(grid.x()[i], grid.y()[j], 0.03, -0.02, inc, pa, z0, 1.8, 110.0, 5000.0);
                r(j, i) = pixel[0];
                phi(j, i) = pixel[1];
                z(j, i) = pixel[2];
                v(j, i) = pixel[3];
            }
        REQUIRE(v.allFinite());
        for (const auto& [name, ours, eddys] : {std::tuple{"image", &image, &v}, std::tuple{"r", &coordinates.r, &r},
                                                std::tuple{"z", &coordinates.z, &z}}) {
            const auto d = compare_images(*ours, *eddys);
            INFO(name << ": max relative difference " << d.max_relative);
            CHECK(d.same_nan_pixels);
            CHECK(d.max_relative <= 1e-10);
        }
        // phi to rounding in absolute terms (it crosses 0)
        CHECK(max_abs_difference(coordinates.phi, phi) <= 1e-10);
    }
    SECTION("eddy's rule, not the cone's geometry: z0 -> 0 mirrors phi of the midplane") {
        const disk_model<double, conical_surface<double>> flat_cone{
            .geometry = {.inc = 40.0, .PA = 130.0}, .surface = {.z0 = 0.0}, .rotation = {.mstar = 1.8, .dist = 110.0},
            .vlsr = 5000.0};
        const disk_model<double, thin_surface> thin{
            .geometry = flat_cone.geometry, .surface = {}, .rotation = flat_cone.rotation, .vlsr = 5000.0};
        const disk_coordinates a = deproject(flat_cone, grid), b = deproject(thin, grid);
        CHECK(max_abs_difference(a.r, b.r) <= 1e-12);
        CHECK(max_abs_difference(a.phi.sin(), -b.phi.sin()) <= 1e-12);
        CHECK(compare_images(model_image(flat_cone, grid), model_image(thin, grid)).max_relative <= 1e-13);
    }
    SECTION("bad z0 is named") {
        const disk_model<double, conical_surface<double>> unset{
            .geometry = {.inc = 40.0, .PA = 130.0}, .surface = {}, .rotation = {.mstar = 1.8, .dist = 110.0},
            .vlsr = 5000.0};
        CHECK_THROWS_MATCHES(model_image(unset, grid), invalid_input, diskmc::testing::message_contains("z0"));
    }
}
