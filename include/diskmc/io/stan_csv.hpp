#pragma once
// Sampler output in CmdStan's CSV layout ("Stan CSV", CmdStan guide,
// appendix "Stan CSV File Format"), so that ArviZ (`az.from_cmdstan`),
// cmdstanpy (`cmdstanpy.from_csv`), CmdStanR and stansummary read it.
//
// What those readers parse, and so what is written:
//  - configuration comments first (`# key = value`, nested by indentation);
//    cmdstanpy needs `model`, `method = sample`, `num_samples`, `num_warmup`,
//    `save_warmup`, `thin`, and for NUTS `max_depth` and `metric`;
//  - the column header: sampler columns ending in `__` (ArviZ puts them in
//    `sample_stats`), then the parameters;
//  - for NUTS, between the header and the draws: `# Adaptation terminated`,
//    `# Step size = ...`, `# Diagonal elements of inverse mass matrix:` (or
//    `# Elements of inverse mass matrix:` for a dense metric) and the matrix,
//    one comment line per row, exactly as cmdstanpy's parser expects;
//  - one row per draw; `treedepth__`, `n_leapfrog__` and `divergent__` as
//    integers (cmdstanpy parses them with int());
//  - the timing comments at the end, as CmdStan prints them.
//
// Both tools take one file per chain: a chain is a file. So the per-chain
// writers (`write_stan_csv_chains`) make `chain_1.csv, chain_2.csv, ...` in a
// folder of their own (cmdstanpy's from_csv(folder) reads every .csv in it).
// The combined writer (`write_stan_csv`) puts every chain in one file with a
// `chain__` column (1-based), for pandas/numpy and the plot script; ArviZ and
// cmdstanpy would see it as one chain. For the ensemble sampler every walker
// is a chain, as ArviZ's from_emcee does it; there are no NUTS columns.
//
// Numbers are written in the shortest form that reads back to the same
// double (std::to_chars), so nothing is lost; non-finite values as `NaN`,
// `inf`, `-inf`. Every file is written under a temporary name and renamed
// into place, so a failure leaves no half-written file.

#include <Eigen/Core>
#include <algorithm>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "diskmc/errors.hpp"
#include "diskmc/samplers/ensemble/options.hpp"
#include "diskmc/samplers/ensemble/result.hpp"
#include "diskmc/samplers/nuts/options.hpp"
#include "diskmc/samplers/nuts/result.hpp"

namespace diskmc::io {

/// What the Stan CSV writers put in the configuration comments besides the
/// sampler's settings. Aggregate: `stan_csv_options{.model_name = "hd163296"}`.
struct stan_csv_options {
    /// `# model = ...` (cmdstanpy requires a model name).
    std::string model_name = "diskmc";
    /// The run's seed, written as `# random / seed = ...` (NUTS runs do not
    /// record it in their result; ensemble runs do and use theirs when this is unset).
    std::optional<std::uint64_t> seed = {};
    /// The data file, written as CmdStan's `# data / file = ...`.
    std::string data_file = {};
    /// Stem of the per-chain files: `<stem>_1.csv`, `<stem>_2.csv`, ...
    std::string chain_file_stem = "chain";
};

namespace detail {

using diskmc::detail::throw_invalid_input;

/// One chain as it will be written: the values and the sampler columns.
struct stan_csv_chain {
    Eigen::MatrixXd values;  // draws x parameters
    Eigen::VectorXd log_density;
    const std::vector<nuts_iteration>* nuts = nullptr;  // per-draw NUTS statistics, or none
    // NUTS adaptation (written only with nuts != nullptr)
    double step_size = 0.0;
    metric_kind metric = metric_kind::diagonal;
    Eigen::MatrixXd inverse_metric;
    // timing
    std::optional<double> warmup_seconds;
    std::optional<double> sampling_seconds;
    double total_seconds = 0.0;
    // configuration comments particular to this chain (num_samples may differ after a stop)
    std::size_t num_samples = 0;
};

/// A double in the shortest decimal form that reads back exactly.
inline void append_number(std::string& out, double value) {
    if (value != value) {
        out += "NaN";
        return;
    }
    char buffer[32];
    const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, error == std::errc{} ? end : buffer);
}

inline std::string number_text(double value) {
    std::string text;
    append_number(text, value);
    return text;
}

template <std::integral Integer>
void append_integer(std::string& out, Integer value) {
    char buffer[24];
    const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, error == std::errc{} ? end : buffer);
}

