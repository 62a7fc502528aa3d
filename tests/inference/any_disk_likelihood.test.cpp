// any_disk_likelihood gives exactly (bit for bit) what the family's own
// inference::disk_likelihood gives, with and without the beam, for a family with the
// normal equations and for one without; and the posterior over it has the
// least-squares form the MAP step's Gauss-Newton needs.

#include <catch2/catch.hpp>

#include <Eigen/Core>
#include <string>
#include <vector>

#include "diskmc/disk/mask.hpp"
#include "diskmc/disk/sky_map.hpp"
#include "diskmc/fit/hd163296_like.hpp"
#include "diskmc/inference/any_disk_likelihood.hpp"
#include "diskmc/inference/posterior.hpp"
#include "support/throws.hpp"

namespace {

using namespace diskmc;
using inference::any_disk_likelihood;

/// The HD163296-like map, 4x downsampled, and eddy's mask at the truth.
struct erased_likelihood_problem {
    sky_map map;
    Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> mask;
};

erased_likelihood_problem erased_likelihood_problem_with_beam(bool beam) {
    sky_map map = downsample(hd163296_like::map(beam), 4);
    const auto model = inference::disk_family<>{}.make<double>(hd163296_like::full_vector(hd163296_like::truth()));
    auto mask = fit_mask(map, model, {.r_min = hd163296_like::r_min});
    return {std::move(map), std::move(mask)};
}

/// Checks every evaluation of the erased likelihood against the direct one
/// at `full`, bit for bit.
template <class Family>
void check_erased_matches_direct(const erased_likelihood_problem& problem, const Family& family,
                                 const Eigen::VectorXd& full, bool beam) {
    const inference::disk_likelihood<Family> direct(problem.map, problem.mask, family, {.convolve_beam = beam, .threads = 1});
    const any_disk_likelihood erased(inference::disk_likelihood<Family>(problem.map, problem.mask, family,
                                                             {.convolve_beam = beam, .threads = 1}));
    CHECK(erased.parameter_names() == direct.parameter_names());
    CHECK(erased.pixel_count() == direct.pixel_count());
    CHECK(erased.log_likelihood<double>(full) == direct.template log_likelihood<double>(full));

    Eigen::VectorXd direct_gradient, erased_gradient;
    CHECK(erased.log_likelihood_gradient(full, erased_gradient) == direct.log_likelihood_gradient(full, direct_gradient));
    CHECK(erased_gradient == direct_gradient);

    const Eigen::VectorXd steps = 1e-4 * (full.array().abs() + 1.0).matrix();
    CHECK(erased.residual_curvature(full, steps) == direct.residual_curvature(full, steps));

    CHECK(erased.has_normal_equations() == inference::disk_likelihood<Family>::has_closed_form_gradient);
    Eigen::VectorXd erased_normal_gradient;
    Eigen::MatrixXd erased_gauss_newton;
    if constexpr (inference::disk_likelihood<Family>::has_closed_form_gradient) {
        Eigen::VectorXd direct_normal_gradient;
        Eigen::MatrixXd direct_gauss_newton;
        CHECK(erased.log_likelihood_normal_equations(full, erased_normal_gradient, erased_gauss_newton) ==
              direct.log_likelihood_normal_equations(full, direct_normal_gradient, direct_gauss_newton));
        CHECK(erased_normal_gradient == direct_normal_gradient);
        CHECK(erased_gauss_newton == direct_gauss_newton);
    } else {
        CHECK_THROWS_MATCHES(erased.log_likelihood_normal_equations(full, erased_normal_gradient, erased_gauss_newton),
                             invalid_input, testing::message_contains("has_normal_equations"));
    }
}

}  // namespace

TEST_CASE("any_disk_likelihood: the erased likelihood is the family's, bit for bit", "[any_disk_likelihood]") {
    const bool beam = GENERATE(false, true);
    INFO("beam " << beam);
    const erased_likelihood_problem problem = erased_likelihood_problem_with_beam(beam);
    const Eigen::VectorXd flared = hd163296_like::full_vector(hd163296_like::start());
    SECTION("flared Keplerian: with the normal equations") {
        check_erased_matches_direct(problem, inference::disk_family<flared_component, keplerian_component>{}, flared, beam);
    }
    SECTION("thin, self-gravitating: without them") {
        // x0, y0, inc, PA, vlsr, then mstar, dist, mdisk, gamma, r_in, r_out.
        Eigen::VectorXd full(11);
        full << 0.0, 0.0, 46.7, 312.0, 5700.0, 2.0, 101.0, 0.1, 1.0, 0.1, 5.0;
        check_erased_matches_direct(problem, inference::disk_family<thin_component, self_gravitating_component>{}, full, beam);
    }
}

TEST_CASE("any_disk_likelihood: its posterior has the least-squares form", "[any_disk_likelihood]") {
    STATIC_REQUIRE(named_least_squares_log_likelihood<any_disk_likelihood>);
    const erased_likelihood_problem problem = erased_likelihood_problem_with_beam(false);
    const any_disk_likelihood erased(inference::disk_likelihood<inference::disk_family<>>(problem.map, problem.mask));
    const auto posterior = inference::make_posterior(inference::parameter_set(hd163296_like::parameters()), erased);
    STATIC_REQUIRE(hessian_log_density<decltype(posterior)>);
    Eigen::VectorXd gradient, gauss_newton_gradient;
    Eigen::MatrixXd hessian;
    const Eigen::VectorXd start = posterior.parameters().start();
    const double value = posterior.log_density_gradient(start, gradient);
    CHECK(posterior.log_density_gauss_newton(start, gauss_newton_gradient, hessian) == Approx(value).epsilon(1e-10));
    CHECK((gauss_newton_gradient - gradient).norm() <= 1e-6 * gradient.norm());
}
