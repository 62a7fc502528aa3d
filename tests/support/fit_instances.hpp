#pragma once
// The fit pipeline, compiled once for the whole test executable.
//
// fit_rotation_map(options) is an inline function that picks one of eddy's
// two model families, so every file that includes diskmc/fit.hpp instantiates
// the whole pipeline (likelihood, MAP step, both samplers) twice, called or
// not: the costliest part of compiling the tests. Files that include this
// header instead take both instantiations from fit_instances.cpp. What runs is
// the same code; only where it is compiled changes.

#include "diskmc/fit/run.hpp"

namespace diskmc {

extern template fit_result fit_rotation_map<flared_keplerian_family>(const fit_options&,
                                                                      const flared_keplerian_family&);
extern template fit_result fit_rotation_map<thin_keplerian_family>(const fit_options&,
                                                                   const thin_keplerian_family&);

}  // namespace diskmc
