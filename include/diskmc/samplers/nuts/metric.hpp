#pragma once
// The Euclidean metric of the kinetic energy K(p) = p^T M^{-1} p / 2, and the
// regularisation of a window's covariance estimate into a new M^{-1}.

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <cstddef>
#include "diskmc/detail/random_stream.hpp"
#include "diskmc/samplers/nuts/options.hpp"

namespace diskmc::detail {

/// M^{-1} as Stan's unit_e / diag_e / dense_e metrics use it: the velocity
/// dq/dt = M^{-1} p, and momenta drawn from N(0, M).
class euclidean_metric {
public:
    /// Sets M^{-1}: a dim x 1 vector of variances (unit, diagonal) or a
    /// dim x dim covariance (dense). Returns false, keeping the previous
    /// metric, unless it is finite and positive definite.
    bool set_inverse(metric_kind kind, const Eigen::MatrixXd& inverse) {
        if (!inverse.allFinite()) return false;
        if (kind == metric_kind::dense) {
            if (inverse.rows() != inverse.cols()) return false;
            Eigen::LLT<Eigen::MatrixXd> cholesky(inverse);
            if (cholesky.info() != Eigen::Success) return false;
            const Eigen::MatrixXd lower = cholesky.matrixL();
            if (!(lower.diagonal().array() > 0).all()) return false;
            inverse_dense_ = inverse;
            momentum_factor_ = lower.transpose();  // p = (L^T)^{-1} u has Cov(p) = (L L^T)^{-1} = M
        } else {
            if (inverse.cols() != 1 || !(inverse.array() > 0).all()) return false;
            inverse_diagonal_ = inverse.col(0);
            momentum_scale_ = inverse_diagonal_.cwiseSqrt().cwiseInverse();
        }
        kind_ = kind;
        dim_ = inverse.rows();
        return true;
    }

    metric_kind kind() const { return kind_; }
    Eigen::Index dim() const { return dim_; }

    /// M^{-1}, as set: dim x 1 or dim x dim.
    Eigen::MatrixXd inverse() const {
        if (kind_ == metric_kind::dense) return inverse_dense_;
        return inverse_diagonal_;
    }

    /// velocity = M^{-1} p (Stan's dtau_dp, the "sharp" momentum).
    void velocity(const Eigen::VectorXd& momentum, Eigen::VectorXd& velocity) const {
        switch (kind_) {
            case metric_kind::unit: velocity = momentum; break;
            case metric_kind::diagonal: velocity = inverse_diagonal_.cwiseProduct(momentum); break;
            case metric_kind::dense: velocity.noalias() = inverse_dense_ * momentum; break;
        }
    }

    /// Draws p ~ N(0, M).
    template <random_draws Random>
    void sample_momentum(Random& random, Eigen::VectorXd& momentum) const {
        momentum.resize(dim_);
        for (Eigen::Index i = 0; i < dim_; ++i) momentum[i] = random.normal();
        switch (kind_) {
            case metric_kind::unit: break;
            case metric_kind::diagonal: momentum.array() *= momentum_scale_.array(); break;
            case metric_kind::dense:
                momentum_factor_.triangularView<Eigen::Upper>().solveInPlace(momentum);
                break;
        }
    }

private:
    metric_kind kind_ = metric_kind::unit;
    Eigen::Index dim_ = 0;
    Eigen::VectorXd inverse_diagonal_;
    Eigen::VectorXd momentum_scale_;  // 1 / sqrt(M^{-1}_ii)
    Eigen::MatrixXd inverse_dense_;
    Eigen::MatrixXd momentum_factor_;  // L^T, where L L^T = M^{-1}
};

/// The inverse metric made from a window's covariance estimate of `count`
/// draws (dim x 1 variances or dim x dim covariance), by `rule` (see
/// metric_regularization). `target` is the scale_relative target T (same
/// shape as `estimate`); empty means diag(estimate).
///
/// The weights n/(n+5) and 5/(n+5) are Stan's (stan::mcmc::covar_adaptation);
/// the scale_relative rule only swaps Stan's target 1e-3·I for one with the
/// posterior's scale.
inline Eigen::MatrixXd regularize_inverse_metric(const Eigen::MatrixXd& estimate, std::size_t count,
                                                 metric_regularization rule,
                                                 const Eigen::MatrixXd& target) {
    const double n = static_cast<double>(count);
    const double keep = n / (n + 5.0);
    const double shrink = 5.0 / (n + 5.0);
    const bool dense = estimate.cols() > 1;
    Eigen::MatrixXd result = estimate;
    switch (rule) {
        case metric_regularization::none: break;
        case metric_regularization::stan_fixed:
            result *= keep;
            if (dense)
                result.diagonal().array() += 1e-3 * shrink;
            else
                result.array() += 1e-3 * shrink;
            break;
        case metric_regularization::scale_relative:
            if (target.size() == 0) {
                // T = diag(estimate): correlations shrink, variances stay.
                if (dense) {
                    const Eigen::VectorXd variances = estimate.diagonal();
                    result *= keep;
                    result.diagonal() = variances;
                }
            } else {
                result = keep * estimate + shrink * target;
            }
            break;
    }
    return result;
}

}  // namespace diskmc::detail
