// Sky grids and maps: eddy's axes, the x reversal, field-of-view clipping and
// downsampling kept consistent with the pixel size, beam and header.

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "diskmc/disk.hpp"
#include "support/image_compare.hpp"
#include "support/throws.hpp"

using namespace diskmc;

namespace {

grid_header square_header(Eigen::Index n, double pixel) {
    return {.nx = n,
            .ny = n,
            .cdelt1 = -pixel / 3600.0,
            .cdelt2 = pixel / 3600.0,
            .beam = std::nullopt};
}

disk_model<double> example_model() {
    return {.geometry = {.x0 = 0.1, .y0 = -0.05, .inc = 35.0, .PA = 70.0},
            .surface = {.z0 = 0.2, .psi = 1.5, .r_taper = 2.0, .q_taper = 2.0},
            .rotation = {.mstar = 1.0, .dist = 140.0},
            .vlsr = 2000.0};
}

}  // namespace

TEST_CASE("axes are eddy's: centred, x decreasing with column", "[disk][sky_grid]") {
    const sky_grid grid = sky_grid::from_header(
        {.nx = 5, .ny = 4, .cdelt1 = -1.0 / 3600.0, .cdelt2 = 0.5 / 3600.0, .beam = std::nullopt});
    CHECK(grid.nx() == 5);
    CHECK(grid.ny() == 4);
    CHECK(grid.size() == 20);
    const Eigen::ArrayXd x_expected = (Eigen::ArrayXd(5) << 2.0, 1.0, 0.0, -1.0, -2.0).finished();
    const Eigen::ArrayXd y_expected = (Eigen::ArrayXd(4) << -0.75, -0.25, 0.25, 0.75).finished();
    CHECK((grid.x() - x_expected).abs().maxCoeff() <= 1e-15);
    CHECK((grid.y() - y_expected).abs().maxCoeff() <= 1e-15);
    CHECK(grid.pixel_size() == Approx(0.5));
    CHECK(grid.pixel_size_x() == Approx(1.0));
    CHECK_FALSE(grid.x_reversed());
    CHECK(grid.reference_pixel()[0] == Approx(3.0));
    CHECK(grid.reference_pixel()[1] == Approx(2.5));

    const pixel_positions p = pixel_positions_of(grid);
    REQUIRE(p.x.size() == 20);
    // storage order of a column-major ny x nx image: element j + ny i
    CHECK(p.x[2 + 4 * 3] == grid.x()[3]);
    CHECK(p.y[2 + 4 * 3] == grid.y()[2]);
}

TEST_CASE("CDELT1 > 0: x and the data columns are reversed as eddy does", "[disk][sky_grid]") {
    grid_header header = square_header(6, 0.1);
    header.ny = 3;
    header.cdelt1 = +0.1 / 3600.0;
    Eigen::ArrayXXd stored(3, 6);
    for (Eigen::Index i = 0; i < 6; ++i)
        for (Eigen::Index j = 0; j < 3; ++j)
            stored(j, i) = 10.0 * static_cast<double>(j) + static_cast<double>(i);
    const sky_map map = make_sky_map(header, stored, stored + 100.0);
    CHECK(map.grid.x_reversed());
    CHECK(map.grid.x()[0] > map.grid.x()[5]);
    for (Eigen::Index i = 0; i < 6; ++i) {
        CHECK(map.data(1, i) == stored(1, 5 - i));
        CHECK(map.uncertainty(2, i) == stored(2, 5 - i) + 100.0);
    }
    // the header of the stored orientation has CDELT1 < 0
    CHECK(map.grid.header().cdelt1 == -header.cdelt1);
    CHECK(map.grid.header().cdelt2 == header.cdelt2);
    // and the same sky as a CDELT1 < 0 grid: the same model image
    grid_header negative = header;
    negative.cdelt1 = -header.cdelt1;
    const sky_grid other = sky_grid::from_header(negative);
    CHECK((other.x() - map.grid.x()).abs().maxCoeff() == 0.0);
}

