#pragma once
// fit_rotation_map --batch LIST --out DIR: a survey, one fit per config file.
//
// LIST holds one config file a line (blank lines and lines starting with #
// are skipped; relative paths start at LIST's folder). Each fit runs exactly
// as `fit_rotation_map --config FILE --out DIR/STEM` would (the same
// function, its own staged output folder), STEM being the config file's name
// without its extension; two configs with one stem are refused before any
// work. DIR/batch_summary.csv gets one row per config, in LIST's order,
// written under a temporary name and renamed into place.
//
// Under `mpiexec -n R` (R > 1, the program built with diskmc::mpi) rank 0
// hands the fits out one at a time to ranks 1..R-1, the costliest first,
// and collects their reports; otherwise the fits run one after another in
// this process, in the same order. Either way a fit's draws depend only on
// its config (its seed), so the summaries agree but for the wall times.
//
// A fit that fails (bad JSON, a missing map, an invalid option) gets a
// "failed" row with its message, and the batch goes on. Ctrl-C (SIGTERM,
// which mpiexec sends every rank on Ctrl-C) stops handing out fits; the
// running ones stop as a single run does; the summary lists the finished
// fits and marks every other one interrupted (running, or not started).
// Under mpiexec rank 0 writes that summary as soon as it sees the signal,
// before the running fits report: mpirun kills every rank 1 s after its
// SIGTERM (odls_base_sigkill_timeout), and a fit may take longer to stop.
// Each report that still arrives rewrites it.
// Exit status: 1 if a fit failed, else 130 if interrupted, else 0.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "diskmc/errors.hpp"
#include "diskmc/io/stan_csv.hpp"
#include "fit_config.hpp"
#include "interrupts.hpp"

#if DISKMC_WITH_MPI
#include <mpi.h>

#include "diskmc/mpi/ordered_sum.hpp"
#endif

namespace diskmc::examples {

/// One free parameter's line of a fit's report.
struct batch_parameter {
    std::string name;
    double median = 0, sd = 0, ess_bulk = 0, rhat = 0;
};

/// What one fit reports to the batch.
struct fit_report {
    std::string status = "failed";  // "ok", "failed" or "interrupted"
    double wall_seconds = 0;
    std::vector<batch_parameter> parameters;
    std::size_t warnings = 0;
    std::string error;
};

/// A config of the batch: as LIST spells it, where it is, where its fit goes.
struct batch_entry {
    std::string listed;
    std::filesystem::path config;
    std::filesystem::path out;
};

/// Reads LIST. @throws invalid_input if LIST cannot be read, names no
/// config, or two configs share a stem (naming both)
inline std::vector<batch_entry> read_batch_list(const std::filesystem::path& list, const std::filesystem::path& out) {
    std::ifstream in(list, std::ios::binary);
    if (!in || std::filesystem::is_directory(list))
        diskmc::detail::throw_invalid_input(list.string(), ": cannot read the batch list");
    std::vector<batch_entry> entries;
    std::map<std::string, std::string> listed_by_stem;
    std::string line;
    while (std::getline(in, line)) {
        const auto first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos || line[first] == '#') continue;
        const std::string listed = line.substr(first, line.find_last_not_of(" \t\r") + 1 - first);
        const std::filesystem::path path(listed);
        const std::string stem = path.stem().string();
        if (stem.empty() || stem == "." || stem == "..")
            diskmc::detail::throw_invalid_input(list.string(), ": \"", listed, "\" names no config file");
        const auto [at, fresh] = listed_by_stem.emplace(stem, listed);
        if (!fresh)
            diskmc::detail::throw_invalid_input(list.string(), ": \"", at->second, "\" and \"", listed,
                                                "\" would both write ", (out / stem).string(),
                                                "; rename one of them");
        entries.push_back({listed, path.is_absolute() ? path : list.parent_path() / path, out / stem});
    }
    if (entries.empty()) diskmc::detail::throw_invalid_input(list.string(), ": lists no config file");
    return entries;
}

