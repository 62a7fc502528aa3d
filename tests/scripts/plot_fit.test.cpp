// scripts/plot_fit.py on a small fit folder written by the library: the three
// PNGs appear; a missing input is a clear error and writes nothing.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "diskmc/diagnostics/summary.hpp"
#include "diskmc/io/stan_csv.hpp"
#include "diskmc/samplers/nuts.hpp"
#include "support/gaussian_target.hpp"
#include "support/shared_data.hpp"

#if defined(DISKMC_TESTS_WITH_FITS)
#include "diskmc/io/fits.hpp"
#endif

namespace fs = std::filesystem;

namespace {

#if defined(DISKMC_PLOT_PYTHON) && defined(DISKMC_TESTS_WITH_FITS)

/// Runs the script on `dir`; returns its exit status, its stderr in `errors`.
int run_plot_script(const fs::path& dir, std::string& errors) {
    const fs::path log = dir.parent_path() / (dir.filename().string() + ".stderr");
    const std::string command = std::string("'") + DISKMC_PLOT_PYTHON + "' '" + DISKMC_SOURCE_DIR +
                                "/scripts/plot_fit.py' '" + dir.string() + "' > /dev/null 2> '" +
                                log.string() + "'";
    const int status = std::system(command.c_str());
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    errors = text.str();
    return status;
}

bool is_png(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    char signature[8] = {};
    in.read(signature, 8);
    return in && std::string(signature + 1, 3) == "PNG" && fs::file_size(file) > 10000;
}

/// A fit folder: chains.csv of a small NUTS run, its summary.json, and
/// model/residual maps on a 24 x 24 grid.
void write_fit_folder(const fs::path& dir) {
    Eigen::VectorXd sds(3);
    sds << 0.01, 0.2, 1.0;
    const auto target = diskmc::testing::make_gaussian(sds, true, 8);
    const diskmc::nuts_chains_options options{.sampler = {.warmup = 100, .samples = 100},
                                              .chains = 2, .threads = 1};
    const auto run = diskmc::nuts_chains(target, target.mean, options, 5);
    const std::vector<std::string> names = {"x0", "PA", "mstar"};
    diskmc::io::write_stan_csv(dir / "chains.csv", run, options, names);

    const auto summary = diskmc::summarize_draws({run.chains[0].draws, run.chains[1].draws}, names);
    std::ofstream json(dir / "summary.json");
    json.precision(17);
    json << "{\"parameters\": {";
    for (std::size_t p = 0; p < names.size(); ++p) {
        const auto& line = summary.parameters[p];
        json << (p ? ", " : "") << '"' << names[p] << "\": {\"p16\": " << line.p16
             << ", \"p50\": " << line.p50 << ", \"p84\": " << line.p84 << ", \"mean\": " << line.mean
             << ", \"sd\": " << line.sd << ", \"ess_bulk\": " << line.ess_bulk
             << ", \"ess_tail\": " << line.ess_tail << ", \"rhat\": " << line.rhat << "}";
    }
    json << "}, \"wall_seconds\": 0.1, \"warnings\": []}\n";
    json.close();

    Eigen::ArrayXXd model(24, 24), residual(24, 24);
    for (int j = 0; j < 24; ++j)
        for (int i = 0; i < 24; ++i) {
            const double x = i - 11.5, y = j - 11.5, r = std::hypot(x, y) + 1.0;
            model(j, i) = r > 11 ? std::numeric_limits<double>::quiet_NaN() : 5000.0 + 800.0 * x / r;
            residual(j, i) = 20.0 * std::sin(3.0 * i + 7.0 * j);
        }
    const diskmc::io::fits_header header{.cdelt1_deg = -0.05 / 3600, .cdelt2_deg = 0.05 / 3600};
    diskmc::io::write_fits_map(dir / "model.fits", model, header);
    diskmc::io::write_fits_map(dir / "residual.fits", residual, header);
}

#endif

}  // namespace

TEST_CASE("plot_fit.py draws the corner, trace and map plots of a fit folder", "[scripts][plot]") {
#if !defined(DISKMC_TESTS_WITH_FITS)
    WARN(diskmc::testing::skip_message("plot_fit.py", "built without FITS support"));
#elif !defined(DISKMC_PLOT_PYTHON)
    WARN(diskmc::testing::skip_message("plot_fit.py", "no Python with matplotlib, numpy and astropy was found at "
                                                      "configure time (Debian: python3-matplotlib python3-numpy "
                                                      "python3-astropy)"));
#else
    const fs::path root = fs::temp_directory_path() / ("diskmc_plot_test_" + std::to_string(::getpid()));
    fs::remove_all(root);
    const fs::path dir = root / "fit";
    fs::create_directories(dir);
    write_fit_folder(dir);

    std::string errors;
    CHECK(run_plot_script(dir, errors) == 0);
    CAPTURE(errors);
    for (const char* png : {"corner.png", "traces.png", "maps.png"}) {
        CAPTURE(png);
        CHECK(is_png(dir / png));
        CHECK_FALSE(fs::exists(dir / (std::string(png) + ".partial")));
    }

    // Without residual.fits: exit status 1, a message naming it, no PNG.
    const fs::path broken = root / "broken";
    fs::create_directories(broken);
    for (const char* file : {"chains.csv", "summary.json", "model.fits"})
        fs::copy_file(dir / file, broken / file);
    CHECK(run_plot_script(broken, errors) != 0);
    CHECK(errors.find("plot_fit.py: missing in") != std::string::npos);
    CHECK(errors.find("residual.fits") != std::string::npos);
    CHECK_FALSE(fs::exists(broken / "corner.png"));
    fs::remove_all(root);
#endif
}
