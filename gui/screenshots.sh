#!/usr/bin/env bash
# Screenshots of every view of wanka-gui in a real window under Xvfb (no GPU needed: Mesa llvmpipe).
# Needs: apt-get install -y --no-install-recommends xvfb xauth imagemagick xdotool
# Writes gui/screenshots/*.png at 1280x800.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in xvfb-run import xdotool; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool: apt-get install -y --no-install-recommends xvfb xauth imagemagick xdotool" >&2
        exit 1
    }
done
cargo build --release -p wanka_gui
out=gui/screenshots
mkdir -p "$out"
bin=./target/release/wanka-gui
scenario=scenarios/default.ron

# shot NAME "ACTIONS" ARGS...: start the app, wait for it to draw, run the xdotool ACTIONS (may be
# empty), park the pointer in the corner, grab the screen.
shot() {
    local name=$1 actions=$2
    shift 2
    xvfb-run -a -s "-screen 0 1280x800x24" sh -c "
        $bin $* >/dev/null 2>&1 & pid=\$!
        sleep 6
        $actions
        xdotool mousemove 1279 799
        sleep 1
        import -window root $out/$name.png
        kill \$pid"
    echo "wrote $out/$name.png"
}

for view in step memory topology validation; do
    shot "$view" "" --view "$view" --scenario "$scenario" --theme dark
done
shot step-light "" --view step --scenario "$scenario" --theme light
shot memory-light "" --view memory --scenario "$scenario" --theme light
# An invalid edit (TP 3, typed in after the default loaded): the message appears under the
# parallelism fields and the last valid result stays on screen.
shot invalid-tp "" --view step --scenario "$scenario" --theme dark --set tp=3
