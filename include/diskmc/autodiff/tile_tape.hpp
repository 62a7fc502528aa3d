#pragma once
// Reverse-mode automatic differentiation vectorised over a tile of pixels.
//
// A per-pixel model written once, generic in its scalar, is run with
// `tile_var`. Every tile_var is either *uniform* over the tile (parameters
// and functions of parameters alone: one double) or *varying* (one double
// per pixel of the tile). Each operation evaluates at once, as one Eigen
// array operation over the tile (so exp/log/sqrt/division vectorise), and is
// recorded; the reverse sweep then runs backwards over the records, again
// one array operation per record, and sums the adjoints of uniform values
// over the tile. The tape lives for one tile: nothing is kept across tiles,
// so a tile's values and adjoints stay in cache.
//
// Convention at singular points ("strong zero"): an adjoint contribution
// whose incoming adjoint is exactly zero is zero, even when the local
// derivative is infinite. This is what makes z0 r^psi at r = 0 (written as
// z0 exp(psi log r)) give d/dpsi = 0 instead of 0 * (-inf) = NaN.
//
// Use:
// @code
//   auto& tape = tile_tape::local();       // one tape per thread
//   tape.begin(width);                     // a new tile of `width` pixels
//   tile_var x = tape.varying_input(x_data), p = tape.parameter(theta[0]);
//   tile_var m = model(x, p);              // generic per-pixel code
//   tape.reverse(m, dloss_dm);             // seed: d loss / d m per pixel
//   double dp = tape.adjoint(p);
// @endcode

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "diskmc/errors.hpp"

namespace diskmc::autodiff {

class tile_tape;

/// The result of comparing tile_vars: one truth value per pixel, or one for
/// the whole tile when both sides are uniform. Per-pixel code passes it to
/// select(); only a uniform mask converts to bool (branching on parameters
/// is fine, branching on pixels is not).
class tile_mask {
public:
    // Implicit, so parameter-only code such as `const bool tapered = r_taper < inf;`
    // reads as it does for doubles.
    // A per-pixel mask throws (in every build): a branch on it would take one
    // pixel's side for the whole tile.
    operator bool() const {  // NOLINT(google-explicit-constructor)
        if (lane_ >= 0) [[unlikely]]
            throw invalid_input("diskmc::autodiff::tile_mask: a per-pixel comparison has no single truth value; "
                                "use select() (branch on parameters only)");
        return uniform_;
    }
    bool is_varying() const { return lane_ >= 0; }

private:
    friend class tile_tape;
    tile_mask(bool uniform, std::int32_t lane) : uniform_(uniform), lane_(lane) {}
    bool uniform_ = false;
    std::int32_t lane_ = -1;  // varying: lanes of 0.0/1.0 in the tape's values
};

/// A value on the active tile tape of this thread (see tile_tape).
class tile_var {
public:
    /// The constant 0 (Eigen default-constructs scalars).
    tile_var() = default;
    /// A constant, uniform over the tile; needs an active tape.
    tile_var(double constant);  // NOLINT(google-explicit-constructor): constants mix freely

    /// Whether the value differs between pixels.
    bool is_varying() const;
    /// The value of a uniform tile_var (a parameter or a function of parameters).
    double uniform_value() const;

private:
    friend class tile_tape;
    struct node_index {
        std::int32_t value;
    };
    explicit tile_var(node_index index) : index_(index.value) {}
    std::int32_t index_ = -1;  // -1: the constant 0, no node
};

/// The tape of one tile; see the file comment. Not copyable; one per thread
/// through local().
class tile_tape {
public:
    enum class op : std::uint8_t { leaf, add, sub, mul, div, neg, exp, log, sqrt, clamp_min, clamp_max, cos, sin, tan, select };

    tile_tape() = default;
    tile_tape(const tile_tape&) = delete;
    tile_tape& operator=(const tile_tape&) = delete;

    /// This thread's tape.
    static tile_tape& local() {
        thread_local tile_tape tape;
        return tape;
    }