/// Parameter names become CSV columns: non-empty, unique, without the CSV
/// separators, and not ending in "__" (readers take those for sampler columns).
inline void check_parameter_names(const std::vector<std::string>& names, std::size_t parameters,
                                  std::string_view function) {
    if (names.size() != parameters)
        throw_invalid_input(function, ": ", names.size(), " parameter names given for ", parameters,
                            " parameters");
    std::set<std::string_view> seen;
    for (const std::string& name : names) {
        if (name.empty()) throw_invalid_input(function, ": a parameter name is empty");
        if (name.find_first_of(",\"\n\r# \t") != std::string::npos)
            throw_invalid_input(function, ": parameter name '", name,
                                "' contains a comma, quote, '#', space or line break");
        if (name.size() >= 2 && name.ends_with("__"))
            throw_invalid_input(function, ": parameter name '", name,
                                "' ends in \"__\", which marks sampler columns");
        if (!seen.insert(name).second)
            throw_invalid_input(function, ": parameter name '", name, "' appears twice");
    }
}

/// The column header: sampler columns, `chain__` in the combined file, parameters.
inline std::string column_header(bool nuts, bool with_chain_column,
                                 const std::vector<std::string>& names) {
    std::string header = nuts ? "lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__"
                              : "lp__";
    if (with_chain_column) header += ",chain__";
    for (const std::string& name : names) header += ',' + name;
    header += '\n';
    return header;
}

/// The block CmdStan writes between the header and the draws after warmup.
inline void append_adaptation(std::string& out, const stan_csv_chain& chain) {
    out += "# Adaptation terminated\n# Step size = ";
    append_number(out, chain.step_size);
    out += '\n';
    const Eigen::MatrixXd& inverse = chain.inverse_metric;
    if (chain.metric == metric_kind::unit || inverse.size() == 0) return;
    const bool dense = chain.metric == metric_kind::dense && inverse.cols() > 1;
    out += dense ? "# Elements of inverse mass matrix:\n"
                 : "# Diagonal elements of inverse mass matrix:\n";
    const Eigen::Index rows = dense ? inverse.rows() : 1;
    for (Eigen::Index i = 0; i < rows; ++i) {
        out += "# ";
        const Eigen::Index count = dense ? inverse.cols() : inverse.rows();
        for (Eigen::Index j = 0; j < count; ++j) {
            if (j > 0) out += ", ";
            append_number(out, dense ? inverse(i, j) : inverse(j, 0));
        }
        out += '\n';
    }
}

inline void append_rows(std::string& out, const stan_csv_chain& chain,
                        std::optional<std::size_t> chain_column) {
    for (Eigen::Index d = 0; d < chain.values.rows(); ++d) {
        append_number(out, chain.log_density[d]);
        if (chain.nuts) {
            const nuts_iteration& it = (*chain.nuts)[static_cast<std::size_t>(d)];
            out += ',';
            append_number(out, it.accept_stat);
            out += ',';
            append_number(out, it.step_size);
            out += ',';
            append_integer(out, it.tree_depth);
            out += ',';
            append_integer(out, it.n_leapfrog);
            out += it.divergent ? ",1," : ",0,";
            append_number(out, it.energy);
        }
        if (chain_column) {
            out += ',';
            append_integer(out, *chain_column);
        }
        for (Eigen::Index p = 0; p < chain.values.cols(); ++p) {
            out += ',';
            append_number(out, chain.values(d, p));
        }
        out += '\n';
    }
}

