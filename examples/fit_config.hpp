#pragma once
// The JSON configuration of fit_rotation_map, read into diskmc::fit_options.
// Used by examples/fit_rotation_map.cpp and its tests.
//
//   { "map": "v0.fits", "uncertainty": "dv0.fits", "velocity_unit": "m/s",
//     "fov": 7.0, "downsample": "beam",
//     "params": { "x0": {"start": 0.0}, "PA": {"start": 151.0, "prior": {"flat": [0, 360]}},
//                 "mstar": {"start": 0.8, "prior": {"gaussian": [0.8, 0.1], "bounds": [0, 5]}},
//                 "inc": 5.8, "dist": 60.1 },
//     "model": { "surface": "flared", "rotation": "keplerian" },
//     "mask": { "r_min": 0.3, "r_max": 3.0 }, "beam": false, "optimize": true, "threads": 0,
//     "sampler": { "kind": "ensemble", "walkers": 64, "burn": 500, "steps": 2000, "seed": 1 } }
//
// - "map"/"uncertainty": FITS files; relative paths are relative to the
//   config file; a leading $NAME or ${NAME} is replaced by that environment
//   variable. Without "map" the fit runs on the HD163296-like benchmark
//   problem built in memory (then "params" and "mask" default to the
//   benchmark's fit).
// - "velocity_unit": "m/s", "km/s" or "header" (trust BUNIT; default "m/s").
// - "downsample": an integer factor or "beam".
// - "params": a number fixes a parameter; an object frees it with a "start"
//   and optionally a "prior": {"flat": [lo, hi]} or {"gaussian": [mean, sd]},
//   either with optional "bounds": [lo, hi] (a Gaussian is truncated to them).
// - "model": the model's components by name: "surface" ("thin", "flared" or
//   "conical"; default: flared when "params" has z0 or psi, else thin),
//   "rotation" ("keplerian", the default, "power_law" or "self_gravity"),
//   "radial" and "vertical" flows ("none", the default, or "power_law");
//   the names come from the library's tables (diskmc/fit/model_choice.hpp).
// - "mask": r_min, r_max, exclude_r, phi_min, phi_max, exclude_phi, abs_phi,
//   v_min, v_max, exclude_v (eddy's names and defaults).
// - "sampler": "kind": "ensemble" with walkers, burn, steps, thin, moves
//   ("stretch", emcee's default, or "de": 0.8 differential evolution + 0.2
//   snooker, emcee's recommendation for near-Gaussian posteriors), seed, and
//   min_ess (0: off) to stop on precision: rounds until every parameter's
//   ESS (walkers x draws / tau) reaches it and the chain is 50 tau long
//   ("steps" is then the budget; no max_rhat for walkers); or
//   "kind": "nuts" with chains, warmup, samples, max_tree_depth, dense_mass,
//   target_accept, seed, warmup_adaptation ("trust_metric_with_fallback",
//   the default: a short warmup trusting the MAP covariance, Stan's windows
//   for a chain whose check fails; "windowed" for Stan's windows always, or
//   "step_size_only"), trusted_warmup, and min_ess (0: off) with max_rhat to
//   stop on precision ("samples" is then the budget per chain); or "kind":
//   "laplace" with draws, scale, seed (importance-sampled Laplace from the MAP
//   covariance, kept with a warning when Pareto k-hat refuses it); or "kind":
//   "auto": "laplace", going on with NUTS when k-hat refuses it, with NUTS'
//   keys for that run.
// Unknown keys anywhere are errors naming the key; so are wrong types, keys
// given twice, and nesting deeper than 64 levels.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "diskmc/fit.hpp"

