#pragma once
// diskmc over MPI (the optional target diskmc::mpi): the distributed
// likelihood and its ordered reduction, NUTS chains over ranks, the
// ensemble's walkers over ranks.

#include "diskmc/mpi/chains.hpp"
#include "diskmc/mpi/distributed_likelihood.hpp"
#include "diskmc/mpi/ordered_sum.hpp"
#include "diskmc/mpi/row_blocks.hpp"
#include "diskmc/mpi/walkers.hpp"
