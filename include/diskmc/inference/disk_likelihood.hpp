#pragma once
// The masked Gaussian log-likelihood of a rotation map,
//   log L = -1/2 sum_{p in mask} w_p (d_p - m_p)^2,   w_p = 1 / sigma_p^2,
// exactly as eddy's rotationmap._ln_likelihood (no normalisation term;
// -infinity when a model pixel inside the mask is not finite), with the
// model m from a disk model family, optionally convolved with the beam on the
// fitted grid before masking.
//
// Value: the unmasked pixels are stored compacted and contiguous, and the
// model runs on them in vectorised tiles (the whole grid when the beam is on,
// since the convolution needs every pixel).
//
// Gradient (log_likelihood_gradient): d log L / d m = w (d - m) for the chi^2,
// pushed back through the adjoint of the beam convolution when it is on, then
// through the per-pixel model (with the beam and the fast path, streamed over
// the grid's columns: see streamed_beam_gradient):
//   - fast path, when every component of the family's model has a closed-form
//     adjoint (the built-in flared, thin and conical surfaces, Keplerian
//     rotation, power-law radial and vertical flows): the hand-written
//     adjoint of disk/model_adjoint.hpp;
//   - general path, for any other surface, rotation profile or flow: automatic
//     differentiation of the same per-pixel model code, vectorised over
//     pixels (autodiff/tile_tape.hpp).
// The two are tested against each other and against autodiff::var.
//
// The beam convolution and its adjoint go by the faster algorithm for the
// kernel (disk/grid_beam_convolution.hpp): direct sums, or, built with
// diskmc::fftw, the FFT from 15 x 15 pixels across; the streamed gradient
// is the direct sums' (it convolves a column at a time), so an FFT
// convolution takes the two-pass gradient: model, A, chi^2, A^T, adjoint.
//
// log_likelihood<T> for any other scalar T evaluates the model one pixel at
// a time: the general (slow) path that automatic differentiation with
// autodiff::var uses, and the reference the fast gradient is tested against.

#include "diskmc/detail/numbers.hpp"
#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "diskmc/autodiff/gradient.hpp"
#include "diskmc/autodiff/tile_tape.hpp"
#include "diskmc/autodiff/var.hpp"
#include "diskmc/detail/thread_buffers.hpp"
#include "diskmc/disk/beam.hpp"
#include "diskmc/disk/grid_beam_convolution.hpp"
#include "diskmc/disk/model_adjoint.hpp"
#include "diskmc/disk/model_image.hpp"
#include "diskmc/disk/sky_map.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/inference/disk_family.hpp"
#include "diskmc/parallel/parallel_for.hpp"

