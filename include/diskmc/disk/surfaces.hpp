#pragma once
// Emission surfaces z(r): the midplane, eddy's flared and tapered surface,
// eddy's conical surface (with its analytic deprojection), and the concept a
// user's own surface satisfies.
//
// A surface is any type with a scalar-generic `height(r)` (r and z in
// arcsec). `height` is called per pixel with the value type V of the caller
// (double, a tile of doubles, an autodiff scalar), so it is written with the
// functions of diskmc/math/functions.hpp and without branches on r.
// A surface may also provide `prepared()`, returning an equivalent object
// with its per-parameter work (logs, constants) done once per evaluation,
// and its prepared form a deprojection of its own (analytic_deprojection),
// which the model then uses instead of the fixed-point iterations.

#include <array>
#include <concepts>
#include <cstddef>
#include <limits>
#include <string_view>
#include <cmath>

#include "diskmc/disk/unset.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/math/functions.hpp"

#include "diskmc/detail/vectorised_code_begin.hpp"  // g++ 12 false positive: see there

namespace diskmc {

/// A pixel deprojected onto the emission surface: disk-frame cartesian
/// coordinates and cylindrical radius and height, all in arcsec.
/// cos(phi) = x / r, sin(phi) = y / r, phi = atan2(y, x).
template <class V>
struct surface_point {
    V x;  ///< along the red-shifted major axis (eddy's x_mid)
    V y;  ///< along the minor axis, on the surface (eddy's y_tmp)
    V r;  ///< cylindrical radius, hypot(x, y)
    V z;  ///< height of the surface at r
};

/// A (prepared) surface with a deprojection of its own, from the midplane
/// point (x_mid, y_mid = y_rot / cos(inc_c)) and the folded inclination's
/// sin(inc_c) and cos(2 inc_c) (parameter scalars T).
template <class S, class V, class T>
concept analytic_deprojection = requires(const S& surface, const V& x_mid, const V& y_mid, const T& angle) {
    { surface.deproject(x_mid, y_mid, angle, angle) } -> std::same_as<surface_point<V>>;
};

/// A surface usable with pixel values of type V: `s.height(r)` gives z(r).
template <class S, class V>
concept emission_surface = requires(const S& surface, const V& r) {
    { surface.height(r) } -> std::convertible_to<V>;
};

/// The midplane, z = 0 (eddy's `z0 = None`). Deprojection needs no iteration.
struct thin_surface {
    template <class V>
    V height(const V& r) const {
        return math::zero_like(r);
    }
    /// No parameters: nothing for the hand-written adjoint to chain.
    static constexpr std::size_t adjoint_count = 0;
};

namespace detail {

/// 0^p as std::pow: 0 for p > 0, 1 for p == 0, +inf for p < 0; a constant
/// (no derivative) for any scalar type of p.
template <class T>
double power_of_zero(const T& p) {
    if (p > 0.0) return 0.0;
    if (p < 0.0) return std::numeric_limits<double>::infinity();
    return 1.0;
}

/// flared_surface with its per-parameter work done once.
template <class T>
struct prepared_flared_surface {
    T scale;  // z0, times the constant taper factor when r_taper = inf
    T psi;
    T r_cavity;
    T q_taper;
    T q_log_r_taper;  // q_taper * log(r_taper), when tapered
    T cavity_height;  // z where r <= r_cavity (a constant times z0)
    bool tapered;     // r_taper < infinity

    // z = z0 x^psi exp(-(x / r_taper)^q_taper) with x = max(r - r_cavity, 0),
    // written as z0 exp(psi L - exp(q_taper L - q_taper log r_taper)), L = log x:
    // one log and two exps, all vectorised. Where x <= 0 the logarithm is taken
    // of 1 and the result replaced by eddy's value at x = 0, so the value and
    // every derivative stay finite at and inside the cavity.
    template <class V>
    V height(const V& r) const {
        return with_terms(r, [&](const auto& outside, const V&, const V&, const V&, const V&, const V& z) {
            using namespace diskmc::math;
            return V(select(outside, z, cavity_height));
        });
    }

    // ---- the hand-written adjoint (the fast path of the likelihood's gradient),
    // on tiles A of double (fixed-size Eigen arrays) ---------------------------

    /// Fields the adjoint is taken with respect to, in the order of paired_with:
    /// scale, psi, r_cavity, q_taper, q_log_r_taper, cavity_height.
    static constexpr std::size_t adjoint_count = 6;

