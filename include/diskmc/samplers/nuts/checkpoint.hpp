#pragma once
// The checkpoint file of a multi-chain NUTS run (nuts_chains_options::
// checkpoint): each chain's state when its warmup ends, then its new draws
// every checkpoint_every sampling iterations, so an interrupted run resumes
// and gives the draws an uninterrupted one would have given, bit for bit.
//
// Format (version 2). A text header, one "key value" per line, ending with
// "end", that identifies the run (the settings that change the draws; not
// threads, lockstep or checkpoint_every, which do not):
//
//     diskmc-nuts-checkpoint 2
//     byte_order little
//     dim 3
//     chains 4
//     seed 42
//     warmup 1000
//     ...                               (every option that changes the draws;
//     inverse_metric none               matrices by shape and FNV-1a hash of
//     standardize_covariance 3x3 fnv1a64=... their values)
//     inits 3x4 fnv1a64=...
//     end
//
// then records of 8-byte fields (u64 integers, f64 doubles, in the header's
// byte order), each framed as
//
//     u64 payload_bytes
//     payload
//     u64 checksum                      FNV-1a of the length and the payload
//
// and each payload one of
//
//     u64 kind = 0 (warmup ended)       u64 kind = 1 (sampling draws)
//     u64 chain                         u64 chain
//     state                             state
//     f64 step_size                     u64 first, u64 count
//     u64 warmup_path, f64 check[3],
//     u64 check_passed
//     u64 rows, u64 cols, f64 M^{-1}    iteration[count]
//     u64 count, iteration[count]       f64 draws[count][dim]
//     u64 rows, f64 warmup_draws[rows][dim]
//
// where state is the chain's random stream (u64 words[4], u64 has_spare,
// f64 spare), its current point (f64 position[dim], gradient[dim],
// log_density, kinetic_energy) and its counts (u64 gradient evaluations in
// warmup and sampling, non-finite evaluations, metric updates and rejected
// ones, step-size search failed), and iteration is one nuts_iteration (f64
// accept_stat, f64 step_size, u64 tree_depth, u64 n_leapfrog, u64 divergent,
// f64 energy, f64 log_density), and warmup_path and check are the chain's
// nuts_result::warmup_taken and warmup_check (step_size_ratio, variance_min,
// variance_max, passed); the warmup's count tells its length. Positions and draws are in the coordinates
// the sampler moves in (standardised when standardize_covariance is set).
//
// Records are appended and flushed one at a time under a mutex (chains run
// on threads), so a killed run leaves at most a torn last record; reading
// stops at the first record cut short or failing its checksum, and the
// resumed run continues the file from there.

#include <Eigen/Core>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "diskmc/detail/checkpoint_file.hpp"
#include "diskmc/detail/random_stream.hpp"
#include "diskmc/errors.hpp"
#include "diskmc/samplers/nuts/chain.hpp"
#include "diskmc/samplers/nuts/options.hpp"
#include "diskmc/samplers/nuts/result.hpp"

