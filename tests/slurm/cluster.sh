#!/usr/bin/env bash
# A throw-away one-node SLURM cluster on this machine (munged + slurmctld + slurmd, all as root
# on localhost), for tests/test_slurm.py. Needs Debian's slurm-wlm and munge (make test-slurm
# installs them).
#
#   tests/slurm/cluster.sh run -- CMD ...   start, run CMD with SLURM_CONF set, stop (always)
#   tests/slurm/cluster.sh start            start; prints the `export SLURM_CONF=...` to use
#   tests/slurm/cluster.sh stop             cancel the cluster's jobs, stop its daemons
#
# Everything lives in $FFREPRO_SLURM_DIR (default /tmp/ffrepro-slurm): config, munge key and
# socket, state, logs, and the PID of each daemon started here. One thing goes outside it:
# /etc/slurm/slurm.conf, a link to the config (made only where no such file exists, removed by
# `stop`), because the executor's job step (snakemake-executor-plugin-slurm-jobstep) drops
# SLURM_CONF from the environment of the `srun` it runs inside each job, so `srun` only finds
# the config at its default path. `stop` cancels the cluster's jobs, then ends exactly the PIDs
# recorded (and any job step still running under this cluster's SLURM_CONF), nothing by name.
# Other settings: FFREPRO_SLURM_CTLD_PORT (16817), FFREPRO_SLURM_SLURMD_PORT (16818),
# FFREPRO_SLURM_CPUS (all), FFREPRO_SLURM_MEM_MB (60 % of the machine's memory).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${FFREPRO_SLURM_DIR:-/tmp/ffrepro-slurm}
CONF=$STATE/slurm.conf
ETC_CONF=/etc/slurm/slurm.conf
NODE=ffnode
DAEMONS=(munged slurmctld slurmd)

log() { echo "[slurm-cluster] $*" >&2; }

