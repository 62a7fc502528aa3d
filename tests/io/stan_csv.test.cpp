#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "diskmc/io/stan_csv.hpp"
#include "diskmc/samplers/ensemble.hpp"
#include "diskmc/samplers/nuts.hpp"
#include "support/gaussian_target.hpp"
#include "support/throws.hpp"
#include "support/test_values.hpp"

namespace fs = std::filesystem;
using diskmc::testing::message_contains;

namespace {

// Dynamic-size vectors: fixed-size ones trip false -Warray-bounds in g++ 12 with AVX-512.
using diskmc::testing::vec;

fs::path scratch_dir(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() /
                         ("diskmc_stan_csv_test_" + std::to_string(::getpid())) / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

/// A Stan CSV file read back as text: the comments before the column
/// header, the header, the data rows, and the comments after the header
/// with the number of rows read before each.
struct parsed_csv {
    std::vector<std::string> configuration;
    std::vector<std::string> columns;
    std::vector<std::vector<std::string>> rows;
    std::vector<std::pair<std::size_t, std::string>> later_comments;

    std::vector<std::string> comments_after_row(std::size_t row) const {
        std::vector<std::string> found;
        for (const auto& [at, text] : later_comments)
            if (at == row) found.push_back(text);
        return found;
    }
    bool configured(const std::string& line) const {
        return std::find(configuration.begin(), configuration.end(), line) != configuration.end();
    }
};

std::vector<std::string> split(const std::string& line, char separator) {
    std::vector<std::string> parts;
    std::size_t begin = 0;
    while (true) {
        const std::size_t end = line.find(separator, begin);
        parts.push_back(line.substr(begin, end - begin));
        if (end == std::string::npos) return parts;
        begin = end + 1;
    }
}

parsed_csv parse(const fs::path& file) {
    std::ifstream in(file);
    REQUIRE(in);
    parsed_csv csv;
    std::string line;
    bool header_read = false;
    while (std::getline(in, line)) {
        REQUIRE(line.find('\r') == std::string::npos);
        if (line.starts_with("#")) {
            if (header_read)
                csv.later_comments.emplace_back(csv.rows.size(), line);
            else
                csv.configuration.push_back(line);
        } else if (!header_read) {
            csv.columns = split(line, ',');
            header_read = true;
        } else {
            csv.rows.push_back(split(line, ','));
            REQUIRE(csv.rows.back().size() == csv.columns.size());
        }
    }
    return csv;
}

double number(const std::string& text) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    REQUIRE(end == text.c_str() + text.size());
    return value;
}

/// Same double, NaN included, bit for bit in sign.
bool same(double a, double b) {
    if (std::isnan(a)) return std::isnan(b);
    return a == b && std::signbit(a) == std::signbit(b);
}

int integer(const std::string& text) {
    REQUIRE(text.find_first_not_of("0123456789-") == std::string::npos);
    return std::stoi(text);
}

/// The numbers after "# " on a comment line, comma separated.
std::vector<double> comment_numbers(const std::string& line) {
    REQUIRE(line.starts_with("# "));
    std::vector<double> values;
    for (std::string part : split(line.substr(2), ',')) {
        if (part.starts_with(" ")) part.erase(0, 1);
        values.push_back(number(part));
    }
    return values;
}

const std::vector<std::string> nuts_columns = {"lp__",         "accept_stat__", "stepsize__",
                                               "treedepth__",  "n_leapfrog__",  "divergent__",
                                               "energy__"};

/// Checks one chain's rows (from `first_row`, with the parameter columns
/// starting at `offset`) against the result.
void check_nuts_rows(const parsed_csv& csv, std::size_t first_row, std::size_t offset,
                     const diskmc::nuts_result& chain, const Eigen::MatrixXd& values) {
    for (std::size_t d = 0; d < chain.sampling.size(); ++d) {
        CAPTURE(d);
        const auto& row = csv.rows[first_row + d];
        const auto& it = chain.sampling[d];
        CHECK(same(number(row[0]), it.log_density));
        CHECK(same(number(row[1]), it.accept_stat));
        CHECK(same(number(row[2]), it.step_size));
        CHECK(integer(row[3]) == it.tree_depth);
        CHECK(integer(row[4]) == it.n_leapfrog);
        CHECK(integer(row[5]) == (it.divergent ? 1 : 0));
        CHECK(same(number(row[6]), it.energy));
        for (Eigen::Index p = 0; p < values.cols(); ++p)
            CHECK(same(number(row[offset + static_cast<std::size_t>(p)]),
                       values(static_cast<Eigen::Index>(d), p)));
    }
}

/// A hand-made two-chain NUTS result holding awkward numbers.
diskmc::nuts_chains_result awkward_run() {
    diskmc::nuts_chains_result run;
    run.chains.resize(2);
    const double values[] = {0.1, -0.0, 1e-310, 1.7976931348623157e308, 1.0 / 3.0,
                             std::numeric_limits<double>::quiet_NaN(),
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(), 123456789.123456789,
                             -2.5e-7};
    int k = 0;
    for (auto& chain : run.chains) {
        chain.draws.resize(3, 2);
        for (Eigen::Index i = 0; i < chain.draws.size(); ++i) chain.draws.data()[i] = values[k++ % 10];
        for (int d = 0; d < 3; ++d)
            chain.sampling.push_back({.accept_stat = values[(k + d) % 10],
                                      .step_size = 0.3 + d,
                                      .tree_depth = d + 1,
                                      .n_leapfrog = 3 * d + 1,
                                      .divergent = d == 1,
                                      .energy = 1.0 / (d + 7.0),
                                      .log_density = -1.0 / (d + 3.0)});
        chain.step_size = 0.123456789012345678;
        chain.metric = diskmc::metric_kind::diagonal;
        chain.inverse_metric = Eigen::MatrixXd(2, 1);
        chain.inverse_metric << 1.0 / 7.0, 2e-9;
        chain.warmup_seconds = 1.25;
        chain.sampling_seconds = 0.5;
    }
    return run;
}

}  // namespace

