#pragma once
// The rotation-map likelihood spread over MPI ranks: the map's rows are cut
// into blocks (row_blocks.hpp), each rank evaluates the masked Gaussian
// log-likelihood of its consecutive blocks, and the blocks' values and
// gradients (1 + d numbers each) are added in block order on rank 0 and
// broadcast (ordered_sum.hpp). Every rank returns the same value and
// gradient, bit for bit, whatever the number of ranks.
//
// With the beam, a block's convolved model needs the model on h rows either
// side (h the kernel's half width): each block is an inference::disk_likelihood on its
// rows plus that halo, masked on its own rows only. The convolution of the
// block's rows then sees exactly the pixels it sees on the whole map (the
// halo, or the map's zero border where the map ends), and the adjoint of the
// block's chi^2 reaches the halo's model pixels exactly as on the whole map:
// the sum over blocks is the whole map's log-likelihood and gradient, up to
// rounding. The halo's model is computed by both neighbouring blocks: that
// is the price of sums that do not depend on the rank count.
//
// How to use it: every rank builds it from the same map, mask and options,
// runs the same sampler with the same seed (so every rank asks for the same
// parameters in the same order: each call is collective), and rank 0 writes
// the outputs. Calls must come from one thread per rank: run NUTS chains
// with threads = 1 and the ensemble sampler with threads = 1.
//
// A guard: every call checks, within its one reduction, that all ranks hold
// the same parameter vector bit for bit (a fingerprint of it rides in the
// gather), and throws ranks_disagree on every rank, naming the ranks that
// differ, if not: ranks that drift apart (another seed, threads > 1, a
// rank-dependent branch) would otherwise add up blocks of different models
// without a word.

#include <mpi.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <concepts>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "diskmc/detail/numbers.hpp"
#include "diskmc/disk/beam.hpp"
#include "diskmc/disk/sky_map.hpp"
#include "diskmc/inference/disk_likelihood.hpp"
#include "diskmc/mpi/ordered_sum.hpp"
#include "diskmc/mpi/row_blocks.hpp"

namespace diskmc::mpi {

/// The ranks called a collective likelihood with different parameters: the
/// program does not run the same sampler, seed and options on every rank
/// from one thread. Thrown on every rank; names the ranks that differ.
class ranks_disagree : public std::logic_error {
public:
    ranks_disagree(const std::string& message, std::vector<int> ranks)
        : std::logic_error(message), ranks_(std::move(ranks)) {}
    /// The ranks whose parameters differ from rank 0's.
    const std::vector<int>& ranks() const { return ranks_; }

private:
    std::vector<int> ranks_;
};

namespace detail {

/// Throws ranks_disagree if `differing` (from ordered_sum) names a rank.
inline void check_ranks_agree(const std::vector<int>& differing, std::string_view call) {
    if (differing.empty()) return;
    std::ostringstream message;
    message << "distributed_likelihood::" << call << ": rank" << (differing.size() > 1 ? "s " : " ");
    for (std::size_t k = 0; k < differing.size(); ++k)
        message << (k == 0 ? "" : k + 1 == differing.size() ? " and " : ", ") << differing[k];
    message << (differing.size() > 1 ? " hold" : " holds")
            << " a different parameter vector than rank 0: every rank must run the same sampler with the same "
               "seed and options, calling from one thread (threads = 1)";
    throw ranks_disagree(message.str(), differing);
}

}  // namespace detail

/// Options of distributed_likelihood.
struct distributed_likelihood_options {
    /// Beam, threads per rank and gradient path, as for inference::disk_likelihood.
    inference::disk_likelihood_options likelihood{};
    /// Rows per block: the unit of work handed to ranks and of the ordered
    /// sums. Results are identical for any number of ranks with the same
    /// value. 0 chooses 64 rows without the beam; with it, at least
    /// max(64, 8 h) rows (h the kernel's half width, so the halos add at most
    /// 1/4 to the model), rounded up so that a block and its halos fill whole
    /// blocks of the convolution's rows (beam.hpp's convolution_block_rows)
    /// instead of padding them with zeros.
    Eigen::Index rows_per_block = 0;
};

/// The log-likelihood of a rotation map under a disk model family, each
/// rank evaluating its share of the map's rows. Satisfies
/// named_log_likelihood_with_gradient (for double), so
/// inference::make_posterior and both samplers use it as they use
/// inference::disk_likelihood.
template <inference::disk_model_family Family = inference::disk_family<>>
class distributed_likelihood {
public:
    /// Collective: every rank of `communicator` calls it with the same map,
    /// mask, family and options.
    /// @param communicator the ranks sharing the work; it must outlive this
    ///                     object (MPI_COMM_WORLD by default)
    /// @throws invalid_input on every rank, for whatever inference::disk_likelihood
    ///         rejects (the whole map is checked on every rank before any
    ///         block is built), or for a negative rows_per_block
    distributed_likelihood(const sky_map& map, const Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>& mask,
                           Family family = {}, distributed_likelihood_options options = {},
                           MPI_Comm communicator = MPI_COMM_WORLD)
        : family_(std::move(family)), options_(options), communicator_(communicator) {
        check_argument(options_.rows_per_block >= 0, "distributed_likelihood", "rows_per_block must be >= 0");
        Eigen::Index halo = 0;
        {
            // The whole map's checks, the same on every rank, so that all
            // ranks throw or none does.
            const inference::disk_likelihood<Family> whole(map, mask, family_, options_.likelihood);
            pixel_count_ = whole.pixel_count();
            if (options_.likelihood.convolve_beam) halo = beam_kernel(map.grid).rows() / 2;
        }
        if (options_.rows_per_block == 0) options_.rows_per_block = default_rows_per_block(halo);
        const std::vector<row_block> blocks = row_blocks(map.grid.ny(), options_.rows_per_block);
        blocks_per_rank_ = blocks_per_rank(static_cast<int>(blocks.size()), rank_count(communicator_));
        const int rank = rank_of(communicator_);
        int first = 0;
        for (int r = 0; r < rank; ++r) first += blocks_per_rank_[static_cast<std::size_t>(r)];
        const Eigen::Index nx = map.grid.nx(), ny = map.grid.ny();
        for (int b = first; b < first + blocks_per_rank_[static_cast<std::size_t>(rank)]; ++b) {
            const row_block own = blocks[static_cast<std::size_t>(b)];
            std::optional<inference::disk_likelihood<Family>>& block = blocks_.emplace_back();
            if (!mask.middleRows(own.first, own.count).any()) continue;  // nothing to add
            const Eigen::Index top = std::max<Eigen::Index>(0, own.first - halo);
            const Eigen::Index bottom = std::min(ny, own.first + own.count + halo);
            const diskmc::detail::grid_selection rows{{top, bottom - top, 1}, {0, nx, 1}};
            Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> block_mask =
                Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>::Constant(bottom - top, nx, false);
            block_mask.middleRows(own.first - top, own.count) = mask.middleRows(own.first, own.count);
            block.emplace(diskmc::detail::select_map(map, rows), block_mask, family_, options_.likelihood);
            local_pixel_count_ += block->pixel_count();
        }
    }

