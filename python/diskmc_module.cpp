// diskmc._core: the compiled half of the Python package diskmc (python/diskmc/).
// A fit is described by the fit program's JSON configuration (read by
// examples/fit_config.hpp, the one parser of it), run with the GIL released,
// and returned as a dict of numpy arrays that diskmc.FitResult wraps.
// Ctrl-C stops a fit as the fit program's first Ctrl-C does.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <future>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "diskmc/fit.hpp"
#include "diskmc/io/fits.hpp"
#include "fit_by_name.hpp"
#include "fit_config.hpp"
#include "fit_map.hpp"
#include "fit_summary.hpp"

namespace py = pybind11;

namespace {

/// An Eigen image (rows = y) as a new C-ordered numpy array.
py::array_t<double> to_numpy(const Eigen::ArrayXXd& image) {
    py::array_t<double> out({image.rows(), image.cols()});
    auto view = out.mutable_unchecked<2>();
    for (Eigen::Index j = 0; j < image.rows(); ++j)
        for (Eigen::Index i = 0; i < image.cols(); ++i) view(j, i) = image(j, i);
    return out;
}

py::array_t<bool> to_numpy(const Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>& mask) {
    py::array_t<bool> out({mask.rows(), mask.cols()});
    auto view = out.mutable_unchecked<2>();
    for (Eigen::Index j = 0; j < mask.rows(); ++j)
        for (Eigen::Index i = 0; i < mask.cols(); ++i) view(j, i) = mask(j, i);
    return out;
}

/// The grid of a map as eddy's axes: x and y offsets (arcsec), pixel size, beam.
py::dict grid_dict(const diskmc::sky_grid& grid) {
    py::dict d;
    d["x"] = py::array_t<double>(grid.nx(), grid.x().data());
    d["y"] = py::array_t<double>(grid.ny(), grid.y().data());
    d["dpix"] = grid.pixel_size();
    if (grid.beam()) d["beam"] = py::make_tuple(grid.beam()->bmaj, grid.beam()->bmin, grid.beam()->bpa);
    else d["beam"] = py::none();
    return d;
}

/// The result as a dict: the summary as the fit program writes it (JSON
/// text, which diskmc.FitResult reads), the draws and maps as numpy arrays.
py::dict result_dict(const diskmc::fit_result& fit, const diskmc::fit_options& options) {
    py::dict out;
    std::vector<std::string> names;
    for (const auto& p : fit.parameters) names.push_back(p.name);
    out["names"] = names;
    out["report"] = diskmc::examples::summary_json(fit, options)
                        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    // Draws: chains x draws x parameters (every chain holds as many draws).
    const auto chains = static_cast<py::ssize_t>(fit.chains.size());
    const py::ssize_t draws = fit.chains.empty() ? 0 : fit.chains.front().rows();
    const auto dim = static_cast<py::ssize_t>(names.size());
    py::array_t<double> all({chains, draws, dim});
    py::array_t<double> log_density({chains, draws});
    auto view = all.mutable_unchecked<3>();
    auto lp = log_density.mutable_unchecked<2>();
    for (py::ssize_t c = 0; c < chains; ++c)
        for (py::ssize_t d = 0; d < draws; ++d) {
            for (py::ssize_t k = 0; k < dim; ++k) view(c, d, k) = fit.chains[static_cast<std::size_t>(c)](d, k);
            lp(c, d) = fit.log_densities[static_cast<std::size_t>(c)][d];
        }
    out["draws"] = all;
    out["log_density"] = log_density;
    py::dict medians;
    for (std::size_t k = 0; k < fit.full_names.size(); ++k)
        medians[py::str(fit.full_names[k])] = fit.full_median[static_cast<Eigen::Index>(k)];
    out["medians"] = medians;
    out["model"] = to_numpy(fit.model);
    out["residual"] = to_numpy(fit.residual);
    out["mask"] = to_numpy(fit.mask);
    out["data"] = to_numpy(fit.fitted_map.data);
    out["uncertainty"] = to_numpy(fit.fitted_map.uncertainty);
    out["grid"] = grid_dict(fit.fitted_map.grid);
    return out;
}

/// Runs a fit on a worker thread with the GIL released, checking Python's
/// signals every 50 ms: a KeyboardInterrupt (Ctrl-C, or any exception a
/// signal handler raises) sets the fit's stop flag. Stopped before sampling,
/// the Python exception is raised; during sampling, the fit's result of the
/// draws so far (marked interrupted) is returned.
diskmc::fit_result run_interruptibly(diskmc::fit_options& options) {
    std::atomic<bool> stop{false};
    struct forget_stop_flag {  // the options outlive this call and the flag
        diskmc::fit_options& options;
        ~forget_stop_flag() { options.stop_requested = {}; }
    } forget{options};
    options.stop_requested = [&stop] { return stop.load(std::memory_order_relaxed); };
    auto fit = std::async(std::launch::async, [&options] { return diskmc::examples::fit_by_name(options); });
    std::optional<py::error_already_set> signal_error;
    for (;;) {
        bool done = false;
        {
            py::gil_scoped_release release;
            done = fit.wait_for(std::chrono::milliseconds(50)) == std::future_status::ready;
        }
        if (done) break;
        if (!signal_error && PyErr_CheckSignals() != 0) {
            signal_error.emplace();  // takes the Python error out of the interpreter's state
            stop = true;
        }
    }
    try {
        return fit.get();
    } catch (const diskmc::interrupted&) {
        if (signal_error) throw std::move(*signal_error);
        throw;
    }
}

/// The config (JSON text) as the fit program reads it; relative paths start at `base`.
diskmc::examples::fit_config read_config(const std::string& json_text, const std::string& base) {
    return diskmc::examples::parse_fit_config_text(json_text, "config", std::filesystem::path(base));
}

py::dict fit(const std::string& json_text, const std::string& base) {
    diskmc::examples::fit_config config = read_config(json_text, base);
    config.options.map = diskmc::examples::load_map(config);
    return result_dict(run_interruptibly(config.options), config.options);
}

/// The map of a config after its field of view and downsampling, with its grid.
py::dict read_map(const std::string& json_text, const std::string& base) {
    diskmc::examples::fit_config config = read_config(json_text, base);
    config.options.map = diskmc::examples::load_map(config);
    const diskmc::sky_map map = diskmc::detail::prepare_map(config.options);
    py::dict out = grid_dict(map.grid);
    out["data"] = to_numpy(map.data);
    out["uncertainty"] = to_numpy(map.uncertainty);
    return out;
}

/// eddy's model image at `values` (name -> value, the rest at their
/// defaults) on the grid of a config's map, or on a centred grid.
template <class Family>
Eigen::ArrayXXd image_of(const Family& family, const std::vector<diskmc::inference::parameter>& values,
                         const diskmc::sky_grid& grid, bool convolve_beam) {
    const diskmc::inference::parameter_set parameters(values, family.catalogue());
    const Eigen::VectorXd full = diskmc::detail::full_start(parameters, family.parameter_names());
    if constexpr (requires { family.check("model_image", full); }) family.check("model_image", full);
    return diskmc::model_image(family.template make<double>(full), grid, {.convolve_beam = convolve_beam});
}

py::array_t<double> model_image(const std::vector<std::pair<std::string, double>>& values,
                                const std::string& model_json, const diskmc::grid_header& header, bool convolve_beam) {
    std::vector<diskmc::inference::parameter> fixed;
    for (const auto& [name, value] : values) fixed.push_back(diskmc::inference::fixed_parameter(name, value));
    // The model as the config's "model" reads it: the same names and messages.
    const diskmc::disk_model_choice choice =
        diskmc::examples::detail::model_at(nlohmann::json::parse(model_json), "model_image: model");
    const diskmc::sky_grid grid = diskmc::sky_grid::from_header(header);
    Eigen::ArrayXXd image;
    {
        py::gil_scoped_release release;
        image = diskmc::with_chosen_family(choice, fixed, "model_image", [&](const auto& family) {
            return image_of(family, fixed, grid, convolve_beam);
        });
    }
    return to_numpy(image);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "diskmc's compiled core; use the package diskmc";
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const diskmc::invalid_input& e) {
            PyErr_SetString(PyExc_ValueError, e.what());
        } catch (const diskmc::interrupted& e) {
            PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
        }
    });
    m.def("fit", &fit, py::arg("config_json"), py::arg("base_dir"),
          "Runs the fit a JSON configuration describes (the fit program's); returns a dict.");
    m.def("read_map", &read_map, py::arg("config_json"), py::arg("base_dir"),
          "The map of a configuration after its fov and downsampling: data, uncertainty, x, y, dpix, beam.");
    m.def(
        "model_image",
        [](const std::vector<std::pair<std::string, double>>& values, const std::string& model_json, Eigen::Index nx,
           Eigen::Index ny, double cdelt1_deg, double cdelt2_deg,
           std::optional<std::tuple<double, double, double>> beam, bool convolve_beam) {
            diskmc::grid_header header{.nx = nx, .ny = ny, .cdelt1 = cdelt1_deg, .cdelt2 = cdelt2_deg};
            if (beam) header.beam = diskmc::beam_shape{std::get<0>(*beam), std::get<1>(*beam), std::get<2>(*beam)};
            return model_image(values, model_json, header, convolve_beam);
        },
        py::arg("values"), py::arg("model_json"), py::arg("nx"), py::arg("ny"), py::arg("cdelt1_deg"), py::arg("cdelt2_deg"),
        py::arg("beam"), py::arg("convolve_beam"));
}
