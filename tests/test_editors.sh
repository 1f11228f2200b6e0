#!/bin/sh
# test_editors.sh — the editor grammars (editors/) know every word of the language: the lexer's
# keywords (grammar/nn.l), the op table's functions (src/ops.def, src/builtins.def), the data functions, layers,
# optimizers, schedules and train settings (src/datafns.def, src/layers.def, src/optim.c,
# src/settings.def) and the other help topics (src/inspect.c). Also: the JSON files parse (with
# python3) and Vim loads the syntax file without an error (with vim). Run from the source tree.
set -u
export LC_ALL=C
vim_syntax=editors/vim/syntax/nn.vim
tm=editors/textmate/nn.tmLanguage.json
fails=0
fail() { echo "FAIL $*"; fails=$((fails+1)); }

# The words, from the sources.
keywords=$(grep -oE '^"[a-z_]+" +\{ *return token' grammar/nn.l | grep -oE '^"[a-z_]+"' | tr -d '"')
ops=$(grep -oE '^OP\([A-Z0-9_]+, *"[a-z_0-9]+"' src/ops.def | grep -oE '"[a-z_0-9]+"' | tr -d '"' |
      grep -vxE 'const|param|buffer|grad|neg|index|slice|init_[a-z_]+|batchnorm_eval')
builtins=$(grep -oE '^BUILTIN\("[a-z_0-9]+"' src/builtins.def | grep -oE '"[a-z_0-9]+"' | tr -d '"')
data=$(grep -oE '^DATAFN\("[a-z_]+"' src/datafns.def | grep -oE '"[a-z_]+"' | tr -d '"')
layers=$(grep -oE '^LAYER\("[a-z_]+"' src/layers.def | grep -oE '"[a-z_]+"' | tr -d '"')
optim=$(grep -oE '^ *\[(OPTIM|SCHED)_[A-Z_]+\] = \{ "[a-z_]+"' src/optim.c | grep -oE '"[a-z_]+"' |
        tr -d '"' | grep -vxE 'none|formula')
settings=$(grep -oE '^SETTING\([A-Z_]+, *"[a-z_]+"' src/settings.def | grep -oE '"[a-z_]+"' |
           tr -d '"')
topics=$(sed -n '/HelpEntry help\[\] *=/,/^};/p' src/inspect.c | grep -oE '^ *\{ *"[A-Za-z_0-9]+"' |
         grep -oE '"[A-Za-z_0-9]+"' | tr -d '"')
for list in keywords ops builtins data layers optim settings topics; do
    eval "[ -n \"\$$list\" ]" || fail "found no $list in the sources (did a file move?)"
done
words=$(printf '%s\n' $keywords $ops $builtins $data $layers $optim $settings $topics | sort -u)

for w in $words; do
    grep -E '^syn ' "$vim_syntax" | grep -qE "(^|[^A-Za-z0-9_])$w([^A-Za-z0-9_]|\$)" ||
        fail "$vim_syntax lacks '$w'"
    grep -qE "[(|]$w[|)]" "$tm" || fail "$tm lacks '$w'"
done

if command -v python3 >/dev/null 2>&1; then
    for f in "$tm" editors/textmate/package.json editors/textmate/language-configuration.json; do
        python3 -m json.tool "$f" >/dev/null || fail "$f is not valid JSON"
    done
fi

if command -v vim >/dev/null 2>&1; then
    tmp=$(mktemp -d) || exit 1
    trap 'rm -rf "$tmp"' EXIT
    printf 'let x = 2 # c\ntrain net on X, Y { loss mse; log every 5 }\n' > "$tmp/t.nn"
    cat > "$tmp/probe.vim" <<EOF
set rtp^=$PWD/editors/vim
filetype plugin on
syntax on
edit $tmp/t.nn
let r = [&filetype, synIDattr(synID(1, 1, 1), 'name'), synIDattr(synID(1, 9, 1), 'name'),
       \\ synIDattr(synID(1, 13, 1), 'name'), synIDattr(synID(2, 11, 1), 'name'),
       \\ synIDattr(synID(2, 21, 1), 'name'), synIDattr(synID(2, 35, 1), 'name'), v:errmsg]
call writefile([join(r, ' ')], '$tmp/out')
qa!
EOF
    HOME=$tmp vim -u NONE -N -es -S "$tmp/probe.vim" </dev/null >/dev/null 2>&1
    got=$(cat "$tmp/out" 2>/dev/null)
    want="nn nnDeclare nnNumber nnComment nnContextual nnSetting nnContextual "
    [ "$got" = "$want" ] || fail "vim: got '$got', want '$want'"
fi

if [ $fails -eq 0 ]; then echo "editors: all passed"; else exit 1; fi
