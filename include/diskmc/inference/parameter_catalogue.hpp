#pragma once
// What a model knows about each of its parameter names: default value,
// default prior, unit, description and the range of values it accepts.
// A disk component declares its parameters as a list of parameter_info
// (concepts/disk_component.hpp); a family's catalogue is the union of its
// components' (inference/disk_family.hpp); eddy's whole table is
// eddy_parameters() (inference/parameters.hpp).

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "diskmc/errors.hpp"
#include "diskmc/inference/prior.hpp"

namespace diskmc::inference {

/// The values a parameter accepts: an interval whose ends are each open or
/// closed. An infinite end is included only when closed (eddy's r_taper =
/// +inf means no taper: (0, inf]). NaN is never valid.
struct valid_range {
    double lower = -std::numeric_limits<double>::infinity();
    double upper = std::numeric_limits<double>::infinity();
    bool lower_closed = false;
    bool upper_closed = false;

    /// Any finite value: (-inf, inf).
    static valid_range any_finite() { return {}; }
    /// (0, inf): finite and > 0.
    static valid_range positive() { return {0.0, std::numeric_limits<double>::infinity(), false, false}; }
    /// [0, inf): finite and >= 0.
    static valid_range nonnegative() { return {0.0, std::numeric_limits<double>::infinity(), true, false}; }
    /// (0, inf]: > 0, +inf included.
    static valid_range positive_or_infinite() {
        return {0.0, std::numeric_limits<double>::infinity(), false, true};
    }

    bool contains(double value) const {
        const bool above = lower_closed ? value >= lower : value > lower;
        const bool below = upper_closed ? value <= upper : value < upper;
        return above && below;  // false for NaN
    }

    /// The interval as text, e.g. "(0, inf]".
    std::string describe() const {
        std::ostringstream text;
        text << (lower_closed ? "[" : "(") << lower << ", " << upper << (upper_closed ? "]" : ")");
        return text.str();
    }
};

/// What a catalogue knows about one parameter name.
struct parameter_info {
    std::string name;
    /// The value a model uses when the user gives none (eddy's default);
    /// empty when the parameter has no default and must be given.
    std::optional<double> default_value;
    inference::prior prior;  ///< the default prior when the parameter is free
    /// > 0 for an angle that repeats with this period: samples are wrapped to
    /// [0, period) for reporting, as eddy does for PA.
    double period = 0.0;
    std::string unit;
    std::string description;
    /// The values a model accepts (checked at the API boundary, before any
    /// work); wider than the prior, which is only the default belief.
    inference::valid_range valid = valid_range::any_finite();
};

/// The parameter names a model understands, with defaults and priors.
class parameter_catalogue {
public:
    parameter_catalogue() = default;

    /// @throws diskmc::invalid_input on a repeated or empty name, or a malformed prior
    explicit parameter_catalogue(std::vector<parameter_info> entries) {
        for (auto& entry : entries) add(std::move(entry));
    }

    /// The entry for `name`, or null.
    const parameter_info* find(std::string_view name) const {
        const auto it = std::find_if(entries_.begin(), entries_.end(),
                                     [&](const parameter_info& e) { return e.name == name; });
        return it == entries_.end() ? nullptr : &*it;
    }

    /// The entry for `name`; throws diskmc::invalid_input naming it (and the
    /// known names) if there is none.
    const parameter_info& at(std::string_view name) const {
        if (const parameter_info* entry = find(name)) return *entry;
        std::string known;
        for (const auto& e : entries_) known += (known.empty() ? "" : ", ") + e.name;
        diskmc::detail::throw_invalid_input("unknown parameter '", name, "' (known: ", known, ")");
    }

    /// Replaces the default prior of `name` (which must be known).
    parameter_catalogue& set_prior(std::string_view name, const inference::prior& new_prior) {
        new_prior.check(name);
        at(name);  // throws for an unknown name
        for (auto& entry : entries_)
            if (entry.name == name) entry.prior = new_prior;
        return *this;
    }

    /// Adds a parameter a custom model understands.
    parameter_catalogue& add(parameter_info entry) {
        check_argument(!entry.name.empty(), "parameter_catalogue", "parameter names must not be empty");
        if (find(entry.name)) diskmc::detail::throw_invalid_input("parameter_catalogue: '", entry.name, "' listed twice");
        entry.prior.check(entry.name);
        check_nonnegative("parameter_catalogue", entry.name + " period", entry.period);
        entries_.push_back(std::move(entry));
        return *this;
    }

    const std::vector<parameter_info>& entries() const { return entries_; }

private:
    std::vector<parameter_info> entries_;
};


/// Throws diskmc::invalid_input naming the parameter and the value unless
/// `value` lies in the parameter's valid range.
/// @param where the function or model checking, for the message
inline void check_valid(std::string_view where, const parameter_info& info, double value) {
    if (!info.valid.contains(value))
        diskmc::detail::throw_invalid_input(where, ": parameter '", info.name, "' = ", value,
                                    " lies outside its valid range ", info.valid.describe(),
                                    info.unit.empty() ? "" : " (", info.unit, info.unit.empty() ? "" : ")");
}

}  // namespace diskmc::inference
