#include <catch2/catch.hpp>

#include <Eigen/Eigenvalues>
#include <boost/math/distributions/chi_squared.hpp>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "diskmc/concepts/archetypes.hpp"
#include "diskmc/samplers/nuts.hpp"
#include "support/gaussian_target.hpp"
#include "support/nuts_targets.hpp"
#include "support/test_values.hpp"

namespace {

using diskmc::metric_kind;
using diskmc::metric_regularization;
using diskmc::nuts_chains_options;
using diskmc::nuts_options;
namespace detail = diskmc::detail;

// Dynamic-size vectors and matrices from lists. (Fixed-size Eigen types trip
// false -Warray-bounds warnings of g++ 12 with AVX-512.)
using diskmc::testing::vec;
Eigen::MatrixXd mat(std::initializer_list<std::initializer_list<double>> rows) {
    Eigen::MatrixXd m(static_cast<Eigen::Index>(rows.size()),
                      static_cast<Eigen::Index>(rows.begin()->size()));
    Eigen::Index i = 0;
    for (const auto& row : rows) m.row(i++) = vec(row).transpose();
    return m;
}

// Under the sanitizers (DISKMC_SANITIZED=1) runs shrink; tolerances are in
// Monte Carlo standard errors, so they stay honest at any size.
using diskmc::testing::sanitized;
std::size_t scaled(std::size_t iterations) {
    return sanitized() ? std::max<std::size_t>(iterations / 4, 100) : iterations;
}

using diskmc::testing::gaussian_target;
using diskmc::testing::make_gaussian;
using diskmc::testing::funnel;
using diskmc::testing::hierarchical_model;

// The 10-D Gaussian with condition number 1e4 and strong correlations.
const gaussian_target& ill_conditioned() {
    static const gaussian_target target = diskmc::testing::ill_conditioned_gaussian();
    return target;
}

// draws of coordinate j of every chain: samples x chains
Eigen::MatrixXd column_of_chains(const std::vector<Eigen::MatrixXd>& chains, Eigen::Index j) {
    Eigen::MatrixXd out(chains.front().rows(), static_cast<Eigen::Index>(chains.size()));
    for (std::size_t c = 0; c < chains.size(); ++c) out.col(static_cast<Eigen::Index>(c)) = chains[c].col(j);
    return out;
}

// |estimate - truth| in Monte Carlo standard errors, the error from the
// split ESS of the draws of f.
double standard_errors_off(const Eigen::MatrixXd& f_draws, double truth) {
    const double mean = f_draws.mean();
    const double sd = std::sqrt((f_draws.array() - mean).square().sum() /
                                static_cast<double>(f_draws.size() - 1));
    const double ess = diskmc::split_effective_sample_size(f_draws);
    return std::abs(mean - truth) / (sd / std::sqrt(ess));
}

// Every whitened coordinate has mean 0 and second moment 1 within 5 MCSE:
// the mean and the full covariance of the target are reproduced.
void check_gaussian_moments(const diskmc::nuts_chains_result& run, const gaussian_target& target) {
    std::vector<Eigen::MatrixXd> whitened;
    for (const auto& chain : run.chains) whitened.push_back(target.whiten(chain.draws));
    for (Eigen::Index j = 0; j < target.mean.size(); ++j) {
        CAPTURE(j);
        const Eigen::MatrixXd z = column_of_chains(whitened, j);
        CHECK(standard_errors_off(z, 0.0) < 5.0);
        CHECK(standard_errors_off(z.array().square().matrix(), 1.0) < 5.0);
    }
}

double min_bulk_ess(const diskmc::nuts_chains_result& run) {
    const auto summary = diskmc::summarize(run);
    double smallest = std::numeric_limits<double>::infinity();
    for (const auto& line : summary.parameters) smallest = std::min(smallest, line.ess_bulk);
    return smallest;
}

// A 2-D standard normal that misbehaves where x0 > 1.
enum class trouble {
    nan_gradient,
    nan_log_density,
    infinite_log_density,
    outside_support,
    unsized_gradient
};
struct troubled_normal {
    trouble kind;
    std::size_t dim() const { return 2; }
    double log_density(const Eigen::VectorXd& x) const {
        Eigen::VectorXd gradient;
        return log_density_gradient(x, gradient);
    }
    double log_density_gradient(const Eigen::VectorXd& x, Eigen::VectorXd& gradient) const {
        gradient = -x;
        if (x[0] <= 1.0) return -0.5 * x.squaredNorm();
        switch (kind) {
            case trouble::nan_gradient: gradient[1] = std::nan(""); return -0.5 * x.squaredNorm();
            case trouble::nan_log_density: return std::nan("");
            case trouble::infinite_log_density: return std::numeric_limits<double>::infinity();
            case trouble::outside_support: return -std::numeric_limits<double>::infinity();
            case trouble::unsized_gradient:  // allowed: the gradient is unspecified there
                gradient.resize(0);
                return -std::numeric_limits<double>::infinity();
        }
        return 0.0;
    }
};

// Stan's base_nuts transition written recursively, in Stan's own
// forward/backward bookkeeping, from the same leapfrog and criterion: the
// oracle for the resumable tree builder.
template <class Model>
struct recursive_nuts {
    recursive_nuts(const Model& model_, const detail::euclidean_metric& metric_,
                   detail::random_stream& rng_, double step_, std::size_t max_depth_)
        : model(model_), metric(metric_), rng(rng_), step(step_), max_depth(max_depth_) {}

    const Model& model;
    const detail::euclidean_metric& metric;
    // The same portable draws as the sampler: momenta by rng.normal(), the
    // multinomial and direction choices by rng.uniform().
    detail::random_stream& rng;
    double step;
    std::size_t max_depth;
    double max_energy_error = 1000.0;

    detail::phase_point z;
    int n_leapfrog = 0;
    double sum_metropolis = 0.0;
    bool divergent = false;

    struct stretch {
        double log_sum_weight = -std::numeric_limits<double>::infinity();
        Eigen::VectorXd rho, p_begin, v_begin, p_end, v_end;
    };

    bool build(std::size_t depth, double signed_step, double h0, detail::sampled_point& proposal,
               stretch& out) {
        if (depth == 0) {
            detail::leapfrog(model, z, metric, signed_step);
            ++n_leapfrog;
            const double h = std::isfinite(z.log_density) ? z.hamiltonian()
                                                           : std::numeric_limits<double>::infinity();
            if (h - h0 > max_energy_error) divergent = true;
            out.log_sum_weight = h0 - h;
            sum_metropolis += h0 - h > 0 ? 1.0 : std::exp(h0 - h);
            proposal = {z.position, z.gradient, z.log_density, z.kinetic_energy()};
            out.rho = z.momentum;
            out.p_begin = out.p_end = z.momentum;
            out.v_begin = out.v_end = z.velocity;
            return !divergent;
        }
        stretch first, second;
        if (!build(depth - 1, signed_step, h0, proposal, first)) return false;
        detail::sampled_point second_proposal;
        if (!build(depth - 1, signed_step, h0, second_proposal, second)) return false;
        out.log_sum_weight = detail::log_sum_exp(first.log_sum_weight, second.log_sum_weight);
        if (second.log_sum_weight > out.log_sum_weight ||
            rng.uniform() < std::exp(second.log_sum_weight - out.log_sum_weight))
            proposal = second_proposal;
        out.rho = first.rho + second.rho;
        out.p_begin = first.p_begin;
        out.v_begin = first.v_begin;
        out.p_end = second.p_end;
        out.v_end = second.v_end;
        return detail::no_u_turn(first.v_begin, second.v_end, out.rho) &&
               detail::no_u_turn(first.v_begin, second.v_begin, first.rho + second.p_begin) &&
               detail::no_u_turn(first.v_end, second.v_end, second.rho + first.p_end);
    }

