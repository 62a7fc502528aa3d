#!/bin/sh
# fit_rotation_map --batch stopped by SIGTERM (what Ctrl-C becomes under
# mpiexec: mpirun sends every rank SIGTERM, then SIGKILL 1 s later).
# Under mpiexec -n 3, on a list of a config that fails at once, a short
# fit (walkers.json) and a long one: once the short fit's folder is
# written, SIGTERM to mpiexec; the summary must still be there, with the
# short fit ok, the bad config failed and the long fit interrupted. In one
# process, on the long fit and the short one (the long one runs first):
# SIGTERM during the long fit; the summary marks it interrupted and the
# short one not started.
#   fit_rotation_map_batch_interrupt.sh PROGRAM MPIEXEC [MPIEXEC FLAGS...]
. "$(dirname "$0")/batch_scratch.sh"
# The long fit runs until it is stopped.
echo '{"downsample": 5, "threads": 1, "sampler": {"kind": "ensemble", "walkers": 32, "burn": 20, "steps": 1000000, "thin": 100, "seed": 12}}' > configs/long.json
printf 'walkers.json\nlong.json\nbroken.json\n' > configs/mpi.txt
printf 'long.json\nwalkers.json\n' > configs/sequential.txt

# Waits up to 120 s for FILE to exist while process PID runs.
wait_for() {
  tries=0
  while [ ! -e "$1" ]; do
    tries=$((tries + 1))
    { [ "$tries" -gt 1200 ] || ! kill -0 "$2" 2>/dev/null; } && return 1
    sleep 0.1
  done
}

"$@" "$program" --batch configs/mpi.txt --out mpi --no-plots < /dev/null > mpi.log 2>&1 &
pid=$!
wait_for mpi/walkers/summary.json "$pid" || { kill -KILL "$pid" 2>/dev/null; cat mpi.log; fail "the short fit (walkers.json) was not written"; }
sleep 0.5  # the long fit is sampling
kill -TERM "$pid"
wait "$pid"
status=$?
[ "$status" -eq 0 ] && { cat mpi.log; fail "the interrupted MPI batch exited 0"; }
[ -e mpi/batch_summary.csv ] || { cat mpi.log; fail "no batch summary after SIGTERM under mpiexec"; }
[ "$(wc -l < mpi/batch_summary.csv)" -eq 4 ] || { cat mpi/batch_summary.csv; fail "mpi: not a header and 3 rows"; }
grep -q '^walkers.json,ok,' mpi/batch_summary.csv || { cat mpi/batch_summary.csv; fail "mpi: walkers.json not ok"; }
grep -q '^broken.json,failed,.*not valid JSON' mpi/batch_summary.csv || { cat mpi/batch_summary.csv; fail "mpi: broken.json not failed"; }
grep -q '^long.json,interrupted,' mpi/batch_summary.csv || { cat mpi.log mpi/batch_summary.csv; fail "mpi: long.json not interrupted"; }
for file in .diskmc-output summary.json chains.csv; do
  [ -e "mpi/walkers/$file" ] || fail "mpi/walkers/$file is missing"
done

"$program" --batch configs/sequential.txt --out sequential --no-plots < /dev/null > sequential.log 2>&1 &
pid=$!
# The long fit runs first (the costliest); its MAP step or its sampling is
# stopped, either way it reports interrupted.
sleep 2
kill -TERM "$pid"
wait "$pid"
status=$?
[ "$status" -eq 130 ] || { cat sequential.log; fail "the interrupted sequential batch exited $status, not 130"; }
[ "$(wc -l < sequential/batch_summary.csv)" -eq 3 ] || { cat sequential/batch_summary.csv; fail "sequential: not a header and 2 rows"; }
grep -q '^long.json,interrupted,' sequential/batch_summary.csv || { cat sequential/batch_summary.csv; fail "sequential: long.json not interrupted"; }
grep -q '^walkers.json,interrupted,.*not started' sequential/batch_summary.csv || { cat sequential/batch_summary.csv; fail "sequential: walkers.json not marked not started"; }
[ -e sequential/walkers ] && fail "sequential/walkers was written"
echo "batch interrupted under mpiexec and in one process: the summary written, unfinished fits marked"
