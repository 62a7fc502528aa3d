#pragma once
// The hand-written adjoint of the per-pixel disk model: the fast path of the
// likelihood's gradient for the built-in components (automatic
// differentiation over pixel tiles, autodiff/tile_tape.hpp, stays the
// general path, for any surface or rotation profile).
//
// It runs the model's own per-pixel code (disk_projection::deproject_with and
// velocity_at: the formulas are written once) forward over a tile of pixels
// as fixed-size Eigen arrays, keeping every iterate of the deprojection and
// the closed-form partials of the surface and the rotation profile at each;
// then, given d loss / d v per pixel, runs the chain rule backwards through
// the fixed-point iterations of the flared deprojection
//     y_k = y_mid + h(r_{k-1}) tan(inc_c),  r_k = hypot(y_k, x_mid),
//     z = h(r_n),  v = v_phi(r_n, z) (x_mid / r_n) sin|inc| + vlsr
//                      [+ v_rad(r_n) (y_n / r_n) sin(-inc) - v_z(r_n) cos(inc)],
// and sums, over the tile, the adjoints of the per-parameter quantities of
// the prepared model (x0, y0, cos PA, sin PA, 1/cos inc_c, tan inc_c,
// sin|inc|, vlsr, and each component's prepared fields; with a radial flow
// sin(-inc) and its fields, with a vertical flow -cos(inc) and its fields).
//
// Those uniform adjoints are chained back to the named parameters by reverse
// automatic differentiation (autodiff::var) of the pairing
// sum_i field_i(full) adjoint_i through the family's make() and prepare():
// prepare()'s conventions (inc folding, sin|inc|, r_taper = inf, q_taper = 0,
// the cavity height) are differentiated as they are written, never restated.
//
// A component takes part when its prepared form provides, for tiles A:
//   adjoint_count; linearisation<A>; linearise(r[, z], out);
//   add_adjoints(at, cotangent, sums); paired_with(adjoints)
// (see prepared_flared_surface, prepared_keplerian_rotation and
// prepared_power_law_flow). A surface with an analytic deprojection (the
// conical surface) takes part with adjoint_count, paired_with and
// deproject_adjoint, the reverse of its deprojection, in place of the
// iterations; the angles it is deprojected with, sin(inc_c) and cos(2 inc_c),
// are functions of 1/cos(inc_c) and tan(inc_c), whose adjoints they join.
//
// Strong zero, as the tapes: a pixel whose seed is exactly 0 contributes
// nothing, even where one of its partial derivatives is not finite.

#include <array>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "diskmc/detail/eigen.hpp"
#include "diskmc/detail/flatten.hpp"
#include "diskmc/disk/model.hpp"

#include "diskmc/detail/vectorised_code_begin.hpp"  // g++ 12 false positive: see there

