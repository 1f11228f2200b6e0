#!/bin/sh
# tests/install-deps.sh — installs what the optional tests need, so that the whole suite runs
# instead of skipping some: Debian's chromium, nodejs and npm (for the --html page in a
# browser, tests/test_html.sh), python3-onnx (onnx.checker, tests/test_onnx.py) and
# python3-torch (the exported train.py and torchrun, tests/test_export_torch.py), then the
# npm packages playwright-core and onnxruntime-node into $XDG_CACHE_HOME/nn-tests (else
# ~/.cache/nn-tests), where those tests look for them. The suite
# itself never installs anything. Uses sudo unless run as root; needs the network (Debian's
# mirrors and npm's registry). .ci/run runs it before the suite.
set -eu
if [ "$(id -u)" = 0 ]; then as_root() { "$@"; }; else as_root() { sudo "$@"; }; fi
export DEBIAN_FRONTEND=noninteractive
missing=
command -v chromium >/dev/null 2>&1 || missing=" chromium"
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
# Debian's python (another python3 may come first in PATH, as pyenv's does)
/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1 || missing="$missing python3-onnx"
/usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || missing="$missing python3-torch"
if [ -n "$missing" ]; then
    echo "install-deps: apt-get install$missing"
    as_root apt-get install -y $missing || { as_root apt-get update && as_root apt-get install -y $missing; }
fi
cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/nn-tests
# both npm packages in one command: npm removes from the folder what the command does not name.
# onnxruntime-node's install script downloads from elsewhere; the CPU library is in the package.
if [ ! -f "$cache/node_modules/playwright-core/package.json" ] ||
   [ ! -f "$cache/node_modules/onnxruntime-node/package.json" ]; then
    echo "install-deps: npm install playwright-core onnxruntime-node into $cache"
    mkdir -p "$cache"
    echo '{ "name": "nn-tests", "private": true }' >"$cache/package.json"
    (cd "$cache" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-save --no-audit --no-fund \
        --ignore-scripts --loglevel=error playwright-core@1 onnxruntime-node@1)
fi
echo "install-deps: chromium, node, python3-onnx, python3-torch, playwright-core and onnxruntime-node are in place"