    /// The tape that tile_var operations on this thread record on.
    static tile_tape*& active() {
        thread_local tile_tape* tape = nullptr;
        return tape;
    }

    /// Starts a new tile of `width` pixels: forgets every record and makes
    /// this the active tape of the calling thread.
    /// @throws diskmc::invalid_input if width is not positive
    void begin(Eigen::Index width) {
        if (width <= 0) [[unlikely]]
            diskmc::detail::throw_invalid_input("diskmc::autodiff::tile_tape::begin: the tile width must be positive, got ",
                                        width);
        width_ = width;
        if (scratch_.size() < width) {
            scratch_.resize(width);
            operand_a_.resize(width);
            operand_b_.resize(width);
        }
        nodes_.clear();
        lanes_used_ = 0;
        active() = this;
    }

    Eigen::Index width() const { return width_; }
    std::size_t size() const { return nodes_.size(); }

    /// A parameter: uniform, and its adjoint is wanted.
    tile_var parameter(double value) { return push(node{.active = true, .value = value}); }

    /// Pixel data the result depends on but is not differentiated with
    /// respect to (coordinates, say): `width()` values are copied.
    tile_var varying_input(const double* values) {
        node n{.varying = true};
        n.lane = allocate_lanes();
        lane_values(n.lane) = Eigen::Map<const Eigen::ArrayXd>(values, width_);
        return push(n);
    }

    /// A constant uniform over the tile.
    tile_var constant(double value) { return push(node{.value = value}); }

    /// The values of `v` over the tile (a uniform value is broadcast into `out`).
    void values(const tile_var& v, Eigen::Ref<Eigen::ArrayXd> out) const {
        const node& n = at(v);
        if (n.varying) {
            out = lane_values(n.lane);
        } else {
            out.setConstant(n.value);
        }
    }

    /// Reverse sweep: seeds d loss / d `output` with `seed` (width() values,
    /// or its sum if the output is uniform) and propagates to every record.
    void reverse(const tile_var& output, const double* seed) {
        // Adjoint lanes are not zeroed up front (that pass over every lane cost
        // more than the sweep): a record's first contribution assigns, later
        // ones add, and a record that received none is skipped.
        for (node& n : nodes_) {
            n.adjoint = 0;
            n.has_adjoint = false;
        }
        if (output.index_ < 0) return;
        at(output);  // throws for a tile_var of an earlier tile
        node& out = nodes_[static_cast<std::size_t>(output.index_)];
        const Eigen::Map<const Eigen::ArrayXd> seed_lanes(seed, width_);
        if (out.varying) {
            lane_adjoints(out.lane) = seed_lanes;
        } else {
            out.adjoint = seed_lanes.sum();
        }
        out.has_adjoint = true;
        for (auto k = static_cast<std::int32_t>(nodes_.size()) - 1; k >= 0; --k) backward(k);
    }

    /// d loss / d `v` after reverse(); for a uniform value, summed over the tile.
    double adjoint(const tile_var& v) const {
        const node& n = at(v);
        if (!n.has_adjoint) return 0.0;
        return n.varying ? lane_adjoints(n.lane).sum() : n.adjoint;
    }

    // ---- recording (used by the tile_var operators below) ----------------------

    template <class F>
    tile_var unary(op code, const tile_var& a, F&& f) {
        const node na = at(a);  // copied: push() may reallocate
        node n{.code = code, .varying = na.varying, .active = na.active, .a = a.index_};
        if (!na.varying) {
            n.value = f(na.value);
            return push(n);
        }
        n.lane = allocate_lanes();
        lane_values(n.lane) = f(lane_values(na.lane));
        return push(n);
    }

