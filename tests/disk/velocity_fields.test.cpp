// Radial and vertical flows (disk/velocity_fields.hpp): the model with flows
// against eddy's projections written out independently; the power-law flow's
// closed-form partials; and the whole hand-written adjoint with flows, per
// named parameter, against the forward-mode oracle and finite differences, at
// small radii, inc < 0, inc > 90, on the far side and on the thin disk.
// (The likelihood's gradient with flows is in tests/inference/disk_likelihood.test.cpp.)

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <numbers>
#include <string>

#include "diskmc/autodiff/gradient.hpp"
#include "diskmc/disk.hpp"
#include "diskmc/inference/disk_family.hpp"
#include "support/component_adjoint.hpp"
#include "support/gradient_check.hpp"
#include "support/test_values.hpp"

using namespace diskmc;

namespace {

/// A tile of sky offsets over a disk of radius ~1.6", its first pixels within
/// a few milliarcsec of the centre (x0, y0) (small r, where a flow with q < 0 is steep).
void flow_sky_tile(adjoint_tile& x, adjoint_tile& y, double x0, double y0) {
    for (Eigen::Index i = 0; i < adjoint_tile_size; ++i) {
        const double t = static_cast<double>(i) / adjoint_tile_size;
        x[i] = 1.6 * std::cos(11.0 * t) * (0.1 + t);
        y[i] = 1.3 * std::sin(7.0 * t) * (1.1 - t) - 0.05;
    }
    x[0] = x0 + 0.004;
    y[0] = y0 - 0.003;
    x[1] = x0 - 0.02;
    y[1] = y0 + 0.011;
}

using flowing_family = inference::disk_family<flared_component, keplerian_component, radial_power_law_component,
                                   vertical_power_law_component>;

// Full vector of flowing_family: x0, y0, inc, PA, vlsr, z0, psi, r_cavity,
// r_taper, q_taper, mstar, dist, vr_100, vr_q, vz_100, vz_q.
Eigen::VectorXd flowing_vector(double inc, double z0, double r_cavity, double vr_q, double vz_q) {
    return diskmc::testing::vec(
        {0.03, -0.02, inc, 71.0, 2990.0, z0, 1.3, r_cavity, 2.1, 2.0, 1.25, 101.0, 85.0, vr_q, -30.0, vz_q});
}

double flow_test_radians(double degrees) { return degrees * std::numbers::pi / 180.0; }

/// sum_i seed_i dv_i/d(full) by the hand-written adjoint: forward and
/// reverse on the tile, then the adjoints chained to `full` by autodiff::var.
template <class Family>
Eigen::VectorXd adjoint_gradient(const Family& family, const Eigen::VectorXd& full, const adjoint_tile& x,
                                 const adjoint_tile& y, const adjoint_tile& seed) {
    const auto projection = prepare(family.template make<double>(full));
    projection_adjoint<std::remove_const_t<decltype(projection)>> adjoint(projection);
    typename decltype(adjoint)::adjoints sums;
    adjoint.forward(x, y);
    adjoint.reverse(seed, sums);
    Eigen::VectorXd gradient;
    autodiff::gradient(
        [&](const Eigen::Matrix<autodiff::var, Eigen::Dynamic, 1>& p) {
            return paired_with(prepare(family.template make<autodiff::var>(p)), sums);
        },
        full, gradient);
    return gradient;
}

/// The same by the forward-mode oracle of the scalar-generic per-pixel model,
/// and by finite differences: the hand-written adjoint agrees with both.
template <class Family>
void check_adjoint_with_flows(const Family& family, const Eigen::VectorXd& full) {
    adjoint_tile x, y, seed;
    flow_sky_tile(x, y, full[0], full[1]);
    for (Eigen::Index i = 0; i < adjoint_tile_size; ++i) seed[i] = std::cos(3.0 * static_cast<double>(i)) + 0.2;
    auto weighted_model = [&](const auto& p) {
        using T = typename std::decay_t<decltype(p)>::Scalar;
        const auto projection = prepare(family.template make<T>(p));
        T sum = T(0.0) * p[0];
        for (Eigen::Index i = 0; i < adjoint_tile_size; ++i)
            sum += seed[i] * projection.line_of_sight_velocity(T(x[i]), T(y[i]));
        return sum;
    };
    const Eigen::VectorXd fast = adjoint_gradient(family, full, x, y, seed);
    Eigen::VectorXd oracle;
    diskmc::testing::oracle_gradient(weighted_model, full, oracle);
    INFO("fast   " << fast.transpose() << "\noracle " << oracle.transpose());
    REQUIRE(fast.allFinite());
    CHECK(diskmc::testing::compare_gradients(fast, oracle).max_rel_error < 1e-10);

    // Finite differences, with first steps in x0 and y0 (1e-2 of the floor,
    // 1e-4") well inside the few milliarcsec between the centre and the
    // nearest pixels: a step across the centre differences a singularity.
    const auto report = diskmc::testing::check_gradient_against_finite_differences(
        [&](const Eigen::VectorXd& p) { return weighted_model(p); }, full, weighted_model(full), fast,
        {.step_floor = 0.01});
    INFO(report.describe());
    CHECK(report.agrees_with_finite_difference(1e-6));
}

}  // namespace

