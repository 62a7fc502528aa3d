#pragma once
// One NUTS transition: multinomial sampling over a trajectory built by
// repeated doubling, with the generalised no-U-turn criterion and the extra
// checks across sub-trees (Betancourt 2017, "A Conceptual Introduction to
// Hamiltonian Monte Carlo", appendix A; Stan's base_nuts since 2.21; numpyro's
// iterative NUTS does the same checks).
//
// Stan writes the tree recursively. Here the same tree is built leaf by leaf
// with an explicit stack of pending left halves, and the builder pauses
// whenever it needs the log-density and gradient at a new point: the caller
// evaluates the model and resumes it. That lets one chain run on its own and
// several chains run in lockstep, one batch of evaluations per round, from the
// same code and with identical draws. Leaves are merged in exactly the order
// of Stan's recursion, so the random numbers are consumed in the same order
// too (tests/samplers/nuts.test.cpp checks it against a recursive reference).

#include <Eigen/Core>
#include <cmath>
#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

#include "diskmc/detail/random_stream.hpp"
#include "diskmc/samplers/nuts/metric.hpp"

namespace diskmc::detail {

/// A point in phase space with what the integrator needs there.
struct phase_point {
    Eigen::VectorXd position;
    Eigen::VectorXd momentum;
    Eigen::VectorXd velocity;  // M^{-1} momentum
    Eigen::VectorXd gradient;  // of the log-density at position
    double log_density = 0.0;

    double kinetic_energy() const { return 0.5 * momentum.dot(velocity); }
    /// H = -log p(q) + K(p); non-finite values count as +infinity, so that a
    /// NaN anywhere reads as an infinitely bad state.
    double hamiltonian() const {
        const double h = -log_density + kinetic_energy();
        return std::isfinite(h) ? h : std::numeric_limits<double>::infinity();
    }
};

/// A state a transition can return: position, log-density, gradient, and the
/// kinetic energy it had in the trajectory (for the energy statistic).
struct sampled_point {
    Eigen::VectorXd position;
    Eigen::VectorXd gradient;
    double log_density = 0.0;
    double kinetic_energy = 0.0;
};

/// Leapfrog (Störmer-Verlet) step, split where the gradient at the new
/// position is needed. First half: p += (eps/2)·∇log p(q); q += eps·M^{-1}p.
inline void leapfrog_to_new_position(phase_point& z, const euclidean_metric& metric,
                                     double step) {
    z.momentum += (0.5 * step) * z.gradient;
    metric.velocity(z.momentum, z.velocity);
    z.position += step * z.velocity;
}

/// Second half, after z.gradient and z.log_density were evaluated at the new
/// position: p += (eps/2)·∇log p(q).
inline void leapfrog_finish(phase_point& z, const euclidean_metric& metric, double step) {
    z.momentum += (0.5 * step) * z.gradient;
    metric.velocity(z.momentum, z.velocity);
}

/// Whether an evaluation can drive the integrator: a finite log-density with a
/// finite gradient of the right size. -infinity (outside the support) is not
/// usable but is allowed; see breaks_contract.
inline bool usable_evaluation(double log_density, const Eigen::VectorXd& gradient,
                              Eigen::Index dim) {
    return std::isfinite(log_density) && gradient.size() == dim && gradient.allFinite();
}

/// The model broke its contract (-infinity outside the support, never NaN):
/// a NaN or +infinity log-density, or a finite one with a gradient that is
/// not finite or not dim long.
inline bool breaks_contract(double log_density, const Eigen::VectorXd& gradient,
                            Eigen::Index dim) {
    if (std::isnan(log_density) || log_density == std::numeric_limits<double>::infinity())
        return true;
    return std::isfinite(log_density) && !(gradient.size() == dim && gradient.allFinite());
}

/// A whole leapfrog step, for models at hand (tests, the integrator checks).
template <class Model>
void leapfrog(const Model& model, phase_point& z, const euclidean_metric& metric, double step) {
    leapfrog_to_new_position(z, metric, step);
    z.log_density = model.log_density_gradient(z.position, z.gradient);
    leapfrog_finish(z, metric, step);
}

/// The generalised no-U-turn criterion between the two ends of a trajectory
/// segment: both end velocities point along the segment's summed momentum.
inline bool no_u_turn(const Eigen::VectorXd& velocity_begin, const Eigen::VectorXd& velocity_end,
                      const Eigen::VectorXd& rho) {
    return velocity_begin.dot(rho) > 0 && velocity_end.dot(rho) > 0;
}

/// A finished stretch of trajectory (one leaf, a sub-tree, or the new half of
/// the whole tree), ordered along the direction of integration: `begin` is
/// the end nearest the initial point.
struct subtree {
    double log_sum_weight = 0.0;  // log Σ exp(H0 - H) over its states
    Eigen::VectorXd rho;          // Σ momentum over its states
    Eigen::VectorXd momentum_begin, velocity_begin;
    Eigen::VectorXd momentum_end, velocity_end;
    sampled_point proposal;  // its multinomial choice
};

/// Stan's three checks when `first` and `second` (adjacent, in integration
/// order) join: the no-U-turn criterion across the joined segment, and across
/// `first` extended by `second`'s first state and `second` extended by
/// `first`'s last state. The two extra checks catch U-turns that happen
/// between the halves, which the whole-segment check can miss.
inline bool joined_no_u_turn(const subtree& first, const subtree& second) {
    return no_u_turn(first.velocity_begin, second.velocity_end, first.rho + second.rho) &&
           no_u_turn(first.velocity_begin, second.velocity_begin,
                     first.rho + second.momentum_begin) &&
           no_u_turn(first.velocity_end, second.velocity_end, second.rho + first.momentum_end);
}

inline double log_sum_exp(double a, double b) {
    if (a == -std::numeric_limits<double>::infinity()) return b;
    if (b == -std::numeric_limits<double>::infinity()) return a;
    const double larger = std::max(a, b);
    return larger + std::log1p(std::exp(-std::abs(a - b)));
}

/// What a transition reports.
struct transition_outcome {
    double accept_stat = 0.0;
    int tree_depth = 0;
    int n_leapfrog = 0;
    bool divergent = false;
    double energy = 0.0;
};

/// One multinomial NUTS transition as a resumable computation:
///   start(...);
///   while (needs_evaluation()) {
///       double lp = model.log_density_gradient(pending_position(), pending_gradient());
///       resume(lp);
///   }
///   // sample() is the new state, outcome() its statistics.
template <random_draws Rng>
class nuts_transition {
public:
    nuts_transition(Eigen::Index dim, std::size_t max_depth_capacity) {
        stack_.resize(max_depth_capacity);
        for (auto& level : stack_) reserve(level, dim);
        reserve(current_, dim);
    }