    /// One evaluation of the height and what its adjoint needs.
    template <class A>
    struct linearisation {
        A height;   // z(r), as height(r)
        A slope;    // dz/dr
        A unit;     // exp(psi L - taper): z = scale * unit outside the cavity
        A log_x;    // L (0 inside the cavity)
        A taper;    // exp(q_taper L - q_log_r_taper) when tapered
        A outside;  // 1 outside the cavity, 0 inside
    };

    /// The height at r with its partial derivatives.
    template <class A>
    void linearise(const A& r, linearisation<A>& out) const {
        with_terms(r, [&](const auto& outside, const A& x_or_one, const A& log_x, const A& taper, const A& unit,
                          const A& z) {
            using namespace diskmc::math;
            out.outside = select(outside, A::Ones(), 0.0);  // cast<double>() of the comparison is not vectorised
            out.height = select(outside, z, cavity_height);
            // dz/dr = z (psi - q_taper taper) / x outside the cavity, 0 inside
            // (where x is replaced by 1, so everything multiplied by 0 is finite).
            if (tapered) {
                out.slope = out.outside * z * (psi - q_taper * taper) / x_or_one;
            } else {
                out.slope = out.outside * z * psi / x_or_one;
            }
            out.unit = unit;
            out.log_x = log_x;
            out.taper = taper;
        });
    }

    /// Adds z_bar dz/d(field) of one evaluation, per pixel, to `sums`
    /// (fields in the order of adjoint_count). Inside the cavity z is the
    /// constant cavity_height, so only that field receives z_bar there.
    template <class A>
    void add_adjoints(const linearisation<A>& at, const A& z_bar, std::array<A, adjoint_count>& sums) const {
        const A outer = at.outside * z_bar;
        const A unit_bar = outer * at.unit;  // z_bar dz/dscale
        const A z_z_bar = unit_bar * scale;  // z_bar z
        sums[0] += unit_bar;
        sums[1] += z_z_bar * at.log_x;  // dz/dpsi = z L
        sums[2] -= z_bar * at.slope;    // dz/dr_cavity = -dz/dr
        if (tapered) {
            const A taper_bar = z_z_bar * at.taper;
            sums[3] -= taper_bar * at.log_x;  // dz/dq_taper = -z taper L
            sums[4] += taper_bar;             // dz/dq_log_r_taper = z taper
        }
        sums[5] += z_bar - outer;  // dz/dcavity_height = 1 inside
    }

    /// sum_i field_i adjoints_i: its derivative with respect to whatever this
    /// prepared surface was made from chains the adjoints back to it.
    T paired_with(const std::array<double, adjoint_count>& adjoints) const {
        T sum = T(scale * adjoints[0] + psi * adjoints[1] + r_cavity * adjoints[2] + cavity_height * adjoints[5]);
        if (tapered) sum += T(q_taper * adjoints[3] + q_log_r_taper * adjoints[4]);
        return sum;
    }

private:
    // The terms of the height, written once for height() and linearise():
    // use(outside, x or 1 inside the cavity, L, taper, unit, z outside the cavity).
    template <class V, class Use>
    auto with_terms(const V& r, Use&& use) const {
        using namespace diskmc::math;
        const V x = r - r_cavity;
        const auto outside = x > 0.0;
        const V x_or_one = select(outside, x, 1.0);
        const V log_x = log(x_or_one);
        V exponent = psi * log_x;
        V taper = zero_like(log_x);
        if (tapered) {
            taper = V(exp(q_taper * log_x - q_log_r_taper));
            exponent -= taper;
        }
        const V unit = exp(exponent);
        const V z = scale * unit;
        return use(outside, x_or_one, log_x, taper, unit, z);
    }
};

}  // namespace detail

/// eddy's flared, tapered emission surface:
/// z(r) = z0 x^psi exp(-(x / r_taper)^q_taper), x = max(r - r_cavity, 0).
/// Negative z0 is the far (back) side. r_taper = +inf means no taper.
/// (eddy, datacube.disk_coords.)
template <class T>
struct flared_surface {
    T z0 = T(detail::not_set);                               ///< z at x = 1", arcsec
    T psi = T(detail::not_set);                              ///< flaring exponent
    T r_cavity = T(0.0);                                     ///< cavity radius, arcsec
    T r_taper = T(std::numeric_limits<double>::infinity());  ///< taper radius, arcsec
    T q_taper = T(1.0);                                      ///< taper exponent

