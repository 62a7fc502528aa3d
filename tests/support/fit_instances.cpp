// The one instantiation of the fit pipeline in the test executable (see
// fit_instances.hpp).

#include "diskmc/fit/run.hpp"

namespace diskmc {

template fit_result fit_rotation_map<flared_keplerian_family>(const fit_options&, const flared_keplerian_family&);
template fit_result fit_rotation_map<thin_keplerian_family>(const fit_options&, const thin_keplerian_family&);

}  // namespace diskmc
