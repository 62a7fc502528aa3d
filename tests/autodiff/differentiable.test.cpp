#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "diskmc/autodiff/differentiable.hpp"
#include "diskmc/concepts.hpp"
#include "diskmc/concepts/archetypes.hpp"
#include "diskmc/parallel/parallel_for.hpp"
#include "support/gradient_check.hpp"

namespace {

constexpr double infinity = std::numeric_limits<double>::infinity();

/// A bent 2-D Gaussian ("banana"): x0 ~ N(0, 2^2), x1 | x0 ~ N(b x0^2, 1).
struct banana {
    double bend = 0.5;
    std::size_t dim() const { return 2; }
    template <class T>
    T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& x) const {
        const T offset = x[1] - bend * x[0] * x[0];
        return T(-0.5 * (x[0] * x[0] / 4.0 + offset * offset));
    }
};

/// Exponential in each coordinate: -inf outside x > 0, an infinite gradient
/// of sqrt at x0 = 0 on request, NaN for x1 > 100 (a model with a bug).
struct awkward {
    std::size_t dim() const { return 2; }
    template <class T>
    T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& x) const {
        using std::log;
        using std::sqrt;
        if (x[0] < 0.0 || x[1] <= 0.0) return T(-std::numeric_limits<double>::infinity());
        if (x[1] > 100.0) return T(std::numeric_limits<double>::quiet_NaN());
        return T(sqrt(x[0]) - x[1] + log(x[1]));
    }
};

/// A scalar-generic model that also evaluates many points at once.
struct batched : diskmc::archetypes::scalar_generic_log_density_archetype {
    void log_density_batch(const Eigen::MatrixXd& points, Eigen::VectorXd& out) const {
        out = -0.5 * points.colwise().squaredNorm().transpose();
    }
};

}  // namespace

TEST_CASE("differentiable(model) satisfies the concepts and keeps dim and batch",
          "[autodiff][differentiable]") {
    using diskmc::autodiff::differentiable;
    const auto archetype = differentiable(diskmc::archetypes::scalar_generic_log_density_archetype{3});
    STATIC_REQUIRE(diskmc::differentiable_log_density<decltype(archetype)>);
    STATIC_REQUIRE_FALSE(diskmc::batch_log_density<decltype(archetype)>);
    CHECK(archetype.dim() == 3);

    const auto with_batch = differentiable(batched{});
    STATIC_REQUIRE(diskmc::batch_log_density<decltype(with_batch)>);
    Eigen::MatrixXd points(2, 3);
    points << 0.0, 1.0, 2.0, 0.5, -1.0, 0.0;
    Eigen::VectorXd out;
    with_batch.log_density_batch(points, out);
    REQUIRE(out.size() == 3);
    CHECK(out[1] == -1.0);

    Eigen::VectorXd grad;
    const Eigen::VectorXd x = (Eigen::VectorXd(3) << 0.5, -1.0, 2.0).finished();
    CHECK(archetype.log_density_gradient(x, grad) == -0.5 * x.squaredNorm());
    CHECK(grad == -x);
    CHECK(archetype.log_density(x) == -0.5 * x.squaredNorm());
}

TEST_CASE("differentiable(model) refers to an lvalue and owns an rvalue", "[autodiff][differentiable]") {
    banana model;
    const auto referring = diskmc::autodiff::differentiable(model);
    const auto owning = diskmc::autodiff::differentiable(banana{});
    model.bend = 2.0;
    const Eigen::Vector2d x(1.0, 0.0);
    CHECK(referring.log_density(x) == Approx(-0.5 * (0.25 + 4.0)));
    CHECK(owning.log_density(x) == Approx(-0.5 * (0.25 + 0.25)));
    CHECK(&referring.model() == &model);
    static_assert(std::is_same_v<std::remove_const_t<decltype(referring)>, diskmc::autodiff::differentiable_model<const banana&>>);
    static_assert(std::is_same_v<std::remove_const_t<decltype(owning)>, diskmc::autodiff::differentiable_model<banana>>);
}

/// A model whose data lives on the heap, so a dangling reference to a
/// destroyed one reads freed memory (AddressSanitizer reports it).
struct heap_held_gaussian {
    std::vector<double> mean = std::vector<double>(3, 1.5);
    std::size_t dim() const { return mean.size(); }
    template <class T>
    T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& x) const {
        T sum(0.0);
        for (std::size_t i = 0; i < mean.size(); ++i) {
            const T offset = x[static_cast<Eigen::Index>(i)] - mean[i];
            sum += offset * offset;
        }
        return T(-0.5 * sum);
    }
};