    template <class F>
    tile_var binary(op code, const tile_var& a, const tile_var& b, F&& f) {
        const node na = at(a), nb = at(b);
        node n{.code = code,
               .varying = na.varying || nb.varying,
               .active = na.active || nb.active,
               .a = a.index_,
               .b = b.index_};
        if (!n.varying) {
            n.value = f(na.value, nb.value);
            return push(n);
        }
        n.lane = allocate_lanes();
        auto out = lane_values(n.lane);
        if (na.varying && nb.varying) {
            out = f(lane_values(na.lane), lane_values(nb.lane));
        } else if (na.varying) {
            out = f(lane_values(na.lane), broadcast(nb.value));
        } else {
            out = f(broadcast(na.value), lane_values(nb.lane));
        }
        return push(n);
    }

    /// max(a, lower): the derivative passes where a > lower, and is 0 where the
    /// bound holds (at equality too: r = r_cavity gives d/dr = 0).
    tile_var clamp_min(const tile_var& a, double lower) { return clamp(op::clamp_min, a, lower); }
    /// min(a, upper): the derivative passes where a < upper.
    tile_var clamp_max(const tile_var& a, double upper) { return clamp(op::clamp_max, a, upper); }

    /// Compares per pixel: `compare` is applied to each pair of values.
    template <class F>
    tile_mask compare(const tile_var& a, const tile_var& b, F&& compare) {
        const node na = at(a), nb = at(b);
        if (!na.varying && !nb.varying) return tile_mask(compare(na.value, nb.value), -1);
        const std::int32_t lane = allocate_lanes();
        const double* x = operand_lanes(a.index_, operand_a_);
        const double* y = operand_lanes(b.index_, operand_b_);
        double* __restrict out = values_.data() + lane * width_;
        for (Eigen::Index i = 0; i < width_; ++i) out[i] = compare(x[i], y[i]) ? 1.0 : 0.0;
        return tile_mask(false, lane);
    }

    /// Per pixel: `if_true` where `condition` holds, else `if_false`; the
    /// derivative follows the value taken.
    tile_var select(const tile_mask& condition, const tile_var& if_true, const tile_var& if_false) {
        if (!condition.is_varying()) return condition.uniform_ ? if_true : if_false;
        const node na = at(if_true), nb = at(if_false);
        node n{.code = op::select, .varying = true, .active = na.active || nb.active,
               .a = if_true.index_, .b = if_false.index_, .mask = condition.lane_};
        n.lane = allocate_lanes();
        const double* chosen = values_.data() + condition.lane_ * width_;
        const double* x = operand_lanes(if_true.index_, operand_a_);
        const double* y = operand_lanes(if_false.index_, operand_b_);
        double* __restrict out = values_.data() + n.lane * width_;
        for (Eigen::Index i = 0; i < width_; ++i) out[i] = chosen[i] != 0.0 ? x[i] : y[i];
        return push(n);
    }

    double uniform_value_of(const tile_var& v) const {
        const node& n = at(v);
        if (n.varying) [[unlikely]]
            throw invalid_input("diskmc::autodiff::tile_var::uniform_value: a per-pixel value has no single value; "
                                "branch on parameters only");
        return n.value;
    }
    bool is_varying(const tile_var& v) const { return at(v).varying; }

private:
    struct node {
        op code = op::leaf;
        bool varying = false;  // one value per pixel, else one value
        bool active = false;   // depends on a parameter: its adjoint is wanted
        bool has_adjoint = false;  // reverse(): some contribution has arrived
        std::int32_t a = -1, b = -1;
        std::int32_t lane = -1;  // varying: index of its lanes in values_/adjoints_
        std::int32_t mask = -1;  // select: the lanes of its condition
        double value = 0;        // uniform: the value
        double adjoint = 0;      // uniform: the adjoint
        double constant = 0;     // clamp_min's bound
    };

    tile_var clamp(op code, const tile_var& a, double bound) {
        const node na = at(a);
        node n{.code = code, .varying = na.varying, .active = na.active, .a = a.index_, .constant = bound};
        const bool is_min = code == op::clamp_min;
        if (!na.varying) {
            n.value = (is_min ? na.value > bound : na.value < bound) ? na.value : bound;
            return push(n);
        }
        n.lane = allocate_lanes();
        if (is_min) {
            lane_values(n.lane) = lane_values(na.lane).max(bound);
        } else {
            lane_values(n.lane) = lane_values(na.lane).min(bound);
        }
        return push(n);
    }