    /// The same surface with its per-parameter work done once.
    detail::prepared_flared_surface<T> prepared() const {
        using std::log;
        const bool tapered = r_taper < std::numeric_limits<double>::infinity();
        // (0 / r_taper)^q_taper, the taper term at x = 0 and, for r_taper = inf,
        // everywhere: eddy evaluates it literally, so q_taper <= 0 matters even
        // without a taper radius.
        const double taper_at_zero = std::exp(-detail::power_of_zero(q_taper));
        // q log r_taper, finite for any finite r_taper > 0, q_taper = 0
        // included (so d/dq_taper there keeps its -log r_taper term); kept 0
        // for q_taper = 0 at r_taper = 0, where 0 * log 0 would be NaN and
        // (x/r_taper)^0 = 1 everywhere, as eddy.
        T q_log_r_taper = T(0.0);
        if (tapered && !(q_taper == 0.0 && r_taper == 0.0)) q_log_r_taper = T(q_taper * log(r_taper));
        const T scale = tapered ? z0 : T(z0 * taper_at_zero);
        // eddy at x = 0: z0 * 0^psi * exp(-(0 / r_taper)^q_taper).
        const T cavity_height = T(z0 * (detail::power_of_zero(psi) * taper_at_zero));
        return {scale, psi, r_cavity, q_taper, q_log_r_taper, cavity_height, tapered};
    }

    /// z(r) in arcsec for r in arcsec.
    template <class V>
    V height(const V& r) const {
        return prepared().height(r);
    }
};

namespace detail {

/// conical_surface with its per-parameter work done.
template <class T>
struct prepared_conical_surface {
    T z0;
    T sin_psi_squared;  // sin^2(psi), psi = tan(z0) as eddy writes it
    T cos_two_psi;      // cos(2 psi)

    /// Fields the adjoint (disk/model_adjoint.hpp) is taken with respect to,
    /// in the order of paired_with: z0, sin^2(psi), cos(2 psi).
    static constexpr std::size_t adjoint_count = 3;

    template <class V>
    V height(const V& r) const {
        return V(z0 * r);
    }

    /// sum_i field_i adjoints_i: its derivative with respect to whatever this
    /// prepared surface was made from chains the adjoints back to it.
    T paired_with(const std::array<double, adjoint_count>& adjoints) const {
        return T(z0 * adjoints[0] + sin_psi_squared * adjoints[1] + cos_two_psi * adjoints[2]);
    }

    /// eddy's analytic deprojection (datacube._get_conical_cart_coords), as
    /// written there: with inc = inc_c and its rotation by PA - 90 degrees,
    /// whose minor-axis coordinate is -y_rot of the other surfaces,
    ///   psi = tan(z0),  a = cos(2 inc) + cos(2 psi),
    ///   b = -4 sin^2(psi) (-y_rot) tan(inc) = 4 sin^2(psi) sin(inc) y_mid,
    ///   c = -2 sin^2(psi) (x_mid^2 + y_mid^2),
    ///   t = -b + sqrt(b^2 - 4 a c) / 2 / a        (sic: only the root over 2a),
    ///   x = x_mid,  y = -y_mid + t sin(inc),  r = hypot(x, y),  z = z0 r.
    /// So phi = atan2(y, x) has the opposite sign of the other surfaces' at
    /// z0 -> 0, and psi is tan(z0), not atan(z0): eddy's rule, not the
    /// cone's geometry (eddy's z0 with psi = 1 is a flared_surface). Where
    /// b^2 < 4 a c the pixel is NaN, as in eddy.
    template <class V>
    surface_point<V> deproject(const V& x_mid, const V& y_mid, const T& sin_inc, const T& cos_two_inc) const {
        using namespace diskmc::math;
        const auto terms = roots(x_mid, y_mid, sin_inc, cos_two_inc);
        surface_point<V> p;
        p.x = x_mid;
        p.y = V(terms.t * sin_inc - y_mid);
        p.r = hypot(p.x, p.y);
        p.z = V(p.r * z0);
        return p;
    }

    /// Cotangents of deproject()'s inputs and of this surface's fields
    /// (adjoint_count's order), from those of its point.
    template <class V>
    struct deprojection_cotangents {
        V x_mid, y_mid, sin_inc, cos_two_inc;
        std::array<V, adjoint_count> fields;
    };

