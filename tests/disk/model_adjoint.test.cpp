// The hand-written adjoint of the per-pixel model (disk/model_adjoint.hpp):
// its forward pass is the value path's model; the closed-form partials of
// the flared surface and of Keplerian rotation against the forward-mode
// oracle and finite differences, at the cavity edge too. (The whole adjoint
// against tile autodiff, autodiff::var and finite differences is in
// tests/inference/disk_likelihood.test.cpp.)

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <limits>

#include "diskmc/autodiff/gradient.hpp"
#include "diskmc/disk.hpp"
#include "support/component_adjoint.hpp"
#include "support/gradient_check.hpp"
#include "support/test_values.hpp"

using namespace diskmc;

namespace {

/// A tile of sky offsets spread over a disk of radius ~1.6", through its centre region.
void sky_tile(adjoint_tile& x, adjoint_tile& y) {
    for (Eigen::Index i = 0; i < adjoint_tile_size; ++i) {
        const double t = static_cast<double>(i) / adjoint_tile_size;
        x[i] = 1.6 * std::cos(11.0 * t) * (0.1 + t);
        y[i] = 1.3 * std::sin(7.0 * t) * (1.1 - t) - 0.05;
    }
}

template <class T>
disk_model<T> flared_model(double z0, double r_cavity, double r_taper, double q_taper, double inc) {
    return {.geometry = {.x0 = T(0.03), .y0 = T(-0.02), .inc = T(inc), .PA = T(71.0)},
            .surface = {.z0 = T(z0), .psi = T(1.3), .r_cavity = T(r_cavity), .r_taper = T(r_taper), .q_taper = T(q_taper)},
            .rotation = {.mstar = T(1.25), .dist = T(101.0)},
            .vlsr = T(2990.0)};
}

}  // namespace

TEST_CASE("the adjoint's forward pass is the value path's model", "[disk][adjoint]") {
    adjoint_tile x, y;
    sky_tile(x, y);
    const double inf = std::numeric_limits<double>::infinity();
    auto check_forward = [&](const auto& model) {
        const auto projection = prepare(model);
        projection_adjoint<std::remove_const_t<decltype(projection)>> adjoint(projection);
        const adjoint_tile v = adjoint.forward(x, y);
        Eigen::ArrayXd expected;
        line_of_sight_velocity(projection, Eigen::ArrayXd(x), Eigen::ArrayXd(y), expected);
        REQUIRE(v.allFinite());
        CHECK(((v - expected).abs() <= 1e-12 * expected.abs()).all());
    };
    SECTION("flared, tapered, with a cavity") { check_forward(flared_model<double>(0.22, 0.4, 2.1, 2.0, 41.0)); }
    SECTION("far side, inc >= 90, no taper") { check_forward(flared_model<double>(-0.2, 0.0, inf, 1.0, 130.0)); }
    SECTION("thin") {
        const disk_model<double, thin_surface> thin{
            .geometry = {.inc = -38.0, .PA = 250.0}, .rotation = {.mstar = 1.1, .dist = 140.0}, .vlsr = 0.0};
        check_forward(thin);
    }
}

TEST_CASE("the flared surface's closed-form partials", "[disk][adjoint]") {
    // Radii outside, inside and exactly at the cavity edge r_cavity = 0.5.
    adjoint_tile r, cotangent;
    for (Eigen::Index i = 0; i < adjoint_tile_size; ++i) {
        r[i] = 0.05 + 2.4 * static_cast<double>(i) / adjoint_tile_size;
        cotangent[i] = std::cos(3.0 * static_cast<double>(i));
    }
    r[20] = 0.5;  // exactly at the edge (the first few radii are inside)
    const double inf = std::numeric_limits<double>::infinity();
    struct point {
        const char* name;
        Eigen::VectorXd surface;  // z0, psi, r_cavity, r_taper, q_taper
    };
    const point points[] = {
        {"tapered, cavity", (Eigen::VectorXd(5) << 0.25, 1.3, 0.5, 2.0, 2.2).finished()},
        {"far side, q_taper = 0", (Eigen::VectorXd(5) << -0.2, 0.9, 0.5, 1.5, 0.0).finished()},
        {"no taper", (Eigen::VectorXd(5) << 0.3, 1.6, 0.5, inf, 1.5).finished()},
    };
    for (const auto& [name, parameters] : points) {
        INFO(name);
        auto surface_of = [](const auto& p) {
            using T = typename std::decay_t<decltype(p)>::Scalar;
            return flared_surface<T>{.z0 = p[0], .psi = p[1], .r_cavity = p[2], .r_taper = p[3], .q_taper = p[4]};
        };
        const auto prepared = surface_of(parameters).prepared();
        using prepared_type = decltype(prepared);
        typename prepared_type::template linearisation<adjoint_tile> at;
        prepared.linearise(r, at);
        CHECK((at.height == prepared.height(r)).all());
        CHECK(at.slope[20] == 0.0);  // the edge is in the cavity, where z is constant
        CHECK(at.slope.allFinite());

        // dz/dr against finite differences of height(r), pixel by pixel.
        for (Eigen::Index i : {Eigen::Index{0}, Eigen::Index{19}, Eigen::Index{21}, adjoint_tile_size - 1}) {
            const auto fd = diskmc::testing::finite_difference_gradient(
                [&](const Eigen::VectorXd& radius) { return prepared.height(radius[0]); },
                Eigen::VectorXd::Constant(1, r[i]), {.relative_step = 1e-3, .step_floor = 0.1});
            INFO("r = " << r[i]);
            CHECK(at.slope[i] == Approx(fd.gradient[0]).epsilon(1e-7).margin(1e-12));
        }

        // sum_i cotangent_i dz(r_i)/d(parameters): the adjoint sums chained
        // through prepared() by autodiff::var, against the forward-mode oracle.
        const Eigen::VectorXd fast = diskmc::testing::chained_component_gradient(
            prepared, at, cotangent, [&](const auto& p) { return surface_of(p).prepared(); }, parameters);
        Eigen::VectorXd oracle;
        diskmc::testing::oracle_gradient(
            [&](const auto& p) {
                using T = typename std::decay_t<decltype(p)>::Scalar;
                const auto surface = surface_of(p);
                T sum = T(0.0) * p[0];
                for (Eigen::Index i = 0; i < adjoint_tile_size; ++i) sum += cotangent[i] * surface.height(T(r[i]));
                return sum;
            },
            parameters, oracle);
        INFO("fast " << fast.transpose() << "\noracle " << oracle.transpose());
        REQUIRE(fast.allFinite());
        CHECK(diskmc::testing::compare_gradients(fast, oracle).max_rel_error < 1e-12);
    }
}

