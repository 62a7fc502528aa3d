// Fits a rotation map end to end, as eddy's fit_map, and writes what a
// person looks at afterwards.
//
//   fit_rotation_map --config FIT.json [--out DIR] [--no-plots]
//   fit_rotation_map --demo [--out DIR] [--no-plots]
//   fit_rotation_map --resume DIR [--no-plots]
//   [mpiexec -n R] fit_rotation_map --batch LIST --out DIR [--no-plots]
//   mpiexec -n R fit_rotation_map --config FIT.json [--out DIR] [--no-plots]
//
// --batch runs one fit per config file in LIST, each into DIR/STEM, and
// writes DIR/batch_summary.csv (examples/batch.hpp). One ensemble fit under
// mpiexec spreads its walkers over the ranks (examples/fit_over_ranks.hpp).
//
// FIT.json is described in examples/fit_config.hpp (examples/configs/ has
// two). Without "map" in it, or with --demo, the fit runs on the
// HD163296-like benchmark problem built in memory, so it runs anywhere.
//
// Outputs in DIR (default "fit_output"), always one whole run: everything is
// written into a private staging folder beside DIR and swapped in at the end
// (diskmc/io/staged_folder.hpp). A second run into DIR while one runs is
// refused; DIR is replaced only if it is new, empty or an earlier run's
// output, and never if it holds an input.
//   summary.json   {"parameters": {NAME: {p16, p50, p84, mean, sd, ess_bulk,
//                  ess_tail, rhat[, tau]}}, "sampler": {...}, "wall_seconds",
//                  "log_density_evaluations", "gradient_evaluations",
//                  "jacobian_evaluations",
//                  "interrupted", "draws_per_chain", "warnings": [...], ...}
//   chains.csv     every draw in CmdStan's CSV layout, with a chain__ column
//   chains/chain_N.csv  one CmdStan CSV file per chain (per walker for the
//                  ensemble), for ArviZ's from_cmdstan and cmdstanpy;
//                  for the Laplace sampler the resampled draws as one chain
//   laplace_draws.csv  Laplace sampler only: every draw with lp__,
//                  log_weight__ and its Pareto-smoothed weight__; summary.json
//                  then has "laplace": {khat, khat_threshold, importance_ess,
//                  draws, ..., verdict}
//   model.fits, residual.fits   the model and data - model at the median
//   *.png          corner, trace and data/model/residual plots, drawn by
//                  scripts/plot_fit.py (python3-matplotlib) when available
//   resume/        only in an interrupted run's output: what --resume needs
// The summary is also printed as a table on stdout.
//
// Interrupts and kills. The first Ctrl-C (or SIGTERM) stops the fit cleanly:
// during the MAP step or warmup nothing is written (exit status 130);
// during sampling the draws so far are written, marked "interrupted", and
// the run can be continued with --resume DIR (exit status 130). A second
// Ctrl-C stops at once. The sampler checkpoints as it goes, so a run killed
// outright (SIGKILL, a crash, a reboot) also continues with --resume DIR,
// and a resumed run gives the draws the uninterrupted run would have.
//
// Bad input (missing files, malformed JSON, unknown keys or parameters,
// impossible sampler settings, an output folder that cannot be used): one
// message on stderr, exit status 1 (2 for usage), nothing written.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "diskmc/fit.hpp"
#include "diskmc/io/fits.hpp"
#include "diskmc/io/staged_folder.hpp"
#include "diskmc/io/stan_csv.hpp"
#include "batch.hpp"
#include "command_line.hpp"
#include "fit_by_name.hpp"
#include "fit_config.hpp"
#include "fit_map.hpp"
#if DISKMC_WITH_MPI
#include "fit_over_ranks.hpp"
#endif
#include "fit_summary.hpp"
#include "interrupts.hpp"
#include "progress_bar.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;

struct arguments {
    std::optional<fs::path> config;
    std::optional<fs::path> resume;
    std::optional<fs::path> batch;
    fs::path out = "fit_output";
    bool demo = false;
    bool plots = true;
};

