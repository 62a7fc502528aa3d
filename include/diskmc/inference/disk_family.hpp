#pragma once
// How a likelihood's full vector of named parameters becomes a disk model:
// a "disk model family" lists the parameter names (eddy's) and builds
// disk_model<T, ...> from a vector of any scalar type T, so one family serves
// the double path, the tile autodiff path and the reference autodiff path.
//
// The built-in family is composed of a surface and a rotation component and
// optional radial and vertical flow components; a user's own surface,
// rotation profile or flow plugs in by writing a component of the same shape
// (see flared_component, radial_power_law_component), or a whole family.

#include <Eigen/Core>
#include <concepts>
#include <utility>
#include <string>
#include <vector>

#include "diskmc/disk/model.hpp"

namespace diskmc {

/// Reads a full parameter vector in order, for the components of a family.
template <class T>
class parameter_reader {
public:
    explicit parameter_reader(const Eigen::Matrix<T, Eigen::Dynamic, 1>& full) : full_(full) {}
    /// The next parameter.
    const T& next() { return full_[position_++]; }
    Eigen::Index position() const { return position_; }

private:
    const Eigen::Matrix<T, Eigen::Dynamic, 1>& full_;
    Eigen::Index position_ = 0;
};

/// A family of disk models over named parameters:
/// @code
///   std::vector<std::string> parameter_names() const;
///   template <class T> auto make(const Eigen::Matrix<T, Eigen::Dynamic, 1>& full) const;  // a disk_model<T, ...>
/// @endcode
template <class F>
concept disk_model_family = requires(const F& family, const Eigen::VectorXd& full) {
    { family.parameter_names() } -> std::convertible_to<std::vector<std::string>>;
    family.template make<double>(full);
};

/// The midplane surface: no parameters.
struct thin_component {
    static std::vector<std::string> names() { return {}; }
    template <class T>
    static thin_surface make(parameter_reader<T>&) {
        return {};
    }
};

/// eddy's flared, tapered surface: z0, psi, r_cavity, r_taper, q_taper.
struct flared_component {
    static std::vector<std::string> names() { return {"z0", "psi", "r_cavity", "r_taper", "q_taper"}; }
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
    static std::vector<std::string> names() { return {"z0"}; }
    template <class T>
    static conical_surface<T> make(parameter_reader<T>& in) {
        conical_surface<T> surface;
        surface.z0 = in.next();
        return surface;
    }
};

/// Keplerian rotation: mstar, dist.
struct keplerian_component {
    static std::vector<std::string> names() { return {"mstar", "dist"}; }
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
    static std::vector<std::string> names() { return {"vp_100", "vp_q", "dist"}; }
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
    static std::vector<std::string> names() { return {"mstar", "dist", "mdisk", "gamma", "r_in", "r_out"}; }
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

// Flow components: make(in, dist) with the rotation's distance (a flow's
// power law is in au, as eddy's vp_100, and dist is the rotation's parameter).

/// No flow (the default): no parameters, no term in the model.
struct no_flow_component {
    static std::vector<std::string> names() { return {}; }
    template <class T>
    static no_flow make(parameter_reader<T>&, const T&) {
        return {};
    }
};

namespace detail {

/// A power-law flow from the next two parameters (its speed at 100 au and
/// its exponent) and the rotation's distance.
template <class T>
power_law_flow<T> read_power_law_flow(parameter_reader<T>& in, const T& dist) {
    power_law_flow<T> flow;
    flow.v_100 = in.next();
    flow.q = in.next();
    flow.dist = dist;
    return flow;
}

}  // namespace detail

/// A radial flow, power law of radius: vr_100 (eddy's name: m/s at 100 au,
/// > 0 outward), vr_q.
struct radial_power_law_component {
    static std::vector<std::string> names() { return {"vr_100", "vr_q"}; }
    template <class T>
    static power_law_flow<T> make(parameter_reader<T>& in, const T& dist) {
        return detail::read_power_law_flow(in, dist);
    }
};

/// A vertical flow, power law of radius: vz_100 (m/s at 100 au; it enters
/// the line of sight as -vz cos(inc), eddy's _proj_valt), vz_q.
struct vertical_power_law_component {
    static std::vector<std::string> names() { return {"vz_100", "vz_q"}; }
    template <class T>
    static power_law_flow<T> make(parameter_reader<T>& in, const T& dist) {
        return detail::read_power_law_flow(in, dist);
    }
};

namespace detail {

/// The distance of a rotation profile, for the flows' power laws.
template <class Rotation>
const auto& distance_of(const Rotation& rotation) {
    static_assert(requires { rotation.dist; },
                  "diskmc: flow components take the distance of the rotation profile, "
                  "which needs a `dist` member (as the built-in profiles have)");
    return rotation.dist;
}

}  // namespace detail

/// A family from a surface component, a rotation component and optional
/// radial and vertical flow components. Its names are x0, y0, inc, PA, vlsr,
/// then the surface's, the rotation's, the radial flow's, the vertical flow's.
template <class SurfaceComponent = flared_component, class RotationComponent = keplerian_component,
          class RadialComponent = no_flow_component, class VerticalComponent = no_flow_component>
struct disk_family {
    int flared_niter = 5;  ///< fixed-point iterations of the deprojection (eddy's default)

    std::vector<std::string> parameter_names() const {
        std::vector<std::string> names = {"x0", "y0", "inc", "PA", "vlsr"};
        for (auto& name : SurfaceComponent::names()) names.push_back(std::move(name));
        for (auto& name : RotationComponent::names()) names.push_back(std::move(name));
        for (auto& name : RadialComponent::names()) names.push_back(std::move(name));
        for (auto& name : VerticalComponent::names()) names.push_back(std::move(name));
        return names;
    }

    template <class T>
    auto make(const Eigen::Matrix<T, Eigen::Dynamic, 1>& full) const {
        parameter_reader<T> in(full);
        using surface_type = decltype(SurfaceComponent::make(in));
        using rotation_type = decltype(RotationComponent::make(in));
        using radial_type = decltype(RadialComponent::make(in, std::declval<const T&>()));
        using vertical_type = decltype(VerticalComponent::make(in, std::declval<const T&>()));
        disk_model<T, surface_type, rotation_type, radial_type, vertical_type> model;
        model.geometry.x0 = in.next();
        model.geometry.y0 = in.next();
        model.geometry.inc = in.next();
        model.geometry.PA = in.next();
        model.vlsr = in.next();
        model.surface = SurfaceComponent::make(in);
        model.rotation = RotationComponent::make(in);
        if constexpr (has_flow<radial_type>) model.radial = RadialComponent::make(in, detail::distance_of(model.rotation));
        if constexpr (has_flow<vertical_type>)
            model.vertical = VerticalComponent::make(in, detail::distance_of(model.rotation));
        model.flared_niter = flared_niter;
        return model;
    }
};

}  // namespace diskmc
