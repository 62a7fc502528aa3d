#pragma once
// Velocity fields besides rotation: a radial flow v_rad(r) and a vertical
// flow v_z(r), added to the rotation's term in the line-of-sight velocity
// with eddy's projections (richteague/eddy, rotationmap._proj_vrad and
// _proj_valt, the raw inc in radians):
//   v_los = v_phi cos(phi) sin|inc| + v_rad sin(phi) sin(-inc) - v_z cos(inc) + vlsr,
// sin(phi) = y / r on the emission surface, as cos(phi) = x / r.
//
// A flow is any type with a scalar-generic `speed(r)` (r in arcsec, m/s),
// called per pixel with the caller's value type V and written with the
// functions of diskmc/math/functions.hpp, without branches on r; it may
// provide `prepared()` as surfaces and rotation profiles do. `no_flow`, the
// default of disk_model, has no speed: the model then computes no flow term
// at all (its numbers are those of a model without flows, bit for bit).

#include <array>
#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

#include "diskmc/disk/rotation.hpp"
#include "diskmc/disk/unset.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/math/functions.hpp"

#include "diskmc/detail/vectorised_code_begin.hpp"  // g++ 12 false positive: see there

namespace diskmc {

/// A flow usable with pixel values of type V: `f.speed(r)` gives its speed at r.
template <class F, class V>
concept flow_profile = requires(const F& flow, const V& r) {
    { flow.speed(r) } -> std::convertible_to<V>;
};

/// What no_flow's speed() gives: nothing, so the model adds no term.
struct no_speed {};

/// No flow (the default radial and vertical flow of disk_model): costs nothing.
struct no_flow {
    template <class V>
    no_speed speed(const V&) const {
        return {};
    }
};

/// Whether F is a flow that adds a term (anything but no_flow).
template <class F>
inline constexpr bool has_flow = !std::is_same_v<F, no_flow>;

namespace detail {

/// power_law_flow with its per-parameter work done.
template <class T>
struct prepared_power_law_flow {
    T v_100;
    T q;
    T au_per_100_arcsec;  // dist / 100

    template <class V>
    V speed(const V& r) const {
        return power_law_speed(v_100, q, au_per_100_arcsec, r);
    }

    // ---- the hand-written adjoint (the fast path of the likelihood's gradient),
    // on tiles A of double (fixed-size Eigen arrays) ---------------------------

    /// Fields the adjoint is taken with respect to: v_100, q, au_per_100_arcsec.
    static constexpr std::size_t adjoint_count = 3;

    /// One evaluation of the speed and what its adjoint needs.
    template <class A>
    struct linearisation {
        A v;       // speed(r)
        A dv_dr;   // d speed / d r
        A unit;    // (r dist / 100 au)^q: v = v_100 unit
        A log_rs;  // log(r dist / 100 au)
    };

    /// v = v_100 u, u = (r s)^q, s = dist / 100:
    /// dv/dr = q v / r, dv/dv_100 = u, dv/dq = v log(r s), dv/ds = q v / s.
    template <class A>
    void linearise(const A& r, linearisation<A>& out) const {
        const A r_100au = r * au_per_100_arcsec;
        out.log_rs = r_100au.log();
        // math::pow's own formula for tiles (one log per pixel, shared with
        // dv/dq), so v is speed(r) exactly.
        if (q == 0.0) {
            out.unit.setOnes();
        } else {
            out.unit = (q * out.log_rs).exp();
        }
        out.v = v_100 * out.unit;
        out.dv_dr = q * out.v / r;
    }

    /// Adds v_bar dv/d(field), per pixel, to `sums`.
    template <class A>
    void add_adjoints(const linearisation<A>& at, const A& v_bar, std::array<A, adjoint_count>& sums) const {
        sums[0] += v_bar * at.unit;
        const A v_v_bar = v_bar * at.v;
        sums[1] += v_v_bar * at.log_rs;
        sums[2] += v_v_bar * (q / au_per_100_arcsec);
    }

    /// sum_i field_i adjoints_i: its derivative chains the adjoints back to
    /// whatever the flow was made from.
    T paired_with(const std::array<double, adjoint_count>& adjoints) const {
        return T(v_100 * adjoints[0] + q * adjoints[1] + au_per_100_arcsec * adjoints[2]);
    }
};

}  // namespace detail

/// A flow speed as a power law of radius, eddy's convention for vp_100/vp_q
/// (and its vr_100/vr_q): v = v_100 (r dist / 100 au)^q, the speed at 100 au.
/// As the radial flow of a disk_model, v > 0 is outward; as the vertical
/// flow, v enters the line of sight as -v cos(inc) (eddy's _proj_valt).
/// dist converts arcsec to au and is the distance the rotation uses.
template <class T>
struct power_law_flow {
    T v_100 = T(detail::not_set);  ///< speed at 100 au, m/s
    T q = T(detail::not_set);      ///< power-law exponent
    T dist = T(detail::not_set);   ///< distance, pc

    detail::prepared_power_law_flow<T> prepared() const { return {v_100, q, T(dist / 100.0)}; }
    /// The speed in m/s at r in arcsec.
    template <class V>
    V speed(const V& r) const {
        return prepared().speed(r);
    }
};

namespace detail {

/// A flow's speed at r for the model's velocity_at: V, or no_speed for no_flow.
template <class Flow, class V>
auto flow_speed(const Flow& flow, const V& r) {
    if constexpr (has_flow<Flow>) {
        static_assert(flow_profile<Flow, V>, "diskmc: a flow needs `template <class V> V speed(const V& r) const`");
        return V(flow.speed(r));
    } else {
        return no_speed{};
    }
}

}  // namespace detail

}  // namespace diskmc

#include "diskmc/detail/vectorised_code_end.hpp"
