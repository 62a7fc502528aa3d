// The disk likelihood: eddy's own values, the fast gradient against the
// reference autodiff and finite differences (with and without the beam, at
// cavity edges), thread invariance, and bad input.

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "diskmc/autodiff/gradient.hpp"
#include "diskmc/disk.hpp"
#include "diskmc/fit/hd163296_like.hpp"
#include "diskmc/inference/disk_likelihood.hpp"
#include "diskmc/inference/map.hpp"
#include "diskmc/inference/posterior.hpp"
#ifdef DISKMC_TESTS_WITH_FITS
#include "diskmc/io/fits.hpp"
#endif
#include "support/eddy_likelihood_fixture.hpp"
#include "support/gradient_check.hpp"
#include "support/shared_data.hpp"

namespace diskmc::inference::detail {
/// Runs the streamed beam gradient alone, so tests know it ran (the public
/// gradient falls back to the two-pass path without saying so).
struct disk_likelihood_access {
    template <class Family>
    static bool streamed_beam_gradient(const disk_likelihood<Family>& likelihood, const Eigen::VectorXd& full,
                                       Eigen::VectorXd& grad, double& value) {
        return likelihood.streamed_beam_gradient(full, grad, value);
    }
};
}  // namespace diskmc::inference::detail

using namespace diskmc;
using Catch::Matchers::Contains;