/// A cheap estimate of a fit's cost, to hand out the longest first: the
/// pixels of its map (the FITS file's size over 4 bytes a pixel, or the
/// built-in problem's 154 x 154), over the downsampling factor squared,
/// times the draws asked (walkers or chains times all iterations). A
/// config that does not parse counts as the costliest: it fails at once.
inline double batch_cost(const batch_entry& entry) {
    try {
        const fit_config config = read_fit_config(entry.config);
        double pixels = 154.0 * 154.0;
        if (config.map) {
            std::error_code error;
            const auto bytes = std::filesystem::file_size(*config.map, error);
            if (error) return std::numeric_limits<double>::infinity();
            pixels = static_cast<double>(bytes) / 4.0;
        }
        const double factor = static_cast<double>(config.options.downsample.factor);
        pixels /= factor * factor;
        double draws = 0;
        if (const auto* e = std::get_if<ensemble_fit_settings>(&config.options.sampler))
            draws = static_cast<double>(e->walkers * (e->options.burn_in + e->options.steps));
        else if (const auto* n = std::get_if<nuts_fit_settings>(&config.options.sampler))
            draws = static_cast<double>(n->options.chains * (n->options.sampler.warmup + n->options.sampler.samples));
        return pixels * draws;
    } catch (const std::exception&) {
        return std::numeric_limits<double>::infinity();
    }
}

/// The entries' indices, the costliest first (ties in LIST's order).
inline std::vector<std::size_t> longest_first(const std::vector<batch_entry>& entries) {
    std::vector<double> cost;
    for (const auto& entry : entries) cost.push_back(batch_cost(entry));
    std::vector<std::size_t> order(entries.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return cost[a] > cost[b]; });
    return order;
}

namespace detail {

/// A CSV field (RFC 4180): quoted, with quotes doubled, when it holds a
/// comma, a quote or a line break.
inline std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
    std::string quoted = "\"";
    for (char c : text) {
        if (c == '"') quoted += '"';
        quoted += c;
    }
    quoted += '"';
    return quoted;
}

inline std::string csv_number(double value) {
    std::string text;
    io::detail::append_number(text, value);
    return text;
}

inline nlohmann::json report_json(const fit_report& report) {
    nlohmann::json j = {{"status", report.status},
                        {"wall_seconds", report.wall_seconds},
                        {"warnings", report.warnings},
                        {"error", report.error},
                        {"parameters", nlohmann::json::array()}};
    // Non-finite numbers as text: JSON has no NaN.
    for (const auto& p : report.parameters)
        j["parameters"].push_back({p.name, csv_number(p.median), csv_number(p.sd), csv_number(p.ess_bulk),
                                   csv_number(p.rhat)});
    return j;
}

inline fit_report report_of(const nlohmann::json& j) {
    fit_report report{.status = j.at("status"),
                      .wall_seconds = j.at("wall_seconds"),
                      .warnings = j.at("warnings"),
                      .error = j.at("error")};
    const auto number = [](const nlohmann::json& text) { return std::stod(text.get<std::string>()); };
    for (const auto& p : j.at("parameters"))
        report.parameters.push_back({p[0], number(p[1]), number(p[2]), number(p[3]), number(p[4])});
    return report;
}

/// Runs one entry's fit and times it; an exception the fit lets out
/// becomes a failed report, so one config never ends the batch.
template <class RunFit>
fit_report run_entry(const batch_entry& entry, RunFit& run_fit) {
    const auto start = std::chrono::steady_clock::now();
    fit_report report;
    try {
        report = run_fit(entry.config, entry.out);
    } catch (const std::exception& e) {
        report = fit_report{.error = e.what()};
    }
    report.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "fit_rotation_map: batch: %s %s (%.1f s)\n", entry.listed.c_str(), report.status.c_str(),
                 report.wall_seconds);
    return report;
}

}  // namespace detail

