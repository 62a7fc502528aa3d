#pragma once
// Integrated autocorrelation time of ensemble chains, by emcee's estimator,
// and the effective sample size it implies.
//
// tau = 1 + 2 sum_{t>=1} rho(t). The normalised autocorrelation function
// rho is estimated per walker (by FFT, diskmc::autocovariance_transform) and
// averaged over walkers (through their power spectra, so with one inverse
// FFT); the sum is cut at the first window M with M >= c tau(M) (Sokal 1997, "Monte Carlo methods in statistical mechanics", sec. 3; the
// "automatic windowing" of emcee's autocorr.integrated_time, c = 5). The
// estimate is trusted only when the chain is longer than 50 tau: a shorter
// chain gives a status, not an exception, since an early look is routine.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "diskmc/diagnostics/autocovariance.hpp"
#include "diskmc/errors.hpp"

namespace diskmc {

/// Settings of integrated_autocorrelation_time (emcee's defaults).
struct autocorrelation_options {
    /// c: the window M is the smallest lag with M >= c tau(M).
    double window_factor = 5.0;
    /// tol: the estimate is reliable when the chain has more than this many
    /// autocorrelation times.
    double minimum_length_in_tau = 50.0;
};

enum class autocorrelation_status {
    /// The chain is longer than minimum_length_in_tau * tau.
    reliable,
    /// The chain is too short for this tau: tau is an estimate to use with
    /// caution (it is usually an underestimate). Run longer.
    chain_too_short,
    /// Every walker's series is constant: tau is NaN. (Walkers whose series is
    /// constant are left out of the average; see walkers_used.)
    no_variation,
};

/// The estimate and how far to trust it.
struct autocorrelation_estimate {
    /// Integrated autocorrelation time, in steps of the series.
    double tau = std::numeric_limits<double>::quiet_NaN();
    /// The window M at which the sum was cut.
    std::size_t window = 0;
    autocorrelation_status status = autocorrelation_status::no_variation;
    /// Length of each walker's series, and how many walkers varied.
    std::size_t steps = 0;
    std::size_t walkers_used = 0;

    bool reliable() const { return status == autocorrelation_status::reliable; }
};

namespace detail {

/// emcee's estimator for one parameter, fed one walker's series at a time:
/// the walkers' normalised autocorrelation functions rho_k = acov_k / acov_k(0)
/// are averaged through their power spectra, sum_k P_k / (n acov_k(0)), since
/// the inverse transform is linear: one inverse FFT per parameter instead of
/// one per walker. The transform (plan and buffers) is shared and passed in,
/// so that many parameters can be accumulated walker by walker.
class autocorrelation_accumulator {
public:
    explicit autocorrelation_accumulator(const autocovariance_transform& transform)
        : steps_(static_cast<std::size_t>(transform.length())),
          normalised_power_(static_cast<std::size_t>(transform.frequencies()), 0.0) {}

    /// Adds one walker's series (its length the transform's).
    template <class Series>
    void add(autocovariance_transform& transform, const Eigen::MatrixBase<Series>& series) {
        // (a constant walker adds nothing: its rho is undefined)
        if (transform.add_normalised_power(series, normalised_power_) > 0.0) ++walkers_used_;
    }

    /// The estimate from the walkers added so far; nullopt when the transform
    /// gives fewer lags than steps and the window lies beyond them (then a
    /// transform with every lag decides).
    std::optional<autocorrelation_estimate> estimate(autocovariance_transform& transform,
                                                     const autocorrelation_options& options) {
        autocorrelation_estimate estimate;
        estimate.steps = steps_;
        estimate.walkers_used = walkers_used_;
        if (walkers_used_ == 0) return estimate;
        // autocovariance_of divides by n: scaling by n / walkers leaves the
        // mean over walkers of rho_k.
        Eigen::VectorXd mean_rho;
        transform.autocovariance_of(normalised_power_, mean_rho);
        mean_rho *= static_cast<double>(steps_) / static_cast<double>(walkers_used_);

        // tau(M) = 2 sum_{t=0}^{M} rho(t) - 1; stop at the first M >= c tau(M).
        // (emcee's auto_window returns 0, i.e. tau = 1, when no lag qualifies;
        // here the last lag is used and the status says the chain is too short.)
        const auto lags = static_cast<std::size_t>(mean_rho.size());
        double cumulative = 0.0;
        double tau = 1.0;
        std::size_t window = steps_;
        for (std::size_t m = 0; m < lags; ++m) {
            cumulative += mean_rho[static_cast<Eigen::Index>(m)];
            tau = 2.0 * cumulative - 1.0;
            if (static_cast<double>(m) >= options.window_factor * tau) {
                window = m;
                break;
            }
        }
        if (window == steps_) {
            if (lags < steps_) return std::nullopt;
            window = steps_ - 1;
        }
        estimate.tau = tau;
        estimate.window = window;
        estimate.status = options.minimum_length_in_tau * tau > static_cast<double>(steps_)
                              ? autocorrelation_status::chain_too_short
                              : autocorrelation_status::reliable;
        return estimate;
    }

private:
    std::size_t steps_;
    std::size_t walkers_used_ = 0;
    std::vector<double> normalised_power_;  // sum over walkers of P_k / (n acov_k(0))
};

/// Checks integrated_autocorrelation_time's options.
inline void check_autocorrelation_options(std::string_view function, const autocorrelation_options& options) {
    check_positive(function, "options.window_factor", options.window_factor);
    check_positive(function, "options.minimum_length_in_tau", options.minimum_length_in_tau);
}

}  // namespace detail

/// Integrated autocorrelation time of one parameter of an ensemble.
///
/// @param traces steps x walkers: column k is walker k's series (one column
///        for a single chain). Must be non-empty and finite.
/// @param options window factor and reliability threshold.
/// @return tau, the window, and a status saying whether the chain was long
///         enough (tau is still returned when it was not).
inline autocorrelation_estimate integrated_autocorrelation_time(
    const Eigen::Ref<const Eigen::MatrixXd>& traces, const autocorrelation_options& options = {}) {
    constexpr std::string_view function = "integrated_autocorrelation_time";
    detail::check_autocorrelation_options(function, options);
    check_argument(traces.rows() > 0 && traces.cols() > 0, function,
                   "traces must have at least one step and one walker");
    check_argument(traces.allFinite(), function, "traces must be finite");

    autocovariance_transform transform(traces.rows());
    detail::autocorrelation_accumulator accumulator(transform);
    for (Eigen::Index k = 0; k < traces.cols(); ++k) accumulator.add(transform, traces.col(k));
    return *accumulator.estimate(transform, options);  // (every lag: always an estimate)
}

/// Effective sample size of `samples` draws (all walkers together) with
/// integrated autocorrelation time `tau`: samples / tau.
inline double effective_sample_size_from_tau(std::size_t samples, double tau) {
    return static_cast<double>(samples) / tau;
}

}  // namespace diskmc
