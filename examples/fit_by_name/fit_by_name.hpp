#pragma once
// The fit of the model family a config names ("model"), compiled once for
// the fit program and the Python module (CMake target diskmc_fit_by_name, this folder).
//
// diskmc::fit_rotation_map(options) instantiates the front of every family
// the tables of fit/model_choice.hpp combine (~7 CPU-minutes of compile
// time in one file). Here the fronts are split by surface over three files that
// compile in parallel, and the family-independent core once, in
// fit_by_name.cpp; the result is the library's fit_rotation_map(options).
#include <optional>
#include <type_traits>

#include "diskmc/fit.hpp"

namespace diskmc::examples {

/// diskmc::fit_rotation_map(options), compiled once.
fit_result fit_by_name(const fit_options& options);

namespace detail {

/// The erased front of the family options.model names when its surface is
/// Surface; nullopt for another surface.
/// @throws invalid_input for unknown component names
template <class Surface>
std::optional<diskmc::detail::erased_family> front_if_surface(const fit_options& options) {
    return with_chosen_family(options.model, options.parameters, diskmc::detail::fit_function,
                              [](const auto& family) -> std::optional<diskmc::detail::erased_family> {
                                  using family_type = std::decay_t<decltype(family)>;
                                  if constexpr (std::is_same_v<typename family_type::surface_component, Surface>)
                                      return diskmc::detail::erase_family(family);
                                  else
                                      return std::nullopt;
                              });
}

// One file each, made from surface_front.cpp.in.
std::optional<diskmc::detail::erased_family> thin_front(const fit_options& options);
std::optional<diskmc::detail::erased_family> flared_front(const fit_options& options);
std::optional<diskmc::detail::erased_family> conical_front(const fit_options& options);

}  // namespace detail
}  // namespace diskmc::examples
