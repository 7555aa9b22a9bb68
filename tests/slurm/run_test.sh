#!/usr/bin/env bash
# End-to-end SLURM test: install and start the throwaway one-node cluster
# (tests/slurm/cluster.sh), run a Snakemake command through the slurm
# profile, check with `sacct` that its jobs really ran under SLURM and
# completed (and that GPU jobs got a gres/gpu), then stop every daemon
# (also on failure or Ctrl-C).
#
# Usage:
#   bash tests/slurm/run_test.sh                     # the toy workflow
#   bash tests/slurm/run_test.sh snakemake --profile profiles/slurm \
#        --configfile config/tiny.yaml ...           # any command, as argv
#   GOODNET_SLURM_CMD='snakemake --profile profiles/slurm ...' \
#        bash tests/slurm/run_test.sh                # any command, as a string
#
# The command runs from the repository root with the venv's bin/ first on
# PATH and SLURM_CONF pointing at the test cluster. It must submit through
# SLURM (--profile profiles/slurm, or --executor slurm): the check reads the
# SLURM job ids from the "submitted with SLURM jobid N" lines of its output.
# Add --slurm-init-seconds-before-status-checks 5 to make it fast.
#
# Settings (environment variables, all optional):
#   GOODNET_SLURM_CMD          command string (used when no arguments given)
#   GOODNET_SLURM_TIMEOUT      seconds before snakemake is killed      [900]
#   GOODNET_SLURM_MIN_JOBS     min. number of SLURM jobs expected
#                              [3 for the toy workflow, else 1]
#   GOODNET_SLURM_MIN_GPU_JOBS min. number of jobs that must have got
#                              gres/gpu in AllocTRES                   [1]
#   GOODNET_SLURM_EXPECT_RULES "rule=count ...": sacct must show exactly
#                              these jobs per rule (from the job comment)
#   GOODNET_SLURM_GPU_RULES    "rule ...": a job has gres/gpu in AllocTRES
#                              if and only if its rule is listed
#   GOODNET_SLURM_GPU_JOBS_PARTITION  partition every GPU job must run in
#   GOODNET_SLURM_WORKDIR      --directory of the toy workflow
#                              [$GOODNET_SLURM_STATE/toy-work, wiped first]
#   GOODNET_SLURM_KEEP=1       leave the cluster running at the end
#   GOODNET_SLURM_SKIP_INSTALL=1  do not call `cluster.sh install`
#   GOODNET_VENV               virtualenv to put first on PATH   [<repo>/.venv]
#   plus the cluster.sh ones (GOODNET_SLURM_STATE, ..._PARTITION, ...).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CLUSTER_SH="$HERE/cluster.sh"

say() { printf '[run_test.sh] %s\n' "$*"; }

# The daemons need root; so do the jobs' sbatch calls as the only registered
# user is root. Re-execute under password-less sudo when possible.
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        exec sudo -n -E env "PATH=$PATH" bash "$0" "$@"
    fi
    echo "[run_test.sh] ERROR: must run as root (or with password-less sudo)" >&2
    exit 1
fi

export GOODNET_SLURM_STATE="${GOODNET_SLURM_STATE:-/tmp/goodnet-slurm}"
STATE="$GOODNET_SLURM_STATE"
TIMEOUT="${GOODNET_SLURM_TIMEOUT:-900}"
VENV="${GOODNET_VENV:-$REPO/.venv}"
if [ -x "$VENV/bin/python" ]; then
    # SLURM jobs run `python -m snakemake` from the submitting environment
    # (sbatch --export=ALL), so the venv must be first on PATH.
    export PATH="$VENV/bin:$PATH"
    export VIRTUAL_ENV="$VENV"
fi
command -v snakemake >/dev/null 2>&1 ||
    { echo "[run_test.sh] ERROR: snakemake not on PATH (no venv at $VENV?)" >&2; exit 1; }

TOY=0
if [ "$#" -gt 0 ]; then
    CMD=("$@")
elif [ -n "${GOODNET_SLURM_CMD:-}" ]; then
    CMD=(bash -c "$GOODNET_SLURM_CMD")
else
    TOY=1
    WORK="${GOODNET_SLURM_WORKDIR:-$STATE/toy-work}"
    CMD=(snakemake --snakefile "$HERE/toy/Snakefile" --directory "$WORK"
        --profile profiles/slurm
        --slurm-init-seconds-before-status-checks 5)
fi
if [ "$TOY" = 1 ]; then
    MIN_JOBS="${GOODNET_SLURM_MIN_JOBS:-3}"
else
    MIN_JOBS="${GOODNET_SLURM_MIN_JOBS:-1}"
