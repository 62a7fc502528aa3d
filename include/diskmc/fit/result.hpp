#pragma once
// What fit_rotation_map() returns: the posterior summary per parameter,
// medians by name, every draw, diagnostics and warnings, counts and timings,
// the sampler's own result, and the model and residual maps at the median.

#include <Eigen/Core>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "diskmc/disk/sky_map.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/inference/map.hpp"
#include "diskmc/samplers/ensemble/result.hpp"
#include "diskmc/samplers/laplace/result.hpp"
#include "diskmc/samplers/nuts/result.hpp"

namespace diskmc {

/// One free parameter's posterior. Percentiles, mean and sd are of all draws
/// pooled (periodic parameters such as PA wrapped into [0, period) first, as
/// eddy does). For NUTS, ESS and R-hat are rank-normalised (Vehtari et al.
/// 2021) over the chains. For the ensemble both ESS are walkers x draws / tau
/// with emcee's autocorrelation time tau (summarize(ensemble_result)): what
/// the pooled walkers are worth in independent draws; R-hat is NaN, since
/// the walkers are not independent chains (each proposal uses the others'
/// positions) and the warnings say instead when the chain is shorter than
/// 50 tau or walkers are stuck. For the Laplace sampler the summary is of the
/// resampled draws, both ESS are the importance ESS of the smoothed weights
/// and R-hat is NaN (independent draws have no chains to compare).
struct fit_parameter {
    std::string name;
    double p16 = 0.0, p50 = 0.0, p84 = 0.0;
    double mean = 0.0, sd = 0.0;
    double ess_bulk = 0.0, ess_tail = 0.0;
    double rhat = 0.0;
    /// Ensemble only: emcee's integrated autocorrelation time, in steps.
    std::optional<double> tau = std::nullopt;
};

/// The result of a fit.
struct fit_result {
    /// Free parameters in sampling order, with their summaries.
    std::vector<fit_parameter> parameters;
    /// Every draw in the constrained space (PA wrapped), one matrix per chain
    /// (per walker for the ensemble), each draws x free parameters.
    std::vector<Eigen::MatrixXd> chains;
    /// The log posterior density of every draw, one vector per chain: in the
    /// constrained space for the ensemble, the unconstrained one (with the
    /// log-Jacobian, Stan's lp__) for NUTS and the Laplace sampler (whose one
    /// chain is its resampled draws).
    std::vector<Eigen::VectorXd> log_densities;

    /// The likelihood's parameter names (free and fixed, the model's order)
    /// and the full vector at the posterior median of the free ones.
    std::vector<std::string> full_names;
    Eigen::VectorXd full_median;

    /// What a careful user must read: MAP trouble, stuck walkers, chains
    /// shorter than 50 tau, R-hat > 1.01, low ESS, divergences, tree-depth
    /// hits, low E-BFMI.
    std::vector<std::string> warnings;

    /// fit_options::stop_requested (or a progress callback) stopped the
    /// sampler early: every chain holds the same number of draws, fewer
    /// than asked, and the summary is of those.
    bool interrupted = false;

    /// The MAP step, when it ran.
    std::optional<inference::map_result> map;
    /// The sampler's own result, for writers (CmdStan CSV) and plots.
    std::variant<ensemble_result, nuts_chains_result, laplace_result> sampler;
    /// A Laplace run that was set aside for NUTS (laplace_fallback::nuts and
    /// k̂ too large), for its k̂ and weights.
    std::optional<laplace_result> laplace_attempt;

    /// Wall time of the whole fit (preparation, MAP, sampling, summary), and
    /// of the MAP step (covariance included) and the sampler within it.
    double wall_seconds = 0.0;
    double map_seconds = 0.0;
    double sampler_seconds = 0.0;
    /// Likelihood evaluations: values alone and values with gradient, over
    /// the MAP step (covariance included) and the sampler.
    std::size_t log_density_evaluations = 0;
    std::size_t gradient_evaluations = 0;
    /// ... and values with gradient and Gauss-Newton Hessian (one pass for
    /// the model's Jacobian: the MAP step's Levenberg-Marquardt iterations).
    std::size_t jacobian_evaluations = 0;

    /// The fitted map (after clipping and downsampling), the mask used, and
    /// the model and residual (data - model) at the median; residuals are NaN
    /// outside the mask.
    sky_map fitted_map;
    Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> mask;
    Eigen::ArrayXXd model;
    Eigen::ArrayXXd residual;

    /// The summary of a free parameter.
    /// @throws invalid_input naming `name` if it is not a free parameter
    const fit_parameter& parameter(std::string_view name) const {
        for (const auto& p : parameters)
            if (p.name == name) return p;
        detail::throw_invalid_input("fit_result: '", name, "' is not a free parameter of this fit");
    }
    /// The posterior median of a free parameter, or the value of a fixed one.
    /// @throws invalid_input naming `name` if the model has no such parameter
    double median(std::string_view name) const {
        for (std::size_t k = 0; k < full_names.size(); ++k)
            if (full_names[k] == name) return full_median[static_cast<Eigen::Index>(k)];
        detail::throw_invalid_input("fit_result: the model has no parameter '", name, "'");
    }
    /// The free parameters' medians, in sampling order.
    Eigen::VectorXd medians() const {
        Eigen::VectorXd m(static_cast<Eigen::Index>(parameters.size()));
        for (std::size_t i = 0; i < parameters.size(); ++i) m[static_cast<Eigen::Index>(i)] = parameters[i].p50;
        return m;
    }
    /// Draws of all chains stacked, (total draws) x free parameters.
    Eigen::MatrixXd pooled_draws() const {
        Eigen::Index rows = 0;
        for (const auto& c : chains) rows += c.rows();
        Eigen::MatrixXd all(rows, static_cast<Eigen::Index>(parameters.size()));
        Eigen::Index at = 0;
        for (const auto& c : chains) {
            all.middleRows(at, c.rows()) = c;
            at += c.rows();
        }
        return all;
    }
};

}  // namespace diskmc