namespace diskmc {

/// Pixels per tile of the hand-written adjoint: 32 measured faster than 16,
/// 48 and 64 (benchmarks/bench_likelihood.cpp), its intermediates for the
/// five iterations of the deprojection then fit in L1.
inline constexpr Eigen::Index adjoint_tile_size = 32;

/// A tile of pixel values for the hand-written adjoint.
using adjoint_tile = Eigen::Array<double, adjoint_tile_size, 1>;

/// A prepared surface with the closed-form adjoint of its height.
template <class S>
concept surface_with_adjoint =
    requires(const S& surface, const adjoint_tile& r, typename S::template linearisation<adjoint_tile>& at,
             std::array<adjoint_tile, S::adjoint_count>& sums,
             const std::array<double, S::adjoint_count>& adjoints) {
        surface.linearise(r, at);
        { at.height } -> std::convertible_to<adjoint_tile>;
        { at.slope } -> std::convertible_to<adjoint_tile>;
        surface.add_adjoints(at, r, sums);
        surface.paired_with(adjoints);
    };

/// A prepared surface with an analytic deprojection and its closed-form
/// adjoint (see prepared_conical_surface::deproject_adjoint).
template <class S>
concept analytic_surface_with_adjoint =
    analytic_deprojection<S, adjoint_tile, double> &&
    requires(const S& surface, const adjoint_tile& v, const surface_point<adjoint_tile>& p,
             const std::array<double, S::adjoint_count>& adjoints) {
        surface.deproject_adjoint(v, v, 0.5, 0.5, p, v, v, v, v);
        surface.paired_with(adjoints);
    };

/// A prepared rotation profile with the closed-form adjoint of v_phi.
template <class R>
concept rotation_with_adjoint =
    requires(const R& rotation, const adjoint_tile& r, typename R::template linearisation<adjoint_tile>& at,
             std::array<adjoint_tile, R::adjoint_count>& sums,
             const std::array<double, R::adjoint_count>& adjoints) {
        rotation.linearise(r, r, at);
        { at.v } -> std::convertible_to<adjoint_tile>;
        { at.dv_dr } -> std::convertible_to<adjoint_tile>;
        { at.dv_dz } -> std::convertible_to<adjoint_tile>;
        rotation.add_adjoints(at, r, sums);
        rotation.paired_with(adjoints);
    };

/// A prepared flow with the closed-form adjoint of its speed (or no flow).
template <class F>
concept flow_with_adjoint =
    !has_flow<F> ||
    requires(const F& flow, const adjoint_tile& r, typename F::template linearisation<adjoint_tile>& at,
             std::array<adjoint_tile, F::adjoint_count>& sums, const std::array<double, F::adjoint_count>& adjoints) {
        flow.linearise(r, at);
        { at.v } -> std::convertible_to<adjoint_tile>;
        { at.dv_dr } -> std::convertible_to<adjoint_tile>;
        flow.add_adjoints(at, r, sums);
        flow.paired_with(adjoints);
    };

/// A prepared model (prepare(model) with double parameters) whose every
/// component has the closed-form adjoint: the likelihood's fast path.
template <class P>
concept projection_with_adjoint =
    std::same_as<typename P::scalar_type, double> &&
    (P::thin || surface_with_adjoint<typename P::surface_type> ||
     analytic_surface_with_adjoint<typename P::surface_type>) &&
    rotation_with_adjoint<typename P::rotation_type> && flow_with_adjoint<typename P::radial_type> &&
    flow_with_adjoint<typename P::vertical_type>;

namespace detail {

/// The fields of a flow the adjoint is taken with respect to (none for no_flow).
template <class F>
constexpr std::size_t flow_field_count() {
    if constexpr (has_flow<F>)
        return F::adjoint_count;
    else
        return 0;
}

/// A flow's quantities in projection_adjoints: its projection factor
/// (sin(-inc) or -cos(inc)) and its fields; none for no_flow.
template <class F>
constexpr std::size_t flow_quantity_count() {
    if constexpr (has_flow<F>)
        return 1 + F::adjoint_count;
    else
        return 0;
}

}  // namespace detail

/// Adjoints (sums over pixels of seed x partial derivative) of the
/// per-parameter quantities of a prepared model.
template <std::size_t SurfaceCount, std::size_t RotationCount, std::size_t FlowCount = 0>
struct projection_adjoints {
    /// x0, y0, cos PA, sin PA, 1/cos inc_c, tan inc_c, sin|inc|, vlsr.
    std::array<double, 8> geometry{};
    std::array<double, SurfaceCount> surface{};
    std::array<double, RotationCount> rotation{};
    /// With a radial flow: sin(-inc), then its fields; then with a vertical
    /// flow: -cos(inc), then its fields.
    std::array<double, FlowCount> flows{};

    /// How many quantities, in the order geometry, surface, rotation, flows.
    static constexpr std::size_t size() { return 8 + SurfaceCount + RotationCount + FlowCount; }
    /// Adjoints that are 1 for quantity q (in that order) and 0 elsewhere: a
    /// row of the Jacobian's chain. (Copied from one flat array: an index
    /// crossing the members trips g++ 12's -Warray-bounds.)
    static projection_adjoints unit(std::size_t q) {
        std::array<double, size()> flat{};
        flat[q] = 1.0;
        projection_adjoints a;
        std::size_t k = 0;
        for (double& value : a.geometry) value = flat[k++];
        for (double& value : a.surface) value = flat[k++];
        for (double& value : a.rotation) value = flat[k++];
        for (double& value : a.flows) value = flat[k++];
        return a;
    }

