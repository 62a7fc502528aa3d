#pragma once
// Non-Gaussian targets with analytic gradients, for the NUTS tests and
// benchmarks/bench_nuts_warmup: Neal's funnel, a non-centred hierarchical
// model and a banana.

#include <Eigen/Core>
#include <cmath>
#include <cstddef>

namespace diskmc::testing {

/// Neal's funnel: v ~ N(0, 3^2), x_i | v ~ N(0, e^v), i = 1..9.
struct funnel {
    std::size_t dim() const { return 10; }
    double log_density(const Eigen::VectorXd& x) const {
        Eigen::VectorXd gradient;
        return log_density_gradient(x, gradient);
    }
    double log_density_gradient(const Eigen::VectorXd& x, Eigen::VectorXd& gradient) const {
        const double v = x[0];
        const double precision = std::exp(-v);
        double squares = 0.0;
        gradient.resize(10);
        for (Eigen::Index i = 1; i < 10; ++i) {
            squares += x[i] * x[i];
            gradient[i] = -precision * x[i];
        }
        gradient[0] = -v / 9.0 + 0.5 * squares * precision - 4.5;
        return -v * v / 18.0 - 0.5 * squares * precision - 4.5 * v;
    }
};

/// Non-centred hierarchical model: mu ~ N(0, 1), s = log tau ~ N(-0.5, 0.5^2),
/// eta_j ~ N(0, 1), y_j ~ N(mu + tau eta_j, 1), j = 1..4.
struct hierarchical_model {
    Eigen::VectorXd y = Eigen::VectorXd::Zero(4);
    static constexpr double s_mean = -0.5, s_sd = 0.5;
    std::size_t dim() const { return 6; }
    double log_density(const Eigen::VectorXd& x) const {
        Eigen::VectorXd gradient;
        return log_density_gradient(x, gradient);
    }
    double log_density_gradient(const Eigen::VectorXd& x, Eigen::VectorXd& gradient) const {
        const double mu = x[0], s = x[1], tau = std::exp(s);
        const Eigen::VectorXd eta = x.tail(4);
        const Eigen::VectorXd residual = y.array() - mu - tau * eta.array();
        gradient.resize(6);
        gradient[0] = -mu + residual.sum();
        gradient[1] = -(s - s_mean) / (s_sd * s_sd) + tau * residual.dot(eta);
        gradient.tail(4) = -eta + tau * residual;
        return -0.5 * mu * mu - 0.5 * (s - s_mean) * (s - s_mean) / (s_sd * s_sd) -
               0.5 * eta.squaredNorm() - 0.5 * residual.squaredNorm();
    }
};

/// A banana: x0 ~ N(0, 1), x1 | x0 ~ N(bend (x0^2 - 1), 0.5^2). Mean 0,
/// variances 1 and 0.25 + 2 bend^2, uncorrelated; the curvature along x0
/// grows with |x0|.
struct banana_density {
    double bend = 1.0;
    std::size_t dim() const { return 2; }
    double log_density(const Eigen::VectorXd& x) const {
        Eigen::VectorXd gradient;
        return log_density_gradient(x, gradient);
    }
    double log_density_gradient(const Eigen::VectorXd& x, Eigen::VectorXd& gradient) const {
        const double residual = (x[1] - bend * (x[0] * x[0] - 1.0)) / 0.25;  // over the variance
        gradient.resize(2);
        gradient[0] = -x[0] + residual * 2.0 * bend * x[0];
        gradient[1] = -residual;
        return -0.5 * x[0] * x[0] - 0.5 * residual * residual * 0.25;
    }
    Eigen::VectorXd variances() const {
        Eigen::VectorXd v(2);
        v << 1.0, 0.25 + 2.0 * bend * bend;
        return v;
    }
};

}  // namespace diskmc::testing
