#!/usr/bin/env bash
# Generate the notebooks' small dataset with the release binary (a few seconds on two cores).
#
#   cargo build --release && notebooks/make_data.sh [DATA_DIR]
#
# DATA_DIR defaults to $WANKA_DATA, else notebooks/data. Knobs (environment): WANKA (the binary, default
# target/release/wanka), COMPARE_SEEDS (20), SWEEP_SEEDS (10). The notebooks read:
#   compare.json, compare.csv            wanka compare --json --csv          -> candidates.ipynb
#   validate_step.json, step_cases.csv   wanka validate step_cases.csv       -> validation.ipynb
#   validate_holdout.json, holdout_cases.csv  wanka validate holdout_cases.csv (never calibrated on)
#   validate_reliability.json            wanka validate reliability_cases.csv
#   planner_study/                       wanka sweep scenarios/sweeps/planner_study.ron -> reliability.ipynb
#   checkpoint_interval/                 wanka sweep notebooks/sweeps/checkpoint_interval.ron
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-${WANKA_DATA:-$ROOT/notebooks/data}}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WANKA="${WANKA:-$ROOT/target/release/wanka}"
COMPARE_SEEDS="${COMPARE_SEEDS:-20}"
SWEEP_SEEDS="${SWEEP_SEEDS:-10}"
if [[ ! -x "$WANKA" ]]; then
    echo "make_data.sh: $WANKA not found; build it first: cargo build --release" >&2
    exit 1
fi
cd "$ROOT"
start=$SECONDS

# Write to a temporary file and rename, so a failed command leaves no half-written input behind.
emit() { # emit FILE CMD...: run CMD, its stdout becomes FILE
    local f="$1"
    shift
    "$@" >"$f.tmp"
    mv "$f.tmp" "$f"
}

echo "== compare (default plan, $COMPARE_SEEDS seeds per candidate)"
"$WANKA" compare scenarios/default_plan.ron --seeds "$COMPARE_SEEDS" --json --csv "$OUT/compare.csv" >"$OUT/compare.json.tmp"
mv "$OUT/compare.json.tmp" "$OUT/compare.json"

echo "== validate (step, holdout and reliability cases)"
emit "$OUT/validate_step.json" "$WANKA" validate scenarios/validation/step_cases.csv --json
emit "$OUT/validate_reliability.json" "$WANKA" validate scenarios/validation/reliability_cases.csv --json
emit "$OUT/validate_holdout.json" "$WANKA" validate scenarios/validation/holdout_cases.csv --json
for f in step_cases.csv holdout_cases.csv; do
    rm -f "$OUT/$f" && cp "scenarios/validation/$f" "$OUT/$f" && chmod u+w "$OUT/$f"
done

for sweep in scenarios/sweeps/planner_study.ron notebooks/sweeps/checkpoint_interval.ron; do
    name="$(basename "$sweep" .ron)"
    echo "== sweep $sweep ($SWEEP_SEEDS seeds per point)"
    rm -rf "${OUT:?}/$name"   # a sweep directory is resumable state; start afresh
    "$WANKA" sweep "$sweep" --out "$OUT/$name" --seeds "$SWEEP_SEEDS"
done

echo "data in $OUT ($((SECONDS - start)) s)"
