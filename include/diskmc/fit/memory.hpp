#pragma once
// The memory a fit's draws need, estimated from the sampler settings before
// any work and compared with the machine's physical memory: a run of 10^9
// steps is refused with the number up front, not ended hours later by an
// out-of-memory abort.

#include <cstddef>
#include <iomanip>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>

#if __has_include(<unistd.h>)
#include <unistd.h>
#endif

#include "diskmc/errors.hpp"
#include "diskmc/fit/options.hpp"
#include "diskmc/samplers/nuts/result.hpp"

namespace diskmc {

/// What a sampler's run keeps, in bytes, and how that was counted.
struct draws_memory {
    /// The bytes; nullopt when the count overflows std::size_t.
    std::optional<std::size_t> bytes;
    /// What was counted, with the numbers, e.g. "walkers x draws x
    /// (parameters + 1 log-density) = 64 x 2000 x 10 doubles".
    std::string counted;
};

/// The machine's physical memory in bytes (sysconf(_SC_PHYS_PAGES) x the
/// page size on POSIX), or nullopt where it cannot be known.
inline std::optional<std::size_t> physical_memory_bytes() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page_size = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page_size > 0)
        return detail::size_product(
            {static_cast<std::size_t>(pages), static_cast<std::size_t>(page_size)});
#endif
    return std::nullopt;
}

namespace detail {

/// a + b, or nullopt when either is nullopt or the sum overflows.
inline std::optional<std::size_t> size_sum(std::optional<std::size_t> a,
                                           std::optional<std::size_t> b) {
    if (!a || !b || *a > std::numeric_limits<std::size_t>::max() - *b) return std::nullopt;
    return *a + *b;
}

/// "95.4 GiB".
inline std::string gibibytes(std::size_t bytes) {
    std::ostringstream text;
    text << std::fixed << std::setprecision(1)
         << static_cast<double>(bytes) / static_cast<double>(std::size_t{1} << 30) << " GiB";
    return text.str();
}

}  // namespace detail

/// The memory the draws of a fit's sampler need: the samplers' own storage,
/// a lower bound on the run's (the fit's summary holds one more copy).
/// - ensemble: walkers x (steps / thin) x (dim + 1) doubles (positions and
///   log-densities);
/// - NUTS: chains x kept x dim x 2 doubles (draws and transformed draws; kept
///   = samples, plus warmup when save_warmup) and chains x (warmup + samples)
///   per-iteration statistics;
/// - Laplace: draws x (dim + 3) doubles (draws, log-densities, log-weights,
///   weights) and resampled x dim, plus the NUTS fallback's.
/// @param settings the fit's sampler settings
/// @param dim      the number of free parameters
inline draws_memory draws_memory_needed(const fit_sampler_settings& settings, std::size_t dim) {
    constexpr std::size_t bytes_per_double = sizeof(double);
    std::ostringstream counted;
    draws_memory needed;
    if (const auto* e = std::get_if<ensemble_fit_settings>(&settings)) {
        const std::size_t draws = e->options.thin == 0 ? 0 : e->options.steps / e->options.thin;
        const std::size_t per_draw = dim + 1;
        needed.bytes = detail::size_product({e->walkers, draws, per_draw, bytes_per_double});
        counted << "walkers x (steps / thin) x (parameters + 1 log-density) = " << e->walkers
                << " x " << draws << " x " << per_draw << " doubles";
    } else if (const auto* l = std::get_if<laplace_fit_settings>(&settings)) {
        const std::size_t resampled = l->options.resampled_draws == 0 ? l->options.draws : l->options.resampled_draws;
        const std::size_t per_draw = dim + 3;  // the draw, its log-density, log-weight and weight
        needed.bytes = detail::size_sum(detail::size_product({l->options.draws, per_draw, bytes_per_double}),
                                        detail::size_product({resampled, dim, bytes_per_double}));
        counted << "draws x (parameters + 3) + resampled draws x parameters = " << l->options.draws << " x "
                << per_draw << " + " << resampled << " x " << dim << " doubles";
        if (l->fallback == laplace_fallback::nuts) {
            // The NUTS fallback runs after the Laplace draws are kept.
            const draws_memory fallback = draws_memory_needed(l->nuts, dim);
            needed.bytes = detail::size_sum(needed.bytes, fallback.bytes);
            counted << ", and for the NUTS fallback " << fallback.counted;
        }
    } else {
        const auto& n = std::get<nuts_fit_settings>(settings).options;
        const std::size_t kept = n.sampler.save_warmup
                                     ? detail::size_sum(n.sampler.samples, n.sampler.warmup)
                                           .value_or(std::numeric_limits<std::size_t>::max())
                                     : n.sampler.samples;
        const auto iterations = detail::size_sum(n.sampler.warmup, n.sampler.samples);
        const auto draws = detail::size_product({n.chains, kept, dim, 2, bytes_per_double});
        const auto statistics =
            iterations ? detail::size_product({n.chains, *iterations, sizeof(nuts_iteration)})
                       : std::nullopt;
        needed.bytes = detail::size_sum(draws, statistics);
        counted << "chains x kept iterations x parameters x 2 (draws and transformed draws) = "
                << n.chains << " x " << kept << " x " << dim << " x 2 doubles, and "
                << n.chains << " x " << (iterations ? std::to_string(*iterations) : "too many")
                << " iteration statistics of " << sizeof(nuts_iteration) << " bytes";
    }
    needed.counted = counted.str();
    return needed;
}

/// Throws unless the draws of the fit's sampler fit in `available` bytes
/// (the machine's physical memory by default; when it cannot be known, only
/// a count overflowing std::size_t is refused).
/// @throws invalid_input "function: the draws would need 96.0 GiB (walkers x
///         ... = ...); the machine has 24.0 GiB"
inline void check_draws_memory(std::string_view function, const fit_sampler_settings& settings,
                               std::size_t dim,
                               std::optional<std::size_t> available = physical_memory_bytes()) {
    const draws_memory needed = draws_memory_needed(settings, dim);
    if (!needed.bytes)
        detail::throw_invalid_input(function, ": the draws' size overflows (", needed.counted,
                                    "); ask for fewer draws");
    if (available && *needed.bytes > *available)
        detail::throw_invalid_input(function, ": the draws would need ",
                                    detail::gibibytes(*needed.bytes), " (", needed.counted,
                                    "); the machine has ", detail::gibibytes(*available),
                                    ": ask for fewer draws, walkers or chains, or thin more");
}

}  // namespace diskmc
