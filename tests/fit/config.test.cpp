// The JSON configuration of examples/fit_rotation_map (examples/fit_config.hpp):
// what it accepts, and that every mistake is refused with a message naming it.

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "../../examples/fit_config.hpp"
#include "support/throws.hpp"

namespace {

using diskmc::invalid_input;
using diskmc::testing::message_contains;
using diskmc::examples::fit_config;

fit_config parse(const std::string& text) {
    return diskmc::examples::parse_fit_config(nlohmann::ordered_json::parse(text), "test.json", "/data");
}

void require_refused(const std::string& text, const std::string& fragment) {
    INFO("config: " << text);
    CHECK_THROWS_MATCHES(parse(text), invalid_input, message_contains(fragment));
}

const std::string twhya_params =
    R"("params": {"x0": {"start": 0.0}, "PA": {"start": 151.0, "prior": {"flat": [0, 360]}},
                 "mstar": {"start": 0.8, "prior": {"gaussian": [0.8, 0.2], "bounds": [0, 5]}},
                 "vlsr": {"start": 2840}, "inc": 5.8, "dist": 60.1})";

}  // namespace

TEST_CASE("fit config: the issue's example reads into fit_options", "[fit][config]") {
    const fit_config c = parse(R"({"map": "v0.fits", "uncertainty": "/abs/dv0.fits", "velocity_unit": "m/s",
        "fov": 7.0, "downsample": "beam", )" + twhya_params + R"(,
        "mask": {"r_min": 0.3, "r_max": 3.0}, "beam": false, "optimize": true,
        "sampler": {"kind": "ensemble", "walkers": 64, "burn": 500, "steps": 2000, "seed": 7}})");
    CHECK(*c.map == std::filesystem::path("/data/v0.fits"));  // relative to the config's folder
    CHECK(*c.uncertainty == std::filesystem::path("/abs/dv0.fits"));
    CHECK(*c.options.field_of_view == 7.0);
    CHECK(c.options.downsample.to_beam);
    REQUIRE(c.options.parameters.size() == 6);
    // The file's order is the sampling order.
    CHECK(c.options.parameters[0].name == "x0");
    CHECK(c.options.parameters[1].name == "PA");
    CHECK(c.options.parameters[1].prior->upper == 360.0);
    CHECK(c.options.parameters[2].prior->kind == diskmc::inference::prior_kind::gaussian);
    CHECK(c.options.parameters[2].prior->sd == 0.2);
    CHECK(c.options.parameters[2].prior->upper == 5.0);
    CHECK_FALSE(c.options.parameters[4].free);
    CHECK(c.options.parameters[4].value == 5.8);
    CHECK(c.options.mask.r_max == 3.0);
    CHECK(c.options.optimize);
    const auto& e = std::get<diskmc::ensemble_fit_settings>(c.options.sampler);
    CHECK(e.walkers == 64);
    CHECK(e.options.burn_in == 500);
    CHECK(e.options.steps == 2000);
    CHECK(e.seed == 7);
}

TEST_CASE("fit config: NUTS settings, and the built-in problem without a map", "[fit][config]") {
    const fit_config c = parse(R"({"sampler": {"kind": "nuts", "chains": 2, "warmup": 300, "samples": 400,
        "max_tree_depth": 8, "dense_mass": true, "target_accept": 0.9, "seed": 5}})");
    CHECK_FALSE(c.map.has_value());
    CHECK(c.options.parameters.size() == diskmc::hd163296_like::parameters().size());
    CHECK(c.options.mask.r_min == diskmc::hd163296_like::r_min);
    const auto& n = std::get<diskmc::nuts_fit_settings>(c.options.sampler);
    CHECK(n.options.chains == 2);
    CHECK(n.options.sampler.warmup == 300);
    CHECK(n.options.sampler.samples == 400);
    CHECK(n.options.sampler.max_tree_depth == 8);
    CHECK(n.options.sampler.metric == diskmc::metric_kind::dense);
    CHECK(n.options.sampler.target_accept == 0.9);
    CHECK(n.seed == 5);
}

