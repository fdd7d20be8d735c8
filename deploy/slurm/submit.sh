#!/usr/bin/env bash
# Queue a sweep on Slurm: a job array of SHARDS tasks (at most PARALLEL at once) and a merge job that
# starts when every task succeeded. Prints "ARRAY_JOB_ID MERGE_JOB_ID".
#
#   deploy/slurm/submit.sh SWEEP OUT SHARDS [PARALLEL] [--only LIST] [-- extra sbatch arguments]
#
#   --only LIST   run only these array indices (Slurm syntax: 3,5,9-11), e.g. the tasks that failed
#                 (`sacct -j ARRAY --state=FAILED,TIMEOUT,NODE_FAIL -X -n -o JobID`); each resumes
#                 from its chunks, and a new merge job waits for them.
#
# WANKA (the binary, default `wanka` on PATH) and WANKA_ARGS are passed to the jobs. SWEEP and OUT
# must be on storage that every node sees. SHARDS must not exceed the cluster's MaxArraySize
# (`scontrol show config | grep MaxArraySize`, often 1001): use fewer, larger shards instead.
set -euo pipefail
usage() {
    sed -n '2,14p' "$0" >&2
    exit 2
}
[[ $# -lt 3 ]] && usage
here=$(cd "$(dirname "$0")" && pwd)
SWEEP=$(realpath "$1")
OUT=$(realpath -m "$2")
SHARDS=$3
shift 3
PARALLEL=
ONLY=
while [[ $# -gt 0 ]]; do
    case "$1" in
        --) shift; break ;;
        --only)
            [[ $# -ge 2 ]] || { echo "error: --only needs a list of indices (e.g. 3,5,9-11)" >&2; exit 2; }
            ONLY=$2
            shift 2
            ;;
        *)
            if [[ -z "$PARALLEL" && "$1" =~ ^[0-9]+$ ]]; then
                PARALLEL=$1
                shift
            else
                echo "error: unexpected argument '$1' (sbatch arguments go after --)" >&2
                exit 2
            fi
            ;;
    esac
done
positive() { [[ "$2" =~ ^[0-9]+$ && "$2" -ge 1 ]] || { echo "error: $1 must be a whole number >= 1, got '$2'" >&2; exit 2; }; }
positive SHARDS "$SHARDS"
PARALLEL=${PARALLEL:-$SHARDS}
positive PARALLEL "$PARALLEL"
if [[ -n "$ONLY" ]]; then
    [[ "$ONLY" =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] || { echo "error: --only '$ONLY': expected indices like 3,5,9-11" >&2; exit 2; }
    for n in ${ONLY//[,-]/ }; do
        ((n < SHARDS)) || { echo "error: --only '$ONLY': index $n is not below SHARDS = $SHARDS" >&2; exit 2; }
    done
    INDICES=$ONLY
else
    INDICES="0-$((SHARDS - 1))"
fi
if command -v scontrol >/dev/null 2>&1; then
    max=$(scontrol show config 2>/dev/null | awk '$1 == "MaxArraySize" {print $3}' || true)
    if [[ "$max" =~ ^[0-9]+$ ]] && ((SHARDS > max)); then
        echo "error: SHARDS = $SHARDS exceeds this cluster's MaxArraySize = $max: use at most $max shards" >&2
        exit 2
    fi
fi
WANKA=${WANKA:-$(command -v wanka || echo wanka)}
mkdir -p "$OUT/logs"
export SWEEP OUT WANKA SHARDS WANKA_ARGS="${WANKA_ARGS:-}"
array=$(sbatch --parsable --array="$INDICES%$PARALLEL" --output="$OUT/logs/%x-%A_%a.out" \
    --export=ALL "$@" "$here/sweep.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
    --output="$OUT/logs/%x-%j.out" --export=ALL "$@" "$here/merge.sbatch")
echo "$array ${merge%%;*}"
