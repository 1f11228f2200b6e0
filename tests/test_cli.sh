#!/bin/sh
# test_cli.sh NN — the command line: options, exit statuses, stdin, usage errors.
set -u
nn=$1
export LC_ALL=C
fails=0
check() {   # check NAME WANT_STATUS WANT_STDOUT_SUBSTRING -- command...
  name=$1 want=$2 text=$3; shift 4
  out=$("$@" 2>&1 </dev/null); st=$?
  if [ "$st" != "$want" ]; then echo "FAIL $name: exit $st, want $want"; echo "$out"; fails=$((fails+1)); return; fi
  case "$out" in *"$text"*) ;; *) echo "FAIL $name: output lacks '$text':"; echo "$out"; fails=$((fails+1));; esac
}
check help 0 "usage: nn" -- "$nn" --help
check help-short 0 "exit status" -- "$nn" -h
check version 0 "nn 0." -- "$nn" --version
check eval 0 "3" -- "$nn" -e 'print 1 + 2'
check eval-semicolons 0 "4" -- "$nn" -e 'let x = 2; print x * x'
check check-ok 0 "" -- "$nn" --check examples/neuron.nn
check check-error 2 "unknown name 'q'" -- "$nn" --check -e 'print q'
check compile-error 2 "<-e>:1:7: error:" -- "$nn" -e 'print q'
check runtime-error 1 "division by zero" -- "$nn" -e 'print 1 / 0'
check unknown-option 2 "unknown option '--bogus'" -- "$nn" --bogus
check missing-file 2 "cannot open 'no/such.nn'" -- "$nn" no/such.nn
check e-needs-code 2 "-e needs code" -- "$nn" -e
check two-scripts 2 "give one script" -- "$nn" a.nn b.nn
check seed-bad 2 "--seed needs an integer from 0 to 4294967295" -- "$nn" --seed x -e 'print 1'
check seed-overflow 2 "--seed needs an integer" -- "$nn" --seed 99999999999999999999999 -e 'print 1'
check seed 0 "" -- "$nn" --seed 7 -e 'print rand(2)'
check export-format 2 "--export takes pytorch" -- "$nn" --export=onnx examples/iris.nn
check export-needs-file 2 "--export=pytorch takes one script FILE" -- "$nn" --export=pytorch -e 'print 1'
check export 0 "class NetModel(nn.Module):" -- "$nn" --export=pytorch examples/iris.nn
check export-refused 2 "examples/neuron.nn:18:1: error: cannot export a 'trace' statement" -- "$nn" --export=pytorch examples/neuron.nn
check trace-flag 0 "backward:" -- "$nn" --trace -e 'param w = 3; backward w * w'
# the same seed gives the same draws; a different one does not
a=$("$nn" --seed 7 -e 'print randn(3)'); b=$("$nn" --seed 7 -e 'print randn(3)'); c=$("$nn" --seed 8 -e 'print randn(3)')
[ "$a" = "$b" ] || { echo "FAIL seed repeatability: '$a' vs '$b'"; fails=$((fails+1)); }
[ "$a" != "$c" ] || { echo "FAIL seeds 7 and 8 drew the same: '$a'"; fails=$((fails+1)); }
# a script on standard input, with no prompt noise
out=$(printf 'let x = 3\nprint x * 2\n' | "$nn"); st=$?
[ "$st" = 0 ] && [ "$out" = "6" ] || { echo "FAIL stdin: exit $st, output '$out'"; fails=$((fails+1)); }
out=$(printf 'print 5\n' | "$nn" -); [ "$out" = "5" ] || { echo "FAIL stdin '-': '$out'"; fails=$((fails+1)); }
# a compile error prints nothing on stdout, even for statements before it
out=$("$nn" -e 'print 1; print q' 2>/dev/null); [ -z "$out" ] || { echo "FAIL partial output before a compile error: '$out'"; fails=$((fails+1)); }
# --trace-steps A-B explains those updates of every train block
n=$("$nn" --trace-steps 2-3 examples/xor.nn | grep -c '^trace of')
[ "$n" = 2 ] || { echo "FAIL --trace-steps 2-3: $n traces"; fails=$((fails+1)); }
check trace-steps-bad 2 "--trace-steps needs steps from 1" -- "$nn" --trace-steps 3-1 -e 'print 1'
# --plot: one SVG per train block, the second with a -2 suffix; one point per epoch
plotdir=$(mktemp -d)
"$nn" --plot "$plotdir/curve.svg" -e 'seed 1
let d = moons(40)
model m {
 dense(2, 4)
 tanh
 dense(1)
}
train m on d { loss bce_logits; optimizer adam(lr = 0.05); epochs 30 }
train m on d { loss bce_logits; optimizer adam(lr = 0.05); epochs 7; validation 0.25; grad_norms every 2 }' >/dev/null
points=$(sed -n 's/.*<polyline[^>]*points="\([^"]*\)".*/\1/p' "$plotdir/curve.svg" | head -n 1 | wc -w)
[ "$points" = 30 ] || { echo "FAIL --plot: $points points for 30 epochs"; fails=$((fails+1)); }
# the second: loss and validation, then the two layers' gradient norms, every 2nd of 7 updates
[ "$(grep -c '<polyline' "$plotdir/curve-2.svg" 2>/dev/null)" = 4 ] ||
    { echo "FAIL --plot: no curve-2.svg with loss, validation and 2 gradient norms"; fails=$((fails+1)); }
