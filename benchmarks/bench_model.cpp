// Model image speed: ns per pixel of one model evaluation (prepare the
// parameters, line-of-sight velocity of every pixel, optional beam
// convolution) for 128^2, 256^2 and 512^2 grids, thin and flared surfaces,
// with and without the beam. Single-threaded, median of repeats.
//
// A second table justifies the beam algorithm: the library's direct
// convolution against an FFT convolution (Eigen's FFT module) for beams of
// 11, 23 and 35 pixels across, and against FFTW's (diskmc::fftw, when built:
// "fftw_ns_per_pixel", "fftw_adjoint_ns_per_pixel").
//
//   bench_model [--json] [--repeats N]
//
// --json prints one JSON object per line: {"grid": "256x256", "surface":
// "flared", "beam": true, "ns_per_pixel": ...} (and "table": "beam_algorithm"
// rows for the second table).

#include "diskmc/disk.hpp"  // first: it brings <Eigen/Core> in (diskmc/detail/eigen.hpp)

#include <algorithm>
#include <chrono>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unsupported/Eigen/FFT>

#include "bench_common.hpp"
#ifdef DISKMC_PROGRAM_WITH_FFTW
#include "diskmc/fftw/beam_convolution.hpp"
#endif

namespace {


// The HD163296-like benchmark problem (shared/data/bench/truth.json).
diskmc::disk_orientation<double> truth_geometry() {
    return {.x0 = -0.0457, .y0 = -0.0359, .inc = 46.7, .PA = 312.6};
}
diskmc::keplerian_rotation<double> truth_rotation() {
    return {.mstar = 1.905, .dist = 101.0};
}
constexpr double truth_vlsr = 5771.0;
constexpr double pixel_size = 0.052;  // arcsec
const diskmc::beam_shape bench_beam{0.15, 0.12, 95.0};

using diskmc::bench::time_repeats;
using diskmc::bench::timing;

diskmc::sky_grid make_grid(Eigen::Index n, double pixel) {
    return diskmc::sky_grid::from_header({.nx = n,
                                          .ny = n,
                                          .cdelt1 = -pixel / 3600.0,
                                          .cdelt2 = pixel / 3600.0,
                                          .beam = bench_beam});
}

// One model evaluation as a fit does it: positions precomputed once.
template <class Model>
timing model_ns_per_pixel(const Model& model, const diskmc::sky_grid& grid, bool beam,
                          int repeats) {
    const diskmc::pixel_positions positions = diskmc::pixel_positions_of(grid);
    const diskmc::beam_convolution convolution(diskmc::beam_kernel(grid));
    Eigen::ArrayXd values;
    Eigen::ArrayXXd image(grid.ny(), grid.nx()), convolved;
    const timing seconds = time_repeats(repeats, [&] {
        diskmc::line_of_sight_velocity(diskmc::prepare(model), positions.x, positions.y, values);
        if (beam) {
            image = Eigen::Map<const Eigen::ArrayXXd>(values.data(), grid.ny(), grid.nx());
            convolution.apply(image, convolved);
        }
    });
    const double per_pixel = 1e9 / static_cast<double>(grid.size());
    return {per_pixel * seconds.median, per_pixel * seconds.minimum};
}

/// Zero-padded linear convolution by FFT (Eigen's FFT, kissfft inside):
/// real transforms down the columns, complex along the rows.
class fft_convolution {
public:
    fft_convolution(const Eigen::ArrayXXd& kernel, Eigen::Index rows, Eigen::Index cols)
        : n_(kernel.rows()), rows_(rows), cols_(cols) {
        padded_rows_ = good_size(rows + n_ - 1);
        padded_cols_ = good_size(cols + n_ - 1);
        fft_.SetFlag(Eigen::FFT<double>::HalfSpectrum);
        Eigen::ArrayXXd padded = Eigen::ArrayXXd::Zero(padded_rows_, padded_cols_);
        padded.topLeftCorner(n_, n_) = kernel;
        kernel_spectrum_ = forward(padded);
    }

    void apply(const Eigen::ArrayXXd& image, Eigen::ArrayXXd& out) {
        Eigen::ArrayXXd padded = Eigen::ArrayXXd::Zero(padded_rows_, padded_cols_);
        padded.topLeftCorner(rows_, cols_) = image;
        Eigen::ArrayXXcd spectrum = forward(padded);
        spectrum *= kernel_spectrum_;
        const Eigen::ArrayXXd full = inverse(spectrum);
        const Eigen::Index half = n_ / 2;
        out = full.block(half, half, rows_, cols_);
    }

private:
    static Eigen::Index good_size(Eigen::Index n) {
        for (Eigen::Index m = n;; ++m) {
            Eigen::Index r = m;
            for (Eigen::Index f : {2, 3, 5})
                while (r % f == 0)
                    r /= f;
            if (r == 1) return m;
        }
    }