    projection_adjoints& operator+=(const projection_adjoints& other) {
        for (std::size_t i = 0; i < geometry.size(); ++i) geometry[i] += other.geometry[i];
        for (std::size_t i = 0; i < SurfaceCount; ++i) surface[i] += other.surface[i];
        for (std::size_t i = 0; i < RotationCount; ++i) rotation[i] += other.rotation[i];
        for (std::size_t i = 0; i < FlowCount; ++i) flows[i] += other.flows[i];
        return *this;
    }
};

namespace detail {

/// A flow's projection factor times adjoints[offset] plus its fields paired
/// with adjoints[offset + 1 ...] (see projection_adjoints::flows).
template <class T, class Flow, std::size_t FlowCount>
T flow_paired_with(const T& factor, const Flow& flow, const std::array<double, FlowCount>& adjoints,
                   std::size_t offset) {
    std::array<double, Flow::adjoint_count> fields;
    for (std::size_t i = 0; i < fields.size(); ++i) fields[i] = adjoints[offset + 1 + i];
    return T(factor * adjoints[offset] + flow.paired_with(fields));
}

}  // namespace detail

/// sum over the per-parameter quantities of `projection` (of any scalar T)
/// times their adjoints: differentiating it with respect to whatever made the
/// projection chains the adjoints back there.
template <class T, class Surface, class Rotation, bool Thin, class Radial, class Vertical, std::size_t SurfaceCount,
          std::size_t RotationCount, std::size_t FlowCount>
T paired_with(const disk_projection<T, Surface, Rotation, Thin, Radial, Vertical>& projection,
              const projection_adjoints<SurfaceCount, RotationCount, FlowCount>& adjoints) {
    const auto& g = adjoints.geometry;
    T sum = T(projection.x0 * g[0] + projection.y0 * g[1] + projection.cos_pa * g[2] + projection.sin_pa * g[3] +
              projection.inverse_cos_inc * g[4] + projection.tan_inc * g[5] + projection.sin_abs_inc * g[6] +
              projection.vlsr * g[7]);
    if constexpr (!Thin) sum += T(projection.surface.paired_with(adjoints.surface));
    sum += T(projection.rotation.paired_with(adjoints.rotation));
    if constexpr (has_flow<Radial>)
        sum += detail::flow_paired_with(projection.sin_minus_inc, projection.radial, adjoints.flows, 0);
    if constexpr (has_flow<Vertical>)
        sum += detail::flow_paired_with(projection.minus_cos_inc, projection.vertical, adjoints.flows,
                                        detail::flow_quantity_count<Radial>());
    return sum;
}

namespace detail {
/// What the adjoint keeps of one evaluation of the surface's height in the
/// iterations (nothing without them: thin or analytic).
template <class Surface, bool Iterated>
struct surface_linearisation_of {
    using type = adjoint_tile;
};
template <class Surface>
struct surface_linearisation_of<Surface, true> {
    using type = typename Surface::template linearisation<adjoint_tile>;
};
/// What the adjoint keeps of one evaluation of a flow (nothing for no_flow).
template <class Flow, bool = has_flow<Flow>>
struct flow_linearisation_of {
    using type = no_speed;
};
template <class Flow>
struct flow_linearisation_of<Flow, true> {
    using type = typename Flow::template linearisation<adjoint_tile>;
};
}  // namespace detail

/// The forward and reverse passes of the hand-written adjoint over one tile
/// of pixels at a time; one per thread (it holds scratch). What reverse()
/// needs of a tile's forward pass is a tile_state: the object keeps one, or
/// the caller keeps many (to reverse tiles long after their forward pass).
/// @code
///   projection_adjoint adjoint(projection);            // prepare(model), doubles
///   const adjoint_tile v = adjoint.forward(x, y);      // the model on the tile
///   adjoint.reverse(seed, sums);                       // sums += seed . dv/d(quantities)
/// @endcode
template <projection_with_adjoint Projection>
class projection_adjoint {
public:
    using surface_type = typename Projection::surface_type;
    using rotation_type = typename Projection::rotation_type;
    using radial_type = typename Projection::radial_type;
    using vertical_type = typename Projection::vertical_type;
    static constexpr bool thin = Projection::thin;
    /// Deprojected by the surface's own formula, not the iterations.
    static constexpr bool analytic = analytic_deprojection<surface_type, adjoint_tile, double>;
    /// Deprojected by the iterations on the surface's height.
    static constexpr bool iterated = !thin && !analytic;
    static constexpr bool radial_flow = Projection::radial_flow;
    static constexpr bool vertical_flow = Projection::vertical_flow;
    static constexpr std::size_t surface_count = surface_type::adjoint_count;
    static constexpr std::size_t rotation_count = rotation_type::adjoint_count;
    static constexpr std::size_t radial_count = detail::flow_quantity_count<radial_type>();
    static constexpr std::size_t vertical_count = detail::flow_quantity_count<vertical_type>();
    using adjoints = projection_adjoints<surface_count, rotation_count, radial_count + vertical_count>;
    using surface_linearisation = typename detail::surface_linearisation_of<surface_type, iterated>::type;

