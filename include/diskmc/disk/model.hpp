#pragma once
// The disk model: orientation on the sky, emission surface, rotation profile
// and systemic velocity, all templates on the parameter scalar T; and its
// per-pixel evaluation, written once as member templates over the pixel value
// type V (double, a tile of doubles, an autodiff scalar).
//
// Conventions are eddy's (richteague/eddy, datacube.disk_coords,
// _get_flared_coords, rotationmap._proj_vphi), pinned down number for number
// by the fixtures in shared/data/eddy:
//   X = x - x0, Y = y - y0;  inc_c = inc if inc < 90 else inc - 180
//   x_rot = Y cos PA + X sin PA,  y_rot = X cos PA - Y sin PA
//   x_mid = x_rot,  y_mid = y_rot / cos(inc_c)
//   r = hypot(x_mid, y_mid); then flared_niter times:
//       y_s = y_mid + z(r) tan(inc_c),  r = hypot(y_s, x_mid)
//   z = z(r) at the final r;  phi = atan2(y_s, x_mid)
//   v_los = v_phi(r, z) cos(phi) sin|inc| + vlsr   (the raw inc)
// with cos(phi) = x_mid / r, so no trigonometry is done per pixel; with
// flows (disk/velocity_fields.hpp, eddy's _proj_vrad and _proj_valt) also
//   + v_rad(r) sin(phi) sin(-inc) - v_z(r) cos(inc),  sin(phi) = y_s / r.
// A surface with an analytic deprojection (eddy's conical surface) replaces
// the fixed-point iterations by its own formula.

#include <array>
#include <cmath>
#include <limits>
#include <numbers>
#include <string_view>
#include <type_traits>
#include <utility>

#include "diskmc/disk/components.hpp"
#include "diskmc/disk/rotation.hpp"
#include "diskmc/disk/surfaces.hpp"
#include "diskmc/disk/unset.hpp"
#include "diskmc/disk/velocity_fields.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/math/functions.hpp"

#include "diskmc/detail/vectorised_code_begin.hpp"  // g++ 12 false positive: see there

namespace diskmc {

/// Where the disk is and how it is oriented on the sky.
template <class T>
struct disk_orientation {
    T x0 = T(0.0);               ///< centre offset along x (east), arcsec
    T y0 = T(0.0);               ///< centre offset along y (north), arcsec
    T inc = T(detail::not_set);  ///< inclination, degrees; > 0 rotates clockwise on the sky,
                                 ///< < 0 anticlockwise; inc >= 90 is folded to inc - 180
    T PA = T(detail::not_set);   ///< position angle of the red-shifted major axis, degrees
                                 ///< east of north
};

/// A disk rotation-map model. Required values left unset are NaN and rejected
/// by check_model; defaults are eddy's.
/// @code
///   diskmc::disk_model<double> m{
///       .geometry = {.inc = 46.7, .PA = 133.3},
///       .surface = {.z0 = 0.3, .psi = 1.25, .r_taper = 2.5, .q_taper = 2.0},
///       .rotation = {.mstar = 2.0, .dist = 101.0},
///       .vlsr = 5760.0};
///   // with a radial inflow (disk/velocity_fields.hpp), v_rad = -40 (r / 100 au)^-0.5 m/s:
///   diskmc::disk_model<double, diskmc::flared_surface<double>, diskmc::keplerian_rotation<double>,
///                      diskmc::power_law_flow<double>>
///       inflow{.geometry = m.geometry, .surface = m.surface, .rotation = m.rotation, .vlsr = m.vlsr,
///              .radial = {.v_100 = -40.0, .q = -0.5, .dist = 101.0}};
/// @endcode
template <class T, class Surface = flared_surface<T>, class Rotation = keplerian_rotation<T>,
          class Radial = no_flow, class Vertical = no_flow>
struct disk_model {
    using scalar_type = T;
    using surface_type = Surface;
    using rotation_type = Rotation;
    using radial_type = Radial;
    using vertical_type = Vertical;

    disk_orientation<T> geometry{};  ///< x0, y0, inc, PA
    Surface surface{};               ///< emission surface z(r)
    Rotation rotation{};             ///< rotation profile v_phi(r, z)
    T vlsr = T(detail::not_set);     ///< systemic velocity, m/s
    int flared_niter = 5;  ///< fixed-point iterations of the deprojection (eddy's default)
    // The flows come last, so that initialisers written before them still fit.
    Radial radial{};      ///< radial flow v_rad(r), > 0 outward (none by default)
    Vertical vertical{};  ///< vertical flow v_z(r), entering as -v_z cos(inc) (none by default)
};

/// A disk model with its per-parameter work done (angles in radians, their
/// trigonometric functions, the prepared surface and rotation): the object
/// per-pixel code is evaluated on. Make one per parameter vector with
/// prepare(model); it is cheap.
template <class T, class Surface, class Rotation, bool Thin, class Radial = no_flow, class Vertical = no_flow>
struct disk_projection {
    T x0, y0;
    T cos_pa, sin_pa;
    T inverse_cos_inc;  // 1 / cos(inc_c)
    T tan_inc;          // tan(inc_c)
    T sin_abs_inc;      // sin|inc|
    T vlsr;
    int flared_niter;
    Surface surface;    // prepared surface
    Rotation rotation;  // prepared rotation profile
    Radial radial;      // prepared radial flow (no_flow: none)
    Vertical vertical;  // prepared vertical flow (no_flow: none)
    T sin_minus_inc;    // sin(-inc), the radial flow's projection (0 without one)
    T minus_cos_inc;    // -cos(inc), the vertical flow's projection (0 without one)