    /// The reverse of deproject() at the point p it gave for (x_mid, y_mid),
    /// given the cotangents of p.x (at fixed p.r), p.y (at fixed p.r), p.r
    /// (at fixed p.z) and p.z: the closed-form adjoint of the model's fast
    /// gradient (disk/model_adjoint.hpp).
    template <class V>
    deprojection_cotangents<V> deproject_adjoint(const V& x_mid, const V& y_mid, const T& sin_inc,
                                                 const T& cos_two_inc, const surface_point<V>& p, const V& x_bar,
                                                 const V& y_bar, const V& r_bar, const V& z_bar) const {
        const auto terms = roots(x_mid, y_mid, sin_inc, cos_two_inc);
        deprojection_cotangents<V> out;
        out.fields[0] = z_bar * p.r;  // z = z0 r
        const V inverse_r = V(1.0 / p.r);
        const V r_bar_total = r_bar + z_bar * z0;
        out.x_mid = x_bar + r_bar_total * p.x * inverse_r;  // r = hypot(x, y)
        const V y_bar_total = y_bar + r_bar_total * p.y * inverse_r;
        // y = t sin(inc) - y_mid
        const V t_bar = y_bar_total * sin_inc;
        out.sin_inc = y_bar_total * terms.t;
        out.y_mid = -y_bar_total;
        // t = sqrt(D) / (2 a) - b,  D = b^2 - 4 a c
        const V root_bar = t_bar / (2.0 * terms.a);
        V a_bar = -root_bar * terms.root / terms.a;
        V b_bar = -t_bar;
        const V discriminant_bar = root_bar / (2.0 * terms.root);
        b_bar += 2.0 * terms.b * discriminant_bar;
        a_bar -= 4.0 * terms.c * discriminant_bar;
        const V c_bar = -4.0 * terms.a * discriminant_bar;
        // c = (x_mid^2 + y_mid^2) (-2 sin^2 psi),  b = y_mid 4 sin^2 psi sin(inc)
        const T c_factor = -2.0 * sin_psi_squared;
        const T b_factor = 4.0 * sin_psi_squared * sin_inc;
        out.x_mid += 2.0 * c_factor * c_bar * x_mid;
        out.y_mid += 2.0 * c_factor * c_bar * y_mid + b_factor * b_bar;
        const V c_factor_bar = c_bar * (x_mid * x_mid + y_mid * y_mid);
        const V b_factor_bar = b_bar * y_mid;
        out.fields[1] = 4.0 * sin_inc * b_factor_bar - 2.0 * c_factor_bar;  // sin^2 psi
        out.sin_inc += 4.0 * sin_psi_squared * b_factor_bar;
        // a = cos(2 inc) + cos(2 psi)
        out.cos_two_inc = a_bar;
        out.fields[2] = a_bar;
        return out;
    }

private:
    template <class V>
    struct root_terms {
        T a;
        V b, c, root, t;  // root = sqrt(b^2 - 4 a c)
    };

    // eddy's quadratic, written once for deproject() and its adjoint.
    template <class V>
    root_terms<V> roots(const V& x_mid, const V& y_mid, const T& sin_inc, const T& cos_two_inc) const {
        using namespace diskmc::math;
        root_terms<V> terms;
        terms.a = T(cos_two_inc + cos_two_psi);
        terms.b = V(y_mid * T(4.0 * sin_psi_squared * sin_inc));
        terms.c = V((x_mid * x_mid + y_mid * y_mid) * T(-2.0 * sin_psi_squared));
        terms.root = V(sqrt(V(terms.b * terms.b - terms.c * T(4.0 * terms.a))));
        terms.t = V(terms.root / T(2.0 * terms.a) - terms.b);
        return terms;
    }
};

}  // namespace detail

/// eddy's conical surface, z = z0 r (eddy's z0 given with psi None), with
/// eddy's analytic deprojection (see detail::prepared_conical_surface: its
/// formula as eddy writes it, sign and angle conventions included). Negative
/// z0 is the far side.
template <class T>
struct conical_surface {
    T z0 = T(detail::not_set);  ///< z at r = 1", arcsec (eddy's z0; psi = tan(z0) in the deprojection)

    detail::prepared_conical_surface<T> prepared() const {
        using std::cos;
        using std::sin;
        using std::tan;
        const T psi = T(tan(z0));
        const T sin_psi = T(sin(psi));
        return {z0, T(sin_psi * sin_psi), T(cos(T(2.0 * psi)))};
    }
    /// z(r) in arcsec for r in arcsec.
    template <class V>
    V height(const V& r) const {
        return prepared().height(r);
    }
};

}  // namespace diskmc

#include "diskmc/detail/vectorised_code_end.hpp"
