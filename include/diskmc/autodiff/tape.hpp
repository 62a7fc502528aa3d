#pragma once
// The tape behind diskmc::autodiff::var: a per-thread record of every
// operation of one evaluation, swept backwards once for the gradient.
//
// Layout (a "Jacobian tape", as in Adept and CoDiPack rather than Stan's
// virtual vari objects): node k is one scalar result; its incoming edges
// (operand node, local partial derivative) are stored contiguously, and
// edge_end[k] marks where they stop. The reverse sweep is then one tight loop
//     adjoint[operand] += partial * adjoint[k]
// over flat arrays, with no virtual calls and no per-node allocation.
//
// Threads: each thread has its own stack of tapes, found through a
// thread_local pointer, so several threads can differentiate at once with no
// lock. A tape_scope makes a fresh tape active for its lifetime and restores
// the previous one afterwards, so differentiations may nest.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

namespace diskmc::autodiff::detail {

/// Index of a tape node. `passive_index` marks a constant (no node at all):
/// operations on constants never touch the tape.
using node_index = std::uint32_t;
inline constexpr node_index passive_index = std::numeric_limits<node_index>::max();

/// One incoming edge of a node: d(node)/d(operand) = partial.
struct edge {
    double partial;
    node_index operand;
};

class tape {
public:
    /// Number of nodes recorded since the last clear().
    std::size_t size() const { return edge_end_.size(); }

    /// Forgets every node but keeps the memory, so a tape reused for many
    /// evaluations stops allocating after the first.
    void clear() {
        edge_end_.clear();
        edges_.clear();
    }

    /// A node with no operand: an independent variable.
    node_index push_variable() {
        edge_end_.push_back(static_cast<node_index>(edges_.size()));
        return checked_last_index();
    }

    node_index push(node_index a, double da) {
        edges_.push_back({da, a});
        edge_end_.push_back(static_cast<node_index>(edges_.size()));
        return checked_last_index();
    }

    node_index push(node_index a, double da, node_index b, double db) {
        edges_.push_back({da, a});
        edges_.push_back({db, b});
        edge_end_.push_back(static_cast<node_index>(edges_.size()));
        return checked_last_index();
    }

    /// Reverse sweep from `output`: afterwards adjoint(k) = d output / d node k
    /// for every node k <= output. A node whose adjoint is exactly zero passes
    /// nothing on, so a NaN or infinite partial on a branch that does not
    /// influence the output (a masked pixel, the unused side of a select)
    /// cannot poison the gradient through 0 * NaN.
    void sweep(node_index output) {
        adjoints_.assign(output + std::size_t{1}, 0.0);
        adjoints_[output] = 1.0;
        double* adjoint = adjoints_.data();
        const edge* edges = edges_.data();
        for (std::size_t k = output + std::size_t{1}; k-- > 0;) {
            const double a = adjoint[k];
            const node_index begin = k == 0 ? 0 : edge_end_[k - 1];
            const node_index end = edge_end_[k];
            if (a == 0.0) continue;
            for (node_index e = begin; e < end; ++e) adjoint[edges[e].operand] += edges[e].partial * a;
        }
    }

    /// d output / d node k after sweep(output); zero for nodes past output.
    double adjoint(node_index k) const { return k < adjoints_.size() ? adjoints_[k] : 0.0; }

private:
    node_index checked_last_index() const {
        const std::size_t k = edge_end_.size() - 1;
        // Indices and edge offsets are 32-bit to keep the tape compact; four
        // billion nodes (~80 GB of tape) is far past any sensible evaluation.
        if (k >= passive_index || edges_.size() >= passive_index) [[unlikely]]
            throw std::length_error("diskmc::autodiff: tape exceeds 2^32 - 1 nodes or edges");
        return static_cast<node_index>(k);
    }

    std::vector<node_index> edge_end_;
    std::vector<edge> edges_;
    std::vector<double> adjoints_;
};

/// The tape new nodes go to on this thread (null outside any tape_scope).
/// A plain pointer, so reading it needs no initialisation guard.
inline thread_local tape* active_tape = nullptr;

/// The tapes of this thread, one per nesting level, kept for reuse.
struct tape_stack {
    std::vector<std::unique_ptr<tape>> tapes;
    std::size_t depth = 0;
};

inline tape_stack& this_thread_tapes() {
    thread_local tape_stack stack;
    return stack;
}

/// Makes a cleared tape active on this thread for the scope's lifetime.
/// Variables created inside the scope belong to its tape and must not be
/// used after it ends.
class tape_scope {
public:
    tape_scope() : stack_(this_thread_tapes()), previous_(active_tape) {
        if (stack_.depth == stack_.tapes.size()) stack_.tapes.push_back(std::make_unique<tape>());
        tape_ = stack_.tapes[stack_.depth].get();
        ++stack_.depth;
        tape_->clear();
        active_tape = tape_;
    }
    ~tape_scope() {
        active_tape = previous_;
        --stack_.depth;
    }
    tape_scope(const tape_scope&) = delete;
    tape_scope& operator=(const tape_scope&) = delete;

    tape& get() const { return *tape_; }

private:
    tape_stack& stack_;
    tape* previous_;
    tape* tape_;
};

}  // namespace diskmc::autodiff::detail
