#pragma once
// FITS maps: read a rotation map (2D, or a cube with one plane) with its axes,
// beam and unit as eddy reads them, and write model and residual maps with a
// header that matches what is written. Needs cfitsio: link diskmc::fits.
//
// This layer is raw: it returns the array as stored (row j = NAXIS2 index,
// column i = NAXIS1 index) and the header values; building eddy's sky grid
// from them (centred axes, x reversed when CDELT1 > 0) is the disk layer's job.

#include <fitsio.h>

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "diskmc/disk/sky_map.hpp"
#include "diskmc/errors.hpp"

namespace diskmc::io {

/// The restoring beam as eddy reads it from BMAJ/BMIN/BPA.
struct fits_beam {
    double bmaj_arcsec = 0;  ///< BMAJ · 3600
    double bmin_arcsec = 0;  ///< BMIN · 3600
    double bpa_deg = 0;      ///< BPA mod 180, in [0, 180)
};

/// The unit of a map's values. `from_header` trusts BUNIT (m/s or km/s);
/// stating the unit overrides BUNIT, for files whose BUNIT is wrong (the
/// public TW Hya rotation map says Jy/beam and holds m/s).
enum class velocity_unit { from_header, m_per_s, km_per_s };

/// A map as stored in a FITS file, values in m/s.
struct fits_map {
    std::filesystem::path file;
    Eigen::ArrayXXd data;  ///< ny x nx; row j = NAXIS2 index, column i = NAXIS1 index
    double cdelt1_deg = 0;
    double cdelt2_deg = 0;
    double crval1_deg = 0;  ///< kept so a written map can carry the sky position
    double crval2_deg = 0;
    std::optional<fits_beam> beam;
    std::string header_unit;  ///< BUNIT as found ("" when absent)
    Eigen::Index nx() const { return data.cols(); }
    Eigen::Index ny() const { return data.rows(); }
};

/// What to write in a map's header besides its axes.
struct fits_header {
    double cdelt1_deg = 0;  ///< degrees per pixel along NAXIS1 (negative: RA decreases)
    double cdelt2_deg = 0;
    double crval1_deg = 0;
    double crval2_deg = 0;
    /// CRPIX1/CRPIX2 (1-based, may be fractional): the pixel of offset (0, 0).
    /// Unset: the array's centre, as eddy's axes assume. A downsampled grid's
    /// origin can sit a fraction of a pixel off centre (sky_grid::reference_pixel).
    std::optional<std::array<double, 2>> reference_pixel;
    std::optional<fits_beam> beam;
    std::string unit = "m/s";
    std::vector<std::pair<std::string, double>> keywords;  ///< e.g. model parameters
    std::vector<std::string> history;
};

namespace detail {

struct fits_closer {
    void operator()(fitsfile* file) const {
        int status = 0;
        fits_close_file(file, &status);
    }
};
using fits_handle = std::unique_ptr<fitsfile, fits_closer>;

inline std::string fits_error_text(int status) {
    char text[FLEN_STATUS] = {};
    fits_get_errstatus(status, text);
    return text;
}

[[noreturn]] inline void throw_fits(const std::filesystem::path& file, const std::string& what) {
    diskmc::detail::throw_invalid_input("FITS file '", file.string(), "': ", what);
}

/// A number keyword: nullopt when absent. Present but not a number (NaN,
/// INF, text, a value beyond double) is refused naming the keyword and its
/// text, rather than read as absent.
inline std::optional<double> read_double_key(fitsfile* f, const std::filesystem::path& file,
                                             const char* key) {
    char text[FLEN_VALUE] = {};
    int status = 0;
    if (fits_read_keyword(f, key, text, nullptr, &status) != 0) return std::nullopt;
    double value = 0;
    if (fits_read_key_dbl(f, key, &value, nullptr, &status) != 0 || !std::isfinite(value))
        throw_fits(file, std::string(key) + " = " + text + " is not a finite number");
    return value;
}

inline std::optional<std::string> read_string_key(fitsfile* f, const char* key) {
    char value[FLEN_VALUE] = {};
    int status = 0;
    if (fits_read_key_str(f, key, value, nullptr, &status) != 0) return std::nullopt;
    return std::string(value);
}

/// "m/s", "M/S", "m s-1", "m.s-1", "km/s", "KM/S", "km s-1" -> metres per second per unit;
/// anything else -> nullopt.
inline std::optional<double> velocity_scale_of(std::string unit) {
    std::string key;
    for (char c : unit)
        if (!std::isspace(static_cast<unsigned char>(c)) && c != '.')
            key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (key == "m/s" || key == "ms-1" || key == "ms^-1" || key == "m/sec") return 1.0;
    if (key == "km/s" || key == "kms-1" || key == "kms^-1" || key == "km/sec") return 1000.0;
    return std::nullopt;
}

/// Python's a % b for b > 0 (eddy takes BPA % 180).
inline double positive_modulo(double a, double b) {
    const double r = std::fmod(a, b);
    return r < 0 ? r + b : r;
}

/// Checks the image's axes against the data the file really holds, before
/// anything is allocated for them: a header may claim NAXIS1 x NAXIS2 far
/// beyond the file (a truncated download, a hand-edited header), and reading
/// it would be an allocation of that size. Tile-compressed images are left to
/// cfitsio, whose stored size is not the image's.
inline void check_data_size(fitsfile* f, const std::filesystem::path& file, int bitpix, int naxis,
                            const long* naxes) {
    std::string axes;  // "NAXIS1 x NAXIS2 = 1000000 x 1000000"
    std::string sizes;
    std::vector<std::size_t> counts;
    for (int k = 0; k < naxis; ++k) {
        const std::string name = "NAXIS" + std::to_string(k + 1);
        if (naxes[k] <= 0)
            throw_fits(file, "the map is empty: " + name + " = " + std::to_string(naxes[k]) +
                                 " (no pixels)");
        axes += (k == 0 ? "" : " x ") + name;
        sizes += (k == 0 ? "" : " x ") + std::to_string(naxes[k]);
        counts.push_back(static_cast<std::size_t>(naxes[k]));
    }
    const std::string shape = axes + " = " + sizes;
    const auto bytes_per_pixel = static_cast<std::size_t>(std::abs(bitpix) / 8);
    std::optional<std::size_t> pixels = 1;
    for (const std::size_t count : counts)
        if (pixels) pixels = diskmc::detail::size_product({*pixels, count});
    const auto bytes = pixels ? diskmc::detail::size_product({*pixels, bytes_per_pixel}) : std::nullopt;
    constexpr auto largest_image = static_cast<std::size_t>(std::numeric_limits<Eigen::Index>::max());
    if (!bytes || *pixels > largest_image)
        throw_fits(file, "the header's " + shape + " pixels overflows the size of an image");
    int status = 0;
    int compressed = fits_is_compressed_image(f, &status);
    if (status != 0 || compressed) return;
    LONGLONG header_start = 0, data_start = 0, data_end = 0;
    fits_get_hduaddrll(f, &header_start, &data_start, &data_end, &status);
    std::error_code error;
    const std::uintmax_t file_size = std::filesystem::file_size(file, error);
    if (status != 0 || error) return;  // cfitsio's own read reports it
    const auto after_header = static_cast<std::uintmax_t>(data_start) < file_size
                                  ? file_size - static_cast<std::uintmax_t>(data_start)
                                  : std::uintmax_t{0};
    if (after_header < *bytes)
        throw_fits(file, "the header says " + shape + " pixels of BITPIX " + std::to_string(bitpix) + " (" +
                             std::to_string(*bytes) + " bytes of data) but the file holds only " +
                             std::to_string(after_header) +
                             " bytes after the header: it is truncated or its header is wrong");
}

}  // namespace detail

/// Reads a rotation map (or its uncertainty) as eddy does: the primary HDU, or
/// the first image extension when the primary holds no data; a 2D image or a
/// cube whose extra axes have length 1; CDELT1/CDELT2 (or a diagonal CD
/// matrix); the beam from BMAJ/BMIN/BPA when present; values converted to m/s.
///
/// @param file  path to the FITS file (read as a plain file name: no cfitsio
///              extended syntax)
/// @param unit  the unit of the values; `from_header` requires BUNIT to be a
///              velocity unit
/// @throws diskmc::invalid_input naming the file and the problem (missing
///         file, not FITS, wrong number of axes, an empty axis, axes beyond
///         the data the file holds, missing or non-finite CDELT, a beam that
///         is not finite and > 0, unknown unit, all pixels NaN)
inline fits_map read_fits_map(const std::filesystem::path& file,
                              velocity_unit unit = velocity_unit::from_header) {
    using detail::throw_fits;
    if (!std::filesystem::exists(file)) throw_fits(file, "no such file");
    if (!std::filesystem::is_regular_file(file)) throw_fits(file, "not a regular file");

    fitsfile* raw = nullptr;
    int status = 0;
    fits_open_diskfile(&raw, file.c_str(), READONLY, &status);
    if (status != 0) throw_fits(file, "not a readable FITS file (" + detail::fits_error_text(status) + ")");
    detail::fits_handle f(raw);

    int naxis = 0;
    long naxes[8] = {};
    int bitpix = 0;
    auto read_image_shape = [&] {
        status = 0;
        int hdu_type = 0;
        fits_get_hdu_type(f.get(), &hdu_type, &status);
        if (status != 0 || hdu_type != IMAGE_HDU) return false;
        fits_get_img_param(f.get(), 8, &bitpix, &naxis, naxes, &status);
        return status == 0 && naxis > 0;
    };
    while (!read_image_shape()) {  // astropy's getdata: first HDU with data
        status = 0;
        fits_movrel_hdu(f.get(), 1, nullptr, &status);
        if (status != 0) throw_fits(file, "holds no image data");
    }
    if (naxis < 2 || naxis > 8) throw_fits(file, "has " + std::to_string(naxis) + " axes; a map needs 2");
    for (int k = 2; k < naxis; ++k)
        if (naxes[k] != 1)
            throw_fits(file, "axis " + std::to_string(k + 1) + " has " + std::to_string(naxes[k]) +
                                 " planes; diskmc reads a 2D map or a cube with one plane");

    fits_map map;
    map.file = file;
    const long nx = naxes[0];
    const long ny = naxes[1];
    detail::check_data_size(f.get(), file, bitpix, naxis, naxes);

    auto cdelt = [&](int axis) {
        const std::string cdelt_key = "CDELT" + std::to_string(axis);
        if (auto value = detail::read_double_key(f.get(), file, cdelt_key.c_str())) return *value;
        const std::string cd_key = "CD" + std::to_string(axis) + "_" + std::to_string(axis);
        const std::string off_key = axis == 1 ? "CD1_2" : "CD2_1";
        auto cd = detail::read_double_key(f.get(), file, cd_key.c_str());
        auto off = detail::read_double_key(f.get(), file, off_key.c_str());
        if (cd && (!off || *off == 0)) return *cd;
        throw_fits(file, "missing " + cdelt_key + " (the pixel size along axis " +
                             std::to_string(axis) + ")");
    };
    map.cdelt1_deg = cdelt(1);
    map.cdelt2_deg = cdelt(2);
    for (const auto& [name, value] : {std::pair{"CDELT1", map.cdelt1_deg}, std::pair{"CDELT2", map.cdelt2_deg}})
        if (value == 0)
            throw_fits(file, std::string(name) + " (the pixel size) is 0; it must be finite and non-zero");
    map.crval1_deg = detail::read_double_key(f.get(), file, "CRVAL1").value_or(0.0);
    map.crval2_deg = detail::read_double_key(f.get(), file, "CRVAL2").value_or(0.0);

    auto bmaj = detail::read_double_key(f.get(), file, "BMAJ");
    auto bmin = detail::read_double_key(f.get(), file, "BMIN");
    auto bpa = detail::read_double_key(f.get(), file, "BPA");
    if (bmaj && bmin) {
        for (const auto& [name, value] : {std::pair{"BMAJ", *bmaj}, std::pair{"BMIN", *bmin}})
            if (!(value > 0))
                diskmc::detail::throw_invalid_input("FITS file '", file.string(), "': ", name, " = ",
                                                    value, " (the beam, degrees) must be > 0");
        map.beam = fits_beam{*bmaj * 3600.0, *bmin * 3600.0,
                             detail::positive_modulo(bpa.value_or(0.0), 180.0)};
    }

    map.header_unit = detail::read_string_key(f.get(), "BUNIT").value_or("");
    double scale = 1.0;
    switch (unit) {
        case velocity_unit::m_per_s: scale = 1.0; break;
        case velocity_unit::km_per_s: scale = 1000.0; break;
        case velocity_unit::from_header:
            if (auto s = detail::velocity_scale_of(map.header_unit)) {
                scale = *s;
            } else {
                throw_fits(file, "BUNIT is '" + map.header_unit +
                                     "', not a velocity unit (m/s or km/s); if the values are "
                                     "velocities, state their unit explicitly");
            }
    }

    Eigen::Array<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> stored(ny, nx);
    double null_value = std::numeric_limits<double>::quiet_NaN();
    int any_null = 0;
    status = 0;
    fits_read_img(f.get(), TDOUBLE, 1, static_cast<LONGLONG>(nx) * ny, &null_value, stored.data(),
                  &any_null, &status);
    if (status != 0) throw_fits(file, "cannot read the data (" + detail::fits_error_text(status) + ")");
    map.data = stored * scale;
    if (!map.data.isFinite().any()) throw_fits(file, "has no finite pixel (all NaN)");
    return map;
}

/// A rotation map and its uncertainty, read together and checked against
/// each other: same shape, same pixel size.
struct rotation_map_files {
    fits_map velocity;
    fits_map uncertainty;
};

/// Reads a velocity map and its uncertainty map (both in `unit`), checking
/// that they describe the same grid.
/// @throws diskmc::invalid_input on any problem with either file or a mismatch
inline rotation_map_files read_rotation_map(const std::filesystem::path& velocity_file,
                                            const std::filesystem::path& uncertainty_file,
                                            velocity_unit unit = velocity_unit::from_header) {
    rotation_map_files maps{read_fits_map(velocity_file, unit),
                            read_fits_map(uncertainty_file, unit)};
    const auto& v = maps.velocity;
    const auto& e = maps.uncertainty;
    if (v.nx() != e.nx() || v.ny() != e.ny())
        diskmc::detail::throw_invalid_input(
            "read_rotation_map: map '", velocity_file.string(), "' is ", v.ny(), "x", v.nx(),
            " but uncertainty '", uncertainty_file.string(), "' is ", e.ny(), "x", e.nx());
    if (v.cdelt1_deg != e.cdelt1_deg || v.cdelt2_deg != e.cdelt2_deg)
        diskmc::detail::throw_invalid_input("read_rotation_map: map '", velocity_file.string(),
                                            "' and uncertainty '", uncertainty_file.string(),
                                            "' have different pixel sizes (CDELT1/CDELT2)");
    return maps;
}

/// The map and its uncertainty on eddy's sky grid (columns reversed when
/// CDELT1 > 0), with the velocity map's beam: what a fit takes.
/// @throws diskmc::invalid_input for a header the grid cannot take
inline sky_map to_sky_map(const rotation_map_files& files) {
    const fits_map& v = files.velocity;
    grid_header header{.nx = v.nx(), .ny = v.ny(), .cdelt1 = v.cdelt1_deg, .cdelt2 = v.cdelt2_deg};
    if (v.beam) header.beam = beam_shape{v.beam->bmaj_arcsec, v.beam->bmin_arcsec, v.beam->bpa_deg};
    return make_sky_map(header, v.data, files.uncertainty.data);
}

/// Writes `image` (row j = NAXIS2 index) as a 64-bit float FITS map whose
/// header describes it: CRPIX at the middle unless given, CDELT from `header`, the beam, BUNIT and any extra
/// keywords. NaN pixels stay NaN. The file appears atomically: it is written
/// under a temporary name and renamed, so a failure leaves no half-written map.
/// @throws diskmc::invalid_input if the image is empty or the file cannot be written
inline void write_fits_map(const std::filesystem::path& file, const Eigen::ArrayXXd& image,
                           const fits_header& header) {
    using detail::throw_fits;
    if (image.size() == 0) throw_fits(file, "cannot write an empty image");
    check_argument(std::isfinite(header.cdelt1_deg) && header.cdelt1_deg != 0 &&
                       std::isfinite(header.cdelt2_deg) && header.cdelt2_deg != 0,
                   "write_fits_map", "header CDELT1/CDELT2 must be finite and non-zero");
    const std::filesystem::path temporary = file.string() + ".partial";
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);

