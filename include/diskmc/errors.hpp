#pragma once
// The one exception type diskmc throws, and the argument checks that raise it.
//
// Exceptions are for bad input at the API boundary, raised before any work
// starts. Numerical trouble during a run (a NaN density, a divergent
// trajectory) is data in the result, never an exception.

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace diskmc {

/// Bad input: NaN data, non-positive errors, shape mismatch, unknown
/// parameter names, invalid options, unreadable files. The message names the
/// function (or file) and the offending argument.
class invalid_input : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

namespace detail {

template <class... Parts>
[[noreturn]] void throw_invalid_input(const Parts&... parts) {
    std::ostringstream message;
    message.precision(17);
    (message << ... << parts);
    throw invalid_input(message.str());
}

}  // namespace detail

/// Throws unless `value` is finite.
inline void check_finite(std::string_view function, std::string_view argument, double value) {
    if (!std::isfinite(value))
        detail::throw_invalid_input(function, ": ", argument, " must be finite, got ", value);
}

/// Throws unless `value` is finite and > 0.
inline void check_positive(std::string_view function, std::string_view argument, double value) {
    if (!(std::isfinite(value) && value > 0))
        detail::throw_invalid_input(function, ": ", argument, " must be finite and > 0, got ",
                                    value);
}

/// Throws unless `value` is finite and >= 0.
inline void check_nonnegative(std::string_view function, std::string_view argument, double value) {
    if (!(std::isfinite(value) && value >= 0))
        detail::throw_invalid_input(function, ": ", argument, " must be finite and >= 0, got ",
                                    value);
}

/// Throws unless lower <= value <= upper (and value is not NaN).
inline void check_in_range(std::string_view function, std::string_view argument, double value,
                           double lower, double upper) {
    if (!(value >= lower && value <= upper))
        detail::throw_invalid_input(function, ": ", argument, " must lie in [", lower, ", ",
                                    upper, "], got ", value);
}

/// Throws unless `condition` holds; `what` says what was expected.
inline void check_argument(bool condition, std::string_view function, std::string_view what) {
    if (!condition) detail::throw_invalid_input(function, ": ", what);
}

}  // namespace diskmc