TEST_CASE("flows add eddy's projections of v_rad and v_z", "[disk][flows]") {
    // eddy's rotationmap: _proj_vphi = v_phi cos(phi) sin|inc|,
    // _proj_vrad = v_rad sin(phi) sin(-inc), _proj_valt = -v_z cos(inc), the
    // raw inc in radians; phi from the deprojected coordinates (atan2).
    const sky_grid grid = sky_grid::from_header({.nx = 24, .ny = 20, .cdelt1 = -0.13 / 3600.0, .cdelt2 = 0.13 / 3600.0});
    for (const double inc : {41.0, -36.0, 128.0}) {
        for (const double z0 : {0.25, -0.2}) {
            INFO("inc " << inc << ", z0 " << z0);
            const Eigen::VectorXd full = flowing_vector(inc, z0, 0.2, -0.7, 0.45);
            const flowing_family family;
            const auto model = family.make<double>(full);
            disk_model<double> rotation_only{.geometry = model.geometry,
                                             .surface = model.surface,
                                             .rotation = model.rotation,
                                             .vlsr = model.vlsr};
            const Eigen::ArrayXXd image = model_image(model, grid);
            const Eigen::ArrayXXd rotation_image = model_image(rotation_only, grid);
            const disk_coordinates coordinates = deproject(rotation_only, grid);
            double worst = 0.0;
            for (Eigen::Index p = 0; p < image.size(); ++p) {
                const double r = coordinates.r(p), phi = coordinates.phi(p);
                const double v_rad = 85.0 * std::pow(r * 101.0 / 100.0, -0.7);
                const double v_z = -30.0 * std::pow(r * 101.0 / 100.0, 0.45);
                const double expected = rotation_image(p) + v_rad * std::sin(phi) * std::sin(-flow_test_radians(inc)) -
                                        v_z * std::cos(flow_test_radians(inc));
                worst = std::max(worst, std::abs(image(p) - expected) / std::abs(expected));
            }
            CHECK(worst <= 1e-12);
        }
    }
}

TEST_CASE("a model without flows is the one it always was", "[disk][flows]") {
    // disk_model's flows default to none: the same type, the same numbers.
    STATIC_REQUIRE(std::is_same_v<disk_model<double>, disk_model<double, flared_surface<double>,
                                                                 keplerian_rotation<double>, no_flow, no_flow>>);
    STATIC_REQUIRE(std::is_same_v<decltype(inference::disk_family<>{}.make<double>(Eigen::VectorXd())), disk_model<double>>);
    CHECK(inference::disk_family<>{}.parameter_names().size() == 12);
    CHECK(flowing_family{}.parameter_names() ==
          std::vector<std::string>{"x0", "y0", "inc", "PA", "vlsr", "z0", "psi", "r_cavity", "r_taper", "q_taper",
                                   "mstar", "dist", "vr_100", "vr_q", "vz_100", "vz_q"});
    // Zero flows change nothing but rounding.
    const sky_grid grid = sky_grid::from_header({.nx = 16, .ny = 16, .cdelt1 = -0.15 / 3600.0, .cdelt2 = 0.15 / 3600.0});
    Eigen::VectorXd still = flowing_vector(41.0, 0.25, 0.0, -0.5, 0.5);
    still[12] = 0.0;
    still[14] = 0.0;
    const Eigen::ArrayXXd with_zero_flows = model_image(flowing_family{}.make<double>(still), grid);
    const Eigen::ArrayXXd without = model_image(inference::disk_family<>{}.make<double>(Eigen::VectorXd(still.head(12))), grid);
    CHECK(((with_zero_flows - without).abs() <= 1e-12 * without.abs()).all());
}