namespace diskmc::inference {

/// How disk_likelihood's gradient goes through the per-pixel model.
enum class gradient_path {
    /// The hand-written adjoint when every component of the family's model has
    /// one (the built-in surfaces and Keplerian rotation), else tile autodiff.
    automatic,
    /// Always automatic differentiation of the per-pixel model code over
    /// pixel tiles (the general path; slower; for checking the fast one).
    tile_autodiff,
};

/// Options of disk_likelihood.
struct disk_likelihood_options {
    /// Convolve the model with the map's beam on the fitted grid (eddy's beam=True).
    bool convolve_beam = false;
    /// Threads for one evaluation: 1 evaluates on the calling thread; 0 uses
    /// all cores. Results do not depend on it. Inside a sampler's parallel
    /// loop an evaluation runs on its calling thread whatever this says
    /// (parallel_for's rule for nested calls); fit_options::threads states
    /// the rule the fit follows.
    std::size_t threads = 1;
    /// The gradient's path through the per-pixel model; both give the same
    /// gradient to rounding.
    gradient_path gradient = gradient_path::automatic;
    /// The beam convolution's algorithm (automatic: the FFT for kernels from
    /// 15 x 15 pixels when built with diskmc::fftw, else direct sums); all
    /// give the same value and gradient to rounding.
    beam_algorithm beam = beam_algorithm::automatic;
};

namespace detail {

/// Pixels per tile of the autodiff sweep (measured in benchmarks/bench_likelihood.cpp).
inline constexpr Eigen::Index gradient_tile_size = 128;
/// Pixels per unit of work handed to a thread; fixed, so sums are added in
/// the same order whatever the thread count.
inline constexpr Eigen::Index pixels_per_chunk = 2048;

/// Columns whose sums the streamed beam gradient keeps apart and adds in a
/// fixed order at the end, so that the result does not depend on how the
/// columns are split among threads.
inline constexpr Eigen::Index beam_sum_columns = 8;

/// The streamed beam gradient's scratch, reused per thread: the model and
/// the cotangent as zero-bordered planes for the convolution's columns, one
/// column of output, and the forward states of the tiles of the 2 h + 1
/// latest columns (h the kernel's half width).
template <class Adjoint>
struct streamed_beam_buffers {
    Eigen::ArrayXXd model, cotangent;
    Eigen::ArrayXd column;
    std::vector<typename Adjoint::tile_state> states;
    typename Adjoint::tile_state margin;  // the forward pass on a band's margins
};

/// Tests' access to which path a gradient took (defined by the tests only).
struct disk_likelihood_access;

/// disk_likelihood's image-sized scratch with the beam on, reused per thread
/// (detail/thread_buffers.hpp).
struct beam_likelihood_buffers {
    Eigen::ArrayXXd model;      // the unconvolved model at every grid pixel
    Eigen::ArrayXXd convolved;  // the model convolved with the beam
    Eigen::ArrayXXd cotangent;  // d log L / d convolved
    Eigen::ArrayXXd seed;       // d log L / d model
};


/// The Jacobian's scratch, reused per thread (fresh multi-megabyte
/// allocations each pass cost more in page faults than the pass itself).
struct jacobian_buffers {
    Eigen::MatrixXd grid_partials;  // d m / d quantities at every grid pixel (beam only)
    Eigen::MatrixXd partials;       // ... of the (convolved) model at the masked pixels
    Eigen::ArrayXd grid_model, model;
    Eigen::ArrayXXd image, convolved;  // one grid image each (beam only)
};

/// eddy's beam convolution for scalars without a vectorised path (the
/// reference autodiff scalars): direct sums, the outside of the image counted
/// as zeros, non-finite pixels missing and NaN again in the output.
template <class T>
Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic> convolve_reference(
    const Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic>& image, const Eigen::ArrayXXd& kernel) {
    const Eigen::Index ny = image.rows(), nx = image.cols(), half = kernel.rows() / 2;
    const double kernel_sum = kernel.sum();
    auto finite = [](const T& v) {
        using diskmc::math::value_of;
        return std::isfinite(value_of(v));
    };
    Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic> out(ny, nx);
    for (Eigen::Index i = 0; i < nx; ++i) {
        for (Eigen::Index j = 0; j < ny; ++j) {
            if (!finite(image(j, i))) {
                out(j, i) = T(std::numeric_limits<double>::quiet_NaN());
                continue;
            }
            T sum(0.0);
            double missing = 0.0;
            // Convolution: out(p) = sum_k K(k) image(p - k), k centred on the kernel.
            for (Eigen::Index a = 0; a < kernel.rows(); ++a) {
                for (Eigen::Index b = 0; b < kernel.cols(); ++b) {
                    const Eigen::Index jj = j - (a - half), ii = i - (b - half);
                    if (jj < 0 || jj >= ny || ii < 0 || ii >= nx) continue;  // zeros outside
                    if (finite(image(jj, ii))) {
                        sum += kernel(a, b) * image(jj, ii);
                    } else {
                        missing += kernel(a, b);
                    }
                }
            }
            out(j, i) = sum / (kernel_sum - missing);
        }
    }
    return out;
}

}  // namespace detail

/// Whether disk_likelihood's gradient takes the hand-written adjoint (fast
/// path) for this family: its model's components all have closed-form
/// adjoints, and it can make a model from autodiff::var (to chain the adjoints
/// back to its parameters). Otherwise the tile autodiff path is taken.
template <class Family>
concept closed_form_adjoint_family = disk_model_family<Family> && requires(const Family& family,
                                                                           const Eigen::VectorXd& full) {
    requires projection_with_adjoint<decltype(prepare(family.template make<double>(full)))>;
    prepare(family.template make<autodiff::var>(Eigen::Matrix<autodiff::var, Eigen::Dynamic, 1>()));
};

/// The log-likelihood of a rotation map under a disk model family; satisfies
/// named_log_likelihood_with_gradient, so inference::make_posterior turns it
/// into a posterior for either sampler.
template <disk_model_family Family = disk_family<>>
class disk_likelihood {
public:
    /// @param map     the data and their uncertainties on the fitted grid (after
    ///                any clipping and downsampling)
    /// @param mask    the pixels used (fit_mask gives eddy's); same shape as the map
    /// @param family  the model's parameters and how they build the model
    /// @param options beam convolution and threads
    /// @throws invalid_input if the mask has the wrong shape or keeps no pixel,
    ///         keeps a pixel with non-finite data or an uncertainty that is not
    ///         finite and > 0, or whose chi^2 term overflows ((data /
    ///         uncertainty)^2 or 1 / uncertainty^2 not finite), or the beam is
    ///         requested on a grid without one
    disk_likelihood(const sky_map& map, const Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>& mask,
                    Family family = {}, disk_likelihood_options options = {})
        : family_(std::move(family)), options_(options), ny_(map.grid.ny()), nx_(map.grid.nx()) {
        constexpr std::string_view where = "disk_likelihood";
        check_argument(map.data.rows() == ny_ && map.data.cols() == nx_, where,
                       "the map's data does not match its grid");
        check_argument(map.uncertainty.rows() == ny_ && map.uncertainty.cols() == nx_, where,
                       "the map's uncertainty does not match its grid");
        if (mask.rows() != ny_ || mask.cols() != nx_)
            diskmc::detail::throw_invalid_input(where, ": the mask is ", mask.rows(), "x", mask.cols(),
                                        " but the map is ", ny_, "x", nx_);
        const Eigen::Index used = mask.count();
        check_argument(used > 0, where, "the mask keeps no pixel");

        const pixel_positions grid_positions = pixel_positions_of(map.grid);
        x_.resize(used);
        y_.resize(used);
        data_.resize(used);
        weight_.resize(used);
        mask_index_.resize(used);
        Eigen::Index k = 0;
        for (Eigen::Index p = 0; p < ny_ * nx_; ++p) {  // column-major, as the images
            if (!mask(p)) continue;
            const double d = map.data(p), sigma = map.uncertainty(p);
            if (!std::isfinite(d))
                diskmc::detail::throw_invalid_input(where, ": the mask keeps pixel (row ", p % ny_, ", column ", p / ny_,
                                            ") whose data is not finite");
            if (!usable_uncertainty(sigma))
                diskmc::detail::throw_invalid_input(where, ": the mask keeps pixel (row ", p % ny_, ", column ", p / ny_,
                                            ") whose uncertainty is ", sigma, " (must be finite and > 0)");
            // The chi^2 term w (d - m)^2 must stay finite for a finite model:
            // w = 1 / sigma^2 itself (sigma = 1e-300 overflows it) and the
            // data's own term (d / sigma)^2 (d = 1e308 overflows its square).
            // Otherwise every evaluation is -infinity and the fit would blame the model.
            if (!std::isfinite(1.0 / (sigma * sigma)))
                diskmc::detail::throw_invalid_input(where, ": pixel (row ", p % ny_, ", column ", p / ny_,
                                            ") has uncertainty ", sigma,
                                            ", so small that its weight 1 / uncertainty^2 overflows");
            if (!std::isfinite((d / sigma) * (d / sigma)))
                diskmc::detail::throw_invalid_input(where, ": pixel (row ", p % ny_, ", column ", p / ny_, ") has data ", d,
                                            " and uncertainty ", sigma,
                                            ": (data / uncertainty)^2 overflows, so its chi^2 term is infinite");
            x_[k] = grid_positions.x[p];
            y_[k] = grid_positions.y[p];
            data_[k] = d;
            weight_[k] = 1.0 / (sigma * sigma);
            mask_index_[k] = p;
            ++k;
        }
        if (options_.convolve_beam) {
            check_argument(map.grid.beam().has_value(), where,
                           "convolve_beam is set but the map has no beam (BMAJ/BMIN)");
            convolution_.emplace(beam_kernel(map.grid), ny_, nx_, options_.beam);
            grid_data_.setZero(ny_, nx_);
            grid_weight_.setZero(ny_, nx_);
            for (Eigen::Index k = 0; k < used; ++k) {
                grid_data_(mask_index_[k]) = data_[k];
                grid_weight_(mask_index_[k]) = weight_[k];
            }
            // The pixels whose model the convolution carries into a masked
            // pixel: A^T of the mask is nonzero there. By direct sums, which
            // are exactly 0 elsewhere (an FFT leaves rounding noise).
            Eigen::ArrayXXd reach;
            convolution_->direct().apply_adjoint(grid_data_, (grid_weight_ > 0.0).cast<double>(), reach);
            beam_reach_ = reach != 0.0;
        }
        grid_x_ = grid_positions.x;
        grid_y_ = grid_positions.y;
    }