TEST_CASE("fit config: the model's components by name", "[fit][config]") {
    CHECK_FALSE(parse("{}").options.model.surface.has_value());  // eddy's rule, decided from the parameters
    CHECK(parse("{}").options.model.rotation == "keplerian");
    for (const std::string surface : {"thin", "flared", "conical"})
        CHECK(*parse(R"({"model": {"surface": ")" + surface + R"("}})").options.model.surface == surface);
    for (const std::string rotation : {"keplerian", "power_law", "self_gravity"}) {
        const fit_config c = parse(R"({"model": {"surface": "thin", "rotation": ")" + rotation + R"("}})");
        CHECK(*c.options.model.surface == "thin");
        CHECK(c.options.model.rotation == rotation);
    }
    require_refused(R"({"model": {"surface": "bowl"}})",
                    "test.json: model: unknown surface \"bowl\" (the choices: \"thin\", \"flared\", \"conical\")");
    for (const std::string flow : {"none", "power_law"}) {
        const fit_config c = parse(R"({"model": {"radial": ")" + flow + R"(", "vertical": ")" + flow + R"("}})");
        CHECK(c.options.model.radial == flow);
        CHECK(c.options.model.vertical == flow);
    }
    require_refused(R"({"model": {"radial": "infall"}})",
                    "test.json: model: unknown radial flow \"infall\" (the choices: \"none\", \"power_law\")");
    require_refused(R"({"model": {"rotation": "kepler"}})",
                    "test.json: model: unknown rotation \"kepler\" (the choices: \"keplerian\", \"power_law\", "
                    "\"self_gravity\")");
    require_refused(R"({"model": {"flows": "radial"}})", "test.json: model: unknown key \"flows\"");
    require_refused(R"({"model": {"rotation": 1}})", "test.json: model.rotation: must be a string");
    require_refused(R"({"model": "thin"})", "test.json: model: must be a JSON object");
}

TEST_CASE("fit config: Laplace and auto settings", "[fit][config]") {
    const fit_config laplace = parse(R"({"sampler": {"kind": "laplace", "draws": 2000, "scale": 1.0, "seed": 3}})");
    const auto& l = std::get<diskmc::laplace_fit_settings>(laplace.options.sampler);
    CHECK(l.options.draws == 2000);
    CHECK(l.seed == 3);
    CHECK(l.fallback == diskmc::laplace_fallback::none);
    CHECK(l.options.scale == 1.0);
    const fit_config automatic = parse(R"({"sampler": {"kind": "auto", "seed": 4, "chains": 2, "warmup": 300}})");
    const auto& a = std::get<diskmc::laplace_fit_settings>(automatic.options.sampler);
    CHECK(a.options.draws == 4000);  // the defaults
    CHECK(a.options.scale == 1.15);
    CHECK(a.seed == 4);
    CHECK(a.fallback == diskmc::laplace_fallback::nuts);
    CHECK(a.nuts.options.chains == 2);
    CHECK(a.nuts.options.sampler.warmup == 300);
    CHECK(a.nuts.seed == 4);
}

TEST_CASE("fit config: NUTS warmup adaptation and stopping on precision", "[fit][config]") {
    const fit_config plain = parse(R"({"sampler": {"kind": "nuts"}})");
    const auto& defaults = std::get<diskmc::nuts_fit_settings>(plain.options.sampler);
    CHECK(defaults.trust_map_covariance);  // the short warmup trusting the MAP covariance
    CHECK(defaults.options.min_ess == 0.0);
    const fit_config c = parse(R"({"sampler": {"kind": "nuts", "warmup_adaptation": "windowed",
        "trusted_warmup": 150, "min_ess": 400, "max_rhat": 1.02, "samples": 5000}})");
    const auto& n = std::get<diskmc::nuts_fit_settings>(c.options.sampler);
    CHECK(n.options.sampler.warmup_adaptation == diskmc::warmup_mode::windowed);
    CHECK_FALSE(n.trust_map_covariance);
    CHECK(n.options.sampler.trusted_warmup == 150);
    CHECK(n.options.min_ess == 400.0);
    CHECK(n.options.max_rhat == 1.02);
    CHECK(n.options.sampler.samples == 5000);
    const fit_config step_only = parse(R"({"sampler": {"kind": "nuts", "warmup_adaptation": "step_size_only"}})");
    const auto& s = std::get<diskmc::nuts_fit_settings>(step_only.options.sampler);
    CHECK(s.options.sampler.warmup_adaptation == diskmc::warmup_mode::step_size_only);
    CHECK_FALSE(s.trust_map_covariance);
    const fit_config trusted = parse(R"({"sampler": {"kind": "nuts", "warmup_adaptation": "trust_metric_with_fallback"}})");
    CHECK(std::get<diskmc::nuts_fit_settings>(trusted.options.sampler).trust_map_covariance);
    require_refused(R"({"sampler": {"kind": "nuts", "warmup_adaptation": "stan"}})",
                    "sampler.warmup_adaptation: must be \"windowed\"");
    require_refused(R"({"sampler": {"kind": "nuts", "min_ess": "many"}})", "sampler.min_ess");
    require_refused(R"({"sampler": {"kind": "nuts", "trusted_warmup": -1}})", "sampler.trusted_warmup");
    // Chains on all cores unless told otherwise.
    CHECK(c.options.threads == 0);
}

