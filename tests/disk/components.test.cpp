// The built-in disk components: their declarations are eddy's table
// (eddy_parameters() is assembled from them; compared here entry by entry
// with the table as it was written before the components declared it),
// their checks name the parameter and the value, and families refuse a name
// declared twice or a make() that reads other than what it declares.

#include <catch2/catch.hpp>

#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "diskmc/disk/components.hpp"
#include "diskmc/disk/model.hpp"
#include "diskmc/inference/disk_family.hpp"
#include "diskmc/inference/parameters.hpp"
#include "support/throws.hpp"

using namespace diskmc;
using inference::parameter_info;
using inference::prior;

namespace {

// eddy's table as inference/parameters.hpp spelled it out before the
// components declared their parameters (default_parameters.yml of eddy).
std::vector<parameter_info> eddy_table_as_written() {
    constexpr double inf = std::numeric_limits<double>::infinity();
    const auto flat = [](double lower, double upper) { return prior::flat(lower, upper); };
    const std::nullopt_t none = std::nullopt;
    return std::vector<parameter_info>({
        // Source properties.
        {"x0", 0.0, flat(-0.5, 0.5), 0.0, "arcsec", "source offset in right ascension"},
        {"y0", 0.0, flat(-0.5, 0.5), 0.0, "arcsec", "source offset in declination"},
        {"inc", 0.0, flat(-90.0, 90.0), 0.0, "deg", "inclination; > 0 rotates clockwise on the sky"},
        {"PA", 0.0, flat(-360.0, 360.0), 360.0, "deg", "position angle of the red-shifted major axis, east of north"},
        {"vlsr", 0.0, flat(-1e4, 1e4), 0.0, "m/s", "systemic velocity"},
        {"dist", 100.0, flat(0.0, 1000.0), 0.0, "pc", "distance"},
        // Emission surface.
        {"z0", none, flat(0.0, 5.0), 0.0, "arcsec", "emission height at 1 arcsec; < 0 for the far side"},
        {"psi", none, flat(0.0, 5.0), 0.0, "", "flaring index of the emission surface"},
        {"r_cavity", 0.0, flat(0.0, 1000.0), 0.0, "arcsec", "inside this radius the surface is flat"},
        {"r_taper", inf, flat(0.0, inf), 0.0, "arcsec", "exponential taper radius of the surface"},
        {"q_taper", 1.0, flat(0.0, 15.0), 0.0, "", "exponent of the surface taper"},
        // Warp.
        {"w_i", none, flat(-90.0, 90.0), 0.0, "deg", "warp inclination at the centre"},
        {"w_r", none, flat(-10.0, 10.0), 0.0, "arcsec", "warp scale radius"},
        {"w_t", none, flat(-180.0, 180.0), 0.0, "deg", "warp angle of nodes"},
        // Disk surface density (self-gravity).
        {"mdisk", none, flat(-10.0, 10.0), 0.0, "Msun", "disk mass"},
        {"r_in", none, flat(0.0, 10.0), 0.0, "arcsec", "inner radius of the disk mass"},
        {"r_out", none, flat(0.0, 100.0), 0.0, "arcsec", "outer radius of the disk mass"},
        {"gamma", none, flat(-20.0, 20.0), 0.0, "", "surface density index"},
        // Velocity profiles.
        {"mstar", 1.0, flat(0.01, 10.0), 0.0, "Msun", "stellar mass"},
        {"r_pressure", none, flat(0.0, 10.0), 0.0, "arcsec", "pressure-gradient radius"},
        {"w_pressure", none, flat(0.0, 100.0), 0.0, "arcsec", "pressure-gradient width"},
        {"vp_100", none, flat(0.0, 1e4), 0.0, "m/s", "rotation velocity at 100 au (power law instead of mstar)"},
        {"vp_q", none, flat(-2.0, 0.0), 0.0, "", "power-law index of the rotation velocity"},
        {"vp_rtaper", none, flat(0.0, 1000.0), 0.0, "arcsec", "taper radius of the rotation velocity"},
        {"vp_qtaper", none, flat(-2.0, 2.0), 0.0, "", "taper exponent of the rotation velocity"},
        {"vr_100", none, flat(-1000.0, 1000.0), 0.0, "m/s", "radial velocity at 100 au"},
        {"vr_q", none, flat(-2.0, 2.0), 0.0, "", "power-law index of the radial velocity"},
        {"vr_rtaper", none, flat(0.0, 1000.0), 0.0, "arcsec", "taper radius of the radial velocity"},
        {"vr_qtaper", none, flat(-2.0, 2.0), 0.0, "", "taper exponent of the radial velocity"},
        // Vortex.
        {"r0_vortex", none, flat(0.0, 10.0), 0.0, "arcsec", "vortex radius"},
        {"p0_vortex", none, flat(-180.0, 180.0), 0.0, "deg", "vortex azimuth"},
        {"chi_vortex", 5.0, flat(1.0, 20.0), 0.0, "", "vortex aspect ratio"},
        {"r_vortex", 0.1, flat(0.0, 5.0), 0.0, "arcsec", "vortex radial size"},
        {"w_vortex", 0.05, flat(0.0, 5.0), 0.0, "", "vortex azimuthal size"},
        {"v_vortex", 20.0, flat(0.0, 1000.0), 0.0, "m/s", "vortex velocity"},
        // Mask radii.
        {"r_min", 0.0, flat(-10.0, 10.0), 0.0, "arcsec", "inner radius of the fitted region"},
        {"r_max", 10.0, flat(0.0, 20.0), 0.0, "arcsec", "outer radius of the fitted region"},
    });

}

void check_same_entry(const parameter_info& got, const parameter_info& expected) {
    INFO(expected.name);
    CHECK(got.name == expected.name);
    CHECK(got.default_value == expected.default_value);
    CHECK(got.prior.kind == expected.prior.kind);
    CHECK(got.prior.lower == expected.prior.lower);
    CHECK(got.prior.upper == expected.prior.upper);
    CHECK(got.period == expected.period);
    CHECK(got.unit == expected.unit);
    CHECK(got.description == expected.description);
}

struct component_clashing_with_geometry {
    static std::vector<parameter_info> parameters() {
        return {{"inc", 0.0, prior::flat(0.0, 1.0), 0.0, "deg", "a second inclination"}};
    }
    static void check(std::string_view, const thin_surface&) {}
    template <class T>
    static thin_surface make(parameter_reader<T>& in) {
        in.next();
        return {};
    }
};

struct component_reading_too_few {
    static std::vector<parameter_info> parameters() {
        return {{"a_one", 0.0, prior::flat(0.0, 1.0), 0.0, "", "read"},
                {"a_two", 0.0, prior::flat(0.0, 1.0), 0.0, "", "never read"}};
    }
    static void check(std::string_view, const thin_surface&) {}
    template <class T>
    static thin_surface make(parameter_reader<T>& in) {
        in.next();
        return {};
    }
};

}  // namespace