/// CmdStan's closing lines, which ArviZ parses into warmup/sampling/total times.
inline void append_timing(std::string& out, const stan_csv_chain& chain) {
    out += "# \n";
    bool first = true;
    auto line = [&](double seconds, const char* what) {
        out += first ? "#  Elapsed Time: " : "#                ";
        first = false;
        append_number(out, seconds);
        out += " seconds (";
        out += what;
        out += ")\n";
    };
    if (chain.warmup_seconds) line(*chain.warmup_seconds, "Warm-up");
    if (chain.sampling_seconds) line(*chain.sampling_seconds, "Sampling");
    line(chain.total_seconds, "Total");
    out += "# \n";
}

/// Writes `text` to `file` under a temporary name, then renames it into place.
inline void write_atomically(const std::filesystem::path& file, const std::string& text,
                             std::string_view function) {
    const std::filesystem::path temporary = file.string() + ".partial";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out) throw_invalid_input(function, ": cannot create ", temporary.string());
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        out.close();
        if (!out) {
            std::error_code ignored;
            std::filesystem::remove(temporary, ignored);
            throw_invalid_input(function, ": cannot write ", temporary.string());
        }
    }
    std::error_code error;
    std::filesystem::rename(temporary, file, error);
    if (error) {
        std::error_code ignored;
        std::filesystem::remove(temporary, ignored);
        throw_invalid_input(function, ": cannot rename the written file to ", file.string(), ": ",
                            error.message());
    }
}

/// `#<indent><key> = <value>`, CmdStan's nested configuration comment.
/// A line break in the value (a file name may hold one) is written as \n
/// or \r, so the comment stays one line.
inline void append_setting(std::string& text, std::string_view indent, std::string_view key,
                           std::string_view value) {
    text += '#';
    text += indent;
    text += key;
    text += " = ";
    for (const char c : value) {
        if (c == '\n') text += "\\n";
        else if (c == '\r') text += "\\r";
        else text += c;
    }
    text += '\n';
}

/// The first configuration comments: model and method, as cmdstanpy requires.
inline std::string configuration_start(const stan_csv_options& csv) {
    return "# model = " + csv.model_name + "\n# method = sample (Default)\n#   sample\n";
}

inline void append_data_and_seed(std::string& text, const std::string& data_file,
                                 std::optional<std::uint64_t> seed) {
    if (!data_file.empty()) {
        text += "# data\n";
        append_setting(text, "   ", "file", data_file);
    }
    if (seed) {
        text += "# random\n";
        append_setting(text, "   ", "seed", std::to_string(*seed));
    }
}

