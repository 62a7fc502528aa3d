#pragma once
// Where the tests find the shared reference data (eddy's fixtures, the
// benchmark set, the TW Hya map). The files are never committed: CI passes
// the folder in, through the DISKMC_DATA_DIR environment variable or the
// CMake option of that name, and tests that need it skip with a message
// without it.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace diskmc::testing {

/// The shared data folder, if one is configured and exists.
inline std::optional<std::filesystem::path> shared_data_dir() {
    std::string dir;
    if (const char* env = std::getenv("DISKMC_DATA_DIR"); env && *env) dir = env;
#ifdef DISKMC_DEFAULT_DATA_DIR
    if (dir.empty()) dir = DISKMC_DEFAULT_DATA_DIR;
#endif
    if (dir.empty() || !std::filesystem::is_directory(dir)) return std::nullopt;
    return std::filesystem::path(dir);
}

/// The message a test prints when it skips for want of the data.
inline std::string skip_message(const std::string& what) {
    return "SKIPPED (" + what +
           "): no shared data; set DISKMC_DATA_DIR (or the CMake option DISKMC_DATA_DIR) "
           "to the folder holding eddy/, bench/ and twhya/";
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