    /// What reverse() needs of one tile's forward pass.
    struct tile_state {
        adjoint_tile x, y, x_mid;
        // y_k and 1 / r_k, k = 0 .. iterations (analytic: y_mid, then the
        // point's y and 1 / r). 1 / r_k is divided in the forward pass, where
        // the divider is idle beside the exps and logs, so that the reverse
        // pass only multiplies.
        std::vector<adjoint_tile> ordinate, inverse_radius;
        std::vector<adjoint_tile> radius;  // r_k itself: analytic only (the point's r, at k = 1)
        std::vector<surface_linearisation> heights;  // h at r_k, k = 0 .. iterations (iterated only)
        typename rotation_type::template linearisation<adjoint_tile> rotation;
        typename detail::flow_linearisation_of<radial_type>::type radial;      // at r_n (radial flow only)
        typename detail::flow_linearisation_of<vertical_type>::type vertical;  // at r_n (vertical flow only)
    };

    explicit projection_adjoint(const Projection& projection)
        : projection_(projection), iterations_(thin ? 0 : analytic ? 1 : projection.flared_niter),
          height_bars_(static_cast<std::size_t>(iterations_) + 1) {
        shape(state_);
    }

    /// Sizes `state` for this projection's iterations (keeps its storage when
    /// it already fits).
    void shape(tile_state& state) const {
        const auto count = static_cast<std::size_t>(iterations_) + 1;
        if constexpr (analytic) state.radius.resize(count);
        state.inverse_radius.resize(count);
        state.ordinate.resize(count);
        if constexpr (iterated) state.heights.resize(count);
    }

    /// The model line-of-sight velocity on a tile (as
    /// line_of_sight_velocity), keeping what reverse() needs in `state`
    /// (shaped by shape()). Everything it calls is inlined (see
    /// detail/flatten.hpp), as in reverse().
    DISKMC_FLATTEN adjoint_tile forward(const adjoint_tile& x, const adjoint_tile& y, tile_state& state) const {
        state.x = x;
        state.y = y;
        const surface_point<adjoint_tile> p = projection_.deproject_with(
            x, y,
            [&](const adjoint_tile& r, int k) -> adjoint_tile {
                if constexpr (!iterated) {
                    return adjoint_tile::Zero();
                } else {
                    auto& at = state.heights[static_cast<std::size_t>(k)];
                    projection_.surface.linearise(r, at);
                    return at.height;
                }
            },
            [&](int k, const surface_point<adjoint_tile>& q) {
                // (an analytic deprojection's midplane point has no r)
                if (!analytic || k > 0) {
                    if constexpr (analytic) state.radius[static_cast<std::size_t>(k)] = q.r;
                    state.inverse_radius[static_cast<std::size_t>(k)] = q.r.inverse();
                }
                state.ordinate[static_cast<std::size_t>(k)] = q.y;
            });
        state.x_mid = p.x;
        projection_.rotation.linearise(p.r, p.z, state.rotation);
        if constexpr (radial_flow) projection_.radial.linearise(p.r, state.radial);
        if constexpr (vertical_flow) projection_.vertical.linearise(p.r, state.vertical);
        return projection_.velocity_at(p, state.rotation.v, speed_of<radial_flow>(state.radial),
                                       speed_of<vertical_flow>(state.vertical));
    }

    /// forward() keeping the tile's state in this object.
    adjoint_tile forward(const adjoint_tile& x, const adjoint_tile& y) { return forward(x, y, state_); }

    /// Adds, for the tile of the last forward() without a state, sum over
    /// pixels of seed x d v / d(quantity) to `sums`.
    void reverse(const adjoint_tile& seed, adjoints& sums) { reverse(state_, seed, sums); }

