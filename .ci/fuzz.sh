#!/usr/bin/env bash
# Fuzzing: builds the libFuzzer harnesses of tests/fuzz with clang (ASan + UBSan), replays every
# seed and every saved crash (tests/fuzz/crashes) through its harness, then fuzzes each harness
# for FUZZ_SECONDS (default 60), one at a time. Exits non-zero on any crash, leak, timeout,
# out-of-memory or sanitizer report; new crash inputs are left in $FUZZ_ARTIFACTS.
#
#   FUZZ_SECONDS=60          seconds of fuzzing per harness (0: only the replay)
#   FUZZ_HARNESSES="run csv safetensors sandbox checkpoint image"
#   FUZZ_BUILD=build-fuzz    build directory
#   FUZZ_ARTIFACTS=$FUZZ_BUILD/artifacts
#   CC=clang                 the compiler (clang 14 or later, with libFuzzer)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export LC_ALL=C
SECS=${FUZZ_SECONDS:-60}
HARNESSES=${FUZZ_HARNESSES:-run csv safetensors sandbox checkpoint image}
BUILD=${FUZZ_BUILD:-build-fuzz}
ARTIFACTS=${FUZZ_ARTIFACTS:-$BUILD/artifacts}
CC=${CC:-clang}
case "$CC" in *clang*) ;; *) CC=clang ;; esac      # the fuzzers need clang's libFuzzer

# Scratch space: the harnesses work in directories under NN_FUZZ_TMP (tmpfs if there is one:
# a script's `save` fsyncs), the fuzzing corpora are copies, so nothing in the tree changes.
SHM=/dev/shm; [ -d "$SHM" ] && [ -w "$SHM" ] || SHM=${TMPDIR:-/tmp}
WORK=$(mktemp -d "$SHM/nn-fuzz-ci.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export NN_FUZZ_TMP=$WORK
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
# -timeout: a single input over 10 s is reported as a hang; -rss_limit_mb: above 2 GiB as an
# out-of-memory; -malloc_limit_mb: one allocation over 512 MiB, which fuzz_run's session
# (nn_set_max_memory 16 MiB) must never make. The harness's budget keeps scripts far below.
LIMITS=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512)

echo "+ building the fuzzers ($CC) in $BUILD"
CC=$CC cmake -S tests/fuzz -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$BUILD" -j 2

# Seeds: the repository's own scripts and data files, plus tests/fuzz/corpus/<harness>.
seeds() {
  case "$1" in
    run) ls examples/*.nn tests/errors/*.nn tests/golden/*.nn ;;
    csv) ls tests/errors/data/*.csv tests/errors/data/*.txt examples/data/iris.csv \
            examples/data/digits_test_idx.txt ;;
    safetensors) ls tests/errors/data/*.safetensors ;;
    image) find tests/data/images -type f ! -name '*.py' ! -name '*.md' | sort ;;
  esac
  find "tests/fuzz/corpus/$1" -type f 2>/dev/null
}
# The harnesses change into a scratch directory before they read any input: every path given
# to them must be absolute.
absolute() { while read -r f; do case "$f" in /*) echo "$f" ;; *) echo "$ROOT/$f" ;; esac; done; }
max_len() { case "$1" in safetensors | checkpoint) echo 16384 ;; *) echo 8192 ;; esac; }
dict() { case "$1" in run) echo "-dict=$ROOT/tests/fuzz/nn.dict" ;;
                      *) echo "-dict=$ROOT/tests/fuzz/$1.dict" ;; esac; }

mkdir -p "$ARTIFACTS"
ARTIFACTS=$(cd "$ARTIFACTS" && pwd)
BUILD=$(cd "$BUILD" && pwd)
status=0

# Saved crashes first, each on its own and with no workaround: one that still reproduces is a
# bug not fixed yet, and fails the run.
for h in $HARNESSES; do
  mapfile -t crashes < <(find tests/fuzz/crashes -type f -name "$h-*" | sort | absolute)
  for f in "${crashes[@]}"; do
    if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$BUILD/fuzz_$h" "${LIMITS[@]}" "$f" \
         > "$WORK/crash.log" 2>&1; then
      echo "fuzz_$h: still crashes: ${f#"$ROOT"/}"
      grep -m1 -A3 "ERROR\|runtime error\|invariant failed" "$WORK/crash.log" | sed 's/^/    /'
      status=1
    fi
  done
done

# From here on, known bugs (tests/fuzz/ubsan.supp, known_bug() in fuzz_run.c) are stepped
# around, so that fuzzing finds new ones.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$ROOT/tests/fuzz/ubsan.supp
export NN_FUZZ_SKIP_KNOWN=1
for h in $HARNESSES; do
  bin=$BUILD/fuzz_$h
  mapfile -t files < <(seeds "$h" | absolute)
  echo "+ fuzz_$h: replaying ${#files[@]} seeds"
  if ! "$bin" "${LIMITS[@]}" "${files[@]}" > "$WORK/replay-$h.log" 2>&1; then
    grep -B2 -A30 -m1 "ERROR\|runtime error\|invariant failed" "$WORK/replay-$h.log" ||
      tail -40 "$WORK/replay-$h.log"
    echo "fuzz_$h: FAILED on the seed $(grep '^Running:' "$WORK/replay-$h.log" | tail -1)"
    status=1
  fi
  [ "$SECS" -gt 0 ] || continue
  echo "+ fuzz_$h: fuzzing for $SECS s"
  corpus=$WORK/corpus-$h
  mkdir -p "$corpus"
  # (each under its path, flattened: examples/batchnorm.nn and tests/golden/batchnorm.nn)
  for f in "${files[@]}"; do rel=${f#"$ROOT"/}; cp "$f" "$corpus/${rel//\//_}"; done
  if ! "$bin" "${LIMITS[@]}" -max_total_time="$SECS" -max_len="$(max_len "$h")" $(dict "$h") \
       -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$h-" "$corpus" \
       > "$WORK/fuzz-$h.log" 2>&1; then
    grep -B2 -A30 -m1 "ERROR\|runtime error\|invariant failed" "$WORK/fuzz-$h.log" ||
      tail -40 "$WORK/fuzz-$h.log"
    echo "fuzz_$h: FAILED; the input is in $ARTIFACTS (reproduce: $bin FILE)"
    status=1
    continue
  fi
  grep -E "^stat::number_of_executed_units|^#[0-9]+.*DONE" "$WORK/fuzz-$h.log" | tail -2 || true
done
[ "$status" = 0 ] && echo "fuzzing: no crashes" || echo "fuzzing: FAILED"
exit "$status"
