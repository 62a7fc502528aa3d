#pragma once
// Warmup adaptation as in Stan: dual averaging of the step size (Hoffman &
// Gelman 2014, section 3.2; Nesterov 2009) and the windowed estimate of the
// posterior covariance for the metric (Stan Reference Manual, "HMC algorithm
// parameters: automatic parameter tuning").

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace diskmc::detail {

/// Dual averaging of log(step size) toward a target mean acceptance statistic.
class dual_averaging {
public:
    dual_averaging(double target_accept, double gamma, double t0, double kappa)
        : target_(target_accept), gamma_(gamma), t0_(t0), kappa_(kappa) {}

    /// Starts over, shrinking toward mu = log(10 · step_size), as Stan does
    /// after every metric update.
    void restart(double step_size) {
        mu_ = std::log(10.0 * step_size);
        count_ = 0;
        error_average_ = 0.0;
        log_step_average_ = 0.0;
    }

    /// One iteration's update from its acceptance statistic; returns the next
    /// step size exp(x_t), where (Hoffman & Gelman 2014, eq. 6)
    ///   H̄_t = (1 - 1/(t + t0)) H̄_{t-1} + (delta - alpha_t)/(t + t0),
    ///   x_t = mu - sqrt(t)/gamma · H̄_t,
    ///   x̄_t = t^{-kappa} x_t + (1 - t^{-kappa}) x̄_{t-1}.
    double update(double accept_stat) {
        ++count_;
        const double t = static_cast<double>(count_);
        const double alpha = std::isnan(accept_stat) ? 0.0 : std::min(accept_stat, 1.0);
        const double eta = 1.0 / (t + t0_);
        error_average_ = (1.0 - eta) * error_average_ + eta * (target_ - alpha);
        const double log_step = mu_ - error_average_ * std::sqrt(t) / gamma_;
        const double weight = std::pow(t, -kappa_);
        log_step_average_ = (1.0 - weight) * log_step_average_ + weight * log_step;
        return std::exp(log_step);
    }

    /// The averaged step size exp(x̄_t) used after warmup; `fallback` when no
    /// update has happened since the last restart.
    double averaged_step_size(double fallback) const {
        return count_ == 0 ? fallback : std::exp(log_step_average_);
    }

private:
    double target_, gamma_, t0_, kappa_;
    double mu_ = 0.0;
    std::size_t count_ = 0;
    double error_average_ = 0.0;
    double log_step_average_ = 0.0;
};

/// The step size dual averaging settles on for a d-dimensional standard
/// normal with the unit metric and target acceptance delta: what a trusted
/// warmup expects when the metric matches the posterior. Theory for a single
/// leapfrog trajectory's acceptance gives d^{-1/4} (Beskos et al. 2013,
/// "Optimal tuning of the hybrid Monte Carlo algorithm", Bernoulli 19(5A));
/// multinomial NUTS's accept_stat averages over the tree and measures flatter.
/// Calibrated by benchmarks/bench_nuts_warmup (--section calibrate: median
/// over 40 seeds of 1000 step-size-only warmup iterations, d = 1..100, within
/// 4%): 1.34 d^{-0.205} at delta = 0.8, times ((1 - delta)/0.2)^{0.35} for
/// delta from 0.65 to 0.95 (within 5%).
inline double gaussian_step_size(std::size_t dim, double target_accept) {
    const double d = static_cast<double>(std::max<std::size_t>(dim, 1));
    return 1.34 * std::pow(d, -0.205) * std::pow((1.0 - target_accept) / 0.2, 0.35);
}

/// A trusted warmup falls back when its step size is below this fraction of
/// gaussian_step_size (a direction much narrower than the metric says; on
/// standard normals 100 iterations give 0.8-1.0 of it) ...
inline constexpr double trusted_step_size_ratio = 0.5;
/// ... or when a coordinate's variance over the short warmup's second half,
/// relative to the metric's, is outside [1/r, r] (a direction much wider or
/// narrower; on standard normals of d <= 100 with 100 iterations, 40 seeds
/// each, all stayed within [0.215, 3.05]).
inline constexpr double trusted_variance_ratio = 5.0;

/// A trusted warmup samples with its averaged step size times this. A short
/// dual averaging ends above the step size a long warmup settles on: on the
/// HD163296-like benchmark (benchmarks/bench_nuts_warmup --section fit
/// --downsample 3, seed 4) the chains' 100-iteration averages were 0.62-0.71
/// where Stan's windows ended at 0.56-0.61, and seeds 1-12 x 4000 draws had
/// 9 divergences where the windows had none. Scaled by 0.9: none, for 4%
/// more gradients per draw and as many effective draws per gradient.
inline constexpr double trusted_step_size_shrink = 0.9;

/// Stan's warmup schedule for the metric: an initial fast buffer, slow
/// windows of doubling length (the last stretched to the terminal buffer),
/// and a terminal fast buffer. Draws of iterations in [first_window_start,
/// windows_end) feed the estimate; it is turned into a metric at the end of
/// each window.
class adaptation_windows {
public:
    adaptation_windows() = default;

    /// Stan's stan::mcmc::windowed_adaptation: no windows when warmup < 20;
    /// when the buffers and first window do not fit, 15% / 75% / 10%.
    adaptation_windows(std::size_t warmup, std::size_t init_buffer, std::size_t base_window,
                       std::size_t term_buffer) {
        if (warmup < 20) return;
        if (init_buffer + base_window + term_buffer > warmup) {
            init_buffer = static_cast<std::size_t>(0.15 * static_cast<double>(warmup));
            term_buffer = static_cast<std::size_t>(0.10 * static_cast<double>(warmup));
            base_window = warmup - (init_buffer + term_buffer);
        }
        if (base_window == 0) return;
        start_ = init_buffer;
        end_ = warmup - term_buffer;
        const std::size_t last = end_ - 1;  // last iteration of the last window
        std::size_t size = base_window;
        std::size_t window_end = init_buffer + base_window - 1;
        ends_.push_back(window_end);
        while (window_end != last) {
            size *= 2;
            window_end += size;
            // Stretch this window to the end when the next one would not fit.
            if (window_end >= last || window_end + 2 * size >= end_) window_end = last;
            ends_.push_back(window_end);
        }
    }

    /// Whether iteration `i` (0-based warmup iteration) feeds the estimate.
    bool collects(std::size_t i) const { return !ends_.empty() && i >= start_ && i < end_; }
    /// Whether iteration `i` closes a window (update the metric after it).
    bool closes_window(std::size_t i) const {
        return std::binary_search(ends_.begin(), ends_.end(), i);
    }
    /// The last iteration of each window, in order.
    const std::vector<std::size_t>& window_ends() const { return ends_; }

private:
    std::size_t start_ = 0;
    std::size_t end_ = 0;
    std::vector<std::size_t> ends_;
};

/// Running mean and (co)variance by Welford's algorithm: the variances
/// (dim x 1) for a diagonal metric, the covariance (dim x dim) for a dense one.
class running_covariance {
public:
    running_covariance(Eigen::Index dim, bool dense)
        : dense_(dense), mean_(Eigen::VectorXd::Zero(dim)) {
        if (dense_)
            sum_squares_ = Eigen::MatrixXd::Zero(dim, dim);
        else
            sum_squares_ = Eigen::MatrixXd::Zero(dim, 1);
    }

    void add(const Eigen::VectorXd& x) {
        ++count_;
        delta_ = x - mean_;
        mean_ += delta_ / static_cast<double>(count_);
        if (dense_)
            sum_squares_.noalias() += delta_ * (x - mean_).transpose();
        else
            sum_squares_.col(0).array() += delta_.array() * (x - mean_).array();
    }

    std::size_t count() const { return count_; }

    /// The unbiased estimate (divided by n - 1); needs count() >= 2.
    Eigen::MatrixXd estimate() const {
        Eigen::MatrixXd result = sum_squares_ / static_cast<double>(count_ - 1);
        if (dense_) result = 0.5 * (result + result.transpose()).eval();
        return result;
    }

    void restart() {
        count_ = 0;
        mean_.setZero();
        sum_squares_.setZero();
    }

private:
    bool dense_;
    std::size_t count_ = 0;
    Eigen::VectorXd mean_;
    Eigen::VectorXd delta_;
    Eigen::MatrixXd sum_squares_;
};

}  // namespace diskmc::detail
