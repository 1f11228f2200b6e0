#!/bin/sh
# test_html.sh NN [CACHE_DIR] — the `nn --html` page of examples/neuron.nn, opened in headless
# Chromium and checked against `nn --trace=json` of the same script (tests/test_html.mjs), then
# the pages of examples/two_layer.nn and a traced train block stepped through end to end.
# Needs Debian's chromium (installed with apt-get when missing and run as root) and the npm
# package playwright-core, installed on demand into CACHE_DIR (default: html-test/ beside NN,
# so in the build tree; never node_modules in the source tree). Exits 77 (skipped) when either
# cannot be installed, for example with no network. Run from the source tree's root.
# NN_HTML_SCREENSHOTS=DIR saves a PNG of the page mid-backward in DIR.
set -u
nn=$1
here=$(cd "$(dirname "$0")" && pwd)
cache=${2:-$(cd "$(dirname "$nn")" && pwd)/html-test}
export LC_ALL=C

skip() { echo "html: skipped: $*"; exit 77; }
fail() { echo "html: FAIL: $*"; exit 1; }

as_root_install() {   # as_root_install PACKAGE... — apt-get, updating the lists once if needed
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null >"$cache/apt.log" 2>&1 && return 0
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >>"$cache/apt.log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null >>"$cache/apt.log" 2>&1
}

mkdir -p "$cache" || fail "cannot make $cache"

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
if [ -z "$chromium" ]; then
    as_root_install chromium ||
        skip "chromium is not installed and 'apt-get install chromium' failed (no network, or not root): $(tail -n 2 "$cache/apt.log" 2>/dev/null)"
    chromium=/usr/bin/chromium
fi

# node and npm, then playwright-core (it drives the browser; it downloads none)
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    as_root_install nodejs npm || skip "node and npm are not installed and 'apt-get install nodejs npm' failed"
fi
node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' ||
    skip "node $(node --version) is older than 18, which playwright-core needs"
if [ ! -f "$cache/node_modules/playwright-core/package.json" ]; then
    [ -f "$cache/package.json" ] || echo '{ "name": "nn-html-test", "private": true }' >"$cache/package.json"
    ( cd "$cache" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-save --no-audit --no-fund \
        --loglevel=error playwright-core@1 ) </dev/null >"$cache/npm.log" 2>&1 ||
        skip "npm could not install playwright-core (no network?): $(tail -n 3 "$cache/npm.log")"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/nn-html.XXXXXX") || fail "mktemp"
trap 'rm -rf "$work"' EXIT INT TERM

"$nn" --trace=json examples/neuron.nn >"$work/neuron.jsonl" || fail "nn --trace=json examples/neuron.nn"
make_page examples/neuron.nn "$work/neuron.html" || fail "cannot make the page of examples/neuron.nn"
make_page examples/two_layer.nn "$work/two_layer.html" || fail "cannot make the page of examples/two_layer.nn"
# a train block with `trace step 2`: a pass with no pass event, and loss events for the curve
sed 's/^  log every 100$/  log every 100\n  trace step 2/' examples/xor.nn >"$work/xor_step.nn"
grep -q 'trace step 2' "$work/xor_step.nn" || fail "could not add 'trace step 2' to examples/xor.nn"
make_page "$work/xor_step.nn" "$work/xor_step.html" || fail "cannot make the page of a traced train block"
# a printed line that would end the page's <script> if it were copied as it is
printf '%s\n' 'param w = 3' 'print "</script><!-- <script> </SCRIPT \" \\ end"' 'trace w * w' \
    'step sgd(lr = 0.1)' >"$work/escape.nn"
make_page "$work/escape.nn" "$work/escape.html" || fail "cannot make the page of a script printing </script>"
for f in neuron two_layer xor_step escape; do
    grep -q '<script>' "$work/$f.html" && grep -q '"event":"forward"' "$work/$f.html" ||
        fail "$f.html has no script or no events"
    if grep -q '/\*NN_EVENTS\*/' "$work/$f.html"; then fail "$f.html still has the events marker"; fi
done

NN_PLAYWRIGHT="$cache/node_modules" NN_CHROMIUM="$chromium" \
    node "$here/test_html.mjs" "$work/neuron.html" "$work/neuron.jsonl" \
         "$work/two_layer.html" "$work/xor_step.html" "$work/escape.html"
