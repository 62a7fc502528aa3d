#pragma once
// The ensemble sampler's checkpoint file: the chain appended as the run
// goes, with everything needed to continue the run exactly where it stopped.
//
// Format (version 1). A text header, one "key value" per line, ending with
// the line "end":
//
//     diskmc-ensemble-checkpoint 1
//     byte_order little              (of the binary records below)
//     dim 3
//     walkers 8
//     seed 42
//     burn_in 100
//     thin 1
//     randomize_split 1
//     moves 2
//     move de sigma=1e-05 gamma0=0.9716 weight=0.8     (resolved defaults,
//     move de_snooker gamma=1.7 weight=0.2             shortest exact decimals)
//     record_bytes 688
//     end
//
// then fixed-size binary records, one per written iteration, each made of
// 8-byte fields (u64 unsigned integers, f64 IEEE-754 doubles, in the byte
// order the header names):
//
//     u64 iteration                completed iterations, burn-in included
//     u64 kind                     0 burn-in, 1 kept draw, 2 other (a state
//                                  record between thinned draws)
//     u64 random[4]                xoshiro256++ state after this iteration
//     u64 has_spare_normal         Box-Muller's cached second value ...
//     f64 spare_normal             ... and the value
//     u64 log_density_evaluations
//     u64 outside_support_proposals
//     u64 invalid_proposals
//     u64 burn_in_accepted         accepted proposals during burn-in, all walkers
//     u64 accepted[walkers]        accepted proposals after burn-in, per walker
//     u64 move[moves][3]           per move: iterations, proposals, accepted
//     f64 positions[walkers][dim]  walker by walker
//     f64 log_densities[walkers]
//     u64 checksum                 FNV-1a (64-bit) of the bytes above
//
// A record is the whole state of the sampler after its iteration, so the
// run resumes from the last intact one. A record cut short or failing its
// checksum (a crash mid-write) ends the file: resuming truncates it there.
// Writes are flushed after each record (safe against a killed process; a
// power cut can lose the tail, which the checksum then detects).

#include <Eigen/Core>
#include <array>
#include <bit>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include "diskmc/detail/checkpoint_file.hpp"
#include "diskmc/detail/random_stream.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/samplers/ensemble/moves.hpp"
#include "diskmc/samplers/ensemble/options.hpp"
#include "diskmc/samplers/ensemble/result.hpp"
#include "diskmc/samplers/ensemble/state.hpp"

namespace diskmc {

namespace detail {

inline std::string describe_move(const ensemble_move& move, std::size_t dim) {
    struct visitor {
        std::size_t dim;
        std::string operator()(const stretch_move& m) const { return "stretch a=" + exact_decimal(m.a); }
        std::string operator()(const de_move& m) const {
            return "de sigma=" + exact_decimal(m.sigma) + " gamma0=" + exact_decimal(m.gamma_mean(dim));
        }
        std::string operator()(const de_snooker_move& m) const {
            return "de_snooker gamma=" + exact_decimal(m.gamma);
        }
        std::string operator()(const walk_move& m) const {
            return "walk helpers=" + (m.helpers ? std::to_string(*m.helpers) : std::string("all"));
        }
    };
    return std::visit(visitor{dim}, move);
}

inline std::size_t checkpoint_record_bytes(std::size_t dim, std::size_t walkers,
                                           std::size_t moves) {
    return 8 * (12 + walkers + 3 * moves + walkers * dim + walkers + 1);
}

/// The header this run writes, and that a resumed file must carry verbatim.
inline std::string checkpoint_header(std::size_t dim, std::size_t walkers, std::uint64_t seed,
                                     const ensemble_options& options) {
    std::ostringstream out;
    out << "diskmc-ensemble-checkpoint 1\n"
        << "byte_order " << (std::endian::native == std::endian::little ? "little" : "big") << '\n'
        << "dim " << dim << '\n'
        << "walkers " << walkers << '\n'
        << "seed " << seed << '\n'
        << "burn_in " << options.burn_in << '\n'
        << "thin " << options.thin << '\n'
        << "randomize_split " << (options.randomize_split ? 1 : 0) << '\n'
        << "moves " << options.moves.size() << '\n';
    for (const auto& m : options.moves)
        out << "move " << describe_move(m.move, dim) << " weight=" << exact_decimal(m.weight) << '\n';
    out << "record_bytes " << checkpoint_record_bytes(dim, walkers, options.moves.size()) << '\n'
        << "end\n";
    return out.str();
}

/// Serialises and parses records; all fields are 8 bytes.
class record_codec {
public:
    record_codec(std::size_t dim, std::size_t walkers, std::size_t moves)
        : dim_(dim), walkers_(walkers), bytes_(checkpoint_record_bytes(dim, walkers, moves)) {}

