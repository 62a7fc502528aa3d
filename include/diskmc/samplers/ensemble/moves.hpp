#pragma once
// The ensemble sampler's moves: small policy objects sharing one red-blue
// loop. Each holds its tuning constants (emcee's defaults) and proposes a new
// position for one walker from the walkers of the other group(s), returning
// the log of the proposal's Hastings factor.
//
// The sampler splits the walkers into `groups` groups (2 for all moves but
// the snooker, which uses 4 as emcee does), and updates one group at a time
// from the others, which stay fixed meanwhile (Foreman-Mackey et al. 2013,
// PASP 125:306, Algorithm 3). Because the complement is fixed, each walker's
// update is a valid Metropolis-Hastings step, and the proposals of a whole
// group can be evaluated together.

#include "diskmc/detail/numbers.hpp"
#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "diskmc/detail/random_stream.hpp"
#include "diskmc/errors.hpp"

namespace diskmc {

namespace detail {

/// What a move sees when it proposes for one walker of the group being
/// updated: the current positions (dim x walkers), the walkers of the other
/// groups (all together, and group by group), the random stream, and scratch
/// space so proposing never allocates.
struct move_context {
    const Eigen::MatrixXd& positions;
    std::span<const std::size_t> complement;
    std::array<std::span<const std::size_t>, 3> other_groups;
    random_stream& random;
    std::vector<std::size_t>& scratch_indices;
    Eigen::VectorXd& scratch;

    std::size_t pick(std::span<const std::size_t> walkers) const {
        return walkers[random.below(walkers.size())];
    }
};


}  // namespace detail

/// Goodman & Weare (2010, CAMCoS 5:65) stretch move, emcee's default:
/// Y = X_j + z (X_k - X_j) with X_j a random walker of the complement and
/// z drawn from g(z) ∝ 1/sqrt(z) on [1/a, a]; Hastings factor z^(dim-1).
struct stretch_move {
    /// Scale of the stretch, > 1 (emcee's default 2).
    double a = 2.0;

    static constexpr std::size_t groups = 2;
    static constexpr std::string_view name = "stretch";

    /// Walkers the move needs in total (one partner in the other half).
    std::size_t minimum_walkers() const { return 2; }

    void check(std::string_view function) const {
        if (!(std::isfinite(a) && a > 1.0))
            detail::throw_invalid_input(function, ": stretch_move.a must be finite and > 1, got ",
                                        a);
    }

    double propose(const Eigen::Ref<const Eigen::VectorXd>& walker, detail::move_context& context,
                   Eigen::Ref<Eigen::VectorXd> proposal) const {
        // Inverse CDF of g: z = ((a - 1) u + 1)^2 / a.
        const double root = (a - 1.0) * context.random.uniform() + 1.0;
        const double z = root * root / a;
        const auto partner = context.positions.col(static_cast<Eigen::Index>(
            context.pick(context.complement)));
        proposal = partner + z * (walker - partner);
        return static_cast<double>(walker.size() - 1) * std::log(z);
    }
};

/// Differential-evolution move (ter Braak 2006, Stat. Comput. 16:239; in
/// emcee after Nelson et al. 2014, ApJS 210:11): Y = X + gamma (X_i - X_j)
/// with (i, j) a random ordered pair of distinct complement walkers and
/// gamma = gamma0 (1 + sigma N(0, 1)). Symmetric, so no Hastings factor.
struct de_move {
    /// Relative spread of gamma (emcee's default 1e-5: gamma is almost fixed).
    double sigma = 1.0e-5;
    /// Mean of gamma; unset means 2.38 / sqrt(2 dim), the optimal scale for a
    /// Gaussian target (ter Braak 2006). gamma0 = 1 jumps between copies of
    /// one mode ("mode hopping").
    std::optional<double> gamma0 = std::nullopt;

    static constexpr std::size_t groups = 2;
    static constexpr std::string_view name = "de";

    /// A pair of distinct walkers in the other half.
    std::size_t minimum_walkers() const { return 4; }

    double gamma_mean(std::size_t dim) const {
        return gamma0 ? *gamma0 : 2.38 / std::sqrt(2.0 * static_cast<double>(dim));
    }

    void check(std::string_view function) const {
        check_nonnegative(function, "de_move.sigma", sigma);
        if (gamma0) check_positive(function, "de_move.gamma0", *gamma0);
    }

