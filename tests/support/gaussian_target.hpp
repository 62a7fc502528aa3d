#pragma once
// Gaussian targets with known moments, for the sampler tests and benchmarks:
// N(mean, Q diag(sd^2) Q^T) with Q a random rotation (or the identity).

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/QR>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>

namespace diskmc::testing {

/// A differentiable_log_density with known mean and covariance.
struct gaussian_target {
    Eigen::VectorXd mean;
    Eigen::MatrixXd covariance;
    Eigen::MatrixXd precision;
    Eigen::MatrixXd lower;  // Cholesky factor of the covariance

    std::size_t dim() const { return static_cast<std::size_t>(mean.size()); }
    double log_density(const Eigen::VectorXd& x) const {
        const Eigen::VectorXd d = x - mean;
        return -0.5 * d.dot(precision * d);
    }
    double log_density_gradient(const Eigen::VectorXd& x, Eigen::VectorXd& gradient) const {
        const Eigen::VectorXd d = x - mean;
        gradient.noalias() = -(precision * d);
        return 0.5 * d.dot(gradient);
    }
    /// Draws (one per row) mapped to N(0, I): L^{-1}(x - mean).
    Eigen::MatrixXd whiten(const Eigen::MatrixXd& draws) const {
        const Eigen::MatrixXd centred = (draws.rowwise() - mean.transpose()).transpose();
        return lower.triangularView<Eigen::Lower>().solve(centred).transpose();
    }
    /// Replaces the covariance (and what follows from it).
    void set_covariance(const Eigen::MatrixXd& new_covariance) {
        covariance = 0.5 * (new_covariance + new_covariance.transpose());
        Eigen::LLT<Eigen::MatrixXd> cholesky(covariance);
        lower = cholesky.matrixL();
        precision = cholesky.solve(Eigen::MatrixXd::Identity(mean.size(), mean.size()));
    }
};

/// Principal standard deviations `sds`, rotated at random when `rotate`
/// (strong correlations), mean drawn at the scale of each sd.
inline gaussian_target make_gaussian(const Eigen::VectorXd& sds, bool rotate, std::uint64_t seed) {
    const Eigen::Index n = sds.size();
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    Eigen::MatrixXd rotation = Eigen::MatrixXd::Identity(n, n);
    if (rotate) {
        Eigen::MatrixXd random(n, n);
        for (Eigen::Index i = 0; i < random.size(); ++i) random.data()[i] = normal(rng);
        rotation = Eigen::HouseholderQR<Eigen::MatrixXd>(random).householderQ();
    }
    gaussian_target target;
    target.mean.resize(n);
    for (Eigen::Index i = 0; i < n; ++i) target.mean[i] = sds[i] * normal(rng);
    target.set_covariance(rotation * sds.array().square().matrix().asDiagonal() *
                          rotation.transpose());
    return target;
}

/// n values from `from` to `to`, evenly spaced in log.
inline Eigen::VectorXd log_spaced(double from, double to, Eigen::Index n) {
    Eigen::VectorXd values(n);
    for (Eigen::Index i = 0; i < n; ++i)
        values[i] = from * std::pow(to / from, static_cast<double>(i) / static_cast<double>(n - 1));
    return values;
}

/// The 10-D Gaussian with condition number 1e4 (sds 0.1 .. 10) and strong
/// correlations used by the NUTS tests and benchmark.
inline gaussian_target ill_conditioned_gaussian() {
    return make_gaussian(log_spaced(0.1, 10.0, 10), true, 2024);
}

}  // namespace diskmc::testing