    static const node& zero_node() {
        static const node zero{};
        return zero;
    }

    const node& at(const tile_var& v) const {
        if (v.index_ < 0) return zero_node();
        // A tile_var from an earlier tile (begin() forgot its record).
        if (static_cast<std::size_t>(v.index_) >= nodes_.size()) [[unlikely]]
            throw invalid_input("diskmc::autodiff::tile_var: the value belongs to an earlier tile; a tile_var "
                                "lives only until the next tile_tape::begin()");
        return nodes_[static_cast<std::size_t>(v.index_)];
    }

    tile_var push(const node& n) {
        nodes_.push_back(n);
        return tile_var(tile_var::node_index{static_cast<std::int32_t>(nodes_.size() - 1)});
    }

    std::int32_t allocate_lanes() {
        const Eigen::Index needed = (lanes_used_ + 1) * width_;
        if (values_.size() < needed) {
            const Eigen::Index grown = std::max<Eigen::Index>(needed, 2 * values_.size());
            values_.conservativeResize(grown);
            adjoints_.conservativeResize(grown);
        }
        return static_cast<std::int32_t>(lanes_used_++);
    }

    using const_lanes = Eigen::Map<const Eigen::ArrayXd>;
    Eigen::Map<Eigen::ArrayXd> lane_values(std::int32_t lane) {
        return {values_.data() + lane * width_, width_};
    }
    const_lanes lane_values(std::int32_t lane) const { return {values_.data() + lane * width_, width_}; }
    Eigen::Map<Eigen::ArrayXd> lane_adjoints(std::int32_t lane) {
        return {adjoints_.data() + lane * width_, width_};
    }
    const_lanes lane_adjoints(std::int32_t lane) const {
        return {adjoints_.data() + lane * width_, width_};
    }
    Eigen::ArrayXd::ConstantReturnType broadcast(double value) const {
        return Eigen::ArrayXd::Constant(width_, value);
    }

    /// Adds a per-pixel contribution to the adjoint of node `k` (summed if uniform).
    template <class Expr>
    void accumulate(std::int32_t k, const Expr& contribution) {
        if (k < 0) return;  // the constant 0
        node& n = nodes_[static_cast<std::size_t>(k)];
        if (!n.active) return;
        if (n.varying) {
            if (n.has_adjoint) {
                lane_adjoints(n.lane) += contribution;
            } else {
                lane_adjoints(n.lane) = contribution;
            }
        } else {
            n.adjoint += contribution.sum();
        }
        n.has_adjoint = true;
    }

    /// Lanes holding an operand's values: its own, or its uniform value
    /// broadcast into `buffer`.
    const double* operand_lanes(std::int32_t index, Eigen::ArrayXd& buffer) {
        const node& operand = at(tile_var(tile_var::node_index{index}));
        if (operand.varying) return values_.data() + operand.lane * width_;
        buffer.head(width_).setConstant(operand.value);
        return buffer.data();
    }

    /// Adds contribution(i), for every pixel i, to the adjoint of record
    /// `target`. The contributions are formed by a plain loop (which the
    /// compiler vectorises, blends included; Eigen 3.4's select is scalar)
    /// and then added with Eigen (vectorised, and summed for uniform records).
    template <class Contribution>
    void give(std::int32_t target, Contribution&& contribution) {
        if (target < 0 || !nodes_[static_cast<std::size_t>(target)].active) return;
        double* __restrict out = scratch_.data();
        for (Eigen::Index i = 0; i < width_; ++i) out[i] = contribution(i);
        accumulate(target, Eigen::Map<const Eigen::ArrayXd>(out, width_));
    }

    /// `value` unless the incoming adjoint is zero (the strong zero of the file comment).
    static double unless_zero(double incoming, double value) { return incoming != 0.0 ? value : 0.0; }

