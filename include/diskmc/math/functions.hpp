#pragma once
// Scalar-generic math for per-pixel code that is written once and run with
// several value types:
//   - double (one pixel),
//   - an Eigen array of double (a tile of pixels: the fast, SIMD path),
//   - Eigen::AutoDiffScalar (the forward-mode gradient oracle),
//   - any other scalar with arithmetic, comparisons and exp/log/sqrt found by
//     argument-dependent lookup (the reverse-mode tape scalar).
//
// Per-pixel code says `using namespace diskmc::math;` and calls these names
// unqualified, never member math such as `.exp()`, and never branches on a
// pixel value (it uses `select`). For Eigen arrays, exp/log/sqrt are Eigen's
// own vectorised functions, found by argument-dependent lookup; this header
// adds what Eigen lacks or computes slowly: pow with a scalar exponent as
// exp(p log x), hypot, clamp_min/clamp_max, select and zero_like.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <concepts>
#include <limits>
#include <type_traits>

// g++ 12 reports -Wuninitialized inside its own AVX-512 intrinsics (e.g.
// _mm512_rsqrt14_pd in Eigen's fast-math sqrt starts from
// _mm512_undefined_pd()) wherever Eigen's vectorised math is inlined into
// the per-pixel code below: a false positive, silenced for this code only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace diskmc::math {

/// An Eigen array or array expression (a tile of pixel values).
template <class X>
concept eigen_array = std::derived_from<std::remove_cvref_t<X>,
                                        Eigen::ArrayBase<std::remove_cvref_t<X>>>;

/// A scalar that is neither a built-in arithmetic type nor an Eigen array:
/// an autodiff scalar. It must provide arithmetic, comparisons with double,
/// and exp/log/sqrt through argument-dependent lookup.
template <class X>
concept generic_scalar = !std::is_arithmetic_v<std::remove_cvref_t<X>> && !eigen_array<X>;

// ---- exp, log, sqrt ----------------------------------------------------------
// Built-in types only: Eigen arrays and autodiff scalars bring their own.

template <std::floating_point S>
S exp(S x) {
    return std::exp(x);
}
template <std::floating_point S>
S log(S x) {
    return std::log(x);
}
template <std::floating_point S>
S sqrt(S x) {
    return std::sqrt(x);
}

// ---- pow ------------------------------------------------------------------------

/// x^p for built-in types (std::pow).
template <class A, class B>
    requires std::is_arithmetic_v<A> && std::is_arithmetic_v<B>
auto pow(A x, B p) {
    return std::pow(x, p);
}

/// x^p for a tile of x >= 0 and a scalar exponent, as exp(p log x), which
/// Eigen vectorises (its own pow calls std::pow per element). pow(0, p) is 0
/// for p > 0 and +inf for p < 0, as std::pow; p == 0 gives 1 everywhere.
/// Negative x gives NaN. Taking a plain Array (not ArrayBase) makes this a
/// better match than Eigen's generic pow for the tiles per-pixel code uses.
template <class S, int Rows, int Cols, int Options, int MaxRows, int MaxCols>
    requires std::floating_point<S>
Eigen::Array<S, Rows, Cols, Options, MaxRows, MaxCols> pow(
    const Eigen::Array<S, Rows, Cols, Options, MaxRows, MaxCols>& x, S p) {
    using result = Eigen::Array<S, Rows, Cols, Options, MaxRows, MaxCols>;
    if (p == S(0)) return result::Ones(x.rows(), x.cols());
    return (p * x.log()).exp();
}

/// x^p for any other scalar, written as exp(p log x).
template <generic_scalar X, class P>
X pow(const X& x, const P& p) {
    return X(exp(p * log(x)));
}

// ---- hypot ----------------------------------------------------------------------

/// sqrt(a^2 + b^2) without intermediate overflow (std::hypot).
template <std::floating_point S>
S hypot(S a, S b) {
    return std::hypot(a, b);
}

