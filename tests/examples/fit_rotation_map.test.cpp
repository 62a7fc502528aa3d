// examples/fit_rotation_map run as a user runs it, as a separate process:
// hostile names, interrupts, kills, a second run into the same folder, and
// --resume, which must give the draws of a run never interrupted.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "diskmc/io/staged_folder.hpp"
#include "support/shared_data.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;

#ifdef DISKMC_FIT_PROGRAM

/// A run of the program; stdout and stderr go to files beside the folder.
struct run {
    pid_t pid = -1;
    fs::path log;

    /// Waits for the end; the exit status, or 128 + the signal that ended it.
    int wait() {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::string errors() const {
        std::ifstream in(fs::path(log.string() + ".err"));
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
};

run start(const fs::path& dir, std::vector<std::string> arguments) {
    static int count = 0;
    run r;
    r.log = dir / "logs" / ("log" + std::to_string(++count));
    arguments.insert(arguments.begin(), DISKMC_FIT_PROGRAM);
    std::vector<char*> argv;
    for (auto& a : arguments) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, (r.log.string() + ".out").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, (r.log.string() + ".err").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(posix_spawn(&r.pid, argv[0], &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    return r;
}

/// A fresh folder (with no log files in its listing: they go to dir/logs).
fs::path scratch(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / ("diskmc_fit_program_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "logs");
    return dir;
}

void write(const fs::path& file, const std::string& text) { std::ofstream(file, std::ios::binary) << text; }

std::string read(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

/// The built-in benchmark problem, downsampled 5x (about 930 pixels): a fit
/// of a second or so.
std::string quick_config(const std::string& kind, std::size_t burn, std::size_t steps) {
    if (kind == "nuts")
        return R"({"downsample": 5, "sampler": {"kind": "nuts", "chains": 2, "warmup": )" + std::to_string(burn) +
               R"(, "samples": )" + std::to_string(steps) + R"(, "seed": 11}})";
    return R"({"downsample": 5, "sampler": {"kind": "ensemble", "walkers": 32, "burn": )" + std::to_string(burn) +
           R"(, "steps": )" + std::to_string(steps) + R"(, "seed": 11}})";
}

/// The draws of chains.csv (its comment lines hold timings).
std::string draws_of(const fs::path& csv) {
    std::istringstream in(read(csv));
    std::string line, draws;
    while (std::getline(in, line))
        if (!line.empty() && line[0] != '#') draws += line + "\n";
    return draws;
}

/// The staging folder of the run writing `out`, once it exists.
std::optional<fs::path> staging_of(const fs::path& out) {
    const std::string prefix = diskmc::io::detail::beside_name(out, ".diskmc-staging-");
    for (const auto& entry : fs::directory_iterator(out.parent_path()))
        if (entry.path().filename().string().rfind(prefix, 0) == 0) return entry.path();
    return std::nullopt;
}

/// Waits (up to a minute) until `ready` holds.
template <class Ready>
bool wait_until(const Ready& ready) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < give_up) {
        if (ready()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
}

/// Waits until the run writing `out` has checkpointed at least `bytes`.
bool sampling_underway(const fs::path& out, std::uintmax_t bytes) {
    return wait_until([&] {
        const auto staging = staging_of(out);
        std::error_code error;
        return staging && fs::file_size(*staging / "resume" / "checkpoint", error) > bytes && !error;
    });
}

/// Files and folders in `dir`, hidden ones included, but the logs.
std::vector<std::string> listing(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.path().filename() != "logs") names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

#endif

}  // namespace

#ifndef DISKMC_FIT_PROGRAM

TEST_CASE("fit_rotation_map as a process", "[examples][fit_program]") {
    WARN(diskmc::testing::skip_message("fit_rotation_map as a process",
                                       "the examples are not built (DISKMC_BUILD_EXAMPLES=OFF)"));
}

#else

TEST_CASE("fit_rotation_map: no shell, and any byte of the output folder's name reaches the plot script intact",
          "[examples][fit_program]") {
    const fs::path dir = scratch("bytes");
    write(dir / "fit.json", quick_config("ensemble", 20, 40));
    // A stand-in for the plot script: it records the arguments it was given.
    write(dir / "plot.py",
          "import os, sys\n"
          "open(os.path.join(sys.argv[1], 'argv.bin'), 'wb').write(b'\\0'.join(os.fsencode(a) for a in sys.argv[1:]))\n");
    ::setenv("DISKMC_PLOT_SCRIPT", (dir / "plot.py").c_str(), 1);
    const std::string name = "o'; touch PWNED; echo '\xff\xfe\n$(touch PWNED2) `touch PWNED3` \"q\"";
    run fit = start(dir, {"--config", "fit.json", "--out", name});
    const int status = fit.wait();
    ::unsetenv("DISKMC_PLOT_SCRIPT");
    CAPTURE(fit.errors());
    REQUIRE(status == 0);
    CHECK_FALSE(fs::exists(dir / "PWNED"));
    CHECK_FALSE(fs::exists(dir / "PWNED2"));
    CHECK_FALSE(fs::exists(dir / "PWNED3"));
    CHECK(listing(dir) == std::vector<std::string>{"fit.json", name, "plot.py"});
    // summary.json stays valid JSON; chains.csv's comment keeps one line.
    CHECK_NOTHROW(nlohmann::json::parse(read(dir / name / "summary.json")));
    if (fs::exists("/usr/bin/python3")) {
        const std::string argv = read(dir / name / "argv.bin");
        const std::string staging_prefix = (dir / diskmc::io::detail::beside_name(name, ".diskmc-staging-")).string();
        CHECK(argv.rfind(staging_prefix, 0) == 0);  // the staging folder's name, byte for byte
    } else {
        WARN("no /usr/bin/python3: the plot step was skipped, its arguments not checked");
    }
    fs::remove_all(dir);
}

TEST_CASE("fit_rotation_map with the Laplace sampler writes k-hat, the verdict, every draw and its weight",
          "[examples][fit_program][laplace]") {
    const fs::path dir = scratch("laplace");
    write(dir / "fit.json", R"({"downsample": 5, "sampler": {"kind": "laplace", "draws": 1000, "seed": 3}})");
    run fit = start(dir, {"--config", "fit.json", "--out", "out", "--no-plots"});
    const int status = fit.wait();
    CAPTURE(fit.errors());
    REQUIRE(status == 0);
    const auto summary = nlohmann::json::parse(read(dir / "out" / "summary.json"));
    CHECK(summary.at("sampler").at("kind") == "laplace");
    const auto& laplace = summary.at("laplace");
    CHECK(laplace.at("draws") == 1000);
    CHECK(laplace.at("khat").is_number());
    CHECK(laplace.at("verdict").is_string());
    CHECK(summary.at("parameters").at("mstar").at("rhat").is_null());
    // laplace_draws.csv: a header and 1000 draws whose weights sum to 1.
    std::istringstream draws(draws_of(dir / "out" / "laplace_draws.csv"));
    std::string line;
    std::getline(draws, line);
    CHECK(line.rfind("lp__,log_weight__,weight__,x0", 0) == 0);
    double total = 0.0;
    int rows = 0;
    while (std::getline(draws, line)) {
        const auto first = line.find(','), second = line.find(',', first + 1);
        total += std::stod(line.substr(second + 1));
        ++rows;
    }
    CHECK(rows == 1000);
    CHECK(total == Approx(1.0).epsilon(1e-9));
    CHECK(draws_of(dir / "out" / "chains.csv").rfind("lp__,chain__,x0", 0) == 0);
    fs::remove_all(dir);
}

TEST_CASE("fit_rotation_map: bad configs and folders are refused before any work, with nothing written",
          "[examples][fit_program]") {
    const fs::path dir = scratch("refused");
    std::string deep;
    for (int i = 0; i < 100000; ++i) deep += "[";
    const std::vector<std::pair<std::string, std::string>> configs = {
        {R"({"sampler": {"kind": "ensemble", "seed": 1, "seed": 2}})", "\"seed\" is given twice"},
        {R"({"params": {"mstar": 1.0, "mstar": {"start": 1.0}}})", "\"mstar\" is given twice"},
        {R"({"mask": )" + deep, "nested deeper than 64"},
    };
    for (const auto& [text, message] : configs) {
        write(dir / "bad.json", text);
        run fit = start(dir, {"--config", "bad.json", "--out", "out"});
        CHECK(fit.wait() == 1);
        CHECK_THAT(fit.errors(), Catch::Contains(message));
        CHECK(listing(dir) == std::vector<std::string>{"bad.json"});
    }

    // A folder that holds an input, and one no run wrote, are left alone.
    write(dir / "fit.json", quick_config("ensemble", 20, 40));
    REQUIRE(start(dir, {"--config", "fit.json", "--out", "out", "--no-plots"}).wait() == 0);
    fs::copy_file(dir / "fit.json", dir / "out" / "inside.json");
    run inside = start(dir, {"--config", "out/inside.json", "--out", "out", "--no-plots"});
    CHECK(inside.wait() == 1);
    CHECK_THAT(inside.errors(), Catch::Contains("holds the input"));
    CHECK(fs::exists(dir / "out" / "inside.json"));
    fs::create_directories(dir / "notes");
    write(dir / "notes" / "todo.txt", "keep");
    run foreign = start(dir, {"--config", "fit.json", "--out", "notes", "--no-plots"});
    CHECK(foreign.wait() == 1);
    CHECK_THAT(foreign.errors(), Catch::Contains("was not written by a diskmc run"));
    CHECK(read(dir / "notes" / "todo.txt") == "keep");
    run nothing = start(dir, {"--resume", "out"});
    CHECK(nothing.wait() == 1);
    CHECK_THAT(nothing.errors(), Catch::Contains("no run to resume"));
    fs::remove_all(dir);
}

TEST_CASE("fit_rotation_map: Ctrl-C before sampling writes nothing, and a killed run's leftovers are not adopted",
          "[examples][fit_program]") {
    const fs::path dir = scratch("interrupt");
    write(dir / "fit.json", quick_config("ensemble", 100000, 40));
    {
        run fit = start(dir, {"--config", "fit.json", "--out", "out", "--no-plots"});
        REQUIRE(wait_until([&] { return staging_of(dir / "out").has_value(); }));
        ::kill(fit.pid, SIGINT);
        CHECK(fit.wait() == 130);
        CHECK_THAT(fit.errors(), Catch::Contains("interrupted during") && Catch::Contains("nothing written"));
        CHECK(listing(dir) == std::vector<std::string>{"fit.json"});
    }
    {
        run fit = start(dir, {"--config", "fit.json", "--out", "out", "--no-plots"});
        REQUIRE(sampling_underway(dir / "out", 10000));  // in the long burn-in
        ::kill(fit.pid, SIGKILL);
        fit.wait();
        CHECK_FALSE(fs::exists(dir / "out"));
    }
    // The next run reports what the killed one left, and replaces it.
    write(dir / "fit.json", quick_config("ensemble", 20, 40));
    run next = start(dir, {"--config", "fit.json", "--out", "out", "--no-plots"});
    CHECK(next.wait() == 0);
    CHECK_THAT(next.errors(), Catch::Contains("left from a run that was killed"));
    CHECK(listing(dir) == std::vector<std::string>{"fit.json", "out"});
    CHECK(listing(dir / "out") ==
          std::vector<std::string>{".diskmc-output", "chains", "chains.csv", "model.fits", "residual.fits",
                                   "summary.json"});
    fs::remove_all(dir);
}

TEST_CASE("fit_rotation_map: a run interrupted or killed during sampling, resumed, gives the uninterrupted draws",
          "[examples][fit_program]") {
    const std::string kind = GENERATE(as<std::string>{}, "ensemble", "nuts");
    CAPTURE(kind);
    const fs::path dir = scratch("resume_" + kind);
    write(dir / "fit.json", kind == "nuts" ? quick_config(kind, 150, 4000) : quick_config(kind, 20, 2500));
    REQUIRE(start(dir, {"--config", "fit.json", "--out", "whole", "--no-plots"}).wait() == 0);
    const std::string whole = draws_of(dir / "whole" / "chains.csv");
    REQUIRE(!whole.empty());

    SECTION("Ctrl-C: the draws so far are written, marked interrupted, and --resume continues") {
        run fit = start(dir, {"--config", "fit.json", "--out", "out", "--no-plots"});
        REQUIRE(sampling_underway(dir / "out", 200000));
        ::kill(fit.pid, SIGINT);
        CHECK(fit.wait() == 130);
        const auto summary = nlohmann::json::parse(read(dir / "out" / "summary.json"));
        CHECK(summary["interrupted"] == true);
        CHECK(summary["draws_per_chain"].get<int>() > 0);
        CHECK(summary["draws_per_chain"].get<int>() < (kind == "nuts" ? 4000 : 2500));
        CHECK_THAT(summary["warnings"][0].get<std::string>(), Catch::Contains("Interrupted during sampling"));
        CHECK(whole.rfind(draws_of(dir / "out" / "chains.csv").substr(0, 2000), 0) == 0);
    }
    SECTION("SIGKILL, with a second run refused meanwhile") {
        run fit = start(dir, {"--config", "fit.json", "--out", "out", "--no-plots"});
        REQUIRE(sampling_underway(dir / "out", 200000));
        run second = start(dir, {"--config", "fit.json", "--out", "out", "--no-plots"});
        CHECK(second.wait() == 1);
        CHECK_THAT(second.errors(), Catch::Contains("another run is writing it"));
        ::kill(fit.pid, SIGKILL);
        fit.wait();
        CHECK_FALSE(fs::exists(dir / "out"));
    }
    run resumed = start(dir, {"--resume", "out", "--no-plots"});
    CAPTURE(resumed.errors());
    REQUIRE(resumed.wait() == 0);
    CHECK(draws_of(dir / "out" / "chains.csv") == whole);
    CHECK(nlohmann::json::parse(read(dir / "out" / "summary.json"))["interrupted"] == false);
    CHECK_FALSE(fs::exists(dir / "out" / "resume"));
    CHECK(listing(dir) == std::vector<std::string>{"fit.json", "out", "whole"});
    fs::remove_all(dir);
}

#endif

#ifdef DISKMC_FIT_PROGRAM

TEST_CASE("fit_rotation_map --batch: each fit into its own folder, a failed config reported and passed over",
          "[examples][fit_program]") {
    const fs::path dir = scratch("batch");
    fs::create_directories(dir / "survey" / "more");
    write(dir / "survey" / "walkers.json", quick_config("ensemble", 20, 40));
    write(dir / "survey" / "more" / "chains.json", quick_config("nuts", 50, 50));
    write(dir / "survey" / "missing_map.json", R"({"map": "nowhere.fits", "uncertainty": "nowhere_dv0.fits", "params": {"mstar": 1.0}})");
    // Paths relative to the list's folder; blank lines, comments, spaces skipped.
    write(dir / "survey" / "list.txt", "# survey\nwalkers.json\n\n  more/chains.json\nmissing_map.json\n");
    run batch = start(dir, {"--batch", "survey/list.txt", "--out", "out", "--no-plots"});
    CHECK(batch.wait() == 1);  // a fit failed
    CAPTURE(batch.errors());
    CHECK(listing(dir / "out") == std::vector<std::string>{"batch_summary.csv", "chains", "walkers"});
    for (const std::string fit : {"walkers", "chains"})
        CHECK(listing(dir / "out" / fit) == std::vector<std::string>{".diskmc-output", "chains", "chains.csv",
                                                                      "model.fits", "residual.fits", "summary.json"});
    std::istringstream summary(read(dir / "out" / "batch_summary.csv"));
    std::vector<std::string> rows;
    for (std::string line; std::getline(summary, line);) rows.push_back(line);
    REQUIRE(rows.size() == 4);
    CHECK_THAT(rows[0], Catch::StartsWith("config,status,wall_seconds,min_ess_bulk,max_rhat,warnings,error,x0_median,x0_sd"));
    CHECK_THAT(rows[1], Catch::StartsWith("walkers.json,ok,"));
    CHECK_THAT(rows[2], Catch::StartsWith("more/chains.json,ok,"));
    CHECK_THAT(rows[3], Catch::StartsWith("missing_map.json,failed,") && Catch::Contains("nowhere.fits"));
    // The fit's median in the summary is its summary.json's.
    const auto walkers = nlohmann::json::parse(read(dir / "out" / "walkers" / "summary.json"));
    CHECK_THAT(rows[1], Catch::Contains(walkers["parameters"]["x0"]["p50"].dump()));
    fs::remove_all(dir);
}

TEST_CASE("fit_rotation_map --batch: two configs with one stem, or no --out, are refused before any work",
          "[examples][fit_program]") {
    const fs::path dir = scratch("batch_refused");
    fs::create_directories(dir / "a");
    write(dir / "fit.json", quick_config("ensemble", 20, 40));
    write(dir / "a" / "fit.json", quick_config("ensemble", 20, 40));
    write(dir / "list.txt", "fit.json\na/fit.json\n");
    run twice = start(dir, {"--batch", "list.txt", "--out", "out"});
    CHECK(twice.wait() == 1);
    CHECK_THAT(twice.errors(), Catch::Contains("\"fit.json\" and \"a/fit.json\" would both write"));
    run no_out = start(dir, {"--batch", "list.txt"});
    CHECK(no_out.wait() == 2);
    CHECK_THAT(no_out.errors(), Catch::Contains("needs --out DIR"));
    CHECK(listing(dir) == std::vector<std::string>{"a", "fit.json", "list.txt"});
    fs::remove_all(dir);
}

#endif
