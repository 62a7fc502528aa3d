// examples/interrupts.hpp: the first Ctrl-C or SIGTERM asks to stop, the
// second stops at once with status 130. Run in a child process, which the
// second signal ends.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <string>

#include "../../examples/interrupts.hpp"

namespace {

/// Forks; the child installs the handlers, raises `first` then `second`,
/// and reports through the pipe whether a stop was requested in between.
/// Returns the child's exit status and what it wrote to stderr.
std::pair<int, std::string> raise_twice(int first, int second) {
    int report[2], errors[2];
    REQUIRE(::pipe(report) == 0);
    REQUIRE(::pipe(errors) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::dup2(errors[1], STDERR_FILENO);
        diskmc::examples::stop_on_interrupt();
        const char before = diskmc::examples::interrupt_requested() ? '1' : '0';
        ::raise(first);
        const char after = diskmc::examples::interrupt_requested() ? '1' : '0';
        const char states[2] = {before, after};
        if (::write(report[1], states, 2) != 2) ::_exit(3);
        ::raise(second);
        ::_exit(0);  // not reached: the second signal ends the process
    }
    ::close(report[1]);
    ::close(errors[1]);
    char states[2] = {};
    CHECK(::read(report[0], states, 2) == 2);
    CHECK(states[0] == '0');  // no stop request before the first signal
    CHECK(states[1] == '1');  // the first one asks to stop, and the process lives on
    std::string text;
    char buffer[256];
    for (ssize_t n; (n = ::read(errors[0], buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<std::size_t>(n));
    ::close(report[0]);
    ::close(errors[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), text};
}

}  // namespace

TEST_CASE("interrupts: the first signal asks to stop, a second stops at once with status 130",
          "[examples][interrupts]") {
    for (const auto& [first, second] : {std::pair{SIGINT, SIGINT}, {SIGTERM, SIGINT}, {SIGINT, SIGTERM}}) {
        CAPTURE(first, second);
        const auto [status, errors] = raise_twice(first, second);
        CHECK(status == 130);
        CHECK(errors.find("interrupted again: stopping at once") != std::string::npos);
    }
}
