#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "diskmc/io/fits.hpp"
#include "support/shared_data.hpp"

namespace fs = std::filesystem;
using diskmc::invalid_input;
using diskmc::io::fits_header;
using diskmc::io::read_fits_map;
using diskmc::io::velocity_unit;
using Catch::Matchers::Contains;

namespace {

fs::path scratch_dir() {
    const fs::path dir = fs::temp_directory_path() / ("diskmc_fits_test_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir;
}

/// Writes a FITS image with raw cfitsio calls, for headers our writer never makes.
void write_raw(const fs::path& file, std::vector<long> axes, const std::vector<std::pair<std::string, double>>& keys,
               const std::string& bunit) {
    fs::remove(file);
    fitsfile* f = nullptr;
    int status = 0;
    fits_create_diskfile(&f, file.c_str(), &status);
    fits_create_img(f, DOUBLE_IMG, static_cast<int>(axes.size()), axes.data(), &status);
    for (const auto& [k, v] : keys) fits_write_key_dbl(f, k.c_str(), v, -15, "", &status);
    if (!bunit.empty()) fits_write_key_str(f, "BUNIT", bunit.c_str(), "", &status);
    long n = 1;
    for (long a : axes) n *= a;
    std::vector<double> values(static_cast<std::size_t>(n));
    for (long i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = 1000.0 + static_cast<double>(i);
    fits_write_img(f, TDOUBLE, 1, n, values.data(), &status);
    fits_close_file(f, &status);
    REQUIRE(status == 0);
}

/// Writes a FITS file byte by byte: the header cards as given (each padded
/// to 80 characters, then END, the header padded to whole 2880-byte blocks)
/// and `data_bytes` zero bytes of data. The header can say what the data is
/// not, which no FITS writer makes.
void write_lying_fits(const fs::path& file, const std::vector<std::string>& cards, std::size_t data_bytes) {
    std::string header;
    auto add = [&](std::string card) {
        card.resize(80, ' ');
        header += card;
    };
    for (const auto& card : cards) add(card);
    add("END");
    header.resize((header.size() + 2879) / 2880 * 2880, ' ');
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << header << std::string(data_bytes, '\0');
    REQUIRE(out.good());
}

/// The cards of a 2D double image, NAXIS1 x NAXIS2 as given, with CDELTs,
/// BUNIT and any extra cards.
std::vector<std::string> image_cards(const std::string& naxis1, const std::string& naxis2,
                                     std::vector<std::string> extra = {},
                                     const std::string& cdelt1 = "-1E-5") {
    // Fixed format: values right-justified to column 30.
    auto card = [](const std::string& key, const std::string& value) {
        std::string name = key;
        name.resize(8, ' ');
        return name + "= " + std::string(value.size() < 20 ? 20 - value.size() : 0, ' ') + value;
    };
    std::vector<std::string> cards{card("SIMPLE", "T"),     card("BITPIX", "-64"),  card("NAXIS", "2"),
                                   card("NAXIS1", naxis1),  card("NAXIS2", naxis2), card("CDELT1", cdelt1),
                                   card("CDELT2", "1E-5"),  "BUNIT   = 'm/s     '"};
    cards.insert(cards.end(), extra.begin(), extra.end());
    return cards;
}

}  // namespace

TEST_CASE("a header claiming more pixels than the file holds is refused before any allocation",
          "[io][fits]") {
    const fs::path dir = scratch_dir();
    // 10^6 x 10^6 doubles would be 8 TB; the file holds one block of data.
    write_lying_fits(dir / "lying.fits", image_cards("1000000", "1000000"), 2880);
    REQUIRE_THROWS_WITH(read_fits_map(dir / "lying.fits"),
                        Contains("lying.fits") && Contains("NAXIS1 x NAXIS2 = 1000000 x 1000000") &&
                            Contains("8000000000000 bytes") && Contains("only 2880 bytes"));
    // One pixel short of a small image (data not padded to its block).
    write_lying_fits(dir / "short.fits", image_cards("4", "3"), 11 * 8);
    REQUIRE_THROWS_WITH(read_fits_map(dir / "short.fits"), Contains("4 x 3") && Contains("only 88 bytes"));
    // The honest file of the same shape reads (its data padded to a block, as FITS requires).
    write_lying_fits(dir / "honest.fits", image_cards("4", "3"), 2880);
    CHECK(read_fits_map(dir / "honest.fits").nx() == 4);
    // A product that overflows size_t.
    write_lying_fits(dir / "overflow.fits", image_cards("4000000000000000000", "4000000000000000000"), 2880);
    REQUIRE_THROWS_WITH(read_fits_map(dir / "overflow.fits"),
                        Contains("overflow.fits") && Contains("overflows") &&
                            Contains("4000000000000000000 x 4000000000000000000"));
}

TEST_CASE("a zero axis says the map is empty", "[io][fits]") {
    const fs::path dir = scratch_dir();
    write_lying_fits(dir / "empty.fits", image_cards("0", "4"), 0);
    REQUIRE_THROWS_WITH(read_fits_map(dir / "empty.fits"),
                        Contains("empty.fits") && Contains("the map is empty") && Contains("NAXIS1 = 0"));
    write_lying_fits(dir / "empty2.fits", image_cards("4", "0"), 0);
    REQUIRE_THROWS_WITH(read_fits_map(dir / "empty2.fits"), Contains("NAXIS2 = 0"));
}

TEST_CASE("non-finite or zero CDELT and bad BMAJ, BMIN are refused by name", "[io][fits]") {
    const fs::path dir = scratch_dir();
    const std::size_t data = 2880;  // 4 x 3 doubles, padded to a block
    write_lying_fits(dir / "nan_cdelt.fits", image_cards("4", "3", {}, "NaN"), data);
    REQUIRE_THROWS_WITH(read_fits_map(dir / "nan_cdelt.fits"),
                        Contains("nan_cdelt.fits") && Contains("CDELT1 = NaN is not a finite number"));
    write_lying_fits(dir / "inf_cdelt.fits", image_cards("4", "3", {}, "1E999"), data);
    REQUIRE_THROWS_WITH(read_fits_map(dir / "inf_cdelt.fits"), Contains("CDELT1 = 1E999"));
    write_lying_fits(dir / "zero_cdelt.fits", image_cards("4", "3", {}, "0.0"), data);
    REQUIRE_THROWS_WITH(read_fits_map(dir / "zero_cdelt.fits"), Contains("CDELT1 (the pixel size) is 0"));
    write_lying_fits(dir / "nan_bmaj.fits", image_cards("4", "3", {"BMAJ    = NaN", "BMIN    = 1E-5"}), data);
    REQUIRE_THROWS_WITH(read_fits_map(dir / "nan_bmaj.fits"), Contains("BMAJ = NaN is not a finite number"));
    write_lying_fits(dir / "zero_bmin.fits", image_cards("4", "3", {"BMAJ    = 1E-5", "BMIN    = 0.0"}), data);
    REQUIRE_THROWS_WITH(read_fits_map(dir / "zero_bmin.fits"), Contains("BMIN = 0") && Contains("must be > 0"));
    write_lying_fits(dir / "negative_bmaj.fits", image_cards("4", "3", {"BMAJ    = -1E-5", "BMIN    = 1E-5"}),
                     data);
    REQUIRE_THROWS_WITH(read_fits_map(dir / "negative_bmaj.fits"), Contains("BMAJ = -1.0000000000000001e-05"));
    // BMAJ = 1e300 degrees reads (it is a number), and the grid's cuts name it.
    write_lying_fits(dir / "huge_bmaj.fits", image_cards("4", "3", {"BMAJ    = 1E300", "BMIN    = 1E-5"}), data);
    const auto huge = read_fits_map(dir / "huge_bmaj.fits");
    REQUIRE(huge.beam);
    CHECK(huge.beam->bmaj_arcsec == 1e300 * 3600.0);
}

TEST_CASE("a written map reads back with its header", "[io][fits]") {
    const fs::path file = scratch_dir() / "round_trip.fits";
    Eigen::ArrayXXd image(3, 5);  // ny = 3, nx = 5: non-square, so rows and columns can't swap
    for (int j = 0; j < 3; ++j)
        for (int i = 0; i < 5; ++i) image(j, i) = 100.0 * j + i + 0.25;
    image(1, 2) = std::numeric_limits<double>::quiet_NaN();
    fits_header header{.cdelt1_deg = -1e-5, .cdelt2_deg = 2e-5,
                       .beam = diskmc::io::fits_beam{0.25, 0.18, 30.0},
                       .keywords = {{"MSTAR", 2.0}}};
    diskmc::io::write_fits_map(file, image, header);
    CHECK_FALSE(fs::exists(file.string() + ".partial"));

    const auto map = read_fits_map(file);
    REQUIRE(map.ny() == 3);
    REQUIRE(map.nx() == 5);
    CHECK(map.cdelt1_deg == -1e-5);
    CHECK(map.cdelt2_deg == 2e-5);
    REQUIRE(map.beam);
    CHECK(map.beam->bmaj_arcsec == Approx(0.25).epsilon(1e-14));
    CHECK(map.beam->bmin_arcsec == Approx(0.18).epsilon(1e-14));
    CHECK(map.beam->bpa_deg == 30.0);
    CHECK(map.header_unit == "m/s");
    CHECK(std::isnan(map.data(1, 2)));
    CHECK((map.data == image || (map.data.isNaN() && image.isNaN())).all());
}

TEST_CASE("km/s maps are converted to m/s, other units need the caller's word", "[io][fits]") {
    const fs::path dir = scratch_dir();
    write_raw(dir / "kms.fits", {4, 2}, {{"CDELT1", -1e-5}, {"CDELT2", 1e-5}}, "km/s");
    const auto kms = read_fits_map(dir / "kms.fits");
    CHECK(kms.data(0, 0) == 1000.0 * 1000.0);
    CHECK(kms.data(1, 3) == 1007.0 * 1000.0);

    write_raw(dir / "jy.fits", {4, 2}, {{"CDELT1", -1e-5}, {"CDELT2", 1e-5}}, "Jy/beam");
    CHECK_THROWS_WITH(read_fits_map(dir / "jy.fits"),
                      Contains("jy.fits") && Contains("Jy/beam") && Contains("not a velocity unit"));
    CHECK(read_fits_map(dir / "jy.fits", velocity_unit::m_per_s).data(0, 0) == 1000.0);
    CHECK(read_fits_map(dir / "jy.fits", velocity_unit::km_per_s).data(0, 0) == 1e6);

    write_raw(dir / "nounit.fits", {4, 2}, {{"CDELT1", -1e-5}, {"CDELT2", 1e-5}}, "");
    CHECK_THROWS_AS(read_fits_map(dir / "nounit.fits"), invalid_input);
}

TEST_CASE("a cube with one plane reads as a map, more planes do not", "[io][fits]") {
    const fs::path dir = scratch_dir();
    write_raw(dir / "cube1.fits", {4, 3, 1}, {{"CDELT1", -1e-5}, {"CDELT2", 1e-5}}, "m/s");
    const auto map = read_fits_map(dir / "cube1.fits");
    CHECK(map.nx() == 4);
    CHECK(map.ny() == 3);
    CHECK(map.data(2, 3) == 1011.0);

    write_raw(dir / "cube3.fits", {4, 3, 3}, {{"CDELT1", -1e-5}, {"CDELT2", 1e-5}}, "m/s");
    CHECK_THROWS_WITH(read_fits_map(dir / "cube3.fits"), Contains("cube3.fits") && Contains("3 planes"));
    write_raw(dir / "line.fits", {7}, {{"CDELT1", -1e-5}}, "m/s");
    CHECK_THROWS_WITH(read_fits_map(dir / "line.fits"), Contains("1 axes"));
}

TEST_CASE("bad FITS input names the file and the problem", "[io][fits]") {
    const fs::path dir = scratch_dir();
    CHECK_THROWS_WITH(read_fits_map(dir / "absent.fits"), Contains("absent.fits") && Contains("no such file"));

    std::ofstream(dir / "text.fits") << "this is not FITS\n";
    CHECK_THROWS_WITH(read_fits_map(dir / "text.fits"), Contains("text.fits") && Contains("not a readable FITS"));

    write_raw(dir / "nocdelt.fits", {4, 3}, {{"CDELT1", -1e-5}}, "m/s");
    CHECK_THROWS_WITH(read_fits_map(dir / "nocdelt.fits"), Contains("missing CDELT2"));

    write_raw(dir / "cd.fits", {4, 3}, {{"CD1_1", -1e-5}, {"CD2_2", 1e-5}}, "m/s");
    CHECK(read_fits_map(dir / "cd.fits").cdelt2_deg == 1e-5);

    {
        fs::remove(dir / "nan.fits");
        Eigen::ArrayXXd nan_image = Eigen::ArrayXXd::Constant(2, 2, std::numeric_limits<double>::quiet_NaN());
        diskmc::io::write_fits_map(dir / "nan.fits", nan_image, {.cdelt1_deg = -1e-5, .cdelt2_deg = 1e-5});
        CHECK_THROWS_WITH(read_fits_map(dir / "nan.fits"), Contains("nan.fits") && Contains("all NaN"));
    }

    write_raw(dir / "a.fits", {4, 3}, {{"CDELT1", -1e-5}, {"CDELT2", 1e-5}}, "m/s");
    write_raw(dir / "b.fits", {3, 4}, {{"CDELT1", -1e-5}, {"CDELT2", 1e-5}}, "m/s");
    CHECK_THROWS_WITH(diskmc::io::read_rotation_map(dir / "a.fits", dir / "b.fits"),
                      Contains("a.fits") && Contains("b.fits") && Contains("3x4") && Contains("4x3"));
    CHECK_THROWS_AS(diskmc::io::write_fits_map(dir / "no_such_dir" / "x.fits", Eigen::ArrayXXd::Ones(2, 2),
                                               {.cdelt1_deg = -1e-5, .cdelt2_deg = 1e-5}),
                    invalid_input);
}

TEST_CASE("eddy's synthetic data map reads as eddy holds it", "[io][fits][data]") {
    const fs::path eddy = diskmc::testing::eddy_data_dir();
    const auto maps = diskmc::io::read_rotation_map(eddy / "synthetic_v0.fits", eddy / "synthetic_dv0.fits");
    const Eigen::ArrayXXd expected = diskmc::testing::read_table(eddy / "lnlike_data.txt");
    REQUIRE(maps.velocity.ny() == expected.rows());
    REQUIRE(maps.velocity.nx() == expected.cols());
    CHECK((maps.velocity.data.isNaN() == expected.isNaN()).all());
    CHECK((maps.velocity.data.isNaN() || maps.velocity.data == expected).all());
    REQUIRE(maps.velocity.beam);
    CHECK(maps.velocity.beam->bmaj_arcsec == Approx(0.25).epsilon(1e-12));
    CHECK(maps.velocity.beam->bmin_arcsec == Approx(0.18).epsilon(1e-12));
    CHECK(maps.velocity.beam->bpa_deg == Approx(30.0));
    CHECK(maps.velocity.cdelt1_deg < 0);
}

TEST_CASE("the real TW Hya map: BUNIT says Jy/beam, values are m/s", "[io][fits][data]") {
    const auto data_dir =
        diskmc::testing::shared_data_dir({"twhya/TWHya_CO_v0.fits", "twhya/TWHya_CO_dv0.fits"});
    if (!data_dir) {
        WARN(diskmc::testing::skip_message("TW Hya FITS"));
        return;
    }
    const fs::path v0 = *data_dir / "twhya/TWHya_CO_v0.fits";
    const fs::path dv0 = *data_dir / "twhya/TWHya_CO_dv0.fits";
    CHECK_THROWS_WITH(read_fits_map(v0), Contains("TWHya_CO_v0.fits") && Contains("Jy/beam"));

    const auto maps = diskmc::io::read_rotation_map(v0, dv0, velocity_unit::m_per_s);
    CHECK(maps.velocity.nx() == 800);
    CHECK(maps.velocity.ny() == 800);
    CHECK(maps.velocity.cdelt1_deg == Approx(-0.01 / 3600).epsilon(1e-9));
    CHECK(maps.velocity.data.isFinite().count() == 360574);
    CHECK((maps.velocity.data.isFinite() == maps.uncertainty.data.isFinite()).all());

    std::vector<double> finite;
    for (Eigen::Index k = 0; k < maps.velocity.data.size(); ++k)
        if (std::isfinite(maps.velocity.data(k))) finite.push_back(maps.velocity.data(k));
    std::nth_element(finite.begin(), finite.begin() + finite.size() / 2, finite.end());
    CHECK(finite[finite.size() / 2] == Approx(2840).margin(30));  // TW Hya's systemic velocity

    REQUIRE(maps.velocity.beam);
    CHECK(maps.velocity.beam->bmaj_arcsec == Approx(0.1387).epsilon(1e-3));
    CHECK(maps.velocity.beam->bmin_arcsec == Approx(0.1310).epsilon(1e-3));
    CHECK(maps.velocity.beam->bpa_deg == Approx(180.0 - 74.96).epsilon(1e-4));  // BPA mod 180
}