    void backward(std::int32_t k) {
        const node n = nodes_[static_cast<std::size_t>(k)];
        if (!n.active || !n.has_adjoint || n.code == op::leaf) return;
        if (!n.varying) {
            backward_uniform(n);
            return;
        }
        // Operands are earlier records with lanes of their own, so reading this
        // record's adjoint while adding to theirs never aliases.
        const auto incoming = std::as_const(*this).lane_adjoints(n.lane);
        const double* __restrict g = incoming.data();
        const double* __restrict c = values_.data() + n.lane * width_;
        // Operand values, fetched only by the rules that need them (a uniform
        // operand is broadcast into a buffer; -1, the constant 0, broadcasts 0).
        const double* a = nullptr;
        const double* b = nullptr;
        if (n.code == op::mul || n.code == op::div || n.code == op::log || n.code == op::clamp_min ||
            n.code == op::clamp_max || n.code == op::cos || n.code == op::sin)
            a = operand_lanes(n.a, operand_a_);
        if (n.code == op::mul || n.code == op::div) b = operand_lanes(n.b, operand_b_);
        switch (n.code) {
            case op::add:
                accumulate(n.a, incoming);
                accumulate(n.b, incoming);
                break;
            case op::sub:
                accumulate(n.a, incoming);
                accumulate(n.b, -incoming);
                break;
            case op::neg: accumulate(n.a, -incoming); break;
            case op::mul:
                give(n.a, [&](Eigen::Index i) { return unless_zero(g[i], g[i] * b[i]); });
                give(n.b, [&](Eigen::Index i) { return unless_zero(g[i], g[i] * a[i]); });
                break;
            case op::div:  // c = a / b: dc/da = 1/b, dc/db = -c/b
                give(n.a, [&](Eigen::Index i) { return unless_zero(g[i], g[i] / b[i]); });
                give(n.b, [&](Eigen::Index i) { return unless_zero(g[i], -g[i] * c[i] / b[i]); });
                break;
            case op::exp: give(n.a, [&](Eigen::Index i) { return unless_zero(g[i], g[i] * c[i]); }); break;
            case op::log: give(n.a, [&](Eigen::Index i) { return unless_zero(g[i], g[i] / a[i]); }); break;
            case op::sqrt: give(n.a, [&](Eigen::Index i) { return unless_zero(g[i], 0.5 * g[i] / c[i]); }); break;
            case op::tan:
                give(n.a, [&](Eigen::Index i) { return unless_zero(g[i], g[i] * (1.0 + c[i] * c[i])); });
                break;
            case op::clamp_min:
                give(n.a, [&](Eigen::Index i) { return a[i] > n.constant ? g[i] : 0.0; });
                break;
            case op::clamp_max:
                give(n.a, [&](Eigen::Index i) { return a[i] < n.constant ? g[i] : 0.0; });
                break;
            case op::cos: give(n.a, [&](Eigen::Index i) { return -g[i] * std::sin(a[i]); }); break;
            case op::sin: give(n.a, [&](Eigen::Index i) { return g[i] * std::cos(a[i]); }); break;
            case op::select: {
                const double* chosen = values_.data() + n.mask * width_;
                give(n.a, [&](Eigen::Index i) { return chosen[i] != 0.0 ? g[i] : 0.0; });
                give(n.b, [&](Eigen::Index i) { return chosen[i] != 0.0 ? 0.0 : g[i]; });
                break;
            }
            case op::leaf: break;
        }
    }

