#pragma once
// Named model parameters, each free (with a start) or fixed, with priors and
// the transforms to an unconstrained space. Names follow eddy
// (richteague/eddy, default_parameters.yml), whose table of defaults is
// eddy_parameters(); a user overrides any prior per parameter, and a custom
// model brings its own catalogue.
//
// @code
//   using namespace diskmc::inference;
//   parameter_set parameters({
//       free_parameter("x0", 0.0), free_parameter("y0", 0.0), free_parameter("PA", 133.0),
//       free_parameter("mstar", 2.0), free_parameter("vlsr", 5760.0),
//       free_parameter("z0", 0.3), free_parameter("psi", 1.25),
//       free_parameter("r_taper", 2.5, prior::flat(0.0, 50.0)),  // finite: see transform.hpp
//       free_parameter("q_taper", 2.0),
//       fixed_parameter("inc", 46.7), fixed_parameter("dist", 101.0)});
//   parameters.dim();                 // 9 free parameters
//   parameters.free_index("mstar");   // 3
// @endcode

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "diskmc/disk/components.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/inference/parameter_catalogue.hpp"
#include "diskmc/inference/prior.hpp"
#include "diskmc/inference/transform.hpp"

namespace diskmc::inference {

/// eddy's parameter table (default_parameters.yml of richteague/eddy; the
/// README of the shared eddy fixtures lists the same priors): names, default
/// values and flat default priors. A single prior value v in eddy means
/// [-v, v]. Units as eddy: arcsec, degrees, m/s, solar masses, pc.
///
/// Assembled from the declarations of the geometry and the built-in
/// components (disk/components.hpp; the vertical flow's vz_100 and vz_q are
/// not eddy's), then eddy's parameters that no built-in component models yet
/// (warp, pressure support, rotation and radial-flow tapers, vortex) and the
/// mask radii.
inline parameter_catalogue eddy_parameters() {
    parameter_catalogue catalogue;
    const auto add_new = [&](const std::vector<parameter_info>& entries) {
        for (const parameter_info& entry : entries)
            if (!catalogue.find(entry.name)) catalogue.add(entry);
    };
    add_new(geometry_parameters());
    add_new(flared_component::parameters());
    add_new(keplerian_component::parameters());
    add_new(power_law_component::parameters());
    add_new(self_gravitating_component::parameters());
    add_new(radial_power_law_component::parameters());
    add_new(vertical_power_law_component::parameters());  // not in eddy's table
    const auto flat = [](double lower, double upper) { return prior::flat(lower, upper); };
    const std::nullopt_t none = std::nullopt;
    add_new({
        // Warp.
        {"w_i", none, flat(-90.0, 90.0), 0.0, "deg", "warp inclination at the centre"},
        {"w_r", none, flat(-10.0, 10.0), 0.0, "arcsec", "warp scale radius"},
        {"w_t", none, flat(-180.0, 180.0), 0.0, "deg", "warp angle of nodes"},
        // Velocity profiles.
        {"r_pressure", none, flat(0.0, 10.0), 0.0, "arcsec", "pressure-gradient radius"},
        {"w_pressure", none, flat(0.0, 100.0), 0.0, "arcsec", "pressure-gradient width"},
        {"vp_rtaper", none, flat(0.0, 1000.0), 0.0, "arcsec", "taper radius of the rotation velocity"},
        {"vp_qtaper", none, flat(-2.0, 2.0), 0.0, "", "taper exponent of the rotation velocity"},
        {"vr_rtaper", none, flat(0.0, 1000.0), 0.0, "arcsec", "taper radius of the radial velocity"},
        {"vr_qtaper", none, flat(-2.0, 2.0), 0.0, "", "taper exponent of the radial velocity"},
        // Vortex.
        {"r0_vortex", none, flat(0.0, 10.0), 0.0, "arcsec", "vortex radius"},
        {"p0_vortex", none, flat(-180.0, 180.0), 0.0, "deg", "vortex azimuth"},
        {"chi_vortex", 5.0, flat(1.0, 20.0), 0.0, "", "vortex aspect ratio"},
        {"r_vortex", 0.1, flat(0.0, 5.0), 0.0, "arcsec", "vortex radial size"},
        {"w_vortex", 0.05, flat(0.0, 5.0), 0.0, "", "vortex azimuthal size"},
        {"v_vortex", 20.0, flat(0.0, 1000.0), 0.0, "m/s", "vortex velocity"},
        // Mask radii.
        {"r_min", 0.0, flat(-10.0, 10.0), 0.0, "arcsec", "inner radius of the fitted region"},
        {"r_max", 10.0, flat(0.0, 20.0), 0.0, "arcsec", "outer radius of the fitted region"},
    });
    return catalogue;
}

/// One parameter as the user gives it: free with a start, or fixed.
struct parameter {
    std::string name;
    double value = std::numeric_limits<double>::quiet_NaN();  ///< start (free) or value (fixed)
    bool free = true;
    /// Overrides the catalogue's default prior (free parameters only).
    std::optional<inference::prior> prior;
};

/// A free parameter starting at `start`, with the catalogue's prior unless
/// one is given.
inline parameter free_parameter(std::string name, double start,
                                std::optional<inference::prior> custom_prior = std::nullopt) {
    return {std::move(name), start, true, std::move(custom_prior)};
}

/// A parameter held at `value`.
inline parameter fixed_parameter(std::string name, double value) {
    return {std::move(name), value, false, std::nullopt};
}

/// The parameters of one fit: which are free (in the order given, which is
/// the order of the sampled vector), their priors, starts and transforms,
/// and the values of the fixed ones.
///
/// All checks happen in the constructor, which throws diskmc::invalid_input
/// naming the parameter for: an unknown name; a name given twice (or both
/// fixed and free); a NaN value; a malformed prior (NaN bound, lower >= upper,
/// Gaussian sd <= 0); a free start outside its prior, or on a finite bound
/// of it (the unconstrained start would be infinite); a prior given for a
/// fixed parameter. Fixed values are not checked against priors and may be
/// infinite (eddy's r_taper = inf means no taper).
class parameter_set {
public:
    /// @param parameters  the fit's parameters; free ones in sampling order
    /// @param catalogue   the names understood and their default priors
    explicit parameter_set(std::vector<parameter> parameters, parameter_catalogue catalogue = eddy_parameters())
        : catalogue_(std::move(catalogue)), given_(std::move(parameters)) {
        for (std::size_t k = 0; k < given_.size(); ++k) {
            const parameter& p = given_[k];
            const parameter_info& info = catalogue_.at(p.name);
            for (std::size_t j = 0; j < k; ++j)
                if (given_[j].name == p.name) {
                    if (given_[j].free != p.free)
                        diskmc::detail::throw_invalid_input("parameter '", p.name, "' is given both fixed and free");
                    diskmc::detail::throw_invalid_input("parameter '", p.name, "' is given twice");
                }
            if (std::isnan(p.value)) diskmc::detail::throw_invalid_input("parameter '", p.name, "': value is NaN");
            if (!p.free) {
                if (p.prior)
                    diskmc::detail::throw_invalid_input("parameter '", p.name,
                                                "' is fixed but has a prior: priors apply to free parameters");
                continue;
            }
            const inference::prior chosen = p.prior.value_or(info.prior);
            chosen.check(p.name);
            if (!chosen.contains(p.value))
                diskmc::detail::throw_invalid_input("parameter '", p.name, "': start ", p.value, " lies outside its prior [",
                                            chosen.lower, ", ", chosen.upper, "]");
            if (p.value == chosen.lower || p.value == chosen.upper)
                diskmc::detail::throw_invalid_input("parameter '", p.name, "': start ", p.value,
                                            " lies on a bound of its prior [", chosen.lower, ", ", chosen.upper,
                                            "]; start strictly inside (the unconstrained start would be infinite)");
            free_.push_back({k, chosen, bound_transform::for_bounds(chosen.lower, chosen.upper), info.period});
            free_names_.push_back(p.name);
            log_prior_constant_ += chosen.log_normaliser();
        }
    }

