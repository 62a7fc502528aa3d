#pragma once
// Automatic differentiation: the reverse-mode scalar diskmc::autodiff::var,
// autodiff::gradient(f, x, grad) for any function written for it, and
// diskmc::autodiff::differentiable(model), which gives a scalar-generic model the
// gradient NUTS needs.

#include "diskmc/autodiff/differentiable.hpp"
#include "diskmc/autodiff/gradient.hpp"
#include "diskmc/autodiff/tape.hpp"
#include "diskmc/autodiff/tile_tape.hpp"
#include "diskmc/autodiff/var.hpp"
