#pragma once
// A progress bar on stderr for the example programs (the library never
// prints): iterations done of total, rate, time left, and for NUTS the
// divergences and mean tree depth. It draws only when stderr is a terminal,
// at most 10 times a second, and is silent otherwise (logs, CI, pipes).
//
//   diskmc::examples::progress_bar bar("ensemble", options.burn_in + options.steps);
//   options.progress = diskmc::examples::ensemble_progress_bar(bar);
//
//   diskmc::examples::progress_bar bar("NUTS", chains * (warmup + samples));
//   options.sampler.progress = diskmc::examples::nuts_progress_bar(bar, chains);
//
// With stop_on_interrupt() (interrupts.hpp), the first Ctrl-C makes the
// adapters return false, so the sampler stops cleanly and the program can
// still write what it has; a second Ctrl-C ends the program.

#include <unistd.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "diskmc/samplers/ensemble/options.hpp"
#include "diskmc/samplers/nuts/options.hpp"
#include "interrupts.hpp"

namespace diskmc::examples {

inline bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

namespace detail {

/// "1:02:03", "4:05" or "--:--" when unknown.
inline std::string clock_text(double seconds) {
    if (!(seconds >= 0) || seconds > 1e7) return "--:--";
    const auto total = static_cast<long>(seconds + 0.5);
    char buffer[32];
    if (total >= 3600)
        std::snprintf(buffer, sizeof buffer, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60,
                      total % 60);
    else
        std::snprintf(buffer, sizeof buffer, "%ld:%02ld", total / 60, total % 60);
    return buffer;
}

inline std::size_t terminal_columns() {
    winsize size{};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    return 80;
}

}  // namespace detail

/// One line, redrawn in place:
///   NUTS sampling [=========>        ] 1234/4000 310 it/s 0:09 left | div 0, depth 3.2
class progress_bar {
public:
    /// @param label   what runs, shown first
    /// @param total   units of work (iterations) to do
    /// @param enabled draw at all; by default only when stderr is a terminal
    progress_bar(std::string label, std::size_t total, bool enabled = stderr_is_terminal())
        : label_(std::move(label)), total_(total), enabled_(enabled),
          start_(clock::now()), last_draw_(start_ - redraw_interval) {}

    progress_bar(const progress_bar&) = delete;
    progress_bar& operator=(const progress_bar&) = delete;
    ~progress_bar() { finish(); }

    /// Records progress; redraws if 0.1 s passed since the last drawing, or
    /// when the work is done.
    /// @param done   units done so far
    /// @param phase  a word after the label ("warmup", "sampling"), may be empty
    /// @param extra  text after the numbers (divergences, tree depth), may be empty
    void update(std::size_t done, std::string_view phase = {}, std::string_view extra = {}) {
        if (!enabled_ || finished_) return;
        const auto now = clock::now();
        if (done < total_ && now - last_draw_ < redraw_interval) return;
        last_draw_ = now;
        const double elapsed = std::chrono::duration<double>(now - start_).count();
        const std::string line = format_line(done, elapsed, phase, extra, detail::terminal_columns());
        std::fprintf(stderr, "\r%s\x1b[K", line.c_str());  // \x1b[K clears what a longer line left
        std::fflush(stderr);
        drawn_ = true;
    }

    /// Ends the line (once), so later output starts on a fresh one.
    void finish() {
        if (finished_) return;
        finished_ = true;
        if (enabled_ && drawn_) {
            std::fputc('\n', stderr);
            std::fflush(stderr);
        }
    }

    /// Changes the units of work to do (a NUTS run whose warmup or rounds
    /// change length as it goes).
    void set_total(std::size_t total) { total_ = total; }
    std::size_t total() const { return total_; }