    /// Number of free parameters: the dimension samplers see.
    std::size_t dim() const { return free_.size(); }
    /// Number of parameters given (free and fixed).
    std::size_t size() const { return given_.size(); }

    const parameter_catalogue& catalogue() const { return catalogue_; }
    const std::vector<parameter>& given() const { return given_; }
    /// Names of the free parameters, in sampling order.
    const std::vector<std::string>& free_names() const { return free_names_; }

    bool contains(std::string_view name) const { return find_given(name) != nullptr; }
    bool is_free(std::string_view name) const {
        const parameter* p = find_given(name);
        return p && p->free;
    }

    /// Position of a free parameter in the sampled vector.
    /// @throws diskmc::invalid_input if `name` is unknown, not given or fixed
    std::size_t free_index(std::string_view name) const {
        for (std::size_t i = 0; i < free_names_.size(); ++i)
            if (free_names_[i] == name) return i;
        catalogue_.at(name);  // throws for an unknown name
        if (contains(name)) diskmc::detail::throw_invalid_input("parameter '", name, "' is fixed, not free");
        diskmc::detail::throw_invalid_input("parameter '", name, "' is not in this parameter set");
    }

    /// The value of a parameter not sampled: the fixed value when given,
    /// else the catalogue's default. Empty for a free parameter, or one with
    /// no default that was not given.
    std::optional<double> fixed_value(std::string_view name) const {
        if (const parameter* p = find_given(name)) return p->free ? std::nullopt : std::optional<double>(p->value);
        return catalogue_.at(name).default_value;
    }

