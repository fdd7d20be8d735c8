#!/usr/bin/env bash
# Queue a sweep on Slurm: a job array of SHARDS tasks (at most PARALLEL at once) and a merge job that
# starts when every task succeeded. Prints "ARRAY_JOB_ID MERGE_JOB_ID".
#
#   deploy/slurm/submit.sh SWEEP OUT SHARDS [PARALLEL] [-- extra sbatch arguments]
#
# WANKA (the binary, default `wanka` on PATH) and WANKA_ARGS are passed to the jobs. SWEEP and OUT
# must be on storage that every node sees.
set -euo pipefail
if [[ $# -lt 3 ]]; then
    sed -n '2,9p' "$0" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
SWEEP=$(realpath "$1")
OUT=$(realpath -m "$2")
SHARDS=$3
PARALLEL=${4:-$SHARDS}
shift $(($# < 4 ? $# : 4))
[[ "${1:-}" == "--" ]] && shift
WANKA=${WANKA:-$(command -v wanka || echo wanka)}
mkdir -p "$OUT/logs"
export SWEEP OUT WANKA WANKA_ARGS="${WANKA_ARGS:-}"
array=$(sbatch --parsable --array="0-$((SHARDS - 1))%$PARALLEL" --output="$OUT/logs/%x-%A_%a.out" \
    --export=ALL "$@" "$here/sweep.sbatch")
array=${array%%;*}
merge=$(SHARDS=$SHARDS sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
    --output="$OUT/logs/%x-%j.out" --export=ALL "$@" "$here/merge.sbatch")
echo "$array ${merge%%;*}"
