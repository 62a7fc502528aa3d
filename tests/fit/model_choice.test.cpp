// The fit's model chosen by name (include/diskmc/fit/model_choice.hpp): each
// name selects its component, the default is eddy's rule, an unknown name is
// refused listing the known ones, and a fit runs with the family chosen
// (L-BFGS-B for the MAP step where the family has no normal equations).

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "diskmc/fit.hpp"
#include "support/throws.hpp"

namespace {

using namespace diskmc;

/// The full parameter names of the family a choice selects.
std::vector<std::string> chosen_names(const disk_model_choice& choice,
                                      const std::vector<inference::parameter>& parameters = {}) {
    return with_chosen_family(choice, parameters, "test",
                              [](const auto& family) { return family.parameter_names(); });
}

std::vector<std::string> geometry_and(std::vector<std::string> rest) {
    std::vector<std::string> names = {"x0", "y0", "inc", "PA", "vlsr"};
    names.insert(names.end(), rest.begin(), rest.end());
    return names;
}

/// A quick NUTS fit of the HD163296-like map (8x downsampled) with the given
/// model and parameters: inc and the geometry as the benchmark's.
fit_options model_choice_problem(disk_model_choice model, std::vector<inference::parameter> rotation) {
    using inference::fixed_parameter;
    using inference::free_parameter;
    std::vector<inference::parameter> parameters = {
        free_parameter("x0", 0.0),         free_parameter("y0", 0.0),   fixed_parameter("inc", 46.7),
        free_parameter("PA", 312.0),       free_parameter("vlsr", 5700.0)};
    parameters.insert(parameters.end(), rotation.begin(), rotation.end());
    return fit_options{.map = hd163296_like::map(false),
                       .downsample = {.factor = 8},
                       .parameters = parameters,
                       .model = std::move(model),
                       .mask = {.r_min = hd163296_like::r_min},
                       .optimize = false,
                       .sampler = nuts_fit_settings{.options = {.sampler = {.warmup = 20, .samples = 10}, .chains = 1}}};
}

}  // namespace

TEST_CASE("model choice: each name selects its component", "[fit][model_choice]") {
    const std::vector<std::string> flared = {"z0", "psi", "r_cavity", "r_taper", "q_taper"};
    CHECK(chosen_names({.surface = "thin"}) == geometry_and({"mstar", "dist"}));
    std::vector<std::string> flared_keplerian = flared;
    flared_keplerian.insert(flared_keplerian.end(), {"mstar", "dist"});
    CHECK(chosen_names({.surface = "flared"}) == geometry_and(flared_keplerian));
    CHECK(chosen_names({.surface = "thin", .rotation = "keplerian"}) == geometry_and({"mstar", "dist"}));
    CHECK(chosen_names({.surface = "thin", .rotation = "power_law"}) == geometry_and({"vp_100", "vp_q", "dist"}));
    CHECK(chosen_names({.surface = "thin", .rotation = "self_gravity"}) ==
          geometry_and({"mstar", "dist", "mdisk", "gamma", "r_in", "r_out"}));
    CHECK(chosen_names({.surface = "conical"}) == geometry_and({"z0", "mstar", "dist"}));
    CHECK(chosen_names({.surface = "thin", .radial = "power_law"}) == geometry_and({"mstar", "dist", "vr_100", "vr_q"}));
    CHECK(chosen_names({.surface = "thin", .vertical = "power_law"}) ==
          geometry_and({"mstar", "dist", "vz_100", "vz_q"}));
    CHECK(chosen_names({.surface = "thin", .rotation = "power_law", .radial = "power_law", .vertical = "power_law"}) ==
          geometry_and({"vp_100", "vp_q", "dist", "vr_100", "vr_q", "vz_100", "vz_q"}));
    CHECK(diskmc::detail::choice_names(surface_choices) == std::vector<std::string>{"thin", "flared", "conical"});
    CHECK(diskmc::detail::choice_names(rotation_choices) ==
          std::vector<std::string>{"keplerian", "power_law", "self_gravity"});
    CHECK(diskmc::detail::choice_names(radial_choices) == std::vector<std::string>{"none", "power_law"});
    CHECK(diskmc::detail::choice_names(vertical_choices) == std::vector<std::string>{"none", "power_law"});
}

TEST_CASE("model choice: without a surface, eddy's rule (flared when z0 or psi is given)", "[fit][model_choice]") {
    using inference::fixed_parameter;
    using inference::free_parameter;
    CHECK(chosen_surface({}, {free_parameter("mstar", 1.0)}) == "thin");
    CHECK(chosen_surface({}, {free_parameter("mstar", 1.0), fixed_parameter("z0", 0.2)}) == "flared");
    CHECK(chosen_surface({}, {free_parameter("psi", 1.2)}) == "flared");
    CHECK(chosen_surface({.surface = "thin"}, {free_parameter("z0", 0.2)}) == "thin");
    CHECK(chosen_names({}, hd163296_like::parameters()) == inference::disk_family<>{}.parameter_names());
    CHECK(chosen_names({}, {free_parameter("mstar", 1.0)}) == geometry_and({"mstar", "dist"}));
}