TEST_CASE("field-of-view clipping follows eddy's rule", "[disk][sky_grid]") {
    // 10 pixels of 1": x = 4.5 ... -4.5, y = -4.5 ... 4.5
    const sky_grid grid = sky_grid::from_header(square_header(10, 1.0));
    SECTION("a radius on a pixel centre keeps that pixel") {
        const sky_grid clipped = clip_field_of_view(grid, 5.0);
        REQUIRE(clipped.nx() == 6);
        REQUIRE(clipped.ny() == 6);
        CHECK(clipped.x()[0] == 2.5);
        CHECK(clipped.x()[5] == -2.5);
        CHECK(clipped.y()[0] == -2.5);
    }
    SECTION("a radius between pixels keeps the pixel beyond it") {
        const sky_grid clipped = clip_field_of_view(grid, 4.0);
        REQUIRE(clipped.nx() == 6);
        CHECK(clipped.x()[0] == 2.5);
        CHECK(clipped.x()[5] == -2.5);
    }
    SECTION("the header and reference pixel describe the clipped grid") {
        const sky_grid clipped = clip_field_of_view(grid, 5.0);
        const grid_header h = clipped.header();
        CHECK(h.nx == 6);
        CHECK(h.cdelt1 == grid.header().cdelt1);
        const auto crpix = clipped.reference_pixel();
        for (Eigen::Index i = 0; i < clipped.nx(); ++i)
            CHECK(clipped.x()[i] ==
                  Approx(3600.0 * h.cdelt1 * (static_cast<double>(i) + 1.0 - crpix[0])));
    }
    SECTION("bad field of view") {
        CHECK_THROWS_AS(clip_field_of_view(grid, 0.0), invalid_input);
        CHECK_THROWS_AS(clip_field_of_view(grid, -1.0), invalid_input);
        CHECK_THROWS_AS(clip_field_of_view(grid, std::nan("")), invalid_input);
        CHECK_THROWS_MATCHES(clip_field_of_view(grid, 12.0), invalid_input,
                             diskmc::testing::message_contains("larger than the map"));
    }
}

TEST_CASE("downsampling keeps every N-th pixel from N/2, with consistent pixel size and beam",
          "[disk][sky_grid]") {
    grid_header header = square_header(128, 0.04);
    header.beam = beam_shape{0.25, 0.18, -150.0};  // bpa is reduced mod 180 as eddy
    const sky_grid grid = sky_grid::from_header(header);
    CHECK(grid.beam()->bpa == Approx(30.0));

    const sky_grid coarse = downsample(grid, 4);
    REQUIRE(coarse.nx() == 32);
    REQUIRE(coarse.ny() == 32);
    for (Eigen::Index k = 0; k < 32; ++k) {
        CHECK(coarse.x()[k] == grid.x()[2 + 4 * k]);
        CHECK(coarse.y()[k] == grid.y()[2 + 4 * k]);
    }
    CHECK(coarse.pixel_size() == Approx(0.16));
    CHECK(coarse.header().cdelt1 == Approx(4.0 * header.cdelt1));
    // the origin is now off-centre by half an original pixel; CRPIX says where
    const auto crpix = coarse.reference_pixel();
    for (Eigen::Index k = 0; k < 32; ++k) {
        CHECK(coarse.x()[k] ==
              Approx(3600.0 * coarse.header().cdelt1 * (static_cast<double>(k) + 1.0 - crpix[0]))
                  .margin(1e-12));
        CHECK(coarse.y()[k] ==
              Approx(3600.0 * coarse.header().cdelt2 * (static_cast<double>(k) + 1.0 - crpix[1]))
                  .margin(1e-12));
    }
    // the beam kernel follows the new pixel size
    CHECK(beam_kernel(coarse).rows() < beam_kernel(grid).rows());
    CHECK(beam_kernel(coarse).rows() == beam_kernel(*coarse.beam(), 0.16).rows());
    // downsample='beam': ceil(bmaj / dpix) = ceil(6.25) = 7
    CHECK(beam_downsample_factor(grid) == 7);
    CHECK(downsample(grid, 1).nx() == 128);

    CHECK_THROWS_AS(downsample(grid, 0), invalid_input);
    CHECK_THROWS_AS(downsample(grid, -2), invalid_input);
    CHECK_THROWS_MATCHES(downsample(grid, 300), invalid_input,
                         diskmc::testing::message_contains("factor 300 is larger than the 128x128 map"));
    CHECK_THROWS_MATCHES(downsample(grid, 129), invalid_input,
                         diskmc::testing::message_contains("at most 128"));
    CHECK(downsample(grid, 128).nx() == 1);
    CHECK_THROWS_AS(beam_downsample_factor(sky_grid::from_header(square_header(8, 0.1))),
                    invalid_input);
}