fi
MIN_GPU_JOBS="${GOODNET_SLURM_MIN_GPU_JOBS:-1}"

T_START=$SECONDS
T_INSTALL=0 T_CLUSTER=0 T_SNAKEMAKE=0 T_VERIFY=0 T_STOP=0
PHASE=setup

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$rc" -ne 0 ] && [ "$PHASE" != setup ] && [ "$PHASE" != install ]; then
        say "daemon logs: $STATE/log/, snakemake log: $STATE/snakemake.log"
    fi
    if [ "${GOODNET_SLURM_KEEP:-0}" = 1 ]; then
        say "GOODNET_SLURM_KEEP=1: leaving the cluster running (stop: bash $CLUSTER_SH stop)"
    else
        local t=$SECONDS
        bash "$CLUSTER_SH" stop || rc=1
        T_STOP=$((SECONDS - t))
    fi
    say "timings: install ${T_INSTALL}s, start ${T_CLUSTER}s, snakemake ${T_SNAKEMAKE}s, verify ${T_VERIFY}s, stop ${T_STOP}s, total $((SECONDS - T_START))s"
    if [ "$rc" -eq 0 ]; then
        say "PASSED"
    else
        say "FAILED (rc=$rc) during: $PHASE"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cd "$REPO"

# 1. install ----------------------------------------------------------------
PHASE=install
t=$SECONDS
if [ "${GOODNET_SLURM_SKIP_INSTALL:-0}" != 1 ]; then
    bash "$CLUSTER_SH" install
fi
T_INSTALL=$((SECONDS - t))

# 2. start ------------------------------------------------------------------
PHASE="cluster start"
t=$SECONDS
bash "$CLUSTER_SH" start
T_CLUSTER=$((SECONDS - t))
export SLURM_CONF="$STATE/etc/slurm.conf"

# 3. snakemake --------------------------------------------------------------
PHASE=snakemake
if [ "$TOY" = 1 ]; then
    rm -rf "$WORK"
    mkdir -p "$WORK"
fi
SMK_LOG="$STATE/snakemake.log"
say "running (timeout ${TIMEOUT}s): ${CMD[*]}"
t=$SECONDS
set +e
# snakemake ignores SIGTERM while it waits for jobs: -k sends SIGKILL 30 s later.
timeout -k 30 "$TIMEOUT" "${CMD[@]}" 2>&1 | tee "$SMK_LOG"
smk_rc=${PIPESTATUS[0]}
set -e
T_SNAKEMAKE=$((SECONDS - t))
if [ "$smk_rc" -eq 124 ] || [ "$smk_rc" -eq 137 ]; then
    echo "[run_test.sh] ERROR: snakemake timed out after ${TIMEOUT}s" >&2
    exit 1
elif [ "$smk_rc" -ne 0 ]; then
    echo "[run_test.sh] ERROR: snakemake failed (rc=$smk_rc), log: $SMK_LOG" >&2
    exit 1
fi

# 4. verify with sacct ------------------------------------------------------
PHASE="sacct verification"
t=$SECONDS
# "Job 3 has been submitted with SLURM jobid 17 (log: ...)" and, for array
# jobs, "... and SLURM job ID 17. ...".
mapfile -t JOBIDS < <(
    grep -oE 'submitted with SLURM jobid [0-9]+|SLURM job ID [0-9]+' "$SMK_LOG" |
        grep -oE '[0-9]+$' | sort -un
)
say "SLURM job ids submitted by snakemake: ${JOBIDS[*]:-none}"
if [ "${#JOBIDS[@]}" -lt "$MIN_JOBS" ]; then
    echo "[run_test.sh] ERROR: expected at least $MIN_JOBS SLURM jobs, snakemake submitted ${#JOBIDS[@]} (was it run with --profile profiles/slurm?)" >&2
    exit 1
fi
IDS="$(IFS=,; echo "${JOBIDS[*]}")"
FORMAT="JobID%12,Comment%36,Partition%9,State%12,ExitCode,Elapsed,ReqTRES%50,AllocTRES%50"
# Job completion reaches slurmdbd asynchronously: poll until every job has a
# final state (bounded).
deadline=$((SECONDS + 60))
while :; do
    SACCT="$(timeout 30 sacct -X -n -P -j "$IDS" -o JobID,State,ExitCode,ReqTRES,AllocTRES,Partition,Comment)"
    pending="$(awk -F'|' '$2 ~ /^(PENDING|RUNNING|COMPLETING|REQUEUED|SUSPENDED)/' <<<"$SACCT" | wc -l)"
    n="$(grep -c . <<<"$SACCT" || true)"
    if [ "$pending" -eq 0 ] && [ "$n" -ge "${#JOBIDS[@]}" ]; then break; fi
    if [ "$SECONDS" -ge "$deadline" ]; then break; fi
    sleep 1