    /// The names of the full parameter vector, in order (the family's).
    std::vector<std::string> parameter_names() const { return family_.parameter_names(); }
    const Family& family() const { return family_; }
    /// Pixels inside the mask.
    Eigen::Index pixel_count() const { return data_.size(); }
    /// Pixels the model is evaluated on per call (the whole grid with the beam).
    Eigen::Index model_pixel_count() const { return convolution_ ? ny_ * nx_ : pixel_count(); }
    const disk_likelihood_options& options() const { return options_; }
    /// Whether the gradient can take the hand-written adjoint (the fast path):
    /// every component of the family's model has a closed-form adjoint.
    static constexpr bool has_closed_form_gradient = closed_form_adjoint_family<Family>;

    /// log L at the full parameter vector, for any scalar type (double is vectorised).
    template <class T>
    T log_likelihood(const Eigen::Matrix<T, Eigen::Dynamic, 1>& full) const {
        if constexpr (std::is_same_v<T, double>) {
            return log_likelihood_value(full);
        } else {
            return log_likelihood_reference(full);
        }
    }

    /// log L and its gradient with respect to the full vector, in one pass:
    /// automatic differentiation of the per-pixel model over pixel tiles,
    /// hand-written adjoints for the chi^2 and the beam.
    /// @param grad resized to the full vector's size; zero where the value is -infinity
    double log_likelihood_gradient(const Eigen::VectorXd& full, Eigen::VectorXd& grad) const {
        grad.setZero(full.size());
        if (!convolution_) {
            // d log L / d m = w (d - m), formed tile by tile from the model.
            return sweep(full, x_, y_, grad, [&](Eigen::Index start, Eigen::Index count, const double* model, double* seed) {
                // seed = w (d - m); the tile's log L is -1/2 sum seed (d - m).
                const Eigen::Map<const Eigen::ArrayXd> m(model, count);
                Eigen::Map<Eigen::ArrayXd> s(seed, count);
                s = weight_.segment(start, count) * (data_.segment(start, count) - m);
                return -0.5 * (s * (data_.segment(start, count) - m)).sum();
            });
        }
        if constexpr (closed_form_adjoint_family<Family>) {
            if (options_.gradient == gradient_path::automatic && !convolution_->by_fft()) {
                double value = 0.0;
                if (streamed_beam_gradient(full, grad, value)) return value;
            }
        }
        // With the beam: the model on the whole grid, convolved; the chi^2's
        // adjoint scattered onto the grid and pushed back through the
        // convolution's adjoint; then the per-pixel sweep with that seed.
        auto& buffers = convolved_model(full);
        buffers.cotangent.setZero(ny_, nx_);
        double value = 0.0;
        for (Eigen::Index k = 0; k < data_.size(); ++k) {
            const double residual = data_[k] - buffers.convolved(mask_index_[k]);
            buffers.cotangent(mask_index_[k]) = weight_[k] * residual;
            value += weight_[k] * residual * residual;
        }
        value *= -0.5;
        if (!std::isfinite(value)) {
            grad.setZero();
            return diskmc::detail::minus_infinity;
        }
        convolution_->apply_adjoint(buffers.model, buffers.cotangent, buffers.seed, options_.threads);
        keep_within_reach(buffers.seed);
        const double swept =
            sweep(full, grid_x_, grid_y_, grad, [&](Eigen::Index start, Eigen::Index count, const double*, double* seed) {
                Eigen::Map<Eigen::ArrayXd>(seed, count) = buffers.seed.reshaped().segment(start, count);
                return 0.0;
            });
        // sweep() returns -infinity (and a zero gradient) if the gradient is not finite.
        return std::isfinite(swept) ? value : diskmc::detail::minus_infinity;
    }

    /// The Jacobian J = d m / d full of the model (convolved when the beam is
    /// on) at the masked pixels, pixel_count() x full.size(), rows in the
    /// masked pixels' column-major order. From one pass: the model is one
    /// number per pixel, so the hand-written adjoint with a unit seed gives
    /// each pixel's partials in the prepared model's quantities, chained to
    /// `full` by the (quantities x full) Jacobian of make() and prepare();
    /// the convolution is linear, so J's columns are convolved like the model.
    /// Empty (0 x 0) where a partial derivative that reaches the mask is not finite.
    Eigen::MatrixXd model_jacobian(const Eigen::VectorXd& full) const
        requires closed_form_adjoint_family<Family>
    {
        auto& buffers = diskmc::detail::thread_buffers<detail::jacobian_buffers>();
        if (!masked_quantity_partials(full, buffers)) return {};
        return buffers.partials * quantity_jacobian(full);
    }