/// The configuration comments of a NUTS run, as CmdStan nests them.
inline std::string nuts_configuration(const nuts_chains_options& run, const stan_csv_chain& chain,
                                      std::optional<std::size_t> id, std::size_t chains,
                                      bool stopped_early, const stan_csv_options& csv) {
    const nuts_options& o = run.sampler;
    std::string text = configuration_start(csv);
    auto line = [&](std::string_view indent, std::string_view key, const std::string& value) {
        append_setting(text, indent, key, value);
    };
    auto integer = [](std::size_t value) { return std::to_string(value); };
    line("     ", "num_samples", integer(chain.num_samples));
    line("     ", "num_warmup", integer(o.warmup));
    line("     ", "save_warmup", "0");
    line("     ", "thin", "1");
    text += "#     adapt\n";
    const bool adapting = o.warmup > 0 && (o.adapt_step_size || o.adapt_metric);
    line("       ", "engaged", adapting ? "1" : "0");
    line("       ", "gamma", number_text(o.gamma));
    line("       ", "delta", number_text(o.target_accept));
    line("       ", "kappa", number_text(o.kappa));
    line("       ", "t0", number_text(o.t0));
    line("       ", "init_buffer", integer(o.init_buffer));
    line("       ", "term_buffer", integer(o.term_buffer));
    line("       ", "window", integer(o.base_window));
    text += "#     algorithm = hmc (Default)\n#       hmc\n#         engine = nuts (Default)\n"
            "#           nuts\n";
    line("             ", "max_depth", integer(o.max_tree_depth));
    line("         ", "metric", diskmc::detail::metric_name(o.metric));
    line("         ", "stepsize", number_text(o.step_size > 0 ? o.step_size : 1.0));
    line("         ", "stepsize_jitter", number_text(o.step_size_jitter));
    line("     ", "num_chains", integer(chains));
    if (id) line(" ", "id", integer(*id));
    append_data_and_seed(text, csv.data_file, csv.seed);
    // What CmdStan has no key for.
    text += "# diskmc\n";
    line("   ", "max_depth_warmup",
         integer(o.max_tree_depth_warmup > 0 ? o.max_tree_depth_warmup : o.max_tree_depth));
    line("   ", "metric_regularization", diskmc::detail::regularization_name(o.regularization));
    line("   ", "standardized", o.standardize_covariance.size() != 0 ? "1" : "0");
    line("   ", "lockstep", run.lockstep ? "1" : "0");
    line("   ", "stopped_early", stopped_early ? "1" : "0");
    return text;
}

inline std::vector<stan_csv_chain> nuts_chains_to_write(const nuts_chains_result& run,
                                                        const std::vector<std::string>& names,
                                                        std::string_view function) {
    if (run.chains.empty()) throw_invalid_input(function, ": the run has no chains");
    // Transformed draws when the run had a transform (a chain stopped before
    // sampling has none of either kind).
    bool transformed = false;
    for (const nuts_result& result : run.chains) transformed |= result.transformed_draws.size() != 0;
    auto values_of = [&](const nuts_result& result) -> const Eigen::MatrixXd& {
        return transformed ? result.transformed_draws : result.draws;
    };
    Eigen::Index parameters = run.chains.front().draws.cols();
    for (const nuts_result& result : run.chains)
        if (values_of(result).rows() > 0) {
            parameters = values_of(result).cols();
            break;
        }
    check_parameter_names(names, static_cast<std::size_t>(parameters), function);

    std::vector<stan_csv_chain> chains;
    chains.reserve(run.chains.size());
    for (std::size_t c = 0; c < run.chains.size(); ++c) {
        const nuts_result& result = run.chains[c];
        const Eigen::Index draws = result.draws.rows();
        if (static_cast<std::size_t>(draws) != result.sampling.size())
            throw_invalid_input(function, ": chain ", c + 1, " has ", draws, " draws but ",
                                result.sampling.size(), " sampling statistics");
        const Eigen::MatrixXd& values = values_of(result);
        if (draws > 0 && (values.rows() != draws || values.cols() != parameters))
            throw_invalid_input(function, ": chain ", c + 1, " has ",
                                transformed ? "transformed draws" : "draws", " of size ",
                                values.rows(), " x ", values.cols(), ", expected ", draws, " x ",
                                parameters);
        stan_csv_chain chain;
        chain.values = draws > 0 ? values : Eigen::MatrixXd(0, parameters);
        chain.log_density.resize(draws);
        for (Eigen::Index d = 0; d < draws; ++d)
            chain.log_density[d] = result.sampling[static_cast<std::size_t>(d)].log_density;
        chain.nuts = &result.sampling;
        chain.step_size = result.step_size;
        chain.metric = result.metric;
        chain.inverse_metric = result.inverse_metric;
        chain.warmup_seconds = result.warmup_seconds;
        chain.sampling_seconds = result.sampling_seconds;
        chain.total_seconds = result.warmup_seconds + result.sampling_seconds;
        chain.num_samples = static_cast<std::size_t>(draws);
        chains.push_back(std::move(chain));
    }
    return chains;
}

