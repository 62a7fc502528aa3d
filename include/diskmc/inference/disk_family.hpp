#pragma once
// How a likelihood's full vector of named parameters becomes a disk model:
// a "disk model family" lists the parameter names (eddy's), carries their
// catalogue (defaults, priors, valid ranges) and builds disk_model<T, ...>
// from a vector of any scalar type T, so one family serves the double path,
// the tile autodiff path and the reference autodiff path.
//
// The built-in family is composed of a surface and a rotation component and
// optional radial and vertical flow components (concepts/disk_component.hpp,
// disk/components.hpp); a user's own surface, rotation profile or flow plugs
// in by writing a component, and its parameters go through the whole fit
// (fit_rotation_map takes the family's catalogue).

#include <Eigen/Core>
#include <concepts>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "diskmc/concepts/disk_component.hpp"
#include "diskmc/disk/components.hpp"
#include "diskmc/disk/model.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/inference/parameter_catalogue.hpp"

namespace diskmc::inference {

/// A family of disk models over named parameters:
/// @code
///   std::vector<std::string> parameter_names() const;
///   inference::parameter_catalogue catalogue() const;  // exactly parameter_names(), with defaults and priors
///   template <class T> auto make(const Eigen::Matrix<T, Eigen::Dynamic, 1>& full) const;  // a disk_model<T, ...>
/// @endcode
/// The catalogue is required: the fit takes its names, defaults and priors
/// from it, and no library table can know a hand-written family's own names
/// (disk_family builds it from its components' declarations).
template <class F>
concept disk_model_family = requires(const F& family, const Eigen::VectorXd& full) {
    { family.parameter_names() } -> std::convertible_to<std::vector<std::string>>;
    { family.catalogue() } -> std::convertible_to<inference::parameter_catalogue>;
    family.template make<double>(full);
};

namespace detail {

/// The name of type T as the compiler spells it (for messages).
template <class T>
std::string_view type_name() {
    const std::string_view signature = __PRETTY_FUNCTION__;  // "... [with T = name; ...]" (g++), "[T = name]" (clang)
    const std::size_t start = signature.find("T = ");
    if (start == std::string_view::npos) return "a component";
    const std::size_t end = signature.find_first_of(";]", start);
    return signature.substr(start + 4, end - start - 4);
}

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
/// radial and vertical flow components (concepts/disk_component.hpp). Its
/// names are x0, y0, inc, PA, vlsr, then the surface's, the rotation's, the
/// radial flow's and the vertical flow's; its catalogue is their
/// declarations. A name declared twice (by two components, or by a
/// component and the geometry) is refused when the family is constructed,
/// naming the parameter and both declarers. A made flow with a `dist` member
/// gets the rotation's distance (a flow's power law is in au).
template <class SurfaceComponent = flared_component, class RotationComponent = keplerian_component,
          class RadialComponent = no_flow_component, class VerticalComponent = no_flow_component>
struct disk_family {
    static_assert(require_disk_component<SurfaceComponent>());
    static_assert(require_disk_component<RotationComponent>());
    static_assert(require_disk_component<RadialComponent>());
    static_assert(require_disk_component<VerticalComponent>());

    using surface_component = SurfaceComponent;
    using rotation_component = RotationComponent;
    using radial_component = RadialComponent;
    using vertical_component = VerticalComponent;

    int flared_niter = 5;  ///< fixed-point iterations of the deprojection (eddy's default)

    /// The parameter names, in the order of the full vector make() reads.
    std::vector<std::string> parameter_names() const {
        std::vector<std::string> names;
        for (const auto& entry : declarations()) names.push_back(entry.name);
        return names;
    }

    /// The parameters' defaults, default priors, valid ranges and units:
    /// exactly parameter_names(), in that order.
    inference::parameter_catalogue catalogue() const { return inference::parameter_catalogue(declarations()); }