    /// The Gauss-Newton pieces of the likelihood, from one pass over the pixels
    /// (model_jacobian's): with r = d - m at the masked pixels and W = diag(w),
    ///   log L = -r^T W r / 2,   grad = d log L / d full = J^T W r,
    ///   gauss_newton = J^T W J,
    /// the curvature of -log L without the residuals' term
    /// -sum_p w_p r_p d^2 m_p / d full^2 (which averages to zero at the
    /// optimum of a model that fits to the noise).
    /// @return log L; -infinity (grad and gauss_newton zero) where the model
    ///         or a partial derivative reaching the mask is not finite
    double log_likelihood_normal_equations(const Eigen::VectorXd& full, Eigen::VectorXd& grad,
                                           Eigen::MatrixXd& gauss_newton) const
        requires closed_form_adjoint_family<Family>
    {
        const Eigen::Index n = full.size();
        grad.setZero(n);
        gauss_newton.setZero(n, n);
        auto& buffers = diskmc::detail::thread_buffers<detail::jacobian_buffers>();
        if (!masked_quantity_partials(full, buffers)) return diskmc::detail::minus_infinity;
        // sqrt(w) r, in place of the model.
        Eigen::ArrayXd& scaled_residual = buffers.model;
        scaled_residual = (data_ - scaled_residual) * weight_.sqrt();
        const double value = -0.5 * scaled_residual.square().sum();
        if (!std::isfinite(value)) return diskmc::detail::minus_infinity;
        // In the quantities first, with sqrt(w) J in place: J^T W J = (sqrt(w) J)^T (sqrt(w) J).
        Eigen::MatrixXd& scaled = buffers.partials;
        scaled.array().colwise() *= weight_.sqrt();
        const Eigen::Index quantities = scaled.cols();
        Eigen::MatrixXd lower_half = Eigen::MatrixXd::Zero(quantities, quantities);
        lower_half.selfadjointView<Eigen::Lower>().rankUpdate(scaled.transpose());
        const Eigen::MatrixXd quantity_gauss_newton = lower_half.selfadjointView<Eigen::Lower>();
        const Eigen::VectorXd quantity_gradient = scaled.transpose() * scaled_residual.matrix();
        const Eigen::MatrixXd chain = quantity_jacobian(full);
        grad = chain.transpose() * quantity_gradient;
        gauss_newton = chain.transpose() * quantity_gauss_newton * chain;
        gauss_newton = 0.5 * (gauss_newton + gauss_newton.transpose());
        if (!grad.allFinite() || !gauss_newton.allFinite()) {
            grad.setZero();
            gauss_newton.setZero();
            return diskmc::detail::minus_infinity;
        }
        return value;
    }

    /// The residuals' term of the Hessian of -log L, which the Gauss-Newton
    /// curvature leaves out: -sum_p w_p r_p d^2 m_p / d full_j d full_k, by
    /// central differences along the components with steps[k] > 0 of the
    /// vector-Jacobian product J^T s, s = W r with r held at its value at
    /// `full` (rows and columns of the other components are zero). Each
    /// product is one pass of the gradient's adjoint. The differences err
    /// with the third derivatives of sum_p s_p m_p, s noise-like at an
    /// optimum, not with those of log L: far less than differences of the
    /// gradient would.
    /// @return full.size() square, symmetrised; empty (0 x 0) where an
    ///         evaluation is not finite
    Eigen::MatrixXd residual_curvature(const Eigen::VectorXd& full, const Eigen::VectorXd& steps) const {
        check_argument(steps.size() == full.size(), "disk_likelihood::residual_curvature",
                       "steps must have the full vector's size");
        Eigen::ArrayXd model;
        if (convolution_) {
            model = convolved_model(full).convolved.reshaped()(mask_index_);
        } else {
            model.resize(x_.size());
            grid_model_of(full, x_, y_, model.data());
        }
        const Eigen::ArrayXd seed = weight_ * (data_ - model);
        if (!seed.allFinite()) return {};
        const Eigen::Index n = full.size();
        Eigen::MatrixXd curvature = Eigen::MatrixXd::Zero(n, n);
        Eigen::VectorXd up, down;
        for (Eigen::Index k = 0; k < n; ++k) {
            if (!(steps[k] > 0.0)) continue;
            Eigen::VectorXd probe = full;
            probe[k] = full[k] + steps[k];
            if (!jacobian_transpose_product(probe, seed, up)) return {};
            probe[k] = full[k] - steps[k];
            if (!jacobian_transpose_product(probe, seed, down)) return {};
            curvature.col(k) = -(up - down) / (2.0 * steps[k]);
        }
        // Only the differenced components' block is known from both sides.
        for (Eigen::Index k = 0; k < n; ++k)
            if (!(steps[k] > 0.0)) curvature.row(k).setZero();
        return 0.5 * (curvature + curvature.transpose());
    }

    /// The model image on the whole grid (convolved when the beam is on), m/s.
    Eigen::ArrayXXd model_image(const Eigen::VectorXd& full) const {
        Eigen::ArrayXXd model;
        grid_model(full, model);
        if (!convolution_) return model;
        Eigen::ArrayXXd convolved;
        convolution_->apply(model, convolved, options_.threads);
        return convolved;
    }

private:
    friend struct detail::disk_likelihood_access;

    /// Zeroes d log L / d model off the pixels that reach the mask: the
    /// FFT's A^T leaves rounding noise there (~1e-17 where the direct sums
    /// give 0), which would run the model's reverse pass on every tile and
    /// meet its singular partials (e.g. at the star).
    void keep_within_reach(Eigen::ArrayXXd& seed) const {
        if (convolution_->by_fft()) seed = beam_reach_.select(seed, 0.0);
    }

    /// The unconvolved model at every grid pixel (vectorised, in chunks
    /// shared among the threads) into `model`, resized to the grid.
    void grid_model(const Eigen::VectorXd& full, Eigen::ArrayXXd& model) const {
        model.resize(ny_, nx_);
        grid_model_of(full, grid_x_, grid_y_, model.data());
    }

    /// The model on the grid and convolved with the beam, in this thread's
    /// buffers (.model and .convolved).
    detail::beam_likelihood_buffers& convolved_model(const Eigen::VectorXd& full) const {
        auto& buffers = diskmc::detail::thread_buffers<detail::beam_likelihood_buffers>();
        grid_model(full, buffers.model);
        convolution_->apply(buffers.model, buffers.convolved, options_.threads);
        return buffers;
    }