TEST_CASE("model choice: an unknown name is refused, listing the known ones", "[fit][model_choice]") {
    CHECK_THROWS_MATCHES(check_disk_model_choice({.surface = "bowl"}, "test"), invalid_input,
                         testing::message_contains("test: unknown surface \"bowl\" (the choices: \"thin\", "
                                                   "\"flared\", \"conical\")"));
    CHECK_THROWS_MATCHES(check_disk_model_choice({.radial = "infall"}, "test"), invalid_input,
                         testing::message_contains("test: unknown radial flow \"infall\" (the choices: \"none\", "
                                                   "\"power_law\")"));
    CHECK_THROWS_MATCHES(check_disk_model_choice({.vertical = "wind"}, "test"), invalid_input,
                         testing::message_contains("test: unknown vertical flow \"wind\""));
    CHECK_THROWS_MATCHES(
        check_disk_model_choice({.rotation = "kepler"}, "test"), invalid_input,
        testing::message_contains(
            "test: unknown rotation \"kepler\" (the choices: \"keplerian\", \"power_law\", \"self_gravity\")"));
    fit_options o = model_choice_problem({.rotation = "solid_body"}, {inference::free_parameter("mstar", 2.0)});
    CHECK_THROWS_MATCHES(fit_rotation_map(o), invalid_input,
                         testing::message_contains("fit_rotation_map: unknown rotation \"solid_body\""));
}

TEST_CASE("model choice: a fit runs with the chosen family", "[fit][model_choice]") {
    using inference::fixed_parameter;
    using inference::free_parameter;
    SECTION("thin, power law") {
        const fit_result fit = fit_rotation_map(model_choice_problem(
            {.surface = "thin", .rotation = "power_law"},
            {free_parameter("vp_100", 4000.0), fixed_parameter("vp_q", -0.5), fixed_parameter("dist", 101.0)}));
        CHECK(fit.full_names == geometry_and({"vp_100", "vp_q", "dist"}));
        CHECK(fit.parameter("vp_100").p50 > 0.0);
        CHECK(fit.gradient_evaluations > 0);
    }
    SECTION("thin, self-gravitating: the MAP step by L-BFGS-B (no normal equations)") {
        fit_options o = model_choice_problem(
            {.surface = "thin", .rotation = "self_gravity"},
            {free_parameter("mstar", 2.0), fixed_parameter("dist", 101.0), fixed_parameter("mdisk", 0.05),
             fixed_parameter("gamma", 1.0), fixed_parameter("r_in", 0.1), fixed_parameter("r_out", 5.0)});
        o.optimize = true;
        const fit_result fit = fit_rotation_map(o);
        CHECK(fit.full_names == geometry_and({"mstar", "dist", "mdisk", "gamma", "r_in", "r_out"}));
        REQUIRE(fit.map.has_value());
        CHECK(fit.map->method == inference::map_method::lbfgsb);
        CHECK(fit.jacobian_evaluations == 0);
        o.map_settings.method = inference::map_method::gauss_newton;
        CHECK_THROWS_MATCHES(fit_rotation_map(o), invalid_input,
                             testing::message_contains("the MAP method gauss_newton needs a model whose every "
                                                       "component has a closed-form gradient"));
    }
    SECTION("thin, Keplerian, radial and vertical power-law flows (the closed-form gradient)") {
        const fit_result fit = fit_rotation_map(model_choice_problem(
            {.surface = "thin", .radial = "power_law", .vertical = "power_law"},
            {free_parameter("mstar", 2.0), fixed_parameter("dist", 101.0), free_parameter("vr_100", 10.0),
             fixed_parameter("vr_q", -0.5), free_parameter("vz_100", 5.0), fixed_parameter("vz_q", 0.0)}));
        CHECK(fit.full_names == geometry_and({"mstar", "dist", "vr_100", "vr_q", "vz_100", "vz_q"}));
        CHECK(std::isfinite(fit.parameter("vr_100").p50));
        CHECK(std::isfinite(fit.parameter("vz_100").p50));
        CHECK(fit.gradient_evaluations > 0);
    }
    SECTION("conical surface (the closed-form adjoint)") {
        const fit_result fit = fit_rotation_map(model_choice_problem(
            {.surface = "conical"}, {free_parameter("z0", 0.1), free_parameter("mstar", 2.0),
                                      fixed_parameter("dist", 101.0)}));
        CHECK(fit.full_names == geometry_and({"z0", "mstar", "dist"}));
        CHECK(std::isfinite(fit.parameter("z0").p50));
    }
    SECTION("a parameter the chosen family does not use is refused") {
        fit_options o = model_choice_problem({.surface = "thin"}, {free_parameter("mstar", 2.0)});
        o.parameters.push_back(fixed_parameter("z0", 0.2));
        CHECK_THROWS_MATCHES(fit_rotation_map(o), invalid_input,
                             testing::message_contains("unknown parameter 'z0' (known: x0, y0, inc, PA, vlsr, mstar, dist)"));
    }
}
