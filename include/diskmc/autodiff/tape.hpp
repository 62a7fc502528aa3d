#pragma once
// The tape behind diskmc::autodiff::var: a per-thread record of every
// operation of one evaluation, swept backwards once for the gradient.
//
// Layout (a "Jacobian tape", as in Adept and CoDiPack rather than Stan's
// virtual vari objects): node k is one scalar result; its incoming edges
// (operand node, local partial derivative) are stored contiguously, and
// the node records where they stop. The partial with respect to the node
// recorded just before (the common case in an expression chain) is kept in
// the node itself. The reverse sweep is then one tight loop
//     adjoint[operand] += partial * adjoint[k]
// over flat arrays, with no virtual calls and no per-node allocation.
//
// Threads: each thread has its own stack of tapes, found through a
// thread_local pointer, so several threads can differentiate at once with no
// lock. A tape_scope makes a fresh tape active for its lifetime and restores
// the previous one afterwards, so differentiations may nest.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include "diskmc/errors.hpp"

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
    std::size_t size() const { return nodes_.size(); }

    /// Forgets every node but keeps the memory, so a tape reused for many
    /// evaluations stops allocating after the first.
    void clear() {
        nodes_.clear();
        edges_.clear();
    }

    /// A node with no operand: an independent variable.
    node_index push_variable() {
        nodes_.push_back({0.0, static_cast<node_index>(edges_.size())});
        return checked_last_index();
    }

    node_index push(node_index a, double da) {
        const node_index previous = static_cast<node_index>(nodes_.size() - 1);
        double adjacent = 0.0;
        add_edge(a, da, previous, adjacent);
        nodes_.push_back({adjacent, static_cast<node_index>(edges_.size())});
        return checked_last_index();
    }

    node_index push(node_index a, double da, node_index b, double db) {
        const node_index previous = static_cast<node_index>(nodes_.size() - 1);
        double adjacent = 0.0;
        add_edge(a, da, previous, adjacent);
        add_edge(b, db, previous, adjacent);
        if (!std::isfinite(adjacent)) [[unlikely]] {  // x * x with |x| near overflow
            edges_.push_back({adjacent, previous});
            adjacent = 0.0;
        }
        nodes_.push_back({adjacent, static_cast<node_index>(edges_.size())});
        return checked_last_index();
    }

    /// Reverse sweep from `output`: afterwards adjoint(k) = d output / d node k
    /// for every node k <= output. Zero passes nothing on: a node whose
    /// adjoint is exactly zero contributes nothing, and a zero partial was
    /// never recorded. So a NaN or infinite partial on a branch that does not
    /// influence the output (a masked pixel, the unused side of a select)
    /// cannot poison the gradient through 0 * NaN, and an infinite adjoint
    /// does not turn a zero partial into NaN.
    void sweep(node_index output) {
        adjoints_.assign(output + std::size_t{1}, 0.0);
        adjoints_[output] = 1.0;
        double* adjoint = adjoints_.data();
        const edge* edges = edges_.data();
        const node* nodes = nodes_.data();
        // The sweep is latency-bound: node k's adjoint is complete only after
        // node k + 1 has added to it. Most nodes consume the node recorded
        // just before them, so that contribution travels in a register
        // (`carry`) as one fused multiply-add per node instead of a store and
        // a dependent load.
        double carry = 0.0;
        for (std::size_t k = output + std::size_t{1}; k-- > 0;) {
            const double base = adjoint[k];
            const double a = base + carry;
            adjoint[k] = a;
            // p * a as one fma from carry to carry; p is finite (add_edge),
            // and p == 0 means no edge, so nothing passes even if a is not finite.
            const double p = nodes[k].adjacent_partial;
            carry = p != 0.0 ? std::fma(p, carry, p * base) : 0.0;
            if (a == 0.0) {
                carry = 0.0;
                continue;
            }
            const node_index begin = k == 0 ? 0 : nodes[k - 1].edge_end;
            const node_index end = nodes[k].edge_end;
            for (node_index e = begin; e < end; ++e) adjoint[edges[e].operand] += edges[e].partial * a;
        }
    }

    /// d output / d node k after sweep(output); zero for nodes past output.
    double adjoint(node_index k) const { return k < adjoints_.size() ? adjoints_[k] : 0.0; }

private:
    /// Per node: the partial with respect to the node just before it (most
    /// nodes have one; 0 if none) and where its other edges end.
    struct node {
        double adjacent_partial;
        node_index edge_end;
    };

    /// A zero partial records nothing (no dependence passes no derivative,
    /// even an infinite adjoint). A finite partial with respect to the
    /// previous node goes into the node; anything else becomes an edge (so
    /// the sweep's fma never meets an infinite partial, where inf * 0 would
    /// make a NaN out of nothing).
    void add_edge(node_index operand, double partial, node_index previous, double& adjacent) {
        // A var recorded on a tape whose scope has ended names a node this
        // tape may not have: the sweep would write past its adjoints.
        if (operand >= nodes_.size()) [[unlikely]]
            throw invalid_input("diskmc::autodiff::var: the value belongs to a tape whose gradient() call (or "
                                "tape_scope) has ended");
        if (partial == 0.0) return;
        if (operand == previous && std::isfinite(partial))
            adjacent += partial;
        else
            edges_.push_back({partial, operand});
    }

    node_index checked_last_index() const {
        const std::size_t k = nodes_.size() - 1;
        // Indices and edge offsets are 32-bit to keep the tape compact; four
        // billion nodes (~100 GB of tape) is far past any sensible evaluation.
        if (k >= passive_index || edges_.size() >= passive_index) [[unlikely]]
            throw std::length_error("diskmc::autodiff: tape exceeds 2^32 - 1 nodes or edges");
        return static_cast<node_index>(k);
    }

    std::vector<node> nodes_;
    std::vector<edge> edges_;
    std::vector<double> adjoints_;
};

/// The tape new nodes go to on this thread (null outside any tape_scope).
/// A plain pointer, so reading it needs no initialisation guard.
inline thread_local tape* active_tape = nullptr;

/// The active tape, for recording a node.
/// @throws diskmc::invalid_input outside any tape_scope (a var that is not a
///         constant, used after its gradient() or tape_scope ended)
inline tape& recording_tape() {
    if (active_tape == nullptr) [[unlikely]]
        throw invalid_input("diskmc::autodiff::var: no active tape on this thread; a var that depends on an "
                            "independent variable lives only inside its gradient() call (or tape_scope)");
    return *active_tape;
}

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
