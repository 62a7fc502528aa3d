// Must NOT compile: an adaptor that refers to its model, built from a
// temporary that dies at the end of the statement. The ctest
// reference_adaptor_from_temporary_is_refused builds this file and passes
// only if the compiler's message says why (differentiable_model's
// static_assert); differentiable(model{}) would own the temporary instead.

#include <Eigen/Core>
#include <cstddef>

#include "diskmc/autodiff/differentiable.hpp"

namespace {
struct standard_normal {
    std::size_t dim() const { return 1; }
    template <class T>
    T log_density(const Eigen::Matrix<T, Eigen::Dynamic, 1>& x) const {
        return T(-0.5 * x[0] * x[0]);
    }
};
}  // namespace

int main() {
    const diskmc::autodiff::differentiable_model<const standard_normal&> dangling(standard_normal{});
    return dangling.dim() == 1 ? 0 : 1;
}