TEST_CASE("images on clipped and downsampled grids are the full image's pixels",
          "[disk][sky_grid]") {
    grid_header header = square_header(60, 0.05);
    header.beam = beam_shape{0.22, 0.15, 40.0};
    Eigen::ArrayXXd data = Eigen::ArrayXXd::Random(60, 60);
    data(7, 9) = std::numeric_limits<double>::quiet_NaN();
    const sky_map map = make_sky_map(header, data, data.abs() + 1.0);
    const disk_model<double> model = example_model();
    const Eigen::ArrayXXd full = model_image(model, map.grid);

    // clip then downsample, as eddy loads FOV first
    const sky_map clipped = clip_field_of_view(map, 2.0);
    const sky_map coarse = downsample(clipped, 3);
    const Eigen::ArrayXXd image = model_image(model, coarse.grid);
    REQUIRE(image.rows() == coarse.data.rows());
    REQUIRE(image.cols() == coarse.data.cols());
    for (Eigen::Index i = 0; i < coarse.grid.nx(); ++i) {
        for (Eigen::Index j = 0; j < coarse.grid.ny(); ++j) {
            // find the pixel of the full map with these offsets
            Eigen::Index fi = 0, fj = 0;
            (map.grid.x() - coarse.grid.x()[i]).abs().minCoeff(&fi);
            (map.grid.y() - coarse.grid.y()[j]).abs().minCoeff(&fj);
            REQUIRE(map.grid.x()[fi] == coarse.grid.x()[i]);
            REQUIRE(map.grid.y()[fj] == coarse.grid.y()[j]);
            CHECK(image(j, i) == Approx(full(fj, fi)).epsilon(1e-14));
            if (std::isnan(data(fj, fi)))
                CHECK(std::isnan(coarse.data(j, i)));
            else
                CHECK(coarse.data(j, i) == data(fj, fi));
            CHECK(coarse.uncertainty(j, i) == map.uncertainty(fj, fi));
        }
    }
    CHECK(downsample_by_beam(map).grid.nx() == 12);  // by ceil(0.22 / 0.05) = 5, from 2
}

TEST_CASE("bad grids and maps throw invalid_input naming the problem", "[disk][sky_grid]") {
    auto rejects = [](grid_header h, const char* fragment) {
        INFO("expected \"" << fragment << "\"");
        CHECK_THROWS_MATCHES(sky_grid::from_header(h), invalid_input,
                             diskmc::testing::message_contains(fragment));
    };
    const grid_header good = square_header(16, 0.1);
    auto with = [&](auto change) {
        grid_header h = good;
        change(h);
        return h;
    };
    rejects(with([](grid_header& h) { h.nx = 0; }), "nx");
    rejects(with([](grid_header& h) { h.ny = -3; }), "ny");
    rejects(with([](grid_header& h) { h.cdelt1 = 0.0; }), "cdelt1");
    rejects(with([](grid_header& h) { h.cdelt2 = std::nan(""); }), "cdelt2");
    rejects(with([](grid_header& h) { h.beam = beam_shape{0.0, 0.1, 0.0}; }), "bmaj");
    rejects(with([](grid_header& h) { h.beam = beam_shape{0.2, -0.1, 0.0}; }), "bmin");
    rejects(with([](grid_header& h) { h.beam = beam_shape{0.2, 0.1, INFINITY}; }), "bpa");
    CHECK_THROWS_MATCHES(make_sky_map(good, Eigen::ArrayXXd::Zero(16, 15)), invalid_input,
                         diskmc::testing::message_contains("data is 16x15"));
    CHECK_THROWS_MATCHES(
        make_sky_map(good, Eigen::ArrayXXd::Zero(16, 16), Eigen::ArrayXXd::Zero(2, 2)),
        invalid_input, diskmc::testing::message_contains("uncertainty"));
}

