// io/staged_folder.hpp: an output folder is one whole run, one run at a time,
// and never replaces what it must not.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "diskmc/io/staged_folder.hpp"
#include "support/throws.hpp"

namespace {

namespace fs = std::filesystem;
using diskmc::invalid_input;
using diskmc::io::staged_folder;
using diskmc::testing::message_contains;

/// A fresh folder for one test case.
fs::path scratch(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / ("diskmc_staged_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

void write(const fs::path& file, const std::string& text) { std::ofstream(file) << text; }

std::string read(const fs::path& file) {
    std::ifstream in(file);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Entries of a folder, hidden ones included.
std::size_t entries(const fs::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++n;
    return n;
}

}  // namespace

TEST_CASE("staged folder: a commit replaces the whole previous run, stale files included", "[io][staged]") {
    const fs::path root = scratch("commit");
    const fs::path out = root / "fit";
    {
        staged_folder first(out);
        CHECK_FALSE(fs::exists(out));  // nothing visible before the commit
        write(first.staging() / "summary.json", "first");
        write(first.staging() / "stale.png", "old plot");
        first.commit();
    }
    CHECK(read(out / "summary.json") == "first");
    {
        staged_folder second(out);
        write(second.staging() / "summary.json", "second");
        CHECK(read(out / "summary.json") == "first");  // still the first run until the commit
        second.commit();
    }
    CHECK(read(out / "summary.json") == "second");
    CHECK_FALSE(fs::exists(out / "stale.png"));
    // Beside the folder: nothing left (no lock, no staging, no old copy).
    CHECK(entries(root) == 1);
    fs::remove_all(root);
}

TEST_CASE("staged folder: an uncommitted run leaves nothing, and a second run at once is refused",
          "[io][staged]") {
    const fs::path root = scratch("lock");
    const fs::path out = root / "fit";
    {
        staged_folder first(out);
        CHECK_THROWS_MATCHES(staged_folder(out), invalid_input, message_contains("another run is writing it"));
        // Another spelling of the same folder takes the same lock.
        CHECK_THROWS_MATCHES(staged_folder(root / "." / "fit" / ""), invalid_input,
                             message_contains("another run is writing it"));
        write(first.staging() / "chains.csv", "half");
    }  // destroyed without commit: an error in the run
    CHECK(entries(root) == 0);
    staged_folder again(out);  // the lock was released
    fs::remove_all(root);
}

TEST_CASE("staged folder: leftovers of a killed run are found, never committed, and removed on request",
          "[io][staged]") {
    const fs::path root = scratch("leftover");
    const fs::path out = root / "fit";
    const fs::path killed = root / ".fit.diskmc-staging-AbCdEf";
    fs::create_directories(killed / "resume");
    write(killed / "chains.csv", "draws of the killed run");
    staged_folder run(out);
    REQUIRE(run.leftovers().size() == 1);
    CHECK(run.leftovers().front() == killed);
    CHECK(fs::is_empty(run.staging()));
    write(run.staging() / "summary.json", "new");
    CHECK(run.remove_leftovers() == 1);
    run.commit();
    CHECK_FALSE(fs::exists(killed));
    CHECK_FALSE(fs::exists(out / "chains.csv"));
    CHECK(read(out / "summary.json") == "new");
    fs::remove_all(root);
}

TEST_CASE("staged folder: a folder it must not replace is refused before any work", "[io][staged]") {
    const fs::path root = scratch("refuse");
    SECTION("a non-empty folder no run wrote") {
        fs::create_directories(root / "thesis");
        write(root / "thesis" / "chapter1.tex", "precious");
        CHECK_THROWS_MATCHES(staged_folder(root / "thesis"), invalid_input,
                             message_contains("was not written by a diskmc run"));
        CHECK(read(root / "thesis" / "chapter1.tex") == "precious");
    }
    SECTION("an empty folder is used") {
        fs::create_directories(root / "empty");
        staged_folder run(root / "empty");
        write(run.staging() / "summary.json", "x");
        run.commit();
        CHECK(read(root / "empty" / "summary.json") == "x");
    }
    SECTION("a file") {
        write(root / "v0.fits", "data");
        CHECK_THROWS_MATCHES(staged_folder(root / "v0.fits"), invalid_input, message_contains("not a folder"));
        CHECK(read(root / "v0.fits") == "data");
    }
    SECTION("a symbolic link") {
        fs::create_directories(root / "real");
        fs::create_directory_symlink(root / "real", root / "link");
        CHECK_THROWS_MATCHES(staged_folder(root / "link"), invalid_input, message_contains("symbolic link"));
    }
    SECTION("a folder that holds an input, however spelled") {
        {
            staged_folder earlier(root / "fit");
            earlier.commit();
        }
        write(root / "fit" / "config.json", "{}");
        fs::create_directory_symlink(root / "fit", root / "alias");
        CHECK_THROWS_MATCHES(staged_folder(root / "fit", {root / "alias" / "config.json"}), invalid_input,
                             message_contains("holds the input"));
        CHECK_THROWS_MATCHES(staged_folder(root / "fit", {root / "fit"}), invalid_input,
                             message_contains("holds the input"));
        staged_folder run(root / "fit", {root / "elsewhere.json"});
        CHECK_THROWS_MATCHES(run.check_inputs({root / "fit" / "config.json"}), invalid_input,
                             message_contains("config.json"));
    }
    SECTION("a root") {
        CHECK_THROWS_MATCHES(staged_folder("/"), invalid_input, message_contains("names a root"));
    }
    fs::remove_all(root);
}

TEST_CASE("staged folder: any byte in a name is used as it is", "[io][staged]") {
    const fs::path root = scratch("bytes");
    const fs::path out = root / std::string("fit \xff\xfe\nline two; $(touch x) 'q'");
    {
        staged_folder run(out);
        write(run.staging() / "summary.json", "bytes");
        run.commit();
    }
    CHECK(read(out / "summary.json") == "bytes");
    CHECK(entries(root) == 1);
    fs::remove_all(root);
}
