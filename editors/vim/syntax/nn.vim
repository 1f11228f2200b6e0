" Vim syntax file
" Language:    nn (a small language for defining and training neural networks)
" Filenames:   *.nn
" Maintainer:  the nn project
"
" The word lists follow the lexer (grammar/nn.l: the keywords), the op table (src/ops.def:
" the built-in functions) and src/sema_nets.c, src/optim.c (layers, data sets, optimizers,
" schedules, initialisers, train settings); tests/test_editors.sh checks that none is missing.

if exists('b:current_syntax')
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

syn case match
syn iskeyword @,48-57,_

" Reserved words (the lexer's keywords).
syn keyword nnDeclare    let param model fn
syn keyword nnStatement  print backward trace step zero_grad seed forward residual train save load
syn keyword nnStatement  gradcheck
syn keyword nnConditional if else
syn keyword nnRepeat     for repeat while break continue
syn keyword nnWordOp     and or not

" Contextual words: `on` after `train NAME`, `every` after `log`. (Look-behinds: a keyword at
" the same position would win over a match that starts there.)
syn match   nnContextual "\%(\<train\s\+\h\w*\s\+\)\@<=on\>"
syn match   nnContextual "\%(\<log\s\+\)\@<=every\>"
syn match   nnContextual "\%(\<for\s\+\h\w*\s\+\)\@<=in\>"
syn match   nnContextual "\<\%(per\|then\)\>"

" `log` is a function (and a layer) and a train setting: a match, so the setting can win.
syn match   nnFunction   "\<log\>"

" Settings of a train block, at the start of an item and followed by a value (so that an
" assignment `loss = ...` to a param named like a setting is left alone).
syn match   nnSetting    "\%(^\|[;{]\)\s*\zs\%(loss\|optimizer\|epochs\|batch\|accumulate\|clip\|validation\|early_stop\|log\|grad_norms\|schedule\|shuffle\|metric\|resume\|break\)\>\ze\s\+[^=([:space:]]"
syn keyword nnConstant   none true false

" Built-in functions: the op table (src/ops.def), then the names only the checker knows.
syn keyword nnFunction   zeros ones full eye rand randn xavier he glorot kaiming
syn keyword nnFunction   exp sqrt abs sigmoid tanh relu leaky_relu softplus
syn keyword nnFunction   transpose sum mean softmax log_softmax argmax dropout
syn keyword nnFunction   conv2d conv1d maxpool2d avgpool2d layernorm batchnorm
syn keyword nnFunction   mse l1 bce bce_logits cross_entropy accuracy
syn keyword nnFunction   max min maximum minimum clamp where reshape concat stack one_hot detach
syn keyword nnFunction   l2 params dense input flatten summary labels
syn keyword nnData       csv images split normalize xor circles moons spirals blobs
syn keyword nnOptimizer  sgd adam adamw rmsprop uniform normal
syn keyword nnOptimizer  cosine step_decay linear exponential warmup one_cycle

" Fields: a param's gradient, a transpose, a data set's inputs and targets.
syn match   nnField      "\.\zs\%(grad\|T\|X\|Y\|shape\|rows\)\>"

" Numbers: 2, 0.5, .5, 5., 1e-3, 2.5E+4 (no sign: -2 is unary minus). Not the 1 of layer1.
syn match   nnNumber     "\<\d\+\%(\.\d*\)\=\%([eE][+-]\=\d\+\)\=\%(\>\|\.\@<=\)"
syn match   nnNumber     "\%(\w\|\.\)\@<!\.\d\+\%([eE][+-]\=\d\+\)\=\>"

" Strings on one line, with the escapes \" \\ \n \t; any other escape is an error.
syn match   nnEscapeError contained "\\."
syn match   nnEscape      contained "\\[\"\\nt]"
syn region  nnString      start=+"+ skip=+\\\\\|\\"+ end=+"+ end=+$+ oneline contains=nnEscape,nnEscapeError

" Comments run from # to the end of the line.
syn keyword nnTodo        contained TODO FIXME XXX NOTE
syn match   nnComment     "#.*$" contains=nnTodo,@Spell

" Operators; `**` and `//` are errors in nn (write ^ and #).
syn match   nnOperator    "[-+*/%^@=<>!]"
syn match   nnError       "\*\*\|//"

hi def link nnDeclare     Statement
hi def link nnStatement   Statement
hi def link nnConditional Conditional
hi def link nnRepeat      Repeat
hi def link nnWordOp      Operator
hi def link nnContextual  Keyword
hi def link nnSetting     Keyword
hi def link nnConstant    Constant
hi def link nnFunction    Function
hi def link nnData        Function
hi def link nnOptimizer   Function
hi def link nnField       Identifier
hi def link nnNumber      Number
hi def link nnString      String
hi def link nnEscape      SpecialChar
hi def link nnEscapeError Error
hi def link nnTodo        Todo
hi def link nnComment     Comment
hi def link nnOperator    Operator
hi def link nnError       Error

let b:current_syntax = 'nn'

let &cpo = s:cpo_save
unlet s:cpo_save