namespace diskmc::examples {

/// A fit as a configuration file describes it.
struct fit_config {
    /// The FITS files; empty `map` means the built-in HD163296-like problem.
    std::optional<std::filesystem::path> map;
    std::optional<std::filesystem::path> uncertainty;
    /// "m/s", "km/s" or "header".
    std::string velocity_unit = "m/s";
    /// Everything but the map, which the program reads (or builds).
    fit_options options;
};

namespace detail {

using json = nlohmann::ordered_json;  // keeps the parameters in the file's order

[[noreturn]] inline void config_error(const std::string& where, const std::string& what) {
    diskmc::detail::throw_invalid_input(where, ": ", what);
}

inline void check_keys(const json& object, const std::string& where, const std::set<std::string>& known) {
    if (!object.is_object()) config_error(where, "must be a JSON object");
    for (const auto& item : object.items())
        if (!known.contains(item.key())) {
            std::string list;
            for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
            config_error(where, "unknown key \"" + item.key() + "\" (known: " + list + ")");
        }
}

inline double number_at(const json& value, const std::string& where) {
    if (!value.is_number()) config_error(where, "must be a number, got " + value.dump());
    return value.get<double>();
}

inline std::size_t count_at(const json& value, const std::string& where) {
    if (!value.is_number_unsigned()) config_error(where, "must be a non-negative integer, got " + value.dump());
    return value.get<std::size_t>();
}

inline bool flag_at(const json& value, const std::string& where) {
    if (!value.is_boolean()) config_error(where, "must be true or false, got " + value.dump());
    return value.get<bool>();
}

inline std::string string_at(const json& value, const std::string& where) {
    if (!value.is_string()) config_error(where, "must be a string, got " + value.dump());
    return value.get<std::string>();
}

/// [lo, hi] as two numbers.
inline std::pair<double, double> pair_at(const json& value, const std::string& where) {
    if (!value.is_array() || value.size() != 2) config_error(where, "must be a pair [a, b], got " + value.dump());
    return {number_at(value[0], where + "[0]"), number_at(value[1], where + "[1]")};
}

/// A path with a leading $NAME or ${NAME} expanded, relative to `base`.
inline std::filesystem::path path_at(const json& value, const std::string& where, const std::filesystem::path& base) {
    std::string text = string_at(value, where);
    if (!text.empty() && text[0] == '$') {
        const bool braced = text.size() > 1 && text[1] == '{';
        const std::size_t end = braced ? text.find('}') : text.find_first_of("/\\");
        if (braced && end == std::string::npos) config_error(where, "unclosed ${ in \"" + text + "\"");
        const std::string name = text.substr(braced ? 2 : 1, (end == std::string::npos ? text.size() : end) - (braced ? 2 : 1));
        const char* expansion = std::getenv(name.c_str());
        if (!expansion || !*expansion)
            config_error(where, "\"" + text + "\" needs the environment variable " + name + ", which is not set");
        text = std::string(expansion) + (end == std::string::npos ? "" : text.substr(braced ? end + 1 : end));
    }
    const std::filesystem::path path(text);
    return path.is_absolute() ? path : base / path;
}

inline inference::prior prior_at(const json& value, const std::string& where) {
    check_keys(value, where, {"flat", "gaussian", "bounds"});
    const bool flat = value.contains("flat"), gaussian = value.contains("gaussian");
    if (flat == gaussian) config_error(where, "give exactly one of \"flat\": [lo, hi] and \"gaussian\": [mean, sd]");
    constexpr double inf = std::numeric_limits<double>::infinity();
    std::pair<double, double> bounds{-inf, inf};
    if (value.contains("bounds")) bounds = pair_at(value.at("bounds"), where + ".bounds");
    if (flat) {
        if (value.contains("bounds")) config_error(where, "a flat prior takes its bounds in \"flat\": [lo, hi]");
        const auto [lower, upper] = pair_at(value.at("flat"), where + ".flat");
        return inference::prior::flat(lower, upper);
    }
    const auto [mean, sd] = pair_at(value.at("gaussian"), where + ".gaussian");
    return inference::prior::gaussian(mean, sd, bounds.first, bounds.second);
}

inline std::vector<inference::parameter> parameters_at(const json& value, const std::string& where) {
    if (!value.is_object()) config_error(where, "must be a JSON object of parameters");
    std::vector<inference::parameter> parameters;
    for (const auto& item : value.items()) {
        const std::string at = where + "." + item.key();
        if (item.value().is_number()) {
            parameters.push_back(inference::fixed_parameter(item.key(), item.value().get<double>()));
            continue;
        }
        if (!item.value().is_object())
            config_error(at, "must be a number (fixed) or an object {\"start\": ...} (free), got " + item.value().dump());
        check_keys(item.value(), at, {"start", "prior"});
        if (!item.value().contains("start")) config_error(at, "a free parameter needs a \"start\"");
        std::optional<inference::prior> prior;
        if (item.value().contains("prior")) prior = prior_at(item.value().at("prior"), at + ".prior");
        parameters.push_back(
            inference::free_parameter(item.key(), number_at(item.value().at("start"), at + ".start"), prior));
    }
    return parameters;
}

inline disk_model_choice model_at(const json& value, const std::string& where) {
    check_keys(value, where, {"surface", "rotation", "radial", "vertical"});
    disk_model_choice model;
    if (value.contains("surface")) model.surface = string_at(value.at("surface"), where + ".surface");
    if (value.contains("rotation")) model.rotation = string_at(value.at("rotation"), where + ".rotation");
    if (value.contains("radial")) model.radial = string_at(value.at("radial"), where + ".radial");
    if (value.contains("vertical")) model.vertical = string_at(value.at("vertical"), where + ".vertical");
    check_disk_model_choice(model, where);
    return model;
}

inline mask_options mask_at(const json& value, const std::string& where) {
    check_keys(value, where, {"r_min", "r_max", "exclude_r", "phi_min", "phi_max", "exclude_phi", "abs_phi",
                              "v_min", "v_max", "exclude_v"});
    mask_options mask;
    auto number = [&](const char* key, double& out) {
        if (value.contains(key)) out = number_at(value.at(key), where + "." + key);
    };
    auto flag = [&](const char* key, bool& out) {
        if (value.contains(key)) out = flag_at(value.at(key), where + "." + key);
    };
    number("r_min", mask.r_min);
    number("r_max", mask.r_max);
    flag("exclude_r", mask.exclude_r);
    number("phi_min", mask.phi_min);
    number("phi_max", mask.phi_max);
    flag("exclude_phi", mask.exclude_phi);
    flag("abs_phi", mask.abs_phi);
    number("v_min", mask.v_min);
    number("v_max", mask.v_max);
    flag("exclude_v", mask.exclude_v);
    return mask;
}

inline fit_sampler_settings sampler_at(const json& value, const std::string& where) {
    if (!value.is_object()) config_error(where, "must be a JSON object");
    if (!value.contains("kind")) config_error(where, "needs \"kind\": \"ensemble\", \"nuts\", \"laplace\" or \"auto\"");
    const std::string kind = string_at(value.at("kind"), where + ".kind");
    auto count = [&](const char* key, std::size_t& out) {
        if (value.contains(key)) out = count_at(value.at(key), where + "." + key);
    };
    auto seed = [&](std::uint64_t& out) {
        if (value.contains("seed")) out = count_at(value.at("seed"), where + ".seed");
    };
    if (kind == "ensemble") {
        if (value.contains("max_rhat"))
            config_error(where + ".max_rhat", "is for NUTS only: the ensemble's walkers are not independent chains, "
                                              "so it stops on min_ess and a chain 50 tau long");
        check_keys(value, where, {"kind", "walkers", "burn", "steps", "thin", "moves", "seed", "min_ess"});
        ensemble_fit_settings settings;
        count("walkers", settings.walkers);
        if (value.contains("min_ess")) settings.options.min_ess = number_at(value.at("min_ess"), where + ".min_ess");
        count("burn", settings.options.burn_in);
        count("steps", settings.options.steps);
        count("thin", settings.options.thin);
        seed(settings.seed);
        if (value.contains("moves")) {
            const std::string moves = string_at(value.at("moves"), where + ".moves");
            if (moves == "de")
                settings.options.moves = {weighted_move{de_move{}, 0.8}, weighted_move{de_snooker_move{}, 0.2}};
            else if (moves != "stretch")
                config_error(where + ".moves", "must be \"stretch\" or \"de\", got \"" + moves + "\"");
        }
        return settings;
    }
    auto nuts_keys = [&](nuts_fit_settings& settings) {
        count("chains", settings.options.chains);
        count("warmup", settings.options.sampler.warmup);
        count("samples", settings.options.sampler.samples);
        count("max_tree_depth", settings.options.sampler.max_tree_depth);
        if (value.contains("dense_mass") && flag_at(value.at("dense_mass"), where + ".dense_mass"))
            settings.options.sampler.metric = metric_kind::dense;
        if (value.contains("target_accept"))
            settings.options.sampler.target_accept = number_at(value.at("target_accept"), where + ".target_accept");
        if (value.contains("warmup_adaptation")) {
            const std::string mode = string_at(value.at("warmup_adaptation"), where + ".warmup_adaptation");
            settings.trust_map_covariance = mode == "trust_metric_with_fallback";
            if (mode == "windowed")
                settings.options.sampler.warmup_adaptation = warmup_mode::windowed;
            else if (mode == "step_size_only")
                settings.options.sampler.warmup_adaptation = warmup_mode::step_size_only;
            else if (mode == "trust_metric_with_fallback")
                settings.options.sampler.warmup_adaptation = warmup_mode::trust_metric_with_fallback;
            else
                config_error(where + ".warmup_adaptation",
                             "must be \"windowed\", \"step_size_only\" or \"trust_metric_with_fallback\", got \"" +
                                 mode + "\"");
        }
        count("trusted_warmup", settings.options.sampler.trusted_warmup);
        if (value.contains("min_ess")) settings.options.min_ess = number_at(value.at("min_ess"), where + ".min_ess");
        if (value.contains("max_rhat")) settings.options.max_rhat = number_at(value.at("max_rhat"), where + ".max_rhat");
        seed(settings.seed);
    };
    if (kind == "nuts") {
        check_keys(value, where,
                   {"kind", "chains", "warmup", "samples", "max_tree_depth", "dense_mass", "target_accept", "seed",
                    "warmup_adaptation", "trusted_warmup", "min_ess", "max_rhat"});
        nuts_fit_settings settings;
        nuts_keys(settings);
        return settings;
    }
    if (kind == "laplace" || kind == "auto") {
        // "auto" takes NUTS' keys too, for the run that replaces a refused Laplace fit.
        if (kind == "laplace")
            check_keys(value, where, {"kind", "draws", "scale", "seed"});
        else
            check_keys(value, where,
                       {"kind", "draws", "scale", "seed", "chains", "warmup", "samples", "max_tree_depth", "dense_mass",
                        "target_accept", "warmup_adaptation", "trusted_warmup", "min_ess", "max_rhat"});
        laplace_fit_settings settings;
        count("draws", settings.options.draws);
        if (value.contains("scale")) settings.options.scale = number_at(value.at("scale"), where + ".scale");
        seed(settings.seed);
        if (kind == "auto") {
            settings.fallback = laplace_fallback::nuts;
            nuts_keys(settings.nuts);
        }
        return settings;
    }
    config_error(where + ".kind", "must be \"ensemble\", \"nuts\", \"laplace\" or \"auto\", got \"" + kind + "\"");
}

}  // namespace detail

/// Reads a configuration from parsed JSON.
/// @param root  the configuration
/// @param where its name in messages (the file)
/// @param base  the folder relative paths start from
/// @throws invalid_input naming the key and the problem
inline fit_config parse_fit_config(const nlohmann::ordered_json& root, const std::string& where,
                                   const std::filesystem::path& base) {
    using namespace detail;
    check_keys(root, where,
               {"map", "uncertainty", "velocity_unit", "fov", "downsample", "params", "model", "mask", "beam",
                "optimize", "threads", "sampler"});
    fit_config config;
    fit_options& options = config.options;
    if (root.contains("map")) {
        config.map = path_at(root.at("map"), where + ": map", base);
        if (!root.contains("uncertainty")) config_error(where, "\"map\" needs an \"uncertainty\" map");
        config.uncertainty = path_at(root.at("uncertainty"), where + ": uncertainty", base);
    } else if (root.contains("uncertainty")) {
        config_error(where, "\"uncertainty\" without \"map\"");
    }
    if (root.contains("velocity_unit")) {
        config.velocity_unit = string_at(root.at("velocity_unit"), where + ": velocity_unit");
        if (config.velocity_unit != "m/s" && config.velocity_unit != "km/s" && config.velocity_unit != "header")
            config_error(where + ": velocity_unit", "must be \"m/s\", \"km/s\" or \"header\", got \"" +
                                                        config.velocity_unit + "\"");
    }
    if (root.contains("fov")) options.field_of_view = number_at(root.at("fov"), where + ": fov");
    if (root.contains("downsample")) {
        const json& d = root.at("downsample");
        if (d.is_string() && d.get<std::string>() == "beam")
            options.downsample.to_beam = true;
        else if (d.is_number_unsigned() && d.get<std::uint64_t>() >= 1 &&
                 d.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<Eigen::Index>::max()))
            options.downsample.factor = static_cast<Eigen::Index>(d.get<std::uint64_t>());
        else
            config_error(where + ": downsample", "must be an integer >= 1 or \"beam\", got " + d.dump());
    }
    if (root.contains("params")) {
        options.parameters = parameters_at(root.at("params"), where + ": params");
        // Unknown names, repeats, bad priors and starts outside them, now.
        try {
            const inference::parameter_set check(options.parameters);
        } catch (const invalid_input& e) {
            config_error(where + ": params", e.what());
        }
    } else if (config.map) {
        config_error(where, "needs \"params\" (the free and fixed parameters)");
    } else {
        options.parameters = hd163296_like::parameters();
    }
    if (root.contains("model")) options.model = model_at(root.at("model"), where + ": model");
    if (root.contains("mask"))
        options.mask = mask_at(root.at("mask"), where + ": mask");
    else if (!config.map)
        options.mask.r_min = hd163296_like::r_min;
    if (root.contains("beam")) options.convolve_beam = flag_at(root.at("beam"), where + ": beam");
    if (root.contains("optimize")) options.optimize = flag_at(root.at("optimize"), where + ": optimize");
    if (root.contains("threads")) options.threads = count_at(root.at("threads"), where + ": threads");
    if (root.contains("sampler")) options.sampler = sampler_at(root.at("sampler"), where + ": sampler");
    return config;
}