    /// Adds, for the tile whose forward pass left `state`, sum over pixels of
    /// seed x d v / d(quantity) to `sums`.
    ///
    /// The chain rule through the geometry runs on blocks of `lanes` pixels
    /// (two SIMD registers), each block through every iteration at once, so
    /// its adjoints stay in registers instead of passing through memory
    /// statement by statement as whole-tile expressions do; it leaves, per
    /// pixel, the cotangents of v_phi, z and each iterate's height, which the
    /// components then turn into their fields' adjoints tile by tile.
    DISKMC_FLATTEN void reverse(const tile_state& state, const adjoint_tile& seed, adjoints& sums) {
        const Projection& p = projection_;
        const auto n = static_cast<std::size_t>(iterations_);
        const auto& inverse_radius = state.inverse_radius;
        const auto& ordinate = state.ordinate;
        const auto& heights = state.heights;
        const auto& rotation = state.rotation;
        using block = Eigen::Array<double, lanes, 1>;
        for (Eigen::Index j = 0; j < adjoint_tile_size; j += lanes) {
            auto lane = [j](const adjoint_tile& tile) { return tile.template segment<lanes>(j); };
            const block seed_j = lane(seed);
            const block x_mid = lane(state.x_mid);
            // v = v_phi (x_mid / r_n) sin|inc| + vlsr
            const block inverse_r = lane(inverse_radius[n]);
            const block cos_phi = x_mid * inverse_r;
            const block seed_v_phi = seed_j * lane(rotation.v);
            lane_of(geometry_sums_[7], j) = seed_j;                  // vlsr
            lane_of(geometry_sums_[6], j) = seed_v_phi * cos_phi;    // sin|inc|
            const block v_phi_bar = seed_j * cos_phi * p.sin_abs_inc;
            lane_of(v_phi_bar_, j) = v_phi_bar;
            block x_bar = seed_v_phi * p.sin_abs_inc * inverse_r;  // at fixed r_n
            block r_bar = v_phi_bar * lane(rotation.dv_dr) - x_bar * cos_phi;
            block y_mid_bar = block::Zero();
            // + v_rad(r_n) (y_n / r_n) sin(-inc): y_n's cotangent at fixed r_n
            // joins the chain below where y_n is formed.
            block y_n_bar = block::Zero();
            // 1/cos(inc_c)'s cotangent through the analytic deprojection's angles
            block inverse_cos_bar = block::Zero();
            if constexpr (radial_flow) {
                const block sin_phi = lane(ordinate[n]) * inverse_r;
                const block seed_v_rad = seed_j * lane(state.radial.v);
                lane_of(radial_factor_sums_, j) = seed_v_rad * sin_phi;  // sin(-inc)
                const block v_rad_bar = seed_j * sin_phi * p.sin_minus_inc;
                lane_of(v_rad_bar_, j) = v_rad_bar;
                y_n_bar = seed_v_rad * p.sin_minus_inc * inverse_r;
                r_bar += v_rad_bar * lane(state.radial.dv_dr) - y_n_bar * sin_phi;
            }
            // - v_z(r_n) cos(inc)
            if constexpr (vertical_flow) {
                lane_of(vertical_factor_sums_, j) = seed_j * lane(state.vertical.v);  // -cos(inc)
                const block v_z_bar = seed_j * p.minus_cos_inc;
                lane_of(v_z_bar_, j) = v_z_bar;
                r_bar += v_z_bar * lane(state.vertical.dv_dr);
            }
            if constexpr (analytic) {
                // The surface's own deprojection, with y_n's cotangent from
                // the radial flow; then sin(inc_c) = tan(inc_c) cos(inc_c)
                // and cos(2 inc_c) = 2 cos^2(inc_c) - 1, cos(inc_c) =
                // 1 / (1/cos(inc_c)).
                const block z_bar = v_phi_bar * lane(rotation.dv_dz);
                const block y_mid = lane(ordinate[0]);
                surface_point<block> point;
                point.x = x_mid;
                point.y = lane(ordinate[1]);
                point.r = lane(state.radius[1]);
                point.z = point.r * p.surface.z0;
                const auto [sin_inc, cos_two_inc] = p.analytic_angles();
                const auto bars = p.surface.deproject_adjoint(block(x_mid), y_mid, sin_inc, cos_two_inc, point,
                                                              block(x_bar), y_n_bar, block(r_bar), z_bar);
                x_bar = bars.x_mid;
                y_mid_bar = bars.y_mid;
                for (std::size_t i = 0; i < surface_count; ++i) lane_of(surface_sums_[i], j) = bars.fields[i];
                const double cos_inc = 1.0 / p.inverse_cos_inc;
                const block cos_inc_bar = bars.sin_inc * p.tan_inc + bars.cos_two_inc * (4.0 * cos_inc);
                lane_of(geometry_sums_[5], j) = bars.sin_inc * cos_inc;     // tan(inc_c)
                inverse_cos_bar = -cos_inc_bar * (cos_inc * cos_inc);      // 1/cos(inc_c)
            } else if constexpr (!thin) {
                // z = h(r_n)
                const block z_bar = v_phi_bar * lane(rotation.dv_dz);
                lane_of(height_bars_[n], j) = z_bar;
                r_bar += z_bar * lane(heights[n].slope);
                // r_k = hypot(y_k, x_mid), y_k = y_mid + h(r_{k-1}) tan(inc_c)
                block tan_bar = block::Zero();
                for (std::size_t k = n; k >= 1; --k) {
                    const block r_bar_over_r = r_bar * lane(inverse_radius[k]);
                    block y_bar = r_bar_over_r * lane(ordinate[k]);
                    if constexpr (radial_flow)
                        if (k == n) y_bar += y_n_bar;
                    x_bar += r_bar_over_r * x_mid;
                    y_mid_bar += y_bar;
                    tan_bar += y_bar * lane(heights[k - 1].height);
                    const block h_bar = y_bar * p.tan_inc;
                    lane_of(height_bars_[k - 1], j) = h_bar;
                    r_bar = h_bar * lane(heights[k - 1].slope);
                }
                lane_of(geometry_sums_[5], j) = tan_bar;
            } else {
                lane_of(geometry_sums_[5], j).setZero();
                y_mid_bar += y_n_bar;  // y_n = y_mid
            }
            if constexpr (!analytic) {
                // r_0 = hypot(x_mid, y_mid)
                const block r_bar_over_r = r_bar * lane(inverse_radius[0]);
                x_bar += r_bar_over_r * x_mid;
                y_mid_bar += r_bar_over_r * lane(ordinate[0]);
            }
            // y_mid = (dx cos PA - dy sin PA) / cos(inc_c), x_mid = dy cos PA + dx sin PA
            const block dx = lane(state.x) - p.x0, dy = lane(state.y) - p.y0;
            const block y_rotated = dx * p.cos_pa - dy * p.sin_pa;
            lane_of(geometry_sums_[4], j) = y_mid_bar * y_rotated + inverse_cos_bar;  // 1/cos(inc_c)
            const block y_rotated_bar = y_mid_bar * p.inverse_cos_inc;
            lane_of(geometry_sums_[2], j) = x_bar * dy + y_rotated_bar * dx;  // cos PA
            lane_of(geometry_sums_[3], j) = x_bar * dx - y_rotated_bar * dy;  // sin PA
            lane_of(geometry_sums_[0], j) = -(x_bar * p.sin_pa + y_rotated_bar * p.cos_pa);  // x0 = -d/d dx
            lane_of(geometry_sums_[1], j) = y_rotated_bar * p.sin_pa - x_bar * p.cos_pa;     // y0 = -d/d dy
        }

        // The components' fields, from the cotangents of v_phi, z = h(r_n)
        // and the heights h(r_{k-1}) (in the order of the chain rule).
        if constexpr (!analytic)  // (analytic: set by the chain above)
            for (auto& s : surface_sums_) s.setZero();
        for (auto& s : rotation_sums_) s.setZero();
        p.rotation.add_adjoints(rotation, v_phi_bar_, rotation_sums_);
        if constexpr (iterated)
            for (std::size_t k = n + 1; k-- > 0;) p.surface.add_adjoints(heights[k], height_bars_[k], surface_sums_);
        if constexpr (radial_flow) {
            for (auto& s : radial_sums_) s.setZero();
            p.radial.add_adjoints(state.radial, v_rad_bar_, radial_sums_);
        }
        if constexpr (vertical_flow) {
            for (auto& s : vertical_sums_) s.setZero();
            p.vertical.add_adjoints(state.vertical, v_z_bar_, vertical_sums_);
        }

        // Sum over the tile; pixels with a zero seed are left out (strong zero)
        // when there are any, as their intermediates may not be finite.
        const bool all_seeded = (seed != 0.0).all();
        auto add = [&](double& total, const adjoint_tile& contribution) {
            total += all_seeded ? contribution.sum() : (seed != 0.0).select(contribution, 0.0).sum();
        };
        for (std::size_t i = 0; i < 8; ++i) add(sums.geometry[i], geometry_sums_[i]);
        for (std::size_t i = 0; i < surface_count; ++i) add(sums.surface[i], surface_sums_[i]);
        for (std::size_t i = 0; i < rotation_count; ++i) add(sums.rotation[i], rotation_sums_[i]);
        for_each_flow_sum([&](std::size_t i, const adjoint_tile& contribution) { add(sums.flows[i], contribution); });
    }

