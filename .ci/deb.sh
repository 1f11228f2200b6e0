#!/usr/bin/env bash
# .ci/deb.sh — the Debian package, end to end: build nn for /usr in build-deb/, make
# nn_VERSION_ARCH.deb with `cpack -G DEB`, install it with apt-get (which also installs what it
# depends on), run /usr/bin/nn on an example from /usr/share/doc/nn, build examples/embed.c
# against the installed libnn with pkg-config, read the man page, then remove the package and
# check that nothing of it is left. Run as root (CI), from the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
fail() { echo "deb: FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root: it installs and removes a package"
command -v dpkg-shlibdeps >/dev/null || apt-get install -y dpkg-dev
command -v pkg-config >/dev/null || apt-get install -y pkg-config
dpkg -s nn >/dev/null 2>&1 && fail "a package nn is installed already; remove it first"

rm -rf build-deb
cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DNN_TESTS=OFF
cmake --build build-deb -j 2
(cd build-deb && cpack -G DEB)
version=$(sed -n 's/^#define NN_VERSION "\(.*\)"$/\1/p' include/nn.h)
deb=$(ls build-deb/nn_"$version"_*.deb) || fail "no nn_${version}_*.deb in build-deb"
dpkg-deb --info "$deb"
dpkg-deb --field "$deb" Depends | grep -q 'libc6' || fail "Depends does not name libc6"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
apt-get install -y "./$deb"
files=$(dpkg -L nn)
[ "$(command -v nn)" = /usr/bin/nn ] || fail "nn is not /usr/bin/nn"
case "$(nn --version)" in "nn $version"*) ;; *) fail "nn --version: $(nn --version)" ;; esac
(cd /usr/share/doc/nn && nn examples/neuron.nn) >"$work/neuron.out" ||
    fail "nn examples/neuron.nn in /usr/share/doc/nn failed"
diff -u tests/examples/neuron.out "$work/neuron.out" || fail "examples/neuron.nn printed otherwise"
for f in /usr/share/doc/nn/copyright /usr/share/doc/nn/examples/data/README.md \
         /usr/include/nn.h /usr/share/vim/vimfiles/syntax/nn.vim; do
    [ -f "$f" ] || fail "$f is not installed"
done
[ "$(pkg-config --modversion nn)" = "$version" ] || fail "pkg-config --modversion nn"
# shellcheck disable=SC2046  # pkg-config's output is meant to be split into words
cc -std=c11 -Wall -Werror /usr/share/doc/nn/examples/embed.c $(pkg-config --cflags --libs nn) \
    -o "$work/embed" || fail "examples/embed.c does not build against the package"
"$work/embed" | grep -q '^net(4) = 7.00' || fail "the embedded example printed something else"
man -w nn >/dev/null 2>&1 || [ -f /usr/share/man/man1/nn.1 ] || fail "no man page nn(1)"

apt-get remove -y --purge nn
! dpkg -s nn >/dev/null 2>&1 || fail "nn is still installed"
left=$(printf '%s\n' "$files" | while read -r f; do
           [ -e "$f" ] && [ ! -d "$f" ] && echo "$f"; done || true)
[ -z "$left" ] || fail "files left after removal: $left"
! ldconfig -p | grep -q 'libnn\.so' || fail "ldconfig still lists libnn"
echo "deb: $deb built, installed, run and removed"
