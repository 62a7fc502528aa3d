#pragma once
// FITS maps (placeholder until the reader lands).
#include <fitsio.h>