namespace diskmc::detail {

/// "rows x cols fnv1a64=hash" of a matrix's shape and values, or "none".
inline std::string matrix_fingerprint(const Eigen::MatrixXd& matrix) {
    if (matrix.size() == 0) return "none";
    const std::uint64_t shape[2] = {static_cast<std::uint64_t>(matrix.rows()),
                                    static_cast<std::uint64_t>(matrix.cols())};
    std::uint64_t hash = fnv1a64(reinterpret_cast<const unsigned char*>(shape), sizeof shape);
    hash = fnv1a64(reinterpret_cast<const unsigned char*>(matrix.data()),
                   sizeof(double) * static_cast<std::size_t>(matrix.size()), hash);
    std::ostringstream out;
    out << matrix.rows() << 'x' << matrix.cols() << " fnv1a64=" << std::hex << hash;
    return out.str();
}

/// The header a run writes, and that a resumed file must carry verbatim.
inline std::string nuts_checkpoint_header(std::size_t dim, std::uint64_t seed,
                                          const nuts_chains_options& run,
                                          const Eigen::MatrixXd& inits) {
    const nuts_options& o = run.sampler;
    const std::size_t chains = run.chains;
    std::ostringstream out;
    out << "diskmc-nuts-checkpoint 2\n"
        << "byte_order " << (std::endian::native == std::endian::little ? "little" : "big") << '\n'
        << "dim " << dim << '\n'
        << "chains " << chains << '\n'
        << "seed " << seed << '\n'
        << "warmup " << o.warmup << '\n'
        << "samples " << o.samples << '\n'
        << "save_warmup " << (o.save_warmup ? 1 : 0) << '\n'
        << "max_tree_depth " << o.max_tree_depth << '\n'
        << "max_tree_depth_warmup " << o.max_tree_depth_warmup << '\n'
        << "fixed_tree_depth " << o.fixed_tree_depth << '\n'
        << "max_energy_error " << exact_decimal(o.max_energy_error) << '\n'
        << "metric " << metric_name(o.metric) << '\n'
        << "inverse_metric " << matrix_fingerprint(o.inverse_metric) << '\n'
        << "adapt_metric " << (o.adapt_metric ? 1 : 0) << '\n'
        << "regularization " << regularization_name(o.regularization) << '\n'
        << "step_size " << exact_decimal(o.step_size) << '\n'
        << "adapt_step_size " << (o.adapt_step_size ? 1 : 0) << '\n'
        << "target_accept " << exact_decimal(o.target_accept) << '\n'
        << "gamma " << exact_decimal(o.gamma) << '\n'
        << "t0 " << exact_decimal(o.t0) << '\n'
        << "kappa " << exact_decimal(o.kappa) << '\n'
        << "step_size_jitter " << exact_decimal(o.step_size_jitter) << '\n'
        << "init_buffer " << o.init_buffer << '\n'
        << "base_window " << o.base_window << '\n'
        << "term_buffer " << o.term_buffer << '\n'
        << "warmup_adaptation " << warmup_mode_name(o.warmup_adaptation) << '\n'
        << "trusted_warmup " << o.trusted_warmup << '\n'
        << "min_ess " << exact_decimal(run.min_ess) << '\n'
        << "max_rhat " << exact_decimal(run.max_rhat) << '\n'
        << "first_round " << run.first_round << '\n'
        << "round_step " << run.round_step << '\n'
        << "standardize_covariance " << matrix_fingerprint(o.standardize_covariance) << '\n'
        << "standardize_location " << matrix_fingerprint(o.standardize_location) << '\n'
        << "inits " << matrix_fingerprint(inits) << '\n'
        << "end\n";
    return out.str();
}

/// The first line where two headers differ, as "'expected' (found 'found')".
inline std::string first_header_difference(const std::string& expected, const std::string& found) {
    std::istringstream a(expected), b(found);
    std::string line_a, line_b;
    while (true) {
        const bool more_a = static_cast<bool>(std::getline(a, line_a));
        const bool more_b = static_cast<bool>(std::getline(b, line_b));
        if (!more_a && !more_b) return "";
        if (!more_a) line_a.clear();
        if (!more_b) line_b.clear();
        if (line_a != line_b) return "this run has '" + line_a + "', the file '" + line_b + "'";
    }
}

/// One chain's state in the checkpoint: everything a chain that finished its
/// warmup needs to go on sampling as if never stopped.
struct nuts_chain_checkpoint {
    random_stream::state_type random;
    chain_resume_point resume;
};

/// Reads and writes a run's checkpoint file.
class nuts_checkpoint {
public:
    /// Opens the file of options.checkpoint: reads the chains' states when it
    /// exists (unless overwrite_checkpoint) and its header matches, refuses it
    /// when the header does not, and continues it after its last intact
    /// record; else creates it.
    nuts_checkpoint(const nuts_chains_options& options, std::size_t dim, std::uint64_t seed,
                    const Eigen::MatrixXd& inits)
        : dim_(dim),
          warmup_(options.sampler.warmup),
          trusted_warmup_(options.sampler.warmup_adaptation ==
                                  warmup_mode::trust_metric_with_fallback
                              ? options.sampler.trusted_warmup
                              : options.sampler.warmup),
          samples_(options.sampler.samples),
          save_warmup_(options.sampler.save_warmup),
          every_(options.checkpoint_every),
          loaded_(options.chains),
          written_(options.chains) {
        const std::filesystem::path& path = options.checkpoint;
        const std::string header =
            nuts_checkpoint_header(dim, seed, options, inits);
        // An empty file is one whose run was killed before its header was
        // flushed: nothing to resume.
        std::error_code error;
        const bool exists = std::filesystem::exists(path, error);
        if (options.overwrite_checkpoint || !exists || std::filesystem::file_size(path, error) == 0) {
            file_.emplace(path, header, kind);
            return;
        }
        std::ifstream in(path, std::ios::binary);
        if (!in) throw_invalid_input("nuts_chains: cannot read checkpoint ", path.string());
        const std::string found = read_checkpoint_header(in, path, kind);
        if (found != header)
            throw_invalid_input("nuts_chains: checkpoint ", path.string(),
                                " was written by a different run: ",
                                first_header_difference(header, found),
                                "; use another file, or set overwrite_checkpoint to replace it");
        const std::vector<unsigned char> bytes{std::istreambuf_iterator<char>(in),
                                               std::istreambuf_iterator<char>()};
        in.close();
        const std::size_t intact = read_records(bytes);
        for (std::size_t c = 0; c < loaded_.size(); ++c)
            if (loaded_[c])
                written_[c] = {.warmup = true, .sampling = loaded_[c]->resume.result.sampling.size()};
        file_.emplace(path, found.size() + intact, kind);
    }

