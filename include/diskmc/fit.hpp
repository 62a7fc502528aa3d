#pragma once
// Fitting a rotation map end to end, as eddy's rotationmap.fit_map: options
// (map, field of view, downsampling, parameters, mask, beam, MAP, sampler),
// fit_rotation_map(), and its result; plus the HD163296-like benchmark
// problem built in memory.

#include "diskmc/fit/hd163296_like.hpp"
#include "diskmc/fit/memory.hpp"
#include "diskmc/fit/options.hpp"
#include "diskmc/fit/result.hpp"
#include "diskmc/fit/run.hpp"
