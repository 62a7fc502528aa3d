#pragma once
// Initial walker positions, and the checks on them that emcee leaves out or
// only half does: a bad start gives a clear error before the first step
// instead of a chain that never mixes.

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <variant>

#include "diskmc/detail/random_stream.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/samplers/ensemble/options.hpp"

namespace diskmc {

namespace detail {

inline constexpr std::string_view ensemble_function = "ensemble";
/// Random stream of a seed that draws the start positions (the moves use 0).
inline constexpr std::uint64_t start_stream = 1;
/// emcee's limit on the column-scaled condition number of the start.
inline constexpr double maximum_start_condition_number = 1.0e8;

inline std::size_t start_walkers(const ensemble_start& start) {
    struct visitor {
        std::size_t operator()(const scatter_start& s) const { return s.walkers; }
        std::size_t operator()(const gaussian_start& s) const { return s.walkers; }
        std::size_t operator()(const explicit_start& s) const {
            return static_cast<std::size_t>(s.positions.cols());
        }
    };
    return std::visit(visitor{}, start);
}

inline void check_dimension(std::string_view what, Eigen::Index size, std::size_t dim) {
    if (static_cast<std::size_t>(size) != dim)
        throw_invalid_input(ensemble_function, ": ", what, " has ", size,
                            " entries but the model has dim() = ", dim);
}

inline Eigen::MatrixXd scattered_positions(const scatter_start& start, std::size_t dim,
                                           random_stream& random) {
    check_dimension("scatter_start.point", start.point.size(), dim);
    check_argument(start.point.allFinite(), ensemble_function, "scatter_start.point must be finite");
    check_positive(ensemble_function, "scatter_start.scatter", start.scatter);
    Eigen::MatrixXd positions(static_cast<Eigen::Index>(dim), static_cast<Eigen::Index>(start.walkers));
    for (Eigen::Index k = 0; k < positions.cols(); ++k)
        for (Eigen::Index i = 0; i < positions.rows(); ++i) {
            const double p = start.point[i];
            const double relative = start.scatter * random.normal();
            positions(i, k) = p == 0.0 ? relative : p * (1.0 + relative);
        }
    return positions;
}

inline Eigen::MatrixXd gaussian_positions(const gaussian_start& start, std::size_t dim,
                                          random_stream& random) {
    check_dimension("gaussian_start.mean", start.mean.size(), dim);
    const auto n = static_cast<Eigen::Index>(dim);
    if (start.covariance.rows() != n || start.covariance.cols() != n)
        throw_invalid_input(ensemble_function, ": gaussian_start.covariance is ",
                            start.covariance.rows(), " x ", start.covariance.cols(),
                            " but the model has dim() = ", dim);
    check_argument(start.mean.allFinite(), ensemble_function, "gaussian_start.mean must be finite");
    check_argument(start.covariance.allFinite(), ensemble_function,
                   "gaussian_start.covariance must be finite");
    check_positive(ensemble_function, "gaussian_start.scale", start.scale);
    const double largest = start.covariance.cwiseAbs().maxCoeff();
    const double asymmetry = (start.covariance - start.covariance.transpose()).cwiseAbs().maxCoeff();
    if (asymmetry > 1e-10 * largest)
        throw_invalid_input(ensemble_function,
                            ": gaussian_start.covariance is not symmetric (largest |C - C^T| = ",
                            asymmetry, ")");
    // C = P^T L D L^T P (pivoted LDL^T, which also takes a semi-definite C),
    // so x = mean + scale P^T L D^(1/2) z. A singular C draws walkers in a
    // subspace, which the degeneracy check then reports with its own message.
    const Eigen::LDLT<Eigen::MatrixXd> factor(start.covariance);
    const Eigen::VectorXd& d = factor.vectorD();
    if (factor.info() != Eigen::Success || !(d.maxCoeff() > 0.0) ||
        d.minCoeff() < -1e-10 * d.maxCoeff())
        throw_invalid_input(ensemble_function,
                            ": gaussian_start.covariance is not positive semi-definite (pivots of "
                            "its LDL^T factorisation from ",
                            d.minCoeff(), " to ", d.maxCoeff(), ")");
    const Eigen::VectorXd root_d = start.scale * d.cwiseMax(0.0).cwiseSqrt();
    Eigen::MatrixXd positions(n, static_cast<Eigen::Index>(start.walkers));
    Eigen::VectorXd z(n);
    for (Eigen::Index k = 0; k < positions.cols(); ++k) {
        for (Eigen::Index i = 0; i < n; ++i) z[i] = random.normal();
        const Eigen::VectorXd y = factor.matrixL() * root_d.cwiseProduct(z);
        positions.col(k) = start.mean + factor.transpositionsP().transpose() * y;
    }
    return positions;
}

/// Singular values of a tall matrix (rows >= cols), in no particular order,
/// by one-sided Jacobi rotations (Hestenes 1958; Demmel & Veselic 1992, SIAM
/// J. Matrix Anal. Appl. 13:1204): columns are rotated pairwise until
/// mutually orthogonal, and their norms are then the singular values, each
/// to high relative accuracy. Fine for the few tens of columns here, and it
/// keeps Eigen's blocked SVD (and a spurious g++ 12 AVX-512 warning it
/// triggers) out of every user's build.
inline Eigen::VectorXd singular_values(Eigen::MatrixXd columns) {
    const Eigen::Index n = columns.cols();
    for (int sweep = 0; sweep < 60; ++sweep) {
        bool rotated = false;
        for (Eigen::Index p = 0; p + 1 < n; ++p)
            for (Eigen::Index q = p + 1; q < n; ++q) {
                const double alpha = columns.col(p).squaredNorm();
                const double beta = columns.col(q).squaredNorm();
                const double gamma = columns.col(p).dot(columns.col(q));
                if (std::abs(gamma) <= 1e-15 * std::sqrt(alpha * beta)) continue;
                rotated = true;
                // The rotation that zeroes the (p, q) entry of the Gram matrix.
                const double zeta = (beta - alpha) / (2.0 * gamma);
                const double t = std::copysign(1.0, zeta) / (std::abs(zeta) + std::sqrt(1.0 + zeta * zeta));
                const double c = 1.0 / std::sqrt(1.0 + t * t), s = c * t;
                for (Eigen::Index i = 0; i < columns.rows(); ++i) {
                    const double x = columns(i, p), y = columns(i, q);
                    columns(i, p) = c * x - s * y;
                    columns(i, q) = s * x + c * y;
                }
            }
        if (!rotated) break;
    }
    return columns.colwise().norm().transpose();
}

/// emcee's walkers_independent measure: centre each parameter over the
/// walkers, scale each column by its largest |value| and then to unit norm,
/// and take the 2-norm condition number of the walkers x dim matrix.
/// Infinite if a parameter is constant across the walkers.
inline double scaled_condition_number(const Eigen::MatrixXd& positions) {
    Eigen::MatrixXd centred = positions.transpose();  // walkers x dim
    centred.rowwise() -= centred.colwise().mean();
    for (Eigen::Index i = 0; i < centred.cols(); ++i) {
        const double largest = centred.col(i).cwiseAbs().maxCoeff();
        if (!(largest > 0.0)) return std::numeric_limits<double>::infinity();
        centred.col(i) /= largest;
        centred.col(i).normalize();
    }
    const Eigen::VectorXd singular = singular_values(centred);
    const double smallest = singular.minCoeff();
    return smallest > 0.0 ? singular.maxCoeff() / smallest : std::numeric_limits<double>::infinity();
}

/// The checks on the walkers' count and start positions that need no
/// log-density; each names what is wrong and how to fix it.
inline void check_start_positions(const Eigen::MatrixXd& positions, std::size_t dim) {
    constexpr std::string_view f = ensemble_function;
    const auto walkers = static_cast<std::size_t>(positions.cols());
    if (walkers % 2 != 0)
        throw_invalid_input(f, ": the number of walkers must be even (the red-blue split needs two "
                               "equal halves), got ", walkers);
    if (walkers < 2 * dim)
        throw_invalid_input(f, ": need at least 2 * dim = ", 2 * dim,
                            " walkers so the ensemble can span the parameter space, got ", walkers);
    for (Eigen::Index k = 0; k < positions.cols(); ++k)
        for (Eigen::Index i = 0; i < positions.rows(); ++i)
            if (!std::isfinite(positions(i, k)))
                throw_invalid_input(f, ": walker ", k, " starts at a non-finite position (parameter ",
                                    i, " = ", positions(i, k), ")");
    if ((positions.colwise() - positions.col(0)).cwiseAbs().maxCoeff() == 0.0)
        throw_invalid_input(f, ": all walkers start at the same point; scatter them (a "
                               "scatter_start with scatter > 0, or distinct positions)");
    for (Eigen::Index i = 0; i < positions.rows(); ++i)
        if (positions.row(i).maxCoeff() == positions.row(i).minCoeff())
            throw_invalid_input(f, ": parameter ", i, " has the same value (", positions(i, 0),
                                ") in every walker; the ensemble could never leave that "
                                "subspace, so scatter it");
    const double condition = scaled_condition_number(positions);
    if (!(condition <= maximum_start_condition_number))
        throw_invalid_input(f, ": the start walkers are (nearly) linearly dependent: their "
                               "column-scaled condition number is ", condition, " > ",
                            maximum_start_condition_number,
                            " (emcee's walkers_independent test); start them in a "
                            "full-dimensional ball");
}

}  // namespace detail

/// The start positions a start gives for a model of dimension `dim` and a
/// seed, dim x walkers: exactly those `ensemble(model, start, options, seed)`
/// begins from. Throws invalid_input on shape or value errors of the start
/// itself (the checks on the positions come later, in ensemble()).
inline Eigen::MatrixXd initial_positions(const ensemble_start& start, std::size_t dim,
                                         std::uint64_t seed) {
    detail::random_stream random(seed, detail::start_stream);
    struct visitor {
        std::size_t dim;
        detail::random_stream& random;
        Eigen::MatrixXd operator()(const scatter_start& s) const {
            return detail::scattered_positions(s, dim, random);
        }
        Eigen::MatrixXd operator()(const gaussian_start& s) const {
            return detail::gaussian_positions(s, dim, random);
        }
        Eigen::MatrixXd operator()(const explicit_start& s) const {
            detail::check_dimension("explicit_start.positions (rows)", s.positions.rows(), dim);
            return s.positions;
        }
    };
    return std::visit(visitor{dim, random}, start);
}

}  // namespace diskmc
