#pragma once
// A minimal scalar type with only what diskmc's scalar-generic per-pixel
// code may use of an autodiff scalar: construction from double, arithmetic
// (with itself and with double), comparisons with double, and exp, log,
// sqrt, cos, sin, tan found by argument-dependent lookup. No value(), no
// abs, no pow, no hypot, no atan2: code that compiles and runs with it
// will compile with the reverse-mode tape scalar. (Boost.Math's
// real_concept plays the same role for Boost's special functions.)

#include <cmath>

namespace diskmc::testing {

class archetype_scalar {
public:
    archetype_scalar() = default;
    archetype_scalar(double value) : value_(value) {}  // NOLINT: implicit like double

    friend archetype_scalar operator+(archetype_scalar a, archetype_scalar b) {
        return a.value_ + b.value_;
    }
    friend archetype_scalar operator-(archetype_scalar a, archetype_scalar b) {
        return a.value_ - b.value_;
    }
    friend archetype_scalar operator*(archetype_scalar a, archetype_scalar b) {
        return a.value_ * b.value_;
    }
    friend archetype_scalar operator/(archetype_scalar a, archetype_scalar b) {
        return a.value_ / b.value_;
    }
    friend archetype_scalar operator-(archetype_scalar a) { return -a.value_; }
    archetype_scalar& operator+=(archetype_scalar b) { return *this = *this + b; }
    archetype_scalar& operator-=(archetype_scalar b) { return *this = *this - b; }
    archetype_scalar& operator*=(archetype_scalar b) { return *this = *this * b; }

    friend bool operator<(archetype_scalar a, double b) { return a.value_ < b; }
    friend bool operator>(archetype_scalar a, double b) { return a.value_ > b; }
    friend bool operator<=(archetype_scalar a, double b) { return a.value_ <= b; }
    friend bool operator>=(archetype_scalar a, double b) { return a.value_ >= b; }
    friend bool operator==(archetype_scalar a, double b) { return a.value_ == b; }

    friend archetype_scalar exp(archetype_scalar a) { return std::exp(a.value_); }
    friend archetype_scalar log(archetype_scalar a) { return std::log(a.value_); }
    friend archetype_scalar sqrt(archetype_scalar a) { return std::sqrt(a.value_); }
    friend archetype_scalar cos(archetype_scalar a) { return std::cos(a.value_); }
    friend archetype_scalar sin(archetype_scalar a) { return std::sin(a.value_); }
    friend archetype_scalar tan(archetype_scalar a) { return std::tan(a.value_); }

    /// For the test's own checks only (per-pixel code never reads it).
    double test_value() const { return value_; }

private:
    double value_ = 0.0;
};

}  // namespace diskmc::testing