    /// Starts a transition from `from` (position, gradient, log-density).
    /// Without check_u_turn the tree always grows to max_depth (unless it
    /// diverges): static multinomial HMC of 2^max_depth - 1 steps.
    void start(const sampled_point& from, const euclidean_metric& metric, double step,
               std::size_t max_depth, double max_energy_error, bool check_u_turn, Rng& rng) {
        metric_ = &metric;
        rng_ = &rng;
        step_ = step;
        max_depth_ = max_depth;
        max_energy_error_ = max_energy_error;
        check_u_turn_ = check_u_turn;

        phase_point& start_point = ends_[0];
        start_point.position = from.position;
        start_point.gradient = from.gradient;
        start_point.log_density = from.log_density;
        metric.sample_momentum(rng, start_point.momentum);
        metric.velocity(start_point.momentum, start_point.velocity);
        ends_[1] = start_point;

        sample_.position = from.position;
        sample_.gradient = from.gradient;
        sample_.log_density = from.log_density;
        sample_.kinetic_energy = start_point.kinetic_energy();
        initial_energy_ = start_point.hamiltonian();

        rho_ = start_point.momentum;
        log_sum_weight_ = 0.0;  // log exp(H0 - H0)
        outcome_ = {};
        sum_metropolis_ = 0.0;
        depth_ = 0;
        finished_ = false;
        begin_subtree();
    }

    bool needs_evaluation() const { return !finished_; }
    /// Where the model must be evaluated next.
    const Eigen::VectorXd& pending_position() const { return ends_[direction_].position; }
    /// Where the gradient at pending_position() must be written.
    Eigen::VectorXd& pending_gradient() { return ends_[direction_].gradient; }

    /// Continues after the evaluation at pending_position(); runs on to the
    /// next evaluation needed or to the end of the transition.
    void resume(double log_density) {
        phase_point& z = ends_[direction_];
        z.log_density = log_density;
        ++outcome_.n_leapfrog;
        // Outside the support the gradient is unspecified (maybe not even
        // sized), and a model that broke its contract gave nothing to trust:
        // the step is a divergence without looking at the gradient.
        const bool usable = usable_evaluation(log_density, z.gradient, z.momentum.size());
        if (usable) leapfrog_finish(z, *metric_, signed_step());
        const double energy = usable ? z.hamiltonian() : std::numeric_limits<double>::infinity();
        const double log_weight = initial_energy_ - energy;
        sum_metropolis_ += log_weight > 0 ? 1.0 : std::exp(log_weight);
        if (energy - initial_energy_ > max_energy_error_) {
            outcome_.divergent = true;
            finish();  // the whole new sub-tree is discarded
            return;
        }

        // The leaf as a one-state sub-tree.
        current_.log_sum_weight = log_weight;
        current_.rho = z.momentum;
        current_.momentum_begin = z.momentum;
        current_.velocity_begin = z.velocity;
        current_.momentum_end = z.momentum;
        current_.velocity_end = z.velocity;
        current_.proposal.position = z.position;
        current_.proposal.gradient = z.gradient;
        current_.proposal.log_density = z.log_density;
        current_.proposal.kinetic_energy = z.kinetic_energy();

        // Leaf i completes the right half of every level k whose bit k of i is
        // set: merge with the stored left halves, as Stan's recursion returns.
        std::size_t level = 0;
        while ((leaf_ >> level) & 1u) {
            if (!merge_into_current(stack_[level])) {
                finish();
                return;
            }
            ++level;
        }
        ++leaf_;
        if (level < depth_) {
            std::swap(stack_[level], current_);  // a left half, waiting for its right half
            leapfrog_to_new_position(ends_[direction_], *metric_, signed_step());
            return;
        }
        join_new_subtree();
    }

