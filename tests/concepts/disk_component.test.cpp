// The disk_component concept: its archetype satisfies it, near misses do
// not, check_declared names the parameter and the value, and a family made
// with the archetype carries the archetype's declarations. (The compile
// error a component missing a member gets is checked by
// compile_fail/component_without_check.cpp, as a ctest of its own.)

#include <catch2/catch.hpp>

#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "diskmc/concepts/archetypes.hpp"
#include "diskmc/concepts/disk_component.hpp"
#include "diskmc/inference/disk_family.hpp"
#include "support/throws.hpp"

using namespace diskmc;

namespace {

struct component_without_parameters {
    template <class T>
    static void check(std::string_view, const archetypes::disk_component_archetype_surface<T>&) {}
    template <class T>
    static archetypes::disk_component_archetype_surface<T> make(parameter_reader<T>& in) {
        return {in.next()};
    }
};

struct component_without_check {
    static std::vector<inference::parameter_info> parameters() { return archetypes::disk_component_archetype::parameters(); }
    template <class T>
    static archetypes::disk_component_archetype_surface<T> make(parameter_reader<T>& in) {
        return {in.next()};
    }
};

struct component_double_only {
    static std::vector<inference::parameter_info> parameters() { return archetypes::disk_component_archetype::parameters(); }
    static void check(std::string_view, const archetypes::disk_component_archetype_surface<double>&) {}
    static archetypes::disk_component_archetype_surface<double> make(parameter_reader<double>& in) { return {in.next()}; }
};

}  // namespace

TEST_CASE("disk_component accepts its archetype and the built-ins, and rejects near misses", "[concepts][components]") {
    STATIC_REQUIRE(disk_component<archetypes::disk_component_archetype>);
    STATIC_REQUIRE(disk_component<thin_component>);
    STATIC_REQUIRE(disk_component<flared_component>);
    STATIC_REQUIRE(disk_component<keplerian_component>);
    STATIC_REQUIRE(disk_component<power_law_component>);
    STATIC_REQUIRE(disk_component<self_gravitating_component>);
    STATIC_REQUIRE_FALSE(disk_component<component_without_parameters>);
    STATIC_REQUIRE_FALSE(disk_component<component_without_check>);
    STATIC_REQUIRE_FALSE(disk_component<component_double_only>);  // make must be a template on the scalar
    STATIC_REQUIRE(require_disk_component<archetypes::disk_component_archetype>());
}

TEST_CASE("check_declared names the parameter and the bad value", "[concepts][components]") {
    using archetypes::disk_component_archetype;
    CHECK_NOTHROW(disk_component_archetype::check("here", archetypes::disk_component_archetype_surface<double>{0.5}));
    CHECK_THROWS_MATCHES(
        disk_component_archetype::check("here", archetypes::disk_component_archetype_surface<double>{-0.25}),
        invalid_input, testing::message_contains("here: parameter 'h' = -0.25 lies outside its valid range [0, inf)"));
    CHECK_THROWS_MATCHES(disk_component_archetype::check(
                             "here", archetypes::disk_component_archetype_surface<double>{
                                         std::numeric_limits<double>::quiet_NaN()}),
                         invalid_input, testing::message_contains("'h' = nan"));
    CHECK_THROWS_MATCHES(check_declared<disk_component_archetype>("here", {1.0, 2.0}), invalid_input,
                         testing::message_contains("2 values for 1 declared"));
}

TEST_CASE("a family carries its components' declarations as its catalogue", "[concepts][components][family]") {
    const inference::disk_family<archetypes::disk_component_archetype, keplerian_component> family;
    const std::vector<std::string> names = family.parameter_names();
    CHECK(names == std::vector<std::string>{"x0", "y0", "inc", "PA", "vlsr", "h", "mstar", "dist"});
    const inference::parameter_catalogue catalogue = family.catalogue();
    REQUIRE(catalogue.entries().size() == names.size());
    for (std::size_t k = 0; k < names.size(); ++k) CHECK(catalogue.entries()[k].name == names[k]);
    CHECK(catalogue.at("h").prior.upper == 1.0);
    CHECK(catalogue.find("z0") == nullptr);  // only the family's names
    // The family's check runs the components' checks on a full vector.
    Eigen::VectorXd full(8);
    full << 0.0, 0.0, 30.0, 60.0, 5000.0, 0.1, 1.0, 100.0;
    CHECK_NOTHROW(family.check("fit", full));
    full[5] = -1.0;
    CHECK_THROWS_MATCHES(family.check("fit", full), invalid_input, testing::message_contains("'h' = -1"));
    full[5] = 0.1;
    full[6] = 0.0;
    CHECK_THROWS_MATCHES(family.check("fit", full), invalid_input, testing::message_contains("'mstar' = 0"));
    CHECK_THROWS_MATCHES(family.check("fit", Eigen::VectorXd::Zero(3)), invalid_input,
                         testing::message_contains("has 8 parameters, got 3"));
}
