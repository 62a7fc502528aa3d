#pragma once
// diskmc::autodiff::var: a reverse-mode automatic-differentiation scalar.
//
// A var is a double value plus the index of its node on the active tape (see
// tape.hpp). Arithmetic and the elementary functions below record one node
// with the local partial derivatives of each result; autodiff::gradient()
// (gradient.hpp) then sweeps the tape backwards once. A var built from a
// plain number is a constant: operations on constants record nothing.
//
// Models use it through code written once for any scalar type:
// @code
//   template <class T> T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& x) const {
//       using std::exp; using std::log;          // ADL picks diskmc::autodiff::exp for var
//       return -0.5 * x.squaredNorm() + log(T(2.0)) - exp(x[0]);
//   }
// @endcode
//
// Conventions at the edges of a function's domain (each one the limit a
// careful person takes by hand, so 0·log 0-style terms never turn into NaN):
// - pow(x, y) at x == 0 with y > 0: d/dy = 0 (the limit of x^y log x as
//   x -> 0+), d/dx = y·0^(y-1) (0 for y > 1, 1 for y == 1, +inf for y < 1);
//   any y == 0 gives d/dx = 0 (x^0 = 1 for every x).
// - hypot(0, 0) and atan2(0, 0): all partials 0 (a subgradient).
// - abs(0): derivative 0; fmax/fmin: the derivative of the argument returned
//   (the first one at a tie; the non-NaN one if one is NaN, like std::fmax).
// - floor, ceil, round, trunc: derivative 0 (they return constants).
// - Zero passes nothing back (tape.hpp): a node whose adjoint is zero adds
//   nothing, so an infinite or NaN partial on a branch that does not affect
//   the result (a masked pixel, the unused side of a select) leaves the
//   gradient finite; and a zero partial is not recorded, so an infinite
//   adjoint (sqrt at 0) reaching it does not become 0 * inf = NaN.
// Genuinely infinite derivatives stay infinite (sqrt at 0, log at 0); the
// differentiable() adaptor reports a non-finite gradient as log density
// -infinity, which a sampler treats as a rejected point.

#include <Eigen/Core>
#include <boost/math/special_functions/digamma.hpp>
#include <cmath>
#include <concepts>
#include <limits>
#include <numbers>
#include <ostream>
#include <type_traits>

#include "diskmc/autodiff/tape.hpp"

namespace diskmc::autodiff {

namespace detail {
struct node_tag {};
}  // namespace detail

/// Arithmetic types a var mixes with (double, int, float, ...).
template <class A>
concept arithmetic = std::is_arithmetic_v<A>;

/// The reverse-mode scalar. Default and arithmetic construction give a
/// constant; independent variables come from autodiff::gradient() or
/// var::independent() inside a detail::tape_scope.
class var {
public:
    var() = default;
    template <arithmetic A>
    var(A value) : value_(static_cast<double>(value)) {}  // NOLINT: implicit, like double

    /// A new independent variable on this thread's active tape.
    /// @throws diskmc::invalid_input outside any detail::tape_scope
    static var independent(double value) {
        return var(value, detail::recording_tape().push_variable(), detail::node_tag{});
    }

    var(double value, detail::node_index index, detail::node_tag) : value_(value), index_(index) {}

    double value() const { return value_; }
    /// True when no derivative flows through this value.
    bool is_constant() const { return index_ == detail::passive_index; }
    detail::node_index index() const { return index_; }

