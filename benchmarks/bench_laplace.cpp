// bench_laplace: the importance-sampled Laplace sampler against NUTS from
// the same MAP point on the HD163296-like problem (shared/data/bench):
// Pareto k̂, importance ESS / draws, wall time, ESS per second, and the
// agreement of the two posteriors (median difference in NUTS sd, width
// ratio). A diagnostic line says how far the posterior is from the MAP
// normal: the NUTS draws (unconstrained) whitened by the MAP point and its
// inverse Hessian should have mean 0 and covariance I; their mean offset and
// the extreme eigenvalues of their covariance are printed.
//
//   bench_laplace [--downsample N] [--draws N] [--repeats N] [--scale S] [--data DIR]
//
// --downsample  the map's downsampling factor (default 3, as the fit tests)
// --draws       Laplace draws (default 4000)
// --repeats     Laplace runs with seeds 1..N (default 3): k̂ and ESS medians
// --scale       the Laplace normal's sd multiplier (default 1)
// --data        the data directory holding bench/ (default $DISKMC_DATA_DIR)

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "hd163296_fit.hpp"

namespace {

using namespace diskmc;

double min_bulk_ess(const fit_result& fit) {
    double ess = 1e300;
    for (const auto& p : fit.parameters) ess = std::min(ess, p.ess_bulk);
    return ess;
}

double median_of(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    std::string data_dir = bench::default_data_dir();
    Eigen::Index downsample = 3;
    std::size_t draws = 4000;
    int repeats = 3;
    double scale = 1.0;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (i + 1 >= argc) {
            std::fprintf(stderr, "bench_laplace: %s needs a value\n", flag.c_str());
            return 2;
        }
        const char* value = argv[++i];
        if (flag == "--downsample") downsample = std::atol(value);
        else if (flag == "--draws") draws = static_cast<std::size_t>(std::atol(value));
        else if (flag == "--repeats") repeats = std::atoi(value);
        else if (flag == "--data") data_dir = value;
        else if (flag == "--scale") scale = std::atof(value);
        else {
            std::fprintf(stderr, "bench_laplace: unknown argument %s\n", flag.c_str());
            return 2;
        }
    }
    fit_options options{.map = bench::bench_map(data_dir, false),
                        .downsample = {.factor = downsample},
                        .parameters = hd163296_like::parameters(),
                        .mask = {.r_min = hd163296_like::r_min},
                        .threads = 2};
    std::printf("data: %s, downsampled by %ld\n",
                bench::has_bench_files(data_dir) ? "shared bench/ FITS" : "built in memory", static_cast<long>(downsample));

    std::vector<double> khats, efficiencies, seconds;
    fit_result laplace_fit;
    for (int r = 1; r <= repeats; ++r) {
        options.sampler = laplace_fit_settings{.options = {.draws = draws, .scale = scale}, .seed = static_cast<std::uint64_t>(r)};
        laplace_fit = bench::fit_hd163296_like(options);
        const auto& run = std::get<laplace_result>(laplace_fit.sampler);
        khats.push_back(run.khat);
        efficiencies.push_back(run.efficiency());
        seconds.push_back(run.total_seconds);
        std::printf("laplace seed %d: k-hat %.3f, importance ESS %.0f / %ld = %.3f, %.2f s, %zu evaluations%s\n", r,
                    run.khat, run.effective_sample_size, static_cast<long>(run.draws.cols()), run.efficiency(),
                    run.total_seconds, run.log_density_evaluations, run.reliable() ? "" : "  (refused)");
    }
    const double laplace_seconds = median_of(seconds);
    const double map_and_rest = laplace_fit.wall_seconds - std::get<laplace_result>(laplace_fit.sampler).total_seconds;

    options.sampler = nuts_fit_settings{.options = {.sampler = {.warmup = 400, .samples = 600}}, .seed = 11};
    const fit_result nuts_fit = bench::fit_hd163296_like(options);
    const double nuts_seconds = nuts_fit.wall_seconds - map_and_rest;  // the same MAP step and summary
    const double laplace_ess = median_of(efficiencies) * static_cast<double>(draws);
    std::printf("\n%-8s %8s %10s %12s %12s\n", "sampler", "seconds", "min ESS", "ESS/s", "k-hat");
    std::printf("%-8s %8.2f %10.0f %12.1f %12.3f\n", "laplace", laplace_seconds, laplace_ess,
                laplace_ess / laplace_seconds, median_of(khats));
    std::printf("%-8s %8.2f %10.0f %12.1f %12s\n", "nuts", nuts_seconds, min_bulk_ess(nuts_fit),
                min_bulk_ess(nuts_fit) / nuts_seconds, "-");
    std::printf("(MAP step and summary: %.2f s, not counted above)\n\n",
                map_and_rest);

    std::printf("%-9s %14s %14s %10s %10s %9s %9s\n", "", "NUTS p50", "Laplace p50", "NUTS sd", "Laplace sd",
                "dp50/sd", "sd ratio");
    bool agree = true;
    for (std::size_t i = 0; i < nuts_fit.parameters.size(); ++i) {
        const fit_parameter& n = nuts_fit.parameters[i];
        const fit_parameter& l = laplace_fit.parameters[i];
        const double shift = (l.p50 - n.p50) / n.sd, ratio = l.sd / n.sd;
        agree = agree && std::abs(shift) < 0.1 && std::abs(ratio - 1.0) < 0.1;
        std::printf("%-9s %14.6g %14.6g %10.3g %10.3g %9.3f %9.3f\n", n.name.c_str(), n.p50, l.p50, n.sd, l.sd, shift,
                    ratio);
    }
    std::printf("medians within 0.1 sd and sds within 10%%: %s\n", agree ? "yes" : "NO");

    // How far the posterior is from the MAP normal, from the NUTS draws.
    const auto& map = *laplace_fit.map;
    const inference::parameter_set parameters(options.parameters);
    const Eigen::VectorXd centre = parameters.to_unconstrained(parameters.inside_bounds(map.point));
    const Eigen::MatrixXd lower = Eigen::LLT<Eigen::MatrixXd>(map.unconstrained_covariance.covariance).matrixL();
    const auto& chains = std::get<nuts_chains_result>(nuts_fit.sampler).chains;
    Eigen::Index rows = 0;
    for (const auto& c : chains) rows += c.draws.rows();
    Eigen::MatrixXd whitened(centre.size(), rows);
    Eigen::Index at = 0;
    for (const auto& c : chains)
        for (Eigen::Index d = 0; d < c.draws.rows(); ++d)
            whitened.col(at++) = lower.triangularView<Eigen::Lower>().solve(Eigen::VectorXd(c.draws.row(d).transpose() - centre));
    const Eigen::VectorXd mean = whitened.rowwise().mean();
    const Eigen::MatrixXd centred = whitened.colwise() - mean;
    const Eigen::MatrixXd covariance = centred * centred.transpose() / static_cast<double>(rows - 1);
    const Eigen::VectorXd eigenvalues = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(covariance).eigenvalues();
    std::printf("NUTS draws whitened by the MAP normal: |mean| %.3f (largest entry %.3f), covariance eigenvalues "
                "%.3f .. %.3f (sd ratios %.3f .. %.3f)\n",
                mean.norm(), mean.cwiseAbs().maxCoeff(), eigenvalues.minCoeff(), eigenvalues.maxCoeff(),
                std::sqrt(eigenvalues.minCoeff()), std::sqrt(eigenvalues.maxCoeff()));
    std::printf("MAP converged: %s\n", map.converged() ? "yes" : "no");
    return 0;
}
