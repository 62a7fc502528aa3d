#pragma once
// Minimal models that satisfy each concept and nothing more. Tests
// instantiate every sampler with them, so a sampler that quietly relies on
// more than its concept promises fails to compile.
//
// Each archetype is a standard normal in `dim` dimensions, so runs on it also
// have a known answer.

#include <Eigen/Core>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "diskmc/concepts/batch_log_density.hpp"
#include "diskmc/concepts/differentiable_log_density.hpp"
#include "diskmc/concepts/disk_component.hpp"
#include "diskmc/concepts/least_squares_log_density.hpp"
#include "diskmc/concepts/log_density.hpp"
#include "diskmc/concepts/named_log_likelihood.hpp"
#include "diskmc/concepts/scalar_generic_log_density.hpp"

namespace diskmc::archetypes {

/// Satisfies log_density only.
struct log_density_archetype {
    std::size_t dimension = 2;
    std::size_t dim() const { return dimension; }
    double log_density(const Eigen::VectorXd& x) const { return -0.5 * x.squaredNorm(); }
};

/// Satisfies differentiable_log_density (and so log_density), nothing else.
struct differentiable_log_density_archetype {
    std::size_t dimension = 2;
    std::size_t dim() const { return dimension; }
    double log_density(const Eigen::VectorXd& x) const { return -0.5 * x.squaredNorm(); }
    double log_density_gradient(const Eigen::VectorXd& x, Eigen::VectorXd& grad) const {
        grad = -x;
        return -0.5 * x.squaredNorm();
    }
};

/// Satisfies least_squares_log_density (and so differentiable_log_density),
/// nothing else: residuals r = x with unit weights.
struct least_squares_log_density_archetype : differentiable_log_density_archetype {
    double log_density_gauss_newton(const Eigen::VectorXd& x, Eigen::VectorXd& grad, Eigen::MatrixXd& hessian) const {
        hessian = Eigen::MatrixXd::Identity(x.size(), x.size());
        return log_density_gradient(x, grad);
    }
};

/// Satisfies batch_log_density (and so log_density), nothing else.
struct batch_log_density_archetype {
    std::size_t dimension = 2;
    std::size_t dim() const { return dimension; }
    double log_density(const Eigen::VectorXd& x) const { return -0.5 * x.squaredNorm(); }
    void log_density_batch(const Eigen::MatrixXd& points, Eigen::VectorXd& out) const {
        out = -0.5 * points.colwise().squaredNorm().transpose();
    }
};

/// Satisfies scalar_generic_log_density (and so log_density), nothing else.
struct scalar_generic_log_density_archetype {
    std::size_t dimension = 2;
    std::size_t dim() const { return dimension; }
    template <class T>
    T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& x) const {
        T sum(0.0);
        for (Eigen::Index i = 0; i < x.size(); ++i) sum += x[i] * x[i];
        return T(-0.5) * sum;
    }
};

/// Satisfies named_log_likelihood, nothing else: a standard normal in the
/// eddy parameters x0 and y0.
struct named_log_likelihood_archetype {
    std::vector<std::string> parameter_names() const { return {"x0", "y0"}; }
    template <class T>
    T log_likelihood(const Eigen::Matrix<T, Eigen::Dynamic, 1>& full) const {
        return T(-0.5) * (full[0] * full[0] + full[1] * full[1]);
    }
};

/// What disk_component_archetype makes: a surface z = height_scale r.
template <class T>
struct disk_component_archetype_surface {
    T height_scale;
    template <class V>
    V height(const V& r) const {
        return V(r * height_scale);
    }
};

/// Satisfies disk_component, nothing else: one parameter, h.
struct disk_component_archetype {
    static std::vector<inference::parameter_info> parameters() {
        return {{"h", std::nullopt, inference::prior::flat(0.0, 1.0), 0.0, "", "height per arcsec",
                 inference::valid_range::nonnegative()}};
    }
    template <class T>
    static void check(std::string_view where, const disk_component_archetype_surface<T>& s) {
        check_declared<disk_component_archetype>(where, {s.height_scale});
    }
    template <class T>
    static disk_component_archetype_surface<T> make(parameter_reader<T>& in) {
        return {in.next()};
    }
};

static_assert(log_density<log_density_archetype>);
static_assert(!differentiable_log_density<log_density_archetype>);
static_assert(!batch_log_density<log_density_archetype>);
static_assert(differentiable_log_density<differentiable_log_density_archetype>);
static_assert(batch_log_density<batch_log_density_archetype>);
static_assert(scalar_generic_log_density<scalar_generic_log_density_archetype>);
static_assert(!scalar_generic_log_density<log_density_archetype>);
static_assert(named_log_likelihood<named_log_likelihood_archetype>);
static_assert(!named_log_likelihood_with_gradient<named_log_likelihood_archetype>);
static_assert(disk_component<disk_component_archetype>);
static_assert(!disk_component<log_density_archetype>);

}  // namespace diskmc::archetypes
