// The MAP step on the HD163296-like benchmark problem (9 free parameters,
// shared/data/bench), by both of find_map()'s methods: L-BFGS-B with the
// finite-difference covariance, and Gauss-Newton (Levenberg-Marquardt) with
// the Gauss-Newton covariance. For each, with and without the beam: wall
// time (median and minimum of repeats, the two methods alternating), the
// likelihood's evaluations (values, gradients, Jacobian passes: the
// covariances' included), iterations, and the optimum's log p. Then how the
// two agree: the largest distance between the optima in posterior standard
// deviations, and the largest difference of the Hessians of -log p,
// max_ij |dH_ij| / sqrt(H_ii H_jj) (the correlation-scale difference, which
// weighs every entry by the curvatures it couples), in the constrained and
// the unconstrained space; the finite-difference Hessian is taken at the
// Gauss-Newton optimum for the comparison.
//
//   bench_map [--json] [--repeats N] [--data DIR]
//
// DIR (default: $DISKMC_DATA_DIR) holds bench/hd163296_like_*.fits; without
// it the same problem is built in memory from the noiseless model.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "diskmc/fit/hd163296_like.hpp"
#include "diskmc/fit/run.hpp"
#include "diskmc/inference/disk_likelihood.hpp"
#include "diskmc/inference/map.hpp"

namespace {

using namespace diskmc;

/// max_ij |a_ij - b_ij| / sqrt(b_ii b_jj).
double correlation_scale_difference(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
    const Eigen::VectorXd scale = b.diagonal().cwiseSqrt().cwiseInverse();
    return (scale.asDiagonal() * (a - b) * scale.asDiagonal()).cwiseAbs().maxCoeff();
}

const char* status_name(inference::map_status status) {
    switch (status) {
        case inference::map_status::gradient_converged: return "gradient converged";
        case inference::map_status::value_converged: return "value converged";
        case inference::map_status::max_iterations: return "max iterations";
        case inference::map_status::line_search_failed: return "stalled";
        case inference::map_status::start_not_finite: return "start not finite";
    }
    return "?";
}

struct method_run {
    inference::map_result result;
    std::size_t values = 0, gradients = 0, jacobians = 0;
    std::vector<double> seconds;
};

}  // namespace