    Eigen::ArrayXXcd forward(const Eigen::ArrayXXd& padded) {
        const Eigen::Index half_rows = padded_rows_ / 2 + 1;
        Eigen::ArrayXXcd spectrum(half_rows, padded_cols_);
        std::vector<double> column(static_cast<std::size_t>(padded_rows_));
        std::vector<std::complex<double>> column_spectrum;
        for (Eigen::Index i = 0; i < padded_cols_; ++i) {
            std::copy(padded.col(i).data(), padded.col(i).data() + padded_rows_, column.begin());
            fft_.fwd(column_spectrum, column);
            for (Eigen::Index j = 0; j < half_rows; ++j)
                spectrum(j, i) = column_spectrum[static_cast<std::size_t>(j)];
        }
        std::vector<std::complex<double>> row(static_cast<std::size_t>(padded_cols_)), row_spectrum;
        for (Eigen::Index j = 0; j < half_rows; ++j) {
            for (Eigen::Index i = 0; i < padded_cols_; ++i)
                row[static_cast<std::size_t>(i)] = spectrum(j, i);
            fft_.fwd(row_spectrum, row);
            for (Eigen::Index i = 0; i < padded_cols_; ++i)
                spectrum(j, i) = row_spectrum[static_cast<std::size_t>(i)];
        }
        return spectrum;
    }

    Eigen::ArrayXXd inverse(const Eigen::ArrayXXcd& spectrum_in) {
        Eigen::ArrayXXcd spectrum = spectrum_in;
        const Eigen::Index half_rows = padded_rows_ / 2 + 1;
        std::vector<std::complex<double>> row(static_cast<std::size_t>(padded_cols_)), row_out;
        for (Eigen::Index j = 0; j < half_rows; ++j) {
            for (Eigen::Index i = 0; i < padded_cols_; ++i)
                row[static_cast<std::size_t>(i)] = spectrum(j, i);
            fft_.inv(row_out, row);
            for (Eigen::Index i = 0; i < padded_cols_; ++i)
                spectrum(j, i) = row_out[static_cast<std::size_t>(i)];
        }
        Eigen::ArrayXXd out(padded_rows_, padded_cols_);
        std::vector<std::complex<double>> column_spectrum(static_cast<std::size_t>(half_rows));
        std::vector<double> column;
        for (Eigen::Index i = 0; i < padded_cols_; ++i) {
            for (Eigen::Index j = 0; j < half_rows; ++j)
                column_spectrum[static_cast<std::size_t>(j)] = spectrum(j, i);
            fft_.inv(column, column_spectrum, padded_rows_);
            std::copy(column.begin(), column.end(), out.col(i).data());
        }
        return out;
    }

