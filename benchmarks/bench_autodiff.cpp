// Cost of a gradient by diskmc::autodiff::differentiable(model) relative to a value.
//
// For a few scalar-generic models it times
//   value      model.log_density<double>(x)
//   gradient   differentiable(model).log_density_gradient(x, grad)
//              (value and gradient together: one taped forward pass and one
//              reverse sweep)
//   forward    the same gradient by Eigen's forward-mode AutoDiffScalar,
//              for comparison (its cost grows with the dimension)
// as the median over repeats of the mean time per call.
//
// Usage: bench_autodiff [--json] [--repeats N]
//   --json     one JSON object per model and line instead of the table

#include <Eigen/Core>
#include <unsupported/Eigen/AutoDiff>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "diskmc/autodiff.hpp"

namespace {

/// A 10-D Gaussian with a dense precision matrix.
struct dense_gaussian {
    Eigen::MatrixXd precision;
    Eigen::VectorXd mean;
    explicit dense_gaussian(int n) {
        std::mt19937_64 rng(1);
        std::normal_distribution<double> normal;
        Eigen::MatrixXd a(n, n);
        for (double& v : a.reshaped()) v = normal(rng);
        precision = a * a.transpose() + n * Eigen::MatrixXd::Identity(n, n);
        mean = Eigen::VectorXd::LinSpaced(n, -1.0, 1.0);
    }
    std::size_t dim() const { return static_cast<std::size_t>(mean.size()); }
    template <class T>
    T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& x) const {
        const Eigen::Matrix<T, Eigen::Dynamic, 1> d = x - mean.cast<T>();
        return T(-0.5 * d.dot(precision.cast<T>() * d));
    }
};

/// 100 terms log(1 + exp(a_k . x)) - 0.5 |x|^2 in 5 dimensions (a
/// logistic-regression-like sum of exp and log).
struct exp_log_sum {
    Eigen::MatrixXd a;
    exp_log_sum() : a(100, 5) {
        std::mt19937_64 rng(2);
        std::normal_distribution<double> normal;
        for (double& v : a.reshaped()) v = 0.3 * normal(rng);
    }
    std::size_t dim() const { return 5; }
    template <class T>
    T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& x) const {
        using std::exp;
        using std::log;
        T sum(0.0);
        for (Eigen::Index k = 0; k < a.rows(); ++k) {
            T z(0.0);
            for (Eigen::Index j = 0; j < a.cols(); ++j) z += a(k, j) * x[j];
            sum -= log(1.0 + exp(z));
        }
        T norm(0.0);
        for (Eigen::Index j = 0; j < x.size(); ++j) norm += x[j] * x[j];
        return T(sum - 0.5 * norm);
    }
};

/// The Student-t straight-line fit of examples/custom_model.cpp on 200 points.
struct robust_line {
    std::vector<double> x, y;
    robust_line() {
        for (int i = 0; i < 200; ++i) {
            x.push_back(-2.0 + 0.02 * i);
            y.push_back(0.5 + 1.5 * x.back() + 0.3 * std::sin(3.7 * i));
        }
    }
    std::size_t dim() const { return 3; }
    template <class T>
    T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& theta) const {
        using std::exp;
        using std::log;
        const T s = exp(theta[2]);
        T sum(0.0);
        for (std::size_t i = 0; i < x.size(); ++i) {
            const T z = (y[i] - theta[0] - theta[1] * x[i]) / s;
            sum += -2.5 * log(1.0 + z * z / 4.0) - theta[2];
        }
        return sum;
    }
};

/// The 100-D Rosenbrock chain: many independent variables, cheap terms.
struct rosenbrock_chain {
    std::size_t dim() const { return 100; }
    template <class T>
    T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& x) const {
        T sum(0.0);
        for (Eigen::Index i = 0; i + 1 < x.size(); ++i) {
            const T a = 1.0 - x[i];
            const T b = x[i + 1] - x[i] * x[i];
            sum += a * a + 100.0 * b * b;
        }
        return T(-sum);
    }
};

volatile double sink = 0.0;

