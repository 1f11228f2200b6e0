#!/bin/sh
# test_embed.sh [SOURCE_DIR] — nn as an installed library: configure, build and install the
# project into a temporary prefix (given at install time, unlike the configured one, as
# `cmake --install --prefix` does), check what was installed, then compile examples/embed.c
# with `pkg-config --cflags --libs nn` against the shared library and once more statically
# (`pkg-config --static`), run both and compare their output.
# Needs cmake, a C compiler (CC, default cc) and pkg-config; uses nm, readelf and a C++
# compiler (CXX, default c++) for extra checks when they are there.
set -u
src=$(cd "${1:-.}" && pwd) || exit 1
export LC_ALL=C
CC=${CC:-cc}
CXX=${CXX:-c++}
fails=0
fail() { echo "FAIL $*"; fails=$((fails+1)); }
have() { command -v "$1" >/dev/null 2>&1; }

for tool in cmake pkg-config "$CC"; do
    have "$tool" || { echo "FAIL $tool is needed"; exit 1; }
done
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
prefix=$tmp/prefix

# 1. Configure (for another prefix), build and install. Only the library and the program:
#    the test suite itself is not needed here.
if ! cmake -S "$src" -B "$tmp/build" -DNN_TESTS=OFF -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX=/nonexistent/configured-prefix >"$tmp/log" 2>&1 ||
   ! cmake --build "$tmp/build" -j 2 >>"$tmp/log" 2>&1 ||
   ! cmake --install "$tmp/build" --prefix "$prefix" >>"$tmp/log" 2>&1; then
    cat "$tmp/log"
    echo "FAIL configure, build or install"
    exit 1
fi

# 2. What was installed.
pc=$(find "$prefix" -name nn.pc -path '*/pkgconfig/*')
[ -n "$pc" ] || { find "$prefix"; echo "FAIL no nn.pc installed"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
for f in bin/nn include/nn.h share/man/man1/nn.1; do
    [ -f "$prefix/$f" ] || fail "$f was not installed"
done
[ -f "$libdir/libnn.a" ] || fail "libnn.a was not installed in $libdir"
[ -e "$libdir/libnn.so" ] || fail "libnn.so was not installed in $libdir"
ls "$libdir"/libnn.so.* >/dev/null 2>&1 || fail "no versioned libnn.so.* (SOVERSION) in $libdir"

version=$("$prefix/bin/nn" --version) || fail "the installed nn does not run"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
modversion=$(pkg-config --modversion nn) || fail "pkg-config does not find nn"
case "$version" in "nn $modversion" | "nn $modversion (git "*")") ;;
    *) fail "nn --version says '$version', nn.pc '$modversion'" ;; esac
case "$(pkg-config --cflags nn)" in *"-I$prefix/include"*) ;;
    *) fail "nn.pc does not name the install prefix: $(pkg-config --cflags nn)" ;; esac
case "$(pkg-config --static --libs nn)" in *-lm*) ;;
    *) fail "pkg-config --static --libs nn lacks -lm" ;; esac

# The shared library exports the NN_API functions and nothing else.
if have nm; then
    exported=$(nm -D --defined-only "$libdir/libnn.so" | awk 'NF == 3 { print $3 }')
    [ -n "$exported" ] || fail "libnn.so exports nothing"
    others=$(printf '%s\n' "$exported" | grep -v '^nn_')
    [ -z "$others" ] || fail "libnn.so exports more than nn_*: $(echo $others)"
    for fn in nn_new nn_close nn_run_string nn_get; do
        printf '%s\n' "$exported" | grep -qx "$fn" || fail "libnn.so does not export $fn"
    done
fi

# 3. The example against the shared library, then statically.
cat >"$tmp/want" <<'EOF'
net(4) = 7.00  (shape [1])
net(5) = 9.00  (shape [1])
net(6) = 11.00  (shape [1])
status 2, message:
bad:1:7: error: cannot multiply [1] @ [2]: inner sizes 1 and 2 differ
   1 | print net(x) @ [1, 2]
     |       ^~~~~~~~~~~~~~~
EOF
cflags="-std=c11 -Wall -Wextra -Werror"
# shellcheck disable=SC2046  # pkg-config's output is meant to be split into words
if $CC $cflags "$src/examples/embed.c" $(pkg-config --cflags --libs nn) -o "$tmp/embed_shared" \
        2>"$tmp/cc.log"; then
    if have readelf; then
        readelf -d "$tmp/embed_shared" | grep NEEDED | grep -q 'libnn\.so\.' ||
            fail "embed_shared does not load libnn.so.<version>"
    fi
    LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$tmp/embed_shared" \
        >"$tmp/got_shared" 2>&1 || fail "embed (shared) exited with $?"
    diff -u "$tmp/want" "$tmp/got_shared" || fail "embed (shared): wrong output"
else
    cat "$tmp/cc.log"; fail "embed.c does not compile against the shared library"
fi

# Statically: the linker prefers libnn.so when both are there, so ask for the archive.
static_libs=$(pkg-config --static --libs nn | sed 's/\(^\| \)-lnn\( \|$\)/\1-Wl,-Bstatic -lnn -Wl,-Bdynamic\2/')
# shellcheck disable=SC2046,SC2086
if $CC $cflags "$src/examples/embed.c" $(pkg-config --static --cflags nn) $static_libs \
        -o "$tmp/embed_static" 2>"$tmp/cc.log"; then
    if have readelf; then
        ! readelf -d "$tmp/embed_static" | grep NEEDED | grep -q libnn ||
            fail "embed_static still needs libnn.so"
    fi
    "$tmp/embed_static" >"$tmp/got_static" 2>&1 || fail "embed (static) exited with $?"
    diff -u "$tmp/want" "$tmp/got_static" || fail "embed (static): wrong output"
else
    cat "$tmp/cc.log"; fail "embed.c does not link statically"
fi

# 4. nn.h is usable from C++ too (extern "C").
if have "$CXX"; then
    printf '#include <nn.h>\nint main() { NnState *s = nn_new(); nn_close(s); return nn_version()[0] == 0; }\n' \
        >"$tmp/cxx.cc"
    # shellcheck disable=SC2046
    if $CXX -Wall -Werror "$tmp/cxx.cc" $(pkg-config --cflags --libs nn) -o "$tmp/cxx" \
            2>"$tmp/cc.log"; then
        LD_LIBRARY_PATH="$libdir" "$tmp/cxx" || fail "the C++ program failed"
    else
        cat "$tmp/cc.log"; fail "nn.h does not compile as C++"
    fi
fi

if [ $fails -eq 0 ]; then echo "embed: all passed"; else exit 1; fi
