#!/usr/bin/env bash
# Throwaway one-node SLURM cluster on localhost, for tests only.
#
#   cluster.sh install   apt-get install the daemons (idempotent, quiet)
#   cluster.sh start     write configs into the state dir, start munged,
#                        mariadb, slurmdbd, slurmctld, slurmd; register
#                        cluster/account/user; wait for the node to be idle
#   cluster.sh stop      cancel jobs, stop the daemons started by `start`
#                        (by pid file) and nothing else
#   cluster.sh status    show which daemons run, plus sinfo/squeue
#   cluster.sh env       print `export SLURM_CONF=...` (eval "$(cluster.sh env)")
#   cluster.sh logs      print the tail of every daemon log
#   cluster.sh clean     stop, then delete the state dir (database included)
#
# Everything lives in $GOODNET_SLURM_STATE (default /tmp/goodnet-slurm): the
# rendered configs (etc/), pid files (run/), logs (log/), spool dirs, the
# MariaDB data dir and the munge key. Nothing under /etc is touched, so every
# client command needs SLURM_CONF=$GOODNET_SLURM_STATE/etc/slurm.conf
# (see `cluster.sh env`).
#
# Settings (environment variables, all optional):
#   GOODNET_SLURM_STATE          state dir            [/tmp/goodnet-slurm]
#   GOODNET_SLURM_PARTITION      partition name       [main]
#   GOODNET_SLURM_GPU_PARTITION  second partition, same node [gpu]
#   GOODNET_SLURM_ACCOUNT        account name         [goodnet]
#   GOODNET_SLURM_CLUSTER        cluster name         [goodnet]
#   GOODNET_SLURM_CTLD_PORT / _SLURMD_PORT / _DBD_PORT / _DB_PORT
#                                TCP ports            [6817 / 6818 / 6819 / 16819]
#   GOODNET_SLURM_START_TIMEOUT  seconds to wait for each daemon [90]
#   GOODNET_SLURM_TASK_PLUGIN    slurm.conf TaskPlugin [task/affinity, or
#                                task/none when the CPU set is restricted]
#
# Requires root (re-executes itself through sudo when not root and sudo works).
# No systemd needed: the daemons are started directly, in the foreground
# of their own session, with pid files under $STATE/run.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${GOODNET_SLURM_STATE:-/tmp/goodnet-slurm}"
PARTITION="${GOODNET_SLURM_PARTITION:-main}"
GPU_PARTITION="${GOODNET_SLURM_GPU_PARTITION:-gpu}"
ACCOUNT="${GOODNET_SLURM_ACCOUNT:-goodnet}"
CLUSTER="${GOODNET_SLURM_CLUSTER:-goodnet}"
CTLD_PORT="${GOODNET_SLURM_CTLD_PORT:-6817}"
SLURMD_PORT="${GOODNET_SLURM_SLURMD_PORT:-6818}"
DBD_PORT="${GOODNET_SLURM_DBD_PORT:-6819}"
DB_PORT="${GOODNET_SLURM_DB_PORT:-16819}"
START_TIMEOUT="${GOODNET_SLURM_START_TIMEOUT:-90}"

PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)
# Stop order (reverse of start order).
DAEMONS_STOP_ORDER=(slurmd slurmctld slurmdbd mariadb munged)

ETC="$STATE/etc"
RUN="$STATE/run"
LOG="$STATE/log"
MUNGE_DIR="$STATE/munge"
MUNGE_SOCKET="$MUNGE_DIR/munge.socket.2"
DB_DIR="$STATE/mysql"
DB_SOCKET="$DB_DIR/mysqld.sock"
export SLURM_CONF="$ETC/slurm.conf"
SYS_CONF=/etc/slurm/slurm.conf

