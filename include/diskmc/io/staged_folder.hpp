#pragma once
// An output folder written as one consistent run (POSIX).
//
// A run writes everything into a private staging folder beside the output
// folder and, when it is done, swaps the whole staging folder in, so the
// output folder is always one whole run: never half-written, never a mix of
// two runs, never stale files of an earlier run beside new ones.
//
//   diskmc::io::staged_folder out("fits/twhya");  // lock, checks, staging
//   write(out.staging() / "summary.json");       // ... every output
//   out.commit();                                 // one swap
//
// Beside FOLDER (in its parent) it keeps, with NAME = FOLDER's last part:
//   .NAME.diskmc-lock            an advisory lock (flock) held while a run
//                                writes FOLDER: a second run is refused;
//   .NAME.diskmc-staging-XXXXXX  the staging folder of a run; one found
//                                without the lock held is a leftover of a
//                                killed run (see leftovers());
//   FOLDER/.diskmc-output        marks a folder a run committed: only such a
//                                folder, an empty one, or none is replaced.
// The lock file is removed when the run ends. Names of every byte (not UTF-8,
// newlines) are used as they are: nothing here goes through a shell.

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "diskmc/errors.hpp"

namespace diskmc::io {

namespace detail {

inline constexpr const char* staged_folder_function = "output folder";
inline constexpr const char* output_marker = ".diskmc-output";

// Strings are built by appending: g++ 12 warns falsely (-Wstringop-overflow)
// on "literal" + a temporary std::string.
inline std::string quoted(const std::filesystem::path& path) {
    std::string text = "'";
    text += path.string();
    text += '\'';
    return text;
}

/// The name of a file beside `folder`: "." + its name + `suffix`.
inline std::string beside_name(const std::filesystem::path& folder, std::string_view suffix) {
    std::string name = ".";
    name += folder.filename().string();
    name += suffix;
    return name;
}

/// `path` absolute and without a trailing separator, '.' or '..'.
inline std::filesystem::path output_folder_path(const std::filesystem::path& given) {
    if (given.empty()) diskmc::detail::throw_invalid_input(staged_folder_function, ": the output folder is empty");
    std::filesystem::path path = std::filesystem::absolute(given).lexically_normal();
    if (path.filename().empty()) path = path.parent_path();
    if (path.filename().empty() || path == path.root_path())
        diskmc::detail::throw_invalid_input(staged_folder_function, ": ", quoted(given),
                                            " cannot be an output folder (it names a root)");
    return path;
}

/// True if `inner` is `outer` or lies inside it (by the files they are, so
/// links and other spellings of one folder count).
inline bool is_inside(const std::filesystem::path& inner, const std::filesystem::path& outer) {
    std::error_code error;
    if (!std::filesystem::exists(outer, error)) return false;  // an input that exists is not in it
    // As spelled and with links resolved: an input named through a link
    // (to the file or to a folder above it) may lie in `outer` all the same.
    for (std::filesystem::path at : {std::filesystem::absolute(inner, error),
                                     std::filesystem::weakly_canonical(inner, error)}) {
        while (!at.empty()) {
            if (std::filesystem::exists(at, error) && std::filesystem::equivalent(at, outer, error)) return true;
            if (at.parent_path() == at) break;
            at = at.parent_path();
        }
    }
    return false;
}

}  // namespace detail

/// The output folder of one run, staged and committed whole. Not copyable;
/// the destructor removes an uncommitted staging folder and releases the lock.
class staged_folder {
public:
    /// Takes `folder` for this run: creates its parent if needed, takes the
    /// lock, checks that `folder` may be replaced, and creates the staging
    /// folder, so an unwritable or invalid folder fails before any work.
    /// @param folder the output folder (need not exist)
    /// @param inputs files the run reads: refused if `folder` is one of them
    ///        or holds one, since committing would replace them
    /// @throws invalid_input naming the folder and the problem: another run
    ///         holds the lock, `folder` is a file, a link, or a non-empty
    ///         folder no run committed, it holds an input, or a folder cannot
    ///         be created
    explicit staged_folder(const std::filesystem::path& folder,
                           const std::vector<std::filesystem::path>& inputs = {})
        : folder_(detail::output_folder_path(folder)) {
        namespace fs = std::filesystem;
        const fs::path parent = folder_.parent_path();
        std::error_code error;
        // The highest folder this run creates: removed again (if still
        // empty) unless the run commits, so a refused run leaves nothing.
        for (fs::path at = parent; !at.empty() && !fs::exists(fs::symlink_status(at, error)); at = at.parent_path()) {
            created_ = at;
            if (at.parent_path() == at) break;
        }
        fs::create_directories(parent, error);
        if (error || !fs::is_directory(parent))
            fail("cannot create the folder ", detail::quoted(parent), " for it",
                 error ? " (" + error.message() + ")" : "");
        lock(parent / detail::beside_name(folder_, ".diskmc-lock"));
        try {
            check_replaceable();
            check_inputs(inputs);
            std::string pattern = (parent / detail::beside_name(folder_, ".diskmc-staging-XXXXXX")).string();
            if (::mkdtemp(pattern.data()) == nullptr)
                fail("cannot create a staging folder beside it: ", std::strerror(errno));
            staging_ = pattern;
        } catch (...) {
            unlock();  // no destructor runs for a constructor that throws
            remove_created();
            throw;
        }
        // mkdtemp makes the folder private (0700); the committed folder gets
        // the permissions any new folder would (umask is read by setting it).
        const mode_t mask = ::umask(0);
        ::umask(mask);
        ::chmod(staging_.c_str(), 0777 & ~mask);
        for (const auto& entry : fs::directory_iterator(parent, error)) {
            const std::string leftover = entry.path().filename().string();
            if (entry.path() != staging_ && (leftover.rfind(detail::beside_name(folder_, ".diskmc-staging-"), 0) == 0 ||
                                             leftover.rfind(detail::beside_name(folder_, ".diskmc-old-"), 0) == 0))
                leftovers_.push_back(entry.path());
        }
        // Newest first: the one a resumed run wants.
        std::sort(leftovers_.begin(), leftovers_.end(), [](const fs::path& a, const fs::path& b) {
            std::error_code ignored;
            return fs::last_write_time(a, ignored) > fs::last_write_time(b, ignored);
        });
    }