/// sqrt(a^2 + b^2) for tiles (vectorised; the arguments are sky offsets in
/// arcsec, far from overflow).
template <eigen_array A, eigen_array B>
typename A::PlainObject hypot(const A& a, const B& b) {
    return (a.square() + b.square()).sqrt();
}

/// sqrt(a^2 + b^2) for any other scalar.
template <generic_scalar X>
X hypot(const X& a, const X& b) {
    return X(sqrt(a * a + b * b));
}

// ---- clamp_min, clamp_max ---------------------------------------------------------

/// max(x, lower); NaN stays NaN.
template <std::floating_point S>
S clamp_min(S x, S lower) {
    return x < lower ? lower : x;
}
/// min(x, upper); NaN stays NaN.
template <std::floating_point S>
S clamp_max(S x, S upper) {
    return x > upper ? upper : x;
}

/// Element-wise max(x, lower), branch-free.
template <eigen_array A>
typename A::PlainObject clamp_min(const A& x, typename A::Scalar lower) {
    return x.max(lower);
}
/// Element-wise min(x, upper), branch-free.
template <eigen_array A>
typename A::PlainObject clamp_max(const A& x, typename A::Scalar upper) {
    return x.min(upper);
}

/// max(x, lower) for any other scalar: x itself (with its derivatives) or the
/// constant bound.
template <generic_scalar X>
X clamp_min(const X& x, double lower) {
    return x < lower ? X(lower) : x;
}
/// min(x, upper) for any other scalar.
template <generic_scalar X>
X clamp_max(const X& x, double upper) {
    return x > upper ? X(upper) : x;
}

// ---- select -----------------------------------------------------------------------

/// `condition ? if_true : if_false` for one pixel; `if_false` may be a
/// plain number. The value taken keeps its derivatives, the other is dropped.
template <class V, class Else>
    requires(!eigen_array<V>)
V select(bool condition, const V& if_true, const Else& if_false) {
    return condition ? if_true : V(if_false);
}

/// Element-wise `condition ? if_true : if_false` for a tile (branch-free);
/// `if_false` may be a tile or a plain number.
template <eigen_array Condition, eigen_array V, class Else>
typename V::PlainObject select(const Condition& condition, const V& if_true,
                               const Else& if_false) {
    return condition.select(if_true, if_false);
}

// ---- zero_like ----------------------------------------------------------------------

/// One pixel's value (not a tile).
template <class X>
concept single_value = !eigen_array<X>;

/// A zero of the same type (and, for tiles, the same size) as x.
template <single_value X>
X zero_like(const X&) {
    return X(0);
}
/// A zero with x's derivative layout, for forward-mode scalars that carry a
/// derivative vector (Eigen::AutoDiffScalar): its derivatives are sized like
/// x's, since Eigen cannot mix empty and sized derivative vectors in one
/// expression.
template <single_value X>
    requires requires(X y) {
        y.value() = 0;
        y.derivatives().setZero();
    }
X zero_like(const X& x) {
    X zero = x;
    zero.value() = 0;
    zero.derivatives().setZero();
    return zero;
}
template <eigen_array A>
typename A::PlainObject zero_like(const A& x) {
    return A::PlainObject::Zero(x.rows(), x.cols());
}

// ---- value_of -----------------------------------------------------------------------

/// The plain value of a scalar: the number itself, or the value of an
/// autodiff scalar that exposes `.value()`. Used to validate parameters at
/// the API boundary, never in per-pixel code.
template <class S>
    requires std::is_arithmetic_v<S>
double value_of(S x) {
    return static_cast<double>(x);
}
template <class X>
    requires requires(const X& x) { x.value(); } && (!eigen_array<X>)
double value_of(const X& x) {
    return value_of(x.value());
}

/// Whether value_of works for this scalar type.
template <class X>
concept has_value_of = requires(const X& x) {
    { value_of(x) } -> std::convertible_to<double>;
};

}  // namespace diskmc::math

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
