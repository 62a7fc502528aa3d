#pragma once
// The ensemble sampler's random stream: a small engine whose every draw is
// specified here, so a seed gives the same chain on every compiler and
// standard library, and whose whole state is a few words that a checkpoint
// can store and restore exactly.
//
// std::normal_distribution and friends are implementation-defined (libstdc++
// and libc++ give different numbers for one engine state) and keep hidden
// state, so they would break both promises.

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>

namespace diskmc::detail {

/// SplitMix64 (Steele, Lea & Flood 2014): spreads one 64-bit seed over the
/// engine state, as its authors recommend for seeding xoshiro.
inline std::uint64_t splitmix64_next(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/// xoshiro256++ (Blackman & Vigna 2021, "Scrambled linear pseudorandom number
/// generators", ACM TOMS 47:36) plus the draws the sampler needs: uniform
/// doubles, unbiased bounded integers and standard normals (Box-Muller, the
/// second value of each pair kept for the next call). Satisfies
/// std::uniform_random_bit_generator.
class random_stream {
public:
    using result_type = std::uint64_t;

    /// The full state, in the order the checkpoint file stores it.
    struct state_type {
        std::array<std::uint64_t, 4> words{};
        bool has_spare_normal = false;
        double spare_normal = 0.0;
        bool operator==(const state_type&) const = default;
    };

    /// Stream `stream` of seed `seed`: different streams of one seed are
    /// unrelated sequences (the start positions and the moves use two).
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
    double uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

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
        if (state_.has_spare_normal) {
            state_.has_spare_normal = false;
            return state_.spare_normal;
        }
        const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
        const double u2 = uniform();
        const double radius = std::sqrt(-2.0 * std::log(u1));
        const double angle = 2.0 * std::numbers::pi * u2;
        state_.spare_normal = radius * std::sin(angle);
        state_.has_spare_normal = true;
        return radius * std::cos(angle);
    }

    const state_type& state() const { return state_; }
    void set_state(const state_type& state) { state_ = state; }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    state_type state_;
};

}  // namespace diskmc::detail