    std::size_t size() const { return bytes_.size(); }
    const char* data() const { return reinterpret_cast<const char*>(bytes_.data()); }
    char* data() { return reinterpret_cast<char*>(bytes_.data()); }

    void encode(const ensemble_state& state, record_kind kind) {
        bytes_.rewind();
        bytes_.put(state.iteration);
        bytes_.put(static_cast<std::uint64_t>(kind));
        const auto& random = state.random.state();
        for (const auto word : random.words) bytes_.put(word);
        bytes_.put(std::uint64_t{random.has_spare_normal ? 1u : 0u});
        bytes_.put(random.spare_normal);
        bytes_.put(state.log_density_evaluations);
        bytes_.put(state.outside_support_proposals);
        bytes_.put(state.invalid_proposals);
        bytes_.put(state.burn_in_accepted);
        for (const auto a : state.accepted) bytes_.put(a);
        for (const auto& m : state.moves) {
            bytes_.put(static_cast<std::uint64_t>(m.iterations));
            bytes_.put(static_cast<std::uint64_t>(m.proposals));
            bytes_.put(static_cast<std::uint64_t>(m.accepted));
        }
        bytes_.put_doubles(state.positions.data(), dim_ * walkers_);
        bytes_.put_doubles(state.log_densities.data(), walkers_);
        bytes_.put(fnv1a64(bytes_.data(), bytes_.offset()));
    }

    /// Reads the record in the buffer into `state`; false if the checksum
    /// fails (the state is then unspecified).
    bool decode(ensemble_state& state, record_kind& kind) {
        bytes_.rewind();
        const std::uint64_t expected = fnv1a64(bytes_.data(), bytes_.size() - 8);
        state.iteration = bytes_.get<std::uint64_t>();
        kind = static_cast<record_kind>(bytes_.get<std::uint64_t>());
        random_stream::state_type random;
        for (auto& word : random.words) word = bytes_.get<std::uint64_t>();
        random.has_spare_normal = bytes_.get<std::uint64_t>() != 0;
        random.spare_normal = bytes_.get<double>();
        state.random.set_state(random);
        state.log_density_evaluations = bytes_.get<std::uint64_t>();
        state.outside_support_proposals = bytes_.get<std::uint64_t>();
        state.invalid_proposals = bytes_.get<std::uint64_t>();
        state.burn_in_accepted = bytes_.get<std::uint64_t>();
        for (auto& a : state.accepted) a = bytes_.get<std::uint64_t>();
        for (auto& m : state.moves) {
            m.iterations = static_cast<std::size_t>(bytes_.get<std::uint64_t>());
            m.proposals = static_cast<std::size_t>(bytes_.get<std::uint64_t>());
            m.accepted = static_cast<std::size_t>(bytes_.get<std::uint64_t>());
        }
        bytes_.get_doubles(state.positions.data(), dim_ * walkers_);
        bytes_.get_doubles(state.log_densities.data(), walkers_);
        return bytes_.get<std::uint64_t>() == expected;
    }

private:
    std::size_t dim_, walkers_;
    record_bytes bytes_;
};

/// The kept draws of a checkpoint file and the state after its last intact
/// record.
struct loaded_checkpoint {
    std::optional<ensemble_state> last_state;
    std::vector<Eigen::MatrixXd> draw_positions;
    std::vector<Eigen::VectorXd> draw_log_densities;
    /// Bytes of the header plus the intact records: where appending resumes.
    std::uintmax_t intact_bytes = 0;
};

/// Reads a checkpoint whose header has been read and checked; stops at the
/// first record that is cut short or fails its checksum.
inline loaded_checkpoint read_checkpoint_records(std::istream& in, std::uintmax_t header_bytes,
                                                 std::size_t dim, std::size_t walkers,
                                                 std::size_t moves, std::uint64_t seed) {
    loaded_checkpoint loaded;
    loaded.intact_bytes = header_bytes;
    record_codec codec(dim, walkers, moves);
    ensemble_state state(dim, walkers, moves, seed);
    record_kind kind{};
    while (in.read(codec.data(), static_cast<std::streamsize>(codec.size())) &&
           codec.decode(state, kind)) {
        loaded.intact_bytes += codec.size();
        if (kind == record_kind::draw) {
            loaded.draw_positions.push_back(state.positions);
            loaded.draw_log_densities.push_back(state.log_densities);
        }
        loaded.last_state = state;
    }
    return loaded;
}

/// Appends records to the checkpoint file.
class checkpoint_writer {
public:
    /// Starts a new file holding only `header`.
    checkpoint_writer(const std::filesystem::path& path, const std::string& header,
                      std::size_t dim, std::size_t walkers, std::size_t moves)
        : codec_(dim, walkers, moves), file_(path, header, "ensemble") {}

