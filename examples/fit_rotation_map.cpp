// Fits a rotation map end to end, as eddy's fit_map, and writes what a
// person looks at afterwards.
//
//   fit_rotation_map --config FIT.json [--out DIR] [--no-plots]
//   fit_rotation_map --demo [--out DIR] [--no-plots]
//
// FIT.json is described in examples/fit_config.hpp (examples/configs/ has
// two). Without "map" in it, or with --demo, the fit runs on the
// HD163296-like benchmark problem built in memory, so it runs anywhere.
//
// Outputs in DIR (default "fit_output"), written under temporary names and
// renamed at the end, so a failed run leaves nothing half-written:
//   summary.json   {"parameters": {NAME: {p16, p50, p84, mean, sd, ess_bulk,
//                  ess_tail, rhat[, tau]}}, "sampler": {...}, "wall_seconds",
//                  "log_density_evaluations", "gradient_evaluations",
//                  "warnings": [...], ...}
//   chains.csv     every draw in CmdStan's CSV layout
//   model.fits, residual.fits   the model and data - model at the median
//   *.png          corner, trace and data/model/residual plots, drawn by
//                  scripts/plot_fit.py (python3-matplotlib) when available
// The summary is also printed as a table on stdout.
//
// Bad input (missing files, malformed JSON, unknown keys or parameters,
// impossible sampler settings): one message on stderr, exit status 1 (2 for
// usage), nothing written.

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "diskmc/fit.hpp"
#include "diskmc/io/fits.hpp"
#include "command_line.hpp"
#include "fit_config.hpp"