/// batch_summary.csv's text: a row per entry with a report, in LIST's
/// order; the free parameters' columns are the union over the fits, in
/// order of first appearance (empty where a fit has no such parameter).
inline std::string batch_summary_csv(const std::vector<batch_entry>& entries,
                                     const std::vector<std::optional<fit_report>>& reports) {
    using detail::csv_field;
    using detail::csv_number;
    std::vector<std::string> names;
    for (const auto& report : reports)
        if (report)
            for (const auto& p : report->parameters)
                if (std::find(names.begin(), names.end(), p.name) == names.end()) names.push_back(p.name);
    std::string text = "config,status,wall_seconds,min_ess_bulk,max_rhat,warnings,error";
    for (const auto& name : names) {
        text += ',';
        text += csv_field(name + "_median");
        text += ',';
        text += csv_field(name + "_sd");
    }
    text += "\n";
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (!reports[i]) continue;
        const fit_report& r = *reports[i];
        double min_ess = std::numeric_limits<double>::infinity(), max_rhat = -std::numeric_limits<double>::infinity();
        for (const auto& p : r.parameters) {
            min_ess = std::min(min_ess, p.ess_bulk);
            max_rhat = std::max(max_rhat, p.rhat);
        }
        const bool summarised = !r.parameters.empty();
        for (const std::string& field :
             {csv_field(entries[i].listed), r.status, csv_number(r.wall_seconds),
              summarised ? csv_number(min_ess) : std::string(), summarised ? csv_number(max_rhat) : std::string(),
              std::to_string(r.warnings)}) {
            text += field;
            text += ',';
        }
        text += csv_field(r.error);
        for (const auto& name : names) {
            const auto p = std::find_if(r.parameters.begin(), r.parameters.end(),
                                        [&](const batch_parameter& q) { return q.name == name; });
            // Appended piece by piece: g++ 12 warns falsely on "literal" + a temporary string.
            text += ',';
            if (p != r.parameters.end()) text += csv_number(p->median);
            text += ',';
            if (p != r.parameters.end()) text += csv_number(p->sd);
        }
        text += "\n";
    }
    return text;
}

/// The reports as the summary shows them when the batch stops now: the
/// finished fits' own, and an "interrupted" one for every other entry,
/// saying whether it was running (on rank running_on_rank[i] >= 0; its
/// folder continues with --resume) or never started. `running_on_rank`
/// may be empty (nothing running).
inline std::vector<std::optional<fit_report>> with_unfinished_marked(
    const std::vector<batch_entry>& entries, std::vector<std::optional<fit_report>> reports,
    const std::vector<int>& running_on_rank = {}) {
    for (std::size_t i = 0; i < reports.size(); ++i) {
        if (reports[i]) continue;
        const int rank = i < running_on_rank.size() ? running_on_rank[i] : -1;
        reports[i] = fit_report{
            .status = "interrupted",
            .error = rank >= 0 ? "interrupted while running on rank " + std::to_string(rank) +
                                     " (no report before the summary; --resume " + entries[i].out.string() +
                                     " continues it)"
                               : std::string("not started")};
    }
    return reports;
}

/// Writes DIR/batch_summary.csv (under a temporary name, renamed into
/// place); false, with a message, if it cannot.
inline bool write_batch_summary(const std::filesystem::path& out, const std::vector<batch_entry>& entries,
                                const std::vector<std::optional<fit_report>>& reports) {
    try {
        io::detail::write_atomically(out / "batch_summary.csv", batch_summary_csv(entries, reports),
                                     "fit_rotation_map: batch");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fit_rotation_map: %s\n", e.what());
        return false;
    }
    return true;
}