/// The configuration comments of an ensemble run: CmdStan's keys where they
/// mean the same (burn-in is num_warmup), the ensemble's own below.
inline std::string ensemble_configuration(const ensemble_result& result,
                                          const ensemble_options& options,
                                          std::optional<std::size_t> walker,
                                          const stan_csv_options& csv) {
    std::string text = configuration_start(csv);
    auto line = [&](std::string_view indent, std::string_view key, const std::string& value) {
        append_setting(text, indent, key, value);
    };
    // num_samples / thin rows follow, as cmdstanpy checks.
    line("     ", "num_samples", std::to_string(result.draws() * options.thin));
    line("     ", "num_warmup", std::to_string(options.burn_in));
    line("     ", "save_warmup", "0");
    line("     ", "thin", std::to_string(options.thin));
    text += "#     algorithm = ensemble\n#       ensemble\n";
    line("         ", "walkers", std::to_string(result.walkers));
    line("         ", "moves", std::to_string(options.moves.size()));
    line("     ", "num_chains", std::to_string(result.walkers));
    if (walker) {
        line(" ", "id", std::to_string(*walker + 1));
        line(" ", "walker", std::to_string(*walker));
    }
    append_data_and_seed(text, csv.data_file, csv.seed.value_or(result.seed));
    text += "# diskmc\n";
    line("   ", "iterations", std::to_string(result.iterations));
    line("   ", "mean_acceptance", number_text(result.mean_acceptance()));
    line("   ", "stopped_early", result.stopped_early ? "1" : "0");
    return text;
}

template <class Transform>
std::vector<stan_csv_chain> ensemble_chains_to_write(const ensemble_result& result,
                                                     const ensemble_options& options,
                                                     const std::vector<std::string>& names,
                                                     const Transform& transform,
                                                     std::string_view function) {
    if (result.walkers == 0) throw_invalid_input(function, ": the run has no walkers");
    if (options.thin == 0) throw_invalid_input(function, ": options.thin must be >= 1");
    const auto draws = static_cast<Eigen::Index>(result.draws());
    const auto walkers = static_cast<Eigen::Index>(result.walkers);
    if (result.samples.rows() != static_cast<Eigen::Index>(result.dim) ||
        result.samples.cols() != draws * walkers)
        throw_invalid_input(function, ": samples is ", result.samples.rows(), " x ",
                            result.samples.cols(), ", expected dim x (draws * walkers) = ",
                            result.dim, " x ", draws * walkers);
    if (result.log_densities.rows() != walkers || result.log_densities.cols() != draws)
        throw_invalid_input(function, ": log_densities is ", result.log_densities.rows(), " x ",
                            result.log_densities.cols(), ", expected walkers x draws = ", walkers,
                            " x ", draws);
    // The parameter count is what the transform returns (dim without one).
    Eigen::Index parameters = static_cast<Eigen::Index>(result.dim);
    if (draws > 0) parameters = transform(Eigen::VectorXd(result.samples.col(0))).size();
    check_parameter_names(names, static_cast<std::size_t>(parameters), function);

    std::vector<stan_csv_chain> chains(result.walkers);
    for (Eigen::Index w = 0; w < walkers; ++w) {
        stan_csv_chain& chain = chains[static_cast<std::size_t>(w)];
        chain.values.resize(draws, parameters);
        chain.log_density = result.log_densities.row(w).transpose();
        for (Eigen::Index d = 0; d < draws; ++d) {
            const Eigen::VectorXd value = transform(Eigen::VectorXd(result.samples.col(d * walkers + w)));
            if (value.size() != parameters)
                throw_invalid_input(function, ": the transform returned ", value.size(),
                                    " values for one draw and ", parameters, " for another");
            chain.values.row(d) = value.transpose();
        }
        chain.total_seconds = result.timings.total_seconds;
        chain.num_samples = static_cast<std::size_t>(draws) * options.thin;
    }
    return chains;
}

