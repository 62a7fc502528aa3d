#pragma once
// Where the tests find their reference data.
//
// - eddy's fixtures are committed, in tests/data/eddy/ (see its README.md),
//   so every clone checks eddy's conventions number for number.
// - The larger sets, the benchmark data (bench/) and the TW Hya map (twhya/),
//   are never committed. A test that needs them reads them from the folder
//   named by the environment variable DISKMC_DATA_DIR, or else by the CMake
//   option of that name. Without one it is skipped: it WARNs skip_message(),
//   whose marker makes ctest report it as skipped, not passed
//   (SKIP_REGULAR_EXPRESSION in tests/CMakeLists.txt). With one, every file
//   it needs must be there, or it fails: CI sets the folder, and a missing
//   file there is an error, not a reason to skip.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

namespace diskmc::testing {

/// eddy's reference fixtures, committed with the tests.
inline std::filesystem::path eddy_data_dir() {
    return std::filesystem::path(DISKMC_SOURCE_DIR) / "tests" / "data" / "eddy";
}

/// The folder of the data kept outside the repository, or nothing when none
/// is configured (the test then skips). When one is, each of `needed` (paths
/// relative to it, e.g. "twhya/TWHya_CO_v0.fits") must exist there, or this
/// throws and the test fails.
inline std::optional<std::filesystem::path> shared_data_dir(std::initializer_list<std::string_view> needed) {
    std::string dir;
    std::string source = "the environment variable DISKMC_DATA_DIR";
    if (const char* env = std::getenv("DISKMC_DATA_DIR"); env && *env) dir = env;
#ifdef DISKMC_DEFAULT_DATA_DIR
    if (dir.empty()) {
        dir = DISKMC_DEFAULT_DATA_DIR;
        source = "the CMake option DISKMC_DATA_DIR";
    }
#endif
    if (dir.empty()) return std::nullopt;
    for (const std::string_view file : needed) {
        if (!std::filesystem::is_regular_file(std::filesystem::path(dir) / file))
            throw std::runtime_error(source + " names " + dir + ", which has no " + std::string(file) +
                                     " (unset it to skip the tests of the shared data)");
    }
    return std::filesystem::path(dir);
}

/// The text in a skipped test's output that makes ctest report it as skipped.
inline constexpr std::string_view skip_marker = DISKMC_TEST_SKIP_MARKER;

/// What a test WARNs when it returns before its checks: the marker, what is
/// left unchecked, and why (by default: no shared data folder).
inline std::string skip_message(std::string_view what,
                                std::string_view why = "no shared data; set DISKMC_DATA_DIR (or the CMake option "
                                                       "DISKMC_DATA_DIR) to the folder holding bench/ and twhya/") {
    // Appended, not "a" + b: g++ 12 warns falsely (-Warray-bounds) on that.
    std::string message(skip_marker);
    message += " (";
    message += what;
    message += "): ";
    message += why;
    return message;
}

/// Reads a whitespace-separated table of numbers ("nan" allowed), one row per
/// line, as the fixtures store images (line j = row j).
inline Eigen::ArrayXXd read_table(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error("cannot open " + file.string());
    std::vector<std::vector<double>> rows;
    std::string line;
    while (std::getline(in, line)) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        std::istringstream fields(line);
        std::vector<double> row;
        std::string token;
        while (fields >> token) row.push_back(std::stod(token));  // stod reads "nan"
        rows.push_back(std::move(row));
    }
    Eigen::ArrayXXd table(rows.size(), rows.empty() ? 0 : rows.front().size());
    for (std::size_t j = 0; j < rows.size(); ++j) {
        if (rows[j].size() != static_cast<std::size_t>(table.cols()))
            throw std::runtime_error("ragged table in " + file.string());
        for (std::size_t i = 0; i < rows[j].size(); ++i) table(j, i) = rows[j][i];
    }
    return table;
}

}  // namespace diskmc::testing
