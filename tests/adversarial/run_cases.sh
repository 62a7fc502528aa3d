#!/usr/bin/env bash
# Adversarial cases for examples/fit_rotation_map: bad configs, broken FITS
# files, hostile output folders and file names, concurrent runs, kills,
# interrupts and --resume, command-line misuse.
#
#   tests/adversarial/run_cases.sh PROGRAM DATA_DIR [NAME_FILTER]
#
# PROGRAM is the fit_rotation_map binary (best built with DISKMC_SANITIZE=ON),
# DATA_DIR the shared data folder (bench/*.fits). One line per case,
# "PASS name" or "FAIL name: why", then "N passed, N failed"; exit status 1
# if any case failed. User text is never evaluated: every command is an
# argument vector. Temporary folders are removed at the end
# (ADV_KEEP=1 keeps them). ADV_TIMEOUT (default 180) caps each run.
set -u
if [[ $# -lt 2 ]]; then
    echo "usage: $0 PROGRAM DATA_DIR [NAME_FILTER]" >&2
    exit 2
fi
PROG=$(realpath -- "$1")
DATA=$(realpath -- "$2")
FILTER=${3:-}
HERE=$(cd -- "$(dirname -- "$0")" && pwd)
[[ -x $PROG ]] || { echo "$0: $PROG is not an executable" >&2; exit 2; }
[[ -f $DATA/bench/hd163296_like_v0.fits ]] || { echo "$0: no bench/*.fits in $DATA" >&2; exit 2; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
TIMEOUT=${ADV_TIMEOUT:-180}
ROOT=$(mktemp -d /tmp/diskmc-adversarial.XXXXXX)
LOGS=$ROOT/logs
FX=$ROOT/fx
mkdir -p "$LOGS" "$FX"
BACKGROUND=()

cleanup() {
    local pid
    for pid in "${BACKGROUND[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    wait 2>/dev/null
    cd /
    if [[ -z ${ADV_KEEP:-} ]]; then
        chmod -R u+rwx "$ROOT" 2>/dev/null
        rm -rf -- "$ROOT"
    else
        echo "kept $ROOT" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

/usr/bin/python3 "$HERE/make_fits.py" "$DATA/bench" "$FX" || { echo "$0: make_fits.py failed" >&2; exit 2; }

passed=0
failed=0
number=0
NAME=
WHY=()
T=
RC=
SKIP=0

# begin NAME: a fresh case folder $T, the current directory.
begin() {
    NAME=$1
    WHY=()
    SKIP=0
    number=$((number + 1))
    T=$ROOT/c$number
    mkdir -p "$T"
    cd "$T" || exit 2
    if [[ -n $FILTER && $NAME != *"$FILTER"* ]]; then SKIP=1; fi
}

finish() {
    cd "$ROOT" || exit 2
    if ((SKIP)); then
        rm -rf -- "$T"
        return
    fi
    if ((${#WHY[@]} == 0)); then
        echo "PASS $NAME"
        passed=$((passed + 1))
    else
        local IFS='; '
        echo "FAIL $NAME: ${WHY[*]}"
        failed=$((failed + 1))
        cp -- "$LOGS/err" "$LOGS/fail$number.err" 2>/dev/null
    fi
    if [[ -z ${ADV_KEEP:-} ]]; then
        chmod -R u+rwx "$T" 2>/dev/null
        rm -rf -- "$T"
    fi
}

why() { WHY+=("$*"); }

# Checks the last run's stderr for sanitizer reports.
no_sanitizer() {
    local f=${1:-$LOGS/err}
    if grep -qE 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' -- "$f"; then
        why "sanitizer: $(grep -m1 -E 'ERROR|runtime error' -- "$f" | head -c 200)"
    fi
}

# run EXPECTED ARGS...: runs the program (stdin /dev/null, capped by
# $TIMEOUT); EXPECTED is an exit status or an alternation like "0|1".
run() {
    local expected=$1
    shift
    ((SKIP)) && return
    timeout -k 5 "$TIMEOUT" "$PROG" "$@" </dev/null >"$LOGS/out" 2>"$LOGS/err"
    RC=$?
    if [[ ! $RC =~ ^($expected)$ ]]; then
        why "exit $RC, expected $expected ($(tr '\n' ' ' <"$LOGS/err" | head -c 300))"
    fi
    no_sanitizer
}

# run_within SECONDS EXPECTED ARGS...: as run, with a short timeout (a hang fails).
run_within() {
    local seconds=$1 expected=$2
    shift 2
    ((SKIP)) && return
    timeout -k 2 "$seconds" "$PROG" "$@" </dev/null >"$LOGS/out" 2>"$LOGS/err"
    RC=$?
    if [[ $RC == 124 || $RC == 137 ]]; then
        why "hung: still running after ${seconds}s"
    elif [[ ! $RC =~ ^($expected)$ ]]; then
        why "exit $RC, expected $expected ($(tr '\n' ' ' <"$LOGS/err" | head -c 300))"
    fi
    no_sanitizer
}

err_has() {
    ((SKIP)) && return
    grep -qiE -- "$1" "$LOGS/err" || why "stderr lacks /$1/: $(tr '\n' ' ' <"$LOGS/err" | head -c 300)"
}
out_has() {
    ((SKIP)) && return
    grep -qiE -- "$1" "$LOGS/out" || why "stdout lacks /$1/"
}
one_line_error() {
    ((SKIP)) && return
    local lines
    lines=$(grep -c '' "$LOGS/err")
    ((lines <= 2)) || why "stderr has $lines lines (expected one message)"
}
absent() {
    ((SKIP)) && return
    local p
    for p in "$@"; do
        if [[ -e $p || -L $p ]]; then why "'$p' exists"; fi
    done
}
present() {
    ((SKIP)) && return
    local p
    for p in "$@"; do
        [[ -e $p ]] || why "'$p' missing"
    done
}
# no_litter DIR: no lock file, staging or old folder of a run left in DIR.
no_litter() {
    ((SKIP)) && return
    local dir=${1:-$T} left
    left=$(find "$dir" -maxdepth 1 -name '.*diskmc-*' -printf '%f ' 2>/dev/null)
    [[ -z $left ]] || why "left in $dir: $left"
}
# complete DIR: DIR holds one whole finished run.
complete() {
    ((SKIP)) && return
    local d=$1
    present "$d/summary.json" "$d/chains.csv" "$d/model.fits" "$d/residual.fits" "$d/.diskmc-output" "$d/chains"
    absent "$d/resume"
    if [[ -f $d/summary.json ]] && ! grep -q '"interrupted": false' "$d/summary.json"; then
        why "$d/summary.json does not say interrupted: false"
    fi
    no_litter "$(dirname -- "$d")"
}
same_file() {
    ((SKIP)) && return
    cmp -s -- "$1" "$2" || why "'$1' changed"
}
# refused: the usual expectations of a rejected run into $T/out.
refused() {
    ((SKIP)) && return
    absent "$T/out"
    no_litter "$T"
}
# draws FILE: the draws of a CmdStan CSV file without its comment lines.
draws() { grep -v '^#' -- "$1"; }

# wait_for FILE SECONDS: waits until FILE exists (true) or gives up (false).
wait_for() {
    local file=$1 tenths=$(($2 * 10)) i
    for ((i = 0; i < tenths; ++i)); do
        compgen -G "$file" >/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# The quick samplers and configs. The built-in problem has 9 free parameters.
ENS='{"kind": "ensemble", "walkers": 20, "burn": 5, "steps": 10, "seed": 1}'
NUTS='{"kind": "nuts", "chains": 2, "warmup": 10, "samples": 10, "seed": 1}'
# builtin FILE [SAMPLER [EXTRA_KEYS]]: a built-in-problem config.
builtin() {
    local file=$1 sampler=${2:-$ENS} extra=${3:-}
    printf '{"downsample": 5, "optimize": false, %s"sampler": %s}\n' "${extra:+$extra, }" "$sampler" >"$file"
}
THIN_PARAMS='{"x0": {"start": 0.0}, "y0": {"start": 0.0}, "PA": {"start": 312.0}, "mstar": {"start": 2.0}, "vlsr": {"start": 5700.0}, "inc": 46.7, "dist": 101.0}'
ENS5='{"kind": "ensemble", "walkers": 10, "burn": 2, "steps": 4, "seed": 1}'
# mapcfg FILE MAP UNCERTAINTY [EXTRA_KEYS]: a config fitting FITS files.
mapcfg() {
    local file=$1 map=$2 unc=$3 extra=${4:-\"downsample\": 5}
    # JSON-escape the paths (backslash and quote; others pass as they are)
    map=${map//\\/\\\\}; map=${map//\"/\\\"}
    unc=${unc//\\/\\\\}; unc=${unc//\"/\\\"}
    printf '{"map": "%s", "uncertainty": "%s", %s, "params": %s, "mask": {"r_min": 0.3}, "optimize": false, "sampler": %s}\n' \
        "$map" "$unc" "$extra" "$THIN_PARAMS" "$ENS5" >"$file"
}
NP=--no-plots

# ---------------------------------------------------------------- command line
begin "cli: no arguments"; run 2; err_has usage; finish
begin "cli: --help"; run 0 --help; out_has usage; finish
begin "cli: -h"; run 0 -h; out_has usage; finish
begin "cli: unknown flag"; run 2 --frobnicate; err_has "unknown argument --frobnicate"; finish
begin "cli: positional argument"; run 2 fit.json; err_has "unknown argument"; finish
begin "cli: --config without value"; run 2 --config; err_has "missing value"; finish
begin "cli: --out without value"; run 2 --demo --out; err_has "missing value"; refused; finish
begin "cli: --out alone"; run 2 --out x; err_has "--config"; absent x; finish
begin "cli: --config twice"
builtin a.json; builtin b.json
run 2 --config a.json --config b.json --out out $NP; err_has "twice|once|more than one"; refused; finish
begin "cli: --out twice"
builtin a.json
run 2 --config a.json --out out --out out2 $NP; err_has "twice|once|more than one"; refused; absent out2; finish
begin "cli: --resume twice"; run 2 --resume a --resume b; absent a b; finish
begin "cli: --resume with --out"; run 2 --resume out --out other; absent out other; finish
begin "cli: --resume with --config"; builtin a.json; run 2 --resume out --config a.json; refused; finish
begin "cli: --resume with --demo"; run 2 --resume out --demo; refused; finish
begin "cli: --resume empty name"; run 2 --resume ""; finish
begin "cli: --out empty name"; builtin a.json; run "1|2" --config a.json --out "" $NP; err_has "folder"; no_litter; finish
begin "cli: --config empty name"; run 1 --config "" --out out $NP; err_has "cannot open|not a file|no such"; refused; finish
begin "cli: --demo with a config naming a map"
mapcfg a.json "$FX/v0.fits" "$FX/dv0.fits"
run 2 --demo --config a.json --out out $NP; err_has "demo"; refused; finish
begin "cli: --out=x syntax is unknown"; run 2 --demo --out=x; absent --out=x; finish

# ---------------------------------------------------------------- config files
bad_config() {  # bad_config NAME TEXT STDERR_REGEX
    begin "config: $1"
    printf '%s' "$2" >c.json
    run 1 --config c.json --out out $NP
    err_has "c\\.json"
    [[ -n ${3:-} ]] && err_has "$3"
    one_line_error
    refused
    finish
}
bad_config "empty file" "" "JSON"
bad_config "only whitespace" $'  \n\t ' "JSON"
bad_config "unclosed object" '{' "JSON"
bad_config "trailing garbage" '{} x' "JSON"
bad_config "top level array" '[]' "object"
bad_config "top level null" 'null' "object"
bad_config "top level string" '"fit"' "object"
bad_config "top level number" '42' "object"
bad_config "comment" '{ /* c */ "downsample": 5}' "JSON"
bad_config "trailing comma" '{"downsample": 5,}' "JSON"
bad_config "single quotes" "{'downsample': 5}" "JSON"
bad_config "fov as string" '{"fov": "7"}' "fov"
bad_config "fov 1e400" '{"fov": 1e400}' "JSON|fov|overflow|range"
bad_config "fov -1e400" '{"fov": -1e400}' "JSON|fov|overflow|range"
bad_config "fov NaN literal" '{"fov": NaN}' "JSON"
bad_config "fov Infinity literal" '{"fov": Infinity}' "JSON"
bad_config "fov NaN string" '{"fov": "NaN"}' "fov"
bad_config "fov null" '{"fov": null}' "fov"
bad_config "fov negative" '{"fov": -7, "downsample": 5}' "fov|field"
bad_config "fov zero" '{"fov": 0, "downsample": 5}' "fov|field"
bad_config "fov tiny" '{"fov": 1e-300, "downsample": 5}' "fov|field|pixel|downsample"
bad_config "duplicate top-level key" '{"downsample": 5, "downsample": 4}' "twice"
bad_config "duplicate key in params" '{"params": {"x0": 0, "x0": 1}}' "twice"
bad_config "fixed and free at once" '{"params": {"PA": 312, "PA": {"start": 312}}}' "twice"
bad_config "duplicate key in sampler" '{"sampler": {"kind": "nuts", "kind": "ensemble"}}' "twice"
bad_config "unknown top-level key" '{"samplr": {}}' "samplr"
bad_config "unknown key in sampler" '{"sampler": {"kind": "nuts", "stepsize": 1}}' "stepsize"
bad_config "ensemble key in nuts" '{"sampler": {"kind": "nuts", "walkers": 10}}' "walkers"
bad_config "unknown key in mask" '{"mask": {"rmin": 1}}' "rmin"
bad_config "unknown key in a parameter" '{"params": {"PA": {"start": 1, "sd": 2}}}' "sd"
bad_config "unknown key in a prior" '{"params": {"PA": {"start": 1, "prior": {"uniform": [0, 2]}}}}' "uniform"
bad_config "deep nesting 100" "$(printf '{"a":%.0s' {1..100})1$(printf '}%.0s' {1..100})" "nested|deep"
bad_config "deep nesting 100000 arrays" "$(head -c 100000 /dev/zero | tr '\0' '[')" "nested|deep"
bad_config "binary garbage" "$(head -c 3000 /dev/urandom | tr -d '\0')" "JSON"
bad_config "non-UTF-8 in a string" $'{"velocity_unit": "m\xff/s"}' "JSON|UTF"
bad_config "non-UTF-8 key" $'{"\xc3\x28": 1}' "JSON|UTF|unknown"
bad_config "NUL byte inside" $'{"downsample": 5\x01}' "JSON"
bad_config "UTF-16 file" $'\xff\xfe{\x00}\x00' "JSON"
bad_config "downsample 0" '{"downsample": 0}' "downsample"
bad_config "downsample negative" '{"downsample": -2}' "downsample"
bad_config "downsample fraction" '{"downsample": 1.5}' "downsample"
bad_config "downsample 1e30" '{"downsample": 1e30}' "downsample"
bad_config "downsample 2^64-1" '{"downsample": 18446744073709551615}' "downsample"
bad_config "downsample 2^64" '{"downsample": 18446744073709551616}' "downsample|JSON"
bad_config "downsample bigger than the map" '{"downsample": 100000}' "downsample|pixel|small"
bad_config "downsample foo" '{"downsample": "foo"}' "downsample"
bad_config "velocity unit unknown" '{"velocity_unit": "furlong/fortnight"}' "velocity_unit"
bad_config "map without uncertainty" '{"map": "v0.fits"}' "uncertainty"
bad_config "uncertainty without map" '{"uncertainty": "dv0.fits"}' "map"
bad_config "map is a number" '{"map": 5, "uncertainty": "x"}' "map"
bad_config "map needs an unset variable" '{"map": "${DISKMC_ADV_UNSET}/v.fits", "uncertainty": "x", "params": {}}' "DISKMC_ADV_UNSET"
bad_config "map with unclosed \${" '{"map": "${HOME/v.fits", "uncertainty": "x", "params": {}}' "unclosed"
bad_config "map without params" '{"map": "v.fits", "uncertainty": "x"}' "params"
bad_config "threads negative" '{"threads": -1}' "threads"
bad_config "threads fraction" '{"threads": 2.5}' "threads"
bad_config "beam as string" '{"beam": "yes"}' "beam"
bad_config "optimize as number" '{"optimize": 1}' "optimize"
bad_config "mask as array" '{"mask": []}' "mask"
bad_config "mask r_min > r_max" '{"downsample": 5, "mask": {"r_min": 5, "r_max": 1}}' "pixel|mask|r_min|empty"
bad_config "mask excludes everything" '{"downsample": 5, "mask": {"r_min": 1000}}' "pixel|mask|empty"
bad_config "params as array" '{"params": []}' "params"
bad_config "params empty" '{"params": {}}' "param"
bad_config "unknown parameter" '{"params": {"x0": {"start": 0}, "velocity": 3}}' "velocity"
bad_config "parameter without start" '{"params": {"x0": {"prior": {"flat": [0, 1]}}}}' "start"
bad_config "start as string" '{"params": {"x0": {"start": "0"}}}' "start"
bad_config "fixed as string NaN" '{"params": {"x0": {"start": 0}, "inc": "nan"}}' "inc"
bad_config "fixed as null" '{"params": {"x0": {"start": 0}, "inc": null}}' "inc"
bad_config "start outside flat prior" '{"params": {"PA": {"start": 400, "prior": {"flat": [0, 360]}}}}' "PA"
bad_config "flat prior lo > hi" '{"params": {"PA": {"start": 1, "prior": {"flat": [360, 0]}}}}' "PA"
bad_config "flat prior lo == hi" '{"params": {"PA": {"start": 1, "prior": {"flat": [1, 1]}}}}' "PA"
bad_config "flat prior of one number" '{"params": {"PA": {"start": 1, "prior": {"flat": [1]}}}}' "flat"
bad_config "flat prior of strings" '{"params": {"PA": {"start": 1, "prior": {"flat": ["0", "2"]}}}}' "flat"
bad_config "flat prior 1e400" '{"params": {"PA": {"start": 1, "prior": {"flat": [0, 1e400]}}}}' "JSON|flat|range|overflow"
bad_config "gaussian sd 0" '{"params": {"mstar": {"start": 1, "prior": {"gaussian": [1, 0]}}}}' "mstar"
bad_config "gaussian sd negative" '{"params": {"mstar": {"start": 1, "prior": {"gaussian": [1, -1]}}}}' "mstar"
bad_config "gaussian bounds lo > hi" '{"params": {"mstar": {"start": 1, "prior": {"gaussian": [1, 1], "bounds": [5, 0]}}}}' "mstar"
bad_config "start outside gaussian bounds" '{"params": {"mstar": {"start": 9, "prior": {"gaussian": [1, 1], "bounds": [0, 5]}}}}' "mstar"
bad_config "flat and gaussian at once" '{"params": {"mstar": {"start": 1, "prior": {"flat": [0, 2], "gaussian": [1, 1]}}}}' "exactly one"
bad_config "flat with bounds" '{"params": {"mstar": {"start": 1, "prior": {"flat": [0, 2], "bounds": [0, 1]}}}}' "bounds"
bad_config "prior without a kind" '{"params": {"mstar": {"start": 1, "prior": {}}}}' "exactly one"
bad_config "start 1e308 under the default prior" '{"params": {"mstar": {"start": 1e308}}}' "mstar"
bad_config "no free parameter" '{"downsample": 5, "params": {"x0": 0, "y0": 0, "PA": 312, "mstar": 2, "vlsr": 5700, "inc": 46.7, "dist": 101}}' "free"
bad_config "sampler without kind" '{"sampler": {"walkers": 10}}' "kind"
bad_config "sampler kind unknown" '{"sampler": {"kind": "hmc"}}' "hmc"
bad_config "sampler as string" '{"sampler": "nuts"}' "sampler"
bad_config "ensemble 0 walkers" '{"downsample": 5, "sampler": {"kind": "ensemble", "walkers": 0}}' "walkers"
bad_config "ensemble odd walkers" '{"downsample": 5, "sampler": {"kind": "ensemble", "walkers": 25}}' "walkers|even"
bad_config "ensemble too few walkers" '{"downsample": 5, "sampler": {"kind": "ensemble", "walkers": 4}}' "walkers"
bad_config "ensemble negative walkers" '{"sampler": {"kind": "ensemble", "walkers": -4}}' "walkers"
bad_config "ensemble 1e12 walkers" '{"downsample": 5, "sampler": {"kind": "ensemble", "walkers": 1000000000000}}' "walkers|memory"
bad_config "ensemble 1e12 steps" '{"downsample": 5, "sampler": {"kind": "ensemble", "walkers": 20, "steps": 1000000000000}}' "memory|steps"
bad_config "ensemble 2^64-1 steps" '{"downsample": 5, "sampler": {"kind": "ensemble", "walkers": 20, "steps": 18446744073709551615}}' "memory|steps"
bad_config "ensemble 0 steps" '{"downsample": 5, "sampler": {"kind": "ensemble", "walkers": 20, "steps": 0}}' "steps|draw"
bad_config "ensemble thin 0" '{"downsample": 5, "sampler": {"kind": "ensemble", "walkers": 20, "steps": 10, "thin": 0}}' "thin"
bad_config "ensemble thin > steps" '{"downsample": 5, "sampler": {"kind": "ensemble", "walkers": 20, "steps": 10, "thin": 20}}' "thin|steps|draw"
bad_config "ensemble moves unknown" '{"sampler": {"kind": "ensemble", "moves": "walk"}}' "moves"
bad_config "seed negative" '{"sampler": {"kind": "ensemble", "seed": -1}}' "seed"
bad_config "seed fraction" '{"sampler": {"kind": "ensemble", "seed": 1.5}}' "seed"
bad_config "nuts 0 chains" '{"downsample": 5, "sampler": {"kind": "nuts", "chains": 0}}' "chain"
bad_config "nuts 1e9 chains" '{"downsample": 5, "sampler": {"kind": "nuts", "chains": 1000000000}}' "chain|memory"
bad_config "nuts 0 samples" '{"downsample": 5, "sampler": {"kind": "nuts", "samples": 0}}' "samples|draw"
bad_config "nuts 1e12 samples" '{"downsample": 5, "sampler": {"kind": "nuts", "samples": 1000000000000}}' "memory|samples|draws"
bad_config "nuts max_tree_depth 0" '{"downsample": 5, "sampler": {"kind": "nuts", "max_tree_depth": 0}}' "tree"
bad_config "nuts max_tree_depth 1000" '{"downsample": 5, "sampler": {"kind": "nuts", "max_tree_depth": 1000}}' "tree"
bad_config "nuts target_accept 1" '{"downsample": 5, "sampler": {"kind": "nuts", "target_accept": 1}}' "target_accept"
bad_config "nuts target_accept 0" '{"downsample": 5, "sampler": {"kind": "nuts", "target_accept": 0}}' "target_accept"
bad_config "nuts target_accept 1.5" '{"downsample": 5, "sampler": {"kind": "nuts", "target_accept": 1.5}}' "target_accept"
bad_config "nuts target_accept -0.5" '{"downsample": 5, "sampler": {"kind": "nuts", "target_accept": -0.5}}' "target_accept"
bad_config "nuts dense_mass as string" '{"sampler": {"kind": "nuts", "dense_mass": "yes"}}' "dense_mass"

begin "config: threads 1e9 (refused or capped, no crash)"
builtin c.json "$ENS" '"threads": 1000000000'
run "0|1" --config c.json --out out $NP
if [[ $RC == 0 ]]; then complete out; else refused; err_has threads; fi
finish

begin "config: a directory"
mkdir c.json
run_within 30 1 --config c.json --out out $NP; err_has "c\\.json"; refused; finish
begin "config: missing file"; run 1 --config nope.json --out out $NP; err_has "nope\\.json"; refused; finish
begin "config: dangling symlink"; ln -s nowhere c.json; run 1 --config c.json --out out $NP; err_has "c\\.json"; refused; finish
begin "config: /dev/zero (no hang)"; run_within 30 1 --config /dev/zero --out out $NP; err_has "/dev/zero"; refused; finish
begin "config: /dev/null"; run_within 30 1 --config /dev/null --out out $NP; err_has "/dev/null"; refused; finish
begin "config: a FIFO nobody writes (no hang)"
mkfifo c.json
run_within 15 1 --config c.json --out out $NP; err_has "c\\.json"; refused; finish
begin "config: /proc/self/mem"; run_within 30 1 --config /proc/self/mem --out out $NP; refused; finish
begin "config: huge file of spaces"
head -c 50000000 /dev/zero | tr '\0' ' ' >c.json
run_within 60 1 --config c.json --out out $NP; err_has "JSON|large"; refused; finish
begin "config: parameters left out take their catalogue defaults (runs or a clear error)"
builtin c.json "$ENS" '"params": {"x0": {"start": 0}, "PA": {"start": 312}, "mstar": {"start": 2}, "inc": 46.7}'
run "0|1" --config c.json --out out $NP
if [[ $RC == 0 ]]; then complete out; else err_has "needs parameter"; refused; fi; finish
begin "config: read from a pipe (a shell's <(...))"
builtin c0.json
run 0 --config <(cat c0.json) --out out $NP; complete out; finish
begin "config: edited after the run read it, resume uses what was read"
builtin c.json "$ENS"; cp c.json c.orig
run 0 --config c.json --out out $NP; same_file c.json c.orig; complete out; finish

# ---------------------------------------------------------------- good runs
begin "good: built-in problem, ensemble"
builtin c.json; cp c.json c.orig
run 0 --config c.json --out out $NP; complete out; same_file c.json c.orig; out_has "Outputs in"; finish
begin "good: built-in problem, NUTS"
builtin c.json "$NUTS"
run 0 --config c.json --out out $NP; complete out; finish
begin "good: NUTS dense mass, max_tree_depth 3"
builtin c.json '{"kind": "nuts", "chains": 1, "warmup": 10, "samples": 5, "max_tree_depth": 3, "dense_mass": true, "seed": 2}'
run 0 --config c.json --out out $NP; complete out; finish
begin "good: ensemble de moves, thin 2"
builtin c.json '{"kind": "ensemble", "walkers": 20, "burn": 2, "steps": 10, "thin": 2, "moves": "de", "seed": 3}'
run 0 --config c.json --out out $NP; complete out; finish
begin "good: FITS map and uncertainty"
cp "$FX/v0.fits" v0.fits; cp "$FX/dv0.fits" dv0.fits
mapcfg c.json v0.fits dv0.fits
run 0 --config c.json --out out $NP; complete out; same_file v0.fits "$FX/v0.fits"; same_file dv0.fits "$FX/dv0.fits"; finish
begin "good: FITS with downsample beam"
mapcfg c.json "$FX/v0.fits" "$FX/dv0.fits" '"downsample": "beam"'
run 0 --config c.json --out out $NP; complete out; finish
begin "good: map path from an environment variable"
mapcfg c.json '${DISKMC_ADV_FX}/v0.fits' '$DISKMC_ADV_FX/dv0.fits'
DISKMC_ADV_FX=$FX run 0 --config c.json --out out $NP; complete out; finish
begin "good: with plots"
builtin c.json
run 0 --config c.json --out out; complete out; finish

# ---------------------------------------------------------------- FITS inputs
bad_fits() {  # bad_fits NAME MAP UNC [EXTRA] [EXPECTED]
    begin "fits: $1"
    mapcfg c.json "$2" "$3" "${4:-\"downsample\": 5}"
    run_within 120 "${5:-1}" --config c.json --out out $NP
    if [[ $RC == 0 ]]; then complete out; else
        err_has "$(basename -- "$2")|$(basename -- "$3")|map|pixel|uncertainty"
        one_line_error
        refused
    fi
    finish
}
bad_fits "map missing" "$FX/none.fits" "$FX/dv0.fits"
bad_fits "uncertainty missing" "$FX/v0.fits" "$FX/none.fits"
bad_fits "zero-size map" "$FX/empty.fits" "$FX/dv0.fits"
bad_fits "truncated header" "$FX/trunc.fits" "$FX/dv0.fits"
bad_fits "truncated data" "$FX/trunc_data.fits" "$FX/dv0.fits"
bad_fits "text file" "$FX/text.fits" "$FX/dv0.fits"
bad_fits "random bytes" "$FX/garbage.fits" "$FX/dv0.fits"
bad_fits "NAXIS1 x NAXIS2 = 1e9 x 1e9" "$FX/huge_naxis.fits" "$FX/dv0.fits"
bad_fits "NAXIS1 = 0" "$FX/naxis1_zero.fits" "$FX/dv0.fits"
bad_fits "NAXIS1 = -5" "$FX/naxis_neg.fits" "$FX/dv0.fits"
bad_fits "BITPIX = 7" "$FX/bitpix_bad.fits" "$FX/dv0.fits"
bad_fits "1-D image" "$FX/naxis1.fits" "$FX/dv0.fits"
bad_fits "cube of 2 channels" "$FX/cube2.fits" "$FX/dv0.fits"
bad_fits "cube of 1 channel (usable)" "$FX/cube1.fits" "$FX/dv0.fits" '"downsample": 5' "0|1"
bad_fits "int16 image (usable)" "$FX/int16.fits" "$FX/dv0.fits" '"downsample": 5' "0|1"
bad_fits "image only in an extension" "$FX/ext_only.fits" "$FX/dv0.fits" '"downsample": 5' "0|1"
bad_fits "one pixel" "$FX/one_pixel.fits" "$FX/one_pixel_dv0.fits"
bad_fits "all-NaN map" "$FX/allnan_v0.fits" "$FX/dv0.fits"
bad_fits "all-zero uncertainty" "$FX/v0.fits" "$FX/zero_dv0.fits"
bad_fits "negative uncertainty" "$FX/v0.fits" "$FX/neg_dv0.fits"
bad_fits "infinite uncertainty" "$FX/v0.fits" "$FX/inf_dv0.fits"
bad_fits "shapes differ" "$FX/v0.fits" "$FX/small_dv0.fits"
bad_fits "pixel sizes differ" "$FX/v0.fits" "$FX/otherpix_dv0.fits"
bad_fits "CDELT1 = NAN" "$FX/nan_cdelt.fits" "$FX/dv0.fits"
bad_fits "CDELT1 = 0" "$FX/zero_cdelt.fits" "$FX/dv0.fits"
bad_fits "no CDELT" "$FX/no_cdelt.fits" "$FX/dv0.fits"
bad_fits "BUNIT K with velocity_unit header" "$FX/bunit_k.fits" "$FX/dv0.fits" '"downsample": 5, "velocity_unit": "header"'
bad_fits "BUNIT km/s with velocity_unit header (usable)" "$FX/bunit_kms.fits" "$FX/dv0.fits" '"downsample": 5, "velocity_unit": "header"' "0|1"
bad_fits "BMAJ = 1e300, downsample beam" "$FX/huge_bmaj.fits" "$FX/dv0.fits" '"downsample": "beam"'
bad_fits "BMAJ = 1e300, beam convolution" "$FX/huge_bmaj.fits" "$FX/dv0.fits" '"downsample": 5, "beam": true'
bad_fits "BMAJ = -1, downsample beam" "$FX/neg_bmaj.fits" "$FX/dv0.fits" '"downsample": "beam"'
bad_fits "map is a folder" "$FX" "$FX/dv0.fits"
bad_fits "map is /dev/zero" "/dev/zero" "$FX/dv0.fits"
begin "fits: map is a FIFO nobody writes (no hang)"
mkfifo v.fits
mapcfg c.json v.fits "$FX/dv0.fits"
run_within 20 1 --config c.json --out out $NP; refused; finish
begin "fits: a bad map with --out in new nested folders writes nothing"
mapcfg c.json "$FX/trunc.fits" "$FX/dv0.fits"
run 1 --config c.json --out new/deeper/out $NP; absent new; finish

# ---------------------------------------------------------------- output folders
begin "out: the config's folder (non-empty, foreign)"
mkdir d; builtin d/c.json; cp d/c.json c.orig
run 1 --config d/c.json --out d $NP; same_file d/c.json c.orig; no_litter; finish
begin "out: the folder of the FITS inputs"
mkdir d; cp "$FX/v0.fits" "$FX/dv0.fits" d/; mapcfg c.json d/v0.fits d/dv0.fits
run 1 --config c.json --out d $NP; same_file d/v0.fits "$FX/v0.fits"; same_file d/dv0.fits "$FX/dv0.fits"; no_litter; finish
begin "out: an earlier output that holds the map"
builtin c0.json; run 0 --config c0.json --out d $NP
cp "$FX/v0.fits" "$FX/dv0.fits" d/; mapcfg c.json d/v0.fits d/dv0.fits
run 1 --config c.json --out d $NP; err_has "input"; same_file d/v0.fits "$FX/v0.fits"; no_litter; finish
begin "out: an earlier output that holds the config"
builtin c0.json; run 0 --config c0.json --out d $NP
builtin d/c.json; cp d/c.json c.orig
run 1 --config d/c.json --out d $NP; err_has "input"; same_file d/c.json c.orig; no_litter; finish
begin "out: an earlier output holding the config, config named through a symlink"
builtin c0.json; run 0 --config c0.json --out d $NP
builtin d/c.json; cp d/c.json c.orig; ln -s d/c.json link.json
run 1 --config link.json --out d $NP; err_has "input"; same_file d/c.json c.orig; no_litter; finish
begin "out: an earlier output holding the map, map named through a symlinked folder"
builtin c0.json; run 0 --config c0.json --out d $NP
cp "$FX/v0.fits" "$FX/dv0.fits" d/; ln -s d linkdir; mapcfg c.json linkdir/v0.fits linkdir/dv0.fits
run 1 --config c.json --out d $NP; err_has "input"; same_file d/v0.fits "$FX/v0.fits"; no_litter; finish
begin "out: the config file itself"
builtin c.json; cp c.json c.orig
run 1 --config c.json --out c.json $NP; same_file c.json c.orig; no_litter; finish
begin "out: a regular file"
builtin c.json; echo precious >f
run 1 --config c.json --out f $NP; err_has "not a folder"; [[ $(cat f) == precious ]] || why "f changed"; no_litter; finish
begin "out: a symlink to a folder"
builtin c.json; mkdir target; echo keep >target/k; ln -s target out
run 1 --config c.json --out out $NP; err_has "link"; present target/k; [[ -L out ]] || why "link replaced"; no_litter; finish
begin "out: a dangling symlink"
builtin c.json; ln -s nowhere out
run 1 --config c.json --out out $NP; err_has "link"; [[ -L out ]] || why "link replaced"; absent nowhere; no_litter; finish
begin "out: a non-empty foreign folder"
builtin c.json; mkdir out; echo keep >out/thesis.tex
run 1 --config c.json --out out $NP; err_has "not empty"; present out/thesis.tex; no_litter; finish
begin "out: a folder holding only a hidden file"
builtin c.json; mkdir out; echo keep >out/.hidden
run 1 --config c.json --out out $NP; present out/.hidden; no_litter; finish
begin "out: an empty folder"; builtin c.json; mkdir out; run 0 --config c.json --out out $NP; complete out; finish
begin "out: root /"; builtin c.json; run 1 --config c.json --out / $NP; err_has "root"; finish
begin "out: //"; builtin c.json; run 1 --config c.json --out // $NP; err_has "root"; finish
begin "out: /tmp/.. (root again)"; builtin c.json; run 1 --config c.json --out /tmp/.. $NP; finish
begin "out: . (the current folder, holds the config)"
builtin c.json; cp c.json c.orig; run 1 --config c.json --out . $NP; same_file c.json c.orig; no_litter; finish
begin "out: .. (the parent folder)"; builtin c.json; run 1 --config c.json --out .. $NP; present "$T/c.json"; no_litter "$ROOT"; finish
begin "out: a path under /proc"; builtin c.json; run 1 --config c.json --out /proc/diskmc-adv/out $NP; err_has "folder"; finish
begin "out: a folder under a regular file"
builtin c.json; echo x >f; run 1 --config c.json --out f/out $NP; err_has "folder"; [[ $(cat f) == x ]] || why "f changed"; finish
begin "out: a folder under /dev/null"; builtin c.json; run 1 --config c.json --out /dev/null/out $NP; finish
begin "out: /dev/null"; builtin c.json; run 1 --config c.json --out /dev/null $NP; [[ -c /dev/null ]] || why "/dev/null replaced"; finish
begin "out: trailing slash"; builtin c.json; run 0 --config c.json --out out/ $NP; complete out; finish
begin "out: trailing /."; builtin c.json; run 0 --config c.json --out out/. $NP; complete out; finish
begin "out: new nested folders"; builtin c.json; run 0 --config c.json --out a/b/c/out $NP; complete a/b/c/out; finish
begin "out: an earlier output is replaced whole"
builtin c.json; run 0 --config c.json --out out $NP; echo stale >out/stale.png
builtin c2.json "$NUTS"
run 0 --config c2.json --out out $NP; complete out; absent out/stale.png
grep -q '"kind": "nuts"' out/summary.json || why "not the new run"; finish
begin "out: a refused run leaves an earlier output alone"
builtin c.json; run 0 --config c.json --out out $NP; cp out/summary.json s.orig
printf '{"fov": "x"}' >bad.json
run 1 --config bad.json --out out $NP; same_file out/summary.json s.orig; no_litter; finish
begin "out: a failing run (bad FITS) leaves an earlier output alone"
builtin c.json; run 0 --config c.json --out out $NP; cp out/summary.json s.orig
mapcfg bad.json "$FX/allnan_v0.fits" "$FX/dv0.fits"
run 1 --config bad.json --out out $NP; same_file out/summary.json s.orig; complete out; finish

weird_name() {  # weird_name NAME FOLDER_NAME
    begin "names: $1"
    local dir=$2
    mkdir -p -- "$dir.cfg"
    builtin "$dir.cfg/c.json"
    run 0 --config "$dir.cfg/c.json" --out "$dir" $NP
    complete "$T/$dir"
    absent pwned "$T/pwned"
    out_has "Outputs in"
    finish
}
weird_name "spaces" "my fit output"
weird_name "double quote" 'a"b'
weird_name "single quote" "it's"
weird_name "command substitution" '$(touch pwned)'
weird_name "backticks" '`touch pwned`'
weird_name "semicolon" 'a;touch pwned'
weird_name "newline" $'two\nlines'
weird_name "tab and CR" $'a\tb\rc'
weird_name "non-UTF-8 bytes" $'bad\xff\xfe\x80name'
weird_name "glob characters" 'a*[b]?'
weird_name "backslashes" 'a\b\\c'
weird_name "leading dash" '-rf'
weird_name "looks like a flag" '--help'
weird_name "UTF-8 emoji and RTL" $'disk\xf0\x9f\x8c\x80\xe2\x80\xaename'
weird_name "percent signs" '%s%n%x'
begin "names: leading dash, with a weird FITS path"
mkdir -- "-m ap"; cp "$FX/v0.fits" -- "-m ap/v\$(x)0.fits"; cp "$FX/dv0.fits" -- "-m ap/"$'dv\xff0.fits'
mapcfg c.json "-m ap/v\$(x)0.fits" "-m ap/"$'dv\xff0.fits' 2>/dev/null
# non-UTF-8 cannot be in JSON: give the uncertainty through a variable
mapcfg c.json "-m ap/v\$(x)0.fits" '${DISKMC_ADV_DV}'
DISKMC_ADV_DV=$T/$'-m ap/dv\xff0.fits' run 0 --config c.json --out "-o ut" $NP; complete "$T/-o ut"; finish
name255=$(printf 'x%.0s' {1..255})
name200=$(printf 'y%.0s' {1..200})
begin "names: a 200-byte folder name"
builtin c.json; run "0|1" --config c.json --out "$name200" $NP
if [[ $RC == 0 ]]; then complete "$name200"; else err_has "long|folder"; one_line_error; absent "$name200"; no_litter; fi; finish
begin "names: a 255-byte folder name (legal; works or a clear error)"
builtin c.json; run "0|1" --config c.json --out "$name255" $NP
if [[ $RC == 0 ]]; then complete "$name255"; else err_has "long"; one_line_error; absent "$name255"; no_litter; fi; finish
begin "names: a 256-byte folder name"
builtin c.json; run 1 --config c.json --out "${name255}z" $NP; err_has "long|folder"; no_litter; finish
begin "names: a path longer than PATH_MAX"
builtin c.json; deep=$(printf "${name200:0:100}/%.0s" {1..45})
run "0|1" --config c.json --out "${deep}out" $NP; finish

# ---------------------------------------------------------------- concurrency
LONG_ENS='{"kind": "ensemble", "walkers": 20, "burn": 0, "steps": 400000, "thin": 100, "seed": 7}'
begin "concurrency: a second run into the same folder is refused"
builtin long.json "$LONG_ENS"; builtin c.json
"$PROG" --config long.json --out out $NP </dev/null >/dev/null 2>"$LOGS/bg" &
bg=$!; BACKGROUND+=("$bg")
if wait_for "$T/.out.diskmc-lock" 60; then
    sleep 0.5
    run 1 --config c.json --out out $NP; err_has "another run"
    absent out
    present "$T/.out.diskmc-lock"
else why "no lock file appeared"; fi
kill -KILL "$bg" 2>/dev/null; wait "$bg" 2>/dev/null
finish
begin "concurrency: the same folder through another spelling is refused"
builtin long.json "$LONG_ENS"; builtin c.json; mkdir sub
"$PROG" --config long.json --out out $NP </dev/null >/dev/null 2>"$LOGS/bg" &
bg=$!; BACKGROUND+=("$bg")
if wait_for "$T/.out.diskmc-lock" 60; then
    sleep 0.5
    run 1 --config c.json --out "sub/../out/" $NP; err_has "another run"
else why "no lock file appeared"; fi
kill -KILL "$bg" 2>/dev/null; wait "$bg" 2>/dev/null
finish
begin "concurrency: runs into different folders side by side"
builtin a.json; builtin b.json
"$PROG" --config a.json --out outa $NP </dev/null >/dev/null 2>"$LOGS/bg" &
bg=$!; BACKGROUND+=("$bg")
run 0 --config b.json --out outb $NP
wait "$bg"; [[ $? == 0 ]] || why "first run failed"
no_sanitizer "$LOGS/bg"; complete outa; complete outb; finish

# ---------------------------------------------------------------- kills, signals, resume
# Starts the long run in the background into $T/out; waits for its staging folder.
start_long() {  # start_long CONFIG_SAMPLER
    builtin long.json "$1"
    "$PROG" --config long.json --out out $NP </dev/null >"$LOGS/bgout" 2>"$LOGS/bg" &
    bg=$!
    BACKGROUND+=("$bg")
    wait_for "$T/.out.diskmc-staging-*/resume/mode" 60 || why "the run did not start"
}
# end_long SIGNAL SECONDS: sends SIGNAL after SECONDS, waits; bgrc = its status.
end_long() {
    sleep "$2"
    kill -s "$1" "$bg" 2>/dev/null
    local i
    for ((i = 0; i < 300; ++i)); do kill -0 "$bg" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$bg" 2>/dev/null; then
        why "still running 30 s after SIG$1"
        kill -KILL "$bg" 2>/dev/null
    fi
    wait "$bg" 2>/dev/null
    bgrc=$?
    no_sanitizer "$LOGS/bg"
}
# The ensemble checkpoints every draw; 20 walkers x 9 parameters.
SAMPLING='{"kind": "ensemble", "walkers": 20, "burn": 0, "steps": 60000, "thin": 10, "seed": 11}'
WARMUP='{"kind": "nuts", "chains": 1, "warmup": 1000000, "samples": 10, "seed": 5}'
SHORT='{"kind": "ensemble", "walkers": 20, "burn": 0, "steps": 400, "thin": 1, "seed": 11}'

begin "signals: SIGINT during warmup writes nothing"
start_long "$WARMUP"; end_long INT 3
[[ $bgrc == 130 ]] || why "exit $bgrc, expected 130"
grep -q "nothing written" "$LOGS/bg" || why "no 'nothing written' message"
absent out; no_litter; finish
begin "signals: SIGTERM during warmup writes nothing"
start_long "$WARMUP"; end_long TERM 3
[[ $bgrc == 130 ]] || why "exit $bgrc, expected 130"; absent out; no_litter; finish
begin "signals: SIGINT during the MAP step writes nothing"
printf '{"downsample": 2, "optimize": true, "sampler": %s}\n' "$SHORT" >long.json
"$PROG" --config long.json --out out $NP </dev/null >"$LOGS/bgout" 2>"$LOGS/bg" &
bg=$!; BACKGROUND+=("$bg")
wait_for "$T/.out.diskmc-staging-*/resume/mode" 60 || why "the run did not start"
end_long INT 0.3
[[ $bgrc == 130 ]] || why "exit $bgrc, expected 130 (the MAP step ended before the signal?)"
absent out; no_litter; finish
begin "signals: SIGINT during sampling writes the draws so far, resumable"
start_long "$SAMPLING"; end_long INT 4
[[ $bgrc == 130 ]] || why "exit $bgrc, expected 130"
present out/summary.json out/resume out/.diskmc-output
grep -q '"interrupted": true' out/summary.json 2>/dev/null || why "summary not interrupted"
grep -q -- '--resume' "$LOGS/bg" || why "no --resume hint"
no_litter; finish
begin "signals: SIGINT twice stops at once; a new run replaces the leftover"
start_long "$SAMPLING"
sleep 2; kill -INT "$bg"; sleep 0.05; kill -INT "$bg"
end_long INT 0
[[ $bgrc == 130 ]] || why "exit $bgrc, expected 130"
grep -q "interrupted again" "$LOGS/bg" || why "no 'interrupted again' message"
absent out/summary.json
builtin c.json
run 0 --config c.json --out out $NP; err_has "killed"; complete out; finish
begin "signals: SIGHUP (not handled) then a new run"
start_long "$SAMPLING"; end_long HUP 2
absent out
builtin c.json; run 0 --config c.json --out out $NP; complete out; finish
begin "signals: SIGINT during sampling, then --resume finishes"
start_long "$SHORT"; end_long INT 3
if [[ $bgrc == 130 ]]; then
    run 0 --resume out $NP; complete out
    grep -q '"draws_per_chain": 400' out/summary.json || why "resumed run does not have 400 draws"
elif [[ $bgrc == 0 ]]; then why "the run finished before the signal (make SHORT longer)"
else why "exit $bgrc"; fi
finish
begin "resume: SIGKILL during sampling, --resume gives the uninterrupted draws"
builtin ref.json "$SHORT"
run 0 --config ref.json --out ref $NP
start_long "$SHORT"
sleep 3
if [[ -n $(find "$T" -maxdepth 2 -path '*staging*' -name resume) ]]; then :; fi
end_long KILL 0
[[ $bgrc == 137 ]] || why "exit $bgrc, expected 137"
present "$T"/.out.diskmc-staging-*
run 0 --resume out $NP; complete out
if [[ -f out/chains.csv && -f ref/chains.csv ]]; then
    cmp -s <(draws out/chains.csv) <(draws ref/chains.csv) || why "resumed draws differ from the uninterrupted run's"
fi
finish
begin "resume: killed, then a new run reports and replaces the leftover"
start_long "$SAMPLING"; end_long KILL 2
builtin c.json; run 0 --config c.json --out out $NP; err_has "killed"; complete out
grep -q '"steps": 10,' out/summary.json || why "not the new run's settings"; finish
begin "resume: killed twice, resumed"
start_long "$SHORT"; end_long KILL 2
"$PROG" --resume out $NP </dev/null >"$LOGS/bgout" 2>"$LOGS/bg" &
bg=$!; BACKGROUND+=("$bg"); end_long KILL 2
run 0 --resume out $NP; complete out
grep -q '"draws_per_chain": 400' out/summary.json || why "resumed run does not have 400 draws"; finish
begin "resume: killed during warmup, --resume continues with the recorded settings"
start_long "$WARMUP"; end_long KILL 2
builtin long.json '{"kind": "nuts", "chains": 1, "warmup": 10, "samples": 10, "seed": 5}'
"$PROG" --resume out $NP </dev/null >"$LOGS/bgout" 2>"$LOGS/bg" &
bg=$!; BACKGROUND+=("$bg"); end_long INT 4
[[ $bgrc == 130 ]] || why "exit $bgrc, expected 130 (still in the recorded 1e6-iteration warmup)"
grep -q "nothing written" "$LOGS/bg" || why "no 'nothing written'"
absent out; [[ -n $(compgen -G "$T/.out.diskmc-staging-*") ]] || why "the killed run's state is gone"
finish
begin "resume: a finished run"
builtin c.json; run 0 --config c.json --out out $NP; cp out/summary.json s.orig
run 1 --resume out $NP; err_has "no run to resume"; same_file out/summary.json s.orig; no_litter; finish
begin "resume: nothing there"; run 1 --resume out $NP; err_has "no run to resume"; absent out; no_litter; finish
begin "resume: nothing there, in new nested folders"; run 1 --resume a/b/out $NP; absent a; finish
begin "resume: an empty folder"; mkdir out; run 1 --resume out $NP; no_litter; finish
begin "resume: a foreign folder"; mkdir out; echo x >out/f; run 1 --resume out $NP; present out/f; no_litter; finish
begin "resume: a regular file"; echo x >out; run 1 --resume out $NP; [[ $(cat out) == x ]] || why "changed"; finish
begin "resume: / "; run "1|2" --resume / $NP; finish
begin "resume: a forged resume state (garbage checkpoint)"
start_long "$SAMPLING"; end_long INT 3
if [[ -d out/resume ]]; then
    head -c 4096 /dev/urandom >out/resume/checkpoint
    cp out/summary.json s.orig
    run 1 --resume out $NP; err_has "checkpoint|resume"; one_line_error; same_file out/summary.json s.orig; no_litter
else why "no resume state to forge"; fi
finish
begin "resume: a resume state whose config was removed from under it"
start_long "$SAMPLING"; end_long INT 3
if [[ -d out/resume ]]; then
    printf '{"fov": "x"}' >out/resume/config.json
    run 1 --resume out $NP; err_has "fov"; present out/summary.json; no_litter
else why "no resume state"; fi
finish
begin "resume: while the run is still going is refused"
start_long "$SAMPLING"; sleep 1
run 1 --resume out $NP; err_has "another run"
kill -KILL "$bg" 2>/dev/null; wait "$bg" 2>/dev/null
finish

echo "$passed passed, $failed failed"
((failed == 0))