    /// The names of the full parameter vector, in order (the family's).
    std::vector<std::string> parameter_names() const { return family_.parameter_names(); }
    const Family& family() const { return family_; }
    /// Pixels inside the mask, over all ranks.
    Eigen::Index pixel_count() const { return pixel_count_; }
    /// Pixels inside the mask in this rank's blocks.
    Eigen::Index local_pixel_count() const { return local_pixel_count_; }
    /// The options, rows_per_block as chosen.
    const distributed_likelihood_options& options() const { return options_; }
    MPI_Comm communicator() const { return communicator_; }

    /// log L at the full parameter vector (collective).
    template <class T>
        requires std::same_as<T, double>
    double log_likelihood(const Eigen::VectorXd& full) const {
        std::vector<double> local;
        local.reserve(blocks_.size());
        for (const auto& block : blocks_) local.push_back(block ? block->log_likelihood(full) : 0.0);
        std::vector<double> total;
        detail::check_ranks_agree(ordered_sum(communicator_, local, blocks_per_rank_, 1, total, fingerprint(std::span<const double>(full.data(), static_cast<std::size_t>(full.size())))),
                                  "log_likelihood");
        return std::isfinite(total[0]) ? total[0] : diskmc::detail::minus_infinity;
    }

    /// log L and its gradient with respect to the full vector (collective).
    /// @param grad resized to the full vector's size; zero where the value is -infinity
    double log_likelihood_gradient(const Eigen::VectorXd& full, Eigen::VectorXd& grad) const {
        const Eigen::Index dim = full.size(), width = dim + 1;
        std::vector<double> local(blocks_.size() * static_cast<std::size_t>(width), 0.0);
        for (std::size_t b = 0; b < blocks_.size(); ++b) {
            if (!blocks_[b]) continue;
            double* partial = local.data() + b * static_cast<std::size_t>(width);
            partial[0] = blocks_[b]->log_likelihood_gradient(full, grad);
            Eigen::Map<Eigen::VectorXd>(partial + 1, dim) = grad;
        }
        std::vector<double> total;
        detail::check_ranks_agree(
            ordered_sum(communicator_, local, blocks_per_rank_, static_cast<int>(width), total, fingerprint(std::span<const double>(full.data(), static_cast<std::size_t>(full.size())))),
            "log_likelihood_gradient");
        grad = Eigen::Map<const Eigen::VectorXd>(total.data() + 1, dim);
        if (!std::isfinite(total[0]) || !grad.allFinite()) {
            grad.setZero();
            return diskmc::detail::minus_infinity;
        }
        return total[0];
    }

private:
    static Eigen::Index default_rows_per_block(Eigen::Index halo) {
        if (halo == 0) return 64;
        constexpr Eigen::Index whole = diskmc::detail::convolution_block_rows;
        const Eigen::Index least = std::max<Eigen::Index>(64, 8 * halo) + 2 * halo;
        return (least + whole - 1) / whole * whole - 2 * halo;
    }

    Family family_;
    distributed_likelihood_options options_;
    MPI_Comm communicator_;
    Eigen::Index pixel_count_ = 0, local_pixel_count_ = 0;
    std::vector<int> blocks_per_rank_;
    // This rank's blocks in order; empty for a block without masked pixels.
    std::vector<std::optional<inference::disk_likelihood<Family>>> blocks_;
};

}  // namespace diskmc::mpi
