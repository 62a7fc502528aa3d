#include <catch2/catch.hpp>

#include <cstdint>
#include <random>

#include "diskmc/detail/random_stream.hpp"

namespace detail = diskmc::detail;

// The numbers below were computed by an independent implementation (Python
// integers and math.log/sqrt/sin/cos, following the published xoshiro256++
// and SplitMix64 reference code). A change to them changes every chain of
// every run with a given seed: it must be deliberate.
TEST_CASE("random_stream(42, 3) gives the pinned raw words, uniforms and normals",
          "[random_stream]") {
    detail::random_stream random(42, 3);
    CHECK(random() == 0x3b1f6817d9f348cfULL);
    CHECK(random() == 0x95d06c26e5db4c1fULL);
    CHECK(random() == 0x2430b0aecf99fc26ULL);
    CHECK(random() == 0x043bc5e05c891075ULL);
    CHECK(random.uniform() == 0.10945620774199682);
    CHECK(random.uniform() == 0.5493597851433065);
    CHECK(random.uniform() == 0.1271168374561943);
    // Box-Muller: one pair of uniforms gives two normals (the second cached).
    CHECK(random.normal() == -1.176042736915196);
    CHECK(random.normal() == 0.29476338202529495);
    CHECK(random.normal() == 1.3585144489030931);
    CHECK(random.state().has_spare_normal);
    CHECK(random.normal() == -1.0368935142713647);
    CHECK_FALSE(random.state().has_spare_normal);
    const detail::random_stream::state_type expected{
        .words = {0x8fbfba7967c95db5ULL, 0x5e1a091bcd4607ccULL, 0x800843facc11225aULL,
                  0xeca52436d04363daULL},
        .has_spare_normal = false,
        .spare_normal = -1.0368935142713647};  // the last spare stays stored, used
    CHECK(random.state() == expected);

    detail::random_stream zero;  // seed 0, stream 0
    CHECK(zero() == 0x0a4d478541615576ULL);
    CHECK(zero() == 0x0e520432f7ae0c40ULL);
}

TEST_CASE("a restored state continues the stream exactly, spare normal included",
          "[random_stream]") {
    detail::random_stream a(7, 1);
    a.normal();  // leaves a spare
    detail::random_stream b(99, 0);
    b.set_state(a.state());
    for (int i = 0; i < 5; ++i) {
        CHECK(a.normal() == b.normal());
        CHECK(a.uniform() == b.uniform());
    }
}

TEST_CASE("portable_draws turns any engine's raw bits into the same numbers everywhere",
          "[random_stream]") {
    // Over a random_stream: the stream's own uniforms and normals.
    detail::random_stream engine(5, 2), reference(5, 2);
    detail::portable_draws<detail::random_stream> draws(engine);
    for (int i = 0; i < 6; ++i) CHECK(draws.uniform() == reference.uniform());
    for (int i = 0; i < 6; ++i) CHECK(draws.normal() == reference.normal());

    // A 32-bit engine: two outputs, high word first. std::mt19937's outputs
    // are fixed by the standard (3499211612, 581869302 from the default seed).
    std::mt19937 mt;
    CHECK(detail::random_bits64(mt) == 0xd091bb5c22ae9ef6ULL);
    // A range that is not a power of two (minstd_rand: [1, 2^31 - 2]): 30
    // bits a call, outputs with higher bits skipped (here one of six).
    std::minstd_rand minstd;
    CHECK(detail::random_bits64(minstd) == 0xe2b895f85847c122ULL);
    std::minstd_rand counted;
    counted.discard(6);
    CHECK(minstd() == counted());
}
