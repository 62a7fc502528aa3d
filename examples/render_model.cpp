// Renders a disk rotation-map model as eddy would.
//
//   render_model --case FILE.json --out IMAGE.txt
//       the model of a case in the fixture schema (shared/data/eddy/README.md),
//       written in the fixtures' text layout (%.17g, row j per line, NaN as nan)
//   render_model --demo [--beam] [--out IMAGE.txt]
//       the HD163296-like benchmark model (shared/data/bench/truth.json) from
//       built-in values, with a short summary
//   --fits IMAGE.fits (either form): also write the image as a FITS map whose
//       header describes its grid (CDELT, CRPIX, the beam when convolved)
//
// Bad input: a one-line message on stderr and exit status 1 (2 for usage).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "diskmc/disk.hpp"
#include "diskmc/io/fits.hpp"
#include "command_line.hpp"
#include "eddy_case.hpp"

namespace {

struct arguments {
    std::optional<std::string> case_file;
    std::optional<std::string> out_file;
    std::optional<std::string> fits_file;
    bool demo = false;
    bool beam = false;
};

constexpr const char* usage_text =
    "usage: render_model --case FILE.json --out IMAGE.txt [--fits IMAGE.fits] | --demo [--beam] [--out IMAGE.txt] [--fits IMAGE.fits]";

arguments parse_arguments(diskmc::examples::command_line& cli) {
    arguments a;
    while (cli.next()) {
        if (cli.flag() == "--case")
            a.case_file = cli.value();
        else if (cli.flag() == "--out")
            a.out_file = cli.value();
        else if (cli.flag() == "--demo")
            a.demo = true;
        else if (cli.flag() == "--beam")
            a.beam = true;
        else if (cli.flag() == "--fits")
            a.fits_file = cli.value();
        else
            cli.fail("unknown argument " + cli.flag());
    }
    if (a.demo == a.case_file.has_value()) cli.fail("give exactly one of --case and --demo");
    if (a.case_file && !a.out_file) cli.fail("--case needs --out");
    if (a.beam && !a.demo) cli.fail("--beam goes with --demo (a case file says its own beam)");
    return a;
}

// The HD163296-like benchmark model (shared/data/bench/truth.json): 154 x 154
// pixels of 0.052", CDELT1 < 0, truth parameters, inc and dist fixed.
diskmc::examples::eddy_case demo_case(bool beam) {
    diskmc::examples::eddy_case c;
    c.name = "HD163296-like benchmark (truth)";
    c.grid = {.nx = 154,
              .ny = 154,
              .cdelt1 = -0.052 / 3600.0,
              .cdelt2 = 0.052 / 3600.0,
              .beam = std::nullopt};
    if (beam) c.grid.beam = diskmc::beam_shape{0.15, 0.12, 95.0};
    c.convolve_beam = beam;
    c.geometry = {.x0 = -0.0457, .y0 = -0.0359, .inc = 46.7, .PA = 312.6};
    c.vlsr = 5771.0;
    c.surface = diskmc::flared_surface<double>{
        .z0 = 0.18, .psi = 1.99, .r_cavity = 0.0, .r_taper = 3.06, .q_taper = 2.41};
    c.rotation = diskmc::keplerian_rotation<double>{.mstar = 1.905, .dist = 101.0};
    return c;
}

void print_summary(const diskmc::examples::eddy_case& c, const Eigen::ArrayXXd& image,
                   double seconds) {
    std::vector<double> finite;
    finite.reserve(static_cast<std::size_t>(image.size()));
    for (Eigen::Index k = 0; k < image.size(); ++k)
        if (std::isfinite(image.data()[k])) finite.push_back(image.data()[k]);
    std::printf("%s\n", c.name.c_str());
    std::printf("  grid      %ld x %ld pixels of %.4g\" (CDELT1 %s 0)\n",
                static_cast<long>(c.grid.nx), static_cast<long>(c.grid.ny),
                std::abs(3600.0 * c.grid.cdelt2), c.grid.cdelt1 < 0 ? "<" : ">");
    std::printf("  geometry  x0 %.4g\"  y0 %.4g\"  inc %.4g deg  PA %.4g deg\n", c.geometry.x0,
                c.geometry.y0, c.geometry.inc, c.geometry.PA);
    if (c.surface)
        std::printf(
            "  surface   z0 %.4g  psi %.4g  r_cavity %.4g\"  r_taper %.4g\"  q_taper %.4g"
            "  (flared_niter %d)\n",
            c.surface->z0, c.surface->psi, c.surface->r_cavity, c.surface->r_taper,
            c.surface->q_taper, c.flared_niter);
    else
        std::printf("  surface   thin (midplane)\n");
    std::visit(
        [](const auto& r) {
            using type = std::decay_t<decltype(r)>;
            if constexpr (std::is_same_v<type, diskmc::keplerian_rotation<double>>)
                std::printf("  rotation  Keplerian, mstar %.4g Msun, dist %.4g pc\n", r.mstar,
                            r.dist);
            else if constexpr (std::is_same_v<type, diskmc::self_gravitating_rotation<double>>)
                std::printf(
                    "  rotation  Keplerian + pseudo self-gravity, mstar %.4g, mdisk %.4g"
                    " Msun, gamma %.4g, r_in %.4g\", r_out %.4g\", dist %.4g pc\n",
                    r.mstar, r.mdisk, r.gamma, r.r_in, r.r_out, r.dist);
            else
                std::printf("  rotation  power law, vp_100 %.4g m/s, vp_q %.4g, dist %.4g pc\n",
                            r.vp_100, r.vp_q, r.dist);
        },
        c.rotation);
    std::printf("  vlsr      %.6g m/s\n", c.vlsr);
    if (c.convolve_beam)
        std::printf("  beam      %.4g\" x %.4g\" at %.4g deg\n", c.grid.beam->bmaj,
                    c.grid.beam->bmin, c.grid.beam->bpa);
    else
        std::printf("  beam      none\n");
    if (finite.empty()) {
        std::printf("  velocity  no finite pixel\n");
    } else {
        auto middle = finite.begin() + static_cast<std::ptrdiff_t>(finite.size() / 2);
        std::nth_element(finite.begin(), middle, finite.end());
        const auto [low, high] = std::minmax_element(finite.begin(), finite.end());
        std::printf("  velocity  min %.6g  median %.6g  max %.6g m/s (%zu finite pixels)\n", *low,
                    *middle, *high, finite.size());
    }
    std::printf("  time      %.3f ms\n", 1e3 * seconds);
}

}  // namespace

