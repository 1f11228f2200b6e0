#!/usr/bin/env bash
# Writes the seeds of fuzz_checkpoint (corpus/checkpoint): checkpoints of its model, trained
# with each of its optimizers (and after `step` statements: epoch 0), each split into the
# harness's input form: the header's JSON text, a NUL byte, the data.
#   usage: tests/fuzz/make_checkpoint_seeds.sh PATH/TO/nn
set -euo pipefail
nn=$(realpath "$1")
out=$(cd "$(dirname "$0")" && pwd)/corpus/checkpoint
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
setup='seed 1
let points = moons(16, noise = 0.1)
model net {
  dense(2, 3)
  tanh
  dense(1)
}'
train() {   # NAME OPTIMIZER
  "$nn" -e "$setup
train net on points {
  loss bce_logits
  optimizer $2
  epochs 2
  batch 8
}
save net \"$1.safetensors\""
}
train sgd "sgd(lr = 0.1, momentum = 0.9)"
train adam "adam(lr = 0.05)"
train rmsprop "rmsprop(lr = 0.01, momentum = 0.5)"
"$nn" -e "$setup
let loss = mse(net(points.X), points.Y)
backward loss
step adam(lr = 0.05) net
save net \"step.safetensors\""
"$nn" -e "$setup
save net \"plain.safetensors\""
for f in *.safetensors; do
  python3 - "$f" "$out/${f%.safetensors}" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
open(sys.argv[2], "wb").write(b[8:8 + n] + b"\0" + b[8 + n:])
PY
done
ls "$out"
