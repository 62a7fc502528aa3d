#include <catch2/catch.hpp>

#include "diskmc/concepts.hpp"
#include "diskmc/concepts/archetypes.hpp"

using namespace diskmc;

namespace {
struct no_dim {
    double log_density(const Eigen::VectorXd&) const { return 0.0; }
};
struct wrong_gradient_signature {
    std::size_t dim() const { return 1; }
    double log_density(const Eigen::VectorXd&) const { return 0.0; }
    double log_density_gradient(const Eigen::VectorXd&) const { return 0.0; }
};
struct double_only_template {
    std::size_t dim() const { return 1; }
    double log_density(const Eigen::VectorXd&) const { return 0.0; }
};
}  // namespace

TEST_CASE("concepts accept their archetypes and reject near misses", "[concepts]") {
    STATIC_REQUIRE(log_density<archetypes::log_density_archetype>);
    STATIC_REQUIRE(differentiable_log_density<archetypes::differentiable_log_density_archetype>);
    STATIC_REQUIRE(batch_log_density<archetypes::batch_log_density_archetype>);
    STATIC_REQUIRE(scalar_generic_log_density<archetypes::scalar_generic_log_density_archetype>);
    STATIC_REQUIRE(least_squares_log_density<archetypes::least_squares_log_density_archetype>);
    STATIC_REQUIRE_FALSE(least_squares_log_density<archetypes::differentiable_log_density_archetype>);
    STATIC_REQUIRE_FALSE(hessian_log_density<archetypes::least_squares_log_density_archetype>);

    STATIC_REQUIRE_FALSE(log_density<no_dim>);
    STATIC_REQUIRE_FALSE(differentiable_log_density<wrong_gradient_signature>);
    STATIC_REQUIRE_FALSE(scalar_generic_log_density<double_only_template>);
}

TEST_CASE("archetypes are standard normals", "[concepts]") {
    const Eigen::VectorXd x = Eigen::Vector2d(0.5, -1.0);
    const double expected = -0.5 * (0.25 + 1.0);
    CHECK(archetypes::log_density_archetype{}.log_density(x) == expected);
    Eigen::VectorXd grad;
    CHECK(archetypes::differentiable_log_density_archetype{}.log_density_gradient(x, grad) ==
          expected);
    CHECK(grad.isApprox(-x));
    Eigen::MatrixXd points(2, 2);
    points << 0.5, 0.0, -1.0, 2.0;
    Eigen::VectorXd out;
    archetypes::batch_log_density_archetype{}.log_density_batch(points, out);
    CHECK(out[0] == expected);
    CHECK(out[1] == -2.0);
    CHECK(archetypes::scalar_generic_log_density_archetype{}.log_density<double>(x) == expected);
}
