#pragma once
// The exceptions diskmc throws (bad input; a run stopped on request), and
// the argument checks that raise them.
//
// Exceptions are for bad input at the API boundary, raised before any work
// starts. Numerical trouble during a run (a NaN density, a divergent
// trajectory) is data in the result, never an exception.

#include <cmath>
#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <optional>
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

/// A run stopped at the caller's request (a stop callback, e.g. on Ctrl-C)
/// before it had anything to return. Not an error of the input; library
/// code that catches exceptions lets this one through.
class interrupted : public std::runtime_error {
public:
    /// @param during what was running, as a phrase ("the MAP step")
    explicit interrupted(const std::string& during)
        : std::runtime_error("interrupted during " + during), during_(during) {}
    /// What was running ("the MAP step", "NUTS warmup", ...).
    const std::string& during() const { return during_; }

private:
    std::string during_;
};

namespace detail {

template <class... Parts>
[[noreturn]] void throw_invalid_input(const Parts&... parts) {
    std::ostringstream message;
    message.precision(17);
    (message << ... << parts);
    throw invalid_input(message.str());
}

/// The product of `factors`, or nullopt when it overflows std::size_t (sizes
/// in bytes or elements taken from user input: a header, an option).
inline std::optional<std::size_t> size_product(std::initializer_list<std::size_t> factors) {
    std::size_t product = 1;
    for (const std::size_t factor : factors) {
        if (factor != 0 && product > std::numeric_limits<std::size_t>::max() / factor)
            return std::nullopt;
        product *= factor;
    }
    return product;
}

}  // namespace detail

/// `value` as an Integer, if it is finite and lies in [lower, upper]: the one
/// checked conversion of a double (a size from a header, a count from an
/// option) to an integer. Casting a NaN, an infinity or a value beyond the
/// integer's range is undefined behaviour, and a huge count is an allocation
/// that aborts; both are refused here, naming what the number is. Round
/// first as the caller means (std::ceil, std::floor); the rest is truncated.
/// @param value    the number to convert
/// @param lower    the smallest acceptable result
/// @param upper    the largest acceptable result
/// @param function the function (or file) for the message
/// @param what     what the number is and where it came from, as message
///                 parts, e.g. "the kernel width for bmaj ", bmaj, "\""
/// @throws invalid_input "function: what is value; it must lie in [lower, upper]"
template <std::integral Integer, class... What>
Integer checked_integer(double value, Integer lower, Integer upper, std::string_view function,
                        const What&... what) {
    // 2^digits is exact as a double and one past the integer's largest value,
    // so the cast stays defined where `upper` rounds up on its way to double.
    const double past_largest = std::ldexp(1.0, std::numeric_limits<Integer>::digits);
    const bool in_range = value >= static_cast<double>(lower) &&
                          value <= static_cast<double>(upper) && value < past_largest;
    if (!in_range)  // NaN included
        detail::throw_invalid_input(function, ": ", what..., " is ", value, "; it must lie in [",
                                    lower, ", ", upper, "]");
    return static_cast<Integer>(value);
}

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
