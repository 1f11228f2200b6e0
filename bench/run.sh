#!/bin/sh
# The benchmark: nn against PyTorch on five workloads (see bench/README.md).
#   bench/run.sh [--repeats N] [--only w1,w3] [--threads 1,2] [--stat best|median]
# from the project's root (or anywhere: it finds the root itself). Builds nn in Release into
# build-bench/ (NN_BENCH_BUILD to change it) when needed, then runs bench/harness.py with the
# Debian python that has torch (PYTHON to change it). Prints a markdown table, also written to
# bench/out/results.md (raw numbers: bench/out/results.json), then a hand-written training
# loop against a train block (bench/loop.py), then the matrix product's GFLOP/s
# (bench/kernel.c) beside numpy/OpenBLAS's (bench/kernel_numpy.py).
set -eu
cd "$(dirname "$0")/.."
BUILD=${NN_BENCH_BUILD:-build-bench}
PYTHON=${PYTHON:-/usr/bin/python3}

if ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
    echo "bench: $PYTHON cannot import torch and numpy; on Debian 12:" >&2
    echo "  apt-get install -y python3-torch python3-numpy libopenblas0-pthread" >&2
    exit 2
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libopenblas'; then
    echo "bench: note: no OpenBLAS found; Debian's torch then runs the reference BLAS, many" >&2
    echo "  times slower (apt-get install -y libopenblas0-pthread)" >&2
fi

# Build (incremental: quick when up to date). Others may be editing src/: retry a failed build
# a few times, and fall back on an existing binary if it keeps failing.
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DNN_TESTS=OFF >/dev/null
fi
built=0
for try in 1 2 3; do
    if cmake --build "$BUILD" -j 2 --target nn >"$BUILD/bench-build.log" 2>&1; then
        built=1
        break
    fi
    echo "bench: build failed (try $try), retrying in 20 s; see $BUILD/bench-build.log" >&2
    sleep 20
done
if [ "$built" = 0 ]; then
    if [ -x "$BUILD/nn" ]; then
        echo "bench: build keeps failing; benchmarking the existing $BUILD/nn" >&2
    else
        cat "$BUILD/bench-build.log" >&2
        exit 2
    fi
fi

"$PYTHON" bench/harness.py --nn "$BUILD/nn" --python "$PYTHON" "$@"

# A training loop written by hand against the same work as a train block, in nn alone.
echo
"$PYTHON" bench/loop.py --nn "$BUILD/nn"

# The matrix product alone: nn's kernels (bench/kernel.c) beside numpy/OpenBLAS, on 1 and 2
# threads, at n = 256, 512, 1024.
echo
gcc -std=gnu11 -O2 -pthread -Isrc bench/kernel.c src/kernels.c src/pool.c src/alloc.c src/fpmode.c \
    -o "$BUILD/bench-kernel" -lm
"$BUILD/bench-kernel"
for t in 1 2; do
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t \
        "$PYTHON" bench/kernel_numpy.py
done
