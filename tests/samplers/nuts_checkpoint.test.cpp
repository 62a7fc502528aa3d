// NUTS checkpoints (samplers/nuts/checkpoint.hpp): a run stopped early and
// resumed from its file gives the draws, statistics, step sizes and metrics
// of an uninterrupted run bit for bit; a torn last record is dropped; a file
// of another run is refused.

#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "diskmc/samplers/nuts.hpp"
#include "support/gaussian_target.hpp"
#include "support/temporary_folder.hpp"

namespace {

using diskmc::metric_kind;
using diskmc::nuts_chains_options;
using diskmc::nuts_chains_result;
using diskmc::nuts_iteration;
using diskmc::testing::temporary_folder;

Eigen::VectorXd scales() {
    Eigen::VectorXd v(3);
    v << 1.0, 2.0, 0.5;
    return v;
}

// The target, counting its evaluations: a resumed run must not redo the
// work its checkpoint holds (an identical result alone would not show that).
struct counted_target {
    const diskmc::testing::gaussian_target& target;
    mutable std::atomic<std::size_t> calls{0};
    std::size_t dim() const { return target.dim(); }
    double log_density(const Eigen::VectorXd& x) const { return target.log_density(x); }
    double log_density_gradient(const Eigen::VectorXd& x, Eigen::VectorXd& gradient) const {
        ++calls;
        return target.log_density_gradient(x, gradient);
    }
};

void check_same_iterations(const std::vector<nuts_iteration>& a, const std::vector<nuts_iteration>& b) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        CAPTURE(i);
        CHECK(a[i].accept_stat == b[i].accept_stat);
        CHECK(a[i].step_size == b[i].step_size);
        CHECK(a[i].tree_depth == b[i].tree_depth);
        CHECK(a[i].n_leapfrog == b[i].n_leapfrog);
        CHECK(a[i].divergent == b[i].divergent);
        CHECK(a[i].energy == b[i].energy);
        CHECK(a[i].log_density == b[i].log_density);
    }
}

// Everything but the wall-clock fields (and lockstep_rounds, this call's work).
void check_identical(const nuts_chains_result& got, const nuts_chains_result& expected) {
    CHECK_FALSE(got.stopped_early);
    REQUIRE(got.chains.size() == expected.chains.size());
    for (std::size_t c = 0; c < got.chains.size(); ++c) {
        CAPTURE(c);
        const auto& a = got.chains[c];
        const auto& b = expected.chains[c];
        CHECK(a.draws == b.draws);
        CHECK(a.transformed_draws == b.transformed_draws);
        CHECK(a.warmup_draws == b.warmup_draws);
        check_same_iterations(a.warmup, b.warmup);
        check_same_iterations(a.sampling, b.sampling);
        CHECK(a.step_size == b.step_size);
        CHECK(a.metric == b.metric);
        CHECK(a.inverse_metric == b.inverse_metric);
        CHECK(a.max_tree_depth == b.max_tree_depth);
        CHECK(a.target_accept == b.target_accept);
        CHECK(a.metric_updates == b.metric_updates);
        CHECK(a.rejected_metric_updates == b.rejected_metric_updates);
        CHECK(a.step_size_search_failed == b.step_size_search_failed);
        CHECK(a.gradient_evaluations_warmup == b.gradient_evaluations_warmup);
        CHECK(a.gradient_evaluations_sampling == b.gradient_evaluations_sampling);
        CHECK(a.non_finite_evaluations == b.non_finite_evaluations);
        CHECK(a.stopped_early == b.stopped_early);
        CHECK(a.warmup_taken == b.warmup_taken);
        CHECK(a.warmup_check.step_size_ratio == b.warmup_check.step_size_ratio);
        CHECK(a.warmup_check.variance_min == b.warmup_check.variance_min);
        CHECK(a.warmup_check.variance_max == b.warmup_check.variance_max);
        CHECK(a.warmup_check.passed == b.warmup_check.passed);
    }
    CHECK(got.precision_reached == expected.precision_reached);
    CHECK(got.precision_rounds == expected.precision_rounds);
    CHECK(got.min_ess == expected.min_ess);
    CHECK(got.max_rhat == expected.max_rhat);
}

}  // namespace