TEST_CASE("fit config: the ensemble stops on min_ess, and max_rhat is refused for walkers", "[fit][config]") {
    const fit_config plain = parse(R"({"sampler": {"kind": "ensemble"}})");
    CHECK(std::get<diskmc::ensemble_fit_settings>(plain.options.sampler).options.min_ess == 0.0);
    const fit_config c = parse(R"({"sampler": {"kind": "ensemble", "min_ess": 400, "steps": 20000}})");
    const auto& e = std::get<diskmc::ensemble_fit_settings>(c.options.sampler);
    CHECK(e.options.min_ess == 400.0);
    CHECK(e.options.steps == 20000);
    require_refused(R"({"sampler": {"kind": "ensemble", "min_ess": 400, "max_rhat": 1.01}})",
                    "sampler.max_rhat: is for NUTS only");
    require_refused(R"({"sampler": {"kind": "ensemble", "min_ess": "many"}})", "sampler.min_ess");
}

TEST_CASE("fit config: every mistake is refused, naming it", "[fit][config]") {
    require_refused(R"({"maps": "v0.fits"})", "unknown key \"maps\"");
    require_refused(R"({"mask": {"rmin": 0.3}})", "mask: unknown key \"rmin\"");
    require_refused(R"({"sampler": {"kind": "nuts", "walkers": 64}})", "sampler: unknown key \"walkers\"");
    require_refused(R"({"sampler": {"kind": "ensemble", "warmup": 64}})", "sampler: unknown key \"warmup\"");
    require_refused(R"({"sampler": {"kind": "hmc"}})",
                    "sampler.kind: must be \"ensemble\", \"nuts\", \"laplace\" or \"auto\"");
    require_refused(R"({"sampler": {"kind": "laplace", "chains": 4}})", "sampler: unknown key \"chains\"");
    require_refused(R"({"sampler": {"kind": "auto", "walkers": 64}})", "sampler: unknown key \"walkers\"");
    require_refused(R"({"sampler": {"kind": "laplace", "draws": -1}})", "sampler.draws: must be a non-negative integer");
    require_refused(R"({"sampler": {"walkers": 64}})", "needs \"kind\"");
    require_refused(R"({"sampler": {"kind": "ensemble", "walkers": "64"}})", "sampler.walkers: must be a non-negative integer");
    require_refused(R"({"sampler": {"kind": "ensemble", "steps": -5}})", "sampler.steps: must be a non-negative integer");
    require_refused(R"({"sampler": {"kind": "ensemble", "moves": "walk"}})", "sampler.moves");
    require_refused(R"({"sampler": {"kind": "nuts", "dense_mass": 1}})", "dense_mass: must be true or false");
    require_refused(R"({"downsample": 0})", "downsample: must be an integer >= 1 or \"beam\"");
    require_refused(R"({"downsample": "half"})", "downsample");
    require_refused(R"({"downsample": 18446744073709551615})", "downsample: must be an integer >= 1");
    require_refused(R"({"fov": "7"})", "fov: must be a number");
    require_refused(R"({"velocity_unit": "Jy/beam"})", "velocity_unit");
    require_refused(R"({"map": "v0.fits"})", "needs an \"uncertainty\"");
    require_refused(R"({"uncertainty": "dv0.fits"})", "\"uncertainty\" without \"map\"");
    require_refused(R"({"map": "v0.fits", "uncertainty": "dv0.fits"})", "needs \"params\"");
    require_refused(R"({"params": {"mstr": {"start": 1.0}}})", "unknown parameter 'mstr'");
    require_refused(R"({"params": {"x0": {"begin": 0.0}}})", "params.x0: unknown key \"begin\"");
    require_refused(R"({"params": {"x0": {}}})", "params.x0: a free parameter needs a \"start\"");
    require_refused(R"({"params": {"x0": "0"}})", "params.x0: must be a number (fixed) or an object");
    require_refused(R"({"params": {"x0": {"start": 0, "prior": {"uniform": [0, 1]}}}})", "unknown key \"uniform\"");
    require_refused(R"({"params": {"x0": {"start": 0, "prior": {"flat": [0, 1], "gaussian": [0, 1]}}}})",
                    "exactly one of");
    require_refused(R"({"params": {"x0": {"start": 0, "prior": {"flat": [1]}}}})", "prior.flat: must be a pair");
    require_refused(R"({"params": {"x0": {"start": 2, "prior": {"flat": [-1, 1]}}}})", "'x0': start 2 lies outside");
    require_refused(R"({"params": {"x0": {"start": 0, "prior": {"gaussian": [0, -1]}}}})", "sd must be finite and > 0");
    require_refused(R"({"map": "${DISKMC_NO_SUCH_VARIABLE}/v0.fits", "uncertainty": "dv0.fits"})",
                    "DISKMC_NO_SUCH_VARIABLE");
    require_refused(R"([1, 2])", "must be a JSON object");
}