TEST_CASE("the power-law flow's closed-form partials", "[disk][flows][adjoint]") {
    adjoint_tile r, cotangent;
    for (Eigen::Index i = 0; i < adjoint_tile_size; ++i) {
        r[i] = 0.003 + 2.4 * static_cast<double>(i) / adjoint_tile_size;
        cotangent[i] = std::cos(3.0 * static_cast<double>(i));
    }
    for (const double q : {-0.8, 0.0, 1.3}) {
        INFO("q " << q);
        const Eigen::VectorXd parameters = diskmc::testing::vec({-65.0, q, 140.0});  // v_100, q, dist
        auto flow_of = [](const auto& p) {
            using T = typename std::decay_t<decltype(p)>::Scalar;
            return power_law_flow<T>{.v_100 = p[0], .q = p[1], .dist = p[2]};
        };
        const auto prepared = flow_of(parameters).prepared();
        using prepared_type = decltype(prepared);
        typename prepared_type::template linearisation<adjoint_tile> at;
        prepared.linearise(r, at);
        CHECK((at.v == prepared.speed(r)).all());
        for (Eigen::Index i : {Eigen::Index{0}, Eigen::Index{1}, adjoint_tile_size / 2, adjoint_tile_size - 1}) {
            const auto fd = diskmc::testing::finite_difference_gradient(
                [&](const Eigen::VectorXd& radius) { return prepared.speed(radius[0]); },
                Eigen::VectorXd::Constant(1, r[i]), {.relative_step = 1e-3, .step_floor = 1e-3});
            INFO("r = " << r[i]);
            CHECK(at.dv_dr[i] == Approx(fd.gradient[0]).epsilon(1e-7).margin(1e-12));
        }
        const Eigen::VectorXd fast = diskmc::testing::chained_component_gradient(
            prepared, at, cotangent, [&](const auto& p) { return flow_of(p).prepared(); }, parameters);
        Eigen::VectorXd oracle;
        diskmc::testing::oracle_gradient(
            [&](const auto& p) {
                using T = typename std::decay_t<decltype(p)>::Scalar;
                const auto flow = flow_of(p);
                T sum = T(0.0) * p[0];
                for (Eigen::Index i = 0; i < adjoint_tile_size; ++i) sum += cotangent[i] * flow.speed(T(r[i]));
                return sum;
            },
            parameters, oracle);
        INFO("fast " << fast.transpose() << "\noracle " << oracle.transpose());
        CHECK(diskmc::testing::compare_gradients(fast, oracle).max_rel_error < 1e-12);
    }
}

TEST_CASE("the hand-written adjoint with flows against the oracle and finite differences",
          "[disk][flows][adjoint]") {
    STATIC_REQUIRE(projection_with_adjoint<decltype(prepare(flowing_family{}.make<double>(Eigen::VectorXd())))>);
    SECTION("flared, both flows") {
        check_adjoint_with_flows(flowing_family{}, flowing_vector(41.0, 0.22, 0.0, -0.6, 0.4));
    }
    SECTION("cavity, rising radial flow") {
        check_adjoint_with_flows(flowing_family{}, flowing_vector(44.0, 0.25, 0.3, 0.8, -1.1));
    }
    SECTION("inc < 0, far side") {
        check_adjoint_with_flows(flowing_family{}, flowing_vector(-38.0, -0.2, 0.0, -0.6, 0.4));
    }
    SECTION("inc < 0, near side") {
        check_adjoint_with_flows(flowing_family{}, flowing_vector(-38.0, 0.2, 0.0, -0.6, 0.4));
    }
    SECTION("inc > 90") {
        check_adjoint_with_flows(flowing_family{}, flowing_vector(128.0, 0.2, 0.0, -0.6, 0.4));
    }
    SECTION("inc > 90, far side") {
        check_adjoint_with_flows(flowing_family{}, flowing_vector(121.0, -0.18, 0.0, -0.6, 0.4));
    }
    SECTION("thin, radial flow only") {
        using thin_radial = inference::disk_family<thin_component, keplerian_component, radial_power_law_component>;
        // x0, y0, inc, PA, vlsr, mstar, dist, vr_100, vr_q
        check_adjoint_with_flows(thin_radial{},
                                 diskmc::testing::vec({0.03, -0.02, -37.0, 250.0, 10.0, 1.1, 140.0, 120.0, -0.9}));
    }
    SECTION("thin, vertical flow only") {
        using thin_vertical =
            inference::disk_family<thin_component, keplerian_component, no_flow_component, vertical_power_law_component>;
        // x0, y0, inc, PA, vlsr, mstar, dist, vz_100, vz_q
        check_adjoint_with_flows(thin_vertical{},
                                 diskmc::testing::vec({0.03, -0.02, 133.0, 250.0, 10.0, 1.1, 140.0, 60.0, 0.3}));
    }
    SECTION("flared, vertical flow only") {
        using flared_vertical =
            inference::disk_family<flared_component, keplerian_component, no_flow_component, vertical_power_law_component>;
        check_adjoint_with_flows(flared_vertical{}, diskmc::testing::vec({0.03, -0.02, 41.0, 71.0, 2990.0, 0.22, 1.3,
                                                                         0.0, 2.1, 2.0, 1.25, 101.0, -45.0, 0.7}));
    }
}

TEST_CASE("bad flow values are named", "[disk][flows]") {
    const sky_grid grid = sky_grid::from_header({.nx = 8, .ny = 8, .cdelt1 = -0.2 / 3600.0, .cdelt2 = 0.2 / 3600.0});
    auto model = flowing_family{}.make<double>(flowing_vector(41.0, 0.25, 0.0, -0.5, 0.5));
    model.radial.q = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH(model_image(model, grid), Catch::Matchers::Contains("parameter 'vr_q' = nan"));
    model = flowing_family{}.make<double>(flowing_vector(41.0, 0.25, 0.0, -0.5, 0.5));
    model.vertical.dist = 0.0;
    CHECK_THROWS_WITH(model_image(model, grid), Catch::Matchers::Contains("vertical flow dist"));
}