int main(int argc, char** argv) {
    bench::json_repeats_data arguments{.repeats = 5};
    if (!bench::parse_json_repeats_data(argc, argv, "bench_map", arguments)) return 2;
    const auto& [json, repeats, data_dir] = arguments;
    const bool from_files = bench::has_bench_files(data_dir);
    try {
        if (!json)
            std::printf("MAP step, HD163296-like problem (%s), median of %d repeats\n",
                        from_files ? "shared/data/bench FITS files" : "built in memory: no data dir", repeats);
        for (bool beam : {false, true}) {
            const sky_map map = bench::bench_map(data_dir, beam);
            const inference::disk_family<> family;
            const auto mask = fit_mask(map, family.make<double>(bench::bench_start()), {.r_min = hd163296_like::r_min});
            const inference::disk_likelihood<> likelihood(map, mask, family, {.convolve_beam = beam, .threads = 1});
            const std::function<bool()> no_stop;
            detail::monitored_likelihood<inference::disk_likelihood<>> counted(likelihood, no_stop);
            const auto posterior =
                inference::make_posterior(inference::parameter_set(hd163296_like::parameters()), counted);

            method_run runs[2];
            const inference::map_method methods[2] = {inference::map_method::lbfgsb,
                                                      inference::map_method::gauss_newton};
            auto run = [&](int m) {
                const std::size_t values = counted.values(), gradients = counted.gradients(),
                                  jacobians = counted.jacobians();
                const auto start = std::chrono::steady_clock::now();
                runs[m].result = inference::find_map(posterior, {.method = methods[m]});
                runs[m].seconds.push_back(
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
                runs[m].values = counted.values() - values;
                runs[m].gradients = counted.gradients() - gradients;
                runs[m].jacobians = counted.jacobians() - jacobians;
            };
            for (int r = 0; r < repeats; ++r) {  // alternating: both see the same machine
                run(0);
                run(1);
            }
            const inference::map_result& gn = runs[1].result;
            const inference::map_result& lbfgs = runs[0].result;
            // Finite-difference Hessians at the Gauss-Newton optimum.
            const inference::parameter_set& parameters = posterior.parameters();
            const inference::covariance_estimate fd = inference::estimate_covariance(
                posterior, gn.point, parameters.lower_bounds(), parameters.upper_bounds());
            const auto for_nuts = inference::unconstrained(posterior);
            const Eigen::VectorXd open =
                Eigen::VectorXd::Constant(gn.point.size(), std::numeric_limits<double>::infinity());
            const inference::covariance_estimate fd_u =
                inference::estimate_covariance(for_nuts, gn.unconstrained_point, -open, open);
            const bool comparable = fd.status == inference::covariance_status::ok &&
                                    gn.covariance.status == inference::covariance_status::ok &&
                                    fd_u.status == inference::covariance_status::ok &&
                                    gn.unconstrained_covariance.status == inference::covariance_status::ok;
            const double hessian_difference =
                comparable ? correlation_scale_difference(gn.covariance.hessian, fd.hessian) : -1.0;
            const double unconstrained_difference =
                comparable ? correlation_scale_difference(gn.unconstrained_covariance.hessian, fd_u.hessian) : -1.0;
            const Eigen::VectorXd sd = comparable ? Eigen::VectorXd(fd.covariance.diagonal().cwiseSqrt())
                                                  : Eigen::VectorXd::Ones(gn.point.size());
            const double optimum_distance = ((gn.point - lbfgs.point).array() / sd.array()).abs().maxCoeff();

            for (int m = 0; m < 2; ++m) {
                const method_run& r = runs[m];
                const bench::timing t = bench::timing_of(runs[m].seconds);
                const char* name = m == 0 ? "lbfgsb" : "gauss_newton";
                if (json) {
                    std::printf("{\"beam\": %s, \"method\": \"%s\", \"pixels\": %lld, \"seconds\": %.4f, "
                                "\"min_seconds\": %.4f, \"values\": %zu, \"gradients\": %zu, \"jacobians\": %zu, "
                                "\"iterations\": %d, \"status\": \"%s\", \"log_density\": %.10g, "
                                "\"from_files\": %s}\n",
                                beam ? "true" : "false", name, static_cast<long long>(likelihood.pixel_count()),
                                t.median, t.minimum, r.values, r.gradients, r.jacobians, r.result.iterations,
                                status_name(r.result.status), r.result.log_density, from_files ? "true" : "false");
                } else {
                    std::printf("beam %-3s %-13s %8.3f s (min %8.3f)  %4zu values %5zu gradients %3zu Jacobians  "
                                "%4d iterations  %-18s log p %.10g\n",
                                beam ? "yes" : "no", name, t.median, t.minimum, r.values, r.gradients, r.jacobians,
                                r.result.iterations, status_name(r.result.status), r.result.log_density);
                }
            }
            // One pass of each kind at the optimum, alternating (ratios hold on a busy machine).
            const Eigen::VectorXd full = posterior.full_parameters(gn.point);
            Eigen::VectorXd gradient;
            Eigen::MatrixXd curvature;
            double sink = 0.0;
            const auto [gradient_time, jacobian_time] = bench::time_repeats_alternating(
                4 * repeats, [&] { sink += likelihood.log_likelihood_gradient(full, gradient); },
                [&] { sink += likelihood.log_likelihood_normal_equations(full, gradient, curvature); });
            const bench::timing value_time =
                bench::time_repeats(4 * repeats, [&] { sink += likelihood.log_likelihood(full); });
            if (sink == 1.2345) std::puts("");  // keep the work
            if (json) {
                std::printf("{\"beam\": %s, \"value_seconds\": %.6f, \"gradient_seconds\": %.6f, "
                            "\"jacobian_seconds\": %.6f, \"jacobian_per_gradient\": %.3f}\n",
                            beam ? "true" : "false", value_time.median, gradient_time.median, jacobian_time.median,
                            jacobian_time.median / gradient_time.median);
            } else {
                std::printf("beam %-3s one pass: value %.2f ms, gradient %.2f ms, Jacobian (J^T W J, J^T W r) %.2f ms "
                            "= %.2f gradients\n",
                            beam ? "yes" : "no", 1e3 * value_time.median, 1e3 * gradient_time.median,
                            1e3 * jacobian_time.median, jacobian_time.median / gradient_time.median);
            }
            if (json) {
                std::printf("{\"beam\": %s, \"optimum_distance_sd\": %.3g, \"hessian_difference\": %.3g, "
                            "\"unconstrained_hessian_difference\": %.3g}\n",
                            beam ? "true" : "false", optimum_distance, hessian_difference, unconstrained_difference);
            } else {
                std::printf("beam %-3s optima %.3g sd apart; Gauss-Newton vs finite-difference Hessian: max |dH_ij| / "
                            "sqrt(H_ii H_jj) = %.3g (constrained), %.3g (unconstrained)\n",
                            beam ? "yes" : "no", optimum_distance, hessian_difference, unconstrained_difference);
            }
        }
    } catch (const std::exception& error) {
        std::fprintf(stderr, "bench_map: %s\n", error.what());
        return 1;
    }
    return 0;
}
