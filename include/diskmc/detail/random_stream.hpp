#pragma once
// The project's portable random numbers: a small engine whose every draw is
// specified here, so a seed gives the same chain on every compiler and
// standard library, and whose whole state is a few words that a checkpoint
// can store and restore exactly. Both samplers draw from it, as does the
// built-in synthetic data.
//
// std::normal_distribution and friends are implementation-defined (libstdc++
// and libc++ give different numbers for one engine state) and keep hidden
// state, so they would break both promises. The same uniform and normal
// draws are also offered over any other engine's raw bits (portable_draws),
// for entry points that take the caller's std::uniform_random_bit_generator.

#include <array>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>

namespace diskmc::detail {

/// SplitMix64 (Steele, Lea & Flood 2014): spreads one 64-bit seed over the
/// engine state, as its authors recommend for seeding xoshiro.
inline std::uint64_t splitmix64_next(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/// Uniform on [0, 1) from the top 53 bits of a 64-bit word.
inline double uniform_from_bits(std::uint64_t bits) {
    return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

/// A standard normal by the Box-Muller transform from a source of uniform()
/// draws on [0, 1): each pair of uniforms gives two normals, the second kept
/// in (has_spare, spare) for the next call.
template <class UniformSource>
double box_muller_normal(UniformSource& source, bool& has_spare, double& spare) {
    if (has_spare) {
        has_spare = false;
        return spare;
    }
    const double u1 = 1.0 - source.uniform();  // (0, 1]: log is finite
    const double u2 = source.uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    spare = radius * std::sin(angle);
    has_spare = true;
    return radius * std::cos(angle);
}

/// 64 random bits from any engine, by a rule that depends only on the
/// engine's outputs: the raw word when its range is all 64 bits, else the
/// concatenation of the low k bits of successive outputs (k the largest with
/// 2^k <= the number of values it can return; outputs >= 2^k above min() are
/// skipped, so the bits stay unbiased for ranges that are not powers of two).
template <std::uniform_random_bit_generator G>
std::uint64_t random_bits64(G& engine) {
    constexpr auto range = static_cast<std::uint64_t>(G::max() - G::min());
    if constexpr (range == std::numeric_limits<std::uint64_t>::max()) {
        return static_cast<std::uint64_t>(engine() - G::min());
    } else {
        constexpr int bits_per_call = std::bit_width(range + 1) - 1;
        constexpr bool whole = std::has_single_bit(range + 1);
        std::uint64_t bits = 0;
        for (int have = 0; have < 64;) {
            const auto x = static_cast<std::uint64_t>(engine() - G::min());
            if constexpr (!whole)
                if ((x >> bits_per_call) != 0) continue;
            bits = (bits << bits_per_call) | x;
            have += bits_per_call;
        }
        return bits;
    }
}

/// What the samplers draw from: uniform() on [0, 1) and normal() ~ N(0, 1).
template <class R>
concept random_draws = requires(R& r) {
    { r.uniform() } -> std::same_as<double>;
    { r.normal() } -> std::same_as<double>;
};

/// xoshiro256++ (Blackman & Vigna 2021, "Scrambled linear pseudorandom number
/// generators", ACM TOMS 47:36) plus the draws the samplers need: uniform
/// doubles, unbiased bounded integers and standard normals (Box-Muller, the
/// second value of each pair kept for the next call). Satisfies
/// std::uniform_random_bit_generator.
class random_stream {
public:
    using result_type = std::uint64_t;

    /// The full state, in the order the checkpoint files store it.
    struct state_type {
        std::array<std::uint64_t, 4> words{};
        bool has_spare_normal = false;
        double spare_normal = 0.0;
        bool operator==(const state_type&) const = default;
    };

    /// Stream `stream` of seed `seed`: different streams of one seed are
    /// unrelated sequences (the ensemble's start positions and moves use two,
    /// NUTS one per chain).
    explicit random_stream(std::uint64_t seed = 0, std::uint64_t stream = 0) {
        std::uint64_t mix = seed ^ (stream * 0xd1342543de82ef95ULL + 0x632be59bd9b4e019ULL);
        for (auto& word : state_.words) word = splitmix64_next(mix);
    }

    static constexpr result_type min() { return 0; }
    static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }

    result_type operator()() {
        auto& s = state_.words;
        const std::uint64_t result = rotl(s[0] + s[3], 23) + s[0];
        const std::uint64_t t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
    }

    /// Uniform on [0, 1) with 53 random bits.
    double uniform() { return uniform_from_bits((*this)()); }

    /// Uniform integer in [0, n), n >= 1, without modulo bias (rejection of
    /// the incomplete top block).
    std::uint64_t below(std::uint64_t n) {
        const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
        for (;;) {
            const std::uint64_t x = (*this)();
            if (x >= threshold) return x % n;
        }
    }

    /// Standard normal by the Box-Muller transform.
    double normal() {
        return box_muller_normal(*this, state_.has_spare_normal, state_.spare_normal);
    }

    const state_type& state() const { return state_; }
    void set_state(const state_type& state) { state_ = state; }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    state_type state_;
};

/// random_stream's uniform() and normal() over any other engine's raw bits
/// (random_bits64), so a caller's std::mt19937 gives the same numbers under
/// every standard library. Over a random_stream it gives the stream's own
/// numbers (the spare normal is kept here rather than in the stream).
template <std::uniform_random_bit_generator G>
class portable_draws {
public:
    explicit portable_draws(G& engine) : engine_(&engine) {}

    double uniform() { return uniform_from_bits(random_bits64(*engine_)); }
    double normal() { return box_muller_normal(*this, has_spare_, spare_); }

private:
    G* engine_;
    bool has_spare_ = false;
    double spare_ = 0.0;
};

}  // namespace diskmc::detail