namespace {

// Full vector of inference::disk_family<> in its order: x0, y0, inc, PA, vlsr, z0, psi,
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
sky_map synthetic_map(const Eigen::VectorXd& truth, Eigen::Index nx = 36, Eigen::Index ny = 30) {
    const grid_header header{.nx = nx, .ny = ny, .cdelt1 = -0.1 / 3600, .cdelt2 = 0.1 / 3600,
                             .beam = beam_shape{.bmaj = 0.3, .bmin = 0.22, .bpa = 35.0}};
    sky_map map = make_sky_map(header, Eigen::ArrayXXd::Zero(ny, nx), Eigen::ArrayXXd::Zero(ny, nx));
    const inference::disk_family<> family;
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

template <class Family>
double reference_gradient(const inference::disk_likelihood<Family>& likelihood, const Eigen::VectorXd& full,
                          Eigen::VectorXd& grad) {
    return autodiff::gradient(
        [&](const Eigen::Matrix<autodiff::var, Eigen::Dynamic, 1>& x) {
            return likelihood.template log_likelihood<autodiff::var>(x);
        },
        full, grad);
}

/// The gradient by the family's default path (the hand-written adjoint when
/// it has one), by tile autodiff, and by autodiff::var of the scalar-generic
/// likelihood: the same to 1e-9, values equal to log_likelihood to 1e-12.
/// Returns the default path's gradient.
template <class Family>
Eigen::VectorXd check_gradient_paths_agree(const sky_map& map,
                                           const Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>& mask,
                                           const Family& family, const Eigen::VectorXd& full, bool beam) {
    const inference::disk_likelihood<Family> automatic(map, mask, family, {.convolve_beam = beam});
    const inference::disk_likelihood<Family> general(map, mask, family,
                                          {.convolve_beam = beam, .gradient = inference::gradient_path::tile_autodiff});
    const double value = automatic.log_likelihood(full);
    REQUIRE(std::isfinite(value));
    Eigen::VectorXd fast, tile, reference;
    CHECK(automatic.log_likelihood_gradient(full, fast) == Approx(value).epsilon(1e-12));
    CHECK(general.log_likelihood_gradient(full, tile) == Approx(value).epsilon(1e-12));
    CHECK(reference_gradient(automatic, full, reference) == Approx(value).epsilon(1e-12));
    INFO("fast      " << fast.transpose() << "\ntile      " << tile.transpose() << "\nreference "
                      << reference.transpose());
    REQUIRE(fast.allFinite());
    CHECK(diskmc::testing::compare_gradients(fast, tile).max_rel_error < 1e-10);
    CHECK(diskmc::testing::compare_gradients(fast, reference).max_rel_error < 1e-10);
    return fast;
}

/// check_gradient_paths_agree, and the default path in agreement with
/// Ridders' finite differences over the finite coordinates (r_taper = inf
/// is not varied), stepped as `steps` says.
template <class Family>
void check_gradient_paths(const sky_map& map, const Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>& mask,
                          const Family& family, const Eigen::VectorXd& full, bool beam,
                          const diskmc::testing::finite_difference_options& steps = {}) {
    const Eigen::VectorXd fast = check_gradient_paths_agree(map, mask, family, full, beam);
    const inference::disk_likelihood<Family> automatic(map, mask, family, {.convolve_beam = beam});
    const double value = automatic.log_likelihood(full);

    std::vector<Eigen::Index> varied;
    for (Eigen::Index i = 0; i < full.size(); ++i)
        if (std::isfinite(full[i])) varied.push_back(i);
    Eigen::VectorXd point(static_cast<Eigen::Index>(varied.size())), fast_varied(point.size());
    for (Eigen::Index k = 0; k < point.size(); ++k) {
        point[k] = full[varied[static_cast<std::size_t>(k)]];
        fast_varied[k] = fast[varied[static_cast<std::size_t>(k)]];
    }
    const auto report = diskmc::testing::check_gradient_against_finite_differences(
        [&](const Eigen::VectorXd& x) {
            Eigen::VectorXd probe = full;
            for (Eigen::Index k = 0; k < x.size(); ++k) probe[varied[static_cast<std::size_t>(k)]] = x[k];
            return automatic.log_likelihood(probe);
        },
        point, value, fast_varied, steps);
    INFO(report.describe());
    CHECK(report.agrees_with_finite_difference(1e-6));
}

/// r_cavity equal to the midplane radius of a pixel of the mask, as the
/// vectorised model computes it: with psi > 0 the cavity height is 0, so the
/// pixel stays exactly at r = r_cavity through the deprojection.
double radius_of_a_masked_pixel(const sky_map& map, const Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>& mask,
                                const Eigen::VectorXd& full) {
    const pixel_positions positions = pixel_positions_of(map.grid);
    Eigen::Index pixel = 0;
    for (Eigen::Index seen = 0; seen < 40; ++pixel) seen += mask(pixel) ? 1 : 0;
    const auto projection = prepare(inference::disk_family<>{}.make<double>(full));
    const adjoint_tile x = adjoint_tile::Constant(positions.x[pixel]), y = adjoint_tile::Constant(positions.y[pixel]);
    double radius = 0.0;
    projection.deproject_with(
        x, y, [&](const adjoint_tile& r, int) { return adjoint_tile(projection.surface.height(r)); },
        [&](int k, const surface_point<adjoint_tile>& p) {
            if (k == 0) radius = p.r[0];
        });
    return radius;
}

/// The (convolved) model at the masked pixels, in their column-major order.
Eigen::VectorXd masked_model(const inference::disk_likelihood<>& likelihood,
                             const Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>& mask, const Eigen::VectorXd& full) {
    const Eigen::ArrayXXd image = likelihood.model_image(full);
    Eigen::VectorXd model(mask.count());
    Eigen::Index k = 0;
    for (Eigen::Index p = 0; p < mask.size(); ++p)
        if (mask(p)) model[k++] = image(p);
    return model;
}

/// max_ij |a_ij - b_ij| / sqrt(b_ii b_jj): a difference of Hessians on the
/// scale of the correlations they imply, so every entry is weighed by the
/// curvatures it couples (a Hessian's entries span orders of magnitude).
double correlation_scale_difference(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
    const Eigen::VectorXd scale = b.diagonal().cwiseMax(1e-300).cwiseSqrt().cwiseInverse();
    return (scale.asDiagonal() * (a - b) * scale.asDiagonal()).cwiseAbs().maxCoeff();
}

}  // namespace

TEST_CASE("the likelihood is eddy's on its own fixture", "[inference][likelihood][fixtures]") {
    const sky_map map = diskmc::testing::eddy_likelihood_map(diskmc::testing::eddy_data_dir());
    const inference::disk_family<> family;
    const Eigen::VectorXd start = full_vector(46.7, 133.3, 2.0, 5760.0, 0.3, 1.25);
    const auto mask = fit_mask(map, family.make<double>(start), {.r_min = 0.3, .r_max = 2.0});
    REQUIRE(mask.count() == 5266);
    const inference::disk_likelihood<> likelihood(map, mask, family);
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

TEST_CASE("the hand-written adjoint, tile autodiff, var autodiff and finite differences agree",
          "[inference][likelihood][adjoint]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4, 0.0, 2.0, 2.2, 0.05, -0.03);
    const sky_map map = synthetic_map(truth);
    const inference::disk_family<> family;
    const auto mask = fit_mask(map, family.make<double>(truth), {.r_min = 0.2, .r_max = 1.6});
    STATIC_REQUIRE(inference::disk_likelihood<>::has_closed_form_gradient);
    const double inf = std::numeric_limits<double>::infinity();

    struct point {
        const char* name;
        Eigen::VectorXd full;
    };
    // At the cavity edge z ~ x^psi (x = r - r_cavity): psi = 3.3 keeps the
    // likelihood smooth enough there for Richardson-extrapolated differences.
    Eigen::VectorXd cavity_edge = full_vector(41.0, 71.0, 1.25, 2990.0, 0.22, 3.3, 0.0, 2.1, 2.0, 0.04, -0.02);
    cavity_edge[7] = radius_of_a_masked_pixel(map, mask, cavity_edge);
    const point points[] = {
        {"ordinary", full_vector(41.0, 71.0, 1.25, 2990.0, 0.22, 1.3, 0.0, 2.1, 2.0, 0.04, -0.02)},
        // Pixels inside the cavity, and one exactly at its edge: the 0 log 0 of the surface.
        {"cavity", full_vector(41.0, 71.0, 1.25, 2990.0, 0.22, 1.3, 0.45, 2.1, 2.0, 0.04, -0.02)},
        {"cavity edge", cavity_edge},
        // Far side, negative inclination, huge taper radius.
        {"far side", full_vector(-38.0, 69.0, 1.15, 3010.0, -0.2, 1.1, 0.0, 1e6, 2.0, -0.02, 0.01)},
        // inc >= 90 is folded for the coordinates, but sin|inc| of the raw inc.
        {"inc >= 90", full_vector(128.0, 72.0, 1.2, 3005.0, 0.2, 1.2, 0.0, 2.0, 2.0, 0.02, 0.01)},
        {"no taper", full_vector(41.0, 71.0, 1.25, 2990.0, 0.22, 1.3, 0.0, inf, 1.5, 0.04, -0.02)},
        {"q_taper = 0", full_vector(41.0, 71.0, 1.25, 2990.0, 0.22, 1.3, 0.1, 2.1, 0.0, 0.04, -0.02)},
    };
    for (bool beam : {false, true}) {
        for (const auto& [name, full] : points) {
            INFO((beam ? "beam, " : "no beam, ") << name);
            check_gradient_paths(map, mask, family, full, beam);
        }
    }
}

TEST_CASE("the hand-written adjoint with the thin surface", "[inference][likelihood][adjoint]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4);
    const sky_map map = synthetic_map(truth);
    const auto mask = fit_mask(map, inference::disk_family<>{}.make<double>(truth), {.r_min = 0.2, .r_max = 1.6});
    using thin_family = inference::disk_family<thin_component, keplerian_component>;
    STATIC_REQUIRE(inference::disk_likelihood<thin_family>::has_closed_form_gradient);
    // x0, y0, inc, PA, vlsr, mstar, dist
    for (bool beam : {false, true}) {
        for (double inc : {41.0, -37.0}) {
            INFO((beam ? "beam, " : "no beam, ") << "inc " << inc);
            const Eigen::VectorXd full =
                (Eigen::VectorXd(7) << 0.03, -0.02, inc, 71.0, 2990.0, 1.25, 101.0).finished();
            check_gradient_paths(map, mask, thin_family{}, full, beam);
        }
    }
}

namespace {

/// A user's own surface without closed-form partials: z = z0 r^2 / (r + r_bowl).
template <class T>
struct bowl_surface {
    T z0, r_bowl;
    template <class V>
    V height(const V& r) const {
        return V(z0 * r * r / (r + r_bowl));
    }
};

struct bowl_component {
    static std::vector<inference::parameter_info> parameters() {
        return {{"z0", std::nullopt, inference::prior::flat(0.0, 5.0), 0.0, "arcsec", "height scale"},
                {"r_bowl", 1.0, inference::prior::flat(0.0, 10.0), 0.0, "arcsec", "bowl radius",
                 inference::valid_range::positive()}};
    }
    template <class T>
    static void check(std::string_view where, const bowl_surface<T>& s) {
        check_declared<bowl_component>(where, {s.z0, s.r_bowl});
    }
    template <class T>
    static bowl_surface<T> make(parameter_reader<T>& in) {
        bowl_surface<T> surface;
        surface.z0 = in.next();
        surface.r_bowl = in.next();
        return surface;
    }
};

}  // namespace

TEST_CASE("a user's own surface takes the tile autodiff path", "[inference][likelihood][adjoint]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4);
    const sky_map map = synthetic_map(truth);
    const auto mask = fit_mask(map, inference::disk_family<>{}.make<double>(truth), {.r_min = 0.2, .r_max = 1.6});
    using bowl_family = inference::disk_family<bowl_component, keplerian_component>;
    STATIC_REQUIRE_FALSE(inference::disk_likelihood<bowl_family>::has_closed_form_gradient);
    // x0, y0, inc, PA, vlsr, z0, r_bowl, mstar, dist
    const Eigen::VectorXd full = (Eigen::VectorXd(9) << 0.03, -0.02, 41.0, 71.0, 2990.0, 0.2, 0.5, 1.25, 101.0).finished();
    for (bool beam : {false, true}) {
        INFO((beam ? "beam" : "no beam"));
        check_gradient_paths(map, mask, bowl_family{}, full, beam);
    }
}

TEST_CASE("the hand-written adjoint with radial and vertical flows", "[inference][likelihood][adjoint][flows]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4);
    const sky_map map = synthetic_map(truth);
    const auto mask = fit_mask(map, inference::disk_family<>{}.make<double>(truth), {.r_min = 0.2, .r_max = 1.6});
    using flow_family = inference::disk_family<flared_component, keplerian_component, radial_power_law_component,
                                    vertical_power_law_component>;
    STATIC_REQUIRE(inference::disk_likelihood<flow_family>::has_closed_form_gradient);
    struct point {
        const char* name;
        Eigen::VectorXd full;  // full_vector's twelve, then vr_100, vr_q, vz_100, vz_q
    };
    auto with_flows = [](Eigen::VectorXd base, double vr_100, double vr_q, double vz_100, double vz_q) {
        Eigen::VectorXd full(16);
        full << base, vr_100, vr_q, vz_100, vz_q;
        return full;
    };
    const point points[] = {
        {"ordinary", with_flows(full_vector(41.0, 71.0, 1.25, 2990.0, 0.22, 1.3, 0.0, 2.1, 2.0, 0.04, -0.02), 90.0,
                                -0.7, -35.0, 0.4)},
        {"cavity", with_flows(full_vector(41.0, 71.0, 1.25, 2990.0, 0.22, 1.3, 0.45, 2.1, 2.0, 0.04, -0.02), -60.0,
                              0.5, 20.0, -1.2)},
        {"far side, inc < 0", with_flows(full_vector(-38.0, 69.0, 1.15, 3010.0, -0.2, 1.1, 0.0, 1e6, 2.0, -0.02, 0.01),
                                         70.0, -0.4, 25.0, 0.2)},
        {"inc >= 90", with_flows(full_vector(128.0, 72.0, 1.2, 3005.0, 0.2, 1.2, 0.0, 2.0, 2.0, 0.02, 0.01), 70.0,
                                 -0.4, 25.0, 0.2)},
    };
    for (bool beam : {false, true}) {
        for (const auto& [name, full] : points) {
            INFO((beam ? "beam, " : "no beam, ") << name);
            check_gradient_paths(map, mask, flow_family{}, full, beam);
        }
    }
    SECTION("thin, radial flow only") {
        using thin_radial_family = inference::disk_family<thin_component, keplerian_component, radial_power_law_component>;
        STATIC_REQUIRE(inference::disk_likelihood<thin_radial_family>::has_closed_form_gradient);
        // x0, y0, inc, PA, vlsr, mstar, dist, vr_100, vr_q
        const Eigen::VectorXd full =
            (Eigen::VectorXd(9) << 0.03, -0.02, -37.0, 71.0, 2990.0, 1.25, 101.0, 110.0, -0.8).finished();
        check_gradient_paths(map, mask, thin_radial_family{}, full, false);
    }
}

TEST_CASE("the hand-written adjoint of eddy's conical surface", "[inference][likelihood][adjoint][conical]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4);
    const sky_map map = synthetic_map(truth);
    const auto mask = fit_mask(map, inference::disk_family<>{}.make<double>(truth), {.r_min = 0.2, .r_max = 1.6});
    using cone_family = inference::disk_family<conical_component, keplerian_component>;
    using flowing_cone_family = inference::disk_family<conical_component, keplerian_component, radial_power_law_component,
                                            vertical_power_law_component>;
    STATIC_REQUIRE(inference::disk_likelihood<cone_family>::has_closed_form_gradient);
    STATIC_REQUIRE(inference::disk_likelihood<flowing_cone_family>::has_closed_form_gradient);
    for (const double inc : {41.0, -38.0, 128.0}) {
        for (const double z0 : {0.2, -0.18}) {
            for (bool beam : {false, true}) {
                INFO((beam ? "beam, " : "no beam, ") << "inc " << inc << ", z0 " << z0);
                // x0, y0, inc, PA, vlsr, z0, mstar, dist
                const Eigen::VectorXd full =
                    (Eigen::VectorXd(8) << 0.03, -0.02, inc, 71.0, 2990.0, z0, 1.25, 101.0).finished();
                // With the beam the model runs on every pixel, 0.02-0.03" from the
                // star for some: first steps in x0, y0 of 1e-4" (1e-2 of the
                // 0.01 floor), not 1e-2", so that no difference spans the
                // singularity there.
                check_gradient_paths(map, mask, cone_family{}, full, beam, {.step_floor = 0.01});
                // then vr_100, vr_q, vz_100, vz_q
                Eigen::VectorXd flowing(12);
                flowing << full, 60.0, -0.5, -30.0, 0.4;
                check_gradient_paths(map, mask, flowing_cone_family{}, flowing, beam, {.step_floor = 0.01});
            }
        }
    }
}

TEST_CASE("the likelihood does not depend on the thread count", "[inference][likelihood][threads]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4);
    const sky_map map = synthetic_map(truth, 90, 80);  // several chunks of pixels, so threads split the work
    const inference::disk_family<> family;
    const auto mask = fit_mask(map, family.make<double>(truth), {.r_min = 0.0, .r_max = 10.0});
    REQUIRE(mask.count() > 2 * inference::detail::pixels_per_chunk);
    for (bool beam : {false, true}) {
        for (inference::gradient_path path : {inference::gradient_path::automatic, inference::gradient_path::tile_autodiff}) {
            INFO((beam ? "beam, " : "no beam, ") << (path == inference::gradient_path::automatic ? "automatic" : "tile autodiff"));
            const inference::disk_likelihood<> one(map, mask, family, {.convolve_beam = beam, .threads = 1, .gradient = path});
            const inference::disk_likelihood<> two(map, mask, family, {.convolve_beam = beam, .threads = 2, .gradient = path});
            const inference::disk_likelihood<> three(map, mask, family, {.convolve_beam = beam, .threads = 3, .gradient = path});
            Eigen::VectorXd g1, g2, g3;
            CHECK(one.log_likelihood(truth) == two.log_likelihood(truth));
            CHECK(one.log_likelihood(truth) == three.log_likelihood(truth));
            const double v1 = one.log_likelihood_gradient(truth, g1);
            CHECK(v1 == two.log_likelihood_gradient(truth, g2));
            CHECK(v1 == three.log_likelihood_gradient(truth, g3));
            CHECK(g1 == g2);
            CHECK(g1 == g3);
        }
    }
}

TEST_CASE("the streamed beam gradient split among threads agrees with the two-pass one",
          "[inference][likelihood][adjoint][threads]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4);
    const sky_map map = synthetic_map(truth, 90, 80);
    const inference::disk_family<> family;
    const auto mask = fit_mask(map, family.make<double>(truth), {.r_min = 0.2, .r_max = 12.0});
    const Eigen::VectorXd full = full_vector(41.0, 71.0, 1.25, 2990.0, 0.22, 1.3, 0.1, 2.1, 2.0, 0.04, -0.02);
    const inference::disk_likelihood<> two_pass(map, mask, family,
                                     {.convolve_beam = true, .gradient = inference::gradient_path::tile_autodiff});
    Eigen::VectorXd reference;
    const double value = two_pass.log_likelihood_gradient(full, reference);
    // 3 threads: bands of 32, 32 and 26 columns, each with its margins.
    for (std::size_t threads : {1u, 3u}) {
        INFO(threads << " threads");
        const inference::disk_likelihood<> streamed(map, mask, family, {.convolve_beam = true, .threads = threads});
        Eigen::VectorXd fast, public_gradient;
        double streamed_value = 0.0;
        REQUIRE(inference::detail::disk_likelihood_access::streamed_beam_gradient(streamed, full, fast, streamed_value));
        CHECK(streamed_value == Approx(value).epsilon(1e-12));
        INFO("streamed " << fast.transpose() << "\ntwo-pass " << reference.transpose());
        REQUIRE(fast.allFinite());
        CHECK(diskmc::testing::compare_gradients(fast, reference).max_rel_error < 1e-10);
        // ... and it is the path the public gradient takes.
        CHECK(streamed.log_likelihood_gradient(full, public_gradient) == streamed_value);
        CHECK(public_gradient == fast);
    }
}

TEST_CASE("a NaN model pixel off the mask: the beam gradient still agrees with autodiff",
          "[inference][likelihood][adjoint]") {
    // The disk centre on a pixel centre: there r = 0 and the model is 0/0, a
    // missing pixel for the convolution (the streamed path hands such models
    // to the two-pass one).
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4);
    const sky_map map = synthetic_map(truth);
    const inference::disk_family<> family;
    const auto mask = fit_mask(map, family.make<double>(truth), {.r_min = 0.2, .r_max = 1.6});
    const pixel_positions positions = pixel_positions_of(map.grid);
    Eigen::Index centre = 0;  // the pixel nearest the map's centre, inside r_min
    (positions.x.square() + positions.y.square()).minCoeff(&centre);
    REQUIRE_FALSE(mask(centre));
    const Eigen::VectorXd full =
        full_vector(41.0, 71.0, 1.25, 2990.0, 0.22, 1.3, 0.0, 2.1, 2.0, positions.x[centre], positions.y[centre]);
    REQUIRE(std::isnan(inference::disk_likelihood<>(map, mask, family).model_image(full)(centre)));
    Eigen::VectorXd unused;
    double unused_value = 0.0;
    CHECK_FALSE(inference::detail::disk_likelihood_access::streamed_beam_gradient(
        inference::disk_likelihood<>(map, mask, family, {.convolve_beam = true}), full, unused, unused_value));
    // Finite differences are left out: moving the centre off the pixel removes the NaN.
    check_gradient_paths_agree(map, mask, family, full, true);
}

TEST_CASE("the posterior of the disk likelihood: fast gradient against autodiff", "[inference][likelihood]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4);
    const sky_map map = synthetic_map(truth);
    const inference::disk_family<> family;
    const auto mask = fit_mask(map, family.make<double>(truth), {.r_min = 0.2, .r_max = 1.6});
    const inference::disk_likelihood<> likelihood(map, mask, family);
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
    CHECK(diskmc::testing::compare_gradients(fast, reference).max_rel_error < 1e-10);
}

TEST_CASE("a posterior with flows takes their priors from eddy's catalogue", "[inference][likelihood][flows]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4);
    const sky_map map = synthetic_map(truth);
    using flow_family = inference::disk_family<flared_component, keplerian_component, radial_power_law_component,
                                    vertical_power_law_component>;
    const flow_family family;
    const auto mask = fit_mask(map, inference::disk_family<>{}.make<double>(truth), {.r_min = 0.2, .r_max = 1.6});
    const inference::disk_likelihood<flow_family> likelihood(map, mask, family);
    using namespace diskmc::inference;
    const parameter_set parameters({free_parameter("PA", 70.5), free_parameter("mstar", 1.1),
                                    free_parameter("vlsr", 3005.0), free_parameter("vr_100", 40.0),
                                    free_parameter("vr_q", -0.5), free_parameter("vz_100", -20.0),
                                    free_parameter("vz_q", 0.3), fixed_parameter("inc", 40.0),
                                    fixed_parameter("dist", 101.0), fixed_parameter("z0", 0.25),
                                    fixed_parameter("psi", 1.4), fixed_parameter("r_taper", 2.5),
                                    fixed_parameter("q_taper", 2.0)});
    const parameter_catalogue catalogue = eddy_parameters();
    for (const char* name : {"vr_100", "vz_100"}) {
        INFO(name);
        CHECK(catalogue.at(name).prior.log_density(-999.0) == catalogue.at(name).prior.log_density(999.0));
        CHECK_FALSE(std::isfinite(catalogue.at(name).prior.log_density(1001.0)));
    }
    const auto posterior = inference::make_posterior(parameters, likelihood);
    const Eigen::VectorXd theta = (Eigen::VectorXd(7) << 70.5, 1.1, 3005.0, 40.0, -0.5, -20.0, 0.3).finished();
    Eigen::VectorXd fast, reference;
    const double value = posterior.log_density_gradient(theta, fast);
    REQUIRE(std::isfinite(value));
    CHECK(value == Approx(posterior.log_density_gradient_autodiff(theta, reference)).epsilon(1e-12));
    CHECK(diskmc::testing::compare_gradients(fast, reference).max_rel_error < 1e-10);
}

TEST_CASE("bad likelihood input throws before any work", "[inference][likelihood]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4);
    sky_map map = synthetic_map(truth);
    Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> mask =
        Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>::Constant(30, 36, false);
    mask(15, 15) = true;
    CHECK_NOTHROW(inference::disk_likelihood<>(map, mask));
    CHECK_THROWS_WITH(inference::disk_likelihood<>(map, mask.topRows(29)), Contains("mask is 29x36") && Contains("30x36"));
    mask(0, 0) = true;  // NaN data
    CHECK_THROWS_WITH(inference::disk_likelihood<>(map, mask), Contains("row 0, column 0") && Contains("data is not finite"));
    mask(0, 0) = false;
    mask(10, 20) = true;  // zero uncertainty
    CHECK_THROWS_WITH(inference::disk_likelihood<>(map, mask), Contains("row 10, column 20") && Contains("uncertainty is 0"));
    mask.setConstant(false);
    CHECK_THROWS_WITH(inference::disk_likelihood<>(map, mask), Contains("keeps no pixel"));
    mask(15, 15) = true;
    map.grid = sky_grid::from_header({.nx = 36, .ny = 30, .cdelt1 = -0.1 / 3600, .cdelt2 = 0.1 / 3600});
    CHECK_THROWS_WITH(inference::disk_likelihood<>(map, mask, {}, {.convolve_beam = true}), Contains("no beam"));
}

TEST_CASE("data or uncertainty whose chi-squared term overflows is named by pixel at construction",
          "[inference][likelihood]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4);
    sky_map map = synthetic_map(truth);
    Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> mask =
        Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>::Constant(30, 36, false);
    mask(15, 15) = true;
    mask(12, 7) = true;
    REQUIRE_NOTHROW(inference::disk_likelihood<>(map, mask));
    // data = 1e308: (data - model)^2 is infinite for any model; not the model's fault.
    map.data(12, 7) = 1e308;
    REQUIRE_THROWS_WITH(inference::disk_likelihood<>(map, mask),
                        Contains("pixel (row 12, column 7) has data 1e+308") &&
                            Contains("(data / uncertainty)^2 overflows"));
    // A large datum on a small uncertainty overflows too: 1e200 / 1e-10 squared.
    map.data(12, 7) = 1e200;
    map.uncertainty(12, 7) = 1e-10;
    REQUIRE_THROWS_WITH(inference::disk_likelihood<>(map, mask), Contains("row 12, column 7") && Contains("overflows"));
    // uncertainty = 1e-300: 1 / sigma^2 overflows although the datum is ordinary.
    map.data(12, 7) = 3000.0;
    map.uncertainty(12, 7) = 1e-300;
    REQUIRE_THROWS_WITH(inference::disk_likelihood<>(map, mask),
                        Contains("pixel (row 12, column 7) has uncertainty 1e-300") &&
                            Contains("weight 1 / uncertainty^2 overflows"));
    // Small but representable: 1e-100 gives a weight of 1e200, finite.
    map.uncertainty(12, 7) = 1e-100;
    CHECK_NOTHROW(inference::disk_likelihood<>(map, mask));
}

TEST_CASE("a model NaN inside the mask is -infinity, never NaN", "[inference][likelihood]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4);
    const sky_map map = synthetic_map(truth);
    const inference::disk_family<> family;
    const auto mask = fit_mask(map, family.make<double>(truth), {.r_min = 0.2, .r_max = 1.6});
    const inference::disk_likelihood<> likelihood(map, mask, family);
    Eigen::VectorXd bad = truth;
    bad[10] = -1.0;  // negative mass: sqrt of a negative number
    CHECK(likelihood.log_likelihood(bad) == -std::numeric_limits<double>::infinity());
    Eigen::VectorXd grad;
    CHECK(likelihood.log_likelihood_gradient(bad, grad) == -std::numeric_limits<double>::infinity());
    CHECK(grad.allFinite());
}

TEST_CASE("the model Jacobian: finite differences, the gradient and the normal equations",
          "[inference][likelihood][jacobian]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4, 0.0, 2.0, 2.2, 0.05, -0.03);
    const sky_map map = synthetic_map(truth);
    const inference::disk_family<> family;
    const auto mask = fit_mask(map, family.make<double>(truth), {.r_min = 0.2, .r_max = 1.6});
    const double inf = std::numeric_limits<double>::infinity();
    Eigen::VectorXd weight(mask.count()), data(mask.count());
    for (Eigen::Index p = 0, k = 0; p < mask.size(); ++p) {
        if (!mask(p)) continue;
        weight[k] = 1.0 / (map.uncertainty(p) * map.uncertainty(p));
        data[k++] = map.data(p);
    }
    struct point {
        const char* name;
        Eigen::VectorXd full;
    };
    const point points[] = {
        {"ordinary", full_vector(41.0, 71.0, 1.25, 2990.0, 0.22, 1.3, 0.0, 2.1, 2.0, 0.04, -0.02)},
        {"cavity", full_vector(41.0, 71.0, 1.25, 2990.0, 0.22, 1.3, 0.45, 2.1, 2.0, 0.04, -0.02)},
        {"far side", full_vector(-38.0, 69.0, 1.15, 3010.0, -0.2, 1.1, 0.0, 1e6, 2.0, -0.02, 0.01)},
        {"no taper", full_vector(41.0, 71.0, 1.25, 2990.0, 0.22, 1.3, 0.0, inf, 1.5, 0.04, -0.02)},
    };
    for (bool beam : {false, true}) {
        const inference::disk_likelihood<> likelihood(map, mask, family, {.convolve_beam = beam});
        for (const auto& [name, full] : points) {
            INFO((beam ? "beam, " : "no beam, ") << name);
            const Eigen::MatrixXd jacobian = likelihood.model_jacobian(full);
            REQUIRE(jacobian.rows() == likelihood.pixel_count());
            REQUIRE(jacobian.cols() == full.size());
            REQUIRE(jacobian.allFinite());
            // J^T W r is the likelihood's gradient, and J^T W J the Gauss-Newton curvature.
            Eigen::VectorXd gradient, normal_gradient;
            Eigen::MatrixXd gauss_newton;
            const double value = likelihood.log_likelihood_gradient(full, gradient);
            CHECK(likelihood.log_likelihood_normal_equations(full, normal_gradient, gauss_newton) ==
                  Approx(value).epsilon(1e-13));
            INFO("gradient         " << gradient.transpose() << "\nJ^T W r          " << normal_gradient.transpose());
            CHECK(diskmc::testing::compare_gradients(normal_gradient, gradient).max_rel_error < 1e-10);
            const Eigen::VectorXd residual = data - masked_model(likelihood, mask, full);
            const Eigen::VectorXd from_jacobian = jacobian.transpose() * weight.asDiagonal() * residual;
            CHECK(diskmc::testing::compare_gradients(from_jacobian, gradient).max_rel_error < 1e-10);
            const Eigen::MatrixXd expected = jacobian.transpose() * weight.asDiagonal() * jacobian;
            CHECK(correlation_scale_difference(gauss_newton, expected) < 1e-12);
        }
        // Against central differences of the model (Richardson-extrapolated),
        // every finite parameter but r_cavity = 0 (the cavity's edge).
        const Eigen::VectorXd& full = points[0].full;
        const Eigen::MatrixXd jacobian = likelihood.model_jacobian(full);
        for (Eigen::Index k = 0; k < full.size(); ++k) {
            if (k == 7) continue;
            const double h = 1e-3 * std::max(std::abs(full[k]), 1.0);
            auto difference = [&](double step) {
                Eigen::VectorXd up = full, down = full;
                up[k] += step;
                down[k] -= step;
                return Eigen::VectorXd((masked_model(likelihood, mask, up) - masked_model(likelihood, mask, down)) /
                                       (2.0 * step));
            };
            const Eigen::VectorXd finite_difference = (4.0 * difference(0.5 * h) - difference(h)) / 3.0;
            const double scale = jacobian.col(k).cwiseAbs().maxCoeff();
            INFO((beam ? "beam, " : "no beam, ") << "column " << k << ", largest entry " << scale);
            REQUIRE(scale > 0.0);
            CHECK((jacobian.col(k) - finite_difference).cwiseAbs().maxCoeff() < 1e-6 * scale);
        }
    }
}

TEST_CASE("the residual curvature completes the Gauss-Newton Hessian", "[inference][likelihood][jacobian]") {
    const Eigen::VectorXd truth = full_vector(40.0, 70.0, 1.2, 3000.0, 0.25, 1.4, 0.0, 2.0, 2.2, 0.05, -0.03);
    const sky_map map = synthetic_map(truth);
    const inference::disk_family<> family;
    const auto mask = fit_mask(map, family.make<double>(truth), {.r_min = 0.2, .r_max = 1.6});
    // Away from the optimum, where the residuals' term is large.
    const Eigen::VectorXd full = full_vector(41.0, 71.0, 1.25, 2990.0, 0.22, 1.3, 0.0, 2.1, 2.0, 0.04, -0.02);
    const std::vector<Eigen::Index> varied = {0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11};  // not r_cavity = 0 (its edge)
    for (bool beam : {false, true}) {
        INFO((beam ? "beam" : "no beam"));
        const inference::disk_likelihood<> likelihood(map, mask, family, {.convolve_beam = beam});
        Eigen::VectorXd gradient;
        Eigen::MatrixXd gauss_newton;
        REQUIRE(std::isfinite(likelihood.log_likelihood_normal_equations(full, gradient, gauss_newton)));
        Eigen::VectorXd steps = Eigen::VectorXd::Zero(full.size());
        for (const Eigen::Index k : varied) steps[k] = 0.01 / std::sqrt(gauss_newton(k, k));
        const Eigen::MatrixXd residual = likelihood.residual_curvature(full, steps);
        REQUIRE(residual.rows() == full.size());
        // The exact Hessian of -log L by Richardson-extrapolated central
        // differences of the gradient, on the varied block.
        const auto n = static_cast<Eigen::Index>(varied.size());
        Eigen::MatrixXd finite_difference(n, n), exact(n, n), approximate(n, n);
        for (Eigen::Index a = 0; a < n; ++a) {
            const Eigen::Index k = varied[static_cast<std::size_t>(a)];
            auto difference = [&](double step) {
                Eigen::VectorXd up = full, down = full, g_up, g_down;
                up[k] += step;
                down[k] -= step;
                likelihood.log_likelihood_gradient(up, g_up);
                likelihood.log_likelihood_gradient(down, g_down);
                return Eigen::VectorXd(-(g_up - g_down) / (2.0 * step));
            };
            const Eigen::VectorXd column = (4.0 * difference(0.5 * steps[k]) - difference(steps[k])) / 3.0;
            for (Eigen::Index b = 0; b < n; ++b) {
                const Eigen::Index j = varied[static_cast<std::size_t>(b)];
                finite_difference(b, a) = column[j];
                exact(b, a) = gauss_newton(j, k) + residual(j, k);
                approximate(b, a) = gauss_newton(j, k);
            }
        }
        finite_difference = 0.5 * (finite_difference + finite_difference.transpose()).eval();
        const double exact_error = correlation_scale_difference(exact, finite_difference);
        const double gauss_newton_error = correlation_scale_difference(approximate, finite_difference);
        INFO("Gauss-Newton alone " << gauss_newton_error << ", with the residual curvature " << exact_error);
        CHECK(gauss_newton_error > 1e-3);  // the term matters here
        CHECK(exact_error < 1e-6);
    }
}

TEST_CASE("the disk posterior's Gauss-Newton MAP and its Hessian against finite differences on the benchmark",
          "[inference][likelihood][map][data]") {
#ifndef DISKMC_TESTS_WITH_FITS
    WARN(diskmc::testing::skip_message("benchmark MAP Hessian", "this build reads no FITS files"));
#else
    const auto dir =
        diskmc::testing::shared_data_dir({"bench/hd163296_like_v0.fits", "bench/hd163296_like_dv0.fits",
                                          "bench/hd163296_like_beam_v0.fits", "bench/hd163296_like_beam_dv0.fits"});
    if (!dir) {
        WARN(diskmc::testing::skip_message("benchmark MAP Hessian"));
        return;
    }
    using namespace diskmc::inference;
    for (bool beam : {false, true}) {
        INFO((beam ? "beam" : "no beam"));
        const std::string stem = beam ? "hd163296_like_beam_" : "hd163296_like_";
        const sky_map map = io::to_sky_map(
            io::read_rotation_map(*dir / "bench" / (stem + "v0.fits"), *dir / "bench" / (stem + "dv0.fits")));
        const inference::disk_family<> family;
        const auto mask = fit_mask(map, family.make<double>(hd163296_like::full_vector(hd163296_like::start())),
                                   {.r_min = hd163296_like::r_min});
        const inference::disk_likelihood<> likelihood(map, mask, family, {.convolve_beam = beam});
        const auto posterior = make_posterior(parameter_set(hd163296_like::parameters()), likelihood);
        STATIC_REQUIRE(diskmc::hessian_log_density<decltype(posterior)>);
        const map_result map_point = find_map(posterior);
        INFO(map_point.message);
        REQUIRE(map_point.method == map_method::gauss_newton);
        REQUIRE(map_point.converged());
        CHECK(map_point.iterations <= 30);
        REQUIRE(map_point.covariance.status == covariance_status::ok);
        REQUIRE(map_point.unconstrained_covariance.status == covariance_status::ok);
        // Half the squared Newton decrement: the log density still to gain.
        CHECK(0.5 * map_point.gradient.dot(map_point.covariance.covariance * map_point.gradient) < 1e-8);

        // The finite-difference Hessians (find_map's L-BFGS-B covariance) at the same point.
        const parameter_set& parameters = posterior.parameters();
        const covariance_estimate fd =
            estimate_covariance(posterior, map_point.point, parameters.lower_bounds(), parameters.upper_bounds());
        const auto for_nuts = unconstrained(posterior);
        const Eigen::VectorXd open =
            Eigen::VectorXd::Constant(map_point.point.size(), std::numeric_limits<double>::infinity());
        const covariance_estimate fd_unconstrained =
            estimate_covariance(for_nuts, map_point.unconstrained_point, -open, open);
        REQUIRE(fd.status == covariance_status::ok);
        REQUIRE(fd_unconstrained.status == covariance_status::ok);
        const double constrained_error = correlation_scale_difference(map_point.covariance.hessian, fd.hessian);
        const double unconstrained_error =
            correlation_scale_difference(map_point.unconstrained_covariance.hessian, fd_unconstrained.hessian);
        // Gauss-Newton alone leaves out the residuals' curvature: ~1e-3 here.
        Eigen::VectorXd gradient;
        Eigen::MatrixXd gauss_newton;
        REQUIRE(std::isfinite(posterior.log_density_gauss_newton(map_point.point, gradient, gauss_newton)));
        const double gauss_newton_error = correlation_scale_difference(gauss_newton, fd.hessian);
        INFO("exact Hessian: " << constrained_error << " (constrained), " << unconstrained_error
                               << " (unconstrained); Gauss-Newton alone " << gauss_newton_error);
        CHECK(constrained_error < 1e-4);
        CHECK(unconstrained_error < 1e-4);
        CHECK(gauss_newton_error > 1e-4);
    }
#endif
}
