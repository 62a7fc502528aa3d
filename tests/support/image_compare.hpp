#pragma once
// Comparing images against reference fixtures: NaN where the reference has
// NaN, and the largest relative difference elsewhere.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

namespace diskmc::testing {

struct image_difference {
    bool same_shape = false;
    bool same_nan_pixels = false;
    /// max over finite reference pixels of |got - want| / max(|want|, floor)
    double max_relative = 0.0;
};

/// `floor` keeps values near zero (a phi of 1e-9 rad, the z of a thin disk)
/// from turning round-off into a large relative difference: there the test
/// is |got - want| <= tolerance * floor.
inline image_difference compare_images(const Eigen::ArrayXXd& got, const Eigen::ArrayXXd& want,
                                       double floor = 1e-3) {
    image_difference d;
    d.same_shape = got.rows() == want.rows() && got.cols() == want.cols();
    if (!d.same_shape) return d;
    d.same_nan_pixels = (got.isNaN() == want.isNaN()).all();
    for (Eigen::Index k = 0; k < want.size(); ++k) {
        const double w = want.data()[k], g = got.data()[k];
        if (std::isnan(w)) continue;
        d.max_relative = std::max(d.max_relative, std::abs(g - w) / std::max(std::abs(w), floor));
        if (std::isnan(g)) d.max_relative = INFINITY;
    }
    return d;
}

}  // namespace diskmc::testing
