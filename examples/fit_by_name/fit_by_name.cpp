// fit_by_name (fit_by_name.hpp): the family's front from the file of its
// surface, then the library's family-independent core.
#include "fit_by_name.hpp"

namespace diskmc::examples {

static_assert(std::tuple_size_v<std::remove_const_t<decltype(surface_choices)>> == 3,
              "a new surface in fit/model_choice.hpp needs its file here (a name in CMakeLists.txt) and a line below");

fit_result fit_by_name(const fit_options& options) {
    // Each front checks the names (with_chosen_family): the first throws for an unknown one.
    for (auto front : {detail::thin_front, detail::flared_front, detail::conical_front})
        if (std::optional<diskmc::detail::erased_family> family = front(options))
            return diskmc::detail::fit_rotation_map_core(options, *family);
    diskmc::detail::throw_invalid_input(diskmc::detail::fit_function, ": the surface \"",
                                        chosen_surface(options.model, options.parameters),
                                        "\" has no compiled front (examples/fit_by_name/CMakeLists.txt)");
}

}  // namespace diskmc::examples