    detail::transition_outcome transition(detail::sampled_point& current) {
        z.position = current.position;
        z.gradient = current.gradient;
        z.log_density = current.log_density;
        metric.sample_momentum(rng, z.momentum);
        metric.velocity(z.momentum, z.velocity);
        detail::phase_point forward_end = z, backward_end = z;
        const double h0 = z.hamiltonian();
        detail::sampled_point sample{current.position, current.gradient, current.log_density,
                                     z.kinetic_energy()};
        // p_{part}_{end}: momentum at one end of the forward or backward part.
        Eigen::VectorXd p_fwd_fwd = z.momentum, v_fwd_fwd = z.velocity;
        Eigen::VectorXd p_fwd_bck = z.momentum, v_fwd_bck = z.velocity;
        Eigen::VectorXd p_bck_fwd = z.momentum, v_bck_fwd = z.velocity;
        Eigen::VectorXd p_bck_bck = z.momentum, v_bck_bck = z.velocity;
        Eigen::VectorXd rho = z.momentum;
        double log_sum_weight = 0.0;
        n_leapfrog = 0;
        sum_metropolis = 0.0;
        divergent = false;
        std::size_t depth = 0;
        while (depth < max_depth) {
            Eigen::VectorXd rho_fwd = Eigen::VectorXd::Zero(rho.size());
            Eigen::VectorXd rho_bck = rho_fwd;
            stretch part;
            detail::sampled_point proposal;
            bool valid = false;
            if (rng.uniform() > 0.5) {
                z = forward_end;
                rho_bck = rho;
                p_bck_fwd = p_fwd_fwd;
                v_bck_fwd = v_fwd_fwd;
                valid = build(depth, step, h0, proposal, part);
                forward_end = z;
                rho_fwd = part.rho;
                p_fwd_bck = part.p_begin, v_fwd_bck = part.v_begin;
                p_fwd_fwd = part.p_end, v_fwd_fwd = part.v_end;
            } else {
                z = backward_end;
                rho_fwd = rho;
                p_fwd_bck = p_bck_bck;
                v_fwd_bck = v_bck_bck;
                valid = build(depth, -step, h0, proposal, part);
                backward_end = z;
                rho_bck = part.rho;
                p_bck_fwd = part.p_begin, v_bck_fwd = part.v_begin;
                p_bck_bck = part.p_end, v_bck_bck = part.v_end;
            }
            if (!valid) break;
            ++depth;
            if (part.log_sum_weight > log_sum_weight ||
                rng.uniform() < std::exp(part.log_sum_weight - log_sum_weight))
                sample = proposal;
            log_sum_weight = detail::log_sum_exp(log_sum_weight, part.log_sum_weight);
            rho = rho_bck + rho_fwd;
            const bool persist = detail::no_u_turn(v_bck_bck, v_fwd_fwd, rho) &&
                                 detail::no_u_turn(v_bck_bck, v_fwd_bck, rho_bck + p_fwd_bck) &&
                                 detail::no_u_turn(v_bck_fwd, v_fwd_fwd, rho_fwd + p_bck_fwd);
            if (!persist) break;
        }
        current = sample;
        detail::transition_outcome outcome;
        outcome.tree_depth = static_cast<int>(depth);
        outcome.n_leapfrog = n_leapfrog;
        outcome.divergent = divergent;
        outcome.accept_stat = sum_metropolis / n_leapfrog;
        outcome.energy = -sample.log_density + sample.kinetic_energy;
        return outcome;
    }
};

template <class Model>
void check_against_recursive_reference(const Model& model, const Eigen::MatrixXd& inverse_metric,
                                       metric_kind kind, double step, std::size_t max_depth,
                                       const Eigen::VectorXd& init, int transitions,
                                       int& divergences, int& capped) {
    detail::euclidean_metric metric;
    REQUIRE(metric.set_inverse(kind, inverse_metric));
    detail::sampled_point start;
    start.position = init;
    start.log_density = model.log_density_gradient(init, start.gradient);

    detail::random_stream rng_a(99), rng_b(99);
    recursive_nuts<Model> reference{model, metric, rng_a, step, max_depth};
    detail::nuts_transition<detail::random_stream> machine(init.size(), max_depth);
    detail::sampled_point current_a = start, current_b = start;
    for (int t = 0; t < transitions; ++t) {
        CAPTURE(t);
        const detail::transition_outcome expected = reference.transition(current_a);
        machine.start(current_b, metric, step, max_depth, 1000.0, true, rng_b);
        while (machine.needs_evaluation())
            machine.resume(model.log_density_gradient(machine.pending_position(),
                                                      machine.pending_gradient()));
        current_b = machine.sample();
        const detail::transition_outcome& got = machine.outcome();
        REQUIRE(got.n_leapfrog == expected.n_leapfrog);
        REQUIRE(got.tree_depth == expected.tree_depth);
        REQUIRE(got.divergent == expected.divergent);
        REQUIRE(got.accept_stat == expected.accept_stat);
        REQUIRE(got.energy == expected.energy);
        REQUIRE(current_b.position == current_a.position);
        REQUIRE(rng_b.state() == rng_a.state());  // the same draws consumed
        divergences += got.divergent;
        capped += got.tree_depth == static_cast<int>(max_depth);
    }
}

}  // namespace

// ---- the integrator and the tree -------------------------------------------------

TEST_CASE("leapfrog conserves energy to O(eps^2) and is reversible", "[nuts][integrator]") {
    Eigen::VectorXd sds(2);
    sds << 1.0, 0.3;
    const gaussian_target target = make_gaussian(sds, true, 5);
    detail::euclidean_metric metric;
    Eigen::MatrixXd inverse(2, 2);
    inverse << 1.5, 0.4, 0.4, 0.7;
    REQUIRE(metric.set_inverse(metric_kind::dense, inverse));

    detail::phase_point start;
    start.position = target.mean + vec({0.8, -0.5});
    start.log_density = target.log_density_gradient(start.position, start.gradient);
    start.momentum = vec({0.9, 1.3});
    metric.velocity(start.momentum, start.velocity);

    auto max_energy_error = [&](double step) {
        detail::phase_point z = start;
        double worst = 0.0;
        for (int i = 0; i < static_cast<int>(std::lround(2.0 / step)); ++i) {
            detail::leapfrog(target, z, metric, step);
            worst = std::max(worst, std::abs(z.hamiltonian() - start.hamiltonian()));
        }
        return worst;
    };
    const double coarse = max_energy_error(0.1);
    const double medium = max_energy_error(0.05);
    const double fine = max_energy_error(0.025);
    CHECK(coarse / medium == Approx(4.0).epsilon(0.15));
    CHECK(medium / fine == Approx(4.0).epsilon(0.15));

    // Forward 50 steps, flip the momentum, 50 more: back at the start.
    detail::phase_point z = start;
    for (int i = 0; i < 50; ++i) detail::leapfrog(target, z, metric, 0.1);
    CHECK((z.position - start.position).norm() > 0.1);
    z.momentum = -z.momentum;
    metric.velocity(z.momentum, z.velocity);
    for (int i = 0; i < 50; ++i) detail::leapfrog(target, z, metric, 0.1);
    CHECK((z.position - start.position).norm() < 1e-12);
    CHECK((z.momentum + start.momentum).norm() < 1e-12);
}

TEST_CASE("the resumable tree builder reproduces Stan's recursive NUTS exactly", "[nuts][tree]") {
    int divergences = 0, capped = 0;
    // Small steps on a correlated Gaussian: deep trees, some at the cap.
    const gaussian_target& target = ill_conditioned();
    Eigen::MatrixXd inverse = target.covariance.diagonal();
    check_against_recursive_reference(target, inverse, metric_kind::diagonal, 0.05, 6, target.mean,
                                      300, divergences, capped);
    check_against_recursive_reference(target, target.covariance, metric_kind::dense, 0.4, 10,
                                      target.mean, 300, divergences, capped);
    CHECK(capped > 10);
    // Big steps near a hard wall: divergences.
    const troubled_normal wall{trouble::outside_support};
    check_against_recursive_reference(wall, Eigen::VectorXd::Ones(2), metric_kind::unit, 1.2, 10,
                                      vec({0.5, 0.0}), 300, divergences, capped);
    CHECK(divergences > 10);
}