TEST_CASE("Keplerian rotation's closed-form partials", "[disk][adjoint]") {
    adjoint_tile r, z, cotangent;
    for (Eigen::Index i = 0; i < adjoint_tile_size; ++i) {
        r[i] = 0.05 + 2.4 * static_cast<double>(i) / adjoint_tile_size;
        z[i] = (i % 3 == 0) ? 0.0 : 0.3 * r[i] * std::sin(static_cast<double>(i));
        cotangent[i] = std::cos(3.0 * static_cast<double>(i));
    }
    const Eigen::VectorXd parameters = diskmc::testing::vec({1.25, 101.0});  // mstar, dist (dynamic size: g++ 12 false -Warray-bounds)
    const auto prepared = keplerian_rotation<double>{.mstar = parameters[0], .dist = parameters[1]}.prepared();
    using prepared_type = decltype(prepared);
    typename prepared_type::template linearisation<adjoint_tile> at;
    prepared.linearise(r, z, at);
    CHECK((at.v == prepared.v_phi(r, z)).all());
    for (Eigen::Index i : {Eigen::Index{0}, Eigen::Index{1}, adjoint_tile_size / 2, adjoint_tile_size - 2}) {
        const auto fd = diskmc::testing::finite_difference_gradient(
            [&](const Eigen::VectorXd& rz) { return prepared.v_phi(rz[0], rz[1]); }, diskmc::testing::vec({r[i], z[i]}),
            {.relative_step = 1e-3, .step_floor = 0.1});
        INFO("r = " << r[i] << ", z = " << z[i]);
        CHECK(at.dv_dr[i] == Approx(fd.gradient[0]).epsilon(1e-7));
        CHECK(at.dv_dz[i] == Approx(fd.gradient[1]).epsilon(1e-7).margin(1e-9 * std::abs(at.v[i])));
    }
    const Eigen::VectorXd fast = diskmc::testing::chained_component_gradient(
        prepared, at, cotangent,
        [](const auto& p) { return keplerian_rotation<autodiff::var>{.mstar = p[0], .dist = p[1]}.prepared(); },
        parameters);
    Eigen::VectorXd reference;
    // The reference: reverse-mode autodiff of v_phi itself, and finite differences.
    auto weighted_speed = [&](const auto& p) {
        using T = typename std::decay_t<decltype(p)>::Scalar;
        const keplerian_rotation<T> rotation{.mstar = p[0], .dist = p[1]};
        T sum = T(0.0);
        for (Eigen::Index i = 0; i < adjoint_tile_size; ++i) sum += cotangent[i] * rotation.v_phi(T(r[i]), T(z[i]));
        return sum;
    };
    autodiff::gradient(weighted_speed, parameters, reference);
    INFO("fast " << fast.transpose() << "\nreference " << reference.transpose());
    CHECK(diskmc::testing::compare_gradients(fast, reference).max_rel_error < 1e-12);
    const auto fd = diskmc::testing::finite_difference_gradient(weighted_speed, parameters);
    CHECK(diskmc::testing::compare_gradients(fast, fd.gradient).max_rel_error < 1e-8);
}

TEST_CASE("which components have the closed-form adjoint", "[disk][adjoint]") {
    using flared_projection = decltype(prepare(std::declval<disk_model<double>>()));
    using thin_projection = decltype(prepare(std::declval<disk_model<double, thin_surface>>()));
    using power_law_projection =
        decltype(prepare(std::declval<disk_model<double, flared_surface<double>, power_law_rotation<double>>>()));
    STATIC_REQUIRE(projection_with_adjoint<flared_projection>);
    STATIC_REQUIRE(projection_with_adjoint<thin_projection>);
    STATIC_REQUIRE_FALSE(projection_with_adjoint<power_law_projection>);
    // Power-law flows have it, and eddy's conical surface (the reverse of its
    // analytic deprojection).
    using flowing_projection = decltype(prepare(
        std::declval<disk_model<double, flared_surface<double>, keplerian_rotation<double>, power_law_flow<double>,
                                power_law_flow<double>>>()));
    using conical_projection = decltype(prepare(std::declval<disk_model<double, conical_surface<double>>>()));
    STATIC_REQUIRE(projection_with_adjoint<flowing_projection>);
    STATIC_REQUIRE(projection_with_adjoint<conical_projection>);
}
