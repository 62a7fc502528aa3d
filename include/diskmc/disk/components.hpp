#pragma once
// The built-in disk components (concepts/disk_component.hpp): eddy's
// surfaces and rotation profiles with eddy's parameter declarations
// (default_parameters.yml of richteague/eddy: defaults and flat default
// priors; a single prior value v in eddy means [-v, v]), and the geometry's
// parameters every family has. eddy_parameters() (inference/parameters.hpp)
// is assembled from these declarations.
//
// check_model() checks a model made of built-in surfaces and profiles with
// their components' check; a user's own surface or profile is checked by its
// component when a family makes it (inference::disk_family::check).

#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "diskmc/concepts/disk_component.hpp"
#include "diskmc/disk/rotation.hpp"
#include "diskmc/disk/surfaces.hpp"
#include "diskmc/disk/velocity_fields.hpp"
#include "diskmc/inference/parameter_catalogue.hpp"
#include "diskmc/inference/prior.hpp"

namespace diskmc {

namespace detail {

inline inference::prior flat_prior(double lower, double upper) { return inference::prior::flat(lower, upper); }

// Parameters more than one component uses, declared once.
inline inference::parameter_info stellar_mass_parameter() {
    return {"mstar", 1.0, flat_prior(0.01, 10.0), 0.0, "Msun", "stellar mass", inference::valid_range::positive()};
}
inline inference::parameter_info distance_parameter() {
    return {"dist", 100.0, flat_prior(0.0, 1000.0), 0.0, "pc", "distance", inference::valid_range::positive()};
}
inline inference::parameter_info surface_height_parameter() {
    return {"z0", std::nullopt, flat_prior(0.0, 5.0), 0.0, "arcsec",
            "emission height at 1 arcsec; < 0 for the far side"};
}

}  // namespace detail

/// The parameters of the disk's position and orientation and of the systemic
/// velocity, which every inference::disk_family has first: x0, y0, inc, PA, vlsr.
inline std::vector<inference::parameter_info> geometry_parameters() {
    using detail::flat_prior;
    return {
        {"x0", 0.0, flat_prior(-0.5, 0.5), 0.0, "arcsec", "source offset in right ascension"},
        {"y0", 0.0, flat_prior(-0.5, 0.5), 0.0, "arcsec", "source offset in declination"},
        {"inc", 0.0, flat_prior(-90.0, 90.0), 0.0, "deg", "inclination; > 0 rotates clockwise on the sky"},
        {"PA", 0.0, flat_prior(-360.0, 360.0), 360.0, "deg",
         "position angle of the red-shifted major axis, east of north"},
        {"vlsr", 0.0, flat_prior(-1e4, 1e4), 0.0, "m/s", "systemic velocity"},
    };
}

/// The midplane surface: no parameters.
struct thin_component {
    static std::vector<inference::parameter_info> parameters() { return {}; }
    static void check(std::string_view, const thin_surface&) {}
    template <class T>
    static thin_surface make(parameter_reader<T>&) {
        return {};
    }
};

/// eddy's flared, tapered surface: z0, psi, r_cavity, r_taper, q_taper.
struct flared_component {
    static std::vector<inference::parameter_info> parameters() {
        using detail::flat_prior;
        using inference::valid_range;
        const std::nullopt_t none = std::nullopt;
        return {
            detail::surface_height_parameter(),
            {"psi", none, flat_prior(0.0, 5.0), 0.0, "", "flaring index of the emission surface"},
            {"r_cavity", 0.0, flat_prior(0.0, 1000.0), 0.0, "arcsec", "inside this radius the surface is flat"},
            {"r_taper", std::numeric_limits<double>::infinity(),
             flat_prior(0.0, std::numeric_limits<double>::infinity()), 0.0, "arcsec",
             "exponential taper radius of the surface", valid_range::positive_or_infinite()},
            {"q_taper", 1.0, flat_prior(0.0, 15.0), 0.0, "", "exponent of the surface taper"},
        };
    }
    template <class T>
    static void check(std::string_view where, const flared_surface<T>& s) {
        check_declared<flared_component>(where, {s.z0, s.psi, s.r_cavity, s.r_taper, s.q_taper});
    }
    template <class T>
    static flared_surface<T> make(parameter_reader<T>& in) {
        flared_surface<T> surface;
        surface.z0 = in.next();
        surface.psi = in.next();
        surface.r_cavity = in.next();
        surface.r_taper = in.next();
        surface.q_taper = in.next();
        return surface;
    }
};

/// eddy's conical surface (z0 given, psi not: its analytic deprojection): z0.
struct conical_component {
    static std::vector<inference::parameter_info> parameters() { return {detail::surface_height_parameter()}; }
    template <class T>
    static void check(std::string_view where, const conical_surface<T>& s) {
        check_declared<conical_component>(where, {s.z0});
    }
    template <class T>
    static conical_surface<T> make(parameter_reader<T>& in) {
        conical_surface<T> surface;
        surface.z0 = in.next();
        return surface;
    }
};

/// Keplerian rotation: mstar, dist.
struct keplerian_component {
    static std::vector<inference::parameter_info> parameters() {
        return {detail::stellar_mass_parameter(), detail::distance_parameter()};
    }
    template <class T>
    static void check(std::string_view where, const keplerian_rotation<T>& p) {
        check_declared<keplerian_component>(where, {p.mstar, p.dist});
    }
    template <class T>
    static keplerian_rotation<T> make(parameter_reader<T>& in) {
        keplerian_rotation<T> rotation;
        rotation.mstar = in.next();
        rotation.dist = in.next();
        return rotation;
    }
};

/// eddy's power-law rotation: vp_100, vp_q, dist.
struct power_law_component {
    static std::vector<inference::parameter_info> parameters() {
        using detail::flat_prior;
        return {
            {"vp_100", std::nullopt, flat_prior(0.0, 1e4), 0.0, "m/s",
             "rotation velocity at 100 au (power law instead of mstar)"},
            {"vp_q", std::nullopt, flat_prior(-2.0, 0.0), 0.0, "", "power-law index of the rotation velocity"},
            detail::distance_parameter(),
        };
    }
    template <class T>
    static void check(std::string_view where, const power_law_rotation<T>& p) {
        check_declared<power_law_component>(where, {p.vp_100, p.vp_q, p.dist});
    }
    template <class T>
    static power_law_rotation<T> make(parameter_reader<T>& in) {
        power_law_rotation<T> rotation;
        rotation.vp_100 = in.next();
        rotation.vp_q = in.next();
        rotation.dist = in.next();
        return rotation;
    }
};

/// Keplerian rotation with eddy's pseudo self-gravity: mstar, dist, mdisk, gamma, r_in, r_out.
struct self_gravitating_component {
    static std::vector<inference::parameter_info> parameters() {
        using detail::flat_prior;
        using inference::valid_range;
        const std::nullopt_t none = std::nullopt;
        return {
            detail::stellar_mass_parameter(),
            detail::distance_parameter(),
            {"mdisk", none, flat_prior(-10.0, 10.0), 0.0, "Msun", "disk mass", valid_range::nonnegative()},
            {"gamma", none, flat_prior(-20.0, 20.0), 0.0, "", "surface density index"},
            {"r_in", none, flat_prior(0.0, 10.0), 0.0, "arcsec", "inner radius of the disk mass",
             valid_range::nonnegative()},
            {"r_out", none, flat_prior(0.0, 100.0), 0.0, "arcsec", "outer radius of the disk mass",
             valid_range::positive()},
        };
    }
    template <class T>
    static void check(std::string_view where, const self_gravitating_rotation<T>& p) {
        check_declared<self_gravitating_component>(where, {p.mstar, p.dist, p.mdisk, p.gamma, p.r_in, p.r_out});
        if constexpr (math::has_value_of<T>) {
            const double r_in = math::value_of(p.r_in), r_out = math::value_of(p.r_out);
            // r_in^(2-gamma) is infinite (or log 0) at r_in = 0 unless gamma < 2.
            if (!(r_in > 0.0 || math::value_of(p.gamma) < 2.0))
                detail::throw_invalid_input(where, ": parameter 'r_in' = ", r_in, " must be > 0 when gamma >= 2 (gamma = ",
                                            math::value_of(p.gamma), ")");
            if (!(r_out > r_in))
                detail::throw_invalid_input(where, ": parameter 'r_out' = ", r_out,
                                            " must be larger than r_in = ", r_in);
        }
    }
    template <class T>
    static self_gravitating_rotation<T> make(parameter_reader<T>& in) {
        self_gravitating_rotation<T> rotation;
        rotation.mstar = in.next();
        rotation.dist = in.next();
        rotation.mdisk = in.next();
        rotation.gamma = in.next();
        rotation.r_in = in.next();
        rotation.r_out = in.next();
        return rotation;
    }
};

// Flow components. A flow's power law is in au, as eddy's vp_100, so it
// needs the distance: that is the rotation's parameter, and inference::disk_family
// gives it to a made flow with a `dist` member (flows declare no `dist`).

/// No flow (the default radial and vertical flow of inference::disk_family): no parameters.
struct no_flow_component {
    static std::vector<inference::parameter_info> parameters() { return {}; }
    static void check(std::string_view, const no_flow&) {}
    template <class T>
    static no_flow make(parameter_reader<T>&) {
        return {};
    }
};

namespace detail {

/// A power-law flow from the next two parameters (its speed at 100 au and
/// its exponent); its distance is set by the family.
template <class T>
power_law_flow<T> read_power_law_flow(parameter_reader<T>& in) {
    power_law_flow<T> flow;
    flow.v_100 = in.next();
    flow.q = in.next();
    return flow;
}

}  // namespace detail

/// A radial flow, power law of radius: vr_100 (eddy's name: m/s at 100 au,
/// > 0 outward), vr_q. Priors as eddy's.
struct radial_power_law_component {
    static std::vector<inference::parameter_info> parameters() {
        using detail::flat_prior;
        return {{"vr_100", std::nullopt, flat_prior(-1000.0, 1000.0), 0.0, "m/s",
                 "radial velocity at 100 au"},
                {"vr_q", std::nullopt, flat_prior(-2.0, 2.0), 0.0, "", "power-law index of the radial velocity"}};
    }
    template <class T>
    static void check(std::string_view where, const power_law_flow<T>& f) {
        check_declared<radial_power_law_component>(where, {f.v_100, f.q});
    }
    template <class T>
    static power_law_flow<T> make(parameter_reader<T>& in) {
        return detail::read_power_law_flow(in);
    }
};

/// A vertical flow, power law of radius: vz_100 (m/s at 100 au; it enters
/// the line of sight as -vz cos(inc), eddy's _proj_valt), vz_q. Not in
/// eddy's table; priors as eddy's radial ones (|v| up to 1 km/s at 100 au,
/// index in [-2, 2]: both far wider than measured flows).
struct vertical_power_law_component {
    static std::vector<inference::parameter_info> parameters() {
        using detail::flat_prior;
        return {{"vz_100", std::nullopt, flat_prior(-1000.0, 1000.0), 0.0, "m/s",
                 "vertical velocity at 100 au; enters the line of sight as -vz cos(inc) (eddy's _proj_valt)"},
                {"vz_q", std::nullopt, flat_prior(-2.0, 2.0), 0.0, "", "power-law index of the vertical velocity"}};
    }
    template <class T>
    static void check(std::string_view where, const power_law_flow<T>& f) {
        check_declared<vertical_power_law_component>(where, {f.v_100, f.q});
    }
    template <class T>
    static power_law_flow<T> make(parameter_reader<T>& in) {
        return detail::read_power_law_flow(in);
    }
};

static_assert(require_disk_component<thin_component>());
static_assert(require_disk_component<flared_component>());
static_assert(require_disk_component<keplerian_component>());
static_assert(require_disk_component<power_law_component>());
static_assert(require_disk_component<self_gravitating_component>());
static_assert(require_disk_component<conical_component>());
static_assert(require_disk_component<no_flow_component>());
static_assert(require_disk_component<radial_power_law_component>());
static_assert(require_disk_component<vertical_power_law_component>());

namespace detail {

// check_model's value checks of the built-in surfaces and profiles, by their
// components. A user's own surface or profile is not known here: its
// component checks it when a family makes it.
template <class Made>
void check_surface(std::string_view, const Made&) {}
template <class T>
void check_surface(std::string_view where, const flared_surface<T>& s) {
    flared_component::check(where, s);
}
template <class T>
void check_surface(std::string_view where, const conical_surface<T>& s) {
    conical_component::check(where, s);
}

template <class Made>
void check_rotation(std::string_view, const Made&) {}
template <class T>
void check_rotation(std::string_view where, const keplerian_rotation<T>& p) {
    keplerian_component::check(where, p);
}
template <class T>
void check_rotation(std::string_view where, const self_gravitating_rotation<T>& p) {
    self_gravitating_component::check(where, p);
}
template <class T>
void check_rotation(std::string_view where, const power_law_rotation<T>& p) {
    power_law_component::check(where, p);
}

// The flows' parameters are named by their role (vr_* or vz_*), so the
// radial and the vertical slot have their own check. A flow's distance is
// the rotation's parameter (checked there) when a family makes the model; a
// model assembled by hand is checked for it here.
template <class T>
void check_flow_distance(std::string_view where, std::string_view name, const power_law_flow<T>& f) {
    if constexpr (math::has_value_of<T>) check_positive(where, name, math::value_of(f.dist));
}

template <class Made>
void check_radial_flow(std::string_view, const Made&) {}
template <class T>
void check_radial_flow(std::string_view where, const power_law_flow<T>& f) {
    radial_power_law_component::check(where, f);
    check_flow_distance(where, "radial flow dist", f);
}
template <class Made>
void check_vertical_flow(std::string_view, const Made&) {}
template <class T>
void check_vertical_flow(std::string_view where, const power_law_flow<T>& f) {
    vertical_power_law_component::check(where, f);
    check_flow_distance(where, "vertical flow dist", f);
}

}  // namespace detail

}  // namespace diskmc
