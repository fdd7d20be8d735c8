#!/usr/bin/env bash
# Screenshots of every view of wanka-gui in a real window under Xvfb (no GPU needed: Mesa llvmpipe).
# Needs: apt-get install -y --no-install-recommends xvfb xauth imagemagick xdotool
# Writes gui/screenshots/NAME.png at 1280x800 and NAME-2560.png at 2560x1440 (SIZES="1280x800" for one).
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in xvfb-run import xdotool; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool: apt-get install -y --no-install-recommends xvfb xauth imagemagick xdotool" >&2
        exit 1
    }
done
nice -n 10 cargo build --release -p wanka_gui
out=gui/screenshots
mkdir -p "$out"
bin=./target/release/wanka-gui
scenario=scenarios/default.ron
plan=scenarios/default_plan.ron

# shot NAME WAIT "ACTIONS" ARGS...: start the app, wait WAIT seconds for it to draw (a plan's
# comparison takes a few seconds), run the xdotool ACTIONS (may be empty), park the pointer in the
# corner, grab the screen.
size=1280x800
suffix=""
shot() {
    local name=$1 wait=$2 actions=$3
    shift 3
    # ONLY="compare sensitivity" regenerates just those.
    if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
    local w=${size%x*} h=${size#*x}
    # The larger window draws slower on the software renderer.
    [ "$w" -gt 1280 ] && wait=$((wait * 3 / 2))
    xvfb-run -a -s "-screen 0 ${size}x24" sh -c "
        $bin --size $size $* >/dev/null 2>&1 & pid=\$!
        sleep $wait
        $actions
        xdotool mousemove $((w - 1)) $((h - 1))
        sleep 1
        import -window root $out/$name$suffix.png
        kill \$pid"
    echo "wrote $out/$name$suffix.png"
}

for size in ${SIZES:-1280x800 2560x1440}; do
suffix=$([ "$size" = 1280x800 ] && echo "" || echo "-${size%x*}")

for view in step memory topology validation; do
    shot "$view" 6 "" --view "$view" --scenario "$scenario" --theme dark
done
shot step-light 6 "" --view step --scenario "$scenario" --theme light
shot memory-light 6 "" --view memory --scenario "$scenario" --theme light
# A scenario whose parallelism is searched (`parallelism: (auto: true, tp: 8)`): the step view and
# the summary say the plan was searched, the form shows the auto box and the pins.
shot step-auto 8 "xdotool mousemove 160 600; for i in 1 2 3; do xdotool click 5; sleep 0.1; done; sleep 1" --view step --scenario scenarios/examples/llama3-70b-auto-512.ron --theme dark
# An invalid edit (TP 3, typed in after the default loaded): the message appears under the
# parallelism fields and the last valid result stays on screen.
shot invalid-tp 6 "" --view step --scenario "$scenario" --theme dark --set tp=3

# The default plan: candidates table and Pareto chart, the losses of every candidate.
shot candidates 12 "" --view candidates --scenario "$plan" --theme dark
# Light theme, with the A800 and Ascend cards priced at $3,000: the Ascend joins the Pareto front.
shot candidates-light 14 "" --view candidates --scenario "$plan" --theme light --set c1.card_usd=3000 --set c4.card_usd=3000
shot losses 14 "" --view losses --scenario "$plan" --theme dark
# An invalid plan edit (the H800 pool emptied): the plan's message under the field, the last table stays.
shot invalid-plan 14 "" --view candidates --scenario "$plan" --theme dark --set c2.count=0
# The default scenario's training run, whole and zoomed on its first failure (the "First failure"
# button above the chart), and its losses.
shot run 9 "" --view run --scenario "$scenario" --theme dark
shot run-zoom 9 "xdotool mousemove 462 152 click 1; sleep 1.5" --view run --scenario "$scenario" --theme dark
shot losses-scenario 9 "" --view losses --scenario "$scenario" --theme dark
# The selected plan candidate's run (the fastest, built as a one-pool scenario).
shot run-plan 16 "" --view run --scenario "$plan" --theme dark
# Decisions: the two fastest candidates side by side with their differences; what moves the
# selected (fastest) candidate's days and cost.
shot compare 16 "" --view compare --scenario "$plan" --theme dark
shot sensitivity 24 "" --view sensitivity --scenario "$plan" --theme dark
done