    double log_likelihood_value(const Eigen::VectorXd& full) const {
        double value = 0.0;
        if (convolution_) {
            const auto& buffers = convolved_model(full);
            for (Eigen::Index k = 0; k < data_.size(); ++k) {
                const double residual = data_[k] - buffers.convolved(mask_index_[k]);
                value += weight_[k] * residual * residual;
            }
        } else {
            const auto projection = prepare(family_.template make<double>(full));
            const Eigen::Index chunks = chunk_count(x_.size());
            std::vector<double> partial(static_cast<std::size_t>(chunks), 0.0);
            parallel_for(static_cast<std::size_t>(chunks), options_.threads, [&](std::size_t c) {
                const Eigen::Index start = static_cast<Eigen::Index>(c) * detail::pixels_per_chunk;
                const Eigen::Index count = std::min(detail::pixels_per_chunk, x_.size() - start);
                Eigen::ArrayXd model(count);
                diskmc::detail::line_of_sight_velocity_of_range(projection, x_, y_, start, count, model.data());
                partial[c] = (weight_.segment(start, count) * (data_.segment(start, count) - model).square()).sum();
            });
            for (double p : partial) value += p;
        }
        value *= -0.5;
        return std::isfinite(value) ? value : diskmc::detail::minus_infinity;
    }

    template <class T>
    T log_likelihood_reference(const Eigen::Matrix<T, Eigen::Dynamic, 1>& full) const {
        const auto projection = prepare(family_.template make<T>(full));
        Eigen::Array<T, Eigen::Dynamic, 1> model;
        T sum(0.0);
        if (convolution_) {
            line_of_sight_velocity(projection, grid_x_, grid_y_, model);
            const Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic> convolved =
                detail::convolve_reference<T>(model.reshaped(ny_, nx_), convolution_->kernel());
            for (Eigen::Index k = 0; k < data_.size(); ++k) {
                const T residual = data_[k] - convolved(mask_index_[k]);
                sum += weight_[k] * residual * residual;
            }
        } else {
            line_of_sight_velocity(projection, x_, y_, model);
            for (Eigen::Index k = 0; k < data_.size(); ++k) {
                const T residual = data_[k] - model[k];
                sum += weight_[k] * residual * residual;
            }
        }
        return T(-0.5 * sum);
    }

    static Eigen::Index chunk_count(Eigen::Index pixels) {
        return (pixels + detail::pixels_per_chunk - 1) / detail::pixels_per_chunk;
    }

    /// The sweep over pixels (x, y) for the gradient: for each tile, the model
    /// forward; `seed_of(start, count, model, seed)` sets d log L / d m for
    /// the tile's `count` pixels from `start` and returns the tile's share of
    /// log L; the reverse pass adds the tile's d log L / d full into `grad`.
    /// Returns the summed log L (-infinity, and a zero gradient, if it or the
    /// gradient is not finite). The hand-written adjoint when the family has
    /// it, else (or when the options ask for it) tile autodiff.
    template <class SeedOf>
    double sweep(const Eigen::VectorXd& full, const Eigen::ArrayXd& x, const Eigen::ArrayXd& y,
                 Eigen::VectorXd& grad, SeedOf&& seed_of) const {
        double value;
        if constexpr (closed_form_adjoint_family<Family>) {
            value = options_.gradient == gradient_path::tile_autodiff ? sweep_autodiff(full, x, y, grad, seed_of)
                                            : sweep_closed_form(full, x, y, grad, seed_of);
        } else {
            value = sweep_autodiff(full, x, y, grad, seed_of);
        }
        if (!std::isfinite(value) || !grad.allFinite()) {
            grad.setZero();
            return diskmc::detail::minus_infinity;
        }
        return value;
    }

    /// The unconvolved model at the pixels (x, y) into `out` (x.size()
    /// values), in chunks shared among the threads.
    void grid_model_of(const Eigen::VectorXd& full, const Eigen::ArrayXd& x, const Eigen::ArrayXd& y,
                       double* out) const {
        const auto projection = prepare(family_.template make<double>(full));
        parallel_for(static_cast<std::size_t>(chunk_count(x.size())), options_.threads, [&](std::size_t c) {
            const Eigen::Index start = static_cast<Eigen::Index>(c) * detail::pixels_per_chunk;
            const Eigen::Index count = std::min(detail::pixels_per_chunk, x.size() - start);
            diskmc::detail::line_of_sight_velocity_of_range(projection, x, y, start, count, out + start);
        });
    }

    /// J^T seed, J = d m / d full of the (convolved) model at the masked
    /// pixels and `seed` one number per masked pixel: the gradient's sweep
    /// with that seed. False if the product is not finite.
    bool jacobian_transpose_product(const Eigen::VectorXd& full, const Eigen::ArrayXd& seed,
                                    Eigen::VectorXd& product) const {
        product.setZero(full.size());
        double swept = 0.0;
        if (!convolution_) {
            swept = sweep(full, x_, y_, product, [&](Eigen::Index start, Eigen::Index count, const double*, double* s) {
                Eigen::Map<Eigen::ArrayXd>(s, count) = seed.segment(start, count);
                return 0.0;
            });
        } else {
            auto& buffers = diskmc::detail::thread_buffers<detail::beam_likelihood_buffers>();
            grid_model(full, buffers.model);  // its missing pixels shape the convolution
            buffers.cotangent.setZero(ny_, nx_);
            buffers.cotangent.reshaped()(mask_index_) = seed;
            convolution_->apply_adjoint(buffers.model, buffers.cotangent, buffers.seed, options_.threads);
            keep_within_reach(buffers.seed);
            swept = sweep(full, grid_x_, grid_y_, product,
                          [&](Eigen::Index start, Eigen::Index count, const double*, double* s) {
                              Eigen::Map<Eigen::ArrayXd>(s, count) = buffers.seed.reshaped().segment(start, count);
                              return 0.0;
                          });
        }
        return std::isfinite(swept) && product.allFinite();
    }

