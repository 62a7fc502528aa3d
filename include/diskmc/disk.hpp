#pragma once
// The disk rotation-map image generator: sky grids and maps, the disk model
// (orientation, emission surfaces, rotation profiles), model images, beam
// convolution and its adjoint, and eddy's fit masks.

#include "diskmc/disk/beam.hpp"
#include "diskmc/disk/mask.hpp"
#include "diskmc/disk/model.hpp"
#include "diskmc/disk/model_adjoint.hpp"
#include "diskmc/disk/model_image.hpp"
#include "diskmc/disk/rotation.hpp"
#include "diskmc/disk/sky_grid.hpp"
#include "diskmc/disk/sky_map.hpp"
#include "diskmc/disk/surfaces.hpp"
#include "diskmc/disk/unset.hpp"
#include "diskmc/disk/velocity_fields.hpp"
#include "diskmc/math/functions.hpp"