constexpr const char* usage_text =
    "usage: fit_rotation_map --config FIT.json [--out DIR] [--no-plots] | --demo [--out DIR] [--no-plots] | "
    "--resume DIR [--no-plots] | --batch LIST --out DIR [--no-plots]";

arguments parse_arguments(diskmc::examples::command_line& cli) {
    arguments a;
    bool out_given = false;
    while (cli.next()) {
        // A flag given twice is a usage error, not "the last one wins": a
        // command line edited in a hurry must not fit or write elsewhere.
        if (cli.flag() == "--config") {
            if (a.config) cli.fail("--config given twice");
            a.config = cli.value();
        } else if (cli.flag() == "--out") {
            if (out_given) cli.fail("--out given twice");
            a.out = cli.value();
            out_given = true;
        } else if (cli.flag() == "--resume") {
            if (a.resume) cli.fail("--resume given twice");
            a.resume = cli.value();
        } else if (cli.flag() == "--batch") {
            if (a.batch) cli.fail("--batch given twice");
            a.batch = cli.value();
        } else if (cli.flag() == "--demo") {
            a.demo = true;
        } else if (cli.flag() == "--no-plots") {
            a.plots = false;
        } else {
            cli.fail("unknown argument " + cli.flag());
        }
    }
    if (a.batch) {
        if (a.demo || a.config || a.resume) cli.fail("--batch LIST runs the configs it lists; give it with --out only");
        if (!out_given) cli.fail("--batch LIST needs --out DIR (each fit goes to DIR/STEM)");
    } else if (a.resume) {
        if (a.demo || a.config || out_given)
            cli.fail("--resume DIR continues the run that writes DIR, with that run's settings; give it alone");
        a.out = *a.resume;
    } else if (!a.demo && !a.config) {
        cli.fail("give --config FIT.json or --demo");
    }
    if (a.out.empty()) cli.fail("--out needs a folder name");
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

/// On a terminal: the stages on stderr, and a progress bar on the sampler's
/// progress callback (divergences and tree depth for NUTS). The bar must
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
    } else if (auto* laplace = std::get_if<diskmc::laplace_fit_settings>(&options.sampler)) {
        bar = std::make_unique<progress_bar>("Laplace", laplace->options.draws);
        laplace->options.progress = [&bar = *bar](const diskmc::laplace_progress& p) {
            bar.update(p.draws_done);
            return true;
        };
    } else {
        auto& nuts = std::get<diskmc::nuts_fit_settings>(options.sampler);
        const std::size_t chains = nuts.options.chains;
        bar = std::make_unique<progress_bar>("NUTS", chains * (nuts.options.sampler.warmup + nuts.options.sampler.samples));
        nuts.options.sampler.progress = nuts_progress_bar(*bar, chains);
    }
    return bar;
}