    var& operator+=(const var& other);
    var& operator-=(const var& other);
    var& operator*=(const var& other);
    var& operator/=(const var& other);

private:
    double value_ = 0.0;
    detail::node_index index_ = detail::passive_index;
};

namespace detail {

/// A result with one operand: value, and d value / d a.
inline var record(double value, const var& a, double da) {
    if (a.is_constant()) return var(value);
    return var(value, recording_tape().push(a.index(), da), node_tag{});
}

/// A result with two operands.
inline var record(double value, const var& a, double da, const var& b, double db) {
    if (a.is_constant()) return record(value, b, db);
    if (b.is_constant()) return var(value, recording_tape().push(a.index(), da), node_tag{});
    return var(value, recording_tape().push(a.index(), da, b.index(), db), node_tag{});
}

}  // namespace detail

/// The value of a var (or of a plain number), derivative information dropped.
inline double value_of(const var& x) { return x.value(); }
inline double value_of(double x) { return x; }

// ---- arithmetic ---------------------------------------------------------------

inline var operator+(const var& a) { return a; }
inline var operator-(const var& a) { return detail::record(-a.value(), a, -1.0); }

inline var operator+(const var& a, const var& b) {
    return detail::record(a.value() + b.value(), a, 1.0, b, 1.0);
}
inline var operator+(const var& a, double b) { return detail::record(a.value() + b, a, 1.0); }
inline var operator+(double a, const var& b) { return detail::record(a + b.value(), b, 1.0); }

inline var operator-(const var& a, const var& b) {
    return detail::record(a.value() - b.value(), a, 1.0, b, -1.0);
}
inline var operator-(const var& a, double b) { return detail::record(a.value() - b, a, 1.0); }
inline var operator-(double a, const var& b) { return detail::record(a - b.value(), b, -1.0); }

inline var operator*(const var& a, const var& b) {
    return detail::record(a.value() * b.value(), a, b.value(), b, a.value());
}
inline var operator*(const var& a, double b) { return detail::record(a.value() * b, a, b); }
inline var operator*(double a, const var& b) { return detail::record(a * b.value(), b, a); }

inline var operator/(const var& a, const var& b) {
    const double q = a.value() / b.value();
    return detail::record(q, a, 1.0 / b.value(), b, -q / b.value());
}
inline var operator/(const var& a, double b) { return detail::record(a.value() / b, a, 1.0 / b); }
inline var operator/(double a, const var& b) {
    const double q = a / b.value();
    return detail::record(q, b, -q / b.value());
}

inline var& var::operator+=(const var& other) { return *this = *this + other; }
inline var& var::operator-=(const var& other) { return *this = *this - other; }
inline var& var::operator*=(const var& other) { return *this = *this * other; }
inline var& var::operator/=(const var& other) { return *this = *this / other; }

// ---- comparisons (on values) --------------------------------------------------

inline bool operator==(const var& a, const var& b) { return a.value() == b.value(); }
inline bool operator==(const var& a, double b) { return a.value() == b; }
inline std::partial_ordering operator<=>(const var& a, const var& b) {
    return a.value() <=> b.value();
}
inline std::partial_ordering operator<=>(const var& a, double b) { return a.value() <=> b; }

// ---- classification -----------------------------------------------------------

inline bool isfinite(const var& x) { return std::isfinite(x.value()); }
inline bool isnan(const var& x) { return std::isnan(x.value()); }
inline bool isinf(const var& x) { return std::isinf(x.value()); }
inline bool signbit(const var& x) { return std::signbit(x.value()); }

// ---- exponentials and logarithms ----------------------------------------------

inline var exp(const var& x) {
    const double v = std::exp(x.value());
    return detail::record(v, x, v);
}
inline var exp2(const var& x) {
    const double v = std::exp2(x.value());
    return detail::record(v, x, v * std::numbers::ln2);
}
inline var expm1(const var& x) {
    const double v = std::expm1(x.value());
    return detail::record(v, x, v + 1.0);
}
inline var log(const var& x) { return detail::record(std::log(x.value()), x, 1.0 / x.value()); }
inline var log2(const var& x) {
    return detail::record(std::log2(x.value()), x, 1.0 / (x.value() * std::numbers::ln2));
}
inline var log10(const var& x) {
    return detail::record(std::log10(x.value()), x, 1.0 / (x.value() * std::numbers::ln10));
}
inline var log1p(const var& x) {
    return detail::record(std::log1p(x.value()), x, 1.0 / (1.0 + x.value()));
}

// ---- powers and roots ---------------------------------------------------------

inline var sqrt(const var& x) {
    const double v = std::sqrt(x.value());
    return detail::record(v, x, 0.5 / v);
}
inline var cbrt(const var& x) {
    const double v = std::cbrt(x.value());
    return detail::record(v, x, 1.0 / (3.0 * v * v));
}

namespace detail {

/// d x^y / dx = y x^(y-1), from the value v = x^y when that is exact enough.
inline double pow_partial_base(double x, double y, double v) {
    if (y == 0.0) return 0.0;
    if (x != 0.0 && std::isfinite(v) && v != 0.0) return y * (v / x);
    return y * std::pow(x, y - 1.0);
}

/// d x^y / dy = x^y log x, with the 0·log 0 = 0 limit at x == 0, y > 0.
inline double pow_partial_exponent(double x, double y, double v) {
    if (x == 0.0 && y > 0.0) return 0.0;
    return v * std::log(x);
}

}  // namespace detail

inline var pow(const var& x, const var& y) {
    const double v = std::pow(x.value(), y.value());
    return detail::record(v, x, detail::pow_partial_base(x.value(), y.value(), v), y,
                          detail::pow_partial_exponent(x.value(), y.value(), v));
}
template <arithmetic A>
var pow(const var& x, A y) {
    const double exponent = static_cast<double>(y);
    const double v = std::pow(x.value(), exponent);
    return detail::record(v, x, detail::pow_partial_base(x.value(), exponent, v));
}
template <arithmetic A>
var pow(A x, const var& y) {
    const double base = static_cast<double>(x);
    const double v = std::pow(base, y.value());
    return detail::record(v, y, detail::pow_partial_exponent(base, y.value(), v));
}

inline var hypot(const var& x, const var& y) {
    const double h = std::hypot(x.value(), y.value());
    if (h == 0.0) return detail::record(h, x, 0.0, y, 0.0);
    return detail::record(h, x, x.value() / h, y, y.value() / h);
}
template <arithmetic A>
var hypot(const var& x, A y) {
    return hypot(x, var(y));
}
template <arithmetic A>
var hypot(A x, const var& y) {
    return hypot(var(x), y);
}

// ---- trigonometric and hyperbolic ---------------------------------------------

inline var sin(const var& x) { return detail::record(std::sin(x.value()), x, std::cos(x.value())); }
inline var cos(const var& x) { return detail::record(std::cos(x.value()), x, -std::sin(x.value())); }
inline var tan(const var& x) {
    const double v = std::tan(x.value());
    return detail::record(v, x, 1.0 + v * v);
}
inline var asin(const var& x) {
    return detail::record(std::asin(x.value()), x, 1.0 / std::sqrt(1.0 - x.value() * x.value()));
}
inline var acos(const var& x) {
    return detail::record(std::acos(x.value()), x, -1.0 / std::sqrt(1.0 - x.value() * x.value()));
}
inline var atan(const var& x) {
    return detail::record(std::atan(x.value()), x, 1.0 / (1.0 + x.value() * x.value()));
}
inline var atan2(const var& y, const var& x) {
    const double r2 = x.value() * x.value() + y.value() * y.value();
    const double v = std::atan2(y.value(), x.value());
    if (r2 == 0.0) return detail::record(v, y, 0.0, x, 0.0);
    return detail::record(v, y, x.value() / r2, x, -y.value() / r2);
}
template <arithmetic A>
var atan2(const var& y, A x) {
    return atan2(y, var(x));
}
template <arithmetic A>
var atan2(A y, const var& x) {
    return atan2(var(y), x);
}
inline var sinh(const var& x) { return detail::record(std::sinh(x.value()), x, std::cosh(x.value())); }
inline var cosh(const var& x) { return detail::record(std::cosh(x.value()), x, std::sinh(x.value())); }
inline var tanh(const var& x) {
    const double v = std::tanh(x.value());
    return detail::record(v, x, 1.0 - v * v);
}
inline var asinh(const var& x) {
    return detail::record(std::asinh(x.value()), x, 1.0 / std::sqrt(x.value() * x.value() + 1.0));
}
inline var acosh(const var& x) {
    return detail::record(std::acosh(x.value()), x, 1.0 / std::sqrt(x.value() * x.value() - 1.0));
}
inline var atanh(const var& x) {
    return detail::record(std::atanh(x.value()), x, 1.0 / (1.0 - x.value() * x.value()));
}

// ---- absolute value, extrema, rounding ----------------------------------------

inline var abs(const var& x) {
    const double v = x.value();
    return detail::record(std::abs(v), x, v > 0.0 ? 1.0 : (v < 0.0 ? -1.0 : 0.0));
}
inline var fabs(const var& x) { return abs(x); }

/// The larger argument (derivative included); the first at a tie, the
/// non-NaN one if one is NaN (as std::fmax).
inline var fmax(const var& a, const var& b) {
    if (std::isnan(b.value())) return a;
    if (std::isnan(a.value())) return b;
    return a.value() >= b.value() ? a : b;
}
template <arithmetic A>
var fmax(const var& a, A b) {
    return fmax(a, var(b));
}
template <arithmetic A>
var fmax(A a, const var& b) {
    return fmax(var(a), b);
}
/// The smaller argument; the first at a tie, the non-NaN one if one is NaN.
inline var fmin(const var& a, const var& b) {
    if (std::isnan(b.value())) return a;
    if (std::isnan(a.value())) return b;
    return a.value() <= b.value() ? a : b;
}
template <arithmetic A>
var fmin(const var& a, A b) {
    return fmin(a, var(b));
}
template <arithmetic A>
var fmin(A a, const var& b) {
    return fmin(var(a), b);
}

inline var fmod(const var& x, const var& y) {
    const double v = std::fmod(x.value(), y.value());
    return detail::record(v, x, 1.0, y, -std::trunc(x.value() / y.value()));
}
template <arithmetic A>
var fmod(const var& x, A y) {
    return detail::record(std::fmod(x.value(), static_cast<double>(y)), x, 1.0);
}

inline var floor(const var& x) { return var(std::floor(x.value())); }
inline var ceil(const var& x) { return var(std::ceil(x.value())); }
inline var round(const var& x) { return var(std::round(x.value())); }
inline var trunc(const var& x) { return var(std::trunc(x.value())); }

// ---- special functions --------------------------------------------------------

inline var erf(const var& x) {
    return detail::record(std::erf(x.value()), x,
                          std::numbers::inv_sqrtpi * 2.0 * std::exp(-x.value() * x.value()));
}
inline var erfc(const var& x) {
    return detail::record(std::erfc(x.value()), x,
                          -std::numbers::inv_sqrtpi * 2.0 * std::exp(-x.value() * x.value()));
}

namespace detail {
// Poles and domain errors give NaN (the derivative does not exist there)
// instead of Boost's default exception: a model never throws mid-sampling.
using quiet_policy = boost::math::policies::policy<
    boost::math::policies::domain_error<boost::math::policies::ignore_error>,
    boost::math::policies::pole_error<boost::math::policies::ignore_error>,
    boost::math::policies::overflow_error<boost::math::policies::ignore_error>,
    boost::math::policies::evaluation_error<boost::math::policies::ignore_error>>;
inline double digamma(double x) { return boost::math::digamma(x, quiet_policy{}); }
}  // namespace detail

/// log |Gamma(x)|; derivative digamma(x).
inline var lgamma(const var& x) {
    return detail::record(std::lgamma(x.value()), x, detail::digamma(x.value()));
}
inline var tgamma(const var& x) {
    const double v = std::tgamma(x.value());
    return detail::record(v, x, v * detail::digamma(x.value()));
}

inline std::ostream& operator<<(std::ostream& out, const var& x) { return out << x.value(); }

}  // namespace diskmc::autodiff