/// Writes one file per chain into `directory` (created if needed); on a
/// failure removes the files it has written.
inline std::vector<std::filesystem::path> write_chain_files(
    const std::filesystem::path& directory, const std::vector<stan_csv_chain>& chains,
    const std::string& header, const auto& configuration, const stan_csv_options& csv,
    std::string_view function) {
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error || !std::filesystem::is_directory(directory))
        throw_invalid_input(function, ": cannot create the folder ", directory.string(),
                            error ? ": " + error.message() : std::string());
    std::vector<std::filesystem::path> written;
    try {
        for (std::size_t c = 0; c < chains.size(); ++c) {
            const std::filesystem::path file =
                directory / (csv.chain_file_stem + "_" + std::to_string(c + 1) + ".csv");
            std::string text = configuration(c);
            text += "# output\n#   file = " + file.filename().string() + "\n";
            text += header;
            if (chains[c].nuts) append_adaptation(text, chains[c]);
            append_rows(text, chains[c], std::nullopt);
            append_timing(text, chains[c]);
            write_atomically(file, text, function);
            written.push_back(file);
        }
    } catch (...) {
        std::error_code ignored;
        for (const auto& file : written) std::filesystem::remove(file, ignored);
        throw;
    }
    return written;
}

/// Writes all chains into one file with a chain__ column; each chain's
/// adaptation block precedes its rows, its timing follows them.
inline void write_combined_file(const std::filesystem::path& file,
                                const std::vector<stan_csv_chain>& chains, std::string configuration,
                                const std::string& header, std::string_view function) {
    std::string text = std::move(configuration);
    text += "# output\n#   file = " + file.filename().string() + "\n";
    text += header;
    for (std::size_t c = 0; c < chains.size(); ++c) {
        if (chains[c].nuts) append_adaptation(text, chains[c]);
        append_rows(text, chains[c], c + 1);
        append_timing(text, chains[c]);
    }
    write_atomically(file, text, function);
}

/// The identity, for ensemble draws written as sampled.
struct identity_draws {
    const Eigen::VectorXd& operator()(const Eigen::VectorXd& x) const { return x; }
};

}  // namespace detail

/// Writes a NUTS run as CmdStan does, one file per chain:
/// `directory/<stem>_1.csv`, `<stem>_2.csv`, ... Read them with
/// `arviz.from_cmdstan("directory/*.csv")` or `cmdstanpy.from_csv("directory")`.
///
/// The parameter columns hold each chain's `transformed_draws` (e.g. the
/// constrained parameters) when the run was given a transform, else its
/// `draws`. `lp__` is the log-density the sampler saw, in its own space, like
/// Stan's. Warmup draws are not written (save_warmup = 0).
///
/// @param directory where the files go; created if missing
/// @param run       the run's result
/// @param options   the options the run was made with (written in the header)
/// @param names     one name per parameter column
/// @param csv       model name, seed, data file and file stem for the header
/// @return the files written, in chain order
/// @throws diskmc::invalid_input if names and draws disagree, the result is
///         inconsistent, or a file cannot be written (nothing is left behind)
inline std::vector<std::filesystem::path> write_stan_csv_chains(
    const std::filesystem::path& directory, const nuts_chains_result& run,
    const nuts_chains_options& options, const std::vector<std::string>& names,
    const stan_csv_options& csv = {}) {
    constexpr const char* f = "write_stan_csv_chains";
    const auto chains = detail::nuts_chains_to_write(run, names, f);
    const std::string header = detail::column_header(true, false, names);
    auto configuration = [&](std::size_t c) {
        return detail::nuts_configuration(options, chains[c], c + 1, chains.size(),
                                          run.chains[c].stopped_early, csv);
    };
    return detail::write_chain_files(directory, chains, header, configuration, csv, f);
}

