#pragma once
// The model family of a fit chosen by name, component by component (a
// configuration's "model": {"surface": "flared", "rotation": "keplerian",
// "radial": "none", "vertical": "none"}).
//
// Each component axis is a table of named components; adding a choice is one
// line in its table. Every combination of the tables is an inference::disk_family the
// fit program instantiates, but only the family-specific front of a fit is
// (the likelihood, the mask, the model image): the posterior, MAP step,
// samplers and summaries are compiled once (fit/run.hpp).
//
// @code
//   fit_options options = ...;
//   options.model = {.surface = "thin", .rotation = "power_law"};
//   std::vector<std::string> names = with_chosen_family(options.model, options.parameters, "my_program",
//       [](const auto& family) { return family.parameter_names(); });
// @endcode

#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "diskmc/errors.hpp"
#include "diskmc/inference/disk_family.hpp"
#include "diskmc/inference/parameters.hpp"

namespace diskmc {

/// The components of a fit's model, by name (see surface_choices and
/// rotation_choices for the names).
struct disk_model_choice {
    /// "thin", "flared" (z0, psi, r_cavity, r_taper, q_taper) or "conical"
    /// (z0: eddy's conical surface); unset: eddy's rule, flared when z0 or
    /// psi is among the parameters (free or fixed), else thin.
    std::optional<std::string> surface = std::nullopt;
    /// "keplerian" (mstar, dist), "power_law" (vp_100, vp_q, dist) or
    /// "self_gravity" (mstar, dist, mdisk, gamma, r_in, r_out).
    std::string rotation = "keplerian";
    /// "none" or "power_law" (vr_100, vr_q): a radial flow.
    std::string radial = "none";
    /// "none" or "power_law" (vz_100, vz_q): a vertical flow.
    std::string vertical = "none";
};

/// A component as a choice: its name in configurations and its type.
template <class Component>
struct named_component {
    using type = Component;
    std::string_view name;
};

/// The emission surfaces a fit can choose (one line per surface).
inline constexpr std::tuple surface_choices{
    named_component<thin_component>{"thin"},
    named_component<flared_component>{"flared"},
    named_component<conical_component>{"conical"},
};

/// The rotation profiles a fit can choose (one line per profile).
inline constexpr std::tuple rotation_choices{
    named_component<keplerian_component>{"keplerian"},
    named_component<power_law_component>{"power_law"},
    named_component<self_gravitating_component>{"self_gravity"},
};

/// The radial flows a fit can choose (one line per flow).
inline constexpr std::tuple radial_choices{
    named_component<no_flow_component>{"none"},
    named_component<radial_power_law_component>{"power_law"},
};

/// The vertical flows a fit can choose (one line per flow).
inline constexpr std::tuple vertical_choices{
    named_component<no_flow_component>{"none"},
    named_component<vertical_power_law_component>{"power_law"},
};

namespace detail {

/// The names of a table of choices, in order.
template <class Choices>
std::vector<std::string> choice_names(const Choices& choices) {
    return std::apply([](const auto&... choice) { return std::vector<std::string>{std::string(choice.name)...}; },
                      choices);
}

/// Throws invalid_input naming the unknown `name` of `axis` and listing the known ones.
template <class Choices>
void check_choice(const Choices& choices, std::string_view function, std::string_view axis, std::string_view name) {
    const std::vector<std::string> known = choice_names(choices);
    for (const auto& k : known)
        if (k == name) return;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "\"" : ", \"") + k + "\"";
    throw_invalid_input(function, ": unknown ", axis, " \"", name, "\" (the choices: ", list, ")");
}

/// visit(named_component<C>{...}) for the choice of `choices` named `name`
/// (which check_choice has accepted); every choice's visit returns one type.
template <class Choices, class Visit>
auto visit_choice(const Choices& choices, std::string_view name, Visit&& visit) {
    return std::apply(
        [&](const auto& first, const auto&... rest) {
            using result_type = decltype(visit(first));
            std::optional<result_type> result;
            auto try_one = [&](const auto& choice) {
                if (!result && choice.name == name) result.emplace(visit(choice));
            };
            try_one(first);
            (try_one(rest), ...);
            return std::move(*result);
        },
        choices);
}

}  // namespace detail

/// The surface a choice names, eddy's rule when it names none.
inline std::string chosen_surface(const disk_model_choice& choice,
                                  const std::vector<inference::parameter>& parameters) {
    if (choice.surface) return *choice.surface;
    for (const auto& p : parameters)
        if (p.name == "z0" || p.name == "psi") return "flared";
    return "thin";
}

/// Checks the names of a choice.
/// @param function the caller, for the message
/// @throws invalid_input naming an unknown surface or rotation and listing the known ones
inline void check_disk_model_choice(const disk_model_choice& choice, std::string_view function) {
    if (choice.surface) detail::check_choice(surface_choices, function, "surface", *choice.surface);
    detail::check_choice(rotation_choices, function, "rotation", choice.rotation);
    detail::check_choice(radial_choices, function, "radial flow", choice.radial);
    detail::check_choice(vertical_choices, function, "vertical flow", choice.vertical);
}

/// Calls visit(family) with the inference::disk_family the choice names (its surface
/// by chosen_surface), and returns what it returns (by value).
/// @throws invalid_input as check_disk_model_choice, before calling visit
template <class Visit>
auto with_chosen_family(const disk_model_choice& choice, const std::vector<inference::parameter>& parameters,
                        std::string_view function, Visit&& visit) {
    check_disk_model_choice(choice, function);
    return detail::visit_choice(surface_choices, chosen_surface(choice, parameters), [&](auto surface) {
        return detail::visit_choice(rotation_choices, choice.rotation, [&](auto rotation) {
            return detail::visit_choice(radial_choices, choice.radial, [&](auto radial) {
                return detail::visit_choice(vertical_choices, choice.vertical, [&](auto vertical) {
                    return visit(inference::disk_family<typename decltype(surface)::type, typename decltype(rotation)::type,
                                             typename decltype(radial)::type, typename decltype(vertical)::type>{});
                });
            });
        });
    });
}

}  // namespace diskmc