    staged_folder(const staged_folder&) = delete;
    staged_folder& operator=(const staged_folder&) = delete;

    ~staged_folder() {
        std::error_code ignored;
        if (!committed_ && !staging_.empty()) std::filesystem::remove_all(staging_, ignored);
        unlock();
        if (!committed_) remove_created();
    }

    /// The output folder (absolute).
    const std::filesystem::path& folder() const { return folder_; }
    /// Where the run writes everything, to be committed as the folder.
    const std::filesystem::path& staging() const { return staging_; }
    /// Staging folders of earlier runs that were killed before committing
    /// (newest first). They are never committed; a run may take what it
    /// needs from them (a checkpoint to resume), then remove_leftovers().
    const std::vector<std::filesystem::path>& leftovers() const { return leftovers_; }

    /// Removes the leftovers; returns how many there were.
    std::size_t remove_leftovers() {
        std::error_code ignored;
        for (const auto& leftover : leftovers_) std::filesystem::remove_all(leftover, ignored);
        const std::size_t count = leftovers_.size();
        leftovers_.clear();
        return count;
    }

    /// Replaces the output folder by the staging folder in one rename (an
    /// atomic exchange where the file system has one), then removes the
    /// previous run's files. Call once, after every output is written.
    /// @throws invalid_input if the swap fails (the folder is then unchanged)
    void commit() {
        namespace fs = std::filesystem;
        check_argument(!committed_, detail::staged_folder_function, "commit() called twice");
        std::ofstream(staging_ / detail::output_marker) << "written by diskmc\n";
        std::error_code error;
        if (!fs::exists(fs::symlink_status(folder_, error))) {
            if (::rename(staging_.c_str(), folder_.c_str()) != 0)
                fail("cannot rename the staging folder into place: ", std::strerror(errno));
        } else if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, folder_.c_str(), RENAME_EXCHANGE) == 0) {
            fs::remove_all(staging_, error);  // now the previous run's files
        } else {
            // No atomic exchange on this file system: move the old folder
            // aside, then the new one in (a moment without the folder).
            std::string aside = (folder_.parent_path() / detail::beside_name(folder_, ".diskmc-old-XXXXXX")).string();
            if (::mkdtemp(aside.data()) == nullptr || ::rmdir(aside.c_str()) != 0 ||
                ::rename(folder_.c_str(), aside.c_str()) != 0)
                fail("cannot move the previous run aside: ", std::strerror(errno));
            if (::rename(staging_.c_str(), folder_.c_str()) != 0) {
                const int saved = errno;
                ::rename(aside.c_str(), folder_.c_str());
                fail("cannot rename the staging folder into place: ", std::strerror(saved));
            }
            fs::remove_all(aside, error);
        }
        committed_ = true;
        staging_.clear();
    }