TEST_CASE("Stan CSV: every number reads back exactly, in CmdStan's layout", "[io][stan_csv]") {
    const fs::path dir = scratch_dir("awkward");
    const auto run = awkward_run();
    const diskmc::nuts_chains_options options{.sampler = {.warmup = 7, .samples = 3,
                                                          .max_tree_depth = 8,
                                                          .target_accept = 0.65},
                                              .chains = 2};
    const diskmc::io::stan_csv_options csv_options{.model_name = "awkward", .seed = 99,
                                                   .data_file = "v0.fits"};
    const auto files = diskmc::io::write_stan_csv_chains(dir / "chains", run, options,
                                                         {"x0", "PA"}, csv_options);
    REQUIRE(files.size() == 2);
    CHECK(files[0] == dir / "chains" / "chain_1.csv");
    CHECK(files[1] == dir / "chains" / "chain_2.csv");
    CHECK_FALSE(fs::exists(dir / "chains" / "chain_1.csv.partial"));

    for (std::size_t c = 0; c < 2; ++c) {
        CAPTURE(c);
        const parsed_csv csv = parse(files[c]);
        std::vector<std::string> columns = nuts_columns;
        columns.insert(columns.end(), {"x0", "PA"});
        CHECK(csv.columns == columns);
        // What cmdstanpy's and ArviZ's parsers look for in the configuration.
        for (const char* line : {"# model = awkward", "# method = sample (Default)", "#   sample",
                                 "#     num_samples = 3", "#     num_warmup = 7",
                                 "#     save_warmup = 0", "#     thin = 1",
                                 "#       delta = 0.65", "#             max_depth = 8",
                                 "#         metric = diag_e", "#     num_chains = 2", "# data",
                                 "#   file = v0.fits", "# random", "#   seed = 99"})
            CHECK(csv.configured(line));
        CHECK(csv.configured("# id = " + std::to_string(c + 1)));
        CHECK(csv.configured("#   file = chain_" + std::to_string(c + 1) + ".csv"));

        // The adaptation block, exactly where cmdstanpy expects it.
        const auto adaptation = csv.comments_after_row(0);
        REQUIRE(adaptation.size() == 4);
        CHECK(adaptation[0] == "# Adaptation terminated");
        REQUIRE(adaptation[1].starts_with("# Step size = "));
        CHECK(same(number(adaptation[1].substr(14)), run.chains[c].step_size));
        CHECK(adaptation[2] == "# Diagonal elements of inverse mass matrix:");
        const auto diagonal = comment_numbers(adaptation[3]);
        REQUIRE(diagonal.size() == 2);
        CHECK(same(diagonal[0], 1.0 / 7.0));
        CHECK(same(diagonal[1], 2e-9));

        REQUIRE(csv.rows.size() == 3);
        check_nuts_rows(csv, 0, 7, run.chains[c], run.chains[c].draws);
        // Non-finite values as the Stan CSV format spells them.
        for (const auto& row : csv.rows)
            for (const auto& field : row)
                CHECK((field == "NaN" || field == "inf" || field == "-inf" ||
                       field.find_first_not_of("0123456789.e+-") == std::string::npos));

        const auto timing = csv.comments_after_row(3);
        REQUIRE(timing.size() == 5);
        CHECK(timing[0] == "# ");
        CHECK(timing[1] == "#  Elapsed Time: 1.25 seconds (Warm-up)");
        CHECK(timing[2] == "#                0.5 seconds (Sampling)");
        CHECK(timing[3] == "#                1.75 seconds (Total)");
        CHECK(timing[4] == "# ");
    }

    SECTION("the combined file: one header, a chain__ column, chains in order") {
        diskmc::io::write_stan_csv(dir / "chains.csv", run, options, {"x0", "PA"}, csv_options);
        const parsed_csv csv = parse(dir / "chains.csv");
        std::vector<std::string> columns = nuts_columns;
        columns.insert(columns.end(), {"chain__", "x0", "PA"});
        CHECK(csv.columns == columns);
        CHECK(csv.configured("#     num_chains = 2"));
        CHECK_FALSE(csv.configured("# id = 1"));
        REQUIRE(csv.rows.size() == 6);
        for (std::size_t c = 0; c < 2; ++c) {
            for (std::size_t d = 0; d < 3; ++d) CHECK(csv.rows[3 * c + d][7] == std::to_string(c + 1));
            check_nuts_rows(csv, 3 * c, 8, run.chains[c], run.chains[c].draws);
            // Each chain's adaptation block precedes its rows.
            const auto before = csv.comments_after_row(3 * c);
            REQUIRE(before.size() >= 4);
            CHECK(before[before.size() - 4] == "# Adaptation terminated");
        }
    }
}

