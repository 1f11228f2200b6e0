#!/bin/sh
# test_man.sh NN [MANPAGE [REPL_SOURCE]] — the man page (nn.1 of the build folder, from
# docs/nn.1.in) agrees with the program:
# every option `nn --help` lists is documented, every option the page documents is accepted,
# every REPL command of the help text in src/repl.c is documented, the versions match, and
# (when groff is installed) the page renders without warnings. Run from the source tree.
set -u
nn=$1
man=${2:-build/nn.1}
repl=${3:-src/repl.c}
export LC_ALL=C
fails=0
fail() { echo "FAIL $*"; fails=$((fails+1)); }

[ -r "$man" ] || { echo "FAIL cannot read $man"; exit 1; }
help=$("$nn" --help) || { echo "FAIL nn --help exited with $?"; exit 1; }

# The page as plain words: roff's \- is a minus, \fB \fI \fR \fP switch fonts.
text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' "$man")
# Only the OPTIONS section, from ".SH OPTIONS" to the next ".SH".
opts_section=$(printf '%s\n' "$text" | sed -n '/^\.SH OPTIONS/,/^\.SH /p')

# 1. Every option in `nn --help` (words like -e, -h, --check, --seed) is in OPTIONS.
help_opts=$(printf '%s\n' "$help" | grep -oE '(^|[ ,\[])--?[a-z][a-z-]*(=[a-z]+)?' |
            sed 's/^[ ,[]//' | sort -u)
[ -n "$help_opts" ] || fail "found no options in nn --help"
for o in $help_opts; do
    printf '%s\n' "$opts_section" | grep -qE -- "(^|[ \"])$o([ \",=]|\$)" ||
        fail "option $o of 'nn --help' is not in the OPTIONS section of $man"
done

# 2. Every option the man page documents (the .TP item lines of OPTIONS) is one nn accepts:
#    listed by --help, or at least not rejected as unknown.
man_opts=$(printf '%s\n' "$opts_section" | grep -A1 '^\.TP' | grep -v '^\.TP' |
           grep -oE -- '--?[a-z][a-z-]*(=[a-z]+)?' | sort -u)
[ -n "$man_opts" ] || fail "found no options in the OPTIONS section of $man"
for o in $man_opts; do
    case " $(echo $help_opts) " in *" $o "*) continue ;; esac
    err=$("$nn" "$o" -e 'print 1' 2>&1 >/dev/null)
    case "$err" in *"unknown option"*) fail "$man documents $o, which nn rejects: $err" ;; esac
done

# 3. Every REPL command of the REPL's help text (the lines "  :name ..." in src/repl.c).
if [ -r "$repl" ]; then
    cmds=$(sed -n '/commands_help\[\] *=/,/;$/p' "$repl" | grep -oE '^ *"  :[a-z]+' |
           sed 's/.*://' | sort -u)
    [ -n "$cmds" ] || fail "found no commands in the REPL help of $repl"
    for c in $cmds; do
        printf '%s\n' "$text" | grep -qE "^\.B[IR]? \"?:$c([ \"]|\$)" ||
            fail "REPL command :$c is not in $man"
    done
fi

# 4. The usage line of --help and the version in the page's title agree with nn.
# ("nn 0.2.0 (git 1a2b3c4)": the page names the version, not the commit)
version=$("$nn" --version | cut -d' ' -f1-2)     # "nn 0.2.0"
case $version in "nn "[0-9]*.[0-9]*.[0-9]*) ;; *) fail "nn --version says '$version'" ;; esac
grep -q "^\.TH NN 1 \"[0-9-]*\" \"$version\"" "$man" ||
    fail ".TH of $man does not name '$version' and a date"
printf '%s\n' "$help" | grep -q '^usage: nn \[options\] \[FILE.nn | -e CODE\]' ||
    fail "the usage line of nn --help changed: update the SYNOPSIS of $man"

# 5. Sections a man page is expected to have.
for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT FILES "SEE ALSO"; do
    grep -q "^\.SH \"\{0,1\}$s\"\{0,1\}\$" "$man" || fail "$man has no section $s"
done

# 6. It renders cleanly.
if command -v groff >/dev/null 2>&1; then
    warn=$(groff -man -Tutf8 -ww -z "$man" 2>&1)
    [ -z "$warn" ] || fail "groff warns about $man: $warn"
fi

if [ $fails -eq 0 ]; then echo "man: all passed"; else exit 1; fi