    /// The model and its partials in the prepared model's quantities
    /// (projection_adjoints' flat order) at the pixels (x, y): `model`
    /// resized to x.size(), `partials` to x.size() x quantities. Tiles in
    /// fixed chunks shared among the threads; each pixel's row is its own.
    template <class Projection>
    void quantity_partials(const Projection& projection, const Eigen::ArrayXd& x, const Eigen::ArrayXd& y,
                           Eigen::MatrixXd& partials, Eigen::ArrayXd& model) const {
        using adjoint = projection_adjoint<std::remove_const_t<Projection>>;
        constexpr auto quantities = static_cast<Eigen::Index>(adjoint::adjoints::size());
        const Eigen::Index n = x.size();
        partials.resize(n, quantities);
        model.resize(n);
        parallel_for(static_cast<std::size_t>(chunk_count(n)), options_.threads, [&](std::size_t c) {
            adjoint work(projection);
            adjoint_tile x_tile, y_tile;
            std::array<adjoint_tile, adjoint::adjoints::size()> tile_partials;
            const Eigen::Index chunk_start = static_cast<Eigen::Index>(c) * detail::pixels_per_chunk;
            const Eigen::Index chunk_end = std::min(chunk_start + detail::pixels_per_chunk, n);
            for (Eigen::Index start = chunk_start; start < chunk_end; start += adjoint_tile_size) {
                const Eigen::Index count = std::min(adjoint_tile_size, chunk_end - start);
                diskmc::detail::load_tile(x, y, start, count, x_tile, y_tile);
                model.segment(start, count) = work.forward(x_tile, y_tile).head(count);
                work.partials(tile_partials);
                for (Eigen::Index q = 0; q < quantities; ++q)
                    partials.col(q).segment(start, count) = tile_partials[static_cast<std::size_t>(q)].head(count).matrix();
            }
        });
    }

    /// model_jacobian's first factor into `buffers`: the (convolved) model at
    /// the masked pixels (.model) and its partials in the quantities
    /// (.partials). False where a value or a partial that reaches the mask is
    /// not finite.
    bool masked_quantity_partials(const Eigen::VectorXd& full, detail::jacobian_buffers& buffers) const
        requires closed_form_adjoint_family<Family>
    {
        const auto projection = prepare(family_.template make<double>(full));
        if (!convolution_) {
            quantity_partials(projection, x_, y_, buffers.partials, buffers.model);
            return buffers.model.allFinite() && buffers.partials.allFinite();
        }
        Eigen::MatrixXd& grid_partials = buffers.grid_partials;
        quantity_partials(projection, grid_x_, grid_y_, grid_partials, buffers.grid_model);
        if (!buffers.grid_model.allFinite()) return false;  // a missing pixel changes the convolution itself
        buffers.image = buffers.grid_model.reshaped(ny_, nx_);
        // Pixels the convolution carries into no masked pixel take no part
        // (their partials may be singular, e.g. at the star).
        convolution_->apply(buffers.image, buffers.convolved, options_.threads);
        buffers.model = buffers.convolved.reshaped()(mask_index_);
        const auto reaches = beam_reach_.reshaped();
        buffers.partials.resize(data_.size(), grid_partials.cols());
        for (Eigen::Index q = 0; q < grid_partials.cols(); ++q) {
            buffers.image.reshaped() = reaches.select(grid_partials.col(q).array(), 0.0);
            if (!buffers.image.allFinite()) return false;
            convolution_->apply(buffers.image, buffers.convolved, options_.threads);
            buffers.partials.col(q) = buffers.convolved.reshaped()(mask_index_).matrix();
        }
        return buffers.model.allFinite() && buffers.partials.allFinite();
    }

    /// d (prepared model's quantities) / d full, quantities x full: each row
    /// by chain_to_parameters with that quantity's unit adjoint.
    Eigen::MatrixXd quantity_jacobian(const Eigen::VectorXd& full) const
        requires closed_form_adjoint_family<Family>
    {
        using projection_type = std::remove_const_t<decltype(prepare(family_.template make<double>(full)))>;
        using adjoints = typename projection_adjoint<projection_type>::adjoints;
        Eigen::MatrixXd chain(static_cast<Eigen::Index>(adjoints::size()), full.size());
        Eigen::VectorXd row;
        for (std::size_t q = 0; q < adjoints::size(); ++q) {
            chain_to_parameters(full, adjoints::unit(q), row);
            chain.row(static_cast<Eigen::Index>(q)) = row.transpose();
        }
        return chain;
    }

    /// The fast path: the hand-written adjoint over tiles, then the summed
    /// adjoints of the prepared model's quantities chained back to `full` by
    /// autodiff::var through make() and prepare().
    template <class SeedOf>
    double sweep_closed_form(const Eigen::VectorXd& full, const Eigen::ArrayXd& x, const Eigen::ArrayXd& y,
                             Eigen::VectorXd& grad, SeedOf& seed_of) const {
        const auto projection = prepare(family_.template make<double>(full));
        using adjoint = projection_adjoint<std::remove_const_t<decltype(projection)>>;
        const Eigen::Index n = x.size(), chunks = chunk_count(n);
        std::vector<typename adjoint::adjoints> chunk_adjoints(static_cast<std::size_t>(chunks));
        std::vector<double> chunk_values(static_cast<std::size_t>(chunks), 0.0);
        parallel_for(static_cast<std::size_t>(chunks), options_.threads, [&](std::size_t c) {
            adjoint work(projection);
            adjoint_tile x_tile, y_tile, seed;
            // Sums on this thread's stack, stored once: neighbouring chunks'
            // entries share cache lines, and other threads write them.
            typename adjoint::adjoints sums;
            double value = 0.0;
            const Eigen::Index chunk_start = static_cast<Eigen::Index>(c) * detail::pixels_per_chunk;
            const Eigen::Index chunk_end = std::min(chunk_start + detail::pixels_per_chunk, n);
            for (Eigen::Index start = chunk_start; start < chunk_end; start += adjoint_tile_size) {
                const Eigen::Index count = std::min(adjoint_tile_size, chunk_end - start);
                diskmc::detail::load_tile(x, y, start, count, x_tile, y_tile);
                if (count < adjoint_tile_size) seed.setZero();  // the padding lanes take no part
                const adjoint_tile model = work.forward(x_tile, y_tile);
                value += seed_of(start, count, model.data(), seed.data());
                if (!(seed != 0.0).any()) continue;  // e.g. beam pixels far from the mask
                work.reverse(seed, sums);
            }
            chunk_values[c] = value;
            chunk_adjoints[c] = sums;
        });
        double value = 0.0;
        typename adjoint::adjoints sums;
        for (std::size_t c = 0; c < chunk_adjoints.size(); ++c) {
            value += chunk_values[c];
            sums += chunk_adjoints[c];
        }
        chain_to_parameters(full, sums, grad);
        return value;
    }