/// Deepest nesting of objects and arrays a configuration may have: a real
/// one needs 4; the cap keeps a hostile file from exhausting the stack.
inline constexpr int max_config_depth = 64;

/// Parses JSON text, refusing what the JSON standard leaves open but would
/// silently decide a fit: a key given twice in one object (which value
/// wins?), and nesting deeper than max_config_depth.
/// @throws invalid_input naming `where` and the problem
inline nlohmann::ordered_json parse_json_strictly(std::istream& in, const std::string& where) {
    using json = nlohmann::ordered_json;
    std::vector<std::set<std::string>> keys;  // of each open object
    std::vector<std::string> path;            // "params.PA" for messages
    const json::parser_callback_t check = [&](int depth, json::parse_event_t event, json& parsed) {
        if (depth >= max_config_depth)  // depth counts from 0 at the top level
            diskmc::detail::throw_invalid_input(where, ": nested deeper than ", max_config_depth, " levels");
        switch (event) {
            case json::parse_event_t::object_start: keys.emplace_back(); break;
            case json::parse_event_t::object_end: keys.pop_back(); break;
            case json::parse_event_t::key: {
                const std::string key = parsed.get<std::string>();
                if (!keys.back().insert(key).second)
                    diskmc::detail::throw_invalid_input(where, ": the key \"", key,
                                                        "\" is given twice in one object; keep one");
                break;
            }
            default: break;
        }
        return true;
    };
    try {
        return json::parse(in, check);
    } catch (const json::exception& e) {
        diskmc::detail::throw_invalid_input(where, ": not valid JSON (", e.what(), ")");
    }
}