TEST_CASE("eddy's catalogue, assembled from the components, is eddy's table entry by entry", "[disk][components]") {
    std::vector<parameter_info> table = eddy_table_as_written();
    // The vertical flow's parameters are the one addition to eddy's table.
    table.push_back({"vz_100", std::nullopt, prior::flat(-1000.0, 1000.0), 0.0, "m/s",
                     "vertical velocity at 100 au; enters the line of sight as -vz cos(inc) (eddy's _proj_valt)"});
    table.push_back({"vz_q", std::nullopt, prior::flat(-2.0, 2.0), 0.0, "", "power-law index of the vertical velocity"});
    const inference::parameter_catalogue eddy = inference::eddy_parameters();
    REQUIRE(eddy.entries().size() == table.size());
    for (const parameter_info& expected : table) {
        const parameter_info* got = eddy.find(expected.name);
        REQUIRE(got != nullptr);
        check_same_entry(*got, expected);
    }
    // Every built-in family's catalogue is eddy's entries for its names.
    const auto check_family = [&](const auto& family) {
        const inference::parameter_catalogue catalogue = family.catalogue();
        REQUIRE(catalogue.entries().size() == family.parameter_names().size());
        for (const parameter_info& entry : catalogue.entries()) check_same_entry(entry, eddy.at(entry.name));
    };
    check_family(inference::disk_family<flared_component, keplerian_component>{});
    check_family(inference::disk_family<thin_component, keplerian_component>{});
    check_family(inference::disk_family<flared_component, power_law_component>{});
    check_family(inference::disk_family<thin_component, self_gravitating_component>{});
    check_family(inference::disk_family<conical_component, keplerian_component, radial_power_law_component,
                             vertical_power_law_component>{});
    CHECK(inference::disk_family<flared_component, keplerian_component, radial_power_law_component>{}.parameter_names() ==
          std::vector<std::string>{"x0", "y0", "inc", "PA", "vlsr", "z0", "psi", "r_cavity", "r_taper", "q_taper",
                                   "mstar", "dist", "vr_100", "vr_q"});
    CHECK(inference::disk_family<thin_component, power_law_component>{}.parameter_names() ==
          std::vector<std::string>{"x0", "y0", "inc", "PA", "vlsr", "vp_100", "vp_q", "dist"});
}