    /// The state of chain c, if the file holds its end of warmup.
    const std::optional<nuts_chain_checkpoint>& loaded(std::size_t c) const { return loaded_[c]; }

    /// Called between chain c's iterations: writes the warmup record once
    /// warmup has ended, then the new draws every checkpoint_every of them,
    /// at the end, and whenever `force` (the run is stopping). Safe to call
    /// from the chains' threads, each for its own chain.
    void save(std::size_t c, const nuts_chain<random_stream>& chain, const random_stream& random,
              bool force) {
        if (!chain.in_sampling()) return;  // a chain in warmup restarts it on resume
        chain_written& written = written_[c];
        const nuts_result& result = chain.result();
        if (!written.warmup) {
            begin_record(written.buffer, warmup_ended, c, chain, random);
            record_bytes& out = written.buffer;
            out.put(chain.step_size());
            const Eigen::MatrixXd inverse = chain.inverse_metric();
            out.put(static_cast<std::uint64_t>(inverse.rows()));
            out.put(static_cast<std::uint64_t>(inverse.cols()));
            out.put_doubles(inverse.data(), static_cast<std::size_t>(inverse.size()));
            out.put(static_cast<std::uint64_t>(result.warmup_taken));
            out.put(result.warmup_check.step_size_ratio);
            out.put(result.warmup_check.variance_min);
            out.put(result.warmup_check.variance_max);
            out.put(std::uint64_t{result.warmup_check.passed ? 1u : 0u});
            out.put(static_cast<std::uint64_t>(result.warmup.size()));
            put_iterations(out, result.warmup, 0, result.warmup.size());
            const Eigen::Index rows = save_warmup_ ? result.warmup_draws.rows() : 0;
            out.put(static_cast<std::uint64_t>(rows));
            put_rows(out, result.warmup_draws, 0, rows);
            finish_record(out);
            written.warmup = true;
            written.sampling = result.sampling.size();
        }
        const std::size_t done = result.sampling.size();
        const std::size_t pending = done - written.sampling;
        if (pending == 0 || !(pending >= every_ || force || chain.complete())) return;
        begin_record(written.buffer, sampling_draws, c, chain, random);
        record_bytes& out = written.buffer;
        out.put(static_cast<std::uint64_t>(written.sampling));
        out.put(static_cast<std::uint64_t>(pending));
        put_iterations(out, result.sampling, written.sampling, pending);
        put_rows(out, result.draws, static_cast<Eigen::Index>(written.sampling),
                 static_cast<Eigen::Index>(pending));
        finish_record(out);
        written.sampling = done;
    }

private:
    static constexpr const char* kind = "nuts";
    static constexpr std::uint64_t warmup_ended = 0;
    static constexpr std::uint64_t sampling_draws = 1;

    struct chain_written {
        bool warmup = false;
        std::size_t sampling = 0;  // sampling draws in the file
        record_bytes buffer;
    };