    /// The same rules on one number, for records uniform over the tile.
    void backward_uniform(const node& n) {
        const double incoming = n.adjoint;
        if (incoming == 0) return;
        auto add_to = [&](std::int32_t index, double contribution) {
            if (index < 0) return;  // the constant 0
            node& operand = nodes_[static_cast<std::size_t>(index)];
            if (!operand.active) return;
            operand.adjoint += contribution;
            operand.has_adjoint = true;
        };
        const double a = at(tile_var(tile_var::node_index{n.a})).value;
        const double b = at(tile_var(tile_var::node_index{n.b})).value;
        const double c = n.value;
        switch (n.code) {
            case op::add: add_to(n.a, incoming); add_to(n.b, incoming); break;
            case op::sub: add_to(n.a, incoming); add_to(n.b, -incoming); break;
            case op::mul: add_to(n.a, incoming * b); add_to(n.b, incoming * a); break;
            case op::div: add_to(n.a, incoming / b); add_to(n.b, -incoming * c / b); break;
            case op::neg: add_to(n.a, -incoming); break;
            case op::exp: add_to(n.a, incoming * c); break;
            case op::log: add_to(n.a, incoming / a); break;
            case op::sqrt: add_to(n.a, 0.5 * incoming / c); break;
            case op::clamp_min: add_to(n.a, a > n.constant ? incoming : 0.0); break;
            case op::clamp_max: add_to(n.a, a < n.constant ? incoming : 0.0); break;
            case op::cos: add_to(n.a, -incoming * std::sin(a)); break;
            case op::sin: add_to(n.a, incoming * std::cos(a)); break;
            case op::tan: add_to(n.a, incoming * (1.0 + c * c)); break;
            case op::select:  // a uniform condition never records a select
            case op::leaf: break;
        }
    }