TEST_CASE("fit config: files that are missing or not JSON", "[fit][config]") {
    const auto dir = std::filesystem::temp_directory_path() / "diskmc_fit_config_test";
    std::filesystem::create_directories(dir);
    CHECK_THROWS_MATCHES(diskmc::examples::read_fit_config(dir / "absent.json"), invalid_input,
                         message_contains("absent.json: cannot open"));
    {
        std::ofstream(dir / "broken.json") << "{\"fov\": 7.0,";
    }
    CHECK_THROWS_MATCHES(diskmc::examples::read_fit_config(dir / "broken.json"), invalid_input,
                         message_contains("broken.json: not valid JSON"));
    std::filesystem::remove_all(dir);
}

TEST_CASE("fit config: the shipped configurations read", "[fit][config]") {
    const std::filesystem::path configs = std::filesystem::path(DISKMC_SOURCE_DIR) / "examples" / "configs";
    const fit_config bench = diskmc::examples::read_fit_config(configs / "hd163296_like.json");
    CHECK_FALSE(bench.map.has_value());
    CHECK(bench.options.parameters.size() == 12);
    // twhya.json names its files through $DISKMC_DATA_DIR.
    const char* saved = std::getenv("DISKMC_DATA_DIR");
    const std::string restore = saved ? saved : "";
    setenv("DISKMC_DATA_DIR", "/somewhere", 1);
    const fit_config twhya = diskmc::examples::read_fit_config(configs / "twhya.json");
    if (restore.empty())
        unsetenv("DISKMC_DATA_DIR");
    else
        setenv("DISKMC_DATA_DIR", restore.c_str(), 1);
    CHECK(*twhya.map == std::filesystem::path("/somewhere/twhya/TWHya_CO_v0.fits"));
    CHECK(twhya.options.downsample.to_beam);
    CHECK(*twhya.options.field_of_view == 7.0);
    CHECK(twhya.options.parameters.size() == 7);
}

TEST_CASE("fit config: JSON that would decide a fit silently or exhaust the stack is refused", "[fit][config]") {
    auto strict = [](const std::string& text) {
        std::istringstream in(text);
        return diskmc::examples::parse_json_strictly(in, "test.json");
    };
    CHECK_THROWS_MATCHES(strict(R"({"params": {"mstar": 1.0, "mstar": {"start": 1.0}}})"), invalid_input,
                         message_contains("test.json: the key \"mstar\" is given twice"));
    CHECK_THROWS_MATCHES(strict(R"({"a": 1, "b": {"a": 2}, "a": 3})"), invalid_input,
                         message_contains("\"a\" is given twice"));
    CHECK_NOTHROW(strict(R"({"a": {"x": 1}, "b": {"x": 2}})"));  // one key in two objects is fine
    const auto nested = [](int depth) { return std::string(static_cast<std::size_t>(depth), '[') +
                                               std::string(static_cast<std::size_t>(depth), ']'); };
    CHECK_NOTHROW(strict(nested(diskmc::examples::max_config_depth)));
    CHECK_THROWS_MATCHES(strict(nested(diskmc::examples::max_config_depth + 1)), invalid_input,
                         message_contains("nested deeper than 64 levels"));
    CHECK_THROWS_MATCHES(strict(std::string(1000000, '[')), invalid_input, message_contains("nested deeper"));
    CHECK_THROWS_MATCHES(strict("{\"a\": \"\xff\"}"), invalid_input, message_contains("not valid JSON"));
}