TEST_CASE("a NUTS run stopped early resumes from its checkpoint to the uninterrupted result, bit for bit",
          "[nuts][checkpoint]") {
    const auto target = diskmc::testing::make_gaussian(scales(), true, 5);
    const Eigen::MatrixXd inits = target.mean;
    const temporary_folder folder("diskmc_nuts_checkpoint_test_");
    // 60 warmup iterations (Stan's windows shrink to fit: metric updates and
    // step-size searches happen), 80 draws written every 7.
    nuts_chains_options options{.sampler = {.warmup = 60, .samples = 80, .save_warmup = true,
                                            .metric = metric_kind::dense},
                                .chains = 2,
                                .threads = 1,
                                .checkpoint_every = 7};
    const nuts_chains_result reference = diskmc::nuts_chains(target, inits, options, 77);
    REQUIRE(reference.chains[0].metric_updates > 0);

    int file = 0;
    for (std::size_t threads : {1u, 2u}) {
        for (bool lockstep : {false, true}) {
            for (std::size_t stop_at : {std::size_t{85}, std::size_t{30}}) {
                CAPTURE(threads, lockstep, stop_at);
                options.threads = threads;
                options.lockstep = lockstep;
                options.checkpoint = folder.path / ("run" + std::to_string(file++) + ".nuts");
                // Chain 0 asks to stop after iteration 85 (25 draws into
                // sampling) or 30 (mid-warmup); the other chain stops wherever
                // it is then.
                options.sampler.progress = [stop_at](const diskmc::nuts_progress& p) {
                    return !(p.chain == 0 && p.iteration == stop_at);
                };
                const nuts_chains_result stopped = diskmc::nuts_chains(target, inits, options, 77);
                REQUIRE(stopped.stopped_early);
                CHECK(stopped.chains[0].sampling.size() == (stop_at == 85 ? 25u : 0u));
                for (std::size_t c = 0; c < 2; ++c)
                    CHECK(stopped.chains[c].draws ==
                          reference.chains[c].draws.topRows(stopped.chains[c].draws.rows()));
                REQUIRE(std::filesystem::exists(options.checkpoint));

                options.sampler.progress = {};
                const counted_target counted{target};
                const nuts_chains_result resumed = diskmc::nuts_chains(counted, inits, options, 77);
                check_identical(resumed, reference);
                // Chain 0's warmup, at least, came from the file, not from
                // evaluating again (+ 2: the starts are evaluated anyway).
                if (stop_at == 85)
                    CHECK(counted.calls + reference.chains[0].gradient_evaluations_warmup <=
                          reference.gradient_evaluations() + 2);

                // Resuming a finished run's file runs nothing more: only the
                // two starts are evaluated.
                const counted_target again_counted{target};
                const nuts_chains_result again = diskmc::nuts_chains(again_counted, inits, options, 77);
                check_identical(again, reference);
                CHECK(again_counted.calls == 2);
            }
        }
    }
}

TEST_CASE("a run with a trusted warmup stopping on precision resumes from its checkpoint bit for bit",
          "[nuts][checkpoint][precision]") {
    const auto target = diskmc::testing::make_gaussian(scales(), true, 6);
    const Eigen::MatrixXd inits = target.mean;
    const temporary_folder folder("diskmc_nuts_checkpoint_precision_test_");
    // Chain 0 standardised well keeps its short warmup; the rounds of 40, 60,
    // ... draws are decided from the draws, so a resumed run replays them.
    Eigen::MatrixXd wrong = target.covariance;
    wrong.row(0) *= 10.0;
    wrong.col(0) *= 10.0;
    for (const Eigen::MatrixXd& covariance : {target.covariance, wrong}) {
        nuts_chains_options options{.sampler = {.warmup = 120, .samples = 2000, .save_warmup = true,
                                                .warmup_adaptation = diskmc::warmup_mode::trust_metric_with_fallback,
                                                .standardize_covariance = covariance},
                                    .chains = 2, .threads = 2, .checkpoint_every = 7,
                                    .min_ess = 300, .first_round = 40, .round_step = 20};
        options.sampler.trusted_warmup = 40;
        const nuts_chains_result reference = diskmc::nuts_chains(target, inits, options, 78);
        REQUIRE(reference.precision_rounds >= 2);
        const auto path = reference.chains[0].warmup_taken;
        CHECK(path == (covariance == wrong ? diskmc::warmup_path::fell_back : diskmc::warmup_path::trusted));
        const std::size_t warmup = reference.chains[0].warmup.size();
        // Stop in the second round, and in the first round's middle.
        for (std::size_t stop_at : {warmup + 50, warmup + 10}) {
            CAPTURE(stop_at, warmup);
            options.checkpoint = folder.path / ("run" + std::to_string(stop_at) + (covariance == wrong ? "w" : "t"));
            options.sampler.progress = [stop_at](const diskmc::nuts_progress& p) {
                return !(p.chain == 0 && p.iteration == stop_at);
            };
            REQUIRE(diskmc::nuts_chains(target, inits, options, 78).stopped_early);
            options.sampler.progress = {};
            check_identical(diskmc::nuts_chains(target, inits, options, 78), reference);
        }
    }
}

