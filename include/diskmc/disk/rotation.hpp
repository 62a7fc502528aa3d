#pragma once
// Rotation profiles v_phi(r, z): Keplerian rotation about a point mass with
// the height term, eddy's pseudo self-gravity variant, eddy's power law, and
// the concept a user's own profile satisfies.
//
// A profile is any type with a scalar-generic `v_phi(r, z)` (r, z in arcsec,
// v_phi in m/s), called per pixel with the caller's value type V and written
// with diskmc/math/functions.hpp, without branches on r or z. It may provide
// `prepared()`, an equivalent object with the per-parameter work done once.
// Every parameter of a built-in profile changes v_phi: a profile has exactly
// the parameters it uses.

#include <array>
#include <concepts>
#include <cstddef>
#include <string_view>

#include "diskmc/disk/unset.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/math/functions.hpp"

#include "diskmc/detail/vectorised_code_begin.hpp"  // g++ 12 false positive: see there

namespace diskmc {

/// The physical constants as eddy uses them (scipy.constants and eddy's msun).
namespace constants {
inline constexpr double gravitational_constant = 6.6743e-11;  ///< G, m^3 kg^-1 s^-2
inline constexpr double astronomical_unit = 149597870700.0;   ///< au, m
inline constexpr double solar_mass = 1.98847e30;              ///< Msun, kg
}  // namespace constants

/// A rotation profile usable with pixel values of type V: `p.v_phi(r, z)`.
template <class P, class V>
concept rotation_profile = requires(const P& profile, const V& r, const V& z) {
    { profile.v_phi(r, z) } -> std::convertible_to<V>;
};

namespace detail {

/// v_phi = sqrt(G M r_m^2 / (r_m^2 + z_m^2)^(3/2)), r_m = r dist au, z_m = z dist au,
/// written in arcsec as sqrt(k r^2 / (s sqrt(s))) with s = r^2 + z^2 and
/// k = G M / (dist au) (eddy, rotationmap._vkep).
template <class V, class K>
V keplerian_speed(const K& k, const V& r, const V& z) {
    using namespace diskmc::math;
    const V r2 = r * r;
    const V s = r2 + z * z;
    return V(sqrt(k * r2 / (s * sqrt(s))));
}

/// G Msun / (dist au): turns (mass in Msun) into k of keplerian_speed.
template <class T>
T gravity_per_solar_mass(const T& dist) {
    return T(constants::gravitational_constant * constants::solar_mass /
             (dist * constants::astronomical_unit));
}

template <class T>
struct prepared_keplerian_rotation {
    T k;  // G M / (dist au)
    template <class V>
    V v_phi(const V& r, const V& z) const {
        return keplerian_speed(k, r, z);
    }

    // ---- the hand-written adjoint (the fast path of the likelihood's gradient),
    // on tiles A of double (fixed-size Eigen arrays) ---------------------------

    /// Fields the adjoint is taken with respect to: k.
    static constexpr std::size_t adjoint_count = 1;

    /// One evaluation of v_phi and its partial derivatives.
    template <class A>
    struct linearisation {
        A v;      // v_phi(r, z)
        A dv_dr;  // d v_phi / d r
        A dv_dz;  // d v_phi / d z
    };

    /// v = sqrt(k) r s^(-3/4), s = r^2 + z^2:
    /// dv/dr = v (z^2 - r^2 / 2) / (r s), dv/dz = -3/2 v z / s, dv/dk = v / (2 k).
    template <class A>
    void linearise(const A& r, const A& z, linearisation<A>& out) const {
        out.v = keplerian_speed(k, r, z);
        const A z2 = z * z;
        const A v_over_r_s = out.v / (r * (r * r + z2));
        out.dv_dr = v_over_r_s * (z2 - 0.5 * r * r);
        out.dv_dz = -1.5 * v_over_r_s * r * z;
    }

    /// Adds v_bar dv/dk, per pixel, to `sums`.
    template <class A>
    void add_adjoints(const linearisation<A>& at, const A& v_bar, std::array<A, adjoint_count>& sums) const {
        sums[0] += v_bar * at.v * (0.5 / k);
    }

    /// k adjoints[0]: its derivative chains the adjoint back to mstar and dist.
    T paired_with(const std::array<double, adjoint_count>& adjoints) const { return T(k * adjoints[0]); }
};

}  // namespace detail

/// Keplerian rotation about a point mass, including the height of the
/// emitting layer: v_phi = sqrt(G M r^2 / (r^2 + z^2)^(3/2)).
template <class T>
struct keplerian_rotation {
    T mstar = T(detail::not_set);  ///< stellar mass, Msun
    T dist = T(detail::not_set);   ///< distance, pc (converts arcsec to au)

