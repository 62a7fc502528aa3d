#!/bin/sh
# One ensemble fit under mpiexec, its walkers spread over the ranks, against
# the same fit in one process: the same draws (every chains.csv line but the
# comments with timings), the same evaluation count (each rank counted its
# share), outputs written once. Then a NUTS config under mpiexec: refused
# before any work, one message (rank 0's), nothing written.
#   fit_rotation_map_walkers.sh PROGRAM MPIEXEC [MPIEXEC FLAGS...]
. "$(dirname "$0")/batch_scratch.sh"

"$@" "$program" --config configs/walkers.json --out ranks --no-plots > ranks.log 2>&1 ||
  { cat ranks.log; fail "the ensemble fit under mpiexec failed"; }
"$program" --config configs/walkers.json --out single --no-plots > single.log 2>&1 ||
  { cat single.log; fail "the ensemble fit in one process failed"; }
for file in .diskmc-output summary.json chains.csv model.fits residual.fits chains/chain_1.csv; do
  [ -e "ranks/$file" ] || { cat ranks.log; fail "ranks/$file is missing"; }
done
[ "$(grep -c '^Outputs in' ranks.log)" -eq 1 ] || { cat ranks.log; fail "not one rank reported the outputs"; }
grep -v '^#' ranks/chains.csv > ranks.draws
grep -v '^#' single/chains.csv > single.draws
[ "$(wc -l < single.draws)" -gt 32 ] || fail "single/chains.csv has too few draws"
cmp -s ranks.draws single.draws || { diff ranks.draws single.draws | head; fail "the draws differ"; }
count() { grep '"log_density_evaluations"' "$1/summary.json"; }
[ "$(count ranks)" = "$(count single)" ] || fail "evaluations: $(count ranks) over ranks, $(count single) in one process"

echo '{"downsample": 5, "threads": 1, "sampler": {"kind": "nuts", "chains": 2, "warmup": 50, "samples": 50}}' > configs/nuts.json
"$@" "$program" --config configs/nuts.json --out nuts --no-plots > nuts.log 2>&1 && fail "a NUTS fit under mpiexec exited 0"
[ "$(grep -c 'under mpiexec one fit spreads' nuts.log)" -eq 1 ] || { cat nuts.log; fail "not one message refusing NUTS"; }
[ -e nuts ] && fail "the refused NUTS fit wrote nuts/"
echo "ensemble over ranks: the draws of one process; NUTS refused"