    const sampled_point& sample() const { return sample_; }
    const transition_outcome& outcome() const { return outcome_; }

private:
    static void reserve(subtree& s, Eigen::Index dim) {
        s.rho.resize(dim);
        s.momentum_begin.resize(dim);
        s.velocity_begin.resize(dim);
        s.momentum_end.resize(dim);
        s.velocity_end.resize(dim);
        s.proposal.position.resize(dim);
        s.proposal.gradient.resize(dim);
    }

    double signed_step() const { return direction_ == 1 ? step_ : -step_; }

    double uniform() { return rng_->uniform(); }

    // Doubles the tree: a new sub-tree of 2^depth leaves in a random direction.
    void begin_subtree() {
        direction_ = uniform() > 0.5 ? 1 : 0;
        leaf_ = 0;
        // The old tree's end on this side, needed for the checks after the build.
        old_near_momentum_ = ends_[direction_].momentum;
        old_near_velocity_ = ends_[direction_].velocity;
        leapfrog_to_new_position(ends_[direction_], *metric_, signed_step());
    }

    // `left` then `current` form a sub-tree one level up (Stan's build_tree
    // after its two recursive calls); the result is left in `current`.
    bool merge_into_current(subtree& left) {
        const double log_sum_weight = log_sum_exp(left.log_sum_weight, current_.log_sum_weight);
        // Multinomial choice between the halves, in proportion to their weights.
        if (!(current_.log_sum_weight > log_sum_weight) &&
            !(uniform() < std::exp(current_.log_sum_weight - log_sum_weight)))
            std::swap(current_.proposal, left.proposal);
        const bool valid = !check_u_turn_ || joined_no_u_turn(left, current_);
        current_.log_sum_weight = log_sum_weight;
        current_.rho += left.rho;
        std::swap(current_.momentum_begin, left.momentum_begin);
        std::swap(current_.velocity_begin, left.velocity_begin);
        return valid;
    }

    // The new sub-tree is complete and valid: join it to the old tree (Stan's
    // transition loop body).
    void join_new_subtree() {
        ++depth_;
        // Biased progressive sampling: prefer the new half in proportion to its
        // weight relative to the old tree (Betancourt 2017, A.3.2).
        if (current_.log_sum_weight > log_sum_weight_ ||
            uniform() < std::exp(current_.log_sum_weight - log_sum_weight_))
            std::swap(sample_, current_.proposal);
        log_sum_weight_ = log_sum_exp(log_sum_weight_, current_.log_sum_weight);

        // The old tree, in integration order, ends where the new one begins.
        const phase_point& old_far = ends_[1 - direction_];
        const bool valid =
            !check_u_turn_ ||
            (no_u_turn(old_far.velocity, current_.velocity_end, rho_ + current_.rho) &&
             no_u_turn(old_far.velocity, current_.velocity_begin, rho_ + current_.momentum_begin) &&
             no_u_turn(old_near_velocity_, current_.velocity_end, current_.rho + old_near_momentum_));
        rho_ += current_.rho;
        if (!valid || depth_ >= max_depth_) {
            finish();
            return;
        }
        begin_subtree();
    }

    void finish() {
        finished_ = true;
        outcome_.tree_depth = static_cast<int>(depth_);
        outcome_.accept_stat = sum_metropolis_ / static_cast<double>(outcome_.n_leapfrog);
        outcome_.energy = -sample_.log_density + sample_.kinetic_energy;
    }

    const euclidean_metric* metric_ = nullptr;
    Rng* rng_ = nullptr;
    double step_ = 0.0;
    std::size_t max_depth_ = 0;
    double max_energy_error_ = 0.0;
    bool check_u_turn_ = true;

    phase_point ends_[2];  // [0] backward end, [1] forward end of the trajectory
    int direction_ = 1;    // the end being extended
    Eigen::VectorXd old_near_momentum_, old_near_velocity_;
    Eigen::VectorXd rho_;
    double log_sum_weight_ = 0.0;
    double initial_energy_ = 0.0;
    double sum_metropolis_ = 0.0;
    sampled_point sample_;

    std::size_t depth_ = 0;  // completed doublings
    std::size_t leaf_ = 0;   // leaves built in the current sub-tree
    std::vector<subtree> stack_;
    subtree current_;
    bool finished_ = true;
    transition_outcome outcome_;
};

}  // namespace diskmc::detail