    fitsfile* raw = nullptr;
    int status = 0;
    fits_create_diskfile(&raw, temporary.c_str(), &status);
    if (status != 0) throw_fits(file, "cannot create (" + detail::fits_error_text(status) + ")");
    {
        detail::fits_handle f(raw);
        long naxes[2] = {static_cast<long>(image.cols()), static_cast<long>(image.rows())};
        fits_create_img(f.get(), DOUBLE_IMG, 2, naxes, &status);

        auto key_double = [&](const char* key, double value, const char* comment) {
            fits_write_key_dbl(f.get(), key, value, -15, comment, &status);
        };
        auto key_string = [&](const char* key, const std::string& value, const char* comment) {
            fits_write_key_str(f.get(), key, value.c_str(), comment, &status);
        };
        key_string("CTYPE1", "RA---SIN", "");
        const std::array<double, 2> crpix = header.reference_pixel.value_or(std::array<double, 2>{
            (static_cast<double>(image.cols()) + 1) / 2, (static_cast<double>(image.rows()) + 1) / 2});
        key_double("CRPIX1", crpix[0], "pixel of offset 0");
        key_double("CRVAL1", header.crval1_deg, "[deg]");
        key_double("CDELT1", header.cdelt1_deg, "[deg/pixel]");
        key_string("CUNIT1", "deg", "");
        key_string("CTYPE2", "DEC--SIN", "");
        key_double("CRPIX2", crpix[1], "pixel of offset 0");
        key_double("CRVAL2", header.crval2_deg, "[deg]");
        key_double("CDELT2", header.cdelt2_deg, "[deg/pixel]");
        key_string("CUNIT2", "deg", "");
        if (header.beam) {
            key_double("BMAJ", header.beam->bmaj_arcsec / 3600, "[deg] beam major axis FWHM");
            key_double("BMIN", header.beam->bmin_arcsec / 3600, "[deg] beam minor axis FWHM");
            key_double("BPA", header.beam->bpa_deg, "[deg] beam position angle");
        }
        key_string("BUNIT", header.unit, "");
        for (const auto& [key, value] : header.keywords) key_double(key.c_str(), value, "");
        for (const auto& line : header.history) fits_write_history(f.get(), line.c_str(), &status);

        const Eigen::Array<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> stored = image;
        fits_write_img(f.get(), TDOUBLE, 1, static_cast<LONGLONG>(stored.size()),
                       const_cast<double*>(stored.data()), &status);
        fits_close_file(f.release(), &status);  // flushes: its status counts too
        if (status != 0) {
            std::filesystem::remove(temporary, ignored);
            throw_fits(file, "cannot write (" + detail::fits_error_text(status) + ")");
        }
    }
    std::filesystem::rename(temporary, file, ignored);
    if (ignored) throw_fits(file, "cannot rename the written file into place: " + ignored.message());
}

}  // namespace diskmc::io
