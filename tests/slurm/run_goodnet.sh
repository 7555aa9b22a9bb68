#!/usr/bin/env bash
# The real SLURM test of goodnet (`make test-slurm`, run by .ci/run):
#
#   1. plan: a dry run lists the jobs of tests/configs/slurm.yaml (one demo BadNet,
#      one threshold X, two replicates: 16 jobs);
#   2. local: the same configuration with the local default profile, in another
#      fresh --directory, in the background (the SLURM run mostly waits);
#   3. SLURM: tests/slurm/run_test.sh installs and starts the one-node test cluster
#      (munge, MariaDB, slurmdbd, slurmctld, slurmd; a fake GPU; partitions main and
#      gpu), runs the workflow through
#          --profile profiles/slurm --profile profiles/slurm-gpu
#      in a fresh --directory, checks with sacct that every planned job ran as a SLURM
#      job and COMPLETED, that exactly the GPU rules got gres/gpu and ran in the gpu
#      partition, and stops every daemon it started (also on failure);
#   4. compare, once the local run is done: every metrics/info json, csv and npy under
#      results/ must be equal byte for byte, and so must the weights of every .keras
#      model (same machine, same seeds: goodnet is deterministic). The .keras files
#      themselves differ: Keras writes the save time and Python object ids into their
#      metadata.json and config.json.
#
# Usage: bash tests/slurm/run_goodnet.sh     (as root, or with password-less sudo)
# Settings (environment variables, all optional):
#   GOODNET_SLURM_CONFIG    configfile                    [tests/configs/slurm.yaml]
#   GOODNET_SLURM_WORKDIR   where the two runs go, wiped first
#                           [$GOODNET_SLURM_STATE/goodnet: slurm/ and local/]
#   GOODNET_SLURM_TIMEOUT   seconds for each of the two snakemake runs [600]
#   plus those of run_test.sh and cluster.sh (GOODNET_SLURM_STATE, _KEEP, ...).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

say() { printf '[run_goodnet.sh] %s\n' "$*"; }
die() {
    printf '[run_goodnet.sh] ERROR: %s\n' "$*" >&2
    exit 1
}

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        exec sudo -n -E env "PATH=$PATH" bash "$0" "$@"
    fi
    die "must run as root (or with password-less sudo): the test cluster's daemons need it"
fi

export GOODNET_SLURM_STATE="${GOODNET_SLURM_STATE:-/tmp/goodnet-slurm}"
CONFIG="$(realpath "${GOODNET_SLURM_CONFIG:-$REPO/tests/configs/slurm.yaml}")"
WORK="${GOODNET_SLURM_WORKDIR:-$GOODNET_SLURM_STATE/goodnet}"
TIMEOUT="${GOODNET_SLURM_TIMEOUT:-600}"
VENV="${GOODNET_VENV:-$REPO/.venv}"
[ -x "$VENV/bin/snakemake" ] || die "no snakemake in $VENV (run 'make setup')"
export PATH="$VENV/bin:$PATH"
# The rules the GPU profile gives a GPU: those with `gpu=GPU` in rules/*.smk.
GPU_RULES="attack fine_tune detect unlearn"
GPU_PARTITION="${GOODNET_SLURM_GPU_PARTITION:-gpu}"
export GOODNET_SLURM_GPU_PARTITION="$GPU_PARTITION"

cd "$REPO"
T0=$SECONDS
rm -rf "$WORK"
mkdir -p "$WORK/slurm" "$WORK/local"
SMK=(snakemake --snakefile "$REPO/Snakefile" --configfile "$CONFIG")
SLURM_PROFILES=(--profile profiles/slurm --profile profiles/slurm-gpu)

# 1. plan --------------------------------------------------------------------
# The job counts per rule of a dry run through the same profiles. `all` only
# collects the targets and is never submitted.
plan="$("${SMK[@]}" --directory "$WORK/slurm" "${SLURM_PROFILES[@]}" -n --quiet rules 2>&1)" ||
    die "dry run failed: $plan"
# (Snakemake prints the "Job stats" table twice: read the first one only.)
EXPECT="$(awk '$1 == "total" {exit} $1 ~ /^[a-z_]+$/ && $2 ~ /^[0-9]+$/ && NF == 2 && $1 != "all" {print $1 "=" $2}' <<<"$plan" | sort | xargs)"
N_JOBS="$(tr ' ' '\n' <<<"$EXPECT" | awk -F= '{n += $2} END {print n + 0}')"
N_GPU="$(tr ' ' '\n' <<<"$EXPECT" | awk -F= -v g=" $GPU_RULES " 'index(g, " " $1 " ") {n += $2} END {print n + 0}')"
[ "$N_JOBS" -gt 0 ] || die "could not read the plan from the dry run:
$plan"
say "plan: $N_JOBS SLURM jobs ($EXPECT), $N_GPU of them with a GPU"