/// The Laplace sampler's outputs: chains.csv and chains/chain_1.csv hold the
/// resampled draws as one chain (lp__ and the parameters, CmdStan's columns
/// without NUTS' statistics); laplace_draws.csv holds every draw with its
/// lp__, log-weight and smoothed weight.
void write_laplace_draws(const fs::path& file, const fs::path& folder, const diskmc::fit_result& fit,
                         const diskmc::laplace_result& run, const diskmc::fit_options& options,
                         const std::vector<std::string>& names, const diskmc::io::stan_csv_options& csv) {
    namespace io = diskmc::io::detail;
    std::string comments = "# model = " + csv.model_name + "\n# method = sample (importance-sampled Laplace)\n";
    comments += "#   draws = " + std::to_string(run.draws.cols()) + "\n#   seed = " + std::to_string(run.seed) + "\n";
    if (!csv.data_file.empty()) comments += "# data file = " + csv.data_file + "\n";
    const io::stan_csv_chain chain{.values = fit.chains.front(), .log_density = fit.log_densities.front()};
    std::string combined = comments + io::column_header(false, true, names);
    io::append_rows(combined, chain, std::size_t{1});
    io::write_atomically(file, combined, "fit_rotation_map");
    fs::create_directories(folder);
    std::string single = comments + io::column_header(false, false, names);
    io::append_rows(single, chain, std::nullopt);
    io::write_atomically(folder / (csv.chain_file_stem + "_1.csv"), single, "fit_rotation_map");
    // Every draw, constrained and wrapped as the summary's.
    const diskmc::inference::parameter_set parameters(options.parameters);
    std::string all = comments + "lp__,log_weight__,weight__";
    for (const auto& name : names) all += "," + name;
    all += "\n";
    Eigen::MatrixXd constrained(run.draws.cols(), run.draws.rows());
    for (Eigen::Index i = 0; i < run.draws.cols(); ++i)
        constrained.row(i) = parameters.to_constrained(Eigen::VectorXd(run.draws.col(i))).transpose();
    Eigen::MatrixXd by_column = constrained.transpose();
    parameters.wrap_periodic(by_column);
    for (Eigen::Index i = 0; i < run.draws.cols(); ++i) {
        io::append_number(all, run.log_densities[i]);
        all += ',';
        io::append_number(all, run.log_weights[i]);
        all += ',';
        io::append_number(all, run.weights[i]);
        for (Eigen::Index p = 0; p < by_column.rows(); ++p) {
            all += ',';
            io::append_number(all, by_column(p, i));
        }
        all += '\n';
    }
    io::write_atomically(file.parent_path() / "laplace_draws.csv", all, "fit_rotation_map");
}