    /// The prior, transform and period of free parameter i.
    const inference::prior& prior(std::size_t i) const { return free_[i].prior; }
    const bound_transform& transform(std::size_t i) const { return free_[i].transform; }
    double period(std::size_t i) const { return free_[i].period; }

    /// The free parameters' starts.
    Eigen::VectorXd start() const {
        Eigen::VectorXd x(static_cast<Eigen::Index>(dim()));
        for (std::size_t i = 0; i < dim(); ++i) x[static_cast<Eigen::Index>(i)] = given_[free_[i].given_index].value;
        return x;
    }
    /// Lower and upper bounds of the free parameters' priors (infinite where open).
    Eigen::VectorXd lower_bounds() const {
        Eigen::VectorXd x(static_cast<Eigen::Index>(dim()));
        for (std::size_t i = 0; i < dim(); ++i) x[static_cast<Eigen::Index>(i)] = free_[i].prior.lower;
        return x;
    }
    Eigen::VectorXd upper_bounds() const {
        Eigen::VectorXd x(static_cast<Eigen::Index>(dim()));
        for (std::size_t i = 0; i < dim(); ++i) x[static_cast<Eigen::Index>(i)] = free_[i].prior.upper;
        return x;
    }

    /// theta with every component on (or beyond) a prior bound moved just
    /// inside it, by 1e-6 of the prior's width (or of max(|theta|, 1) for a
    /// half-open prior): the unconstrained transforms map a bound to
    /// +-infinity. Components inside are returned unchanged.
    Eigen::VectorXd inside_bounds(Eigen::VectorXd theta) const {
        for (std::size_t i = 0; i < dim(); ++i) {
            const auto j = static_cast<Eigen::Index>(i);
            const double lower = free_[i].prior.lower, upper = free_[i].prior.upper;
            const bool finite_box = std::isfinite(lower) && std::isfinite(upper);
            const double nudge = 1e-6 * (finite_box ? upper - lower : std::max(std::abs(theta[j]), 1.0));
            if (theta[j] <= lower) theta[j] = lower + nudge;
            if (theta[j] >= upper) theta[j] = upper - nudge;
        }
        return theta;
    }

