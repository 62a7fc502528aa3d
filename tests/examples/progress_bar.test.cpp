#include <catch2/catch.hpp>

#include <string>

#include "../../examples/progress_bar.hpp"

using diskmc::examples::progress_bar;

TEST_CASE("the progress bar's line: counts, rate, time left, bar, extra text", "[examples][progress]") {
    const progress_bar bar("NUTS", 100, /*enabled=*/false);
    const std::string line = bar.format_line(25, 5.0, "warmup", "divergences 2, tree depth 3.4", 100);
    CAPTURE(line);
    CHECK(line.starts_with("NUTS warmup ["));
    CHECK(line.find(" 25/100 5.0 it/s 0:15 left | divergences 2, tree depth 3.4") != std::string::npos);
    CHECK(line.size() < 100);
    // A quarter of the bar is filled.
    const std::size_t open = line.find('['), close = line.find(']');
    REQUIRE(close != std::string::npos);
    const std::string inside = line.substr(open + 1, close - open - 1);
    const auto filled = static_cast<double>(inside.find_first_of(' '));
    CHECK(filled / static_cast<double>(inside.size()) == Approx(0.25).margin(0.05));

    SECTION("done: total time instead of time left; hours when long") {
        const std::string done = bar.format_line(100, 3725.0, "sampling", "", 120);
        CHECK(done.find(" 100/100 0.0 it/s 1:02:05 total") != std::string::npos);
        CHECK(done.find("[========================================]") != std::string::npos);
    }
    SECTION("a narrow terminal drops the bar and cuts the line") {
        const std::string narrow = bar.format_line(25, 5.0, "warmup", "divergences 2", 40);
        CHECK(narrow.find('[') == std::string::npos);
        CHECK(narrow.size() == 39);
    }
    SECTION("no rate yet: time left unknown") {
        CHECK(bar.format_line(0, 0.0, "", "", 100).find(" 0/100 0.0 it/s --:-- left") !=
              std::string::npos);
    }
}

TEST_CASE("the sampler adapters keep the run going unless interrupted", "[examples][progress]") {
    progress_bar bar("run", 10, /*enabled=*/false);
    auto ensemble = diskmc::examples::ensemble_progress_bar(bar);
    CHECK(ensemble({.iteration = 3, .total_iterations = 10, .burn_in = 5}));
    auto nuts = diskmc::examples::nuts_progress_bar(bar, 2);
    CHECK(nuts({.chain = 1, .iteration = 4, .total_iterations = 5}));
    CHECK(nuts({.chain = 7, .iteration = 1}));  // an unexpected chain index is ignored, not a crash
}