TEST_CASE("a NUTS checkpoint with a torn last record still resumes exactly", "[nuts][checkpoint]") {
    const auto target = diskmc::testing::make_gaussian(scales(), false, 6);
    const Eigen::MatrixXd inits = target.mean;
    const temporary_folder folder("diskmc_nuts_checkpoint_test_");
    nuts_chains_options options{.sampler = {.warmup = 40, .samples = 50}, .chains = 2, .threads = 1,
                                .checkpoint_every = 4};
    const nuts_chains_result reference = diskmc::nuts_chains(target, inits, options, 78);

    options.checkpoint = folder.path / "torn.nuts";
    options.sampler.progress = [](const diskmc::nuts_progress& p) { return !(p.chain == 1 && p.iteration == 70); };
    REQUIRE(diskmc::nuts_chains(target, inits, options, 78).stopped_early);
    options.sampler.progress = {};
    const auto size = std::filesystem::file_size(options.checkpoint);
    for (std::uintmax_t cut : {std::uintmax_t{1}, std::uintmax_t{8}, std::uintmax_t{50}}) {
        CAPTURE(cut);
        const std::filesystem::path torn = folder.path / ("torn" + std::to_string(cut) + ".nuts");
        std::filesystem::copy_file(options.checkpoint, torn);
        std::filesystem::resize_file(torn, size - cut);
        nuts_chains_options resume = options;
        resume.checkpoint = torn;
        check_identical(diskmc::nuts_chains(target, inits, resume, 78), reference);
    }
    // A damaged byte inside the last record: its checksum fails, it is dropped.
    {
        const std::filesystem::path damaged = folder.path / "damaged.nuts";
        std::filesystem::copy_file(options.checkpoint, damaged);
        std::fstream bytes(damaged, std::ios::in | std::ios::out | std::ios::binary);
        bytes.seekp(static_cast<std::streamoff>(size - 20));
        bytes.put('\x5a');
        bytes.close();
        nuts_chains_options resume = options;
        resume.checkpoint = damaged;
        check_identical(diskmc::nuts_chains(target, inits, resume, 78), reference);
    }
}

TEST_CASE("a NUTS checkpoint of another run is refused, naming the file and what differs",
          "[nuts][checkpoint]") {
    const auto target = diskmc::testing::make_gaussian(scales(), false, 7);
    const Eigen::MatrixXd inits = target.mean;
    const temporary_folder folder("diskmc_nuts_checkpoint_test_");
    nuts_chains_options options{.sampler = {.warmup = 30, .samples = 20}, .chains = 2, .threads = 1,
                                .checkpoint = folder.path / "run.nuts"};
    const nuts_chains_result first = diskmc::nuts_chains(target, inits, options, 79);
    const std::string file = options.checkpoint.string();

    auto refused = [&](const nuts_chains_options& other, std::uint64_t seed, const std::string& what,
                       const Eigen::MatrixXd& starts) {
        CAPTURE(what);
        try {
            diskmc::nuts_chains(target, starts, other, seed);
            FAIL("the checkpoint of another run was accepted");
        } catch (const diskmc::invalid_input& error) {
            const std::string message = error.what();
            CHECK_THAT(message, Catch::Contains(file));
            CHECK_THAT(message, Catch::Contains(what));
        }
    };
    refused(options, 80, "'seed 80'", inits);
    nuts_chains_options other = options;
    other.sampler.samples = 21;
    refused(other, 79, "'samples 21'", inits);
    other = options;
    other.sampler.metric = metric_kind::dense;
    refused(other, 79, "'metric dense_e'", inits);
    other = options;
    other.sampler.target_accept = 0.9;
    refused(other, 79, "'target_accept 0.9'", inits);
    other = options;
    other.chains = 3;
    refused(other, 79, "'chains 3'", inits);
    other = options;
    other.sampler.standardize_covariance = target.covariance;
    refused(other, 79, "standardize_covariance 3x3", inits);
    refused(options, 79, "'inits 3x1", Eigen::MatrixXd(inits.array() + 0.1));

    // Threads, lockstep and checkpoint_every do not change the draws: accepted.
    other = options;
    other.threads = 2;
    other.lockstep = true;
    other.checkpoint_every = 3;
    check_identical(diskmc::nuts_chains(target, inits, other, 79), first);

    // overwrite_checkpoint replaces the file.
    other = options;
    other.overwrite_checkpoint = true;
    const nuts_chains_result replaced = diskmc::nuts_chains(target, inits, other, 80);
    options.checkpoint_every = 1;
    check_identical(diskmc::nuts_chains(target, inits, options, 80), replaced);

    // Not a checkpoint at all; checkpoint_every 0.
    other = options;
    other.checkpoint = folder.path / "junk.nuts";
    { std::ofstream(other.checkpoint) << "hello\n"; }
    CHECK_THROWS_WITH(diskmc::nuts_chains(target, inits, other, 80),
                      Catch::Contains("not a diskmc nuts checkpoint"));
    other = options;
    other.checkpoint_every = 0;
    CHECK_THROWS_AS(diskmc::nuts_chains(target, inits, other, 80), diskmc::invalid_input);
}
