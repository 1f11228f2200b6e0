#!/bin/sh
# run_golden.sh NN SCRIPT EXPECT — runs `NN [args] SCRIPT` and compares its stdout with
# EXPECT.out, its stderr with EXPECT.err (missing: must be empty) and its exit status with
# the script's `# exit: N` line (default 0). A `# nn-args: ...` line adds options.
# NN_UPDATE_GOLDEN=1 writes the expectations instead of comparing (review the diff!).
set -u
nn=$1 script=$2 expect=$3
export LC_ALL=C
want_status=$(sed -n 's/^# exit: *\([0-9]*\).*/\1/p' "$script" | head -n 1)
want_status=${want_status:-0}
args=$(sed -n 's/^# nn-args: *//p' "$script" | head -n 1)
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
"$nn" $args "$script" >"$tmp/out" 2>"$tmp/err" </dev/null
status=$?
if [ "${NN_UPDATE_GOLDEN:-}" = 1 ]; then
  cp "$tmp/out" "$expect.out"
  if [ -s "$tmp/err" ]; then cp "$tmp/err" "$expect.err"; else rm -f "$expect.err"; fi
  echo "updated $expect (exit $status)"
  exit 0
fi
fail=0
[ -f "$expect.out" ] || { echo "missing $expect.out"; fail=1; : >"$expect.out.missing"; }
if [ -f "$expect.out" ] && ! diff -u "$expect.out" "$tmp/out"; then
  echo "stdout differs from $expect.out"; fail=1
fi
if [ -f "$expect.err" ]; then
  diff -u "$expect.err" "$tmp/err" || { echo "stderr differs from $expect.err"; fail=1; }
elif [ -s "$tmp/err" ]; then
  echo "unexpected stderr:"; cat "$tmp/err"; fail=1
fi
if [ "$status" != "$want_status" ]; then
  echo "exit status $status, expected $want_status"; fail=1
fi
rm -f "$expect.out.missing"
exit $fail