/// Writes a NUTS run into one CmdStan-layout file with a `chain__` column
/// (1-based) after the sampler columns: every chain's rows in chain order,
/// each preceded by its adaptation block and followed by its timing. For
/// pandas (`pd.read_csv(file, comment="#")`), numpy and scripts/plot_fit.py;
/// for ArviZ and cmdstanpy use write_stan_csv_chains.
///
/// @param file    the file to write (replaced atomically)
/// @param run     the run's result
/// @param options the options the run was made with
/// @param names   one name per parameter column
/// @param csv     header settings
/// @throws diskmc::invalid_input as write_stan_csv_chains
inline void write_stan_csv(const std::filesystem::path& file, const nuts_chains_result& run,
                           const nuts_chains_options& options,
                           const std::vector<std::string>& names,
                           const stan_csv_options& csv = {}) {
    constexpr const char* f = "write_stan_csv";
    const auto chains = detail::nuts_chains_to_write(run, names, f);
    std::size_t most_draws = 0;
    for (const auto& chain : chains) most_draws = std::max(most_draws, chain.num_samples);
    detail::stan_csv_chain shape;
    shape.num_samples = most_draws;
    detail::write_combined_file(
        file, chains,
        detail::nuts_configuration(options, shape, std::nullopt, chains.size(), run.stopped_early, csv),
        detail::column_header(true, true, names), f);
}

/// Writes an ensemble run one file per walker (each walker's sequence is a
/// chain, as in ArviZ's from_emcee): `lp__` and the parameters; burn-in is
/// recorded as num_warmup and not written.
///
/// @param directory where the files go; created if missing
/// @param run       the run's result
/// @param options   the options the run was made with (burn_in, thin, moves)
/// @param names     one name per parameter column
/// @param csv       header settings (the seed defaults to run.seed)
/// @param transform optional map applied to every sample before writing
///                  (e.g. to constrained parameters); its output size sets the
///                  number of parameter columns
/// @return the files written, in walker order
/// @throws diskmc::invalid_input as write_stan_csv_chains
template <class Transform = detail::identity_draws>
    requires std::invocable<const Transform&, const Eigen::VectorXd&>
std::vector<std::filesystem::path> write_stan_csv_chains(
    const std::filesystem::path& directory, const ensemble_result& run,
    const ensemble_options& options, const std::vector<std::string>& names,
    const stan_csv_options& csv = {}, const Transform& transform = {}) {
    constexpr const char* f = "write_stan_csv_chains";
    const auto chains = detail::ensemble_chains_to_write(run, options, names, transform, f);
    const std::string header = detail::column_header(false, false, names);
    auto configuration = [&](std::size_t w) {
        return detail::ensemble_configuration(run, options, w, csv);
    };
    return detail::write_chain_files(directory, chains, header, configuration, csv, f);
}

/// Writes an ensemble run into one file with a `chain__` column: walker
/// k's draws (1-based chain k) one after another, in walker order.
///
/// @param file      the file to write (replaced atomically)
/// @param run       the run's result
/// @param options   the options the run was made with
/// @param names     one name per parameter column
/// @param csv       header settings
/// @param transform as in write_stan_csv_chains
/// @throws diskmc::invalid_input as write_stan_csv_chains
template <class Transform = detail::identity_draws>
    requires std::invocable<const Transform&, const Eigen::VectorXd&>
void write_stan_csv(const std::filesystem::path& file, const ensemble_result& run,
                    const ensemble_options& options, const std::vector<std::string>& names,
                    const stan_csv_options& csv = {}, const Transform& transform = {}) {
    constexpr const char* f = "write_stan_csv";
    const auto chains = detail::ensemble_chains_to_write(run, options, names, transform, f);
    detail::write_combined_file(file, chains,
                                detail::ensemble_configuration(run, options, std::nullopt, csv),
                                detail::column_header(false, true, names), f);
}

}  // namespace diskmc::io
