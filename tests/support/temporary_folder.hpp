#pragma once
// A scratch folder for a test's files, removed at the end of the test.

#include <filesystem>
#include <random>
#include <string>
#include <system_error>

namespace diskmc::testing {

struct temporary_folder {
    std::filesystem::path path;
    explicit temporary_folder(const std::string& prefix = "diskmc_test_") {
        std::random_device entropy;
        path = std::filesystem::temp_directory_path() /
               (prefix + std::to_string(entropy()) + std::to_string(entropy()));
        std::filesystem::create_directories(path);
    }
    ~temporary_folder() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    temporary_folder(const temporary_folder&) = delete;
    temporary_folder& operator=(const temporary_folder&) = delete;
};

}  // namespace diskmc::testing