private:
    template <class... Parts>
    [[noreturn]] void fail(const Parts&... parts) const {
        diskmc::detail::throw_invalid_input(detail::staged_folder_function, " ", detail::quoted(folder_), ": ",
                                            parts...);
    }

    /// flock on a file beside the folder. A lock file unlinked by the run
    /// that held it (at its end) may still be opened by a run that then locks
    /// a file nobody else sees: the inode check makes it try again.
    void lock(const std::filesystem::path& file) {
        for (int attempt = 0; attempt < 100; ++attempt) {
            const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
            if (fd < 0) fail("cannot create the lock file ", detail::quoted(file), ": ", std::strerror(errno));
            if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
                const int saved = errno;
                char holder[32] = {};
                const ssize_t n = ::pread(fd, holder, sizeof holder - 1, 0);
                ::close(fd);
                if (saved == EWOULDBLOCK)
                    fail("another run is writing it (process ", n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : "?",
                         " holds ", detail::quoted(file), "); wait for it to end, or choose another folder");
                fail("cannot lock ", detail::quoted(file), ": ", std::strerror(saved));
            }
            struct stat opened {}, named {};
            if (::fstat(fd, &opened) == 0 && ::stat(file.c_str(), &named) == 0 && opened.st_ino == named.st_ino &&
                opened.st_dev == named.st_dev) {
                const std::string pid = std::to_string(::getpid());
                if (::ftruncate(fd, 0) == 0 && ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
                    // The pid is only for messages.
                }
                lock_fd_ = fd;
                lock_file_ = file;
                return;
            }
            ::close(fd);  // the file was replaced under us: take the new one
        }
        fail("cannot take the lock ", detail::quoted(file));
    }

    /// Removes the folders the constructor created for the parent, deepest
    /// first, as long as they are empty (rmdir never removes anything else).
    void remove_created() {
        if (created_.empty()) return;
        for (std::filesystem::path at = folder_.parent_path();; at = at.parent_path()) {
            if (::rmdir(at.c_str()) != 0 || at == created_ || at.parent_path() == at) break;
        }
    }

    void unlock() {
        if (lock_fd_ < 0) return;
        ::unlink(lock_file_.c_str());  // before releasing, so no one locks a file about to vanish
        ::close(lock_fd_);
        lock_fd_ = -1;
    }

    void check_replaceable() const {
        namespace fs = std::filesystem;
        std::error_code error;
        const fs::file_status status = fs::symlink_status(folder_, error);
        if (!fs::exists(status)) return;
        if (fs::is_symlink(status)) fail("it is a symbolic link; give the folder it points to, or a new name");
        if (!fs::is_directory(status)) fail("it exists and is not a folder");
        if (fs::exists(folder_ / detail::output_marker, error)) return;
        if (!fs::is_empty(folder_, error))
            fail("it exists, is not empty and was not written by a diskmc run (no ", detail::output_marker,
                 "), so it is not replaced; give a new or empty folder");
    }

public:
    /// Refuses inputs that committing would replace (the folder itself, or
    /// files inside it), for inputs known only after the constructor.
    /// @throws invalid_input naming the input
    void check_inputs(const std::vector<std::filesystem::path>& inputs) const {
        for (const auto& input : inputs)
            if (!input.empty() && detail::is_inside(input, folder_))
                fail("it holds the input ", detail::quoted(input),
                     ", which committing the run would replace; write the outputs elsewhere");
    }

private:
    std::filesystem::path folder_;
    std::filesystem::path staging_;
    std::vector<std::filesystem::path> leftovers_;
    std::filesystem::path lock_file_;
    std::filesystem::path created_;  // the highest parent folder this run created
    int lock_fd_ = -1;
    bool committed_ = false;
};

}  // namespace diskmc::io