    /// grad = d/d full of the prepared model's quantities paired with their
    /// summed adjoints: reverse autodiff::var through make() and prepare().
    template <class Adjoints>
    void chain_to_parameters(const Eigen::VectorXd& full, const Adjoints& sums, Eigen::VectorXd& grad) const {
        autodiff::gradient(
            [&](const Eigen::Matrix<autodiff::var, Eigen::Dynamic, 1>& parameters) {
                return paired_with(prepare(family_.template make<autodiff::var>(parameters)), sums);
            },
            full, grad);
    }

    /// The beam gradient of the fast path in one pass over the grid's columns,
    /// so that the model runs forward once per pixel and every intermediate
    /// stays in cache. Column c of the convolved model needs the model's
    /// columns c - h .. c + h (h the kernel's half width), and column c of
    /// A^T (its cotangent) the cotangent's columns c - h .. c + h; so, as the
    /// hand-written adjoint's forward pass reaches column c, the convolution
    /// and the chi^2 are done for column c - h, and A^T and the reverse pass
    /// for column c - 2 h, from the forward states of the last 2 h + 1
    /// columns. With several threads, each takes a band of columns and also
    /// runs the model on 2 h columns either side (as the owner does, so the
    /// values are the same); sums are kept per beam_sum_columns columns and
    /// added in order, so the result does not depend on the thread count.
    /// Returns false, leaving the work to the two-pass path, if the model has
    /// a pixel that is not finite (a NaN pixel is missing, which changes the
    /// convolution's normalisation; this path does not track that).
    bool streamed_beam_gradient(const Eigen::VectorXd& full, Eigen::VectorXd& grad, double& value) const {
        const auto projection = prepare(family_.template make<double>(full));
        using adjoint = projection_adjoint<std::remove_const_t<decltype(projection)>>;
        const Eigen::Index blocks = (nx_ + detail::beam_sum_columns - 1) / detail::beam_sum_columns;
        // Bands of whole blocks, one per thread (one inside a sampler's own
        // parallel work, where nested calls run inline and bands would only
        // add their margins).
        std::size_t threads = options_.threads == 0 ? default_thread_count() : options_.threads;
        if (diskmc::detail::thread_pool::in_parallel_region()) threads = 1;
        const Eigen::Index blocks_per_band =
            (blocks + static_cast<Eigen::Index>(threads) - 1) / static_cast<Eigen::Index>(threads);
        const Eigen::Index bands = (blocks + blocks_per_band - 1) / blocks_per_band;  // none empty
        std::vector<typename adjoint::adjoints> block_adjoints(static_cast<std::size_t>(blocks));
        std::vector<double> block_chi2(static_cast<std::size_t>(blocks), 0.0);
        std::vector<char> band_complete(static_cast<std::size_t>(bands), 0);
        parallel_for(static_cast<std::size_t>(bands), threads, [&](std::size_t b) {
            const Eigen::Index first = static_cast<Eigen::Index>(b) * blocks_per_band * detail::beam_sum_columns;
            const Eigen::Index last = std::min(first + blocks_per_band * detail::beam_sum_columns, nx_);
            band_complete[b] =
                static_cast<char>(stream_band<adjoint>(projection, first, last, block_adjoints, block_chi2));
        });
        if (std::find(band_complete.begin(), band_complete.end(), 0) != band_complete.end()) return false;
        value = 0.0;
        typename adjoint::adjoints sums;
        for (std::size_t k = 0; k < block_adjoints.size(); ++k) {
            value += block_chi2[k];
            sums += block_adjoints[k];
        }
        value *= -0.5;
        if (!std::isfinite(value)) {
            grad.setZero(full.size());
            value = diskmc::detail::minus_infinity;
            return true;
        }
        chain_to_parameters(full, sums, grad);
        if (!grad.allFinite()) {
            grad.setZero();
            value = diskmc::detail::minus_infinity;
        }
        return true;
    }

