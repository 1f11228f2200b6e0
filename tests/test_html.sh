#!/bin/sh
# test_html.sh NN [MODULES_DIR] — the `nn --html` page of examples/neuron.nn, opened in headless
# Chromium and checked against `nn --trace=json` of the same script (tests/test_html.mjs), then
# the pages of examples/two_layer.nn and a traced train block stepped through end to end.
# Needs Debian's chromium, nodejs and npm, and the npm package playwright-core in MODULES_DIR
# (default: $XDG_CACHE_HOME/nn-tests, else ~/.cache/nn-tests). It installs none of them: when
# one is missing it exits 77 (skipped), naming what to install; tests/install-deps.sh installs
# them all (.ci/run runs it). Run from the source tree's root.
# NN_HTML_SCREENSHOTS=DIR saves a PNG of the page mid-backward in DIR.
set -u
nn=$1
here=$(cd "$(dirname "$0")" && pwd)
cache=${2:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/nn-tests}
export LC_ALL=C

skip() { echo "html: skipped: $*; tests/install-deps.sh installs what it needs"; exit 77; }
fail() { echo "html: FAIL: $*"; exit 1; }

# --html: this nn has it, or a stand-in (NN_HTML_DRIVER: JSON Lines on stdin -> page at $1)
if "$nn" --help 2>&1 | grep -q -- '--html'; then
    make_page() { "$nn" --html "$2" "$1" >/dev/null; }
elif [ -n "${NN_HTML_DRIVER:-}" ]; then
    make_page() { "$nn" --trace=json "$1" | "$NN_HTML_DRIVER" "$2"; }
else
    skip "this nn has no --html option"
fi

# the browser: Debian's chromium
chromium=${NN_CHROMIUM:-}
if [ -z "$chromium" ]; then
    for c in /usr/bin/chromium /usr/bin/chromium-browser; do
        [ -x "$c" ] && chromium=$c && break
    done
fi
[ -n "$chromium" ] || skip "needs the Debian package chromium (apt-get install chromium)"

# node, then playwright-core (it drives the browser; it downloads none)
command -v node >/dev/null 2>&1 ||
    skip "needs the Debian package nodejs (apt-get install nodejs npm)"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' ||
    skip "node $(node --version) is older than 18, which playwright-core needs"
[ -f "$cache/node_modules/playwright-core/package.json" ] ||
    skip "needs the npm package playwright-core in $cache (npm install --prefix $cache playwright-core@1)"

work=$(mktemp -d "${TMPDIR:-/tmp}/nn-html.XXXXXX") || fail "mktemp"
trap 'rm -rf "$work"' EXIT INT TERM

"$nn" --trace=json examples/neuron.nn >"$work/neuron.jsonl" || fail "nn --trace=json examples/neuron.nn"
make_page examples/neuron.nn "$work/neuron.html" || fail "cannot make the page of examples/neuron.nn"
make_page examples/two_layer.nn "$work/two_layer.html" || fail "cannot make the page of examples/two_layer.nn"
# a train block with `trace step 2`: a pass with no pass event, and loss events for the curve
sed 's/^  log every 100$/  log every 100\n  trace step 2/' examples/xor.nn >"$work/xor_step.nn"
grep -q 'trace step 2' "$work/xor_step.nn" || fail "could not add 'trace step 2' to examples/xor.nn"
make_page "$work/xor_step.nn" "$work/xor_step.html" || fail "cannot make the page of a traced train block"
"$nn" --trace=json "$work/xor_step.nn" >"$work/xor_step.jsonl" || fail "nn --trace=json of the traced train block"
# a printed line that would end the page's <script> if it were copied as it is
printf '%s\n' 'param w = 3' 'print "</script><!-- <script> </SCRIPT \" \\ end"' 'trace w * w' \
    'step sgd(lr = 0.1)' >"$work/escape.nn"
make_page "$work/escape.nn" "$work/escape.html" || fail "cannot make the page of a script printing </script>"
for f in neuron two_layer xor_step escape; do
    grep -q '<script>' "$work/$f.html" && grep -q '"event":"forward"' "$work/$f.html" ||
        fail "$f.html has no script or no events"
    if grep -q '/\*NN_EVENTS\*/' "$work/$f.html"; then fail "$f.html still has the events marker"; fi
done

# lesson pages: the warnings, the runs on one chart, with their checks in test_html.mjs
make_page examples/vanishing.nn "$work/lesson-vanishing.html" 2>/dev/null ||
    fail "cannot make the page of examples/vanishing.nn"
printf '%s\n' 'seed 1' 'let points = moons(100, noise = 0.1)' 'model net {' '  dense(2, 8)' '  tanh' \
    '  dense(1)' '}' 'train net on points {' '  loss bce_logits' '  optimizer adam(lr = 0.05)' \
    '  epochs 40' '  batch 25' '  trace every 40' '}' >"$work/moons.nn"
make_page "$work/moons.nn" "$work/lesson-moons.html" 2>/dev/null ||
    fail "cannot make the page of a traced moons run"
make_page examples/spiral.nn "$work/lesson-spiral.html" 2>/dev/null ||
    fail "cannot make the page of examples/spiral.nn"
printf '%s\n' 'let x = 2' 'let y = 1' 'param w = 0.5' 'param b = 0.1' 'let z = w * x + b' \
    'let yhat = sigmoid(z)' 'let loss = (y - yhat)^2' 'train loss {' '  optimizer sgd(lr = 0.1)' \
    '  epochs 50' '  trace every 25' '}' >"$work/neuron_train.nn"
make_page "$work/neuron_train.nn" "$work/lesson-neuron-train.html" 2>/dev/null ||
    fail "cannot make the page of the one neuron trained"

NN_PLAYWRIGHT="$cache/node_modules" NN_CHROMIUM="$chromium" NN_XOR_TRACE="$work/xor_step.jsonl" \
    node "$here/test_html.mjs" "$work/neuron.html" "$work/neuron.jsonl" \
         "$work/two_layer.html" "$work/xor_step.html" "$work/escape.html" \
         "$work/lesson-vanishing.html" "$work/lesson-moons.html" "$work/lesson-spiral.html" \
         "$work/lesson-neuron-train.html"