/// Largest configuration file read: a real one is a few hundred bytes.
inline constexpr std::size_t max_config_bytes = 16u << 20;

/// The bytes of a configuration file, read once (the run parses them and
/// keeps them for --resume, so both see the same text). A FIFO nobody writes
/// to reads as empty instead of blocking the open forever; a folder, and
/// anything larger than max_config_bytes (/dev/zero), is refused.
/// @throws invalid_input naming `where` and the problem
inline std::string read_config_text(const std::filesystem::path& file, const std::string& where) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) diskmc::detail::throw_invalid_input(where, ": cannot open (", std::strerror(errno), ")");
    struct close_on_exit {
        int fd;
        ~close_on_exit() { ::close(fd); }
    } closer{fd};
    struct stat info {};
    if (::fstat(fd, &info) != 0) diskmc::detail::throw_invalid_input(where, ": cannot read (", std::strerror(errno), ")");
    if (S_ISDIR(info.st_mode)) diskmc::detail::throw_invalid_input(where, ": is a folder, not a configuration file");
    // Blocking reads from here: a FIFO with a writer (a shell's <(...)) waits
    // for its text; one without reads end-of-file at once.
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    std::string text;
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            diskmc::detail::throw_invalid_input(where, ": cannot read (", std::strerror(errno), ")");
        }
        text.append(buffer, static_cast<std::size_t>(n));
        if (text.size() > max_config_bytes)
            diskmc::detail::throw_invalid_input(where, ": larger than ", max_config_bytes >> 20,
                                                " MiB; not a configuration file");
    }
    return text;
}

/// Parses a configuration's text (see read_fit_config).
inline fit_config parse_fit_config_text(const std::string& text, const std::string& where,
                                        const std::filesystem::path& base) {
    std::istringstream in(text);
    const nlohmann::ordered_json root = parse_json_strictly(in, where);
    return parse_fit_config(root, where, base);
}

/// Reads a configuration file.
/// @param file     the file
/// @param base_dir where its relative paths start (default: its folder)
/// @param where    its name in messages (default: the file)
/// @throws invalid_input naming the file, the key and the problem
inline fit_config read_fit_config(const std::filesystem::path& file,
                                  std::optional<std::filesystem::path> base_dir = std::nullopt,
                                  std::optional<std::string> where = std::nullopt) {
    const std::string name = where.value_or(file.string());
    return parse_fit_config_text(read_config_text(file, name), name, base_dir.value_or(file.parent_path()));
}

}  // namespace diskmc::examples