TEST_CASE("the sub-tree checks catch a U-turn the whole-segment check misses", "[nuts][tree]") {
    // Two one-state halves in 1-D moving apart then back: p = +1 then -0.5.
    detail::subtree first, second;
    first.rho = first.momentum_begin = first.momentum_end = Eigen::VectorXd::Constant(1, 1.0);
    first.velocity_begin = first.velocity_end = first.rho;
    second.rho = second.momentum_begin = second.momentum_end = Eigen::VectorXd::Constant(1, 3.0);
    second.velocity_begin = second.velocity_end = second.rho;
    CHECK(detail::joined_no_u_turn(first, second));

    // A 2-D case: the joined segment looks fine, but the first half already
    // turned against the second half's first state.
    first.rho = vec({2.0, 0.0});
    first.momentum_begin = first.velocity_begin = vec({1.0, 1.0});
    first.momentum_end = first.velocity_end = vec({1.0, -1.0});
    second.rho = vec({2.0, 4.0});
    second.momentum_begin = second.velocity_begin = vec({-3.0, 1.0});
    second.momentum_end = second.velocity_end = vec({5.0, 3.0});
    const Eigen::VectorXd whole = first.rho + second.rho;
    CHECK(detail::no_u_turn(first.velocity_begin, second.velocity_end, whole));
    CHECK_FALSE(detail::joined_no_u_turn(first, second));
}

// ---- adaptation pieces ------------------------------------------------------------

TEST_CASE("Stan's adaptation windows", "[nuts][adaptation]") {
    using windows = detail::adaptation_windows;
    CHECK(windows(1000, 75, 25, 50).window_ends() == std::vector<std::size_t>{99, 149, 249, 449, 949});
    CHECK(windows(2000, 75, 25, 50).window_ends() ==
          std::vector<std::size_t>{99, 149, 249, 449, 849, 1949});
    CHECK(windows(150, 75, 25, 50).window_ends() == std::vector<std::size_t>{99});
    // Too short for 75 + 25 + 50: 15% / 75% / 10%.
    const windows short_warmup(100, 75, 25, 50);
    CHECK(short_warmup.window_ends() == std::vector<std::size_t>{89});
    CHECK_FALSE(short_warmup.collects(14));
    CHECK(short_warmup.collects(15));
    CHECK(short_warmup.collects(89));
    CHECK_FALSE(short_warmup.collects(90));
    CHECK(windows(19, 75, 25, 50).window_ends().empty());
    CHECK_FALSE(windows(19, 75, 25, 50).collects(10));
    const windows standard(1000, 75, 25, 50);
    CHECK_FALSE(standard.collects(74));
    CHECK(standard.collects(75));
    CHECK(standard.closes_window(449));
    CHECK_FALSE(standard.closes_window(450));
    CHECK_FALSE(standard.collects(950));
}

TEST_CASE("dual averaging finds the step size of the target acceptance", "[nuts][adaptation]") {
    // A synthetic acceptance curve alpha(eps) = exp(-eps): target 0.8 at eps = -log 0.8.
    detail::dual_averaging adaptation(0.8, 0.05, 10.0, 0.75);
    double step = 1.0;
    adaptation.restart(step);
    for (int i = 0; i < 3000; ++i) step = adaptation.update(std::exp(-step));
    CHECK(adaptation.averaged_step_size(0.0) == Approx(-std::log(0.8)).epsilon(0.02));
    adaptation.restart(1.0);
    CHECK(adaptation.averaged_step_size(0.5) == 0.5);  // nothing learnt yet
}

TEST_CASE("metric regularisation rules", "[nuts][adaptation]") {
    Eigen::MatrixXd estimate(2, 2);
    estimate << 4e-8, 1e-8, 1e-8, 9.0;
    const std::size_t n = 95;  // weights 0.95 and 0.05
    const Eigen::MatrixXd stan =
        detail::regularize_inverse_metric(estimate, n, metric_regularization::stan_fixed, {});
    CHECK(stan(0, 0) == Approx(0.95 * 4e-8 + 0.05 * 1e-3));  // 1250x the variance
    CHECK(stan(1, 0) == Approx(0.95e-8));
    CHECK(stan(1, 1) == Approx(0.95 * 9.0 + 0.05e-3));

    const Eigen::MatrixXd relative =
        detail::regularize_inverse_metric(estimate, n, metric_regularization::scale_relative, {});
    CHECK(relative(0, 0) == 4e-8);  // variances kept, correlations shrunk
    CHECK(relative(1, 1) == 9.0);
    CHECK(relative(0, 1) == Approx(0.95e-8));

    Eigen::MatrixXd target(2, 2);
    target << 5e-8, 0.0, 0.0, 10.0;
    const Eigen::MatrixXd toward =
        detail::regularize_inverse_metric(estimate, n, metric_regularization::scale_relative, target);
    CHECK(toward(0, 0) == Approx(0.95 * 4e-8 + 0.05 * 5e-8));
    CHECK(toward(1, 1) == Approx(0.95 * 9.0 + 0.05 * 10.0));

    CHECK(detail::regularize_inverse_metric(estimate, n, metric_regularization::none, {}) == estimate);
    const Eigen::MatrixXd variances = estimate.diagonal();
    CHECK(detail::regularize_inverse_metric(variances, n, metric_regularization::scale_relative, {}) ==
          variances);
}

// ---- sampling known targets --------------------------------------------------------

TEST_CASE("dense NUTS samples a 10-D Gaussian with condition number 1e4, and beats the "
          "diagonal metric by >= 3x in ESS per gradient",
          "[nuts][gaussian]") {
    const gaussian_target& target = ill_conditioned();
    const Eigen::VectorXd init = target.mean + target.lower * Eigen::VectorXd::Constant(10, 0.5);
    // Full length even under the sanitizers: R-hat < 1.01 is a claim about a
    // converged run, and with a quarter of the draws R-hat's own noise is
    // close to 0.01 (a sanitized run read 1.0103).
    nuts_chains_options dense{.sampler = {.warmup = 1000, .samples = 1000, .metric = metric_kind::dense},
                              .chains = 4, .threads = 2};
    const auto run = diskmc::nuts_chains(target, init, dense, 7);
    check_gaussian_moments(run, target);
    const auto summary = diskmc::summarize(run);
    CHECK(summary.warnings.empty());
    for (const auto& line : summary.parameters) CHECK(line.rhat < 1.01);

    nuts_chains_options diagonal = dense;
    diagonal.sampler.metric = metric_kind::diagonal;
    const auto diagonal_run = diskmc::nuts_chains(target, init, diagonal, 7);
    const double dense_efficiency = min_bulk_ess(run) / static_cast<double>(run.gradient_evaluations());
    const double diagonal_efficiency =
        min_bulk_ess(diagonal_run) / static_cast<double>(diagonal_run.gradient_evaluations());
    WARN("ESS per 1000 gradients: dense " << 1000 * dense_efficiency << ", diagonal "
                                         << 1000 * diagonal_efficiency);
    CHECK(dense_efficiency >= 3.0 * diagonal_efficiency);
}

TEST_CASE("NUTS samples a 100-D iid Gaussian", "[nuts][gaussian]") {
    const gaussian_target target = make_gaussian(Eigen::VectorXd::Ones(100), false, 8);
    const auto run = diskmc::nuts_chains(
        target, target.mean,
        nuts_chains_options{.sampler = {.warmup = scaled(500), .samples = scaled(1000)},
                            .chains = 2, .threads = 2},
        8);
    check_gaussian_moments(run, target);
    for (const auto& chain : run.chains) {
        CHECK(chain.inverse_metric.rows() == 100);
        CHECK(chain.inverse_metric.cols() == 1);
        double mean_accept = 0.0;
        for (const auto& it : chain.sampling) mean_accept += it.accept_stat;
        mean_accept /= static_cast<double>(chain.sampling.size());
        CHECK(mean_accept > 0.7);
        CHECK(mean_accept < 0.97);
    }
}