TEST_CASE("Stan CSV of a real NUTS run: transformed draws, dense metric, a stopped chain",
          "[io][stan_csv]") {
    const auto target = diskmc::testing::make_gaussian(vec({1.0, 0.5, 2.0}), true, 3);
    const fs::path dir = scratch_dir("nuts");
    diskmc::nuts_chains_options options{
        .sampler = {.warmup = 40, .samples = 25, .metric = diskmc::metric_kind::dense},
        .chains = 2, .threads = 1};
    // x -> (exp(x0), x1, x2): the transform also changes the column count's meaning.
    auto transform = [](const Eigen::VectorXd& x) {
        Eigen::VectorXd y = x;
        y[0] = std::exp(x[0]);
        return y;
    };
    const auto run = diskmc::nuts_chains(target, target.mean, options, 7, transform);
    const auto files = diskmc::io::write_stan_csv_chains(dir, run, options, {"a", "b", "c"},
                                                         {.seed = 7});
    for (std::size_t c = 0; c < 2; ++c) {
        const parsed_csv csv = parse(files[c]);
        CHECK(csv.configured("#         metric = dense_e"));
        const auto adaptation = csv.comments_after_row(0);
        REQUIRE(adaptation.size() == 6);
        CHECK(adaptation[2] == "# Elements of inverse mass matrix:");
        for (Eigen::Index i = 0; i < 3; ++i) {
            const auto row = comment_numbers(adaptation[3 + static_cast<std::size_t>(i)]);
            REQUIRE(row.size() == 3);
            for (Eigen::Index j = 0; j < 3; ++j)
                CHECK(same(row[static_cast<std::size_t>(j)], run.chains[c].inverse_metric(i, j)));
        }
        REQUIRE(csv.rows.size() == 25);
        check_nuts_rows(csv, 0, 7, run.chains[c], run.chains[c].transformed_draws);
    }

    // A run stopped by its progress callback writes what it has, and says so.
    options.sampler.progress = [](const diskmc::nuts_progress& p) {
        return !(p.chain == 0 && p.iteration == 50);
    };
    const auto stopped = diskmc::nuts_chains(target, target.mean, options, 7, transform);
    REQUIRE(stopped.stopped_early);
    const auto stopped_files =
        diskmc::io::write_stan_csv_chains(dir / "stopped", stopped, options, {"a", "b", "c"});
    const parsed_csv first = parse(stopped_files[0]);
    CHECK(first.rows.size() == 10);
    CHECK(first.configured("#     num_samples = 10"));
    CHECK(first.configured("#   stopped_early = 1"));
    CHECK(parse(stopped_files[1]).rows.empty());  // chain 2 never ran (one thread)
}