    using scalar_type = T;
    using surface_type = Surface;
    using rotation_type = Rotation;
    using radial_type = Radial;
    using vertical_type = Vertical;
    static constexpr bool thin = Thin;
    static constexpr bool radial_flow = has_flow<Radial>;
    static constexpr bool vertical_flow = has_flow<Vertical>;

    /// Deprojects the sky offsets (x, y) in arcsec onto the emission surface.
    template <class V>
    surface_point<V> deproject(const V& x, const V& y) const {
        static_assert(Thin || emission_surface<Surface, V>,
                      "diskmc: the surface needs `template <class V> V height(const V& r) const`");
        return deproject_with(
            x, y, [&](const V& r, int) { return V(surface.height(r)); }, [](int, const surface_point<V>&) {});
    }

    /// deproject() with the surface's height at the k-th radius given by
    /// `height_at(r, k)` (k = 0 .. flared_niter, the last one is z), and
    /// `visit(k, p)` shown every iterate (k = 0: the midplane point; p.z not
    /// yet set): the hand-written adjoint records them. A surface with an
    /// analytic deprojection is deprojected by it: height_at is not called,
    /// visit shows the midplane point (k = 0, p.r not set either) and the
    /// deprojected one (k = 1).
    template <class V, class Height, class Visit>
    surface_point<V> deproject_with(const V& x, const V& y, Height&& height_at, Visit&& visit) const {
        using namespace diskmc::math;
        const V dx = x - x0;
        const V dy = y - y0;
        surface_point<V> p;
        p.x = dy * cos_pa + dx * sin_pa;
        const V y_mid = (dx * cos_pa - dy * sin_pa) * inverse_cos_inc;
        if constexpr (analytic_deprojection<Surface, V, T>) {
            (void)height_at;
            p.y = y_mid;
            visit(0, std::as_const(p));
            const auto [sin_inc, cos_two_inc] = analytic_angles();
            const surface_point<V> q = surface.deproject(p.x, y_mid, sin_inc, cos_two_inc);
            visit(1, q);
            return q;
        } else {
            p.y = y_mid;
            p.r = hypot(p.x, y_mid);
            visit(0, std::as_const(p));
            if constexpr (Thin) {
                p.z = zero_like(p.r);
            } else {
                for (int k = 0; k < flared_niter; ++k) {
                    p.y = y_mid + height_at(std::as_const(p.r), k) * tan_inc;
                    p.r = hypot(p.y, p.x);
                    visit(k + 1, std::as_const(p));
                }
                p.z = height_at(std::as_const(p.r), flared_niter);
            }
            return p;
        }
    }

    /// sin(inc_c) and cos(2 inc_c), an analytic deprojection's angles, from
    /// the prepared 1/cos(inc_c) and tan(inc_c).
    std::array<T, 2> analytic_angles() const {
        const T cos_inc = T(1.0 / inverse_cos_inc);
        return {T(tan_inc * cos_inc), T(2.0 * cos_inc * cos_inc - 1.0)};
    }

    /// The model line-of-sight velocity (m/s, including vlsr) at the sky
    /// offsets (x, y) in arcsec.
    template <class V>
    V line_of_sight_velocity(const V& x, const V& y) const {
        static_assert(rotation_profile<Rotation, V>,
                      "diskmc: the rotation profile needs "
                      "`template <class V> V v_phi(const V& r, const V& z) const`");
        const surface_point<V> p = deproject(x, y);
        return velocity_at(p, V(rotation.v_phi(p.r, p.z)), detail::flow_speed(radial, p.r),
                           detail::flow_speed(vertical, p.r));
    }