TEST_CASE("the components check their values, and check_model uses them", "[disk][components]") {
    disk_model<double> model{.geometry = {.inc = 40.0, .PA = 70.0},
                             .surface = {.z0 = 0.3, .psi = 1.2},
                             .rotation = {.mstar = 1.0, .dist = 100.0},
                             .vlsr = 5000.0};
    CHECK_NOTHROW(check_model(model));
    model.surface.r_taper = std::numeric_limits<double>::infinity();  // no taper: valid
    CHECK_NOTHROW(check_model(model));
    model.surface.r_taper = 0.0;
    CHECK_THROWS_MATCHES(check_model(model, "model_image"), invalid_input,
                         testing::message_contains("model_image: parameter 'r_taper' = 0 lies outside its valid range (0, inf]"));
    model.surface.r_taper = 2.0;
    model.rotation.dist = -5.0;
    CHECK_THROWS_MATCHES(check_model(model), invalid_input, testing::message_contains("'dist' = -5"));

    self_gravitating_rotation<double> heavy{.mstar = 1.0, .dist = 100.0, .mdisk = 0.1, .gamma = 2.0, .r_in = 0.0, .r_out = 2.0};
    CHECK_THROWS_MATCHES(self_gravitating_component::check("w", heavy), invalid_input,
                         testing::message_contains("'r_in' = 0 must be > 0 when gamma >= 2"));
    heavy.r_in = 3.0;
    CHECK_THROWS_MATCHES(self_gravitating_component::check("w", heavy), invalid_input,
                         testing::message_contains("'r_out' = 2 must be larger than r_in = 3"));
    heavy.r_in = 0.5;
    heavy.mdisk = -0.1;
    CHECK_THROWS_MATCHES(self_gravitating_component::check("w", heavy), invalid_input,
                         testing::message_contains("'mdisk' = -0.1"));
    power_law_rotation<double> power{.vp_100 = 3000.0, .vp_q = std::numeric_limits<double>::infinity(), .dist = 100.0};
    CHECK_THROWS_MATCHES(power_law_component::check("w", power), invalid_input, testing::message_contains("'vp_q' = inf"));
}

TEST_CASE("a family refuses a name declared twice, or a make reading other than its declaration", "[disk][components][family]") {
    CHECK_THROWS_MATCHES((inference::disk_family<flared_component, flared_component>{}), invalid_input,
                         testing::message_contains("parameter 'z0' is declared by both diskmc::flared_component and "
                                                   "diskmc::flared_component"));
    CHECK_THROWS_MATCHES((inference::disk_family<component_clashing_with_geometry, keplerian_component>{}), invalid_input,
                         testing::message_contains("parameter 'inc' is declared by both the geometry"));
    CHECK_THROWS_MATCHES((inference::disk_family<component_reading_too_few, keplerian_component>{}), invalid_input,
                         testing::message_contains("component_reading_too_few's make() reads 1 parameters but its "
                                                   "parameters() declares 2"));
}