TEST_CASE("Stan CSV of an ensemble run: one chain per walker, lp__ only", "[io][stan_csv]") {
    const auto target = diskmc::testing::make_gaussian(vec({1.0, 3.0}), false, 4);
    const diskmc::ensemble_options options{.steps = 20, .burn_in = 10, .thin = 2, .threads = 1};
    const auto run = diskmc::ensemble(
        target, diskmc::scatter_start{.point = target.mean, .walkers = 6, .scatter = 0.1}, options,
        11);
    const fs::path dir = scratch_dir("ensemble");
    auto with_sum = [](const Eigen::VectorXd& x) {
        Eigen::VectorXd y(3);
        y << x[0], x[1], x[0] + x[1];
        return y;
    };
    const auto files = diskmc::io::write_stan_csv_chains(dir / "chains", run, options,
                                                         {"u", "v", "sum"}, {}, with_sum);
    REQUIRE(files.size() == 6);
    for (std::size_t w = 0; w < 6; ++w) {
        CAPTURE(w);
        const parsed_csv csv = parse(files[w]);
        CHECK(csv.columns == std::vector<std::string>{"lp__", "u", "v", "sum"});
        // cmdstanpy checks rows == ceil(num_samples / thin).
        for (const char* line : {"# method = sample (Default)", "#     num_samples = 20",
                                 "#     num_warmup = 10", "#     thin = 2",
                                 "#     algorithm = ensemble", "#         walkers = 6",
                                 "#   seed = 11"})
            CHECK(csv.configured(line));
        CHECK(csv.configured("# walker = " + std::to_string(w)));
        REQUIRE(csv.rows.size() == 10);
        CHECK(csv.comments_after_row(0).empty());  // no adaptation block
        for (std::size_t d = 0; d < 10; ++d) {
            const auto& row = csv.rows[d];
            const auto x = run.position(d, w);
            CHECK(same(number(row[0]), run.log_densities(static_cast<Eigen::Index>(w),
                                                         static_cast<Eigen::Index>(d))));
            CHECK(same(number(row[1]), x[0]));
            CHECK(same(number(row[2]), x[1]));
            CHECK(same(number(row[3]), x[0] + x[1]));
        }
        const auto timing = csv.comments_after_row(10);
        REQUIRE(timing.size() == 3);
        CHECK(timing[1].ends_with(" seconds (Total)"));
    }

    diskmc::io::write_stan_csv(dir / "chains.csv", run, options, {"u", "v"});
    const parsed_csv combined = parse(dir / "chains.csv");
    CHECK(combined.columns == std::vector<std::string>{"lp__", "chain__", "u", "v"});
    REQUIRE(combined.rows.size() == 60);
    CHECK(combined.rows[9][1] == "1");
    CHECK(combined.rows[10][1] == "2");
    CHECK(same(number(combined.rows[10][2]), run.position(0, 1)[0]));
}