    Eigen::Index n_, rows_, cols_, padded_rows_ = 0, padded_cols_ = 0;
    Eigen::FFT<double> fft_;
    Eigen::ArrayXXcd kernel_spectrum_;
};

struct options {
    bool json = false;
    int repeats = 15;
};

options parse(int argc, char** argv) {
    options o;
    for (int k = 1; k < argc; ++k) {
        if (std::strcmp(argv[k], "--json") == 0) {
            o.json = true;
        } else if (std::strcmp(argv[k], "--repeats") == 0 && k + 1 < argc) {
            o.repeats = std::max(1, std::atoi(argv[++k]));
        } else {
            std::fprintf(stderr, "usage: bench_model [--json] [--repeats N]\n");
            std::exit(2);
        }
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    const options opt = parse(argc, argv);
    const diskmc::disk_model<double, diskmc::thin_surface> thin{.geometry = truth_geometry(),
                                                                .surface = {},
                                                                .rotation = truth_rotation(),
                                                                .vlsr = truth_vlsr};
    const diskmc::disk_model<double> flared{
        .geometry = truth_geometry(),
        .surface = {.z0 = 0.18, .psi = 1.99, .r_taper = 3.06, .q_taper = 2.41},
        .rotation = truth_rotation(),
        .vlsr = truth_vlsr};

    if (!opt.json) {
        std::printf("model image, single thread, ns/pixel: median (minimum) of %d repeats\n",
                    opt.repeats);
        std::printf("(beam 0.15\" x 0.12\" at 95 deg on 0.052\" pixels: an 11 x 11 kernel)\n\n");
        std::printf("%-10s %-8s %18s %18s\n", "grid", "surface", "no beam", "beam");
    }
    for (Eigen::Index n : {128, 256, 512}) {
        const diskmc::sky_grid grid = make_grid(n, pixel_size);
        const std::string name = std::to_string(n) + "x" + std::to_string(n);
        for (const char* surface : {"thin", "flared"}) {
            timing ns[2];
            for (int beam = 0; beam < 2; ++beam) {
                ns[beam] = std::strcmp(surface, "thin") == 0
                               ? model_ns_per_pixel(thin, grid, beam == 1, opt.repeats)
                               : model_ns_per_pixel(flared, grid, beam == 1, opt.repeats);
                if (opt.json)
                    std::printf(
                        "{\"table\": \"model\", \"grid\": \"%s\", \"surface\": \"%s\", "
                        "\"beam\": %s, \"ns_per_pixel\": %.3f, \"min_ns_per_pixel\": %.3f, "
                        "\"repeats\": %d}\n",
                        name.c_str(), surface, beam ? "true" : "false", ns[beam].median,
                        ns[beam].minimum, opt.repeats);
            }
            if (!opt.json)
                std::printf("%-10s %-8s %9.2f (%6.2f) %9.2f (%6.2f)\n", name.c_str(), surface,
                            ns[0].median, ns[0].minimum, ns[1].median, ns[1].minimum);
        }
    }

    // Beam algorithm: direct (the library) against FFT (Eigen's FFT module,
    // kissfft inside), on a 256 x 256 image.
    if (!opt.json)
        std::printf("\nbeam convolution alone, 256x256, ns/pixel, median of %d\n%-8s %8s %8s %8s %8s %13s\n",
                    opt.repeats, "kernel", "direct", "fft", "adjoint", "fftw", "fftw adjoint");
    const Eigen::Index n = 256;
    Eigen::ArrayXXd image = Eigen::ArrayXXd::Random(n, n) * 3000.0 + 5000.0;
    for (double bmaj : {0.15, 0.32, 0.49}) {
        const diskmc::beam_shape beam{bmaj, 0.8 * bmaj, 95.0};
        const Eigen::ArrayXXd kernel = diskmc::beam_kernel(beam, pixel_size);
        const diskmc::beam_convolution direct(kernel);
        fft_convolution fft(kernel, n, n);
        Eigen::ArrayXXd out_direct, out_fft, out_adjoint;
        const double per_pixel = 1e9 / static_cast<double>(n * n);
        const double t_direct =
            per_pixel * time_repeats(opt.repeats, [&] { direct.apply(image, out_direct); }).median;
        const double t_fft =
            per_pixel * time_repeats(opt.repeats, [&] { fft.apply(image, out_fft); }).median;
        const double t_adjoint = per_pixel * time_repeats(opt.repeats, [&] {
                                                 direct.apply_adjoint(image, image, out_adjoint);
                                             }).median;
        const double difference = (out_direct - out_fft).abs().maxCoeff() / image.abs().maxCoeff();
        // FFTW (diskmc::fftw, when built): plans made once for the shape.
        double t_fftw = 0.0, t_fftw_adjoint = 0.0, fftw_difference = 0.0;
#ifdef DISKMC_PROGRAM_WITH_FFTW
        const diskmc::fftw::beam_convolution fftw(kernel, n, n);
        Eigen::ArrayXXd out_fftw;
        t_fftw = per_pixel * time_repeats(opt.repeats, [&] { fftw.apply(image, out_fftw); }).median;
        t_fftw_adjoint = per_pixel * time_repeats(opt.repeats, [&] {
                                         fftw.apply_adjoint(image, image, out_fftw);
                                     }).median;
        fftw.apply(image, out_fftw);
        fftw_difference = (out_direct - out_fftw).abs().maxCoeff() / out_direct.abs().maxCoeff();
#endif
        const std::string size =
            std::to_string(kernel.rows()) + "x" + std::to_string(kernel.cols());
        if (opt.json)
            std::printf(
                "{\"table\": \"beam_algorithm\", \"grid\": \"256x256\", \"kernel\": \"%s\", "
                "\"direct_ns_per_pixel\": %.3f, \"fft_ns_per_pixel\": %.3f, "
                "\"adjoint_ns_per_pixel\": %.3f, \"max_relative_difference\": %.3g, "
                "\"fftw_ns_per_pixel\": %.3f, \"fftw_adjoint_ns_per_pixel\": %.3f, "
                "\"fftw_max_relative_difference\": %.3g}\n",
                size.c_str(), t_direct, t_fft, t_adjoint, difference, t_fftw, t_fftw_adjoint, fftw_difference);
        else
            std::printf("%-8s %8.2f %8.2f %8.2f %8.2f %13.2f   (direct vs fft: %.1e, vs fftw: %.1e relative)\n",
                        size.c_str(), t_direct, t_fft, t_adjoint, t_fftw, t_fftw_adjoint, difference,
                        fftw_difference);
    }
    return 0;
}
