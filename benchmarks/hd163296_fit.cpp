#include "hd163296_fit.hpp"

#include "diskmc/fit/hd163296_like.hpp"
#include "diskmc/fit/run.hpp"

namespace diskmc::bench {

fit_result fit_hd163296_like(const fit_options& options) {
    return fit_rotation_map(options, hd163296_like::family{});
}

}  // namespace diskmc::bench
