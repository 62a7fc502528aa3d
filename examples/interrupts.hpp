#pragma once
// Ctrl-C (SIGINT) and SIGTERM in the example programs: the first asks the
// run to stop cleanly (the fit polls interrupt_requested() and writes what it
// has), the second ends the program at once with status 130.
//
//   diskmc::examples::stop_on_interrupt();
//   options.stop_requested = diskmc::examples::interrupt_requested;

#include <unistd.h>

#include <csignal>

namespace diskmc::examples {

namespace detail {

inline volatile std::sig_atomic_t interrupted = 0;

extern "C" inline void on_interrupt(int) {
    if (interrupted) {
        // Only async-signal-safe calls here.
        static const char message[] = "\ninterrupted again: stopping at once\n";
        const ssize_t ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
        (void)ignored;
        ::_exit(130);
    }
    interrupted = 1;
}

}  // namespace detail

/// After this, the first Ctrl-C or SIGTERM sets interrupt_requested()
/// instead of killing the program; a second one ends it with status 130.
inline void stop_on_interrupt() {
    struct sigaction action {};
    action.sa_handler = detail::on_interrupt;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // a stop request must not fail a read or write midway
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
}

/// True once Ctrl-C or SIGTERM came after stop_on_interrupt().
inline bool interrupt_requested() { return detail::interrupted != 0; }

}  // namespace diskmc::examples
