// A consumer of the installed library: includes the umbrella header and the
// FITS header, and uses one piece of each, and runs find_map, whose header
// needs LBFGSpp (found through find_package(diskmc)).
#include <diskmc/diskmc.hpp>
#include <diskmc/concepts/archetypes.hpp>
#include <diskmc/inference/map.hpp>
#include <diskmc/io/fits.hpp>

#include <cmath>
#include <iostream>
#include <limits>

namespace {

/// log p = -|x - (1, -2)|^2 / 2.
struct quadratic {
    std::size_t dim() const { return 2; }
    double log_density(const Eigen::VectorXd& x) const { return -0.5 * (x - centre()).squaredNorm(); }
    double log_density_gradient(const Eigen::VectorXd& x, Eigen::VectorXd& gradient) const {
        gradient = centre() - x;
        return log_density(x);
    }
    static Eigen::VectorXd centre() { return Eigen::Vector2d(1.0, -2.0); }
};

}  // namespace

int main() {
    static_assert(diskmc::log_density<diskmc::archetypes::log_density_archetype>);
    const double inf = std::numeric_limits<double>::infinity();
    const diskmc::inference::map_result map = diskmc::inference::find_map(
        quadratic{}, Eigen::Vector2d(0.0, 0.0), Eigen::Vector2d(-inf, -inf), Eigen::Vector2d(inf, inf));
    if (!map.converged() || (map.point - quadratic::centre()).norm() > 1e-5) {
        std::cerr << "consumer: find_map missed the optimum: " << map.point.transpose() << "\n";
        return 1;
    }
    std::cout << "consumer: built against the installed diskmc; find_map (LBFGSpp) found the optimum\n";
    return 0;
}