    detail::prepared_keplerian_rotation<T> prepared() const {
        return {T(mstar * detail::gravity_per_solar_mass(dist))};
    }
    /// v_phi in m/s at (r, z) in arcsec.
    template <class V>
    V v_phi(const V& r, const V& z) const {
        return prepared().v_phi(r, z);
    }
};

namespace detail {

template <class T>
struct prepared_self_gravitating_rotation {
    T k_star;          // G mstar / (dist au)
    T k_disk;          // G mdisk / (dist au)
    T exponent;        // 2 - gamma
    T inner;           // r_in^(2-gamma), or log r_in when gamma = 2
    T inverse_range;   // 1 / (r_out^(2-gamma) - r_in^(2-gamma)), or 1 / log(r_out / r_in)
    bool logarithmic;  // gamma == 2

    template <class V>
    V v_phi(const V& r, const V& z) const {
        using namespace diskmc::math;
        // The enclosed disk mass fraction, clipped to [0, 1] as eddy.
        const V scaled = logarithmic ? V(log(r)) : V(pow(r, exponent));
        const V fraction = clamp_min(clamp_max(V((scaled - inner) * inverse_range), 1.0), 0.0);
        const V k = k_star + k_disk * fraction;
        return keplerian_speed(k, r, z);
    }
};

}  // namespace detail

/// eddy's Keplerian rotation with its pseudo self-gravity term
/// (rotationmap._vkep with _calc_mdisk): the central mass at r is
/// mstar + mdisk * clip((r^(2-gamma) - r_in^(2-gamma)) / (r_out^(2-gamma) - r_in^(2-gamma)), 0, 1),
/// the disk mass enclosed by a surface density ~ r^-gamma between r_in and
/// r_out. For gamma = 2, where eddy's expression is 0/0, the limit
/// log(r / r_in) / log(r_out / r_in) is used.
template <class T>
struct self_gravitating_rotation {
    T mstar = T(detail::not_set);  ///< stellar mass, Msun
    T dist = T(detail::not_set);   ///< distance, pc
    T mdisk = T(detail::not_set);  ///< disk mass, Msun
    T gamma = T(detail::not_set);  ///< surface density power-law index
    T r_in = T(detail::not_set);   ///< inner radius of the disk mass, arcsec
    T r_out = T(detail::not_set);  ///< outer radius of the disk mass, arcsec

    detail::prepared_self_gravitating_rotation<T> prepared() const {
        // Only the shim: a block-scope `using std::pow` would hide its
        // fallback for scalars that have no pow of their own.
        using namespace diskmc::math;
        const T g = detail::gravity_per_solar_mass(dist);
        const T exponent = T(2.0 - gamma);
        const bool logarithmic = exponent == 0.0;
        T inner, inverse_range;
        if (logarithmic) {
            inner = T(log(r_in));
            inverse_range = T(1.0 / (log(r_out) - inner));
        } else {
            inner = T(pow(r_in, exponent));
            inverse_range = T(1.0 / (pow(r_out, exponent) - inner));
        }
        return {T(mstar * g), T(mdisk * g), exponent, inner, inverse_range, logarithmic};
    }
    /// v_phi in m/s at (r, z) in arcsec.
    template <class V>
    V v_phi(const V& r, const V& z) const {
        return prepared().v_phi(r, z);
    }
};

namespace detail {

/// v_100 (r dist / 100 au)^q for r in arcsec, au_per_100_arcsec = dist / 100:
/// eddy's power law of radius (rotationmap._vpow), for rotation and flows alike.
template <class V, class T>
V power_law_speed(const T& v_100, const T& q, const T& au_per_100_arcsec, const V& r) {
    using namespace diskmc::math;
    const V r_100au = r * au_per_100_arcsec;
    return V(v_100 * pow(r_100au, q));
}

template <class T>
struct prepared_power_law_rotation {
    T vp_100;
    T vp_q;
    T au_per_100_arcsec;  // dist / 100

    template <class V>
    V v_phi(const V& r, const V&) const {
        return power_law_speed(vp_100, vp_q, au_per_100_arcsec, r);
    }
};

}  // namespace detail

/// eddy's power-law rotation (rotationmap._vpow):
/// v_phi = vp_100 (r dist / 100 au)^vp_q, independent of z.
template <class T>
struct power_law_rotation {
    T vp_100 = T(detail::not_set);  ///< v_phi at 100 au, m/s
    T vp_q = T(detail::not_set);    ///< power-law exponent
    T dist = T(detail::not_set);    ///< distance, pc

    detail::prepared_power_law_rotation<T> prepared() const {
        return {vp_100, vp_q, T(dist / 100.0)};
    }
    /// v_phi in m/s at r in arcsec (z is not used by this profile).
    template <class V>
    V v_phi(const V& r, const V& z) const {
        return prepared().v_phi(r, z);
    }
};

}  // namespace diskmc

#include "diskmc/detail/vectorised_code_end.hpp"