    /// Continues a file after its first `keep_bytes` bytes (dropping a
    /// damaged tail).
    checkpoint_writer(const std::filesystem::path& path, std::uintmax_t keep_bytes,
                      std::size_t dim, std::size_t walkers, std::size_t moves)
        : codec_(dim, walkers, moves), file_(path, keep_bytes, "ensemble") {}

    void write(const ensemble_state& state, record_kind kind) {
        codec_.encode(state, kind);
        file_.write(reinterpret_cast<const unsigned char*>(codec_.data()), codec_.size());
    }

private:
    record_codec codec_;
    checkpoint_appender file_;
};

}  // namespace detail

/// Reads the chain of a checkpoint file (for instance of a run that is still
/// going, or was interrupted) without the model.
///
/// @param path a file written through ensemble_options::checkpoint.
/// @param stuck_acceptance threshold for stuck_walkers, as in the options.
/// @return the kept draws and the state after the last intact record, as
///         ensemble() would have returned them at that point (timings are
///         zero).
inline ensemble_result read_ensemble_checkpoint(
    const std::filesystem::path& path,
    double stuck_acceptance = ensemble_options{}.stuck_acceptance) {
    std::ifstream in(path, std::ios::binary);
    if (!in) detail::throw_invalid_input("read_ensemble_checkpoint: cannot open ", path.string());
    const std::string header = detail::read_checkpoint_header(in, path, "ensemble");
    if (header.rfind("diskmc-ensemble-checkpoint 1\n", 0) != 0)
        detail::throw_invalid_input("read_ensemble_checkpoint: ", path.string(),
                                    " is not a version-1 diskmc ensemble checkpoint");
    const std::string native = std::endian::native == std::endian::little ? "little" : "big";
    if (detail::header_value(header, "byte_order", path, "ensemble") != native)
        detail::throw_invalid_input("read_ensemble_checkpoint: ", path.string(),
                                    " was written with the other byte order");
    const auto dim = static_cast<std::size_t>(detail::header_integer(header, "dim", path, "ensemble"));
    const auto walkers = static_cast<std::size_t>(detail::header_integer(header, "walkers", path, "ensemble"));
    const auto moves = static_cast<std::size_t>(detail::header_integer(header, "moves", path, "ensemble"));
    const auto burn_in = detail::header_integer(header, "burn_in", path, "ensemble");
    const std::uint64_t seed = detail::header_integer(header, "seed", path, "ensemble");
    if (detail::header_integer(header, "record_bytes", path, "ensemble") !=
        detail::checkpoint_record_bytes(dim, walkers, moves))
        detail::throw_invalid_input("read_ensemble_checkpoint: ", path.string(),
                                    ": record_bytes does not match dim, walkers and moves");

    const detail::loaded_checkpoint loaded =
        detail::read_checkpoint_records(in, header.size(), dim, walkers, moves, seed);
    ensemble_result result;
    detail::store_draws(result, dim, walkers, seed, loaded.draw_positions,
                        loaded.draw_log_densities);
    if (loaded.last_state)
        detail::store_state(result, *loaded.last_state, burn_in, stuck_acceptance);
    else
        result.move_statistics.assign(moves, {});
    return result;
}

}  // namespace diskmc