    /// The text of one drawing, `columns` wide at most (no terminal needed).
    std::string format_line(std::size_t done, double elapsed_seconds, std::string_view phase,
                            std::string_view extra, std::size_t columns) const {
        const double rate = elapsed_seconds > 0 ? static_cast<double>(done) / elapsed_seconds : 0.0;
        const double left =
            rate > 0 ? static_cast<double>(total_ - std::min(done, total_)) / rate : -1.0;
        char numbers[128];
        std::snprintf(numbers, sizeof numbers, " %zu/%zu %.*f it/s %s %s", done, total_,
                      rate < 10 ? 1 : 0, rate, (done >= total_ ? detail::clock_text(elapsed_seconds)
                                                               : detail::clock_text(left))
                                                  .c_str(),
                      done >= total_ ? "total" : "left");
        std::string head = label_;
        if (!phase.empty()) head += ' ' + std::string(phase);
        std::string tail = numbers;
        if (!extra.empty()) tail += " | " + std::string(extra);

        // The bar takes what is left of the line, between 10 and 40 columns.
        const std::size_t fixed = head.size() + tail.size() + 3;
        std::string line = head;
        if (columns > fixed + 10) {
            const std::size_t width = std::min<std::size_t>(40, columns - fixed - 1);
            const double fraction =
                total_ > 0 ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total_)) : 1.0;
            const auto filled = static_cast<std::size_t>(fraction * static_cast<double>(width));
            std::string bar(width, ' ');
            std::fill_n(bar.begin(), filled, '=');
            if (filled < width && filled > 0) bar[filled - 1] = '>';
            line += " [" + bar + "]";
        }
        line += tail;
        if (line.size() >= columns && columns > 1) line.resize(columns - 1);
        return line;
    }

private:
    using clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds redraw_interval{100};  // <= 10 redraws a second

    std::string label_;
    std::size_t total_;
    bool enabled_;
    bool drawn_ = false;
    bool finished_ = false;
    clock::time_point start_;
    clock::time_point last_draw_;
};

/// An ensemble_options::progress callback that drives `bar` (total =
/// burn_in + steps, or the current round's plan when the run stops on
/// precision, with the smallest ESS at the last check against its target)
/// and stops the run on Ctrl-C after stop_on_interrupt().
inline std::function<bool(const ensemble_progress&)> ensemble_progress_bar(progress_bar& bar) {
    return [&bar](const ensemble_progress& p) {
        char extra[96];
        const int length = std::snprintf(extra, sizeof extra, "acceptance %.2f", p.acceptance);
        if (p.target_ess > 0 && length > 0)
            std::snprintf(extra + length, sizeof extra - static_cast<std::size_t>(length), ", min ESS %.0f/%.0f",
                          p.min_ess, p.target_ess);
        bar.set_total(p.total_iterations);
        bar.update(p.iteration, p.iteration <= p.burn_in && p.burn_in > 0 ? "burn-in" : "sampling",
                   extra);
        return !interrupt_requested();
    };
}

/// A nuts_options::progress callback that drives `bar` with the iterations
/// of all `chains` together (total = chains x (warmup + samples)); shows the
/// phase of the slowest chain, the sampling divergences of all chains and
/// the mean tree depth of the current phase, and when the run stops on
/// precision the smallest ESS at the last check against its target. The
/// total follows the chains' plans (a trusted warmup is short until it falls
/// back; rounds on precision add draws). Stops the run on Ctrl-C after
/// stop_on_interrupt(). The runner serialises the calls, so the shared
/// state needs no lock.
inline std::function<bool(const nuts_progress&)> nuts_progress_bar(progress_bar& bar,
                                                                 std::size_t chains) {
    auto latest = std::make_shared<std::vector<nuts_progress>>(chains);
    const std::size_t planned_per_chain = chains > 0 ? bar.total() / chains : 0;
    return [&bar, latest, planned_per_chain](const nuts_progress& p) {
        if (p.chain < latest->size()) (*latest)[p.chain] = p;
        std::size_t done = 0, divergences = 0, counted = 0, total = 0;
        bool all_sampling = true;
        double depth = 0;
        for (const auto& chain : *latest) {
            done += chain.iteration;
            total += chain.iteration > 0 ? chain.total_iterations : planned_per_chain;
            all_sampling = all_sampling && chain.sampling;
            if (chain.sampling) divergences += chain.divergences;
            if (chain.iteration > 0) {
                depth += chain.mean_tree_depth;
                ++counted;
            }
        }
        char extra[128];
        const int length = std::snprintf(extra, sizeof extra, "divergences %zu, tree depth %.1f", divergences,
                                         counted > 0 ? depth / static_cast<double>(counted) : 0.0);
        if (p.target_ess > 0 && length > 0)
            std::snprintf(extra + length, sizeof extra - static_cast<std::size_t>(length),
                          ", min ESS %.0f/%.0f", p.min_ess, p.target_ess);
        bar.set_total(total);
        bar.update(done, all_sampling ? "sampling" : "warmup", extra);
        return !interrupt_requested();
    };
}

}  // namespace diskmc::examples