namespace {

namespace fs = std::filesystem;

struct arguments {
    std::optional<fs::path> config;
    fs::path out = "fit_output";
    bool demo = false;
    bool plots = true;
};

constexpr const char* usage_text =
    "usage: fit_rotation_map --config FIT.json [--out DIR] [--no-plots] | --demo [--out DIR] [--no-plots]";

arguments parse_arguments(diskmc::examples::command_line& cli) {
    arguments a;
    while (cli.next()) {
        if (cli.flag() == "--config")
            a.config = cli.value();
        else if (cli.flag() == "--out")
            a.out = cli.value();
        else if (cli.flag() == "--demo")
            a.demo = true;
        else if (cli.flag() == "--no-plots")
            a.plots = false;
        else
            cli.fail("unknown argument " + cli.flag());
    }
    if (!a.demo && !a.config) cli.fail("give --config FIT.json or --demo");
    return a;
}

/// The demo: the HD163296-like problem, downsampled by 2, NUTS with 4 chains
/// of 500 + 500 iterations (about a minute on two cores).
diskmc::examples::fit_config demo_config() {
    diskmc::examples::fit_config config;
    config.options.parameters = diskmc::hd163296_like::parameters();
    config.options.mask.r_min = diskmc::hd163296_like::r_min;
    config.options.downsample.factor = 2;
    config.options.sampler =
        diskmc::nuts_fit_settings{.options = {.sampler = {.warmup = 500, .samples = 500}}};
    return config;
}

diskmc::io::velocity_unit unit_of(const std::string& name) {
    if (name == "km/s") return diskmc::io::velocity_unit::km_per_s;
    if (name == "header") return diskmc::io::velocity_unit::from_header;
    return diskmc::io::velocity_unit::m_per_s;
}

/// The map of the config: its FITS files, or the benchmark problem.
diskmc::sky_map load_map(const diskmc::examples::fit_config& config) {
    if (!config.map) return diskmc::hd163296_like::map(config.options.convolve_beam);
    const auto files = diskmc::io::read_rotation_map(*config.map, *config.uncertainty, unit_of(config.velocity_unit));
    return diskmc::io::to_sky_map(files);
}

// ---- hooks connected at merge -------------------------------------------------

/// HOOK (progress bar): the terminal progress reporter of examples/support
/// attaches here, to the sampler's progress callback, when stderr is a
/// terminal. Until then only the stages are announced, on a terminal.
void attach_progress(diskmc::fit_options& options) {
    if (!isatty(STDERR_FILENO)) return;
    options.on_stage = [](diskmc::fit_stage stage) {
        std::fprintf(stderr, "fit_rotation_map: %s...\n", std::string(diskmc::to_string(stage)).c_str());
    };
}

/// HOOK (chains.csv): diskmc::io::write_stan_csv(file, ...) writes every draw
/// in CmdStan's layout here. Returns false while the writer is not in this build.
bool write_chains_csv(const fs::path& /*file*/, const diskmc::fit_result& /*fit*/) { return false; }

// ------------------------------------------------------------------------------

nlohmann::ordered_json number_or_null(double x) {
    return std::isfinite(x) ? nlohmann::ordered_json(x) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json sampler_json(const diskmc::fit_options& options) {
    nlohmann::ordered_json s;
    if (const auto* e = std::get_if<diskmc::ensemble_fit_settings>(&options.sampler)) {
        s["kind"] = "ensemble";
        s["walkers"] = e->walkers;
        s["burn"] = e->options.burn_in;
        s["steps"] = e->options.steps;
        s["thin"] = e->options.thin;
        s["moves"] = e->options.moves.size() == 1 ? "stretch" : "de";
        s["seed"] = e->seed;
    } else {
        const auto& n = std::get<diskmc::nuts_fit_settings>(options.sampler);
        s["kind"] = "nuts";
        s["chains"] = n.options.chains;
        s["warmup"] = n.options.sampler.warmup;
        s["samples"] = n.options.sampler.samples;
        s["max_tree_depth"] = n.options.sampler.max_tree_depth;
        s["dense_mass"] = n.options.sampler.metric == diskmc::metric_kind::dense;
        s["target_accept"] = n.options.sampler.target_accept;
        s["seed"] = n.seed;
    }
    return s;
}

nlohmann::ordered_json summary_json(const diskmc::fit_result& fit, const diskmc::fit_options& options) {
    nlohmann::ordered_json root;
    auto& parameters = root["parameters"];
    for (const auto& p : fit.parameters) {
        nlohmann::ordered_json line;
        line["p16"] = number_or_null(p.p16);
        line["p50"] = number_or_null(p.p50);
        line["p84"] = number_or_null(p.p84);
        line["mean"] = number_or_null(p.mean);
        line["sd"] = number_or_null(p.sd);
        line["ess_bulk"] = number_or_null(p.ess_bulk);
        line["ess_tail"] = number_or_null(p.ess_tail);
        line["rhat"] = number_or_null(p.rhat);
        if (p.tau) line["tau"] = number_or_null(*p.tau);
        parameters[p.name] = line;
    }
    root["sampler"] = sampler_json(options);
    root["wall_seconds"] = fit.wall_seconds;
    root["log_density_evaluations"] = fit.log_density_evaluations;
    root["gradient_evaluations"] = fit.gradient_evaluations;
    root["warnings"] = fit.warnings;
    auto& fixed = root["fixed"];
    for (std::size_t k = 0; k < fit.full_names.size(); ++k) {
        bool free = false;
        for (const auto& p : fit.parameters) free = free || p.name == fit.full_names[k];
        if (!free) fixed[fit.full_names[k]] = number_or_null(fit.full_median[static_cast<Eigen::Index>(k)]);
    }
    root["pixels_fitted"] = fit.mask.count();
    if (fit.map) {
        root["map_point"] = nlohmann::ordered_json::object();
        for (std::size_t i = 0; i < fit.parameters.size(); ++i)
            root["map_point"][fit.parameters[i].name] = number_or_null(fit.map->point[static_cast<Eigen::Index>(i)]);
        root["map_converged"] = fit.map->converged();
    }
    return root;
}

void print_table(const diskmc::fit_result& fit, const diskmc::fit_options& options) {
    const bool ensemble = std::holds_alternative<diskmc::ensemble_fit_settings>(options.sampler);
    std::printf("%-9s %13s %13s %13s %11s %9s %9s %7s%s\n", "", "16%", "50%", "84%", "sd", "ess_bulk", "ess_tail",
                "r_hat", ensemble ? "      tau" : "");
    for (const auto& p : fit.parameters) {
        std::printf("%-9s %13.6g %13.6g %13.6g %11.3g %9.0f %9.0f %7.3f", p.name.c_str(), p.p16, p.p50, p.p84, p.sd,
                    p.ess_bulk, p.ess_tail, p.rhat);
        if (p.tau) std::printf(" %8.1f", *p.tau);
        std::printf("\n");
    }
    std::printf("(%zu pixels fitted; %.1f s; %zu log-density and %zu gradient evaluations)\n",
                static_cast<std::size_t>(fit.mask.count()), fit.wall_seconds, fit.log_density_evaluations,
                fit.gradient_evaluations);
    for (const auto& warning : fit.warnings) std::printf("Warning: %s\n", warning.c_str());
}

diskmc::io::fits_header map_header(const diskmc::fit_result& fit, const std::string& what) {
    const diskmc::sky_grid& grid = fit.fitted_map.grid;
    diskmc::io::fits_header header{.cdelt1_deg = grid.header().cdelt1,
                                   .cdelt2_deg = grid.header().cdelt2,
                                   .reference_pixel = grid.reference_pixel(),
                                   .history = {what + " at the posterior median, written by diskmc fit_rotation_map"}};
    if (grid.beam()) header.beam = diskmc::io::fits_beam{grid.beam()->bmaj, grid.beam()->bmin, grid.beam()->bpa};
    for (std::size_t k = 0; k < fit.full_names.size(); ++k)
        if (fit.full_names[k].size() <= 8 && std::isfinite(fit.full_median[static_cast<Eigen::Index>(k)]))
            header.keywords.emplace_back(fit.full_names[k], fit.full_median[static_cast<Eigen::Index>(k)]);
    return header;
}

/// Writes every output under a temporary name, then renames them all; on
/// failure removes what it wrote (and DIR, if it made it).
std::vector<std::string> write_outputs(const fs::path& dir, const diskmc::fit_result& fit,
                                       const diskmc::fit_options& options) {
    const bool made_dir = !fs::exists(dir);
    fs::create_directories(dir);
    std::vector<std::pair<fs::path, fs::path>> written;  // temporary, final
    auto temporary = [&](const std::string& name) {
        written.emplace_back(dir / (name + ".partial"), dir / name);
        return written.back().first;
    };
    std::vector<std::string> notes;
    try {
        {
            const fs::path file = temporary("summary.json");
            std::ofstream out(file);
            out << summary_json(fit, options).dump(2) << "\n";
            if (!out.flush()) diskmc::detail::throw_invalid_input(file.string(), ": write failed");
        }
        diskmc::io::write_fits_map(temporary("model.fits"), fit.model, map_header(fit, "model"));
        diskmc::io::write_fits_map(temporary("residual.fits"), fit.residual, map_header(fit, "data - model"));
        if (!write_chains_csv(temporary("chains.csv"), fit)) {
            written.pop_back();
            notes.push_back("chains.csv not written: the CmdStan CSV writer is not in this build");
        }
        for (const auto& [from, to] : written) fs::rename(from, to);
    } catch (...) {
        std::error_code ignored;
        for (const auto& [from, to] : written) fs::remove(from, ignored);
        if (made_dir) fs::remove(dir, ignored);
        throw;
    }
    return notes;
}

/// HOOK (plots): scripts/plot_fit.py DIR draws the PNGs with matplotlib.
void draw_plots(const fs::path& dir) {
    const char* from_environment = std::getenv("DISKMC_PLOT_SCRIPT");
#ifdef DISKMC_SOURCE_DIR
    const fs::path script = from_environment ? fs::path(from_environment) : fs::path(DISKMC_SOURCE_DIR) / "scripts/plot_fit.py";
#else
    const fs::path script = from_environment ? fs::path(from_environment) : fs::path("scripts/plot_fit.py");
#endif
    if (!fs::exists(script)) {
        std::fprintf(stderr, "fit_rotation_map: plots skipped (%s not found)\n", script.c_str());
        return;
    }
    if (std::system("python3 -c 'import matplotlib' >/dev/null 2>&1") != 0) {
        std::fprintf(stderr, "fit_rotation_map: plots skipped (python3 with matplotlib not found)\n");
        return;
    }
    const std::string command = "python3 '" + script.string() + "' '" + dir.string() + "'";
    if (std::system(command.c_str()) != 0)
        std::fprintf(stderr, "fit_rotation_map: %s failed; the other outputs are written\n", command.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    diskmc::examples::command_line cli(argc, argv, "fit_rotation_map", usage_text);
    const arguments args = parse_arguments(cli);
    try {
        diskmc::examples::fit_config config =
            args.config ? diskmc::examples::read_fit_config(*args.config) : demo_config();
        if (args.demo && args.config && config.map)
            cli.fail("--demo runs on the built-in problem; the config names a map");
        config.options.map = load_map(config);
        attach_progress(config.options);

        const diskmc::fit_result fit = diskmc::fit_rotation_map(config.options);

        const std::vector<std::string> notes = write_outputs(args.out, fit, config.options);
        print_table(fit, config.options);
        std::printf("Outputs in %s\n", args.out.c_str());
        for (const auto& note : notes) std::fprintf(stderr, "fit_rotation_map: %s\n", note.c_str());
        if (args.plots) draw_plots(args.out);
    } catch (const std::exception& e) {
        // Name the config file unless the message already does; the library's
        // "fit_rotation_map: " prefix would repeat the program's.
        std::string message = e.what();
        const std::string library_prefix = "fit_rotation_map: ";
        if (message.rfind(library_prefix, 0) == 0) message.erase(0, library_prefix.size());
        if (args.config && message.find(args.config->string()) == std::string::npos)
            message = args.config->string() + ": " + message;
        std::fprintf(stderr, "fit_rotation_map: %s\n", message.c_str());
        return 1;
    }
    return 0;
}
