#pragma once
// A Catch2 matcher for diskmc::invalid_input whose message contains a text:
//   CHECK_THROWS_MATCHES(f(), diskmc::invalid_input, message_contains("mstar"));

#include <catch2/catch.hpp>

#include <string>

#include "diskmc/errors.hpp"

namespace diskmc::testing {

class message_contains_matcher : public Catch::MatcherBase<invalid_input> {
public:
    explicit message_contains_matcher(std::string fragment) : fragment_(std::move(fragment)) {}
    bool match(const invalid_input& error) const override {
        return std::string(error.what()).find(fragment_) != std::string::npos;
    }
    std::string describe() const override { return "message contains \"" + fragment_ + "\""; }

private:
    std::string fragment_;
};

inline message_contains_matcher message_contains(std::string fragment) {
    return message_contains_matcher(std::move(fragment));
}

}  // namespace diskmc::testing