    void begin_record(record_bytes& out, std::uint64_t record_kind, std::size_t c,
                      const nuts_chain<random_stream>& chain, const random_stream& random) const {
        out.clear();
        out.put(std::uint64_t{0});  // the payload length, set by finish_record
        out.put(record_kind);
        out.put(static_cast<std::uint64_t>(c));
        const random_stream::state_type& state = random.state();
        for (const std::uint64_t word : state.words) out.put(word);
        out.put(std::uint64_t{state.has_spare_normal ? 1u : 0u});
        out.put(state.spare_normal);
        const sampled_point& current = chain.current();
        out.put_doubles(current.position.data(), dim_);
        out.put_doubles(current.gradient.data(), dim_);
        out.put(current.log_density);
        out.put(current.kinetic_energy);
        const nuts_result& result = chain.result();
        out.put(static_cast<std::uint64_t>(result.gradient_evaluations_warmup));
        out.put(static_cast<std::uint64_t>(result.gradient_evaluations_sampling));
        out.put(static_cast<std::uint64_t>(result.non_finite_evaluations));
        out.put(static_cast<std::uint64_t>(result.metric_updates));
        out.put(static_cast<std::uint64_t>(result.rejected_metric_updates));
        out.put(std::uint64_t{result.step_size_search_failed ? 1u : 0u});
    }

    void finish_record(record_bytes& out) {
        const std::uint64_t payload = out.offset() - 8;
        std::memcpy(out.data(), &payload, 8);
        out.put(fnv1a64(out.data(), out.offset()));
        std::lock_guard lock(mutex_);  // chains write from their threads
        file_->write(out.data(), out.size());
    }

    static void put_iterations(record_bytes& out, const std::vector<nuts_iteration>& iterations,
                               std::size_t first, std::size_t count) {
        for (std::size_t i = first; i < first + count; ++i) {
            const nuts_iteration& it = iterations[i];
            out.put(it.accept_stat);
            out.put(it.step_size);
            out.put(static_cast<std::uint64_t>(it.tree_depth));
            out.put(static_cast<std::uint64_t>(it.n_leapfrog));
            out.put(std::uint64_t{it.divergent ? 1u : 0u});
            out.put(it.energy);
            out.put(it.log_density);
        }
    }

    static void get_iterations(record_bytes& in, std::vector<nuts_iteration>& iterations,
                               std::size_t count) {
        for (std::size_t i = 0; i < count && in.intact(); ++i) {
            nuts_iteration it;
            it.accept_stat = in.get<double>();
            it.step_size = in.get<double>();
            it.tree_depth = static_cast<int>(in.get<std::uint64_t>());
            it.n_leapfrog = static_cast<int>(in.get<std::uint64_t>());
            it.divergent = in.get<std::uint64_t>() != 0;
            it.energy = in.get<double>();
            it.log_density = in.get<double>();
            iterations.push_back(it);
        }
    }

    void put_rows(record_bytes& out, const Eigen::MatrixXd& draws, Eigen::Index first,
                  Eigen::Index count) const {
        for (Eigen::Index i = first; i < first + count; ++i) {
            const Eigen::VectorXd row = draws.row(i).transpose();
            out.put_doubles(row.data(), dim_);
        }
    }

    /// Appends `count` rows of dim values to `draws` (rows x dim).
    void get_rows(record_bytes& in, Eigen::MatrixXd& draws, std::size_t count) const {
        const Eigen::Index first = draws.rows();
        const auto dim = static_cast<Eigen::Index>(dim_);
        if (count > in.size() / (8 * dim_)) {  // more than the record holds
            in.fail();
            return;
        }
        draws.conservativeResize(first + static_cast<Eigen::Index>(count), dim);
        Eigen::VectorXd row(dim);
        for (Eigen::Index i = first; i < draws.rows() && in.intact(); ++i) {
            in.get_doubles(row.data(), dim_);
            draws.row(i) = row.transpose();
        }
    }

    /// Reads the records after the header into loaded_; returns the bytes of
    /// the intact ones. Stops at the first record cut short, failing its
    /// checksum, or not fitting the run (a torn or damaged tail).
    std::size_t read_records(const std::vector<unsigned char>& bytes) {
        std::size_t offset = 0;
        while (bytes.size() - offset >= 16) {
            std::uint64_t payload = 0;
            std::memcpy(&payload, bytes.data() + offset, 8);
            if (payload > bytes.size() - offset - 16) break;  // cut short
            const std::size_t total = 8 + static_cast<std::size_t>(payload);
            std::uint64_t checksum = 0;
            std::memcpy(&checksum, bytes.data() + offset + total, 8);
            if (fnv1a64(bytes.data() + offset, total) != checksum) break;
            record_bytes record(static_cast<std::size_t>(payload));
            std::memcpy(record.data(), bytes.data() + offset + 8, record.size());
            if (!apply_record(record)) break;
            offset += total + 8;
        }
        return offset;
    }

