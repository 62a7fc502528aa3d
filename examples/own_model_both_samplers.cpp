// Your own model in both samplers, through the concepts.
//
// A radioactive-decay curve: counts y_i ~ Normal(A exp(-t_i / tau), sigma),
// with parameters (log A, log tau). The model is written once, generic in
// its scalar type T. The ensemble sampler calls it with T = double;
// diskmc::autodiff::differentiable(model) gives NUTS its exact gradient by automatic
// differentiation. Both run on the same model and should agree.
//
// Run: ./own_model_both_samplers

#include <Eigen/Core>
#include <cmath>
#include <cstdio>
#include <vector>

#include "diskmc/autodiff.hpp"
#include "diskmc/diagnostics/summary.hpp"
#include "diskmc/samplers/ensemble.hpp"
#include "diskmc/samplers/nuts.hpp"

namespace {

struct decay_curve {
    std::vector<double> t, y;
    double sigma = 2.0;

    std::size_t dim() const { return 2; }  // log A, log tau

    template <class T>
    T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& theta) const {
        using std::exp;  // lets T = diskmc::autodiff::var find its own exp
        const T amplitude = exp(theta[0]), tau = exp(theta[1]);
        T sum = -0.5 * (theta[0] * theta[0] + theta[1] * theta[1]) / 100.0;  // N(0, 10^2) priors on the logs
        for (std::size_t i = 0; i < t.size(); ++i) {
            const T residual = (y[i] - amplitude * exp(-t[i] / tau)) / sigma;
            sum += -0.5 * residual * residual;
        }
        return sum;
    }
};

decay_curve make_data() {
    decay_curve model;
    for (int i = 0; i < 30; ++i) {
        const double t = 0.5 * i;
        model.t.push_back(t);
        model.y.push_back(50.0 * std::exp(-t / 4.0) + 2.0 * std::sin(7.3 * i));  // A = 50, tau = 4, a deterministic wiggle
    }
    return model;
}

void print(const char* sampler, const diskmc::posterior_summary& summary) {
    std::printf("%s\n%s\n", sampler, diskmc::format_summary(summary).c_str());
}

}  // namespace

int main() {
    const decay_curve model = make_data();
    const Eigen::VectorXd start = (Eigen::VectorXd(2) << std::log(40.0), std::log(3.0)).finished();

    // The ensemble sampler needs only log_density(double): model as it is.
    static_assert(diskmc::log_density<decay_curve>);
    const diskmc::ensemble_result walkers = diskmc::ensemble(
        model, diskmc::scatter_start{.point = start, .walkers = 16, .scatter = 1e-2},
        diskmc::ensemble_options{.steps = 4000, .burn_in = 1000}, 1);
    std::vector<Eigen::MatrixXd> walker_chains;  // walkers as chains, draws x dim each
    for (std::size_t w = 0; w < walkers.walkers; ++w) {
        Eigen::MatrixXd chain(static_cast<Eigen::Index>(walkers.draws()), 2);
        for (std::size_t d = 0; d < walkers.draws(); ++d)
            chain.row(static_cast<Eigen::Index>(d)) = walkers.position(d, w).transpose();
        walker_chains.push_back(chain);
    }
    print("ensemble (16 walkers x 4000 steps):", diskmc::summarize_draws(walker_chains, {"log A", "log tau"}));

    // NUTS needs a gradient: differentiable() derives it by autodiff.
    const auto target = diskmc::autodiff::differentiable(model);
    static_assert(diskmc::differentiable_log_density<decltype(target)>);
    const diskmc::nuts_chains_result chains = diskmc::nuts_chains(target, start, diskmc::nuts_chains_options{}, 1);
    print("NUTS (4 chains x 1000 draws):", diskmc::summarize(chains, {"log A", "log tau"}));
    return 0;
}