/// chains.csv (every chain in one file, with a chain__ column) and
/// chains/chain_N.csv (one CmdStan file per chain, per walker for the
/// ensemble: what ArviZ's from_cmdstan and cmdstanpy read).
void write_chains(const fs::path& file, const fs::path& folder, const diskmc::fit_result& fit,
                  const diskmc::fit_options& options, const diskmc::io::stan_csv_options& csv) {
    std::vector<std::string> names;
    for (const auto& p : fit.parameters) names.push_back(p.name);
    if (const auto* laplace = std::get_if<diskmc::laplace_result>(&fit.sampler)) {
        write_laplace_draws(file, folder, fit, *laplace, options, names, csv);
    } else if (const auto* nuts = std::get_if<diskmc::nuts_chains_result>(&fit.sampler)) {
        const auto* fallback = std::get_if<diskmc::laplace_fit_settings>(&options.sampler);
        const auto& settings =
            fallback ? fallback->nuts.options : std::get<diskmc::nuts_fit_settings>(options.sampler).options;
        diskmc::io::write_stan_csv(file, *nuts, settings, names, csv);
        diskmc::io::write_stan_csv_chains(folder, *nuts, settings, names, csv);
    } else {
        const auto& run = std::get<diskmc::ensemble_result>(fit.sampler);
        const auto& settings = std::get<diskmc::ensemble_fit_settings>(options.sampler).options;
        diskmc::io::write_stan_csv(file, run, settings, names, csv);
        diskmc::io::write_stan_csv_chains(folder, run, settings, names, csv);
    }
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
    std::printf("(%zu pixels fitted; %.1f s; %zu log-density, %zu gradient and %zu Jacobian evaluations)\n",
                static_cast<std::size_t>(fit.mask.count()), fit.wall_seconds, fit.log_density_evaluations,
                fit.gradient_evaluations, fit.jacobian_evaluations);
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

/// The run's state that --resume needs, in STAGING/resume/: the sampler's
/// checkpoint, and how the run was asked for (the config file's bytes and
/// the folder its relative paths start from, kept as raw bytes so any file
/// name survives). An interrupted run's output keeps it; a finished one not.
struct resume_state {
    fs::path folder;

    fs::path checkpoint() const { return folder / "checkpoint"; }
    fs::path config() const { return folder / "config.json"; }
    fs::path config_dir() const { return folder / "config_dir"; }
    fs::path config_name() const { return folder / "config_name"; }
    bool demo() const { return !fs::exists(config()); }
    bool usable() const { return fs::exists(folder / "mode"); }
};

void write_bytes(const fs::path& file, const std::string& bytes) {
    std::ofstream out(file, std::ios::binary);
    out << bytes;
    if (!out.flush()) diskmc::detail::throw_invalid_input(file.string(), ": write failed");
}

std::string read_bytes(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) diskmc::detail::throw_invalid_input(file.string(), ": cannot read the resume state");
    return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Records a fresh run's request in the staging folder.
/// `config_text` is the config file's bytes as this run read and parsed
/// them (not copied again: the file may have changed, or be a pipe).
resume_state record_request(const fs::path& staging, const arguments& args, const std::string& config_text) {
    resume_state state{staging / "resume"};
    fs::create_directories(state.folder);
    if (args.config) {
        write_bytes(state.config(), config_text);
        write_bytes(state.config_dir(), fs::absolute(*args.config).parent_path().string());
        write_bytes(state.config_name(), args.config->string());
    }
    write_bytes(state.folder / "mode", args.config ? "config\n" : "demo\n");
    return state;
}

/// For --resume DIR: copies the newest resumable state (a killed run's
/// staging folder, else DIR's own resume/) into this run's staging folder.
resume_state take_resume_state(const diskmc::io::staged_folder& out) {
    std::vector<fs::path> candidates;
    for (const auto& leftover : out.leftovers()) candidates.push_back(leftover / "resume");
    candidates.push_back(out.folder() / "resume");
    for (const auto& candidate : candidates) {
        if (!resume_state{candidate}.usable()) continue;
        resume_state state{out.staging() / "resume"};
        fs::copy(candidate, state.folder, fs::copy_options::recursive);
        return state;
    }
    diskmc::detail::throw_invalid_input(out.folder().string(),
                                        ": there is no run to resume here (only an interrupted or killed run can "
                                        "be resumed; a finished one keeps no resume state)");
}

/// The run's configuration, read from the resume state it recorded.
diskmc::examples::fit_config config_of(const resume_state& state) {
    if (state.demo()) return demo_config();
    return diskmc::examples::read_fit_config(state.config(), fs::path(read_bytes(state.config_dir())),
                                             read_bytes(state.config_name()));
}

/// The sampler checkpoints into the resume state, and resumes from it when
/// the file is there.
void checkpoint_into(diskmc::fit_options& options, const resume_state& state) {
    if (auto* ensemble = std::get_if<diskmc::ensemble_fit_settings>(&options.sampler))
        ensemble->options.checkpoint = state.checkpoint();
    else if (auto* laplace = std::get_if<diskmc::laplace_fit_settings>(&options.sampler))
        laplace->nuts.options.checkpoint = state.checkpoint();  // its draws take seconds: rerun, no checkpoint
    else
        std::get<diskmc::nuts_fit_settings>(options.sampler).options.checkpoint = state.checkpoint();
}

/// Writes every output into `dir` (the staging folder).
void write_outputs(const fs::path& dir, const diskmc::fit_result& fit, const diskmc::fit_options& options,
                   const diskmc::io::stan_csv_options& csv) {
    nlohmann::ordered_json summary = diskmc::examples::summary_json(fit, options);
    if (!csv.data_file.empty()) summary["data_map"] = csv.data_file;
    summary["resumable"] = fit.interrupted;
    // JSON is UTF-8: a file name that is not is shown with U+FFFD in place
    // of the bytes that do not decode (the plot script gets the name itself).
    write_bytes(dir / "summary.json", summary.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    diskmc::io::write_fits_map(dir / "model.fits", fit.model, map_header(fit, "model"));
    diskmc::io::write_fits_map(dir / "residual.fits", fit.residual, map_header(fit, "data - model"));
    write_chains(dir / "chains.csv", dir / "chains", fit, options, csv);
}

/// Runs a program with these arguments, no shell (every byte of every
/// argument reaches it as it is); waits and returns its exit status, or -1
/// if it could not start or did not exit normally.
int run_program(const std::vector<std::string>& arguments, bool quiet) {
    std::vector<char*> argv;
    for (const auto& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (quiet) {
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    }
    pid_t child = 0;
    const int failed = posix_spawn(&child, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (failed != 0) return -1;
    int status = 0;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// scripts/plot_fit.py DIR [--data MAP] draws the PNGs with matplotlib.
void draw_plots(const fs::path& dir, const std::optional<fs::path>& data_map) {
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
    // Debian's interpreter: a python3 earlier on PATH (pyenv, conda) may lack matplotlib.
    const std::string python = "/usr/bin/python3";
    if (run_program({python, "-c", "import matplotlib, numpy, astropy"}, true) != 0) {
        std::fprintf(stderr, "fit_rotation_map: plots skipped (%s lacks matplotlib, numpy or astropy)\n", python.c_str());
        return;
    }
    std::vector<std::string> command = {python, script.string(), dir.string()};
    if (data_map) command.insert(command.end(), {"--data", fs::absolute(*data_map).string()});
    if (run_program(command, false) != 0)
        std::fprintf(stderr, "fit_rotation_map: %s failed; the other outputs are written\n", script.c_str());
}

/// Messages name the config file unless they already do; the library's
/// "fit_rotation_map: " prefix would repeat the program's.
std::string error_message(const std::exception& e, const std::optional<std::string>& config_name) {
    std::string message = e.what();
    const std::string library_prefix = "fit_rotation_map: ";
    if (message.rfind(library_prefix, 0) == 0) message.erase(0, library_prefix.size());
    if (config_name && message.find(*config_name) == std::string::npos) message = *config_name + ": " + message;
    return message;
}

/// The ranks of one fit run over mpiexec (examples/fit_over_ranks.hpp); a
/// stand-in without MPI, never made.
#if DISKMC_WITH_MPI
using fit_ranks = diskmc::examples::fit_ranks;
#else
struct fit_ranks {
    bool writes() const { return true; }
};
#endif

/// One fit, as the command line asks: reads the config, fits, writes the
/// outputs, prints the table or the error. The batch runs each of its fits
/// through this too. With `ranks`, one fit over the ranks of mpiexec: every
/// rank fits, rank 0 alone writes and speaks.
diskmc::examples::fit_report run_fit(const arguments& args, diskmc::examples::command_line& cli,
                                     const fit_ranks* ranks = nullptr) {
    const bool writes = !ranks || ranks->writes();
    diskmc::examples::fit_report report;
    std::optional<std::string> config_name;
    if (args.config) config_name = args.config->string();
    try {
        diskmc::examples::fit_config config;
        std::string config_text;
        if (args.config) {
            config_text = diskmc::examples::read_config_text(*args.config, *config_name);
            config = diskmc::examples::parse_fit_config_text(config_text, *config_name, args.config->parent_path());
        }
        if (args.demo && args.config && config.map)
            cli.fail("--demo runs on the built-in problem; the config names a map");
        if (args.demo) config = demo_config();
#if DISKMC_WITH_MPI
        if (ranks) ranks->check(config.options, args.resume.has_value());
#endif

        // The output folder first: a folder that cannot be used fails before
        // any work (rank 0's folder over mpiexec, where only rank 0 writes).
        std::optional<diskmc::io::staged_folder> out;
        resume_state state;
        const auto prepare_output = [&] {
            std::vector<fs::path> inputs;
            if (args.config) inputs.push_back(*args.config);
            out.emplace(args.out, inputs);
            if (args.resume) {
                state = take_resume_state(*out);
                config = config_of(state);
                if (!state.demo()) config_name = read_bytes(state.config_name());
            } else {
                for (const auto& leftover : out->leftovers())
                    std::fprintf(stderr,
                                 "fit_rotation_map: %s is left from a run that was killed; this run replaces it "
                                 "(--resume %s would have continued it)\n",
                                 leftover.c_str(), args.out.c_str());
                state = record_request(out->staging(), args, config_text);
            }
            if (config.map) out->check_inputs({*config.map, *config.uncertainty});
        };
#if DISKMC_WITH_MPI
        if (ranks)
            ranks->on_rank_zero(prepare_output);
        else
#endif
            prepare_output();

        config.options.map = diskmc::examples::load_map(config);
        config.options.stop_requested = diskmc::examples::interrupt_requested;
#if DISKMC_WITH_MPI
        if (ranks) ranks->spread(config.options);
#endif
        std::unique_ptr<diskmc::examples::progress_bar> bar;
        if (writes) {
            checkpoint_into(config.options, state);
            bar = attach_progress(config.options);
        }
        diskmc::fit_result fit = diskmc::examples::fit_by_name(config.options);
        if (bar) bar->finish();
#if DISKMC_WITH_MPI
        if (ranks) fit.log_density_evaluations = ranks->log_density_evaluations(fit.log_density_evaluations);
#endif
        report.status = fit.interrupted ? "interrupted" : "ok";
        if (!writes) return report;

        diskmc::io::stan_csv_options csv{.model_name = "diskmc_fit_rotation_map"};
        if (config.map) csv.data_file = fs::absolute(*config.map).string();
        write_outputs(out->staging(), fit, config.options, csv);
        if (!fit.interrupted) fs::remove_all(state.folder);
        // (mpiexec kills the ranks 1 s after a Ctrl-C: no time for plots.)
        if (args.plots && !(ranks && fit.interrupted)) draw_plots(out->staging(), config.map);
        out->remove_leftovers();
        out->commit();

        print_table(fit, config.options);
        std::printf("Outputs in %s\n", args.out.c_str());
        report.warnings = fit.warnings.size();
        for (const auto& p : fit.parameters) report.parameters.push_back({p.name, p.p50, p.sd, p.ess_bulk, p.rhat});
        if (fit.interrupted)
            std::fprintf(stderr, "fit_rotation_map: interrupted during sampling; the draws so far are written to %s; "
                                 "continue with --resume %s\n", args.out.c_str(), args.out.c_str());
    } catch (const diskmc::interrupted& e) {
        if (writes) std::fprintf(stderr, "fit_rotation_map: %s; nothing written\n", e.what());
        report.status = "interrupted";
        report.error = e.what();
    } catch (const std::exception& e) {
        report.status = "failed";
        report.error = error_message(e, config_name);
        if (writes) std::fprintf(stderr, "fit_rotation_map: %s\n", report.error.c_str());
    }
    return report;
}

}  // namespace

int main(int argc, char** argv) {
    diskmc::examples::command_line cli(argc, argv, "fit_rotation_map", usage_text);
    const arguments args = parse_arguments(cli);
    diskmc::examples::stop_on_interrupt();
    if (args.batch)
        return diskmc::examples::run_batch(argc, argv, *args.batch, args.out, [&](const fs::path& config, const fs::path& out) {
            return run_fit(arguments{.config = config, .out = out, .plots = args.plots}, cli);
        });
    const auto exit_status = [](const diskmc::examples::fit_report& report) {
        return report.status == "ok" ? 0 : report.status == "interrupted" ? 130 : 1;
    };
#if DISKMC_WITH_MPI
    if (diskmc::examples::started_by_mpiexec()) {
        MPI_Init(&argc, &argv);
        struct finalize_on_exit {
            ~finalize_on_exit() { MPI_Finalize(); }
        } finalize;
        const fit_ranks ranks;
        return exit_status(run_fit(args, cli, ranks.count() > 1 ? &ranks : nullptr));
    }
#endif
    return exit_status(run_fit(args, cli));
}
