# Sourced by the fit program's MPI test scripts (PROGRAM MPIEXEC [MPIEXEC FLAGS...]):
# `program` from $1, shifted off so that "$@" is the mpiexec command; a
# scratch folder, removed on exit, as the working folder; `fail MESSAGE`;
# and in configs/ the built-in benchmark problem downsampled 5x as
# walkers.json (an ensemble fit of a second or so) and broken.json (not
# valid JSON).
set -u
program=$1
shift
dir=$(mktemp -d "${TMPDIR:-/tmp}/diskmc_batch_XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAILED: $*"; exit 1; }
cd "$dir" || exit 1
mkdir configs
echo '{"downsample": 5, "threads": 1, "sampler": {"kind": "ensemble", "walkers": 32, "burn": 20, "steps": 40, "seed": 11}}' > configs/walkers.json
echo '{"downsample": 5, "sampler": ' > configs/broken.json