    /// The partial derivatives d v / d(quantity) at every pixel of the tile
    /// whose forward pass left `state`, quantities in projection_adjoints'
    /// flat order: the model is one number per pixel, so one reverse pass with
    /// a unit seed gives every pixel's whole row of the Jacobian.
    void partials(const tile_state& state, std::array<adjoint_tile, adjoints::size()>& out) {
        adjoints unused;
        reverse(state, adjoint_tile::Ones(), unused);
        for (std::size_t i = 0; i < 8; ++i) out[i] = geometry_sums_[i];
        for (std::size_t i = 0; i < surface_count; ++i) out[8 + i] = surface_sums_[i];
        for (std::size_t i = 0; i < rotation_count; ++i) out[8 + surface_count + i] = rotation_sums_[i];
        for_each_flow_sum([&](std::size_t i, const adjoint_tile& contribution) {
            out[8 + surface_count + rotation_count + i] = contribution;
        });
    }

    /// partials() of the tile of the last forward() without a state.
    void partials(std::array<adjoint_tile, adjoints::size()>& out) { partials(state_, out); }

private:
    /// Pixels per block of the reverse pass: two SIMD registers of doubles.
    static constexpr Eigen::Index lanes = 2 * Eigen::internal::packet_traits<double>::size;
    static_assert(adjoint_tile_size % lanes == 0, "the tile must split into whole blocks");

