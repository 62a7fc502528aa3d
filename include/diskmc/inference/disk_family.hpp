#pragma once
// How a likelihood's full vector of named parameters becomes a disk model:
// a "disk model family" lists the parameter names (eddy's) and builds
// disk_model<T, ...> from a vector of any scalar type T, so one family serves
// the double path, the tile autodiff path and the reference autodiff path.
//
// The built-in family is composed of a surface and a rotation component;
// a user's own surface or rotation profile plugs in by writing a component
// of the same shape (see flared_component), or a whole family.

#include <Eigen/Core>
#include <concepts>
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

/// A family from a surface component and a rotation component. Its names are
/// x0, y0, inc, PA, vlsr, then the surface's, then the rotation's.
template <class SurfaceComponent = flared_component, class RotationComponent = keplerian_component>
struct disk_family {
    int flared_niter = 5;  ///< fixed-point iterations of the deprojection (eddy's default)

    std::vector<std::string> parameter_names() const {
        std::vector<std::string> names = {"x0", "y0", "inc", "PA", "vlsr"};
        for (auto& name : SurfaceComponent::names()) names.push_back(std::move(name));
        for (auto& name : RotationComponent::names()) names.push_back(std::move(name));
        return names;
    }

    template <class T>
    auto make(const Eigen::Matrix<T, Eigen::Dynamic, 1>& full) const {
        parameter_reader<T> in(full);
        using surface_type = decltype(SurfaceComponent::make(in));
        using rotation_type = decltype(RotationComponent::make(in));
        disk_model<T, surface_type, rotation_type> model;
        model.geometry.x0 = in.next();
        model.geometry.y0 = in.next();
        model.geometry.inc = in.next();
        model.geometry.PA = in.next();
        model.vlsr = in.next();
        model.surface = SurfaceComponent::make(in);
        model.rotation = RotationComponent::make(in);
        model.flared_niter = flared_niter;
        return model;
    }
};

}  // namespace diskmc
