#!/bin/sh
# tests/install-deps.sh — installs what the optional tests need, so that the whole suite runs
# instead of skipping some: Debian's chromium, nodejs and npm (for the --html page in a
# browser, tests/test_html.sh), then the npm package playwright-core into
# $XDG_CACHE_HOME/nn-tests (else ~/.cache/nn-tests), where that test looks for it. The suite
# itself never installs anything. Uses sudo unless run as root; needs the network (Debian's
# mirrors and npm's registry). .ci/run runs it before the suite.
set -eu
if [ "$(id -u)" = 0 ]; then as_root() { "$@"; }; else as_root() { sudo "$@"; }; fi
export DEBIAN_FRONTEND=noninteractive
missing=
command -v chromium >/dev/null 2>&1 || missing=" chromium"
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
    echo "install-deps: apt-get install$missing"
    as_root apt-get install -y $missing || { as_root apt-get update && as_root apt-get install -y $missing; }
fi
cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/nn-tests
if [ ! -f "$cache/node_modules/playwright-core/package.json" ]; then
    echo "install-deps: npm install playwright-core into $cache"
    mkdir -p "$cache"
    [ -f "$cache/package.json" ] || echo '{ "name": "nn-tests", "private": true }' >"$cache/package.json"
    (cd "$cache" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-save --no-audit --no-fund \
        --loglevel=error playwright-core@1)
fi
echo "install-deps: chromium, node and playwright-core are in place"