    /// Sum of the free parameters' log priors at theta (constrained space),
    /// normalised as prior.hpp documents; -infinity outside the support.
    /// Fixed parameters contribute nothing.
    template <class T>
    T log_prior(const Eigen::Matrix<T, Eigen::Dynamic, 1>& theta) const {
        T sum(log_prior_constant_);
        for (std::size_t i = 0; i < dim(); ++i) {
            const T term = free_[i].prior.log_kernel(T(theta[static_cast<Eigen::Index>(i)]));
            if (!(term > -std::numeric_limits<double>::infinity())) return T(-std::numeric_limits<double>::infinity());
            sum += term;
        }
        return sum;
    }

    /// log_prior(theta) and its gradient (zero outside the support).
    double log_prior_gradient(const Eigen::VectorXd& theta, Eigen::VectorXd& grad) const {
        grad = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(dim()));
        const double value = log_prior<double>(theta);
        if (!std::isfinite(value)) return value;
        for (std::size_t i = 0; i < dim(); ++i) {
            const auto k = static_cast<Eigen::Index>(i);
            grad[k] = free_[i].prior.log_density_derivative(theta[k]);
        }
        return value;
    }

    /// theta(u) for any scalar type; adds log |d theta / d u| to log_jacobian.
    template <class T>
    Eigen::Matrix<T, Eigen::Dynamic, 1> to_constrained(const Eigen::Matrix<T, Eigen::Dynamic, 1>& u,
                                                       T& log_jacobian) const {
        Eigen::Matrix<T, Eigen::Dynamic, 1> theta(u.size());
        for (std::size_t i = 0; i < dim(); ++i) {
            const auto k = static_cast<Eigen::Index>(i);
            theta[k] = free_[i].transform.to_constrained(T(u[k]), log_jacobian);
        }
        return theta;
    }

    /// theta(u) in double precision.
    Eigen::VectorXd to_constrained(const Eigen::VectorXd& u) const {
        double log_jacobian = 0.0;
        return to_constrained<double>(u, log_jacobian);
    }

    /// u(theta); +-infinity for a component on a finite bound.
    Eigen::VectorXd to_unconstrained(const Eigen::VectorXd& theta) const {
        Eigen::VectorXd u(theta.size());
        for (std::size_t i = 0; i < dim(); ++i) {
            const auto k = static_cast<Eigen::Index>(i);
            u[k] = free_[i].transform.to_unconstrained(theta[k]);
        }
        return u;
    }

    /// Wraps periodic free parameters (PA) into [0, period), as eddy does to
    /// its samples after a run (chain[..., PA] %= 360). Other components are
    /// left alone. Works on one point or on draws stored one per column.
    void wrap_periodic(Eigen::Ref<Eigen::MatrixXd> draws) const {
        for (std::size_t i = 0; i < dim(); ++i) {
            const double p = free_[i].period;
            if (p <= 0.0) continue;
            for (double& x : draws.row(static_cast<Eigen::Index>(i))) {
                x -= p * std::floor(x / p);
                if (x >= p) x = 0.0;  // -tiny rounds up to exactly p
            }
        }
    }

private:
    struct free_parameter_data {
        std::size_t given_index;
        inference::prior prior;
        bound_transform transform;
        double period;
    };

    const parameter* find_given(std::string_view name) const {
        for (const auto& p : given_)
            if (p.name == name) return &p;
        return nullptr;
    }

    parameter_catalogue catalogue_;
    std::vector<parameter> given_;
    std::vector<free_parameter_data> free_;
    std::vector<std::string> free_names_;
    double log_prior_constant_ = 0.0;
};

}  // namespace diskmc::inference
