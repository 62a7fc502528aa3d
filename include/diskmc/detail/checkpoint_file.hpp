#pragma once
// What the samplers' checkpoint files share: a text header of "key value"
// lines ending with "end", binary records of 8-byte fields with an FNV-1a
// checksum, and an append-only writer that flushes every record, so a killed
// process leaves at most one torn record at the end (which the checksum
// exposes and a resumed run drops).

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "diskmc/errors.hpp"

namespace diskmc::detail {

/// Shortest decimal that reads back to the same double.
inline std::string exact_decimal(double value) {
    std::array<char, 32> buffer{};
    const auto [end, error] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    return error == std::errc{} ? std::string(buffer.data(), end) : std::string("nan");
}

/// FNV-1a, 64-bit (Fowler, Noll & Vo): the records' checksum. `hash`
/// continues an earlier call.
inline std::uint64_t fnv1a64(const unsigned char* bytes, std::size_t size,
                             std::uint64_t hash = 0xcbf29ce484222325ULL) {
    for (std::size_t i = 0; i < size; ++i) {
        hash ^= bytes[i];
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

/// Reads a header up to and including its "end" line. `kind` names the
/// sampler ("ensemble", "nuts") in the message of a file that has none.
inline std::string read_checkpoint_header(std::istream& in, const std::filesystem::path& path,
                                          const char* kind) {
    std::string header, line;
    while (std::getline(in, line)) {
        header += line;
        header += '\n';
        if (line == "end") return header;
        if (header.size() > (1u << 20)) break;
    }
    throw_invalid_input(kind, " checkpoint ", path.string(), ": not a diskmc ", kind,
                        " checkpoint (no header ending in 'end')");
}

/// The value of `key` in a header ("key value" lines).
inline std::string header_value(const std::string& header, const std::string& key,
                                const std::filesystem::path& path, const char* kind) {
    std::istringstream lines(header);
    std::string line;
    while (std::getline(lines, line))
        if (line.rfind(key + ' ', 0) == 0) return line.substr(key.size() + 1);
    throw_invalid_input(kind, " checkpoint ", path.string(), ": header has no '", key, "' line");
}

inline std::uint64_t header_integer(const std::string& header, const std::string& key,
                                    const std::filesystem::path& path, const char* kind) {
    const std::string text = header_value(header, key, path, kind);
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size())
        throw_invalid_input(kind, " checkpoint ", path.string(), ": header line '", key, " ",
                            text, "' is not a non-negative integer");
    return value;
}

/// A record's bytes, written and read as 8-byte fields (u64 integers, f64
/// IEEE-754 doubles) in the machine's byte order, which the header names.
class record_bytes {
public:
    record_bytes() = default;
    explicit record_bytes(std::size_t size) : bytes_(size) {}

    std::size_t size() const { return bytes_.size(); }
    const unsigned char* data() const { return bytes_.data(); }
    unsigned char* data() { return bytes_.data(); }
    std::vector<unsigned char>& storage() { return bytes_; }

    /// Writing: rewind (fixed size) or clear (growing).
    void rewind() { offset_ = 0; }
    void clear() {
        bytes_.clear();
        offset_ = 0;
    }
    std::size_t offset() const { return offset_; }

    template <class T>
    void put(T value) {
        static_assert(sizeof(T) == 8, "record fields are 8 bytes");
        put_bytes(&value, 8);
    }
    void put_doubles(const double* values, std::size_t count) { put_bytes(values, 8 * count); }

    /// Reading: false once a field would run past the end (the record is
    /// then malformed); the value is 0 then.
    template <class T>
    T get() {
        static_assert(sizeof(T) == 8, "record fields are 8 bytes");
        T value{};
        if (fits(8)) std::memcpy(&value, bytes_.data() + offset_, 8);
        offset_ += 8;
        return value;
    }
    void get_doubles(double* values, std::size_t count) {
        if (fits(8 * count)) std::memcpy(values, bytes_.data() + offset_, 8 * count);
        offset_ += 8 * count;
    }
    /// Every field read so far was inside the record.
    bool intact() const { return offset_ <= bytes_.size(); }
    /// Marks the record malformed (a count that cannot be right).
    void fail() { offset_ = bytes_.size() + 1; }

private:
    void put_bytes(const void* source, std::size_t count) {
        if (offset_ + count > bytes_.size()) bytes_.resize(offset_ + count);
        std::memcpy(bytes_.data() + offset_, source, count);
        offset_ += count;
    }
    bool fits(std::size_t count) const {
        return offset_ <= bytes_.size() && count <= bytes_.size() - offset_;
    }

    std::vector<unsigned char> bytes_;
    std::size_t offset_ = 0;
};

/// Appends records to a checkpoint file, flushing each.
class checkpoint_appender {
public:
    /// Starts a new file holding only `header`.
    checkpoint_appender(const std::filesystem::path& path, const std::string& header,
                        const char* kind)
        : path_(path), kind_(kind) {
        out_.open(path, std::ios::binary | std::ios::trunc);
        if (!out_) throw_invalid_input(kind, ": cannot create checkpoint file ", path.string());
        out_ << header;
        flush();
    }

    /// Continues a file after its first `keep_bytes` bytes (dropping a
    /// damaged tail).
    checkpoint_appender(const std::filesystem::path& path, std::uintmax_t keep_bytes,
                        const char* kind)
        : path_(path), kind_(kind) {
        std::error_code error;
        std::filesystem::resize_file(path, keep_bytes, error);
        if (error)
            throw_invalid_input(kind, ": cannot truncate checkpoint file ", path.string(), ": ",
                                error.message());
        out_.open(path, std::ios::binary | std::ios::app);
        if (!out_) throw_invalid_input(kind, ": cannot append to checkpoint file ", path.string());
    }

    void write(const unsigned char* bytes, std::size_t size) {
        out_.write(reinterpret_cast<const char*>(bytes), static_cast<std::streamsize>(size));
        flush();
    }

private:
    void flush() {
        out_.flush();
        // A full disk or a removed file mid-run is not bad input, but it is an
        // I/O failure the caller must hear about before more work is lost.
        if (!out_)
            throw std::runtime_error(std::string(kind_) + ": writing checkpoint file " +
                                     path_.string() + " failed");
    }

    std::filesystem::path path_;
    const char* kind_;
    std::ofstream out_;
};

}  // namespace diskmc::detail
