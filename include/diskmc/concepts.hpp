#pragma once
// The contracts between models and samplers; one concept per header.

#include "diskmc/concepts/batch_log_density.hpp"
#include "diskmc/concepts/differentiable_log_density.hpp"
#include "diskmc/concepts/disk_component.hpp"
#include "diskmc/concepts/least_squares_log_density.hpp"
#include "diskmc/concepts/log_density.hpp"
#include "diskmc/concepts/named_log_likelihood.hpp"
#include "diskmc/concepts/scalar_generic_log_density.hpp"
