#pragma once
// Inference around a model: the disk families and their likelihood, named
// parameters with priors and transforms to an unconstrained space, the
// posterior of a named log-likelihood in both spaces, and the MAP step with
// covariance estimates.
//
// The namespace rule: the folders of building blocks (autodiff, fftw,
// inference, io, math, mpi) put every name in diskmc::<folder>; the model
// (disk), the concepts, the samplers, the diagnostics, the fit and the
// thread pool are in diskmc.

#include "diskmc/inference/disk_family.hpp"
#include "diskmc/inference/disk_likelihood.hpp"
#include "diskmc/inference/map.hpp"
#include "diskmc/inference/parameters.hpp"
#include "diskmc/inference/posterior.hpp"
#include "diskmc/inference/prior.hpp"
#include "diskmc/inference/transform.hpp"