TEST_CASE("Neal's funnel: divergences are reported, nothing crashes", "[nuts][funnel]") {
    Eigen::VectorXd init = Eigen::VectorXd::Constant(10, 0.5);
    const auto run = diskmc::nuts_chains(
        funnel{}, init,
        nuts_chains_options{.sampler = {.warmup = scaled(500), .samples = scaled(500)},
                            .chains = 4, .threads = 2},
        9);
    std::size_t divergent = 0;
    for (const auto& chain : run.chains) {
        CHECK(chain.draws.allFinite());
        for (const auto& it : chain.sampling) {
            divergent += it.divergent;
            CHECK(std::isfinite(it.energy));
            CHECK(std::isfinite(it.accept_stat));
        }
        CHECK(diskmc::hmc_report(chain).divergences ==
              static_cast<std::size_t>(std::count_if(chain.sampling.begin(), chain.sampling.end(),
                                                     [](const auto& it) { return it.divergent; })));
    }
    CHECK(divergent > 0);
    const auto summary = diskmc::summarize(run, {"v", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9"});
    bool warned = false;
    for (const auto& warning : summary.warnings)
        warned = warned || warning.find("ended with a divergence") != std::string::npos;
    CHECK(warned);
}

TEST_CASE("simulation-based calibration on a hierarchical model", "[nuts][sbc]") {
    // Talts et al. (2018): draw the parameters from the prior, data from them,
    // and rank the true value among thinned posterior draws; a calibrated
    // sampler gives uniform ranks. 10 bins, chi-square test.
    // Under the sanitizers each run is shorter, never the number of
    // replicates: the chi-square test needs them for its power.
    const std::size_t replicates = 200;
    const int bins = 10;
    const Eigen::Index kept = 99, thin = sanitized() ? 2 : 4;
    const std::size_t warmup = sanitized() ? 150 : 300;
    std::mt19937_64 prior_rng(17);
    std::normal_distribution<double> normal;
    std::vector<int> counts_mu(bins, 0), counts_s(bins, 0), counts_narrow(bins, 0);
    for (std::size_t r = 0; r < replicates; ++r) {
        Eigen::VectorXd truth(6);
        truth[0] = normal(prior_rng);
        truth[1] = hierarchical_model::s_mean + hierarchical_model::s_sd * normal(prior_rng);
        for (int j = 2; j < 6; ++j) truth[j] = normal(prior_rng);
        hierarchical_model model;
        for (int j = 0; j < 4; ++j)
            model.y[j] = truth[0] + std::exp(truth[1]) * truth[2 + j] + normal(prior_rng);

        std::mt19937_64 rng(1000 + r);
        const auto result = diskmc::nuts(
            model, Eigen::VectorXd::Zero(6),
            nuts_options{.warmup = warmup, .samples = static_cast<std::size_t>(kept * thin)}, rng);
        for (int parameter : {0, 1}) {
            int rank = 0, narrow_rank = 0;
            const Eigen::VectorXd draws = result.draws.col(parameter);
            const double centre = draws.mean();
            for (Eigen::Index i = thin - 1; i < draws.size(); i += thin) {
                rank += draws[i] < truth[parameter];
                // A deliberately miscalibrated posterior, 30% too narrow.
                narrow_rank += centre + 0.7 * (draws[i] - centre) < truth[parameter];
            }
            (parameter == 0 ? counts_mu : counts_s)[rank * bins / (kept + 1)] += 1;
            if (parameter == 0) counts_narrow[narrow_rank * bins / (kept + 1)] += 1;
        }
    }
    auto p_value = [&](const std::vector<int>& counts) {
        const double expected = static_cast<double>(replicates) / bins;
        double chi2 = 0.0;
        for (int count : counts) chi2 += (count - expected) * (count - expected) / expected;
        return boost::math::cdf(boost::math::complement(boost::math::chi_squared(bins - 1), chi2));
    };
    CHECK(p_value(counts_mu) > 0.001);
    CHECK(p_value(counts_s) > 0.001);
    // The test has power: a posterior 30% too narrow fails it.
    CHECK(p_value(counts_narrow) < 0.001);
}

// ---- tree depth, adaptation, options -------------------------------------------------

TEST_CASE("n_leapfrog <= 2^max_tree_depth - 1, with separate warmup and sampling caps",
          "[nuts][depth]") {
    const gaussian_target& target = ill_conditioned();
    std::mt19937_64 rng(10);
    const auto result = diskmc::nuts(
        target, target.mean,
        nuts_options{.warmup = 300, .samples = 300, .max_tree_depth = 4, .max_tree_depth_warmup = 2},
        rng);
    for (const auto& it : result.warmup) {
        CHECK(it.tree_depth <= 2);
        CHECK(it.n_leapfrog <= 3);
        CHECK(it.n_leapfrog >= 1);
    }
    int at_cap = 0;
    for (const auto& it : result.sampling) {
        CHECK(it.tree_depth <= 4);
        CHECK(it.n_leapfrog <= 15);
        at_cap += it.tree_depth == 4;
    }
    CHECK(at_cap > 0);
    const auto report = diskmc::hmc_report(result);
    CHECK(report.max_depth_hits == static_cast<std::size_t>(at_cap));
    const auto warnings = diskmc::hmc_warnings({report});
    REQUIRE_FALSE(warnings.empty());
    CHECK_THAT(warnings.back(), Catch::Contains("transitions hit the maximum tree depth of 4"));
}

TEST_CASE("fixed_tree_depth: static multinomial HMC of 2^d - 1 steps samples correctly",
          "[nuts][depth]") {
    // The U-turn criterion is off: every transition is the full tree, in
    // warmup and sampling, whatever max_tree_depth says; the draws still
    // have the target's mean and covariance.
    const gaussian_target target = make_gaussian(diskmc::testing::log_spaced(0.5, 2.0, 6), true, 12);
    const auto run = diskmc::nuts_chains(
        target, target.mean,
        nuts_chains_options{.sampler = {.warmup = scaled(400),
                                        .samples = scaled(1000),
                                        .max_tree_depth = 1,
                                        .fixed_tree_depth = 3,
                                        .metric = metric_kind::dense},
                            .chains = 2,
                            .threads = 1},
        12);
    check_gaussian_moments(run, target);
    for (const auto& chain : run.chains) {
        CHECK(chain.max_tree_depth == 3);
        for (const auto* stage : {&chain.warmup, &chain.sampling})
            for (const auto& it : *stage) {
                if (it.divergent) continue;
                CHECK(it.tree_depth == 3);
                CHECK(it.n_leapfrog == 7);
            }
    }
    // NUTS on the same target stops earlier than 7 steps some of the time:
    // the option changed the trajectories.
    const auto adaptive = diskmc::nuts_chains(
        target, target.mean,
        nuts_chains_options{.sampler = {.warmup = scaled(400), .samples = scaled(400),
                                        .metric = metric_kind::dense},
                            .chains = 1},
        12);
    const auto& sampling = adaptive.chains.front().sampling;
    CHECK(std::any_of(sampling.begin(), sampling.end(), [](const auto& it) { return it.n_leapfrog != 7; }));
}

TEST_CASE("the adapted metric matches the true covariance within sampling error",
          "[nuts][adaptation]") {
    // Final window of a 2000-iteration warmup: 1100 draws. NUTS draws of a
    // well-adapted Gaussian are nearly independent; allow an ESS of half that.
    const double effective = 550.0;
    SECTION("dense") {
        gaussian_target target = make_gaussian(vec({0.01, 1.0, 100.0}), false, 11);
        const Eigen::MatrixXd correlation = mat({{1.0, 0.9, 0.5}, {0.9, 1.0, 0.3}, {0.5, 0.3, 1.0}});
        const Eigen::MatrixXd scale = vec({0.01, 1.0, 100.0}).asDiagonal();
        target.set_covariance(scale * correlation * scale);
        std::mt19937_64 rng(12);
        const auto result = diskmc::nuts(
            target, target.mean,
            nuts_options{.warmup = 2000, .samples = 0, .metric = metric_kind::dense}, rng);
        // Whitened by the truth, the adapted covariance should be the identity.
        const auto lower = target.lower.triangularView<Eigen::Lower>();
        Eigen::MatrixXd whitened = lower.solve(result.inverse_metric);
        whitened = lower.solve(whitened.transpose()).transpose().eval();
        for (Eigen::Index i = 0; i < 3; ++i)
            for (Eigen::Index j = 0; j < 3; ++j) {
                CAPTURE(i, j);
                const double tolerance = 4.0 * std::sqrt((i == j ? 2.0 : 1.0) / effective);
                CHECK(std::abs(whitened(i, j) - (i == j ? 1.0 : 0.0)) < tolerance);
            }
        CHECK(result.metric_updates == 6);
    }
    SECTION("diagonal") {
        Eigen::VectorXd sds(5);
        sds << 1e-3, 0.1, 1.0, 10.0, 1e3;
        const gaussian_target target = make_gaussian(sds, false, 13);
        std::mt19937_64 rng(14);
        const auto result =
            diskmc::nuts(target, target.mean, nuts_options{.warmup = 2000, .samples = 0}, rng);
        REQUIRE(result.inverse_metric.cols() == 1);
        for (Eigen::Index i = 0; i < 5; ++i) {
            CAPTURE(i);
            CHECK(std::abs(result.inverse_metric(i, 0) / (sds[i] * sds[i]) - 1.0) <
                  4.0 * std::sqrt(2.0 / effective));
        }
    }
}

TEST_CASE("Stan's fixed shrinkage inflates tiny variances, the scale-relative rule does not",
          "[nuts][adaptation]") {
    Eigen::VectorXd sds(4);
    sds << 1e-4, 1e-2, 1.0, 1e2;
    const gaussian_target target = make_gaussian(sds, false, 15);
    std::mt19937_64 rng_a(16), rng_b(16);
    const auto relative = diskmc::nuts(target, target.mean, nuts_options{.samples = 200}, rng_a);
    const auto stan = diskmc::nuts(
        target, target.mean,
        nuts_options{.samples = 200, .regularization = metric_regularization::stan_fixed}, rng_b);
    // Last window of a 1000-iteration warmup: 500 draws, weight 5/505 on 1e-3.
    CHECK(stan.inverse_metric(0, 0) > 0.9 * 1e-3 * 5.0 / 505.0);
    CHECK(relative.inverse_metric(0, 0) / 1e-8 == Approx(1.0).epsilon(0.25));
    // The inflated direction caps the step: 2 sqrt(1e-8 / 1e-5) ~ 0.06.
    CHECK(stan.step_size < 0.1);
    CHECK(relative.step_size > 3.0 * stan.step_size);
}

TEST_CASE("a user-supplied step size and metric are used as given without adaptation",
          "[nuts][options]") {
    const gaussian_target target = make_gaussian(vec({1.0, 2.0, 3.0}), false, 17);
    const Eigen::VectorXd variances = vec({1.0, 4.0, 9.0});
    std::mt19937_64 rng(18);
    const auto result = diskmc::nuts(
        target, target.mean,
        nuts_options{.warmup = 50, .samples = 100, .inverse_metric = variances, .adapt_metric = false,
                     .step_size = 0.3, .adapt_step_size = false},
        rng);
    CHECK(result.step_size == 0.3);
    CHECK(result.inverse_metric == Eigen::MatrixXd(variances));
    for (const auto& it : result.warmup) CHECK(it.step_size == 0.3);
    for (const auto& it : result.sampling) CHECK(it.step_size == 0.3);

    // Jitter spreads the step sizes within (1 +- jitter) of the step.
    std::mt19937_64 rng2(19);
    const auto jittered = diskmc::nuts(
        target, target.mean,
        nuts_options{.warmup = 0, .samples = 200, .step_size = 0.3, .adapt_step_size = false,
                     .step_size_jitter = 0.5},
        rng2);
    double smallest = 1.0, largest = 0.0;
    for (const auto& it : jittered.sampling) {
        smallest = std::min(smallest, it.step_size);
        largest = std::max(largest, it.step_size);
    }
    CHECK(smallest >= 0.15);
    CHECK(largest <= 0.45);
    CHECK(largest - smallest > 0.2);
}

TEST_CASE("starting from the MAP and its covariance shortens trees from the first iteration",
          "[nuts][options]") {
    const gaussian_target& target = ill_conditioned();
    std::mt19937_64 rng_a(20), rng_b(20);
    const nuts_options cold{.warmup = 150, .samples = 0, .metric = metric_kind::dense};
    nuts_options warm = cold;
    warm.inverse_metric = target.covariance;
    const auto from_map = diskmc::nuts(target, target.mean, warm, rng_a);
    const auto from_identity = diskmc::nuts(target, target.mean, cold, rng_b);
    auto mean_leapfrog = [](const diskmc::nuts_result& result) {
        double sum = 0.0;
        for (std::size_t i = 0; i < 75; ++i) sum += result.warmup[i].n_leapfrog;  // the init buffer
        return sum / 75.0;
    };
    CHECK(mean_leapfrog(from_map) < 10.0);
    CHECK(mean_leapfrog(from_identity) > 3.0 * mean_leapfrog(from_map));
}

TEST_CASE("standardising with an approximate covariance samples a badly scaled target",
          "[nuts][options]") {
    Eigen::VectorXd sds(5);
    sds << 1e-4, 1e-3, 0.1, 10.0, 100.0;
    const gaussian_target target = make_gaussian(sds, true, 21);
    // Like a MAP covariance: right shape, 50% too wide.
    nuts_chains_options options{.sampler = {.warmup = 1000, .samples = scaled(1000),
                                            .standardize_covariance = 1.5 * target.covariance},
                                .chains = 2, .threads = 2};
    const auto run = diskmc::nuts_chains(target, target.mean, options, 22);
    check_gaussian_moments(run, target);
    // In z = L^{-1}(theta - m) the posterior covariance is I / 1.5; the last
    // window has 500 draws (allow an ESS of half that).
    for (const auto& chain : run.chains)
        for (Eigen::Index i = 0; i < 5; ++i)
            CHECK(chain.inverse_metric(i, 0) ==
                  Approx(1.0 / 1.5).epsilon(4.0 * std::sqrt(2.0 / 250.0)));
}

TEST_CASE("draws are returned in both spaces with a transform", "[nuts][options]") {
    const gaussian_target target = make_gaussian(vec({1.0, 0.5}), false, 23);
    std::mt19937_64 rng(24);
    const auto to_positive = [](const Eigen::VectorXd& x) -> Eigen::VectorXd {
        return x.array().exp();
    };
    const auto result =
        diskmc::nuts(target, target.mean, nuts_options{.warmup = 100, .samples = 50}, rng, to_positive);
    REQUIRE(result.transformed_draws.rows() == 50);
    CHECK(result.transformed_draws == result.draws.array().exp().matrix());
    const auto run = diskmc::nuts_chains(
        target, target.mean, nuts_chains_options{.sampler = {.warmup = 100, .samples = 50}, .chains = 2},
        25, to_positive);
    for (const auto& chain : run.chains)
        CHECK(chain.transformed_draws == chain.draws.array().exp().matrix());
    CHECK(diskmc::summarize(run, {}, true).parameters[0].p50 > 0);
}

TEST_CASE("NaN or infinite log-density or gradient mid-trajectory is a divergence, never a crash",
          "[nuts][robustness]") {
    for (trouble kind : {trouble::nan_gradient, trouble::nan_log_density,
                         trouble::infinite_log_density, trouble::outside_support,
                         trouble::unsized_gradient}) {
        CAPTURE(static_cast<int>(kind));
        std::mt19937_64 rng(26);
        const auto result = diskmc::nuts(troubled_normal{kind}, vec({0.0, 0.0}),
                                         nuts_options{.warmup = scaled(1000), .samples = scaled(2000)}, rng);
        CHECK(result.draws.allFinite());
        CHECK(result.draws.col(0).maxCoeff() <= 1.0);  // no state past the wall is ever kept
        const std::size_t divergences = diskmc::hmc_report(result).divergences;
        CHECK(divergences > 0);
        for (const auto& it : result.sampling) CHECK(std::isfinite(it.log_density));
        // -infinity (with or without a gradient) is the contract outside the
        // support; NaN, +infinity and a NaN gradient break it and are counted.
        const bool broken = kind == trouble::nan_gradient || kind == trouble::nan_log_density ||
                            kind == trouble::infinite_log_density;
        if (broken) {
            CHECK(result.non_finite_evaluations > 0);
            // Every sampling divergence here hit the wall, so each counted one
            // of them; warmup's step-size trials count too.
            CHECK(result.non_finite_evaluations >= divergences);
        } else {
            CHECK(result.non_finite_evaluations == 0);
        }
        if (kind == trouble::outside_support) {
            // A normal truncated at 1: mean -phi(1)/Phi(1).
            Eigen::MatrixXd x0 = result.draws.col(0);
            CHECK(standard_errors_off(x0, -0.24197072451914337 / 0.8413447460685429) < 5.0);
        }
    }
}

TEST_CASE("a model returning NaN in part of the space is counted and warned about, the chains stay finite",
          "[nuts][robustness]") {
    const troubled_normal model{trouble::nan_log_density};
    const auto run = diskmc::nuts_chains(model, vec({0.0, 0.0}),
                                         nuts_chains_options{.sampler = {.warmup = 300, .samples = 300},
                                                             .chains = 2, .threads = 1},
                                         41);
    std::size_t total = 0;
    for (const auto& chain : run.chains) {
        CHECK(chain.draws.allFinite());
        CHECK(chain.draws.col(0).maxCoeff() <= 1.0);
        CHECK(chain.non_finite_evaluations > 0);
        total += chain.non_finite_evaluations;
    }
    CHECK(run.non_finite_evaluations() == total);
    const auto summary = diskmc::summarize(run);
    bool warned = false;
    for (const auto& warning : summary.warnings)
        warned = warned || warning.find("The model returned a NaN or +infinity log-density, or a "
                                        "non-finite gradient, at " +
                                        std::to_string(total) + " point(s)") != std::string::npos;
    CHECK(warned);

    // A well-behaved model gets no such warning.
    const auto clean = diskmc::nuts_chains(troubled_normal{trouble::outside_support}, vec({0.0, 0.0}),
                                           nuts_chains_options{.sampler = {.warmup = 300, .samples = 300},
                                                               .chains = 2, .threads = 1},
                                           41);
    CHECK(clean.non_finite_evaluations() == 0);
    for (const auto& warning : diskmc::summarize(clean).warnings)
        CHECK(warning.find("NaN") == std::string::npos);
}

TEST_CASE("the HMC report carries the run's target_accept and metric, for the advice",
          "[nuts][robustness]") {
    const gaussian_target target = make_gaussian(vec({1.0, 2.0}), true, 7);
    std::mt19937_64 rng(43);
    const auto result = diskmc::nuts(target, target.mean,
                                     nuts_options{.warmup = 100, .samples = 50,
                                                  .metric = metric_kind::dense, .target_accept = 0.97},
                                     rng);
    const auto report = diskmc::hmc_report(result);
    CHECK(report.target_accept == 0.97);
    CHECK(report.dense_metric);
}

// ---- chains, threads, lockstep -----------------------------------------------------

TEST_CASE("draws are identical for any thread count and in lockstep", "[nuts][threads]") {
    const gaussian_target& target = ill_conditioned();
    Eigen::MatrixXd inits(10, 3);
    for (Eigen::Index c = 0; c < 3; ++c)
        inits.col(c) = target.mean + target.lower * Eigen::VectorXd::Constant(10, 0.3 * (c + 1));
    // Started from the covariance, so trees stay short: lockstep rounds
    // synchronise threads, which is slow on a loaded machine.
    nuts_chains_options options{.sampler = {.warmup = 150, .samples = 50,
                                            .metric = metric_kind::dense,
                                            .inverse_metric = target.covariance},
                                .chains = 3, .threads = 1};
    const auto reference = diskmc::nuts_chains(target, inits, options, 27);
    auto same = [&](const diskmc::nuts_chains_result& other) {
        REQUIRE(other.chains.size() == 3);
        for (std::size_t c = 0; c < 3; ++c) {
            CAPTURE(c);
            CHECK(other.chains[c].draws == reference.chains[c].draws);
            CHECK(other.chains[c].step_size == reference.chains[c].step_size);
            CHECK(other.chains[c].inverse_metric == reference.chains[c].inverse_metric);
            CHECK(other.chains[c].gradient_evaluations() == reference.chains[c].gradient_evaluations());
        }
    };
    for (std::size_t threads : {2u, 3u}) {
        options.threads = threads;
        options.lockstep = false;
        same(diskmc::nuts_chains(target, inits, options, 27));
        options.lockstep = true;
        const auto lockstep = diskmc::nuts_chains(target, inits, options, 27);
        same(lockstep);
        // Each round evaluates at least one chain; rounds cover the longest chain.
        CHECK(lockstep.lockstep_rounds <= lockstep.gradient_evaluations());
        CHECK(3 * lockstep.lockstep_rounds + 3 >= lockstep.gradient_evaluations());  // + starts
    }
    // Different chains differ, and a different seed changes them.
    CHECK(reference.chains[0].draws != reference.chains[1].draws);
    options.lockstep = false;
    CHECK(diskmc::nuts_chains(target, inits, options, 28).chains[0].draws != reference.chains[0].draws);
}

TEST_CASE("the progress callback sees every iteration, changes no draw, and can stop the run",
          "[nuts][progress][threads]") {
    const gaussian_target target = diskmc::testing::make_gaussian(vec({1.0, 2.0, 0.5}), true, 5);
    const Eigen::MatrixXd inits = target.mean;
    nuts_chains_options options{.sampler = {.warmup = 60, .samples = 40}, .chains = 3, .threads = 1};
    const auto plain = diskmc::nuts_chains(target, inits, options, 31);

    std::vector<diskmc::nuts_progress> seen;
    int concurrent = 0;
    bool overlapped = false;
    options.sampler.progress = [&](const diskmc::nuts_progress& p) {
        overlapped |= ++concurrent > 1;  // the runner serialises the calls
        seen.push_back(p);
        --concurrent;
        return true;
    };
    for (std::size_t threads : {1u, 2u}) {
        for (bool lockstep : {false, true}) {
            CAPTURE(threads, lockstep);
            seen.clear();
            options.threads = threads;
            options.lockstep = lockstep;
            const auto run = diskmc::nuts_chains(target, inits, options, 31);
            CHECK_FALSE(run.stopped_early);
            CHECK_FALSE(overlapped);
            for (std::size_t c = 0; c < 3; ++c) {
                CAPTURE(c);
                CHECK(run.chains[c].draws == plain.chains[c].draws);
                CHECK_FALSE(run.chains[c].stopped_early);
                // Every iteration of every chain is reported once, in order.
                std::vector<diskmc::nuts_progress> mine;
                for (const auto& p : seen)
                    if (p.chain == c) mine.push_back(p);
                REQUIRE(mine.size() == 100);
                const auto& stats = plain.chains[c];
                std::size_t divergences = 0;
                double depth = 0;
                for (std::size_t i = 0; i < 100; ++i) {
                    CHECK(mine[i].iteration == i + 1);
                    CHECK(mine[i].total_iterations == 100);
                    CHECK(mine[i].warmup == 60);
                    CHECK(mine[i].sampling == (i >= 60));
                    if (i == 60) divergences = 0, depth = 0;  // a new phase
                    const auto& it = i < 60 ? stats.warmup[i] : stats.sampling[i - 60];
                    divergences += it.divergent ? 1 : 0;
                    depth += it.tree_depth;
                    CHECK(mine[i].divergences == divergences);
                    CHECK(mine[i].mean_tree_depth ==
                          Approx(depth / static_cast<double>(i < 60 ? i + 1 : i - 59)));
                    CHECK(mine[i].step_size == it.step_size);
                    if (i > 0) CHECK(mine[i].elapsed_seconds >= mine[i - 1].elapsed_seconds);
                }
                CHECK(mine.back().gradient_evaluations == stats.gradient_evaluations());
            }
        }
    }

    SECTION("returning false stops every chain, keeping what was drawn") {
        for (bool lockstep : {false, true}) {
            CAPTURE(lockstep);
            options.lockstep = lockstep;
            options.threads = 1;
            options.sampler.progress = [](const diskmc::nuts_progress& p) {
                return !(p.chain == 1 && p.iteration == 75);
            };
            const auto run = diskmc::nuts_chains(target, inits, options, 31);
            CHECK(run.stopped_early);
            for (std::size_t c = 0; c < 3; ++c) {
                CAPTURE(c);
                const auto& chain = run.chains[c];
                // Free-running on one thread, chain 0 finished before chain 1 stopped.
                CHECK(chain.stopped_early == (lockstep || c > 0));
                REQUIRE(chain.draws.rows() == static_cast<Eigen::Index>(chain.sampling.size()));
                // The draws kept are the plain run's first ones.
                CHECK(chain.draws == plain.chains[c].draws.topRows(chain.draws.rows()));
            }
            // One thread: chain 0 ran to the end first; chain 1 stopped at 75; chain 2 never
            // sampled. In lockstep all stop together after iteration 75.
            if (lockstep) {
                for (const auto& chain : run.chains) CHECK(chain.sampling.size() == 15);
            } else {
                CHECK(run.chains[0].sampling.size() == 40);
                CHECK(run.chains[1].sampling.size() == 15);
                CHECK(run.chains[2].sampling.empty());
                CHECK(run.chains[2].warmup.empty());
            }
        }
        // A single chain stops in warmup.
        std::mt19937_64 rng(3);
        nuts_options single = options.sampler;
        single.save_warmup = true;
        single.progress = [](const diskmc::nuts_progress& p) { return p.iteration < 20; };
        const auto run = diskmc::nuts(target, target.mean, single, rng);
        CHECK(run.stopped_early);
        CHECK(run.warmup.size() == 20);
        CHECK(run.warmup_draws.rows() == 20);
        CHECK(run.draws.rows() == 0);
    }
}

TEST_CASE("NUTS runs on the differentiable archetype", "[nuts][archetype]") {
    diskmc::archetypes::differentiable_log_density_archetype model{3};
    std::mt19937 rng(29);  // any standard engine
    const auto result =
        diskmc::nuts(model, Eigen::VectorXd::Zero(3), nuts_options{.warmup = 500, .samples = 2000}, rng);
    for (Eigen::Index i = 0; i < 3; ++i) {
        Eigen::MatrixXd x = result.draws.col(i);
        CHECK(standard_errors_off(x, 0.0) < 5.0);
        CHECK(standard_errors_off(x.array().square().matrix(), 1.0) < 5.0);
    }
    CHECK(result.gradient_evaluations_sampling > 2000);
    CHECK(result.sampling_seconds >= 0.0);
    const auto run = diskmc::nuts_chains(model, Eigen::VectorXd::Zero(3),
                                         nuts_chains_options{.sampler = {.warmup = 100, .samples = 100}},
                                         30);
    CHECK(run.chains.size() == 4);
}

TEST_CASE("bad input throws invalid_input before any work", "[nuts][errors]") {
    const gaussian_target target = make_gaussian(vec({1.0, 1.0}), false, 31);
    std::mt19937_64 rng(32);
    const Eigen::VectorXd init = target.mean;
    auto fails = [&](const nuts_options& options, const char* what) {
        CAPTURE(what);
        CHECK_THROWS_AS(diskmc::nuts(target, init, options, rng), diskmc::invalid_input);
    };
    fails({.max_tree_depth = 0}, "depth 0");
    fails({.max_tree_depth = 31}, "depth 31");
    fails({.max_tree_depth_warmup = 40}, "warmup depth");
    fails({.fixed_tree_depth = 31}, "fixed depth 31");
    fails({.max_energy_error = 0}, "energy error");
    fails({.target_accept = 1.0}, "target 1");
    fails({.target_accept = 0.0}, "target 0");
    fails({.gamma = -1}, "gamma");
    fails({.kappa = 0}, "kappa");
    fails({.step_size = -0.1}, "negative step");
    fails({.step_size = std::nan("")}, "NaN step");
    fails({.step_size_jitter = 1.5}, "jitter");
    fails({.base_window = 0}, "window");
    fails({.inverse_metric = Eigen::VectorXd::Ones(3)}, "metric size");
    fails({.inverse_metric = vec({1.0, -1.0})}, "negative variance");
    fails({.metric = metric_kind::dense, .inverse_metric = mat({{1, 2}, {2, 1}})},
          "not positive definite");
    fails({.metric = metric_kind::dense, .inverse_metric = mat({{1, 0.5}, {0, 1}})},
          "not symmetric");
    fails({.metric = metric_kind::unit, .inverse_metric = vec({1, 1})}, "unit with metric");
    fails({.standardize_covariance = Eigen::MatrixXd::Identity(3, 3)}, "standardize size");
    fails({.standardize_location = vec({0, 0})}, "location without covariance");

    CHECK_THROWS_AS(diskmc::nuts(target, Eigen::VectorXd::Zero(3), {}, rng), diskmc::invalid_input);
    CHECK_THROWS_AS(diskmc::nuts(target, vec({std::nan(""), 0}), {}, rng),
                    diskmc::invalid_input);
    CHECK_THROWS_WITH(diskmc::nuts(troubled_normal{trouble::outside_support}, vec({2, 0}), {}, rng),
                      Catch::Contains("log-density at the initial point"));
    CHECK_THROWS_WITH(diskmc::nuts(troubled_normal{trouble::nan_gradient}, vec({2, 0}), {}, rng),
                      Catch::Contains("gradient at the initial point"));

    nuts_options trusted{.warmup = 100, .warmup_adaptation = diskmc::warmup_mode::trust_metric_with_fallback};
    trusted.trusted_warmup = 100;
    fails(trusted, "trusted warmup as long as the warmup");
    trusted.trusted_warmup = 5;
    fails(trusted, "trusted warmup too short to check");
    CHECK_THROWS_AS(diskmc::nuts_chains(target, init, {.min_ess = -1}, 1), diskmc::invalid_input);
    CHECK_THROWS_AS(diskmc::nuts_chains(target, init, {.min_ess = 100, .max_rhat = 0.9}, 1),
                    diskmc::invalid_input);
    CHECK_THROWS_AS(diskmc::nuts_chains(target, init, {.min_ess = 100, .round_step = 0}, 1),
                    diskmc::invalid_input);
    CHECK_THROWS_AS(diskmc::nuts_chains(target, init, {.chains = 0}, 1), diskmc::invalid_input);
    CHECK_THROWS_AS(diskmc::nuts_chains(target, Eigen::MatrixXd::Zero(2, 3), {.chains = 4}, 1),
                    diskmc::invalid_input);
    CHECK_THROWS_AS(diskmc::nuts_chains(target, Eigen::MatrixXd::Zero(3, 1), {}, 1),
                    diskmc::invalid_input);
    CHECK_THROWS_WITH(diskmc::nuts_chains(troubled_normal{trouble::outside_support},
                                          mat({{0, 2}, {0, 0}}), {.chains = 2}, 1),
                      Catch::Contains("chain 1"));
}

// ---- trusted warmup, stopping on precision ------------------------------------------

namespace {

// The ill-conditioned target's covariance with the principal direction of
// index `direction` scaled in sd by `factor`: a deliberately wrong metric.
Eigen::MatrixXd misscaled_covariance(const gaussian_target& target, Eigen::Index direction,
                                     double factor) {
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(target.covariance);
    Eigen::VectorXd values = eigen.eigenvalues();
    values[direction] *= factor * factor;
    return eigen.eigenvectors() * values.asDiagonal() * eigen.eigenvectors().transpose();
}

nuts_chains_options trusting(const Eigen::MatrixXd& covariance, std::size_t samples) {
    nuts_chains_options options{.sampler = {.warmup = 1000, .samples = samples,
                                            .warmup_adaptation = diskmc::warmup_mode::trust_metric_with_fallback,
                                            .standardize_covariance = covariance},
                                .chains = 4, .threads = 2};
    options.sampler.trusted_warmup = 100;
    return options;
}

}  // namespace

TEST_CASE("a trusted warmup on a Gaussian standardised by its covariance stays short and samples it",
          "[nuts][warmup]") {
    const gaussian_target& target = ill_conditioned();
    // Full length under the sanitizers too: R-hat's 1.01 (asserted below
    // through the warnings) is a statement about 1000 draws a chain, not 250.
    const auto run = diskmc::nuts_chains(target, target.mean, trusting(target.covariance, 1000), 41);
    for (const auto& chain : run.chains) {
        CHECK(chain.warmup_taken == diskmc::warmup_path::trusted);
        CHECK(chain.warmup_check.passed);
        CHECK(chain.warmup.size() == 100);
        CHECK(chain.metric_updates == 0);
        // Near the Gaussian expectation, and the variances near 1.
        CHECK(chain.warmup_check.step_size_ratio > 0.7);
        CHECK(chain.warmup_check.step_size_ratio < 1.3);
        CHECK(chain.warmup_check.variance_min > 0.2);
        CHECK(chain.warmup_check.variance_max < 5.0);
    }
    check_gaussian_moments(run, target);
    std::string warnings;
    for (const auto& w : diskmc::summarize(run).warnings) warnings += w + "; ";
    INFO(warnings);
    CHECK(diskmc::summarize(run).warnings.empty());

    // Stan's windows on the same start need several times the warmup gradients.
    nuts_chains_options windowed = trusting(target.covariance, scaled(1000));
    windowed.sampler.warmup_adaptation = diskmc::warmup_mode::windowed;
    const auto stan = diskmc::nuts_chains(target, target.mean, windowed, 41);
    std::size_t trusted_warmup = 0, windowed_warmup = 0;
    for (std::size_t c = 0; c < 4; ++c) {
        trusted_warmup += run.chains[c].gradient_evaluations_warmup;
        windowed_warmup += stan.chains[c].gradient_evaluations_warmup;
        CHECK(stan.chains[c].warmup_taken == diskmc::warmup_path::windowed);
    }
    CHECK(3 * trusted_warmup < windowed_warmup);
}

TEST_CASE("a trusted warmup with a wrong covariance falls back to the windows and still samples correctly",
          "[nuts][warmup]") {
    const gaussian_target& target = ill_conditioned();
    Eigen::MatrixXd uncorrelated = target.covariance.diagonal().asDiagonal();
    const std::vector<std::pair<const char*, Eigen::MatrixXd>> wrong = {
        {"one direction 10x too wide", misscaled_covariance(target, 4, 10.0)},
        {"one direction 10x too narrow", misscaled_covariance(target, 4, 0.1)},
        {"correlations dropped", uncorrelated}};
    for (const auto& [what, covariance] : wrong) {
        CAPTURE(what);
        const auto run = diskmc::nuts_chains(target, target.mean, trusting(covariance, scaled(1000)), 43);
        for (const auto& chain : run.chains) {
            CHECK(chain.warmup_taken == diskmc::warmup_path::fell_back);
            CHECK_FALSE(chain.warmup_check.passed);
            CHECK(chain.warmup.size() == 1000);
            CHECK(chain.metric_updates > 0);
        }
        check_gaussian_moments(run, target);
        const auto warnings = diskmc::summarize(run).warnings;
        CHECK(std::any_of(warnings.begin(), warnings.end(), [](const std::string& w) {
            return w.find("fell back") != std::string::npos;
        }));
    }
}

TEST_CASE("a trusted warmup samples the non-Gaussian targets correctly", "[nuts][warmup]") {
    // The hierarchical model's posterior, with data pulling it from the prior:
    // a trusted run (the identity is not its covariance: it may fall back)
    // agrees with a long windowed reference within Monte Carlo error.
    hierarchical_model model;
    model.y << 1.5, -0.5, 2.0, 0.3;
    nuts_chains_options reference_options{.sampler = {.samples = 4000}, .chains = 4};
    const auto reference = diskmc::nuts_chains(model, Eigen::VectorXd::Zero(6), reference_options, 45);
    nuts_chains_options options = trusting(Eigen::MatrixXd::Identity(6, 6), scaled(2000));
    const auto run = diskmc::nuts_chains(model, Eigen::VectorXd::Zero(6), options, 46);
    for (Eigen::Index j = 0; j < 6; ++j) {
        CAPTURE(j);
        std::vector<Eigen::MatrixXd> draws, reference_draws;
        for (const auto& chain : run.chains) draws.push_back(chain.draws);
        for (const auto& chain : reference.chains) reference_draws.push_back(chain.draws);
        const Eigen::MatrixXd x = column_of_chains(draws, j), y = column_of_chains(reference_draws, j);
        auto mcse = [](const Eigen::MatrixXd& f) {
            const double mean = f.mean();
            const double sd = std::sqrt((f.array() - mean).square().sum() / static_cast<double>(f.size() - 1));
            return sd / std::sqrt(diskmc::split_effective_sample_size(f));
        };
        const double both = std::hypot(mcse(x), mcse(y));
        CHECK(std::abs(x.mean() - y.mean()) < 5.0 * both);
        const Eigen::MatrixXd xx = x.array().square().matrix(), yy = y.array().square().matrix();
        CHECK(std::abs(xx.mean() - yy.mean()) < 5.0 * std::hypot(mcse(xx), mcse(yy)));
    }
    // Neal's funnel standardised by the identity: the narrow neck is far from
    // unit scale, so the chains fall back, and nothing crashes.
    const auto funnel_run = diskmc::nuts_chains(funnel{}, Eigen::VectorXd::Zero(10),
                                                trusting(Eigen::MatrixXd::Identity(10, 10), 200), 47);
    for (const auto& chain : funnel_run.chains) {
        CHECK(chain.warmup_taken == diskmc::warmup_path::fell_back);
        CHECK(chain.draws.allFinite());
    }
}

TEST_CASE("stopping on precision reaches the ESS and R-hat targets in rounds", "[nuts][precision]") {
    const gaussian_target& target = ill_conditioned();
    nuts_chains_options options = trusting(target.covariance, 5000);
    options.min_ess = 400;
    std::vector<double> reported;
    options.sampler.progress = [&](const diskmc::nuts_progress& p) {
        if (p.target_ess > 0) reported.push_back(p.min_ess);
        return true;
    };
    const auto run = diskmc::nuts_chains(target, target.mean, options, 51);
    CHECK(run.precision_reached);
    CHECK(run.precision_rounds >= 1);
    const std::size_t draws = run.chains[0].draws.rows();
    CHECK(draws >= 200);
    CHECK(draws < 5000);
    CHECK(draws % 50 == 0);
    for (const auto& chain : run.chains) CHECK(static_cast<std::size_t>(chain.draws.rows()) == draws);
    const auto summary = diskmc::summarize(run);
    for (const auto& line : summary.parameters) {
        CHECK(line.ess_bulk >= 400);
        CHECK(line.ess_tail >= 400);
        CHECK(line.rhat <= 1.01);
    }
    CHECK(run.min_ess >= 400);
    CHECK(run.max_rhat <= 1.01);
    check_gaussian_moments(run, target);
    // The progress callback saw the checks of the rounds before the last
    // (a round that goes on may have its ESS but not yet its R-hat: the
    // reported ESS is then above the target).
    if (run.precision_rounds > 1) {
        REQUIRE_FALSE(reported.empty());
        CHECK(reported.back() > 0);
    }

    // A budget too small for the target: stops there, with a warning.
    options.min_ess = 1e6;
    options.sampler.samples = 300;
    options.sampler.progress = {};
    const auto short_run = diskmc::nuts_chains(target, target.mean, options, 52);
    CHECK_FALSE(short_run.precision_reached);
    for (const auto& chain : short_run.chains) CHECK(chain.draws.rows() == 300);
    const auto warnings = diskmc::summarize(short_run).warnings;
    CHECK(std::any_of(warnings.begin(), warnings.end(), [](const std::string& w) {
        return w.find("min_ess") != std::string::npos;
    }));
}

TEST_CASE("a trusted warmup stopping on precision gives the same draws for any thread count and in lockstep",
          "[nuts][threads][precision]") {
    const gaussian_target& target = ill_conditioned();
    Eigen::MatrixXd inits(10, 3);
    for (Eigen::Index c = 0; c < 3; ++c)
        inits.col(c) = target.mean + target.lower * Eigen::VectorXd::Constant(10, 0.3 * (c + 1));
    // A wrong covariance for chain paths to differ between trusted and fell_back is
    // not needed: one direction 3x too wide lets some chains pass and others not.
    nuts_chains_options options = trusting(misscaled_covariance(target, 2, 2.0), 600);
    options.sampler.warmup = 300;
    options.chains = 3;
    options.threads = 1;
    options.min_ess = 300;
    options.first_round = 100;
    const auto reference = diskmc::nuts_chains(target, inits, options, 53);
    for (std::size_t threads : {2u, 3u}) {
        for (bool lockstep : {false, true}) {
            CAPTURE(threads, lockstep);
            options.threads = threads;
            options.lockstep = lockstep;
            const auto other = diskmc::nuts_chains(target, inits, options, 53);
            CHECK(other.precision_rounds == reference.precision_rounds);
            CHECK(other.min_ess == reference.min_ess);
            for (std::size_t c = 0; c < 3; ++c) {
                CAPTURE(c);
                CHECK(other.chains[c].draws == reference.chains[c].draws);
                CHECK(other.chains[c].warmup_taken == reference.chains[c].warmup_taken);
                CHECK(other.chains[c].step_size == reference.chains[c].step_size);
                CHECK(other.chains[c].gradient_evaluations() == reference.chains[c].gradient_evaluations());
            }
        }
    }
}