points=$(sed -n 's/.*<polyline[^>]*points="\([^"]*\)".*/\1/p' "$plotdir/curve-2.svg" | sed -n 3p | wc -w)
[ "$points" = 3 ] || { echo "FAIL --plot: $points gradient norms for updates 2, 4, 6"; fails=$((fails+1)); }
grep -q '>layer1.W: ' "$plotdir/curve-2.svg" ||
    { echo "FAIL --plot: the gradient norms' legend does not name layer1"; fails=$((fails+1)); }
# from the second block on, every block's loss on one chart, labelled
[ "$(grep -c '<polyline' "$plotdir/curve-runs.svg" 2>/dev/null)" = 2 ] && grep -q '>m: ' "$plotdir/curve-runs.svg" ||
    { echo "FAIL --plot: no curve-runs.svg with both blocks' losses"; fails=$((fails+1)); }
rm -rf "$plotdir"
# --break: a "break>" prompt on standard input at every train block; :continue goes on
script=$(mktemp)
printf 'param w = 3\ntrain (w - 1)^2 { optimizer sgd(lr = 0.1); epochs 4 }\nprint w\n' > "$script"
out=$(printf 'print w.grad\n:continue\n' | "$nn" --break step=2 "$script"); st=$?
case "$out" in *"break: before update 2 (epoch 2): loss 2.56, gradient norm 3.2"*"ends the block)
3.2
1.8192") ;;
  *) echo "FAIL --break step=2 (exit $st):"; echo "$out"; fails=$((fails+1));; esac
out=$(printf ':stop\n' | "$nn" --break=grad_norm=3 "$script")
case "$out" in *"gradient norm 4, above 3"*"stopped at the breakpoint in epoch 1 of 4, after 0 updates"*"3") ;;
  *) echo "FAIL --break grad_norm=3 with :stop:"; echo "$out"; fails=$((fails+1));; esac
out=$("$nn" --break step=1 "$script" </dev/null)     # the end of input continues
case "$out" in *"break: before update 1"*"1.8192") ;;
  *) echo "FAIL --break with no input:"; echo "$out"; fails=$((fails+1));; esac
rm -f "$script"
# --threads: the same bits for any number of threads (these products are large enough to use them)
prog='seed 3
let a = randn(200, 300)
let b = randn(300, 250)
print sum(a @ b), mean((a @ b) @ b.T)'
one=$("$nn" --threads 1 -e "$prog"); two=$("$nn" --threads 2 -e "$prog"); three=$("$nn" --threads=3 -e "$prog")
[ -n "$one" ] && [ "$one" = "$two" ] && [ "$one" = "$three" ] ||
    { echo "FAIL --threads changes results: '$one' '$two' '$three'"; fails=$((fails+1)); }
check threads-bad 2 "--threads needs a number from 1 to 64, not '0'" -- "$nn" --threads 0 -e 'print 1'
check break-bad 2 "--break takes step=N, nonfinite or grad_norm=X, not 'soon'" -- "$nn" --break soon -e 'print 1'
# --max-steps and --timeout: a run-time error (1) at the limit; bad values are usage errors (2)
check max-steps 1 "limit of --max-steps 3 steps" -- "$nn" --max-steps 3 -e 'print 1; print 2; print 3; print 4'
check max-steps-enough 0 "4" -- "$nn" --max-steps=4 -e 'print 1; print 2; print 3; print 4'
check max-steps-while 1 "note: in iteration" -- "$nn" --max-steps 100000 -e 'while 1 { }'
check max-steps-zero 2 "--max-steps needs a whole number of steps from 1, not '0'" -- "$nn" --max-steps 0 -e 'print 1'
check max-steps-negative 2 "not '-5'" -- "$nn" --max-steps -5 -e 'print 1'
check max-steps-float 2 "not '1e3'" -- "$nn" --max-steps 1e3 -e 'print 1'
check max-steps-missing 2 "--max-steps needs a number of steps" -- "$nn" -e 'print 1' --max-steps
check timeout 1 "limit of --timeout 0.2 seconds" -- "$nn" --timeout 0.2 -e 'let n = 0; while 1 { n += 1 }'
check timeout-enough 0 "7" -- "$nn" --timeout 30 -e 'print 7'
check timeout-zero 2 "--timeout needs a number of seconds above 0, as in 30 or 0.5, not '0'" -- "$nn" --timeout 0 -e 'print 1'
check timeout-nan 2 "not 'nan'" -- "$nn" --timeout nan -e 'print 1'
check timeout-word 2 "not 'soon'" -- "$nn" --timeout=soon -e 'print 1'
if [ $fails -eq 0 ]; then echo "cli: all passed"; fi
exit $fails
