#!/bin/sh
# tests/sandbox/run.sh NN — hostile scripts under `nn --sandbox`: no statement or option may read
# or write outside the allowed folders. Builds a tree in a temporary folder:
#   T/work        the current directory: the scripts, data/ (with folders of images), out/ (the
#                 write folder of most runs), and links out of it (to files, to a folder, to
#                 /dev/zero, into /proc)
#   T/outside     secrets (SECRET_... texts), a valid checkpoint, a victim file to overwrite
#   T/students    alice/ (a script's folder outside the current directory) and bob/
# then runs
#   1. every tests/sandbox/*.nn from T/work, and script_folder/hw.nn as ../students/alice/hw.nn,
#      comparing stdout, stderr and exit status with the .out/.err beside them (run_golden.sh;
#      NN_UPDATE_GOLDEN=1 rewrites them);
#   2. the command line's other ways in: the script itself through a link, -e, standard input;
#   3. races: a link swapped in and out (for a file, a folder, a write folder) while nn reads
#      and writes through that name;
#   4. the REPL's :load and :save, through a pseudo-terminal (when python3 is there);
# and checks at the end that nothing under T/outside changed, nothing new appeared beside
# T/work, and no output or expectation holds a secret.
set -u
nn=$1
here=$(cd "$(dirname "$0")" && pwd)
golden=$here/../run_golden.sh
export LC_ALL=C
T=$(mktemp -d) || exit 2
S=$(mktemp -d) || exit 2        # scratch, outside the tree
trap 'rm -rf "$T" "$S"' EXIT
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

# ---- the tree ----------------------------------------------------------------------------------
mkdir -p "$T/work/data" "$T/work/out" "$T/outside/open" "$T/students/alice" "$T/students/bob"
cd "$T/outside" || exit 2
printf 'SECRET_COLUMN,y\n1,2\n' >secret.csv
printf 'a,y\n5,6\n7,8\n' >open/open.csv
printf '0\n' >rows.txt
printf 'SECRET_VICTIM\n' >victim.safetensors
printf 'print "SECRET_SCRIPT"\n' >evil.nn
"$nn" -e 'model net { dense(2, 1) }
save net "net.safetensors"' || fail "cannot make the checkpoint outside"
cd "$T/work" || exit 2
printf 'a,y\n1,2\n3,4\n' >data/ok.csv
printf '1\n' >data/rows.txt
ln -s ../outside/secret.csv link_file.csv
ln -s "$T/outside/secret.csv" abs_link.csv
ln -s ../outside link_dir
ln -s ../outside/rows.txt link_rows.txt
ln -s ../outside/net.safetensors link_net.safetensors
ln -s ../outside/evil.nn link_script.nn
ln -s /dev/zero zero.csv
ln -s /proc/self/environ environ.csv
ln -s data/ok.csv inner_link.csv
ln -s ../../outside/victim.safetensors out/victim.safetensors
ln -s ../../outside out/link_dir
mkfifo fifo.csv
# image folders for images(...): data/imgs has a class folder and an image reached through
# links that stay inside; data/imgs_class_out a class folder that links out, data/imgs_file_out
# an image that links out, data/imgs_fifo a pipe among its images (none may be opened)
mkdir -p "$T/outside/imgs/SECRET_CLASS" data/imgs/a data/imgs_src/b data/imgs_class_out/a \
    data/imgs_file_out/a data/imgs_fifo/a