    bool apply_record(record_bytes& in) {
        const auto record_kind = in.get<std::uint64_t>();
        const auto c = in.get<std::uint64_t>();
        if (c >= loaded_.size() || (record_kind != warmup_ended && record_kind != sampling_draws))
            return false;
        const auto dim = static_cast<Eigen::Index>(dim_);
        std::optional<nuts_chain_checkpoint>& slot = loaded_[c];
        if (record_kind == sampling_draws && !slot) return false;  // draws before warmup ended
        nuts_chain_checkpoint state = record_kind == warmup_ended ? nuts_chain_checkpoint{} : *slot;
        chain_resume_point& resume = state.resume;
        nuts_result& result = resume.result;

        for (auto& word : state.random.words) word = in.get<std::uint64_t>();
        state.random.has_spare_normal = in.get<std::uint64_t>() != 0;
        state.random.spare_normal = in.get<double>();
        resume.current.position.resize(dim);
        resume.current.gradient.resize(dim);
        in.get_doubles(resume.current.position.data(), dim_);
        in.get_doubles(resume.current.gradient.data(), dim_);
        resume.current.log_density = in.get<double>();
        resume.current.kinetic_energy = in.get<double>();
        result.gradient_evaluations_warmup = in.get<std::uint64_t>();
        result.gradient_evaluations_sampling = in.get<std::uint64_t>();
        result.non_finite_evaluations = in.get<std::uint64_t>();
        result.metric_updates = in.get<std::uint64_t>();
        result.rejected_metric_updates = in.get<std::uint64_t>();
        result.step_size_search_failed = in.get<std::uint64_t>() != 0;

        if (record_kind == warmup_ended) {
            resume.step_size = in.get<double>();
            const auto rows = in.get<std::uint64_t>();
            const auto cols = in.get<std::uint64_t>();
            if (rows != dim_ || (cols != 1 && cols != dim_)) return false;
            resume.inverse_metric.resize(dim, static_cast<Eigen::Index>(cols));
            in.get_doubles(resume.inverse_metric.data(), dim_ * cols);
            const auto path = in.get<std::uint64_t>();
            if (path > static_cast<std::uint64_t>(warmup_path::fell_back)) return false;
            result.warmup_taken = static_cast<warmup_path>(path);
            result.warmup_check.step_size_ratio = in.get<double>();
            result.warmup_check.variance_min = in.get<double>();
            result.warmup_check.variance_max = in.get<double>();
            result.warmup_check.passed = in.get<std::uint64_t>() != 0;
            const auto count = in.get<std::uint64_t>();
            // A trusted warmup that passed its check is the short one.
            const std::size_t length =
                result.warmup_taken == warmup_path::trusted ? trusted_warmup_ : warmup_;
            if (count != length) return false;
            get_iterations(in, result.warmup, count);
            const auto draw_rows = in.get<std::uint64_t>();
            if (draw_rows != (save_warmup_ ? length : 0)) return false;
            result.warmup_draws.resize(0, dim);
            get_rows(in, result.warmup_draws, draw_rows);
            result.draws.resize(0, dim);
        } else {
            const auto first = in.get<std::uint64_t>();
            const auto count = in.get<std::uint64_t>();
            if (first != result.sampling.size() || count == 0 || count > samples_ - first)
                return false;
            get_iterations(in, result.sampling, count);
            get_rows(in, result.draws, count);
        }
        if (!in.intact() || in.offset() != in.size()) return false;
        slot = std::move(state);
        return true;
    }

    std::size_t dim_, warmup_, trusted_warmup_, samples_;
    bool save_warmup_;
    std::size_t every_;
    std::vector<std::optional<nuts_chain_checkpoint>> loaded_;
    std::vector<chain_written> written_;
    std::mutex mutex_;
    std::optional<checkpoint_appender> file_;
};

}  // namespace diskmc::detail
