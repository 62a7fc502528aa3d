#pragma once
// Emission surfaces z(r): the midplane, eddy's flared and tapered surface,
// and the concept a user's own surface satisfies.
//
// A surface is any type with a scalar-generic `height(r)` (r and z in
// arcsec). `height` is called per pixel with the value type V of the caller
// (double, a tile of doubles, an autodiff scalar), so it is written with the
// functions of diskmc/math/functions.hpp and without branches on r.
// A surface may also provide `prepared()`, returning an equivalent object
// with its per-parameter work (logs, constants) done once per evaluation.

#include <concepts>
#include <limits>
#include <string_view>

#include "diskmc/disk/unset.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/math/functions.hpp"

// g++ 12 reports -Wuninitialized inside its own AVX-512 intrinsics (e.g.
// _mm512_rsqrt14_pd in Eigen's fast-math sqrt starts from
// _mm512_undefined_pd()) wherever Eigen's vectorised math is inlined into
// the per-pixel code below: a false positive, silenced for this code only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace diskmc {

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
    T scale;           // z0, times the constant taper factor when r_taper = inf
    T psi;
    T r_cavity;
    T q_taper;
    T q_log_r_taper;   // q_taper * log(r_taper), when tapered
    T cavity_height;   // z where r <= r_cavity (a constant times z0)
    bool tapered;      // r_taper < infinity

    // z = z0 x^psi exp(-(x / r_taper)^q_taper) with x = max(r - r_cavity, 0),
    // written as z0 exp(psi L - exp(q_taper L - q_taper log r_taper)), L = log x:
    // one log and two exps, all vectorised. Where x <= 0 the logarithm is taken
    // of 1 and the result replaced by eddy's value at x = 0, so the value and
    // every derivative stay finite at and inside the cavity.
    template <class V>
    V height(const V& r) const {
        using namespace diskmc::math;
        const V x = r - r_cavity;
        const auto outside = x > 0.0;
        const V log_x = log(select(outside, x, 1.0));
        V exponent = psi * log_x;
        if (tapered) exponent -= V(exp(q_taper * log_x - q_log_r_taper));
        const V z = scale * exp(exponent);
        return select(outside, z, cavity_height);
    }
};

}  // namespace detail

/// eddy's flared, tapered emission surface:
/// z(r) = z0 x^psi exp(-(x / r_taper)^q_taper), x = max(r - r_cavity, 0).
/// Negative z0 is the far (back) side. r_taper = +inf means no taper.
/// (eddy, datacube.disk_coords; Teague et al. 2021, MAPS IV, eq. 1.)
template <class T>
struct flared_surface {
    T z0 = T(detail::not_set);                           ///< z at x = 1", arcsec
    T psi = T(detail::not_set);                          ///< flaring exponent
    T r_cavity = T(0.0);                                 ///< cavity radius, arcsec
    T r_taper = T(std::numeric_limits<double>::infinity());  ///< taper radius, arcsec
    T q_taper = T(1.0);                                  ///< taper exponent

    /// The same surface with its per-parameter work done once.
    detail::prepared_flared_surface<T> prepared() const {
        using std::log;
        const bool tapered = r_taper < std::numeric_limits<double>::infinity();
        // (0 / r_taper)^q_taper, the taper term at x = 0 and, for r_taper = inf,
        // everywhere: eddy evaluates it literally, so q_taper <= 0 matters even
        // without a taper radius.
        const double taper_at_zero = std::exp(-detail::power_of_zero(q_taper));
        // q log r_taper; 0 when q_taper == 0 so that 0 * log(r_taper) never
        // produces NaN (then (x/r_taper)^0 = 1 everywhere, as eddy).
        T q_log_r_taper = T(0.0);
        if (tapered && !(q_taper == 0.0)) q_log_r_taper = T(q_taper * log(r_taper));
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

/// The prepared form of a surface: its prepared() if it has one, else itself.
template <class S>
auto prepare_surface(const S& surface) {
    if constexpr (requires { surface.prepared(); })
        return surface.prepared();
    else
        return surface;
}

/// Value checks at the API boundary (user surfaces are not checked).
template <class S>
void check_surface(std::string_view, const S&) {}

template <class T>
void check_surface(std::string_view where, const flared_surface<T>& s) {
    if constexpr (math::has_value_of<T>) {
        check_finite(where, "z0", math::value_of(s.z0));
        check_finite(where, "psi", math::value_of(s.psi));
        check_finite(where, "r_cavity", math::value_of(s.r_cavity));
        const double r_taper = math::value_of(s.r_taper);
        check_argument(r_taper > 0.0, where, "r_taper must be > 0 (+inf for no taper)");
        check_finite(where, "q_taper", math::value_of(s.q_taper));
    }
}

}  // namespace detail

}  // namespace diskmc

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