// ---- limits and Eigen glue ----------------------------------------------------

/// numeric_limits<var> answers with vars, so scalar-generic code such as
/// `-std::numeric_limits<T>::infinity()` means the same for T = var as for
/// double (the primary template would silently return var() == 0).
template <>
struct std::numeric_limits<diskmc::autodiff::var> {
private:
    using base = std::numeric_limits<double>;
    using var = diskmc::autodiff::var;

public:
    static constexpr bool is_specialized = true;
    static constexpr bool is_signed = true;
    static constexpr bool is_integer = false;
    static constexpr bool is_exact = false;
    static constexpr bool has_infinity = true;
    static constexpr bool has_quiet_NaN = true;
    static constexpr bool has_signaling_NaN = true;
    static constexpr std::float_denorm_style has_denorm = base::has_denorm;
    static constexpr bool has_denorm_loss = base::has_denorm_loss;
    static constexpr std::float_round_style round_style = base::round_style;
    static constexpr bool is_iec559 = base::is_iec559;
    static constexpr bool is_bounded = true;
    static constexpr bool is_modulo = false;
    static constexpr int digits = base::digits;
    static constexpr int digits10 = base::digits10;
    static constexpr int max_digits10 = base::max_digits10;
    static constexpr int radix = base::radix;
    static constexpr int min_exponent = base::min_exponent;
    static constexpr int min_exponent10 = base::min_exponent10;
    static constexpr int max_exponent = base::max_exponent;
    static constexpr int max_exponent10 = base::max_exponent10;
    static constexpr bool traps = base::traps;
    static constexpr bool tinyness_before = base::tinyness_before;
    static var min() { return base::min(); }
    static var lowest() { return base::lowest(); }
    static var max() { return base::max(); }
    static var epsilon() { return base::epsilon(); }
    static var round_error() { return base::round_error(); }
    static var infinity() { return base::infinity(); }
    static var quiet_NaN() { return base::quiet_NaN(); }
    static var signaling_NaN() { return base::signaling_NaN(); }
    static var denorm_min() { return base::denorm_min(); }
};

