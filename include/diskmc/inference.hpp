#pragma once
// Inference around a model: named parameters with priors and transforms to
// an unconstrained space, the posterior of a named log-likelihood in both
// spaces, and the MAP step (L-BFGS-B) with covariance estimates.

#include "diskmc/inference/disk_family.hpp"
#include "diskmc/inference/disk_likelihood.hpp"
#include "diskmc/inference/map.hpp"
#include "diskmc/inference/parameters.hpp"
#include "diskmc/inference/posterior.hpp"
#include "diskmc/inference/prior.hpp"
#include "diskmc/inference/transform.hpp"