    /// The line-of-sight velocity at a deprojected point where the rotation
    /// speed is v_phi and the flows' speeds are v_rad and v_z (no_speed for
    /// an absent flow, whose term is then not computed at all):
    ///   v_phi cos(phi) sin|inc| + v_rad sin(phi) sin(-inc) - v_z cos(inc) + vlsr,
    /// cos(phi) = x / r, sin(phi) = y / r.
    template <class V, class RadialSpeed = no_speed, class VerticalSpeed = no_speed>
    V velocity_at(const surface_point<V>& p, const V& v_phi, const RadialSpeed& v_rad = {},
                  const VerticalSpeed& v_z = {}) const {
        constexpr bool with_radial = !std::is_same_v<RadialSpeed, no_speed>;
        constexpr bool with_vertical = !std::is_same_v<VerticalSpeed, no_speed>;
        if constexpr (!with_radial && !with_vertical) {
            return V(v_phi * (p.x / p.r) * sin_abs_inc + vlsr);
        } else {
            V v = V(v_phi * (p.x / p.r) * sin_abs_inc);
            if constexpr (with_radial) v = V(v + v_rad * (p.y / p.r) * sin_minus_inc);
            if constexpr (with_vertical) v = V(v + v_z * minus_cos_inc);
            return V(v + vlsr);
        }
    }
};

namespace detail {

/// The prepared form of a surface or rotation profile: its prepared() if it
/// has one (the per-parameter work done once), else the object itself.
template <class Component>
auto prepared_form(const Component& component) {
    if constexpr (requires { component.prepared(); })
        return component.prepared();
    else
        return component;
}

}  // namespace detail

/// Prepares a model for per-pixel evaluation (trigonometry of inc and PA,
/// the surface's and profile's constants). Does not validate: NaN parameters
/// give NaN pixels; use check_model at the API boundary.
template <class T, class Surface, class Rotation, class Radial, class Vertical>
auto prepare(const disk_model<T, Surface, Rotation, Radial, Vertical>& model) {
    using std::cos;
    using std::sin;
    using std::tan;
    constexpr double radians_per_degree = std::numbers::pi / 180.0;
    const T& inc = model.geometry.inc;
    // eddy folds inc >= 90 for the coordinates only; the projection uses sin|inc|.
    const T folded = inc < 90.0 ? inc : T(inc - 180.0);
    const T folded_radians = T(folded * radians_per_degree);
    const T inc_radians = T(inc * radians_per_degree);
    const T pa_radians = T(model.geometry.PA * radians_per_degree);
    // sin|inc| = sign(inc) sin(inc), without an abs the autodiff scalars may lack.
    const T sin_abs_inc = inc < 0.0 ? T(-sin(inc_radians)) : T(sin(inc_radians));

    using prepared_surface = decltype(detail::prepared_form(model.surface));
    using prepared_rotation = decltype(detail::prepared_form(model.rotation));
    using prepared_radial = decltype(detail::prepared_form(model.radial));
    using prepared_vertical = decltype(detail::prepared_form(model.vertical));
    constexpr bool thin = std::is_same_v<Surface, thin_surface>;
    // The flows' projections (eddy's _proj_vrad, _proj_valt: the raw inc),
    // not computed without flows.
    const T sin_minus_inc = has_flow<Radial> ? T(-sin(inc_radians)) : T(0.0);
    const T minus_cos_inc = has_flow<Vertical> ? T(-cos(inc_radians)) : T(0.0);
    return disk_projection<T, prepared_surface, prepared_rotation, thin, prepared_radial, prepared_vertical>{
        model.geometry.x0,
        model.geometry.y0,
        T(cos(pa_radians)),
        T(sin(pa_radians)),
        T(1.0 / cos(folded_radians)),
        T(tan(folded_radians)),
        sin_abs_inc,
        model.vlsr,
        model.flared_niter,
        detail::prepared_form(model.surface),
        detail::prepared_form(model.rotation),
        detail::prepared_form(model.radial),
        detail::prepared_form(model.vertical),
        sin_minus_inc,
        minus_cos_inc};
}

/// Validates a model at the API boundary.
/// @throws invalid_input naming the first bad value: x0, y0, inc, PA, vlsr
///         not finite, flared_niter < 1, or a value of a built-in surface,
///         rotation profile or flow outside its component's valid range (e.g.
///         r_taper <= 0, mstar <= 0, dist <= 0; disk/components.hpp).
///         Scalars without a readable value (see math::value_of) are not checked.
template <class T, class Surface, class Rotation, class Radial, class Vertical>
void check_model(const disk_model<T, Surface, Rotation, Radial, Vertical>& model,
                 std::string_view where = "disk model") {
    if constexpr (math::has_value_of<T>) {
        check_finite(where, "x0", math::value_of(model.geometry.x0));
        check_finite(where, "y0", math::value_of(model.geometry.y0));
        check_finite(where, "inc", math::value_of(model.geometry.inc));
        check_finite(where, "PA", math::value_of(model.geometry.PA));
        check_finite(where, "vlsr", math::value_of(model.vlsr));
    }
    if (model.flared_niter < 1)
        detail::throw_invalid_input(where, ": flared_niter must be >= 1, got ", model.flared_niter);
    detail::check_surface(where, model.surface);
    detail::check_rotation(where, model.rotation);
    detail::check_radial_flow(where, model.radial);
    detail::check_vertical_flow(where, model.vertical);
}

}  // namespace diskmc

#include "diskmc/detail/vectorised_code_end.hpp"