    Eigen::Index width_ = 0;
    std::vector<node> nodes_;
    Eigen::ArrayXd values_, adjoints_;
    Eigen::ArrayXd scratch_, operand_a_, operand_b_;  // one tile each, for the reverse sweep
    Eigen::Index lanes_used_ = 0;
};

// ---- tile_var: members and operators ----------------------------------------------

namespace detail {
/// This thread's active tile tape; every tile_var operation goes through it,
/// so using a tile_var before any tile_tape::begin() on the thread throws
/// instead of following a null pointer.
inline tile_tape& active_tile_tape() {
    tile_tape* tape = tile_tape::active();
    if (tape == nullptr) [[unlikely]]
        throw invalid_input("diskmc::autodiff::tile_var: no active tile_tape on this thread (call "
                            "tile_tape::begin() first)");
    return *tape;
}
}  // namespace detail

inline tile_var::tile_var(double constant) { *this = detail::active_tile_tape().constant(constant); }
inline bool tile_var::is_varying() const { return detail::active_tile_tape().is_varying(*this); }
inline double tile_var::uniform_value() const { return detail::active_tile_tape().uniform_value_of(*this); }

inline tile_var operator+(const tile_var& a, const tile_var& b) {
    return detail::active_tile_tape().binary(tile_tape::op::add, a, b, [](const auto& x, const auto& y) { return x + y; });
}
inline tile_var operator-(const tile_var& a, const tile_var& b) {
    return detail::active_tile_tape().binary(tile_tape::op::sub, a, b, [](const auto& x, const auto& y) { return x - y; });
}
inline tile_var operator*(const tile_var& a, const tile_var& b) {
    return detail::active_tile_tape().binary(tile_tape::op::mul, a, b, [](const auto& x, const auto& y) { return x * y; });
}
inline tile_var operator/(const tile_var& a, const tile_var& b) {
    return detail::active_tile_tape().binary(tile_tape::op::div, a, b, [](const auto& x, const auto& y) { return x / y; });
}
inline tile_var operator-(const tile_var& a) {
    return detail::active_tile_tape().unary(tile_tape::op::neg, a, [](const auto& x) { return -x; });
}
inline tile_var operator+(const tile_var& a) { return a; }
inline tile_var& operator+=(tile_var& a, const tile_var& b) { return a = a + b; }
inline tile_var& operator-=(tile_var& a, const tile_var& b) { return a = a - b; }
inline tile_var& operator*=(tile_var& a, const tile_var& b) { return a = a * b; }
inline tile_var& operator/=(tile_var& a, const tile_var& b) { return a = a / b; }

namespace detail {
// One spelling of each elementary function for doubles and Eigen arrays.
struct exp_fn {
    double operator()(double x) const { return std::exp(x); }
    template <class A> auto operator()(const A& x) const { return x.exp(); }
};
struct log_fn {
    double operator()(double x) const { return std::log(x); }
    template <class A> auto operator()(const A& x) const { return x.log(); }
};
struct sqrt_fn {
    double operator()(double x) const { return std::sqrt(x); }
    template <class A> auto operator()(const A& x) const { return x.sqrt(); }
};
struct cos_fn {
    double operator()(double x) const { return std::cos(x); }
    template <class A> auto operator()(const A& x) const { return x.cos(); }
};
struct sin_fn {
    double operator()(double x) const { return std::sin(x); }
    template <class A> auto operator()(const A& x) const { return x.sin(); }
};
struct tan_fn {
    double operator()(double x) const { return std::tan(x); }
    template <class A> auto operator()(const A& x) const { return x.tan(); }
};
}  // namespace detail

inline tile_var exp(const tile_var& a) { return detail::active_tile_tape().unary(tile_tape::op::exp, a, detail::exp_fn{}); }
inline tile_var log(const tile_var& a) { return detail::active_tile_tape().unary(tile_tape::op::log, a, detail::log_fn{}); }
inline tile_var sqrt(const tile_var& a) { return detail::active_tile_tape().unary(tile_tape::op::sqrt, a, detail::sqrt_fn{}); }
inline tile_var cos(const tile_var& a) { return detail::active_tile_tape().unary(tile_tape::op::cos, a, detail::cos_fn{}); }
inline tile_var sin(const tile_var& a) { return detail::active_tile_tape().unary(tile_tape::op::sin, a, detail::sin_fn{}); }
inline tile_var tan(const tile_var& a) { return detail::active_tile_tape().unary(tile_tape::op::tan, a, detail::tan_fn{}); }
/// a^b = exp(b log a), for a > 0 (and a = 0 with b > 0, by the strong zero).
inline tile_var pow(const tile_var& a, const tile_var& b) { return exp(b * log(a)); }
inline tile_var hypot(const tile_var& a, const tile_var& b) { return sqrt(a * a + b * b); }
inline tile_var clamp_min(const tile_var& a, double lower) { return detail::active_tile_tape().clamp_min(a, lower); }
inline tile_var clamp_max(const tile_var& a, double upper) { return detail::active_tile_tape().clamp_max(a, upper); }

// Comparisons give a tile_mask: per pixel for varying values (for select),
// a plain truth value when both sides are uniform.
inline tile_mask operator<(const tile_var& a, const tile_var& b) {
    return detail::active_tile_tape().compare(a, b, [](const auto& x, const auto& y) { return x < y; });
}
inline tile_mask operator>(const tile_var& a, const tile_var& b) {
    return detail::active_tile_tape().compare(a, b, [](const auto& x, const auto& y) { return x > y; });
}
inline tile_mask operator<=(const tile_var& a, const tile_var& b) {
    return detail::active_tile_tape().compare(a, b, [](const auto& x, const auto& y) { return x <= y; });
}
inline tile_mask operator>=(const tile_var& a, const tile_var& b) {
    return detail::active_tile_tape().compare(a, b, [](const auto& x, const auto& y) { return x >= y; });
}
inline tile_mask operator==(const tile_var& a, const tile_var& b) {
    return detail::active_tile_tape().compare(a, b, [](const auto& x, const auto& y) { return x == y; });
}
inline tile_mask operator!=(const tile_var& a, const tile_var& b) {
    return detail::active_tile_tape().compare(a, b, [](const auto& x, const auto& y) { return x != y; });
}
/// Per pixel `condition ? if_true : if_false`; `if_false` may be a plain number.
/// (A template so it is an exact match, ahead of generic selects that would
/// convert the mask to bool.)
template <class Else>
tile_var select(const tile_mask& condition, const tile_var& if_true, const Else& if_false) {
    return detail::active_tile_tape().select(condition, if_true, tile_var(if_false));
}

}  // namespace diskmc::autodiff
