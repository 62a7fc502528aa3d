#pragma once
// The example programs' command lines: flags one at a time, a flag's value,
// --help (usage on stdout, exit 0) and usage errors (one line on stderr,
// exit 2).

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

namespace diskmc::examples {

class command_line {
public:
    command_line(int argc, char** argv, std::string program, std::string usage)
        : argc_(argc), argv_(argv), program_(std::move(program)), usage_(std::move(usage)) {}

    /// Moves to the next flag; false when none is left. Answers --help / -h.
    bool next() {
        if (++at_ >= argc_) return false;
        flag_ = argv_[at_];
        if (flag_ == "--help" || flag_ == "-h") {
            std::printf("%s\n", usage_.c_str());
            std::exit(0);
        }
        return true;
    }
    const std::string& flag() const { return flag_; }
    /// The argument after the current flag (a usage error if there is none).
    std::string value() {
        if (at_ + 1 >= argc_) fail("missing value after " + flag_);
        return argv_[++at_];
    }
    /// Reports a usage error and exits with status 2.
    [[noreturn]] void fail(const std::string& message) const {
        std::fprintf(stderr, "%s: %s (%s)\n", program_.c_str(), message.c_str(), usage_.c_str());
        std::exit(2);
    }

private:
    int argc_;
    char** argv_;
    std::string program_, usage_;
    int at_ = 0;
    std::string flag_;
};

}  // namespace diskmc::examples
