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
//   chains.csv     every draw in CmdStan's CSV layout, with a chain__ column
//   chains/chain_N.csv  one CmdStan CSV file per chain (per walker for the
//                  ensemble), for ArviZ's from_cmdstan and cmdstanpy
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
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "diskmc/fit.hpp"
#include "diskmc/io/fits.hpp"
#include "diskmc/io/stan_csv.hpp"
#include "command_line.hpp"
#include "fit_config.hpp"
#include "progress_bar.hpp"

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

/// On a terminal: the stages on stderr, and a progress bar on the sampler's
/// progress callback (divergences and tree depth for NUTS); the first Ctrl-C
/// stops the sampler cleanly and the draws so far are written. The bar must
/// outlive the fit.
std::unique_ptr<diskmc::examples::progress_bar> attach_progress(diskmc::fit_options& options) {
    using namespace diskmc::examples;
    if (!stderr_is_terminal()) return nullptr;
    options.on_stage = [](diskmc::fit_stage stage) {
        std::fprintf(stderr, "fit_rotation_map: %s...\n", std::string(diskmc::to_string(stage)).c_str());
    };
    std::unique_ptr<progress_bar> bar;
    if (auto* ensemble = std::get_if<diskmc::ensemble_fit_settings>(&options.sampler)) {
        bar = std::make_unique<progress_bar>("ensemble", ensemble->options.burn_in + ensemble->options.steps);
        ensemble->options.progress = ensemble_progress_bar(*bar);
    } else {
        auto& nuts = std::get<diskmc::nuts_fit_settings>(options.sampler);
        const std::size_t chains = nuts.options.chains;
        bar = std::make_unique<progress_bar>("NUTS", chains * (nuts.options.sampler.warmup + nuts.options.sampler.samples));
        nuts.options.sampler.progress = nuts_progress_bar(*bar, chains);
    }
    stop_on_interrupt();
    return bar;
}

/// chains.csv (every chain in one file, with a chain__ column) and
/// chains/chain_N.csv (one CmdStan file per chain, per walker for the
/// ensemble: what ArviZ's from_cmdstan and cmdstanpy read).
void write_chains(const fs::path& file, const fs::path& folder, const diskmc::fit_result& fit,
                  const diskmc::fit_options& options, const diskmc::io::stan_csv_options& csv) {
    std::vector<std::string> names;
    for (const auto& p : fit.parameters) names.push_back(p.name);
    if (const auto* nuts = std::get_if<diskmc::nuts_chains_result>(&fit.sampler)) {
        const auto& settings = std::get<diskmc::nuts_fit_settings>(options.sampler).options;
        diskmc::io::write_stan_csv(file, *nuts, settings, names, csv);
        diskmc::io::write_stan_csv_chains(folder, *nuts, settings, names, csv);
    } else {
        const auto& run = std::get<diskmc::ensemble_result>(fit.sampler);
        const auto& settings = std::get<diskmc::ensemble_fit_settings>(options.sampler).options;
        diskmc::io::write_stan_csv(file, run, settings, names, csv);
        diskmc::io::write_stan_csv_chains(folder, run, settings, names, csv);
    }
}


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
void write_outputs(const fs::path& dir, const diskmc::fit_result& fit,
                                       const diskmc::fit_options& options, const diskmc::io::stan_csv_options& csv) {
    const bool made_dir = !fs::exists(dir);
    fs::create_directories(dir);
    std::vector<std::pair<fs::path, fs::path>> written;  // temporary, final
    auto temporary = [&](const std::string& name) {
        written.emplace_back(dir / (name + ".partial"), dir / name);
        return written.back().first;
    };
    try {
        {
            const fs::path file = temporary("summary.json");
            std::ofstream out(file);
            nlohmann::ordered_json summary = summary_json(fit, options);
            if (!csv.data_file.empty()) summary["data_map"] = csv.data_file;  // for scripts/plot_fit.py
            out << summary.dump(2) << "\n";
            if (!out.flush()) diskmc::detail::throw_invalid_input(file.string(), ": write failed");
        }
        diskmc::io::write_fits_map(temporary("model.fits"), fit.model, map_header(fit, "model"));
        diskmc::io::write_fits_map(temporary("residual.fits"), fit.residual, map_header(fit, "data - model"));
        write_chains(temporary("chains.csv"), temporary("chains"), fit, options, csv);
        fs::remove_all(dir / "chains");  // a folder is renamed only onto nothing
        for (const auto& [from, to] : written) fs::rename(from, to);
    } catch (...) {
        std::error_code ignored;
        for (const auto& [from, to] : written) fs::remove_all(from, ignored);
        if (made_dir) fs::remove(dir, ignored);
        throw;
    }
}

/// scripts/plot_fit.py DIR draws the PNGs with matplotlib.
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
    // Debian's interpreter first: a python3 earlier on PATH (pyenv, conda) may lack matplotlib.
    const std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    if (std::system((python + " -c 'import matplotlib, numpy, astropy' >/dev/null 2>&1").c_str()) != 0) {
        std::fprintf(stderr, "fit_rotation_map: plots skipped (%s lacks matplotlib, numpy or astropy)\n", python.c_str());
        return;
    }
    const std::string command = python + " '" + script.string() + "' '" + dir.string() + "'";
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
        auto bar = attach_progress(config.options);

        const diskmc::fit_result fit = diskmc::fit_rotation_map(config.options);
        if (bar) bar->finish();

        diskmc::io::stan_csv_options csv{.model_name = "diskmc_fit_rotation_map"};
        if (config.map) csv.data_file = fs::absolute(*config.map).string();
        write_outputs(args.out, fit, config.options, csv);
        print_table(fit, config.options);
        std::printf("Outputs in %s\n", args.out.c_str());
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