say() { printf '[cluster.sh] %s\n' "$*"; }
die() {
    printf '[cluster.sh] ERROR: %s\n' "$*" >&2
    exit 1
}

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            exec sudo -n --preserve-env=GOODNET_SLURM_STATE,GOODNET_SLURM_PARTITION,GOODNET_SLURM_GPU_PARTITION,GOODNET_SLURM_ACCOUNT,GOODNET_SLURM_CLUSTER,GOODNET_SLURM_CTLD_PORT,GOODNET_SLURM_SLURMD_PORT,GOODNET_SLURM_DBD_PORT,GOODNET_SLURM_DB_PORT,GOODNET_SLURM_START_TIMEOUT,GOODNET_SLURM_TASK_PLUGIN \
                bash "$HERE/cluster.sh" "$@"
        fi
        die "must run as root (or with password-less sudo)"
    fi
}

# ---------------------------------------------------------------- install --

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

cmd_install() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        installed "$p" || missing+=("$p")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        say "packages already installed: ${PACKAGES[*]}"
        return 0
    fi
    say "installing: ${missing[*]} (apt-get, quiet)"
    mkdir -p "$STATE"
    local aptlog="$STATE/apt.log" policy=/usr/sbin/policy-rc.d added_policy=0
    # Without systemd, the packages' postinst would start the *system*
    # munge/mariadb/slurm daemons through their init scripts. Forbid that for
    # the duration of the install (unless a policy is already in place).
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# temporary, by goodnet tests/slurm/cluster.sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        added_policy=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    local rc=0
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$aptlog" 2>&1 ||
        say "WARNING: apt-get update failed, trying to install anyway"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" \
        >>"$aptlog" 2>&1 || rc=$?
    if [ "$added_policy" = 1 ]; then
        rm -f "$policy"
        trap - EXIT
    fi
    if [ "$rc" -ne 0 ]; then
        tail -n 40 "$aptlog" >&2 || true
        die "apt-get failed (rc=$rc), full log: $aptlog"
    fi
    for p in "${PACKAGES[@]}"; do
        installed "$p" || die "package $p still not installed, see $aptlog"
    done
    say "installed"
}

# ------------------------------------------------------------- daemon glue --

# pid_alive NAME: the pid in $RUN/NAME.pid is alive and is still that daemon.
pid_alive() {
    local name="$1" pidfile="$RUN/$1.pid" pid comm
    [ -s "$pidfile" ] || return 1
    pid="$(cat "$pidfile" 2>/dev/null)" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || return 1
    case "$name" in
    mariadb) [[ "$comm" == mariadbd || "$comm" == mysqld ]] ;;
    *) [[ "$comm" == "$name" ]] ;;
    esac
}

# launch NAME CMD...: start CMD (which must stay in the foreground) in its own
# session, stdio to $LOG/NAME.out, and record its pid in $RUN/NAME.pid.
launch() {
    local name="$1"
    shift
    say "starting $name"
    setsid "$@" </dev/null >>"$LOG/$name.out" 2>&1 &
    echo $! >"$RUN/$name.pid"
    sleep 0.3
    if ! pid_alive "$name"; then
        sleep 1
        pid_alive "$name" || fail "$name exited right after start"
    fi
}