# 2. local, in the background ---------------------------------------------------
# The SLURM run spends most of its time waiting (job start, sacct polls), so the
# local run goes alongside; it only has to finish, its speed does not matter.
say "local run of the same configuration (profiles/default) in $WORK/local, log $WORK/local.log"
timeout -k 30 "$TIMEOUT" "${SMK[@]}" --directory "$WORK/local" >"$WORK/local.log" 2>&1 &
LOCAL_PID=$!
stop_local() {
    if kill -0 "$LOCAL_PID" 2>/dev/null; then
        say "stopping the local run (pid $LOCAL_PID)"
        kill -TERM "$LOCAL_PID" 2>/dev/null || true
        wait "$LOCAL_PID" 2>/dev/null || true
    fi
}
trap stop_local EXIT

# 3. SLURM -------------------------------------------------------------------
t=$SECONDS
GOODNET_SLURM_TIMEOUT="$TIMEOUT" \
    GOODNET_SLURM_MIN_JOBS="$N_JOBS" \
    GOODNET_SLURM_MIN_GPU_JOBS="$N_GPU" \
    GOODNET_SLURM_EXPECT_RULES="$EXPECT" \
    GOODNET_SLURM_GPU_RULES="$GPU_RULES" \
    GOODNET_SLURM_GPU_JOBS_PARTITION="$GPU_PARTITION" \
    bash "$HERE/run_test.sh" "${SMK[@]}" --directory "$WORK/slurm" "${SLURM_PROFILES[@]}" \
    --slurm-init-seconds-before-status-checks 2
T_SLURM=$((SECONDS - t))

# 4. wait for the local run ----------------------------------------------------
say "waiting for the local run"
local_rc=0
wait "$LOCAL_PID" || local_rc=$?
if [ "$local_rc" -ne 0 ]; then
    tail -n 40 "$WORK/local.log" >&2
    die "local run failed (rc=$local_rc, log: $WORK/local.log)"
fi

# 5. compare -----------------------------------------------------------------
# Everything numeric the workflow reports: metrics and pruning info (json), the sweep
# and summary tables (csv), activations and accuracy curves (npy).
list() { (cd "$1" && find results -type f \( -name '*.json' -o -name '*.csv' -o -name '*.npy' \) | sort); }
list "$WORK/slurm" >"$WORK/slurm.files"
list "$WORK/local" >"$WORK/local.files"
diff -u "$WORK/local.files" "$WORK/slurm.files" >&2 ||
    die "the SLURM and local runs made different result files (above: - local, + SLURM)"
n=0 differ=()
while read -r f; do
    n=$((n + 1))
    cmp -s "$WORK/local/$f" "$WORK/slurm/$f" || differ+=("$f")
done <"$WORK/local.files"
[ "$n" -gt 0 ] || die "no result files to compare"
grep -q 'metrics.json$' "$WORK/local.files" || die "no metrics.json among the results"
grep -q 'prune_sweep.csv$' "$WORK/local.files" || die "no prune_sweep.csv among the results"
n_files=$n
# Models: the weights file inside each .keras zip.
mapfile -t MODELS < <(cd "$WORK/local" && find results models -name '*.keras' -type f | sort)
[ "${#MODELS[@]}" -gt 0 ] || die "no .keras models to compare"
for f in "${MODELS[@]}"; do
    n=$((n + 1))
    python -c 'import sys, zipfile
a, b = (zipfile.ZipFile(p).read("model.weights.h5") for p in sys.argv[1:])
sys.exit(a != b)' "$WORK/local/$f" "$WORK/slurm/$f" || differ+=("$f (model.weights.h5)")
done
if [ "${#differ[@]}" -gt 0 ]; then
    for f in "${differ[@]}"; do
        echo "----- differs: $f (- local, + SLURM)" >&2
        [ -f "$WORK/local/$f" ] &&
            diff <(cat -v "$WORK/local/$f" | head -c 4000) <(cat -v "$WORK/slurm/$f" | head -c 4000) >&2 || true
    done
    die "${#differ[@]} of $n compared results (files and model weights) differ between the SLURM and the local run"
fi
say "SLURM and local results are equal byte for byte: $n_files files ($(xargs <"$WORK/local.files")) and the weights of ${#MODELS[@]} models"
local_elapsed="$(grep -o 'Elapsed time: [0-9:]*' "$WORK/local.log" | tail -n 1 | cut -d' ' -f3)"
say "timings: SLURM test ${T_SLURM}s (cluster install, start and stop included), local run ${local_elapsed:-?} (alongside), total $((SECONDS - T0))s"
say "PASSED"
