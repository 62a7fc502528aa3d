#pragma once
// How the distributed likelihood splits a map: into blocks of whole rows,
// fixed by the map and the options alone, and handed to the ranks as
// consecutive runs of blocks. Sums are kept per block and added in block
// order, so a result does not depend on the number of ranks.

#include <Eigen/Core>
#include <algorithm>
#include <vector>

#include "diskmc/errors.hpp"

namespace diskmc::mpi {

/// The rows [first, first + count) of a map.
struct row_block {
    Eigen::Index first = 0;
    Eigen::Index count = 0;
};

/// Blocks of `rows_per_block` rows covering [0, rows), the last one also
/// taking the remainder (so no block is shorter than rows_per_block unless
/// the map is).
/// @throws invalid_input if rows < 1 or rows_per_block < 1
inline std::vector<row_block> row_blocks(Eigen::Index rows, Eigen::Index rows_per_block) {
    check_argument(rows >= 1, "row_blocks", "the map must have at least one row");
    check_argument(rows_per_block >= 1, "row_blocks", "rows_per_block must be at least 1");
    const Eigen::Index count = std::max<Eigen::Index>(1, rows / rows_per_block);
    std::vector<row_block> blocks(static_cast<std::size_t>(count));
    for (Eigen::Index b = 0; b < count; ++b)
        blocks[static_cast<std::size_t>(b)] = {b * rows_per_block, rows_per_block};
    blocks.back().count = rows - blocks.back().first;
    return blocks;
}

/// How many of `blocks` consecutive blocks each of `ranks` ranks holds: as
/// even as can be, the first (blocks mod ranks) ranks one more; ranks beyond
/// the blocks hold none.
inline std::vector<int> blocks_per_rank(int blocks, int ranks) {
    check_argument(blocks >= 0 && ranks >= 1, "blocks_per_rank", "needs blocks >= 0 and ranks >= 1");
    std::vector<int> counts(static_cast<std::size_t>(ranks), blocks / ranks);
    for (int r = 0; r < blocks % ranks; ++r) ++counts[static_cast<std::size_t>(r)];
    return counts;
}

}  // namespace diskmc::mpi