namespace detail {

template <class RunFit>
void run_sequentially(const std::vector<batch_entry>& entries, const std::vector<std::size_t>& order,
                      std::vector<std::optional<fit_report>>& reports, RunFit& run_fit) {
    for (const std::size_t i : order) {
        if (interrupt_requested()) break;
        reports[i] = run_entry(entries[i], run_fit);
    }
}

#if DISKMC_WITH_MPI

inline constexpr int batch_work_tag = 1, batch_stop_tag = 2, batch_report_tag = 3;

/// Rank 0: hands out the entries in `order` to whichever rank is idle and
/// collects the reports; polls for Ctrl-C while it waits, and on it writes
/// the summary at once (the running fits marked interrupted), and again
/// at each report that still arrives.
inline void hand_out(const std::vector<batch_entry>& entries, const std::vector<std::size_t>& order,
                     std::vector<std::optional<fit_report>>& reports, int ranks, const std::filesystem::path& out) {
    std::size_t next = 0;
    int busy = 0;
    std::vector<int> running_on_rank(entries.size(), -1);
    const auto send_next_or_stop = [&](int rank) {
        if (next < order.size() && !interrupt_requested()) {
            const int index = static_cast<int>(order[next++]);
            MPI_Send(&index, 1, MPI_INT, rank, batch_work_tag, MPI_COMM_WORLD);
            running_on_rank[static_cast<std::size_t>(index)] = rank;
            ++busy;
        } else {
            MPI_Send(nullptr, 0, MPI_INT, rank, batch_stop_tag, MPI_COMM_WORLD);
        }
    };
    bool summarised_interrupt = false;
    const auto summarise_if_interrupted = [&] {
        if (!interrupt_requested()) return;
        write_batch_summary(out, entries, with_unfinished_marked(entries, reports, running_on_rank));
        summarised_interrupt = true;
    };
    for (int rank = 1; rank < ranks; ++rank) send_next_or_stop(rank);
    while (busy > 0) {
        if (!summarised_interrupt) summarise_if_interrupted();
        int arrived = 0;
        MPI_Status status;
        MPI_Iprobe(MPI_ANY_SOURCE, batch_report_tag, MPI_COMM_WORLD, &arrived, &status);
        if (!arrived) {
            // Polled, not blocked in MPI_Recv, so a Ctrl-C stops the hand-out at once.
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            continue;
        }
        int bytes = 0;
        MPI_Get_count(&status, MPI_CHAR, &bytes);
        std::string message(static_cast<std::size_t>(bytes), '\0');
        MPI_Recv(message.data(), bytes, MPI_CHAR, status.MPI_SOURCE, batch_report_tag, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        const nlohmann::json j = nlohmann::json::parse(message);
        const auto index = j.at("index").get<std::size_t>();
        reports[index] = report_of(j.at("report"));
        running_on_rank[index] = -1;
        --busy;
        if (summarised_interrupt) summarise_if_interrupted();
        send_next_or_stop(status.MPI_SOURCE);
    }
}

/// Ranks 1..R-1: run what rank 0 hands out until it says stop.
template <class RunFit>
void work(const std::vector<batch_entry>& entries, RunFit& run_fit) {
    for (;;) {
        int index = 0;
        MPI_Status status;
        MPI_Recv(&index, 1, MPI_INT, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &status);
        if (status.MPI_TAG == batch_stop_tag) return;
        const fit_report report = run_entry(entries[static_cast<std::size_t>(index)], run_fit);
        const std::string message = nlohmann::json{{"index", index}, {"report", report_json(report)}}.dump(
            -1, ' ', false, nlohmann::json::error_handler_t::replace);
        MPI_Send(message.data(), static_cast<int>(message.size()), MPI_CHAR, 0, batch_report_tag, MPI_COMM_WORLD);
    }
}

#endif

}  // namespace detail

/// Runs the batch; returns the program's exit status.
/// @param run_fit `fit_report(const path& config, const path& out)`: one fit,
///        exactly as the single-config program runs it
template <class RunFit>
int run_batch(int& argc, char**& argv, const std::filesystem::path& list, const std::filesystem::path& out,
              RunFit&& run_fit) {
    int rank = 0, ranks = 1;
#if DISKMC_WITH_MPI
    MPI_Init(&argc, &argv);
    rank = diskmc::mpi::rank_of(MPI_COMM_WORLD);
    ranks = diskmc::mpi::rank_count(MPI_COMM_WORLD);
    struct finalize_on_exit {
        ~finalize_on_exit() { MPI_Finalize(); }
    } finalize;
#else
    (void)argc;
    (void)argv;
    (void)ranks;
#endif
    std::vector<batch_entry> entries;
    try {
        // Every rank reads LIST and refuses it alike, before any work.
        entries = read_batch_list(list, out);
        if (rank == 0) std::filesystem::create_directories(out);
    } catch (const std::exception& e) {
        if (rank == 0) std::fprintf(stderr, "fit_rotation_map: %s\n", e.what());
        return 1;
    }
    std::vector<std::optional<fit_report>> reports(entries.size());
#if DISKMC_WITH_MPI
    if (ranks > 1) {
        if (rank == 0)
            detail::hand_out(entries, longest_first(entries), reports, ranks, out);
        else
            detail::work(entries, run_fit);
    } else {
        detail::run_sequentially(entries, longest_first(entries), reports, run_fit);
    }
#else
    detail::run_sequentially(entries, longest_first(entries), reports, run_fit);
#endif
    if (rank != 0) return 0;
    // Entries without a report were never started (the batch was interrupted).
    reports = with_unfinished_marked(entries, std::move(reports));
    bool failed = false, interrupted = false;
    for (const auto& report : reports) {
        failed = failed || report->status == "failed";
        interrupted = interrupted || report->status == "interrupted";
    }
    if (!write_batch_summary(out, entries, reports)) return 1;
    std::printf("Batch summary in %s\n", (out / "batch_summary.csv").c_str());
    return failed ? 1 : interrupted ? 130 : 0;
}

}  // namespace diskmc::examples