    static auto lane_of(adjoint_tile& tile, Eigen::Index j) { return tile.template segment<lanes>(j); }

    /// A flow's speed on the tile for velocity_at (no_speed without the flow).
    template <bool Present, class Linearisation>
    static auto speed_of(const Linearisation& at) {
        if constexpr (Present)
            return at.v;
        else
            return no_speed{};
    }

    /// use(i, per-pixel contribution) for each flow quantity i, in
    /// projection_adjoints::flows' order.
    template <class Use>
    void for_each_flow_sum(Use&& use) const {
        if constexpr (radial_flow) {
            use(0, radial_factor_sums_);
            for (std::size_t i = 0; i < radial_sums_.size(); ++i) use(1 + i, radial_sums_[i]);
        }
        if constexpr (vertical_flow) {
            use(radial_count, vertical_factor_sums_);
            for (std::size_t i = 0; i < vertical_sums_.size(); ++i) use(radial_count + 1 + i, vertical_sums_[i]);
        }
    }

    const Projection& projection_;
    int iterations_;
    tile_state state_;
    // The reverse pass's per-pixel cotangents: of v_phi, and of the height
    // at r_k (k = n: z itself), k = 0 .. iterations.
    adjoint_tile v_phi_bar_;
    std::vector<adjoint_tile> height_bars_;
    std::array<adjoint_tile, 8> geometry_sums_;
    std::array<adjoint_tile, surface_count> surface_sums_;
    std::array<adjoint_tile, rotation_count> rotation_sums_;
    // The flows' (only with flows): per-pixel cotangents of v_rad and v_z,
    // and the contributions to their projection factors and fields.
    adjoint_tile v_rad_bar_, v_z_bar_;
    adjoint_tile radial_factor_sums_, vertical_factor_sums_;
    std::array<adjoint_tile, detail::flow_field_count<radial_type>()> radial_sums_;
    std::array<adjoint_tile, detail::flow_field_count<vertical_type>()> vertical_sums_;
};

}  // namespace diskmc

#include "diskmc/detail/vectorised_code_end.hpp"