TEST_CASE("Stan CSV writers reject bad input and leave nothing behind", "[io][stan_csv][errors]") {
    const fs::path dir = scratch_dir("errors");
    const auto run = awkward_run();
    const diskmc::nuts_chains_options options{};
    using diskmc::invalid_input;
    using diskmc::io::write_stan_csv;
    using diskmc::io::write_stan_csv_chains;

    CHECK_THROWS_MATCHES(write_stan_csv(dir / "a.csv", run, options, {"x0"}), invalid_input,
                         message_contains("1 parameter names given for 2 parameters"));
    CHECK_THROWS_MATCHES(write_stan_csv(dir / "a.csv", run, options, {"x0", "x0"}), invalid_input,
                         message_contains("'x0' appears twice"));
    CHECK_THROWS_MATCHES(write_stan_csv(dir / "a.csv", run, options, {"x0", "a,b"}), invalid_input,
                         message_contains("'a,b'"));
    CHECK_THROWS_MATCHES(write_stan_csv(dir / "a.csv", run, options, {"x0", "lp__"}), invalid_input,
                         message_contains("ends in \"__\""));
    CHECK_THROWS_MATCHES(write_stan_csv(dir / "a.csv", run, options, {"x0", ""}), invalid_input,
                         message_contains("empty"));
    CHECK_THROWS_MATCHES(write_stan_csv(dir / "a.csv", diskmc::nuts_chains_result{}, options, {}),
                         invalid_input, message_contains("no chains"));

    auto short_draws = run;
    short_draws.chains[1].draws.conservativeResize(2, Eigen::NoChange);
    CHECK_THROWS_MATCHES(write_stan_csv(dir / "a.csv", short_draws, options, {"x0", "PA"}),
                         invalid_input, message_contains("chain 2 has 2 draws but 3 sampling"));
    auto half_transformed = run;
    half_transformed.chains[0].transformed_draws = Eigen::MatrixXd::Zero(3, 2);
    CHECK_THROWS_MATCHES(write_stan_csv(dir / "a.csv", half_transformed, options, {"x0", "PA"}),
                         invalid_input, message_contains("chain 2 has transformed draws of size 0 x 0"));

    // Unwritable places: a folder below a regular file.
    std::ofstream(dir / "plain_file") << "x";
    CHECK_THROWS_MATCHES(write_stan_csv(dir / "plain_file" / "a.csv", run, options, {"x0", "PA"}),
                         invalid_input, message_contains("cannot create"));
    CHECK_THROWS_MATCHES(
        write_stan_csv_chains(dir / "plain_file" / "chains", run, options, {"x0", "PA"}),
        invalid_input, message_contains("cannot create the folder"));
    CHECK(fs::directory_iterator(dir) != fs::directory_iterator());
    for (const auto& entry : fs::directory_iterator(dir))
        CHECK(entry.path().filename() == "plain_file");  // no a.csv, no .partial

    diskmc::ensemble_result ensemble;
    CHECK_THROWS_MATCHES(write_stan_csv(dir / "e.csv", ensemble, diskmc::ensemble_options{}, {}),
                         invalid_input, message_contains("no walkers"));
    ensemble.walkers = 2;
    ensemble.dim = 1;
    ensemble.samples = Eigen::MatrixXd::Zero(1, 6);  // 3 draws of 2 walkers
    ensemble.log_densities = Eigen::MatrixXd::Zero(2, 2);
    CHECK_THROWS_MATCHES(write_stan_csv(dir / "e.csv", ensemble, diskmc::ensemble_options{}, {"x"}),
                         invalid_input, message_contains("log_densities is 2 x 2"));
}