TEST_CASE("downsampling by the beam refuses huge, tiny-pixel and map-sized factors, naming bmaj",
          "[disk][sky_grid]") {
    using Catch::Matchers::Contains;
    auto grid_with_beam = [](double bmaj, double pixel) {
        grid_header header = square_header(64, pixel);
        header.beam = beam_shape{bmaj, bmaj, 0.0};
        return sky_grid::from_header(header);
    };
    // BMAJ = 1e300: ceil(bmaj / pixel) was an overflowing cast.
    REQUIRE_THROWS_WITH(beam_downsample_factor(grid_with_beam(1e300, 0.25)),
                        Contains("beam_downsample_factor") && Contains("bmaj 1.0000000000000001e+300") &&
                            Contains("pixel_size 0.25") && Contains("[1, 64]") &&
                            Contains("64x64 map"));
    // Finite, but infinite against a tiny pixel.
    REQUIRE_THROWS_WITH(beam_downsample_factor(grid_with_beam(1e300, 1e-300)), Contains("is inf"));
    // A beam wider than the map.
    REQUIRE_THROWS_WITH(beam_downsample_factor(grid_with_beam(20.0, 0.25)), Contains("is 80"));
    // A beam far below a pixel keeps every pixel.
    CHECK(beam_downsample_factor(grid_with_beam(1e-300, 0.25)) == 1);
    CHECK(beam_downsample_factor(grid_with_beam(16.0, 0.25)) == 64);
    const sky_map map = make_sky_map(
        [] {
            grid_header header = square_header(64, 0.25);
            header.beam = beam_shape{1e300, 1.0, 0.0};
            return header;
        }(),
        Eigen::ArrayXXd::Zero(64, 64), Eigen::ArrayXXd::Ones(64, 64));
    REQUIRE_THROWS_WITH(downsample_by_beam(map), Contains("bmaj 1.0000000000000001e+300"));
}

TEST_CASE("field-of-view clipping refuses NaN, infinite, negative and huge fields, naming fov",
          "[disk][sky_grid]") {
    using Catch::Matchers::Contains;
    const sky_grid grid = sky_grid::from_header(square_header(32, 0.25));
    REQUIRE_THROWS_WITH(clip_field_of_view(grid, std::nan("")), Contains("fov") && Contains("nan"));
    REQUIRE_THROWS_WITH(clip_field_of_view(grid, INFINITY), Contains("fov") && Contains("inf"));
    REQUIRE_THROWS_WITH(clip_field_of_view(grid, -1.0), Contains("fov") && Contains("-1"));
    REQUIRE_THROWS_WITH(clip_field_of_view(grid, 1e300), Contains("larger than the map"));
    CHECK(clip_field_of_view(grid, 1e-300).nx() >= 1);
}

TEST_CASE("a grid whose pixel count overflows is refused before any allocation", "[disk][sky_grid]") {
    using Catch::Matchers::Contains;
    grid_header header = square_header(1, 0.1);
    header.nx = Eigen::Index{1} << 40;
    header.ny = Eigen::Index{1} << 40;
    REQUIRE_THROWS_WITH(sky_grid::from_header(header), Contains("overflows") &&
                                                          Contains("1099511627776 x 1099511627776"));
}
