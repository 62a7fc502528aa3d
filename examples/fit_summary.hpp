#pragma once
// The summary of a fit as JSON: what the fit program writes to summary.json
// and the Python module returns as FitResult.report (per parameter p16, p50,
// p84, mean, sd, ess_bulk, ess_tail, rhat[, tau]; the sampler's settings,
// the Laplace verdict, timings, counts, warnings, fixed values, the MAP
// point). Non-finite numbers are null.

#include <cmath>
#include <variant>

#include <nlohmann/json.hpp>

#include "diskmc/fit.hpp"

namespace diskmc::examples {

inline nlohmann::ordered_json number_or_null(double x) {
    return std::isfinite(x) ? nlohmann::ordered_json(x) : nlohmann::ordered_json(nullptr);
}

inline nlohmann::ordered_json sampler_json(const diskmc::fit_options& options) {
    nlohmann::ordered_json s;
    if (const auto* e = std::get_if<diskmc::ensemble_fit_settings>(&options.sampler)) {
        s["kind"] = "ensemble";
        s["walkers"] = e->walkers;
        s["burn"] = e->options.burn_in;
        s["steps"] = e->options.steps;
        s["thin"] = e->options.thin;
        s["moves"] = e->options.moves.size() == 1 ? "stretch" : "de";
        s["seed"] = e->seed;
        if (e->options.min_ess > 0) s["min_ess"] = e->options.min_ess;
    } else if (const auto* l = std::get_if<diskmc::laplace_fit_settings>(&options.sampler)) {
        s["kind"] = l->fallback == diskmc::laplace_fallback::nuts ? "auto" : "laplace";
        s["draws"] = l->options.draws;
        s["scale"] = l->options.scale;
        s["seed"] = l->seed;
    } else {
        const auto& n = std::get<diskmc::nuts_fit_settings>(options.sampler);
        s["kind"] = "nuts";
        s["chains"] = n.options.chains;
        s["warmup"] = n.options.sampler.warmup;
        s["samples"] = n.options.sampler.samples;
        s["max_tree_depth"] = n.options.sampler.max_tree_depth;
        s["dense_mass"] = n.options.sampler.metric == diskmc::metric_kind::dense;
        s["target_accept"] = n.options.sampler.target_accept;
        s["seed"] = n.seed;
    }
    return s;
}

/// The summary of a fit run with these options (summary.json's content).
inline nlohmann::ordered_json summary_json(const diskmc::fit_result& fit, const diskmc::fit_options& options) {
    nlohmann::ordered_json root;
    auto& parameters = root["parameters"];
    for (const auto& p : fit.parameters) {
        nlohmann::ordered_json line;
        line["p16"] = number_or_null(p.p16);
        line["p50"] = number_or_null(p.p50);
        line["p84"] = number_or_null(p.p84);
        line["mean"] = number_or_null(p.mean);
        line["sd"] = number_or_null(p.sd);
        line["ess_bulk"] = number_or_null(p.ess_bulk);
        line["ess_tail"] = number_or_null(p.ess_tail);
        line["rhat"] = number_or_null(p.rhat);
        if (p.tau) line["tau"] = number_or_null(*p.tau);
        parameters[p.name] = line;
    }
    root["sampler"] = sampler_json(options);
    const diskmc::laplace_result* laplace = std::get_if<diskmc::laplace_result>(&fit.sampler);
    if (!laplace && fit.laplace_attempt) laplace = &*fit.laplace_attempt;
    if (laplace) {
        auto& l = root["laplace"];
        l["khat"] = number_or_null(laplace->khat);
        l["khat_threshold"] = laplace->khat_threshold;
        l["importance_ess"] = laplace->effective_sample_size;
        l["draws"] = laplace->draws.cols();
        l["outside_support_draws"] = laplace->outside_support_draws;
        l["invalid_draws"] = laplace->invalid_draws;
        l["verdict"] = laplace->reliable() ? "stands"
                       : fit.laplace_attempt ? "refused: NUTS ran instead"
                                             : "NOT reliable (k-hat above the threshold): use NUTS";
    }
    root["wall_seconds"] = fit.wall_seconds;
    root["log_density_evaluations"] = fit.log_density_evaluations;
    root["gradient_evaluations"] = fit.gradient_evaluations;
    root["jacobian_evaluations"] = fit.jacobian_evaluations;
    root["interrupted"] = fit.interrupted;
    root["draws_per_chain"] = fit.chains.empty() ? 0 : fit.chains.front().rows();
    root["warnings"] = fit.warnings;
    auto& fixed = root["fixed"];
    for (std::size_t k = 0; k < fit.full_names.size(); ++k) {
        bool free = false;
        for (const auto& p : fit.parameters) free = free || p.name == fit.full_names[k];
        if (!free) fixed[fit.full_names[k]] = number_or_null(fit.full_median[static_cast<Eigen::Index>(k)]);
    }
    root["pixels_fitted"] = fit.mask.count();
    if (fit.map) {
        root["map_point"] = nlohmann::ordered_json::object();
        for (std::size_t i = 0; i < fit.parameters.size(); ++i)
            root["map_point"][fit.parameters[i].name] = number_or_null(fit.map->point[static_cast<Eigen::Index>(i)]);
        root["map_converged"] = fit.map->converged();
    }
    return root;
}

}  // namespace diskmc::examples