    double propose(const Eigen::Ref<const Eigen::VectorXd>& walker, detail::move_context& context,
                   Eigen::Ref<Eigen::VectorXd> proposal) const {
        const std::size_t n = context.complement.size();
        const std::size_t first = context.random.below(n);
        std::size_t second = context.random.below(n - 1);
        if (second >= first) ++second;
        const double gamma = gamma_mean(static_cast<std::size_t>(walker.size())) *
                             (1.0 + sigma * context.random.normal());
        proposal = walker + gamma * (context.positions.col(static_cast<Eigen::Index>(
                                         context.complement[first])) -
                                     context.positions.col(static_cast<Eigen::Index>(
                                         context.complement[second])));
        return 0.0;
    }
};

/// Differential-evolution snooker move (ter Braak & Vrugt 2008, Stat. Comput.
/// 18:435): with Z, Z1, Z2 one walker from each of the three other groups in
/// random order, move X along the line through Z by gamma times the
/// projection of Z1 - Z2 on that line; Hastings factor
/// (|Y - Z| / |X - Z|)^(dim-1).
///
/// emcee's DESnookerMove divided by sqrt(|X - Z|) instead of |X - Z| and used
/// half the exponent, which breaks detailed balance; emcee PR #531 fixed
/// both. This is the corrected form.
struct de_snooker_move {
    /// Scale of the projected difference (ter Braak & Vrugt's 1.7).
    double gamma = 1.7;

    static constexpr std::size_t groups = 4;
    static constexpr std::string_view name = "de_snooker";

    /// One walker in each of four groups.
    std::size_t minimum_walkers() const { return 4; }

    void check(std::string_view function) const {
        check_positive(function, "de_snooker_move.gamma", gamma);
    }

    double propose(const Eigen::Ref<const Eigen::VectorXd>& walker, detail::move_context& context,
                   Eigen::Ref<Eigen::VectorXd> proposal) const {
        std::array<std::size_t, 3> picked{};
        for (std::size_t g = 0; g < 3; ++g) picked[g] = context.pick(context.other_groups[g]);
        for (std::size_t i = 2; i > 0; --i) std::swap(picked[i], picked[context.random.below(i + 1)]);
        const auto centre = context.positions.col(static_cast<Eigen::Index>(picked[0]));
        const auto z1 = context.positions.col(static_cast<Eigen::Index>(picked[1]));
        const auto z2 = context.positions.col(static_cast<Eigen::Index>(picked[2]));

        Eigen::VectorXd& direction = context.scratch;
        direction = walker - centre;
        const double distance = direction.norm();
        if (!(distance > 0.0)) {  // X on Z: no line to move along; reject
            proposal = walker;
            return detail::not_a_number;
        }
        direction /= distance;
        proposal = walker + (gamma * direction.dot(z1 - z2)) * direction;
        return static_cast<double>(walker.size() - 1) *
               (std::log((proposal - centre).norm()) - std::log(distance));
    }
};

/// Goodman & Weare (2010) walk move: Y = X + W with W Gaussian with the
/// covariance of `helpers` random complement walkers (all of them by
/// default), drawn as W = sum_j Z_j (X_j - mean) / sqrt(helpers - 1) with
/// Z_j ~ N(0, 1), which needs no factorisation. Symmetric.
struct walk_move {
    /// Complement walkers whose spread sets the step; unset means all of
    /// them (emcee's default). At least 2.
    std::optional<std::size_t> helpers = std::nullopt;

    static constexpr std::size_t groups = 2;
    static constexpr std::string_view name = "walk";

    std::size_t minimum_walkers() const { return 2 * std::max<std::size_t>(2, helpers.value_or(2)); }

    void check(std::string_view function) const {
        if (helpers && *helpers < 2)
            detail::throw_invalid_input(function, ": walk_move.helpers must be >= 2, got ",
                                        *helpers);
    }

    double propose(const Eigen::Ref<const Eigen::VectorXd>& walker, detail::move_context& context,
                   Eigen::Ref<Eigen::VectorXd> proposal) const {
        std::span<const std::size_t> chosen = context.complement;
        if (helpers && *helpers < context.complement.size()) {
            // Partial Fisher-Yates: the first `helpers` entries are a uniform
            // subset drawn without replacement.
            auto& pool = context.scratch_indices;
            pool.assign(context.complement.begin(), context.complement.end());
            for (std::size_t i = 0; i < *helpers; ++i)
                std::swap(pool[i], pool[i + context.random.below(pool.size() - i)]);
            chosen = std::span<const std::size_t>(pool.data(), *helpers);
        }
        Eigen::VectorXd& mean = context.scratch;
        mean.setZero(walker.size());
        for (const std::size_t k : chosen) mean += context.positions.col(static_cast<Eigen::Index>(k));
        mean /= static_cast<double>(chosen.size());
        proposal = walker;
        const double scale = 1.0 / std::sqrt(static_cast<double>(chosen.size() - 1));
        for (const std::size_t k : chosen)
            proposal += (scale * context.random.normal()) *
                        (context.positions.col(static_cast<Eigen::Index>(k)) - mean);
        return 0.0;
    }
};

/// One of the moves above.
using ensemble_move = std::variant<stretch_move, de_move, de_snooker_move, walk_move>;

/// A move and its probability weight in a mixture: each iteration the
/// sampler picks one move with probability weight / (sum of weights), as
/// emcee's `moves=[(DEMove(), 0.8), (DESnookerMove(), 0.2)]`.
struct weighted_move {
    ensemble_move move = stretch_move{};
    double weight = 1.0;
};

}  // namespace diskmc
