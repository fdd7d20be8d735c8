#!/usr/bin/env bash
# End-to-end test of the Slurm recipe on this machine: install Slurm and MUNGE (Debian packages),
# start munged, slurmctld and slurmd on loopback with all state in a temporary directory, run a sweep
# as a job array of 3 shards plus the dependent merge job (deploy/slurm/submit.sh), and check that the
# merged outputs equal a single-machine run byte for byte. The daemons are stopped on exit. Needs root.
#
#   bash deploy/slurm/ci-test.sh [SWEEP] [SHARDS]     (default: scenarios/sweeps/planner_study.ron, 3)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SWEEP=$(realpath "${1:-scenarios/sweeps/planner_study.ron}")
SHARDS=${2:-3}
export WANKA_ARGS=${WANKA_ARGS:---seeds 3}
log() { echo "slurm-test: $*"; }

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurm-wlm and munge"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
cargo build --release -q -p wanka_sim --bin wanka
export WANKA="$ROOT/target/release/wanka"

TMP=$(mktemp -d /tmp/wanka-slurm.XXXXXX)
CONF="$TMP/slurm.conf"
export SLURM_CONF="$CONF"
STARTED_MUNGE=""
cleanup() {
    local rc=$?
    for d in slurmd slurmctld; do
        if [[ -f "$TMP/$d.pid" ]]; then kill "$(cat "$TMP/$d.pid")" 2>/dev/null || true; fi
    done
    if [[ -n "$STARTED_MUNGE" && -f /run/munge/munged.pid ]]; then kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true; fi
    if [[ $rc -ne 0 ]]; then
        log "FAILED (exit $rc); daemon and job logs:"
        for f in "$TMP"/*.log "$TMP"/out/logs/*; do
            [[ -f "$f" ]] && { echo "--- $f"; tail -n 40 "$f"; }
        done
    fi
    sleep 1
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT

HOST=$(hostname -s)
mkdir -p "$TMP/state" "$TMP/spool"
cat >"$CONF" <<CONF
ClusterName=local
SlurmctldHost=$HOST(127.0.0.1)
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$TMP/state
SlurmdSpoolDir=$TMP/spool
SlurmctldPidFile=$TMP/slurmctld.pid
SlurmdPidFile=$TMP/slurmd.pid
SlurmctldLogFile=$TMP/slurmctld.log
SlurmdLogFile=$TMP/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "starting munged"
    [[ -f /etc/munge/munge.key ]] || mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
    mkdir -p /run/munge && chown munge:munge /run/munge
    su -s /bin/sh munge -c /usr/sbin/munged
    STARTED_MUNGE=1
fi
log "starting slurmctld and slurmd"
slurmctld -f "$CONF"
slurmd -f "$CONF"
for _ in $(seq 60); do
    state=$(sinfo -h -o %T 2>/dev/null | head -n1 || true)
    [[ "$state" == idle* ]] && break
    sleep 0.5
done
[[ "$state" == idle* ]] || { log "node not idle: '$state'"; exit 1; }
log "node $HOST is $state"

OUT="$TMP/out"
t0=$(date +%s)
read -r ARRAY MERGE < <(deploy/slurm/submit.sh "$SWEEP" "$OUT" "$SHARDS" 2)
log "submitted array job $ARRAY ($SHARDS shards, 2 at a time) and merge job $MERGE (afterok)"
job_state() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -n1 | cut -d= -f2; }
for _ in $(seq 600); do
    s=$(job_state "$MERGE")
    case "$s" in
        COMPLETED) break ;;
        FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE)
            log "merge job $MERGE ended $s"
            exit 1
            ;;
    esac
    sleep 0.5
done
[[ "$(job_state "$MERGE")" == COMPLETED ]] || { log "merge job $MERGE not done after 300 s: $(job_state "$MERGE")"; exit 1; }
log "array and merge jobs completed in $(($(date +%s) - t0)) s"
for k in $(seq 0 $((SHARDS - 1))); do
    s=$(job_state "${ARRAY}_$k")
    [[ "$s" == COMPLETED ]] || { log "array task $k: $s"; exit 1; }
done

# shellcheck disable=SC2086
"$WANKA" sweep "$SWEEP" --out "$TMP/single" $WANKA_ARGS >/dev/null
for f in results.csv results.jsonl manifest.json; do
    cmp "$OUT/merged/$f" "$TMP/single/$f" || { log "$f differs between the Slurm run and the single run"; exit 1; }
done
rows=$(($(wc -l <"$OUT/merged/results.csv") - 1))
log "ok: merged outputs of $SHARDS Slurm shards ($rows points) are byte-identical to a single run"
