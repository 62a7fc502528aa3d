#pragma once
// The disk component: one piece of disk physics (an emission surface z(r) or
// a rotation profile v_phi(r, z)) with its parameters declared in one place.
// inference::disk_family composes components into a model family; the family's
// catalogue (names, defaults, priors, valid ranges) is the union of its
// components' declarations, and fit_rotation_map takes its names and priors
// from it, so a user's component goes through the whole fit.
//
// @code
//   struct bowl_component {
//       // name, default value, default prior, period, unit, description, valid range
//       static std::vector<diskmc::inference::parameter_info> parameters() {
//           return {{"z0", std::nullopt, prior::flat(0.0, 5.0), 0.0, "arcsec", "height at 1 arcsec"},
//                   {"r_bowl", 1.0, prior::flat(0.0, 10.0), 0.0, "arcsec", "bowl radius",
//                    valid_range::positive()}};
//       }
//       // The values of a made object, in the order of parameters(): checked
//       // against their valid ranges, naming the parameter and the value.
//       template <class T>
//       static void check(std::string_view where, const bowl_surface<T>& s) {
//           diskmc::check_declared<bowl_component>(where, {s.z0, s.r_bowl});
//       }
//       // Reads the parameters in the order of parameters().
//       template <class T>
//       static bowl_surface<T> make(diskmc::parameter_reader<T>& in) {
//           bowl_surface<T> s;
//           s.z0 = in.next();
//           s.r_bowl = in.next();
//           return s;
//       }
//   };
// @endcode
//
// Closed-form partials (the fast gradient path) are optional and belong to
// the made object: a surface or profile whose prepared() form has
// linearise/add_adjoints/paired_with (see disk/surfaces.hpp) is picked up by
// inference::disk_likelihood; without them the gradient is taken by tile autodiff.

#include <Eigen/Core>
#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "diskmc/errors.hpp"
#include "diskmc/inference/parameter_catalogue.hpp"
#include "diskmc/math/functions.hpp"

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

namespace detail {

template <class C>
concept component_declares_parameters = requires {
    { C::parameters() } -> std::convertible_to<std::vector<inference::parameter_info>>;
};

template <class C>
concept component_makes = requires(parameter_reader<double>& in) { C::template make<double>(in); };

template <class C>
concept component_checks = component_makes<C> && requires(parameter_reader<double>& in, std::string_view where) {
    C::check(where, C::template make<double>(in));
};

}  // namespace detail

/// A disk component (see the top of this file):
/// @code
///   static std::vector<inference::parameter_info> parameters();        // its parameters, once
///   template <class T> static void check(std::string_view where, const X<T>&);  // their values
///   template <class T> static X<T> make(parameter_reader<T>&);          // the surface or profile
/// @endcode
template <class C>
concept disk_component =
    detail::component_declares_parameters<C> && detail::component_makes<C> && detail::component_checks<C>;

/// static_asserts disk_component<C> member by member, so the compiler's
/// message names the missing member and its signature. Returns true.
template <class C>
consteval bool require_disk_component() {
    static_assert(detail::component_declares_parameters<C>,
                  "diskmc: a disk component needs the member `static std::vector<diskmc::inference::parameter_info> "
                  "parameters()` declaring its parameters (name, default, prior, period, unit, description, valid "
                  "range)");
    static_assert(detail::component_makes<C>,
                  "diskmc: a disk component needs the member `template <class T> static auto "
                  "make(diskmc::parameter_reader<T>& in)` reading its parameters in order and returning its surface "
                  "or rotation profile");
    static_assert(!detail::component_makes<C> || detail::component_checks<C>,
                  "diskmc: a disk component needs the member `template <class T> static void check(std::string_view "
                  "where, const X<T>& made)` checking the values of what make returns (diskmc::check_declared does "
                  "the valid ranges)");
    return true;
}

/// Checks `values` (of any scalar type) against the valid ranges of
/// Component::parameters(), in that order; throws diskmc::invalid_input
/// naming the first parameter out of range and its value. Scalars without a
/// readable value (math::value_of) are not checked.
/// @throws invalid_input also when the number of values is not the number declared
template <class Component, class T>
void check_declared(std::string_view where, std::initializer_list<T> values) {
    const std::vector<inference::parameter_info> declared = Component::parameters();
    if (values.size() != declared.size())
        detail::throw_invalid_input(where, ": check_declared got ", values.size(), " values for ", declared.size(),
                                    " declared parameters");
    if constexpr (math::has_value_of<T>) {
        std::size_t k = 0;
        for (const T& value : values) inference::check_valid(where, declared[k++], math::value_of(value));
    }
}

}  // namespace diskmc
