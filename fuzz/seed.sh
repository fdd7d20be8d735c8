#!/usr/bin/env bash
# Fill fuzz/corpus/{scenario,plan,sweep}/ with the seed corpus: the bundled scenarios, plans and sweeps,
# the bad-input corpus (tests/bad_scenarios, sorted by the command its `// args:` line names) and the
# small seeds in fuzz/seeds/ (which the harness's caps let it simulate in full). Generated: not committed.
set -euo pipefail
cd "$(dirname "$0")"
root=..
mkdir -p corpus/scenario corpus/plan corpus/sweep
cp "$root"/scenarios/default.ron "$root"/scenarios/examples/*.ron seeds/scenario_*.ron corpus/scenario/
cp "$root"/scenarios/default_plan.ron seeds/plan_*.ron corpus/plan/
cp "$root"/scenarios/sweeps/*.ron seeds/sweep_*.ron corpus/sweep/
find "$root"/tests/bad_scenarios -name '*.ron' | while read -r f; do
    case "$(sed -n 2p "$f")" in
        "// args: compare"*) kind=plan ;;
        "// args: sweep"*) kind=sweep ;;
        *) kind=scenario ;;
    esac
    cp "$f" "corpus/$kind/bad_$(basename "$f")"
done
ls corpus/* | grep -c ron | xargs echo "seed files:"