done
echo "----- sacct -X -j $IDS"
timeout 30 sacct -X -j "$IDS" -o "$FORMAT" | tee "$STATE/sacct.txt" || true
echo "-----"
errors=0
n_gpu=0
RULES_SEEN=()
for id in "${JOBIDS[@]}"; do
    line="$(awk -F'|' -v id="$id" '$1 == id' <<<"$SACCT")"
    if [ -z "$line" ]; then
        echo "[run_test.sh] ERROR: job $id unknown to sacct" >&2
        errors=$((errors + 1))
        continue
    fi
    IFS='|' read -r _ state exitcode reqtres alloctres partition comment <<<"$line"
    # The plugin's comment is rule_<rule> or rule_<rule>_wildcards_<values>.
    rule="${comment#rule_}"
    rule="${rule%%_wildcards_*}"
    RULES_SEEN+=("$rule")
    if [ -n "${GOODNET_SLURM_GPU_RULES:-}" ]; then
        if [[ " $GOODNET_SLURM_GPU_RULES " == *" $rule "* ]] && [[ "$alloctres" != *gres/gpu* ]]; then
            echo "[run_test.sh] ERROR: job $id ($comment) of a GPU rule has no gres/gpu in AllocTRES: $alloctres" >&2
            errors=$((errors + 1))
        elif [[ " $GOODNET_SLURM_GPU_RULES " != *" $rule "* ]] && [[ "$alloctres" == *gres/gpu* ]]; then
            echo "[run_test.sh] ERROR: job $id ($comment) got a GPU but its rule is not in GOODNET_SLURM_GPU_RULES" >&2
            errors=$((errors + 1))
        fi
    fi
    if [ -n "${GOODNET_SLURM_GPU_JOBS_PARTITION:-}" ] && [[ "$alloctres" == *gres/gpu* ]] &&
        [ "$partition" != "$GOODNET_SLURM_GPU_JOBS_PARTITION" ]; then
        echo "[run_test.sh] ERROR: GPU job $id ($comment) ran in partition '$partition', not '$GOODNET_SLURM_GPU_JOBS_PARTITION'" >&2
        errors=$((errors + 1))
    fi
    if [ "$state" != COMPLETED ] || [ "$exitcode" != 0:0 ]; then
        echo "[run_test.sh] ERROR: job $id ($comment): state $state, exit code $exitcode" >&2
        errors=$((errors + 1))
    fi
    if [[ "$alloctres" == *gres/gpu* ]]; then
        n_gpu=$((n_gpu + 1))
    elif [[ "$reqtres" == *gres/gpu* ]]; then
        echo "[run_test.sh] ERROR: job $id ($comment) asked for a GPU but AllocTRES has none: $alloctres" >&2
        errors=$((errors + 1))
    fi
done
if [ -n "${GOODNET_SLURM_EXPECT_RULES:-}" ]; then
    seen="$(printf '%s\n' "${RULES_SEEN[@]}" | sort | uniq -c | awk '{print $2 "=" $1}' | sort | xargs)"
    expected="$(tr ' ' '\n' <<<"$GOODNET_SLURM_EXPECT_RULES" | grep . | sort | xargs)"
    if [ "$seen" != "$expected" ]; then
        echo "[run_test.sh] ERROR: SLURM jobs per rule differ from the plan" >&2
        echo "  expected: $expected" >&2
        echo "  sacct:    $seen" >&2
        errors=$((errors + 1))
    else
        say "SLURM jobs per rule as planned: $seen"
    fi
fi
if [ "$n_gpu" -lt "$MIN_GPU_JOBS" ]; then
    echo "[run_test.sh] ERROR: expected at least $MIN_GPU_JOBS job(s) with gres/gpu in AllocTRES, found $n_gpu" >&2
    errors=$((errors + 1))
fi
if [ "$TOY" = 1 ]; then
    echo "----- $WORK/results/report.txt"
    cat "$WORK/results/report.txt" || errors=$((errors + 1))
    echo "-----"
fi
T_VERIFY=$((SECONDS - t))
if [ "$errors" -ne 0 ]; then
    echo "[run_test.sh] ERROR: $errors check(s) failed" >&2
    exit 1
fi
say "OK: ${#JOBIDS[@]} SLURM job(s) COMPLETED with exit code 0:0, $n_gpu with gres/gpu"
