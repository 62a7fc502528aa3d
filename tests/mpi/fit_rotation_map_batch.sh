#!/bin/sh
# fit_rotation_map --batch under mpiexec and in one process, on three short
# configs of which one is not valid JSON: both runs fail (exit status not 0),
# write the two good fits' folders whole, a summary with three rows (the bad
# one failed), and the same summary but for the wall times.
#   fit_rotation_map_batch.sh PROGRAM MPIEXEC [MPIEXEC FLAGS...]
. "$(dirname "$0")/batch_scratch.sh"
echo '{"downsample": 5, "threads": 1, "sampler": {"kind": "nuts", "chains": 2, "warmup": 50, "samples": 50, "seed": 3}}' > configs/chains.json
printf '# a survey\nwalkers.json\n\n  broken.json\nchains.json\n' > configs/list.txt

"$@" "$program" --batch configs/list.txt --out mpi --no-plots > mpi.log 2>&1 && fail "the MPI batch with a bad config exited 0"
"$program" --batch configs/list.txt --out sequential --no-plots > sequential.log 2>&1 && fail "the sequential batch with a bad config exited 0"
for run in mpi sequential; do
  for fit in walkers chains; do
    for file in .diskmc-output summary.json chains.csv model.fits residual.fits chains/chain_1.csv; do
      [ -e "$run/$fit/$file" ] || { cat "$run.log"; fail "$run/$fit/$file is missing"; }
    done
  done
  [ -e "$run/broken" ] && fail "$run/broken was written"
  [ "$(wc -l < "$run/batch_summary.csv")" -eq 4 ] || { cat "$run/batch_summary.csv"; fail "$run: not a header and 3 rows"; }
  grep -q '^walkers.json,ok,' "$run/batch_summary.csv" || fail "$run: walkers.json not ok"
  grep -q '^chains.json,ok,' "$run/batch_summary.csv" || fail "$run: chains.json not ok"
  grep -q '^broken.json,failed,.*not valid JSON' "$run/batch_summary.csv" || fail "$run: broken.json not failed"
  cut -d, -f1,2,4- "$run/batch_summary.csv" > "$run.without_wall_times"
done
# Equal field by field; numbers to 1e-12 relative: the draws are the same, but
# the ensemble's ESS (draws / tau) goes through FFTW, whose sums may round
# differently from one process to another in the last bits.
paste -d '\n' mpi.without_wall_times sequential.without_wall_times | awk -F, '
  NR % 2 == 1 { n = split($0, first, ","); next }
  {
    if (NF != n) exit 1
    for (i = 1; i <= NF; ++i) {
      if ($i == first[i]) continue
      if ($i !~ /^-?[0-9.e+-]+$/ || first[i] !~ /^-?[0-9.e+-]+$/) exit 1
      a = $i + 0; b = first[i] + 0; d = a - b; if (d < 0) d = -d
      m = a < 0 ? -a : a; mb = b < 0 ? -b : b; if (mb > m) m = mb
      if (d > 1e-12 * m) exit 1
    }
  }' || { diff mpi.without_wall_times sequential.without_wall_times; fail "the MPI and sequential summaries differ"; }
echo "batch under mpiexec and sequential: same summary"