/// Median over `repeats` of the mean ns per call of `call`, each repeat
/// lasting about 5 ms.
template <class F>
double median_ns(F&& call, int repeats) {
    using clock = std::chrono::steady_clock;
    long calls = 1;
    for (;;) {  // calibrate
        const auto start = clock::now();
        for (long i = 0; i < calls; ++i) call();
        if (clock::now() - start > std::chrono::milliseconds(5)) break;
        calls *= 2;
    }
    std::vector<double> times;
    for (int r = 0; r < repeats; ++r) {
        const auto start = clock::now();
        for (long i = 0; i < calls; ++i) call();
        times.push_back(std::chrono::duration<double, std::nano>(clock::now() - start).count() / double(calls));
    }
    std::nth_element(times.begin(), times.begin() + repeats / 2, times.end());
    return times[static_cast<std::size_t>(repeats / 2)];
}

struct row {
    std::string model;
    std::size_t dim;
    double value_ns, gradient_ns, forward_ns;
};

template <class Model>
row measure(const std::string& name, const Model& model, int repeats) {
    const auto n = static_cast<Eigen::Index>(model.dim());
    const Eigen::VectorXd x = Eigen::VectorXd::LinSpaced(n, -0.3, 0.4);
    const auto target = diskmc::autodiff::differentiable(model);
    Eigen::VectorXd grad;
    using forward = Eigen::AutoDiffScalar<Eigen::VectorXd>;
    Eigen::Matrix<forward, Eigen::Dynamic, 1> seeded(n);
    for (Eigen::Index i = 0; i < n; ++i) seeded[i] = forward(x[i], n, i);

    row result{name, model.dim(), 0, 0, 0};
    result.value_ns = median_ns([&] { sink = sink + model.template log_density<double>(x); }, repeats);
    result.gradient_ns = median_ns([&] { sink = sink + target.log_density_gradient(x, grad); }, repeats);
    result.forward_ns = median_ns(
        [&] {
            const forward f = model.template log_density<forward>(seeded);
            sink = sink + f.derivatives()[0];
        },
        repeats);
    return result;
}

}  // namespace

int main(int argc, char** argv) {
    bool json = false;
    int repeats = 21;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (std::strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) {
            repeats = std::max(1, std::atoi(argv[++i]));
        } else {
            std::fprintf(stderr, "usage: %s [--json] [--repeats N]\n", argv[0]);
            return 2;
        }
    }

    const std::vector<row> rows = {measure("dense_gaussian", dense_gaussian(10), repeats),
                                   measure("exp_log_sum", exp_log_sum{}, repeats),
                                   measure("robust_line", robust_line{}, repeats),
                                   measure("rosenbrock_chain", rosenbrock_chain{}, repeats)};
    if (json) {
        for (const row& r : rows)
            std::printf("{\"benchmark\": \"autodiff\", \"model\": \"%s\", \"dim\": %zu, \"value_ns\": %.1f, "
                        "\"gradient_ns\": %.1f, \"ratio\": %.3f, \"eigen_forward_ns\": %.1f, \"repeats\": %d}\n",
                        r.model.c_str(), r.dim, r.value_ns, r.gradient_ns, r.gradient_ns / r.value_ns, r.forward_ns,
                        repeats);
        return 0;
    }
    std::printf("gradient by diskmc::autodiff::differentiable(model) vs value (median of %d repeats, single thread)\n\n",
                repeats);
    std::printf("%-18s %5s %12s %15s %8s %18s %8s\n", "model", "dim", "value [ns]", "gradient [ns]", "ratio",
                "Eigen fwd AD [ns]", "ratio");
    for (const row& r : rows)
        std::printf("%-18s %5zu %12.1f %15.1f %8.2f %18.1f %8.2f\n", r.model.c_str(), r.dim, r.value_ns, r.gradient_ns,
                    r.gradient_ns / r.value_ns, r.forward_ns, r.forward_ns / r.value_ns);
    std::printf("\n(gradient = value and gradient together; ratio = time / value time)\n");
    return 0;
}