    /// streamed_beam_gradient's work on the columns [first, last) (whole
    /// blocks of beam_sum_columns but perhaps the last): adds their pixels'
    /// adjoints and sums of w (d - A m)^2 to their blocks' entries of
    /// `block_sums` and `block_chi2`. Returns false at the first model pixel
    /// that is not finite.
    template <class Adjoint, class Projection>
    bool stream_band(const Projection& projection, Eigen::Index first, Eigen::Index last,
                     std::vector<typename Adjoint::adjoints>& block_sums, std::vector<double>& block_chi2) const {
        const beam_convolution& beam = convolution_->direct();
        const Eigen::Index h = beam.half(), ny = ny_;
        const Eigen::Index tiles = (ny + adjoint_tile_size - 1) / adjoint_tile_size;
        const Eigen::Index ring = 2 * h + 1;  // columns whose forward states are kept
        auto& buffers = diskmc::detail::thread_buffers<detail::streamed_beam_buffers<Adjoint>>();
        diskmc::detail::zero_border_plane(ny, nx_, h, buffers.model);
        diskmc::detail::zero_border_plane(ny, nx_, h, buffers.cotangent);
        buffers.column.resize(ny);
        buffers.states.resize(static_cast<std::size_t>(ring * tiles));
        Adjoint work(projection);
        for (auto& state : buffers.states) work.shape(state);
        work.shape(buffers.margin);
        // Column c of the grid is column c + h of a plane, from row h.
        auto plane_column = [&](Eigen::ArrayXXd& plane, Eigen::Index c) {
            return plane.data() + (c + h) * plane.rows() + h;
        };
        auto state_of = [&](Eigen::Index c, Eigen::Index t) -> typename Adjoint::tile_state& {
            return buffers.states[static_cast<std::size_t>((c % ring) * tiles + t)];
        };
        const double inverse_sum = 1.0 / beam.kernel_sum();
        adjoint_tile x_tile, y_tile, seed;
        for (Eigen::Index c = first - 2 * h; c < last + 2 * h; ++c) {
            // The model's column c: forward states kept for the band's own columns.
            if (c >= 0 && c < nx_) {
                double* model = plane_column(buffers.model, c);
                const bool own = c >= first && c < last;
                for (Eigen::Index t = 0; t < tiles; ++t) {
                    const Eigen::Index row = t * adjoint_tile_size, count = std::min(adjoint_tile_size, ny - row);
                    diskmc::detail::load_tile(grid_x_, grid_y_, c * ny + row, count, x_tile, y_tile);
                    const adjoint_tile v = work.forward(x_tile, y_tile, own ? state_of(c, t) : buffers.margin);
                    Eigen::Map<Eigen::ArrayXd>(model + row, count) = v.head(count);
                }
                if (!Eigen::Map<const Eigen::ArrayXd>(model, ny).allFinite()) return false;
            }
            // The convolved model's column c - h, its chi^2 (for the band's own
            // columns) and the cotangent d log L / d (A m) / sum K.
            const Eigen::Index convolved = c - h;
            if (convolved >= std::max<Eigen::Index>(first - h, 0) && convolved < std::min(last + h, nx_)) {
                diskmc::detail::correlate_column(buffers.model, beam.flipped_kernel(), convolved, ny, buffers.column.data());
                // Weights are 0 off the mask, and the model finite, so those pixels add 0.
                buffers.column = grid_data_.col(convolved) - buffers.column * inverse_sum;  // residuals
                Eigen::Map<Eigen::ArrayXd> cotangent(plane_column(buffers.cotangent, convolved), ny);
                cotangent = grid_weight_.col(convolved) * buffers.column;
                if (convolved >= first && convolved < last)
                    block_chi2[static_cast<std::size_t>(convolved / detail::beam_sum_columns)] +=
                        (cotangent * buffers.column).sum();
                cotangent *= inverse_sum;
            }
            // A^T of the cotangent at column c - 2 h, and the reverse pass there.
            const Eigen::Index reversed = c - 2 * h;
            if (reversed >= first && reversed < last) {
                auto& sums = block_sums[static_cast<std::size_t>(reversed / detail::beam_sum_columns)];
                diskmc::detail::correlate_column(buffers.cotangent, beam.kernel(), reversed, ny, buffers.column.data());
                for (Eigen::Index t = 0; t < tiles; ++t) {
                    const Eigen::Index row = t * adjoint_tile_size, count = std::min(adjoint_tile_size, ny - row);
                    seed.head(count) = buffers.column.segment(row, count);
                    seed.tail(adjoint_tile_size - count).setZero();  // the padding lanes take no part
                    if (!(seed != 0.0).any()) continue;  // e.g. pixels far from the mask
                    work.reverse(state_of(reversed, t), seed, sums);
                }
            }
        }
        return true;
    }

    /// The general path: automatic differentiation of the per-pixel model
    /// over tiles (tile_tape), d log L / d full summed tile by tile.
    template <class SeedOf>
    double sweep_autodiff(const Eigen::VectorXd& full, const Eigen::ArrayXd& x, const Eigen::ArrayXd& y,
                          Eigen::VectorXd& grad, SeedOf& seed_of) const {
        const Eigen::Index n = x.size(), chunks = chunk_count(n), dim = full.size();
        std::vector<Eigen::VectorXd> chunk_gradients(static_cast<std::size_t>(chunks));
        std::vector<double> chunk_values(static_cast<std::size_t>(chunks), 0.0);
        parallel_for(static_cast<std::size_t>(chunks), options_.threads, [&](std::size_t c) {
            Eigen::VectorXd& chunk_gradient = chunk_gradients[c];
            chunk_gradient.setZero(dim);
            auto& tape = autodiff::tile_tape::local();
            Eigen::Matrix<autodiff::tile_var, Eigen::Dynamic, 1> parameters(dim);
            Eigen::ArrayXd model, seed;
            double value = 0.0;  // stored once (see sweep_closed_form)
            const Eigen::Index chunk_start = static_cast<Eigen::Index>(c) * detail::pixels_per_chunk;
            const Eigen::Index chunk_end = std::min(chunk_start + detail::pixels_per_chunk, n);
            for (Eigen::Index start = chunk_start; start < chunk_end; start += detail::gradient_tile_size) {
                const Eigen::Index width = std::min(detail::gradient_tile_size, chunk_end - start);
                tape.begin(width);
                for (Eigen::Index i = 0; i < dim; ++i) parameters[i] = tape.parameter(full[i]);
                const autodiff::tile_var xs = tape.varying_input(x.data() + start);
                const autodiff::tile_var ys = tape.varying_input(y.data() + start);
                const auto projection = prepare(family_.template make<autodiff::tile_var>(parameters));
                const autodiff::tile_var m = projection.line_of_sight_velocity(xs, ys);
                model.resize(width);
                seed.resize(width);
                tape.values(m, model);
                value += seed_of(start, width, model.data(), seed.data());
                if (!(seed != 0.0).any()) continue;  // e.g. beam pixels far from the mask
                tape.reverse(m, seed.data());
                for (Eigen::Index i = 0; i < dim; ++i) chunk_gradient[i] += tape.adjoint(parameters[i]);
            }
            chunk_values[c] = value;
        });
        double value = 0.0;
        grad.setZero(dim);
        for (std::size_t c = 0; c < chunk_gradients.size(); ++c) {
            value += chunk_values[c];
            grad += chunk_gradients[c];
        }
        return value;
    }

    Family family_;
    disk_likelihood_options options_;
    Eigen::Index ny_, nx_;
    // The masked pixels, compacted: sky offsets (arcsec), data, weights 1/sigma^2,
    // and their (column-major) indices in the grid.
    Eigen::ArrayXd x_, y_, data_, weight_;
    Eigen::Array<Eigen::Index, Eigen::Dynamic, 1> mask_index_;
    // With the beam: the data and the weights as images, both 0 off the mask
    // (for the streamed beam gradient, which works a column at a time).
    Eigen::ArrayXXd grid_data_, grid_weight_;
    // With the beam: the pixels whose model reaches a masked pixel.
    Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> beam_reach_;
    // Every grid pixel's sky offsets (for model images, and the beam), and the beam.
    Eigen::ArrayXd grid_x_, grid_y_;
    std::optional<grid_beam_convolution> convolution_;
};

}  // namespace diskmc::inference
