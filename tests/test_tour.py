#!/usr/bin/env python3
"""test_tour.py NN — every lesson of the guided tour (examples/tour/*.nn) opens and runs without
an error, and its exercise accepts the right answer and refuses a wrong one: a question (#=)
through :answer, a goal (#~) through the lesson's solution (#>) after a statement that does not
meet it. Drives `nn --tour` through a pipe."""
import glob
import os
import re
import subprocess
import sys

NN = os.path.abspath(sys.argv[1])
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAILURES = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        FAILURES.append(what + ("\n" + detail[-1500:] if detail else ""))


def tour(lines):
    p = subprocess.run([NN, "--tour"], input="\n".join(lines + [":quit"]) + "\n",
                       capture_output=True, text=True, cwd=ROOT, timeout=120,
                       env=dict(os.environ, NN_TOUR_DIR=os.path.join(ROOT, "examples", "tour")))
    return p.returncode, p.stdout, p.stderr


def main():
    lessons = sorted(glob.glob(os.path.join(ROOT, "examples", "tour", "*.nn")))
    check("the tour has lessons", len(lessons) >= 8, str(lessons))
    for k, path in enumerate(lessons, 1):
        name = os.path.basename(path)
        text = open(path).read().splitlines()
        answer = [l[2:].strip() for l in text if l.startswith("#=")]
        goal = [l[2:].strip() for l in text if l.startswith("#~")]
        solution = [l[2:].strip() for l in text if l.startswith("#>")]
        rc, out, err = tour([":tour %d" % k])
        check("%s opens as lesson %d and runs without an error" % (name, k),
              rc == 0 and ("lesson %d of %d" % (k, len(lessons))) in out and "error:" not in err,
              out + err)
        if answer:
            rc, out, err = tour([":tour %d" % k, ":answer 12345.5", ":answer " + answer[0]])
            right = re.search(r"right: \S+ \(:next for the next lesson\)", out)
            check("%s: a wrong answer is refused, the right one (%s) accepted" % (name, answer[0]),
                  "not quite: 12345.5 is not it" in out and right is not None
                  and out.index("not quite") < right.start(), out + err)
        if goal:
            rc, out, err = tour([":tour %d" % k, "print 0"])
            check("%s: the goal is not met before it is worked for" % name, "done:" not in out,
                  out + err)
            rc, out, err = tour([":tour %d" % k, "print 0"] + solution)
            check("%s: the solution meets the goal (%s)" % (name, goal[0]),
                  out.count("done: ") == 1 and "error:" not in err, out + err)
        check("%s has a question and a hint" % name,
              any(l.startswith("#?") for l in text) and any(l.startswith("#!") for l in text))
    rc, out, err = tour([":tour 1", ":hint", ":next", ":back"])
    check(":hint, :next and :back", "hint:" in out and "lesson 2 of" in out
          and out.count("lesson 1 of") == 3, out + err)
    if FAILURES:
        print("\n%d failed:\n%s" % (len(FAILURES), "\n\n".join(FAILURES)))
        sys.exit(1)
    print("tour: every check passed")


main()