# The PID of each daemon started here, as $! gave it: $STATE/pids/<daemon>.
pid_of() { [[ -f $STATE/pids/$1 ]] && cat "$STATE/pids/$1"; return 0; }
alive() { local pid; pid=$(pid_of "$1"); [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; }

show_logs() {
    for f in "$STATE"/log/*.log; do
        [[ -f $f ]] || continue
        echo "----- $f (last 20 lines)" >&2
        tail -n 20 "$f" >&2
    done
}

start() {
    for d in "${DAEMONS[@]}"; do
        if alive "$d"; then
            log "$d already running (PID $(pid_of "$d")); run '$0 stop' first"
            return 1
        fi
    done
    for tool in munged slurmctld slurmd sbatch squeue sinfo; do
        command -v "$tool" >/dev/null || { log "missing $tool: apt-get install slurm-wlm munge"; return 1; }
    done
    if [[ -e $ETC_CONF || -L $ETC_CONF ]]; then
        log "$ETC_CONF exists: this machine has its own SLURM set-up; not starting a test cluster"
        return 1
    fi
    rm -rf "$STATE"
    mkdir -p "$STATE"/{munge,ctld,spool,log,pids}
    chmod 0755 "$STATE" "$STATE/munge"
    # A private munge key and socket: the machine's own munge set-up is not touched.
    head -c 1024 /dev/urandom >"$STATE/munge/munge.key"
    chmod 0400 "$STATE/munge/munge.key"

    local cpus mem_mb
    cpus=${FFREPRO_SLURM_CPUS:-$(nproc)}
    mem_mb=${FFREPRO_SLURM_MEM_MB:-$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.6}' /proc/meminfo)}
    sed -e "s|@STATE@|$STATE|g" -e "s|@NODE@|$NODE|g" -e "s|@HOST@|$(hostname -s)|g" \
        -e "s|@CPUS@|$cpus|g" -e "s|@MEM_MB@|$mem_mb|g" \
        -e "s|@CTLD_PORT@|${FFREPRO_SLURM_CTLD_PORT:-16817}|g" \
        -e "s|@SLURMD_PORT@|${FFREPRO_SLURM_SLURMD_PORT:-16818}|g" \
        "$HERE/slurm.conf.in" >"$CONF"
    export SLURM_CONF=$CONF
    mkdir -p "$(dirname "$ETC_CONF")"
    ln -s "$CONF" "$ETC_CONF"

    # Each daemon in the foreground, in the background of this script: $! is its PID. setsid
    # (which execs in place here) keeps a Ctrl-C meant for the tests away from the daemons, so
    # that `stop` can still cancel the jobs before it ends them.
    setsid munged --foreground --force --key-file="$STATE/munge/munge.key" \
        --socket="$STATE/munge/munge.socket" --pid-file="$STATE/munge/munged.pid" \
        --seed-file="$STATE/munge/seed" --log-file="$STATE/log/munged.log" \
        </dev/null >>"$STATE/log/munged.out" 2>&1 &
    echo $! >"$STATE/pids/munged"
    wait_for "munge socket" test -S "$STATE/munge/munge.socket" || { fail_start; return 1; }

    setsid slurmctld -D -i -f "$CONF" </dev/null >>"$STATE/log/slurmctld.out" 2>&1 &
    echo $! >"$STATE/pids/slurmctld"
    setsid slurmd -D -N "$NODE" -f "$CONF" </dev/null >>"$STATE/log/slurmd.out" 2>&1 &
    echo $! >"$STATE/pids/slurmd"

    if ! wait_for "node $NODE idle" node_idle; then
        fail_start
        return 1
    fi
    log "up: $(sinfo -h -o '%P %D %c CPUs %m MB %t')"
    echo "export SLURM_CONF=$CONF"
}

node_idle() { sinfo -h -n "$NODE" -o '%t' 2>/dev/null | grep -qx 'idle'; }

wait_for() {  # wait_for WHAT CMD...: poll CMD for up to 60 s
    local what=$1
    shift
    for _ in $(seq 120); do
        "$@" && return 0
        sleep 0.5
    done
    log "timed out waiting for $what"
    return 1
}

fail_start() {
    show_logs
    stop || true
}

stop_pid() {  # stop_pid NAME PID: TERM, wait up to 20 s, then KILL
    local name=$1 pid=$2
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 40); do
        kill -0 "$pid" 2>/dev/null || { log "stopped $name ($pid)"; return 0; }
        sleep 0.5
    done
    kill -KILL "$pid" 2>/dev/null || true
    log "killed $name ($pid)"
}

job_step_pids() {  # slurmstepd and job processes of this cluster (its SLURM_CONF in their
    local p env                # environment, and a job id or the slurmstepd name)
    for p in /proc/[0-9]*; do
        env=$(tr '\0' '\n' 2>/dev/null <"$p/environ") || continue
        grep -qx "SLURM_CONF=$CONF" <<<"$env" || continue
        if grep -q '^SLURM_JOB_ID=' <<<"$env" || [[ $(cut -c1-10 2>/dev/null <"$p/cmdline") == slurmstepd ]]; then
            echo "${p#/proc/}"
        fi
    done
    return 0
}

stop() {
    [[ -d $STATE ]] || { log "nothing to stop ($STATE missing)"; return 0; }
    export SLURM_CONF=$CONF
    local pid
    if alive slurmctld; then
        scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
        for _ in $(seq 30); do
            [[ -z $(squeue -h -t RUNNING,COMPLETING,PENDING -o %i 2>/dev/null) ]] && break
            sleep 1
        done
    fi
    for d in slurmd slurmctld munged; do
        pid=$(pid_of "$d")
        [[ -n $pid ]] && stop_pid "$d" "$pid"
    done
    # Job steps outlive slurmd when a job did not end in time: end those of this cluster.
    for pid in $(job_step_pids); do
        log "ending leftover job process $pid: $(tr '\0' ' ' 2>/dev/null </proc/"$pid"/cmdline | cut -c1-80)"
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -f "$STATE"/pids/*
    if [[ -L $ETC_CONF && $(readlink "$ETC_CONF") == "$CONF" ]]; then
        rm -f "$ETC_CONF"
    fi
}

case ${1:-} in
start) start ;;
stop) stop ;;
run)
    shift
    [[ ${1:-} == -- ]] && shift
    [[ $# -gt 0 ]] || { echo "usage: $0 run -- CMD ..." >&2; exit 2; }
    trap 'stop' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    start >/dev/null
    export SLURM_CONF=$CONF
    set +e
    "$@"
    rc=$?
    set -e
    [[ $rc -ne 0 ]] && show_logs
    exit $rc
    ;;
*)
    sed -n '2,/^set -euo/p' "$0" | sed '$d'

    exit 2
    ;;
esac
