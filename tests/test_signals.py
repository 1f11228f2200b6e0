#!/usr/bin/env python3
"""test_signals.py — SIGINT and SIGTERM for `nn FILE` and `nn -e`, and --timeout's backstop.

A script stops at the next boundary (a statement, a loop's iteration, a train block's update),
or part-way through a long statement after the grace period; it says where, ends by the signal
(so a shell sees 130 or 143) and leaves no FILE.tmp.PID behind; a second signal ends it at once,
still without temporary files, and the file being saved is whole or as it was. Stale temporary
files of killed runs are removed by the next save. Usage: test_signals.py PATH/TO/nn
"""
import glob
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

NN = os.path.abspath(sys.argv[1])
FAILURES = []
WORK = tempfile.mkdtemp(prefix="nn-signals-")
ENV = dict(os.environ, LC_ALL="C")


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name)
    if not cond:
        FAILURES.append("%s\n%s" % (name, detail))


def script(name, text):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def start(args):
    ready = os.path.join(WORK, "ready.safetensors")
    if os.path.exists(ready):       # a READY of an earlier run must not be taken for this one's
        os.unlink(ready)
    return subprocess.Popen([NN] + args, cwd=WORK, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


# nn's output to a pipe is buffered until it ends: a script says it is under way by saving a
# file, READY, before its long part.
READY = "model ready_ {\n  dense(1, 1)\n}\nsave ready_ \"ready.safetensors\"\n"


def wait_ready(p, timeout=60):
    path = os.path.join(WORK, "ready.safetensors")
    end = time.time() + timeout
    while not os.path.exists(path) and time.time() < end and p.poll() is None:
        time.sleep(0.01)
    ok = os.path.exists(path)
    if ok:
        os.unlink(path)
    return ok


def finish(p, timeout=30):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return out.decode(), err.decode(), "timed out"
    return out.decode(), err.decode(), p.returncode


def temp_files():
    return glob.glob(os.path.join(WORK, "*.tmp.*"))


# A chain of 60 products of [1000, 1000]: seconds, each product short; stopped between two.
LONG = script("long.nn", "seed 1\nlet b = randn(1000, 1000) * 0.028\nparam w = 1\n"
              "print \"start\"\nw = 2\n%sprint sum(b%s)\nprint \"end\"\n" % (READY, " @ b" * 60))


def test_sigint_in_a_long_statement():
    p = start(["--threads", "1", LONG])
    wait_ready(p)
    time.sleep(0.3)
    t0 = time.time()
    p.send_signal(signal.SIGINT)
    out, err, code = finish(p)
    took = time.time() - t0
    check("SIGINT: a long statement stops part-way (%.1fs)" % took, took < 5, err)
    check("SIGINT: ends by the signal", code == -signal.SIGINT, "status %r\n%s" % (code, err))
    check("SIGINT: says where it stopped", "long.nn:10:1: note: interrupted while running this "
          "statement, which is undone; what ran before it is kept" in err, err)
    check("SIGINT: what ran before was printed, nothing after", out == "start\n", out)


def test_sigterm_in_a_loop():
    path = script("loop.nn", READY + "param w = 0\nfor k in 0..100000000 {\n  w = w + 1\n}\n"
                  "print \"after\"\n")
    p = start([path])
    wait_ready(p)
    time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    out, err, code = finish(p)
    check("SIGTERM: a loop stops between iterations", code == -signal.SIGTERM
          and "loop.nn:6:1: note: interrupted after iteration" in err
          and "of this loop; what ran before is kept" in err and out == "",
          "status %r\n%s%s" % (code, out, err))
    # as a shell sees it
    r = subprocess.run(["sh", "-c", '"$0" "$1" & pid=$!; sleep 1; kill -TERM $pid; wait $pid; '
                        'echo "status $?"', NN, path], cwd=WORK, env=ENV, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    check("SIGTERM: the shell sees status 143", r.stdout.decode().endswith("status 143\n"),
          r.stdout.decode() + r.stderr.decode())


def test_sigint_in_a_train_block():
    path = script("train.nn", READY + "param w = 3\ntrain (w - 1)^2 { optimizer sgd(lr = 0.0001); "
                  "epochs 100000000; log every 100000 }\nprint \"after\"\n")
    p = start([path])
    wait_ready(p)
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    out, err, code = finish(p)
    check("SIGINT: a train block stops after an update", code == -signal.SIGINT
          and "interrupted in epoch" in out
          and "the params are as the last update left them" in out, "%r\n%s" % (code, out))
    check("SIGINT: the statements after the block do not run", "\nafter\n" not in out, out)
    check("SIGINT: the note is at the block", "train.nn:6:1: note: interrupted in this train "
          "block; the run stops here" in err, err)
    r = subprocess.run(["sh", "-c", '"$0" "$1" & pid=$!; sleep 1; kill -INT $pid; wait $pid; '
                        'echo "status $?"', NN, path], cwd=WORK, env=ENV, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    check("SIGINT: the shell sees status 130", r.stdout.decode().endswith("status 130\n"),
          r.stdout.decode() + r.stderr.decode())


SAVES = script("saves.nn", READY + "seed 1\nmodel m {\n  dense(1500, 1500)\n}\n"
               "for k in 0..1000000 {\n  save m \"big.safetensors\"\n}\n")
LOAD = script("load.nn", "model m {\n  dense(1500, 1500)\n}\nload m \"big.safetensors\"\n"
              "print \"loaded\"\n")


def saved_file_is_whole():
    if not os.path.exists(os.path.join(WORK, "big.safetensors")):
        return True
    r = subprocess.run([NN, LOAD], cwd=WORK, env=ENV, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return r.returncode == 0 and b"loaded" in r.stdout


def test_signals_during_saves():
    for trial in range(3):
        for f in temp_files():
            os.unlink(f)
        p = start([SAVES])
        wait_ready(p)
        time.sleep(0.4 + 0.15 * trial)
        p.send_signal(signal.SIGINT)
        out, err, code = finish(p)
        check("saves, one SIGINT (%d): stops after a whole save" % trial,
              code == -signal.SIGINT and "saves.nn:9:1: note: interrupted after iteration" in err,
              "status %r\n%s" % (code, err))
        check("saves, one SIGINT (%d): no temporary file left" % trial, not temp_files(),
              temp_files())
        check("saves, one SIGINT (%d): the file is whole" % trial, saved_file_is_whole())
    for trial in range(3):
        p = start([SAVES])
        wait_ready(p)
        time.sleep(0.4 + 0.15 * trial)
        p.send_signal(signal.SIGINT)
        time.sleep(0.005)
        t0 = time.time()
        p.send_signal(signal.SIGINT)
        out, err, code = finish(p)
        took = time.time() - t0
        check("saves, two SIGINTs (%d): end at once (%.2fs)" % (trial, took),
              code == -signal.SIGINT and took < 1, "status %r\n%s" % (code, err))
        check("saves, two SIGINTs (%d): no temporary file left" % trial, not temp_files(),
              temp_files())
        check("saves, two SIGINTs (%d): the file is whole or as it was" % trial,
              saved_file_is_whole())


def test_stale_temp_files_of_killed_runs():
    for trial in range(3):
        p = start([SAVES])
        wait_ready(p)
        time.sleep(0.4 + 0.15 * trial)
        p.kill()
        p.wait()
    left = temp_files()
    dead = subprocess.run(["sh", "-c", "echo $$"], stdout=subprocess.PIPE).stdout.decode().strip()
    stale = os.path.join(WORK, "big.safetensors.tmp.%s" % dead)
    open(stale, "w").write("left by a run that was killed")
    other = os.path.join(WORK, "other.safetensors.tmp.%s" % dead)
    open(other, "w").write("not big.safetensors's")
    r = subprocess.run([NN, "-e", "model m {\n dense(1500, 1500)\n}\nsave m \"big.safetensors\""],
                       cwd=WORK, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check("stale temporary files: the save works", r.returncode == 0, r.stderr.decode())
    check("stale temporary files: the next save removes them (%d left by kill -9)" % len(left),
          temp_files() == [other], temp_files())
    os.unlink(other)


def test_sigint_with_e():
    p = start(["--threads", "1", "-e", open(LONG).read()])
    wait_ready(p)
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    out, err, code = finish(p)
    check("-e: SIGINT stops and says where", code == -signal.SIGINT
          and "<-e>:10:1: note: interrupted while running this statement" in err, err)


def test_sigint_while_reading_csv():
    """A CSV file that keeps coming (a pipe fed without end): Ctrl-C stops reading it."""
    fifo = os.path.join(WORK, "endless.csv")
    os.mkfifo(fifo)
    path = script("endless.nn", "let d = csv(\"endless.csv\", target = \"y\")\nprint \"read\"\n")
    p = start([path])
    done = threading.Event()

    def feed():
        try:
            with open(fifo, "w") as f:
                f.write("x,y\n")
                while not done.is_set():
                    f.write("1,2\n" * 4096)
                    f.flush()
                    time.sleep(0.001)
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed)
    writer.start()
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err, code = finish(p)
    done.set()
    writer.join()
    check("csv: SIGINT stops reading a file that keeps coming", code == -signal.SIGINT
          and "endless.nn:1:13: error: reading was interrupted at line " in err
          and "read" not in out, "status %r\n%s" % (code, err))


def test_sigterm_at_a_breakpoint():
    """`nn FILE` waiting at a break> prompt (its input a pipe that stays open): one SIGTERM ends
    it, by the signal, without running the rest of the script."""
    path = script("brk.nn", "param w = 3\ntrain (w - 1)^2 {\n  optimizer sgd(lr = 0.1)\n"
                  "  epochs 5\n  break step 2\n}\nprint \"after\"\n")
    p = subprocess.Popen([NN, path], cwd=WORK, env=ENV, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = b""
    end = time.time() + 30
    while b":continue goes on" not in seen and time.time() < end:
        chunk = os.read(p.stdout.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
    p.send_signal(signal.SIGTERM)
    try:        # (not communicate, which would end the prompt's input)
        code = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        code = "still running 10 s after SIGTERM"
    rest, err = p.stdout.read(), p.stderr.read()
    p.stdin.close()
    check("break>: one SIGTERM at the prompt ends nn by the signal",
          code == -signal.SIGTERM and b"\nafter\n" not in b"\n" + seen + rest,
          "status %r\n%s" % (code, (seen + rest + err).decode("utf-8", "replace")))


def test_timeout_backstop():
    """One operation that never reaches a boundary (reading a CSV file that a pipe delivers
    without end, while the script is checked) is ended a second after the limit, also with
    --check."""
    fifo = os.path.join(WORK, "slow.csv")
    os.mkfifo(fifo)
    path = script("slow.nn", "let d = csv(\"slow.csv\", target = \"y\")\nprint \"read\"\n")
    for check_only in ([], ["--check"]):
        p = subprocess.Popen([NN, "--timeout", "1"] + check_only + [path], cwd=WORK, env=ENV,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t0 = time.time()
        with open(fifo, "w") as f:      # the header, then nothing: the reader waits for more
            f.write("x,y\n1,2\n")
            f.flush()
            out, err, code = finish(p)
        took = time.time() - t0
        check("--timeout%s: one long op cannot outlast it by more than a second (%.1fs)"
              % (" --check" if check_only else "", took),
              code == 1 and took < 4 and "nn: error: still running 1 second after the limit of "
              "--timeout 1 second; stopped at once" in err, "status %r\n%s" % (code, err))


def main():
    signal.alarm(600)
    test_sigint_in_a_long_statement()
    test_sigterm_in_a_loop()
    test_sigint_in_a_train_block()
    test_signals_during_saves()
    test_stale_temp_files_of_killed_runs()
    test_sigint_with_e()
    test_sigint_while_reading_csv()
    test_sigterm_at_a_breakpoint()
    test_timeout_backstop()
    if FAILURES:
        print("\n%d failed:\n" % len(FAILURES))
        for f in FAILURES:
            print(f, "\n")
        sys.exit(1)
    print("signals: all passed")


main()