printf 'P2 1 1 9 9\n' >"$T/outside/imgs/SECRET_CLASS/SECRET_IMAGE.pgm"
printf 'P2 2 1 255 0 255\n' >data/imgs/a/x.pgm
printf 'P2 2 1 255 255 0\n' >data/imgs_src/b/y.pgm
ln -s ../imgs_src/b data/imgs/b
ln -s ../../imgs_src/b/y.pgm data/imgs/a/z.pgm
printf 'P2 1 1 1 1\n' >data/imgs_class_out/a/x.pgm
ln -s ../../../outside/imgs/SECRET_CLASS data/imgs_class_out/b
printf 'P2 1 1 1 1\n' >data/imgs_file_out/a/x.pgm
ln -s ../../../../outside/imgs/SECRET_CLASS/SECRET_IMAGE.pgm data/imgs_file_out/a/y.pgm
printf 'P2 1 1 1 1\n' >data/imgs_fifo/a/x.pgm
mkfifo data/imgs_fifo/a/y.pgm
printf 'a,y\n1,2\n' >"$T/students/alice/data.csv"
printf 'SECRET_BOB,y\n1,2\n' >"$T/students/bob/data.csv"
cp "$here/script_folder/hw.nn" "$T/students/alice/hw.nn"
cp "$here"/*.nn .

# what must not change: everything outside T/work
snapshot() {
    (cd "$T" && find . -path ./work -prune -o -print | sort &&
        find outside students -type f -exec cksum {} + | sort)
}
before=$(snapshot)
outputs=$S/outputs
: >"$outputs"

# ---- 1. the hostile scripts, each against its expectations -------------------------------------
for script in *.nn; do
    name=${script%.nn}
    [ "$name" = link_script ] && continue
    timeout 60 sh "$golden" "$nn" "$script" "$here/$name" || fail "$name"
    cat "$here/$name.out" "$here/$name.err" >>"$outputs" 2>/dev/null
done
timeout 60 sh "$golden" "$nn" ../students/alice/hw.nn "$here/script_folder/hw" || fail "hw"
[ -s out/net.safetensors ] && [ -s out/curve.svg ] && [ -s out/page.html ] ||
    fail "allowed.nn did not write out/net.safetensors, out/curve.svg and out/page.html"
[ ! -e /tmp/nn-sandbox-escape.pth ] || fail "save_absolute.nn wrote /tmp/nn-sandbox-escape.pth"

# ---- 2. the command line ------------------------------------------------------------------------
# expect STATUS TEXT CMD...: runs CMD, wants the exit status and TEXT in its stderr
expect() {
    want=$1 text=$2
    shift 2
    "$@" >"$S/o" 2>"$S/e" </dev/null
    st=$?
    cat "$S/o" "$S/e" >>"$outputs"
    [ "$st" = "$want" ] || fail "$* exited with $st, not $want: $(cat "$S/e")"
    grep -qF -- "$text" "$S/e" || fail "$*: no '$text' in: $(cat "$S/e")"
}
expect 2 "cannot open 'link_script.nn': it leads outside" "$nn" --sandbox link_script.nn
expect 2 "cannot open '../outside/secret.csv': --sandbox reads only" \
    "$nn" --sandbox -e 'let d = csv("../outside/secret.csv", target = "y")'
expect 2 "--sandbox reads only" "$nn" --sandbox --check -e 'let d = csv("/etc/passwd", target = "y")'
# without --sandbox a pipe among the images is not opened either (a read would wait for a writer)
expect 2 "cannot open 'data/imgs_fifo/a/y.pgm': not a regular file" \
    timeout 20 "$nn" -e 'let d = images("data/imgs_fifo")'
expect 2 "--allow-write needs an existing folder, not 'no_such'" "$nn" --allow-write no_such -e '1'
expect 2 "--allow-read needs an existing folder, not 'data/ok.csv'" \
    "$nn" --allow-read data/ok.csv -e '1'
printf 'let d = csv("link_file.csv", target = "y")\n' >"$S/stdin.nn"
"$nn" --sandbox - <"$S/stdin.nn" >"$S/o" 2>"$S/e"
[ $? = 2 ] && grep -qF "through a symbolic link" "$S/e" || fail "a script on standard input"
cat "$S/o" "$S/e" >>"$outputs"
# --allow-read and --allow-write alone imply --sandbox
expect 1 "cannot write '../outside/x.safetensors'" "$nn" --allow-write out \
    -e 'model net { dense(2, 1) }
save net "../outside/x.safetensors"'
expect 2 "--sandbox reads only" "$nn" --allow-read data -e 'let d = csv("/etc/passwd", target = "y")'

# ---- 3. races: links swapped in while nn reads and writes ---------------------------------------
# swap NAME A B: renames A and B in turn to NAME (each rename is atomic) until $S/stop exists
swap() {
    while [ ! -e "$S/stop" ]; do
        mv "$2" "$1"; mv "$1" "$2"; mv "$3" "$1"; mv "$1" "$3"
    done
}
# a file: race.csv is a file inside, or a link to the secret
printf 'a,y\n1,2\n' >race_file.csv
ln -s ../outside/secret.csv race_link.csv
# a folder: race_dir is a folder inside, or a link to ../outside
mkdir race_d
printf 'a,y\n1,2\n' >race_d/secret.csv
ln -s ../outside race_l
# a write folder: out/race is a folder inside, or a link to ../../outside
mkdir out/race_d
ln -s ../../outside out/race_l
lines=""
for k in 1 2 3 4 5 6; do
    lines="$lines
let f$k = csv(\"race.csv\", target = \"zz\")
let d$k = csv(\"race_dir/secret.csv\", target = \"zz\")"
done
printf '%s\n' "$lines" >race_read.nn     # in T/work: a script's folder may be read
printf 'model net { dense(2, 1) }\nfor k in 0..20 {\n  save net "out/race/new.safetensors"\n}\n' \
    >race_write.nn
rm -f "$S/stop"
swap race.csv race_file.csv race_link.csv &
p1=$!
swap race_dir race_d race_l &
p2=$!
(cd out && swap race race_d race_l) &
p3=$!
i=0
while [ $i -lt 40 ]; do
    "$nn" --sandbox race_read.nn >>"$outputs" 2>&1
    "$nn" --sandbox --allow-write out race_write.nn >>"$outputs" 2>&1
    i=$((i + 1))
done
touch "$S/stop"
wait $p1 $p2 $p3
# the reads did happen (a file inside was read: its columns are listed) and none was outside
grep -q "the columns are a, y" "$outputs" || fail "the race never read the file inside"

# ---- 4. the REPL ----------------------------------------------------------------------------------
if command -v python3 >/dev/null 2>&1; then
    NN_NO_READLINE=1 python3 - "$nn" >>"$outputs" 2>&1 <<'EOF' || fail "the REPL's :load and :save"
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "--sandbox", "--allow-write", "out"])
def send(line):
    os.write(fd, line.encode() + b"\n")
    time.sleep(0.3)
out = b""
for line in ["let x = 1", ":save ../outside/session.nn", ":save link_dir/session.nn",
             ":load ../outside/evil.nn", ":load link_script.nn", ":save out/session.nn",
             ":load out/session.nn", "print \"done\"", ":quit"]:
    send(line)
deadline = time.time() + 10
while time.time() < deadline:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
os.waitpid(pid, 0)
text = out.decode(errors="replace")
print(text)
want = ["cannot write '../outside/session.nn': --sandbox writes only under the --allow-write",
        "cannot write 'link_dir/session.nn': --sandbox writes only under the --allow-write",
        "cannot open '../outside/evil.nn': --sandbox reads only",
        "cannot open 'link_script.nn': it leads outside", "saved to out/session.nn", "done"]
missing = [w for w in want if w not in text]
if missing or "SECRET" in text or not os.path.exists("out/session.nn"):
    print("missing:", missing)
    sys.exit(1)
EOF
fi

# ---- what must hold after all of it --------------------------------------------------------------
after=$(snapshot)
[ "$before" = "$after" ] || {
    fail "something outside the allowed folders changed:"
    printf '%s\n' "$before" >"$S/before"
    printf '%s\n' "$after" >"$S/after"
    diff "$S/before" "$S/after"
}
! grep -q "SECRET\|root:" "$outputs" || fail "a secret was shown: $(grep "SECRET\|root:" "$outputs" | head -3)"
! grep -q "SECRET\|root:" "$here"/*.out "$here"/*.err "$here"/script_folder/*.out \
    "$here"/script_folder/*.err 2>/dev/null || fail "an expectation in $here holds a secret"
[ "$fails" = 0 ] && echo "sandbox: all passed"
exit $((fails > 0))