show_logs() {
    local f
    for f in "$LOG"/*.log "$LOG"/*.out; do
        [ -s "$f" ] || continue
        echo "----- tail -n 40 $f -----" >&2
        tail -n 40 "$f" >&2 || true
    done
}

fail() {
    printf '[cluster.sh] ERROR: %s\n' "$*" >&2
    echo "[cluster.sh] daemon logs follow ($LOG):" >&2
    show_logs
    cmd_status_short >&2 || true
    echo "[cluster.sh] ERROR: $* (daemons left running for inspection; run 'cluster.sh stop')" >&2
    exit 1
}

# wait_for DAEMON WHAT CMD...: poll CMD (quietly, 15 s max. per try) until it
# succeeds; fail at once if DAEMON dies, or after $START_TIMEOUT seconds.
wait_for() {
    local daemon="$1" what="$2" deadline=$((SECONDS + START_TIMEOUT))
    shift 2
    until timeout 15 "$@" >/dev/null 2>&1; do
        pid_alive "$daemon" || fail "$daemon died while waiting for $what"
        if [ "$SECONDS" -ge "$deadline" ]; then
            fail "timed out after ${START_TIMEOUT}s waiting for $what"
        fi
        sleep 0.5
    done
}

render() { # render TEMPLATE DEST
    sed -e "s|@STATE@|$STATE|g" \
        -e "s|@HOST@|$HOST|g" \
        -e "s|@CLUSTER@|$CLUSTER|g" \
        -e "s|@PARTITION@|$PARTITION|g" \
        -e "s|@GPU_PARTITION@|$GPU_PARTITION|g" \
        -e "s|@CTLD_PORT@|$CTLD_PORT|g" \
        -e "s|@SLURMD_PORT@|$SLURMD_PORT|g" \
        -e "s|@DBD_PORT@|$DBD_PORT|g" \
        -e "s|@DB_PORT@|$DB_PORT|g" \
        -e "s|@DB_PASS@|$DB_PASS|g" \
        -e "s|@MUNGE_SOCKET@|$MUNGE_SOCKET|g" \
        -e "s|@GPU_DEVICE@|$GPU_DEVICE|g" \
        -e "s|@NODE_HW@|$NODE_HW|g" \
        -e "s|@MEMORY_MB@|$MEMORY_MB|g" \
        -e "s|@TASK_PLUGIN@|$TASK_PLUGIN|g" \
        "$1" >"$2.tmp"
    if grep -q '@[A-Z_]*@' "$2.tmp"; then
        die "unrendered placeholder in $2: $(grep -o '@[A-Z_]*@' "$2.tmp" | sort -u | tr '\n' ' ')"
    fi
    if [ -e "$2" ] && ! cmp -s "$2.tmp" "$2"; then CONF_CHANGED=1; fi
    mv -f "$2.tmp" "$2"
}

# ------------------------------------------------------------------ start --

check_binaries() {
    local b
    for b in munged mungekey mariadbd mariadb-install-db mariadb mariadb-admin \
        slurmdbd slurmctld slurmd sinfo sacct sacctmgr scontrol squeue scancel; do
        command -v "$b" >/dev/null 2>&1 ||
            die "$b not found; run '$0 install' first"
    done
}

write_configs() {
    HOST="$(hostname -s)"
    [ -n "$HOST" ] || die "empty hostname"
    # Node hardware as slurmd itself sees it, e.g.
    # "CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1".
    local hw
    hw="$(slurmd -C 2>/dev/null | head -n 1)" || true
    NODE_HW="$(tr ' ' '\n' <<<"$hw" | grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=' | tr '\n' ' ' | sed 's/ $//')"
    local real_mem
    real_mem="$(tr ' ' '\n' <<<"$hw" | sed -n 's/^RealMemory=//p')"
    if [ -z "$NODE_HW" ] || [ -z "$real_mem" ]; then
        NODE_HW="CPUs=$(nproc)"
        real_mem=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
    fi
    MEMORY_MB=$((real_mem * 9 / 10))
    if [ -n "${GOODNET_SLURM_TASK_PLUGIN:-}" ]; then
        TASK_PLUGIN="$GOODNET_SLURM_TASK_PLUGIN"
    elif [ "$(nproc)" = "$(nproc --all)" ]; then
        TASK_PLUGIN=task/affinity
    else # restricted cpuset (e.g. docker --cpuset-cpus): binding could fail
        TASK_PLUGIN=task/none
    fi

    # A character device standing in for a GPU (gres.conf File=).
    GPU_DEVICE="$STATE/dev/gpu0"
    if [ ! -c "$GPU_DEVICE" ]; then
        rm -f "$GPU_DEVICE"
        mknod -m 666 "$GPU_DEVICE" c 1 3 2>/dev/null || GPU_DEVICE=/dev/null
    fi

    if [ ! -s "$STATE/db.pass" ]; then
        (umask 077 && head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$STATE/db.pass")
    fi
    DB_PASS="$(cat "$STATE/db.pass")"

    render "$HERE/slurm.conf" "$ETC/slurm.conf"
    render "$HERE/gres.conf" "$ETC/gres.conf"
    render "$HERE/cgroup.conf" "$ETC/cgroup.conf"
    (umask 077 && render "$HERE/slurmdbd.conf" "$ETC/slurmdbd.conf")
    chmod 600 "$ETC/slurmdbd.conf"
    chmod 644 "$ETC/slurm.conf" "$ETC/gres.conf" "$ETC/cgroup.conf"
    printf 'export SLURM_CONF=%q\n' "$SLURM_CONF" >"$STATE/env.sh"
}

# The snakemake slurm jobstep executor wipes every SLURM_* variable
# (SLURM_CONF included) before it calls `srun` inside a job, so srun only finds
# the config at the compiled-in default path. Point that path at ours with a
# symlink (removed again by `stop`); never overwrite a real config.
link_system_conf() {
    if [ -L "$SYS_CONF" ]; then
        local cur
        cur="$(readlink "$SYS_CONF")"
        [ "$cur" = "$SLURM_CONF" ] && return 0
        # A link left behind by this script with another state dir (or one
        # whose target is gone) may be replaced; anything else is not ours.
        if [ ! -e "$cur" ] || grep -q '^# goodnet-test-cluster' "$cur" 2>/dev/null; then
            say "replacing stale link $SYS_CONF -> $cur"
            rm -f "$SYS_CONF"
        fi
    fi
    if [ -e "$SYS_CONF" ] || [ -L "$SYS_CONF" ]; then
        die "$SYS_CONF exists and is not ours ($(ls -ld "$SYS_CONF")); refusing to touch a real SLURM configuration"
    fi
    mkdir -p "$(dirname "$SYS_CONF")"
    ln -s "$SLURM_CONF" "$SYS_CONF"
}

unlink_system_conf() {
    if [ -L "$SYS_CONF" ] && [ "$(readlink "$SYS_CONF")" = "$SLURM_CONF" ]; then
        rm -f "$SYS_CONF"
    fi
}

start_munge() {
    if pid_alive munged; then
        say "munged already running (pid $(cat "$RUN/munged.pid"))"
        return 0
    fi
    chmod 755 "$MUNGE_DIR"
    if [ ! -s "$MUNGE_DIR/munge.key" ]; then
        mungekey --create --keyfile="$MUNGE_DIR/munge.key" >/dev/null 2>&1 ||
            (umask 077 && head -c 1024 /dev/urandom >"$MUNGE_DIR/munge.key")
    fi
    chmod 400 "$MUNGE_DIR/munge.key"
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
    launch munged munged --foreground --force \
        --key-file="$MUNGE_DIR/munge.key" \
        --socket="$MUNGE_SOCKET" \
        --pid-file="$MUNGE_DIR/munged.pid" \
        --seed-file="$MUNGE_DIR/munged.seed" \
        --log-file="$LOG/munged.log"
    wait_for munged "munged (credential round trip)" \
        bash -c "munge -n -S '$MUNGE_SOCKET' | unmunge -S '$MUNGE_SOCKET'"
}

db_sql() { mariadb --no-defaults -S "$DB_SOCKET" -u root -e "$1"; }

start_mariadb() {
    if pid_alive mariadb; then
        say "mariadb already running (pid $(cat "$RUN/mariadb.pid"))"
        return 0
    fi
    if [ ! -d "$DB_DIR/data/mysql" ]; then
        say "initialising MariaDB data dir"
        rm -rf "$DB_DIR/data"
        mariadb-install-db --no-defaults --datadir="$DB_DIR/data" --user=root \
            --auth-root-authentication-method=socket --skip-test-db \
            >"$LOG/mariadb-install.out" 2>&1 ||
            fail "mariadb-install-db failed (see $LOG/mariadb-install.out)"
    fi
    rm -f "$DB_SOCKET"
    launch mariadb mariadbd --no-defaults --user=root \
        --datadir="$DB_DIR/data" --socket="$DB_SOCKET" \
        --pid-file="$DB_DIR/mariadbd.pid" --log-error="$LOG/mariadb.log" \
        --port="$DB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
        --innodb-buffer-pool-size=128M --innodb-lock-wait-timeout=900 \
        --max-allowed-packet=64M
    wait_for mariadb "mariadb" mariadb-admin --no-defaults -S "$DB_SOCKET" -u root ping
    db_sql "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
            CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
            CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
            ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
            ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
            FLUSH PRIVILEGES;" >>"$LOG/mariadb-setup.out" 2>&1 ||
        fail "could not create the slurm database user (see $LOG/mariadb-setup.out)"
}

start_slurmdbd() {
    if pid_alive slurmdbd; then
        say "slurmdbd already running (pid $(cat "$RUN/slurmdbd.pid"))"
    else
        launch slurmdbd slurmdbd -D
    fi
    wait_for slurmdbd "slurmdbd (sacctmgr list cluster)" sacctmgr -n list cluster
    if ! timeout 30 sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then
        timeout 30 sacctmgr -i add cluster "$CLUSTER" >>"$LOG/sacctmgr.out" 2>&1 ||
            fail "sacctmgr add cluster $CLUSTER failed"
    fi
}

register_account() {
    local user="root"
    if ! timeout 30 sacctmgr -n -P list account format=account | grep -qx "$ACCOUNT"; then
        timeout 30 sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" \
            description="goodnet test account" organization=goodnet \
            >>"$LOG/sacctmgr.out" 2>&1 || fail "sacctmgr add account $ACCOUNT failed"
    fi
    if ! timeout 30 sacctmgr -n -P list assoc user="$user" cluster="$CLUSTER" format=account |
        grep -qx "$ACCOUNT"; then
        timeout 30 sacctmgr -i add user "$user" account="$ACCOUNT" cluster="$CLUSTER" \
            >>"$LOG/sacctmgr.out" 2>&1 || fail "sacctmgr add user $user failed"
    fi
    timeout 30 sacctmgr -i modify user where name="$user" set defaultaccount="$ACCOUNT" \
        >>"$LOG/sacctmgr.out" 2>&1 || true
}

start_slurmctld() {
    if pid_alive slurmctld; then
        say "slurmctld already running (pid $(cat "$RUN/slurmctld.pid"))"
    else
        launch slurmctld slurmctld -D -i
    fi
    wait_for slurmctld "slurmctld (scontrol ping)" bash -c "scontrol ping | grep -q UP"
}

start_slurmd() {
    if pid_alive slurmd; then
        say "slurmd already running (pid $(cat "$RUN/slurmd.pid"))"
    else
        launch slurmd slurmd -D -N "$HOST"
    fi
}

node_state() { timeout 10 sinfo -h -N -n "$HOST" -o '%t' 2>/dev/null | head -n 1; }

wait_node_idle() {
    local deadline=$((SECONDS + START_TIMEOUT)) st resumed=0
    say "waiting for node $HOST to be idle"
    while :; do
        st="$(node_state || true)"
        case "$st" in
        idle | mix | alloc) break ;;
        drain* | drng | down*)
            if [ "$resumed" = 0 ]; then
                # A node left drained/down by an earlier run: try once.
                resumed=1
                timeout 10 scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
            fi
            ;;
        esac
        pid_alive slurmd || fail "slurmd died"
        pid_alive slurmctld || fail "slurmctld died"
        if [ "$SECONDS" -ge "$deadline" ]; then
            sinfo -R >&2 || true
            fail "node $HOST not idle after ${START_TIMEOUT}s (state: '${st:-?}')"
        fi
        sleep 0.5
    done
    say "node $HOST is $st"
}

cmd_start() {
    check_binaries
    mkdir -p "$STATE" "$ETC" "$RUN" "$LOG" "$MUNGE_DIR" "$DB_DIR" "$STATE/dev" \
        "$STATE/spool/slurmctld" "$STATE/spool/slurmd"
    chmod 755 "$STATE"
    write_configs
    link_system_conf
    say "state dir $STATE, host $HOST, node: $NODE_HW RealMemory=$MEMORY_MB, gpu file $GPU_DEVICE, $TASK_PLUGIN"
    if [ "${CONF_CHANGED:-0}" = 1 ] && pid_alive slurmctld; then
        say "WARNING: the configuration changed while daemons run; 'stop' then 'start' to apply it"
    fi
    start_munge
    start_mariadb
    start_slurmdbd
    register_account
    start_slurmctld
    start_slurmd
    wait_node_idle
    # sacct must answer too (it is what the snakemake executor polls).
    wait_for slurmdbd "sacct" sacct -n -X --starttime now-1hour
    say "cluster '$CLUSTER' is up: partitions '$PARTITION' and '$GPU_PARTITION', account '$ACCOUNT'"
    say "use it with: export SLURM_CONF=$SLURM_CONF"
}

# ------------------------------------------------------------------- stop --

stop_daemon() {
    local name="$1" pidfile="$RUN/$1.pid" pid i
    if ! pid_alive "$name"; then
        rm -f "$pidfile"
        return 0
    fi
    pid="$(cat "$pidfile")"
    say "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do # up to 20 s
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$name did not stop after 20s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$pidfile"
}

# Cancel whatever is still queued/running so that no slurmstepd or job
# process outlives slurmd.
cancel_jobs() {
    pid_alive slurmctld || return 0
    local ids i
    ids="$(timeout 10 squeue -h -o '%A' 2>/dev/null || true)"
    [ -n "$ids" ] || return 0
    say "cancelling remaining jobs: $(echo "$ids" | tr '\n' ' ')"
    # shellcheck disable=SC2086
    timeout 10 scancel $ids >/dev/null 2>&1 || true
    for ((i = 0; i < 40; i++)); do # up to 20 s
        [ -z "$(timeout 10 squeue -h -t running,completing -o '%A' 2>/dev/null || true)" ] && break
        sleep 0.5
    done
}

cmd_stop() {
    if [ ! -d "$RUN" ]; then
        say "nothing to stop (no $RUN)"
        return 0
    fi
    cancel_jobs
    local d
    for d in "${DAEMONS_STOP_ORDER[@]}"; do
        stop_daemon "$d"
    done
    unlink_system_conf
    say "stopped"
}

cmd_clean() {
    cmd_stop
    if [ -d "$STATE" ]; then
        if [ -e "$STATE/etc/slurm.conf" ] && ! grep -q '^# goodnet-test-cluster' "$STATE/etc/slurm.conf"; then
            die "$STATE does not look like a goodnet test-cluster state dir; not deleting it"
        fi
        rm -rf "$STATE"
        say "removed $STATE"
    fi
}

# ----------------------------------------------------------------- status --

cmd_status_short() {
    local d any=1
    for d in munged mariadb slurmdbd slurmctld slurmd; do
        if pid_alive "$d"; then
            printf '  %-10s running (pid %s)\n' "$d" "$(cat "$RUN/$d.pid")"
        else
            printf '  %-10s stopped\n' "$d"
            any=0
        fi
    done
    return $((1 - any))
}

cmd_status() {
    echo "state dir: $STATE   SLURM_CONF=$SLURM_CONF"
    local rc=0
    cmd_status_short || rc=1
    if pid_alive slurmctld; then
        echo "--- sinfo"
        timeout 10 sinfo || true
        echo "--- squeue"
        timeout 10 squeue || true
    fi
    return $rc
}

# ------------------------------------------------------------------- main --

usage() {
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
}

main() {
    local cmd="${1:-}"
    case "$cmd" in
    install)
        need_root "$@"
        cmd_install
        ;;
    start)
        need_root "$@"
        cmd_start
        ;;
    stop)
        need_root "$@"
        cmd_stop
        ;;
    clean)
        need_root "$@"
        cmd_clean
        ;;
    status) cmd_status ;;
    env) printf 'export SLURM_CONF=%q\n' "$SLURM_CONF" ;;
    logs) show_logs 2>&1 ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
}

main "$@"
