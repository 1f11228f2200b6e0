#!/bin/sh
# docs/tools/screenshots.sh NN — remakes docs/img/page-*.png, the README's pictures of the
# --html page, from the examples (needs what tests/install-deps.sh installs). From the root.
set -eu
nn=$1
cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/nn-tests
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$nn" --html "$work/neuron.html" examples/neuron.nn >/dev/null 2>&1
"$nn" --html "$work/xor.html" --trace-steps 2 examples/xor.nn >/dev/null 2>&1
printf '%s\n' 'seed 1' 'let points = moons(100, noise = 0.1)' 'model net {' '  dense(2, 8)' '  tanh' \
    '  dense(1)' '}' 'train net on points {' '  loss bce_logits' '  optimizer adam(lr = 0.05)' \
    '  epochs 40' '  batch 25' '  trace every 40' '}' >"$work/moons.nn"
"$nn" --html "$work/moons.html" "$work/moons.nn" >/dev/null 2>&1
"$nn" --html "$work/vanishing.html" examples/vanishing.nn >/dev/null 2>&1
NN_PLAYWRIGHT="$cache/node_modules" node docs/tools/screenshots.mjs docs/img "$work/neuron.html" \
    "$work/xor.html" "$work/moons.html" "$work/vanishing.html"
ls -l docs/img