TEST_CASE("differentiable(model) built from a temporary stays valid after the full-expression",
          "[autodiff][differentiable]") {
    const auto target = diskmc::autodiff::differentiable(heap_held_gaussian{});
    static_assert(std::is_same_v<std::remove_const_t<decltype(target)>, diskmc::autodiff::differentiable_model<heap_held_gaussian>>);
    const Eigen::VectorXd x = Eigen::VectorXd::Constant(3, 0.5);
    Eigen::VectorXd grad;
    CHECK(target.log_density_gradient(x, grad) == Approx(-1.5));
    CHECK(grad.isApprox(Eigen::VectorXd::Constant(3, 1.0)));
}

TEST_CASE("differentiable(model) gradients pass the gradient checker", "[autodiff][differentiable]") {
    const auto target = diskmc::autodiff::differentiable(banana{});
    for (const Eigen::Vector2d& x : {Eigen::Vector2d(1.0, 0.2), Eigen::Vector2d(-2.5, 3.0), Eigen::Vector2d(0.0, 0.0)}) {
        const auto report = diskmc::testing::check_model_gradient(target, x);
        INFO(report.describe());
        CHECK(report.value == report.double_value);
        CHECK(report.has_oracle);
        CHECK(report.versus_oracle.max_rel_error <= 1e-14);
        CHECK(report.agrees_with_finite_difference(1e-9));
    }
    // The closed form: d/dx0 = -x0/4 + 2 b x0 (x1 - b x0^2), d/dx1 = -(x1 - b x0^2).
    Eigen::VectorXd grad;
    target.log_density_gradient(Eigen::Vector2d(1.0, 0.2), grad);
    CHECK(grad[0] == Approx(-0.25 + 2 * 0.5 * 1.0 * (0.2 - 0.5)).epsilon(1e-15));
    CHECK(grad[1] == Approx(-(0.2 - 0.5)).epsilon(1e-15));
}

TEST_CASE("differentiable(model) reports -infinity, never NaN, outside the support",
          "[autodiff][differentiable]") {
    const auto target = diskmc::autodiff::differentiable(awkward{});
    Eigen::VectorXd grad;
    SECTION("outside the support") {
        CHECK(target.log_density(Eigen::Vector2d(-1.0, 1.0)) == -infinity);
        CHECK(target.log_density_gradient(Eigen::Vector2d(-1.0, 1.0), grad) == -infinity);
        CHECK(grad.size() == 2);
    }
    SECTION("a NaN value") {
        CHECK(target.log_density(Eigen::Vector2d(1.0, 200.0)) == -infinity);
        CHECK(target.log_density_gradient(Eigen::Vector2d(1.0, 200.0), grad) == -infinity);
    }
    SECTION("a finite value with an infinite gradient") {
        CHECK(target.log_density(Eigen::Vector2d(0.0, 1.0)) == Approx(-1.0));
        CHECK(target.log_density_gradient(Eigen::Vector2d(0.0, 1.0), grad) == -infinity);
        CHECK(grad.allFinite());
    }
    SECTION("inside") {
        const double value = target.log_density_gradient(Eigen::Vector2d(0.25, 2.0), grad);
        CHECK(value == Approx(0.5 - 2.0 + std::log(2.0)));
        CHECK(grad[0] == Approx(1.0));  // 1 / (2 sqrt(0.25))
        CHECK(grad[1] == Approx(-0.5));
    }
}

TEST_CASE("differentiable(model) is safe to call from several threads", "[autodiff][differentiable][threads]") {
    const auto target = diskmc::autodiff::differentiable(banana{});
    const std::size_t count = 200;
    std::vector<Eigen::VectorXd> grads(count);
    std::vector<double> values(count);
    auto x_of = [](std::size_t i) { return Eigen::Vector2d(0.01 * double(i) - 1.0, 0.5 - 0.003 * double(i)); };
    diskmc::parallel_for(count, 4, [&](std::size_t i) { values[i] = target.log_density_gradient(x_of(i), grads[i]); });
    for (std::size_t i = 0; i < count; ++i) {
        Eigen::VectorXd serial;
        CHECK(target.log_density_gradient(x_of(i), serial) == values[i]);
        CHECK(serial == grads[i]);
    }
}
