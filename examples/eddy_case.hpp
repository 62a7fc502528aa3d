#pragma once
// Reading a model case in the fixture schema of shared/data/eddy/README.md
// (case_a/b/f.json) and rendering it: used by render_model and by the tests
// that hold the library against eddy's fixtures.
//
// Schema: {"grid": {nx, ny, cdelt1, cdelt2}, "params": {x0, y0, inc, PA, mstar,
// dist, vlsr, z0, psi, r_cavity, r_taper, q_taper}, "flared_niter": 5,
// "beam": {bmaj, bmin, bpa} or null, ...}. z0 null is a thin disk; r_taper
// null is no taper. Beyond the schema, params may name eddy's other rotation
// profiles: "vp_100" and "vp_q" (power law, instead of mstar), or "mdisk",
// "gamma", "r_in", "r_out" (pseudo self-gravity, with mstar). Unknown keys
// and parameters that would have no effect are errors.

#include <Eigen/Core>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "diskmc/disk.hpp"

namespace diskmc::examples {

/// One case: the grid, the model parameters, and whether to convolve.
struct eddy_case {
    std::string name;
    grid_header grid;
    bool convolve_beam = false;
    disk_orientation<double> geometry;
    double vlsr = 0.0;
    int flared_niter = 5;
    std::optional<flared_surface<double>> surface;  ///< empty: thin disk
    std::variant<keplerian_rotation<double>, self_gravitating_rotation<double>,
                 power_law_rotation<double>>
        rotation;
    std::map<std::string, std::string> files;  ///< "files" of the case, if any
};

namespace detail {

using json = nlohmann::json;

inline bool has_value(const json& object, const char* key) {
    return object.contains(key) && !object.at(key).is_null();
}

inline double number(const json& object, const std::string& where, const char* key) {
    if (!object.contains(key) || !object.at(key).is_number())
        diskmc::detail::throw_invalid_input(where, ".", key, " must be a number");
    return object.at(key).get<double>();
}

inline double number_or(const json& object, const std::string& where, const char* key,
                        double fallback) {
    return has_value(object, key) ? number(object, where, key) : fallback;
}

}  // namespace detail

/// Reads a case file.
/// @throws invalid_input naming the file and the problem (unreadable, not
///         JSON, missing or mistyped values, unknown parameters, parameters
///         without effect)
inline eddy_case read_eddy_case(const std::filesystem::path& file) {
    using detail::json;
    const std::string where = file.string();
    std::ifstream in(file);
    if (!in) diskmc::detail::throw_invalid_input(where, ": cannot open");
    json root;
    try {
        root = json::parse(in);
    } catch (const json::exception& e) {
        diskmc::detail::throw_invalid_input(where, ": not valid JSON (", e.what(), ")");
    }
    if (!root.is_object()) diskmc::detail::throw_invalid_input(where, ": not a JSON object");

    eddy_case c;
    c.name = root.value("name", file.stem().string());
    if (!root.contains("grid") || !root.at("grid").is_object())
        diskmc::detail::throw_invalid_input(where, ": missing \"grid\"");
    const json& grid = root.at("grid");
    const std::string grid_where = where + ": grid";
    for (const char* key : {"nx", "ny"})
        if (!grid.contains(key) || !grid.at(key).is_number_integer())
            diskmc::detail::throw_invalid_input(grid_where, ".", key, " must be an integer");
    c.grid.nx = grid.at("nx").get<Eigen::Index>();
    c.grid.ny = grid.at("ny").get<Eigen::Index>();
    c.grid.cdelt1 = detail::number(grid, grid_where, "cdelt1");
    c.grid.cdelt2 = detail::number(grid, grid_where, "cdelt2");

    if (detail::has_value(root, "beam")) {
        const json& beam = root.at("beam");
        const std::string beam_where = where + ": beam";
        c.grid.beam = beam_shape{detail::number(beam, beam_where, "bmaj"),
                                 detail::number(beam, beam_where, "bmin"),
                                 detail::number(beam, beam_where, "bpa")};
        c.convolve_beam = true;
    }
    if (detail::has_value(root, "flared_niter")) {
        if (!root.at("flared_niter").is_number_integer())
            diskmc::detail::throw_invalid_input(where, ": flared_niter must be an integer");
        c.flared_niter = root.at("flared_niter").get<int>();
    }

    if (!root.contains("params") || !root.at("params").is_object())
        diskmc::detail::throw_invalid_input(where, ": missing \"params\"");
    const json& p = root.at("params");
    const std::string p_where = where + ": params";
    const std::set<std::string> known{"x0",     "y0",      "inc",     "PA",    "mstar",
                                      "dist",   "vlsr",    "z0",      "psi",   "r_cavity",
                                      "r_taper", "q_taper", "vp_100", "vp_q",  "mdisk",
                                      "gamma",  "r_in",    "r_out"};
    for (const auto& item : p.items())
        if (!known.contains(item.key()))
            diskmc::detail::throw_invalid_input(p_where, ": unknown parameter \"", item.key(),
                                                "\"");

    c.geometry = {.x0 = detail::number(p, p_where, "x0"),
                  .y0 = detail::number(p, p_where, "y0"),
                  .inc = detail::number(p, p_where, "inc"),
                  .PA = detail::number(p, p_where, "PA")};
    c.vlsr = detail::number(p, p_where, "vlsr");
    const double dist = detail::number(p, p_where, "dist");

    // Surface: z0 null is eddy's midplane; the other surface parameters must
    // then be unset or at eddy's defaults, or they would silently do nothing.
    const double r_cavity = detail::number_or(p, p_where, "r_cavity", 0.0);
    const double r_taper =
        detail::number_or(p, p_where, "r_taper", std::numeric_limits<double>::infinity());
    const double q_taper = detail::number_or(p, p_where, "q_taper", 1.0);
    if (detail::has_value(p, "z0")) {
        if (!detail::has_value(p, "psi"))
            diskmc::detail::throw_invalid_input(p_where, ": psi is needed with z0");
        c.surface = flared_surface<double>{.z0 = detail::number(p, p_where, "z0"),
                                           .psi = detail::number(p, p_where, "psi"),
                                           .r_cavity = r_cavity,
                                           .r_taper = r_taper,
                                           .q_taper = q_taper};
    } else if (detail::has_value(p, "psi") || r_cavity != 0.0 || std::isfinite(r_taper) ||
               q_taper != 1.0) {
        diskmc::detail::throw_invalid_input(
            p_where, ": psi, r_cavity, r_taper, q_taper have no effect on a thin disk (z0 null)");
    }

    // Rotation: Keplerian (mstar), with eddy's pseudo self-gravity (mdisk,
    // gamma, r_in, r_out), or eddy's power law (vp_100, vp_q).
    const bool power_law = detail::has_value(p, "vp_100") || detail::has_value(p, "vp_q");
    const bool self_gravity = detail::has_value(p, "mdisk") || detail::has_value(p, "gamma") ||
                              detail::has_value(p, "r_in") || detail::has_value(p, "r_out");
    if (power_law) {
        if (detail::has_value(p, "mstar") || self_gravity)
            diskmc::detail::throw_invalid_input(
                p_where, ": the power law (vp_100, vp_q) excludes mstar and mdisk");
        c.rotation = power_law_rotation<double>{.vp_100 = detail::number(p, p_where, "vp_100"),
                                                .vp_q = detail::number(p, p_where, "vp_q"),
                                                .dist = dist};
    } else if (self_gravity) {
        c.rotation = self_gravitating_rotation<double>{
            .mstar = detail::number(p, p_where, "mstar"),
            .dist = dist,
            .mdisk = detail::number(p, p_where, "mdisk"),
            .gamma = detail::number(p, p_where, "gamma"),
            .r_in = detail::number(p, p_where, "r_in"),
            .r_out = detail::number(p, p_where, "r_out")};
    } else {
        c.rotation =
            keplerian_rotation<double>{.mstar = detail::number(p, p_where, "mstar"), .dist = dist};
    }

    if (root.contains("files") && root.at("files").is_object())
        for (const auto& item : root.at("files").items())
            if (item.value().is_string()) c.files[item.key()] = item.value().get<std::string>();
    return c;
}

/// Calls `f(model)` with the case's model as a disk_model of the right types.
template <class F>
decltype(auto) with_model(const eddy_case& c, F&& f) {
    return std::visit(
        [&](const auto& rotation) -> decltype(auto) {
            using rotation_type = std::decay_t<decltype(rotation)>;
            if (c.surface) {
                const disk_model<double, flared_surface<double>, rotation_type> model{
                    c.geometry, *c.surface, rotation, c.vlsr, c.flared_niter};
                return f(model);
            }
            const disk_model<double, thin_surface, rotation_type> model{
                c.geometry, thin_surface{}, rotation, c.vlsr, c.flared_niter};
            return f(model);
        },
        c.rotation);
}

/// The case's grid.
/// @throws invalid_input for a bad grid
inline sky_grid grid_of(const eddy_case& c) { return sky_grid::from_header(c.grid); }

/// The case's model image (convolved when the case has a beam).
/// @throws invalid_input for bad parameters
inline Eigen::ArrayXXd render(const eddy_case& c) {
    const sky_grid grid = grid_of(c);
    return with_model(c, [&](const auto& model) -> Eigen::ArrayXXd {
        return model_image(model, grid, {.convolve_beam = c.convolve_beam});
    });
}

/// Writes an image in the fixtures' text layout: row j per line, values
/// "%.17g" separated by spaces, NaN as "nan".
/// @throws invalid_input if the file cannot be written
inline void write_table(const std::filesystem::path& file, const Eigen::ArrayXXd& image) {
    std::FILE* out = std::fopen(file.string().c_str(), "w");
    if (!out) diskmc::detail::throw_invalid_input(file.string(), ": cannot open for writing");
    for (Eigen::Index j = 0; j < image.rows(); ++j) {
        for (Eigen::Index i = 0; i < image.cols(); ++i) {
            if (i > 0) std::fputc(' ', out);
            const double v = image(j, i);
            if (std::isnan(v))
                std::fputs("nan", out);
            else
                std::fprintf(out, "%.17g", v);
        }
        std::fputc('\n', out);
    }
    if (std::fclose(out) != 0)
        diskmc::detail::throw_invalid_input(file.string(), ": write failed");
}

}  // namespace diskmc::examples