int main(int argc, char** argv) {
    diskmc::examples::command_line cli(argc, argv, "render_model", usage_text);
    const arguments args = parse_arguments(cli);
    try {
        const diskmc::examples::eddy_case c =
            args.demo ? demo_case(args.beam) : diskmc::examples::read_eddy_case(*args.case_file);
        const auto start = std::chrono::steady_clock::now();
        const Eigen::ArrayXXd image = diskmc::examples::render(c);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (args.out_file) diskmc::examples::write_table(*args.out_file, image);
        if (args.fits_file) {
            const diskmc::sky_grid grid = diskmc::examples::grid_of(c);
            diskmc::io::fits_header header{.cdelt1_deg = grid.header().cdelt1,
                                           .cdelt2_deg = grid.header().cdelt2,
                                           .reference_pixel = grid.reference_pixel(),
                                           .history = {"model rotation map rendered by diskmc render_model"}};
            if (c.convolve_beam && grid.beam())
                header.beam = diskmc::io::fits_beam{grid.beam()->bmaj, grid.beam()->bmin, grid.beam()->bpa};
            diskmc::io::write_fits_map(*args.fits_file, image, header);
        }
        if (args.demo) print_summary(c, image, seconds);
    } catch (const std::exception& e) {
        // Name the case file unless the message already does.
        const std::string message = e.what();
        if (args.case_file && message.find(*args.case_file) == std::string::npos)
            std::fprintf(stderr, "render_model: %s: %s\n", args.case_file->c_str(), e.what());
        else
            std::fprintf(stderr, "render_model: %s\n", e.what());
        return 1;
    }
    return 0;
}