    /// Checks the values of a full vector (of parameter_names()) against the
    /// components' checks and the geometry's valid ranges.
    /// @throws invalid_input naming the first bad parameter and its value
    void check(std::string_view where, const Eigen::VectorXd& full) const {
        const std::vector<inference::parameter_info> declared = declarations();
        if (full.size() != static_cast<Eigen::Index>(declared.size()))
            diskmc::detail::throw_invalid_input(where, ": the family has ", declared.size(), " parameters, got ",
                                        full.size(), " values");
        const auto model = make<double>(full);
        check_model(model, where);  // the geometry (and the built-in components again)
        SurfaceComponent::check(where, model.surface);
        RotationComponent::check(where, model.rotation);
        RadialComponent::check(where, model.radial);
        VerticalComponent::check(where, model.vertical);
    }

    template <class T>
    auto make(const Eigen::Matrix<T, Eigen::Dynamic, 1>& full) const {
        parameter_reader<T> in(full);
        using surface_type = decltype(SurfaceComponent::make(in));
        using rotation_type = decltype(RotationComponent::make(in));
        using radial_type = decltype(RadialComponent::make(in));
        using vertical_type = decltype(VerticalComponent::make(in));
        disk_model<T, surface_type, rotation_type, radial_type, vertical_type> model;
        model.geometry.x0 = in.next();
        model.geometry.y0 = in.next();
        model.geometry.inc = in.next();
        model.geometry.PA = in.next();
        model.vlsr = in.next();
        model.surface = SurfaceComponent::make(in);
        model.rotation = RotationComponent::make(in);
        model.radial = RadialComponent::make(in);
        model.vertical = VerticalComponent::make(in);
        if constexpr (requires { model.radial.dist; }) model.radial.dist = detail::distance_of(model.rotation);
        if constexpr (requires { model.vertical.dist; }) model.vertical.dist = detail::distance_of(model.rotation);
        model.flared_niter = flared_niter;
        return model;
    }

    // Runs the checks of the components' declarations when a family is
    // constructed, aggregate initialisation included (so it is public: a
    // private member would make the family no aggregate). Not for use.
    struct declarations_checked {
        declarations_checked() { disk_family::declarations(); }
    };
    [[no_unique_address]] declarations_checked declarations_checked_{};

private:
    /// The geometry's and the components' declarations, in
    /// order; throws if a name is declared twice, or a component's make reads
    /// another number of parameters than it declares.
    static std::vector<inference::parameter_info> declarations() {
        struct part {
            std::string_view who;
            std::vector<inference::parameter_info> entries;
        };
        const part parts[] = {{"the geometry (x0, y0, inc, PA, vlsr)", geometry_parameters()},
                              {detail::type_name<SurfaceComponent>(), SurfaceComponent::parameters()},
                              {detail::type_name<RotationComponent>(), RotationComponent::parameters()},
                              {detail::type_name<RadialComponent>(), RadialComponent::parameters()},
                              {detail::type_name<VerticalComponent>(), VerticalComponent::parameters()}};
        std::vector<inference::parameter_info> all;
        std::vector<std::string_view> declared_by;
        for (const part& p : parts)
            for (const inference::parameter_info& entry : p.entries) {
                for (std::size_t k = 0; k < all.size(); ++k)
                    if (all[k].name == entry.name)
                        diskmc::detail::throw_invalid_input("disk_family: parameter '", entry.name, "' is declared by both ",
                                                    declared_by[k], " and ", p.who,
                                                    "; a family's components need distinct parameter names");
                all.push_back(entry);
                declared_by.push_back(p.who);
            }
        check_reads<SurfaceComponent>(parts[1]);
        check_reads<RotationComponent>(parts[2]);
        check_reads<RadialComponent>(parts[3]);
        check_reads<VerticalComponent>(parts[4]);
        return all;
    }

    template <class Component, class Part>
    static void check_reads(const Part& p) {
        const Eigen::VectorXd values =
            Eigen::VectorXd::Constant(static_cast<Eigen::Index>(p.entries.size()) + 64,  // room to count over-reads
                                      std::numeric_limits<double>::quiet_NaN());
        parameter_reader<double> in(values);
        Component::make(in);
        if (in.position() != static_cast<Eigen::Index>(p.entries.size()))
            diskmc::detail::throw_invalid_input("disk_family: ", p.who, "'s make() reads ", in.position(),
                                        " parameters but its parameters() declares ", p.entries.size(),
                                        "; make must read exactly the declared parameters, in order");
    }
};

}  // namespace diskmc::inference