namespace Eigen {

/// var in Eigen matrices and arrays: a real, signed, non-integer scalar with
/// no SIMD packets. Products and reductions work through the generic
/// (scalar) code paths.
template <>
struct NumTraits<diskmc::autodiff::var> : GenericNumTraits<diskmc::autodiff::var> {
    using Real = diskmc::autodiff::var;
    using NonInteger = diskmc::autodiff::var;
    using Nested = diskmc::autodiff::var;
    using Literal = diskmc::autodiff::var;
    enum {
        IsComplex = 0,
        IsInteger = 0,
        IsSigned = 1,
        RequireInitialization = 1,
        ReadCost = 1,
        AddCost = 2,
        MulCost = 2
    };
    static Real epsilon() { return std::numeric_limits<double>::epsilon(); }
    static Real dummy_precision() { return 1e-12; }
    static Real highest() { return std::numeric_limits<double>::max(); }
    static Real lowest() { return std::numeric_limits<double>::lowest(); }
    static Real infinity() { return std::numeric_limits<double>::infinity(); }
    static Real quiet_NaN() { return std::numeric_limits<double>::quiet_NaN(); }
    static int digits10() { return std::numeric_limits<double>::digits10; }
};

/// Mixed var/double expressions (`Matrix<var> * double`, `var * MatrixXd`)
/// have var results.
template <class BinaryOp>
struct ScalarBinaryOpTraits<diskmc::autodiff::var, double, BinaryOp> {
    using ReturnType = diskmc::autodiff::var;
};
template <class BinaryOp>
struct ScalarBinaryOpTraits<double, diskmc::autodiff::var, BinaryOp> {
    using ReturnType = diskmc::autodiff::var;
};

}  // namespace Eigen
